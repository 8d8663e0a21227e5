"""The catalogue of known mistakes: for each graded cost, the classic wrong formulas, each named.

A known mistake (``Known``) is a key (``MISTAKES`` in ``results`` says what each means), a few
lines of NumPy computing what the wrong formula returns on a case's inputs, and the message that
explains it to the learner. A check names a mistake when the learner's values are that mistake's
on every case where it applies (``driver.recognise``); tests/test_grader.py checks that any two
mistakes differ on some case, and that a wrong implementation of each is recognised.

- ``CONTENT_MISTAKES``      compute_content_cost: normalisation, square, root, ...
- ``LAYER_STYLE_MISTAKES``  compute_layer_style_cost: unrolling, AᵀA, normalisation, dims of a_S, ...
- ``STYLE_MISTAKES``        compute_style_cost: weights, accumulation, layers; or a wrong layer cost
- ``TOTAL_MISTAKES``        total_cost: α and β swapped, ignored, missing, one term twice

The content cost's a_C and a_G have the same shape by contract, so "dims taken from the wrong
tensor" cannot change its value; it is recognised in the layer style cost, where nst lets the
style image (a_S) have another size than the generated image (a_G, whose dims the normalisation
uses). The mistakes a check sees in a result's type, shape or gradient rather than in its value
(NumPy, a Python float, AᵀA's shape in gram_matrix, ...) are named by the checks themselves.

The ``*_HINT`` texts are the right formula as a learner would write it; the checks use them too.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nst.config import ALPHA, BETA
from nst.teaching.grader.cases import EXTRA_LAYER
from nst.teaching.grader.references import content_cost, dims, layer_style_cost, sum_of_squares, unrolled

# --- Wrong pieces: unrollings and sums that a mistaken formula uses ---------------------------


def _bare_reshape(a):
    """(1, n_H, n_W, n_C) -> (n_C, n_H·n_W) by a bare reshape: rows mix channels of several positions."""
    return a.reshape(a.shape[-1], -1)


def _positions(a):
    """(1, n_H, n_W, n_C) -> (n_H·n_W, n_C): unrolled but never transposed; its "Gram" is AᵀA."""
    return a.reshape(-1, a.shape[-1])


def _bare_positions(a):
    return _bare_reshape(a).T


def _plain_sum(d):
    return np.sum(d)


def _sum_of_abs(d):
    return np.sum(np.abs(d))


def _root_of_sum_of_squares(d):
    return math.sqrt(np.sum(np.square(d)))


def _square_of_sum(d):
    return np.sum(d) ** 2


# --- A known mistake --------------------------------------------------------------------------


@dataclass(frozen=True)
class Known:
    """A known mistake: ``value(*args)`` is what it returns (None where it cannot be told apart)."""

    key: str
    value: Callable
    message: str


def _sqrt_of(reference):
    """The square root of the whole cost: a tf.sqrt or tf.norm around the formula."""

    def value(*args):
        return math.sqrt(reference(*args))

    return value


# --- compute_content_cost ------------------------------------------------------------------


def _content_denominator(n_H, n_W, n_C):
    return 4 * n_H * n_W * n_C


def _content_variant(reduce=sum_of_squares, denominator=_content_denominator):
    """The content cost with its sum or its denominator replaced: a mistake's ``value(a_C, a_G)``."""

    def value(a_C, a_G):
        d = a_C.astype(np.float64) - a_G
        return reduce(d) / denominator(*dims(a_G))

    return value


CONTENT_FORMULA = "J_content = Σ (a_C − a_G)² / (4·n_H·n_W·n_C), with n_H, n_W, n_C from a_G's shape"
CONTENT_HINT = "Hint: tf.reduce_sum(tf.square(a_C - a_G)) / (4 * n_H * n_W * n_C)."


def _content_wrong_denominator(what):
    return f"That is Σ (a_C − a_G)² divided by {what}; the content cost divides by 4·n_H·n_W·n_C.\n{CONTENT_HINT}"


