#!/usr/bin/env bash
# Throughput against the module's rules (issue 13): the SDK and the emulator's module model in one
# process under a virtual clock (exact, machine-independent figures). Builds the release target,
# runs the grid, writes the table (text and JSON) and the plot into OUT_DIR.
#   bench/throughput.sh [BUILD_DIR] [OUT_DIR]      defaults: build/release docs/performance
# Needs cmake, ninja, a C++17 compiler and, for the plot, gnuplot (Debian: gnuplot-nox).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/release}
out=${2:-$root/docs/performance}
if [ ! -f "$build/CMakeCache.txt" ]; then
    [ "$build" = "$root/build/release" ] || { echo "no CMake build in $build" >&2; exit 1; }
    (cd "$root" && cmake --preset release >/dev/null)
fi
cmake --build "$build" -j2 --target qmtkit_bench_throughput >/dev/null
mkdir -p "$out"
"$build/bench/qmtkit_bench_throughput" --json "$out/throughput.json" --dat "$out/throughput.dat" \
    --text "$out/throughput.txt"
if ! command -v gnuplot >/dev/null; then
    echo "gnuplot not found (Debian: apt-get install gnuplot-nox): no plot" >&2
    exit 1
fi
gnuplot -e "dat='$out/throughput.dat'; out='$out/throughput.svg'" "$root/bench/throughput.gp"
echo "wrote $out/throughput.{txt,json,dat,svg}"
