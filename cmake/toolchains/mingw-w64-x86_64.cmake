# Cross-build for 64-bit Windows with Debian's mingw-w64 (the windows preset). The -posix
# compilers: GoogleTest needs std::thread / std::mutex, which the win32 threading variant lacks,
# and the unversioned names may point to that variant.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)

# Libraries and packages from the mingw sysroot only: a Linux libssl must never be picked up.
# Header-only libraries come through a folder of links (cmake/QmtkitWindowsHeaders.cmake).
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# GCC 12's -O3 reports memcpy bounds inside libstdc++'s vector::insert that cannot happen
# (GCC PR 105746 and kin): still shown, no longer fatal.
set(CMAKE_CXX_FLAGS_INIT "-Wno-error=array-bounds -Wno-error=stringop-overflow")
# One self-contained .exe: no libstdc++ / libwinpthread DLLs to ship or to find under Wine.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
# Tests run under Wine (WINEPREFIX and the wineserver are the caller's: dev.sh, the CI stage),
# through a wrapper that launches again only a process Wine ended before it printed anything.
set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_CURRENT_LIST_DIR}/wine-run.sh)
