#!/usr/bin/env bash
# Installs what the marketplace browser tests need on Debian or Ubuntu: Chromium, run
# headless by `registry-server/tests/marketplace_browser.rs`. Idempotent: installs only when
# no `chromium` (or `chromium-browser`) is on PATH.
set -euo pipefail

for browser in chromium chromium-browser; do
    if command -v "$browser" >/dev/null 2>&1; then
        echo "chromium is installed: $("$browser" --version 2>/dev/null | head -n1)"
        exit 0
    fi
done
exec "$(dirname "$0")/../scripts/apt-install.sh" chromium
