#!/usr/bin/env bash
# Creates (once) a Python venv holding llama.cpp's prebuilt CPU build, PyPI's xllamacpp, for
# the llama.cpp reference harness tests/llamacpp/reference.py, and the `openai` client for the
# serve tests (tests/openai/client_check.py), and prints the venv's python path as the last
# line of stdout (every other message goes to stderr).
#
# Usage:
#     scripts/llamacpp-venv.sh [VENV]
#     py="$(scripts/llamacpp-venv.sh | tail -n 1)"
#     "$py" tests/llamacpp/reference.py --model M.gguf --threads 2 --ctx 512 REQUEST.json
#     "$py" tests/openai/client_check.py http://127.0.0.1:PORT MODEL --seed 1 --max-tokens 8
#
# VENV defaults to target/llamacpp-venv under the repository root. A second run finds the pinned
# versions already installed and touches no network. Set PYTHON to create the venv with another
# interpreter than python3 (3.10 or later: the wheel is abi3 for cp310).
set -euo pipefail

readonly XLLAMACPP="xllamacpp==2026.10.11549"
readonly OPENAI="openai==2.54.0"

PYTHON="${PYTHON:-python3}"
repo_root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
venv="${1:-$repo_root/target/llamacpp-venv}"

log() { printf '%s\n' "llamacpp-venv: $*" >&2; }

case "${1:-}" in
    -h | --help)
        printf 'usage: %s [VENV]\n' "$0" >&2
        exit 0
        ;;
esac
if [ "$#" -gt 1 ]; then
    printf 'usage: %s [VENV]\n' "$0" >&2
    exit 2
fi

py="$venv/bin/python"
if [ ! -x "$py" ]; then
    log "creating venv $venv"
    mkdir -p -- "$(dirname -- "$venv")"
    "$PYTHON" -m venv "$venv" >&2
fi
venv="$(cd -- "$venv" && pwd -P)"
py="$venv/bin/python"

# Installs the pinned `$1` (NAME==VERSION, importable as `$2`) unless that version is there.
ensure() {
    local pin="$1" module="$2" name="${1%%==*}" wanted="${1#*==}" installed
    installed="$("$py" -c "import importlib.metadata as m; print(m.version('$name'))" 2>/dev/null || true)"
    if [ "$installed" = "$wanted" ]; then
        log "$name $wanted already installed in $venv"
        return
    fi
    log "installing $pin into $venv"
    "$py" -m pip install --disable-pip-version-check --only-binary=:all: "$pin" >&2
    "$py" -c "import $module" || {
        log "error: $name installed but does not import"
        exit 1
    }
}

ensure "$XLLAMACPP" xllamacpp
ensure "$OPENAI" openai
printf '%s\n' "$py"
