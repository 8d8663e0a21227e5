"""Checks for the exercise's graded functions: the notebook's check cells and ``nst grade`` use them.

After each graded cell the notebook calls ``nst.teaching.grader.check_<function>(<function>)``. A check runs

1. the exercise's published test case (the numbers the exercise prints);
2. more cases whose shapes are chosen so that every classic mistake gives its own value
   (non-square, distinct n_H, n_W, n_C; a style activation larger than the generated one);
3. the gradient: does one flow back to every input (NumPy inside the function breaks it), and is
   it the reference's gradient;
4. the function inside ``tf.function``, the way nst's training calls it;
5. a property or two (the cost of an activation with itself is 0, the style cost ignores where
   things are, a layer outside ``style_layers`` does not count, ...).

It prints "All tests passed", or what is wrong and a hint, and returns a ``CheckResult``. It never
raises for anything the learner's function does: an exception inside it is caught and reported.

Nothing here looks at how a function is written, only at the values, shapes, dtypes and gradients
it produces. A mistake is *named* when the learner's values are the values that mistake gives on
the same inputs, on every case where it applies (``recognise``): each known mistake (``_Known``) is
a few lines of NumPy computing what the wrong formula returns. tests/test_grader.py checks that any
two mistakes differ on some case, and that a wrong implementation of each is recognised.

The content cost's a_C and a_G have the same shape by contract, so "dims taken from the wrong
tensor" cannot change its value; it is recognised in the layer style cost, where nst lets the
style image (a_S) have another size than the generated image (a_G, whose dims the normalisation
uses).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from nst import costs
from nst.config import ALPHA, BETA, STYLE_LAYERS

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

RTOL = 1e-4  # a right answer: float32 round-off, summed in any order, passes
MATCH_RTOL = 1e-3  # a value this close to what a known mistake gives is that mistake
GRAD_RTOL = 1e-3


@dataclass(frozen=True)
class CheckResult:
    """What a check found. ``str()`` gives the message.

    ``mistake`` is a short key naming what was recognised ("bare-reshape", "numpy", ...; the
    ``_Known`` lists and ``MISTAKES`` below), empty when the check passed.
    """

    function: str
    passed: bool
    message: str
    points: int
    max_points: int
    mistake: str = ""

    def __str__(self):
        return self.message


class _Mistake(Exception):
    """Raised inside a check at the first thing found wrong; its text becomes the result's message."""

    def __init__(self, message, key):
        super().__init__(message)
        self.key = key


# --- The exercise's published test inputs -------------------------------------------------

# tf.random.set_seed(1), then tf.random.normal([1, 4, 4, 3], mean=1, stddev=4) twice: the exercise's
# a_C, a_G (and a_S, a_G). Written out so that a check never touches TensorFlow's global seed in the
# learner's session; tests/test_grader.py draws them again and compares. The first six numbers are
# also the gram_matrix test's A: tf.random.normal([3, 2], ...) after the same set_seed(1).
_PUBLISHED_FIRST = (
    *(-3.404881, 7.183007, 2.534576, -2.5186315, -3.8986888, -2.9244845, 1.3512313, 0.18695849),
    *(-1.2326248, -1.8821762, -1.5039697, -1.8601038, -0.39341784, -0.34587932, 1.730303, 5.434381),
    *(6.1186347, 0.91409665, -0.2787553, 2.493302, 2.0111642, 3.5750656, 9.585232, -2.3005993),
    *(-2.616547, 6.5795145, 5.8995004, 1.2345984, -0.9685255, -2.2799122, 0.25895953, -0.5711074),
    *(-1.6340904, -2.933355, 2.555351, -3.1489792, -5.2402277, 0.3683498, -0.42677724, 0.19823885),
    *(7.452428, 3.718691, 1.3253293, 6.3523054, 5.739221, -0.41526246, 0.583993, -2.0045857),
)
_PUBLISHED_SECOND = (
    *(2.6123514, -3.3520832, 0.74761856, 6.3462267, 3.8470404, -0.9571458, -2.0568852, -3.1489944),
    *(-4.0077353, 1.0848972, -1.2055032, -5.972679, -0.34144378, -3.17067, 5.036553, 5.9450154),
    *(-1.7347562, 3.6944358, -0.68249106, -3.1652112, -1.7189786, 6.638078, -0.90944517, 9.18924),
    *(4.405425, 0.31713337, 2.566379, 3.2136106, 0.23800504, 1.4399388, -0.88850987, -0.10706711),
    *(-1.7099016, 8.216282, 0.6901974, 3.6196625, 1.1940846, 1.7071393, -0.9568796, -3.8442307),
    *(6.2297974, 2.8206615, 4.4862843, -2.2124012, -4.4811783, -3.2315984, -5.5964684, 3.4338741),
)

PUBLISHED_CONTENT_COST = 7.0568767
PUBLISHED_GRAM = (
    (63.1888, -26.721275, -7.7320204),
    (-26.721275, 12.76758, -2.5158243),
    (-7.7320204, -2.5158243, 23.752384),
)
PUBLISHED_LAYER_STYLE_COST = 14.017805


def published_pair():
    """The exercise's two test activations, float32 NumPy arrays of shape (1, 4, 4, 3)."""
    first = np.array(_PUBLISHED_FIRST, np.float32).reshape(1, 4, 4, 3)
    second = np.array(_PUBLISHED_SECOND, np.float32).reshape(1, 4, 4, 3)
    return first, second


def published_A():
    """The exercise's gram_matrix test input, float32 of shape (3, 2)."""
    return np.array(_PUBLISHED_FIRST[:6], np.float32).reshape(3, 2)


def _draw(seed, *shapes):
    """Fixed pseudo-random float32 arrays, mean 1 and standard deviation 4 like the exercise's."""
    rng = np.random.default_rng(seed)
    return tuple(rng.normal(1, 4, size=shape).astype(np.float32) for shape in shapes)


@dataclass(frozen=True)
class Case:
    """One call of a graded function: how a message names it, its arguments, the right answer.

    ``expected`` is the published number, or None where the reference computes it.
    """

    label: str
    args: tuple
    expected: object = None


