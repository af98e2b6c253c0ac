#!/usr/bin/env python3
"""llama.cpp reference harness for ModularBase's conformance tests and benchmarks.

    python reference.py --model F.gguf --threads N --ctx 512 REQUEST.json   (or - for stdin)

Runs llama.cpp's own server in-process (PyPI `xllamacpp`, see scripts/llamacpp-venv.sh), once,
talks to it over its HTTP endpoints on 127.0.0.1 (urllib, proxies bypassed), and writes one
JSON object to stdout. llama.cpp's log goes to stderr; the harness's own file descriptor 1 is
pointed at stderr while the server runs, so nothing but the JSON ever reaches stdout.

Request (every key optional):

    {"tokenize": ["str", ...],
     "generate": [{"prompt": "...", "max_tokens": 32}, ...],
     "probs_top": 10,
     "bench": {"prompt": "...", "max_tokens": 128, "runs": 3, "warmup": 1}}

Response:

    {"tokenize": [{"text": s, "ids": [...], "detok": "..."}],
     "generate": [{"prompt": p, "prompt_ids": [...], "ids": [...], "text": "...",
                   "top": [[id, prob], ...], "stop_type": "limit" | "eos" | ...}],
     "bench": {...},
     "llamacpp": "version string"}

Semantics, which the Rust side relies on:

* tokenize: `/tokenize` with add_special=false (no BOS/EOS added) and parse_special=true
  (`<|im_start|>` and the like become their special ids). detok is `/detokenize` of the ids
  (special tokens rendered as their text).
* generate: the prompt is sent as the raw string, no chat template. llama.cpp tokenizes it
  itself with add_special=true, parse_special=true, so a BOS is added exactly when the model's
  metadata says so (tokenizer.ggml.add_bos_token; llama's default is true, SmolLM2 says false).
  prompt_ids is that same tokenization (`/tokenize` with add_special=true), checked against the
  number of prompt tokens llama.cpp evaluated. Sampling is greedy: temperature 0, top_k 1, the
  sampler chain reduced to top_k and temperature, no repetition/presence/frequency penalty, no
  DRY/XTC/mirostat, cache_prompt false, fixed seed. ids are the generated token ids as llama.cpp
  returns them (`return_tokens`); when generation stops on an end-of-generation token
  (stop_type "eos") that token IS the last id, while text (llama.cpp's content) leaves it out.
  When n_probs is used, the ids are cross-checked against the per-step probability records.
* top2: for every generated step, the two most likely tokens with their probabilities.
* top: the probs_top most likely tokens at the first generated step with their probabilities,
  best first: exp of llama.cpp's pre-sampling logprobs, i.e. softmax over the whole vocabulary of
  the raw logits (not affected by the greedy sampler). Omitted when probs_top is 0/absent.
* bench: runs the prompt `runs` times after `warmup` (default 1) discarded runs, each with
  cache_prompt false and ignore_eos true (so every run decodes exactly max_tokens), and reports
  llama.cpp's own `timings` per run, the median prompt and decode tokens/s, and the process's
  peak RSS (ru_maxrss, in bytes) after loading the model and after the runs.

Exit status 0 on success; 1 (message on stderr, prefixed "reference.py: error:") on any failure.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import statistics
import sys
import time
import urllib.error
import urllib.request

SEED = 42
HTTP_TIMEOUT_S = 900

GREEDY = {
    "temperature": 0.0,
    "top_k": 1,
    "top_p": 1.0,
    "min_p": 0.0,
    "typical_p": 1.0,
    "top_n_sigma": -1.0,
    "samplers": ["top_k", "temperature"],
    "repeat_penalty": 1.0,
    "repeat_last_n": 0,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "dry_multiplier": 0.0,
    "xtc_probability": 0.0,
    "mirostat": 0,
    "dynatemp_range": 0.0,
    "seed": SEED,
    "cache_prompt": False,
    "stream": False,
    "return_tokens": True,
    "post_sampling_probs": False,
}


class HarnessError(Exception):
    pass


def peak_rss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return rss if sys.platform == "darwin" else rss * 1024


def llamacpp_version(xllamacpp, build_info: str | None) -> str:
    try:
        import importlib.metadata

        version = importlib.metadata.version("xllamacpp")
    except Exception:  # pragma: no cover - metadata missing
        version = "unknown"
    rev = ""
    try:
        from xllamacpp import _version

        rev = _version.get_versions().get("full-revisionid") or ""
    except Exception:  # pragma: no cover
        pass
    text = f"xllamacpp {version}"
    if rev:
        text += f" (rev {rev[:12]})"
    if build_info:
        text += f", llama.cpp build_info {build_info}"
    return text


class Client:
    def __init__(self, base: str):
        self.base = base.rstrip("/")
        # The server is on 127.0.0.1: never go through an http_proxy from the environment.
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _call(self, path: str, body: dict | None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path,
            data=data,
            headers={"Content-Type": "application/json"},
            method="GET" if body is None else "POST",
        )
        try:
            with self.opener.open(req, timeout=HTTP_TIMEOUT_S) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace")
            raise HarnessError(f"llama.cpp {path} answered HTTP {e.code}: {detail}") from None
        except urllib.error.URLError as e:
            raise HarnessError(f"llama.cpp {path} unreachable: {e.reason}") from None
        try:
            # llama.cpp should send valid UTF-8; a stray byte becomes U+FFFD, not a crash.
            return json.loads(raw.decode("utf-8", "replace"))
        except ValueError:
            raise HarnessError(f"llama.cpp {path} answered non-JSON: {raw[:200]!r}") from None

    def get(self, path: str):
        return self._call(path, None)

    def post(self, path: str, body: dict):
        return self._call(path, body)

    def tokenize(self, text: str, add_special: bool) -> list[int]:
        r = self.post(
            "/tokenize", {"content": text, "add_special": add_special, "parse_special": True}
        )
        ids = r.get("tokens")
        if not isinstance(ids, list) or not all(isinstance(t, int) for t in ids):
            raise HarnessError(f"/tokenize gave no id list: {r!r}")
        return ids

    def detokenize(self, ids: list[int]) -> str:
        r = self.post("/detokenize", {"tokens": ids})
        content = r.get("content")
        if not isinstance(content, str):
            raise HarnessError(f"/detokenize gave no content: {r!r}")
        return content

    def complete(self, prompt: str, max_tokens: int, n_probs: int, ignore_eos: bool) -> dict:
        body = dict(GREEDY)
        body.update(
            {"prompt": prompt, "n_predict": max_tokens, "n_probs": n_probs, "ignore_eos": ignore_eos}
        )
        r = self.post("/completion", body)
        if "tokens" not in r or "timings" not in r:
            raise HarnessError(f"/completion answer lacks tokens/timings: {str(r)[:300]}")
        return r


def do_tokenize(client: Client, texts) -> list[dict]:
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise HarnessError('"tokenize" must be a list of strings')
    out = []
    for text in texts:
        ids = client.tokenize(text, add_special=False)
        out.append({"text": text, "ids": ids, "detok": client.detokenize(ids)})
    return out


def check_fits(prompt_ids: list[int], max_tokens: int, ctx: int, what: str) -> None:
    if len(prompt_ids) + max_tokens > ctx:
        raise HarnessError(
            f"{what}: {len(prompt_ids)} prompt tokens + {max_tokens} new ones exceed --ctx {ctx}"
        )


def do_generate(client: Client, reqs, probs_top: int, ctx: int) -> list[dict]:
    if not isinstance(reqs, list):
        raise HarnessError('"generate" must be a list of {"prompt", "max_tokens"} objects')
    out = []
    for i, req in enumerate(reqs):
        if not isinstance(req, dict) or not isinstance(req.get("prompt"), str):
            raise HarnessError(f"generate[{i}] needs a string prompt")
        prompt = req["prompt"]
        max_tokens = int(req.get("max_tokens", 32))
        if max_tokens < 1:
            raise HarnessError(f"generate[{i}]: max_tokens must be at least 1")
        prompt_ids = client.tokenize(prompt, add_special=True)
        if not prompt_ids:
            raise HarnessError(f"generate[{i}]: the prompt tokenizes to nothing")
        check_fits(prompt_ids, max_tokens, ctx, f"generate[{i}]")

        r = client.complete(prompt, max_tokens, probs_top, ignore_eos=False)
        timings = r["timings"]
        evaluated = timings.get("prompt_n", 0) + timings.get("cache_n", 0)
        if evaluated != len(prompt_ids):
            raise HarnessError(
                f"generate[{i}]: llama.cpp evaluated {evaluated} prompt tokens, "
                f"/tokenize gave {len(prompt_ids)}"
            )
        if r.get("truncated"):
            raise HarnessError(f"generate[{i}]: llama.cpp truncated the prompt")
        ids = r["tokens"]
        item = {
            "prompt": prompt,
            "prompt_ids": prompt_ids,
            "ids": ids,
            "text": r.get("content", ""),
            "stop_type": r.get("stop_type"),
        }
        if probs_top > 0:
            steps = r.get("completion_probabilities") or []
            step_ids = [s.get("id") for s in steps]
            if step_ids != ids:
                raise HarnessError(
                    f"generate[{i}]: returned tokens {ids} differ from the probability "
                    f"records' ids {step_ids}"
                )
            if not steps:
                raise HarnessError(f"generate[{i}]: no probabilities came back")
            first = steps[0].get("top_logprobs") or []
            item["top"] = [[t["id"], math.exp(t["logprob"])] for t in first[:probs_top]]
            # The two most likely tokens at every step: where they are nearly tied, the
            # last bits of a logit decide the greedy token.
            item["top2"] = [
                [[t["id"], math.exp(t["logprob"])] for t in (s.get("top_logprobs") or [])[:2]]
                for s in steps
            ]
            if item["top"] and item["top"][0][0] != ids[0]:
                raise HarnessError(
                    f"generate[{i}]: greedy token {ids[0]} is not the most likely "
                    f"{item['top'][0][0]}"
                )
        out.append(item)
    return out


def do_bench(client: Client, bench, ctx: int, rss_after_load: int, threads: int) -> dict:
    if not isinstance(bench, dict) or not isinstance(bench.get("prompt"), str):
        raise HarnessError('"bench" needs a string prompt')
    prompt = bench["prompt"]
    max_tokens = int(bench.get("max_tokens", 128))
    runs = int(bench.get("runs", 3))
    warmup = int(bench.get("warmup", 1))
    if max_tokens < 1 or runs < 1 or warmup < 0:
        raise HarnessError("bench: max_tokens and runs must be at least 1, warmup at least 0")
    prompt_ids = client.tokenize(prompt, add_special=True)
    check_fits(prompt_ids, max_tokens, ctx, "bench")

    for _ in range(warmup):
        client.complete(prompt, max_tokens, 0, ignore_eos=True)
    results = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = client.complete(prompt, max_tokens, 0, ignore_eos=True)
        wall = time.perf_counter() - t0
        t = r["timings"]
        results.append(
            {
                "prompt_n": t.get("prompt_n"),
                "prompt_ms": t.get("prompt_ms"),
                "prompt_tps": t.get("prompt_per_second"),
                "decode_n": t.get("predicted_n"),
                "decode_ms": t.get("predicted_ms"),
                "decode_tps": t.get("predicted_per_second"),
                "wall_s": wall,
            }
        )
    return {
        "prompt_tokens": len(prompt_ids),
        "max_tokens": max_tokens,
        "threads": threads,
        "warmup": warmup,
        "runs": results,
        "prompt_tps": statistics.median(x["prompt_tps"] for x in results),
        "decode_tps": statistics.median(x["decode_tps"] for x in results),
        "peak_rss_after_load": rss_after_load,
        "peak_rss_after_runs": peak_rss_bytes(),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description="llama.cpp reference harness (JSON in, JSON out)")
    ap.add_argument("--model", required=True, help="GGUF file")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument(
        "--flash-attn", choices=["auto", "off", "on"], default="auto",
        help="llama.cpp's attention path (auto, its default, is flash attention on the CPU)",
    )
    ap.add_argument("--bench", action="store_true", help="require a bench request")
    ap.add_argument("request", help="request JSON file, or - for stdin")
    args = ap.parse_args()

    try:
        if args.request == "-":
            request = json.load(sys.stdin)
        else:
            with open(args.request, encoding="utf-8") as f:
                request = json.load(f)
    except (OSError, ValueError) as e:
        raise HarnessError(f"cannot read request {args.request}: {e}") from None
    if not isinstance(request, dict):
        raise HarnessError("the request must be a JSON object")
    unknown = set(request) - {"tokenize", "generate", "probs_top", "bench"}
    if unknown:
        raise HarnessError(f"unknown request keys: {sorted(unknown)}")
    if args.bench and "bench" not in request:
        raise HarnessError('--bench given but the request has no "bench" object')
    if not os.path.isfile(args.model):
        raise HarnessError(f"no model file at {args.model}")
    if args.threads < 1 or args.ctx < 16:
        raise HarnessError("--threads must be at least 1 and --ctx at least 16")
    probs_top = int(request.get("probs_top", 0) or 0)

    try:
        import xllamacpp
    except ImportError as e:
        raise HarnessError(
            f"cannot import xllamacpp ({e}); run it with the python that "
            "scripts/llamacpp-venv.sh prints"
        ) from None

    # Keep stdout for the JSON alone: whatever llama.cpp might print goes to stderr.
    sys.stdout.flush()
    json_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.n_ctx = args.ctx
    # llama.cpp's default (-1, auto) turns flash attention on for the CPU.
    params.flash_attn_type = {"auto": -1, "off": 0, "on": 1}[args.flash_attn]
    params.n_parallel = 1
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.n_threads_http = 2
    params.cache_prompt = False
    params.sampling.seed = SEED
    params.warmup = True

    server = None
    try:
        t0 = time.perf_counter()
        try:
            server = xllamacpp.Server(params)
        except Exception as e:
            raise HarnessError(f"llama.cpp could not load {args.model}: {e}") from None
        load_s = time.perf_counter() - t0
        rss_after_load = peak_rss_bytes()
        client = Client(server.listening_address)
        props = client.get("/props")

        response: dict = {}
        if "tokenize" in request:
            response["tokenize"] = do_tokenize(client, request["tokenize"])
        if "generate" in request:
            response["generate"] = do_generate(client, request["generate"], probs_top, args.ctx)
        if "bench" in request:
            response["bench"] = do_bench(
                client, request["bench"], args.ctx, rss_after_load, args.threads
            )
            response["bench"]["load_s"] = load_s
        response["llamacpp"] = llamacpp_version(xllamacpp, props.get("build_info"))
    finally:
        if server is not None:
            del server
            gc.collect()

    json.dump(response, json_out, ensure_ascii=False)
    json_out.write("\n")
    json_out.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except HarnessError as e:
        print(f"reference.py: error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("reference.py: error: interrupted", file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # anything unforeseen: still one clear line, still exit 1
        print(f"reference.py: error: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
