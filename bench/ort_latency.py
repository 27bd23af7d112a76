#!/usr/bin/env python3
"""Mean onnxruntime latency of one run per model, one thread.

Used by `cargo bench -p matpac-runtime --features tract --bench engine`, which
runs it on the same files and the same input as the runtime and tract and
prints the ratios. Prints one line per model: `PATH MEAN_NS`.

    python3 bench/ort_latency.py ITERS MODEL.onnx [MODEL.onnx ...]

Needs numpy and onnxruntime. The input is the benchmark's deterministic one:
element i = ((i * 37) % 101) / 50 - 1, in the model input's shape.
"""
import sys
import time

import numpy as np
import onnxruntime as ort


def mean_ns(path, iters):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    n = int(np.prod(shape))
    x = ((np.arange(n) * 37 % 101) / 50.0 - 1.0).astype(np.float32).reshape(shape)
    feed = {inp.name: x}
    for _ in range(iters // 10 + 1):
        sess.run(None, feed)
    # Best of three timed blocks: the same noise rejection for every engine.
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter_ns()
        for _ in range(iters):
            sess.run(None, feed)
        best = min(best, (time.perf_counter_ns() - t) / iters)
    return best


def main():
    iters = int(sys.argv[1])
    for path in sys.argv[2:]:
        print(f"{path} {mean_ns(path, iters):.0f}", flush=True)


if __name__ == "__main__":
    main()
