#!/usr/bin/env bash
# Builds and runs every fuzz target of fuzz/ (cargo-fuzz, libFuzzer) for a
# fixed time each, one after the other, and prints one line per target:
# executions, executions per second, and crashes (files libFuzzer left in
# fuzz/artifacts/<target>/). Exits non-zero when any target crashed.
#
# Corpora grow in fuzz/corpus/<target>/ (not committed) from the seeds in
# fuzz/seeds/<target>/. The previous run's artifacts of a target are moved
# to fuzz/artifacts/<target>.previous/ before it runs.
#
# Stable Rust is enough: the targets are built without a sanitizer
# (`--sanitizer none`; the others need -Zsanitizer, nightly only), in
# release mode with debug assertions and overflow checks (`-O -a`).
#
# Usage: scripts/fuzz.sh [seconds per target (60)] [target...]
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${1:-60}
shift || true

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

FLAGS=(-O -a --sanitizer none)
if [ $# -gt 0 ]; then
    TARGETS=("$@")
else
    mapfile -t TARGETS < <(cargo fuzz list)
fi

if [ $# -gt 0 ]; then
    for target in "${TARGETS[@]}"; do
        cargo fuzz build "${FLAGS[@]}" "$target" >&2
    done
else
    cargo fuzz build "${FLAGS[@]}" >&2
fi

mkdir -p fuzz/logs
summary=()
crashed=0
for target in "${TARGETS[@]}"; do
    corpus=fuzz/corpus/$target
    artifacts=fuzz/artifacts/$target
    mkdir -p "$corpus"
    if [ -d "$artifacts" ] && [ -n "$(ls -A "$artifacts")" ]; then
        rm -rf "$artifacts.previous"
        mv "$artifacts" "$artifacts.previous"
    fi
    mkdir -p "$artifacts"
    inputs=("$corpus")
    [ -d "fuzz/seeds/$target" ] && inputs+=("fuzz/seeds/$target")
    log=fuzz/logs/$target.log
    echo "fuzzing $target for ${SECONDS_PER_TARGET}s (log: $log)" >&2
    cargo fuzz run "${FLAGS[@]}" "$target" "${inputs[@]}" -- \
        -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -max_len=12288 \
        >"$log" 2>&1 || true
    executions=$(awk '/^stat::number_of_executed_units:/ {print $2}' "$log" | tail -n 1)
    per_second=$(awk '/^stat::average_exec_per_sec:/ {print $2}' "$log" | tail -n 1)
    crashes=$(find "$artifacts" -type f | wc -l)
    if [ "$crashes" -gt 0 ]; then
        crashed=1
    fi
    summary+=("$(printf '%-20s executions %10s  exec/s %7s  crashes %s' \
        "$target" "${executions:-?}" "${per_second:-?}" "$crashes")")
done

printf '%s\n' "${summary[@]}"
if [ "$crashed" -ne 0 ]; then
    echo "crashes: see fuzz/artifacts/<target>/ and fuzz/logs/<target>.log" >&2
    exit 1
fi
