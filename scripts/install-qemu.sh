#!/usr/bin/env bash
# Installs qemu-system-arm (Debian/Ubuntu: apt; root or sudo) unless it is already there.
# The firmware tests run the Cortex-M4F firmware on QEMU's mps2-an386 machine.
set -euo pipefail
if command -v qemu-system-arm >/dev/null; then
    qemu-system-arm --version | head -1
    exit 0
fi
bash "$(dirname "$0")/apt-install.sh" "qemu-system-arm" "install QEMU (with the arm system emulator) yourself" qemu-system-arm
qemu-system-arm --version | head -1
