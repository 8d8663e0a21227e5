"""What the generated image is pulled towards, computed once per run (or per level of a coarse-to-fine run).

- ``content_target``: a_C, the content image's activations at the content layer.
- ``style_activations``: each style image's activations at the style layers, with its blend
  weight: J_style = Σ_k w_k · compute_style_cost(a_S_k, a_G) with Σ w_k = 1.
- ``initial_image``: where the optimisation starts (the exercise: noise mixed with content).
"""

import numpy as np

from nst.errors import NSTError
from nst.images import generate_noise_image
from nst.kernels.bands import forward
from nst.vgg_files import MIN_SIZE


def content_target(graph, content_image, content_layer):
    """a_C: (1, n_H, n_W, n_C) activations of the content image at ``content_layer``."""
    return forward(graph, content_image, [content_layer])[content_layer]


def style_size(height, width, style_scale):
    """The size a style image is given: the output's size times ``--style-scale``, at least 32."""
    h, w = round(height * style_scale), round(width * style_scale)
    if min(h, w) < MIN_SIZE:
        raise NSTError(
            f"--style-scale {style_scale}: the style image would be {h}x{w}, below VGG19's "
            f"{MIN_SIZE}x{MIN_SIZE}; use a larger --style-scale"
        )
    return h, w


def style_activations(graph, style_images, blend, style_layers):
    """[(blend weight, {layer: a_S})] for each style image, ready for ``compute_style_cost``.

    style_images may be any size (``--style-scale``). A Gram matrix sums over positions,
    and the exercise's style cost normalises by the *generated* image's n_H·n_W, so a style
    image with P_S positions at a layer where G has P_G is scaled by √(P_G / P_S): its Gram
    matrix then sums as many positions' worth as G's. (At the same size the factor is 1.)
    """
    names = [name for name, _ in style_layers]
    styles = []
    for image, weight in zip(style_images, blend):
        a_S = forward(graph, image, names)
        for name in names:
            _, h, w, _ = graph.shape(name)
            _, h_S, w_S, _ = a_S[name].shape
            if (h, w) != (h_S, w_S):
                a_S[name] = a_S[name] * ((h * w) / (h_S * w_S)) ** 0.5
        styles.append((weight, {name: a_S[name].numpy() for name in names}))
    return styles


def normalise_blend(blend, count):
    """Blend weights for ``count`` style images, summing to 1 (equal when not given).
    ``Options`` has checked them: one per style image, non-negative, not all zero."""
    if not blend:
        return [1.0 / count] * count
    return [b / sum(blend) for b in blend]


def initial_image(kind, content_image, style_image, noise_ratio, seed):
    """The starting point (1, H, W, 3), normalised like the images.

    noise:   the exercise's 0.6 · uniform(-20, 20) + 0.4 · content (``noise_ratio``)
    content: the content image itself (converges fastest)
    style:   the (first) style image at the output size
    random:  uniform(-20, 20) noise only
    """
    if kind == "noise":
        return generate_noise_image(content_image, noise_ratio, seed=seed)
    if kind == "content":
        return np.array(content_image, np.float32)
    if kind == "style":
        return np.array(style_image, np.float32)
    if kind == "random":
        return generate_noise_image(content_image, 1.0, seed=seed)
    raise NSTError(f"--init {kind!r}: choose from noise, content, style, random")
