"""``FastKernels``: VGG19's layers computed faster than ``tf.nn.conv2d``, the same numbers.

``nst.vgg.VGGGraph`` asks its kernels for each layer: ``conv_relu(name, x, W, b)`` =
relu(conv2d(x, W, stride 1, SAME) + b), and ``run_block(block, run, x)`` for each block of
layers. The exercise's graph uses TensorFlow's own convolution (``nst.vgg.Kernels``); nst's
runs hand the graph these instead (``VGGGraph(..., kernels=FastKernels)``):

- Winograd's F(6x6, 3x3) (``nst.kernels.winograd``) in blocks 2-3 from conv2_2 on, F(4x4, 3x3) in
  blocks 4-5 and in bfloat16, on the CPU;
- each convolution's input gradient as a forward convolution with the flipped kernel
  (``conv_relu`` below): the backward pass then runs the same fast forward algorithm;
- ``recompute_blocks``: blocks whose activations the backward pass computes again rather
  than keeps (memory for time, for very large images).
"""

import tensorflow as tf

from nst.kernels import winograd

# Convolutions with fewer input channels (conv1_1: 3) keep TensorFlow's gradient, faster there.
FLIPPED_MIN_CHANNELS = 16
# Winograd's convolution where input x output channels reach this (conv3_1, 128x256, on; the input
# gradient's flipped kernel has the same product). Below, at the larger sizes of blocks 1-2, moving
# its 2.25x larger transformed tiles through memory costs more than the multiplications it saves:
# measured each layer alone at 300x400 (`python -m nst.bench --layers`): conv1_2 77 ms by Winograd
# vs 44 direct, conv2_1 30 vs 23, conv2_2 50 vs 46, conv3_1 18.5 vs 22.5, conv4_2 24 vs 43.
WINOGRAD_MIN_CHANNEL_PRODUCT = 128 * 256
# F(6x6, 3x3) in blocks 2-3 from conv2_2 on (128x128 channels up to 256x256), in float32: its tiles'
# n² = 64 positions per 36 outputs against F(4x4)'s 36 per 16, but a partial last tile costs a whole
# one, and blocks 4-5 are small (38x50 and 19x25 at 300x400) where they are not already in tiles.
# Measured each layer alone at 300x400 (effective positions F(6x6)/F(4x4) in brackets): conv2_2 (0.80)
# 29.2 ms by F(6x6) vs 40.5 by F(4x4) and 43.5 direct, conv3_2 (0.83) 20.3 vs 24.5, conv4_2 (0.86) 22.8
# vs 20.8, conv5_1 (1.02) 11.5 vs 8.9. The choice is the layer's, never the input size's (a tiled level
# turns F(6x6) off: its blocks miss the tiles' 16 px grid, see nst.engine.problem.Problem.at). In
# bfloat16 its larger transform constants cost more accuracy than F(4x4)'s (the transformed tiles
# round to 8 bits), so bfloat16 keeps F(4x4).
WINOGRAD_6X6_MIN_CHANNEL_PRODUCT = 128 * 128
WINOGRAD_6X6_MAX_CHANNELS = 256  # blocks 4-5 (512 channels) keep F(4x4)


def onednn_enabled():
    """Whether TensorFlow's oneDNN (MKL) CPU kernels are on: env TF_ENABLE_ONEDNN_OPTS, before import."""
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return None


def flipped_gradient_pays():
    """Whether ``conv_relu``'s gradient beats TensorFlow's here: on the CPU with Eigen's kernels.

    Measured by ``python -m nst.bench`` (variant fp32-tfgrad): with Eigen, Conv2D is faster
    than Conv2DBackpropInput; with oneDNN (TF_ENABLE_ONEDNN_OPTS=1) it is the other way
    round, and on a GPU cuDNN's backward pass needs no help.
    """
    return not onednn_enabled() and not tf.config.list_physical_devices("GPU")


def winograd_pays():
    """Whether Winograd's F(4x4, 3x3) (``nst.kernels.winograd``) pays: on the CPU.

    Measured by ``python -m nst.bench`` (variant fp32-direct is nst's step without it).
    On a GPU, cuDNN picks its own algorithm, Winograd's among them.
    """
    return not tf.config.list_physical_devices("GPU")


def flip_kernel(W):
    """The kernel whose SAME convolution is the input gradient of W's: W[::-1, ::-1], in/out swapped."""
    return tf.transpose(tf.reverse(W, axis=[0, 1]), [0, 1, 3, 2])


