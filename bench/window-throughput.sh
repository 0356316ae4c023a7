#!/usr/bin/env bash
# How much the five-message window buys: N QoS 1 publishes through `qmtkit pub -l` and an emulated
# BC28 at several network round-trip times, against what a one-at-a-time driver needs at least
# (N x RTT). Prints a table. Wall-clock figures: run it on a quiet machine.
#   bench/window-throughput.sh [BUILD_DIR] [N] [RTT_MS ...]
# BAUD=N paces the emulated UART (bc28-sim --baud N; default unpaced).
set -euo pipefail
build=${1:-build/release}
[ -x "$build/tools/qmtkit/qmtkit" ] || build=build/dev
n=${2:-200}
shift $(( $# > 2 ? 2 : $# ))
rtts=("$@")
[ ${#rtts[@]} -gt 0 ] || rtts=(50 200 1000)
# shellcheck source=../tools/demo/stack.sh
. "$(dirname "$0")/../tools/demo/stack.sh"
start_broker

printf '%-7s %-5s %-10s %-9s %-11s %-11s %-15s %-8s\n' "RTT ms" "msgs" "total ms" "bring-up" "publishing" "window min" "1-at-a-time min" "speed-up"
echo "        (total: the run, measured; bring-up: measured on a warm-up run; publishing = total - bring-up;"
echo "         window min = msgs / 5 x RTT; 1-at-a-time min = msgs x RTT)"
for rtt in "${rtts[@]}"; do
    start_sim "r$rtt" --rtt-ms "$rtt" ${BAUD:+--baud "$BAUD"}
    # Bring-up first (a throwaway publish), so the table separates it from the publishing itself.
    t0=$(date +%s%N)
    echo warmup | "$cli" pub --device "$work/ttyr$rtt" -h 127.0.0.1 -p "$port" -i "bench-$rtt" -t bench/warm -q 1 -l \
        2> "$work/warm$rtt.err" || fail "warm-up publish failed"
    t1=$(date +%s%N)
    seq 1 "$n" | sed 's/^/message /' | "$cli" pub --device "$work/ttyr$rtt" -h 127.0.0.1 -p "$port" -i "bench-$rtt" \
        -t bench/window -q 1 -l 2> "$work/pub$rtt.err" || fail "publish failed: $(tail -n1 "$work/pub$rtt.err")"
    t2=$(date +%s%N)
    total_ms=$(( (t2 - t1) / 1000000 ))
    # The second run brings the link up again: subtract the warm-up's bring-up share.
    bring_ms=$(( (t1 - t0) / 1000000 - rtt ))
    pub_ms=$(( total_ms - bring_ms ))
    serial_ms=$(( n * rtt ))
    printf '%-7s %-5s %-10s %-9s %-11s %-11s %-15s %-8s\n' "$rtt" "$n" "$total_ms" "$bring_ms" "$pub_ms" \
        "$(( (n + 4) / 5 * rtt ))" "$serial_ms" \
        "$(awk -v a="$serial_ms" -v b="$pub_ms" 'BEGIN { printf "%.1fx", (b > 0 ? a / b : 0) }')"
done
