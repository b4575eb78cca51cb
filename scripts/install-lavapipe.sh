#!/usr/bin/env bash
# Installs Mesa's Vulkan drivers (lavapipe: Vulkan on the CPU) unless a Vulkan ICD is already
# there, so the wgpu training path can run on machines without a GPU.
set -euo pipefail
if ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
    echo "lavapipe present"
    exit 0
fi
bash "$(dirname "$0")/apt-install.sh" "Mesa's lavapipe" "install Mesa's Vulkan drivers yourself" mesa-vulkan-drivers libvulkan1
ls /usr/share/vulkan/icd.d/
