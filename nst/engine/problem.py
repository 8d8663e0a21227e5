"""The problem a run solves: the pictures, the sizes (levels) it works at, their targets.

``prepare(options, weights)`` reads the pictures once (and matches the style's colours to the
content's with ``--preserve-colors histogram``) and settles the output size.
``level_sizes(height, width, multiscale)`` lists the sizes to optimise at, coarse to fine
(``--multiscale``): with several, each is twice the last, and the result of one level,
upsampled, starts the next (the large structures form cheaply at low resolution, the fine
ones at the end). ``Problem.at(height, width)`` builds one ``Level``: the graph at that size,
with nst's fast kernels, and its targets; whole, or for a scale too large for the memory budget,
by tiles (``nst.engine.resources.choose_tile``, ``nst.kernels.tiles``).

With several levels, each is optimised on a *canvas*: the image with a margin of EDGE·2^k pixels
on every side at level k (k = 0 the coarsest), the content mirrored into it; the result is cropped
(``Problem.crop``). Why: VGG19's gradient is weak in an image's outer 2-3 pixels (0.5 and 0.8 of the
interior's mean |∂J/∂G| in the outermost two rows, measured on noise at 240x512; weaker still at the
top than the bottom where SAME pooling pads odd sizes at the bottom, and on the left than the right,
VGG19's filters not being symmetric), so the first level leaves them behind, and each 2x
upsampling doubled that band: 8 px along the top and left of a 952x2048 result. On the canvas the
band forms, and doubles, in the margin, which each level's margin (twice the last one's) covers.
Not with the exercise preset: its runs stay the exercise's.
"""

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from nst.engine.color import luminance_transfer, match_color_histogram
from nst.engine.resources import choose_tile
from nst.engine.targets import content_target, initial_image, normalise_blend, style_activations, style_size
from nst.images import deprocess_image, load_picture, reshape_and_normalize_image, resize_to
from nst.kernels import FastKernels, tiles
from nst.kernels.precision import compute_dtype
from nst.vgg import MIN_SIZE, VGGGraph

AUTO_FIRST_SIZE = 512  # --multiscale auto: the first level's long side is at most this

# VGG19's blocks whose activations the backward pass computes again (FastKernels.recompute_blocks),
# from this many pixels up: memory for time. Measured at 952x2048 (1.95 Mpx) blocks {1} or {1, 2}
# did not lower the peak (7.2 GB either way) and cost 3-15 % per evaluation, so 2048 px keeps
# them; a 4096 px long side (7.8 Mpx) would otherwise hold ~6 GB of saved activations.
RECOMPUTE_FROM_PIXELS = 4_000_000
RECOMPUTE_BLOCKS = frozenset({1, 2, 3})

EDGE = 4  # the canvas margin of the first of several levels, in pixels; doubled at each next level


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

    graph: VGGGraph  # VGG19 at this size (tiled: at one tile's size, its weights and kernels)
    content: np.ndarray  # the content image, normalised, (1, H, W, 3): the canvas when margin > 0
    a_C: np.ndarray  # content target: the content image's activation at the content layer
    styles: list | None  # [(blend weight, {style layer: a_S})], from targets.style_activations; tiled: None
    margin: int = 0  # the canvas's margin on every side, in pixels
    tile: int | None = None  # tiled: the tile side (nst.kernels.tiles), and then
    style_images: list | None = None  # [(blend weight, style image)], whose Gram matrices the objective sums


