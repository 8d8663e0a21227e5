"""What the generated image is pulled towards, computed once per run (or per scale).

- ``content_target``: a_C, the content image's activations at the content layer.
- ``style_activations``: each style image's activations at the style layers, with its blend
  weight: J_style = Σ_k w_k · compute_style_cost(a_S_k, a_G) with Σ w_k = 1.
- ``initial_image``: where the optimisation starts (the exercise: noise mixed with content).
"""

import numpy as np
import tensorflow as tf

from nst.errors import NSTError
from nst.images import generate_noise_image
from nst.vgg import MIN_SIZE

INITS = ("noise", "content", "style", "random")


# Above this many pixels the targets are computed in bands of rows (``forward_in_bands``): one
# forward pass of a whole 1904x4096 image leaves ~13 GB in TensorFlow's oneDNN memory pool (which
# it never returns to the system; 3.3 GB at 952x2048, measured), a band of rows a fraction of it.
BANDS_FROM_PIXELS = 1_000_000
BAND_ROWS = 256  # rows of each band, a multiple of ALIGN
# Each band is computed with HALO rows more on each side, then cropped: conv5_1's receptive field
# reaches 78 px from its centre (3x3 convolutions and 2x2 poolings up to conv5_1), so the rows
# kept never see the band's artificial edge and equal a whole-image pass. Bands start at multiples
# of ALIGN = 16 (four poolings) so that every pooling window is the whole image's.
HALO = 80
ALIGN = 16


def forward_in_bands(graph, image, layers, band_rows=BAND_ROWS, halo=HALO):
    """graph.forward(image, layers) computed band by band: the same {layer: (1, h, w, c)} values.

    For rows [r0, r1) of the image (r0, r1 multiples of 16, or r1 = H), the pass runs on rows
    [max(0, r0 − halo), min(H, r1 + halo)) and keeps, at a layer of stride s (1, 2, 4, 8, 16),
    activation rows [(r0 − start)/s, (r1 − start)/s): those within ``halo`` ≥ the receptive
    field's reach of any edge but the image's own. Peak memory: one band's activations.
    """
    height = image.shape[1]
    if band_rows % ALIGN or halo % ALIGN or height <= band_rows + 2 * halo:
        return graph.forward(image, layers)
    strides = {name: _stride(name) for name in layers}
    parts = {name: [] for name in layers}
    for r0 in range(0, height, band_rows):
        r1 = min(height, r0 + band_rows)
        start, stop = max(0, r0 - halo), min(height, r1 + halo)
        activations = graph.forward(image[:, start:stop], layers)
        for name, a in activations.items():
            s = strides[name]
            first = (r0 - start) // s
            last = a.shape[1] if r1 == height else (r1 - start) // s
            parts[name].append(a[:, first:last])
    return {name: tf.concat(bands, axis=1) for name, bands in parts.items()}


def _stride(layer):
    """How many image rows one activation row of ``layer`` spans: conv{b}_i 2^(b−1), pool b 2^b."""
    digits = layer.replace("conv", "").replace("avgpool", "").replace("maxpool", "")
    block = int(digits.split("_")[0])
    return 2 ** (block - 1) if layer.startswith("conv") else 2**block


def _forward(graph, image, layers):
    """graph.forward, in bands of rows for large images of the graph's size (same values, less memory)."""
    _, height, width, _ = graph.shape("input")
    if tuple(image.shape[1:3]) == (height, width) and height * width >= BANDS_FROM_PIXELS:
        return forward_in_bands(graph, image, layers)
    return graph.forward(image, layers)


def content_target(graph, content_image, content_layer):
    """a_C: (1, n_H, n_W, n_C) activations of the content image at ``content_layer``."""
    return _forward(graph, content_image, [content_layer])[content_layer]


def style_size(height, width, scale):
    """The size a style image is given: the output's size times ``scale``, at least 32."""
    h, w = round(height * scale), round(width * scale)
    if min(h, w) < MIN_SIZE:
        raise NSTError(
            f"--style-scale {scale}: the style image would be {h}x{w}, below VGG19's "
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
        a_S = _forward(graph, image, names)
        for name in names:
            _, h, w, _ = graph.shape(name)
            _, h_S, w_S, _ = a_S[name].shape
            if (h, w) != (h_S, w_S):
                a_S[name] = a_S[name] * ((h * w) / (h_S * w_S)) ** 0.5
        styles.append((weight, {name: a_S[name].numpy() for name in names}))
    return styles


def normalise_blend(blend, count):
    """Blend weights for ``count`` style images, summing to 1 (equal when not given)."""
    if not blend:
        return [1.0 / count] * count
    if len(blend) != count:
        raise NSTError(f"--style-blend: {len(blend)} weights for {count} style images; give one per --style")
    if min(blend) < 0 or sum(blend) <= 0:
        raise NSTError("--style-blend: weights must be non-negative and not all zero")
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
    raise NSTError(f"--init {kind!r}: choose from {', '.join(INITS)}")
