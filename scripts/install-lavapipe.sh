#!/usr/bin/env bash
# Installs Mesa's Vulkan drivers (lavapipe: Vulkan on the CPU) unless a Vulkan ICD is already
# there, so the wgpu training path can run on machines without a GPU.
set -euo pipefail
if ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
    echo "lavapipe present"
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "error: Mesa's lavapipe is missing; install it as root (apt-get install mesa-vulkan-drivers)" >&2; exit 1; }
    SUDO=sudo
fi
command -v apt-get >/dev/null || { echo "error: lavapipe is missing and apt-get is not available; install Mesa's Vulkan drivers yourself" >&2; exit 1; }
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers libvulkan1 >/dev/null
ls /usr/share/vulkan/icd.d/
