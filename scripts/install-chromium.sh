#!/usr/bin/env bash
# Installs Debian's chromium (headless browser for the report test) unless it is there.
set -euo pipefail
for b in chromium chromium-browser; do
    if command -v "$b" >/dev/null; then "$b" --version 2>/dev/null | head -1; exit 0; fi
done
SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "error: chromium is missing; install it as root (apt-get install chromium)" >&2; exit 1; }
    SUDO=sudo
fi
command -v apt-get >/dev/null || { echo "error: chromium is missing and apt-get is not available; install Chromium yourself" >&2; exit 1; }
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
chromium --version | head -1
