#!/usr/bin/env bash
# Reliability soak, the long version (issue 13): 10,000 QoS 1 messages from the SDK client through
# bc28-sim (pty) and a real mosquitto while 20 faults are injected at seeded random points (see
# tests/soak/soak_test.cpp). Builds qmtkit_soak_tests, runs it, and writes its summary line to
# OUT_FILE. Fails when the soak does (a message lost, a foreign payload, order broken, a stall).
#   bench/soak.sh [BUILD_DIR] [OUT_FILE]   defaults: build/release (else build/dev)
#                                                    docs/performance/soak.txt
#   QMTKIT_SOAK_SEED=7 bench/soak.sh        another seed (default 1); _MESSAGES / _FAULTS too
# Needs cmake, ninja, a C++17 compiler, mosquitto and libmosquitto-dev, GoogleTest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-}
out=${2:-$root/docs/performance/soak.txt}
if [ -z "$build" ]; then
    if [ -f "$root/build/release/CMakeCache.txt" ]; then
        build=$root/build/release
    elif [ -f "$root/build/dev/CMakeCache.txt" ]; then
        build=$root/build/dev
    else
        (cd "$root" && cmake --preset release >/dev/null)
        build=$root/build/release
    fi
fi
[ -f "$build/CMakeCache.txt" ] || { echo "no CMake build in $build" >&2; exit 1; }
cmake --build "$build" -j2 --target qmtkit_soak_tests >/dev/null
exe=$build/tests/soak/qmtkit_soak_tests
[ -x "$exe" ] || { echo "$exe not built (mosquitto / GoogleTest missing?)" >&2; exit 1; }
messages=${QMTKIT_SOAK_MESSAGES:-10000}
faults=${QMTKIT_SOAK_FAULTS:-20}
seed=${QMTKIT_SOAK_SEED:-1}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
"$exe" --gtest_filter='Soak.*' --messages "$messages" --faults "$faults" --seed "$seed" \
    >"$log" 2>&1 || rc=$?
line=$(grep '^soak: ' "$log" || true)
if [ -z "$line" ]; then
    cat "$log" >&2
    echo "the soak printed no summary line" >&2
    exit 1
fi
mkdir -p "$(dirname "$out")"
printf '%s\n' "$line" >"$out"
echo "$line"
if [ $rc -ne 0 ]; then
    grep -A12 'Failure' "$log" >&2 || cat "$log" >&2
    echo "soak FAILED (exit $rc)" >&2
    exit $rc
fi
echo "wrote $out"
