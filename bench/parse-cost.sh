#!/usr/bin/env bash
# Parse cost of the receive path, in instructions per byte: qmtkit_bench_parse (a 2 MiB module
# stream of echoes, prompts, OK, +QMTPUB results and 1 KB +QMTRECV payloads, quoted and bare,
# through qmt::Client<>) under valgrind --tool=callgrind, fed in 64-byte chunks and one byte at a
# time. Counted: everything inside at::EngineCore::feed() (the parser and the client's handlers it
# calls); ClientCore::feed() (that plus the client's outbox pump after each chunk) for comparison.
# The run also counts heap allocations inside the client's calls (it fails unless there are none).
# Build it optimised first (the release preset, -O3; an -O2 build counts within 1 % of it):
#   cmake --preset release && cmake --build --preset release --target qmtkit_bench_parse
#   bench/parse-cost.sh [BUILD_DIR] [--json FILE]   (default build/release, build/footprint/parse.json)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build/release
json=$root/build/footprint/parse.json
while [ $# -gt 0 ]; do
    case "$1" in
        --json) json=$2; shift ;;
        -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) build=$1 ;;
    esac
    shift
done
bench=$build/bench/qmtkit_bench_parse
[ -x "$bench" ] || cmake --build "$build" --target qmtkit_bench_parse
command -v valgrind >/dev/null || { echo "parse-cost.sh: valgrind not found (./dev.sh footprint installs it)" >&2; exit 1; }
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
opt_flags=$(sed -n "s/^CMAKE_CXX_FLAGS_${build_type^^}:[A-Z]*=//p" "$build/CMakeCache.txt" 2>/dev/null || true)
work=$(dirname "$json")/callgrind
mkdir -p "$work"

# Inclusive instruction count of one function in a callgrind profile.
inclusive() {  # file pattern
    callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
        awk -v pat="$2" '!found && index($0, pat) { gsub(",", "", $1); print $1; found = 1 }'
}

# Of EngineCore::feed's count, what the engine's functions hand outside qmtkit::at (inclusive):
# the client's handlers (on_result, on_prompt, the +QMTRECV claim with qmt::parse_recv, ...) and
# the bench's Writer. Prints "client writer parse_recv".
outside() {  # file
    callgrind_annotate --inclusive=yes --tree=calling --threshold=100 "$1" 2>/dev/null | awk '
        function name(l) { sub(/^ *[0-9,]+ \([^)]*\) +[*>] +/, "", l); sub(/\(.*/, "", l); return l }
        / \*  / { eng = index(name($0), "qmtkit::at::") == 1 || index(name($0), "???:qmtkit::at::") == 1; next }
        / >   / && eng {
            f = name($0)
            if (index(f, "qmtkit::at::") || index(f, "/string/") || index(f, "sysdeps")) next
            n = $1; gsub(",", "", n)
            if (index($0, "Module::write(")) w += n; else c += n
        }
        END { printf "%d %d\n", c, w }'
    callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
        awk '!f && index($0, "qmtkit::qmt::parse_recv(") { gsub(",", "", $1); print $1; f = 1 } END { if (!f) print 0 }'
}

printf '%-22s %10s %14s %12s %14s %12s\n' "feeding" "bytes" "EngineCore::feed" "instr/byte" "ClientCore::feed" "instr/byte"
rows=()
splits=()
for chunk in 64 1; do
    out=$work/callgrind.chunk$chunk.out
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bench" --chunk "$chunk" \
        > "$work/run.chunk$chunk.txt" 2> "$work/valgrind.chunk$chunk.txt" \
        || { cat "$work/run.chunk$chunk.txt" "$work/valgrind.chunk$chunk.txt" >&2; exit 1; }
    bytes=$(sed -n 's/^bytes=\([0-9]*\).*/\1/p' "$work/run.chunk$chunk.txt")
    engine=$(inclusive "$out" "qmtkit::at::EngineCore::feed(unsigned char const*")
    client=$(inclusive "$out" "qmtkit::qmt::ClientCore::feed(unsigned char const*")
    [ -n "$bytes" ] && [ -n "$engine" ] && [ -n "$client" ] \
        || { echo "parse-cost.sh: could not read $out" >&2; exit 1; }
    e_pb=$(awk -v a="$engine" -v b="$bytes" 'BEGIN { printf "%.1f", a / b }')
    c_pb=$(awk -v a="$client" -v b="$bytes" 'BEGIN { printf "%.1f", a / b }')
    label=$([ "$chunk" = 1 ] && echo "one byte at a time" || echo "$chunk-byte chunks")
    printf '%-22s %10s %14s %12s %14s %12s\n' "$label" "$bytes" "$engine" "$e_pb" "$client" "$c_pb"
    read -r handlers writer < <(outside "$out" | head -1)
    recv=$(outside "$out" | tail -1)
    splits+=("$(awk -v l="$label" -v h="$handlers" -v w="$writer" -v r="$recv" -v b="$bytes" 'BEGIN {
        printf "  %s: client handlers %.1f (of which qmt::parse_recv %.1f), Writer %.1f instr/byte", l, h / b, r / b, w / b }')")
    rows+=("{\"chunk\": $chunk, \"bytes\": $bytes, \"engine_feed_instr\": $engine, \"engine_instr_per_byte\": $e_pb, \"client_feed_instr\": $client, \"client_instr_per_byte\": $c_pb}")
done
echo "inside EngineCore::feed, called from the engine but outside qmtkit::at:"
printf '%s\n' "${splits[@]}"
echo "(callgrind Ir, $(uname -m), ${build_type:-?} build: ${opt_flags:-?}; issue 10's targets: <= 15 instr/byte"
echo " in 64-byte chunks, <= 30 one byte at a time)"
sed -n 2,3p "$work/run.chunk64.txt"
{
    printf '{\n  "build_type": "%s",\n  "flags": "%s",\n  "stream": "%s",\n  "runs": [\n    %s,\n    %s\n  ]\n}\n' \
        "${build_type:-}" "${opt_flags:-}" "$(sed -n 2p "$work/run.chunk64.txt")" "${rows[0]}" "${rows[1]}"
} > "$json"
echo "JSON: $json"
