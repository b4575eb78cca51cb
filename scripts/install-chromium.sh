#!/usr/bin/env bash
# Installs Debian's chromium (headless browser for the report test) unless it is there.
set -euo pipefail
for b in chromium chromium-browser; do
    if command -v "$b" >/dev/null; then "$b" --version 2>/dev/null | head -1; exit 0; fi
done
bash "$(dirname "$0")/apt-install.sh" "chromium" "install Chromium yourself" chromium
chromium --version | head -1
