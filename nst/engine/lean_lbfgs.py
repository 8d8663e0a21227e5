"""L-BFGS in float32 with few vectors: the optimiser of images whose L-BFGS-B workspace would not fit.

SciPy's L-BFGS-B (``nst.engine.lbfgs``) holds about (2m + 9)·n float64 values and 4n int32 for
n pixel values: at 3808x8192 (n = 93.6 million) 23 GB with m = 10 pairs, 12.7 GB with m = 3.
This one holds its m (step, gradient change) pairs and five working vectors in float32,
(2m + 5)·4·n bytes: 5.6 GB at that size with m = 5 (Adam: image, gradient and two moments, 1.5 GB).

The method, per iteration (Nocedal & Wright, algorithms 7.4 and 7.5, with projection on the bounds):

    free   = pixels not held at a bound by the gradient (x at the lower bound with g > 0, or at the upper with g < 0)
    d      = −H·(g on the free pixels), H from the m pairs by the two-loop recursion,
             H₀ = γ·I with γ = sᵀy / yᵀy of the newest pair
    x_new  = clip(x + t·d) for t = 1, halved or interpolated until Armijo's condition
             J(x_new) ≤ J(x) + 10⁻⁴ · gᵀ(x_new − x) holds and J(x_new) < J(x)
    (s, y) = (x_new − x, g_new − g), kept when sᵀy > 0 (the curvature the recursion needs)

The first iteration has no pair: its step is −g scaled to a root-mean-square of ``first_step``
pixel values: ``FIRST_STEP`` from a noisy start, ``REFINING_FIRST_STEP`` from an image that is already
a picture (a coarser scale's result, upsampled), where a long first step only makes the line search
shorten it, one whole-image evaluation per try.

Usually one evaluation per iteration; every J accepted is lower than the last, so the current image
is the best one. It ends early ("converged") when no step lowers J, or when
an iteration lowered it by less than ``FTOL`` of its size (float32's resolution: past it, steps
only move rounding errors). Dot products are summed in float64, in chunks.
"""

import time

import numpy as np

from nst.engine.lbfgs import LBFGSResult

FIRST_STEP = 8.0  # RMS of the first step, in pixel values (2, 8, 32 tried at 238x512 and 476x1024: 8 went furthest)
# From an upsampled coarser scale 8 overshoots: 2 evaluations to the first accepted step at 952x2048, 4 or more at
# 3808x8192; 1 took one (2048 px with --max-memory 4: 388.7 s against 416.9 s, final J 4.62e7 against 4.77e7).
REFINING_FIRST_STEP = 1.0
ARMIJO = 1e-4
FTOL = 1e-7  # relative decrease of J below which it has converged (float32's epsilon: 1.2e-7)
CHUNK = 1 << 22  # values per chunk of a float64 dot product


def dot(a, b):
    """Σ a·b over two float32 arrays of the same shape, accumulated in float64."""
    a, b = a.reshape(-1), b.reshape(-1)
    return float(sum(np.dot(a[i : i + CHUNK].astype(np.float64), b[i : i + CHUNK]) for i in range(0, a.size, CHUNK)))


def free_pixels(x, g, lower, upper):
    """Where a step may move x: not at a bound that the gradient pushes against (bool, x's shape)."""
    if lower is None:
        return np.ones(x.shape, bool)
    return ~(((x <= lower) & (g > 0)) | ((x >= upper) & (g < 0)))


def direction(g, free, pairs, first_step=FIRST_STEP):
    """d = −H·g on the free pixels (the two-loop recursion over ``pairs`` = [(s, y, 1/sᵀy)], oldest first);
    with no pairs yet, −g scaled to an RMS of ``first_step``."""
    q = np.where(free, g, np.float32(0))
    alphas = []
    for s, y, rho in reversed(pairs):
        a = rho * dot(s, q)
        q -= np.float32(a) * y
        alphas.append(a)
    if pairs:
        s, y, _ = pairs[-1]
        q *= np.float32(dot(s, y) / dot(y, y))
    else:
        q *= np.float32(first_step / max(np.sqrt(dot(q, q) / q.size), 1e-30))
    for (s, y, rho), a in zip(pairs, reversed(alphas)):
        b = rho * dot(y, q)
        q += np.float32(a - b) * s
    q[~free] = 0
    np.negative(q, out=q)
    return q


