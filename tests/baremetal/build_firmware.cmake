# cmake -DSOURCE=<qmtkit> -DBINARY=<dir> -P build_firmware.cmake: the example firmware configured
# with the mps2-an385 preset (the same settings as `cmake --preset mps2-an385`) into BINARY and
# built; the build itself fails on a heap, abort or C++ runtime symbol (check_symbols.cmake).
foreach(step "--preset;mps2-an385;-B;${BINARY}" "--build;${BINARY};-j;2")
    execute_process(COMMAND ${CMAKE_COMMAND} ${step} WORKING_DIRECTORY ${SOURCE}
                    RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "cmake ${step} failed (${rc})")
    endif()
endforeach()
