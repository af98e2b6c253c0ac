#!/usr/bin/env bash
# Installs Debian/Ubuntu packages for the tests and benchmarks: `scripts/apt-install.sh PKG…`.
# As root, or through sudo. Starts no service: where no policy-rc.d already refuses service
# starts, one is put in place for the install only.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        exec sudo "$0" "$@"
    fi
    echo "run as root (or install sudo) to install: $*" >&2
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
apt-get install -y --no-install-recommends "$@"
echo "installed: $*"