# Shapes: n_H != n_W, n_C = 5 so that no normaliser equals another (4·n_H·n_W·n_C = 120, n_H·n_W·n_C
# = 30, 4·n_H·n_W = 24, ...); the style image's activation has 15 positions against a_G's 6.
CONTENT_CASES = (
    Case(
        "the exercise's test case (a_C, a_G of shape (1, 4, 4, 3))",
        published_pair(),
        PUBLISHED_CONTENT_COST,
    ),
    Case("a test with a_C, a_G of shape (1, 2, 3, 5)", _draw(11, (1, 2, 3, 5), (1, 2, 3, 5))),
)
GRAM_CASES = (
    Case("the exercise's test case (A of shape (3, 2))", (published_A(),), np.array(PUBLISHED_GRAM)),
    Case("a test with A of shape (4, 7)", _draw(12, (4, 7))),
)
LAYER_STYLE_CASES = (
    Case(
        "the exercise's test case (a_S, a_G of shape (1, 4, 4, 3))",
        published_pair(),
        PUBLISHED_LAYER_STYLE_COST,
    ),
    Case("a test with a_S, a_G of shape (1, 2, 3, 5)", _draw(13, (1, 2, 3, 5), (1, 2, 3, 5))),
)
# In nst the style image may have another size than the generated one (--style-scale, another
# aspect), so a_S can have more positions than a_G; the normalisation uses a_G's dims.
LAYER_STYLE_SIZES_CASE = Case(
    "a test with a_S of shape (1, 3, 5, 5) and a_G of shape (1, 2, 3, 5) (in nst the style image may be"
    " larger than the generated image)",
    _draw(14, (1, 3, 5, 5), (1, 2, 3, 5)),
)

# compute_style_cost: the mappings hold a layer that style_layers does not name (nst's a_G also
# holds the content layer), and style_layers lists its layers in another order than the mappings.
EXTRA_LAYER = "conv4_2"
_STYLE_SHAPES = {"conv1_1": (1, 4, 6, 2), "conv2_1": (1, 3, 4, 3), "conv3_1": (1, 2, 3, 5), EXTRA_LAYER: (1, 2, 2, 6)}


def _style_mappings(seed):
    rng = np.random.default_rng(seed)

    def draw():
        return {name: rng.normal(1, 4, size=shape).astype(np.float32) for name, shape in _STYLE_SHAPES.items()}

    return draw(), draw()


def _every_layer(a):
    return {name: a for name in [*(name for name, _ in STYLE_LAYERS), EXTRA_LAYER]}


_first, _second = published_pair()
STYLE_CASES = (
    Case(
        "the exercise's test case (a_S, a_G of shape (1, 4, 4, 3)) at each of the five style layers, weights 0.2 each",
        (_every_layer(_first), _every_layer(_second), STYLE_LAYERS),
        PUBLISHED_LAYER_STYLE_COST,
    ),
    Case(
        "a test with three layers of different shapes, style_layers = (('conv3_1', 0.5), ('conv1_1', 0.3),"
        " ('conv2_1', 0.2)), and conv4_2 in a_S and a_G but not in style_layers",
        (*_style_mappings(15), (("conv3_1", 0.5), ("conv1_1", 0.3), ("conv2_1", 0.2))),
    ),
)
del _first, _second

# total_cost: (J_content, J_style, keyword arguments), called with float32 tensors as training does.
TOTAL_CASES = (
    Case("total_cost(0.2, 0.8), the exercise's test case", (0.2, 0.8, {}), 34.0),
    Case("total_cost(0.3, 0.5, alpha=3, beta=8), the exercise's test case", (0.3, 0.5, {"alpha": 3, "beta": 8}), 4.9),
)


# --- Reference formulas, and the known mistakes (NumPy, float64) ---------------------------


def _dims(a):
    _, n_H, n_W, n_C = a.shape
    return n_H, n_W, n_C


def _unrolled(a):
    """(1, n_H, n_W, n_C) -> (n_C, n_H·n_W), one channel per row: reshape, then transpose."""
    return a.reshape(-1, a.shape[-1]).T


def _bare_reshape(a):
    """(1, n_H, n_W, n_C) -> (n_C, n_H·n_W) by a bare reshape: rows mix channels of several positions."""
    return a.reshape(a.shape[-1], -1)


def _positions(a):
    """(1, n_H, n_W, n_C) -> (n_H·n_W, n_C): unrolled but never transposed; its "Gram" is AᵀA."""
    return a.reshape(-1, a.shape[-1])


def _bare_positions(a):
    return _bare_reshape(a).T


def _sum_of_squares(d):
    return np.sum(np.square(d))


def _plain_sum(d):
    return np.sum(d)


def _sum_of_abs(d):
    return np.sum(np.abs(d))


def _root_of_sum_of_squares(d):
    return math.sqrt(np.sum(np.square(d)))


def _square_of_sum(d):
    return np.sum(d) ** 2


def content_cost(a_C, a_G):
    """J_content = Σ (a_C − a_G)² / (4·n_H·n_W·n_C)."""
    n_H, n_W, n_C = _dims(a_G)
    return _sum_of_squares(a_C.astype(np.float64) - a_G) / (4 * n_H * n_W * n_C)


def layer_style_cost(a_S, a_G):
    """J_style_layer = Σ (G_S − G_G)² / (4·n_C²·(n_H·n_W)²), n_H, n_W, n_C of a_G."""
    n_H, n_W, n_C = _dims(a_G)
    A_S, A_G = _unrolled(a_S.astype(np.float64)), _unrolled(a_G.astype(np.float64))
    return _sum_of_squares(A_S @ A_S.T - A_G @ A_G.T) / (4 * n_C**2 * (n_H * n_W) ** 2)


def style_cost(a_S, a_G, style_layers):
    """J_style = Σ over (layer, λ) in style_layers of λ · J_style_layer(a_S[layer], a_G[layer])."""
    return sum(weight * layer_style_cost(a_S[name], a_G[name]) for name, weight in style_layers)


@dataclass(frozen=True)
class _Known:
    """A known mistake: ``value(*args)`` is what it returns (None where it cannot be told apart)."""

    key: str
    value: Callable
    message: str


def _content_denominator(n_H, n_W, n_C):
    return 4 * n_H * n_W * n_C


def _content_variant(reduce=_sum_of_squares, denominator=_content_denominator):
    def value(a_C, a_G):
        d = a_C.astype(np.float64) - a_G
        return reduce(d) / denominator(*_dims(a_G))

    return value


def _sqrt_of(reference):
    def value(*args):
        return math.sqrt(reference(*args))

    return value


_CONTENT_FORMULA = "J_content = Σ (a_C − a_G)² / (4·n_H·n_W·n_C), with n_H, n_W, n_C from a_G's shape"
_CONTENT_HINT = "Hint: tf.reduce_sum(tf.square(a_C - a_G)) / (4 * n_H * n_W * n_C)."


def _content_wrong_denominator(what):
    return f"That is Σ (a_C − a_G)² divided by {what}; the content cost divides by 4·n_H·n_W·n_C.\n{_CONTENT_HINT}"


