#!/usr/bin/env bash
# The GPU device check: runs on a machine with an NVIDIA GPU, from a folder holding only the
# compressed release binaries that bench/gpu/bundle.sh made (no Rust, no CUDA toolkit
# needed there; the CUDA runtime libraries are found in the machine's Python environment).
#
#   bench/gpu/check.sh [BUNDLE_DIR] [RESULTS_FILE]
#
# Within about 5 minutes it: runs the runtime's tests on CUDA (MODULARBASE_TEST_DEVICE=cuda:0),
# runs the GPU benchmark (CUDA against CPU logits, pack load host->GPU against a plain device
# copy, decode tokens/s GPU against CPU, MoE top-2 against all-8 on the GPU, cache switch and
# swap latency, memory freed by eviction), checks `modularbase run --device auto` picks CUDA,
# and writes everything to one results file (default: $OUT/gpu-results.txt or ./gpu-results.txt).
set -uo pipefail

bundle=${1:-$(dirname "$0")/bundle}
results=${2:-${OUT:-.}/gpu-results.txt}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: >"$results"
log() { echo "$*" | tee -a "$results"; }
section() { log ""; log "== $*"; }

section "machine"
log "$(date -u +%FT%TZ) $(uname -srm)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee -a "$results"

section "unpack"
unpack() { # file.xz -> work/name
    local name; name=$(basename "$1" .xz)
    if command -v xz >/dev/null 2>&1; then
        xz -dc "$1" >"$work/$name"
    else
        python3 -c 'import lzma,sys,shutil; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],"wb"))' "$1" "$work/$name"
    fi
    chmod +x "$work/$name"
    log "unpacked $name ($(stat -c %s "$work/$name") bytes)"
}
for f in "$bundle"/*.xz; do unpack "$f"; done

section "CUDA libraries"
libdir=""
for py in python3 /usr/bin/python3 /opt/conda/bin/python3; do
    command -v "$py" >/dev/null 2>&1 || continue
    libdir=$("$py" - <<'PY' 2>/dev/null
import os
try:
    import nvidia
    for base in nvidia.__path__:
        for sub in ("cu13/lib", "cublas/lib", "cuda_runtime/lib"):
            p = os.path.join(base, sub)
            if os.path.exists(os.path.join(p, "libcublas.so.13")) or os.path.exists(os.path.join(p, "libcudart.so.13")):
                print(p); raise SystemExit
except ImportError:
    pass
PY
)
    [ -n "$libdir" ] && break
done
if [ -z "$libdir" ]; then
    found=$(find / -xdev -name 'libcublas.so.13' -not -path '*/proc/*' 2>/dev/null | head -n1)
    [ -n "$found" ] && libdir=$(dirname "$found")
fi
if [ -z "$libdir" ]; then
    log "error: libcublas.so.13 not found; the CUDA 13 runtime libraries are needed"
    exit 1
fi
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
log "CUDA libraries from $libdir"

failures=0
section "runtime tests on cuda:0"
for t in "$work"/test-*; do
    [ -e "$t" ] || continue
    log "-- $(basename "$t")"
    MODULARBASE_TEST_DEVICE=cuda:0 timeout 150 "$t" --test-threads=1 >"$work/out.txt" 2>&1
    status=$?
    grep -E '^test |test result' "$work/out.txt" | tee -a "$results"
    if [ "$status" -ne 0 ]; then
        failures=$((failures + 1))
        log "exit status $status; the last lines:"
        tail -n 40 "$work/out.txt" | tee -a "$results"
    fi
done

section "GPU benchmark"
if [ -x "$work/gpu" ]; then
    timeout 200 "$work/gpu" --json "$work/gpu.json" >"$work/out.txt" 2>&1
    status=$?
    tee -a "$results" <"$work/out.txt"
    [ "$status" -eq 0 ] || { failures=$((failures + 1)); log "exit status $status"; }
    cat "$work/gpu.json" >>"$results" 2>/dev/null
fi

section "modularbase run --device auto"
if [ -x "$work/modularbase" ]; then
    "$work/modularbase" base init --id tiny_base --version 1.0.0 --out "$work/tiny_base" 2>&1 | tee -a "$results"
    timeout 60 "$work/modularbase" run "def fib(n):" --base "$work/tiny_base" --device auto --debug --monitor --max-tokens 16 >"$work/out.txt" 2>&1
    status=$?
    tee -a "$results" <"$work/out.txt"
    [ "$status" -eq 0 ] || { failures=$((failures + 1)); log "exit status $status"; }
fi

section "summary"
log "failures: $failures"
[ "$failures" -eq 0 ]
