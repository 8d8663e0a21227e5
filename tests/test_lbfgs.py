"""Tests for nst.engine.lbfgs: SciPy's L-BFGS-B on TensorFlow costs."""

import numpy as np
import pytest
import tensorflow as tf

from nst.bench import exercise_level
from nst.config import ALPHA, BETA, CONTENT_IMAGE, CONTENT_LAYER, MEANS, STYLE_IMAGE, STYLE_LAYERS
from nst.costs import compute_content_cost, compute_style_cost, total_cost
from nst.costs.variation import total_variation_cost
from nst.engine.lbfgs import PIXEL_BOUNDS, make_value_and_grad, minimize_lbfgs
from nst.engine.objective import make_objective
from nst.images import generate_noise_image, load_image
from nst.options import Options

SHAPE = (1, 4, 5, 3)


def quadratic(target, curvature):
    """J(x) = ½ Σ d·(x − c)², convex with minimum 0 at x = c; condition number max(d)/min(d)."""
    target = tf.constant(target, tf.float32)
    curvature = tf.constant(curvature, tf.float32)

    @tf.function(input_signature=[tf.TensorSpec(SHAPE, tf.float32)])
    def value_and_grad(x):
        J = 0.5 * tf.reduce_sum(curvature * tf.square(x - target))
        return J, curvature * (x - target), {"distance": tf.reduce_max(tf.abs(x - target))}

    return value_and_grad


@pytest.fixture
def toy():
    rng = np.random.default_rng(0)
    target = rng.uniform(-50, 50, SHAPE).astype(np.float32)
    curvature = rng.uniform(1, 100, SHAPE).astype(np.float32)
    return target, curvature, quadratic(target, curvature)


# --- minimize_lbfgs on a convex toy problem ---------------------------------------------


def test_reaches_the_optimum_of_a_quadratic(toy):
    target, _, value_and_grad = toy
    x0 = np.zeros(SHAPE, np.float32)
    calls = []
    result = minimize_lbfgs(
        value_and_grad, x0, iterations=100, callback=lambda i, x, J, extras: calls.append((i, x, J, extras))
    )
    assert result.x.dtype == np.float32 and result.x.shape == SHAPE
    np.testing.assert_allclose(result.x, target, atol=1e-3)
    assert result.losses[-1] < 1e-6 * float(value_and_grad(tf.constant(x0))[0])
    # L-BFGS-B only accepts steps that lower J.
    assert all(later <= earlier for earlier, later in zip(result.losses, result.losses[1:]))
    # The callback ran once per iteration, in order, with that iteration's J, x and extras.
    assert [c[0] for c in calls] == list(range(len(result.losses)))
    assert [c[2] for c in calls] == result.losses
    i, x, J, extras = calls[-1]
    assert x.dtype == np.float32 and x.shape == SHAPE
    assert J == pytest.approx(float(value_and_grad(tf.constant(x))[0]), rel=1e-4, abs=1e-6)
    assert float(extras["distance"]) < 1e-2
    assert result.evaluations >= len(result.losses) + 1
    assert result.status in ("done", "converged")


def test_the_iteration_budget_is_respected(toy):
    _, _, value_and_grad = toy
    result = minimize_lbfgs(value_and_grad, np.zeros(SHAPE, np.float32), iterations=3)
    assert len(result.losses) == 3 and result.status == "done"
    # The default evaluation cap (2·iterations + 20) was not what stopped it.
    assert result.evaluations <= 2 * 3 + 20


def test_the_evaluation_cap_stops_a_run(toy):
    _, _, value_and_grad = toy
    result = minimize_lbfgs(value_and_grad, np.zeros(SHAPE, np.float32), iterations=100, max_evaluations=5)
    # SciPy checks the cap between iterations, so it may overshoot by one line search.
    assert result.status == "converged" and len(result.losses) < 100
    assert result.evaluations <= 5 + 20


