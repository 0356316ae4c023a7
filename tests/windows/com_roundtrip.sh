#!/usr/bin/env bash
# The Windows build through a COM port, end to end (ctest: Windows.ComPortRoundTrip):
#   mosquitto on a free 127.0.0.1 port; bc28-sim (Linux) on a pseudo-terminal that Wine maps to
#   COM5 ($WINEPREFIX/dosdevices/com5 -> /dev/pts/N); `wine qmtkit.exe pub --device COM5`:
#   -m, then -l --spool with stdin a file (FileStore's and LineSource's Windows branches), then
#   -l with stdin a pipe, -m through bc28-sim's TCP port (tcp://), then a second pub refused a
#   spool the first holds; a persistent
#   mosquitto_sub session receives every message, in order. Then `wine qmtkit.exe sub` through
#   COM5 prints what mosquitto_pub sends.
#   com_roundtrip.sh QMTKIT_EXE BC28_SIM      (WINEPREFIX set, its wineserver up)
# Every wait is on an event (a line printed, a process ending, mosquitto_sub's -C / -W).
set -euo pipefail
exe=$(realpath "$1")
sim=$(realpath "$2")
[ -n "${WINEPREFIX:-}" ] && [ -d "$WINEPREFIX/dosdevices" ] ||
    { echo "com_roundtrip: needs WINEPREFIX, an initialised Wine prefix" >&2; exit 1; }
[ -x "$sim" ] || { echo "com_roundtrip: $sim is not built (the dev preset's bc28-sim)" >&2; exit 1; }
mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
com=$WINEPREFIX/dosdevices/com5

