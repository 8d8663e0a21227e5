"""Tests for nst.teaching.grader: nst's own functions pass, each classic mistake is named, nothing raises.

Every wrong implementation below is a few lines of TensorFlow a learner could write; the grader
sees only what it returns, so each must be recognised by its values, shapes, dtypes or gradients.
"""

import base64
import itertools

import numpy as np
import pytest
import tensorflow as tf

from nst import costs
from nst.adam import Adam
from nst.config import STYLE_LAYERS
from nst.teaching import compute, grader
from nst.teaching import wire as grader_wire

# --- Building blocks of the learners' functions --------------------------------------------


def dims(a):
    _, n_H, n_W, n_C = a.shape
    return n_H, n_W, n_C


def unroll(a):
    n_H, n_W, n_C = dims(a)
    return tf.transpose(tf.reshape(a, [-1, n_C]))


def sum_of_squares(d):
    return tf.reduce_sum(tf.square(d))


def content_cost(reduce=sum_of_squares, denominator=lambda n_H, n_W, n_C: 4 * n_H * n_W * n_C):
    def compute_content_cost(a_C, a_G):
        return reduce(a_C - a_G) / denominator(*dims(a_G))

    return compute_content_cost


def layer_cost(
    unrolled=unroll,
    gram=lambda A: tf.matmul(A, tf.transpose(A)),
    reduce=sum_of_squares,
    denominator=lambda n_H, n_W, n_C: 4 * n_C**2 * (n_H * n_W) ** 2,
    dims_of_style=False,
):
    def compute_layer_style_cost(a_S, a_G):
        GS, GG = gram(unrolled(a_S)), gram(unrolled(a_G))
        return reduce(GS - GG) / denominator(*dims(a_S if dims_of_style else a_G))

    return compute_layer_style_cost


def style_cost(layer=None):
    def compute_style_cost(a_S, a_G, style_layers):
        J_style = 0
        for name, weight in style_layers:
            J_style += weight * (layer or tf1_layer_cost)(a_S[name], a_G[name])
        return J_style

    return compute_style_cost


# --- Correct implementations, in other spellings than nst's ---------------------------------


def einsum_layer_cost(a_S, a_G):
    n_H, n_W, n_C = dims(a_G)
    GS = tf.einsum("bhwc,bhwd->cd", a_S, a_S)
    GG = tf.einsum("bhwc,bhwd->cd", a_G, a_G)
    return tf.reduce_sum((GS - GG) ** 2) / (4 * n_C**2 * (n_H * n_W) ** 2)


def transpose_first(a):
    # channels first, then reshape: another right order of transpose and reshape
    n_C = a.shape[-1]
    return tf.reshape(tf.transpose(a, [0, 3, 1, 2]), [n_C, -1])


def tf1_layer_cost(a_S, a_G):
    # The TF1 edition's shape calls, with the TF2 edition's [-1, n_C] so that a_S may be larger.
    m, n_H, n_W, n_C = a_G.get_shape().as_list()
    a_S = tf.transpose(tf.reshape(a_S, [-1, n_C]))
    a_G = tf.transpose(tf.reshape(a_G, [-1, n_C]))
    GS = tf.linalg.matmul(a_S, a_S, transpose_b=True)
    GG = tf.linalg.matmul(a_G, a_G, transpose_b=True)
    return tf.reduce_sum(tf.square(tf.subtract(GS, GG))) / (4 * n_C**2 * (n_H * n_W) ** 2)


def tf2_content_cost(a_C, a_G):
    # The TF2 edition: dims from a_G, unrolled, squared difference, normalised.
    _, n_H, n_W, n_C = a_G.get_shape().as_list()
    a_C_unrolled = tf.reshape(a_C, shape=[-1, n_C])
    a_G_unrolled = tf.reshape(a_G, shape=[-1, n_C])
    return tf.reduce_sum(tf.square(tf.subtract(a_C_unrolled, a_G_unrolled))) / (4.0 * n_H * n_W * n_C)


def add_n_style_cost(a_S, a_G, style_layers):
    return tf.add_n([weight * einsum_layer_cost(a_S[name], a_G[name]) for name, weight in style_layers])


@tf.function
def graph_total_cost(J_content, J_style, alpha=10, beta=40):
    return tf.add(alpha * J_content, beta * J_style)


