"""L-BFGS on the generated image's pixels: SciPy's L-BFGS-B, driven by TensorFlow.

Gatys et al. optimised with L-BFGS, not Adam. L-BFGS builds a picture of the
cost's curvature from the last m = 10 (step, gradient change) pairs and takes
quasi-Newton steps with a line search, so each iteration goes much further than
one Adam step; it costs one or a few evaluations of J and ∂J/∂G. Measured at
300x400 on the default images (``python -m nst.bench --quality``): the J that 200
Adam steps end at (6.85e6), L-BFGS passes after 55 iterations, in 174 s against
Adam's 552 s on a 2-core CPU (3.2x sooner).

The split of work:

- TensorFlow computes (J, ∂J/∂G) for an image G of shape (1, H, W, 3), float32,
  in a ``tf.function`` traced once (``make_value_and_grad``);
- SciPy (``scipy.optimize.minimize(method="L-BFGS-B", jac=True)``) sees a flat
  float64 vector of n = H·W·3 numbers and decides where to evaluate next.

Each evaluation converts float64 (n,) -> float32 (1, H, W, 3) -> TensorFlow and
back; at 300x400 that is 360,000 numbers, negligible next to VGG19's passes.

Bounds: with ``bounds=PIXEL_BOUNDS`` each pixel stays a displayable colour, RGB in
[0, 255], i.e. channel c of the normalised image in [−MEANS[c], 255 − MEANS[c]].
L-BFGS-B handles such box constraints exactly (projected steps), so nothing is
lost by clipping when the image is saved.
"""

import time
from typing import NamedTuple

import numpy as np
import scipy.optimize
import tensorflow as tf

from nst.config import MEANS
from nst.objective import make_gradient

# (lower, upper), each shape (3,): the normalised image's valid range per RGB channel.
PIXEL_BOUNDS = (-np.asarray(MEANS, dtype=np.float64), 255.0 - np.asarray(MEANS, dtype=np.float64))


class LBFGSResult(NamedTuple):
    """What ``minimize_lbfgs`` returns.

    x           -- the best image evaluated, float32, shape of x0
    losses      -- J after each completed iteration (Python floats), len = iterations done
    extras      -- value_and_grad's extras after each iteration, as NumPy values
    status      -- "done" (iteration budget used), "converged" (SciPy stopped: line search
                   could not improve, tolerance reached, or evaluation cap hit),
                   "stopped" (the callback returned True), "interrupted" (Ctrl-C) or
                   "diverged" (it ended early after J or its gradient came out NaN or infinite)
    evaluations -- how many times value_and_grad ran (≥ iterations + 1)
    seconds     -- wall time spent in minimize_lbfgs
    message     -- SciPy's message, or a note on why it stopped
    """

    x: np.ndarray
    losses: list
    extras: list
    status: str
    evaluations: int
    seconds: float
    message: str


def _to_numpy(tree):
    """Tensors (possibly in a dict/tuple) -> NumPy scalars/arrays, for callbacks and logs."""
    return tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, tree)