def test_a_nan_cost_is_reported_as_divergence():
    # J is NaN once any entry leaves [-0.5, 0.5], but the minimum lies at 1: the line
    # search runs into NaN and SciPy gives up early. That must not pass for convergence.
    def value_and_grad(x):
        J = tf.reduce_sum(tf.square(x - 1.0))
        J = tf.where(tf.reduce_max(tf.abs(x)) > 0.5, tf.constant(np.nan, tf.float32), J)
        return J, 2.0 * (x - 1.0), {}

    result = minimize_lbfgs(value_and_grad, np.zeros(SHAPE, np.float32), iterations=20)
    assert result.status == "diverged" and len(result.losses) < 20
    assert "NaN or infinite" in result.message
    # The image handed back is the best finite point, inside the region where J is defined.
    assert np.isfinite(result.x).all() and np.abs(result.x).max() <= 0.5


def test_bounds_are_respected_at_every_evaluation():
    # The unconstrained optimum lies outside the valid pixel range in many entries.
    rng = np.random.default_rng(1)
    target = rng.uniform(-300, 300, SHAPE).astype(np.float32)
    inner = quadratic(target, np.ones(SHAPE, np.float32))
    lower, upper = (np.broadcast_to(b, SHAPE) for b in PIXEL_BOUNDS)
    evaluated = []

    def value_and_grad(x):
        evaluated.append(x.numpy())
        return inner(x)

    x0 = rng.uniform(-400, 400, SHAPE).astype(np.float32)  # outside too: it is clipped first
    result = minimize_lbfgs(value_and_grad, x0, iterations=50, bounds=PIXEL_BOUNDS)
    for x in evaluated + [result.x]:
        assert np.all(x >= lower - 1e-4) and np.all(x <= upper + 1e-4)
    # The constrained optimum of a separable quadratic: the target clipped into the box.
    np.testing.assert_allclose(result.x, np.clip(target, lower, upper), atol=1e-3)
    assert np.any(result.x == np.float32(upper)) and np.any(result.x == np.float32(lower))


def test_pixel_bounds_are_rgb_0_to_255_minus_the_means():
    lower, upper = PIXEL_BOUNDS
    np.testing.assert_allclose(lower + np.asarray(MEANS), 0.0)
    np.testing.assert_allclose(upper + np.asarray(MEANS), 255.0)


def test_a_callback_returning_true_stops_the_run(toy):
    _, _, value_and_grad = toy
    result = minimize_lbfgs(
        value_and_grad, np.zeros(SHAPE, np.float32), iterations=100, callback=lambda i, x, J, extras: i == 4
    )
    assert result.status == "stopped" and len(result.losses) == 5


def test_ctrl_c_returns_the_best_image_so_far(toy):
    target, _, inner = toy
    seen = []

    def value_and_grad(x):
        if len(seen) == 8:
            raise KeyboardInterrupt
        J, grad, extras = inner(x)
        seen.append((float(J), x.numpy()))
        return J, grad, extras

    result = minimize_lbfgs(value_and_grad, np.zeros(SHAPE, np.float32), iterations=100)
    assert result.status == "interrupted" and result.evaluations == 8
    best_J, best_x = min(seen, key=lambda pair: pair[0])
    np.testing.assert_array_equal(result.x, best_x)
    assert best_J < seen[0][0]


def test_a_numpy_start_and_a_tensor_start_give_the_same_run(toy):
    _, _, value_and_grad = toy
    x0 = np.full(SHAPE, 3.0, np.float32)
    a = minimize_lbfgs(value_and_grad, x0, iterations=5)
    b = minimize_lbfgs(value_and_grad, tf.constant(x0), iterations=5)
    assert a.losses == b.losses
    np.testing.assert_array_equal(a.x, b.x)


# --- the real network, tiny -------------------------------------------------------------

HEIGHT, WIDTH = 48, 64


@pytest.fixture(scope="module")
def problem(weights_h5):
    content = load_image(CONTENT_IMAGE, HEIGHT, WIDTH)
    style = load_image(STYLE_IMAGE, HEIGHT, WIDTH)
    scale = exercise_level(weights_h5, content, style)
    a_C, a_S = scale.a_C, scale.styles[0][1]
    G0 = generate_noise_image(content, seed=0)
    # The one traced value_and_grad of this file (tracing VGG19 is the slow part); other
    # tests run make_value_and_grad's Python function eagerly via .python_function.
    value_and_grad = make_value_and_grad(make_objective(scale, Options()), G0.shape)
    return scale, a_C, a_S, G0, value_and_grad