def conv_relu(x, b, conv, conv_flipped):
    """relu(conv(x) + b), differentiable in x only, its input gradient conv_flipped(relu'(dy)).

    ``conv`` is a stride-1 SAME convolution with a 3x3 kernel W, ``conv_flipped`` the same with
    ``flip_kernel(W)``: for such a convolution the input gradient is itself a SAME convolution
    of the output gradient with the flipped, transposed kernel. So the backward pass can run
    the same fast forward algorithm (TensorFlow's CPU Conv2D beats its Conv2DBackpropInput
    without oneDNN; Winograd's F(m x m, 3x3) beats both where channels are many). b must be
    a tensor, not a variable: no gradient flows to the weights.
    """

    @tf.custom_gradient
    def forward(x):
        y = tf.nn.relu(tf.nn.bias_add(conv(x), b))

        def grad(dy):
            dy = tf.raw_ops.ReluGrad(gradients=dy, features=y)  # exactly what tf.nn.relu's gradient does
            return conv_flipped(dy)

        return y, grad

    return forward(x)


def _conv2d(x, W):
    return tf.nn.conv2d(x, W, strides=1, padding="SAME")


class FastKernels:
    """nst's way to compute VGG19's layers; hand the class to ``VGGGraph(..., kernels=FastKernels)``.

    Args:
        weights: {conv name: (W, b)} as NumPy arrays, the graph's own: Winograd's kernel
            transforms are computed from them in float64, once per array (``winograd.kernels``).

    Switches, each on where it pays and settable on an instance (the values do not change):
        winograd -- Winograd's F(4x4, 3x3) where channels are many (not on a GPU, not in float16:
            its transformed tiles are up to ~100x the activations, past float16's range)
        winograd_6x6 -- F(6x6, 3x3) in blocks 2-3 instead of F(4x4) or direct (float32 only, see ``tile_for``)
        flipped_gradient -- input gradients as forward convolutions (see ``conv_relu``)
        recompute_blocks -- VGG19 blocks (e.g. {1, 2}) run under ``tf.recompute_grad``
    """

    winograd_6x6 = True  # the step 1.09x faster at 300x400 (docs/speed.md); a tiled level's graph turns it off

    def __init__(self, weights):
        self.weights = weights
        self.winograd = winograd_pays()
        self.flipped_gradient = flipped_gradient_pays()
        self.recompute_blocks = frozenset()
        self._flipped = {}  # name -> flip_kernel(W), made on first use

    def tile_for(self, W):
        """m of the Winograd F(m x m, 3x3) that computes W's convolutions (and their input gradients), or
        None: direct. The layer's choice, whatever its input's size (see WINOGRAD_6X6_MIN_CHANNEL_PRODUCT)."""
        channels = W.shape[2] * W.shape[3]
        if not self.winograd or W.dtype == tf.float16:
            return None
        if (
            self.winograd_6x6
            and W.dtype == tf.float32
            and channels >= WINOGRAD_6X6_MIN_CHANNEL_PRODUCT
            and max(W.shape[2], W.shape[3]) <= WINOGRAD_6X6_MAX_CHANNELS
        ):
            return 6
        return 4 if channels >= WINOGRAD_MIN_CHANNEL_PRODUCT else None

    def conv_relu(self, name, x, W, b):
        """relu(conv2d(x, W) + b), by Winograd or directly; its gradient by a forward convolution (see conv_relu)."""
        m = self.tile_for(W)
        if m is not None:
            U, U_flipped = winograd.kernels(self.weights[name][0], W.dtype, m)
            return conv_relu(x, b, lambda t: winograd.conv3x3(t, U), lambda t: winograd.conv3x3(t, U_flipped))
        if not self.flipped_gradient or W.shape[2] < FLIPPED_MIN_CHANNELS:
            return tf.nn.relu(tf.nn.bias_add(_conv2d(x, W), b))
        if name not in self._flipped:
            with tf.init_scope():  # made once, eagerly: a constant every trace can share
                self._flipped[name] = flip_kernel(W)
        W_flipped = self._flipped[name]
        return conv_relu(x, b, lambda t: _conv2d(t, W), lambda t: _conv2d(t, W_flipped))

    def run_block(self, block, run, x):
        """run(x) -> [outputs]: the block's layers. In ``recompute_blocks`` it runs inside
        ``tf.recompute_grad``: under a gradient tape only the block's input and the outputs
        returned are kept, and the backward pass computes the block's other activations again.
        Same values and gradients."""
        return tf.recompute_grad(run)(x) if block in self.recompute_blocks else run(x)
