"""The six checks, one per graded function: each is the list of what it checks.

A cost's check (``CostCheck``) compares its values on the cases with the right ones (naming the
known mistake that gives them), then on one case its gradient and its value inside tf.function,
then a property or two. ``gram_matrix`` returns a matrix, so its check compares matrices and names
the mistakes its shape or a factor gives away; ``train_step`` is checked by running two real steps
(``step``).
``driver`` holds the steps, ``cases`` the inputs, ``references`` the right formulas and
``mistakes`` the catalogue of known mistakes.

Each check exists twice over: ``judge_<function>(computer, hidden)`` judges whatever function
``computer`` calls (``nst grade``: the one in the submission's kernel, whose replies are data), and
``check_<function>(function)``, the notebook's check cell, judges the function it is given, called
in this very process (``nst.teaching.compute.Local``), on hidden cases drawn afresh.
"""

import secrets

import numpy as np

from nst import costs
from nst.teaching.compute import Local
from nst.teaching.grader.calls import shape_text
from nst.teaching.grader.cases import (
    CONTENT_CASES,
    EXTRA_LAYER,
    GRAM_CASES,
    LAYER_STYLE_CASES,
    LAYER_STYLE_SIZES_CASE,
    STYLE_CASES,
    TOTAL_CASES,
    draw,
    hidden_cases,
)
from nst.teaching.grader.driver import MATCH_RTOL, RTOL, Check, CostCheck, close, named
from nst.teaching.grader.mistakes import (
    CONTENT_FORMULA,
    CONTENT_HINT,
    CONTENT_MISTAKES,
    LAYER_HINT,
    LAYER_STYLE_MISTAKES,
    STYLE_HINT,
    STYLE_MISTAKES,
    TOTAL_HINT,
    TOTAL_MISTAKES,
)
from nst.teaching.grader.references import content_cost, layer_style_cost, style_cost, total_cost
from nst.teaching.grader.results import Mistake
from nst.teaching.grader.step import check_train_step, judge_train_step


def judge_compute_content_cost(computer, hidden):
    """Judge ``compute_content_cost(a_C, a_G)``; return a CheckResult."""
    case = CONTENT_CASES[-1]
    a_C, a_G = case.args
    check = CostCheck("compute_content_cost", computer, content_cost, costs.compute_content_cost, named("a_C", "a_G"))

    def steps():
        cases = (*CONTENT_CASES, hidden.content)
        check.values(cases, CONTENT_MISTAKES, f"The formula is {CONTENT_FORMULA}.\n{CONTENT_HINT}")
        check.gradient_and_graph(case)
        check.zero_on_itself((a_G, a_G), "a_C = a_G", 1e-6, "content cost", CONTENT_HINT)
        swapped = check.scalar((a_G, a_C), case.label)
        check.holds(
            close(swapped, content_cost(*case.args), RTOL),
            "the content cost changes when a_C and a_G swap places; Σ (a_C − a_G)² does not.",
            CONTENT_HINT,
        )

    return check.run(steps, quiet=True)


_GRAM_HINT = "Hint: tf.matmul(A, tf.transpose(A)), or tf.matmul(A, A, transpose_b=True)."


def _gram_of(check, A, label):
    """The learner's gram_matrix of the NumPy array A, as NumPy; a Mistake for a wrong shape or dtype."""
    GA = check.tensor((A,), label)
    n_C, n_positions = A.shape
    if GA.shape == (n_positions, n_positions):
        raise Mistake(
            f"gram_matrix returned shape {shape_text(GA.shape)} for A of shape {A.shape}: that is AᵀA; the Gram "
            f"matrix is A·Aᵀ, shape (n_C, n_C) = ({n_C}, {n_C}).\n{_GRAM_HINT}",
            "gram-transposed",
        )
    if GA.shape == A.shape and GA.floating and close(GA.values, A * A, MATCH_RTOL):
        raise Mistake(
            f"gram_matrix returned A * A for A of shape {A.shape}, the entry-by-entry product; the Gram matrix "
            f"is the matrix product A·Aᵀ, shape (n_C, n_C) = ({n_C}, {n_C}).\n{_GRAM_HINT}",
            "elementwise-product",
        )
    if GA.shape != (n_C, n_C):
        raise Mistake(
            f"gram_matrix returned shape {shape_text(GA.shape)} for A of shape {A.shape}; the Gram matrix A·Aᵀ has "
            f"shape (n_C, n_C) = ({n_C}, {n_C}).\n{_GRAM_HINT}",
            "wrong-shape",
        )
    if GA.dtype != "float32":
        raise Mistake(
            f"gram_matrix returned a {GA.dtype} tensor for a float32 A ({label}).\n"
            "Hint: leave out the tf.cast; tf.matmul keeps A's dtype.",
            "dtype",
        )
    GA = GA.values
    if not np.all(np.isfinite(GA)):
        raise Mistake(f"gram_matrix returned NaN or infinite entries on {label}.\n{_GRAM_HINT}", "not-finite")
    return GA


