"""Tests for nst.costs.variation: the total-variation cost."""

import numpy as np
import pytest
import tensorflow as tf

from nst.config import MEANS
from nst.costs.variation import total_variation_cost


def noise(shape, seed=0, amplitude=20.0):
    return np.random.default_rng(seed).uniform(-amplitude, amplitude, size=shape).astype(np.float32)


def smooth(shape):
    """A gentle diagonal ramp in each channel: neighbours differ by 0.5 at most."""
    _, height, width, channels = shape
    i, j, c = np.meshgrid(np.arange(height), np.arange(width), np.arange(channels), indexing="ij")
    return (0.5 * i + 0.25 * j + 10.0 * c)[np.newaxis].astype(np.float32)


def test_scalar_float32():
    J = total_variation_cost(noise((1, 6, 7, 3)))
    assert isinstance(J, tf.Tensor) and J.dtype == tf.float32 and J.shape == ()


def test_matches_the_formula():
    x = noise((1, 5, 4, 3), seed=1).astype(np.float64)
    dy, dx = np.diff(x, axis=1), np.diff(x, axis=2)
    expected = (dy**2).mean() + (dx**2).mean()
    assert float(total_variation_cost(x)) == pytest.approx(expected, rel=1e-5)


def test_hand_computed_example():
    # One channel, 2x2: [[0, 1], [3, 5]]. Vertical: 3, 4 -> (9 + 16) / 2; horizontal: 1, 2 -> (1 + 4) / 2.
    x = np.array([[0.0, 1.0], [3.0, 5.0]], dtype=np.float32).reshape(1, 2, 2, 1)
    assert float(total_variation_cost(x)) == pytest.approx(12.5 + 2.5)


@pytest.mark.parametrize("value", [0.0, 37.5, -MEANS[0]])
def test_zero_for_a_constant_image(value):
    assert float(total_variation_cost(np.full((1, 9, 11, 3), value, np.float32))) == 0.0


def test_larger_for_noise_than_for_a_smooth_image():
    shape = (1, 30, 40, 3)
    assert float(total_variation_cost(noise(shape))) > 100 * float(total_variation_cost(smooth(shape)))


def test_noise_level_matches_the_documented_estimate():
    # Uniform noise in ±a: each direction's mean squared difference is 2·a²/3, both together 4·a²/3.
    J = float(total_variation_cost(noise((1, 200, 200, 3), amplitude=12.0)))
    assert J == pytest.approx(4 * 12.0**2 / 3, rel=0.02)


def test_independent_of_size_and_of_the_mean_pixel():
    small, large = smooth((1, 10, 10, 3)), smooth((1, 60, 80, 3))
    # The same ramp on a bigger canvas has the same neighbour differences, so the same mean.
    assert float(total_variation_cost(large)) == pytest.approx(float(total_variation_cost(small)), rel=1e-5)
    x = noise((1, 8, 9, 3))
    shifted = x - np.asarray(MEANS, np.float32)
    assert float(total_variation_cost(shifted)) == pytest.approx(float(total_variation_cost(x)), rel=1e-5)


@pytest.mark.parametrize("shape", [(1, 1, 5, 3), (1, 5, 1, 3), (1, 1, 1, 3)])
def test_a_single_row_or_column_gives_no_nan(shape):
    x = noise(shape)
    J = float(total_variation_cost(x))
    assert np.isfinite(J)
    expected = sum((np.diff(x.astype(np.float64), axis=a) ** 2).mean() for a in (1, 2) if x.shape[a] > 1)
    assert J == pytest.approx(expected, rel=1e-5)


def test_dynamic_shapes_inside_tf_function():
    f = tf.function(total_variation_cost, input_signature=[tf.TensorSpec((1, None, None, 3), tf.float32)])
    for shape in [(1, 6, 7, 3), (1, 1, 4, 3)]:
        x = noise(shape, seed=3)
        assert float(f(x)) == pytest.approx(float(total_variation_cost(x)), rel=1e-5)


def test_other_float_dtypes_compute_in_float32():
    x = noise((1, 4, 5, 3))
    for dtype in (tf.float16, tf.float64):
        J = total_variation_cost(tf.cast(x, dtype))
        assert J.dtype == tf.float32
        assert float(J) == pytest.approx(float(total_variation_cost(x)), rel=1e-2)


def test_rejects_a_wrong_rank():
    with pytest.raises(ValueError):
        total_variation_cost(np.zeros((5, 5, 3), np.float32))


def test_gradient_matches_the_analytic_formula_and_finite_differences():
    x = tf.constant(noise((1, 5, 6, 3), seed=4), tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        J = total_variation_cost(x)
    grad = tape.gradient(J, x).numpy()
    assert grad.shape == (1, 5, 6, 3)

    # Analytic: d/dx of mean(dy²) puts 2·dy/n_y on the lower pixel of each pair and −2·dy/n_y on the upper.
    xn = x.numpy()
    dy, dx = np.diff(xn, axis=1), np.diff(xn, axis=2)
    expected = np.zeros_like(xn)
    expected[:, 1:] += 2 * dy / dy.size
    expected[:, :-1] -= 2 * dy / dy.size
    expected[:, :, 1:] += 2 * dx / dx.size
    expected[:, :, :-1] -= 2 * dx / dx.size
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-6)

    # And central differences on a few entries (J is quadratic, so they are exact up to rounding).
    h = 1e-2
    for index in [(0, 0, 0, 0), (0, 2, 3, 1), (0, 4, 5, 2)]:
        bump = np.zeros_like(xn)
        bump[index] = h
        numeric = (float(total_variation_cost(xn + bump)) - float(total_variation_cost(xn - bump))) / (2 * h)
        assert numeric == pytest.approx(grad[index], rel=1e-2, abs=1e-3)


def test_gradient_descent_smooths_the_image():
    rng = np.random.default_rng(5)
    start = smooth((1, 24, 32, 3)) + rng.normal(0, 15, (1, 24, 32, 3)).astype(np.float32)
    image = tf.Variable(start)
    costs = []
    for _ in range(50):
        with tf.GradientTape() as tape:
            J = total_variation_cost(image)
        costs.append(float(J))
        # J is quadratic with Hessian eigenvalues below 16/n (n ≈ pairs per direction): step 0.5·n/16 is stable.
        image.assign_sub(0.5 * (24 * 32 * 3 / 16) * tape.gradient(J, image))
    assert all(later <= earlier for earlier, later in zip(costs, costs[1:]))
    assert costs[-1] < 0.05 * costs[0]
    # Smoothing removes the noise but keeps the image's average (the gradient sums to 0).
    assert float(tf.reduce_mean(image)) == pytest.approx(float(start.mean()), abs=1e-2)
    # The result is closer to the smooth image than the noisy start was.
    clean = smooth((1, 24, 32, 3))
    assert np.abs(image.numpy() - clean).mean() < 0.5 * np.abs(start - clean).mean()
