#!/usr/bin/env bash
# Sets up a CUDA 13.0 toolchain for building ModularBase's CUDA variant on a machine that has
# neither CUDA nor a GPU, from NVIDIA's toolkit wheels on PyPI, and prints the environment for it.
#
# Usage:
#     eval "$(scripts/cuda-toolchain.sh)"
#     CARGO_TARGET_DIR=target/cuda cargo build --release --features cuda
#     CARGO_TARGET_DIR=target/cuda cargo test --release -p modularbase-runtime --features cuda --no-run
#
# What it does (each step is skipped when already done, so a second run only prints the
# environment):
#   1. creates a Python venv at $MODULARBASE_CUDA_DIR/venv (default dir:
#      $HOME/.cache/modularbase-cuda) and installs exactly the pinned nvidia-* wheels below;
#   2. assembles a CUDA_HOME at $MODULARBASE_CUDA_DIR/cuda: links to the wheels' bin/, include/,
#      nvvm/, and a lib64/ of links with the unversioned libX.so names the linker wants;
#   3. generates a stub libcuda.so (soname libcuda.so.1) in $MODULARBASE_CUDA_DIR/stub from
#      cuda.h: every driver function returns CUDA_ERROR_STUB_LIBRARY (34). cudarc is linked
#      with `-lcuda` and no wheel ships the driver, so the stub is needed to link, and lets the
#      binary start here (Device::new_cuda then fails cleanly and `--device auto` uses the CPU).
#      The stub is kept out of lib64 on purpose: never ship it, and never put it on
#      LD_LIBRARY_PATH on a machine with a real driver (there, don't eval this script at all;
#      the binary only needs libcudart.so.13, libcublas.so.13, libcublasLt.so.13 and
#      libcurand.so.10 on LD_LIBRARY_PATH, e.g. the nvidia/cu13/lib of a PyTorch venv).
#
# stdout carries only the `export` lines; progress goes to stderr. Nothing is written inside
# the repository. CUDA 13.0 is pinned on purpose: the GPU machines' driver (580) accepts PTX
# from nvcc 13.0 but not from newer ones. The target GPU is sm_90 (H100/H200):
# CUDA_COMPUTE_CAP=90 is exported since there is no nvidia-smi to ask.
set -euo pipefail

readonly WHEELS=(
    nvidia-cuda-nvcc==13.0.88
    nvidia-cuda-runtime==13.0.96
    nvidia-cuda-crt==13.0.88
    nvidia-nvvm==13.0.88
    nvidia-cuda-cccl==13.0.85
    nvidia-cublas==13.0.2.14
    nvidia-curand==10.4.0.35
    nvidia-cuda-nvrtc==13.0.88
)
readonly COMPUTE_CAP=90
readonly CUDARC_VERSION=13000
# Bump when the link tree or stub recipe changes, to have them rebuilt.
readonly RECIPE=1

log() { printf '[cuda-toolchain] %s\n' "$*" >&2; }
die() { printf '[cuda-toolchain] error: %s\n' "$*" >&2; exit 1; }

ROOT="${MODULARBASE_CUDA_DIR:-${HOME:?HOME is not set; set MODULARBASE_CUDA_DIR}/.cache/modularbase-cuda}"
mkdir -p "$ROOT" || die "cannot create $ROOT"
ROOT="$(cd "$ROOT" && pwd -P)"
VENV="$ROOT/venv"
CUDA_TREE="$ROOT/cuda"
STUB="$ROOT/stub"

[[ "$(uname -s)" == Linux && "$(uname -m)" == x86_64 ]] \
    || die "only x86_64 Linux is supported (the wheels and the stub are for it)"

# ---- 1. the venv with the pinned wheels -------------------------------------------------------
wheels_stamp="$VENV/.modularbase-wheels"
want_wheels="$(printf '%s\n' "${WHEELS[@]}")"
if [[ -x "$VENV/bin/python" && -f "$wheels_stamp" && "$(cat "$wheels_stamp")" == "$want_wheels" ]]; then
    log "venv $VENV already has the pinned wheels"
