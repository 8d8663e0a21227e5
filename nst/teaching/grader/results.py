"""What a check reports: its result, the mistake it stopped at, and the words for both.

- ``GRADED``       the graded functions, in the notebook's order, with their points
- ``CheckResult``  what a check returns (and prints: "All tests passed", or what is wrong and a hint)
- ``Mistake``      raised inside a check at the first thing found wrong; it becomes the result
- ``Stopped``      raised when the function ran out of time or ended its kernel: the check stops there
- ``MISTAKES``     every key a result's ``mistake`` can hold, with what it means
"""

from dataclasses import dataclass

PASSED = "All tests passed"

# The graded functions, in the notebook's order, with their points.
GRADED = {
    "compute_content_cost": 2,
    "gram_matrix": 1,
    "compute_layer_style_cost": 2,
    "compute_style_cost": 2,
    "total_cost": 1,
    "train_step": 2,
}


@dataclass(frozen=True)
class CheckResult:
    """What a check found. ``str()`` gives the message.

    ``mistake`` is a short key naming what was recognised ("bare-reshape", "numpy", ...; the keys
    of ``MISTAKES`` below), empty when the check passed.
    """

    function: str
    passed: bool
    message: str
    points: int
    max_points: int
    mistake: str = ""

    def __str__(self):
        return self.message


class Mistake(Exception):
    """Raised inside a check at the first thing found wrong; its text becomes the result's message."""

    def __init__(self, message, key):
        super().__init__(message)
        self.key = key


class Stopped(Exception):
    """Raised by a computer when the learner's function ran out of time or ended its kernel: the check stops."""

    def __init__(self, message, key):
        super().__init__(message)
        self.key = key


# Every key a CheckResult.mistake can hold, with what it means (``nst grade`` passes the key on with each
# function's grade; tests/test_grader.py checks that every key a check gives is listed here).
MISTAKES = {
    "not-implemented": "the function still raises NotImplementedError",
    "not-callable": "what was passed is not a function",
    "exception": "the function raised an exception",
    "none": "the function returned None",
    "numpy": "NumPy inside the function: a NumPy result, or no gradient flows back",
    "python-float": "a Python number instead of a tensor",
    "not-a-tensor": "something else than a tensor",
    "non-scalar": "a cost that is not a scalar",
    "dtype": "a tensor of another dtype than float32",
    "not-finite": "NaN or infinity",
    "wrong-value": "a wrong value that matches no known mistake",
    "wrong-shape": "a matrix of the wrong shape",
    "elementwise-product": "A * A instead of A·Aᵀ",
    "scaled-gram": "the Gram matrix times a factor",
    "gradient-mismatch": "the right value with a wrong gradient",
    "no-gradient": "a gradient TensorFlow cannot compute",
    "tf-function": "works eagerly, fails or differs inside tf.function",
    "property": "a property of the cost does not hold",
    "unrolled-with-wrong-dims": "a_S unrolled with a_G's size: fails when the style image is larger",
    "not-a-variable": "check_train_step was not given a tf.Variable",
    "never-applies-gradient": "the train step does not change the image",
    "cost-not-decreasing": "the train step does not lower J",
    "check-error": "the check could not finish",
    "bare-reshape": "activations unrolled by a bare reshape, without the transpose",
    "gram-transposed": "AᵀA, shape (n_H·n_W, n_H·n_W), instead of A·Aᵀ",
    "no-normalisation": "the normalisation factor is missing",
    "missing-quarter": "the 4 of the normalisation is missing",
    "wrong-normaliser": "divided by the wrong normalisation",
    "dims-from-style": "the style cost's normalisation uses a_S's dims instead of a_G's",
    "no-square": "the differences are summed without squaring",
    "abs-not-square": "absolute differences instead of squares",
    "sqrt": "a square root (tf.sqrt, tf.norm) instead of the squared sum",
    "square-of-sum": "the square of the sum instead of the sum of squares",
    "ignores-weights": "the style layers' weights λ are ignored",
    "last-layer-only": "only the last style layer counts (overwritten, not accumulated)",
    "weights-to-wrong-layers": "the weights λ are paired with the wrong layers",
    "layers-from-mapping": "the layers of a_S/a_G are used instead of style_layers",
    "layer-cost-wrong": "compute_style_cost adds wrong layer costs",
    "swapped-alpha-beta": "α and β swapped",
    "ignores-alpha-beta": "the alpha and beta arguments are ignored",
    "wrong-defaults": "wrong default values of alpha and beta",
    "missing-weights": "J_content + J_style without alpha and beta",
    "one-term": "one of the two costs is missing",
    "uses-nst-solution": "the function is, wraps or runs nst's own solution (nst.costs, nst.train, the grader)",
    "wrong-cost": "train_step's J is not the exercise's cost of the image",
    "unreadable-answer": "the kernel's answer was not what the protocol allows",
    "timeout": "the function did not finish within the time limit",
    "kernel-died": "the kernel died while the function ran",
    "not-defined": "no cell defines the function, or its cell failed",
}
