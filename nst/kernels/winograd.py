"""Winograd's minimal filtering F(m x m, 3x3), m = 4 or 6: VGG's 3x3 convolutions with 4-5x fewer multiplications.

A stride-1 SAME 3x3 convolution computes each m x m block of outputs from an n x n tile of input,
n = m + 2 (the block plus a one-pixel border). Directly that is m² outputs x 9 taps multiplications
per input/output channel pair; Winograd (Lavin & Gray 2016, after Winograd 1980) needs n²:
F(4x4, 3x3) 36 instead of 144 (4x fewer), F(6x6, 3x3) 64 instead of 324 (5.06x fewer):

    Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A        d: an n x n input tile, g: the 3x3 kernel, Y: m x m outputs

(the matrices, from their interpolation points: ``nst.kernels.toom_cook``). With C input and K
output channels the ⊙ becomes, at each of the n² positions (i, j) of the transformed tile, a
matrix product over channels:

    M[ij] (tiles, K) = V[ij] (tiles, C) @ U[ij] (C, K)      U = G g Gᵀ, V = Bᵀ d B

``transform_kernel(W, m)`` computes U once per layer (the weights are constants); ``conv3x3(x, U)``
does the rest per call as three matrix products: the input transform, the n² products over
channels, and the output transform, with one gather before the first (each tile's pixels, in the
order the products need) and one after the last (the output blocks in place). Only the middle
product grows with C·K.

Where each pays (measured on a 2-core AVX-512 CPU with oneDNN, 300x400, each layer alone, see
docs/speed.md, ``python -m nst.bench --layers``; ``FastKernels.tile_for`` decides, per layer and
never by the input's size; a tiled level runs F(4x4) only): F(6x6) in
blocks 2-3 from conv2_2 on, F(4x4) in blocks 4-5 (small there, where F(6x6)'s partial tiles waste
most: conv5_1 at 19x25) and wherever bfloat16 runs; the direct convolution on block 1 and
conv2_1, where moving the transformed tiles (n²/m² = 1.78-2.25x the activations) through memory
costs more than the multiplications saved.
All of it is plain TensorFlow operations, oneDNN's matrix products doing the work. The gathers
replaced extract_patches + a transpose (input) and a transpose + a crop (output), one pass over the
transformed tiles each instead of two: each layer 1.1-1.4x faster (conv2_2's F(6x6) 40.2 -> 29.2
ms, conv3_2's 26.5 -> 20.3, conv4_2's 27.8 -> 22.8 at 300x400). Tried: the input transform
compiled by XLA (separably, from strided slices) ran 1.4-1.7x faster than extract_patches + the
product, 6 % of the step, but XLA compiles it anew for every layer shape, ~20 compilations costing
10-20 s at the start of every run and of every scale; the whole algorithm compiled by XLA, in bands
of tile rows or not, was slower (XLA's own matrix products and output transform); the input
transform as a depthwise convolution was 2-10x slower.

Rounding: the transforms cost a few float32 ulps. Against float64 convolutions on VGG19's real
activations at 300x400 (largest error / largest output), conv2_1 ... conv5_1: float32's direct
convolution 0.9-2.1e-6, F(4x4) 1.7-6.7e-6, F(6x6) 3.3e-6-1.1e-5 (tests/test_winograd.py: < 1e-4).
"""

import math
import weakref
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from nst.kernels import toom_cook

BAND_BYTES = 64 * 2**20  # largest transformed band (V or M) conv3x3 makes at once