CORRECT = [
    ("compute_content_cost", tf2_content_cost),
    ("compute_content_cost", content_cost(reduce=lambda d: tf.reduce_sum((d) ** 2))),
    ("compute_content_cost", content_cost(reduce=lambda d: tf.norm(d) ** 2)),
    ("compute_content_cost", lambda a_C, a_G: tf.reduce_mean(tf.square(a_C - a_G)) / 4),
    ("gram_matrix", lambda A: tf.matmul(A, tf.transpose(A))),
    ("gram_matrix", lambda A: tf.linalg.matmul(A, A, transpose_b=True)),
    ("gram_matrix", lambda A: tf.einsum("ij,kj->ik", A, A)),
    ("compute_layer_style_cost", einsum_layer_cost),
    ("compute_layer_style_cost", tf1_layer_cost),
    ("compute_layer_style_cost", layer_cost(unrolled=transpose_first)),
    ("compute_layer_style_cost", layer_cost(reduce=lambda d: tf.norm(d) ** 2)),
    ("compute_layer_style_cost", tf.function(layer_cost())),
    ("compute_style_cost", style_cost(einsum_layer_cost)),
    ("compute_style_cost", add_n_style_cost),
    ("total_cost", lambda J_content, J_style, alpha=10, beta=40: alpha * J_content + beta * J_style),
    ("total_cost", graph_total_cost),
]


@pytest.mark.parametrize(("function", "fn"), CORRECT, ids=[f"{f}-{i}" for i, (f, _) in enumerate(CORRECT)])
def test_correct_implementations_pass(function, fn, capsys):
    result = grader.CHECKS[function](fn)
    assert result.passed, result.message
    assert (result.message, result.mistake, result.points) == ("All tests passed", "", grader.GRADED[function])
    assert capsys.readouterr().out == "All tests passed\n"


# --- Wrong implementations: (function, wrong fn, the mistake's key, words its message must hold) ----


def stub(*args, **kwargs):
    raise NotImplementedError


def broken(*args, **kwargs):
    return args[0] @ "oops"


def numpy_content_cost(a_C, a_G):
    n_H, n_W, n_C = dims(a_G)
    return np.sum(np.square(np.array(a_C) - np.array(a_G))) / (4 * n_H * n_W * n_C)


def wrapped_numpy_content_cost(a_C, a_G):
    return tf.constant(numpy_content_cost(a_C, a_G))


def shape_via_numpy_content_cost(a_C, a_G):
    n_H, n_W, n_C = a_G.numpy().shape[1:]  # fine eagerly, not inside tf.function
    return tf.reduce_sum(tf.square(a_C - a_G)) / (4 * n_H * n_W * n_C)


@tf.custom_gradient
def doubled_gradient(x):
    return tf.identity(x), lambda dy: 2 * dy


def bare_reshape(a):
    n_H, n_W, n_C = dims(a)
    return tf.reshape(a, [n_C, n_H * n_W])


def positions(a):
    return tf.reshape(a, [-1, a.shape[-1]])  # (n_H·n_W, n_C), never transposed


def tf1_sized_layer_cost(a_S, a_G):
    # reshapes a_S with a_G's n_H·n_W: right when both have the same size only
    n_H, n_W, n_C = dims(a_G)
    a_S = tf.transpose(tf.reshape(a_S, [n_H * n_W, n_C]))
    a_G = tf.transpose(tf.reshape(a_G, [n_H * n_W, n_C]))
    return sum_of_squares(tf.matmul(a_S, a_S, transpose_b=True) - tf.matmul(a_G, a_G, transpose_b=True)) / (
        4 * n_C**2 * (n_H * n_W) ** 2
    )


def overwriting_style_cost(a_S, a_G, style_layers):
    for name, weight in style_layers:
        J_style = weight * tf1_layer_cost(a_S[name], a_G[name])
    return J_style


def zipped_style_cost(a_S, a_G, style_layers):
    J_style = 0
    for name, (_, weight) in zip(a_S, style_layers):
        J_style += weight * tf1_layer_cost(a_S[name], a_G[name])
    return J_style


def every_layer_style_cost(a_S, a_G, style_layers):
    return tf.add_n([tf1_layer_cost(a_S[name], a_G[name]) for name in a_G])


def indexed_style_cost(a_S, a_G, style_layers):
    # the TF2 edition's lists of activations; nst passes dictionaries
    return sum(weight * tf1_layer_cost(a_S[i], a_G[i]) for i, (_, weight) in enumerate(style_layers))


def numpy_style_cost(a_S, a_G, style_layers):
    J = sum(weight * tf1_layer_cost(a_S[name], a_G[name]).numpy() for name, weight in style_layers)
    return tf.constant(J, tf.float32)


