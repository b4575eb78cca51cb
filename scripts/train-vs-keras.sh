#!/usr/bin/env bash
# Training speed, aedge against Keras 3 on JAX (CPU), side by side in one run: the seeds' dense
# AE and the Keras blog's conv AE (aedge's seed-dense and keras-conv presets, the same layers,
# Adam, BCE and batch sizes), on the first COUNT Fashion-MNIST training images (90 % train,
# as aedge's validation share), EPOCHS epochs each; the median samples/s of the epochs after
# the first (JIT compilation, warm-up), training steps only, for both.
#
#   bash scripts/train-vs-keras.sh [--data DIR] [--count N] [--epochs E]
#
# DIR holds fashion-mnist/train-images-idx3-ubyte.gz (as ../shared/data). Keras and JAX are
# installed with pip into a scratch virtual environment (AEDGE_KERAS_VENV, by default
# ~/.cache/aedge/keras-venv; about 700 MB) on first use; nothing else needs Python.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=../shared/data COUNT=20000 EPOCHS=4
while [ $# -gt 0 ]; do
    case "$1" in
        --data) DATA=$2; shift 2 ;;
        --count) COUNT=$2; shift 2 ;;
        --epochs) EPOCHS=$2; shift 2 ;;
        *) echo "error: unknown argument $1 (--data DIR, --count N, --epochs E)" >&2; exit 2 ;;
    esac
done
IMAGES="$DATA/fashion-mnist/train-images-idx3-ubyte.gz"
[ -f "$IMAGES" ] || { echo "error: $IMAGES is missing (pass --data DIR holding fashion-mnist/)" >&2; exit 1; }
[ "$EPOCHS" -ge 2 ] || { echo "error: --epochs must be at least 2 (the first is warm-up)" >&2; exit 2; }

VENV=${AEDGE_KERAS_VENV:-$HOME/.cache/aedge/keras-venv}
if [ ! -x "$VENV/bin/python" ] || ! KERAS_BACKEND=jax "$VENV/bin/python" -c "import keras, jax" 2>/dev/null; then
    echo "installing Keras and JAX into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "keras==3.15.1" "jax[cpu]==0.10.2"
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# The first COUNT images as an IDX file of their own, for aedge.
python3 - "$IMAGES" "$COUNT" "$WORK/images.idx.gz" <<'PY'
import gzip, struct, sys
src, count, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with gzip.open(src, "rb") as f:
    magic, n, h, w = struct.unpack(">IIII", f.read(16))
    n = min(n, count)
    body = f.read(n * h * w)
with gzip.open(dst, "wb") as f:
    f.write(struct.pack(">IIII", magic, n, h, w) + body)
PY

cargo build --release -q -p aedge
AEDGE=${CARGO_TARGET_DIR:-target}/release/aedge
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

CPU=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed 's/^ //' || uname -m)
FLAGS=$(grep -m1 "^flags" /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx2|fma|avx512f|avx512_vnni|avx_vnni' | tr '\n' ' ' || true)
echo "CPU: $CPU (${FLAGS:-no AVX2}), $(nproc) threads; $COUNT images, $EPOCHS epochs, median of epochs 2..$EPOCHS"
echo "| preset | aedge samples/s | Keras (JAX) samples/s | aedge / Keras |"
echo "|---|---:|---:|---:|"
for preset in seed-dense keras-conv; do
    "$AEDGE" train --preset "$preset" --data "$WORK/images.idx.gz" --epochs "$EPOCHS" \
        --out "$WORK/$preset" --quiet
    ours=$(tail -n +3 "$WORK/$preset/metrics.csv" | cut -d, -f6 | median)
    theirs=$(KERAS_BACKEND=jax "$VENV/bin/python" scripts/keras_train.py "$preset" "$IMAGES" "$COUNT" "$EPOCHS" \
        | awk 'NR > 1 { print $3 }' | median)
    awk -v p="$preset" -v a="$ours" -v b="$theirs" 'BEGIN { printf "| %s | %.0f | %.0f | %.2f× |\n", p, a, b, a / b }'
done
