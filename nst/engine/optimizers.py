"""The optimisers, in one table: each takes the objective whole and runs one loop shape.

    optimizer = OPTIMIZERS[options.optimizer](objective, image, options)
    status = optimizer.run(first, stop, on_step)   # iterations first .. stop - 1
    optimizer.image()                              # the current image, (1, H, W, 3) float32

``on_step(i, terms, image)`` is called after every iteration with the cost's terms (a
dict of scalars) and a function returning the current image; returning True stops the
run ("stopped"). ``run`` returns "done", "stopped", "interrupted" (Ctrl-C) or "diverged"
(J became NaN or infinite: the image is then the last good one). ``message`` says why
L-BFGS ended early, when it did. ``state()`` / ``load_state()`` carry what a checkpoint
needs to continue (Adam's moments; L-BFGS keeps none); ``restart(image)`` starts afresh from
another image on the same traced step (a clip's next frame).

Both minimise ``nst.train.compute_cost`` of the same ``nst.train.Objective``; Adam's iteration
is the exercise's ``nst.train.train_step`` itself. A float16 network gets loss scaling here,
plugged into the objective from outside (``nst.kernels.precision``).

A level too large for one pass minimises the same J over tiles (``nst.kernels.tiles``): ``TILED``
holds their optimisers, and ``make_optimizer`` picks the table by the objective.
"""

from functools import partial

import numpy as np
import tensorflow as tf

from nst.adam import Adam
from nst.engine.lbfgs import PIXEL_BOUNDS, make_value_and_grad, minimize_lbfgs
from nst.engine.lean_lbfgs import FIRST_STEP, REFINING_FIRST_STEP, minimize_lean
from nst.kernels.precision import FP16_MAX_HALVINGS, LossScale, LossScaledAdam, compute_dtype, finite
from nst.kernels.tiles import TiledCost, TiledObjective
from nst.train import train_step


def loss_scaling(objective, options):
    """(objective, LossScale) for a float16 network, its gradients loss-scaled; else (objective, None)."""
    if compute_dtype(options.precision) != tf.float16:
        return objective, None
    loss_scale = LossScale()
    return loss_scale.scaled(objective), loss_scale


class AdamOptimizer:
    """The exercise's optimiser: Adam on the pixels, one traced ``train_step`` per iteration."""

    def __init__(self, objective, image, options):
        self.variable = tf.Variable(np.asarray(image, np.float32), name="generated_image")
        self.adam = Adam(self.variable, learning_rate=options.learning_rate)
        self.message = ""
        objective, loss_scale = loss_scaling(objective, options)
        optimizer = self.adam if loss_scale is None else LossScaledAdam(self.adam, loss_scale)
        last_good = tf.Variable(self.variable)

        @tf.function(jit_compile=options.xla)
        def guarded_step():
            """The exercise's train_step, keeping the image it started from; returns (terms, finite?)."""
            last_good.assign(self.variable)
            terms = train_step(self.variable, objective, optimizer)
            if loss_scale is not None:  # float16: an update whose gradient overflowed was skipped; do it again
                for _ in tf.range(FP16_MAX_HALVINGS):
                    if not optimizer.overflowed:
                        break
                    terms = train_step(self.variable, objective, optimizer)
                return terms, finite(terms["J"]) & finite(self.variable) & tf.logical_not(optimizer.overflowed)
            return terms, finite(terms["J"]) & finite(self.variable)

        self.guarded_step, self.last_good = guarded_step, last_good

    def image(self):
        return self.variable.numpy()

    def restart(self, image, state=None):
        """Start again from ``image`` on the same traced step: with Adam's ``state`` (m, v, t) when given,
        else as a new optimiser would (moments zero)."""
        self.variable.assign(np.asarray(image, np.float32))
        fresh = {name: tf.zeros_like(value) for name, value in self.adam.state().items()}
        self.adam.load_state(fresh if state is None else state)
        self.message = ""

    def step(self):
        """One iteration: (terms, whether J and the image stayed finite); if not, the image is the one before."""
        terms, ok = self.guarded_step()
        if not ok:
            self.variable.assign(self.last_good)
        return terms, bool(ok)

    def run(self, first, stop, on_step):
        try:
            for i in range(first, stop):
                terms, ok = self.step()
                if not ok:
                    self.message = f"iteration {i}: J = {float(terms['J'])}"
                    return "diverged"
                if on_step(i, terms, self.image):
                    return "stopped"
        except KeyboardInterrupt:
            return "interrupted"
        return "done"

    def state(self):
        return self.adam.state()

    def load_state(self, state):
        self.adam.load_state(state)