WRONG = [
    # compute_content_cost
    ("compute_content_cost", content_cost(denominator=lambda *d: 1), "no-normalisation", "normalisation"),
    ("compute_content_cost", lambda a_C, a_G: tf.reduce_mean(tf.square(a_C - a_G)), "missing-quarter", "4 times"),
    ("compute_content_cost", content_cost(denominator=lambda n_H, n_W, n_C: 4 * n_H * n_W), "wrong-normaliser", "n_C"),
    (
        "compute_content_cost",
        lambda a_C, a_G: tf.reduce_sum(tf.square(a_C - a_G)) / 4 * dims(a_G)[0] * dims(a_G)[1] * dims(a_G)[2],
        "wrong-normaliser",
        "parentheses",
    ),
    ("compute_content_cost", content_cost(reduce=tf.reduce_sum), "no-square", "square is missing"),
    ("compute_content_cost", content_cost(reduce=tf.norm), "sqrt", "square root"),
    ("compute_content_cost", lambda a_C, a_G: tf.sqrt(tf2_content_cost(a_C, a_G)), "sqrt", "root"),
    ("compute_content_cost", content_cost(reduce=lambda d: tf.reduce_sum(tf.abs(d))), "abs-not-square", "absolute"),
    ("compute_content_cost", content_cost(reduce=lambda d: tf.reduce_sum(d) ** 2), "square-of-sum", "square of"),
    ("compute_content_cost", numpy_content_cost, "numpy", "NumPy"),
    ("compute_content_cost", wrapped_numpy_content_cost, "numpy", "No gradient flows"),
    ("compute_content_cost", shape_via_numpy_content_cost, "tf-function", "tf.function"),
    ("compute_content_cost", lambda a_C, a_G: float(tf2_content_cost(a_C, a_G)), "python-float", "float"),
    ("compute_content_cost", content_cost(reduce=lambda d: tf.reduce_sum(d**2, axis=-1)), "non-scalar", "scalar"),
    (
        "compute_content_cost",
        lambda a_C, a_G: tf.cast(tf2_content_cost(a_C, a_G), tf.float64),
        "dtype",
        "float64",
    ),
    (
        "compute_content_cost",
        lambda a_C, a_G: tf2_content_cost(a_C, doubled_gradient(a_G)),
        "gradient-mismatch",
        "gradient",
    ),
    ("compute_content_cost", lambda a_C, a_G: tf2_content_cost(a_C, a_G) / 0, "not-finite", "inf"),
    ("compute_content_cost", lambda a_C, a_G: None, "none", "return"),
    ("compute_content_cost", stub, "not-implemented", "not implemented yet"),
    ("compute_content_cost", broken, "exception", "raised"),
    ("compute_content_cost", "compute_content_cost", "not-callable", "not a function"),
    # gram_matrix
    ("gram_matrix", lambda A: tf.matmul(A, A, transpose_a=True), "gram-transposed", "that is AᵀA"),
    ("gram_matrix", lambda A: A * A, "elementwise-product", "entry-by-entry"),
    ("gram_matrix", lambda A: tf.reduce_sum(A * A, axis=1), "wrong-shape", "shape"),
    ("gram_matrix", lambda A: tf.matmul(A, A, transpose_b=True) / A.shape[1], "scaled-gram", "× A·Aᵀ"),
    ("gram_matrix", lambda A: tf.matmul(A, A, transpose_b=True) + 1, "wrong-value", "dot product"),
    ("gram_matrix", lambda A: np.dot(A, np.transpose(A)), "numpy", "NumPy"),
    ("gram_matrix", lambda A: tf.constant(np.dot(A, np.transpose(A))), "numpy", "No gradient flows"),
    ("gram_matrix", lambda A: tf.cast(tf.matmul(A, A, transpose_b=True), tf.float64), "dtype", "float64"),
    ("gram_matrix", stub, "not-implemented", "not implemented yet"),
    # compute_layer_style_cost
    ("compute_layer_style_cost", layer_cost(unrolled=bare_reshape), "bare-reshape", "transpose"),
    ("compute_layer_style_cost", layer_cost(unrolled=positions), "gram-transposed", "AᵀA"),
    (
        "compute_layer_style_cost",
        layer_cost(gram=lambda A: tf.matmul(A, A, transpose_a=True)),
        "gram-transposed",
        "AᵀA",
    ),
    ("compute_layer_style_cost", layer_cost(denominator=lambda *d: 1), "no-normalisation", "normalisation"),
    (
        "compute_layer_style_cost",
        layer_cost(denominator=lambda n_H, n_W, n_C: n_C**2 * (n_H * n_W) ** 2),
        "missing-quarter",
        "4 times",
    ),
    (
        "compute_layer_style_cost",
        layer_cost(denominator=lambda n_H, n_W, n_C: 4 * n_H * n_W * n_C),
        "wrong-normaliser",
        "content cost's",
    ),
    (
        "compute_layer_style_cost",
        layer_cost(denominator=lambda n_H, n_W, n_C: 4 * n_C * (n_H * n_W) ** 2),
        "wrong-normaliser",
        "not squared",
    ),
    ("compute_layer_style_cost", layer_cost(dims_of_style=True), "dims-from-style", "a_G"),
    ("compute_layer_style_cost", tf1_sized_layer_cost, "unrolled-with-wrong-dims", "own size"),
    ("compute_layer_style_cost", layer_cost(reduce=tf.reduce_sum), "no-square", "square is missing"),
    ("compute_layer_style_cost", layer_cost(reduce=tf.norm), "sqrt", "square root"),
    ("compute_layer_style_cost", layer_cost(reduce=lambda d: tf.reduce_sum(tf.abs(d))), "abs-not-square", "absolute"),
    ("compute_layer_style_cost", layer_cost(reduce=lambda d: tf.reduce_sum(d) ** 2), "square-of-sum", "square of"),
    (
        "compute_layer_style_cost",
        layer_cost(gram=lambda A: tf.constant(np.dot(A, np.transpose(A)))),
        "numpy",
        "No gradient flows",
    ),
    (
        "compute_layer_style_cost",
        lambda a_S, a_G: tf1_layer_cost(a_S, a_G).numpy(),
        "numpy",
        "NumPy",
    ),
    (
        "compute_layer_style_cost",
        lambda a_S, a_G: float(tf1_layer_cost(a_S, a_G)),
        "python-float",
        "float",
    ),
    (
        "compute_layer_style_cost",
        layer_cost(reduce=lambda d: tf.reduce_sum(tf.square(d), axis=0)),
        "non-scalar",
        "scalar",
    ),
    ("compute_layer_style_cost", stub, "not-implemented", "not implemented yet"),
    # compute_style_cost
    # three times the right layer cost: no known mistake does that, so it is a wrong value, named as such
    (
        "compute_style_cost",
        style_cost(lambda a_S, a_G: 3 * tf1_layer_cost(a_S, a_G)),
        "wrong-value",
        "expected",
    ),
    (
        "compute_style_cost",
        lambda a_S, a_G, style_layers: style_cost()(a_S, a_G, [(name, 1.0) for name, _ in style_layers]),
        "ignores-weights",
        "weights λ",
    ),
    ("compute_style_cost", overwriting_style_cost, "last-layer-only", "overwritten"),
    ("compute_style_cost", zipped_style_cost, "weights-to-wrong-layers", "wrong layers"),
    ("compute_style_cost", every_layer_style_cost, "layers-from-mapping", "conv4_2"),
    ("compute_style_cost", style_cost(layer_cost(unrolled=bare_reshape)), "layer-cost-wrong", "transpose"),
    ("compute_style_cost", style_cost(layer_cost(denominator=lambda *d: 1)), "layer-cost-wrong", "normalisation"),
    ("compute_style_cost", indexed_style_cost, "exception", "dictionaries"),
    ("compute_style_cost", numpy_style_cost, "numpy", "No gradient flows"),
    (
        "compute_style_cost",
        lambda a_S, a_G, style_layers: float(add_n_style_cost(a_S, a_G, style_layers)),
        "python-float",
        "float",
    ),
    ("compute_style_cost", stub, "not-implemented", "not implemented yet"),
    # total_cost
    (
        "total_cost",
        lambda J_content, J_style, alpha=10, beta=40: beta * J_content + alpha * J_style,
        "swapped-alpha-beta",
        "swapped",
    ),
    (
        "total_cost",
        lambda J_content, J_style, alpha=10, beta=40: 10 * J_content + 40 * J_style,
        "ignores-alpha-beta",
        "ignores",
    ),
    (
        "total_cost",
        lambda J_content, J_style, alpha=40, beta=10: alpha * J_content + beta * J_style,
        "wrong-defaults",
        "default",
    ),
    ("total_cost", lambda J_content, J_style, alpha=10, beta=40: J_content + J_style, "missing-weights", "missing"),
    ("total_cost", lambda J_content, J_style, alpha=10, beta=40: alpha * J_content, "one-term", "J_style is missing"),
    (
        "total_cost",
        lambda J_content, J_style, alpha=10, beta=40: float(alpha * J_content + beta * J_style),
        "python-float",
        "float",
    ),
    (
        "total_cost",
        lambda J_content, J_style, alpha=10, beta=40: tf.constant(alpha * J_content.numpy() + beta * J_style.numpy()),
        "numpy",
        "No gradient flows",
    ),
    ("total_cost", stub, "not-implemented", "not implemented yet"),
]


