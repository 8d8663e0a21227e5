"""Winograd's minimal filtering F(4x4, 3x3): VGG's 3x3 convolutions with 4x fewer multiplications.

A stride-1 SAME 3x3 convolution computes each 4x4 block of outputs from a 6x6 tile of input
(the block plus a one-pixel border). Directly that is 16 outputs x 9 taps = 144 multiplications
per input/output channel pair; Winograd (Lavin & Gray 2016, after Winograd 1980) needs 36:

    Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A        d: a 6x6 input tile, g: the 3x3 kernel, Y: 4x4 outputs

With C input and K output channels the ⊙ becomes, at each of the 36 positions (i, j) of the
transformed tile, a matrix product over channels:

    M[ij] (tiles, K) = V[ij] (tiles, C) @ U[ij] (C, K)      U = G g Gᵀ, V = Bᵀ d B

``transform_kernel(W)`` computes U once per layer (the weights are constants); ``conv3x3(x, U)``
does the rest per call as three matrix products: the input transform, the 36 products over
channels, and the output transform. Only the middle one grows with C·K, and it has a quarter of
the direct convolution's multiplications.

Where it pays (measured on a 2-core AVX-512 CPU with oneDNN, 300x400, each layer alone, see
docs/speed.md, ``python -m nst.bench --layers``): from conv3_1 on (1.2x to 2x faster than oneDNN's
direct convolution); on blocks 1 and 2 (64-128 channels at the larger sizes) moving the 2.25x larger
transformed tiles through memory costs more than the multiplications saved, so FastKernels keeps the
direct convolution there (``WINOGRAD_MIN_CHANNEL_PRODUCT``).
All of it is plain TensorFlow operations, oneDNN's matrix products doing the work. Tried: the
input transform compiled by XLA (separably, from strided slices) ran 1.4-1.7x faster than the
extract_patches + product used here, 6 % of the step, but XLA compiles it anew for every layer
shape, ~20 compilations costing 10-20 s at the start of every run and of every scale; the whole
algorithm compiled by XLA, in bands of tile rows or not, was slower (XLA's own matrix products
and output transform); the input transform as a depthwise convolution was 2-10x slower.

Rounding: the transforms' constants (1/4, 1/6, 1/24, 8, ...) cost a few float32 ulps; against
float64 convolutions, ~1e-5 relative on VGG19's real activations (tests/test_winograd.py).
"""

import weakref

import numpy as np
import tensorflow as tf

# The F(4x4, 3x3) matrices for the interpolation points 0, ±1, ±2 (and infinity).
B_T = np.array(
    [
        [4, 0, -5, 0, 1, 0],
        [0, -4, -4, 1, 1, 0],
        [0, 4, -4, -1, 1, 0],
        [0, -2, -1, 2, 1, 0],
        [0, 2, -1, -2, 1, 0],
        [0, 4, 0, -5, 0, 1],
    ],
    dtype=np.float64,
)
G = np.array(
    [
        [1 / 4, 0, 0],
        [-1 / 6, -1 / 6, -1 / 6],
        [-1 / 6, 1 / 6, -1 / 6],
        [1 / 24, 1 / 12, 1 / 6],
        [1 / 24, -1 / 12, 1 / 6],
        [0, 0, 1],
    ],
    dtype=np.float64,
)
A_T = np.array(
    [
        [1, 1, 1, 1, 1, 0],
        [0, 1, -1, 2, -2, 0],
        [0, 1, 1, 4, 4, 0],
        [0, 1, -1, 8, -8, 1],
    ],
    dtype=np.float64,
)
OUT, TILE = 4, 6  # outputs per tile side, input pixels per tile side
BAND_BYTES = 64 * 2**20  # largest transformed band (V or M) conv3x3 makes at once

# The 2-D transforms as one matrix each: vec(Bᵀ d B) = (Bᵀ ⊗ Bᵀ) vec(d) for a row-major 6x6 tile d,
# and vec(Aᵀ M A) = (Aᵀ ⊗ Aᵀ) vec(M). Applied to all tiles and channels at once they are plain
# matrix products with a contraction of 36, which oneDNN runs near its matmul rate.
B_KRON = np.kron(B_T, B_T)  # (36, 36)
A_KRON = np.kron(A_T, A_T)  # (16, 36)


def transform_kernel(W):
    """U = G g Gᵀ for every channel pair: W (3, 3, C, K) -> U (36, C, K), float64.

    Computed in float64 once per layer (the weights are constants), so only the per-call transforms round.
    """
    W = np.asarray(W, dtype=np.float64)
    U = np.einsum("ia,abck,jb->ijck", G, W, G)  # (6, 6, C, K)
    return U.reshape(TILE * TILE, *W.shape[2:])


# id(W) -> {dtype: (U, U_flipped)}: VGG19's transforms are ~0.4 GB, so every graph built on the
# same weights (nst.engine.run.load_weights caches them per file) shares one copy; freed with W.
_KERNELS = {}


