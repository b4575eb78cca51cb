#!/usr/bin/env bash
# Installs qemu-system-arm (Debian/Ubuntu: apt; root or sudo) unless it is already there.
# The firmware tests run the Cortex-M4F firmware on QEMU's mps2-an386 machine.
set -euo pipefail
if command -v qemu-system-arm >/dev/null; then
    qemu-system-arm --version | head -1
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "error: qemu-system-arm is missing; install it as root (apt-get install qemu-system-arm)" >&2; exit 1; }
    SUDO=sudo
fi
command -v apt-get >/dev/null || { echo "error: qemu-system-arm is missing and apt-get is not available; install QEMU (with the arm system emulator) yourself" >&2; exit 1; }
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends qemu-system-arm >/dev/null
qemu-system-arm --version | head -1