class LBFGSOptimizer:
    """Gatys et al.'s optimiser: SciPy's L-BFGS-B on the pixels, kept displayable."""

    minimize = staticmethod(minimize_lbfgs)

    def __init__(self, objective, image, options):
        self.x = np.asarray(image, np.float32)
        objective, loss_scale = loss_scaling(objective, options)
        self.value_and_grad = make_value_and_grad(objective, self.x.shape, loss_scale)
        self.message = ""

    def image(self):
        return self.x

    def restart(self, image, state=None):
        """Start again from ``image``, keeping the traced evaluation (L-BFGS keeps no state between runs)."""
        self.x = np.asarray(image, np.float32)
        self.message = ""

    def run(self, first, stop, on_step):
        def callback(i, x, J, terms):
            return on_step(first + i, terms, lambda: x)

        result = self.minimize(self.value_and_grad, self.x, stop - first, callback=callback, bounds=PIXEL_BOUNDS)
        self.x = result.x
        if result.status == "converged":  # fewer iterations than asked: say why rather than stay silent
            self.message = f"L-BFGS stopped after {len(result.losses)} of {stop - first} iterations: {result.message}"
            return "done"
        self.message = result.message if result.status == "diverged" else ""
        return result.status

    def state(self):
        return {}

    def load_state(self, state):
        pass


OPTIMIZERS = {"adam": AdamOptimizer, "lbfgs": LBFGSOptimizer}

# float32 L-BFGS's pairs at a tiled level: 3, 5 and 10 ended 10 iterations at 476x1024 within 4 % of
# each other's J; each pair is two image-sized vectors (0.75 GB at 3808x8192).
LEAN_CORRECTIONS = 5


class TiledAdamOptimizer(AdamOptimizer):
    """Adam over tiles: ``nst.adam.Adam``'s update, with J and ∂J/∂G from ``nst.kernels.tiles.TiledCost``.

    Not the exercise's ``train_step``: that holds one gradient tape over the whole image, which is
    what tiles are for avoiding. The J, the gradient and the update are the same up to float rounding.
    """

    def __init__(self, objective, image, options, refining=False):  # Adam's step size is its own, whatever the start
        self.cost = TiledCost(objective)
        self.variable = tf.Variable(np.asarray(image, np.float32), name="generated_image")
        self.adam = Adam(self.variable, learning_rate=options.learning_rate)
        self.message = ""

    def step(self):
        terms, grad = self.cost(self.variable.numpy())
        if not (np.isfinite(terms["J"]) and np.isfinite(grad).all()):  # not applied: the image stays as it was
            return terms, False
        self.adam.apply(tf.constant(grad))
        return terms, True


class TiledLBFGSOptimizer(LBFGSOptimizer):
    """L-BFGS over tiles: J and ∂J/∂G from ``nst.kernels.tiles.TiledCost``, the steps by
    ``nst.engine.lean_lbfgs`` in float32 (SciPy's float64 workspace would not fit where tiles are needed)."""

    def __init__(self, objective, image, options, refining=False):
        first_step = REFINING_FIRST_STEP if refining else FIRST_STEP
        self.minimize = partial(minimize_lean, corrections=LEAN_CORRECTIONS, first_step=first_step)
        self.x = np.asarray(image, np.float32)
        self.cost = TiledCost(objective)
        self.message = ""

    def value_and_grad(self, x):
        terms, gradient = self.cost(x)
        return terms["J"], gradient, terms


TILED = {"adam": TiledAdamOptimizer, "lbfgs": TiledLBFGSOptimizer}


def make_optimizer(objective, image, options, refining=False):
    """``options.optimizer`` for this objective: from ``TILED`` for a tiled one, else ``OPTIMIZERS``.

    refining -- ``image`` is already a picture (a coarser scale's result, upsampled), not a fresh start:
    the float32 L-BFGS then starts with a shorter step (``nst.engine.lean_lbfgs.REFINING_FIRST_STEP``).
    """
    if isinstance(objective, TiledObjective):
        return TILED[options.optimizer](objective, image, options, refining)
    return OPTIMIZERS[options.optimizer](objective, image, options)
