#!/usr/bin/env python3
"""Turns the JSON figures examples/build.sh writes (from `modularbase eval --json`) and the
packs' model cards into the quality tables of examples/README.md."""
import json
import os
import re
import sys

results = sys.argv[1]
packs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "packs")
rows = json.load(open(os.path.join(results, "domains.json")))


def bpb(data_suffix, model):
    for r in rows:
        if r["data"].endswith(data_suffix) and r["model"] == model:
            return r
    return None


print("### Domain packs and routing (base tiny_base 1.0.0, held-out text)\n")
print("| held-out text | base alone | + its own pack | change | best single pack | routed | routed vs best | routed right |")
print("|---|---|---|---|---|---|---|---|")
for domain in ("general_chat", "reasoning", "python_code", "rust_code"):
    suffix = f"{domain}/held_out.txt"
    base = bpb(suffix, "base alone")["bits_per_byte"]
    own = bpb(suffix, f"+ {domain} 1.0.0")["bits_per_byte"]
    singles = [r for r in rows if r["data"].endswith(suffix) and r["model"].startswith("+ ")]
    best = min(singles, key=lambda r: r["bits_per_byte"])
    routed = bpb(suffix, "routed")
    print(
        f"| {domain} | {base:.3f} | {own:.3f} | {(base - own) / base * 100:.1f}% lower | "
        f"{best['bits_per_byte']:.3f} ({best['model'][2:]}) | {routed['bits_per_byte']:.3f} | "
        f"{(routed['bits_per_byte'] - best['bits_per_byte']) / best['bits_per_byte'] * 100:+.1f}% | "
        f"{routed.get('routing_accuracy', 0) * 100:.1f}% |"
    )
general = bpb("general/held_out.txt", "base alone")
if general:
    print(f"\nGeneral text (what the base trained on): base alone {general['bits_per_byte']:.3f} bits/byte.")

print("\n### Expert quantization (each pack's own held-out split, from its model card)\n")
print("| pack | F16 | Q8_0 | Q8_0 vs F16 | Q4_0 | Q4_0 vs F16 |")
print("|---|---|---|---|---|---|")
for pack in ("general_chat-1.0.0", "reasoning-1.0.0", "python_code-1.0.0", "rust_code-1.0.0"):
    card = open(os.path.join(packs, pack, "README.md")).read()
    found = {m.group(1): float(m.group(2)) for m in re.finditer(r"\| \+ \w+, (F16|Q8_0|Q4_0) experts[^|]*\| ([0-9.]+) \|", card)}
    f16, q8, q4 = found["F16"], found["Q8_0"], found["Q4_0"]
    print(f"| {pack} | {f16:.4f} | {q8:.4f} | {(q8 - f16) / f16 * 100:+.2f}% | {q4:.4f} | {(q4 - f16) / f16 * 100:+.2f}% |")

print("\n### Alignment (reasoning held-out text)\n")
a10 = json.load(open(os.path.join(results, "alignment-base-1.0.0.json")))
a11 = json.load(open(os.path.join(results, "alignment-base-1.1.0.json")))
get = lambda table, model: next(r["bits_per_byte"] for r in table if r["model"] == model)
base10, r100 = get(a10, "base alone"), get(a10, "+ reasoning 1.0.0")
base11, before, after = get(a11, "base alone"), get(a11, "+ reasoning 1.0.0"), get(a11, "+ reasoning 1.1.0")
gain = base10 - r100
print("| | base alone | + reasoning 1.0.0 | + reasoning 1.1.0 (aligned) | gain |")
print("|---|---|---|---|---|")
print(f"| base 1.0.0 | {base10:.3f} | {r100:.3f} | | {gain:.3f} |")
print(f"| base 1.1.0 | {base11:.3f} | {before:.3f} (before) | {after:.3f} (after) | {base11 - before:.3f} → {base11 - after:.3f} |")
print(f"\nAfter `pack align` the pack keeps {(base11 - after) / gain * 100:.0f}% of its original gain on base 1.0 "
      f"(before aligning: {(base11 - before) / gain * 100:.0f}%).")
