"""What a graded kernel does for the judge: call a graded function on the inputs sent to it, and
send back what came out, as data. It compares nothing and knows no right answer.

``nst grade`` runs a submission in its own kernel, then sends it requests as cells::

    import nst.teaching.compute; nst.teaching.compute.answer(globals(), REQUEST, NONCE)

``answer`` prints one line, ``MARK NONCE [reply, ...]`` (JSON), one reply per call of the request.
The judge (``nst.teaching.grader``) reads it with ``nst.teaching.wire`` and trusts none of it: a
submission may have changed anything here, so a reply only ever counts when its numbers are right
on inputs the kernel could not have known in advance. The notebook's own check cells, outside
``nst grade``, run the same ``serve`` in the learner's process (``Local``).

The calls, and their replies (``describe`` says how a returned value is written):

- ``{"kind": "defined", "names"}``: ``{"defined": {name: "function" | "missing" | its type}}``
- ``{"kind": "value", "function", "args", "kwargs"}``: ``{"returned": ...}`` or ``{"raised": ...}``
- ``{"kind": "gradient", ..., "sources": {name: path}, "upstream"}``: the gradient of the result
  (of Σ result·upstream, if given) with respect to each source, ``{"gradients": {name: ... | None}}``;
  ``{"no_gradient": text}`` when TensorFlow cannot compute it
- ``{"kind": "graph", ...}``: the function inside ``tf.function``, ``{"values": array}``
- ``{"kind": "train_step", "function", "variable", "image"}``: one step on the variable (set to
  ``image`` first, if given): ``{"before", "returned", "after"}``, or ``{"not_variable": type}``
- ``{"kind": "globals", "names"}``: the notebook's values of those names (arrays: the images)
- ``{"kind": "hung", "names", "seconds"}``: after a cell ran out of time, the graded function it
  was running (``{"hung": name}``), replaced by one that raises at once

A reply to a call that ran the learner's function also lists the modules of nst's own solution it
ran (``"used"``: nst.costs, nst.train, the engine, the grader). In ``nst grade``'s sandbox they
cannot even be imported; elsewhere this is how the checks still notice them (when TensorFlow
traces a function into a graph, only its first trace is seen).
"""

import json
import re
import sys
import traceback
from pathlib import Path

import numpy as np

from nst.teaching import wire

MARK = "NST-ANSWER"
GUARD_WORDS = "nst's own solution of the exercise"  # in the ImportError nst.costs and nst.train raise in the sandbox
_NST = Path(__file__).resolve().parent.parent
# nst's own solution of the exercise: a graded function gets no points for running any of it.
SOLUTION = {
    "nst.costs": f"{_NST / 'costs'}/",
    "nst.train": str(_NST / "train.py"),
    "nst.engine": f"{_NST / 'engine'}/",
    "nst.teaching.grader": f"{_NST / 'teaching' / 'grader'}/",
}


def describe_error(err):
    """An exception as {"type", "text"}: its type, and one short line (a tf.function's: its last line)."""
    kind = type(err).__name__
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if "in user code:" in lines:  # a tf.function's error: a traceback, then "Type: message" of the error itself
        lines = lines[-1:]
        inner = re.match(r"([A-Za-z_]\w*): (.*)", lines[0])
        if inner:  # the error raised inside (TensorFlow may wrap it in a StagingError)
            kind, lines = inner[1], [inner[2]]
    text = " ".join(" ".join(lines).split())
    if text.startswith("{{function_node"):  # TensorFlow's op errors start with the kernel's name
        text = text.split("}}", 1)[-1].strip()
    return {"type": kind, "text": wire.text(text)}


def solution_module(filename):
    """Which module of nst's own solution a file of code belongs to, or None."""
    for module, prefix in SOLUTION.items():
        if filename == prefix or filename.startswith(prefix):
            return module
    return None


class Watch:
    """Records which of nst's solution modules run while it is active (``with Watch() as watch``)."""

    def __init__(self, fn=None):
        self.used = set()
        for each in (fn, getattr(fn, "python_function", None), getattr(fn, "__wrapped__", None)):
            code = getattr(each, "__code__", None)
            module = solution_module(code.co_filename) if code else None
            if module:
                self.used.add(module)  # the function itself is one of nst's

    def __enter__(self):
        self.previous = sys.getprofile()
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc):
        sys.setprofile(self.previous)
        return False

    def _profile(self, frame, event, arg):
        if event == "call":
            module = solution_module(frame.f_code.co_filename)
            if module:
                self.used.add(module)


def _tensor(values, dtype):
    import tensorflow as tf

    return tf.constant(values, dtype=dtype)


def _run(fn, body):
    """``body()`` with the learner's function watched; its reply, or the exception it raised."""
    watch = Watch(fn)
    try:
        with watch:
            reply = body()
    except Exception as err:
        reply = {"raised": describe_error(err)}
    if watch.used:
        reply["used"] = sorted(watch.used)
    return reply


