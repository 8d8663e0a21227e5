"""The benchmark runs and reports; every faster path computes what the plain one does."""

import json

import numpy as np
import pytest
import tensorflow as tf

from nst import bench, config
from nst.bench.baseline import conv_gflop, make_baseline_step
from nst.engine.runtime import configure_threads
from nst.errors import NSTError
from nst.kernels import FastKernels
from nst.kernels.convolution import conv_relu, flip_kernel
from nst.kernels.precision import PRECISIONS, compute_dtype
from nst.vgg import VGGGraph
from nst.vgg_files import read_vgg19_weights

STYLE_NAMES = [name for name, _ in config.STYLE_LAYERS]


@pytest.fixture(scope="module")
def weights(weights_h5):
    return read_vgg19_weights(weights_h5)


@pytest.mark.slow
def test_benchmark_writes_the_table_and_json(weights_h5, tmp_path, capsys):
    path = tmp_path / "bench.json"
    code = bench.main(
        [
            "--sizes",
            "32x48",
            "--steps",
            "2",
            "--warmup",
            "1",
            "--variants",
            "fp32,fp32-tfgrad",
            "--model",
            str(weights_h5),
            "--matmul-size",
            "256",
            "--rss-size",
            "32x32",
            "--quality",
            "--quality-iterations",
            "2",
            "--json",
            str(path),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    report = json.loads(path.read_text())
    assert {"tensorflow", "cpus", "threads", "onednn", "matmul_gflops", "load_before", "load_after"} <= set(
        report["machine"]
    )
    assert report["machine"]["matmul_gflops"] > 0
    assert report["peak_rss_mb"] > 100 and report["ru_maxrss_mb"] > 0
    assert [row["variant"] for row in report["rows"]] == ["baseline", "fp32", "fp32-tfgrad"]
    for row in report["rows"]:
        assert row["size"] == "32x48" and row["steps"] == 3
        assert row["s_per_step"] > 0 and row["cpu_s_per_step"] > 0 and row["gflops"] > 0
        assert row["conv_gflop_per_step"] == pytest.approx(conv_gflop(32, 48), rel=0.02)
        assert np.isfinite(row["J"])
        assert row["variant"] in printed
    fp32, tfgrad = report["rows"][1:]
    assert fp32["J_rel_vs_fp32"] == 0.0 and tfgrad["J_rel_vs_fp32"] < 1e-4
    assert [q["optimizer"] for q in report["quality"]] == ["adam", "lbfgs", "quality preset"]
    adam = report["quality"][0]
    assert adam["target_J"] == adam["final_J"] and adam["iterations"] <= 2 and adam["seconds"] > 0


def test_unknown_variant_is_refused():
    with pytest.raises(NSTError, match="unknown"):
        bench.main(["--variants", "fp32,fp64", "--rss-size", "none"])


def test_conv_flop_count():
    # 300x400: conv1 at 300x400, conv2 at 150x200, conv3 at 75x100, conv4 at 38x50, conv5_1 at 19x25.
    layers = (
        [(300 * 400, 3, 64), (300 * 400, 64, 64), (150 * 200, 64, 128), (150 * 200, 128, 128), (75 * 100, 128, 256)]
        + [(75 * 100, 256, 256)] * 3
        + [(38 * 50, 256, 512)]
        + [(38 * 50, 512, 512)] * 3
        + [(19 * 25, 512, 512)]
    )
    forward = sum(2 * pixels * 9 * c_in * c_out for pixels, c_in, c_out in layers)
    assert conv_gflop(300, 400) == pytest.approx(2 * forward / 1e9)
    assert conv_gflop(300, 400, same_pooling=False) < conv_gflop(300, 400)  # Keras: 75 -> 37 rows
    assert conv_gflop(512, 512, same_pooling=False) == conv_gflop(512, 512)


def _plain_cost_and_gradient(weights, image, layers, a_C, a_S):
    """J and dJ/dimage with the textbook formula: conv2d + bias + relu, TensorFlow's gradient."""
    image = tf.constant(image)
    with tf.GradientTape() as tape:
        tape.watch(image)
        x, acts = image, {}
        for name in layers:
            if name.startswith("conv"):
                W, b = weights[name]
                x = tf.nn.relu(tf.nn.conv2d(x, W, 1, "SAME") + b)
            else:
                x = tf.nn.avg_pool2d(x, 2, 2, "SAME")
            acts[name] = x
        J = _cost(acts, a_C, a_S)
    return J, tape.gradient(J, image)


def _cost(acts, a_C, a_S):
    from nst.costs import compute_content_cost, compute_style_cost, total_cost

    return total_cost(
        compute_content_cost(a_C, acts[config.CONTENT_LAYER]),
        compute_style_cost(a_S, acts, config.STYLE_LAYERS),
        config.ALPHA,
        config.BETA,
    )


def test_flipped_gradient_equals_the_plain_formulation(weights):
    height, width = 40, 56  # not multiples of 32: SAME pooling rounds up
    content, style, generated = bench.images(height, width)
    graph = VGGGraph(weights, height, width, kernels=FastKernels)
    graph.kernels.flipped_gradient, graph.kernels.winograd = True, False
    names = [config.CONTENT_LAYER] + STYLE_NAMES
    a_C = graph.forward(content, [config.CONTENT_LAYER])[config.CONTENT_LAYER]
    a_S = graph.forward(style, STYLE_NAMES)
    layers = graph.layers[: graph.layers.index("conv5_1") + 1]
    J_plain, grad_plain = _plain_cost_and_gradient(weights, generated, layers, a_C, a_S)
    image = tf.constant(generated)
    for flipped in (True, False):
        graph.kernels.flipped_gradient = flipped
        with tf.GradientTape() as tape:
            tape.watch(image)
            J = _cost(graph.forward(image, names), a_C, a_S)
        grad = tape.gradient(J, image)
        np.testing.assert_allclose(J, J_plain, rtol=1e-6)
        scale = np.abs(grad_plain).max()
        assert np.abs(grad - grad_plain).max() / scale < 1e-5, flipped


@pytest.mark.parametrize("shape", [(1, 7, 9, 16, 5), (1, 8, 8, 32, 64)])
def test_conv_relu_gradient_is_the_input_gradient(shape):
    _, h, w, c_in, c_out = shape
    rng = np.random.default_rng(3)
    x = tf.constant(rng.normal(size=(1, h, w, c_in)).astype(np.float32))
    W = tf.constant(rng.normal(size=(3, 3, c_in, c_out)).astype(np.float32))
    b = tf.constant(rng.normal(size=(c_out,)).astype(np.float32))
    dy = tf.constant(rng.normal(size=(1, h, w, c_out)).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        plain = tf.nn.relu(tf.nn.conv2d(x, W, 1, "SAME") + b)
        fast = conv_relu(
            x, b, lambda t: tf.nn.conv2d(t, W, 1, "SAME"), lambda t: tf.nn.conv2d(t, flip_kernel(W), 1, "SAME")
        )
    np.testing.assert_array_equal(plain, fast)
    expected, got = tape.gradient(plain, x, dy), tape.gradient(fast, x, dy)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_turns_time_steps_of_one_variant_in_a_row():
    """--turn 3: each turn one untimed step (it follows another variant's), then two timed, as in a run."""
    order = []

    def step(name):
        def run():
            order.append(name)
            return tf.constant(float(len(order)))

        return run

    times = bench.time_interleaved({"a": step("a"), "b": step("b")}, warmup=1, count=4, turn=3)
    assert order == ["a", "b"] + (["a"] * 3 + ["b"] * 3) * 2
    assert [len(times[name][0]) for name in "ab"] == [4, 4] and times["b"][2] == len(order)
    order.clear()
    bench.time_interleaved({"a": step("a"), "b": step("b")}, warmup=0, count=2)
    assert order == ["a", "b", "a", "b"]


@pytest.mark.slow
def test_xla_gives_the_same_J(weights_h5):
    imgs = bench.images(32, 48)
    runs = {xla: bench.nst_step(weights_h5, *imgs, xla=xla) for xla in (False, True)}
    J = {xla: [float(step()) for _ in range(3)] for xla, step in runs.items()}
    np.testing.assert_allclose(J[True], J[False], rtol=1e-4)


def test_baseline_solves_the_same_problem_with_max_pooling(weights_h5, weights):
    """The Keras baseline's first J equals nst's with max pooling (64x96: VALID and SAME pools agree)."""
    content, style, generated = bench.images(64, 96)
    step, image = make_baseline_step(weights_h5, content, style, generated)
    graph = VGGGraph(weights, 64, 96, pooling="max")
    a_C = graph.forward(content, [config.CONTENT_LAYER])[config.CONTENT_LAYER]
    a_S = graph.forward(style, STYLE_NAMES)
    ours = _cost(graph.forward(generated, [config.CONTENT_LAYER] + STYLE_NAMES), a_C, a_S)
    np.testing.assert_allclose(float(step()), float(ours), rtol=1e-4)
    assert not np.array_equal(image.numpy(), generated)  # the step did update the image


def test_precisions_and_threads():
    assert compute_dtype("bf16") == tf.bfloat16 and set(PRECISIONS) == {"fp32", "bf16", "fp16"}
    with pytest.raises(NSTError, match="choose from"):
        compute_dtype("fp8")
    tf.constant(1.0) + 1.0  # the runtime is running now
    configure_threads(None, None)  # nothing asked: fine
    with pytest.raises(NSTError, match="before TensorFlow's first operation"):
        configure_threads(7, 7)
