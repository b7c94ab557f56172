#!/usr/bin/env bash
# CPU time per request of two or more gateway binaries (or modes), interleaved, pinned like ../shared/bench/run.sh
# (gateway on CPU 1, wrk on CPU 0). Instruction counts (callgrind) miss cache and branch behaviour, and req/s on
# this VM swings 2x between runs; the gateway's own utime+stime per request, with the candidates alternating
# round by round, is the figure that told a real regression from noise (docs/benchmarks.md, "Session 5").
#
#   bench/cpu-ab.sh BIN[:MODE] BIN[:MODE] ...     (MODE as in bench/candidate.sh, default plain)
#   ROUNDS=3 WORKLOADS="get post" DURATION=5 bench/cpu-ab.sh old/portcullis new/portcullis
#   bench/cpu-ab.sh target/release/portcullis:plain target/release/portcullis:limits
#   bench/cpu-ab.sh nginx target/release/portcullis      (`nginx`: the harness's nginx proxy, master + worker)
#   CONNS=64 THREADS=2 bench/cpu-ab.sh ...                (run.sh's concurrency; default 8 connections, 1 thread)
#
# Each line gives the gateway's own CPU per request and CPU 1's busy time per request (the gateway, the origin
# pinned beside it, and the kernel's work for both: what ../shared/bench/run.sh's req/s is the inverse of).
#
# It starts the harness's origin (`run.sh serve`, TARGETS=direct) on BASE_PORT and stops it at the end. A round
# whose responses were errors (an origin not up, a blocked workload) ends the script with exit 1.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,14p' "$0"; exit 2; }
HERE="$(cd "$(dirname "$0")" && pwd)"
SHARED="$HERE/../../shared/bench"
BASE_PORT="${BASE_PORT:-49580}"
PORT="${CANDIDATE_PORT:-49591}"
ROUNDS="${ROUNDS:-3}"
WORKLOADS="${WORKLOADS:-get post}"
DURATION="${DURATION:-5}"
CONNS="${CONNS:-8}"     # wrk connections (run.sh uses 64 with 2 threads: a larger working set per request)
THREADS="${THREADS:-1}"
TCK="$(getconf CLK_TCK)"
DIR="$(mktemp -d)"

targets=direct
for cand in "$@"; do [ "$cand" = nginx ] && targets=direct,nginx; done
# the harness reads WORKLOADS, DURATION and ROUNDS too (as lists and wrk durations): not this script's values
env -u WORKLOADS -u DURATION -u ROUNDS BASE_PORT="$BASE_PORT" TARGETS="$targets" "$SHARED/run.sh" serve > "$DIR/origin.log" 2>&1 &
ORIGIN=$!
trap 'pkill -P "$ORIGIN" 2>/dev/null || true; kill "$ORIGIN" 2>/dev/null || true; rm -rf "$DIR"' EXIT
# run.sh waits up to 30 s for an idle machine before it starts the servers
for port in $BASE_PORT $([ "$targets" != direct ] && echo $((BASE_PORT + 1))); do
    for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.2; done
    curl -s -o /dev/null "http://127.0.0.1:$port/" || { echo "the harness did not start port $port:" >&2; cat "$DIR/origin.log" >&2; exit 1; }
done

# utime+stime (ticks) of a process and its children (nginx's master and worker).
jiffies() {
    local sum=0 p
    for p in "$@" $(pgrep -P "$1" || true); do sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
    echo "$sum"
}

# busy ticks of CPU 1 (everything pinned there: the gateway, the origin, the kernel's work for them)
cpu1_busy() { awk '/^cpu1 /{print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat; }

# wrk scripts as run.sh builds them: the common hooks, then the workload.
for w in $WORKLOADS; do
    { echo "AB_DIR=\"$SHARED\""; cat "$SHARED/lua/common.lua" "$SHARED/lua/$w.lua"; } > "$DIR/$w.lua"
done

for r in $(seq "$ROUNDS"); do
    for w in $WORKLOADS; do
        for cand in "$@"; do
            if [ "$cand" = nginx ]; then
                # The harness's nginx proxy: its master's pid is the one started with the proxy's config.
                gw=$(pgrep -f -- "-c [^ ]*/nginx.conf" | head -1)
                url="http://127.0.0.1:$((BASE_PORT + 1))/"
            else
                bin="${cand%%:*}"
                mode=plain
                [ "$cand" != "$bin" ] && mode="${cand#*:}"
                PORTCULLIS_BIN=/bin/true ORIGIN_ADDR="127.0.0.1:$BASE_PORT" CANDIDATE_PORT="$PORT" AB_RUN_DIR="$DIR" \
                    "$HERE/candidate.sh" "$mode" > /dev/null
                taskset -c 1 "$bin" serve --config "$DIR/portcullis-$mode.toml" > "$DIR/gateway.log" 2>&1 &
                gw=$!
                url="http://127.0.0.1:$PORT/"
                for _ in $(seq 100); do curl -s -o /dev/null "$url" && break; sleep 0.1; done
            fi
            taskset -c 0 wrk -t"$THREADS" -c"$CONNS" -d1s -s "$DIR/$w.lua" "$url" > /dev/null
            before=$(jiffies "$gw"); busy_before=$(cpu1_busy)
            res=$(taskset -c 0 wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" -s "$DIR/$w.lua" "$url" | grep ABRESULT)
            after=$(jiffies "$gw"); busy_after=$(cpu1_busy)
            n=$(grep -o 'requests=[0-9]*' <<<"$res" | cut -d= -f2)
            # error responses (>= 400) or socket errors: the CPU was spent on another path than the workload's
            errs=$(grep -o 'err_[a-z]*=[0-9]*' <<<"$res" | awk -F= '{s += $2} END {print s + 0}')
            if [ "$cand" != nginx ]; then
                kill "$gw"
                wait "$gw" 2>/dev/null || true
            fi
            if [ -z "$n" ] || [ "$n" -eq 0 ] || [ "$errs" -ne 0 ]; then
                echo "round $r  $w  $cand  requests ${n:-0}  errors $errs: not a measurement of the workload" >&2
                exit 1
            fi
            echo "round $r  $w  $cand  requests $n  cpu_us_per_request $(( (after - before) * 1000000 / TCK / n ))  cpu1_us_per_request $(( (busy_after - busy_before) * 1000000 / TCK / n ))"
        done
    done
done
