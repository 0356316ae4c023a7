#!/usr/bin/env bash
# CTest driver of the libFuzzer harnesses (tests/fuzz/CMakeLists.txt).
#   run_fuzzer.sh smoke  <fuzzer> <corpus dir> <dict> <seconds> <artifact dir>
#       a short run, fixed seed, from a temporary copy of the corpus: nothing is written into
#       the source tree; a crashing input lands in <artifact dir>.
#   run_fuzzer.sh replay <fuzzer> <regressions dir> <engine|client>
#       runs every <dir>/<harness>-*.bin once.
set -euo pipefail
mode=$1 fuzzer=$2
case "$mode" in
    smoke)
        corpus=$3 dict=$4 seconds=$5 artifacts=$6
        work=$(mktemp -d)
        trap 'rm -rf "$work"' EXIT
        cp "$corpus"/* "$work"/
        mkdir -p "$artifacts"
        exec "$fuzzer" -seed=1 -max_total_time="$seconds" -max_len=4096 -timeout=10 \
            -dict="$dict" -artifact_prefix="$artifacts/" -print_final_stats=1 "$work"
        ;;
    replay)
        dir=$3 harness=$4
        shopt -s nullglob
        files=("$dir/$harness"-*.bin)
        if [ ${#files[@]} -eq 0 ]; then
            echo "no $harness regressions in $dir"
            exit 0
        fi
        rc=0
        for f in "${files[@]}"; do
            if out=$("$fuzzer" -runs=1 "$f" 2>&1); then
                echo "== $(basename "$f"): passes"
            else
                echo "== $(basename "$f"): FAILS"
                printf '%s\n' "$out" | grep -v '^INFO:'
                rc=1
            fi
        done
        exit $rc
        ;;
    *)
        echo "usage: $0 smoke|replay ..." >&2
        exit 2
        ;;
esac