CONTENT_MISTAKES = (
    Known(
        "no-normalisation",
        _content_variant(denominator=lambda n_H, n_W, n_C: 1),
        "That is the plain sum of squared differences: the normalisation 1/(4·n_H·n_W·n_C) is missing.\n"
        "Hint: divide the sum by (4 * n_H * n_W * n_C), with n_H, n_W, n_C read from a_G.shape.",
    ),
    Known(
        "missing-quarter",
        _content_variant(denominator=lambda n_H, n_W, n_C: n_H * n_W * n_C),
        "That is 4 times too large: it divides by n_H·n_W·n_C (or takes a mean) without the 4.\n"
        "Hint: divide the sum by (4 * n_H * n_W * n_C).",
    ),
    Known(
        "wrong-normaliser",
        _content_variant(denominator=lambda n_H, n_W, n_C: 4 * n_H * n_W),
        _content_wrong_denominator("4·n_H·n_W (n_C is missing)"),
    ),
    Known(
        "wrong-normaliser",
        _content_variant(denominator=lambda n_H, n_W, n_C: 4 * (n_H * n_W * n_C) ** 2),
        _content_wrong_denominator(
            "4·(n_H·n_W·n_C)² (the style cost's 4·n_C²·(n_H·n_W)², or a reduce_mean as well as the factor)"
        ),
    ),
    Known(
        "wrong-normaliser",
        _content_variant(denominator=lambda n_H, n_W, n_C: 2 * n_H * n_W * n_C),
        _content_wrong_denominator("2·n_H·n_W·n_C"),
    ),
    Known(
        "wrong-normaliser",
        _content_variant(denominator=lambda n_H, n_W, n_C: 4 / (n_H * n_W * n_C)),
        "That is what `sum / 4 * n_H * n_W * n_C` computes: without parentheses Python divides by 4, then "
        "multiplies by n_H, n_W and n_C.\nHint: put the whole denominator in parentheses: sum / (4 * n_H * n_W * n_C).",
    ),
    Known(
        "no-square",
        _content_variant(reduce=_plain_sum),
        "That is the sum of the differences a_C − a_G, not of their squares: the square is missing.\n"
        "Hint: tf.reduce_sum(tf.square(a_C - a_G)), or tf.reduce_sum((a_C - a_G) ** 2).",
    ),
    Known(
        "abs-not-square",
        _content_variant(reduce=_sum_of_abs),
        "That is the sum of the absolute differences |a_C − a_G|; the cost sums their squares.\n"
        "Hint: tf.square(a_C - a_G) instead of tf.abs(a_C - a_G).",
    ),
    Known(
        "sqrt",
        _content_variant(reduce=_root_of_sum_of_squares),
        "That uses the square root of the sum of squares (what tf.norm or tf.sqrt gives); the cost is the "
        "sum of squares itself, no root.\nHint: drop the tf.sqrt, or square the norm: tf.norm(a_C - a_G) ** 2.",
    ),
    Known(
        "sqrt",
        _sqrt_of(content_cost),
        "That is the square root of the cost (a tf.sqrt or tf.norm around the whole formula); the cost has no "
        "root.\nHint: drop the tf.sqrt, or square the norm: tf.norm(a_C - a_G) ** 2.",
    ),
    Known(
        "square-of-sum",
        _content_variant(reduce=_square_of_sum),
        "That is the square of the summed differences; the cost is the sum of the squared differences.\n"
        "Hint: square first, then sum: tf.reduce_sum(tf.square(a_C - a_G)).",
    ),
)


# --- compute_layer_style_cost --------------------------------------------------------------


def _style_denominator(n_H, n_W, n_C):
    return 4 * n_C**2 * (n_H * n_W) ** 2


def _layer_variant(unroll=unrolled, reduce=sum_of_squares, denominator=_style_denominator, dims_of_style=False):
    """The layer style cost with one piece replaced (the unrolling, the sum, the denominator, or the dims
    taken from a_S): a mistake's ``value(a_S, a_G)``."""

    def value(a_S, a_G):
        A_S, A_G = unroll(a_S.astype(np.float64)), unroll(a_G.astype(np.float64))
        G_S, G_G = A_S @ A_S.T, A_G @ A_G.T
        if G_S.shape != G_G.shape:
            return None  # (n_H·n_W)-square "Gram" matrices of different sizes: that raises, not a value
        if dims_of_style and a_S.shape == a_G.shape:
            return None  # the same as the right answer
        return reduce(G_S - G_G) / denominator(*dims(a_S if dims_of_style else a_G))

    return value


