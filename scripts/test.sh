#!/usr/bin/env bash
# The one test command (README, CI): installs what cargo does not, then formatting, lints,
# every test, and the no_std builds of aedge-runtime for the Cortex-M targets.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
die() { printf '\nerror: %s\n' "$*" >&2; exit 1; }

THUMB_TARGETS=(thumbv7em-none-eabihf thumbv6m-none-eabi)

step "toolchain and targets"
command -v cargo >/dev/null || die "cargo not found; install Rust from https://rustup.rs"
if command -v rustup >/dev/null; then
    installed=$(rustup target list --installed)
    for t in "${THUMB_TARGETS[@]}"; do
        if ! grep -qx "$t" <<<"$installed"; then
            rustup target add "$t" || die "cannot install the Rust target $t (run: rustup target add $t)"
        fi
    done
    rustup component list --installed | grep -q '^clippy' || rustup component add clippy rustfmt \
        || die "cannot install clippy/rustfmt (run: rustup component add clippy rustfmt)"
else
    for t in "${THUMB_TARGETS[@]}"; do
        [ -d "$(rustc --print sysroot)/lib/rustlib/$t" ] || die "Rust target $t is missing and rustup is not available to install it"
    done
fi
cargo --version

step "qemu-system-arm (firmware tests)"
bash scripts/install-qemu.sh || die "the firmware tests need qemu-system-arm (see scripts/install-qemu.sh)"

step "chromium (report test)"
bash scripts/install-chromium.sh || die "the report test needs chromium (see scripts/install-chromium.sh)"

step "cargo fmt --check"
cargo fmt --all -- --check
(cd firmware && cargo fmt -- --check)

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "lavapipe (Vulkan on the CPU, for the wgpu test)"
bash scripts/install-lavapipe.sh || die "the GPU test needs Mesa's lavapipe (see scripts/install-lavapipe.sh)"

step "tests (burn-wgpu compiled in, so the GPU path runs on lavapipe)"
# One feature set for every test step, so the heavy dependencies are built once.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
cargo test --workspace --features aedge-trainer/wgpu -- --skip firmware_matches_the_host_in_qemu

step "firmware in QEMU: device vs host, sizes and instruction counts"
# --workspace keeps the feature set of the step above, so nothing is rebuilt.
cargo test --workspace --features aedge-trainer/wgpu --test firmware -- --nocapture

step "no_std builds of aedge-runtime (no heap; and with alloc)"
for t in "${THUMB_TARGETS[@]}"; do
    cargo clippy -p aedge-runtime --no-default-features --release --target "$t" -- -D warnings
    cargo clippy -p aedge-runtime --no-default-features --features alloc --release --target "$t" -- -D warnings
    cargo build -p aedge-runtime --no-default-features --release --target "$t"
done

step "firmware: clippy, and builds for QEMU and both boards"
(
    cd firmware
    # The firmware is its own workspace; share the host's target dir when one is set.
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/firmware"
    cargo clippy --release -- -D warnings
    for board in nrf52840-dk nucleo-l4r5zi; do
        cargo clippy --release --no-default-features --features "$board" -- -D warnings
        cargo build --release --no-default-features --features "$board"
    done
)

step "rustdoc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

printf '\nall checks passed\n'
