# cmake -DIN=<file> -DOUT=<file.c> -DNAME=<symbol> -P MdmEmbed.cmake
# Writes a C file holding IN's bytes: `const unsigned char NAME[]` (NUL
# terminated, so text assets can be used as strings) and `const size_t NAME_len`
# (the byte count without the NUL). Run at build time; the output is never committed.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR nbytes "${hex_len} / 2")
# 16 bytes a line: a newline after every 32 hex digits, then "NN" -> "0xNN,"
string(REGEX REPLACE "([0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f])" "\\1\n" hex "${hex}")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
get_filename_component(in_name "${IN}" NAME)
file(WRITE "${OUT}.tmp"
"/* Generated from ${in_name} by cmake/MdmEmbed.cmake at build time: do not edit. */\n"
"#include <stddef.h>\n\n"
"const unsigned char ${NAME}[] = {\n${bytes}0x00\n};\n"
"const size_t ${NAME}_len = ${nbytes};\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