LAYER_HINT = (
    "Hint: unroll each activation to (n_C, n_H·n_W) (reshape to (n_H·n_W, n_C), then transpose), take both Gram "
    "matrices A·Aᵀ, and divide Σ (G_S − G_G)² by 4·n_C²·(n_H·n_W)², with n_H, n_W, n_C from a_G."
)
_NORMALISER_HINT = "Hint: divide the sum by (4 * n_C**2 * (n_H * n_W) ** 2), with n_H, n_W, n_C read from a_G.shape."


def _layer_wrong_denominator(what):
    return f"That is Σ (G_S − G_G)² divided by {what}; the layer style cost divides by 4·n_C²·(n_H·n_W)².\n" + (
        _NORMALISER_HINT
    )


LAYER_STYLE_MISTAKES = (
    Known(
        "bare-reshape",
        _layer_variant(unroll=_bare_reshape),
        "The unrolled matrices mix channels: a bare tf.reshape(a, [n_C, n_H * n_W]) has the right shape, but "
        "memory holds the n_C channels of one position side by side, so each row gets pieces of several "
        "channels.\nHint: reshape to [n_H * n_W, n_C] (one row per position), then tf.transpose, so that each row "
        "is one channel (or tf.transpose(a, [0, 3, 1, 2]) first, then reshape).",
    ),
    Known(
        "gram-transposed",
        _layer_variant(unroll=_positions),
        "The Gram matrices compared are (n_H·n_W) × (n_H·n_W): that is AᵀA (or an activation reshaped to "
        "(n_H·n_W, n_C) and never transposed); the Gram matrix is A·Aᵀ, shape (n_C, n_C).\n"
        "Hint: A of shape (n_C, n_H·n_W), then tf.matmul(A, tf.transpose(A)).",
    ),
    Known(
        "gram-transposed",
        _layer_variant(unroll=_bare_positions),
        "The Gram matrices compared are (n_H·n_W) × (n_H·n_W), AᵀA of a bare reshape: the Gram matrix is A·Aᵀ, "
        "shape (n_C, n_C), and A must hold one channel per row.\n"
        "Hint: reshape to [n_H * n_W, n_C], transpose, then tf.matmul(A, tf.transpose(A)).",
    ),
    Known(
        "no-normalisation",
        _layer_variant(denominator=lambda n_H, n_W, n_C: 1),
        "That is the plain sum Σ (G_S − G_G)²: the normalisation 1/(4·n_C²·(n_H·n_W)²) is missing.\n"
        + _NORMALISER_HINT,
    ),
    Known(
        "missing-quarter",
        _layer_variant(denominator=lambda n_H, n_W, n_C: n_C**2 * (n_H * n_W) ** 2),
        "That is 4 times too large: it divides by n_C²·(n_H·n_W)² without the 4.\n" + _NORMALISER_HINT,
    ),
    Known(
        "wrong-normaliser",
        _layer_variant(denominator=lambda n_H, n_W, n_C: 4 * n_H * n_W * n_C),
        _layer_wrong_denominator("4·n_H·n_W·n_C, the content cost's normalisation"),
    ),
    Known(
        "wrong-normaliser",
        _layer_variant(denominator=lambda n_H, n_W, n_C: 4 * n_C * (n_H * n_W) ** 2),
        _layer_wrong_denominator("4·n_C·(n_H·n_W)² (n_C is not squared)"),
    ),
    Known(
        "wrong-normaliser",
        _layer_variant(denominator=lambda n_H, n_W, n_C: 4 * n_C**2 * n_H * n_W),
        _layer_wrong_denominator("4·n_C²·n_H·n_W (n_H·n_W is not squared)"),
    ),
    Known(
        "wrong-normaliser",
        _layer_variant(denominator=lambda n_H, n_W, n_C: (4 * n_C * n_H * n_W) ** 2),
        _layer_wrong_denominator("(4·n_C·n_H·n_W)² (the 4 is squared too)"),
    ),
    Known(
        "wrong-normaliser",
        _layer_variant(denominator=lambda n_H, n_W, n_C: 4 / (n_C**2 * (n_H * n_W) ** 2)),
        "That is what `sum / 4 * n_C**2 * (n_H * n_W)**2` computes: without parentheses Python divides by 4, "
        "then multiplies by the rest.\nHint: put the whole denominator in parentheses: "
        "sum / (4 * n_C**2 * (n_H * n_W) ** 2).",
    ),
    Known(
        "dims-from-style",
        _layer_variant(dims_of_style=True),
        "The normalisation uses the dims of a_S; they must come from a_G (here a_S is larger than a_G, as it "
        "is in nst when the style image is larger than the generated one).\n"
        "Hint: _, n_H, n_W, n_C = a_G.shape, and unroll each activation with its own size: "
        "tf.reshape(a_S, [-1, n_C]).",
    ),
    Known(
        "no-square",
        _layer_variant(reduce=_plain_sum),
        "That is the sum of the differences G_S − G_G, not of their squares: the square is missing.\n"
        "Hint: tf.reduce_sum(tf.square(GS - GG)).",
    ),
    Known(
        "abs-not-square",
        _layer_variant(reduce=_sum_of_abs),
        "That is the sum of the absolute differences |G_S − G_G|; the cost sums their squares.\n"
        "Hint: tf.square(GS - GG) instead of tf.abs(GS - GG).",
    ),
    Known(
        "sqrt",
        _layer_variant(reduce=_root_of_sum_of_squares),
        "That uses the square root of Σ (G_S − G_G)² (what tf.norm or tf.sqrt gives); the cost is the sum of "
        "squares itself, no root.\nHint: drop the tf.sqrt, or square the norm: tf.norm(GS - GG) ** 2.",
    ),
    Known(
        "sqrt",
        _sqrt_of(layer_style_cost),
        "That is the square root of the cost (a tf.sqrt or tf.norm around the whole formula); the cost has no "
        "root.\nHint: drop the tf.sqrt, or square the norm: tf.norm(GS - GG) ** 2.",
    ),
    Known(
        "square-of-sum",
        _layer_variant(reduce=_square_of_sum),
        "That is the square of the summed differences; the cost is the sum of the squared differences.\n"
        "Hint: square first, then sum: tf.reduce_sum(tf.square(GS - GG)).",
    ),
)