def eager_costs(scale, a_C, a_S, image):
    """J, ∂J/∂G and the parts, computed eagerly the way nst.train's step does."""
    image = tf.constant(image)
    with tf.GradientTape() as tape:
        tape.watch(image)
        a_G = scale.graph.forward(image, (CONTENT_LAYER,) + tuple(name for name, _ in STYLE_LAYERS))
        J_content = compute_content_cost(a_C, a_G[CONTENT_LAYER])
        J_style = compute_style_cost(a_S, a_G, STYLE_LAYERS)
        J = total_cost(J_content, J_style, ALPHA, BETA)
    return float(J), tape.gradient(J, image).numpy(), float(J_content), float(J_style)


def test_ten_iterations_lower_the_cost_and_trace_once(problem):
    scale, a_C, a_S, G0, value_and_grad = problem
    J0 = float(value_and_grad(tf.constant(G0))[0])
    result = minimize_lbfgs(value_and_grad, G0, iterations=10, bounds=PIXEL_BOUNDS)
    assert len(result.losses) == 10 and result.status == "done"
    assert result.losses[-1] < 0.2 * J0
    assert all(later <= earlier for earlier, later in zip(result.losses, result.losses[1:]))
    assert value_and_grad.experimental_get_tracing_count() == 1
    # Bounds: every pixel of the result is a displayable colour.
    rgb = result.x + np.asarray(MEANS, np.float32)
    assert rgb.min() >= -1e-3 and rgb.max() <= 255 + 1e-3
    assert set(result.extras[-1]) == {"J", "J_content", "J_style"}
    J_parts = ALPHA * result.extras[-1]["J_content"] + BETA * result.extras[-1]["J_style"]
    assert float(J_parts) == pytest.approx(result.losses[-1], rel=1e-5)


def test_value_and_grad_agrees_with_the_training_steps_costs(problem):
    scale, a_C, a_S, G0, value_and_grad = problem
    J, grad, extras = value_and_grad(tf.constant(G0))
    assert J.dtype == tf.float32 and J.shape == () and grad.shape == (1, HEIGHT, WIDTH, 3)
    J_eager, grad_eager, J_content, J_style = eager_costs(scale, a_C, a_S, G0)
    assert float(J) == pytest.approx(J_eager, rel=1e-5)
    assert float(extras["J_content"]) == pytest.approx(J_content, rel=1e-5)
    assert float(extras["J_style"]) == pytest.approx(J_style, rel=1e-5)
    np.testing.assert_allclose(grad.numpy(), grad_eager, rtol=1e-3, atol=1e-4 * np.abs(grad_eager).max())
    assert value_and_grad.experimental_get_tracing_count() == 1


def test_tv_weight_adds_the_total_variation_cost(problem):
    scale, a_C, a_S, G0, _ = problem
    smooth = make_value_and_grad(make_objective(scale, Options(tv_weight=1e4)), G0.shape)
    x = tf.constant(G0)
    J_smooth, grad_smooth, extras = smooth.python_function(x)  # eagerly: no second trace of VGG19
    J_plain, grad_plain, _, _ = eager_costs(scale, a_C, a_S, G0)
    J_tv = float(total_variation_cost(G0))
    assert float(extras["J_tv"]) == pytest.approx(J_tv, rel=1e-5)
    assert float(J_smooth) == pytest.approx(J_plain + 1e4 * J_tv, rel=1e-5)
    with tf.GradientTape() as tape:
        tape.watch(x)
        tv = total_variation_cost(x)
    np.testing.assert_allclose(
        grad_smooth.numpy() - grad_plain,
        1e4 * tape.gradient(tv, x).numpy(),
        rtol=1e-3,
        atol=1e-3 * float(tf.reduce_max(tf.abs(grad_smooth))),
    )
