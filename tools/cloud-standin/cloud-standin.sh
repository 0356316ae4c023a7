#!/bin/sh
# qmtkit cloud stand-in: mosquitto with the qmtkit_cloud_auth plugin plus the IoT Suite token
# server, both on 127.0.0.1, until Ctrl+C / SIGTERM. See docs/cloud-standin.md.
#
#   cloud-standin.sh --registry FILE [--mqtt-port N] [--http-port M] [--verbose]
#
# --mqtt-port defaults to 1883, --http-port to 0 (a free port). Prints
#   mqtt 127.0.0.1:<port>
#   token http://127.0.0.1:<port>/token
# once both are listening. Binaries: $QMTKIT_CLOUD_AUTH_PLUGIN, $QMTKIT_TOKEN_SERVER,
# $MOSQUITTO (default /usr/sbin/mosquitto); the build's `qmtkit-cloud-standin` sets the first two.
set -eu

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }

registry='' mqtt_port=1883 http_port=0 verbose=0
while [ $# -gt 0 ]; do
    case "$1" in
        --registry) registry=$2; shift 2 ;;
        --mqtt-port) mqtt_port=$2; shift 2 ;;
        --http-port) http_port=$2; shift 2 ;;
        --verbose) verbose=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "cloud-standin: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done
[ -n "$registry" ] || { echo "cloud-standin: --registry FILE is required" >&2; exit 2; }
[ -r "$registry" ] || { echo "cloud-standin: cannot read $registry" >&2; exit 2; }
registry=$(readlink -f "$registry")

here=$(dirname "$(readlink -f "$0")")
plugin=${QMTKIT_CLOUD_AUTH_PLUGIN:-$here/libqmtkit_cloud_auth.so}
token_server=${QMTKIT_TOKEN_SERVER:-$here/qmtkit-token-server}
mosquitto=${MOSQUITTO:-/usr/sbin/mosquitto}
for f in "$plugin" "$token_server" "$mosquitto"; do
    [ -e "$f" ] || { echo "cloud-standin: missing $f (build the cloud-standin targets)" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/qmtkit-standin.XXXXXX")
mosq_pid='' token_pid=''
cleanup() {
    trap - EXIT INT TERM
    if [ -n "$mosq_pid" ]; then kill "$mosq_pid" 2>/dev/null || true; wait "$mosq_pid" 2>/dev/null || true; fi
    if [ -n "$token_pid" ]; then kill "$token_pid" 2>/dev/null || true; wait "$token_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Token server: its first stdout line is the port it bound.
mkfifo "$work/token.out"
"$token_server" --registry "$registry" --port "$http_port" >"$work/token.out" &
token_pid=$!
read -r http_port <"$work/token.out" || { echo "cloud-standin: token server failed" >&2; exit 1; }

# "user": as root, mosquitto would otherwise drop to the "mosquitto" user before the plugin
# reads the registry; as anyone else the option has no effect.
cat >"$work/mosquitto.conf" <<CONF
per_listener_settings false
listener $mqtt_port 127.0.0.1
allow_anonymous false
persistence false
user $(id -un)
plugin $plugin
plugin_opt_registry $registry
log_dest stderr
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
CONF

# mosquitto logs "mosquitto version X running" once every listener listens; wait for that line
# (its "Opening ipv4 listen socket" line comes before bind/listen). fd 3 stays open on the FIFO
# for the whole run, so no log line is ever written without a reader.
mkfifo "$work/mosq.err"
"$mosquitto" -c "$work/mosquitto.conf" 2>"$work/mosq.err" &
mosq_pid=$!
exec 3<"$work/mosq.err"
ready=0
while IFS= read -r line <&3; do
    [ "$verbose" = 1 ] && printf '%s\n' "$line" >&2
    case "$line" in
        *"mosquitto version"*" running"*) ready=1; break ;;
        *rror*) printf '%s\n' "$line" >&2 ;;
    esac
done
[ "$ready" = 1 ] || { echo "cloud-standin: mosquitto did not start" >&2; exit 1; }

echo "mqtt 127.0.0.1:$mqtt_port"
echo "token http://127.0.0.1:$http_port/token"
# Keep draining mosquitto's log so it never blocks on a full pipe (EOF when mosquitto exits).
if [ "$verbose" = 1 ]; then cat <&3 >&2 & else cat <&3 >/dev/null & fi
wait "$mosq_pid" || true
