"""Tests for high-resolution runs: L-BFGS-B's set-up without per-pixel Python, the edges."""

import numpy as np
import pytest
import scipy.optimize
import tensorflow as tf

import nst.engine.lbfgs
from nst.engine.lbfgs import PIXEL_BOUNDS, bound_arrays, minimize_lbfgs

SHAPE = (1, 6, 7, 3)


@pytest.fixture
def rough():
    """A bumpy cost, J(x) = ½ Σ d·(x − c)² + 30 Σ sin x, whose optimum lies partly outside the pixel bounds."""
    rng = np.random.default_rng(0)
    target = tf.constant(rng.uniform(-150, 150, SHAPE).astype(np.float32))
    curvature = tf.constant(rng.uniform(1, 100, SHAPE).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec(SHAPE, tf.float32)])
    def value_and_grad(x):
        J = 0.5 * tf.reduce_sum(curvature * tf.square(x - target)) + 30.0 * tf.reduce_sum(tf.sin(x))
        return J, curvature * (x - target) + 30.0 * tf.cos(x), {}

    return value_and_grad, rng.uniform(-20, 20, SHAPE).astype(np.float32)


# --- L-BFGS-B driven without scipy.optimize.minimize's per-entry bounds loop ------------------


def test_this_scipys_setulb_is_the_one_the_driver_was_written_for():
    # If SciPy changes it, nst falls back to scipy.optimize.minimize (correct, but with its loop).
    assert nst.engine.lbfgs._setulb() is not None, f"SciPy's setulb is no longer {nst.engine.lbfgs.SETULB_SIGNATURE}"


@pytest.mark.parametrize("bounds", [None, PIXEL_BOUNDS], ids=["unbounded", "pixel-bounds"])
@pytest.mark.parametrize("iterations", [5, 40])
def test_the_driver_takes_scipy_minimizes_steps_exactly(rough, monkeypatch, bounds, iterations):
    value_and_grad, x0 = rough
    ours = minimize_lbfgs(value_and_grad, x0, iterations, bounds=bounds)
    monkeypatch.setattr(nst.engine.lbfgs, "_setulb", lambda: None)  # the fallback: scipy.optimize.minimize
    scipys = minimize_lbfgs(value_and_grad, x0, iterations, bounds=bounds)
    assert ours.losses == scipys.losses and ours.evaluations == scipys.evaluations
    assert (ours.status, ours.message) == (scipys.status, scipys.message)
    np.testing.assert_array_equal(ours.x, scipys.x)


def test_the_driver_never_calls_scipy_minimize(rough, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("scipy.optimize.minimize sets bounds up with a Python loop over every pixel")

    monkeypatch.setattr(scipy.optimize, "minimize", refuse)
    value_and_grad, x0 = rough
    result = minimize_lbfgs(value_and_grad, x0, 3, bounds=PIXEL_BOUNDS)
    assert result.status == "done" and len(result.losses) == 3


def test_bound_arrays_are_what_scipys_loop_writes():
    lower = np.array([-np.inf, 0.0, -1.0, -np.inf, 2.0, 3.0])
    upper = np.array([np.inf, np.inf, 1.0, 5.0, 2.0, np.inf])
    low, up, nbd = bound_arrays(6, lower, upper)
    # _minimize_lbfgsb's loop: nbd 0 none, 1 lower only, 2 both, 3 upper only; 0 where unbounded.
    np.testing.assert_array_equal(nbd, [0, 1, 2, 3, 2, 1])
    np.testing.assert_array_equal(low, [0, 0, -1, 0, 2, 3])
    np.testing.assert_array_equal(up, [0, 0, 1, 5, 2, 0])
    assert nbd.dtype == np.int32 and low.dtype == up.dtype == np.float64
    with pytest.raises(ValueError, match="greater than an upper"):
        bound_arrays(1, np.array([1.0]), np.array([0.0]))


# --- recomputing VGG19's blocks in the backward pass ------------------------------------------


@pytest.fixture(scope="module")
def small_problem(weights_h5):
    from nst.bench import exercise_level
    from nst.config import CONTENT_IMAGE, STYLE_IMAGE
    from nst.images import generate_noise_image, load_image

    content, style = load_image(CONTENT_IMAGE, 64, 96), load_image(STYLE_IMAGE, 64, 96)
    return exercise_level(weights_h5, content, style), generate_noise_image(content, seed=0)


def test_recomputed_blocks_give_the_same_cost_and_gradient(small_problem):
    from nst.engine.objective import make_objective
    from nst.options import Options
    from nst.train import compute_cost

    scale, image = small_problem
    image = tf.constant(image)

    def cost_and_gradient(blocks):
        scale.graph.kernels.recompute_blocks = frozenset(blocks)
        objective = make_objective(scale, Options())
        with tf.GradientTape() as tape:
            tape.watch(image)
            J = compute_cost(image, objective)["J"]
        return float(J), tape.gradient(J, image).numpy()

    try:
        J, grad = cost_and_gradient(())
        for blocks in ({1}, {1, 2, 3}, {1, 2, 3, 4, 5}):
            J_r, grad_r = cost_and_gradient(blocks)
            assert J_r == pytest.approx(J, rel=1e-6)
            np.testing.assert_allclose(grad_r, grad, rtol=1e-4, atol=1e-4 * np.abs(grad).max())
    finally:
        scale.graph.kernels.recompute_blocks = frozenset()


def test_large_scales_recompute_and_small_ones_do_not(weights_h5, monkeypatch):
    import nst.engine.problem
    from nst.options import Options
    from nst.train import load_weights

    monkeypatch.setattr(nst.engine.problem, "RECOMPUTE_FROM_PIXELS", 64 * 96)
    problem, _ = nst.engine.problem.prepare(Options(size=(64, 96)), load_weights(weights_h5))
    assert problem.at(64, 96).graph.kernels.recompute_blocks == nst.engine.problem.RECOMPUTE_BLOCKS
    assert problem.at(32, 48).graph.kernels.recompute_blocks == frozenset()


# --- the targets of a large image, computed in bands of rows -------------------------------------


def test_targets_in_bands_equal_one_pass(weights_h5):
    from nst.config import STYLE_IMAGE
    from nst.images import load_image
    from nst.kernels.bands import forward_in_bands
    from nst.train import load_weights
    from nst.vgg import VGGGraph

    # 272 rows: bands of 32 (and a last one of 16) with 80 rows of halo: 9 passes, every edge case.
    graph = VGGGraph(load_weights(weights_h5), 272, 48)
    image = load_image(STYLE_IMAGE, 272, 48)
    layers = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv4_2", "conv5_1", "avgpool4"]
    whole = graph.forward(image, layers)
    banded = forward_in_bands(graph, image, layers, band_rows=32)
    for name in layers:
        assert banded[name].shape == whole[name].shape == graph.shape(name)
        scale = float(tf.reduce_max(tf.abs(whole[name])))
        np.testing.assert_allclose(banded[name], whole[name], atol=1e-5 * scale, err_msg=name)
