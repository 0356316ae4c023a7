# Warning flags for qmtkit's own targets only (never PUBLIC/INTERFACE, so consumers keep theirs).
function(qmtkit_target_warnings target)
    if(MSVC)
        target_compile_options(${target} PRIVATE /W4)
        if(QMTKIT_WARNINGS_AS_ERRORS)
            target_compile_options(${target} PRIVATE /WX)
        endif()
    else()
        target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
            -Wconversion -Wno-sign-conversion -Wnon-virtual-dtor -Wcast-align
            -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough)
        if(QMTKIT_WARNINGS_AS_ERRORS)
            target_compile_options(${target} PRIVATE -Werror)
        endif()
    endif()
endfunction()

# Host code (tools, tests) is warned about but not held to -Wconversion as strictly as the core.
function(qmtkit_host_warnings target)
    if(NOT MSVC)
        target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor)
        if(QMTKIT_WARNINGS_AS_ERRORS)
            target_compile_options(${target} PRIVATE -Werror)
        endif()
    endif()
endfunction()
