"""Fast kernels: how nst computes the exercise faster, or in less memory, with the same numbers.

Each plugs into the exercise from outside, never replacing one of its functions:

- ``convolution``  ``FastKernels``: the convolutions ``VGGGraph`` is handed (Winograd's, a
                   faster input gradient, recomputation of blocks in the backward pass)
- ``winograd``     Winograd's F(4x4, 3x3) and F(6x6, 3x3) for 3x3 convolutions
- ``toom_cook``    their transform matrices, from the interpolation points
- ``bands``        the targets of large images, computed in bands of rows
- ``tiles``        J and its gradient of an image too large for one pass, tile by tile (exact)
- ``variation``    total variation's value and gradient in bands of rows, for tiled scales
- ``folding``      style targets embedded as constants, so gram(a_S) is computed once
- ``precision``    bfloat16 / float16 networks, and float16's loss scaling
"""

from nst.kernels.convolution import FastKernels

__all__ = ["FastKernels"]
