"""The content cost: how different two images look to one hidden layer.

Pick one layer of the network (``nst.config.CONTENT_LAYER``) and run both the
content image C and the generated image G through it. Its activations are

    a_C, a_G    shape (1, n_H, n_W, n_C)

and the content cost compares them element by element:

    J_content(C, G) = 1 / (4 · n_H · n_W · n_C) · Σ_all entries (a_C − a_G)²

The 1/(4 · n_H · n_W · n_C) only rescales the sum, so that layers of different
sizes give costs of a comparable size.

This module also holds ``activation_dims``, which the style cost uses too.
"""

import tensorflow as tf


def activation_dims(a):
    """Return ``(n_H, n_W, n_C)`` of an activation ``a`` of shape (1, n_H, n_W, n_C).

    Each entry is a Python int when the static shape knows it, and a scalar int32
    tensor (from ``tf.shape``) when it does not, e.g. inside a ``tf.function``
    whose input signature leaves the image size open. Python ints are preferred
    because they let the normalisation constants be plain Python numbers.
    """
    a = tf.convert_to_tensor(a)  # NumPy arrays and nested lists are welcome too
    rank = a.shape.rank
    if rank is not None and rank != 4:
        raise ValueError(f"expected an activation of shape (1, n_H, n_W, n_C), got shape {a.shape}")
    static = a.shape.as_list() if rank is not None else [None] * 4
    if None in static[1:]:
        dynamic = tf.shape(a)
        return tuple(dynamic[i] if static[i] is None else static[i] for i in (1, 2, 3))
    return tuple(static[1:])


def normaliser(*factors):
    """Return the product of ``factors``, ready to divide a float32 sum by.

    With only Python ints (static shapes) the product is a Python float, computed
    exactly and baked into the graph as a constant. With some tensors among them
    (dynamic shapes), every factor is cast to float32 *before* multiplying: the style
    normaliser n_C² · (n_H · n_W)² is about 10^14 for the first VGG layer, far beyond
    what an int32 can hold.
    """
    if all(isinstance(f, int) for f in factors):
        product = 1
        for f in factors:
            product *= f
        return float(product)
    product = tf.constant(1.0, tf.float32)
    for f in factors:
        product *= tf.cast(f, tf.float32)
    return product


def compute_content_cost(a_C, a_G):
    """Content cost of the generated image G with respect to the content image C.

    Arguments:
        a_C -- activations of C at the content layer, shape (1, n_H, n_W, n_C)
        a_G -- activations of G at the same layer,    shape (1, n_H, n_W, n_C)

    Returns:
        J_content -- scalar float32 tensor,
            1 / (4 · n_H · n_W · n_C) · Σ (a_C − a_G)²
    """
    # Activations may come in bfloat16 or float16; sum their squares in float32.
    a_C = tf.cast(a_C, tf.float32)
    a_G = tf.cast(a_G, tf.float32)
    n_H, n_W, n_C = activation_dims(a_G)

    # Unroll to (n_H·n_W, n_C): one row per position, one column per channel.
    # The sum below does not care about the layout; the explicit shape documents
    # the exercise's step and makes a batch of more than one image fail loudly.
    a_C_unrolled = tf.reshape(a_C, [n_H * n_W, n_C])
    a_G_unrolled = tf.reshape(a_G, [n_H * n_W, n_C])

    squared_differences = tf.square(a_C_unrolled - a_G_unrolled)
    return tf.reduce_sum(squared_differences) / normaliser(4, n_H, n_W, n_C)
