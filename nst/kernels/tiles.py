"""Exact tiles: J(G) and ∂J/∂G of an image too large for one pass, equal to one pass over it.

J depends on G's activations only through sums over positions p:

    J_content   = S / (4·n_H·n_W·n_C),                     S   = Σ_p (a_C,p − a_G,p)²   (content layer)
    J_style,l   = Σ_ij (G_S,l − G_G,l)²_ij / (4·n_C²·(n_H·n_W)²),   G_G,l = Σ_p a_p a_pᵀ   (n_C × n_C)
    J           = total_cost(J_content, Σ_k w_k Σ_l λ_l·J_style,l, α, β)  (+ extra terms, e.g. TV)

so over tiles whose *interiors* partition the image both sums are sums over tiles. Each tile is
computed with a margin of ``MARGIN`` = 80 pixels wherever its side is not the image's own edge
(conv5_1's receptive field reaches 70 pixels beyond its 16-pixel block), from a multiple of 16
(the four poolings' windows are then the whole image's; at the image's bottom and right edges a
tile ends where the image does, so SAME pooling pads it as it pads the image). Then the interior's
activations, and their derivatives with respect to the pixels, are the whole image's.

- Pass 1, forward only: each tile's interior Gram matrices (by the learner's ``gram_matrix``) and
  content sum, added up in float64, give G_G,l and S, hence J (``costs_from_sums``, the one
  formula, tested equal to the exercise's functions), and by differentiating that formula
  D_l = ∂J/∂G_G,l (n_C × n_C) and c = ∂J/∂S.
- Pass 2, per tile, forward and backward: the surrogate L_k = Σ_l ⟨D_l, G_k,l⟩ + c·S_k over the
  tile's interior. ∂L_k/∂a_p = (D_l + D_lᵀ)·a_p (+ 2c·(a_G,p − a_C,p)) is ∂J/∂a_p for every
  interior position p, so the gradient of L_k with respect to the padded tile's pixels, added
  into the image's gradient over all tiles, is ∂J/∂G up to float rounding: no seams, no drift
  (unlike tiles that each get their own Gram matrices).

Extra terms (total variation) are computed on the whole image, untiled: they are cheap (total
variation in bands of rows, in NumPy: ``extra_term``). Memory: one tile's activations instead of
the image's, plus the content target a_C, held whole (at 3808x8192, conv4_2's 476x1024x512
float32: 1 GB). Time: pass 1 adds a forward pass, and the
margins add their pixels (at 1024-pixel tiles, 1184² per 1024²).
"""

import logging
import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from nst.costs import unroll_for_gram
from nst.costs.variation import total_variation_cost
from nst.kernels.bands import ALIGN, HALO, stride
from nst.kernels.variation import total_variation_value_and_grad

MARGIN = HALO  # 80 pixels: ≥ 70, how far conv5_1 reaches beyond its block


class _TracedPerGeometry(logging.Filter):
    """Drops TensorFlow's "N of the last M calls ... triggered tf.function retracing" warning.

    Each tile geometry (inner, edge, corner; per level) gets its own traced function on purpose,
    once, and tracing them one after another is what that warning counts: at 8192 px it was printed
    in the middle of the progress bar, advice a user cannot act on. Other warnings pass.
    """

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


tf.get_logger().addFilter(_TracedPerGeometry())


