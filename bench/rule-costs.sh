#!/usr/bin/env bash
# What each CRS rule costs the harness's GET and POST in the engine, in instructions (callgrind: deterministic,
# unlike any clock on this VM): the engine bench's harness cases run once with CRS PL1 whole and once per
# argument with those rules removed (`SecRuleRemoveById`); the difference is the rule's marginal cost, its
# effects on later rules included (a removed rule that scored no longer makes the reporting rules work; a gated
# rule that computed a union others read hands that cost to the next one).
#
#   bench/rule-costs.sh 920450 930110 "942100 942101"     (an argument with spaces removes those rules together)
#   N=20 JOBS=2 bench/rule-costs.sh 920450                 (transactions per case, runs in parallel)
#
# Prints one line per argument: the rules removed, instructions per GET and per POST, and the change against the
# whole rule set (negative: the rules cost that much). `blocked` when a removal makes a harness request blocked
# (the bench asserts it is not), `failed` for any other error (the run's last lines go to stderr).
# Needs valgrind; builds the bench binary (`cargo bench --no-run`) first.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,14p' "$0"; exit 2; }
N="${N:-10}"
JOBS="${JOBS:-$(nproc)}"
HERE="$(cd "$(dirname "$0")" && pwd)"
command -v valgrind >/dev/null || { echo "rule-costs.sh: valgrind not found" >&2; exit 1; }
BIN="$(cd "$HERE/.." && cargo bench -p portcullis-waf --bench engine --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)"
[ -x "$BIN" ] || { echo "rule-costs.sh: the engine bench did not build" >&2; exit 1; }
DIR="$(mktemp -d)"
trap 'rm -rf "$DIR"' EXIT

# one removal set: prints "get post" instructions per transaction, "blocked blocked" when the bench's assertion
# that the harness requests pass failed, or "failed failed" (with the run's last lines on stderr) for any other error
measure() {
    local out="$DIR/$(echo "$1" | md5sum | cut -c1-12)" env=()
    [ "$1" = - ] || env=(PORTCULLIS_BENCH_REMOVE="$1")
    if ! env "${env[@]}" RUST_BACKTRACE=0 PORTCULLIS_CALLGRIND="$N" PORTCULLIS_CALLGRIND_HARNESS_ONLY=1 \
        valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect='engine::callgrind_harness_get' \
        --toggle-collect='engine::callgrind_harness_post' "$BIN" --bench >"$out.log" 2>&1; then
        if grep -q 'assertion failed: !run_harness' "$out.log"; then
            echo "blocked blocked"
        else
            echo "rule-costs.sh: removing '$1' failed:" >&2
            grep -v '^==[0-9]*==' "$out.log" | tail -n 5 >&2
            echo "failed failed"
        fi
        return
    fi
    local case g p
    for case in get post; do
        callgrind_annotate --inclusive=yes "$out" 2>/dev/null | grep "engine::callgrind_harness_$case \[" |
            awk -v n="$N" '{gsub(",", "", $1); printf "%d ", $1 / n}'
    done
    echo
}
export -f measure
export BIN N DIR

base="$(measure -)"
read -r g0 p0 <<<"$base"
printf '%-40s %9s %9s %8s %8s\n' removed GET POST ΔGET ΔPOST
printf '%-40s %9s %9s\n' '(none)' "$g0" "$p0"
printf '%s\0' "$@" | xargs -0 -P "$JOBS" -n 1 bash -c 'echo "$1|$(measure "$1")"' measure | sort |
    while IFS='|' read -r ids gp; do
        read -r g p <<<"$gp"
        if [ "$g" = blocked ] || [ "$g" = failed ]; then
            printf '%-40s %9s %9s\n' "$ids" "$g" "$p"
        else
            printf '%-40s %9s %9s %+8d %+8d\n' "$ids" "$g" "$p" $((g - g0)) $((p - p0))
        fi
    done
