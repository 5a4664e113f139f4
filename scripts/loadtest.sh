#!/usr/bin/env bash
# Load test over loopback: warden's bench-server (A) against the hand-wired
# twin (B, benches/handwired-server), route by route, interleaved A, B, A,
# B... for several rounds. Both servers are pinned to core 0 and wrk to
# core 1. Prints requests/s, p50, p99 and the hypervisor's steal per run,
# then the median over rounds of each round's A/B ratio.
#
# With COMPARE=redis, A is the bench-server with its limits in Redis (a
# redis-server of the script's own, also on core 0) and B the same server
# with its limits in memory, on the routes that have limits.
#
# Usage: scripts/loadtest.sh [rounds (3)] [seconds per run (10)]
# Environment: CONNECTIONS (32), COMPARE (handwired | redis), ONLY (the
# rows to run, such as "plain protected protectedmin"; all when unset),
# A_BIN (another build of the bench server as A, such as the one before a
# change), B_BIN (a build of the bench server as B instead of the
# hand-wired twin, on the same routes as A: with A_BIN, two builds
# compared run by run).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-3}
RUN_SECONDS=${2:-10}
CONNECTIONS=${CONNECTIONS:-32}

if ! command -v wrk >/dev/null; then
    echo "installing wrk from the distribution's packages" >&2
    apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
cargo build --release -q -p bench-server -p handwired-server

export BENCH_JWT_SECRET="a load-test secret of at least 32 bytes"
TOKEN=$(python3 - <<'PY'
import base64, hashlib, hmac, json, os, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")
header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
claims = b64(json.dumps({"sub": "load-user", "iss": "bench", "aud": "bench",
                         "exp": int(time.time()) + 3600, "roles": ["user"]}).encode())
message = header + b"." + claims
signature = b64(hmac.new(os.environ["BENCH_JWT_SECRET"].encode(), message, hashlib.sha256).digest())
print((message + b"." + signature).decode())
PY
)

work=$(mktemp -d)
# 20,000 distinct tokens of one user (each with its own jti), for the row
# that sends a new token on (almost) every request: more than warden's
# cache of verified tokens keeps (4,096), so that row measures first sight.
python3 - "$work/tokens.lua" <<'PY'
import base64, hashlib, hmac, json, os, sys, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")
secret = os.environ["BENCH_JWT_SECRET"].encode()
header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
with open(sys.argv[1], "w") as out:
    out.write("tokens = {\n")
    for i in range(20000):
        claims = b64(json.dumps({"sub": "load-user", "iss": "bench", "aud": "bench", "jti": f"j{i}",
                                 "exp": int(time.time()) + 3600, "roles": ["user"]}).encode())
        message = header + b"." + claims
        signature = b64(hmac.new(secret, message, hashlib.sha256).digest())
        out.write('"Bearer ' + (message + b"." + signature).decode() + '",\n')
    out.write("}\n")
PY
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

COMPARE=${COMPARE:-handwired}
if [ "$COMPARE" = redis ]; then
    command -v redis-server >/dev/null || { echo "redis-server is not installed (apt-get install redis-server)" >&2; exit 1; }
    taskset -c 0 redis-server --port 3199 --bind 127.0.0.1 --save '' --appendonly no >/dev/null & pids+=($!)
    for _ in $(seq 1 50); do redis-cli -p 3199 ping >/dev/null 2>&1 && break; sleep 0.1; done
    REDIS_URL=redis://127.0.0.1:3199 PORT=3101 taskset -c 0 target/release/bench-server & pids+=($!)
    PORT=3102 taskset -c 0 target/release/bench-server & pids+=($!)
    SPECS=("plain none" "protected protected" "limited none")
else
    PORT=3101 taskset -c 0 "${A_BIN:-target/release/bench-server}" & pids+=($!)
    PORT=3102 taskset -c 0 "${B_BIN:-target/release/handwired-server}" & pids+=($!)
    # "tokenplain" is /bench/plain sent with the same Authorization header
    # as /bench/protected: what carrying the token costs with no guard.
    # "protectedmany" is the same pair with a new token on each request.
    # "protectedmin" is /bench/protected against the twin's
    # /bench/protected-min: the same checks stripped to what a user writes
    # by hand (a one-field claims struct, a keyed limiter, no RateLimit
    # fields).
    SPECS=("plain none" "tokenplain protected plain" "protected protected" "protectedmin protected protected protected-min" "protectedmany many protected protected-min" "limited none" "validate validate")
