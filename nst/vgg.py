"""The pretrained VGG19 as the exercise's graph: ``load_vgg_model(path)``.

The exercise builds a dict of graph nodes, ``input`` through ``avgpool5``:

    input    (1, 300, 400, 3)      a variable: the image being looked at
    conv1_1  (1, 300, 400, 64)     relu(conv2d(x, W, stride 1, SAME) + b)
    conv1_2  (1, 300, 400, 64)
    avgpool1 (1, 150, 200, 64)     2x2 average pool, stride 2, SAME
    conv2_1 ... avgpool5 (1, 10, 13, 512)

In TensorFlow 2 nothing runs until asked, so ``VGGGraph`` is a read-only mapping with
those keys: assign an image to ``graph['input']`` and ``graph['conv4_2']`` gives that
image's activations. Training asks for all the layers it needs at once with
``graph.forward(image, layers)`` inside its traced step: ONE forward pass that stops at
the deepest layer asked for (``graph.model(layers)`` wraps the same in a ``tf.function``).

Each convolution's input gradient is computed by ``conv_relu`` as a forward convolution
with the flipped kernel: the same numbers, and on the CPU faster than TensorFlow's own
(``python -m nst.bench`` measures both; ``graph.flipped_gradient = False`` turns it off).

Average pooling (the exercise's choice, after Gatys et al.) is the default;
``pooling="max"`` gives the original VGG19, e.g. to compare with Keras.
"""

from collections.abc import Mapping

import tensorflow as tf

from nst import winograd
from nst.config import COLOR_CHANNELS, IMAGE_HEIGHT, IMAGE_WIDTH
from nst.errors import NSTError
from nst.runtime import onednn_enabled
from nst.vgg_files import BLOCKS, read_vgg19_weights

MIN_SIZE = 32  # five 2x2 poolings: smaller images leave nothing for conv5


def _layer_names(pool_prefix):
    names = []
    for block, count, _ in BLOCKS:
        names += [f"conv{block}_{i}" for i in range(1, count + 1)]
        names.append(f"{pool_prefix}{block}")
    return tuple(names)


LAYERS = _layer_names("avgpool")  # the exercise's node names after 'input', in order


# Convolutions with fewer input channels (conv1_1: 3) keep TensorFlow's gradient, faster there.
FLIPPED_MIN_CHANNELS = 16
# Winograd's convolution where input x output channels reach this (conv3_1, 128x256, on; the input
# gradient's flipped kernel has the same product). Below, at the larger sizes of blocks 1-2, moving
# its 2.25x larger transformed tiles through memory costs more than the multiplications it saves:
# measured each layer alone at 300x400 (`python -m nst.bench --layers`): conv1_2 77 ms by Winograd
# vs 44 direct, conv2_1 30 vs 23, conv2_2 50 vs 46, conv3_1 18.5 vs 22.5, conv4_2 24 vs 43.
WINOGRAD_MIN_CHANNEL_PRODUCT = 128 * 256


def flipped_gradient_pays():
    """Whether ``conv_relu``'s gradient beats TensorFlow's here: on the CPU with Eigen's kernels.

    Measured by ``python -m nst.bench`` (variant fp32-tfgrad): with Eigen, Conv2D is faster
    than Conv2DBackpropInput; with oneDNN (TF_ENABLE_ONEDNN_OPTS=1) it is the other way
    round, and on a GPU cuDNN's backward pass needs no help.
    """
    return not onednn_enabled() and not tf.config.list_physical_devices("GPU")


def flip_kernel(W):
    """The kernel whose SAME convolution is the input gradient of W's: W[::-1, ::-1], in/out swapped."""
    return tf.transpose(tf.reverse(W, axis=[0, 1]), [0, 1, 3, 2])


def winograd_pays():
    """Whether ``conv_relu`` should use Winograd's F(4x4, 3x3) (nst.winograd): on the CPU.

    Measured by ``python -m nst.bench`` (variant fp32-direct is nst's step without it).
    On a GPU, cuDNN picks its own algorithm, Winograd's among them.
    """
    return not tf.config.list_physical_devices("GPU")


