#!/usr/bin/env python3
"""llama.cpp's own server (PyPI xllamacpp, in-process) for the `serve` benchmark.

    python serve.py --model F.gguf [--threads 2] [--parallel 8] [--ctx 4096]

Starts llama.cpp's OpenAI-compatible server on 127.0.0.1 (a free port), prints
`listening on http://ADDR` on stderr, and serves until its standard input closes (the
benchmark holds it open and closes it, or dies, to stop it) or SIGTERM. `--parallel` slots
with continuous batching share `--ctx` tokens of KV cache; prompt caching is off, so every
request evaluates its whole prompt, as ours does. Run it with the python that
scripts/llamacpp-venv.sh prints.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description="llama.cpp's server for the serve benchmark")
    ap.add_argument("--model", required=True, help="GGUF file")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--ctx", type=int, default=4096, help="KV cache tokens, all slots together")
    args = ap.parse_args()
    if not os.path.isfile(args.model):
        print(f"serve.py: error: no model file at {args.model}", file=sys.stderr)
        return 1

    import xllamacpp

    # Whatever llama.cpp prints goes to stderr.
    os.dup2(2, 1)
    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.n_ctx = args.ctx
    params.n_parallel = args.parallel
    params.cont_batching = True
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.n_threads_http = 2
    params.cache_prompt = False
    params.warmup = True
    server = xllamacpp.Server(params)
    address = server.listening_address
    if not address.startswith("http"):
        address = "http://" + address
    print(f"listening on {address} (llama.cpp, xllamacpp)", file=sys.stderr, flush=True)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        # Serve until the benchmark closes our standard input.
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        del server
        gc.collect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