@dataclass(frozen=True)
class Span:
    """One axis of a tile: the interior [first, last) it owns, computed over [start, stop)."""

    first: int
    last: int
    start: int
    stop: int
    size: int  # the image's length along this axis

    def units(self, stride):
        """(offset, count) of the interior's rows of a layer of ``stride``, counted from the tile's start."""
        end = -(-self.size // stride) if self.last == self.size else self.last // stride  # SAME pooling rounds up
        return (self.first - self.start) // stride, end - self.first // stride


def spans(size, tile, margin=MARGIN):
    """The tiles along one axis of ``size`` pixels, their interiors about ``tile`` long (multiples of 16)."""
    count = max(1, math.ceil(size / tile))
    step = -(-math.ceil(size / count) // ALIGN) * ALIGN  # even tiles, each a multiple of 16
    cuts = [min(size, i * step) for i in range(count)] + [size]
    return [Span(a, b, max(0, a - margin), min(size, b + margin), size) for a, b in zip(cuts, cuts[1:]) if b > a]


def grid(height, width, tile, margin=MARGIN):
    """[(row Span, column Span)] covering the image, row by row; their interiors partition it."""
    if tile % ALIGN or margin % ALIGN:
        raise ValueError(f"tile {tile} and margin {margin} must be multiples of {ALIGN}")
    return [(rows, cols) for rows in spans(height, tile, margin) for cols in spans(width, tile, margin)]


def layer_shape(height, width, channels, layer):
    """(1, n_H, n_W, n_C) of ``layer`` for an image of height x width (SAME pooling rounds up)."""
    s = stride(layer)
    return (1, -(-height // s), -(-width // s), channels)


def content_cost_from_sum(squares, shape):
    """compute_content_cost from S = Σ (a_C − a_G)²: S / (4·n_H·n_W·n_C); shape (1, n_H, n_W, n_C)."""
    _, n_H, n_W, n_C = shape
    return squares / float(4 * n_H * n_W * n_C)


def layer_style_cost_from_grams(GS, GG, shape):
    """compute_layer_style_cost from the two Gram matrices: Σ (GS − GG)² / (4·n_C²·(n_H·n_W)²)."""
    _, n_H, n_W, n_C = shape
    return tf.reduce_sum(tf.square(GS - GG)) / float(4 * n_C * n_C * (n_H * n_W) ** 2)


@dataclass(frozen=True)
class TiledObjective:
    """What the tiled J(G) needs: the exercise's ``nst.train.Objective`` with sums for activations.

    grams are the style targets as Gram matrices, ((weight w_k, {layer: G_S (n_C, n_C) float64}), ...),
    scaled to the image's positions (``style_grams``); a_C is whole, (1, n_H, n_W, n_C).
    """

    graph: object  # a VGGGraph: its weights and kernels (its own size does not matter)
    height: int
    width: int
    a_C: np.ndarray
    grams: tuple
    content_layer: str
    style_layers: tuple  # ((layer, λ), ...)
    alpha: float
    beta: float
    costs: object  # gram_matrix and total_cost are called; nst's or the learner's
    extra_terms: tuple = ()  # ((name, weight, cost(G)), ...), on the whole image
    tile: int = 1024
    margin: int = MARGIN
    jit_compile: bool = False

    def shape(self, layer):
        return layer_shape(self.height, self.width, self.graph.shape(layer)[-1], layer)


def costs_from_sums(objective, grams, squares):
    """J and its terms from the image's Gram matrices {layer: G_G} and content sum S (float64 tensors).

    J_style = Σ_k w_k Σ_l λ_l · layer_style_cost_from_grams(G_S,k,l, G_G,l); J = total_cost(J_content,
    J_style, α, β), the learner's ``total_cost`` when given. Differentiable in grams and squares.
    """
    o = objective
    J_content = content_cost_from_sum(squares, o.shape(o.content_layer))
    J_style = tf.constant(0.0, tf.float64)
    for weight, targets in o.grams:
        for name, lam in o.style_layers:
            J_layer = layer_style_cost_from_grams(tf.constant(targets[name], tf.float64), grams[name], o.shape(name))
            J_style += weight * lam * J_layer
    J = o.costs.total_cost(J_content, J_style, o.alpha, o.beta)
    return {"J": J, "J_content": J_content, "J_style": J_style}


class TiledCost:
    """value_and_grad(G) -> (terms, ∂J/∂G) over tiles; see the module's notes.

    ``cost(image)`` takes a NumPy float32 (1, H, W, 3) and returns ({"J", "J_content", "J_style",
    extra terms: Python floats}, gradient float32 (1, H, W, 3)). ``on_tile(done, count)``, if set,
    is called after every tile of both passes (count = 2 · tiles), e.g. to move a progress bar.
    """

    def __init__(self, objective, on_tile=None):
        o = self.objective = objective
        self.tiles = grid(o.height, o.width, o.tile, o.margin)
        self.on_tile = on_tile
        self.style_names = tuple(name for name, _ in o.style_layers)
        self.layers = tuple(dict.fromkeys((o.content_layer,) + self.style_names))
        self._forward, self._backward = {}, {}

    @property
    def steps(self):
        """Tiles per evaluation, both passes."""
        return 2 * len(self.tiles)

    def __call__(self, image):
        o = self.objective
        image = np.asarray(image, np.float32)
        grams = {name: 0.0 for name in self.style_names}
        squares = 0.0
        for k, tile in enumerate(self.tiles):  # pass 1: the sums
            x, a_C = self._inputs(image, tile)
            tile_grams, tile_squares = self._function(self._forward, tile, a_C.shape, backward=False)(x, a_C)
            for name in self.style_names:
                grams[name] = grams[name] + tile_grams[name].numpy().astype(np.float64)
            squares += float(tile_squares)
            self._tile_done(k + 1)
        grams = {name: tf.constant(g, tf.float64) for name, g in grams.items()}
        squares = tf.constant(squares, tf.float64)
        with tf.GradientTape() as tape:
            tape.watch([*grams.values(), squares])
            terms = costs_from_sums(o, grams, squares)
        D, c = tape.gradient(terms["J"], (grams, squares))
        D = {name: tf.cast(d, tf.float32) for name, d in D.items()}
        c = tf.cast(c, tf.float32)
        gradient = np.zeros_like(image)
        for k, (rows, cols) in enumerate(self.tiles):  # pass 2: the gradient
            x, a_C = self._inputs(image, (rows, cols))
            g = self._function(self._backward, (rows, cols), a_C.shape, backward=True)(x, a_C, D, c)
            gradient[:, rows.start : rows.stop, cols.start : cols.stop] += g.numpy()
            self._tile_done(len(self.tiles) + k + 1)
        terms = {name: float(value) for name, value in terms.items()}
        for name, weight, cost in o.extra_terms:
            value, term_gradient = extra_term(cost, image)
            gradient += np.float32(weight) * term_gradient
            terms[name] = value
            terms["J"] += weight * value
        return terms, gradient

    def _tile_done(self, done):
        if self.on_tile is not None:
            self.on_tile(done, self.steps)

    def _inputs(self, image, tile):
        """The padded tile's pixels and its interior's content target."""
        rows, cols = tile
        s = stride(self.objective.content_layer)
        (_, n), (_, m) = rows.units(s), cols.units(s)
        a_C = self.objective.a_C[:, rows.first // s : rows.first // s + n, cols.first // s : cols.first // s + m]
        return tf.constant(image[:, rows.start : rows.stop, cols.start : cols.stop]), tf.constant(a_C)

    def _function(self, cache, tile, a_C_shape, backward):
        """The traced pass for tiles of this geometry (a few per level: inner, edge, corner)."""
        rows, cols = tile
        boxes = tuple((name, rows.units(stride(name)), cols.units(stride(name))) for name in self.layers)
        key = (rows.stop - rows.start, cols.stop - cols.start, boxes)
        if key not in cache:
            cache[key] = self._trace(key, a_C_shape, backward)
        return cache[key]

    def _trace(self, key, a_C_shape, backward):
        o, height, width, boxes = self.objective, *key
        boxes = {name: (r, c) for name, r, c in boxes}

        def sums(x, a_C):
            """({layer: G of the interior}, S of the interior), float32, from one forward pass."""
            activations = o.graph.forward(x, self.layers)
            interior = {}
            for name in self.layers:
                (r, n), (c, m) = boxes[name]
                interior[name] = tf.cast(activations[name][:, r : r + n, c : c + m], tf.float32)
            grams = {name: o.costs.gram_matrix(unroll_for_gram(interior[name])) for name in self.style_names}
            return grams, tf.reduce_sum(tf.square(interior[o.content_layer] - a_C))

        x_spec = tf.TensorSpec((1, height, width, 3), tf.float32)
        a_C_spec = tf.TensorSpec(a_C_shape, tf.float32)
        if not backward:
            return tf.function(sums, input_signature=[x_spec, a_C_spec], jit_compile=o.jit_compile)

        def gradient(x, a_C, D, c):
            """∂L_k/∂x for L_k = Σ_l ⟨D_l, G_k,l⟩ + c·S_k."""
            with tf.GradientTape() as tape:
                tape.watch(x)
                grams, squares = sums(x, a_C)
                L = c * squares + tf.add_n([tf.reduce_sum(D[name] * grams[name]) for name in self.style_names])
            return tape.gradient(L, x)

        D_spec = {name: tf.TensorSpec(o.graph.shape(name)[-1:] * 2, tf.float32) for name in self.style_names}
        signature = [x_spec, a_C_spec, D_spec, tf.TensorSpec((), tf.float32)]
        return tf.function(gradient, input_signature=signature, jit_compile=o.jit_compile)


def extra_term(cost, image):
    """(cost(image) float, ∂cost/∂image float32 NumPy) of one extra term, on the whole image.

    Total variation in bands of rows (``nst.kernels.variation``): through a tape its image-sized
    temporaries would stay in oneDNN's pool (4.4 GiB at 3808x8192, measured alone). Any other term
    (a clip's temporal term) through a tape. TV is recognised by identity: the one term nst knows
    how to band; a term carrying its own banded value and gradient would be the general form.
    """
    if cost is total_variation_cost:
        return total_variation_value_and_grad(image)
    whole = tf.constant(image)
    with tf.GradientTape() as tape:
        tape.watch(whole)
        value = cost(whole)
    return float(value), tape.gradient(value, whole).numpy()


def tiled_forward(graph, image, layers, tile, on_tile=None, margin=MARGIN):
    """Yield ({layer: the interior's activation}, (row Span, column Span)) for every tile of ``image``.

    Forward only: what the targets of a large image need (``content_target``, ``style_grams``).
    """
    _, height, width, _ = image.shape
    tiles = grid(height, width, tile, margin)
    for k, (rows, cols) in enumerate(tiles):
        activations = graph.forward(tf.constant(image[:, rows.start : rows.stop, cols.start : cols.stop]), layers)
        interior = {}
        for name in layers:
            s = stride(name)
            (r, n), (c, m) = rows.units(s), cols.units(s)
            interior[name] = activations[name][:, r : r + n, c : c + m]
        yield interior, (rows, cols)
        if on_tile is not None:
            on_tile(k + 1, len(tiles))


def content_target(graph, image, layer, tile):
    """a_C: the content image's activation at ``layer``, (1, n_H, n_W, n_C) float32 NumPy, tile by tile."""
    _, height, width, _ = image.shape
    a_C = np.empty(layer_shape(height, width, graph.shape(layer)[-1], layer), np.float32)
    s = stride(layer)
    for interior, (rows, cols) in tiled_forward(graph, image, [layer], tile):
        a = interior[layer].numpy()
        a_C[:, rows.first // s : rows.first // s + a.shape[1], cols.first // s : cols.first // s + a.shape[2]] = a
    return a_C


def style_grams(graph, images, blend, style_layers, height, width, gram_matrix, tile):
    """((w_k, {layer: G_S}), ...): each style image's Gram matrices (float64), tile by tile.

    As ``nst.engine.targets.style_activations`` scales a_S by √(P_G/P_S) when the style image's
    P_S positions at a layer differ from the generated image's P_G, G_S is scaled by P_G/P_S.
    """
    names = [name for name, _ in style_layers]
    result = []
    for image, weight in zip(images, blend):
        grams = {name: 0.0 for name in names}
        for interior, _ in tiled_forward(graph, image, names, tile):
            for name in names:
                a = tf.cast(interior[name], tf.float32)
                grams[name] = grams[name] + gram_matrix(unroll_for_gram(a)).numpy().astype(np.float64)
        _, h_S, w_S, _ = image.shape
        for name in names:
            _, n_H, n_W, _ = layer_shape(height, width, 1, name)
            _, s_H, s_W, _ = layer_shape(h_S, w_S, 1, name)
            grams[name] *= (n_H * n_W) / (s_H * s_W)
        result.append((float(weight), grams))
    return tuple(result)
