#!/usr/bin/env bash
# Experiment (a): build profiles side by side. For each profile of
# the workspace root's Cargo.toml (release, prof, v-*): build this crate natively
# and for wasm32-wasip1, shrink the
# wasm as `make build` does (wasm-opt -Oz), time both under V8 and
# natively, and read the size of the hot functions. With --root, also
# build the real module (the root crate) with the same changes through
# CARGO_PROFILE_* overrides, into a separate target dir, and report its
# sizes after wasm-opt -Oz.
#
#   bench/micro/variants.sh [--root] [--iters N] [--rounds R] [--out DIR]
#
# ROOT (default: the repository holding this directory) is the asset-gate
# tree the root builds use. The micro builds go to target/micro-variants
# (CARGO_TARGET_DIR), the root builds to /tmp/tgt-exp: the workspace's own
# target/<triple>/release is not touched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ROOT=${ROOT:-$(cd "$here/../.." && pwd)}
tgt_micro=${CARGO_TARGET_DIR:-$ROOT/target/micro-variants}
out=/tmp/micro-variants
iters=20000
rounds=7
root=0
while [ $# -gt 0 ]; do
  case $1 in
    --root) root=1 ;;
    --iters) iters=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --out) out=$2; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
# The Makefile's wasm-opt line.
WASM_OPT=(wasm-opt --converge --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int
          --strip-debug --strip-producers)
FEATURES=(--enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int --enable-mutable-globals)

# Bytes of the functions whose name matches $2 in $1 (needs a name section).
func_bytes() {
  wasm-opt --func-metrics "$1" "${FEATURES[@]}" 2>/dev/null |
    awk -v re="$2" '/^func: /{name=$2} /\[binary-bytes\]/{ if (name ~ re) s += $3 } END { print s+0 }'
}

cd "$here"
profiles=(release v-nolto v-zall v-zhot v-o3 v-os v-selfs v-self3 v-thin)
for p in "${profiles[@]}"; do
  echo "== $p" >&2
  CARGO_TARGET_DIR=$tgt_micro cargo build -q -p asset-gate-micro --profile "$p" --target wasm32-wasip1
  CARGO_TARGET_DIR=$tgt_micro cargo build -q -p asset-gate-micro --profile "$p"
  dir=$p; [ "$p" = release ] && named=prof || named=$p
  [ "$p" = release ] && CARGO_TARGET_DIR=$tgt_micro cargo build -q -p asset-gate-micro --profile prof --target wasm32-wasip1
  wasm=$tgt_micro/wasm32-wasip1/$dir/micro.wasm
  "${WASM_OPT[@]}" -Oz "$wasm" -o "$out/$p.oz.wasm"
  node --no-warnings run.mjs --wasm "$wasm" --native "$tgt_micro/$dir/micro" \
    --iters "$iters" --rounds "$rounds" --json "$out/$p.json" >"$out/$p.txt"
  node --no-warnings run.mjs --wasm "$out/$p.oz.wasm" --no-native \
    --iters "$iters" --rounds "$rounds" --json "$out/$p.oz.json" >"$out/$p.oz.txt"
  named_wasm=$tgt_micro/wasm32-wasip1/$named/micro.wasm
  printf '{"profile":"%s","oz_bytes":%d,"compress256_bytes":%d,"hex_bytes":%d}\n' "$p" \
    "$(stat -c %s "$out/$p.oz.wasm")" \
    "$(func_bytes "$named_wasm" 'compress256')" \
    "$(func_bytes "$named_wasm" '^_ZN3hex|hex[.][.]|_3hex')" >"$out/$p.size.json"
done
# Native with software SHA-256 (no SHA-NI), as the wasm has it.
CARGO_TARGET_DIR=$tgt_micro/soft-sha cargo build -q -p asset-gate-micro --release --features soft-sha
node --no-warnings run.mjs --no-wasm --native "$tgt_micro/soft-sha/release/micro" \
  --iters "$iters" --rounds "$rounds" --json "$out/release.soft-sha.json" >"$out/release.soft-sha.txt"
# The shipped pipeline is -Oz; -O3 and -O2 for comparison, on the as-is build.
for o in O3 O2; do
  "${WASM_OPT[@]}" -$o "$tgt_micro/wasm32-wasip1/release/micro.wasm" -o "$out/release.$o.wasm"
  node --no-warnings run.mjs --wasm "$out/release.$o.wasm" --no-native \
    --iters "$iters" --rounds "$rounds" --json "$out/release.$o.json" >"$out/release.$o.txt"
done

if [ "$root" = 1 ]; then
  # A lib that is both cdylib and rlib gets no `lto = true` from cargo (a
  # known cargo limitation, silent): `cargo build` links such a module
  # without LTO. `cargo rustc --crate-type cdylib` builds the cdylib alone,
  # and then LTO applies (as `make build` does).
  # name | how | environment | extra cargo arguments
  rootvariants=(
    "as-is|build||"
    "sha2-z|build||--config profile.release.package.sha2.opt-level=\"z\""
    "o3|build|CARGO_PROFILE_RELEASE_OPT_LEVEL=3|"
    "os|build|CARGO_PROFILE_RELEASE_OPT_LEVEL=s|"
    "log-info|build||--features log/release_max_level_info"
    "lto|cdylib||"
    "lto-sha2-z|cdylib||--config profile.release.package.sha2.opt-level=\"z\""
    "lto-o3|cdylib|CARGO_PROFILE_RELEASE_OPT_LEVEL=3|"
    "lto-os|cdylib|CARGO_PROFILE_RELEASE_OPT_LEVEL=s|"
    "lto-self3|cdylib|CARGO_PROFILE_RELEASE_OPT_LEVEL=3|--config profile.release.package.\"*\".opt-level=\"z\""
    "lto-self2|cdylib|CARGO_PROFILE_RELEASE_OPT_LEVEL=2|--config profile.release.package.\"*\".opt-level=\"z\""
    "lto-selfs|cdylib|CARGO_PROFILE_RELEASE_OPT_LEVEL=s|--config profile.release.package.\"*\".opt-level=\"z\""
    "lto-log-info|cdylib||--features log/release_max_level_info"
  )
  : >"$out/root-sizes.tsv"
  for v in "${rootvariants[@]}"; do
    IFS='|' read -r name how envs extra <<<"$v"
    echo "== root $name" >&2
    tgt=/tmp/tgt-exp/$name
    if [ "$how" = cdylib ]; then
      cmd=(cargo rustc -q -p asset-gate --lib --release --target wasm32-wasip1 --crate-type cdylib)
    else
      cmd=(cargo build -q -p asset-gate --release --target wasm32-wasip1)
    fi
    # shellcheck disable=SC2086
    (cd "$ROOT" && env CARGO_TARGET_DIR="$tgt" $envs "${cmd[@]}" $extra)
    raw=$tgt/wasm32-wasip1/release/asset_gate.wasm
    "${WASM_OPT[@]}" -Oz "$raw" -o "/tmp/tgt-exp/asset_gate.$name.wasm"
    printf '%s\t%d\t%d\n' "$name" "$(stat -c %s "$raw")" "$(stat -c %s "/tmp/tgt-exp/asset_gate.$name.wasm")" >>"$out/root-sizes.tsv"
  done
fi
node "$here/table.mjs" "$out"