CONTENT_MISTAKES = (
    _Known(
        "no-normalisation",
        _content_variant(denominator=lambda n_H, n_W, n_C: 1),
        "That is the plain sum of squared differences: the normalisation 1/(4·n_H·n_W·n_C) is missing.\n"
        "Hint: divide the sum by (4 * n_H * n_W * n_C), with n_H, n_W, n_C read from a_G.shape.",
    ),
    _Known(
        "missing-quarter",
        _content_variant(denominator=lambda n_H, n_W, n_C: n_H * n_W * n_C),
        "That is 4 times too large: it divides by n_H·n_W·n_C (or takes a mean) without the 4.\n"
        "Hint: divide the sum by (4 * n_H * n_W * n_C).",
    ),
    _Known(
        "wrong-normaliser",
        _content_variant(denominator=lambda n_H, n_W, n_C: 4 * n_H * n_W),
        _content_wrong_denominator("4·n_H·n_W (n_C is missing)"),
    ),
    _Known(
        "wrong-normaliser",
        _content_variant(denominator=lambda n_H, n_W, n_C: 4 * (n_H * n_W * n_C) ** 2),
        _content_wrong_denominator(
            "4·(n_H·n_W·n_C)² (the style cost's 4·n_C²·(n_H·n_W)², or a reduce_mean as well as the factor)"
        ),
    ),
    _Known(
        "wrong-normaliser",
        _content_variant(denominator=lambda n_H, n_W, n_C: 2 * n_H * n_W * n_C),
        _content_wrong_denominator("2·n_H·n_W·n_C"),
    ),
    _Known(
        "wrong-normaliser",
        _content_variant(denominator=lambda n_H, n_W, n_C: 4 / (n_H * n_W * n_C)),
        "That is what `sum / 4 * n_H * n_W * n_C` computes: without parentheses Python divides by 4, then "
        "multiplies by n_H, n_W and n_C.\nHint: put the whole denominator in parentheses: sum / (4 * n_H * n_W * n_C).",
    ),
    _Known(
        "no-square",
        _content_variant(reduce=_plain_sum),
        "That is the sum of the differences a_C − a_G, not of their squares: the square is missing.\n"
        "Hint: tf.reduce_sum(tf.square(a_C - a_G)), or tf.reduce_sum((a_C - a_G) ** 2).",
    ),
    _Known(
        "abs-not-square",
        _content_variant(reduce=_sum_of_abs),
        "That is the sum of the absolute differences |a_C − a_G|; the cost sums their squares.\n"
        "Hint: tf.square(a_C - a_G) instead of tf.abs(a_C - a_G).",
    ),
    _Known(
        "sqrt",
        _content_variant(reduce=_root_of_sum_of_squares),
        "That uses the square root of the sum of squares (what tf.norm or tf.sqrt gives); the cost is the "
        "sum of squares itself, no root.\nHint: drop the tf.sqrt, or square the norm: tf.norm(a_C - a_G) ** 2.",
    ),
    _Known(
        "sqrt",
        _sqrt_of(content_cost),
        "That is the square root of the cost (a tf.sqrt or tf.norm around the whole formula); the cost has no "
        "root.\nHint: drop the tf.sqrt, or square the norm: tf.norm(a_C - a_G) ** 2.",
    ),
    _Known(
        "square-of-sum",
        _content_variant(reduce=_square_of_sum),
        "That is the square of the summed differences; the cost is the sum of the squared differences.\n"
        "Hint: square first, then sum: tf.reduce_sum(tf.square(a_C - a_G)).",
    ),
)


def _style_denominator(n_H, n_W, n_C):
    return 4 * n_C**2 * (n_H * n_W) ** 2


def _layer_variant(unroll=_unrolled, reduce=_sum_of_squares, denominator=_style_denominator, dims_of_style=False):
    def value(a_S, a_G):
        A_S, A_G = unroll(a_S.astype(np.float64)), unroll(a_G.astype(np.float64))
        G_S, G_G = A_S @ A_S.T, A_G @ A_G.T
        if G_S.shape != G_G.shape:
            return None  # (n_H·n_W)-square "Gram" matrices of different sizes: that raises, not a value
        if dims_of_style and a_S.shape == a_G.shape:
            return None  # the same as the right answer
        return reduce(G_S - G_G) / denominator(*_dims(a_S if dims_of_style else a_G))

    return value


_LAYER_HINT = (
    "Hint: unroll each activation to (n_C, n_H·n_W) (reshape to (n_H·n_W, n_C), then transpose), take both Gram "
    "matrices A·Aᵀ, and divide Σ (G_S − G_G)² by 4·n_C²·(n_H·n_W)², with n_H, n_W, n_C from a_G."
)
_NORMALISER_HINT = "Hint: divide the sum by (4 * n_C**2 * (n_H * n_W) ** 2), with n_H, n_W, n_C read from a_G.shape."


def _layer_wrong_denominator(what):
    return f"That is Σ (G_S − G_G)² divided by {what}; the layer style cost divides by 4·n_C²·(n_H·n_W)².\n" + (
        _NORMALISER_HINT
    )


