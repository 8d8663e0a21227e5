"""Winograd's F(4x4, 3x3) and F(6x6, 3x3) (nst.kernels.winograd) compute VGG19's convolutions: same numbers,
fewer multiplications."""

import numpy as np
import pytest
import tensorflow as tf

from nst import bench, config
from nst.bench.layers import format_layers, layer_rows
from nst.engine.objective import make_objective
from nst.images import load_image
from nst.kernels import FastKernels, toom_cook, winograd
from nst.kernels.convolution import conv_relu, flip_kernel
from nst.options import Options
from nst.train import compute_cost
from nst.vgg import VGGGraph
from nst.vgg_files import read_vgg19_weights


@pytest.fixture(scope="module")
def weights(weights_h5):
    return read_vgg19_weights(weights_h5)


def _conv(x, W):
    return tf.nn.conv2d(x, W, 1, "SAME")


def _relative(got, expected):
    return float(np.abs(np.asarray(got, np.float64) - expected).max() / np.abs(expected).max())


# (height, width, C, K): sizes that are and are not multiples of the 4x4 output tile, down to one pixel.
SHAPES = [(8, 12, 4, 4), (7, 9, 3, 5), (13, 6, 16, 32), (1, 1, 4, 2), (5, 4, 8, 8)]


def test_the_matrices_come_from_the_points():
    """Toom-Cook's construction gives Lavin & Gray's F(4x4, 3x3) matrices for 0, ±1, ±2, entry for entry."""
    A_T, G, B_T = toom_cook.matrices(4)
    assert np.array_equal(B_T[0], [4, 0, -5, 0, 1, 0]) and np.array_equal(B_T[5], [0, 4, 0, -5, 0, 1])
    assert np.array_equal(A_T[3], [0, 1, -1, 8, -8, 1]) and np.array_equal(G[3], [1 / 24, 1 / 12, 1 / 6])
    A_T, G, B_T = toom_cook.matrices(6)
    assert A_T.shape == (6, 8) and G.shape == (8, 3) and B_T.shape == (8, 8)
    assert np.array_equal(B_T.astype(np.float32), B_T)  # dyadic points: every entry exact in float32
    with pytest.raises(ValueError, match="distinct"):
        toom_cook.matrices(4, (0, 1, 1, 2, -2))


@pytest.mark.parametrize("m", [4, 6])
@pytest.mark.parametrize("shape", SHAPES)
def test_float64_winograd_is_the_convolution(shape, m):
    """In float64 the transforms are exact up to rounding: a wrong matrix entry fails here."""
    h, w, c, k = shape
    rng = np.random.default_rng(1)
    x, W = rng.normal(size=(1, h, w, c)), rng.normal(size=(3, 3, c, k))
    got = winograd.conv3x3(tf.constant(x), tf.constant(winograd.transform_kernel(W, m)))
    assert got.shape == (1, h, w, k)
    assert _relative(got, _conv(x, W).numpy()) < 1e-12


@pytest.mark.parametrize("band_bytes", [1, 36 * 8 * 2 * 8 * 2])  # one tile row per band; two
def test_bands_of_tile_rows_give_the_same_convolution(band_bytes, monkeypatch):
    """Large images are transformed a band of tile rows at a time: the seams must not show."""
    monkeypatch.setattr(winograd, "BAND_BYTES", band_bytes)
    rng = np.random.default_rng(4)
    for (h, w), m in zip(((17, 9), (16, 5), (3, 7), (20, 13)), (4, 4, 4, 6)):
        x, W = rng.normal(size=(1, h, w, 8)), rng.normal(size=(3, 3, 8, 6))
        got = winograd.conv3x3(tf.constant(x), tf.constant(winograd.transform_kernel(W, m)))
        assert _relative(got, _conv(x, W).numpy()) < 1e-12, (h, w, m)


@pytest.mark.parametrize("m", [4, 6])
@pytest.mark.parametrize("shape", SHAPES)
def test_float32_winograd_rounds_like_float32(shape, m):
    h, w, c, k = shape
    rng = np.random.default_rng(2)
    x, W = rng.normal(size=(1, h, w, c)), rng.normal(size=(3, 3, c, k))
    U = tf.constant(winograd.transform_kernel(W, m), tf.float32)
    got = winograd.conv3x3(tf.constant(x, tf.float32), U)
    assert _relative(got, _conv(x, W).numpy()) < 1e-5


def test_every_winograd_layer_matches_the_direct_convolution_on_real_activations(weights):
    """The exercise's content picture at 300x400: each layer's input from the direct pass, F(4x4) and
    F(6x6) each within 1e-4 of the direct convolution (largest error relative to the largest output)."""
    content = load_image(config.CONTENT_IMAGE, config.IMAGE_HEIGHT, config.IMAGE_WIDTH)
    graph = VGGGraph(weights, config.IMAGE_HEIGHT, config.IMAGE_WIDTH)  # TensorFlow's own convolutions
    kernels = FastKernels(weights)
    layers = graph.layers[: graph.layers.index("conv5_1") + 1]
    acts = graph.forward(content, layers)
    previous, used, used_6x6 = tf.cast(content, tf.float32), {}, {}
    six = FastKernels(weights)
    kernels.winograd_6x6 = False  # F(4x4) alone, as bfloat16 runs
    for name in layers:
        if name.startswith("conv"):
            W = weights[name][0]
            used[name] = kernels.tile_for(tf.constant(W))
            used_6x6[name] = six.tile_for(tf.constant(W))
            direct = _conv(previous, W).numpy()
            for m in (4, 6) if name >= "conv2_2" else ():
                fast = winograd.conv3x3(previous, tf.constant(winograd.transform_kernel(W, m), tf.float32))
                assert _relative(fast, direct) < 1e-4, (name, m)
        previous = acts[name]
    assert {name for name, m in used.items() if m == 4} == {name for name in used if name >= "conv3_1"}
    assert {name for name, m in used_6x6.items() if m == 4} == {name for name in used if name >= "conv4_1"}
    assert {name for name, m in used_6x6.items() if m == 6} == {name for name in used if "conv2_2" <= name < "conv4_1"}