@pytest.mark.parametrize(
    ("function", "fn", "key", "words"), WRONG, ids=[f"{w[0]}-{w[2]}-{i}" for i, w in enumerate(WRONG)]
)
def test_mistakes_are_named(function, fn, key, words, capsys):
    result = grader.CHECKS[function](fn)
    assert not result.passed
    assert (result.mistake, result.points, result.max_points) == (key, 0, grader.GRADED[function]), result.message
    assert words in result.message
    assert "Hint:" in result.message
    assert str(result) == result.message
    assert capsys.readouterr().out == result.message + "\n"


def test_each_listed_mistake_has_its_own_message():
    # The list, one wrong function each: all different messages, none empty.
    listed = {
        "bare reshape": ("compute_layer_style_cost", layer_cost(unrolled=bare_reshape)),
        "AᵀA": ("gram_matrix", lambda A: tf.matmul(A, A, transpose_a=True)),
        "missing normalisation": ("compute_content_cost", content_cost(denominator=lambda *d: 1)),
        "wrong normalisation": ("compute_layer_style_cost", layer_cost(denominator=lambda h, w, c: 4 * h * w * c)),
        "dims from a_S": ("compute_layer_style_cost", layer_cost(dims_of_style=True)),
        "no square": ("compute_content_cost", content_cost(reduce=tf.reduce_sum)),
        "sqrt": ("compute_content_cost", content_cost(reduce=tf.norm)),
        "alpha/beta swapped": ("total_cost", lambda J_c, J_s, alpha=10, beta=40: beta * J_c + alpha * J_s),
        "weights ignored": ("compute_style_cost", lambda a_S, a_G, layers: every_layer_style_cost(a_S, a_G, layers)),
        "NumPy": ("compute_content_cost", wrapped_numpy_content_cost),
        "non-scalar": ("compute_content_cost", content_cost(reduce=lambda d: tf.reduce_sum(d**2, axis=-1))),
        "Python float": ("compute_content_cost", lambda a_C, a_G: float(tf2_content_cost(a_C, a_G))),
    }
    messages = {what: grader.CHECKS[function](fn, quiet=True).message for what, (function, fn) in listed.items()}
    assert len(set(messages.values())) == len(messages)