@dataclass(frozen=True)
class Algorithm:
    """F(m x m, 3x3): m x m outputs from an n x n input tile, n = m + 2, by n² products per channel pair.

    The 2-D transforms as one matrix each: vec(Bᵀ d B) = (Bᵀ ⊗ Bᵀ) vec(d) for a row-major n x n
    tile d, and vec(Aᵀ M A) = (Aᵀ ⊗ Aᵀ) vec(M). Applied to all tiles and channels at once they
    are plain matrix products with a contraction of n², which oneDNN runs near its matmul rate.
    """

    out: int  # m: outputs per tile side
    G: np.ndarray  # (n, 3), float64
    B_kron: np.ndarray  # (n², n²)
    A_kron: np.ndarray  # (m², n²)

    @property
    def tile(self):
        """n: input pixels per tile side (the outputs plus a one-pixel border)."""
        return self.out + 2

    @classmethod
    def of(cls, m):
        A_T, G, B_T = toom_cook.matrices(m)
        return cls(m, G, np.kron(B_T, B_T), np.kron(A_T, A_T))


# F(4x4, 3x3) and F(6x6, 3x3) by m (their points: toom_cook.POINTS).
F4, F6 = Algorithm.of(4), Algorithm.of(6)
ALGORITHMS = {4: F4, 6: F6}


def algorithm_of(U):
    """The Algorithm a transformed kernel U (n², C, K) belongs to: m = √n² − 2."""
    return ALGORITHMS[math.isqrt(U.shape[0]) - 2]


def transform_kernel(W, m=4):
    """U = G g Gᵀ of F(m x m, 3x3) for every channel pair: W (3, 3, C, K) -> U (n², C, K), float64.

    Computed in float64 once per layer (the weights are constants), so only the per-call transforms round.
    """
    G = ALGORITHMS[m].G
    W = np.asarray(W, dtype=np.float64)
    U = np.einsum("ia,abck,jb->ijck", G, W, G)  # (n, n, C, K)
    return U.reshape(len(G) ** 2, *W.shape[2:])


# id(W) -> {(dtype, m): (U, U_flipped)}: VGG19's transforms are ~0.4 GB, so every graph built on the
# same weights (nst.engine.run.load_weights caches them per file) shares one copy; freed with W.
_KERNELS = {}


def kernels(W, dtype, m=4):
    """(U, U_flipped) of F(m x m, 3x3) for a 3x3 kernel W (NumPy), and for its flipped one (the input
    gradient's), as dtype constants.

    Made once per W, dtype and m, eagerly (constants every traced step can share), in float64
    so that only the per-step work rounds.
    """
    dtype = tf.as_dtype(dtype)
    made = _KERNELS.get(id(W))
    if made is None:
        made = _KERNELS[id(W)] = {}
        weakref.finalize(W, _KERNELS.pop, id(W), None)
    if (dtype, m) not in made:
        flipped = np.transpose(np.asarray(W)[::-1, ::-1], (0, 1, 3, 2))  # nst.vgg.flip_kernel, in NumPy
        with tf.init_scope():
            made[dtype, m] = tuple(tf.constant(transform_kernel(k, m), dtype) for k in (W, flipped))
    return made[dtype, m]


