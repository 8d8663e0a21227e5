"""L-BFGS on the generated image's pixels: SciPy's L-BFGS-B, driven by TensorFlow.

Gatys et al. optimised with L-BFGS, not Adam. L-BFGS builds a picture of the
cost's curvature from the last m = 10 (step, gradient change) pairs and takes
quasi-Newton steps with a line search, so each iteration goes much further than
one Adam step; it costs one or a few evaluations of J and ∂J/∂G. Measured at
300x400 on the default images (``python -m nst.bench --quality``): the J that 200
Adam steps end at (6.85e6), L-BFGS passes after 54-55 iterations, 2.7-3.0x sooner
than Adam on a 2-core CPU (2026-11-28: 39-45 s against 116-122 s; docs/speed.md has the table).

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

No per-pixel Python: ``scipy.optimize.minimize`` turns bounds into its old format, a
list of n (lower, upper) tuples, and back, and then fills L-BFGS-B's bound arrays in a
Python loop over all n entries (SciPy 1.17: ``standardize_bounds`` → ``new_bounds_to_old``,
``old_bound_to_new``, the ``for i in range(n)`` in ``_minimize_lbfgsb``): 50 s for the
n = 5.8 million numbers of a 952x2048 image. So ``minimize_lbfgs`` drives SciPy's
L-BFGS-B routine ``setulb`` itself (``_drive_setulb``: the same reverse-communication
loop as ``_minimize_lbfgsb``, the bound arrays made with NumPy in milliseconds, same
iterates and evaluations, tested). Should a SciPy version change ``setulb``'s
signature, it falls back to ``scipy.optimize.minimize``.
"""

import time
from typing import NamedTuple

import numpy as np
import scipy.optimize
import tensorflow as tf

try:  # SciPy's L-BFGS-B routine (C since SciPy 1.15) and its messages; private, so checked in _setulb
    from scipy.optimize import _lbfgsb
    from scipy.optimize._lbfgsb_py import status_messages as _STATUS
    from scipy.optimize._lbfgsb_py import task_messages as _REASON
except ImportError:  # pragma: no cover - another SciPy layout: scipy.optimize.minimize then
    _lbfgsb = _STATUS = _REASON = None