def conv_relu(x, b, conv, conv_flipped):
    """relu(conv(x) + b), differentiable in x only, its input gradient conv_flipped(relu'(dy)).

    ``conv`` is a stride-1 SAME convolution with a 3x3 kernel W, ``conv_flipped`` the same with
    ``flip_kernel(W)``: for such a convolution the input gradient is itself a SAME convolution
    of the output gradient with the flipped, transposed kernel. So the backward pass can run
    the same fast forward algorithm (TensorFlow's CPU Conv2D beats its Conv2DBackpropInput
    without oneDNN; Winograd's F(4x4, 3x3) beats both where channels are many). b must be
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


class VGGGraph(Mapping):
    """VGG19's layers by name, computed for the image held in ``self['input']``.

    ``recompute_blocks``: see ``forward``; set it on an instance (e.g. ``{1, 2}``).

    Args:
        weights: {conv name: (W [3,3,in,out], b [out])}, conv1_1 expecting RGB - MEANS.
        height, width: image size, each at least 32.
        pooling: "avg" (the exercise) or "max" (the original VGG19).
        dtype: the network's compute dtype; tf.bfloat16 / tf.float16 for reduced precision.
    """

    recompute_blocks = frozenset()  # blocks whose activations the backward pass computes again

    def __init__(self, weights, height=IMAGE_HEIGHT, width=IMAGE_WIDTH, pooling="avg", dtype=tf.float32):
        if pooling not in ("avg", "max"):
            raise NSTError(f"pooling must be 'avg' or 'max', not {pooling!r}")
        if min(height, width) < MIN_SIZE:
            raise NSTError(
                f"image size {height}x{width} is too small: VGG19 needs at least "
                f"{MIN_SIZE}x{MIN_SIZE}; use a larger --size"
            )
        self.height, self.width, self.pooling = int(height), int(width), pooling
        self.dtype = tf.as_dtype(dtype)
        self.layers = _layer_names(f"{pooling}pool")
        # Weights become constants once, in the compute dtype; fc layers were never loaded.
        self._weights = {
            name: (tf.constant(W, self.dtype), tf.constant(b, self.dtype)) for name, (W, b) in weights.items()
        }
        # How the input gradient of each convolution is computed (see conv_relu); same values.
        self.flipped_gradient = flipped_gradient_pays()
        # Not in float16: Winograd's transformed tiles are up to ~100x the activations, past its range.
        self.winograd = winograd_pays() and self.dtype != tf.float16
        self._source = weights  # Winograd's transforms are made once per array of these (winograd.kernels)
        self._flipped = {}  # name -> flip_kernel(W), made on first use
        self.input = tf.Variable(tf.zeros((1, self.height, self.width, COLOR_CHANNELS)), name="input", trainable=True)
        self._shapes = {"input": tuple(self.input.shape)}
        h, w = self.height, self.width
        for name in self.layers:
            if name.startswith("conv"):
                channels = self._weights[name][0].shape[-1]
            else:
                h, w = -(-h // 2), -(-w // 2)  # SAME pooling rounds up
            self._shapes[name] = (1, h, w, channels)

    # --- the mapping the exercise printed ---------------------------------------

    def __getitem__(self, name):
        if name == "input":
            return self.input
        if name not in self._shapes:
            raise KeyError(name)
        return self.forward(self.input, (name,))[name]

    def __iter__(self):
        return iter(("input",) + self.layers)

    def __len__(self):
        return 1 + len(self.layers)

    def shape(self, name):
        """Static shape of a node, e.g. ``graph.shape('conv4_2') == (1, 38, 50, 512)``."""
        return self._shapes[name]

    def __repr__(self):
        pool = "average" if self.pooling == "avg" else "max"
        lines = [f"VGG19 graph, {self.height}x{self.width}, {pool} pooling, {self.dtype.name}:"]
        for name in self:
            kind = "tf.Variable" if name == "input" else "tf.Tensor"
            lines.append(f"  {name!r:11} {kind} shape={self._shapes[name]}")
        return "\n".join(lines)

    # --- computing activations ----------------------------------------------------

    def check_layers(self, names):
        """Raise NSTError for names that are not layers of this graph."""
        unknown = [n for n in names if n not in self._shapes or n == "input"]
        if unknown:
            raise NSTError(
                f"unknown layer name(s) {', '.join(map(repr, unknown))}; choose from {', '.join(self.layers)}"
            )

    def forward(self, image, outputs):
        """One pass through the network; returns {name: activation} for ``outputs``.

        image: (1, height, width, 3), RGB minus MEANS. Stops after the deepest layer
        asked for, so the layers no cost needs (conv5_2 ... avgpool5) cost nothing.

        ``self.recompute_blocks`` (block numbers, e.g. {1, 2}; none by default) trades time
        for memory under a gradient tape: each of those blocks (its convolutions and its
        pooling) runs inside ``tf.recompute_grad``, so the backward pass keeps only the
        block's input and the outputs asked for, and computes the block's other
        activations again when it needs them. Same values and gradients.
        """
        self.check_layers(outputs)
        wanted = set(outputs)
        deepest = max(self.layers.index(name) for name in wanted)
        x = tf.cast(image, self.dtype)
        result = {}
        segment = []
        for index, name in enumerate(self.layers[: deepest + 1]):
            segment.append(name)
            if "pool" not in name and index < deepest:
                continue  # a block ends at its pooling layer (or at the deepest layer asked for)
            block = int(segment[0][len("conv")])
            x, activations = self._run_segment(tuple(segment), x, wanted, block in self.recompute_blocks)
            result.update(activations)
            segment = []
        return result

    def _run_segment(self, names, x, wanted, recompute):
        """Layers ``names`` in order from x: (last activation, {name: activation} for the wanted)."""
        kept = [name for name in names[:-1] if name in wanted]

        def run(x):
            activations = {}
            for name in names:
                if name.startswith("conv"):
                    x = self._conv_relu(name, x)
                elif self.pooling == "avg":
                    x = tf.nn.avg_pool2d(x, ksize=2, strides=2, padding="SAME")
                else:
                    x = tf.nn.max_pool2d(x, ksize=2, strides=2, padding="SAME")
                activations[name] = x
            return [x] + [activations[name] for name in kept]

        last, *others = tf.recompute_grad(run)(x) if recompute else run(x)
        activations = dict(zip(kept, others))
        if names[-1] in wanted:
            activations[names[-1]] = last
        return last, activations

    def _conv_relu(self, name, x):
        """relu(conv2d(x, W) + b), by Winograd or directly; its gradient by a forward convolution (see conv_relu)."""
        W, b = self._weights[name]
        if self.winograd and W.shape[2] * W.shape[3] >= WINOGRAD_MIN_CHANNEL_PRODUCT:
            U, U_flipped = winograd.kernels(self._source[name][0], self.dtype)
            return conv_relu(x, b, lambda t: winograd.conv3x3(t, U), lambda t: winograd.conv3x3(t, U_flipped))
        if not self.flipped_gradient or W.shape[2] < FLIPPED_MIN_CHANNELS:
            return tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, W, strides=1, padding="SAME"), b))
        if name not in self._flipped:
            with tf.init_scope():  # made once, eagerly: a constant every trace can share
                self._flipped[name] = flip_kernel(W)
        W_flipped = self._flipped[name]
        return conv_relu(x, b, lambda t: _conv2d(t, W), lambda t: _conv2d(t, W_flipped))

    def model(self, outputs, jit_compile=False):
        """A ``tf.function`` image -> {name: activation}, traced once for this image size."""
        outputs = tuple(outputs)
        self.check_layers(outputs)
        signature = [tf.TensorSpec(self._shapes["input"], tf.float32)]

        @tf.function(input_signature=signature, jit_compile=jit_compile)
        def activations(image):
            return self.forward(image, outputs)

        return activations


def load_vgg_model(path, height=IMAGE_HEIGHT, width=IMAGE_WIDTH, pooling="avg", dtype=tf.float32):
    """Load VGG19 weights from a MatConvNet .mat or Keras .h5 file into a ``VGGGraph``.

    >>> graph = load_vgg_model("pretrained-model/imagenet-vgg-verydeep-19.mat")
    >>> graph["input"].assign(content_image)    # (1, 300, 400, 3), RGB minus MEANS
    >>> a_C = graph["conv4_2"]                  # (1, 38, 50, 512)
    """
    return VGGGraph(read_vgg19_weights(path), height, width, pooling=pooling, dtype=dtype)
