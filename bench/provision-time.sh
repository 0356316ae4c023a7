#!/usr/bin/env bash
# Wall time of `qmtkit provision` for 1 module and for N modules at once (default 16), each a
# bc28-sim at --rtt-ms RTT (default 300), against a local mosquitto, on one SQLite ledger.
#   bench/provision-time.sh [BUILD_DIR] [N] [RTT_MS]     (default build/dev 16 300)
# Prints both times and their ratio (the issue's figure: N at once within 1.2 x one).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/dev}
n=${2:-16}
rtt=${3:-300}
qmtkit=$build/tools/qmtkit/qmtkit
sim=$build/tools/bc28-sim/bc28-sim
[ -x "$qmtkit" ] && [ -x "$sim" ] || { echo "build $build first (qmtkit, bc28-sim)" >&2; exit 1; }
command -v mosquitto >/dev/null || { echo "mosquitto not found (./dev.sh test installs it)" >&2; exit 1; }

work=$(mktemp -d /tmp/qmtkit-provision-time.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" > "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
pids+=($!)

# IMEIs with their Luhn digit, and a manifest with one record per module.
python3 - "$work" "$((n + 1))" <<'EOF'
import json, sys
work, count = sys.argv[1], int(sys.argv[2])
def luhn(s):
    total = 0
    for k, ch in enumerate(reversed(s)):
        d = int(ch)
        if k % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return str((10 - total % 10) % 10)
imeis = []
for i in range(count):
    body = "86697103%06d" % i
    imeis.append(body + luhn(body))
open(work + "/imeis", "w").write("\n".join(imeis) + "\n")
devices = [{"product_key": "a1Bench", "device_name": "bench%02d" % i,
            "device_secret": "bench-secret-%02d" % i} for i in range(count)]
json.dump({"cloud": "aliyun", "endpoint": "127.0.0.1", "devices": devices},
          open(work + "/manifest.json", "w"))
EOF
i=0
while read -r imei; do
    i=$((i + 1))
    "$sim" --imei "$imei" --rtt-ms "$rtt" --link "$work/m$i" > "$work/sim$i.out" 2>&1 &
    pids+=($!)
done < "$work/imeis"
for _ in $(seq 100); do
    ready=$(ls "$work"/m* 2>/dev/null | wc -l)
    [ "$ready" -ge "$((n + 1))" ] && break
    sleep 0.1
done

run() {  # run NAME DEVICES...
    local name=$1; shift
    local args=() start end
    for d in "$@"; do args+=(--device "$work/$d"); done
    start=$(date +%s.%N)
    "$qmtkit" provision --manifest "$work/manifest.json" "${args[@]}" --out "$work/out-$name" \
        --ledger "sqlite:$work/ledger.sqlite" --broker "127.0.0.1:$port" > "$work/$name.out" 2>&1 ||
        { echo "provision ($name) failed:" >&2; cat "$work/$name.out" >&2; exit 1; }
    end=$(date +%s.%N)
    python3 -c "print(f'{$end - $start:.2f}')"
}
one=$(run one "m$((n + 1))")
many_devices=()
for k in $(seq "$n"); do many_devices+=("m$k"); done
many=$(run many "${many_devices[@]}")
python3 -c "print(f'provision at --rtt-ms $rtt: 1 module {$one} s, $n modules at once {$many} s, ratio {$many / $one:.2f}')"
