#!/usr/bin/env bash
# Installs what the `registry` benchmark needs on Debian or Ubuntu: nginx (run by the
# benchmark as its own child process on 127.0.0.1) and wrk (the load generator).
# Idempotent: installs only what is missing, never starting the system nginx service.
set -euo pipefail

missing=()
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ "${#missing[@]}" -eq 0 ]; then
    echo "nginx and wrk are installed: $(nginx -v 2>&1), $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2)"
    exit 0
fi
exec "$(dirname "$0")/../scripts/apt-install.sh" "${missing[@]}"
