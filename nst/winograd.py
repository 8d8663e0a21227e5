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
README): from conv2_1 on (1.2x to 2.2x faster than oneDNN's direct convolution); on conv1_2 (64
channels at full size) moving the 2.25x larger transformed tiles through memory costs more than the
multiplications saved, so nst.vgg keeps the direct convolution there (``WINOGRAD_MIN_CHANNEL_PRODUCT``).
The input transform is compiled by XLA, the rest is left to oneDNN's matrix products: tried and
slower here, the whole algorithm compiled by XLA (in bands of tile rows or not: XLA's own matrix
products and output transform were the slow parts), the input transform as extract_patches +
transpose + a product with Bᵀ ⊗ Bᵀ (1.4-1.7x slower) or as a depthwise convolution (2-10x slower).

Rounding: the transforms' constants (1/4, 1/6, 1/24, 8, ...) cost a few float32 ulps; against
float64 convolutions, ~1e-5 relative on VGG19's real activations (tests/test_winograd.py).
"""

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


def _combine(matrix, parts):
    """[Σ_j matrix[i, j] · parts[j] for each row i of a small constant matrix]; zero terms skipped.

    Unrolled into additions (B's entries are small integers) that XLA fuses into one loop.
    """
    rows = []
    for coefficients in matrix:
        total = None
        for c, part in zip(coefficients, parts):
            if c != 0:
                term = part if c == 1 else -part if c == -1 else part * float(c)
                total = term if total is None else total + term
        rows.append(total)
    return rows


@tf.function(jit_compile=True)
def input_transform(x):
    """V = Bᵀ d B for every 6x6 tile d (stride 4) of x padded SAME: x (1, H, W, C) -> V (36, T, C).

    Separably, rows then columns, from strided slices: compiled by XLA into a couple of loops
    that read x about once (measured 1.4-1.7x faster here than gathering the tiles with
    extract_patches, transposing and multiplying by Bᵀ ⊗ Bᵀ).
    """
    _, H, W_, C = x.shape
    tiles_h, tiles_w = -(-H // OUT), -(-W_ // OUT)
    # SAME: one pixel of zeros before; after, enough to fill whole tiles (one pixel or more).
    xp = tf.pad(x[0], [[1, OUT * tiles_h + 1 - H], [1, OUT * tiles_w + 1 - W_], [0, 0]])
    rows = _combine(B_T, [xp[k : k + OUT * tiles_h : OUT] for k in range(TILE)])  # 6 x (tiles_h, W + pad, C)
    V = []
    for r in rows:
        V += _combine(B_T, [r[:, k : k + OUT * tiles_w : OUT] for k in range(TILE)])  # 6 x (tiles_h, tiles_w, C)
    return tf.reshape(tf.stack(V), (TILE * TILE, tiles_h * tiles_w, C))


def conv3x3(x, U):
    """conv2d(x, W, strides=1, padding="SAME") for a 3x3 W, by F(4x4, 3x3): x (1, H, W, C) -> (1, H, W, K).

    U = transform_kernel(W) as a tensor of x's dtype. With T = ⌈H/4⌉·⌈W/4⌉ tiles:

        V   (36, T, C)   Bᵀ d B for every tile d               input_transform (XLA)
        M   (36, T, K)   V[ij] @ U[ij] at each position ij      the batched product: ~1/4 of direct FLOPs
        Y   (16, T, K)   (Aᵀ ⊗ Aᵀ) M                           a 16x36 matrix times (36, T·K)

    then the 4x4 output blocks are put back in place and the padding cropped.
    """
    _, H, W_, _ = x.shape
    K = U.shape[-1]
    tiles_h, tiles_w = -(-H // OUT), -(-W_ // OUT)
    M = tf.matmul(input_transform(x), U)
    Y = tf.matmul(tf.constant(A_KRON, x.dtype), tf.reshape(M, (TILE * TILE, tiles_h * tiles_w * K)))
    Y = tf.transpose(tf.reshape(Y, (OUT, OUT, tiles_h, tiles_w, K)), (2, 0, 3, 1, 4))  # block rows, p, cols, q
    return tf.reshape(Y, (1, OUT * tiles_h, OUT * tiles_w, K))[:, :H, :W_]
