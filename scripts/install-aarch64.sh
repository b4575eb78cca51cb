#!/usr/bin/env bash
# Installs what the aarch64 kernel tests need (Debian/Ubuntu: apt; root or sudo) unless it is
# already there: the Rust target aarch64-unknown-linux-gnu, a linker for it
# (gcc-aarch64-linux-gnu with its C library) and QEMU's user-mode emulator (qemu-aarch64),
# which runs the test binaries on this x86-64 machine.
set -euo pipefail
if command -v rustup >/dev/null; then
    rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
        || rustup target add aarch64-unknown-linux-gnu
fi
[ -d "$(rustc --print sysroot)/lib/rustlib/aarch64-unknown-linux-gnu" ] \
    || { echo "error: the Rust target aarch64-unknown-linux-gnu is missing (rustup target add aarch64-unknown-linux-gnu)" >&2; exit 1; }
if command -v qemu-aarch64 >/dev/null && command -v aarch64-linux-gnu-gcc >/dev/null \
    && [ -d /usr/aarch64-linux-gnu/lib ]; then
    qemu-aarch64 --version | head -1
    exit 0
fi
bash "$(dirname "$0")/apt-install.sh" "qemu-aarch64 or aarch64-linux-gnu-gcc" "install QEMU's user-mode emulator and an aarch64 Linux cross linker yourself" qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
qemu-aarch64 --version | head -1