LAYER_STYLE_MISTAKES = (
    _Known(
        "bare-reshape",
        _layer_variant(unroll=_bare_reshape),
        "The unrolled matrices mix channels: a bare tf.reshape(a, [n_C, n_H * n_W]) has the right shape, but "
        "memory holds the n_C channels of one position side by side, so each row gets pieces of several "
        "channels.\nHint: reshape to [n_H * n_W, n_C] (one row per position), then tf.transpose, so that each row "
        "is one channel (or tf.transpose(a, [0, 3, 1, 2]) first, then reshape).",
    ),
    _Known(
        "gram-transposed",
        _layer_variant(unroll=_positions),
        "The Gram matrices compared are (n_H·n_W) × (n_H·n_W): that is AᵀA (or an activation reshaped to "
        "(n_H·n_W, n_C) and never transposed); the Gram matrix is A·Aᵀ, shape (n_C, n_C).\n"
        "Hint: A of shape (n_C, n_H·n_W), then tf.matmul(A, tf.transpose(A)).",
    ),
    _Known(
        "gram-transposed",
        _layer_variant(unroll=_bare_positions),
        "The Gram matrices compared are (n_H·n_W) × (n_H·n_W), AᵀA of a bare reshape: the Gram matrix is A·Aᵀ, "
        "shape (n_C, n_C), and A must hold one channel per row.\n"
        "Hint: reshape to [n_H * n_W, n_C], transpose, then tf.matmul(A, tf.transpose(A)).",
    ),
    _Known(
        "no-normalisation",
        _layer_variant(denominator=lambda n_H, n_W, n_C: 1),
        "That is the plain sum Σ (G_S − G_G)²: the normalisation 1/(4·n_C²·(n_H·n_W)²) is missing.\n"
        + _NORMALISER_HINT,
    ),
    _Known(
        "missing-quarter",
        _layer_variant(denominator=lambda n_H, n_W, n_C: n_C**2 * (n_H * n_W) ** 2),
        "That is 4 times too large: it divides by n_C²·(n_H·n_W)² without the 4.\n" + _NORMALISER_HINT,
    ),
    _Known(
        "wrong-normaliser",
        _layer_variant(denominator=lambda n_H, n_W, n_C: 4 * n_H * n_W * n_C),
        _layer_wrong_denominator("4·n_H·n_W·n_C, the content cost's normalisation"),
    ),
    _Known(
        "wrong-normaliser",
        _layer_variant(denominator=lambda n_H, n_W, n_C: 4 * n_C * (n_H * n_W) ** 2),
        _layer_wrong_denominator("4·n_C·(n_H·n_W)² (n_C is not squared)"),
    ),
    _Known(
        "wrong-normaliser",
        _layer_variant(denominator=lambda n_H, n_W, n_C: 4 * n_C**2 * n_H * n_W),
        _layer_wrong_denominator("4·n_C²·n_H·n_W (n_H·n_W is not squared)"),
    ),
    _Known(
        "wrong-normaliser",
        _layer_variant(denominator=lambda n_H, n_W, n_C: (4 * n_C * n_H * n_W) ** 2),
        _layer_wrong_denominator("(4·n_C·n_H·n_W)² (the 4 is squared too)"),
    ),
    _Known(
        "wrong-normaliser",
        _layer_variant(denominator=lambda n_H, n_W, n_C: 4 / (n_C**2 * (n_H * n_W) ** 2)),
        "That is what `sum / 4 * n_C**2 * (n_H * n_W)**2` computes: without parentheses Python divides by 4, "
        "then multiplies by the rest.\nHint: put the whole denominator in parentheses: "
        "sum / (4 * n_C**2 * (n_H * n_W) ** 2).",
    ),
    _Known(
        "dims-from-style",
        _layer_variant(dims_of_style=True),
        "The normalisation uses the dims of a_S; they must come from a_G (here a_S is larger than a_G, as it "
        "is in nst when the style image is larger than the generated one).\n"
        "Hint: _, n_H, n_W, n_C = a_G.shape, and unroll each activation with its own size: "
        "tf.reshape(a_S, [-1, n_C]).",
    ),
    _Known(
        "no-square",
        _layer_variant(reduce=_plain_sum),
        "That is the sum of the differences G_S − G_G, not of their squares: the square is missing.\n"
        "Hint: tf.reduce_sum(tf.square(GS - GG)).",
    ),
    _Known(
        "abs-not-square",
        _layer_variant(reduce=_sum_of_abs),
        "That is the sum of the absolute differences |G_S − G_G|; the cost sums their squares.\n"
        "Hint: tf.square(GS - GG) instead of tf.abs(GS - GG).",
    ),
    _Known(
        "sqrt",
        _layer_variant(reduce=_root_of_sum_of_squares),
        "That uses the square root of Σ (G_S − G_G)² (what tf.norm or tf.sqrt gives); the cost is the sum of "
        "squares itself, no root.\nHint: drop the tf.sqrt, or square the norm: tf.norm(GS - GG) ** 2.",
    ),
    _Known(
        "sqrt",
        _sqrt_of(layer_style_cost),
        "That is the square root of the cost (a tf.sqrt or tf.norm around the whole formula); the cost has no "
        "root.\nHint: drop the tf.sqrt, or square the norm: tf.norm(GS - GG) ** 2.",
    ),
    _Known(
        "square-of-sum",
        _layer_variant(reduce=_square_of_sum),
        "That is the square of the summed differences; the cost is the sum of the squared differences.\n"
        "Hint: square first, then sum: tf.reduce_sum(tf.square(GS - GG)).",
    ),
)


def _style_variant(layer_cost=layer_style_cost, weighted=True, mean=False, layers_of_mapping=False):
    def value(a_S, a_G, style_layers):
        if layers_of_mapping:
            style_layers = [(name, 1.0) for name in a_G]
        terms = []
        for name, weight in style_layers:
            layer = layer_cost(a_S[name], a_G[name])
            if layer is None:
                return None
            terms.append((weight if weighted else 1.0) * layer)
        return sum(terms) / (len(terms) if mean else 1)

    return value


def _last_layer_only(a_S, a_G, style_layers):
    name, weight = style_layers[-1]
    return weight * layer_style_cost(a_S[name], a_G[name])


def _weights_in_mapping_order(a_S, a_G, style_layers):
    # zip(a_S, style_layers)-style loops: the mapping's layers, in its order, get style_layers' weights
    return sum(weight * layer_style_cost(a_S[name], a_G[name]) for name, (_, weight) in zip(a_S, style_layers))


_STYLE_HINT = (
    "Hint: J_style = Σ weight · compute_layer_style_cost(a_S[layer_name], a_G[layer_name]) over "
    "(layer_name, weight) in style_layers."
)

STYLE_MISTAKES = (
    _Known(
        "ignores-weights",
        _style_variant(weighted=False),
        "That is the plain sum of the layer costs: the weights λ of style_layers are ignored.\n"
        "Hint: for layer_name, weight in style_layers: J_style += weight * J_style_layer.",
    ),
    _Known(
        "ignores-weights",
        _style_variant(weighted=False, mean=True),
        "That is the mean of the layer costs: the weights λ of style_layers are ignored.\n"
        "Hint: for layer_name, weight in style_layers: J_style += weight * J_style_layer.",
    ),
    _Known(
        "last-layer-only",
        _last_layer_only,
        "That is λ·J_style_layer of the last layer in style_layers only: J_style is overwritten at each "
        "layer instead of added to.\nHint: start from J_style = 0 and accumulate: J_style += weight * J_style_layer.",
    ),
    _Known(
        "weights-to-wrong-layers",
        _weights_in_mapping_order,
        "The weights go to the wrong layers: the layers are taken in the order of the a_S/a_G dictionaries, the "
        "weights in the order of style_layers.\nHint: take both from style_layers: for layer_name, weight in "
        "style_layers: ... a_S[layer_name], a_G[layer_name].",
    ),
    _Known(
        "layers-from-mapping",
        _style_variant(weighted=False, layers_of_mapping=True),
        f"That adds up every layer in the a_S/a_G dictionaries, {EXTRA_LAYER} too, which style_layers does not "
        "name (nst's a_G also holds the content layer).\nHint: loop over style_layers, not over a_S or a_G: "
        "for layer_name, weight in style_layers: ...",
    ),
    # A right sum over a wrong layer cost: compute_style_cost usually calls the learner's own.
    *(
        _Known(
            "layer-cost-wrong",
            _style_variant(layer_cost=known.value),
            "It adds λ·J_style_layer over style_layers correctly, but the layer costs it adds are wrong, so "
            f"fix compute_layer_style_cost first. The layer cost's mistake: {known.message}",
        )
        for known in LAYER_STYLE_MISTAKES
        if known.key != "dims-from-style"  # STYLE_CASES give a_S and a_G the same size at each layer
    ),
)


def _total_swapped(J_content, J_style, alpha=ALPHA, beta=BETA):
    return beta * J_content + alpha * J_style


