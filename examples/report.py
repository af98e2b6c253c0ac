#!/usr/bin/env python3
"""Turns the JSON figures a build script writes (from `modularbase eval --json`) and the
packs' model cards into the quality tables of the examples' README.

    report.py RESULTS PACKS_DIR "BASE LABEL" DOMAIN=PACK_DIR...

examples/build.sh passes the tiny_base packs, examples/build-smollm2.sh the SmolLM2 ones.
"""
import json
import os
import re
import sys

results, packs, base_label = sys.argv[1], sys.argv[2], sys.argv[3]
domains = [arg.split("=", 1) for arg in sys.argv[4:]]
rows = json.load(open(os.path.join(results, "domains.json")))


def held_out(data, domain):
    """Whether `data` (a path given to `eval --data`) is `domain`'s held-out text."""
    return f"/{domain}/held_out.txt" in data or data.endswith(f"/{domain}.txt")


def bpb(domain, model_prefix):
    for r in rows:
        if held_out(r["data"], domain) and r["model"].startswith(model_prefix):
            return r
    return None


print(f"### Domain packs and routing (base {base_label}, held-out text)\n")
print("| held-out text | base alone | + its own pack | change | best single pack | routed | routed vs best | routed right |")
print("|---|---|---|---|---|---|---|---|")
for domain, _ in domains:
    base = bpb(domain, "base alone")["bits_per_byte"]
    own = bpb(domain, f"+ {domain} ")["bits_per_byte"]
    singles = [r for r in rows if held_out(r["data"], domain) and r["model"].startswith("+ ")]
    best = min(singles, key=lambda r: r["bits_per_byte"])
    routed = bpb(domain, "routed")
    print(
        f"| {domain} | {base:.3f} | {own:.3f} | {(base - own) / base * 100:.1f}% lower | "
        f"{best['bits_per_byte']:.3f} ({best['model'][2:]}) | {routed['bits_per_byte']:.3f} | "
        f"{(routed['bits_per_byte'] - best['bits_per_byte']) / best['bits_per_byte'] * 100:+.1f}% | "
        f"{routed.get('routing_accuracy', 0) * 100:.1f}% |"
    )
general = bpb("general", "base alone")
if general:
    routed = bpb("general", "routed")
    line = f"\nGeneral text: base alone {general['bits_per_byte']:.3f} bits/byte"
    if routed:
        change = (routed["bits_per_byte"] - general["bits_per_byte"]) / general["bits_per_byte"] * 100
        line += f", routed {routed['bits_per_byte']:.3f} ({change:+.1f}%)"
    print(line + ".")

print("\n### Expert quantization (each pack's own held-out split, from its model card)\n")
print("| pack | F16 | Q8_0 | Q8_0 vs F16 | Q4_0 | Q4_0 vs F16 |")
print("|---|---|---|---|---|---|")
for _, pack in domains:
    card = open(os.path.join(packs, pack, "README.md")).read()
    found = {m.group(1): float(m.group(2)) for m in re.finditer(r"\| \+ \w+, (F16|Q8_0|Q4_0) experts[^|]*\| ([0-9.]+) \|", card)}
    f16, q8, q4 = found["F16"], found["Q8_0"], found["Q4_0"]
    print(f"| {pack} | {f16:.4f} | {q8:.4f} | {(q8 - f16) / f16 * 100:+.2f}% | {q4:.4f} | {(q4 - f16) / f16 * 100:+.2f}% |")

print("\n### Alignment (reasoning held-out text)\n")
a10 = json.load(open(os.path.join(results, "alignment-base-1.0.0.json")))
a11 = json.load(open(os.path.join(results, "alignment-base-1.1.0.json")))
get = lambda table, model: next(r["bits_per_byte"] for r in table if r["model"] == model)
versions = lambda table: sorted(
    (r["model"] for r in table if r["model"].startswith("+ reasoning ")),
    key=lambda m: [int(x) for x in m.split()[-1].split(".")],
)
original, aligned = versions(a10)
base10, r100 = get(a10, "base alone"), get(a10, original)
base11, before, after = get(a11, "base alone"), get(a11, original), get(a11, aligned)
gain = base10 - r100
print(f"| | base alone | {original} | {aligned} (aligned) | gain |")
print("|---|---|---|---|---|")
print(f"| base 1.0.0 | {base10:.3f} | {r100:.3f} | | {gain:.3f} |")
print(f"| base 1.1.0 | {base11:.3f} | {before:.3f} (before) | {after:.3f} (after) | {base11 - before:.3f} → {base11 - after:.3f} |")
print(f"\nAfter `pack align` the pack keeps {(base11 - after) / gain * 100:.0f}% of its original gain on base 1.0 "
      f"(before aligning: {(base11 - before) / gain * 100:.0f}%).")
