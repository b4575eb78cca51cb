"""Makes one-op int8 TFLite models for each stand-alone activation at several input
quantizations (`act/<kind>_<i>.tflite`) and TFLite Micro's outputs for every int8 input code
(`act/<kind>_<i>.ref`: 256 float inputs, then 256 float outputs, little-endian f32), and
`act/softmax_unsupported.tflite` (an op the import refuses, for its error message).

The import test runs each through aedge-runtime and compares all 256 outputs bit for bit, so
the int8 LOGISTIC / TANH (gemmlowp fixed point), RELU (requantization) and RELU6 tables are
checked against TFLite Micro itself, not against float maths.

Run in the scratch environment described in make_conv_ae.py:

    /tmp/tfenv/bin/python data/tflite/make_activations.py data/tflite/act
"""
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from tflite_micro import runtime

# Representative input ranges: each gives the converter a different input scale / zero point.
RANGES = [(-8.0, 8.0), (-1.0, 3.0), (-0.3, 0.2), (-20.0, 5.0), (0.0, 12.0), (-5.5, 7.25)]
KINDS = {
    "sigmoid": lambda x: tf.keras.layers.Activation("sigmoid")(x),
    "tanh": lambda x: tf.keras.layers.Activation("tanh")(x),
    "relu": lambda x: tf.keras.layers.ReLU()(x),
    "relu6": lambda x: tf.keras.layers.ReLU(max_value=6.0)(x),
}
# An op autoencoders do not use, for the test of the import's error message.
UNSUPPORTED = {"softmax": lambda x: tf.keras.layers.Activation("softmax")(x)}


def convert(kind, lo, hi):
    inp = tf.keras.layers.Input((256,), batch_size=1)
    m = tf.keras.Model(inp, {**KINDS, **UNSUPPORTED}[kind](inp))
    conv = tf.lite.TFLiteConverter.from_keras_model(m)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(1)

    def data():
        for _ in range(50):
            x = rng.uniform(lo, hi, (1, 256)).astype(np.float32)
            x[0, 0], x[0, 1] = lo, hi
            yield [x]

    conv.representative_dataset = data
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return conv.convert()


def main():
    out = Path(sys.argv[1])
    for kind in KINDS:
        for i, (lo, hi) in enumerate(RANGES):
            blob = convert(kind, lo, hi)
            ops = [o["op_name"] for o in tf.lite.Interpreter(model_content=blob)._get_ops_details()]
            interp = tf.lite.Interpreter(model_content=blob)
            d = interp.get_tensor_details()
            q = [t for t in d if t["dtype"] == np.int8][0]["quantization"]
            scale, zp = np.float32(q[0]), int(q[1])
            # One input per int8 code: scale · (k − zp) quantizes back to k exactly.
            x = np.array([scale * np.float32(k - zp) for k in range(-128, 128)], np.float32)
            tflm = runtime.Interpreter.from_bytes(blob)
            tflm.set_input(x.reshape(1, 256), 0)
            tflm.invoke()
            y = tflm.get_output(0).astype(np.float32).reshape(256)
            (out / f"{kind}_{i}.tflite").write_bytes(blob)
            (out / f"{kind}_{i}.ref").write_bytes(x.astype("<f4").tobytes() + y.astype("<f4").tobytes())
            print(kind, i, ops, "input scale", scale, "zp", zp)
    (out / "softmax_unsupported.tflite").write_bytes(convert("softmax", -4.0, 4.0))


if __name__ == "__main__":
    main()