from nst.config import MEANS
from nst.kernels.precision import value_and_grad
from nst.train import compute_cost

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
            little). Set up with NumPy (no loop over the n entries, see the module's notes)
        max_evaluations -- cap on evaluations (SciPy's maxfun), default 2·iterations + 20,
            so a run of failing line searches cannot run away; SciPy checks it only
            between iterations
        corrections -- m, the number of (step, gradient change) pairs L-BFGS keeps (SciPy's maxcor)
        max_line_search -- evaluations allowed per line search (SciPy's maxls)

    Returns:
        ``LBFGSResult``; unpack ``x, losses = result[:2]`` for the two essentials.

    Ctrl-C (KeyboardInterrupt) during the run is caught: the best image evaluated so
    far (lowest J) is returned with status "interrupted", so the caller can save it.

    Memory: L-BFGS-B's workspace is (2m + 5)·n float64 plus 3n int32, 25·8 = 200 bytes per
    number at m = 10 (1.2 GB at 952x2048x3), on top of x, its gradient and the bounds.
    """
    start = time.perf_counter()
    x0 = np.asarray(x0, dtype=np.float32)
    shape = x0.shape
    lower = upper = None
    if bounds is not None:
        lower, upper = (np.broadcast_to(np.asarray(b, dtype=np.float64), shape).ravel() for b in bounds)
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

    def on_iteration(x_flat, J):
        """After each accepted iterate; True stops the run."""
        nonlocal stopped_by_callback
        i = len(losses)
        extras = _to_numpy(last["extras"])
        losses.append(float(J))
        extras_per_iteration.append(extras)
        if callback is not None:
            x = x_flat.reshape(shape).astype(np.float32)  # a copy: SciPy reuses its array
            if callback(i, x, float(J), extras):
                stopped_by_callback = True
        return stopped_by_callback

    settings = {
        "maxiter": iterations,
        "maxfun": max_evaluations,
        "maxcor": corrections,
        "maxls": max_line_search,
        # Stop on the budget, not on a gradient threshold whose scale depends on alpha and beta.
        "gtol": 0.0,
    }
    x_start = x0.astype(np.float64).ravel()
    try:
        if _setulb() is not None:
            message = _drive_setulb(fun, x_start, lower, upper, on_iteration, **settings)
        else:  # pragma: no cover - only with a SciPy whose setulb nst does not know
            message = _minimize_with_scipy(fun, x_start, lower, upper, on_iteration, **settings)
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


# setulb's arguments in SciPy 1.15-1.17 (its C version); any other signature: scipy.optimize.minimize.
SETULB_SIGNATURE = "setulb(m,x,l,u,nbd,f,g,factr,pgtol,wa,iwa,task,lsave,isave,dsave,maxls,ln_task)"

# L-BFGS-B's task codes: task[0] says what the routine wants next, task[1] why it stopped.
_TASK_FG, _TASK_NEW_X, _TASK_STOP = 3, 1, 5
_STOP_ITERATIONS, _STOP_EVALUATIONS, _STOP_CALLBACK = 504, 502, 505

# SciPy's default ftol for minimize(method="L-BFGS-B"), as setulb's factr = ftol / ε.
_FACTR = 2.2204460492503131e-09 / np.finfo(float).eps


def _setulb():
    """SciPy's ``setulb`` when its signature is the one ``_drive_setulb`` was written for, else None."""
    if _lbfgsb is None:
        return None
    setulb = getattr(_lbfgsb, "setulb", None)
    doc = (getattr(setulb, "__doc__", None) or "").strip().splitlines()
    return setulb if doc and doc[0].replace(" ", "") == SETULB_SIGNATURE else None


def bound_arrays(n, lower=None, upper=None):
    """L-BFGS-B's bound arrays (l, u, nbd) for n variables, with NumPy.

    lower, upper -- float64 (n,) or None (no bound on that side); ±inf entries likewise.
    nbd[i] = 0 unbounded, 1 lower only, 2 both, 3 upper only; l[i], u[i] the finite bounds
    (0 where there is none), exactly what SciPy's per-entry loop writes.
    """
    if lower is None:
        lower = np.full(n, -np.inf)
    if upper is None:
        upper = np.full(n, np.inf)
    lower, upper = np.asarray(lower, np.float64), np.asarray(upper, np.float64)
    if (lower > upper).any():
        raise ValueError("L-BFGS-B: one of the lower bounds is greater than an upper bound")
    has_lower, has_upper = ~np.isinf(lower), ~np.isinf(upper)
    nbd = np.zeros(n, np.int32)
    nbd[has_lower & ~has_upper] = 1
    nbd[has_lower & has_upper] = 2
    nbd[~has_lower & has_upper] = 3
    return np.where(has_lower, lower, 0.0), np.where(has_upper, upper, 0.0), nbd


def _drive_setulb(fun, x0, lower, upper, on_iteration, maxiter, maxfun, maxcor, maxls, gtol):
    """L-BFGS-B by reverse communication with SciPy's ``setulb``; returns SciPy's message.

    The loop of SciPy's ``_minimize_lbfgsb`` (1.17) without its per-entry bounds loop:
    ``setulb`` asks for J and ∂J/∂x at x (task FG), or reports a new iterate (NEW_X: the
    callback runs, then the iteration and evaluation caps are checked, in SciPy's order),
    or stops. fun(x) -> (J, gradient float64 (n,)); on_iteration(x, J) -> True to stop.
    """
    setulb = _setulb()
    n, m = x0.size, maxcor
    low, up, nbd = bound_arrays(n, lower, upper)
    x = np.array(x0 if lower is None and upper is None else np.clip(x0, lower, upper), np.float64)
    f = np.array(0.0, np.float64)
    g = np.zeros(n, np.float64)
    wa = np.zeros(2 * m * n + 5 * n + 11 * m * m + 8 * m, np.float64)
    iwa = np.zeros(3 * n, np.int32)
    task, ln_task = np.zeros(2, np.int32), np.zeros(2, np.int32)
    lsave, isave, dsave = np.zeros(4, np.int32), np.zeros(44, np.int32), np.zeros(29, np.float64)
    iterations = evaluations = 0
    while True:
        setulb(m, x, low, up, nbd, f, g, _FACTR, gtol, wa, iwa, task, lsave, isave, dsave, maxls, ln_task)
        if task[0] == _TASK_FG:
            J, gradient = fun(x)
            evaluations += 1
            f = np.array(J, np.float64)
            g = np.asarray(gradient, np.float64)
        elif task[0] == _TASK_NEW_X:
            iterations += 1
            if on_iteration(x, float(f)):
                task[:] = _TASK_STOP, _STOP_CALLBACK
            if iterations >= maxiter:
                task[:] = _TASK_STOP, _STOP_ITERATIONS
            elif evaluations > maxfun:
                task[:] = _TASK_STOP, _STOP_EVALUATIONS
        else:
            break
    return f"{_STATUS.get(int(task[0]), task[0])}: {_REASON.get(int(task[1]), '')}"


def _minimize_with_scipy(fun, x0, lower, upper, on_iteration, **options):
    """The same through ``scipy.optimize.minimize`` (a Python loop over the bounds); returns its message."""

    def callback(intermediate_result):
        if on_iteration(intermediate_result.x, intermediate_result.fun):
            raise StopIteration  # SciPy ends the run cleanly and returns the current iterate

    bounds = None if lower is None else scipy.optimize.Bounds(lower, upper)
    result = scipy.optimize.minimize(
        fun, x0, jac=True, method="L-BFGS-B", bounds=bounds, callback=callback, options=options
    )
    return str(result.message)


def make_value_and_grad(objective, shape, loss_scale=None):
    """Build value_and_grad(G) -> (J, ∂J/∂G, terms) for ``minimize_lbfgs``, traced once.

    Arguments:
        objective -- the ``nst.train.Objective`` whose ``compute_cost`` Adam's step minimises too
        shape -- the image's shape (1, H, W, 3)
        loss_scale -- a ``nst.kernels.precision.LossScale`` for a float16 network (the
            objective already scaled by it), or None

    Returns:
        a ``tf.function`` with input_signature [TensorSpec(shape, float32)] returning
        (J, ∂J/∂G of shape (1, H, W, 3), the cost's terms). One VGG19 forward pass (up
        to the deepest layer needed) and one backward pass per call. It takes G as an
        argument, where Adam's step updates a variable: SciPy owns the current image.
    """

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)])
    def value_and_grad_of(image):
        terms, grad = value_and_grad(lambda G: compute_cost(G, objective), image, loss_scale)
        return terms["J"], grad, terms

    return value_and_grad_of
