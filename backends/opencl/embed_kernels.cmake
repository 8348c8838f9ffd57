# cmake -DSRC=<file.cl> -DOUT=<file.inc> -P embed_kernels.cmake
# Writes the bytes of one OpenCL C source as a C initializer list ("0x2f,0x2a,...,0x00"),
# included by the generated ocl_sources.c: the kernels are compiled into the library, so
# nothing is read from disk at run time.
file(READ "${SRC}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# One source line of C per 32 input bytes keeps compiler diagnostics readable.
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){32})" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}.tmp" "${bytes}0x00\n")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
file(REMOVE "${OUT}.tmp")