def kernels(W, dtype):
    """(U, U_flipped) for a 3x3 kernel W (NumPy), and for its flipped one (the input gradient's), as dtype constants.

    Made once per W and dtype, eagerly (constants every traced step can share), in float64
    so that only the per-step work rounds.
    """
    dtype = tf.as_dtype(dtype)
    made = _KERNELS.get(id(W))
    if made is None:
        made = _KERNELS[id(W)] = {}
        weakref.finalize(W, _KERNELS.pop, id(W), None)
    if dtype not in made:
        flipped = np.transpose(np.asarray(W)[::-1, ::-1], (0, 1, 3, 2))  # nst.vgg.flip_kernel, in NumPy
        with tf.init_scope():
            made[dtype] = tuple(tf.constant(transform_kernel(k), dtype) for k in (W, flipped))
    return made[dtype]


def input_transform(x, tile_rows, top):
    """V = Bᵀ d B for every 6x6 tile d (stride 4) of a band of x padded SAME: -> V (36, tile_rows·tiles_w, C).

    x (1, rows, W, C) holds the band's rows of the input, plus its neighbours' one border row
    each; ``top`` says whether the band starts at the image's top edge (then a row of zeros is
    padded there); zeros pad the bottom and right to whole tiles. The tiles are gathered by one
    extract_patches (each a row of 36 pixels per channel), then transformed by one matrix product
    with Bᵀ ⊗ Bᵀ.
    """
    _, rows, W_, C = x.shape
    tiles_w = -(-W_ // OUT)
    pad_top = 1 if top else 0
    xp = tf.pad(x, [[0, 0], [pad_top, OUT * tile_rows + 2 - rows - pad_top], [1, OUT * tiles_w + 1 - W_], [0, 0]])
    d = tf.image.extract_patches(xp, [1, TILE, TILE, 1], [1, OUT, OUT, 1], [1, 1, 1, 1], "VALID")
    d = tf.transpose(tf.reshape(d, (tile_rows * tiles_w, TILE * TILE, C)), (1, 0, 2))  # (36, tiles, C)
    V = tf.matmul(tf.constant(B_KRON, x.dtype), tf.reshape(d, (TILE * TILE, tile_rows * tiles_w * C)))
    return tf.reshape(V, (TILE * TILE, tile_rows * tiles_w, C))


def _tile_rows(x, U, first, count):
    """Outputs of tile rows first .. first + count - 1 (output rows 4·first ...): (1, 4·count, 4·tiles_w, K)."""
    W_, K = x.shape[2], U.shape[-1]
    tiles_w = -(-W_ // OUT)
    band = x[:, max(OUT * first - 1, 0) : OUT * (first + count) + 1]  # the band and one border row each side
    M = tf.matmul(input_transform(band, count, first == 0), U)  # (36, tiles, K)
    Y = tf.matmul(tf.constant(A_KRON, x.dtype), tf.reshape(M, (TILE * TILE, count * tiles_w * K)))
    Y = tf.transpose(tf.reshape(Y, (OUT, OUT, count, tiles_w, K)), (2, 0, 3, 1, 4))  # block rows, p, cols, q
    return tf.reshape(Y, (1, OUT * count, OUT * tiles_w, K))


def conv3x3(x, U):
    """conv2d(x, W, strides=1, padding="SAME") for a 3x3 W, by F(4x4, 3x3): x (1, H, W, C) -> (1, H, W, K).

    U = transform_kernel(W) as a tensor of x's dtype. With T = ⌈H/4⌉·⌈W/4⌉ tiles:

        V   (36, T, C)   Bᵀ d B for every tile d               input_transform
        M   (36, T, K)   V[ij] @ U[ij] at each position ij      the batched product: ~1/4 of direct FLOPs
        Y   (16, T, K)   (Aᵀ ⊗ Aᵀ) M                           a 16x36 matrix times (36, T·K)

    then the 4x4 output blocks are put back in place and the padding cropped. V and M are
    2.25x the size of the input and output: on large images they are made for a band of
    tile rows at a time, at most ``BAND_BYTES`` each, so that memory stays near the direct
    convolution's (at 952x2048, conv3_2's V alone would be 0.28 GB).
    """
    _, H, W_, C = x.shape
    tiles_h, tiles_w = -(-H // OUT), -(-W_ // OUT)
    row_bytes = TILE * TILE * tiles_w * max(C, U.shape[-1]) * x.dtype.size  # V or M, one tile row
    band = max(1, min(tiles_h, BAND_BYTES // row_bytes))
    parts = [_tile_rows(x, U, first, min(band, tiles_h - first)) for first in range(0, tiles_h, band)]
    y = parts[0] if len(parts) == 1 else tf.concat(parts, axis=1)
    return y[:, :H, :W_]
