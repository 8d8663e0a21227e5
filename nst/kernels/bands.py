"""Targets of large images in bands of rows: the same activations, a fraction of the memory.

``forward(graph, image, layers)`` is ``graph.forward(image, layers)``; from a million pixels
it computes them band by band (``forward_in_bands``), each band with a halo of rows wide
enough that the rows it keeps never see the band's artificial edge.
"""

import tensorflow as tf

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
    strides = {name: stride(name) for name in layers}
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


def stride(layer):
    """How many image rows one activation row of ``layer`` spans: conv{b}_i 2^(b−1), pool b 2^b."""
    digits = layer.replace("conv", "").replace("avgpool", "").replace("maxpool", "")
    block = int(digits.split("_")[0])
    return 2 ** (block - 1) if layer.startswith("conv") else 2**block


def forward(graph, image, layers):
    """graph.forward, in bands of rows for large images of the graph's size (same values, less memory)."""
    _, height, width, _ = graph.shape("input")
    if tuple(image.shape[1:3]) == (height, width) and height * width >= BANDS_FROM_PIXELS:
        return forward_in_bands(graph, image, layers)
    return graph.forward(image, layers)