def minimize_lbfgs(
    value_and_grad, x0, iterations, callback=None, bounds=None, max_evaluations=None, corrections=10, max_line_search=20
):
    """Minimise J(x) with L-BFGS-B, starting from x0.

    Arguments:
        value_and_grad -- x: tf.Tensor float32 of x0's shape -> (J, grad, extras): J a scalar
            tensor, grad = ∂J/∂x of x's shape, extras anything tf.nest can map (e.g. a dict
            of cost parts); typically from ``make_value_and_grad``
        x0 -- the starting image, e.g. shape (1, H, W, 3); NumPy or TensorFlow
        iterations -- L-BFGS iterations (SciPy's maxiter); each needs ≥ 1 evaluation
        callback -- optional callback(i, x, J, extras) after iteration i = 0, 1, ...:
            x the current image (float32 NumPy, x0's shape; a copy), J a float, extras as
            NumPy values; if it returns True, the run stops after this iteration
        bounds -- optional (lower, upper), each broadcastable to x0's shape, e.g.
            ``PIXEL_BOUNDS``; x0 is clipped into them first (the noise image pokes out a
            little). SciPy sets bounds up with Python loops over all n entries: a one-off
            5-15 s at 300x400 (360,000 entries) on a 2-core machine
        max_evaluations -- cap on evaluations (SciPy's maxfun), default 2·iterations + 20,
            so a run of failing line searches cannot run away; SciPy checks it only
            between iterations
        corrections -- m, the number of (step, gradient change) pairs L-BFGS keeps (SciPy's maxcor)
        max_line_search -- evaluations allowed per line search (SciPy's maxls)

    Returns:
        ``LBFGSResult``; unpack ``x, losses = result[:2]`` for the two essentials.

    Ctrl-C (KeyboardInterrupt) during the run is caught: the best image evaluated so
    far (lowest J) is returned with status "interrupted", so the caller can save it.
    """
    start = time.perf_counter()
    x0 = np.asarray(x0, dtype=np.float32)
    shape = x0.shape
    scipy_bounds = None
    if bounds is not None:
        lower, upper = (np.broadcast_to(np.asarray(b, dtype=np.float64), shape).ravel() for b in bounds)
        scipy_bounds = scipy.optimize.Bounds(lower, upper)
        x0 = np.clip(x0, lower.reshape(shape), upper.reshape(shape)).astype(np.float32)
    if max_evaluations is None:
        max_evaluations = 2 * iterations + 20

    # The best point evaluated so far, and the last one (whose extras belong to the
    # iterate SciPy reports next: L-BFGS-B accepts the line search's last trial point).
    best = {"J": np.inf, "x": x0.copy()}
    last = {"extras": None}
    evaluations = nonfinite = 0
    losses, extras_per_iteration = [], []
    stopped_by_callback = False

    def fun(x_flat):
        nonlocal evaluations, nonfinite
        x = tf.constant(x_flat.reshape(shape), dtype=tf.float32)
        J, grad, extras = value_and_grad(x)
        evaluations += 1
        J = float(J.numpy())
        grad = grad.numpy()
        if not (np.isfinite(J) and np.isfinite(grad).all()):
            nonfinite += 1
        if J < best["J"]:  # NaN compares False: a diverged point is never "best"
            best["J"], best["x"] = J, x.numpy()
        last["extras"] = extras
        # SciPy's Fortran-era core works in float64; a float32 gradient would be upcast anyway.
        return J, grad.astype(np.float64).ravel()

    def scipy_callback(intermediate_result):
        nonlocal stopped_by_callback
        i = len(losses)
        J = float(intermediate_result.fun)
        extras = _to_numpy(last["extras"])
        losses.append(J)
        extras_per_iteration.append(extras)
        if callback is not None:
            x = intermediate_result.x.reshape(shape).astype(np.float32)  # a copy: SciPy reuses its array
            if callback(i, x, J, extras):
                stopped_by_callback = True
                raise StopIteration  # SciPy ends the run cleanly and returns the current iterate

    options = {
        "maxiter": iterations,
        "maxfun": max_evaluations,
        "maxcor": corrections,
        "maxls": max_line_search,
        # Stop on the budget, not on a gradient threshold whose scale depends on alpha and beta.
        "gtol": 0.0,
    }
    try:
        result = scipy.optimize.minimize(
            fun,
            x0.astype(np.float64).ravel(),
            jac=True,
            method="L-BFGS-B",
            bounds=scipy_bounds,
            callback=scipy_callback,
            options=options,
        )
    except KeyboardInterrupt:
        return LBFGSResult(
            best["x"],
            losses,
            extras_per_iteration,
            "interrupted",
            evaluations,
            time.perf_counter() - start,
            "interrupted by Ctrl-C; returning the best image so far",
        )

    message = str(result.message)
    if stopped_by_callback:
        status = "stopped"
    elif len(losses) >= iterations:
        status = "done"
    elif nonfinite:
        # SciPy's line search gives up on a NaN or infinite J: that is divergence, not convergence.
        status = "diverged"
        message = f"J or its gradient was NaN or infinite at {nonfinite} of {evaluations} evaluations ({message})"
    else:
        status = "converged"
    # L-BFGS-B's iterate is the lowest J accepted; the best evaluated point is at least as good.
    return LBFGSResult(
        best["x"], losses, extras_per_iteration, status, evaluations, time.perf_counter() - start, message
    )


def make_value_and_grad(cost, shape, compute_dtype=tf.float32):
    """Build value_and_grad(G) -> (J, ∂J/∂G, terms) for ``minimize_lbfgs``, traced once.

    Arguments:
        cost -- the cost closure, G -> {"J", "J_content", "J_style"[, "J_tv"]}
            (``nst.objective.make_cost``), the same one Adam's step uses
        shape -- the image's shape (1, H, W, 3)
        compute_dtype -- the network's dtype (float16 turns on loss scaling, see
            ``nst.objective.make_gradient``)

    Returns:
        a ``tf.function`` with input_signature [TensorSpec(shape, float32)] returning
        (J, ∂J/∂G of shape (1, H, W, 3), the cost's terms). One VGG19 forward pass (up
        to the deepest layer needed) and one backward pass per call. It takes G as an
        argument, where Adam's step updates a variable: SciPy owns the current image.
    """
    gradient = make_gradient(cost, compute_dtype)

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)])
    def value_and_grad(image):
        terms, grad = gradient(image)
        return terms["J"], grad, terms

    return value_and_grad
