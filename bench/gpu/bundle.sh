#!/usr/bin/env bash
# Builds the GPU check bundle on this machine (no GPU needed): the CUDA release build of
# `modularbase`, of the `gpu` benchmark and of the runtime's test binaries, each compressed
# with xz into bench/gpu/bundle/ (git-ignored), ready to carry to a GPU machine and run
# with bench/gpu/check.sh. Needs the toolchain from scripts/cuda-toolchain.sh (installed on
# first use) and about 10 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
eval "$(scripts/cuda-toolchain.sh)"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/cuda}
out=bench/gpu/bundle
rm -rf "$out"
mkdir -p "$out"

# One feature set for every build below, so candle's CUDA kernels compile once.
cargo build --release -p modularbase -p modularbase-bench --features modularbase-runtime/cuda
# The runtime's test executables, named test-<target>.
cargo test --release -p modularbase -p modularbase-runtime -p modularbase-bench --features modularbase-runtime/cuda --no-run --message-format=json \
    | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if (m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]
            and m["package_id"].find("modularbase-runtime") >= 0 and m["target"]["name"] != "cache"):
        print(m["target"]["name"], m["executable"])
' >"$out/tests.txt"

pack() { # source name: debug info stripped (symbols kept), then xz
    strip --strip-debug -o "$out/$2" "$1"
    xz -9 -T2 "$out/$2"
    echo "$2: $(stat -c %s "$1") bytes, $(stat -c %s "$out/$2.xz") compressed" >&2
}
pack "$CARGO_TARGET_DIR/release/modularbase" modularbase
pack "$CARGO_TARGET_DIR/release/gpu" gpu
while read -r name path; do
    pack "$path" "test-$name"
done <"$out/tests.txt"
rm "$out/tests.txt"
du -sh "$out" >&2
