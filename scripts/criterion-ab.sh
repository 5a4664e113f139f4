#!/usr/bin/env bash
# Compares two builds of a criterion bench binary on one benchmark, in
# alternation (A then B, then B then A, ...), so that a machine whose speed
# drifts over minutes moves both alike. Prints each round's point
# estimates and B/A ratio, then the median ratio.
#
# Usage: scripts/criterion-ab.sh A_BINARY B_BINARY BENCHMARK [rounds (8)]
# The binaries are copies of target/release/deps/<bench>-<hash> built
# before and after a change (cargo bench -p warden-tests --bench <bench>
# --no-run); run from tests/, as cargo bench does.
set -euo pipefail
A=$1 B=$2 BENCH=$3 ROUNDS=${4:-8}

estimate() {
    "$1" --bench "$BENCH" --measurement-time 2 --warm-up-time 1 --noplot 2>&1 |
        awk '/time:/ && !done { v = $4; u = $5; done = 1;
            if (u == "ns") v /= 1000; if (u == "ms") v *= 1000; print v }'
}

ratios=()
for round in $(seq "$ROUNDS"); do
    if (( round % 2 )); then a=$(estimate "$A"); b=$(estimate "$B")
    else b=$(estimate "$B"); a=$(estimate "$A"); fi
    ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')
    ratios+=("$ratio")
    echo "round $round: A $a µs, B $b µs, B/A $ratio"
done
printf '%s\n' "${ratios[@]}" | sort -n |
    awk '{ r[NR] = $1 } END { m = (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2;
        printf "median B/A over %d rounds: %.3f\n", NR, m }'