def _total_hard_coded(J_content, J_style, alpha=ALPHA, beta=BETA):
    return ALPHA * J_content + BETA * J_style


def _total_swapped_defaults(J_content, J_style, alpha=BETA, beta=ALPHA):
    return alpha * J_content + beta * J_style


def _total_unweighted(J_content, J_style, alpha=ALPHA, beta=BETA):
    return J_content + J_style


def _total_content_only(J_content, J_style, alpha=ALPHA, beta=BETA):
    return alpha * J_content


def _total_style_only(J_content, J_style, alpha=ALPHA, beta=BETA):
    return beta * J_style


def _total_content_twice(J_content, J_style, alpha=ALPHA, beta=BETA):
    return alpha * J_content + beta * J_content


def _total_style_twice(J_content, J_style, alpha=ALPHA, beta=BETA):
    return alpha * J_style + beta * J_style


def _called_like_a_case(total):
    """``total(J_content, J_style, **kwargs)`` as a function of a total_cost case's args."""

    def value(J_content, J_style, kwargs):
        return total(J_content, J_style, **kwargs)

    return value


_TOTAL_HINT = "Hint: J = alpha * J_content + beta * J_style."
TOTAL_MISTAKES = (
    _Known(
        "swapped-alpha-beta",
        _called_like_a_case(_total_swapped),
        "α and β are swapped: that is β·J_content + α·J_style. α weighs the content cost, β the style cost.\n"
        + _TOTAL_HINT,
    ),
    _Known(
        "ignores-alpha-beta",
        _called_like_a_case(_total_hard_coded),
        "total_cost ignores its alpha and beta arguments: it always uses 10 and 40.\n"
        "Hint: use the parameters: J = alpha * J_content + beta * J_style.",
    ),
    _Known(
        "wrong-defaults",
        _called_like_a_case(_total_swapped_defaults),
        "With alpha and beta given it is right, but its default values are swapped: the exercise's are alpha=10, "
        "beta=40.\nHint: def total_cost(J_content, J_style, alpha=10, beta=40).",
    ),
    _Known(
        "missing-weights",
        _called_like_a_case(_total_unweighted),
        "That is J_content + J_style: the weights alpha and beta are missing.\n" + _TOTAL_HINT,
    ),
    _Known(
        "one-term",
        _called_like_a_case(_total_content_only),
        "That is alpha·J_content only: beta·J_style is missing.\n" + _TOTAL_HINT,
    ),
    _Known(
        "one-term",
        _called_like_a_case(_total_style_only),
        "That is beta·J_style only: alpha·J_content is missing.\n" + _TOTAL_HINT,
    ),
    _Known(
        "one-term",
        _called_like_a_case(_total_content_twice),
        "That is alpha·J_content + beta·J_content: J_content is used twice, J_style not at all.\n" + _TOTAL_HINT,
    ),
    _Known(
        "one-term",
        _called_like_a_case(_total_style_twice),
        "That is alpha·J_style + beta·J_style: J_style is used twice, J_content not at all.\n" + _TOTAL_HINT,
    ),
)

# Every key a CheckResult.mistake can hold, with what it means: for the grade command's summaries.
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
}


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
            matches = matches and _close(value_got, value, MATCH_RTOL)
            differs = differs or not _close(value, value_right, MATCH_RTOL)
        if matches and differs:
            return known
    return None


# --- Calling the learner's function and reading what it returns ----------------------------


def _describe(err):
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


def _call(name, fn, args, kwargs, label, hint=None, on_error=None):
    """``fn(*args, **kwargs)``; its exceptions become a _Mistake naming ``label``.

    ``on_error(err)``, if given, makes the _Mistake for an exception other than NotImplementedError.
    """
    if not callable(fn):
        raise _Mistake(
            f"{name}: what was passed to the check is a {type(fn).__name__}, not a function.\n"
            f"Hint: pass the function itself: check_{name}({name}).",
            "not-callable",
        )
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise _Mistake(
            f"{name} is not implemented yet: it raises NotImplementedError.\n"
            "Hint: replace the `raise NotImplementedError` line with your code.",
            "not-implemented",
        ) from None
    except Exception as err:
        if on_error:
            raise on_error(err) from None
        hint = hint or f"call {name} yourself on these inputs to see the whole traceback."
        raise _Mistake(f"{name} raised {_describe(err)}\n(on {label}).\nHint: {hint}", "exception") from None


def _expect_tensor(name, value, label):
    """Name a result that is not a TensorFlow tensor; return it as a tf.Tensor."""
    if value is None:
        raise _Mistake(
            f"{name} returned None on {label}.\nHint: end the function with a return statement, e.g. `return J`.",
            "none",
        )
    if isinstance(value, np.ndarray | np.generic):
        raise _Mistake(
            f"{name} returned a NumPy {type(value).__name__} ({value.dtype}) on {label}, not a TensorFlow tensor. "
            "NumPy (or .numpy()) inside the function cuts the gradient: training could not update the image.\n"
            "Hint: use TensorFlow operations only (tf.reduce_sum, tf.square, tf.reshape, tf.transpose, tf.matmul) "
            "and return their result.",
            "numpy",
        )
    if isinstance(value, bool | int | float):
        raise _Mistake(
            f"{name} returned a Python {type(value).__name__} ({value!r}) on {label}, not a TensorFlow tensor: "
            "float(), int() or .numpy() cuts the gradient, so training could not use it.\n"
            "Hint: return the tensor itself, without float(...) or .numpy().",
            "python-float",
        )
    if not tf.is_tensor(value):
        raise _Mistake(
            f"{name} returned a {type(value).__name__} on {label}, not a TensorFlow tensor.\n"
            "Hint: compute with TensorFlow operations and return their result.",
            "not-a-tensor",
        )
    return tf.convert_to_tensor(value)


def _expect_scalar(name, value, label, dtypes=(tf.float32,)):
    """Name a result that is not a finite scalar tensor of one of ``dtypes``; return it as a float."""
    value = _expect_tensor(name, value, label)
    if value.shape.rank != 0:
        raise _Mistake(
            f"{name} returned a tensor of shape {_shape(value.shape)} on {label}, not a scalar: a cost is one "
            "number.\nHint: tf.reduce_sum(...) with no axis adds up all the entries.",
            "non-scalar",
        )
    if value.dtype not in dtypes:
        expected = " or ".join(dtype.name for dtype in dtypes)
        raise _Mistake(
            f"{name} returned a {value.dtype.name} tensor on {label}; expected {expected}, the dtype of the "
            "activations.\nHint: leave out the tf.cast; compute with the inputs' own dtype.",
            "dtype",
        )
    number = float(value.numpy())
    if not math.isfinite(number):
        raise _Mistake(
            f"{name} returned {number} on {label}.\nHint: look for a division by zero, or a tf.sqrt or tf.math.log "
            "of a negative number.",
            "not-finite",
        )
    return number


