# Sourced by the demo and the benches: start a local mosquitto and emulated modules, stop them all
# on exit. Needs: $build (the build directory). Sets: $work, $port; module N's tty is $work/ttyN.
sim=$build/tools/bc28-sim/bc28-sim
cli=$build/tools/qmtkit/qmtkit
for exe in "$sim" "$cli"; do [ -x "$exe" ] || { echo "$0: $exe is not built" >&2; exit 1; }; done
mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)

work=$(mktemp -d /tmp/qmtkit-stack.XXXXXX)
pids=()
stack_cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap stack_cleanup EXIT INT TERM

fail() {
    echo "$(basename "$0"): $*" >&2
    for f in "$work"/*.log "$work"/*.err; do [ -s "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done
    exit 1
}
# Waits for a line matching $2 in file $1, at most $3 seconds. Scripts watch other programs' logs
# this way; the test suite waits on events instead.
wait_for() {
    local deadline=$((SECONDS + $3))
    until grep -q -- "$2" "$1" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || fail "timed out waiting for '$2' in $(basename "$1")"
        sleep 0.1
    done
}
free_port() {
    local p
    for p in $(shuf -i 20000-60000 -n 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
    done
    return 1
}
start_broker() {
    port=$(free_port) || fail "no free port"
    {
        echo "listener $port 127.0.0.1"
        echo "allow_anonymous true"
        echo "persistence false"
        echo "log_dest stderr"
        echo "log_type error"
        echo "log_type warning"
        echo "log_type notice"
        echo "log_type information"  # the "running" line that says it listens
        [ "$(id -u)" -eq 0 ] && echo "user $(id -un)"
    } > "$work/mosquitto.conf"
    "$mosquitto_bin" -c "$work/mosquitto.conf" 2> "$work/broker.log" & pids+=($!)
    wait_for "$work/broker.log" " running" 10
}
# start_sim NAME [bc28-sim options...]: module NAME on $work/ttyNAME
start_sim() {
    local name=$1
    shift
    "$sim" --link "$work/tty$name" "$@" > "$work/sim$name.out" 2> "$work/sim$name.log" & pids+=($!)
    wait_for "$work/sim$name.out" "/dev/" 10
}
