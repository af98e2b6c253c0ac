#!/usr/bin/env bash
# Installs what the marketplace browser tests need on Debian or Ubuntu: Chromium, run
# headless by `registry-server/tests/marketplace_browser.rs`. Idempotent: installs only when
# no `chromium` (or `chromium-browser`) is on PATH. Starts no service: where no policy-rc.d
# already refuses service starts, one is put in place for the install only.
set -euo pipefail

for browser in chromium chromium-browser; do
    if command -v "$browser" >/dev/null 2>&1; then
        echo "chromium is installed: $("$browser" --version 2>/dev/null | head -n1)"
        exit 0
    fi
done

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        exec sudo "$0" "$@"
    fi
    echo "run as root (or install sudo) to install: chromium" >&2
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
apt-get install -y --no-install-recommends chromium
echo "installed: $(chromium --version 2>/dev/null | head -n1)"
