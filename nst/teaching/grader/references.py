"""The right formulas, in NumPy (float64): what a check compares the learner's values with.

They follow the exercise's definitions; tests/test_grader.py checks that they agree with nst's own
TensorFlow functions (``nst.costs``) on every case.

- ``content_cost``      J_content = Σ (a_C − a_G)² / (4·n_H·n_W·n_C)
- ``layer_style_cost``  J_style_layer = Σ (G_S − G_G)² / (4·n_C²·(n_H·n_W)²), G = A·Aᵀ of the unrolled A
- ``style_cost``        J_style = Σ λ · J_style_layer over (layer, λ) in style_layers
- ``total_cost``        J = α·J_content + β·J_style (α = 10 and β = 40 unless given)

(The Gram matrix's reference, A·Aᵀ, is one line in its check.)
The known mistakes (``mistakes``) are built from the same pieces, with one piece wrong.
"""

import numpy as np

from nst.config import ALPHA, BETA


def dims(a):
    """n_H, n_W, n_C of an activation of shape (1, n_H, n_W, n_C)."""
    _, n_H, n_W, n_C = a.shape
    return n_H, n_W, n_C


def unrolled(a):
    """(1, n_H, n_W, n_C) -> (n_C, n_H·n_W), one channel per row: reshape, then transpose."""
    return a.reshape(-1, a.shape[-1]).T


def sum_of_squares(d):
    return np.sum(np.square(d))


def content_cost(a_C, a_G):
    """J_content = Σ (a_C − a_G)² / (4·n_H·n_W·n_C)."""
    n_H, n_W, n_C = dims(a_G)
    return sum_of_squares(a_C.astype(np.float64) - a_G) / (4 * n_H * n_W * n_C)


def layer_style_cost(a_S, a_G):
    """J_style_layer = Σ (G_S − G_G)² / (4·n_C²·(n_H·n_W)²), n_H, n_W, n_C of a_G."""
    n_H, n_W, n_C = dims(a_G)
    A_S, A_G = unrolled(a_S.astype(np.float64)), unrolled(a_G.astype(np.float64))
    return sum_of_squares(A_S @ A_S.T - A_G @ A_G.T) / (4 * n_C**2 * (n_H * n_W) ** 2)


def style_cost(a_S, a_G, style_layers):
    """J_style = Σ over (layer, λ) in style_layers of λ · J_style_layer(a_S[layer], a_G[layer])."""
    return sum(weight * layer_style_cost(a_S[name], a_G[name]) for name, weight in style_layers)


def total_cost(J_content, J_style, kwargs):
    """J = α·J_content + β·J_style, a case's keywords giving α and β (else the exercise's 10 and 40)."""
    return kwargs.get("alpha", ALPHA) * J_content + kwargs.get("beta", BETA) * J_style