# --- Nothing the learner's function does makes a check raise ------------------------------


@pytest.mark.parametrize(
    "returned",
    [lambda: "a string", lambda: [1.0, 2.0], lambda: tf.constant("x"), lambda: tf.constant(3), lambda: {"J": 1.0}],
    ids=["str", "list", "string-tensor", "int-tensor", "dict"],
)
@pytest.mark.parametrize("function", [name for name in grader.CHECKS if name != "train_step"])
def test_odd_results_fail_without_raising(function, returned):
    result = grader.CHECKS[function](lambda *args, **kwargs: returned(), quiet=True)
    assert not result.passed
    assert result.message and result.mistake


def test_quiet_prints_nothing(capsys):
    result = grader.check_gram_matrix(lambda A: A, quiet=True)
    assert not result.passed
    assert capsys.readouterr().out == ""


# --- The grader's own numbers -------------------------------------------------------------


def test_published_inputs_are_the_exercise_draws():
    tf.random.set_seed(1)
    first = tf.random.normal([1, 4, 4, 3], mean=1, stddev=4)
    second = tf.random.normal([1, 4, 4, 3], mean=1, stddev=4)
    tf.random.set_seed(1)
    A = tf.random.normal([3, 2], mean=1, stddev=4)
    published_first, published_second = grader.published_pair()
    np.testing.assert_array_equal(published_first, first.numpy())
    np.testing.assert_array_equal(published_second, second.numpy())
    np.testing.assert_array_equal(grader.published_A(), A.numpy())


def test_published_numbers_are_nst_s():
    a, b = grader.published_pair()
    np.testing.assert_allclose(costs.compute_content_cost(a, b).numpy(), grader.PUBLISHED_CONTENT_COST, rtol=1e-6)
    np.testing.assert_allclose(costs.gram_matrix(grader.published_A()).numpy(), grader.PUBLISHED_GRAM, rtol=1e-6)
    np.testing.assert_allclose(
        costs.compute_layer_style_cost(a, b).numpy(), grader.PUBLISHED_LAYER_STYLE_COST, rtol=1e-6
    )
    for case in grader.TOTAL_CASES:
        J_content, J_style, kwargs = case.args
        np.testing.assert_allclose(costs.total_cost(J_content, J_style, **kwargs).numpy(), case.expected, rtol=1e-6)


def test_reference_formulas_agree_with_nst():
    for case in grader.CONTENT_CASES:
        np.testing.assert_allclose(grader.content_cost(*case.args), costs.compute_content_cost(*case.args), rtol=1e-5)
    for case in (*grader.LAYER_STYLE_CASES, grader.LAYER_STYLE_SIZES_CASE):
        J = costs.compute_layer_style_cost(*case.args)
        np.testing.assert_allclose(grader.layer_style_cost(*case.args), J, rtol=1e-5)
    for case in grader.STYLE_CASES:
        np.testing.assert_allclose(grader.style_cost(*case.args), costs.compute_style_cost(*case.args), rtol=1e-5)
    assert grader.STYLE_CASES[0].args[2] == STYLE_LAYERS


