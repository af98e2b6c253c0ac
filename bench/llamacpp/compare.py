#!/usr/bin/env python3
"""`modularbase run` against llama.cpp (PyPI xllamacpp) on the same GGUF, same prompt, same
thread count: prompt tokens/s, decode tokens/s and peak RSS, as ratios ours/llama.cpp.

    python3 bench/llamacpp/compare.py --model F.gguf --base DIR [--threads 1 2] [--runs 3]

DIR is the base pack `modularbase base import F.gguf` made of the same file. Both sides run
greedy on one prompt for --tokens tokens; llama.cpp ignores EOS, and each of our runs is
checked to have decoded every token (a run that stopped early is an error, not a number).
Each side runs in its own process, alternating run by run (llama.cpp: one warm-up, then one
timed run per process), so a change in the machine's load falls on both; peak RSS is each
process's ru_maxrss. The machine's load average is printed with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "The history of the Roman Empire begins with"
DEBUG_LINE = re.compile(
    r"(\d+) tokens at [\d.]+ tokens/s \(prompt: (\d+) tokens at ([\d.]+) tokens/s; decode: ([\d.]+) tokens/s\)"
)


def run_measured(cmd: list[str], env: dict | None = None) -> tuple[int, str, str, int]:
    """Runs `cmd`; returns its exit code, stdout, stderr and its own peak RSS in bytes."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        # ru_maxrss is in KiB on Linux.
        return child.returncode, out.read(), err.read(), usage.ru_maxrss * 1024


def ours(binary: Path, base: Path, threads: int, tokens: int) -> dict:
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    code, _, stderr, rss = run_measured(
        [str(binary), "run", "--base", str(base), "--device", "cpu", "--temperature", "0",
         "--max-tokens", str(tokens), "--debug", PROMPT],
        env,
    )
    if code != 0:
        sys.exit(f"compare.py: modularbase run failed: {stderr}")
    match = DEBUG_LINE.search(stderr)
    if not match:
        sys.exit(f"compare.py: no timing line in: {out.stderr}")
    generated = int(match.group(1))
    if generated != tokens:
        sys.exit(f"compare.py: our run generated {generated} tokens, not {tokens}")
    return {
        "prompt_tokens": int(match.group(2)),
        "prompt_per_second": float(match.group(3)),
        "decode_per_second": float(match.group(4)),
        "peak_rss_bytes": rss,
    }


def llamacpp(python: Path, model: Path, threads: int, tokens: int, runs: int) -> dict:
    request = {"bench": {"prompt": PROMPT, "max_tokens": tokens, "runs": runs, "warmup": 1}}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(request, f)
    code, stdout, stderr, _ = run_measured(
        [str(python), str(ROOT / "tests/llamacpp/reference.py"), "--model", str(model),
         "--threads", str(threads), "--ctx", "512", f.name],
    )
    os.unlink(f.name)
    if code != 0:
        sys.exit(f"compare.py: llama.cpp reference failed: {stderr[-2000:]}")
    return json.loads(stdout)["bench"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--base", type=Path, required=True)
    ap.add_argument("--binary", type=Path, default=ROOT / "target/release/modularbase")
    ap.add_argument("--python", type=Path, default=ROOT / "target/llamacpp-venv/bin/python")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()}")
    print(f"prompt {PROMPT!r}, {args.tokens} tokens, {args.runs} runs each, medians")
    print("threads | side      | prompt tok/s | decode tok/s | peak RSS MiB")
    for threads in args.threads:
        # Alternate the sides run by run, so a change in the machine's load falls on both.
        runs, their_runs = [], []
        for _ in range(args.runs):
            runs.append(ours(args.binary, args.base, threads, args.tokens))
            their_runs.append(llamacpp(args.python, args.model, threads, args.tokens, 1))
        mine = {
            "prompt_per_second": statistics.median(r["prompt_per_second"] for r in runs),
            "decode_per_second": statistics.median(r["decode_per_second"] for r in runs),
            "peak_rss_bytes": max(r["peak_rss_bytes"] for r in runs),
        }
        t_prompt = statistics.median(r["prompt_tps"] for r in their_runs)
        t_decode = statistics.median(r["decode_tps"] for r in their_runs)
        t_rss = max(r["peak_rss_after_runs"] for r in their_runs)
        mib = 1024 * 1024
        print(f"{threads:>7} | modularbase | {mine['prompt_per_second']:>12.1f} | {mine['decode_per_second']:>12.1f} | {mine['peak_rss_bytes'] / mib:>11.1f}")
        print(f"{threads:>7} | llama.cpp   | {t_prompt:>12.1f} | {t_decode:>12.1f} | {t_rss / mib:>11.1f}")
        print(f"{threads:>7} | ratio       | {mine['prompt_per_second'] / t_prompt:>12.2f} | {mine['decode_per_second'] / t_decode:>12.2f} | {mine['peak_rss_bytes'] / t_rss:>11.2f}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
