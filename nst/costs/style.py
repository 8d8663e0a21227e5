"""The style cost: how different two images' textures look to several layers.

Style is measured by *which channels fire together*, wherever in the image that
happens. For one layer with activation a of shape (1, n_H, n_W, n_C):

1. Unroll a into a matrix A of shape (n_C, n_H·n_W): one row per channel,
   one column per position (``unroll_for_gram``).
2. Its Gram matrix G = A · Aᵀ, shape (n_C, n_C) (``gram_matrix``), has
   G[c, c'] = Σ_positions a[·, ·, c] · a[·, ·, c'], the correlation of
   channels c and c'. Summing over positions throws away *where* things are.
3. The layer's style cost compares the Gram matrices of S and G
   (``compute_layer_style_cost``):

       J_style^[l](S, G) = 1 / (4 · n_C² · (n_H·n_W)²) · Σ_ij (G_S[i,j] − G_G[i,j])²

4. The style cost mixes several layers with weights λ^[l] (``compute_style_cost``):

       J_style(S, G) = Σ_l λ^[l] · J_style^[l](S, G)

Training calls exactly these functions at every step. The style image never
changes, so its half of the work (unrolling a_S and its Gram matrix) gives the
same numbers every time: training hands a_S to the step as a constant, and
TensorFlow's graph optimiser (Grappler's constant folding) computes gram(a_S)
once when it first runs the step, not at every iteration.
"""

import tensorflow as tf

from nst.config import STYLE_LAYERS
from nst.costs.content import activation_dims, normaliser


@tf.custom_gradient
def gram_matrix(A):
    """Gram matrix of A.

    Arguments:
        A -- matrix of shape (n_C, n_H·n_W)

    Returns:
        GA -- A · Aᵀ, shape (n_C, n_C), same dtype as A

    The gradient is written out because it is cheaper than TensorFlow's generic one:
    for an upstream gradient dG of shape (n_C, n_C), ∂(Σ dG ⊙ A·Aᵀ)/∂A = (dG + dGᵀ) · A,
    one (n_C × n_C × n_H·n_W) matmul where the generic matmul gradient spends two.
    It is computed as (Aᵀ · (dG + dGᵀ))ᵀ, the same numbers (dG + dGᵀ is symmetric): when A
    is ``unroll_for_gram``'s transpose, TensorFlow then cancels that transpose against
    these two, and no activation-sized transpose is made in the backward pass either
    (measured: the five style layers' Gram gradients at 300x400 take 43 ms instead of 54).
    """

    def grad(dG):
        return tf.transpose(tf.matmul(A, dG + tf.transpose(dG), transpose_a=True))

    return tf.matmul(A, A, transpose_b=True), grad


def unroll_for_gram(a):
    """Unroll an activation of shape (1, n_H, n_W, n_C) to shape (n_C, n_H·n_W).

    Reshape to (n_H·n_W, n_C) first, then transpose. A bare reshape to
    (n_C, n_H·n_W) would give the right shape but the wrong matrix: memory holds
    the n_C channels of one position next to each other, so each "row" would mix
    channels of neighbouring positions instead of holding one channel.
    (TensorFlow folds this transpose into the Gram matrix's matmul: no copy is made.)
    """
    n_H, n_W, n_C = activation_dims(a)
    return tf.transpose(tf.reshape(a, [n_H * n_W, n_C]))


def compute_layer_style_cost(a_S, a_G):
    """Style cost of one layer.

    Arguments:
        a_S -- activation of the style image S,     shape (1, n_H, n_W, n_C)
        a_G -- activation of the generated image G, shape (1, n_H, n_W, n_C)

    Returns:
        J_style_layer -- scalar float32 tensor,
            1 / (4 · n_C² · (n_H·n_W)²) · Σ (gram(a_S) − gram(a_G))²
            with n_H, n_W, n_C taken from a_G.
    """
    # Activations may come in bfloat16 or float16; the Gram matrices are summed in float32.
    a_S = tf.cast(a_S, tf.float32)
    a_G = tf.cast(a_G, tf.float32)
    n_H, n_W, n_C = activation_dims(a_G)

    GS = gram_matrix(unroll_for_gram(a_S))
    GG = gram_matrix(unroll_for_gram(a_G))

    squared_differences = tf.square(GS - GG)
    return tf.reduce_sum(squared_differences) / normaliser(4, n_C, n_C, n_H * n_W, n_H * n_W)


def _lookup(mapping, name):
    # A missing layer is easy to cause (a typo in style_layers, a model built
    # without that output); name it and list what is there.
    try:
        return mapping[name]
    except KeyError:
        raise KeyError(f"no activation for style layer {name!r}; have {sorted(mapping)}") from None


def compute_style_cost(a_S, a_G, style_layers=STYLE_LAYERS):
    """Weighted style cost over several layers.

    Arguments:
        a_S -- mapping from layer name to the style image's activation there
        a_G -- mapping from layer name to the generated image's activation there
        style_layers -- sequence of (layer name, weight λ^[l]),
            by default ``nst.config.STYLE_LAYERS`` (five layers, 0.2 each)

    Returns:
        J_style -- scalar float32 tensor, Σ_l λ^[l] · compute_layer_style_cost(a_S[l], a_G[l])
    """
    J_style = tf.constant(0.0, tf.float32)
    for name, weight in style_layers:
        J_layer = compute_layer_style_cost(_lookup(a_S, name), _lookup(a_G, name))
        # The cast keeps the sum float32 even if a weight arrives as a float64.
        J_style += tf.cast(weight, tf.float32) * J_layer
    return J_style
