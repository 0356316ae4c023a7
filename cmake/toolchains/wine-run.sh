#!/usr/bin/env bash
# The windows preset's CMAKE_CROSSCOMPILING_EMULATOR: `wine PROGRAM ARGS...`, launched once more
# when the first launch ended non-zero before the program printed a byte (stdout and stderr
# empty). Under load Wine rarely ends a process that way (seen 2 times in about 2,700 test
# launches: status "Failed" in 0.01 s, no output); a test program that ran always printed
# something (GoogleTest's "Running main()"), so a real failure is never retried.
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
wine "$@" > "$out" 2> "$err"
rc=$?
if [ "$rc" -ne 0 ] && [ ! -s "$out" ] && [ ! -s "$err" ]; then
    echo "wine-run: wine ended with status $rc before $1 printed anything; launching it again" >&2
    wine "$@" > "$out" 2> "$err"
    rc=$?
fi
cat "$out"
cat "$err" >&2
exit "$rc"
