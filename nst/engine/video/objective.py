"""The objective every frame of a clip minimises, built once: ``FrameObjective``.

It is ``nst.engine.objective.make_objective``'s objective at the run's last level, with two changes
made from outside (``dataclasses.replace``): its content target a_C is a TensorFlow variable, and
the temporal term (``nst.engine.video.temporal``) is one more of its ``extra_terms``. Each frame
assigns its own a_C, ω and c (``aim``), so the optimisers trace their step once per clip (a new
objective per frame would trace it again: 2.6-5.3 s a frame at 300x400).

A run of several levels optimises its last one on a *canvas*, the image with a margin of mirrored
content (``nst.engine.problem.Problem.margin``); frames are then padded into it and cropped out of
it here, so the flow, warping and the saved frames stay at the output size.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from nst.engine.optimizers import OPTIMIZERS
from nst.engine.targets import content_target
from nst.engine.video.flow import warp
from nst.engine.video.temporal import TemporalTerm
from nst.errors import NSTError


class FrameObjective:
    """The last level's objective for every frame; ``optimizer(name, ...)`` runs it from a frame's start."""

    def __init__(self, level, objective, options, temporal_weight, margin=0):
        if level.tile is not None:
            raise NSTError(
                f"--size {options.size}: frames this large are optimised in tiles, which nst video does not do; "
                "choose a smaller --size (or raise --max-memory)"
            )
        self.graph, self.layer, self.margin, self.options = level.graph, options.content_layer, margin, options
        height, width = level.content.shape[1:3]
        self.a_C = tf.Variable(objective.a_C, trainable=False, name="a_C")
        self.temporal = TemporalTerm(temporal_weight, height, width)
        terms = objective.extra_terms + (self.temporal.term,)
        self.objective = dataclasses.replace(objective, a_C=self.a_C, extra_terms=terms)
        self.optimizers = {}  # name -> the optimiser on this objective, made at first use

    def canvas(self, image, mode="reflect"):
        """(1, H, W, C) or (H, W) at the output size -> the level's canvas (the margin mirrored, or 0 with
        ``mode="constant"``)."""
        if not self.margin:
            return image
        m = self.margin
        pad = ((m, m), (m, m)) if np.ndim(image) == 2 else ((0, 0), (m, m), (m, m), (0, 0))
        return np.pad(image, pad, mode=mode)

    def crop(self, image):
        """The canvas's inside: (1, H, W, C) at the output size."""
        m = self.margin
        return image[:, m:-m, m:-m] if m else image

    def aim(self, content, warped=None, mask=None):
        """Aim at a frame: its content target from ``content`` (1, H, W, 3); ω = ``warped`` and c = ``mask``
        (H, W) for the temporal term, or none (the first frame). All at the output size."""
        a_C = content_target(self.graph, self.canvas(content), self.layer)
        self.a_C.assign(tf.cast(a_C, self.a_C.dtype))
        if warped is None:
            self.temporal.clear()
        else:
            self.temporal.set(self.canvas(warped), self.canvas(mask, "constant"))  # the margin counts for nothing

    def optimizer(self, name, start, flow=None):
        """Optimiser ``name`` ("adam" or "lbfgs") on this objective, restarted from ``start`` (output size).

        An Adam that ran the previous frame keeps its moments, carried along ``flow`` like the image:
        fresh ones make Adam's first steps full-size (the learning rate on every pixel), which undoes
        a warm start (docs/video.md).
        """
        image = self.canvas(start)
        if name not in self.optimizers:
            options = dataclasses.replace(self.options, optimizer=name)
            self.optimizers[name] = OPTIMIZERS[name](self.objective, image, options)
            return self.optimizers[name]
        optimizer, state = self.optimizers[name], None
        if name == "adam" and flow is not None:
            state = {key: self._carried(value, flow) for key, value in optimizer.state().items()}
        optimizer.restart(image, state)
        return optimizer

    def _carried(self, value, flow):
        """An optimiser's per-pixel state (1, H, W, 3) warped along ``flow``; its scalars as they are."""
        return self.canvas(warp(self.crop(value), flow)) if np.ndim(value) == 4 else value
