"""Reduced precision: the network in bfloat16 or float16, and float16's loss scaling.

``PRECISIONS`` names the network's compute dtype (``--precision``). The image, its gradient,
Adam and every cost stay float32 (the costs cast the activations up), so only VGG19's passes
run in the reduced precision. bf16 runs anywhere; fp16 is meant for GPUs (tensor cores).

float16 stops at 65504: at the exercise's J ~ 1e9 the gradients of the backward pass through
VGG19 overflow (the first unscaled step leaves NaN pixels). ``LossScale`` plugs dynamic loss
scaling in from outside the exercise's step: ``scaled(objective)`` wraps the objective's
``vgg_model_outputs`` so that inside the network the gradient is s times the true one and the
image's gradient comes out exact (s is a power of 2: scaling by it rounds nothing). A gradient
that overflows anyway is never used: ``update`` halves s, and the step or evaluation is done
again (``LossScaledAdam`` for Adam, ``value_and_grad`` for L-BFGS); after
FP16_GROWTH_INTERVAL good gradients s doubles, up to 1. J itself is never scaled.
"""

import dataclasses

import tensorflow as tf

from nst.errors import NSTError

PRECISIONS = {"fp32": tf.float32, "bf16": tf.bfloat16, "fp16": tf.float16}

# float16 loss scaling: start here, halve on overflow, double again after this many good gradients.
FP16_INITIAL_SCALE = 1.0
FP16_GROWTH_INTERVAL = 100
FP16_MAX_HALVINGS = 30


def compute_dtype(precision):
    """'fp32' | 'bf16' | 'fp16' -> the tf.DType for ``load_vgg_model``."""
    try:
        return PRECISIONS[precision]
    except KeyError:
        raise NSTError(f"precision {precision!r}: choose from {', '.join(PRECISIONS)}") from None


def _scaled_gradient(x, factor):
    """x itself; its gradient multiplied by ``factor`` on the way back."""

    @tf.custom_gradient
    def identity(x):
        return tf.identity(x), lambda dy: dy * factor

    return identity(x)


def finite(tensor):
    """Whether every entry of ``tensor`` is a finite number (a scalar bool tensor)."""
    return tf.reduce_all(tf.math.is_finite(tensor))


class LossScale:
    """Dynamic loss scaling for a float16 network (see the module's notes); ``scale`` is s."""

    def __init__(self):
        self.scale = tf.Variable(FP16_INITIAL_SCALE, trainable=False, dtype=tf.float32)
        self.good_gradients = tf.Variable(0, trainable=False, dtype=tf.int32)

    def outputs(self, model):
        """``model`` (image -> {layer: activation}) with its backward pass run on s times the gradient.

        The activations come out in float32; their gradients are multiplied by s before they
        enter the network, and the image's gradient is divided by s as it leaves it.
        """

        def scaled_model(image):
            activations = model(_scaled_gradient(image, 1.0 / self.scale))
            return {name: _scaled_gradient(tf.cast(a, tf.float32), self.scale) for name, a in activations.items()}

        return scaled_model

    def scaled(self, objective):
        """``objective`` (``nst.train.Objective``) with its network's gradient loss-scaled."""
        return dataclasses.replace(objective, vgg_model_outputs=self.outputs(objective.vgg_model_outputs))

    def update(self, grad):
        """Whether ``grad`` is finite; if not, s is halved; if so, it counts towards doubling s."""
        ok = finite(grad)

        def good():
            count = self.good_gradients.assign_add(1)
            grow = count >= FP16_GROWTH_INTERVAL
            self.scale.assign(tf.where(grow, tf.minimum(self.scale * 2.0, 1.0), self.scale))
            self.good_gradients.assign(tf.where(grow, 0, count))
            return ok

        def overflow():
            self.scale.assign(self.scale * 0.5)
            self.good_gradients.assign(0)
            return ok

        return tf.cond(ok, good, overflow)


class LossScaledAdam:
    """Adam that skips an update whose gradient overflowed; ``overflowed`` says so, to do the step again."""

    def __init__(self, adam, loss_scale):
        self.adam, self.loss_scale = adam, loss_scale
        self.overflowed = tf.Variable(False, trainable=False)

    def apply(self, grad):
        ok = self.loss_scale.update(grad)
        self.overflowed.assign(tf.logical_not(ok))

        def update():
            self.adam.apply(grad)
            return ok

        return tf.cond(ok, update, lambda: ok)

    def state(self):
        return self.adam.state()

    def load_state(self, state):
        self.adam.load_state(state)


def value_and_grad(cost, image, loss_scale=None):
    """(cost's terms, ∂J/∂image) for ``cost`` (image -> {"J", ...}); with a ``loss_scale``, an
    evaluation whose gradient overflowed is done again at the halved scale (at most
    FP16_MAX_HALVINGS times). For use inside a ``tf.function``."""

    def evaluate():
        with tf.GradientTape() as tape:
            tape.watch(image)
            terms = cost(image)
        return terms, tape.gradient(terms["J"], image)

    terms, grad = evaluate()
    if loss_scale is None:
        return terms, grad
    ok = loss_scale.update(grad)
    for _ in tf.range(FP16_MAX_HALVINGS):  # a tf.while_loop inside tf.function
        if ok:
            break
        terms, grad = evaluate()
        ok = loss_scale.update(grad)
    return terms, grad