def _shape(shape):
    return str(tuple(shape)) if shape.rank is not None else "(unknown)"


def _close(got, expected, rtol, atol=0.0):
    return bool(np.allclose(got, expected, rtol=rtol, atol=atol))


def _tensors(structure):
    """Every NumPy array in a (nested) argument as a float32 tensor; other values (weights) stay as they are."""
    return tf.nest.map_structure(lambda x: tf.constant(x, tf.float32) if isinstance(x, np.ndarray) else x, structure)


def _check_values(name, cases, value_of, reference, known_mistakes, generic_hint):
    """Compare a scalar function's values on ``cases`` with the right ones; name what is wrong, if anything.

    ``value_of(case)`` calls the learner's function (a _Mistake for an exception or a non-scalar);
    the right value is the case's published number, else ``reference(*case.args)``.
    """
    expected = [case.expected if case.expected is not None else reference(*case.args) for case in cases]
    got = []
    for case, right in zip(cases, expected):
        got.append(value_of(case))
        if _close(got[-1], right, RTOL, atol=1e-6):
            continue
        head = f"{name} returned {got[-1]:.8g} on {case.label}; expected {right:.8g}.\n"
        for later in cases[len(got) :]:  # more values to tell the mistakes apart
            try:
                got.append(value_of(later))
            except _Mistake:
                got.append(None)
        found = recognise(known_mistakes, cases, got, expected)
        if found:
            raise _Mistake(head + found.message, found.key)
        raise _Mistake(head + generic_hint, "wrong-value")


def _check_gradient(name, fn, args, reference, label, sources, to_scalar=None):
    """Compare the gradients of ``fn(*args)`` with the reference's, for the inputs ``sources`` picks.

    ``sources(args)`` gives a dict from a readable name ("a_G", "a_S['conv1_1']") to a tensor in args.
    NumPy inside the function shows up as a None gradient: nothing connects the result to that input.
    """
    to_scalar = to_scalar or (lambda out: out)
    gradients = []
    for function in (fn, reference):
        with tf.GradientTape() as tape:
            watched = sources(args)
            tape.watch(list(watched.values()))
            out = _call(name, function, args, {}, label)
            out = to_scalar(tf.convert_to_tensor(out)) if tf.is_tensor(out) else out
        try:
            gradients.append(tape.gradient(out, watched))
        except Exception as err:
            raise _Mistake(
                f"{name}: TensorFlow could not compute the gradient of its result ({_describe(err)}), on {label}.\n"
                "Hint: use differentiable TensorFlow operations (tf.reduce_sum, tf.square, tf.matmul, ...).",
                "no-gradient",
            ) from None
    learner, expected = gradients
    missing = [source for source, grad in learner.items() if grad is None]
    if missing:
        if len(missing) > 3:
            missing[2:] = [f"{len(missing) - 2} more"]
        raise _Mistake(
            f"No gradient flows from {name}'s result back to {', '.join(missing)} (on {label}): the computation "
            "left TensorFlow, e.g. NumPy (np.sum, np.square, np.array), .numpy() or float() inside the function, "
            "so training could not update the image.\nHint: use TensorFlow operations only (tf.reduce_sum, "
            "tf.square, tf.reshape, tf.transpose, tf.matmul).",
            "numpy",
        )
    for source, grad in learner.items():
        grad, want = np.asarray(tf.convert_to_tensor(grad)), expected[source].numpy()
        if grad.shape != want.shape or not _close(grad, want, GRAD_RTOL, atol=GRAD_RTOL * np.abs(want).max()):
            raise _Mistake(
                f"{name} returns the right value on {label}, but its gradient with respect to {source} is not the "
                "formula's (is there a tf.stop_gradient, or a custom gradient?).\nHint: write the formula with plain "
                "TensorFlow operations and let TensorFlow differentiate it.",
                "gradient-mismatch",
            )


def _check_in_graph(name, fn, args, kwargs, eager_value, label):
    """Run ``fn`` inside tf.function, as nst's training does, and compare with its eager value."""
    try:
        out = tf.function(fn)(*args, **kwargs)
        graph_value = np.asarray(tf.convert_to_tensor(out))
    except Exception as err:
        raise _Mistake(
            f"{name} works when called directly but fails inside tf.function, the way nst's training calls it: "
            f"{_describe(err)}\n(on {label}).\nHint: NumPy, .numpy() and float() do not work on the symbolic "
            "tensors of a tf.function; use TensorFlow operations, and read shapes with a_G.shape.",
            "tf-function",
        ) from None
    if graph_value.shape != np.shape(eager_value) or not _close(graph_value, eager_value, RTOL, atol=1e-6):
        raise _Mistake(
            f"{name} gives another result inside tf.function than when called directly (on {label}).\n"
            "Hint: compute with TensorFlow operations only, without Python-side state.",
            "tf-function",
        )


def _property(name, holds, what, hint):
    """A property check: ``hint`` is a whole "Hint: ..." line."""
    if not holds:
        raise _Mistake(f"{name}: {what}\n{hint}", "property")


def _run(name, body, quiet):
    """Run one check's ``body``; turn what it finds into a CheckResult, print its message unless quiet."""
    max_points = GRADED[name]
    try:
        body()
        result = CheckResult(name, True, PASSED, max_points, max_points)
    except _Mistake as found:
        result = CheckResult(name, False, str(found), 0, max_points, found.key)
    except Exception as err:  # something the learner's function returned that the check could not handle
        message = (
            f"{name}: the check could not finish ({_describe(err)}).\nHint: call {name} yourself on the test case "
            "above and look at what it returns: a TensorFlow tensor is expected."
        )
        result = CheckResult(name, False, message, 0, max_points, "check-error")
    if not quiet:
        print(result.message)
    return result


# --- The checks -------------------------------------------------------------------------


def check_compute_content_cost(fn, quiet=False):
    """Check a learner's ``compute_content_cost(a_C, a_G)``; print and return a CheckResult."""
    name = "compute_content_cost"
    generic_hint = f"The formula is {_CONTENT_FORMULA}.\n{_CONTENT_HINT}"

    def value_of(case):
        return _expect_scalar(name, _call(name, fn, _tensors(case.args), {}, case.label), case.label)

    def body():
        _check_values(name, CONTENT_CASES, value_of, content_cost, CONTENT_MISTAKES, generic_hint)
        case = CONTENT_CASES[-1]
        args = _tensors(case.args)
        _check_gradient(name, fn, args, costs.compute_content_cost, case.label, lambda a: {"a_C": a[0], "a_G": a[1]})
        _check_in_graph(name, fn, args, {}, content_cost(*case.args), case.label)
        a_C, a_G = args
        J_self = _expect_scalar(name, _call(name, fn, (a_G, a_G), {}, "a_C = a_G"), "a_C = a_G")
        _property(
            name,
            abs(J_self) <= 1e-6,
            f"the content cost of an activation with itself is {J_self:.7g}; it must be 0.",
            _CONTENT_HINT,
        )
        swapped = _expect_scalar(name, _call(name, fn, (a_G, a_C), {}, case.label), case.label)
        _property(
            name,
            _close(swapped, content_cost(*case.args), RTOL),
            "the content cost changes when a_C and a_G swap places; Σ (a_C − a_G)² does not.",
            _CONTENT_HINT,
        )

    return _run(name, body, quiet)


