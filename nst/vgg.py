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

How each layer is computed is handed to the graph: ``kernels``, by default ``Kernels``,
TensorFlow's own ``conv2d`` as the exercise has it. nst's runs hand it
``nst.kernels.FastKernels`` (Winograd's algorithm and a faster gradient, the same numbers).

Average pooling (the exercise's choice, after Gatys et al.) is the default;
``pooling="max"`` gives the original VGG19, e.g. to compare with Keras.
"""

from collections.abc import Mapping

import tensorflow as tf

from nst.config import COLOR_CHANNELS, IMAGE_HEIGHT, IMAGE_WIDTH
from nst.errors import NSTError
from nst.vgg_files import LAYERS, MIN_SIZE, layer_names, read_vgg19_weights

__all__ = ["LAYERS", "MIN_SIZE", "Kernels", "VGGGraph", "load_vgg_model"]


class Kernels:
    """How ``VGGGraph`` computes its layers: TensorFlow's ``conv2d``, as the exercise does.

    ``VGGGraph(weights, ..., kernels=K)`` calls ``K(weights)`` once and then, for every layer,
    ``conv_relu(name, x, W, b)``, and for every block of layers ``run_block(block, run, x)``.
    A faster class with these two methods plugs in there (``nst.kernels.FastKernels``).
    """

    def __init__(self, weights=None):
        pass

    def conv_relu(self, name, x, W, b):
        """relu(conv2d(x, W, stride 1, SAME) + b): x (1, h, w, in), W (3, 3, in, out) -> (1, h, w, out)."""
        return tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, W, strides=1, padding="SAME"), b))

    def run_block(self, block, run, x):
        """The layers of block ``block`` (1-5) from its input x: ``run(x)``."""
        return run(x)


class VGGGraph(Mapping):
    """VGG19's layers by name, computed for the image held in ``self['input']``.

    Args:
        weights: {conv name: (W [3,3,in,out], b [out])}, conv1_1 expecting RGB - MEANS.
        height, width: image size, each at least 32.
        pooling: "avg" (the exercise) or "max" (the original VGG19).
        dtype: the network's compute dtype; tf.bfloat16 / tf.float16 for reduced precision.
        kernels: how each layer is computed (see ``Kernels``); ``self.kernels = kernels(weights)``.
    """

    def __init__(
        self, weights, height=IMAGE_HEIGHT, width=IMAGE_WIDTH, pooling="avg", dtype=tf.float32, kernels=Kernels
    ):
        if pooling not in ("avg", "max"):
            raise NSTError(f"pooling must be 'avg' or 'max', not {pooling!r}")
        if min(height, width) < MIN_SIZE:
            raise NSTError(
                f"image size {height}x{width} is too small: VGG19 needs at least "
                f"{MIN_SIZE}x{MIN_SIZE}; use a larger --size"
            )
        self.height, self.width, self.pooling = int(height), int(width), pooling
        self.dtype = tf.as_dtype(dtype)
        self.layers = layer_names(f"{pooling}pool")
        # Weights become constants once, in the compute dtype; fc layers were never loaded.
        self._weights = {
            name: (tf.constant(W, self.dtype), tf.constant(b, self.dtype)) for name, (W, b) in weights.items()
        }
        self.kernels = kernels(weights)
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
        Each block (its convolutions and its pooling) runs through ``self.kernels.run_block``.
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
            x, activations = self._run_segment(block, tuple(segment), x, wanted)
            result.update(activations)
            segment = []
        return result

    def _run_segment(self, block, names, x, wanted):
        """Layers ``names`` in order from x: (last activation, {name: activation} for the wanted)."""
        kept = [name for name in names[:-1] if name in wanted]

        def run(x):
            activations = {}
            for name in names:
                if name.startswith("conv"):
                    x = self.kernels.conv_relu(name, x, *self._weights[name])
                elif self.pooling == "avg":
                    x = tf.nn.avg_pool2d(x, ksize=2, strides=2, padding="SAME")
                else:
                    x = tf.nn.max_pool2d(x, ksize=2, strides=2, padding="SAME")
                activations[name] = x
            return [x] + [activations[name] for name in kept]

        last, *others = self.kernels.run_block(block, run, x)
        activations = dict(zip(kept, others))
        if names[-1] in wanted:
            activations[names[-1]] = last
        return last, activations

    def model(self, outputs, jit_compile=False):
        """A ``tf.function`` image -> {name: activation}, traced once for this image size."""
        outputs = tuple(outputs)
        self.check_layers(outputs)
        signature = [tf.TensorSpec(self._shapes["input"], tf.float32)]

        @tf.function(input_signature=signature, jit_compile=jit_compile)
        def activations(image):
            return self.forward(image, outputs)

        return activations


def load_vgg_model(path, height=IMAGE_HEIGHT, width=IMAGE_WIDTH, pooling="avg", dtype=tf.float32, kernels=Kernels):
    """Load VGG19 weights from a MatConvNet .mat or Keras .h5 file into a ``VGGGraph``.

    >>> graph = load_vgg_model("pretrained-model/imagenet-vgg-verydeep-19.mat")
    >>> graph["input"].assign(content_image)    # (1, 300, 400, 3), RGB minus MEANS
    >>> a_C = graph["conv4_2"]                  # (1, 38, 50, 512)
    """
    return VGGGraph(read_vgg19_weights(path), height, width, pooling=pooling, dtype=dtype, kernels=kernels)
