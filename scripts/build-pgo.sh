#!/usr/bin/env bash
# Builds the release binary with profile-guided optimisation (PGO), then BOLT where it is installed: the binary
# that is measured and shipped.
#
#   scripts/build-pgo.sh              -> target/pgo/portcullis (path printed on the last line)
#
# 1. An instrumented release build (target/pgo-gen) that counts which branches and calls run.
# 2. Training: `portcullis eval` sends the labeled corpus (tests/corpus: 3,014 benign and 1,747 attack API
#    requests, over loopback sockets through the in-process gateway and an echo upstream) through the default
#    protection and, when ../shared/crs exists, through OWASP CRS at paranoia levels 1 and 2. The corpus is
#    the project's own traffic, not the benchmark harness's requests.
# 3. llvm-profdata merges the counts (target/pgo-gen/portcullis.profdata).
# 4. The release build with them: LLVM lays out hot code together and picks inlining and branch order from
#    the counts. Same source, same behaviour; on this project's 2-core VM ≈ 7 % fewer instructions and ≈ 17 %
#    fewer instruction-cache misses per CRS request (docs/benchmarks.md, "Session 26").
# 5. When llvm-bolt is installed (Debian's bolt-19 and libbolt-19-dev), the post-link layout: llvm-bolt
#    instruments that binary (linked with its relocations for this), the same training runs on it, and
#    llvm-bolt rewrites it with the hot blocks of every function packed together and the cold ones split off:
#    ≈ 8 % fewer instruction-cache misses again, a quarter fewer taken branches. Without it, step 4's binary.
#
# The result is target/pgo/portcullis (printed on the last line).
#
# The builds keep their own target directories: their compiler flags differ from a plain `cargo build
# --release`, so sharing target/release would rebuild every crate each time one switches between them.
# Both builds take the profile's full LTO time (about 5–8 minutes each on 2 cores).
#
# Needs an llvm-profdata that reads rustc's profiles: $LLVM_PROFDATA, rustup's llvm-tools component, or
# Debian's (`apt-get install llvm-19`: llvm-profdata-19 reads the profiles of rustc 1.95, whose LLVM is 22).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

# the newest of NAME and NAME-<version> on the PATH (Debian installs llvm-profdata-19, llvm-bolt-19, ...)
newest() {
  local tool
  tool="$(compgen -c "$1" | grep -E "^$1(-[0-9]+)?\$" | sort -t- -k3 -n -r | head -1)"
  [[ -n "$tool" ]] && command -v "$tool"
}

find_profdata() {
  if [[ -n "${LLVM_PROFDATA:-}" ]]; then
    echo "$LLVM_PROFDATA"
    return
  fi
  local tool
  tool="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-profdata"
  if [[ -x "$tool" ]]; then
    echo "$tool"
    return
  fi
  newest llvm-profdata
}
# llvm-bolt run from its real path finds its instrumentation runtime beside it (../lib/libbolt_rt_instr.a)
find_bolt() {
  local bolt merge
  if [[ -n "${LLVM_BOLT:-}" ]]; then
    bolt="$(command -v "$LLVM_BOLT")" || return 1
  else
    bolt="$(newest llvm-bolt)" || return 1
  fi
  bolt="$(readlink -f "$bolt")"
  merge="$(dirname "$bolt")/merge-fdata"
  [[ -x "$merge" && -f "$(dirname "$bolt")/../lib/libbolt_rt_instr.a" ]] || return 1
  echo "$bolt"
}

PROFDATA="$(find_profdata)" || {
  echo "build-pgo.sh: no llvm-profdata found: apt-get install llvm-19, or rustup component add llvm-tools," >&2
  echo "or set LLVM_PROFDATA" >&2
  exit 1
}

GEN_DIR="$REPO/target/pgo-gen"
RAW="$GEN_DIR/profraw"
PROFILE="$GEN_DIR/portcullis.profdata"

echo "build-pgo.sh: 1 instrumented build (target/pgo-gen)" >&2
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-generate=$RAW" cargo build --release -p portcullis --target-dir "$GEN_DIR"
# the build scripts the build ran were instrumented too: only the training's counts are kept
rm -rf "$RAW"

# the training: the corpus through the built-in pack, and through CRS at PL1 and PL2 when it is there
train() {
  "$1" eval --corpus tests/corpus > /dev/null
  if [[ -d ../shared/crs/rules ]]; then
    "$1" eval --corpus tests/corpus --config tests/corpus/configs/crs-pl1.toml > /dev/null
    "$1" eval --corpus tests/corpus --config tests/corpus/configs/crs-pl2.toml > /dev/null
  else
    echo "build-pgo.sh: ../shared/crs not found: trained without OWASP CRS" >&2
  fi
}

echo "build-pgo.sh: 2 training on tests/corpus" >&2
train "$GEN_DIR/release/portcullis"

echo "build-pgo.sh: 3 merging the counts with $PROFDATA" >&2
shopt -s nullglob
raws=("$RAW"/*.profraw)
((${#raws[@]})) || { echo "build-pgo.sh: the training wrote no profile to $RAW" >&2; exit 1; }
"$PROFDATA" merge -o "$PROFILE" "${raws[@]}" || {
  echo "build-pgo.sh: $PROFDATA could not merge the profiles of rustc's LLVM" \
    "$(rustc -vV | sed -n 's/^LLVM version: //p'): set LLVM_PROFDATA to a newer llvm-profdata" >&2
  exit 1
}

echo "build-pgo.sh: 4 release build with the profile (target/pgo)" >&2
# for llvm-bolt, linked with its relocations (it needs them to move code; its output leaves them out)
relocs=
BOLT="$(find_bolt)" && relocs="-Clink-arg=-Wl,--emit-relocs"
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-use=$PROFILE $relocs" cargo build --release -p portcullis --target-dir "$REPO/target/pgo"
PGO="$REPO/target/pgo/release/portcullis"
OUT="$REPO/target/pgo/portcullis"
rm -f "$OUT"
if [[ -n "$relocs" ]]; then
  echo "build-pgo.sh: 5 post-link layout with $BOLT" >&2
  FDATA="$REPO/target/pgo/bolt"
  rm -rf "$FDATA"
  mkdir -p "$FDATA"
  "$BOLT" "$PGO" -instrument -o "$FDATA/portcullis.instrumented" \
    --instrumentation-file="$FDATA/prof" --instrumentation-file-append-pid > "$FDATA/instrument.log" 2>&1 ||
    { echo "build-pgo.sh: llvm-bolt -instrument failed: see $FDATA/instrument.log" >&2; exit 1; }
  train "$FDATA/portcullis.instrumented"
  "$(dirname "$BOLT")/merge-fdata" "$FDATA"/prof.*.fdata > "$FDATA/merged.fdata" 2> "$FDATA/merge.log" ||
    { echo "build-pgo.sh: merge-fdata failed: see $FDATA/merge.log" >&2; exit 1; }
  "$BOLT" "$PGO" -o "$OUT" -data="$FDATA/merged.fdata" -reorder-blocks=ext-tsp -reorder-functions=cdsort \
    -split-functions -split-all-cold -update-debug-sections > "$FDATA/optimize.log" 2>&1 ||
    { echo "build-pgo.sh: llvm-bolt failed: see $FDATA/optimize.log" >&2; exit 1; }
else
  echo "build-pgo.sh: no llvm-bolt (apt-get install bolt-19 libbolt-19-dev): the PGO build as it is" >&2
  cp "$PGO" "$OUT"
fi
"$OUT" version > /dev/null
echo "$OUT"
