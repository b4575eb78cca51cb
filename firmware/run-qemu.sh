#!/usr/bin/env bash
# cargo runner: runs the firmware on QEMU's mps2-an386 (Cortex-M4F) and decodes its defmt
# output with defmt-print when it is installed (`cargo install defmt-print`); otherwise the
# raw frames go to <elf>.defmt. `-icount shift=6` makes the timer count guest instructions
# (insns = ticks * 5 / 8), so timing figures are deterministic.
set -u
ELF="$1"
command -v qemu-system-arm >/dev/null || { echo "qemu-system-arm not found: run scripts/install-qemu.sh" >&2; exit 127; }
run() {
  timeout "${AEDGE_QEMU_TIMEOUT:-120}" qemu-system-arm -cpu cortex-m4 -machine mps2-an386 \
    -nographic -semihosting-config enable=on,target=native -icount shift=6 -kernel "$ELF"
}
if command -v defmt-print >/dev/null; then
  run | defmt-print -e "$ELF"
  exit "${PIPESTATUS[0]}"
else
  run > "$ELF.defmt"
  code=$?
  echo "defmt frames written to $ELF.defmt (install defmt-print to decode, or run from the repository root: cargo run --release -p aedge-tests --example firmware -- --decode $ELF $ELF.defmt)" >&2
  exit $code
fi
