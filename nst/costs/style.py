"""The style cost: how different two images' textures look to several layers.

Style is measured by *which channels fire together*, wherever in the image that
happens. For one layer with activation a of shape (1, n_H, n_W, n_C):

1. Unroll a into a matrix A of shape (n_C, n_H·n_W): one row per channel,
   one column per position.
2. Its Gram matrix G = A · Aᵀ, shape (n_C, n_C), has
   G[c, c'] = Σ_positions a[·, ·, c] · a[·, ·, c'], the correlation of
   channels c and c'. Summing over positions throws away *where* things are.
3. The layer's style cost compares the Gram matrices of S and G:

       J_style^[l](S, G) = 1 / (4 · n_C² · (n_H·n_W)²) · Σ_ij (G_S[i,j] − G_G[i,j])²

4. The style cost mixes several layers with weights λ^[l] (``STYLE_LAYERS``):

       J_style(S, G) = Σ_l λ^[l] · J_style^[l](S, G)

The style image never changes while we train, so its Gram matrices G_S are
computed once (``style_grams``) and reused at every step
(``compute_style_cost_from_grams``). ``compute_layer_style_cost`` and
``compute_style_cost`` are the exercise's versions, written on top of those, so
each formula exists exactly once.
"""

import tensorflow as tf

from nst.config import STYLE_LAYERS
from nst.costs.content import activation_dims, normaliser


def gram_matrix(A):
    """Gram matrix of A.

    Arguments:
        A -- matrix of shape (n_C, n_H·n_W)

    Returns:
        GA -- A · Aᵀ, shape (n_C, n_C), same dtype as A
    """
    return tf.matmul(A, A, transpose_b=True)


def unroll_for_gram(a):
    """Unroll an activation of shape (1, n_H, n_W, n_C) to shape (n_C, n_H·n_W).

    Reshape to (n_H·n_W, n_C) first, then transpose. A bare reshape to
    (n_C, n_H·n_W) would give the right shape but the wrong matrix: memory holds
    the n_C channels of one position next to each other, so each "row" would mix
    channels of neighbouring positions instead of holding one channel.
    """
    n_H, n_W, n_C = activation_dims(a)
    return tf.transpose(tf.reshape(a, [n_H * n_W, n_C]))


@tf.custom_gradient
def _gram_of_positions(F):
    """Fᵀ · F for F of shape (n_H·n_W, n_C), with a one-matmul gradient.

    Fᵀ · F is gram_matrix(A) for A = Fᵀ, computed without materialising the
    transpose. Its gradient for an upstream dG of shape (n_C, n_C) is
    F · (dG + dGᵀ); TensorFlow's generic matmul gradient would spend two
    (n_H·n_W × n_C × n_C) matmuls on it, this spends one.
    """

    def grad(dG):
        return tf.matmul(F, dG + tf.transpose(dG))

    return tf.matmul(F, F, transpose_a=True), grad


def gram_of_activations(a):
    """Gram matrix, shape (n_C, n_C), of an activation of shape (1, n_H, n_W, n_C).

    Equal to ``gram_matrix(unroll_for_gram(a))`` (tested), written as Fᵀ · F with
    F = a reshaped to (n_H·n_W, n_C), which saves the transpose and, in training,
    one matmul of the gradient. The activation is cast to float32 first, so the
    Gram matrix of a bfloat16 or float16 activation is still summed in float32.
    """
    n_H, n_W, n_C = activation_dims(a)
    return _gram_of_positions(tf.reshape(tf.cast(a, tf.float32), [n_H * n_W, n_C]))


def layer_style_cost_from_gram(G_S, a_G):
    """Style cost of one layer, given the style image's Gram matrix there.

    Arguments:
        G_S -- Gram matrix of the style image at this layer, shape (n_C, n_C)
        a_G -- activation of the generated image there, shape (1, n_H, n_W, n_C)

    Returns:
        J_style_layer -- scalar float32 tensor,
            1 / (4 · n_C² · (n_H·n_W)²) · Σ (G_S − G_G)²
            with n_H, n_W, n_C taken from a_G.
    """
    G_S = tf.cast(G_S, tf.float32)
    a_G = tf.cast(a_G, tf.float32)
    G_G = gram_of_activations(a_G)
    n_H, n_W, n_C = activation_dims(a_G)
    squared_differences = tf.square(G_S - G_G)
    return tf.reduce_sum(squared_differences) / normaliser(4, n_C, n_C, n_H * n_W, n_H * n_W)


def compute_layer_style_cost(a_S, a_G):
    """Style cost of one layer (the exercise's function).

    Arguments:
        a_S -- activation of the style image S,     shape (1, n_H, n_W, n_C)
        a_G -- activation of the generated image G, shape (1, n_H, n_W, n_C)

    Returns:
        J_style_layer -- scalar float32 tensor,
            1 / (4 · n_C² · (n_H·n_W)²) · Σ (gram(a_S) − gram(a_G))²
    """
    return layer_style_cost_from_gram(gram_of_activations(a_S), a_G)


def _lookup(mapping, name, what):
    # A missing layer is easy to cause (a typo in style_layers, a model built
    # without that output); name it and list what is there.
    try:
        return mapping[name]
    except KeyError:
        raise KeyError(f"no {what} for style layer {name!r}; have {sorted(mapping)}") from None


def style_grams(a_S, style_layers=STYLE_LAYERS):
    """Gram matrices of the style image, the targets the training loop reuses.

    Arguments:
        a_S -- mapping from layer name to the style image's activation there
        style_layers -- sequence of (layer name, weight); only the names are used

    Returns:
        dict from layer name to that layer's Gram matrix, shape (n_C, n_C), float32
    """
    return {name: gram_of_activations(_lookup(a_S, name, "activation")) for name, _ in style_layers}


def compute_style_cost_from_grams(G_S, a_G, style_layers=STYLE_LAYERS):
    """Weighted style cost over several layers, given the style Gram matrices.

    Arguments:
        G_S -- mapping from layer name to the style image's Gram matrix there
        a_G -- mapping from layer name to the generated image's activation there
        style_layers -- sequence of (layer name, weight λ^[l])

    Returns:
        J_style -- scalar float32 tensor, Σ_l λ^[l] · J_style^[l]
    """
    J_style = tf.constant(0.0, tf.float32)
    for name, weight in style_layers:
        G_S_layer = _lookup(G_S, name, "Gram matrix")
        a_G_layer = _lookup(a_G, name, "activation")
        J_layer = layer_style_cost_from_gram(G_S_layer, a_G_layer)
        # The cast keeps the sum float32 even if a weight arrives as a float64.
        J_style += tf.cast(weight, tf.float32) * J_layer
    return J_style


def compute_style_cost(a_S, a_G, style_layers=STYLE_LAYERS):
    """Weighted style cost over several layers (the exercise's function).

    Arguments:
        a_S -- mapping from layer name to the style image's activation there
        a_G -- mapping from layer name to the generated image's activation there
        style_layers -- sequence of (layer name, weight λ^[l]),
            by default ``nst.config.STYLE_LAYERS`` (five layers, 0.2 each)

    Returns:
        J_style -- scalar float32 tensor, Σ_l λ^[l] · compute_layer_style_cost(a_S[l], a_G[l])
    """
    style_layers = tuple(style_layers)  # read twice below, so a generator would not do
    return compute_style_cost_from_grams(style_grams(a_S, style_layers), a_G, style_layers)
