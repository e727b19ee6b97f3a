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
# ENV adds VAR=VALUE pairs to the test's environment (e.g. MDM_NATS_SERVER).
function(mdm_script_test name)
  cmake_parse_arguments(T "" "SCRIPT;TIMEOUT" "LABELS;ENV" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME ${name} COMMAND bash ${CMAKE_SOURCE_DIR}/${T_SCRIPT})
  set_tests_properties(${name} PROPERTIES LABELS "integration;${T_LABELS}" TIMEOUT ${T_TIMEOUT} SKIP_RETURN_CODE 77
    ENVIRONMENT "MDM_BUILD_DIR=${CMAKE_BINARY_DIR};MDM_SRC_DIR=${CMAKE_SOURCE_DIR};MDM_BIN=${CMAKE_BINARY_DIR}/bin;${T_ENV}")
endfunction()

# mdm_compat_test(NAME SCRIPT path [TIMEOUT s]): the same script as test NAME,
# registered as compat_NAME (label "compat") against Debian's nats-server
# (MDM_NATS_SERVER_DEBIAN, default /usr/sbin/nats-server), which must report
# 2.9.x: keeps the oldest supported server honest beside the current one.
set(MDM_NATS_SERVER_DEBIAN "/usr/sbin/nats-server" CACHE FILEPATH "Debian's nats-server, for the compat lane")
function(mdm_compat_test name)
  cmake_parse_arguments(T "" "SCRIPT;TIMEOUT" "" ${ARGN})
  mdm_script_test(compat_${name} SCRIPT ${T_SCRIPT} TIMEOUT ${T_TIMEOUT} LABELS compat
    ENV "MDM_NATS_SERVER=${MDM_NATS_SERVER_DEBIAN};MDM_NATS_EXPECT=2.9.")
endfunction()
