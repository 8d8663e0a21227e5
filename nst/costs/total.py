"""The total cost: the one number the optimiser makes smaller.

    J(G) = α · J_content(C, G) + β · J_style(S, G)

α and β (``nst.config.ALPHA`` = 10 and ``nst.config.BETA`` = 40) set how much
the generated image should keep the content of C versus take on the style of S.
"""

import tensorflow as tf

from nst.config import ALPHA, BETA


def total_cost(J_content, J_style, alpha=ALPHA, beta=BETA):
    """Total cost of the generated image.

    Arguments:
        J_content -- content cost (scalar)
        J_style -- style cost (scalar)
        alpha -- weight of the content cost
        beta -- weight of the style cost

    Returns:
        J -- scalar float32 tensor, alpha · J_content + beta · J_style
    """
    # Cast everything, so plain Python or NumPy numbers give the same float32
    # tensor as the costs themselves do.
    J_content = tf.cast(J_content, tf.float32)
    J_style = tf.cast(J_style, tf.float32)
    return tf.cast(alpha, tf.float32) * J_content + tf.cast(beta, tf.float32) * J_style
