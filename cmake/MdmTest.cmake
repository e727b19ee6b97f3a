# mdm_unit_test(NAME SOURCES a.c [b.c] LIBS lib... [LABELS l...])
# One cmocka executable per module, registered with ctest under label "unit".
function(mdm_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "unit;${T_LABELS}"
    ENVIRONMENT "MDM_SRC_DIR=${CMAKE_SOURCE_DIR};MDM_BUILD_DIR=${CMAKE_BINARY_DIR}")
endfunction()

# mdm_script_test(NAME SCRIPT path [LABELS l...] [TIMEOUT s])
# An integration test: a shell script run with the build dir and source dir.
function(mdm_script_test name)
  cmake_parse_arguments(T "" "SCRIPT;TIMEOUT" "LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME ${name} COMMAND bash ${CMAKE_SOURCE_DIR}/${T_SCRIPT})
  set_tests_properties(${name} PROPERTIES LABELS "integration;${T_LABELS}" TIMEOUT ${T_TIMEOUT} SKIP_RETURN_CODE 77
    ENVIRONMENT "MDM_BUILD_DIR=${CMAKE_BINARY_DIR};MDM_SRC_DIR=${CMAKE_SOURCE_DIR};MDM_BIN=${CMAKE_BINARY_DIR}/bin")
endfunction()
