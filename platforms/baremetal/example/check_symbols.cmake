# cmake -DNM=arm-none-eabi-nm -DELF=fw.elf -P check_symbols.cmake: fails when the image holds
# a heap, abort or C++ runtime symbol (the firmware promises none of them).
execute_process(COMMAND ${NM} ${ELF} OUTPUT_VARIABLE syms RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} ${ELF} failed")
endif()
string(REGEX MATCHALL
       "[ \n][A-Za-z] (_?_?(malloc|free|calloc|realloc|abort|_sbrk|_malloc_r|_free_r)|__cxa_[A-Za-z0-9_]+|__throw_[A-Za-z0-9_]+|__gxx_personality_v0)\n"
       bad "\n${syms}")
if(bad)
    message(FATAL_ERROR "forbidden symbols in ${ELF}:${bad}")
endif()
message(STATUS "no heap, abort or C++ runtime symbol in ${ELF}")