@pytest.mark.parametrize(
    ("cases", "mistakes", "reference"),
    [
        (grader.CONTENT_CASES, grader.CONTENT_MISTAKES, grader.content_cost),
        (
            (*grader.LAYER_STYLE_CASES, grader.LAYER_STYLE_SIZES_CASE),
            grader.LAYER_STYLE_MISTAKES,
            grader.layer_style_cost,
        ),
        (grader.STYLE_CASES, grader.STYLE_MISTAKES, grader.style_cost),
        (grader.TOTAL_CASES, grader.TOTAL_MISTAKES, None),
    ],
    ids=["content", "layer-style", "style", "total"],
)
def test_no_two_mistakes_give_the_same_value(cases, mistakes, reference):
    # A mistake is named when it gives the learner's values on every case where it applies. So any
    # two mistakes must differ, by far more than the matching tolerance, on a case where both apply,
    # and every mistake must differ from the right answer somewhere: then the one named is the one made.
    def values(known):
        return [known.value(*case.args) for case in cases]

    right = [case.expected if case.expected is not None else reference(*case.args) for case in cases]

    def differ(xs, ys):
        return any(
            x is not None and y is not None and not np.isclose(x, y, rtol=10 * grader.MATCH_RTOL)
            for x, y in zip(xs, ys)
        )

    for known in mistakes:
        assert differ(values(known), right), known.message
    for first, second in itertools.combinations(mistakes, 2):
        xs, ys = values(first), values(second)
        if any(x is not None and y is not None for x, y in zip(xs, ys)):
            assert differ(xs, ys), (first.message, second.message)


def test_tables():
    assert list(grader.GRADED) == list(grader.CHECKS)
    assert sum(grader.GRADED.values()) == 10
    keys = {known.key for known in grader.CONTENT_MISTAKES + grader.LAYER_STYLE_MISTAKES}
    keys |= {known.key for known in grader.STYLE_MISTAKES + grader.TOTAL_MISTAKES}
    keys |= {key for _, _, key, _ in WRONG}
    assert keys <= set(grader.MISTAKES)


# --- train_step ---------------------------------------------------------------------------


def tiny_problem(seed=0):
    """A stand-in for VGG19: one fixed convolution, its ReLU as the 'style layer' and 'content layer'."""
    rng = np.random.default_rng(seed)
    kernel = tf.constant(rng.normal(0, 0.3, size=(3, 3, 3, 4)), tf.float32)

    def activation(image):
        return tf.nn.relu(tf.nn.conv2d(image, kernel, strides=1, padding="SAME"))

    content = tf.constant(rng.normal(size=(1, 8, 10, 3)), tf.float32)
    style = tf.constant(rng.normal(size=(1, 12, 10, 3)), tf.float32)  # another size, as nst allows
    a_C, a_S = activation(content), {"conv1_1": activation(style)}
    image = tf.Variable(content + tf.constant(rng.normal(size=(1, 8, 10, 3)), tf.float32))

    def cost(generated_image):
        a_G = activation(generated_image)
        J_content = tf2_content_cost(a_C, a_G)  # the learner's own costs: nst's would earn no points
        J_style = add_n_style_cost(a_S, {"conv1_1": a_G}, [("conv1_1", 1.0)])
        return 10 * J_content + 40 * J_style

    return image, cost


def make_step(update):
    image, cost = tiny_problem()
    optimizer = Adam(image, learning_rate=0.05)

    @tf.function
    def train_step(generated_image):
        with tf.GradientTape() as tape:
            J = cost(generated_image)
        grad = tape.gradient(J, generated_image)
        update(optimizer, generated_image, grad)
        return J

    return train_step, image


def test_train_step_passes_a_real_step(capsys):
    train_step, image = make_step(lambda optimizer, image, grad: optimizer.apply(grad))
    result = grader.check_train_step(train_step, image)
    assert result.passed, result.message
    assert (result.points, result.max_points) == (2, 2)
    assert capsys.readouterr().out == "All tests passed\n"


def test_train_step_with_keras_adam_passes():
    image, cost = tiny_problem()
    optimizer = tf.keras.optimizers.Adam(learning_rate=0.05)

    def train_step(generated_image):  # the TF2 edition's shape, eager
        with tf.GradientTape() as tape:
            J = cost(generated_image)
        grad = tape.gradient(J, generated_image)
        optimizer.apply_gradients([(grad, generated_image)])
        generated_image.assign(tf.clip_by_value(generated_image, -10.0, 10.0))
        return J

    assert grader.check_train_step(train_step, image, quiet=True).passed