else
    command -v python3 >/dev/null 2>&1 || die "python3 not found; install Python 3 (with venv and pip)"
    python3 -c 'import venv, ensurepip' 2>/dev/null \
        || die "python3 has no venv/ensurepip module (on Debian: apt-get install python3-venv)"
    if [[ ! -x "$VENV/bin/python" ]]; then
        log "creating venv $VENV"
        python3 -m venv "$VENV" >&2 || die "python3 -m venv $VENV failed"
    fi
    "$VENV/bin/python" -m pip --version >/dev/null 2>&1 \
        || die "pip is missing in $VENV (python3 -m ensurepip failed?); install pip for python3"
    log "installing ${#WHEELS[@]} pinned NVIDIA wheels (about 1 GB unpacked) into $VENV"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input "${WHEELS[@]}" >&2 \
        || die "pip install of the NVIDIA wheels failed"
    printf '%s\n' "$want_wheels" >"$wheels_stamp"
fi

CU="$("$VENV/bin/python" - <<'EOF'
import os, sysconfig
print(os.path.join(sysconfig.get_paths()["purelib"], "nvidia", "cu13"))
EOF
)"
for d in bin include lib nvvm; do
    [[ -d "$CU/$d" ]] || die "$CU/$d is missing: the wheels' layout is not what this script expects"
done
[[ -x "$CU/bin/nvcc" ]] || die "$CU/bin/nvcc is missing"
[[ -f "$CU/include/cuda.h" ]] || die "$CU/include/cuda.h is missing"

# ---- 2. the CUDA_HOME link tree ---------------------------------------------------------------
tree_stamp="$CUDA_TREE/.modularbase-tree"
want_tree="$RECIPE $CU"
if [[ -f "$tree_stamp" && "$(cat "$tree_stamp")" == "$want_tree" ]]; then
    log "CUDA_HOME $CUDA_TREE already assembled"
