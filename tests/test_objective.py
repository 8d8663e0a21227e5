"""Tests for the objective built from the exercise's functions, plain gradients and float16
loss scaling (nst.kernels.precision), and reduced precision end to end."""

import numpy as np
import pytest
import tensorflow as tf

from nst.bench import exercise_level
from nst.config import CONTENT_IMAGE, STYLE_IMAGE
from nst.engine.objective import make_objective
from nst.engine.optimizers import OPTIMIZERS
from nst.images import generate_noise_image, load_image
from nst.kernels.precision import LossScale, value_and_grad
from nst.options import Options
from nst.train import main

GAIN = 300.0


def toy_model(image):
    """A float16 "network": {"y": GAIN·x} computed in float16, so that its backward pass overflows."""
    return {"y": tf.cast(image, tf.float16) * tf.constant(GAIN, tf.float16)}


def toy_cost(model):
    """J = Σ y², y from ``model`` (toy_model, loss-scaled or not), summed in float32.

    ∂J/∂x = 2·GAIN²·x = 180,000·x: beyond float16's 65,504 wherever |x| > 0.37.
    """

    def cost(image):
        y = tf.cast(model(image)["y"], tf.float32)
        J = tf.reduce_sum(tf.square(y))
        return {"J": J, "J_content": J, "J_style": tf.constant(0.0)}

    return cost


X = np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(1, 2, 2, 3)
EXACT = 2 * GAIN**2 * X.astype(np.float64)


def test_without_scaling_float16_overflows():
    # The reason loss scaling exists: the plain gradient is infinite.
    _, grad = value_and_grad(toy_cost(toy_model), tf.constant(X))
    assert not np.isfinite(grad.numpy()).all()


def test_float16_loss_scaling_recovers_the_gradient():
    loss_scale = LossScale()
    cost = toy_cost(loss_scale.outputs(toy_model))
    terms, grad = tf.function(lambda x: value_and_grad(cost, x, loss_scale))(tf.constant(X))
    J = terms["J"]
    assert np.isfinite(grad.numpy()).all()
    np.testing.assert_allclose(grad.numpy(), EXACT, rtol=2e-3)
    assert float(loss_scale.scale.numpy()) < 1.0  # it had to scale down
    # J is never scaled.
    np.testing.assert_allclose(J.numpy(), np.sum((GAIN * X.astype(np.float64)) ** 2), rtol=1e-3)


def test_other_dtypes_take_the_plain_gradient():
    def cost(image):
        return {"J": tf.reduce_sum(image**2)}

    _, grad = value_and_grad(cost, tf.constant(X))  # no loss scale: bfloat16 and float32 networks
    np.testing.assert_allclose(grad.numpy(), 2 * X, rtol=1e-6)


def final_J(tmp_path, weights_h5, *extra):
    out = tmp_path / ("".join(extra).replace("-", "") or "fp32")
    main(
        [
            "--size",
            "48x64",
            "--iterations",
            "4",
            "--quiet",
            "--seed",
            "1",
            "--output-dir",
            str(out),
            "--model",
            str(weights_h5),
            *extra,
        ]
    )
    last = (out / "losses.csv").read_text().strip().splitlines()[-1]
    return float(last.split(",")[1])


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_reduced_precision_adam_ends_close_to_fp32(weights_h5, tmp_path, precision):
    # Without loss scaling the first float16 step diverged (J ~ 1e10, gradients past 65504).
    fp32 = final_J(tmp_path, weights_h5)
    reduced = final_J(tmp_path, weights_h5, "--precision", precision)
    assert np.isfinite(reduced)
    assert reduced == pytest.approx(fp32, rel=0.02)


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16])
def test_reduced_precision_lbfgs_gradient_matches_fp32(weights_h5, dtype):
    # L-BFGS once refused reduced precision outright (its targets came in the network's
    # dtype). Its path after a few iterations is sensitive to rounding, so compare J and
    # ∂J/∂G at the same image instead of trajectories.
    content, style = load_image(CONTENT_IMAGE, 48, 64), load_image(STYLE_IMAGE, 48, 64)
    G = tf.constant(generate_noise_image(content, 0.6, seed=1))
    results = []
    for precision in ("fp32", {tf.float16: "fp16", tf.bfloat16: "bf16"}[dtype]):
        options = Options(precision=precision, optimizer="lbfgs")
        level = exercise_level(weights_h5, content, style, precision)
        optimizer = OPTIMIZERS["lbfgs"](make_objective(level, options), G, options)
        J, grad, _ = optimizer.value_and_grad(G)
        results.append((float(J), grad.numpy().ravel()))
    (J32, g32), (J_low, g_low) = results
    assert J_low == pytest.approx(J32, rel=0.02)
    cosine = g32 @ g_low / (np.linalg.norm(g32) * np.linalg.norm(g_low))
    assert cosine > 0.99 and np.linalg.norm(g_low) == pytest.approx(np.linalg.norm(g32), rel=0.05)