def test_the_graph_uses_winograd_on_the_cpu_and_the_same_activations(weights):
    content = load_image(config.CONTENT_IMAGE, 64, 96)
    graph = VGGGraph(weights, 64, 96, kernels=FastKernels)
    assert graph.kernels.winograd  # no GPU here
    fast = graph.forward(content, ["conv1_2", "conv4_2", "conv5_1"])
    made = winograd._KERNELS  # the transforms are made for the Winograd layers only
    assert id(weights["conv4_2"][0]) in made and id(weights["conv1_2"][0]) not in made
    graph.kernels.winograd = False
    direct = graph.forward(content, ["conv1_2", "conv4_2", "conv5_1"])
    np.testing.assert_array_equal(fast["conv1_2"], direct["conv1_2"])  # conv1_2 stays direct
    for name in ("conv4_2", "conv5_1"):
        assert _relative(fast[name], direct[name].numpy()) < 1e-4, name


def test_winograd_gradient_is_the_input_gradient():
    rng = np.random.default_rng(3)
    x = tf.constant(rng.normal(size=(1, 10, 13, 16)), tf.float32)
    W = rng.normal(size=(3, 3, 16, 24)).astype(np.float32)
    b = tf.constant(rng.normal(size=(24,)), tf.float32)
    dy = tf.constant(rng.normal(size=(1, 10, 13, 24)), tf.float32)
    U, U_flipped = (tf.constant(winograd.transform_kernel(k, 6), tf.float32) for k in (W, flip_kernel(W).numpy()))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        plain = tf.nn.relu(_conv(x, W) + b)
        fast = conv_relu(x, b, lambda t: winograd.conv3x3(t, U), lambda t: winograd.conv3x3(t, U_flipped))
    assert _relative(fast, plain.numpy()) < 1e-5
    expected = tape.gradient(plain, x, dy).numpy()
    assert _relative(tape.gradient(fast, x, dy), expected) < 1e-5


# TensorFlow's own convolutions for every layer: what nst's fast kernels are checked against.
DIRECT = {"winograd": False}


def test_J_and_its_gradient_match_the_direct_convolution(weights_h5):
    content, style, generated = bench.images(96, 128)
    terms = {}
    for winograd_on in (True, False):
        level = bench.exercise_level(weights_h5, content, style, kernel_settings=None if winograd_on else DIRECT)
        objective = make_objective(level, Options())
        image = tf.constant(generated)
        with tf.GradientTape() as tape:
            tape.watch(image)
            J = compute_cost(image, objective)["J"]
        terms[winograd_on] = (float(J), tape.gradient(J, image).numpy())
    (J_fast, grad_fast), (J_direct, grad_direct) = terms[True], terms[False]
    assert abs(J_fast - J_direct) / J_direct < 1e-6
    assert _relative(grad_fast, grad_direct) < 1e-4


@pytest.mark.slow
def test_J_after_20_adam_steps_matches_the_direct_convolution(weights_h5):
    """Within float32's own spread: Adam(2.0) amplifies rounding differences step by step.

    Measured at 300x400 after 20 steps: Winograd 1.8e-4 from the direct convolution, and the
    direct convolution compiled by XLA (same algorithm, other summation order) 1.7e-4 from it.
    """
    imgs = bench.images(96, 128)
    J = {}
    for winograd_on in (True, False):
        step = bench.nst_step(weights_h5, *imgs, kernel_settings=None if winograd_on else DIRECT)
        J[winograd_on] = [float(step()) for _ in range(20)][-1]
    assert abs(J[True] - J[False]) / J[False] < 2e-3


def test_the_layer_table_times_both_algorithms_per_convolution(weights_h5):
    rows = layer_rows(weights_h5, 64, 96, runs=1, last="conv3_1")
    assert [(r["layer"], r["pass"]) for r in rows][:3] == [("conv1_1", "forward"), ("conv1_1", "gradient"),
                                                            ("conv1_2", "forward")]  # fmt: skip
    assert [r["used"] for r in rows] == ["direct"] * 6 + ["F6"] * 4  # per layer, whatever the size (16x24 here)
    assert rows[-1]["shape"] == "16x24 256->128"
    assert all(r["direct_ms"] > 0 and r["winograd_ms"] > 0 and r["winograd6_ms"] > 0 for r in rows)
    table = format_layers(rows, matmul_gflops=100.0)
    assert "all 10 convolutions" in table and "effective GFLOP/s" in table
