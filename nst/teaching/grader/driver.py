"""The check driver: the steps every check is made of, and the result it ends with.

A check (``checks``) is a short list of steps, run in order on the learner's function:

- ``Check.tensor``, ``Check.scalar``  call it on some inputs; expect a tensor, or a finite float32 scalar
- ``CostCheck.values``  its values on the cases, compared with the right ones; a wrong value is named
  by the known mistake that gives it on every case (``recognise``), if one does
- ``Check.gradient``    a gradient flows back to every input (NumPy inside the function cuts it), and
  it is the formula's, the gradient of nst's own function
- ``Check.in_graph``    the function inside ``tf.function``, the way nst's training calls it
- ``Check.holds``       a property of the results (the cost of an activation with itself is 0, ...)

The first step that finds something wrong raises ``Mistake``; ``Check.run`` turns that, or any
other exception, into the ``CheckResult`` it prints and returns: nothing the learner's function
does makes a check raise.
"""

import numpy as np
import tensorflow as tf

from nst.teaching.grader.calls import FLOAT32, check_reply, expect_scalar, expect_tensor, raised, returned, unreadable
from nst.teaching.grader.results import GRADED, PASSED, CheckResult, Mistake, Stopped
from nst.teaching.wire import WireError, array, at, encode, pack, unpack
from nst.teaching.wire import returned as read_returned
from nst.teaching.wire import text as one_line

RTOL = 1e-4  # a right answer: float32 round-off, summed in any order, passes
MATCH_RTOL = 1e-3  # a value this close to what a known mistake gives is that mistake
GRAD_RTOL = 1e-3


def close(got, expected, rtol, atol=0.0):
    return bool(np.allclose(got, expected, rtol=rtol, atol=atol))


def named(*names):
    """``sources`` for ``Check.gradient``: the function's positional inputs, by their names (and paths)."""
    return lambda args: {name: [i] for i, name in enumerate(names)}


def recognise(known_mistakes, cases, got, expected):
    """The first known mistake that gives the learner's values ``got`` on every case, or None.

    ``got[i]`` and ``expected[i]`` are the learner's and the right value on ``cases[i]``; a None in
    ``got`` (the call failed) or from a mistake (it does not apply there) leaves that case out. One
    case is not enough: the published one has n_C = 3, so "3 × the cost" would pass for "n_C not
    squared" there; the other cases have other dims. The mistake must also differ from the right
    answer somewhere, or it would not be a mistake.
    """
    for known in known_mistakes:
        matches, differs = True, False
        for case, value_got, value_right in zip(cases, got, expected):
            value = None if value_got is None else known.value(*case.args)
            if value is None:
                continue
            matches = matches and close(value_got, value, MATCH_RTOL)
            differs = differs or not close(value, value_right, MATCH_RTOL)
        if matches and differs:
            return known
    return None