fi
for port in 3101 3102; do
    for _ in $(seq 1 50); do
        curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
        sleep 0.1
    done
done

cat > "$work/protected.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA
cat > "$work/validate.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"email":"ana@example.com","password":"Str0ng&Secure!","name":"José Ñúñez"}'
wrk.headers["Content-Type"] = "application/json"
LUA
cat "$work/tokens.lua" > "$work/many.lua"
cat >> "$work/many.lua" <<'LUA'
local i = 0
request = function()
    i = i % #tokens + 1
    return wrk.format(nil, nil, {Authorization = tokens[i]})
end
LUA
touch "$work/none.lua"

results="$work/results.tsv"
# The CPU time the hypervisor gave to other guests while the machine
# wanted it (the "steal" column of /proc/stat): on a shared VM, a window
# with much of it measures the neighbours as much as the server.
cpu_times() { awk '/^cpu / {print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
run() { # label server port script [route (the label)]
    local out before after
    before=$(cpu_times)
    out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${RUN_SECONDS}s" --latency -s "$work/$4.lua" "http://127.0.0.1:$3/bench/${5:-$1}")
    after=$(cpu_times)
    local rps p50 p99 steal
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    steal=$(awk '{ printf "%.1f%%", ($4 > $2) ? 100 * ($3 - $1) / ($4 - $2) : 0 }' <<<"$before $after")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$rps" "$p50" "$p99" "$steal" | tee -a "$results"
}

printf 'route\tserver\treq/s\tp50\tp99\tsteal\n'
for round in $(seq 1 "$ROUNDS"); do
    for spec in "${SPECS[@]}"; do
        set -- $spec
        if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $1 "* ]]; then
            continue
        fi
        run "$1" A 3101 "$2" "${3:-$1}"
        if [ -n "${B_BIN:-}" ]; then
            run "$1" B 3102 "$2" "${3:-$1}"
        else
            run "$1" B 3102 "$2" "${4:-${3:-$1}}"
        fi
    done
done

python3 - "$results" <<'PY'
import os, statistics, sys
def micros(text):
    for unit, factor in (("us", 1), ("ms", 1000), ("s", 1_000_000)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)
runs = {}
steals = []
for line in open(sys.argv[1]):
    route, server, rps, p50, p99, steal = line.split()
    steals.append(float(steal.rstrip("%")))
    runs.setdefault((route, server), []).append((float(rps), micros(p50), micros(p99)))
# A and B of one round ran back to back: the ratio of each round is taken
# first, then the median over rounds, so that drift between rounds (a
# shared machine) cancels out.
print()
print("route        A req/s   B req/s   A/B req/s   A p99 us   B p99 us   A/B p99")
for route in ("plain", "tokenplain", "protected", "protectedmin", "protectedmany", "limited", "validate"):
    if (route, "A") not in runs:
        continue
    a, b = runs[(route, "A")], runs[(route, "B")]
    ar, br = statistics.median(r for r, _, _ in a), statistics.median(r for r, _, _ in b)
    ap, bp = statistics.median(p for _, _, p in a), statistics.median(p for _, _, p in b)
    rps_ratio = statistics.median(x[0] / y[0] for x, y in zip(a, b))
    p99_ratio = statistics.median(x[2] / y[2] for x, y in zip(a, b))
    print(f"{route:<12} {ar:>8.0f}  {br:>8.0f}   {rps_ratio:>8.3f}   {ap:>8.0f}   {bp:>8.0f}   {p99_ratio:>7.3f}")
print()
print(f"steal (CPU time taken by other guests) per run: median {statistics.median(steals):.1f}%, max {max(steals):.1f}%")
# Each server's routes against its own /bench/plain (B's are the twin's
# routes of the same rows, unless B_BIN makes B a bench server too).
for server in ("A", "B"):
    plain = runs.get(("plain", server))
    if plain is None:
        continue
    print()
    for route, what in (("protected", "/bench/protected"), ("protectedmin", "/bench/protected-min (the stripped twin)"), ("protectedmany", "/bench/protected, a new token each request"), ("tokenplain", "/bench/plain with the token header")):
        if (route, server) not in runs:
            continue
        # On a bench server, the protectedmin row is /bench/protected again.
        if route == "protectedmin" and (server == "A" or os.environ.get("B_BIN")):
            continue
        ratio = statistics.median(p[0] / q[0] for p, q in zip(runs[(route, server)], plain))
        print(f"{server}: {what} / /bench/plain throughput: {ratio:.3f}")
PY
