"""Reading what the learner's function did, from its kernel's reply to a call.

The learner's function runs elsewhere (``nst.teaching.compute``: in the submission's kernel, or in
the notebook's own process for a check cell); a check only ever sees the reply, as data. Here a
reply becomes what the check needs, or the ``Mistake`` that names what went wrong:

- ``returned``       what the function returned (a ``wire.Returned``); a Mistake when it was not
  callable, is not implemented yet, raised, or ran nst's own solution
- ``expect_tensor``  a result that must be a TensorFlow tensor (not None, NumPy, a Python float)
- ``expect_scalar``  ... a finite scalar of the right dtype, as a float
- ``raised``         an exception from a reply as one line: "ValueError: ..."
"""

import math

from nst.teaching.compute import GUARD_WORDS
from nst.teaching.grader.results import Mistake
from nst.teaching.wire import WireError
from nst.teaching.wire import returned as read_returned
from nst.teaching.wire import text as one_line

SOLUTION_MODULES = ("nst.costs", "nst.train", "nst.engine", "nst.teaching.grader")
FLOAT32 = ("float32",)
SYMBOLIC = "Cannot convert a symbolic"  # TensorFlow's words when NumPy meets a tensor of a tf.function


def raised(error):
    """An exception from a reply, {"type", "text"}, as "Type: text" (one short line)."""
    error = error if isinstance(error, dict) else {}
    kind, text = one_line(error.get("type", "Exception"), 80), one_line(error.get("text", ""))
    return f"{kind}: {text}" if text else kind


def unreadable(name, what):
    return Mistake(
        f"{name}: the kernel's answer could not be read ({what}), so {name} could not be checked.\n"
        "Hint: run the notebook from the top in a fresh kernel, without changing nst or the checks.",
        "unreadable-answer",
    )


def check_reply(name, reply):
    """A Mistake for a reply that is not one, that names no function, or that ran nst's own solution."""
    if not isinstance(reply, dict):
        raise unreadable(name, "not a reply")
    if "failed" in reply:
        raise unreadable(name, raised(reply["failed"]))
    if "not_callable" in reply:
        raise Mistake(
            f"{name}: what was passed to the check is a {one_line(reply['not_callable'], 60)}, not a function.\n"
            f"Hint: pass the function itself: check_{name}({name}).",
            "not-callable",
        )
    used = reply.get("used")
    if used:
        modules = [m for m in SOLUTION_MODULES if m in used] if isinstance(used, list) else []
        raise Mistake(
            f"{name} runs nst's own solution of the exercise ({', '.join(modules) or 'nst'}), not code of your "
            f"own: that earns no points.\nHint: write {name} yourself with TensorFlow operations (tf.reduce_sum, "
            "tf.square, tf.reshape, tf.transpose, tf.matmul); nst.costs, nst.train and the grader are not yours.",
            "uses-nst-solution",
        )


def returned(name, reply, label, hint=None, on_error=None):
    """What the function returned, from a "value" reply; a Mistake naming ``label`` for anything it raised.

    ``on_error(text)``, if given, makes the Mistake for an exception other than NotImplementedError.
    """
    check_reply(name, reply)
    if "raised" in reply:
        error = raised(reply["raised"])
        if GUARD_WORDS in error:  # the sandbox's nst.costs or nst.train, imported inside the function
            check_reply(name, {"used": [m for m in SOLUTION_MODULES if m in error] or ["nst"]})
        if SYMBOLIC in error:  # NumPy on a tf.function's symbolic tensors: it raises NotImplementedError too
            raise Mistake(
                f"{name} raised {error}\n(on {label}).\nNumPy, .numpy() and float() do not work inside tf.function, "
                f"where {name} (or a function it calls) meets symbolic tensors.\nHint: use TensorFlow operations only "
                "(tf.reduce_sum, tf.square, tf.reshape, tf.transpose, tf.matmul).",
                "numpy",
            )
        if error.startswith("NotImplementedError"):
            raise Mistake(
                f"{name} is not implemented yet: it raises NotImplementedError.\n"
                "Hint: replace the `raise NotImplementedError` line with your code.",
                "not-implemented",
            )
        if on_error:
            raise on_error(error)
        hint = hint or f"call {name} yourself on these inputs to see the whole traceback."
        raise Mistake(f"{name} raised {error}\n(on {label}).\nHint: {hint}", "exception")
    try:
        return read_returned(reply.get("returned"))
    except WireError as err:
        raise unreadable(name, str(err)) from None


def expect_tensor(name, value, label):
    """Name a result that is not a TensorFlow tensor; return it (a Returned)."""
    if value.kind == "none":
        raise Mistake(
            f"{name} returned None on {label}.\nHint: end the function with a return statement, e.g. `return J`.",
            "none",
        )
    if value.kind == "numpy":
        raise Mistake(
            f"{name} returned a NumPy {value.type} ({value.dtype}) on {label}, not a TensorFlow tensor. "
            "NumPy (or .numpy()) inside the function cuts the gradient: training could not update the image.\n"
            "Hint: use TensorFlow operations only (tf.reduce_sum, tf.square, tf.reshape, tf.transpose, tf.matmul) "
            "and return their result.",
            "numpy",
        )
    if value.kind == "python":
        raise Mistake(
            f"{name} returned a Python {value.type} ({value.value!r}) on {label}, not a TensorFlow tensor: "
            "float(), int() or .numpy() cuts the gradient, so training could not use it.\n"
            "Hint: return the tensor itself, without float(...) or .numpy().",
            "python-float",
        )
    if value.kind != "tensor":
        raise Mistake(
            f"{name} returned an object of class {value.type} on {label}, not a TensorFlow tensor.\n"
            "Hint: compute with TensorFlow operations and return their result.",
            "not-a-tensor",
        )
    return value


def expect_scalar(name, value, label, dtypes=FLOAT32):
    """Name a result that is not a finite scalar tensor of one of ``dtypes`` (names); return it as a float."""
    value = expect_tensor(name, value, label)
    if value.rank != 0:
        raise Mistake(
            f"{name} returned a tensor of shape {shape_text(value.shape)} on {label}, not a scalar: a cost is one "
            "number.\nHint: tf.reduce_sum(...) with no axis adds up all the entries.",
            "non-scalar",
        )
    if value.dtype not in dtypes:
        expected = " or ".join(dtypes)
        raise Mistake(
            f"{name} returned a {value.dtype} tensor on {label}; expected {expected}, the dtype of the "
            "activations.\nHint: leave out the tf.cast; compute with the inputs' own dtype.",
            "dtype",
        )
    if value.values is None:
        raise unreadable(name, "a scalar without its value")
    number = float(value.values)
    if not math.isfinite(number):
        raise Mistake(
            f"{name} returned {number} on {label}.\nHint: look for a division by zero, or a tf.sqrt or tf.math.log "
            "of a negative number.",
            "not-finite",
        )
    return number


def shape_text(shape):
    """A shape as a message writes it: (2, 3), or (unknown)."""
    return str(tuple(shape)) if shape is not None else "(unknown)"
