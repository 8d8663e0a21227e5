"""What holds frame t to frame t − 1: the short-term temporal cost.

With ω = output t − 1 warped onto frame t (``nst.engine.video.flow.warp`` along the backward flow)
and c its reliability (1 where ω shows what frame t shows, 0 where it cannot: disoccluded pixels,
motion boundaries), as in Ruder, Dosovitskiy and Brox (2016):

frame t starts from ω (``nst.engine.video.run``), and J gains one more term beside the exercise's,
``temporal_weight · J_temporal``:

    J_temporal(G) = 1/D · Σ_k c_k · (G_k − ω_k)²,    D = H · W · 3

the mask-weighted squared difference per pixel value, normalised by the number of values as in
the paper, in nst's pixel units (0..255 minus the ImageNet means).

``TemporalTerm`` keeps ω and c in TensorFlow variables, so the traced training step is built once
per clip and each frame only assigns its own (a new constant per frame would trace the step
again: 2.6-5.3 s a frame at 300x400).
"""

import numpy as np
import tensorflow as tf

NAME = "J_temporal"


def temporal_cost(generated, warped, mask):
    """J_temporal: 1/D Σ c (G − ω)²; G and ω (1, H, W, 3), c (1, H, W, 1); D = H·W·3. A scalar float32."""
    generated = tf.cast(generated, tf.float32)
    values = tf.cast(tf.size(generated), tf.float32)
    return tf.reduce_sum(mask * tf.square(generated - warped)) / values


class TemporalTerm:
    """J_temporal as an extra term of ``nst.train.Objective``: ``term`` is ("J_temporal", weight, cost),
    its targets variables that each frame sets (``set``) and the first frame clears (``clear``: c = 0)."""

    def __init__(self, weight, height, width):
        self.warped = tf.Variable(tf.zeros((1, height, width, 3)), trainable=False, name="warped_previous_output")
        self.mask = tf.Variable(tf.zeros((1, height, width, 1)), trainable=False, name="reliability")
        self.term = (NAME, float(weight), self.cost)

    def cost(self, generated):
        return temporal_cost(generated, self.warped, self.mask)

    def set(self, warped, mask):
        """This frame's ω (1, H, W, 3) and c (H, W)."""
        self.warped.assign(np.asarray(warped, np.float32))
        self.mask.assign(np.asarray(mask, np.float32)[np.newaxis, :, :, np.newaxis])

    def clear(self):
        """No previous frame: c = 0, so J_temporal = 0."""
        self.mask.assign(tf.zeros_like(self.mask))
