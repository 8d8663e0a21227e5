"""The function being minimised, shared by both optimisers.

    J(G) = alpha * J_content(C, G) + beta * J_style(S, G)  [+ tv_weight * J_tv(G)]

``make_cost`` closes over the graph and the targets computed once (a_C, G_S) and returns
``cost(G) -> (J, J_content, J_style)``: one forward pass of G through VGG19, up to the
deepest layer the costs read. ``make_gradient`` differentiates it; Adam's
``train_step`` and L-BFGS's ``value_and_grad`` both use that, so neither writes the
formula or its gradient again.
"""

import tensorflow as tf

from nst.costs import compute_content_cost, compute_style_cost_from_grams, total_cost
from nst.costs.variation import total_variation_cost


def make_cost(graph, a_C, G_S, content_layer, style_layers, alpha, beta, tv_weight=0.0):
    """cost(G: (1, H, W, 3)) -> (J, J_content, J_style), scalar float32 tensors."""
    style_layers = tuple(style_layers)
    layers = (content_layer,) + tuple(name for name, _ in style_layers)
    graph.check_layers(layers)
    tv_weight = float(tv_weight)

    def cost(image):
        a_G = graph.forward(image, layers)  # every activation from one pass
        J_content = compute_content_cost(a_C, a_G[content_layer])
        J_style = compute_style_cost_from_grams(G_S, a_G, style_layers)
        J = total_cost(J_content, J_style, alpha, beta)
        if tv_weight:  # decided in Python: without TV the traced graph is exactly the exercise's J
            J = J + tv_weight * total_variation_cost(image)
        return J, J_content, J_style

    return cost


# float16 loss scaling: start here, halve on overflow, double again after this many good calls.
FP16_INITIAL_SCALE = 1.0
FP16_GROWTH_INTERVAL = 100
FP16_MAX_HALVINGS = 30


def make_gradient(cost, compute_dtype=tf.float32):
    """gradient(G) -> (J, J_content, J_style, ∂J/∂G), for use inside a ``tf.function``.

    In float16 the backward pass through VGG19 overflows (float16 stops at 65504; at
    the exercise's J ~ 1e9 the first unscaled step leaves NaN pixels). So with a
    float16 network the gradient is taken of s·J and divided by s (dynamic loss
    scaling): when it comes out NaN or infinite, s is halved and the pass repeated (at
    most FP16_MAX_HALVINGS times); after FP16_GROWTH_INTERVAL good calls s doubles, up
    to 1. J itself is summed in float32 and never scaled. Other dtypes take the plain
    gradient.
    """

    def plain(image, scale=None):
        with tf.GradientTape() as tape:
            tape.watch(image)
            J, J_content, J_style = cost(image)
            scaled = J if scale is None else J * scale
        grad = tape.gradient(scaled, image)
        return J, J_content, J_style, (grad if scale is None else grad / scale)

    if tf.as_dtype(compute_dtype) != tf.float16:
        return plain

    scale = tf.Variable(FP16_INITIAL_SCALE, trainable=False, dtype=tf.float32)
    good_calls = tf.Variable(0, trainable=False, dtype=tf.int32)

    def scaled(image):
        J, J_content, J_style, grad = plain(image, scale)
        halvings = 0
        while not tf.reduce_all(tf.math.is_finite(grad)) and halvings < FP16_MAX_HALVINGS:
            scale.assign(scale * 0.5)
            good_calls.assign(0)
            J, J_content, J_style, grad = plain(image, scale)
            halvings += 1
        good_calls.assign_add(1)
        if good_calls >= FP16_GROWTH_INTERVAL:
            scale.assign(tf.minimum(scale * 2.0, 1.0))
            good_calls.assign(0)
        return J, J_content, J_style, grad

    scaled.scale = scale  # for tests and curious users
    return scaled
