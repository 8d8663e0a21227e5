"""The cases a check calls a graded function on: the exercise's published ones, and more.

- the exercise's published test inputs (``published_pair``, ``published_A``) and the numbers it
  prints for them (``PUBLISHED_*``);
- ``Case``: one call of a graded function, with how a message names it and, where published, the
  right answer (elsewhere ``references`` computes it);
- the cases of each function (``CONTENT_CASES``, ``GRAM_CASES``, ``LAYER_STYLE_CASES`` and
  ``LAYER_STYLE_SIZES_CASE``, ``STYLE_CASES``, ``TOTAL_CASES``): the published one first, then
  ones whose shapes make every classic mistake give its own value (non-square, distinct n_H, n_W,
  n_C; a style activation larger than the generated one).

Everything here is NumPy data: a check never draws random numbers in the learner's session. Besides
the fixed cases, ``hidden_cases(seed)`` draws one more per function from a seed that ``nst grade``
keeps to itself (a check cell in the notebook draws a fresh one each time).
"""

from dataclasses import dataclass

import numpy as np

from nst.config import STYLE_LAYERS

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


def draw(seed, *shapes):
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
    Case("the exercise's test case (a_C, a_G of shape (1, 4, 4, 3))", published_pair(), PUBLISHED_CONTENT_COST),
    Case("a test with a_C, a_G of shape (1, 2, 3, 5)", draw(11, (1, 2, 3, 5), (1, 2, 3, 5))),
)
GRAM_CASES = (
    Case("the exercise's test case (A of shape (3, 2))", (published_A(),), np.array(PUBLISHED_GRAM)),
    Case("a test with A of shape (4, 7)", draw(12, (4, 7))),
)
LAYER_STYLE_CASES = (
    Case("the exercise's test case (a_S, a_G of shape (1, 4, 4, 3))", published_pair(), PUBLISHED_LAYER_STYLE_COST),
    Case("a test with a_S, a_G of shape (1, 2, 3, 5)", draw(13, (1, 2, 3, 5), (1, 2, 3, 5))),
)
# In nst the style image may have another size than the generated one (--style-scale, another
# aspect), so a_S can have more positions than a_G; the normalisation uses a_G's dims.
LAYER_STYLE_SIZES_CASE = Case(
    "a test with a_S of shape (1, 3, 5, 5) and a_G of shape (1, 2, 3, 5) (in nst the style image may be"
    " larger than the generated image)",
    draw(14, (1, 3, 5, 5), (1, 2, 3, 5)),
)

# compute_style_cost: the mappings hold a layer that style_layers does not name (nst's a_G also
# holds the content layer), and style_layers lists its layers in another order than the mappings.
EXTRA_LAYER = "conv4_2"
_STYLE_SHAPES = {"conv1_1": (1, 4, 6, 2), "conv2_1": (1, 3, 4, 3), "conv3_1": (1, 2, 3, 5), EXTRA_LAYER: (1, 2, 2, 6)}


def _style_mappings(seed):
    """Two fixed mappings from layer name to activation (a_S, a_G), of the shapes above."""
    rng = np.random.default_rng(seed)

    def mapping():
        return {name: rng.normal(1, 4, size=shape).astype(np.float32) for name, shape in _STYLE_SHAPES.items()}

    return mapping(), mapping()


def _every_layer(a):
    """The same activation at each of the exercise's style layers, and at EXTRA_LAYER."""
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


# --- hidden cases: drawn from a seed the learner's kernel never sees --------------------------


@dataclass(frozen=True)
class Hidden:
    """One more case per graded function, drawn from ``seed``, and the seed of train_step's start image.

    Under ``nst grade`` the seed is the judge's secret: a function that answers the published and
    fixed cases from a table (they are all in this file) still meets a case it cannot have seen.
    """

    seed: int
    content: Case
    gram: Case
    layer_style: Case
    style: Case
    total: Case


def _dims(rng):
    """n_H, n_W, n_C: three different sizes from 2 to 7, so that no normaliser equals another."""
    return (int(n) for n in rng.choice(np.arange(2, 8), size=3, replace=False))


def hidden_cases(seed):
    """The Hidden cases of ``seed`` (an int)."""
    rng = np.random.default_rng(seed)

    def normal(*shape):
        return rng.normal(1, 4, size=shape).astype(np.float32)

    n_H, n_W, n_C = _dims(rng)
    content = Case(
        f"a hidden test with a_C, a_G of shape {(1, n_H, n_W, n_C)}",
        (normal(1, n_H, n_W, n_C), normal(1, n_H, n_W, n_C)),
    )
    n_positions = n_C + int(rng.integers(1, 6))
    gram = Case(f"a hidden test with A of shape {(n_C, n_positions)}", (normal(n_C, n_positions),))
    n_H, n_W, n_C = _dims(rng)
    larger = (1, n_H + int(rng.integers(1, 3)), n_W + 1, n_C)  # a_S larger than a_G, as nst allows
    layer_style = Case(
        f"a hidden test with a_S of shape {larger} and a_G of shape {(1, n_H, n_W, n_C)}",
        (normal(*larger), normal(1, n_H, n_W, n_C)),
    )
    names = [name for name, _ in STYLE_LAYERS]
    chosen = [names[i] for i in rng.permutation(len(names))[:3]]
    shapes = {name: (1, *_dims(rng)) for name in (*chosen, EXTRA_LAYER)}
    weights = rng.dirichlet(np.ones(len(chosen)))
    style_layers = tuple((name, round(float(w), 3)) for name, w in zip(chosen, weights))
    a_S = {name: normal(*shape) for name, shape in shapes.items()}
    a_G = {name: normal(*shape) for name, shape in shapes.items()}
    style = Case(f"a hidden test with style_layers = {style_layers}", (a_S, a_G, style_layers))
    J_content, J_style = (round(float(x), 4) for x in rng.uniform(0.1, 10, size=2))
    alpha, beta = (int(x) for x in rng.choice(np.arange(1, 60), size=2, replace=False))
    total = Case(
        f"total_cost({J_content}, {J_style}, alpha={alpha}, beta={beta}), a hidden test",
        (J_content, J_style, {"alpha": alpha, "beta": beta}),
    )
    return Hidden(seed, content, gram, layer_style, style, total)
