#!/usr/bin/env bash
# expect_status.sh STATUS REGEX EXE ARGS...: runs `wine EXE ARGS...` and passes when it exits
# STATUS and its output (stdout, then stderr) has a line matching REGEX (grep -E). Prints what it
# got otherwise.
set -uo pipefail
want=$1 pattern=$2
shift 2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
wine "$@" > "$out" 2> "$out.err"
got=$?
err=$(cat "$out" "$out.err")
rm -f "$out.err"
err=${err//$'\r'/}
if [ "$got" -ne "$want" ] || ! grep -Eq -- "$pattern" <<<"$err"; then
    echo "expected status $want and an output line matching: $pattern" >&2
    echo "got status $got, output:" >&2
    printf '%s\n' "$err" >&2
    exit 1
fi