def _gram_values(check, case):
    """Compare the learner's Gram matrix on ``case`` with A·Aᵀ; name a factor in front of it."""
    (A,) = case.args
    GA = _gram_of(check, A, case.label)
    expected = case.expected if case.expected is not None else A.astype(np.float64) @ A.T
    scale = np.abs(expected).max()
    if close(GA, expected, RTOL, atol=RTOL * scale):
        return
    head = f"gram_matrix returned\n{np.array2string(GA, precision=5)}\non {case.label}; expected\n" + (
        f"{np.array2string(expected, precision=5)}.\n"
    )
    factor = float(np.sum(GA * expected) / np.sum(expected * expected))
    if close(GA, factor * expected, MATCH_RTOL, atol=MATCH_RTOL * abs(factor) * scale):
        raise Mistake(
            head + f"That is {factor:.6g} × A·Aᵀ: the Gram matrix is A·Aᵀ itself, with no factor (the style "
            f"cost does the normalising).\n{_GRAM_HINT}",
            "scaled-gram",
        )
    raise Mistake(
        head + f"The Gram matrix is A·Aᵀ: entry (i, j) is the dot product of rows i and j.\n{_GRAM_HINT}",
        "wrong-value",
    )


def judge_gram_matrix(computer, hidden):
    """Judge ``gram_matrix(A)``, A of shape (n_C, n_H·n_W); return a CheckResult."""
    case = GRAM_CASES[-1]
    (A,) = case.args
    upstream = draw(16, (A.shape[0], A.shape[0]))[0]  # not symmetric: tests both halves
    check = Check("gram_matrix", computer)

    def steps():
        for each in (*GRAM_CASES, hidden.gram):
            _gram_values(check, each)
        check.gradient((A,), costs.gram_matrix, case.label, named("A"), upstream=upstream)
        check.in_graph((A,), A.astype(np.float64) @ A.T, case.label)
        # Where things are does not matter: shuffling the positions (columns) leaves the Gram matrix alone.
        permutation = np.random.default_rng(17).permutation(A.shape[1])
        shuffled = _gram_of(check, A[:, permutation], "A with its columns shuffled")
        check.holds(
            close(shuffled, _gram_of(check, A, case.label), RTOL, atol=RTOL * np.abs(shuffled).max()),
            "shuffling the columns of A (the positions) changed the Gram matrix; A·Aᵀ sums over positions, so its "
            "order must not matter.",
            _GRAM_HINT,
        )

    return check.run(steps, quiet=True)


def _unrolled_with_wrong_dims(error):
    """What an exception on LAYER_STYLE_SIZES_CASE (a_S larger than a_G) means, when the other cases passed."""
    return Mistake(
        f"compute_layer_style_cost works when a_S and a_G have the same size, but raised {error}\n"
        f"(on {LAYER_STYLE_SIZES_CASE.label}).\nThe activations were probably unrolled with a_G's n_H·n_W: "
        "a_S has more positions than a_G.\nHint: unroll each activation with its own size, e.g. "
        "tf.reshape(a_S, [-1, n_C]) before the transpose; only the normalisation uses a_G's n_H, n_W.",
        "unrolled-with-wrong-dims",
    )


def judge_compute_layer_style_cost(computer, hidden):
    """Judge ``compute_layer_style_cost(a_S, a_G)``; return a CheckResult."""
    case = LAYER_STYLE_SIZES_CASE  # a_S larger than a_G, as nst allows
    a_S, a_G = case.args
    check = CostCheck(
        "compute_layer_style_cost",
        computer,
        layer_style_cost,
        costs.compute_layer_style_cost,
        named("a_S", "a_G"),
        on_error={case.label: _unrolled_with_wrong_dims},
    )
    J = layer_style_cost(a_S, a_G)

    def steps():
        check.values((*LAYER_STYLE_CASES, case, hidden.layer_style), LAYER_STYLE_MISTAKES, LAYER_HINT)
        check.gradient_and_graph(case)
        check.zero_on_itself((a_G, a_G), "a_S = a_G", 1e-6 * max(1.0, J), "style cost", LAYER_HINT)
        # Style ignores where things are: shuffling a_G's positions (channels intact) leaves J alone.
        _, n_H, n_W, n_C = a_G.shape
        order = np.random.default_rng(18).permutation(n_H * n_W)
        moved = a_G.reshape(n_H * n_W, n_C)[order].reshape(a_G.shape)
        J_moved = check.scalar((a_S, moved), "a_G with its positions shuffled")
        check.holds(
            close(J_moved, J, RTOL),
            "the cost changed when a_G's positions were shuffled (each position's channels kept together); the "
            "style cost compares Gram matrices, which do not depend on where things are.",
            LAYER_HINT,
        )

    return check.run(steps, quiet=True)


