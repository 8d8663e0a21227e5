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

from nst.teaching.grader.calls import call, describe, expect_scalar, expect_tensor, tensors
from nst.teaching.grader.results import GRADED, PASSED, CheckResult, Mistake

RTOL = 1e-4  # a right answer: float32 round-off, summed in any order, passes
MATCH_RTOL = 1e-3  # a value this close to what a known mistake gives is that mistake
GRAD_RTOL = 1e-3


def close(got, expected, rtol, atol=0.0):
    return bool(np.allclose(got, expected, rtol=rtol, atol=atol))


def named(*names):
    """``sources`` for ``Check.gradient``: the function's positional inputs, by their names."""
    return lambda args: dict(zip(names, args))


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
    """A check of the learner's function ``fn`` as the graded function ``name``: its steps, and ``run``.

    ``call_hint`` is the hint shown when the function raises on some inputs (None: "call it yourself
    on these inputs to see the whole traceback").
    """

    def __init__(self, name, fn, call_hint=None):
        self.name, self.fn, self.call_hint = name, fn, call_hint

    def tensor(self, args, label):
        """``fn(*args)``, which must be a TensorFlow tensor; ``label`` names the inputs in messages."""
        return expect_tensor(self.name, call(self.name, self.fn, args, {}, label, self.call_hint), label)

    def scalar(self, args, label, kwargs=None, on_error=None, dtypes=(tf.float32,)):
        """``fn(*args, **kwargs)`` as a float: it must be a finite scalar tensor of one of ``dtypes``.

        ``on_error(err)``, if given, makes the Mistake for an exception (see ``calls.call``).
        """
        value = call(self.name, self.fn, args, kwargs or {}, label, self.call_hint, on_error)
        return expect_scalar(self.name, value, label, dtypes)

    def gradient(self, args, reference, label, sources, kwargs=None, to_scalar=None):
        """Compare the gradients of ``fn(*args, **kwargs)`` with the reference's, for the inputs ``sources`` picks.

        ``sources(args)`` gives a dict from a readable name ("a_G", "a_S['conv1_1']") to a tensor in args;
        ``to_scalar`` makes a non-scalar result (a Gram matrix) one number to differentiate.
        NumPy inside the function shows up as a None gradient: nothing connects the result to that input.
        """
        name = self.name
        to_scalar = to_scalar or (lambda out: out)
        gradients = []
        for function in (self.fn, reference):
            with tf.GradientTape() as tape:
                watched = sources(args)
                tape.watch(list(watched.values()))
                out = call(name, function, args, kwargs or {}, label)
                out = to_scalar(tf.convert_to_tensor(out)) if tf.is_tensor(out) else out
            try:
                gradients.append(tape.gradient(out, watched))
            except Exception as err:
                raise Mistake(
                    f"{name}: TensorFlow could not compute the gradient of its result ({describe(err)}), on {label}.\n"
                    "Hint: use differentiable TensorFlow operations (tf.reduce_sum, tf.square, tf.matmul, ...).",
                    "no-gradient",
                ) from None
        learner, expected = gradients
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
        for source, grad in learner.items():
            grad, want = np.asarray(tf.convert_to_tensor(grad)), expected[source].numpy()
            if grad.shape != want.shape or not close(grad, want, GRAD_RTOL, atol=GRAD_RTOL * np.abs(want).max()):
                raise Mistake(
                    f"{name} returns the right value on {label}, but its gradient with respect to {source} is not the "
                    "formula's (is there a tf.stop_gradient, or a custom gradient?).\nHint: write the formula with "
                    "plain TensorFlow operations and let TensorFlow differentiate it.",
                    "gradient-mismatch",
                )

    def in_graph(self, args, expected, label, kwargs=None):
        """Run ``fn`` inside tf.function, as nst's training does; it must still give ``expected``."""
        name = self.name
        try:
            out = tf.function(self.fn)(*args, **(kwargs or {}))
            graph_value = np.asarray(tf.convert_to_tensor(out))
        except Exception as err:
            raise Mistake(
                f"{name} works when called directly but fails inside tf.function, the way nst's training calls it: "
                f"{describe(err)}\n(on {label}).\nHint: NumPy, .numpy() and float() do not work on the symbolic "
                "tensors of a tf.function; use TensorFlow operations, and read shapes with a_G.shape.",
                "tf-function",
            ) from None
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
        except Mistake as found:
            result = CheckResult(name, False, str(found), 0, max_points, found.key)
        except Exception as err:  # something the learner's function returned that the check could not handle
            message = (
                f"{name}: the check could not finish ({describe(err)}).\nHint: call {name} yourself on the test case "
                "above and look at what it returns: a TensorFlow tensor is expected."
            )
            result = CheckResult(name, False, message, 0, max_points, "check-error")
        if not quiet:
            print(result.message)
        return result


def as_tensors(case):
    """A case's (args, kwargs) as a cost function gets them: its NumPy arrays as float32 tensors."""
    return tensors(case.args), {}


class CostCheck(Check):
    """A check of a cost: a float32 scalar of its inputs, which training differentiates.

    ``reference(*case.args)`` is the right value of a case (NumPy; None when every case has its
    published value), ``nst_function`` nst's own cost, whose gradient is the formula's, and
    ``sources`` names the inputs whose gradients are compared (see ``Check.gradient``).
    ``inputs(case)`` gives a case's (args, kwargs) as the cost gets them; ``on_error`` maps a case's
    label to what an exception on that case means.
    """

    def __init__(self, name, fn, reference, nst_function, sources, inputs=as_tensors, call_hint=None, on_error=None):
        super().__init__(name, fn, call_hint)
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
