"""The costs of neural style transfer, in the order the exercise builds them.

- ``content``    ``compute_content_cost``: how far G's content is from C's
- ``style``      ``gram_matrix``, ``compute_layer_style_cost``, ``compute_style_cost``:
                 how far G's style is from S's
- ``total``      ``total_cost``: J = α · J_content + β · J_style
- ``variation``  ``total_variation_cost``: a smoothness prior on G's pixels (beyond the exercise)

Training calls these very functions (``nst.engine.objective.make_cost``). Every cost takes
activations of shape (1, n_H, n_W, n_C), computes in float32 and returns a scalar
float32 tensor.
"""

from nst.costs.content import activation_dims, compute_content_cost
from nst.costs.style import compute_layer_style_cost, compute_style_cost, gram_matrix, unroll_for_gram
from nst.costs.total import total_cost
from nst.costs.variation import total_variation_cost

__all__ = [
    "activation_dims",
    "compute_content_cost",
    "gram_matrix",
    "unroll_for_gram",
    "compute_layer_style_cost",
    "compute_style_cost",
    "total_cost",
    "total_variation_cost",
]