@pytest.mark.parametrize(
    ("update", "key", "words"),
    [
        (lambda optimizer, image, grad: None, "never-applies-gradient", "never applies the gradient"),
        (lambda optimizer, image, grad: image.assign_add(0.05 * tf.sign(grad)), "cost-not-decreasing", "up"),
        (lambda optimizer, image, grad: image.assign_sub(grad * np.nan), "not-finite", "NaN"),
    ],
    ids=["no-apply", "ascent", "nan"],
)
def test_train_step_mistakes(update, key, words):
    train_step, image = make_step(update)
    result = grader.check_train_step(train_step, image, quiet=True)
    assert (result.passed, result.mistake) == (False, key), result.message
    assert words in result.message and "Hint:" in result.message


def test_train_step_failures_do_not_raise():
    train_step, image = make_step(lambda optimizer, image, grad: optimizer.apply(grad))
    cases = {
        "python-float": (lambda generated_image: float(train_step(generated_image)), image),
        "exception": (broken, image),
        "not-implemented": (stub, image),
        "none": (lambda generated_image: None, image),
        "not-a-variable": (train_step, tf.constant(image)),
    }
    for key, (step, argument) in cases.items():
        result = grader.check_train_step(step, argument, quiet=True)
        assert (result.passed, result.mistake) == (False, key), result.message


# --- Points only for the learner's own work ------------------------------------------------

NST_OWN = [
    ("compute_content_cost", costs.compute_content_cost),  # is nst's
    ("gram_matrix", lambda A: costs.gram_matrix(A)),  # wraps it
    ("compute_layer_style_cost", tf.function(costs.compute_layer_style_cost)),  # wraps it in tf.function
    ("compute_style_cost", lambda a_S, a_G, style_layers: costs.compute_style_cost(a_S, a_G, style_layers)),
    ("total_cost", costs.total_cost),
]


@pytest.mark.parametrize(("function", "fn"), NST_OWN, ids=[f for f, _ in NST_OWN])
def test_nst_s_own_solution_earns_no_points(function, fn):
    result = grader.CHECKS[function](fn, quiet=True)
    assert (result.passed, result.points, result.mistake) == (False, 0, "uses-nst-solution"), result.message
    assert "nst's own solution of the exercise (nst.costs)" in result.message and "Hint:" in result.message


# --- Cases the learner's function cannot have seen -------------------------------------------


def test_hidden_cases_come_from_their_seed():
    first, again, other = grader.hidden_cases(7), grader.hidden_cases(7), grader.hidden_cases(8)
    np.testing.assert_array_equal(first.content.args[0], again.content.args[0])
    assert first.style.label == again.style.label
    assert first.content.label != other.content.label or not np.array_equal(
        first.content.args[0], other.content.args[0]
    )
    for seed in range(20):
        hidden = grader.hidden_cases(seed)
        _, n_H, n_W, n_C = hidden.content.args[1].shape
        assert len({n_H, n_W, n_C}) == 3  # distinct: every normaliser gives its own value
        a_S, a_G = hidden.layer_style.args
        assert a_S.shape[1] * a_S.shape[2] > a_G.shape[1] * a_G.shape[2] and a_S.shape[3] == a_G.shape[3]
        assert np.isclose(sum(w for _, w in hidden.style.args[2]), 1, atol=2e-3)


def _table(cases, answers):
    """A 'function' that knows the answers of ``cases`` (their inputs' bytes) and returns 0 for anything else."""
    table = {b"".join(np.asarray(a, np.float32).tobytes() for a in case.args[:2]): answer for case, answer in answers}

    def looked_up(*args):
        key = b"".join(np.asarray(a, np.float32).tobytes() for a in args[:2])
        return tf.constant(table.get(key, 0.0), tf.float32)

    return looked_up


def test_a_table_of_every_fixed_answer_fails_on_the_hidden_case():
    cases = grader.CONTENT_CASES
    answers = [(case, case.expected or grader.content_cost(*case.args)) for case in cases]
    result = grader.check_compute_content_cost(_table(cases, answers), quiet=True)
    assert not result.passed and "a hidden test" in result.message, result.message


class Forger:
    """A computer whose replies are made up: every value the fixed cases' right answer, in a well-formed reply."""

    def __init__(self, replies):
        self.replies = replies

    def ask(self, call):
        return self.replies(call)


def _scalar(value, dtype="float32"):
    data = base64.b64encode(np.float64(value).tobytes()).decode()
    return {"returned": {"kind": "tensor", "dtype": dtype, "shape": [], "data": data}}


GARBLED = [
    None,
    [],
    {"returned": None},
    {"returned": {"kind": "tensor", "dtype": "float32", "shape": [], "data": "not base64!"}},
    {"returned": {"kind": "tensor", "dtype": "float32", "shape": [3], "data": base64.b64encode(b"\0" * 8).decode()}},
    {"returned": {"kind": "tensor", "dtype": "float32", "shape": [1 << 20, 1 << 20]}},
    {"returned": {"kind": "tensor", "dtype": "evil", "shape": []}},
    {"returned": {"kind": "python", "type": "float", "value": "__import__('os')"}},
    {"returned": {"kind": "other", "type": "<script>"}},
    {"raised": "not a dict"},
    {"gradients": {"nope": None}},
    {"used": "everything"},
]


