#!/usr/bin/env bash
# qmtkit's one entry point for people and CI.
#   ./dev.sh demo    the main job: build and run the demo
#   ./dev.sh test    every test: normal build, then the unit tests again under ASan + UBSan,
#                    then each fuzzer for a short run (clang, libFuzzer),
#                    then the Windows build (mingw-w64) and its tests under Wine
#   ./dev.sh build [preset]   configure and build one preset (dev, release, asan, core-only, fuzz,
#                    windows)
#   ./dev.sh footprint [--check]   the firmware footprint (Cortex-M3) and parse cost (callgrind)
#   ./dev.sh bench   throughput against the module's ceiling (virtual time, then the real path
#                    at four grid points): tables and plot in docs/performance/; then the
#                    reliability soak (10,000 QoS 1 messages, 20 faults): docs/performance/soak.txt
# Each installs the Debian packages it needs (as root), or prints the apt-get line and stops.
set -euo pipefail
cd "$(dirname "$0")"

BUILD_PKGS=(cmake ninja-build g++ ccache pkg-config git)
LIB_PKGS=(libasio-dev libssl-dev openssl libcurl4-openssl-dev nlohmann-json3-dev libcli11-dev
          libcpp-httplib-dev mosquitto mosquitto-clients mosquitto-dev libmosquitto-dev
          libsqlite3-dev libpq-dev)   # the provisioning ledger: SQLite and PostgreSQL (libpq)
TEST_PKGS=(libgtest-dev libgmock-dev googletest libbenchmark-dev clang-format clang-tidy
           postgresql)   # a real PostgreSQL server for the ledger tests (tests/harness)
FUZZ_PKGS=(clang libclang-rt-14-dev)   # clang++ -fsanitize=fuzzer: libFuzzer is in clang's runtime
# The windows preset: the -posix cross compiler (GoogleTest needs its threads), Wine to run the
# tests (wine64 runs them; wine provides the `wine` command).
WINDOWS_PKGS=(g++-mingw-w64-x86-64-posix wine64 wine)
FOOTPRINT_PKGS=(gcc-arm-none-eabi libstdc++-arm-none-eabi-newlib binutils-arm-none-eabi python3
                valgrind)   # Cortex-M3 probes; callgrind counts the parser's instructions
BENCH_PKGS=(gnuplot-nox)   # the throughput plot (bench/throughput.sh)
BAREMETAL_PKGS=(qemu-system-arm)   # the example firmware on an emulated MPS2-AN385 (tests/baremetal)

ensure_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local line="apt-get install -y --no-install-recommends ${missing[*]}"
    if [ "$(id -u)" -eq 0 ]; then
        echo "==> installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        echo "qmtkit needs Debian packages that are not installed. Run as root:" >&2
        echo "  sudo $line" >&2
        exit 1
    fi
}

jobs() { nproc 2>/dev/null || echo 2; }

build() {
    local preset=$1
    cmake --preset "$preset" >/dev/null
    cmake --build --preset "$preset" -j "$(jobs)"
}

cmd_build() {
    ensure_packages "${BUILD_PKGS[@]}" "${LIB_PKGS[@]}" "${TEST_PKGS[@]}" "${FUZZ_PKGS[@]}"
    [ "${1:-dev}" = windows ] && ensure_packages "${WINDOWS_PKGS[@]}"
    build "${1:-dev}"
}

# The windows preset's tests under Wine, in a throwaway prefix: its wineserver is started first
# (persistent, and one `wine cmd /c exit` brings the prefix up) so that tests do not each wait
# for it, and killed at the end, or ctest would wait on Wine's background services. The COM-port
# round trip uses the dev build's bc28-sim (the caller builds dev first).
windows_tests() {
    (
        WINEPREFIX=$(mktemp -d /tmp/qmtkit-wine.XXXXXX)
        export WINEPREFIX WINEDEBUG=-all
        trap 'wineserver -k >/dev/null 2>&1 || true; rm -rf "$WINEPREFIX"' EXIT
        wineserver -p >/dev/null 2>&1   # it dumps its objects when killed: not into the log
        wine cmd /c exit >/dev/null 2>&1
        ctest --preset windows
    )
}

cmd_demo() {
    ensure_packages "${BUILD_PKGS[@]}" "${LIB_PKGS[@]}" "${TEST_PKGS[@]}"
    build dev
    tools/demo/run-demo.sh build/dev "$@"
}

cmd_test() {
    ensure_packages "${BUILD_PKGS[@]}" "${LIB_PKGS[@]}" "${TEST_PKGS[@]}" "${FUZZ_PKGS[@]}" \
                    "${FOOTPRINT_PKGS[@]}" "${BAREMETAL_PKGS[@]}" "${WINDOWS_PKGS[@]}"
    local start=$SECONDS rc=0
    echo "==> normal build (dev preset): every test"
    build dev
    ctest --preset dev || rc=1
    echo "==> ASan + UBSan build (asan preset): unit tests again"
    build asan
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --preset asan || rc=1
    echo "==> fuzz build (fuzz preset: clang, libFuzzer, ASan + UBSan): each fuzzer briefly"
    build fuzz
    ctest --preset fuzz || rc=1
    echo "==> Windows build (windows preset: mingw-w64, run under Wine)"
    local wstart=$SECONDS
    cmake --preset windows -DQMTKIT_BC28SIM="$PWD/build/dev/tools/bc28-sim/bc28-sim" >/dev/null
    cmake --build --preset windows -j "$(jobs)"
    windows_tests || rc=1
    echo "==> Windows stage took $((SECONDS - wstart)) s"
    echo "==> test command took $((SECONDS - start)) s; result: $([ $rc -eq 0 ] && echo PASS || echo FAIL)"
    return $rc
}

cmd_footprint() {
    ensure_packages "${BUILD_PKGS[@]}" "${LIB_PKGS[@]}" "${TEST_PKGS[@]}" "${FOOTPRINT_PKGS[@]}"
    local rc=0
    echo "==> firmware footprint (Cortex-M3 probes): build/footprint/report.json"
    bench/footprint.sh "$@" || rc=1
    echo "==> parse cost (release preset, callgrind): build/footprint/parse.json"
    cmake --preset release >/dev/null
    cmake --build --preset release --target qmtkit_bench_parse -j "$(jobs)" >/dev/null
    bench/parse-cost.sh build/release || rc=1
    return $rc
}

cmd_bench() {
    ensure_packages "${BUILD_PKGS[@]}" "${LIB_PKGS[@]}" "${TEST_PKGS[@]}" "${BENCH_PKGS[@]}"
    bench/throughput.sh "$@"
    bench/realtime.sh "$@"
    bench/soak.sh
}

case "${1:-}" in
    demo) shift; cmd_demo "$@" ;;
    test) shift; cmd_test "$@" ;;
    build) shift; cmd_build "$@" ;;
    footprint) shift; cmd_footprint "$@" ;;
    bench) shift; cmd_bench "$@" ;;
    *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
