#!/usr/bin/env bash
# The cost of rate limiting through the real gateway: modes `plain`, `limits` (memory store) and `limits` with
# its state in Redis, interleaved round by round so that a busy machine's drift hits all three alike; prints
# each run and the medians of req/s and p50 per mode.
#
#   bench/limits-redis.sh                 # 5 rounds, 8 connections, 5 s each, GET
#   ROUNDS=3 CONNECTIONS=8 DURATION=5s PORTCULLIS_BIN=/path/to/portcullis bench/limits-redis.sh
#
# Starts its own redis-server on a free loopback port. Each Redis run is checked: the number of GCRA scripts
# Redis ran must cover every request wrk counted, so a run that fell back to local limits (fail_open) cannot
# pass for a Redis figure. One script per request is one round trip, whatever the number of limits; the
# TIME/GET/SET the script runs appear in `INFO commandstats` as well, and are printed apart.
# Builds nothing: run `cargo build --release` first.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN_SH="${RUN_SH:-$HERE/../../shared/bench/run.sh}"
ROUNDS="${ROUNDS:-5}"
export CONNECTIONS="${CONNECTIONS:-8}" DURATION="${DURATION:-5s}" WARMUP="${WARMUP:-1s}"
export IDLE_WAIT_S="${IDLE_WAIT_S:-5}"
export BASE_PORT="${BASE_PORT:-47580}" TARGETS=candidate WORKLOADS=get CANDIDATE_EXPECT_BLOCK=0
export CANDIDATE_PORT="${CANDIDATE_PORT:-47591}"
[[ -x "$RUN_SH" ]] || { echo "limits-redis.sh: $RUN_SH not found" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "limits-redis.sh: redis-server is not installed" >&2; exit 1; }

OUT="$(mktemp -d)"
REDIS_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
# Redis runs on the load generator's core, not on the gateway's: in a fleet it is another machine, and on the
# gateway's core its CPU time would be charged to the limiter.
taskset -c "${LOADGEN_CPUS:-0}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$OUT" >/dev/null 2>&1 &
REDIS_PID=$!
trap 'kill "$REDIS_PID" 2>/dev/null || true' EXIT
rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
for _ in $(seq 50); do [[ "$(rcli PING 2>/dev/null)" == PONG ]] && break; sleep 0.1; done

# One run of the harness; appends "mode rps p50_ms" to $OUT/runs.
run() {
  local mode="$1" cmd="exec $HERE/candidate.sh limits" redis=""
  case "$mode" in
    plain) cmd="exec $HERE/candidate.sh plain" ;;
    redis) redis="redis://127.0.0.1:$REDIS_PORT"; rcli FLUSHALL >/dev/null; rcli CONFIG RESETSTAT >/dev/null ;;
  esac
  local res="$OUT/$mode-$(date +%s%N)"
  # ROUNDS is this script's own knob: each harness run is one round.
  ROUNDS=1 LIMITS_REDIS_URL="$redis" CANDIDATE_CMD="$cmd" RESULTS_DIR="$res" "$RUN_SH" >"$res.log" 2>&1 \
    || { echo "run.sh failed for $mode; see $res.log" >&2; tail -20 "$res.log" >&2; exit 1; }
  local line; line="$(awk -F'\t' '$3=="candidate" {print $5, $7, $8}' "$res/results.tsv" | tail -1)"
  read -r requests rps p50 <<<"$line"
  if [[ "$mode" == redis ]]; then
    local scripts; scripts="$(rcli INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p')"
    scripts="${scripts:-0}"
    if (( scripts < requests )); then
      echo "redis run: Redis ran $scripts limit scripts for $requests requests; the gateway fell back" >&2
      exit 1
    fi
    # Commands a script runs (TIME, GET, SET) are counted in commandstats too: they are not round trips.
    local inner; inner="$(rcli INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_\(time\|get\|set\):calls=\([0-9]*\),.*/\2/p' | paste -sd+ | bc)"
    echo "redis: $scripts scripts (round trips) for $requests timed requests (the rest: warm-up and checks); ${inner:-0} commands inside them"
  fi
  printf '%s %s %s\n' "$mode" "$rps" "$p50" | tee -a "$OUT/runs"
}

for r in $(seq "$ROUNDS"); do
  echo "round $r"
  for mode in plain memory redis; do run "$mode"; done
done

echo
echo "medians over $ROUNDS rounds (wrk -c$CONNECTIONS -d$DURATION, GET, loopback):"
for mode in plain memory redis; do
  awk -v m="$mode" '$1==m {print $2, $3}' "$OUT/runs" | python3 -c '
import sys, statistics
rows = [tuple(map(float, l.split())) for l in sys.stdin if l.strip()]
print(f"{sys.argv[1]:7} req/s {statistics.median(r[0] for r in rows):9.0f}   p50 {statistics.median(r[1] for r in rows):7.3f} ms")
' "$mode"
done
echo "raw runs in $OUT"
