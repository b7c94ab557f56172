#!/usr/bin/env bash
# Instructions per request of the whole gateway: the gateway runs under callgrind pinned to CPU 1 (as
# ../shared/bench/run.sh pins it), in front of the harness's origin, with the bench/candidate.sh config of MODE;
# wrk warms up for 3 s, the counters are zeroed, 8 s are measured, and the total is divided by the requests.
# Instruction counts do not move with the VM's noise, so they compare builds across sessions
# (docs/benchmarks.md, "Session 7 merged main"). A run whose responses were not all 2xx/3xx (an origin that was not
# up, a blocked workload) measured another path: the script then prints why and exits 1 instead of a figure.
# START_WAIT (seconds, default 600) bounds the gateway's start-up under valgrind (CRS takes minutes there).
#
#   bench/callgrind.sh MODE WORKLOAD [BIN]        WORKLOAD: get | post (../shared/bench/lua/WORKLOAD.lua)
#   BASE_PORT=47600 CPORT=47690 OUT=/tmp/cg bench/callgrind.sh crs-pl1 get /tmp/old/portcullis
set -u
[ $# -ge 2 ] || { sed -n '2,9p' "$0"; exit 2; }
MODE=$1
WL=$2
REPO="$(cd "$(dirname "$0")/.." && pwd)"
BIN=${3:-$REPO/target/release/portcullis}
BASE_PORT=${BASE_PORT:-47600}
CPORT=${CPORT:-47690}
SHARED="$REPO/../shared/bench"
D=${OUT:-/tmp/portcullis-callgrind}/$MODE-$WL
rm -rf "$D"
mkdir -p "$D"
BASE_PORT=$BASE_PORT TARGETS=direct setsid "$SHARED/run.sh" serve > "$D/origin.log" 2>&1 &
ORIGIN=$!
trap 'kill "$GW" 2>/dev/null; kill -- -"$ORIGIN" 2>/dev/null' EXIT
GW=
# run.sh waits up to 30 s for an idle machine before it starts the origin
for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$BASE_PORT/" && break; sleep 0.2; done
curl -s -o /dev/null "http://127.0.0.1:$BASE_PORT/" || { echo "origin on port $BASE_PORT did not start: see $D/origin.log" >&2; exit 1; }
PORTCULLIS_BIN=/bin/true ORIGIN_ADDR=127.0.0.1:$BASE_PORT CANDIDATE_PORT=$CPORT AB_RUN_DIR=$D \
    "$REPO/bench/candidate.sh" "$MODE" > /dev/null
{ echo "AB_DIR=\"$SHARED\""; cat "$SHARED/lua/common.lua" "$SHARED/lua/$WL.lua"; } > "$D/workload.lua"
taskset -c 1 valgrind --tool=callgrind --callgrind-out-file="$D/cg.out" "$BIN" serve \
    --config "$D/portcullis-$MODE.toml" > "$D/gateway.log" 2>&1 &
GW=$!
for _ in $(seq "${START_WAIT:-600}"); do curl -s -o /dev/null "http://127.0.0.1:$CPORT/" && break; sleep 1; done
wrk -t1 -c8 -d3s -s "$D/workload.lua" "http://127.0.0.1:$CPORT" > /dev/null 2>&1
callgrind_control -z "$GW" > /dev/null
wrk -t1 -c8 -d8s -s "$D/workload.lua" "http://127.0.0.1:$CPORT" > "$D/wrk.txt" 2>&1
callgrind_control -d "$GW" > /dev/null
sleep 1
N=$(grep -o 'requests=[0-9]*' "$D/wrk.txt" | head -1 | cut -d= -f2)
I=$(grep -h summary "$D"/cg.out.* | tail -1 | awk '{print $2}')
[ -n "$N" ] && [ "$N" -gt 0 ] && [ -n "$I" ] || { echo "no measurement: see $D" >&2; exit 1; }
# wrk counts responses >= 400 as err_status; any socket error also means the path measured was not the workload's
ERRS=$(grep -o 'err_[a-z]*=[0-9]*' "$D/wrk.txt" | awk -F= '{s += $2} END {print s + 0}')
[ "$ERRS" -eq 0 ] || { echo "$MODE $WL: $ERRS of $N responses were errors ($(grep -o 'err_[a-z]*=[1-9][0-9]*' "$D/wrk.txt" | tr '\n' ' ')): not a measurement of the workload; see $D/gateway.log" >&2; exit 1; }
echo "$MODE $WL requests=$N instructions=$I per_request=$((I / N))  (profile: $D/cg.out.1)"