else
    log "assembling CUDA_HOME in $CUDA_TREE"
    tmp="$CUDA_TREE.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp/lib64"
    ln -s "$CU/bin" "$tmp/bin"
    ln -s "$CU/include" "$tmp/include"
    ln -s "$CU/nvvm" "$tmp/nvvm"
    shopt -s nullglob
    for f in "$CU"/lib/*; do
        ln -s "$f" "$tmp/lib64/$(basename "$f")"
    done
    # Unversioned names (libcublas.so -> libcublas.so.13): -lX finds only libX.so.
    for f in "$CU"/lib/lib*.so.*; do
        base="$(basename "$f")"
        plain="${base%%.so.*}.so"
        [[ -e "$tmp/lib64/$plain" ]] || ln -s "$base" "$tmp/lib64/$plain"
    done
    shopt -u nullglob
    ln -s lib64 "$tmp/lib"
    printf '%s\n' "$want_tree" >"$tmp/.modularbase-tree"
    rm -rf "$CUDA_TREE"
    mv "$tmp" "$CUDA_TREE"
fi
for lib in cudart cublas cublasLt curand nvrtc; do
    [[ -e "$CUDA_TREE/lib64/lib$lib.so" ]] || die "$CUDA_TREE/lib64/lib$lib.so is missing"
done

# ---- 3. the stub libcuda.so -------------------------------------------------------------------
stub_stamp="$STUB/.modularbase-stub"
want_stub="$RECIPE $(cksum <"$CU/include/cuda.h")"
if [[ -f "$stub_stamp" && -f "$STUB/libcuda.so.1" && "$(cat "$stub_stamp")" == "$want_stub" ]]; then
    log "stub libcuda already built in $STUB"
else
    command -v gcc >/dev/null 2>&1 || die "gcc not found; it is needed to build the stub libcuda (apt-get install gcc)"
    log "generating the stub libcuda.so.1 in $STUB from cuda.h"
    tmp="$STUB.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    # Preprocess cuda.h three ways so that every exported name is caught: the default
    # (versioned names such as cuMemAlloc_v2 via the #define cuXxx cuXxx_v2 macros), the
    # per-thread-default-stream variants (_ptds/_ptsz), and the legacy unversioned names
    # (declared under __CUDA_API_VERSION_INTERNAL).
    for variant in "" "-DCUDA_API_PER_THREAD_DEFAULT_STREAM" "-D__CUDA_API_VERSION_INTERNAL"; do
        # shellcheck disable=SC2086 # $variant is one flag or nothing
        gcc -E -P $variant -I "$CU/include" -x c "$CU/include/cuda.h" >>"$tmp/cuda.i" \
            || die "gcc -E over cuda.h failed"
    done
    # Every function declared as returning CUresult (CUDAAPI expands to nothing on Linux).
    tr '\n' ' ' <"$tmp/cuda.i" \
        | grep -oE '(^|[^A-Za-z0-9_])CUresult[[:space:]]+(__attribute__[[:space:]]*\(\([^;{]*\)\)[[:space:]]*)?cu[A-Za-z0-9_]+[[:space:]]*\(' \
        | sed -E 's/.*[[:space:]](cu[A-Za-z0-9_]+)[[:space:]]*\($/\1/; s/.*\)(cu[A-Za-z0-9_]+)[[:space:]]*\($/\1/' \
        | sort -u >"$tmp/names"
    n="$(wc -l <"$tmp/names")"
    # Sanity: cuda.h 13.0 declares several hundred; a handful means the parsing broke.
    [[ "$n" -ge 300 ]] || die "found only $n CUresult functions in cuda.h; the stub generator needs fixing"
    for must in cuInit cuDriverGetVersion cuDeviceGet cuCtxCreate_v2 cuMemAlloc_v2 cuModuleLoadData cuLaunchKernel; do
        grep -qx "$must" "$tmp/names" || die "cuda.h parsing missed $must; the stub generator needs fixing"
    done
    {
        printf '/* Generated by scripts/cuda-toolchain.sh from %s: a stub of the CUDA driver API for\n' "$CU/include/cuda.h"
        printf ' * linking and for running without a GPU. Every function returns CUDA_ERROR_STUB_LIBRARY. */\n'
        printf 'typedef enum { CUDA_ERROR_STUB_LIBRARY = 34 } CUresult;\n'
        while read -r name; do
            printf 'CUresult %s() { return CUDA_ERROR_STUB_LIBRARY; }\n' "$name"
        done <"$tmp/names"
    } >"$tmp/libcuda_stub.c"
    gcc -shared -fPIC -O1 -std=gnu99 -w -Wl,-soname,libcuda.so.1 \
        -o "$tmp/libcuda.so.1" "$tmp/libcuda_stub.c" || die "compiling the stub libcuda failed"
    ln -s libcuda.so.1 "$tmp/libcuda.so"
    rm -f "$tmp/cuda.i"
    printf '%s\n' "$want_stub" >"$tmp/.modularbase-stub"
    rm -rf "$STUB"
    mv "$tmp" "$STUB"
    log "stub libcuda.so.1: $n functions"
fi

# ---- the environment --------------------------------------------------------------------------
# Prepends $2 to the colon list $1 unless it is already in it; drops empty entries.
prepend() {
    local list="$1" dir="$2"
    case ":$list:" in
        *":$dir:"*) printf '%s' "$list" ;;
        *) printf '%s' "$dir${list:+:$list}" ;;
    esac
}
path="$(prepend "${PATH:-}" "$CUDA_TREE/bin")"
library_path="$(prepend "$(prepend "${LIBRARY_PATH:-}" "$CUDA_TREE/lib64")" "$STUB")"
ld_library_path="$(prepend "$(prepend "${LD_LIBRARY_PATH:-}" "$CUDA_TREE/lib64")" "$STUB")"

log "environment ready; to use it: eval \"\$(scripts/cuda-toolchain.sh)\""
q() { printf '%q' "$1"; }
cat <<EOF
export MODULARBASE_CUDA_DIR=$(q "$ROOT")
export CUDA_HOME=$(q "$CUDA_TREE")
export CUDA_PATH=$(q "$CUDA_TREE")
export CUDA_ROOT=$(q "$CUDA_TREE")
export CUDA_TOOLKIT_ROOT_DIR=$(q "$CUDA_TREE")
export PATH=$(q "$path")
export CUDA_COMPUTE_CAP=$COMPUTE_CAP
export CUDARC_CUDA_VERSION=$CUDARC_VERSION
export LIBRARY_PATH=$(q "$library_path")
export LD_LIBRARY_PATH=$(q "$ld_library_path")
EOF
