"""Trains the Keras models aedge's presets mirror, for scripts/train-vs-keras.sh.

Usage: keras_train.py PRESET IMAGES.idx.gz COUNT EPOCHS

PRESET is seed-dense or keras-conv. The first COUNT images are read and the first 90 % train
(aedge's `validation = 0.1` holds out the same share). Prints one line per epoch, `epoch N: S
samples/s`, timing the training steps only, as aedge's metrics.csv does: JAX dispatches steps
asynchronously, so each epoch's clock stops only once its weights are computed.
"""

import gzip
import os
import struct
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402


def read_images(path, count):
    with gzip.open(path, "rb") as f:
        magic, n, h, w = struct.unpack(">IIII", f.read(16))
        if magic != 2051:
            sys.exit(f"{path}: not an IDX image file")
        n = min(n, count)
        data = np.frombuffer(f.read(n * h * w), dtype=np.uint8)
    return data.reshape(n, h, w, 1).astype("float32") / 255.0


def model(preset):
    if preset == "seed-dense":
        # 784-36-784, ReLU code, sigmoid output; Adam 1e-3, BCE, batch 256 (trainer/presets).
        x = keras.Input((28, 28, 1))
        y = keras.layers.Flatten()(x)
        y = keras.layers.Dense(36, activation="relu")(y)
        y = keras.layers.Dense(784, activation="sigmoid")(y)
        y = keras.layers.Reshape((28, 28, 1))(y)
        return keras.Model(x, y), 256
    if preset == "keras-conv":
        # The Keras blog's conv AE: Conv16/8/8 + MaxPool to 4x4x8, Conv + UpSampling back, the
        # third decoder conv "valid" (16 -> 14); Adam 1e-3, BCE, batch 128.
        conv = lambda c, **k: keras.layers.Conv2D(c, 3, activation="relu", padding="same", **k)  # noqa: E731
        x = keras.Input((28, 28, 1))
        y = conv(16)(x)
        y = keras.layers.MaxPooling2D(2, padding="same")(y)
        y = conv(8)(y)
        y = keras.layers.MaxPooling2D(2, padding="same")(y)
        y = conv(8)(y)
        y = keras.layers.MaxPooling2D(2, padding="same")(y)
        y = conv(8)(y)
        y = keras.layers.UpSampling2D(2)(y)
        y = conv(8)(y)
        y = keras.layers.UpSampling2D(2)(y)
        y = keras.layers.Conv2D(16, 3, activation="relu")(y)
        y = keras.layers.UpSampling2D(2)(y)
        y = keras.layers.Conv2D(1, 3, activation="sigmoid", padding="same")(y)
        return keras.Model(x, y), 128
    sys.exit(f"unknown preset {preset} (seed-dense or keras-conv)")


class Timer(keras.callbacks.Callback):
    def __init__(self, samples):
        super().__init__()
        self.samples = samples

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        jax.block_until_ready([v.value for v in self.model.trainable_variables])
        seconds = time.perf_counter() - self.start
        print(f"epoch {self.epoch + 1}: {self.samples / seconds:.1f} samples/s", flush=True)


def main():
    preset, path, count, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    x = read_images(path, count)
    n = len(x) - len(x) // 10
    m, batch = model(preset)
    m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    m.fit(
        x[:n],
        x[:n],
        epochs=epochs,
        batch_size=batch,
        shuffle=True,
        callbacks=[Timer(n)],
        verbose=0,
    )


if __name__ == "__main__":
    main()