def check_gram_matrix(fn, quiet=False):
    """Check a learner's ``gram_matrix(A)``, A of shape (n_C, n_H·n_W); print and return a CheckResult."""
    name = "gram_matrix"
    hint = "Hint: tf.matmul(A, tf.transpose(A)), or tf.matmul(A, A, transpose_b=True)."

    def gram_of(A, label):
        GA = _expect_tensor(name, _call(name, fn, (tf.constant(A),), {}, label), label)
        n_C, n_positions = A.shape
        if GA.shape == (n_positions, n_positions):
            raise _Mistake(
                f"gram_matrix returned shape {_shape(GA.shape)} for A of shape {A.shape}: that is AᵀA; the Gram "
                f"matrix is A·Aᵀ, shape (n_C, n_C) = ({n_C}, {n_C}).\n{hint}",
                "gram-transposed",
            )
        if GA.shape == A.shape and GA.dtype.is_floating and _close(GA.numpy(), A * A, MATCH_RTOL):
            raise _Mistake(
                f"gram_matrix returned A * A for A of shape {A.shape}, the entry-by-entry product; the Gram matrix "
                f"is the matrix product A·Aᵀ, shape (n_C, n_C) = ({n_C}, {n_C}).\n{hint}",
                "elementwise-product",
            )
        if GA.shape != (n_C, n_C):
            raise _Mistake(
                f"gram_matrix returned shape {_shape(GA.shape)} for A of shape {A.shape}; the Gram matrix A·Aᵀ has "
                f"shape (n_C, n_C) = ({n_C}, {n_C}).\n{hint}",
                "wrong-shape",
            )
        if GA.dtype != tf.float32:
            raise _Mistake(
                f"gram_matrix returned a {GA.dtype.name} tensor for a float32 A ({label}).\n"
                "Hint: leave out the tf.cast; tf.matmul keeps A's dtype.",
                "dtype",
            )
        GA = GA.numpy()
        if not np.all(np.isfinite(GA)):
            raise _Mistake(f"gram_matrix returned NaN or infinite entries on {label}.\n{hint}", "not-finite")
        return GA

    def body():
        for case in GRAM_CASES:
            (A,) = case.args
            GA = gram_of(A, case.label)
            expected = case.expected if case.expected is not None else A.astype(np.float64) @ A.T
            scale = np.abs(expected).max()
            if _close(GA, expected, RTOL, atol=RTOL * scale):
                continue
            head = f"gram_matrix returned\n{np.array2string(GA, precision=5)}\non {case.label}; expected\n" + (
                f"{np.array2string(expected, precision=5)}.\n"
            )
            factor = float(np.sum(GA * expected) / np.sum(expected * expected))
            if _close(GA, factor * expected, MATCH_RTOL, atol=MATCH_RTOL * abs(factor) * scale):
                raise _Mistake(
                    head + f"That is {factor:.6g} × A·Aᵀ: the Gram matrix is A·Aᵀ itself, with no factor (the style "
                    f"cost does the normalising).\n{hint}",
                    "scaled-gram",
                )
            raise _Mistake(
                head + f"The Gram matrix is A·Aᵀ: entry (i, j) is the dot product of rows i and j.\n{hint}",
                "wrong-value",
            )
        case = GRAM_CASES[-1]
        (A,) = _tensors(case.args)
        upstream = tf.constant(_draw(16, (A.shape[0], A.shape[0]))[0])  # not symmetric: tests both halves
        _check_gradient(
            name,
            fn,
            (A,),
            costs.gram_matrix,
            case.label,
            lambda a: {"A": a[0]},
            to_scalar=lambda GA: tf.reduce_sum(GA * upstream),
        )
        _check_in_graph(name, fn, (A,), {}, A.numpy().astype(np.float64) @ A.numpy().T, case.label)
        # Where things are does not matter: shuffling the positions (columns) leaves the Gram matrix alone.
        permutation = np.random.default_rng(17).permutation(A.shape[1])
        label = "A with its columns shuffled"
        shuffled = gram_of(A.numpy()[:, permutation], label)
        _property(
            name,
            _close(shuffled, gram_of(A.numpy(), case.label), RTOL, atol=RTOL * np.abs(shuffled).max()),
            "shuffling the columns of A (the positions) changed the Gram matrix; A·Aᵀ sums over positions, so its "
            "order must not matter.",
            hint,
        )

    return _run(name, body, quiet)


def check_compute_layer_style_cost(fn, quiet=False):
    """Check a learner's ``compute_layer_style_cost(a_S, a_G)``; print and return a CheckResult."""
    name = "compute_layer_style_cost"

    def sizes_error(err):
        return _Mistake(
            f"{name} works when a_S and a_G have the same size, but raised {_describe(err)}\n"
            f"(on {LAYER_STYLE_SIZES_CASE.label}).\nThe activations were probably unrolled with a_G's n_H·n_W: "
            "a_S has more positions than a_G.\nHint: unroll each activation with its own size, e.g. "
            "tf.reshape(a_S, [-1, n_C]) before the transpose; only the normalisation uses a_G's n_H, n_W.",
            "unrolled-with-wrong-dims",
        )

    def value_of(case):
        on_error = sizes_error if case is LAYER_STYLE_SIZES_CASE else None
        return _expect_scalar(name, _call(name, fn, _tensors(case.args), {}, case.label, on_error=on_error), case.label)

    def body():
        cases = (*LAYER_STYLE_CASES, LAYER_STYLE_SIZES_CASE)
        _check_values(name, cases, value_of, layer_style_cost, LAYER_STYLE_MISTAKES, _LAYER_HINT)
        case = LAYER_STYLE_SIZES_CASE
        args = _tensors(case.args)
        _check_gradient(
            name, fn, args, costs.compute_layer_style_cost, case.label, lambda a: {"a_S": a[0], "a_G": a[1]}
        )
        _check_in_graph(name, fn, args, {}, layer_style_cost(*case.args), case.label)
        a_S, a_G = case.args
        J_self = _expect_scalar(name, _call(name, fn, (args[1], args[1]), {}, "a_S = a_G"), "a_S = a_G")
        _property(
            name,
            abs(J_self) <= 1e-6 * max(1.0, layer_style_cost(a_S, a_G)),
            f"the style cost of an activation with itself is {J_self:.7g}; it must be 0.",
            _LAYER_HINT,
        )
        # Style ignores where things are: shuffling a_G's positions (channels intact) leaves J alone.
        _, n_H, n_W, n_C = a_G.shape
        order = np.random.default_rng(18).permutation(n_H * n_W)
        moved = a_G.reshape(n_H * n_W, n_C)[order].reshape(a_G.shape)
        label = "a_G with its positions shuffled"
        J_moved = _expect_scalar(name, _call(name, fn, _tensors((a_S, moved)), {}, label), label)
        _property(
            name,
            _close(J_moved, layer_style_cost(a_S, a_G), RTOL),
            "the cost changed when a_G's positions were shuffled (each position's channels kept together); the "
            "style cost compares Gram matrices, which do not depend on where things are.",
            _LAYER_HINT,
        )

    return _run(name, body, quiet)


