#!/usr/bin/env bash
# Throughput through the real path at a few grid points (issue 13): `qmtkit pub -l` on bc28-sim's
# pseudo-terminal (UART paced at the cell's baud, --rtt-ms) to a real mosquitto, wall clock. The
# rate is measured as the virtual-time bench measures it — 60 / (time from the result line of
# message 10 to that of message 70), times taken as the CLI's --trace prints each line — and set
# against the same ceiling and the virtual-time figure for the cell (qmtkit_bench_throughput
# --cell). Writes a table (text and JSON).
#   bench/realtime.sh [BUILD_DIR] [OUT_DIR]      defaults: build/release docs/performance
#   CELLS="RTT,BAUD,PAYLOAD,QOS ..." picks other cells.
# Wall-clock figures: run it on a quiet machine. Needs bash >= 5 ($EPOCHREALTIME), mosquitto.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/release}
out=${2:-$root/docs/performance}
if [ ! -f "$build/CMakeCache.txt" ]; then
    [ "$build" = "$root/build/release" ] || { echo "no CMake build in $build" >&2; exit 1; }
    (cd "$root" && cmake --preset release >/dev/null)
fi
cmake --build "$build" -j2 --target qmtkit bc28-sim qmtkit_bench_throughput >/dev/null
bench=$build/bench/qmtkit_bench_throughput
# One cell of each kind: window-bound at 200 ms and 1 s, AT-line-bound at 9600 and 115200 baud.
read -r -a cells <<< "${CELLS:-200,115200,16,1 1000,115200,256,1 20,9600,256,0 20,115200,1024,1}"
warm=10 measured=60 total=76  # as the virtual-time bench: 10 to warm up, 60 measured, 6 behind

# shellcheck source=../tools/demo/stack.sh
. "$root/tools/demo/stack.sh"
start_broker

# Prefix every line of stdin with the wall-clock time in seconds (microsecond resolution).
stamp() {
    local line
    while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done
}

mkdir -p "$out"
text=$out/realtime.txt
json=$out/realtime.json
{
    echo "Throughput, real time: qmtkit pub -l -> pty -> bc28-sim (--baud, --rtt-ms) -> mosquitto"
    echo "(rate = $measured / time from the result of message $warm to that of message $((warm + measured)), $total messages, topic bench/t)"
    printf '%6s %7s %5s %3s | %9s %9s %6s %-8s | %9s %6s\n' "RTT ms" "baud" "bytes" "QoS" \
        "real" "ceiling" "eff" "binds" "virtual" "real/v"
} > "$text"
rows=()
for cell in "${cells[@]}"; do
    IFS=, read -r rtt baud bytes qos <<< "$cell"
    name="r${rtt}b${baud}p${bytes}q${qos}"
    start_sim "$name" --rtt-ms "$rtt" --baud "$baud"
    payload=$(head -c "$bytes" /dev/zero | tr '\0' 'x')
    trace=$work/$name.trace
    for _ in $(seq 1 "$total"); do echo "$payload"; done |
        "$cli" pub --device "$work/tty$name" --baud "$baud" -h 127.0.0.1 -p "$port" -i "rt-$name" \
            -t bench/t -q "$qos" -l --timeout 120 --trace 2>&1 >/dev/null | stamp > "$trace" ||
        fail "publish failed ($cell): $(tail -n 3 "$trace")"
    # Message k's msgID is on its k-th command line; its result repeats it (QoS 0: msgID 0, in order).
    t=$(awk -v a="$warm" -v b="$((warm + measured))" -v q="$qos" '
        / AT> AT\+QMTPUB=/ { n++; split($3, f, ","); id[n] = f[2] }
        / AT< \+QMTPUB: / {
            r++; split($4, f, ","); rid = f[2]
            for (k = (q == 0 ? r : 1); k <= (q == 0 ? r : n); k++) {
                if ((q == 0 || id[k] == rid) && !(k in at)) { at[k] = $1; break }
            }
        }
        END { if (!(a in at) || !(b in at)) exit 1; printf "%.6f", at[b] - at[a] }' "$trace") ||
        fail "no result line for message $warm or $((warm + measured)) in $trace"
    real=$(awk -v m="$measured" -v t="$t" 'BEGIN { printf "%.4f", m / t }')
    v=$("$bench" --cell "$cell")
    field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<< "$v" | head -1; }
    ceil=$(field ceiling) virt=$(field achieved) binds=$(field binds | tr -d '"')
    eff=$(awk -v a="$real" -v c="$ceil" 'BEGIN { printf "%.4f", a / c }')
    rv=$(awk -v a="$real" -v c="$virt" 'BEGIN { printf "%.4f", a / c }')
    printf '%6s %7s %5s %3s | %9.2f %9.2f %6s %-8s | %9.2f %6s\n' "$rtt" "$baud" "$bytes" "$qos" \
        "$real" "$ceil" "$eff" "$binds" "$virt" "$rv" >> "$text"
    rows+=("{\"rtt_ms\":$rtt,\"baud\":$baud,\"payload\":$bytes,\"qos\":$qos,\"real\":$real,\"ceiling\":$ceil,\"efficiency\":$eff,\"binds\":\"$binds\",\"virtual\":$virt,\"real_over_virtual\":$rv}")
done
{
    printf '{"kind":"realtime","messages":%d,"measured":%d,"cells":[\n  ' "$total" "$measured"
    (IFS=$'\n'; echo "${rows[*]}") | paste -sd, - | sed 's/},{/},\n  {/g'
    echo ']}'
} > "$json"
cat "$text"
echo "wrote $text $json"
