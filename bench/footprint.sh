#!/usr/bin/env bash
# The firmware footprint of the core: builds the Cortex-M3 probes (bench/footprint/: the AT
# engine alone; the engine with the client's low-level operations; the full client (supervisor,
# outbox, subscriptions); the client with the Aliyun device profile; the client configured from
# a credential image — each in the default configuration and in qmt::CompactConfig — and the
# firmware builds with the opt-outs QMTKIT_TRACE=0, QMTKIT_NAMES=0, QMTKIT_TENAUTH=0) with
# cmake/toolchains/arm-none-eabi-cortex-m3.cmake and prints, per image, flash (text + data), RAM
# (data + bss), the client's RAM by part, sizeof() on the target, what each feature of the
# firmware image costs, where the flash goes, and any heap / abort / __cxa_* / __throw_* /
# 64-bit division symbol with the core function that pulled it in.
#   bench/footprint.sh [--check | --check-symbols] [--build DIR] [--json FILE]
#     --build DIR   the probes' build directory (default build/footprint/arm)
#     --json FILE   the report as JSON (default build/footprint/report.json)
#     --check       exit 1 if malloc, free, abort, __cxa_* or __throw_* is in any image, or if an
#                   issue-10 target is exceeded (sizeof Client<> 9 KB, Client<CompactConfig> 3 KB,
#                   engine + client + profile 16 KB of flash)
#     --check-symbols  exit 1 on a forbidden symbol only (the test footprint.no_heap_no_abort)
#     --image NAME=ELF[,WHAT[,CONFIG]]  one more row: an image built elsewhere (its .map beside it
#                   gives the breakdown); may be repeated
#     --stack FILE  the example firmware's measured stack high-water (written by the QEMU test
#                   FirmwareE2E.*; default build/dev/baremetal/stack-high-water.txt)
# The example firmware (platforms/baremetal/example, preset mps2-an385) is always built and is
# the report's last row: the whole firmware (HAL, rings, stack) against its 8 KB of RAM.
# Needs: gcc-arm-none-eabi libstdc++-arm-none-eabi-newlib binutils-arm-none-eabi cmake ninja-build
# python3 (./dev.sh footprint installs them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build/footprint/arm
json=$root/build/footprint/report.json
check=()
extra=()
stack=$root/build/dev/baremetal/stack-high-water.txt
while [ $# -gt 0 ]; do
    case "$1" in
        --check) check=(--check) ;;
        --check-symbols) check=(--check-symbols) ;;
        --build) build=$2; shift ;;
        --json) json=$2; shift ;;
        --image) extra+=(--image "$2"); shift ;;
        --stack) stack=$2; shift ;;
        -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "footprint.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
for tool in arm-none-eabi-g++ arm-none-eabi-size arm-none-eabi-c++filt cmake ninja python3; do
    command -v "$tool" >/dev/null || { echo "footprint.sh: $tool not found (./dev.sh footprint installs it)" >&2; exit 1; }
done
cmake -S "$root/bench/footprint" -B "$build" -G Ninja \
    --toolchain "$root/cmake/toolchains/arm-none-eabi-cortex-m3.cmake" >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null \
    || { cmake --build "$build" -j 1; exit 1; }   # again, one job, to show the error
# The example firmware, configured by its own preset (the settings an OEM's build uses).
fw=$(dirname "$build")/example-fw
(cd "$root" && cmake --preset mps2-an385 -B "$fw" >/dev/null &&
    cmake --build "$fw" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null) \
    || { echo "footprint.sh: the example firmware did not build (cmake --build $fw)" >&2; exit 1; }
extra+=(--image "qmtkit-example-fw=$fw/qmtkit-example-fw.elf,example firmware (whole; stack in bss),compact")
exec python3 "$root/bench/footprint/report.py" --build "$build" --json "$json" "${check[@]}" \
    --stack "$stack" "${extra[@]}"