class Check:
    """A check of the graded function ``name``, which ``computer`` calls for it: its steps, and ``run``.

    ``computer.ask(call)`` gives the reply to one call (``nst.teaching.compute`` says which): the
    submission's kernel under ``nst grade``, this very process for a notebook's check cell.
    ``call_hint`` is the hint shown when the function raises on some inputs (None: "call it yourself
    on these inputs to see the whole traceback").
    """

    def __init__(self, name, computer, call_hint=None):
        self.name, self.computer, self.call_hint = name, computer, call_hint

    def ask(self, kind, args=(), kwargs=None, **more):
        """The reply to one call of the function on ``args`` and ``kwargs`` (sent as data)."""
        call = {"kind": kind, "function": self.name, "args": pack(tuple(args)), "kwargs": pack(dict(kwargs or {}))}
        reply = self.computer.ask({**call, **more})
        check_reply(self.name, reply)
        return reply

    def returned(self, args, label, kwargs=None, on_error=None):
        """What ``fn(*args, **kwargs)`` returned; ``label`` names the inputs in messages."""
        reply = self.ask("value", args, kwargs)
        return returned(self.name, reply, label, self.call_hint, on_error)

    def tensor(self, args, label):
        """``fn(*args)``, which must be a TensorFlow tensor (a ``wire.Returned``)."""
        return expect_tensor(self.name, self.returned(args, label), label)

    def scalar(self, args, label, kwargs=None, on_error=None, dtypes=FLOAT32):
        """``fn(*args, **kwargs)`` as a float: it must be a finite scalar tensor of one of ``dtypes``.

        ``on_error(text)``, if given, makes the Mistake for an exception (see ``calls.returned``).
        """
        return expect_scalar(self.name, self.returned(args, label, kwargs, on_error), label, dtypes)

    def gradient(self, args, reference, label, sources, kwargs=None, upstream=None):
        """Compare the gradients of ``fn(*args, **kwargs)`` with the reference's, for the inputs ``sources`` picks.

        ``sources(args)`` gives a dict from a readable name ("a_G", "a_S['conv1_1']") to the path of
        an input in args (``wire.at``); ``upstream``, for a non-scalar result (a Gram matrix), makes
        it one number to differentiate: Σ result · upstream. NumPy inside the function shows up as a
        None gradient: nothing connects the result to that input.
        """
        name = self.name
        paths = sources(args)
        reply = self.ask(
            "gradient", args, kwargs, sources=paths, upstream=None if upstream is None else encode(upstream)
        )
        if "no_gradient" in reply:
            raise Mistake(
                f"{name}: TensorFlow could not compute the gradient of its result ({raised(reply['no_gradient'])}), "
                f"on {label}.\nHint: use differentiable TensorFlow operations (tf.reduce_sum, tf.square, tf.matmul, "
                "...).",
                "no-gradient",
            )
        if "gradients" not in reply:
            returned(name, reply, label)  # what it raised
            raise unreadable(name, "no gradients")
        learner = reply["gradients"]
        if not isinstance(learner, dict) or set(learner) != set(paths):
            raise unreadable(name, "gradients of other inputs")
        missing = [source for source, grad in learner.items() if grad is None]
        if missing:
            if len(missing) > 3:
                missing[2:] = [f"{len(missing) - 2} more"]
            raise Mistake(
                f"No gradient flows from {name}'s result back to {', '.join(missing)} (on {label}): the computation "
                "left TensorFlow, e.g. NumPy (np.sum, np.square, np.array), .numpy() or float() inside the function, "
                "so training could not update the image.\nHint: use TensorFlow operations only (tf.reduce_sum, "
                "tf.square, tf.reshape, tf.transpose, tf.matmul).",
                "numpy",
            )
        expected = reference_gradients(reference, args, kwargs, paths, upstream)
        for source, grad in learner.items():
            try:
                grad = read_returned(grad).values
            except WireError as err:
                raise unreadable(name, str(err)) from None
            want = expected[source]
            if (
                grad is None
                or grad.shape != want.shape
                or not close(grad, want, GRAD_RTOL, atol=GRAD_RTOL * np.abs(want).max())
            ):
                raise Mistake(
                    f"{name} returns the right value on {label}, but its gradient with respect to {source} is not the "
                    "formula's (is there a tf.stop_gradient, or a custom gradient?).\nHint: write the formula with "
                    "plain TensorFlow operations and let TensorFlow differentiate it.",
                    "gradient-mismatch",
                )

    def in_graph(self, args, expected, label, kwargs=None):
        """Run ``fn`` inside tf.function, as nst's training does; it must still give ``expected``."""
        name = self.name
        reply = self.ask("graph", args, kwargs)
        if "raised" in reply:
            raise Mistake(
                f"{name} works when called directly but fails inside tf.function, the way nst's training calls it: "
                f"{raised(reply['raised'])}\n(on {label}).\nHint: NumPy, .numpy() and float() do not work on the "
                "symbolic tensors of a tf.function; use TensorFlow operations, and read shapes with a_G.shape.",
                "tf-function",
            )
        try:
            graph_value = array(reply.get("values"))
        except WireError as err:
            raise unreadable(name, str(err)) from None
        if graph_value.shape != np.shape(expected) or not close(graph_value, expected, RTOL, atol=1e-6):
            raise Mistake(
                f"{name} gives another result inside tf.function than when called directly (on {label}).\n"
                "Hint: compute with TensorFlow operations only, without Python-side state.",
                "tf-function",
            )

    def holds(self, condition, what, hint):
        """A property of the results: ``what`` says how it fails, ``hint`` is a whole "Hint: ..." line."""
        if not condition:
            raise Mistake(f"{self.name}: {what}\n{hint}", "property")

    def run(self, steps, quiet):
        """Run ``steps()``; turn what it finds into a CheckResult, print its message unless quiet."""
        name = self.name
        max_points = GRADED[name]
        try:
            steps()
            result = CheckResult(name, True, PASSED, max_points, max_points)
        except (Mistake, Stopped) as found:
            result = CheckResult(name, False, str(found), 0, max_points, found.key)
        except Exception as err:  # something the learner's function returned that the check could not handle
            message = (
                f"{name}: the check could not finish ({type(err).__name__}: {one_line(err)}).\nHint: call {name} "
                "yourself on the test case above and look at what it returns: a TensorFlow tensor is expected."
            )
            result = CheckResult(name, False, message, 0, max_points, "check-error")
        if not quiet:
            print(result.message)
        return result