@pytest.mark.parametrize("reply", GARBLED, ids=[f"garbled-{i}" for i in range(len(GARBLED))])
@pytest.mark.parametrize("function", [name for name in grader.JUDGES if name != "train_step"])
def test_made_up_replies_never_pass_and_never_raise(function, reply):
    result = grader.JUDGES[function](Forger(lambda call: reply), grader.hidden_cases(1))
    assert not result.passed and result.points == 0 and result.message and result.mistake


def test_published_answers_in_well_formed_replies_fail():
    # A kernel that answers every call with the exercise's published number: the hidden case tells.
    forger = Forger(lambda call: _scalar(grader.PUBLISHED_CONTENT_COST))
    result = grader.JUDGES["compute_content_cost"](forger, grader.hidden_cases(2))
    assert not result.passed and result.mistake == "wrong-value", result.message


def test_a_forged_train_step_reply_fails_without_images():
    # No image ever changes, whatever J says: the step is not a step.
    before = grader_wire.encode(np.zeros((1, 32, 48, 3)))
    reply = {**_scalar(1.0), "before": before, "after": before}
    result = grader.JUDGES["train_step"](Forger(lambda call: reply))
    assert (result.passed, result.mistake) == (False, "never-applies-gradient")


# --- train_step against the exercise's own cost, with the real VGG19 ------------------------------


@pytest.fixture(scope="module")
def notebook_namespace(weights_h5):
    """What the notebook has when its train_step is checked, at 32x48: images, targets, the model, Adam."""
    from nst.config import CONTENT_IMAGE, CONTENT_LAYER, STYLE_IMAGE
    from nst.images import generate_noise_image, load_image
    from nst.kernels import FastKernels
    from nst.vgg import load_vgg_model

    graph = load_vgg_model(weights_h5, 32, 48, kernels=FastKernels)
    content_image, style_image = load_image(CONTENT_IMAGE, 32, 48), load_image(STYLE_IMAGE, 32, 48)
    model = graph.model([CONTENT_LAYER] + [name for name, _ in STYLE_LAYERS])
    a_C, a_S = model(tf.constant(content_image))[CONTENT_LAYER], model(tf.constant(style_image))
    return dict(content_image=content_image, style_image=style_image, model=model, a_C=a_C, a_S=a_S,
                start=generate_noise_image(content_image, 0.6, seed=1), layer=CONTENT_LAYER)  # fmt: skip


def notebook_step(ns, alpha=10, beta=40, fake=False):
    image = tf.Variable(ns["start"])
    optimizer, counter = Adam(image, learning_rate=2.0), tf.Variable(1000.0)

    @tf.function
    def train_step(generated_image):
        if fake:  # a made-up J going down, and an image that moves
            generated_image.assign_sub(tf.ones_like(generated_image))
            return counter.assign_sub(1.0)
        with tf.GradientTape() as tape:
            a_G = ns["model"](generated_image)
            J_content = tf2_content_cost(ns["a_C"], a_G[ns["layer"]])
            J = alpha * J_content + beta * add_n_style_cost(ns["a_S"], a_G, STYLE_LAYERS)
        optimizer.apply(tape.gradient(J, generated_image))
        return J

    return train_step, image


@pytest.mark.slow
def test_train_step_is_measured_against_the_exercise_s_cost(notebook_namespace):
    ns = notebook_namespace
    images = (ns["content_image"], ns["style_image"])
    result = grader.check_train_step(*notebook_step(ns), *images, quiet=True)
    assert result.passed, result.message
    fake = grader.check_train_step(*notebook_step(ns, fake=True), *images, quiet=True)
    assert (fake.passed, fake.mistake) == (False, "wrong-cost"), fake.message
    assert "J = 999" in fake.message and "the exercise's cost of the image it was given is" in fake.message
    assert grader.check_train_step(*notebook_step(ns, fake=True), quiet=True).passed  # without images: not measured
    step, image = notebook_step(ns, alpha=40, beta=10)
    notebook = {
        "train_step": step,
        "generated_image": image,
        **{name: ns[name] for name in ("content_image", "style_image")},
    }
    swapped = grader.JUDGES["train_step"](
        compute.Local(notebook), grader.hidden_cases(3), measure=True, failed=["total_cost"]
    )
    assert (swapped.passed, swapped.mistake) == (False, "wrong-cost"), swapped.message
    assert "total_cost failed its own check: fix it first." in swapped.message
