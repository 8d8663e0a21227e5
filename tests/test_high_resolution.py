"""Tests for high-resolution runs: L-BFGS-B's set-up without per-pixel Python, the edges."""

import numpy as np
import pytest
import scipy.optimize
import tensorflow as tf

import nst.lbfgs
from nst.lbfgs import PIXEL_BOUNDS, bound_arrays, minimize_lbfgs

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
    assert nst.lbfgs._setulb() is not None, f"SciPy's setulb is no longer {nst.lbfgs.SETULB_SIGNATURE}"


@pytest.mark.parametrize("bounds", [None, PIXEL_BOUNDS], ids=["unbounded", "pixel-bounds"])
@pytest.mark.parametrize("iterations", [5, 40])
def test_the_driver_takes_scipy_minimizes_steps_exactly(rough, monkeypatch, bounds, iterations):
    value_and_grad, x0 = rough
    ours = minimize_lbfgs(value_and_grad, x0, iterations, bounds=bounds)
    monkeypatch.setattr(nst.lbfgs, "_setulb", lambda: None)  # the fallback: scipy.optimize.minimize
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
