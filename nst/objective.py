"""The function being minimised, shared by both optimisers.

    J(G) = alpha * J_content(C, G) + beta * J_style(S, G)  [+ tv_weight * J_tv(G)]

``make_cost`` closes over the graph and the targets computed once (a_C, G_S) and returns
``cost(G) -> (J, J_content, J_style)``: one forward pass of G through VGG19, up to the
deepest layer the costs read. Adam's ``train_step`` and L-BFGS's ``value_and_grad``
both differentiate it; neither writes the formula again.
"""

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
