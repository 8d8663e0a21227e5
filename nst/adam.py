"""Adam, written out: the optimizer the exercise uses on the generated image's pixels.

For a variable x with gradient g at step t = 1, 2, ...:

    m = beta1 * m + (1 - beta1) * g            running mean of gradients
    v = beta2 * v + (1 - beta2) * g**2         running mean of squared gradients
    step = learning_rate * sqrt(1 - beta2**t) / (1 - beta1**t)
    x = x - step * m / (sqrt(v) + epsilon)

This is the update of TF1's ``tf.train.AdamOptimizer`` (the exercise's optimizer, with
epsilon=1e-8) and of ``tf.keras.optimizers.Adam``; a test checks them against each
other. Its state (m, v, t) is plain tensors, so a run can be saved and resumed.
"""

import tensorflow as tf


class Adam:
    """Adam for one variable. ``apply(grad)`` updates ``var`` in place (inside tf.function too)."""

    def __init__(self, var, learning_rate=2.0, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.var = var
        self.learning_rate, self.beta1, self.beta2, self.epsilon = learning_rate, beta1, beta2, epsilon
        self.m = tf.Variable(tf.zeros_like(var), trainable=False, name="adam_m")
        self.v = tf.Variable(tf.zeros_like(var), trainable=False, name="adam_v")
        self.t = tf.Variable(0.0, trainable=False, name="adam_t")

    def apply(self, grad):
        t = self.t.assign_add(1.0)
        m = self.m.assign(self.beta1 * self.m + (1.0 - self.beta1) * grad)
        v = self.v.assign(self.beta2 * self.v + (1.0 - self.beta2) * tf.square(grad))
        step = self.learning_rate * tf.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)
        return self.var.assign_sub(step * m / (tf.sqrt(v) + self.epsilon))

    def state(self):
        """{'m', 'v', 't'} as NumPy arrays, for a checkpoint."""
        return {"m": self.m.numpy(), "v": self.v.numpy(), "t": self.t.numpy()}

    def load_state(self, state):
        self.m.assign(state["m"])
        self.v.assign(state["v"])
        self.t.assign(state["t"])
