#!/usr/bin/env bash
# Installs what the `registry` benchmark needs on Debian or Ubuntu: nginx (run by the
# benchmark as its own child process on 127.0.0.1) and wrk (the load generator).
# Idempotent: installs only what is missing. Never starts the system nginx service: where no
# policy-rc.d already refuses service starts, one is put in place for the install only.
set -euo pipefail

missing=()
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ "${#missing[@]}" -eq 0 ]; then
    echo "nginx and wrk are installed: $(nginx -v 2>&1), $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2)"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        exec sudo "$0" "$@"
    fi
    echo "run as root (or install sudo) to install: ${missing[*]}" >&2
    exit 1
fi

policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    # Exit status 101 tells invoke-rc.d and deb-systemd-invoke not to start any service.
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
echo "installed: ${missing[*]}"
