"""Everything between the options and the optimiser: images, scales, targets, start image.

``prepare(options)`` reads the pictures once (and matches the style's colours to the
content's with ``--preserve-colors histogram``) and settles the output size.
``scales(height, width, multiscale)`` lists the sizes to optimise at: with several, each is
twice the last, and the result of one scale, upsampled, starts the next (coarse-to-fine:
the large structures form cheaply at low resolution, the fine ones at the end).
``Problem.at(height, width)`` builds one ``Scale``: the graph at that size and its targets.
"""

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from nst.color import luminance_transfer, match_color_histogram
from nst.images import deprocess_image, load_picture, reshape_and_normalize_image, resize_to
from nst.runtime import compute_dtype
from nst.targets import content_target, initial_image, normalise_blend, style_activations, style_size
from nst.vgg import MIN_SIZE, VGGGraph

AUTO_FIRST_SCALE = 512  # --multiscale auto: the first scale's long side is at most this

# VGG19's blocks whose activations the backward pass computes again (VGGGraph.recompute_blocks),
# from this many pixels up: memory for time. Measured at 952x2048 (1.95 Mpx) blocks {1} or {1, 2}
# did not lower the peak (7.2 GB either way) and cost 3-15 % per evaluation, so 2048 px keeps
# them; a 4096 px long side (7.8 Mpx) would otherwise hold ~6 GB of saved activations.
RECOMPUTE_FROM_PIXELS = 4_000_000
RECOMPUTE_BLOCKS = frozenset({1, 2, 3})


def output_size(size, content_shape):
    """(H, W) from --size: as given, or a long side with the content's aspect ratio kept."""
    if isinstance(size, tuple):
        return size
    h, w = content_shape[:2]
    if h >= w:
        return size, max(MIN_SIZE, round(size * w / h))
    return max(MIN_SIZE, round(size * h / w)), size


def scales(height, width, multiscale="auto"):
    """[(h, w), ...] from coarse to the output size, each side half the next one's."""
    if multiscale == "auto":
        count = 1 + max(0, math.ceil(math.log2(max(height, width) / AUTO_FIRST_SCALE)))
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
class Scale:
    """One scale of a run: what ``nst.objective.make_cost`` needs to build J there."""

    graph: VGGGraph  # VGG19 at this size
    content: np.ndarray  # the content image, normalised, (1, H, W, 3)
    a_C: np.ndarray  # content target: the content image's activation at the content layer
    styles: list  # [(blend weight, {style layer: a_S})], from targets.style_activations


@dataclass
class Problem:
    """The pictures and settings of one run; ``at(h, w)`` gives a scale's graph and targets."""

    weights: dict
    content: np.ndarray  # uint8 (H, W, 3), as read
    styles: list  # uint8 pictures, colours matched if asked
    blend: list
    options: object

    def at(self, height, width):
        o = self.options
        graph = VGGGraph(self.weights, height, width, dtype=compute_dtype(o.precision))
        layers = [o.content_layer] + [name for name, _ in o.style_layers]
        graph.check_layers(layers)
        if height * width >= RECOMPUTE_FROM_PIXELS:
            graph.recompute_blocks = RECOMPUTE_BLOCKS
        content = reshape_and_normalize_image(resize_to(self.content, height, width))
        sh, sw = style_size(height, width, o.style_scale)
        styles = [reshape_and_normalize_image(resize_to(s, sh, sw)) for s in self.styles]
        a_C = content_target(graph, content, o.content_layer).numpy()
        return Scale(graph, content, a_C, style_activations(graph, styles, self.blend, o.style_layers))

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
    size = output_size(options.size, content.shape)
    return Problem(weights, content, styles, blend, options), size