def input_transform(x, tile_rows, top, f=F4):
    """V = Bᵀ d B for every n x n tile d (stride m) of a band of x padded SAME: -> V (n², tile_rows·tiles_w, C).

    x (1, rows, W, C) holds the band's rows of the input, plus its neighbours' one border row
    each; ``top`` says whether the band starts at the image's top edge (then a row of zeros is
    padded there); zeros pad the bottom and right to whole tiles. One gather puts the tiles'
    pixels straight into the (n², tiles, C) order the products need (``tile_pixels``), one matrix
    product with Bᵀ ⊗ Bᵀ transforms them.
    """
    _, rows, W_, C = x.shape
    m, n = f.out, f.tile
    tiles_w = -(-W_ // m)
    pad_top = 1 if top else 0
    xp = tf.pad(x, [[0, 0], [pad_top, m * tile_rows + 2 - rows - pad_top], [1, m * tiles_w + 1 - W_], [0, 0]])
    d = tf.gather(tf.reshape(xp, (-1, C)), tile_pixels(tile_rows, tiles_w, f))  # (n², tiles, C)
    V = tf.matmul(tf.constant(f.B_kron, x.dtype), tf.reshape(d, (n * n, tile_rows * tiles_w * C)))
    return tf.reshape(V, (n * n, tile_rows * tiles_w, C))


def tile_pixels(tile_rows, tiles_w, f):
    """Where each tile's pixels are in the padded band, flattened: (n², tiles) int32, [i·n + j, tile] ->
    the pixel (m·row + i, m·column + j) of the band's (m·tile_rows + 2) x (m·tiles_w + 2) pixels."""
    m, n = f.out, f.tile
    i, j = np.divmod(np.arange(n * n), n)
    row, column = np.divmod(np.arange(tile_rows * tiles_w), tiles_w)
    return ((m * row + i[:, None]) * (m * tiles_w + 2) + m * column + j[:, None]).astype(np.int32)


def output_pixels(rows, width, tiles_w, f):
    """Where each output pixel is among the output transform's (m², tiles) values, flattened: (rows·width,)
    int32 for the pixel (y, x) -> [p·m + q, tile] with y = m·row + p, x = m·column + q. Gathering them puts
    the m x m blocks in place and leaves the padding's outputs out."""
    m = f.out
    y, x = np.divmod(np.arange(rows * width), width)
    tiles = -(-rows // m) * tiles_w
    return (((y % m) * m + x % m) * tiles + (y // m) * tiles_w + x // m).astype(np.int32)


def _tile_rows(x, U, first, count, f):
    """Outputs of tile rows first .. first + count - 1, the image's rows m·first ... (at most m·count):
    (1, rows, W, K)."""
    _, H, W_, _ = x.shape
    K = U.shape[-1]
    m, n = f.out, f.tile
    tiles_w = -(-W_ // m)
    band = x[:, max(m * first - 1, 0) : m * (first + count) + 1]  # the band and one border row each side
    M = tf.matmul(input_transform(band, count, first == 0, f), U)  # (n², tiles, K)
    Y = tf.matmul(tf.constant(f.A_kron, x.dtype), tf.reshape(M, (n * n, count * tiles_w * K)))
    rows = min(m * count, H - m * first)
    y = tf.gather(tf.reshape(Y, (m * m * count * tiles_w, K)), output_pixels(rows, W_, tiles_w, f))
    return tf.reshape(y, (1, rows, W_, K))


def conv3x3(x, U):
    """conv2d(x, W, strides=1, padding="SAME") for a 3x3 W, by F(m x m, 3x3): x (1, H, W, C) -> (1, H, W, K).

    U = transform_kernel(W, m) as a tensor of x's dtype; its n² = (m + 2)² rows say which m.
    With T = ⌈H/m⌉·⌈W/m⌉ tiles:

        V   (n², T, C)   Bᵀ d B for every tile d               input_transform
        M   (n², T, K)   V[ij] @ U[ij] at each position ij      the batched product: n²/(9m²) of direct FLOPs
        Y   (m², T, K)   (Aᵀ ⊗ Aᵀ) M                           an m² x n² matrix times (n², T·K)

    then one gather puts the m x m output blocks in place, without the padding. V and M are
    n²/m² the size of the input and output (F4 2.25, F6 1.78): on large images they are made for a
    band of tile rows at a time, at most ``BAND_BYTES`` each, so that memory stays near the direct
    convolution's (at 952x2048, conv3_2's V alone would be 0.28 GB).
    """
    f = algorithm_of(U)
    _, H, W_, C = x.shape
    tiles_h, tiles_w = -(-H // f.out), -(-W_ // f.out)
    row_bytes = f.tile**2 * tiles_w * max(C, U.shape[-1]) * x.dtype.size  # V or M, one tile row
    band = max(1, min(tiles_h, BAND_BYTES // row_bytes))
    parts = [_tile_rows(x, U, first, min(band, tiles_h - first), f) for first in range(0, tiles_h, band)]
    return parts[0] if len(parts) == 1 else tf.concat(parts, axis=1)
