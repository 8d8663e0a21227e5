"""The problem a run solves: the pictures, the sizes (levels) it works at, their targets.

``prepare(options, weights)`` reads the pictures once (and matches the style's colours to the
content's with ``--preserve-colors histogram``) and settles the output size.
``level_sizes(height, width, multiscale)`` lists the sizes to optimise at, coarse to fine
(``--multiscale``): with several, each is twice the last, and the result of one level,
upsampled, starts the next (the large structures form cheaply at low resolution, the fine
ones at the end). ``Problem.at(height, width)`` builds one ``Level``: the graph at that size,
with nst's fast kernels, and its targets.
"""

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from nst.engine.color import luminance_transfer, match_color_histogram
from nst.engine.targets import content_target, initial_image, normalise_blend, style_activations, style_size
from nst.images import deprocess_image, load_picture, reshape_and_normalize_image, resize_to
from nst.kernels import FastKernels
from nst.kernels.precision import compute_dtype
from nst.vgg import MIN_SIZE, VGGGraph

AUTO_FIRST_SIZE = 512  # --multiscale auto: the first level's long side is at most this

# VGG19's blocks whose activations the backward pass computes again (FastKernels.recompute_blocks),
# from this many pixels up: memory for time. Measured at 952x2048 (1.95 Mpx) blocks {1} or {1, 2}
# did not lower the peak (7.2 GB either way) and cost 3-15 % per evaluation, so 2048 px keeps
# them; a 4096 px long side (7.8 Mpx) would otherwise hold ~6 GB of saved activations.
RECOMPUTE_FROM_PIXELS = 4_000_000
RECOMPUTE_BLOCKS = frozenset({1, 2, 3})


def level_sizes(height, width, multiscale="auto"):
    """[(h, w), ...] from coarse to the output size, each side half the next one's."""
    if multiscale == "auto":
        count = 1 + max(0, math.ceil(math.log2(max(height, width) / AUTO_FIRST_SIZE)))
    else:
        count = int(multiscale)
    sizes = [(height, width)]
    for _ in range(count - 1):
        h, w = sizes[0]
        if min(h, w) // 2 < MIN_SIZE:
            break  # VGG19 needs 32 pixels: fewer scales than asked
        sizes.insert(0, (round(h / 2), round(w / 2)))
    return sizes


def upsample(image, height, width):
    """A (1, h, w, 3) image resized (bicubic) to (1, height, width, 3)."""
    return tf.image.resize(image, (height, width), method="bicubic").numpy()


@dataclass
class Level:
    """One level of a run, at one size: what ``nst.engine.objective.make_objective`` needs."""

    graph: VGGGraph  # VGG19 at this size
    content: np.ndarray  # the content image, normalised, (1, H, W, 3)
    a_C: np.ndarray  # content target: the content image's activation at the content layer
    styles: list  # [(blend weight, {style layer: a_S})], from targets.style_activations


@dataclass
class Problem:
    """The pictures and settings of one run; ``at(h, w)`` gives a level's graph and targets."""

    weights: dict
    content: np.ndarray  # uint8 (H, W, 3), as read
    styles: list  # uint8 pictures, colours matched if asked
    blend: list
    options: object

    def at(self, height, width):
        o = self.options
        graph = VGGGraph(self.weights, height, width, dtype=compute_dtype(o.precision), kernels=FastKernels)
        layers = [o.content_layer] + [name for name, _ in o.style_layers]
        graph.check_layers(layers)
        if height * width >= RECOMPUTE_FROM_PIXELS:
            graph.kernels.recompute_blocks = RECOMPUTE_BLOCKS
        content = reshape_and_normalize_image(resize_to(self.content, height, width))
        sh, sw = style_size(height, width, o.style_scale)
        styles = [reshape_and_normalize_image(resize_to(s, sh, sw)) for s in self.styles]
        a_C = content_target(graph, content, o.content_layer).numpy()
        return Level(graph, content, a_C, style_activations(graph, styles, self.blend, o.style_layers))

    def start_image(self, content, seed):
        """The initial image at ``content``'s size, as --init asks."""
        height, width = content.shape[1:3]
        style = reshape_and_normalize_image(resize_to(self.styles[0], height, width))
        return initial_image(self.options.init, content, style, self.options.noise_ratio, seed)

    def finish(self, image):
        """The picture to save: with --preserve-colors luminance, the content's colours."""
        picture = deprocess_image(image)
        if self.options.preserve_colors == "luminance":
            content = resize_to(self.content, *picture.shape[:2])
            picture = luminance_transfer(picture, content)
        return reshape_and_normalize_image(picture)


def prepare(options, weights):
    """Read the content and style pictures once; returns the Problem and the output size."""
    content = load_picture(options.content)
    styles = [load_picture(path) for path in options.style]
    if options.preserve_colors == "histogram":
        styles = [match_color_histogram(style, content) for style in styles]
    blend = normalise_blend(options.style_blend, len(styles))
    size = options.size.resolve(content.shape)
    return Problem(weights, content, styles, blend, options), size
