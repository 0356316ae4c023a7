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
            # GCC 12 at -O3 reports copies inside std::vector and std::copy as out of bounds
            # (GCC bugs 105651, 107852): still shown, but they do not fail the release build.
            if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12)
                # Optimised configurations only: the dev build's compile commands feed clang-tidy.
                target_compile_options(${target} PRIVATE
                    $<$<NOT:$<CONFIG:Debug>>:-Wno-error=array-bounds;-Wno-error=stringop-overflow;-Wno-error=restrict>)
            endif()
        endif()
    endif()
endfunction()

# Host code (tools, tests) is warned about but not held to -Wconversion as strictly as the core.
function(qmtkit_host_warnings target)
    if(NOT MSVC)
        target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor)
        if(QMTKIT_WARNINGS_AS_ERRORS)
            target_compile_options(${target} PRIVATE -Werror)
            # GCC 12 at -O3 reports copies inside std::vector and std::copy as out of bounds
            # (GCC bugs 105651, 107852): still shown, but they do not fail the release build.
            if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12)
                # Optimised configurations only: the dev build's compile commands feed clang-tidy.
                target_compile_options(${target} PRIVATE
                    $<$<NOT:$<CONFIG:Debug>>:-Wno-error=array-bounds;-Wno-error=stringop-overflow;-Wno-error=restrict>)
            endif()
        endif()
    endif()
endfunction()