# --- compute_style_cost --------------------------------------------------------------------


def _style_variant(layer_cost=layer_style_cost, weighted=True, mean=False, layers_of_mapping=False):
    """The style cost with its layer cost, its weights or its layers replaced: ``value(a_S, a_G, style_layers)``."""

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


STYLE_HINT = (
    "Hint: J_style = Σ weight · compute_layer_style_cost(a_S[layer_name], a_G[layer_name]) over "
    "(layer_name, weight) in style_layers."
)

STYLE_MISTAKES = (
    Known(
        "ignores-weights",
        _style_variant(weighted=False),
        "That is the plain sum of the layer costs: the weights λ of style_layers are ignored.\n"
        "Hint: for layer_name, weight in style_layers: J_style += weight * J_style_layer.",
    ),
    Known(
        "ignores-weights",
        _style_variant(weighted=False, mean=True),
        "That is the mean of the layer costs: the weights λ of style_layers are ignored.\n"
        "Hint: for layer_name, weight in style_layers: J_style += weight * J_style_layer.",
    ),
    Known(
        "last-layer-only",
        _last_layer_only,
        "That is λ·J_style_layer of the last layer in style_layers only: J_style is overwritten at each "
        "layer instead of added to.\nHint: start from J_style = 0 and accumulate: J_style += weight * J_style_layer.",
    ),
    Known(
        "weights-to-wrong-layers",
        _weights_in_mapping_order,
        "The weights go to the wrong layers: the layers are taken in the order of the a_S/a_G dictionaries, the "
        "weights in the order of style_layers.\nHint: take both from style_layers: for layer_name, weight in "
        "style_layers: ... a_S[layer_name], a_G[layer_name].",
    ),
    Known(
        "layers-from-mapping",
        _style_variant(weighted=False, layers_of_mapping=True),
        f"That adds up every layer in the a_S/a_G dictionaries, {EXTRA_LAYER} too, which style_layers does not "
        "name (nst's a_G also holds the content layer).\nHint: loop over style_layers, not over a_S or a_G: "
        "for layer_name, weight in style_layers: ...",
    ),
    # A right sum over a wrong layer cost: compute_style_cost usually calls the learner's own.
    *(
        Known(
            "layer-cost-wrong",
            _style_variant(layer_cost=known.value),
            "It adds λ·J_style_layer over style_layers correctly, but the layer costs it adds are wrong, so "
            f"fix compute_layer_style_cost first. The layer cost's mistake: {known.message}",
        )
        for known in LAYER_STYLE_MISTAKES
        if known.key != "dims-from-style"  # STYLE_CASES give a_S and a_G the same size at each layer
    ),
)