work=$(mktemp -d /tmp/qmtkit-winrt.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -f "$com"
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "com_roundtrip: $*" >&2
    for f in "$work"/*.log; do [ -s "$f" ] && { echo "--- $(basename "$f")" >&2; tail -n 30 "$f" >&2; }; done
    exit 1
}

# await_line FD TEXT SECONDS LOG: reads lines from FD into LOG until one holds TEXT.
await_line() {
    local fd=$1 text=$2 deadline=$((SECONDS + $3)) log=$4 line
    while [ $SECONDS -lt $deadline ] && IFS= read -r -t $((deadline - SECONDS)) line <&"$fd"; do
        printf '%s\n' "$line" >> "$log"
        [[ $line == *"$text"* ]] && return 0
    done
    return 1
}

free_port() {
    local p
    for p in $(shuf -i 20000-60000 -n 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
    done
    return 1
}

# The broker, ready once it says it is running.
port=$(free_port) || fail "no free port"
printf '%s\n' "listener $port 127.0.0.1" "allow_anonymous true" "persistence false" \
    "log_dest stderr" "log_type all" > "$work/mosquitto.conf"
[ "$(id -u)" -eq 0 ] && echo "user $(id -un)" >> "$work/mosquitto.conf"
mkfifo "$work/broker.pipe" "$work/sim.pipe"
"$mosquitto_bin" -c "$work/mosquitto.conf" 2> "$work/broker.pipe" & pids+=($!)
exec 3< "$work/broker.pipe"
await_line 3 " running" 15 "$work/broker.log" || fail "mosquitto did not start"
cat <&3 >> "$work/broker.log" & pids+=($!)

# The module: bc28-sim prints its pty once it serves it (its pty is raw, set with TCSANOW).
# It serves the same line on a TCP port too (--tcp 0: it prints "tcp <port>" next).
"$sim" --tcp 0 > "$work/sim.pipe" 2> "$work/sim.log" & pids+=($!)
exec 4< "$work/sim.pipe"
IFS= read -r -t 15 pty <&4 || fail "bc28-sim printed no pty"
[[ $pty == /dev/pts/* ]] || fail "bc28-sim printed '$pty', not a pty"
IFS= read -r -t 15 tcp_line <&4 || fail "bc28-sim printed no TCP port"
[[ $tcp_line == "tcp "* ]] || fail "bc28-sim printed '$tcp_line', not its TCP port"
sim_tcp=${tcp_line#tcp }
cat <&4 > /dev/null & pids+=($!)
ln -sfn "$pty" "$com"

# A persistent session that collects every QoS 1 message while nobody reads it: -E returns
# once the broker acknowledged the subscription.
sub=(mosquitto_sub -h 127.0.0.1 -p "$port" -i qmtkit-winrt-sub -c -q 1 -t win/rt)
"${sub[@]}" -E 2> "$work/sub.log" || fail "mosquitto_sub could not subscribe"

pub=(wine "$exe" pub --device COM5 -h 127.0.0.1 -p "$port" -t win/rt -q 1 --timeout 30)
cd "$work"
"${pub[@]}" -i winrt-m -m "hello from qmtkit.exe" 2> "$work/pub-m.log" ||
    fail "pub -m through COM5 failed"
printf 'spooled 1\nspooled 2\r\nspooled 3\n' > lines.txt
"${pub[@]}" -i winrt-spool -l --spool spool < lines.txt 2> "$work/pub-spool.log" ||
    fail "pub -l --spool through COM5 failed"
[ -s spool/outbox.journal ] || fail "pub --spool left no journal in spool/"
printf 'piped 1\npiped 2\n' | "${pub[@]}" -i winrt-pipe -l 2> "$work/pub-pipe.log" ||
    fail "pub -l from a pipe through COM5 failed"

# The module as a terminal server sees it: qmtkit.exe's TCP transport (Winsock).
wine "$exe" pub --device "tcp://127.0.0.1:$sim_tcp" -h 127.0.0.1 -p "$port" -t win/rt -q 1 \
    --timeout 30 -i winrt-tcp -m "over tcp" 2> "$work/pub-tcp.log" ||
    fail "pub through tcp://127.0.0.1:$sim_tcp failed"

# A spool held by a pub that waits on its stdin (online: -d says so) is refused to a second one
# (LockFileEx across processes); the first then sends the line it is given and ends.
mkfifo held.in held.err
"${pub[@]}" -i winrt-held -l --spool held -d < held.in 2> held.err & held_pid=$!
pids+=($held_pid)
exec 5> held.in 6< held.err
await_line 6 "link online" 30 "$work/pub-held.log" || fail "the holding pub did not come online"
cat <&6 5>&- >> "$work/pub-held.log" & pids+=($!)  # not holding held.in open
if "${pub[@]}" -i winrt-second -l --spool held < /dev/null 2> "$work/pub-second.log" 5>&-; then
    fail "a second pub on a held spool was not refused"
fi
grep -q "spool held is in use by another process (pid [0-9]*)" "$work/pub-second.log" ||
    fail "the second pub did not say the spool is in use"
echo "held 1" >&5
exec 5>&-
wait "$held_pid" || fail "the holding pub failed"

# And the other way: qmtkit.exe sub through COM5 prints what a mosquitto_pub sends, once it
# said it is subscribed.
mkfifo sub.err
wine "$exe" sub --device COM5 -h 127.0.0.1 -p "$port" -i winrt-sub -t win/cmd -q 1 -C 1 -W 30 \
    -d > sub.out 2> sub.err 5>&- & sub_pid=$!
pids+=($sub_pid)
exec 7< sub.err
await_line 7 "subscribed win/cmd" 30 "$work/qmtkit-sub.log" || fail "qmtkit.exe sub did not subscribe"
cat <&7 >> "$work/qmtkit-sub.log" & pids+=($!)
mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t win/cmd -m "to qmtkit.exe" ||
    fail "mosquitto_pub failed"
wait "$sub_pid" || fail "qmtkit.exe sub did not receive the message"
[ "$(cat sub.out)" = "to qmtkit.exe" ] || fail "qmtkit.exe sub printed: $(cat sub.out)"

"${sub[@]}" -C 8 -W 30 > got.txt 2>> "$work/sub.log" ||
    fail "mosquitto_sub did not receive 8 messages: $(tr '\n' '|' < got.txt)"
expected=$'hello from qmtkit.exe\nspooled 1\nspooled 2\nspooled 3\npiped 1\npiped 2\nover tcp\nheld 1'
[ "$(cat got.txt)" = "$expected" ] || fail "received: $(tr '\n' '|' < got.txt)"
echo "com_roundtrip: 8 messages from qmtkit.exe and 1 to it through COM5 ($pty) and" \
    "tcp://127.0.0.1:$sim_tcp, broker 127.0.0.1:$port"
