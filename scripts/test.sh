#!/usr/bin/env bash
# The one test command (README, CI): installs what cargo does not, then formatting, lints,
# every test, and the no_std builds of aedge-runtime for the Cortex-M targets.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step prints its heading; the time of the one before it and a summary at the end show
# where a run's minutes go.
STEP_NAME="" STEP_START=$SECONDS RUN_START=$SECONDS SUMMARY=""
end_step() {
    if [ -n "$STEP_NAME" ]; then
        local t=$((SECONDS - STEP_START))
        printf '<== %s: %d s\n' "$STEP_NAME" "$t"
        SUMMARY+=$(printf '%6d s  %s' "$t" "$STEP_NAME")$'\n'
    fi
}
step() {
    end_step
    STEP_NAME="$*" STEP_START=$SECONDS
    printf '\n==> %s\n' "$*"
}
die() { printf '\nerror: %s\n' "$*" >&2; exit 1; }

THUMB_TARGETS=(thumbv7em-none-eabihf thumbv6m-none-eabi thumbv8m.main-none-eabihf)

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
# The firmware links through flip-link (stack overflows fault instead of corrupting memory).
command -v flip-link >/dev/null || cargo install --locked flip-link \
    || die "cannot install flip-link (run: cargo install flip-link)"

step "qemu-system-arm (firmware tests)"
bash scripts/install-qemu.sh || die "the firmware tests need qemu-system-arm (see scripts/install-qemu.sh)"

step "arm-none-eabi-gcc (the generated C firmware test)"
bash scripts/install-arm-gcc.sh || die "the C firmware test needs arm-none-eabi-gcc (see scripts/install-arm-gcc.sh)"

step "chromium (report test)"
bash scripts/install-chromium.sh || die "the report test needs chromium (see scripts/install-chromium.sh)"

step "cargo fmt --check"
cargo fmt --all -- --check
(cd firmware && cargo fmt -- --check)

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
# The cycle plugin's build for QEMU 9.0 and later (plugin API 2; the workspace builds API 1).
cargo clippy -p aedge-cycles --no-default-features --features api-v2 -- -D warnings

step "tests"
# The firmware file's QEMU runs come in the next step, with their tables printed.
cargo test --workspace -- --skip firmware_matches_the_host_in_qemu --skip full_pattern_memory

step "firmware in QEMU: device vs host, sizes and instruction counts"
# --workspace keeps the feature set of the step above, so nothing is rebuilt.
cargo test --workspace --test firmware -- --nocapture

step "no_std builds of aedge-runtime (no heap; and with alloc)"
for t in "${THUMB_TARGETS[@]}"; do
    cargo clippy -p aedge-runtime --no-default-features --release --target "$t" -- -D warnings
    cargo clippy -p aedge-runtime --no-default-features --features alloc --release --target "$t" -- -D warnings
    cargo build -p aedge-runtime --no-default-features --release --target "$t"
    cargo clippy -p aedge-runtime --no-default-features --features defmt --release --target "$t" -- -D warnings
    # The C ABI (aedge generate c builds it as a static library).
    cargo clippy -p aedge-capi --release --target "$t" -- -D warnings
done

step "aarch64 hosts: the runtime's tests under qemu-aarch64 (NEON with and without sdot)"
bash scripts/install-aarch64.sh || die "the aarch64 tests need qemu-aarch64 and an aarch64 linker (see scripts/install-aarch64.sh)"
(
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
    cargo clippy -p aedge-runtime --target aarch64-unknown-linux-gnu --all-targets -- -D warnings
    # QEMU's default CPU ("max") has the dot-product extension: every level runs.
    cargo test -p aedge-runtime --target aarch64-unknown-linux-gnu
    # A Cortex-A72 has NEON without sdot: the detection must not pick the sdot build.
    QEMU_CPU=cortex-a72 cargo test -p aedge-runtime --target aarch64-unknown-linux-gnu --test isa -- --nocapture
)

step "firmware: clippy, and builds for QEMU and both boards"
(
    cd firmware
    # The firmware is its own workspace; share the host's target dir when one is set.
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/firmware"
    cargo clippy --release -- -D warnings
    # The runtime's device tests (defmt-test) on QEMU: a failing test exits QEMU with 101.
    cargo clippy -p aedge-firmware-testsuite --tests -- -D warnings
    cargo test -p aedge-firmware-testsuite
    for board in nrf52840-dk nucleo-l4r5zi; do
        cargo clippy --release --no-default-features --features "$board" -- -D warnings
        cargo build --release --no-default-features --features "$board"
    done
)

step "rustdoc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

step "GPU test: burn-wgpu trains like the CPU backend, on lavapipe"
# burn-wgpu changes the features of crates every other test shares, so its build is a second
# tree (about 13 minutes cold on 2 cores with the CLI, even unoptimised: the gpu-test profile in
# Cargo.toml). A cold run skips it when it would push the whole run past the time budget; the
# next run, warm, builds it. AEDGE_GPU_TEST=1 always runs it, AEDGE_GPU_TEST=0 never does.
GPU_STAMP="${CARGO_TARGET_DIR:-target}/gpu-test/.aedge-gpu-test-built"
BUDGET_MIN="${AEDGE_TIME_BUDGET_MIN:-45}"
# Build and run: about 13 min of build and 5 of tests (the data-parallel ones train on two
# lavapipe devices).
GPU_COLD_MIN=18
gpu=${AEDGE_GPU_TEST:-auto}
if [ "$gpu" = auto ]; then
    if [ -f "$GPU_STAMP" ]; then
        gpu=1
    elif [ $(( (SECONDS - RUN_START) / 60 + GPU_COLD_MIN )) -le "$BUDGET_MIN" ]; then
        echo "the GPU test's build is not cached; building and running it (about $GPU_COLD_MIN min) fits the ${BUDGET_MIN}-min budget"
        gpu=1
    else
        echo "SKIPPED: the GPU test's build is not cached, and building and running it (about $GPU_COLD_MIN min) would take this run past ${BUDGET_MIN} min."
        echo "         The next run builds it; AEDGE_GPU_TEST=1 bash scripts/test.sh runs it now."
        gpu=0
    fi
fi
if [ "$gpu" = 1 ]; then
    bash scripts/install-lavapipe.sh || die "the GPU test needs Mesa's lavapipe (see scripts/install-lavapipe.sh)"
    # Minimal autotuning: lavapipe would otherwise spend half the test timing kernel variants
    # whose speed on a software renderer means nothing. Both cargo calls see the same
    # environment, so the second does not rebuild anything.
    export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}" CUBECL_AUTOTUNE_LEVEL=minimal
    # Built first, so the stamp is written only for a build that succeeded. The trainer's
    # test and the CLI's (`aedge train --device wgpu`) share one build of the GPU tree.
    cargo test --profile gpu-test -p aedge-trainer -p aedge --features aedge-trainer/wgpu,aedge/wgpu --test gpu --no-run
    mkdir -p "$(dirname "$GPU_STAMP")" && touch "$GPU_STAMP"
    cargo test --profile gpu-test -p aedge-trainer -p aedge --features aedge-trainer/wgpu,aedge/wgpu --test gpu -- --nocapture
fi

end_step
printf '\nwhere the time went:\n%s%6d s  in all\n' "$SUMMARY" "$((SECONDS - RUN_START))"
if [ "$gpu" = 1 ]; then
    printf '\nall checks passed\n'
else
    printf '\nall checks passed but the GPU test, which was skipped (see above)\n'
fi
