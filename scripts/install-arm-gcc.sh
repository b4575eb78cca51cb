#!/usr/bin/env bash
# Installs arm-none-eabi-gcc (Debian/Ubuntu: apt; root or sudo) unless it is already there.
# The C firmware test builds the generated C example with it (no C library needed).
set -euo pipefail
if command -v arm-none-eabi-gcc >/dev/null; then
    arm-none-eabi-gcc --version | head -1
    exit 0
fi
bash "$(dirname "$0")/apt-install.sh" "arm-none-eabi-gcc" "install the GNU Arm Embedded Toolchain yourself" gcc-arm-none-eabi
arm-none-eabi-gcc --version | head -1
