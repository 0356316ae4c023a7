#!/usr/bin/env bash
# expect_status.sh STATUS REGEX EXE ARGS...: runs `wine EXE ARGS...` and passes when it exits
# STATUS and its stderr has a line matching REGEX (grep -E). Prints what it got otherwise.
set -uo pipefail
want=$1 pattern=$2
shift 2
err=$(wine "$@" 2>&1 >/dev/null)
got=$?
err=${err//$'\r'/}
if [ "$got" -ne "$want" ] || ! grep -Eq -- "$pattern" <<<"$err"; then
    echo "expected status $want and a stderr line matching: $pattern" >&2
    echo "got status $got, stderr:" >&2
    printf '%s\n' "$err" >&2
    exit 1
fi