def serve(namespace, call):
    """The reply to one call; ``namespace`` is the notebook's globals (or the functions a check was given)."""
    import tensorflow as tf

    kind = call["kind"]
    if kind == "defined":
        return {"defined": {name: _what(namespace, name) for name in call["names"]}}
    if kind == "globals":
        return {"globals": {name: _array_or_type(namespace.get(name)) for name in call["names"]}}
    if kind == "hung":
        return {"hung": _replace_hung(namespace, call["names"], call["seconds"])}
    fn = namespace.get(call["function"])
    if not callable(fn):
        return {"not_callable": type(fn).__name__}
    if kind == "train_step":
        return _train_step(namespace, fn, call)
    args = wire.unpack(call.get("args", {"tuple": []}), _tensor)
    kwargs = wire.unpack(call.get("kwargs", {"dict": []}), _tensor)
    if kind == "value":
        return _run(fn, lambda: {"returned": wire.describe(fn(*args, **kwargs))})
    if kind == "graph":
        return _run(fn, lambda: {"values": wire.encode(tf.convert_to_tensor(tf.function(fn)(*args, **kwargs)))})
    if kind == "gradient":
        return _run(fn, lambda: _gradients(fn, args, kwargs, call))
    raise ValueError(f"unknown call {kind!r}")


def _array_or_type(value):
    """A notebook's value: {"array": ...} for an array, tensor or variable, else {"type": its class name}."""
    import tensorflow as tf

    if isinstance(value, np.ndarray) or tf.is_tensor(value):
        return {"array": wire.encode(np.asarray(value))}
    return {"type": type(value).__name__}


def _what(namespace, name):
    if name not in namespace:
        return "missing"
    return "function" if callable(namespace[name]) else type(namespace[name]).__name__


def _gradients(fn, args, kwargs, call):
    import tensorflow as tf

    upstream = call.get("upstream")
    with tf.GradientTape() as tape:
        watched = {name: wire.at(args, path) for name, path in call["sources"].items()}
        tape.watch(list(watched.values()))
        out = fn(*args, **kwargs)
        if upstream is not None and tf.is_tensor(out):
            out = tf.reduce_sum(tf.convert_to_tensor(out) * tf.constant(wire.array(upstream), out.dtype))
    try:
        gradients = tape.gradient(out, watched)
    except Exception as err:
        return {"no_gradient": describe_error(err)}
    return {
        "gradients": {
            name: None if g is None else wire.describe(tf.convert_to_tensor(g)) for name, g in gradients.items()
        }
    }


def _train_step(namespace, fn, call):
    """One call of the learner's train_step on the notebook's variable: the image before, J, the image after."""
    import tensorflow as tf

    variable = namespace.get(call["variable"])
    if not isinstance(variable, tf.Variable):
        return {"not_variable": type(variable).__name__}

    def step():
        if call.get("image") is not None:
            variable.assign(wire.array(call["image"]).astype(variable.dtype.as_numpy_dtype))
        before = wire.encode(variable.numpy())
        J = wire.describe(fn(variable))
        return {"before": before, "returned": J, "after": wire.encode(variable.numpy())}

    return _run(fn, step)


def _replace_hung(namespace, names, seconds):
    """After a cell ran out of time: the graded function it was running, replaced by one that raises at once."""
    hung = None
    value = getattr(sys, "last_value", None)
    if isinstance(value, KeyboardInterrupt) and value is not namespace.get("_nst_seen_interrupt"):
        namespace["_nst_seen_interrupt"] = value
        for frame, _ in traceback.walk_tb(sys.last_traceback):
            code = frame.f_code
            name = code.co_name.removeprefix("tf__")  # tf.function's autograph renames what it converts
            if name in names and not code.co_filename.startswith(f"{_NST}/"):
                hung = name  # keep the innermost
    if hung is not None:

        def raise_timeout(*args, **kwargs):
            raise TimeoutError(f"{hung} did not finish within {seconds} s when the notebook ran; an infinite loop?")

        raise_timeout.__name__ = raise_timeout.__qualname__ = hung
        namespace[hung] = raise_timeout
    return hung


def answer(namespace, request, nonce):
    """Serve a request (JSON: a list of calls) and print the replies as one line after MARK and the nonce."""
    replies = []
    for call in json.loads(request):
        try:
            replies.append(serve(namespace, call))
        except Exception as err:  # a call this kernel could not even start (its arguments, the protocol)
            replies.append({"failed": describe_error(err)})
    sys.stdout.write(f"{MARK} {nonce} {json.dumps(replies)}\n")
    sys.stdout.flush()


class Local:
    """A computer in this very process: a check run from a notebook cell, on the functions it was given."""

    def __init__(self, namespace):
        self.namespace = namespace

    def ask(self, call):
        """The reply to one call, as ``nst grade`` would read it: through JSON."""
        call = json.loads(json.dumps(call))
        try:
            reply = serve(self.namespace, call)
        except Exception as err:
            reply = {"failed": describe_error(err)}
        return json.loads(json.dumps(reply))
