"""The total-variation cost: a smoothness prior on the generated image's pixels.

Gradient descent on the content and style costs alone leaves high-frequency
speckle in G: VGG19 barely sees single-pixel noise, so nothing removes it. The
total-variation (TV) cost penalises differences between neighbouring pixels, so
adding a little of it to J trades that speckle for smoothness.

For an image x of shape (1, H, W, C) we use the *squared* ("L2") total
variation, averaged over the neighbour pairs in each direction:

    dy[i, j, c] = x[i+1, j, c] − x[i, j, c]      shape (H−1, W, C)   vertical
    dx[i, j, c] = x[i, j+1, c] − x[i, j, c]      shape (H, W−1, C)   horizontal

    J_tv(x) = Σ dy² / ((H−1)·W·C)  +  Σ dx² / (H·(W−1)·C)

i.e. the mean squared vertical difference plus the mean squared horizontal
difference. This is the regulariser of anishathalye/neural-style (there written
2·(l2_loss(dy)/size(dy) + l2_loss(dx)/size(dx)), with l2_loss = Σ/2).

Why these choices:

- Squares, not absolute values (``tf.image.total_variation`` sums |dy| + |dx|):
  the square is differentiable everywhere, including where two neighbours are
  equal, which L-BFGS's line search relies on. The price: a square punishes one
  large jump (a real edge) more than several small ones, so a large weight blurs
  edges. Keep ``tv_weight`` small.
- Means, not sums: the value does not grow with the image size, so one
  ``tv_weight`` works at 48x64 and at 300x400. In pixel units (0..255 scale) a
  photograph gives a J_tv of a few hundred (the Golden Gate: 443 at 300x400,
  the Monet: 401); independent uniform noise
  of amplitude ±a adds about 4a²/3 (each direction: E[(u − v)²] = 2 · a²/3).
- A direction with no neighbour pairs (H = 1 or W = 1) contributes 0, not NaN.

The mean pixel (``MEANS``) does not matter: differences of neighbours cancel it,
so the cost is the same for a picture and for its normalised version.
"""

import tensorflow as tf

from nst.costs.content import activation_dims, normaliser


def _mean_of_squares(differences, count):
    """Σ differences² / count, or 0 when there are no differences (count == 0)."""
    total = tf.reduce_sum(tf.square(differences))
    if isinstance(count, int):  # static shape: decide in Python, no division by zero in the graph
        return total / float(count) if count else tf.constant(0.0, tf.float32)
    # Dynamic shape: max(count, 1) leaves an empty sum (0) at 0 instead of 0/0.
    return total / tf.maximum(tf.cast(count, tf.float32), 1.0)


def total_variation_cost(image):
    """Squared total variation of an image, normalised by the number of neighbour pairs.

    Arguments:
        image -- the generated image, shape (1, H, W, C), e.g. RGB minus MEANS

    Returns:
        J_tv -- scalar float32 tensor,
            mean over (i, j, c) of (x[i+1, j, c] − x[i, j, c])²
          + mean over (i, j, c) of (x[i, j+1, c] − x[i, j, c])²
        differentiable everywhere: ∂J_tv/∂x is linear in x.
    """
    # Images may come in float16/bfloat16 or float64; square and sum in float32 like every cost.
    x = tf.cast(image, tf.float32)
    n_H, n_W, n_C = activation_dims(x)  # also checks the rank is 4
    dy = x[:, 1:, :, :] - x[:, :-1, :, :]  # (1, H−1, W, C)
    dx = x[:, :, 1:, :] - x[:, :, :-1, :]  # (1, H, W−1, C)
    vertical = _mean_of_squares(dy, _pairs(n_H, n_W, n_C))
    horizontal = _mean_of_squares(dx, _pairs(n_W, n_H, n_C))
    return vertical + horizontal


def _pairs(along, across, channels):
    """Number of neighbour pairs along one axis: (along − 1) · across · channels.

    A Python int for static shapes; otherwise a tensor (``normaliser`` casts to
    float32 before multiplying, so large images cannot overflow an int32)."""
    if all(isinstance(n, int) for n in (along, across, channels)):
        return max(along - 1, 0) * across * channels
    return normaliser(tf.maximum(along - 1, 0), across, channels)
