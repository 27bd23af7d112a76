#!/usr/bin/env python3
"""Makes the external ONNX fixtures for matpac-runtime's engine tests.

Builds a small float DS-CNN with the `onnx` package (strided first conv,
depthwise-separable blocks, global average pool, linear head with bias,
sigmoid), quantises it with onnxruntime's `quantize_static` (per-channel int8
weights, int8 activations, MinMax calibration on random data) in both forms:

* ``dscnn_qop.onnx``: QOperator, restricted to standard-domain ops
  (``op_types_to_quantize=["Conv", "MatMul"]`` → QLinearConv/QLinearMatMul;
  Relu, GlobalAveragePool, Flatten, Add and Sigmoid stay float between
  DequantizeLinear/QuantizeLinear);
* ``dscnn_qdq.onnx``: QDQ (DequantizeLinear → Conv/MatMul/… → QuantizeLinear).

For each it saves a few inputs (``inputs.npy``, float32 [n, 1, 1, 40, 32]) and
onnxruntime's outputs (``<name>_ort.npy``, float32 [n, 1, 10]) and, for the
tolerance, the scale of the last DequantizeLinear (``<name>_step.txt``).
Everything lands in runtime/tests/fixtures/onnx/ and is committed; the Rust
tests read it without Python.

Usage: python3 tools/make_onnx_fixtures.py   (needs onnx, onnxruntime, numpy)
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import onnxruntime as ort
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)

OUT = os.path.join(os.path.dirname(__file__), "..", "runtime", "tests", "fixtures", "onnx")
INPUT_SHAPE = [1, 1, 40, 32]  # batch, channel, mels, frames
CLASSES = 10
SEED = 20261125


def conv(nodes, inits, rng, name, x, c_in, c_out, k, stride, group=1, relu=True):
    w = rng.normal(0, np.sqrt(2.0 / (c_in // group * k * k)), (c_out, c_in // group, k, k)).astype(np.float32)
    b = rng.normal(0, 0.1, (c_out,)).astype(np.float32)
    inits += [numpy_helper.from_array(w, f"{name}.w"), numpy_helper.from_array(b, f"{name}.b")]
    pad = k // 2
    nodes.append(
        helper.make_node(
            "Conv", [x, f"{name}.w", f"{name}.b"], [f"{name}.conv"], name=name,
            kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=group,
        )
    )
    if not relu:
        return f"{name}.conv"
    nodes.append(helper.make_node("Relu", [f"{name}.conv"], [f"{name}.relu"], name=f"{name}.relu"))
    return f"{name}.relu"


def float_model():
    rng = np.random.default_rng(SEED)
    nodes, inits = [], []
    x = conv(nodes, inits, rng, "stem", "features", 1, 8, 3, 2)            # 8 × 20 × 16
    x = conv(nodes, inits, rng, "dw1", x, 8, 8, 3, 1, group=8)
    x = conv(nodes, inits, rng, "pw1", x, 8, 16, 1, 1)
    x = conv(nodes, inits, rng, "dw2", x, 16, 16, 3, 2, group=16)          # 16 × 10 × 8
    x = conv(nodes, inits, rng, "pw2", x, 16, 16, 1, 1)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flatten", axis=1))
    w = rng.normal(0, 0.3, (16, CLASSES)).astype(np.float32)
    b = rng.normal(0, 0.1, (CLASSES,)).astype(np.float32)
    inits += [numpy_helper.from_array(w, "fc.w"), numpy_helper.from_array(b, "fc.b")]
    nodes.append(helper.make_node("MatMul", ["flat", "fc.w"], ["fc.mm"], name="fc"))
    nodes.append(helper.make_node("Add", ["fc.mm", "fc.b"], ["logits"], name="fc.bias"))
    nodes.append(helper.make_node("Sigmoid", ["logits"], ["scores"], name="sigmoid"))
    graph = helper.make_graph(
        nodes, "dscnn",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, INPUT_SHAPE)],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, CLASSES])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_onnx_fixtures")
    model.ir_version = 8
    onnx.helper.set_model_props(model, {"class_names": ",".join(f"c{i}" for i in range(CLASSES)), "source": "tools/make_onnx_fixtures.py"})
    onnx.checker.check_model(model)
    return model


def features(rng, n):
    # Log-mel-like values: smooth in frequency, about the range of standardised features.
    base = rng.normal(0, 1, (n, 1, 40, 1)).astype(np.float32)
    return (base + 0.5 * rng.normal(0, 1, (n, *INPUT_SHAPE[1:]))).astype(np.float32)


class Reader(CalibrationDataReader):
    def __init__(self, data):
        self.it = iter([{"features": d[None]} for d in data])

    def get_next(self):
        return next(self.it, None)


def last_dequantize_scale(path):
    m = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    dq = [n for n in m.graph.node if n.op_type == "DequantizeLinear" and n.input[0] not in inits]
    return float(np.asarray(inits[dq[-1].input[1]]).reshape(-1)[0])


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(SEED + 1)
    fp = os.path.join(OUT, "dscnn_float.onnx")
    onnx.save(float_model(), fp)
    calib = features(rng, 32)
    inputs = features(rng, 4)
    np.save(os.path.join(OUT, "inputs.npy"), inputs)
    common = dict(per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    forms = {
        "dscnn_qop": dict(quant_format=QuantFormat.QOperator, op_types_to_quantize=["Conv", "MatMul"]),
        "dscnn_qdq": dict(
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["Conv", "MatMul", "Add", "GlobalAveragePool", "Flatten", "Relu"],
        ),
    }
    for name, opts in forms.items():
        path = os.path.join(OUT, f"{name}.onnx")
        quantize_static(fp, path, Reader(calib), **common, **opts)
        m = onnx.load(path)
        domains = {n.domain for n in m.graph.node}
        assert domains <= {"", "ai.onnx"}, f"{name}: non-standard domains {domains}"
        onnx.helper.set_model_props(m, {"class_names": ",".join(f"c{i}" for i in range(CLASSES)), "form": name})
        onnx.save(m, path)
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        outs = np.stack([sess.run(None, {"features": x[None]})[0] for x in inputs]).astype(np.float32)
        np.save(os.path.join(OUT, f"{name}_ort.npy"), outs)
        step = last_dequantize_scale(path)
        with open(os.path.join(OUT, f"{name}_step.txt"), "w") as f:
            f.write(f"{step!r}\n")
        print(name, "ops:", sorted({n.op_type for n in m.graph.node}), "step", step, file=sys.stderr)
    # The float model is only an intermediate.
    os.remove(fp)


if __name__ == "__main__":
    main()
