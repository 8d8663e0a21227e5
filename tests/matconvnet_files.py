"""Synthetic imagenet-vgg-verydeep-19.mat files, written the way MatConvNet wrote them.

The layouts follow shared/docs/matconvnet-vgg19-format.md: 43 layers (conv, relu, pool,
fc6-fc8, prob) as a 1x43 cell of 1x1 structs, with each format's own fields, in its own
field order and dtypes, and its own place for the mean pixel. Convolution kernels have
VGG19's real shapes with small random values; the fully-connected layers, which nst
never reads, are shrunk to keep the files small.
"""

import numpy as np
import scipy.io

from nst.vgg_files import BLOCKS

MEANS = [123.68, 116.779, 103.939]


def vgg19_layer_list():
    """[(name, type)] for the 43 layers of imagenet-vgg-verydeep-19."""
    layers = []
    for block, count, _ in BLOCKS:
        for i in range(1, count + 1):
            layers += [(f"conv{block}_{i}", "conv"), (f"relu{block}_{i}", "relu")]
        layers.append((f"pool{block}", "pool"))
    layers += [
        ("fc6", "conv"),
        ("relu6", "relu"),
        ("fc7", "conv"),
        ("relu7", "relu"),
        ("fc8", "conv"),
        ("prob", "softmax"),
    ]
    return layers


def random_conv_weights(seed=0):
    """{conv name: (W [3,3,in,out], b [out])} with VGG19's shapes, small random values."""
    rng = np.random.default_rng(seed)
    weights, cin = {}, 3
    for block, count, cout in BLOCKS:
        for i in range(1, count + 1):
            W = rng.normal(0, 0.01, (3, 3, cin, cout)).astype(np.float32)
            b = rng.normal(0, 0.1, cout).astype(np.float32)
            weights[f"conv{block}_{i}"] = (W, b)
            cin = cout
    # Shrunk fully-connected layers: right rank and layout, tiny sizes.
    weights["fc6"] = (rng.normal(0, 0.01, (1, 1, 8, 4)).astype(np.float32), np.zeros(4, np.float32))
    weights["fc7"] = (rng.normal(0, 0.01, (1, 1, 4, 4)).astype(np.float32), np.zeros(4, np.float32))
    weights["fc8"] = (rng.normal(0, 0.01, (1, 1, 4, 3)).astype(np.float32), np.zeros(3, np.float32))
    return weights


def _cell(*items):
    cell = np.empty((1, len(items)), dtype=object)
    for i, item in enumerate(items):
        cell[0, i] = item
    return cell


def _beta16_layer(name, kind, weights):
    """Fields and dtypes of utils/import-caffe.py (beta12-16), saved by scipy under Python 2."""
    f64 = lambda x: np.array([x], np.float64)  # noqa: E731
    if kind == "conv":
        W, b = weights[name]
        return {
            "weights": _cell(W, b.reshape(1, -1)),
            "pad": f64([1, 1, 1, 1] if name.startswith("conv") else [0] * 4),
            "type": "conv",
            "name": name,
            "stride": f64([1, 1]),
        }
    if kind == "pool":
        return {
            "name": name,
            "stride": f64([2, 2]),
            "pad": f64([0, 0, 0, 0]),
            "type": "pool",
            "method": "max",
            "pool": f64([2, 2]),
        }
    return {"type": kind, "name": name}


def _current_layer(name, kind, weights):
    """Fields and dtypes of vl_simplenn_tidy, saved by MATLAB (current format)."""
    u8 = lambda x: np.array([x], np.uint8)  # noqa: E731
    if kind == "conv":
        W, b = weights[name]
        return {
            "name": name,
            "type": "conv",
            "weights": _cell(W, b.reshape(-1, 1)),
            "size": np.array([W.shape], np.uint16),
            "pad": u8([1, 1, 1, 1] if name.startswith("conv") else [0] * 4),
            "stride": u8([1, 1]),
            "precious": u8([0]),
            "dilate": u8([1]),
            "opts": np.empty((0, 0), object),
        }
    if kind == "pool":
        return {
            "name": name,
            "type": "pool",
            "method": "max",
            "pool": u8([2, 2]),
            "stride": u8([2, 2]),
            "pad": u8([0, 1, 0, 1]),
            "weights": np.empty((0, 0), object),
            "precious": u8([0]),
            "opts": np.empty((0, 0), object),
        }
    if kind == "relu":
        return {"name": name, "type": "relu", "leak": u8([0]), "weights": np.empty((0, 0), object), "precious": u8([0])}
    return {"name": name, "type": kind, "weights": np.empty((0, 0), object), "precious": u8([0])}


def write_matconvnet(path, weights, fmt="current", rename=None, layers=None):
    """Write a MatConvNet VGG19 file in format "current" or "beta16".

    rename: {old layer name: new name}, to make a file that is not quite VGG19.
    """
    rename = rename or {}
    make = _current_layer if fmt == "current" else _beta16_layer
    structs = []
    for name, kind in layers or vgg19_layer_list():
        struct = make(name, kind, weights)
        struct["name"] = rename.get(name, name)
        structs.append(struct)
    if fmt == "current":
        meta = {
            "inputs": {"name": "input", "size": np.array([[224, 224, 3, 10]], np.float64)},
            "classes": {"name": _cell("n01440764"), "description": _cell("tench")},
            "normalization": {
                "imageSize": np.array([[224, 224, 3]], np.float64),
                "keepAspect": np.array([[1]], np.uint8),
                "averageImage": np.array(MEANS, np.float64).reshape(1, 1, 3),
                "border": np.array([[32, 32]], np.float64),
                "cropSize": np.array([[0.875, 0.875]], np.float64),
                "interpolation": "bilinear",
            },
        }
        contents = {"layers": _cell(*structs), "meta": meta}
    else:
        normalization = {
            "averageImage": np.tile(np.array(MEANS, np.float64), (224, 224, 1)),
            "keepAspect": np.array([[1]], np.float64),
            "border": np.array([[32, 32]], np.float64),
            "imageSize": np.array([[224, 224, 3]], np.float64),
            "interpolation": "bilinear",
        }
        contents = {
            "layers": _cell(*structs),
            "classes": {"name": _cell("n01440764"), "description": _cell("tench")},
            "normalization": normalization,
        }
    scipy.io.savemat(str(path), contents, do_compression=(fmt == "current"), oned_as="row")
    return path
