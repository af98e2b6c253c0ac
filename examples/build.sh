#!/usr/bin/env bash
# Rebuilds every example pack from scratch: gathers the corpora, trains tiny_base 1.0.0 and
# its upgrade 1.1.0, the router, the domain packs, aligns reasoning to base 1.1 (→ 1.1.0),
# then evaluates everything into examples/results/. About 30 minutes on 2 idle cores.
#
#   examples/build.sh              # everything
#   STEPS_SCALE=0.1 examples/build.sh   # a quick smoke run (poor quality)
set -euo pipefail
cd "$(dirname "$0")/.."
root=examples/packs
corpus=examples/corpus
results=examples/results
scale=${STEPS_SCALE:-1}
steps() { python3 -c "print(max(2, int($1 * $scale)))"; }

# MODULARBASE_BIN: use an already built binary instead of building the release one.
mb=${MODULARBASE_BIN:-target/release/modularbase}
[ -n "${MODULARBASE_BIN:-}" ] || cargo build --release -p modularbase
mkdir -p "$results"

python3 examples/corpus.py

# The small mixed set reasoning's alignment trains on: mostly its own domain, some general text.
rm -rf "$corpus/mix" && mkdir -p "$corpus/mix"
head -c 240000 "$corpus/reasoning/train.txt" > "$corpus/mix/reasoning.txt"
head -c 60000 "$corpus/general/train.txt" > "$corpus/mix/general.txt"

# Bases: 1.0.0 from scratch, 1.1.0 continued from it on the same general text.
rm -rf "$root/tiny_base-1.0.0" "$root/tiny_base-1.1.0"
$mb base train --corpus "$corpus/general/train.txt" --out "$root/tiny_base-1.0.0" \
    --version 1.0.0 --kv-heads 2 --steps "$(steps 500)" --seed 1
$mb base train --corpus "$corpus/general/train.txt" --out "$root/tiny_base-1.1.0" \
    --from "$root/tiny_base-1.0.0" --version 1.1.0 --kv-heads 2 --steps "$(steps 150)" --seed 2 --lr 2e-3

# The router, on base 1.0 (every pack below is for base 1.0).
rm -f "$root/router-1.0.0/weights.gguf"
$mb router train --base "$root/tiny_base-1.0.0" --path "$root/router-1.0.0" \
    --data general_chat="$corpus/general_chat/train.txt" --data reasoning="$corpus/reasoning/train.txt" \
    --data python_code="$corpus/python_code/train.txt" --data rust_code="$corpus/rust_code/train.txt" \
    --steps "$(steps 600)" --snippets 500 --lr 1e-2

# Domain packs; their keys in the router's space.
for pack in general_chat-1.0.0:general_chat reasoning-1.0.0:reasoning python_code-1.0.0:python_code rust_code-1.0.0:rust_code; do
    dir=$root/${pack%%:*}
    rm -f "$dir/weights.gguf"
    $mb pack train --base "$root/tiny_base-1.0.0" --router "$root/router-1.0.0" --path "$dir" \
        --data "$corpus/${pack##*:}/train.txt" --steps "$(steps 200)" --seed 3 --lr 5e-3
done

# reasoning 1.0.0 aligned to base 1.1 becomes reasoning 1.1.0 (for bases 1.0 and 1.1).
rm -rf "$root/reasoning-1.1.0"
cp -r "$root/reasoning-1.0.0" "$root/reasoning-1.1.0"
$mb pack align --base "$root/tiny_base-1.1.0" --mix "$corpus/mix" --path "$root/reasoning-1.1.0" \
    --steps "$(steps 200)" --seed 4

# The figures of examples/README.md.
labelled=()
for d in general_chat reasoning python_code rust_code; do labelled+=(--data "$d=$corpus/$d/held_out.txt"); done
$mb eval --base "$root/tiny_base-1.0.0" --route --json \
    --route-over "$root/router-1.0.0" --route-over "$root/general_chat-1.0.0" --route-over "$root/reasoning-1.0.0" \
    --route-over "$root/python_code-1.0.0" --route-over "$root/rust_code-1.0.0" \
    --pack "$root/general_chat-1.0.0" --pack "$root/reasoning-1.0.0" \
    --pack "$root/python_code-1.0.0" --pack "$root/rust_code-1.0.0" \
    "${labelled[@]}" --data "$corpus/general/held_out.txt" > "$results/domains.json"
for base in 1.0.0 1.1.0; do
    $mb eval --base "$root/tiny_base-$base" --json --data reasoning="$corpus/reasoning/held_out.txt" \
        --pack "$root/reasoning-1.0.0" --pack "$root/reasoning-1.1.0" > "$results/alignment-base-$base.json"
done
python3 examples/report.py "$results" "$root" "tiny_base 1.0.0" general_chat=general_chat-1.0.0 \
    reasoning=reasoning-1.0.0 python_code=python_code-1.0.0 rust_code=rust_code-1.0.0 \
    > "$results/README-table.md"
cat "$results/README-table.md"
du -ch "$root"/*/weights.gguf | tail -1
