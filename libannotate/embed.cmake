# Turns a text file into a C string constant: cmake -DIN= -DOUT= -DSYMBOL= -P embed.cmake
file(READ ${IN} HEX HEX)
string(LENGTH "${HEX}" N)
math(EXPR LEN "${N} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," BYTES "${HEX}")
file(WRITE ${OUT} "/* generated from ${IN}; do not edit */\n#include <stddef.h>\n")
file(APPEND ${OUT} "const char ${SYMBOL}[] = {${BYTES} 0x00};\nconst size_t ${SYMBOL}_len = ${LEN};\n")
