"""Makes `conv_ae_int8.tflite`, a small int8 convolutional autoencoder, and the TFLite Micro
reference outputs the import test compares against (`conv_ae_ref.bin`).

Run once in a scratch environment (nothing in the repo's build or tests needs Python):

    python3 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu tflite-micro numpy
    /tmp/tfenv/bin/python data/tflite/make_conv_ae.py ../shared/data/fashion-mnist data/tflite

Made with tensorflow-cpu 2.21.0 and tflite-micro 0.dev20261023182759 (PyPI).

The model is trained for ten epochs on 8,000 Fashion-MNIST training images, so its weights and
activation ranges are realistic, then converted with full-integer post-training quantization
(int8 weights per channel, int8 activations, float input and output through QUANTIZE and
DEQUANTIZE). It exercises every op `aedge import` supports that the Keras converter emits for
an autoencoder: CONV_2D, DEPTHWISE_CONV_2D, MAX_POOL_2D, AVERAGE_POOL_2D, FULLY_CONNECTED,
RESHAPE, TRANSPOSE_CONV, RESIZE_NEAREST_NEIGHBOR, LOGISTIC, TANH, fused RELU and RELU6,
QUANTIZE and DEQUANTIZE.

`conv_ae_ref.bin` holds, little-endian: u32 sample count n, u32 values per sample (784), then
n inputs (f32), then the n outputs TFLite Micro's interpreter computed for them (f32).
"""
import gzip
import struct
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from tflite_micro import runtime


def idx_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    n, h, w = struct.unpack(">III", data[4:16])
    return np.frombuffer(data, np.uint8, offset=16).reshape(n, h, w, 1).astype(np.float32) / 255.0


def model():
    L = tf.keras.layers
    x = inp = L.Input((28, 28, 1), batch_size=1)
    x = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = L.MaxPooling2D(2)(x)  # 14x14x8
    x = L.DepthwiseConv2D(3, padding="same")(x)
    x = L.ReLU(max_value=6.0)(x)
    x = L.Conv2D(4, 3, strides=2, padding="same", activation="relu")(x)  # 7x7x4
    x = L.AveragePooling2D(2, strides=1, padding="same")(x)
    x = L.Flatten()(x)
    x = L.Dense(16)(x)
    x = L.Activation("tanh")(x)  # the code
    x = L.Dense(7 * 7 * 4, activation="relu")(x)
    x = L.Reshape((7, 7, 4))(x)
    x = L.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(x)  # 14x14x8
    x = L.Resizing(28, 28, interpolation="nearest")(x)  # 28x28x8
    x = L.Conv2D(1, 3, padding="same")(x)
    x = L.Activation("sigmoid")(x)
    return tf.keras.Model(inp, x)


def main():
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    tf.keras.utils.set_random_seed(7)
    images = idx_images(src / "train-images-idx3-ubyte.gz")[:8000]
    m = model()
    m.compile(optimizer="adam", loss="binary_crossentropy")
    m.fit(images, images, batch_size=32, epochs=10, verbose=2, shuffle=True)

    conv = tf.lite.TFLiteConverter.from_keras_model(m)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([images[i : i + 1]] for i in range(200))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    blob = conv.convert()
    ops = tf.lite.Interpreter(model_content=blob)._get_ops_details()
    print("ops:", " ".join(o["op_name"] for o in ops))
    (out / "conv_ae_int8.tflite").write_bytes(blob)

    # Inputs: four held-out images and a synthetic pattern covering the whole input range.
    test = idx_images(src / "t10k-images-idx3-ubyte.gz")[:4]
    synth = np.array([((i * 37 + 11) % 256) / 255.0 for i in range(784)], np.float32)
    xs = np.concatenate([test.reshape(4, 784), synth.reshape(1, 784)]).astype(np.float32)
    interp = runtime.Interpreter.from_bytes(blob)
    ys = []
    for x in xs:
        interp.set_input(x.reshape(1, 28, 28, 1), 0)
        interp.invoke()
        ys.append(interp.get_output(0).astype(np.float32).reshape(784))
    ys = np.stack(ys)
    with open(out / "conv_ae_ref.bin", "wb") as f:
        f.write(struct.pack("<II", len(xs), 784))
        f.write(xs.astype("<f4").tobytes())
        f.write(ys.astype("<f4").tobytes())
    print("outputs: sum", float(ys.sum()), "first", ys[0, 200:208])


if __name__ == "__main__":
    main()
