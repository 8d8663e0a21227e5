"""The optimisers, in one table: each takes the cost closure whole and runs one loop shape.

    optimizer = OPTIMIZERS[options.optimizer](cost, image, options)
    status = optimizer.run(first, stop, on_step)   # iterations first .. stop - 1
    optimizer.image()                              # the current image, (1, H, W, 3) float32

``on_step(i, terms, image)`` is called after every iteration with the cost's terms (a
dict of scalars) and a function returning the current image; returning True stops the
run ("stopped"). ``run`` returns "done", "stopped", "interrupted" (Ctrl-C) or "diverged"
(J became NaN or infinite: the image is then the last good one). ``message`` says why
L-BFGS ended early, when it did. ``state()`` / ``load_state()`` carry what a checkpoint
needs to continue (Adam's moments; L-BFGS keeps none).
"""

import numpy as np
import tensorflow as tf

from nst.adam import Adam
from nst.lbfgs import PIXEL_BOUNDS, make_value_and_grad, minimize_lbfgs
from nst.objective import make_gradient
from nst.runtime import compute_dtype


class AdamOptimizer:
    """The exercise's optimiser: Adam on the pixels, one traced step per iteration."""

    def __init__(self, cost, image, options):
        self.variable = tf.Variable(np.asarray(image, np.float32), name="generated_image")
        self.adam = Adam(self.variable, learning_rate=options.learning_rate)
        self.message = ""
        gradient = make_gradient(cost, compute_dtype(options.precision))
        last_good = tf.Variable(self.variable)

        @tf.function(jit_compile=options.xla)
        def train_step():
            """Forward pass, costs, gradient, one Adam update of G; returns (terms, finite?)."""
            terms, grad = gradient(self.variable)
            last_good.assign(self.variable)
            self.adam.apply(grad)
            return terms, tf.math.is_finite(terms["J"]) & tf.reduce_all(tf.math.is_finite(self.variable))

        self.train_step, self.last_good = train_step, last_good

    def image(self):
        return self.variable.numpy()

    def run(self, first, stop, on_step):
        try:
            for i in range(first, stop):
                terms, ok = self.train_step()
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

    def __init__(self, cost, image, options):
        self.x = np.asarray(image, np.float32)
        self.value_and_grad = make_value_and_grad(cost, self.x.shape, compute_dtype(options.precision))
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
