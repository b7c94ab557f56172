#!/usr/bin/env bash
# Where the gateway's *time* goes under the harness's load, as a share of its CPU samples: `perf record` with the
# software `cpu-clock` event (this VM has no hardware counters) and DWARF call graphs, on the gateway pinned to
# CPU 1 in front of the harness's origin (as ../shared/bench/run.sh pins them), wrk on CPU 0 at run.sh's
# concurrency. Callgrind counts instructions; this shows what cache misses, branches and atomics add to them, and
# what the WAF's share of the whole gateway is (docs/benchmarks.md, "Session 34").
#
#   bench/perf-profile.sh MODE WORKLOAD [BIN]     MODE as in bench/candidate.sh, WORKLOAD: get | post
#   DURATION=8 FREQ=1000 OUT=/tmp/pp BASE_PORT=47700 CPORT=47791 bench/perf-profile.sh crs-pl1 post
#
# Prints the samples, their split by binary (gateway, kernel, libc), and the inclusive share of the frames named
# in PARTS (a `|`-separated list of substrings; the default names the WAF's phases and the engine's main parts).
# Name functions bare (`ensure_phase2`, not `WafProtection::ensure_phase2`): an inlined frame carries only its
# name, and what is inlined differs between builds.
# The recording stays in $OUT/MODE-WORKLOAD/perf.data for `perf report -i`. Needs perf and python3. A run whose
# responses were errors measured another path: the script then prints why and exits 1.
set -u
[ $# -ge 2 ] || { sed -n '2,16p' "$0"; exit 2; }
MODE=$1
WL=$2
REPO="$(cd "$(dirname "$0")/.." && pwd)"
BIN=${3:-$REPO/target/release/portcullis}
BASE_PORT=${BASE_PORT:-47700}
CPORT=${CPORT:-47791}
DURATION=${DURATION:-8}
FREQ=${FREQ:-1000}
PARTS=${PARTS:-"WafProtection|request_headers_filter|ensure_phase2|response_headers_filter|Transaction>::run_phase|gate_open|compute_union|summarise|pf_bits_scan|Prefilter::scan|eval_rule|exec_action|collect_link|transform_known|multi_forms_for|b64_rules_out|replay_tx|Pool::connect"}
SHARED="$REPO/../shared/bench"
D=${OUT:-/tmp/portcullis-perf}/$MODE-$WL
for tool in perf python3 wrk; do
    command -v "$tool" > /dev/null || { echo "perf-profile.sh: $tool not found" >&2; exit 1; }
done
rm -rf "$D"
mkdir -p "$D"
BASE_PORT=$BASE_PORT TARGETS=direct setsid "$SHARED/run.sh" serve > "$D/origin.log" 2>&1 &
ORIGIN=$!
GW=
trap 'kill "$GW" 2>/dev/null; kill -- -"$ORIGIN" 2>/dev/null' EXIT
# run.sh waits up to 30 s for an idle machine before it starts the origin
for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$BASE_PORT/" && break; sleep 0.2; done
curl -s -o /dev/null "http://127.0.0.1:$BASE_PORT/" || { echo "origin on port $BASE_PORT did not start: see $D/origin.log" >&2; exit 1; }
PORTCULLIS_BIN=/bin/true ORIGIN_ADDR=127.0.0.1:$BASE_PORT CANDIDATE_PORT=$CPORT AB_RUN_DIR=$D \
    "$REPO/bench/candidate.sh" "$MODE" > /dev/null
{ echo "AB_DIR=\"$SHARED\""; cat "$SHARED/lua/common.lua" "$SHARED/lua/$WL.lua"; } > "$D/workload.lua"
taskset -c 1 "$BIN" serve --config "$D/portcullis-$MODE.toml" > "$D/gateway.log" 2>&1 &
GW=$!
for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$CPORT/" && break; sleep 0.2; done
curl -s -o /dev/null "http://127.0.0.1:$CPORT/" || { echo "the gateway did not start: see $D/gateway.log" >&2; exit 1; }
taskset -c 0 wrk -t2 -c64 -d2s -s "$D/workload.lua" "http://127.0.0.1:$CPORT/" > /dev/null 2>&1
# the recording starts a second into the load and ends a second before it
taskset -c 0 wrk -t2 -c64 -d"$((DURATION + 2))s" -s "$D/workload.lua" "http://127.0.0.1:$CPORT/" > "$D/wrk.txt" 2>&1 &
WRK=$!
sleep 1
perf record -q -e cpu-clock -F "$FREQ" --call-graph dwarf,16384 -p "$GW" -o "$D/perf.data" -- sleep "$DURATION" \
    > "$D/perf.log" 2>&1
wait "$WRK"
res=$(grep ABRESULT "$D/wrk.txt")
errs=$(grep -o 'err_[a-z]*=[0-9]*\|s403=[0-9]*\|s5xx=[0-9]*' <<<"$res" | awk -F= '{s += $2} END {print s + 0}')
if [ -z "$res" ] || [ "$errs" -ne 0 ]; then
    echo "the workload's responses were errors ($res): not a profile of it" >&2
    exit 1
fi
perf script -i "$D/perf.data" -F comm,ip,sym,dso > "$D/stacks.txt" 2> /dev/null
PARTS="$PARTS" python3 - "$D/stacks.txt" <<'EOF'
import collections, os, sys

# one sample: a header line, then one indented frame per line ("ip symbol (dso)"), inlined frames included
samples, cur = [], None
for line in open(sys.argv[1], errors="replace"):
    if not line.strip():
        continue
    if not line[0].isspace():
        if cur:
            samples.append(cur)
        cur = []
    elif cur is not None:
        frame = line.strip().split(" ", 1)
        cur.append(frame[1] if len(frame) > 1 else "?")
if cur:
    samples.append(cur)
n = len(samples)
if n == 0:
    sys.exit("perf-profile.sh: no samples recorded")
print(f"{n} samples")
dso = collections.Counter()
for s in samples:
    leaf = s[0]
    dso["kernel" if "kernel" in leaf else "libc" if "libc" in leaf else "gateway"] += 1
print("  ".join(f"{k} {100 * v / n:.1f} %" for k, v in dso.most_common()))
parts = os.environ["PARTS"].split("|")
for p in parts:
    hits = sum(1 for s in samples if any(p in f for f in s))
    print(f"{100 * hits / n:6.1f} %  {p}")
EOF