_MAPPING_HINT = (
    "a_S and a_G are dictionaries from layer name to activation, and style_layers a sequence of "
    "(layer_name, weight): for layer_name, weight in style_layers: ... a_S[layer_name], a_G[layer_name]."
)


def _style_sources(args):
    """The inputs of compute_style_cost(a_S, a_G, style_layers) whose gradients count: each style layer's."""
    return {f"{side}[{layer!r}]": [i, layer] for i, side in enumerate(("a_S", "a_G")) for layer, _ in args[2]}


def judge_compute_style_cost(computer, hidden):
    """Judge ``compute_style_cost(a_S, a_G, style_layers)``; return a CheckResult."""
    case = STYLE_CASES[-1]
    a_S, a_G, style_layers = case.args
    check = CostCheck(
        "compute_style_cost", computer, style_cost, costs.compute_style_cost, _style_sources, call_hint=_MAPPING_HINT
    )
    J = style_cost(*case.args)

    def steps():
        check.values((*STYLE_CASES, hidden.style), STYLE_MISTAKES, STYLE_HINT)
        check.gradient_and_graph(case)
        doubled = tuple((layer, 2 * weight) for layer, weight in style_layers)
        J_doubled = check.scalar((a_S, a_G, doubled), "the same test with every weight doubled")
        check.holds(
            close(J_doubled, 2 * J, RTOL),
            "doubling every weight λ did not double the cost; J_style = Σ λ·J_style_layer is proportional to them.",
            STYLE_HINT,
        )
        other = dict(a_G, **{EXTRA_LAYER: a_G[EXTRA_LAYER] + 1.0})
        J_other = check.scalar((a_S, other, style_layers), f"the same test with another {EXTRA_LAYER} activation")
        check.holds(
            close(J_other, J, RTOL),
            f"changing {EXTRA_LAYER}, a layer style_layers does not name, changed the cost.",
            f"Hint: {_MAPPING_HINT}",
        )

    return check.run(steps, quiet=True)


def _total_inputs(case):
    """A total_cost case's (J_content, J_style) as float32 scalars, as training passes them, and its keywords."""
    J_content, J_style, kwargs = case.args
    return (np.float32(J_content), np.float32(J_style)), kwargs


def judge_total_cost(computer, hidden):
    """Judge ``total_cost(J_content, J_style, alpha=10, beta=40)``; return a CheckResult."""
    sources = named("J_content", "J_style")
    check = CostCheck("total_cost", computer, total_cost, costs.total_cost, sources, inputs=_total_inputs)

    def steps():
        check.values((*TOTAL_CASES, hidden.total), TOTAL_MISTAKES, TOTAL_HINT)
        check.gradient_and_graph(TOTAL_CASES[-1])

    return check.run(steps, quiet=True)


JUDGES = {
    "compute_content_cost": judge_compute_content_cost,
    "gram_matrix": judge_gram_matrix,
    "compute_layer_style_cost": judge_compute_layer_style_cost,
    "compute_style_cost": judge_compute_style_cost,
    "total_cost": judge_total_cost,
    "train_step": judge_train_step,
}


# --- the notebook's check cells: the function given, judged in this process -----------------


def _fresh():
    return hidden_cases(secrets.randbits(63))


def _local(name, fn, quiet):
    result = JUDGES[name](Local({name: fn}), _fresh())
    if not quiet:
        print(result.message)
    return result


def check_compute_content_cost(fn, quiet=False):
    """Check a learner's ``compute_content_cost(a_C, a_G)``; print and return a CheckResult."""
    return _local("compute_content_cost", fn, quiet)


def check_gram_matrix(fn, quiet=False):
    """Check a learner's ``gram_matrix(A)``, A of shape (n_C, n_H·n_W); print and return a CheckResult."""
    return _local("gram_matrix", fn, quiet)


def check_compute_layer_style_cost(fn, quiet=False):
    """Check a learner's ``compute_layer_style_cost(a_S, a_G)``; print and return a CheckResult."""
    return _local("compute_layer_style_cost", fn, quiet)


def check_compute_style_cost(fn, quiet=False):
    """Check a learner's ``compute_style_cost(a_S, a_G, style_layers)``; print and return a CheckResult."""
    return _local("compute_style_cost", fn, quiet)


def check_total_cost(fn, quiet=False):
    """Check a learner's ``total_cost(J_content, J_style, alpha=10, beta=40)``; print and return a CheckResult."""
    return _local("total_cost", fn, quiet)


CHECKS = {
    "compute_content_cost": check_compute_content_cost,
    "gram_matrix": check_gram_matrix,
    "compute_layer_style_cost": check_compute_layer_style_cost,
    "compute_style_cost": check_compute_style_cost,
    "total_cost": check_total_cost,
    "train_step": check_train_step,
}
