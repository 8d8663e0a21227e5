"""Calling the learner's function, and reading what it returns.

Every call of a learner's function goes through ``call``, so that whatever it raises becomes a
``Mistake`` with a readable message (``describe`` shortens TensorFlow's long errors to one line);
``expect_tensor`` and ``expect_scalar`` name a result that is not what training needs (None, NumPy,
a Python float, a non-scalar, another dtype, NaN). ``tensors`` turns a case's NumPy arguments
into the float32 tensors a learner's function gets, as in training.
"""

import math

import numpy as np
import tensorflow as tf

from nst.teaching.grader.results import Mistake


def describe(err):
    """An exception as one short line: its type and its message (a tf.function's: the last line)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if "in user code:" in lines:  # a tf.function's error: a traceback, the error itself on the last line
        lines = lines[-1:]
    text = " ".join(" ".join(lines).split())
    if text.startswith("{{function_node"):  # TensorFlow's op errors start with the kernel's name
        text = text.split("}}", 1)[-1].strip()
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def call(name, fn, args, kwargs, label, hint=None, on_error=None):
    """``fn(*args, **kwargs)``; its exceptions become a Mistake naming ``label``.

    ``on_error(err)``, if given, makes the Mistake for an exception other than NotImplementedError.
    """
    if not callable(fn):
        raise Mistake(
            f"{name}: what was passed to the check is a {type(fn).__name__}, not a function.\n"
            f"Hint: pass the function itself: check_{name}({name}).",
            "not-callable",
        )
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise Mistake(
            f"{name} is not implemented yet: it raises NotImplementedError.\n"
            "Hint: replace the `raise NotImplementedError` line with your code.",
            "not-implemented",
        ) from None
    except Exception as err:
        if on_error:
            raise on_error(err) from None
        hint = hint or f"call {name} yourself on these inputs to see the whole traceback."
        raise Mistake(f"{name} raised {describe(err)}\n(on {label}).\nHint: {hint}", "exception") from None


def expect_tensor(name, value, label):
    """Name a result that is not a TensorFlow tensor; return it as a tf.Tensor."""
    if value is None:
        raise Mistake(
            f"{name} returned None on {label}.\nHint: end the function with a return statement, e.g. `return J`.",
            "none",
        )
    if isinstance(value, np.ndarray | np.generic):
        raise Mistake(
            f"{name} returned a NumPy {type(value).__name__} ({value.dtype}) on {label}, not a TensorFlow tensor. "
            "NumPy (or .numpy()) inside the function cuts the gradient: training could not update the image.\n"
            "Hint: use TensorFlow operations only (tf.reduce_sum, tf.square, tf.reshape, tf.transpose, tf.matmul) "
            "and return their result.",
            "numpy",
        )
    if isinstance(value, bool | int | float):
        raise Mistake(
            f"{name} returned a Python {type(value).__name__} ({value!r}) on {label}, not a TensorFlow tensor: "
            "float(), int() or .numpy() cuts the gradient, so training could not use it.\n"
            "Hint: return the tensor itself, without float(...) or .numpy().",
            "python-float",
        )
    if not tf.is_tensor(value):
        raise Mistake(
            f"{name} returned a {type(value).__name__} on {label}, not a TensorFlow tensor.\n"
            "Hint: compute with TensorFlow operations and return their result.",
            "not-a-tensor",
        )
    return tf.convert_to_tensor(value)


def expect_scalar(name, value, label, dtypes=(tf.float32,)):
    """Name a result that is not a finite scalar tensor of one of ``dtypes``; return it as a float."""
    value = expect_tensor(name, value, label)
    if value.shape.rank != 0:
        raise Mistake(
            f"{name} returned a tensor of shape {shape_text(value.shape)} on {label}, not a scalar: a cost is one "
            "number.\nHint: tf.reduce_sum(...) with no axis adds up all the entries.",
            "non-scalar",
        )
    if value.dtype not in dtypes:
        expected = " or ".join(dtype.name for dtype in dtypes)
        raise Mistake(
            f"{name} returned a {value.dtype.name} tensor on {label}; expected {expected}, the dtype of the "
            "activations.\nHint: leave out the tf.cast; compute with the inputs' own dtype.",
            "dtype",
        )
    number = float(value.numpy())
    if not math.isfinite(number):
        raise Mistake(
            f"{name} returned {number} on {label}.\nHint: look for a division by zero, or a tf.sqrt or tf.math.log "
            "of a negative number.",
            "not-finite",
        )
    return number


def shape_text(shape):
    """A tensor's shape as a message writes it: (2, 3), or (unknown)."""
    return str(tuple(shape)) if shape.rank is not None else "(unknown)"


def tensors(structure):
    """Every NumPy array in a (nested) argument as a float32 tensor; other values (weights) stay as they are."""
    return tf.nest.map_structure(lambda x: tf.constant(x, tf.float32) if isinstance(x, np.ndarray) else x, structure)