def reference_gradients(reference, args, kwargs, paths, upstream):
    """The gradients of nst's own ``reference`` on the same inputs, computed here: {source: NumPy array}."""
    args = unpack(pack(tuple(args)), lambda values, dtype: tf.constant(values, dtype=dtype))
    kwargs = unpack(pack(dict(kwargs or {})), lambda values, dtype: tf.constant(values, dtype=dtype))
    with tf.GradientTape() as tape:
        watched = {source: at(args, path) for source, path in paths.items()}
        tape.watch(list(watched.values()))
        out = reference(*args, **kwargs)
        if upstream is not None:
            out = tf.reduce_sum(out * tf.constant(upstream, out.dtype))
    return {source: np.asarray(grad, np.float64) for source, grad in tape.gradient(out, watched).items()}


def as_given(case):
    """A case's (args, kwargs) as a cost function gets them (its NumPy arrays reach it as float32 tensors)."""
    return case.args, {}


class CostCheck(Check):
    """A check of a cost: a float32 scalar of its inputs, which training differentiates.

    ``reference(*case.args)`` is the right value of a case (NumPy; None when every case has its
    published value), ``nst_function`` nst's own cost, whose gradient is the formula's, and
    ``sources`` names the inputs whose gradients are compared (see ``Check.gradient``).
    ``inputs(case)`` gives a case's (args, kwargs) as the cost gets them; ``on_error`` maps a case's
    label to what an exception on that case means.
    """

    def __init__(
        self, name, computer, reference, nst_function, sources, inputs=as_given, call_hint=None, on_error=None
    ):
        super().__init__(name, computer, call_hint)
        self.reference, self.nst_function, self.sources = reference, nst_function, sources
        self.inputs, self.on_error = inputs, on_error or {}

    def value(self, case):
        """The learner's value on ``case``."""
        args, kwargs = self.inputs(case)
        return self.scalar(args, case.label, kwargs, self.on_error.get(case.label))

    def expected(self, case):
        """The right value on ``case``: the published one, else the reference's."""
        return case.expected if case.expected is not None else self.reference(*case.args)

    def values(self, cases, known_mistakes, hint):
        """Compare the values on ``cases`` with the right ones; name the known mistake that gives them, if any.

        ``hint`` (the formula, and a hint) follows a wrong value that no known mistake gives.
        """
        expected = [self.expected(case) for case in cases]
        got = []
        for case, right in zip(cases, expected):
            got.append(self.value(case))
            if close(got[-1], right, RTOL, atol=1e-6):
                continue
            head = f"{self.name} returned {got[-1]:.8g} on {case.label}; expected {right:.8g}.\n"
            for later in cases[len(got) :]:  # more values to tell the mistakes apart
                try:
                    got.append(self.value(later))
                except Mistake:
                    got.append(None)
            found = recognise(known_mistakes, cases, got, expected)
            if found:
                raise Mistake(head + found.message, found.key)
            raise Mistake(head + hint, "wrong-value")

    def gradient_and_graph(self, case):
        """On ``case``: the gradient is nst's cost's, and the value inside tf.function the right one."""
        args, kwargs = self.inputs(case)
        self.gradient(args, self.nst_function, case.label, self.sources, kwargs)
        self.in_graph(args, self.expected(case), case.label, kwargs)

    def zero_on_itself(self, args, label, tolerance, cost, hint):
        """The ``cost`` of an activation with itself (``args``: the same one twice) is 0, to within ``tolerance``."""
        J_self = self.scalar(args, label)
        self.holds(
            abs(J_self) <= tolerance, f"the {cost} of an activation with itself is {J_self:.7g}; it must be 0.", hint
        )