def check_compute_style_cost(fn, quiet=False):
    """Check a learner's ``compute_style_cost(a_S, a_G, style_layers)``; print and return a CheckResult."""
    name = "compute_style_cost"
    mapping_hint = (
        "a_S and a_G are dictionaries from layer name to activation, and style_layers a sequence of "
        "(layer_name, weight): for layer_name, weight in style_layers: ... a_S[layer_name], a_G[layer_name]."
    )

    def value_of(args, label):
        return _expect_scalar(name, _call(name, fn, args, {}, label, hint=mapping_hint), label)

    def body():
        _check_values(
            name,
            STYLE_CASES,
            lambda case: value_of(_tensors(case.args), case.label),
            style_cost,
            STYLE_MISTAKES,
            _STYLE_HINT,
        )
        case = STYLE_CASES[-1]
        args = _tensors(case.args)
        a_S, a_G, style_layers = args
        layers = [layer for layer, _ in style_layers]

        def sources(a):
            return {f"{side}[{layer!r}]": a[i][layer] for i, side in enumerate(("a_S", "a_G")) for layer in layers}

        _check_gradient(name, fn, args, costs.compute_style_cost, case.label, sources)
        _check_in_graph(name, fn, args, {}, style_cost(*case.args), case.label)
        expected = style_cost(*case.args)
        doubled = tuple((layer, 2 * weight) for layer, weight in style_layers)
        label = "the same test with every weight doubled"
        _property(
            name,
            _close(value_of((a_S, a_G, doubled), label), 2 * expected, RTOL),
            "doubling every weight λ did not double the cost; J_style = Σ λ·J_style_layer is proportional to them.",
            _STYLE_HINT,
        )
        other = dict(a_G, **{EXTRA_LAYER: a_G[EXTRA_LAYER] + 1.0})
        label = f"the same test with another {EXTRA_LAYER} activation"
        _property(
            name,
            _close(value_of((a_S, other, style_layers), label), expected, RTOL),
            f"changing {EXTRA_LAYER}, a layer style_layers does not name, changed the cost.",
            f"Hint: {mapping_hint}",
        )

    return _run(name, body, quiet)


def check_total_cost(fn, quiet=False):
    """Check a learner's ``total_cost(J_content, J_style, alpha=10, beta=40)``; print and return a CheckResult."""
    name = "total_cost"

    def call(case):
        J_content, J_style, kwargs = case.args
        args = (tf.constant(J_content, tf.float32), tf.constant(J_style, tf.float32))
        return _expect_scalar(name, _call(name, fn, args, kwargs, case.label), case.label)

    def body():
        _check_values(name, TOTAL_CASES, call, None, TOTAL_MISTAKES, _TOTAL_HINT)
        case = TOTAL_CASES[-1]
        J_content, J_style, kwargs = case.args
        args = (tf.constant(J_content, tf.float32), tf.constant(J_style, tf.float32))

        def with_weights(function):
            return lambda J_c, J_s: function(J_c, J_s, **kwargs)

        _check_gradient(
            name,
            with_weights(fn),
            args,
            with_weights(costs.total_cost),
            case.label,
            lambda a: {"J_content": a[0], "J_style": a[1]},
        )
        _check_in_graph(name, fn, args, kwargs, case.expected, case.label)

    return _run(name, body, quiet)


def check_train_step(train_step, generated_image, quiet=False):
    """Check a learner's ``train_step(generated_image)``: two real steps; print and return a CheckResult.

    ``generated_image`` is the tf.Variable (1, H, W, 3) the step updates in place; the step returns J.
    The check calls it twice: J must be a finite scalar float tensor, the image must change, and the
    second J must be lower than the first. The image (and the optimizer's state) keep those two steps.
    """
    name = "train_step"
    label = "generated_image"

    def step():
        return _expect_scalar(
            name,
            _call(
                name,
                train_step,
                (generated_image,),
                {},
                label,
                hint="if it says 'No gradients provided', J was computed outside the GradientTape or with NumPy.",
            ),
            label,
            dtypes=(tf.float16, tf.bfloat16, tf.float32, tf.float64),
        )

    def body():
        if not isinstance(generated_image, tf.Variable):
            raise _Mistake(
                f"check_train_step needs the generated image as a tf.Variable, got a {type(generated_image).__name__}"
                ": train_step updates it in place.\nHint: generated_image = tf.Variable(generated_image).",
                "not-a-variable",
            )
        before = generated_image.numpy().copy()
        J_first = step()
        after = generated_image.numpy()
        if not np.all(np.isfinite(after)):
            raise _Mistake(
                f"After one call of {name} the image holds NaN or infinite pixels.\n"
                "Hint: check the costs for NaN, and the learning rate.",
                "not-finite",
            )
        if np.array_equal(before, after):
            raise _Mistake(
                f"{name} returned J = {J_first:.7g}, but generated_image did not change: the step never applies the "
                "gradient to the image.\nHint: grad = tape.gradient(J, generated_image), then let the optimizer apply "
                "it: optimizer.apply_gradients([(grad, generated_image)]) (a Keras optimizer) or optimizer.apply(grad) "
                "(nst.adam.Adam).",
                "never-applies-gradient",
            )
        J_second = step()
        if not J_second < J_first:
            raise _Mistake(
                f"{name} changes the image, but J did not go down: {J_first:.7g} at the first call, {J_second:.7g} at "
                "the second. The step probably moves the image up the gradient (adds it instead of subtracting), or "
                "not along the gradient of J at all.\nHint: grad = tape.gradient(J, generated_image); "
                "optimizer.apply_gradients([(grad, generated_image)]): the optimizer subtracts it for you.",
                "cost-not-decreasing",
            )

    return _run(name, body, quiet)


CHECKS = {
    "compute_content_cost": check_compute_content_cost,
    "gram_matrix": check_gram_matrix,
    "compute_layer_style_cost": check_compute_layer_style_cost,
    "compute_style_cost": check_compute_style_cost,
    "total_cost": check_total_cost,
    "train_step": check_train_step,
}
