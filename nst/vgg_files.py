"""VGG19's layers, and its convolution weights read from a MatConvNet .mat or a Keras .h5 file.

``read_vgg19_weights(path)`` returns ``{"conv1_1": (W, b), ..., "conv5_4": (W, b)}`` with
W float32 [height, width, in, out] (TensorFlow's HWIO), b float32 [out], and conv1_1's
input channels in RGB order. The file's kind is told by its content, not its name:

- MatConvNet ``imagenet-vgg-verydeep-19.mat``, current format (keys ``layers``, ``meta``)
  or the older "beta16" format (keys ``layers``, ``classes``, ``normalization``).
  Kernels are used as stored; the bias is (1, out) in beta16 and (out, 1) in the current
  format. The fully-connected layers fc6-fc8 are read by scipy but not kept.
- Keras ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5``: groups ``blockB_convC``
  holding kernel and bias. Keras's VGG19 expects BGR input ("caffe" preprocessing), so
  conv1_1's input channels are reversed here to make one RGB-minus-MEANS input serve both.

Anything else fails with one ``NSTError`` line naming the file and the problem.
"""

from pathlib import Path

import numpy as np

from nst.errors import NSTError

# VGG19's convolution layers in order, with the number of output channels of each block.
BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512))
CONV_SHAPES = {}
_in = 3
for _block, _count, _out in BLOCKS:
    for _i in range(1, _count + 1):
        CONV_SHAPES[f"conv{_block}_{_i}"] = (3, 3, _in, _out)
        _in = _out
CONV_NAMES = tuple(CONV_SHAPES)
MIN_SIZE = 32  # five 2x2 poolings: smaller images leave nothing for conv5


def layer_names(pool_prefix="avgpool"):
    """The graph's node names after 'input', in order: conv1_1, conv1_2, avgpool1, conv2_1, ..."""
    names = []
    for block, count, _ in BLOCKS:
        names += [f"conv{block}_{i}" for i in range(1, count + 1)]
        names.append(f"{pool_prefix}{block}")
    return tuple(names)


LAYERS = layer_names("avgpool")  # the exercise's node names after 'input', in order

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
MAT5_MAGIC = b"MATLAB 5.0 MAT-file"
FETCH_HINT = "fetch it again with `python -m nst.weights`"


def read_vgg19_weights(path):
    """Return {conv name: (W [3,3,in,out] float32, b [out] float32)}, conv1_1 in RGB."""
    path = Path(path)
    if not path.exists():
        raise NSTError(f"{path}: no such weights file; run `python -m nst.weights` to fetch VGG19")
    if not path.is_file():
        raise NSTError(f"{path}: is not a file; give the path of a VGG19 .mat or .h5 file")
    with open(path, "rb") as f:
        head = f.read(1024)
    if head.startswith(MAT5_MAGIC):
        weights = _read_matconvnet(path)
    elif head.startswith(HDF5_MAGIC):
        weights = _read_keras_h5(path)
    elif head.startswith(b"MATLAB 7.3"):
        raise NSTError(
            f"{path}: MATLAB v7.3 .mat files are not supported; save it with -v7, "
            "or use the Keras .h5 from `python -m nst.weights`"
        )
    else:
        raise NSTError(f"{path}: not a MatConvNet .mat or Keras .h5 file; run `python -m nst.weights` to fetch VGG19")
    _check_vgg19(path, weights)
    return weights


def _check_vgg19(path, weights):
    missing = [name for name in CONV_NAMES if name not in weights]
    if missing:
        raise NSTError(f"{path}: not VGG19: missing layers {', '.join(missing)}; {FETCH_HINT}")
    for name, shape in CONV_SHAPES.items():
        W, b = weights[name]
        if W.shape != shape or b.shape != (shape[3],):
            raise NSTError(
                f"{path}: not VGG19: {name} has kernel {W.shape} and bias {b.shape}, "
                f"expected {shape} and ({shape[3]},); {FETCH_HINT}"
            )
        if not (np.isfinite(W).all() and np.isfinite(b).all()):
            raise NSTError(f"{path}: {name} holds NaN or infinite weights; {FETCH_HINT}")


# --- MatConvNet --------------------------------------------------------------------


def _matconvnet_format(path, contents):
    """Tell the two MatConvNet layouts apart by their top-level variables."""
    keys = {k for k in contents if not k.startswith("__")}
    if "layers" in keys and "meta" in keys:
        return "current"
    if "layers" in keys and "normalization" in keys:
        return "beta16"
    raise NSTError(
        f"{path}: unknown MatConvNet format (variables: {', '.join(sorted(keys)) or 'none'}; "
        "expected layers + meta, or layers + classes + normalization); " + FETCH_HINT
    )


def _text(value):
    """A MATLAB char array as loadmat returns it, e.g. array(['conv1_1']), as a str."""
    value = np.asarray(value).ravel()
    return str(value[0]) if value.size else ""


def _read_matconvnet(path):
    import scipy.io  # scipy is only needed for .mat files

    try:
        contents = scipy.io.loadmat(str(path))  # plain arrays: loadmat never unpickles
    except Exception as err:  # scipy raises ValueError, OSError, zlib.error, ... on bad files
        raise NSTError(
            f"{path}: cannot be read as a .mat file ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else 'no detail'}); "
            f"it may be truncated or corrupt; {FETCH_HINT}"
        ) from None
    fmt = _matconvnet_format(path, contents)
    layers = contents.pop("layers")
    del contents  # classes, meta: not needed; let them go before we keep anything
    weights = {}
    try:
        for entry in np.asarray(layers).ravel():
            record = entry.ravel()[0]
            fields = record.dtype.names or ()
            if "name" not in fields or "type" not in fields:
                raise NSTError(
                    f"{path}: unknown MatConvNet format ({fmt} layout, a layer without name/type fields); {FETCH_HINT}"
                )
            name = _text(record["name"])
            if name not in CONV_SHAPES:
                continue  # relu, pool, fc6-fc8, prob: nothing to keep
            cell = np.asarray(record["weights"]).ravel()
            kernel, bias = cell[0], cell[1]
            # Bias is (1, out) in beta16 and (out, 1) now: both become (out,).
            weights[name] = (np.asarray(kernel, np.float32), np.asarray(bias, np.float32).reshape(-1))
    except NSTError:
        raise
    except (IndexError, ValueError, TypeError, KeyError) as err:
        raise NSTError(f"{path}: not a VGG19 MatConvNet file ({fmt} layout; {err}); {FETCH_HINT}") from None
    return weights


# --- Keras .h5 ---------------------------------------------------------------------


def _read_keras_h5(path):
    import h5py

    try:
        with h5py.File(path, "r") as f:
            weights = {}
            for name in CONV_NAMES:
                block, conv = name[4:].split("_")
                group = f.get(f"block{block}_conv{conv}")
                if group is None:
                    continue  # reported as a missing layer by _check_vgg19
                names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
                kernel, bias = (np.asarray(group[n], np.float32) for n in names[:2])
                weights[name] = (kernel, bias)
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise NSTError(
            f"{path}: cannot be read as a Keras .h5 weights file ({err}); it may be truncated or corrupt; {FETCH_HINT}"
        ) from None
    if "conv1_1" in weights:
        kernel, bias = weights["conv1_1"]
        # Keras's VGG19 was trained on BGR input: flip the input-channel axis to RGB.
        weights["conv1_1"] = (np.ascontiguousarray(kernel[:, :, ::-1, :]), bias)
    return weights
