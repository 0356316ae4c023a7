#!/usr/bin/env bash
# The main job: a local mosquitto and two emulated BC28 modules (bc28-sim on pseudo-terminals, with
# NB-IoT-like network delay). Module A subscribes with `qmtkit sub`, module B publishes with
# `qmtkit pub -l`, and the messages arrive at A through the broker.
#   tools/demo/run-demo.sh [BUILD_DIR]      (./dev.sh demo builds and calls this)
set -euo pipefail
build=${1:-build/dev}
rtt_ms=${QMTKIT_DEMO_RTT_MS:-300}
count=${QMTKIT_DEMO_MESSAGES:-10}
# shellcheck source=stack.sh
. "$(dirname "$0")/stack.sh"

start_broker
start_sim A --rtt-ms "$rtt_ms" --imei 866971030000011
start_sim B --rtt-ms "$rtt_ms" --imei 866971030000029

echo "qmtkit demo"
echo "  broker     mosquitto on 127.0.0.1:$port"
echo "  module A   bc28-sim on $(head -n1 "$work/simA.out") (link $work/ttyA), RTT $rtt_ms ms"
echo "  module B   bc28-sim on $(head -n1 "$work/simB.out") (link $work/ttyB), RTT $rtt_ms ms"
echo

echo "1. module A subscribes:  qmtkit sub --device ttyA -h 127.0.0.1 -p $port -t 'demo/#' -q 1 -C $count -v"
"$cli" sub --device "$work/ttyA" -h 127.0.0.1 -p "$port" -i demo-sub -t 'demo/#' -q 1 -C "$count" -W 120 -v -d \
    > "$work/sub.out" 2> "$work/sub.err" &
sub_pid=$!
pids+=($sub_pid)
wait_for "$work/sub.err" "subscribed demo/#" 60
sed 's/^/     /' "$work/sub.err"

echo
echo "2. module B publishes $count readings, QoS 1, one per line of stdin:"
echo "   ... | qmtkit pub --device ttyB -h 127.0.0.1 -p $port -t demo/readings -q 1 -l --trace"
start=$(date +%s%N)
for i in $(seq 1 "$count"); do
    printf 'reading %d: temperature=%d.%d C, humidity=%d%%\n' "$i" $((20 + i % 5)) $((i % 10)) $((40 + i))
done | "$cli" pub --device "$work/ttyB" -h 127.0.0.1 -p "$port" -i demo-pub -t demo/readings -q 1 -l --trace \
    2> "$work/pub.trace" || fail "qmtkit pub failed: $(tail -n1 "$work/pub.trace")"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "   module B's AT line from its first publish on: results come back while later publishes go out"
awk '/AT\+QMTPUB=0,1,/ { on = 1 } on' "$work/pub.trace" | head -n 26 | sed 's/^/     /'
echo "   ..."

echo
echo "3. module A receives them:"
wait "$sub_pid" || fail "qmtkit sub did not receive $count messages"
sed 's/^/     /' "$work/sub.out"
received=$(wc -l < "$work/sub.out")

echo
echo "$received of $count messages arrived. Publishing took $elapsed_ms ms including bring-up; one at a time,"
echo "waiting for each acknowledgement, the round trips alone would take $((count * rtt_ms)) ms at RTT $rtt_ms ms."
[ "$received" -eq "$count" ]
