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
the same inputs, on every case where it applies.

The package, one job a module:

- ``checks``      the six checks (``CHECKS``), each the list of what it checks
- ``driver``      the steps they are made of (call, compare, recognise, gradient, tf.function) and the result
- ``calls``       calling the learner's function, and reading what it returns
- ``cases``       the exercise's published cases, and the extra cases
- ``references``  the right formulas, in NumPy
- ``mistakes``    the catalogue of known mistakes, each named
- ``results``     ``CheckResult``, ``GRADED`` (the points), and the keys of the mistakes (``MISTAKES``)
"""

from nst.teaching.grader.cases import (
    CONTENT_CASES,
    GRAM_CASES,
    LAYER_STYLE_CASES,
    LAYER_STYLE_SIZES_CASE,
    PUBLISHED_CONTENT_COST,
    PUBLISHED_GRAM,
    PUBLISHED_LAYER_STYLE_COST,
    STYLE_CASES,
    TOTAL_CASES,
    Case,
    Hidden,
    hidden_cases,
    published_A,
    published_pair,
)
from nst.teaching.grader.checks import (
    CHECKS,
    JUDGES,
    check_compute_content_cost,
    check_compute_layer_style_cost,
    check_compute_style_cost,
    check_gram_matrix,
    check_total_cost,
    check_train_step,
)
from nst.teaching.grader.driver import GRAD_RTOL, MATCH_RTOL, RTOL, recognise
from nst.teaching.grader.mistakes import CONTENT_MISTAKES, LAYER_STYLE_MISTAKES, STYLE_MISTAKES, TOTAL_MISTAKES, Known
from nst.teaching.grader.references import content_cost, layer_style_cost, style_cost
from nst.teaching.grader.results import GRADED, MISTAKES, PASSED, CheckResult

__all__ = [
    "CHECKS",
    "JUDGES",
    "CONTENT_CASES",
    "CONTENT_MISTAKES",
    "GRADED",
    "GRAD_RTOL",
    "GRAM_CASES",
    "LAYER_STYLE_CASES",
    "LAYER_STYLE_MISTAKES",
    "LAYER_STYLE_SIZES_CASE",
    "MATCH_RTOL",
    "MISTAKES",
    "PASSED",
    "PUBLISHED_CONTENT_COST",
    "PUBLISHED_GRAM",
    "PUBLISHED_LAYER_STYLE_COST",
    "RTOL",
    "STYLE_CASES",
    "STYLE_MISTAKES",
    "TOTAL_CASES",
    "TOTAL_MISTAKES",
    "Case",
    "Hidden",
    "CheckResult",
    "Known",
    "check_compute_content_cost",
    "check_compute_layer_style_cost",
    "check_compute_style_cost",
    "check_gram_matrix",
    "check_total_cost",
    "check_train_step",
    "content_cost",
    "hidden_cases",
    "layer_style_cost",
    "published_A",
    "published_pair",
    "recognise",
    "style_cost",
]