# --- total_cost ----------------------------------------------------------------------------


def _called_like_a_case(total):
    """A wrong ``total(J_content, J_style, alpha, beta)`` (with its own defaults) as a function of a case's args."""

    def value(J_content, J_style, kwargs):
        return total(J_content, J_style, **kwargs)

    return value


TOTAL_HINT = "Hint: J = alpha * J_content + beta * J_style."
TOTAL_MISTAKES = (
    Known(
        "swapped-alpha-beta",
        _called_like_a_case(lambda J_content, J_style, alpha=ALPHA, beta=BETA: beta * J_content + alpha * J_style),
        "α and β are swapped: that is β·J_content + α·J_style. α weighs the content cost, β the style cost.\n"
        + TOTAL_HINT,
    ),
    Known(
        "ignores-alpha-beta",
        _called_like_a_case(lambda J_content, J_style, alpha=ALPHA, beta=BETA: ALPHA * J_content + BETA * J_style),
        "total_cost ignores its alpha and beta arguments: it always uses 10 and 40.\n"
        "Hint: use the parameters: J = alpha * J_content + beta * J_style.",
    ),
    Known(
        "wrong-defaults",
        _called_like_a_case(lambda J_content, J_style, alpha=BETA, beta=ALPHA: alpha * J_content + beta * J_style),
        "With alpha and beta given it is right, but its default values are swapped: the exercise's are alpha=10, "
        "beta=40.\nHint: def total_cost(J_content, J_style, alpha=10, beta=40).",
    ),
    Known(
        "missing-weights",
        _called_like_a_case(lambda J_content, J_style, alpha=ALPHA, beta=BETA: J_content + J_style),
        "That is J_content + J_style: the weights alpha and beta are missing.\n" + TOTAL_HINT,
    ),
    Known(
        "one-term",
        _called_like_a_case(lambda J_content, J_style, alpha=ALPHA, beta=BETA: alpha * J_content),
        "That is alpha·J_content only: beta·J_style is missing.\n" + TOTAL_HINT,
    ),
    Known(
        "one-term",
        _called_like_a_case(lambda J_content, J_style, alpha=ALPHA, beta=BETA: beta * J_style),
        "That is beta·J_style only: alpha·J_content is missing.\n" + TOTAL_HINT,
    ),
    Known(
        "one-term",
        _called_like_a_case(lambda J_content, J_style, alpha=ALPHA, beta=BETA: alpha * J_content + beta * J_content),
        "That is alpha·J_content + beta·J_content: J_content is used twice, J_style not at all.\n" + TOTAL_HINT,
    ),
    Known(
        "one-term",
        _called_like_a_case(lambda J_content, J_style, alpha=ALPHA, beta=BETA: alpha * J_style + beta * J_style),
        "That is alpha·J_style + beta·J_style: J_style is used twice, J_content not at all.\n" + TOTAL_HINT,
    ),
)