def line_search(value_and_grad, x, J, g, d, lower, upper, tries):
    """(evaluations, x_new, J_new, g_new, extras, x_new − x) for the first t = 1, ... meeting Armijo's
    condition along clip(x + t·d), or (evaluations, None, last J) when none of ``tries`` does."""
    t, J_new = 1.0, np.nan
    for tried in range(1, tries + 1):
        x_new = x + np.float32(t) * d
        if lower is not None:
            np.clip(x_new, lower, upper, out=x_new)
        step = x_new - x
        slope = dot(g, step)  # gᵀ(x_new − x), negative along a descent direction
        J_new, g_new, extras = value_and_grad(x_new)
        if np.isfinite(J_new) and J_new <= J + ARMIJO * slope and J_new < J:
            return tried, x_new, J_new, g_new, extras, step
        # The minimum of the parabola through J(0), its slope and J(t), kept within [t/10, t/2].
        curvature = (J_new - J - slope) if np.isfinite(J_new) else np.inf
        t *= float(np.clip(-slope / (2 * curvature), 0.1, 0.5)) if curvature > 0 and np.isfinite(curvature) else 0.5
    return tries, None, J_new


def minimize_lean(
    value_and_grad, x0, iterations, callback=None, bounds=None, corrections=5, max_line_search=8, first_step=FIRST_STEP
):
    """Minimise J(x) from x0 with float32 L-BFGS; returns an ``nst.engine.lbfgs.LBFGSResult``.

    value_and_grad -- x (float32 NumPy, x0's shape) -> (J float, ∂J/∂x float32 of x's shape, extras)
    callback -- callback(i, x, J, extras) after iteration i; True stops the run ("stopped").
        x is the optimiser's own array: copy it to keep it
    bounds -- (lower, upper), each broadcastable to x0 (``PIXEL_BOUNDS``), or None
    corrections -- m, the pairs kept; max_line_search -- evaluations allowed per iteration
    first_step -- the first step's RMS in pixel values (its direction is −g)

    Status as ``minimize_lbfgs``'s: "done", "converged" (no step lowered J), "stopped",
    "interrupted" (Ctrl-C: the current image, the best so far) or "diverged" (J not finite).
    """
    start = time.perf_counter()
    lower = upper = None
    x = np.array(x0, np.float32)
    if bounds is not None:
        lower, upper = (np.asarray(b, np.float32) for b in bounds)
        np.clip(x, lower, upper, out=x)
    losses, extras_per_iteration, pairs = [], [], []
    evaluations, status, message = 0, "done", ""
    try:
        J, g, extras = value_and_grad(x)
        evaluations += 1
        if not np.isfinite(J):
            return LBFGSResult(x, [], [], "diverged", 1, time.perf_counter() - start, f"J = {J} at the start")
        for i in range(iterations):
            d = direction(g, free_pixels(x, g, lower, upper), pairs, first_step)
            found = line_search(value_and_grad, x, J, g, d, lower, upper, max_line_search)
            evaluations += found[0]
            del d
            if found[1] is None:
                status = "converged" if np.isfinite(found[2]) else "diverged"
                message = f"no step along the L-BFGS direction lowered J (iteration {i}, {max_line_search} tries)"
                break
            J_before = J
            _, x_new, J, g_new, extras, step = found
            y = g_new - g
            sy = dot(step, y)
            if sy > 1e-10 * dot(y, y):
                pairs.append((step, y, 1.0 / sy))
                del pairs[:-corrections]
            x, g = x_new, g_new
            del found, x_new, g_new, step, y  # only the pairs keep their vectors
            losses.append(float(J))
            extras_per_iteration.append(extras)
            if callback is not None and callback(i, x, float(J), extras):
                status = "stopped"
                break
            if J_before - J <= FTOL * max(abs(J_before), abs(J), 1.0):
                status, message = "converged", f"J changed by less than {FTOL:g} of itself (iteration {i})"
                break
    except KeyboardInterrupt:
        status, message = "interrupted", "interrupted by Ctrl-C; returning the best image so far"
    return LBFGSResult(x, losses, extras_per_iteration, status, evaluations, time.perf_counter() - start, message)
