#!/usr/bin/env bash
# Keeps a cargo target directory under a size budget (GB). Every change of the workspace
# links new test binaries (hundreds of MB each with wgpu) under new hashes and leaves the old
# ones behind, so a persistent CI cache only grows. Over budget: drop incremental state and
# all but the newest binary of each name (cargo relinks one if it is still needed); still
# over: start cold.
set -euo pipefail
dir="$1"
budget_gb="$2"
size_gb() { du -s --block-size=1G "$dir" 2>/dev/null | cut -f1; }
[ -d "$dir" ] || exit 0
if [ "$(size_gb)" -le "$budget_gb" ]; then
    exit 0
fi
echo "target cache $(size_gb) GB > ${budget_gb} GB: pruning"
find "$dir" -type d -name incremental -prune -exec rm -rf {} +
for deps in "$dir"/*/deps "$dir"/*/*/deps; do
    [ -d "$deps" ] || continue
    # name-hash executables, newest first; keep the first of each name.
    find "$deps" -maxdepth 1 -type f -executable ! -name '*.*' -printf '%T@ %p\n' \
        | sort -rn | cut -d' ' -f2- \
        | awk '{ n = $0; sub(/.*\//, "", n); sub(/-[0-9a-f]+$/, "", n); if (seen[n]++) print }' \
        | xargs -r rm -f
done
if [ "$(size_gb)" -gt "$budget_gb" ]; then
    echo "still $(size_gb) GB: removing the cache (cold build)"
    rm -rf "$dir"
    mkdir -p "$dir"
fi
echo "target cache now $(size_gb) GB"
