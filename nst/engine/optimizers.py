"""The optimisers, in one table: each takes the objective whole and runs one loop shape.

    optimizer = OPTIMIZERS[options.optimizer](objective, image, options)
    status = optimizer.run(first, stop, on_step)   # iterations first .. stop - 1
    optimizer.image()                              # the current image, (1, H, W, 3) float32

``on_step(i, terms, image)`` is called after every iteration with the cost's terms (a
dict of scalars) and a function returning the current image; returning True stops the
run ("stopped"). ``run`` returns "done", "stopped", "interrupted" (Ctrl-C) or "diverged"
(J became NaN or infinite: the image is then the last good one). ``message`` says why
L-BFGS ended early, when it did. ``state()`` / ``load_state()`` carry what a checkpoint
needs to continue (Adam's moments; L-BFGS keeps none).

Both minimise ``nst.train.compute_cost`` of the same ``nst.train.Objective``; Adam's iteration
is the exercise's ``nst.train.train_step`` itself. A float16 network gets loss scaling here,
plugged into the objective from outside (``nst.kernels.precision``).
"""

import numpy as np
import tensorflow as tf

from nst.adam import Adam
from nst.engine.lbfgs import PIXEL_BOUNDS, make_value_and_grad, minimize_lbfgs
from nst.kernels.precision import FP16_MAX_HALVINGS, LossScale, LossScaledAdam, compute_dtype, finite
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

    def run(self, first, stop, on_step):
        try:
            for i in range(first, stop):
                terms, ok = self.guarded_step()
                if not ok:
                    self.variable.assign(self.last_good)
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

    def __init__(self, objective, image, options):
        self.x = np.asarray(image, np.float32)
        objective, loss_scale = loss_scaling(objective, options)
        self.value_and_grad = make_value_and_grad(objective, self.x.shape, loss_scale)
        self.message = ""

    def image(self):
        return self.x

    def run(self, first, stop, on_step):
        def callback(i, x, J, terms):
            return on_step(first + i, terms, lambda: x)

        result = minimize_lbfgs(self.value_and_grad, self.x, stop - first, callback=callback, bounds=PIXEL_BOUNDS)
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
