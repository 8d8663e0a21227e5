"""Write VGG19 weights in MatConvNet's layout: ``python -m nst.weights --to-mat``.

The MatConvNet ``imagenet-vgg-verydeep-19.mat`` cannot always be downloaded, but the
Keras .h5 holds the same Oxford weights. This writes them as a MatConvNet
"simplenn" file in the current format (see ``nst.vgg_files``), so the .mat code path
can be used and checked with real weights. Only the 37 feature layers exist in the
.h5 (conv1_1 ... pool5): the fully-connected fc6-fc8 and softmax are not written.
The file is named ``vgg19-converted-from-keras-h5.mat`` so nobody mistakes it for the
original (it does not have that file's MD5).
"""

import numpy as np
import scipy.io

from nst.config import MEANS
from nst.images import atomic_path
from nst.vgg_files import BLOCKS, read_vgg19_weights


def _cell(*items):
    """A 1xN MATLAB cell array."""
    cell = np.empty((1, len(items)), dtype=object)
    for i, item in enumerate(items):
        cell[0, i] = item
    return cell


def _conv(name, W, b):
    return {
        "name": name,
        "type": "conv",
        "weights": _cell(W, b.reshape(-1, 1)),
        "size": np.array([W.shape], np.uint16),
        "pad": np.array([[1, 1, 1, 1]], np.uint8),
        "stride": np.array([[1, 1]], np.uint8),
        "precious": np.array([[0]], np.uint8),
        "dilate": np.array([[1]], np.uint8),
        "opts": np.empty((0, 0), object),
    }


def _relu(name):
    return {
        "name": name,
        "type": "relu",
        "leak": np.array([[0]], np.uint8),
        "weights": np.empty((0, 0), object),
        "precious": np.array([[0]], np.uint8),
    }


def _pool(name):
    # VGG19 itself max-pools; the exercise swaps in average pooling when it builds the graph.
    return {
        "name": name,
        "type": "pool",
        "method": "max",
        "pool": np.array([[2, 2]], np.uint8),
        "stride": np.array([[2, 2]], np.uint8),
        "pad": np.array([[0, 1, 0, 1]], np.uint8),
        "weights": np.empty((0, 0), object),
        "precious": np.array([[0]], np.uint8),
        "opts": np.empty((0, 0), object),
    }


def matconvnet_layers(weights):
    """{conv name: (W, b)} -> the list of 37 MatConvNet layer structs, conv1_1 ... pool5."""
    layers = []
    for block, count, _ in BLOCKS:
        for i in range(1, count + 1):
            W, b = weights[f"conv{block}_{i}"]
            layers += [_conv(f"conv{block}_{i}", W, b), _relu(f"relu{block}_{i}")]
        layers.append(_pool(f"pool{block}"))
    return layers


def keras_h5_to_matconvnet(h5_path, out_path):
    """Read the Keras .h5 (conv1_1 flipped to RGB by the reader) and save it as a .mat."""
    weights = read_vgg19_weights(h5_path)
    meta = {
        "inputs": {"name": "input", "size": np.array([[224, 224, 3, 10]], np.float64)},
        "classes": {"name": np.empty((1, 0), object), "description": np.empty((1, 0), object)},
        "normalization": {
            "imageSize": np.array([[224, 224, 3]], np.float64),
            "keepAspect": np.array([[1]], np.uint8),
            "averageImage": np.array(MEANS, np.float64).reshape(1, 1, 3),
            "border": np.array([[32, 32]], np.float64),
            "cropSize": np.array([[0.875, 0.875]], np.float64),
            "interpolation": "bilinear",
        },
    }
    with atomic_path(out_path) as tmp:
        # do_compression: like MATLAB's v7 save; keeps the file near the .h5's size.
        with open(tmp, "wb") as f:
            scipy.io.savemat(
                f, {"layers": _cell(*matconvnet_layers(weights)), "meta": meta}, do_compression=True, oned_as="row"
            )
    return out_path