@dataclass
class Problem:
    """The pictures and settings of one run; ``at(h, w)`` gives a level's graph and targets."""

    weights: dict
    content: np.ndarray  # uint8 (H, W, 3), as read
    styles: list  # uint8 pictures, colours matched if asked
    blend: list
    options: object
    size: tuple | None = None  # the output's (H, W)

    def at(self, height, width):
        o = self.options
        margin = self.margin(height, width)
        content = reshape_and_normalize_image(resize_to(self.content, height, width))
        sh, sw = style_size(height, width, o.style_scale)
        styles = [reshape_and_normalize_image(resize_to(s, sh, sw)) for s in self.styles]
        if margin:
            content = np.pad(content, ((0, 0), (margin, margin), (margin, margin), (0, 0)), mode="reflect")
            height, width = height + 2 * margin, width + 2 * margin
        tile = choose_tile(height, width, o, largest=self.largest())
        side = (height, width)
        if tile is not None:  # the graph's own input at one tile's size: no image-sized variable of zeros
            side = (min(height, tile + 2 * tiles.MARGIN), min(width, tile + 2 * tiles.MARGIN))
        graph = VGGGraph(self.weights, *side, dtype=compute_dtype(o.precision), kernels=FastKernels)
        if tile is not None:  # F(4x4) only: its blocks meet the tiles' 16 px grid where F(6x6)'s do not
            graph.kernels.winograd_6x6 = False  # (rounding the same as the whole image's: docs/speed.md)
        layers = [o.content_layer] + [name for name, _ in o.style_layers]
        graph.check_layers(layers)
        if tile is not None:
            a_C = tiles.content_target(graph, content, o.content_layer, tile)
            return Level(graph, content, a_C, None, margin, tile, list(zip(self.blend, styles)))
        if height * width >= RECOMPUTE_FROM_PIXELS:
            graph.kernels.recompute_blocks = RECOMPUTE_BLOCKS
        a_C = content_target(graph, content, o.content_layer).numpy()
        return Level(graph, content, a_C, style_activations(graph, styles, self.blend, o.style_layers), margin)

    def levels(self):
        """The run's level sizes, coarse to fine (``level_sizes`` of the output size)."""
        return level_sizes(*self.size, self.options.multiscale) if self.size else []

    def largest(self):
        """(h, w) of the run's finest level with its canvas margin (its peak memory is the run's), or None."""
        sizes = self.levels()
        return self.canvas(*sizes[-1]) if sizes else None

    def canvas(self, height, width):
        """(h, w) of the level of height x width with its canvas margin."""
        margin = self.margin(height, width)
        return height + 2 * margin, width + 2 * margin

    def margin(self, height, width):
        """The canvas margin of the level of height x width: EDGE·2^k at level k of several, else 0.
        None with the exercise preset, whose runs stay the exercise's (its published numbers are pinned)."""
        sizes = self.levels()
        if self.options.preset == "exercise" or len(sizes) < 2 or (height, width) not in sizes:
            return 0
        return EDGE * 2 ** sizes.index((height, width))

    def crop(self, image):
        """The picture inside a level's canvas: ``image`` (1, h, w, 3) without its margin (as it is without one)."""
        for h, w in self.levels():
            m = self.margin(h, w)
            if m and tuple(image.shape[1:3]) == (h + 2 * m, w + 2 * m):
                return image[:, m:-m, m:-m]
        return image

    def start_image(self, content, seed):
        """The initial image at ``content``'s size, as --init asks."""
        height, width = content.shape[1:3]
        style = reshape_and_normalize_image(resize_to(self.styles[0], height, width))
        return initial_image(self.options.init, content, style, self.options.noise_ratio, seed)

    def finish(self, image):
        """The picture to save (a canvas cropped): with --preserve-colors luminance, the content's colours."""
        picture = deprocess_image(self.crop(image))
        if self.options.preserve_colors == "luminance":
            content = resize_to(self.content, *picture.shape[:2])
            picture = luminance_transfer(picture, content)
        return reshape_and_normalize_image(picture)


def prepare(options, weights, content=None):
    """Read the content and style pictures once; returns the Problem and the output size.
    ``content``: the content picture, uint8 (H, W, 3), when it is not ``options.content``'s file
    (a clip's frame)."""
    content = load_picture(options.content) if content is None else content
    styles = [load_picture(path) for path in options.style]
    if options.preserve_colors == "histogram":
        styles = [match_color_histogram(style, content) for style in styles]
    blend = normalise_blend(options.style_blend, len(styles))
    size = options.size.resolve(content.shape)
    return Problem(weights, content, styles, blend, options, size), size
