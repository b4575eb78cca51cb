#!/usr/bin/env bash
# Installs arm-none-eabi-gcc (Debian/Ubuntu: apt; root or sudo) unless it is already there.
# The C firmware test builds the generated C example with it (no C library needed).
set -euo pipefail
if command -v arm-none-eabi-gcc >/dev/null; then
    arm-none-eabi-gcc --version | head -1
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "error: arm-none-eabi-gcc is missing; install it as root (apt-get install gcc-arm-none-eabi)" >&2; exit 1; }
    SUDO=sudo
fi
command -v apt-get >/dev/null || { echo "error: arm-none-eabi-gcc is missing and apt-get is not available; install the GNU Arm Embedded Toolchain yourself" >&2; exit 1; }
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends gcc-arm-none-eabi >/dev/null
arm-none-eabi-gcc --version | head -1
