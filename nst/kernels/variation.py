"""The total-variation term of a tiled scale in bands of rows, in NumPy: the same J_tv and gradient.

``nst.costs.variation.total_variation_cost`` on a whole 3808x8192 image, differentiated by a
TensorFlow tape, makes image-sized temporaries (the image, its differences, their squares, the
gradient's pieces) that oneDNN's memory pool keeps: measured alone on a 3808x8192 image, 24 s and
4.4 GiB kept (the 8192 px run's RSS rose 5.3 GiB at its top scale's first evaluation, the line
search's vectors included). Here the same numbers come from the formula and its
derivative, a band of rows at a time, so no more than one band's temporaries live at once (0.9 s
there, nothing kept):

    dy[i, j, c] = x[i+1, j, c] − x[i, j, c],   dx[i, j, c] = x[i, j+1, c] − x[i, j, c]
    J_tv        = Σ dy² / N_y + Σ dx² / N_x,   N_y = (H−1)·W·C,  N_x = H·(W−1)·C
    ∂J_tv/∂x[i, j, c] = 2·(dy[i−1, j, c] − dy[i, j, c]) / N_y + 2·(dx[i, j−1, c] − dx[i, j, c]) / N_x

with dy and dx taken as 0 outside the image (a direction without pairs adds nothing).
"""

import numpy as np

BAND_ROWS = 256  # 256 x 8192 x 3 float32: 25 MB a temporary


def total_variation_value_and_grad(image, band_rows=BAND_ROWS):
    """(J_tv float, ∂J_tv/∂image float32 of image's shape) for a (1, H, W, C) float32 image."""
    _, height, width, channels = image.shape
    x = image[0]
    n_y, n_x = (height - 1) * width * channels, height * (width - 1) * channels
    gradient = np.empty_like(image)
    total_y = total_x = 0.0
    for r0 in range(0, height, band_rows):
        r1 = min(height, r0 + band_rows)
        # dy for rows r0 − 1 .. r1 − 1 (those the band's pixels take part in), 0 past the image's edges
        lo, hi = max(r0 - 1, 0), min(r1 + 1, height)
        dy = np.zeros((r1 - r0 + 1, width, channels), np.float32)
        dy[lo - (r0 - 1) : hi - 1 - (r0 - 1)] = np.diff(x[lo:hi], axis=0)
        dx = np.diff(x[r0:r1], axis=1)
        owned = dy[1 : 1 + min(r1, height - 1) - r0]  # dy[i] belongs to the band holding row i
        total_y += float(np.dot(owned.reshape(-1).astype(np.float64), owned.reshape(-1)))
        total_x += float(np.dot(dx.reshape(-1).astype(np.float64), dx.reshape(-1)))
        g = gradient[0, r0:r1]
        if n_y:
            np.subtract(dy[:-1], dy[1:], out=g)
            g *= np.float32(2 / n_y)
        else:
            g[...] = 0
        if n_x:
            g[:, 1:] += np.float32(2 / n_x) * dx
            g[:, :-1] -= np.float32(2 / n_x) * dx
    J = (total_y / n_y if n_y else 0.0) + (total_x / n_x if n_x else 0.0)
    return J, gradient
