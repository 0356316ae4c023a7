# Cortex-M3 (ARMv7-M, no FPU) with Debian's gcc-arm-none-eabi and newlib-nano, the way firmware
# is built: size first, no exceptions or RTTI, every function and object in its own section so
# the linker drops what nothing uses.
#   cmake -S <project> -B <dir> --toolchain cmake/toolchains/arm-none-eabi-cortex-m3.cmake
# Debian 12: apt-get install gcc-arm-none-eabi libstdc++-arm-none-eabi-newlib binutils-arm-none-eabi
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR cortex-m3)

set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
find_program(CMAKE_SIZE arm-none-eabi-size)
find_program(CMAKE_NM arm-none-eabi-nm)
find_program(CMAKE_OBJDUMP arm-none-eabi-objdump)
find_program(CMAKE_OBJCOPY arm-none-eabi-objcopy)

# No host libraries here, and no executable can run while CMake checks the compiler.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(_qmtkit_m3 "-mcpu=cortex-m3 -mthumb --specs=nano.specs")
set(CMAKE_C_FLAGS_INIT "${_qmtkit_m3} -Os -ffunction-sections -fdata-sections")
set(CMAKE_CXX_FLAGS_INIT "${_qmtkit_m3} -Os -ffunction-sections -fdata-sections -fno-exceptions -fno-rtti")
set(CMAKE_ASM_FLAGS_INIT "${_qmtkit_m3}")
# CMake links with the compile flags too (CPU, specs), so the linker flags add only the rest.
# A build type adds its own -O after these: MinSizeRel (or none) keeps -Os.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,--gc-sections")
unset(_qmtkit_m3)
