"""Each convolution of nst's step alone: direct vs Winograd's F(4x4) and F(6x6), as effective GFLOP/s
(``nst.bench --layers``).

For every 3x3 convolution the exercise's step runs (conv1_1 ... conv5_1, forward and input
gradient; the gradient is the forward convolution with the flipped kernel, the way nst computes
it), on the real activations of the exercise's content picture:

    effective GFLOP/s = direct-convolution FLOPs (2·H·W·9·C·K) / seconds

so an algorithm doing fewer multiplications (Winograd) can exceed the machine's matmul rate;
the table gives it as a percentage of the 4096² float32 matmul measured in the same run.
"""

import statistics
import time

import tensorflow as tf

from nst import config
from nst.engine.run import load_weights
from nst.images import load_image
from nst.kernels import winograd
from nst.kernels.convolution import FastKernels, flip_kernel
from nst.vgg import VGGGraph


def _median_seconds(function, runs):
    function().numpy()  # traces (and compiles the XLA part) once
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function().numpy()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def layer_rows(weights_path, height, width, runs=5, last="conv5_1"):
    """[{layer, pass, shape, gflop, direct_ms, winograd_ms, winograd6_ms, used}] for each convolution up to ``last``.

    winograd_ms is F(4x4, 3x3)'s, winograd6_ms F(6x6, 3x3)'s; used: "direct", "F4" or "F6", what nst's
    step (``FastKernels.tile_for``) runs.
    """
    weights = load_weights(weights_path)
    graph = VGGGraph(weights, height, width)  # TensorFlow's own convolutions: the activations as the exercise has them
    kernels = FastKernels(weights)
    layers = graph.layers[: graph.layers.index(last) + 1]
    content = load_image(config.CONTENT_IMAGE, height, width)
    acts = graph.forward(content, layers)
    previous, rows = tf.constant(content, tf.float32), []
    for name in layers:
        if name.startswith("conv"):
            W = tf.constant(weights[name][0])
            for which, kernel, x in (("forward", W, previous), ("gradient", flip_kernel(W), acts[name])):
                _, h, w, c = x.shape
                k = kernel.shape[-1]
                U4, U6 = (tf.constant(winograd.transform_kernel(kernel.numpy(), m), tf.float32) for m in (4, 6))
                direct = tf.function(lambda x=x, kernel=kernel: tf.nn.conv2d(x, kernel, 1, "SAME"))
                fast = tf.function(lambda x=x, U=U4: winograd.conv3x3(x, U))
                fast6 = tf.function(lambda x=x, U=U6: winograd.conv3x3(x, U))
                m = kernels.tile_for(kernel)
                rows.append(
                    {
                        "layer": name,
                        "pass": which,
                        "shape": f"{h}x{w} {c}->{k}",
                        "gflop": 2 * h * w * 9 * c * k / 1e9,
                        "direct_ms": 1e3 * _median_seconds(direct, runs),
                        "winograd_ms": 1e3 * _median_seconds(fast, runs),
                        "winograd6_ms": 1e3 * _median_seconds(fast6, runs),
                        "used": "direct" if m is None else f"F{m}",
                    }
                )
        previous = acts[name]
    return rows


def format_layers(rows, matmul_gflops):
    """The table: per convolution, ms and effective GFLOP/s of each algorithm, and % of the matmul rate."""
    lines = [
        f"{'layer':8} {'pass':8} {'shape':18} {'GFLOP':>6} {'direct ms':>9} {'GFLOP/s':>8} "
        f"{'F4 ms':>7} {'eff GFLOP/s':>11} {'F6 ms':>7} {'eff GFLOP/s':>11} {'% matmul':>8}  used"
    ]
    ms = {"direct": "direct_ms", "F4": "winograd_ms", "F6": "winograd6_ms"}
    totals = {"direct": 0.0, "used": 0.0}
    for r in rows:
        rates = {name: r["gflop"] / r[key] * 1e3 for name, key in ms.items()}
        totals["direct"] += r["direct_ms"]
        totals["used"] += r[ms[r["used"]]]
        lines.append(
            f"{r['layer']:8} {r['pass']:8} {r['shape']:18} {r['gflop']:6.2f} {r['direct_ms']:9.1f} "
            f"{rates['direct']:8.0f} {r['winograd_ms']:7.1f} {rates['F4']:11.0f} {r['winograd6_ms']:7.1f} "
            f"{rates['F6']:11.0f} {100 * rates[r['used']] / matmul_gflops:7.0f}%  {r['used']}"
        )
    gflop = sum(r["gflop"] for r in rows)
    lines.append(
        f"all {len(rows)} convolutions, {gflop:.1f} GFLOP: direct {totals['direct']:.0f} ms "
        f"({gflop / totals['direct'] * 1e3:.0f} GFLOP/s), nst's choice {totals['used']:.0f} ms "
        f"({gflop / totals['used'] * 1e3:.0f} effective GFLOP/s, "
        f"{100 * gflop / totals['used'] * 1e3 / matmul_gflops:.0f}% of the matmul's {matmul_gflops:.0f})"
    )
    return "\n".join(lines)
