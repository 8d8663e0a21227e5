"""nst grade, end to end: real notebooks run through nbclient in a kernel of this interpreter.

To keep the suite's time in bounds, only two runs go through the whole notebook (the solution
notebook by the command line, and the notebook with an infinite loop is run up to its last graded
cell); every other notebook is graded with ``skip_training`` (the cells after the last graded one,
the training, grade nothing) at the grading defaults (2 iterations at 32x48).

A mistake notebook is the solution notebook with one function's solution region replaced: for
every mistake the issue lists, exactly the functions it affects (the function itself and those
calling it) fail, the function itself with the message naming the mistake.
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from nst.config import OUTPUT_DIR
from nst.errors import run_cli
from nst.teaching import grade as grading
from nst.teaching.exercise import BEGIN, END, SOLUTION, STUDENT
from nst.teaching.grader import GRADED

pytestmark = pytest.mark.usefixtures("weights_h5")  # the notebooks load VGG19


def notebook_with(tmp_path, replacements=(), extra_cells=(), appended=(), name="submission.ipynb"):
    """The solution notebook with some solution regions replaced, saved as a submission.

    replacements: (function name, new body) pairs, the body written without the function's indent;
    extra_cells: (after cell id, source) pairs, code cells inserted after that cell;
    appended: (cell id, source) pairs, top-level code added at the end of that cell.
    """
    nb = nbformat.read(SOLUTION, as_version=4)
    for function, body in replacements:
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == function)
        head, rest = cell.source.split(BEGIN)
        tail = rest.split(END, 1)[1].split("\n", 1)[1]
        indent = re.search(r"[ \t]*$", head)[0]
        lines = [indent + line if line else line for line in body.strip("\n").splitlines()]
        cell.source = head[: len(head) - len(indent)] + "\n".join(lines) + "\n" + tail
    for cell_id, source in appended:
        cell = next(c for c in nb.cells if c.get("id") == cell_id)
        cell.source += "\n" + source
    for after, source in extra_cells:
        index = next(i for i, c in enumerate(nb.cells) if c.get("id") == after)
        nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def failing(report):
    return {name for name, f in report.functions.items() if not f.passed}


# --- the solution and the student edition -------------------------------------------------


@pytest.mark.slow
def test_solution_gets_full_marks_through_the_command(tmp_path):
    """The whole solution notebook, training and painting included, by `python -m nst.teaching.grade --json`."""
    out = tmp_path / "grades.json"
    before = {p: p.stat().st_mtime for p in OUTPUT_DIR.rglob("*")} if OUTPUT_DIR.exists() else {}
    result = subprocess.run(
        [sys.executable, "-m", "nst.teaching.grade", str(SOLUTION), "--json", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    grades = json.loads(out.read_text())
    assert grades == {
        "score": sum(GRADED.values()),
        "max_score": sum(GRADED.values()),
        "functions": {
            name: {"passed": True, "points": points, "message": "All tests passed"} for name, points in GRADED.items()
        },
    }
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["function", "points", "passed", "message"]
    for name, points in GRADED.items():
        assert re.search(rf"^{name} +{points}/{points} +yes +All tests passed$", result.stdout, re.M)
    assert "score: 10/10" in result.stdout and "other cells that failed" not in result.stdout
    # the run happened in a temporary folder: nothing new in the repository's output/ or next to the notebook
    after = {p: p.stat().st_mtime for p in OUTPUT_DIR.rglob("*")} if OUTPUT_DIR.exists() else {}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grades.json"]


@pytest.mark.slow
def test_untouched_student_edition_gets_zero():
    from nbgrader.utils import determine_grade

    report = grading.grade(STUDENT, skip_training=True)
    assert report.score == 0 and report.max_score == sum(GRADED.values())
    for f in report.functions.values():
        assert (f.passed, f.points, f.mistake) == (False, 0, "not-implemented")
        assert f.message.startswith(f"{f.name} is not implemented yet")
    # nbgrader's own rule, applied to the check cells as they ran, gives zero too
    checks = [c for c in report.notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(checks) == len(GRADED)
    assert [determine_grade(cell)[0] for cell in checks] == [0] * len(GRADED)


@pytest.mark.slow
def test_nbgrader_autograde_scores_a_submission_like_nst_grade(tmp_path):
    """nbgrader's own pipeline on the solution notebook as it is: generate_assignment, then autograde."""
    course = tmp_path / "course"
    (course / "source" / "nst").mkdir(parents=True)
    (course / "source" / "nst" / SOLUTION.name).write_bytes(SOLUTION.read_bytes())
    submitted = course / "submitted" / "alice" / "nst"
    submitted.mkdir(parents=True)
    notebook_with(submitted, [("total_cost", "J = beta * J_content + alpha * J_style")], name=SOLUTION.name)
    env = dict(os.environ, NST_ITERATIONS="2", NST_SIZE="32x48")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # nbgrader runs alembic
    for command in (["generate_assignment", "nst"], ["autograde", "nst", "--create"]):
        done = subprocess.run(
            [sys.executable, "-m", "nbgrader", *command, "--CourseDirectory.root=."],
            cwd=course,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(SOLUTION.stem, "nst", "alice")
        scores = {grade.name: (grade.auto_score, grade.max_score) for grade in notebook.grades}
    assert scores == {
        f"check_{name}": (0.0 if name == "total_cost" else float(points), float(points))
        for name, points in GRADED.items()
    }


# --- every listed mistake, named, failing exactly the functions it affects ------------------

STYLE_DEPENDENTS = {"compute_layer_style_cost", "compute_style_cost"}

MISTAKES = [
    # (id, function, body, mistake key, words in the message, functions failing)
    (
        "bare-reshape",
        "compute_layer_style_cost",
        """
_, n_H, n_W, n_C = a_G.get_shape().as_list()
GS = gram_matrix(tf.reshape(a_S, [n_C, -1]))
GG = gram_matrix(tf.reshape(a_G, [n_C, -1]))
J_style_layer = tf.reduce_sum(tf.square(GS - GG)) / (4 * n_C**2 * (n_H * n_W) ** 2)
""",
        "bare-reshape",
        "transpose",
        STYLE_DEPENDENTS,
    ),
    (
        "gram-transposed",
        "gram_matrix",
        "GA = tf.matmul(tf.transpose(A), A)",
        "gram-transposed",
        "AᵀA",
        {"gram_matrix"} | STYLE_DEPENDENTS,
    ),
    (
        "content-normalisation-missing",
        "compute_content_cost",
        "J_content = tf.reduce_sum(tf.square(a_C - a_G))",
        "no-normalisation",
        "normalis",
        {"compute_content_cost"},
    ),
    (
        "style-normalisation-wrong",
        "compute_layer_style_cost",
        """
_, n_H, n_W, n_C = a_G.get_shape().as_list()
GS = gram_matrix(tf.transpose(tf.reshape(a_S, [-1, n_C])))
GG = gram_matrix(tf.transpose(tf.reshape(a_G, [-1, n_C])))
J_style_layer = tf.reduce_sum(tf.square(GS - GG)) / (4 * n_H * n_W * n_C)
""",
        "wrong-normaliser",
        "normalis",
        STYLE_DEPENDENTS,
    ),
    (
        "dims-from-style",
        "compute_layer_style_cost",
        """
_, n_H, n_W, n_C = a_S.get_shape().as_list()
GS = gram_matrix(tf.transpose(tf.reshape(a_S, [-1, n_C])))
GG = gram_matrix(tf.transpose(tf.reshape(a_G, [-1, n_C])))
J_style_layer = tf.reduce_sum(tf.square(GS - GG)) / (4 * n_C**2 * (n_H * n_W) ** 2)
""",
        "dims-from-style",
        "a_S",
        {"compute_layer_style_cost"},  # compute_style_cost's cases have a_S and a_G of one size
    ),
    (
        "no-square",
        "compute_content_cost",
        """
_, n_H, n_W, n_C = a_G.get_shape().as_list()
J_content = tf.reduce_sum(a_C - a_G) / (4 * n_H * n_W * n_C)
""",
        "no-square",
        "squar",
        {"compute_content_cost"},
    ),
    (
        "norm-not-squared",
        "compute_content_cost",
        """
_, n_H, n_W, n_C = a_G.get_shape().as_list()
J_content = tf.norm(a_C - a_G) / (4 * n_H * n_W * n_C)
""",
        "sqrt",
        "square root",
        {"compute_content_cost"},
    ),
    (
        "swapped-alpha-beta",
        "total_cost",
        "J = beta * J_content + alpha * J_style",
        "swapped-alpha-beta",
        "swapped",
        {"total_cost"},
    ),
    (
        "ignores-weights",
        "compute_style_cost",
        """
for layer_name, weight in style_layers:
    J_style += compute_layer_style_cost(a_S[layer_name], a_G[layer_name])
""",
        "ignores-weights",
        "λ",
        {"compute_style_cost"},
    ),
    (
        "numpy",
        "compute_content_cost",
        """
_, n_H, n_W, n_C = a_G.get_shape().as_list()
J_content = np.sum(np.square(a_C - a_G)) / (4 * n_H * n_W * n_C)
""",
        "numpy",
        "NumPy",
        {"compute_content_cost", "train_step"},  # train_step traces it: NumPy fails on symbolic tensors
    ),
    (
        "non-scalar",
        "compute_content_cost",
        """
_, n_H, n_W, n_C = a_G.get_shape().as_list()
J_content = tf.reduce_sum(tf.square(a_C - a_G), axis=[1, 2]) / (4 * n_H * n_W * n_C)
""",
        "non-scalar",
        "not a scalar",
        {"compute_content_cost", "train_step"},  # its J is then not a scalar either
    ),
    (
        "python-float",
        "total_cost",
        "J = float(alpha * J_content + beta * J_style)",
        "python-float",
        "Python float",
        {"total_cost"},  # inside train_step's tf.function, autograph turns float() into a cast
    ),
    (
        "never-applies-gradient",
        "train_step",
        """
with tf.GradientTape() as tape:
    a_G = vgg_model_outputs(generated_image)
    J_content = compute_content_cost(a_C, a_G[CONTENT_LAYER])
    J_style = compute_style_cost(a_S, a_G, STYLE_LAYERS)
    J = total_cost(J_content, J_style, alpha=10, beta=40)
grad = tape.gradient(J, generated_image)
""",
        "never-applies-gradient",
        "never applies the gradient",
        {"train_step"},
    ),
]


@pytest.mark.parametrize(
    "function, body, key, words, expected_failing", [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES]
)
@pytest.mark.slow
def test_each_mistake_fails_exactly_the_affected_functions(tmp_path, function, body, key, words, expected_failing):
    report = grading.grade(notebook_with(tmp_path, [(function, body)]), skip_training=True)
    assert failing(report) == expected_failing, grading.table(report)
    graded = report.functions[function]
    assert graded.mistake == key, graded.message
    assert words in graded.message
    assert report.score == sum(points for name, points in GRADED.items() if name not in expected_failing)


ALTERNATIVES = [
    (
        "compute_content_cost",
        """
m, n_H, n_W, n_C = a_C.shape
J_content = tf.norm(tf.reshape(a_C, [-1]) - tf.reshape(a_G, [-1])) ** 2 / (4 * n_H * n_W * n_C)
""",
    ),
    ("gram_matrix", 'GA = tf.einsum("ik,jk->ij", A, A)'),
    (
        "compute_layer_style_cost",
        """
n_H, n_W, n_C = a_G.shape[1], a_G.shape[2], a_G.shape[3]
GS = gram_matrix(tf.reshape(tf.transpose(a_S, [0, 3, 1, 2]), [n_C, -1]))  # transpose first, then reshape
GG = tf.linalg.matmul(tf.reshape(tf.transpose(a_G, [3, 1, 2, 0]), [n_C, -1]),
                      tf.reshape(tf.transpose(a_G, [3, 1, 2, 0]), [n_C, -1]), transpose_b=True)
J_style_layer = tf.reduce_sum((GS - GG) ** 2) / (4.0 * n_C * n_C * (n_H * n_W) ** 2)
""",
    ),
    (
        "compute_style_cost",
        "J_style = tf.add_n([w * compute_layer_style_cost(a_S[name], a_G[name]) for name, w in style_layers])",
    ),
    ("total_cost", "J = tf.math.add_n([alpha * J_content, beta * J_style])"),
    (
        "train_step",
        """
with tf.GradientTape() as tape:
    outputs = vgg_model_outputs(generated_image)
    J = total_cost(compute_content_cost(a_C, outputs[CONTENT_LAYER]), compute_style_cost(a_S, outputs))
(grad,) = tape.gradient(J, [generated_image])
optimizer.apply(grad)
""",
    ),
]


@pytest.mark.slow
def test_alternative_correct_implementations_get_full_marks(tmp_path):
    report = grading.grade(notebook_with(tmp_path, ALTERNATIVES), skip_training=True)
    assert report.passed and report.score == sum(GRADED.values()), grading.table(report)


# --- notebooks that loop, break or delete ---------------------------------------------------


@pytest.mark.slow
def test_infinite_loop_fails_only_what_calls_it_within_the_timeout(tmp_path):
    timeout = 40
    path = notebook_with(tmp_path, [("gram_matrix", "while True:\n    pass\nGA = None")])
    start = time.monotonic()
    report = grading.grade(path, timeout=timeout)  # the whole notebook, training and painting included
    elapsed = time.monotonic() - start
    table = grading.table(report)
    assert failing(report) == {"gram_matrix", "compute_layer_style_cost", "compute_style_cost", "train_step"}, table
    assert report.functions["gram_matrix"].message.startswith(f"did not finish within {timeout} s when cell ")
    assert "an infinite loop?" in report.functions["gram_matrix"].message
    assert "gram_matrix did not finish" in report.functions["compute_layer_style_cost"].message
    # The loop cost one time limit: once interrupted, gram_matrix raises at once wherever it is called
    # (the check cells, the examples, train_step, the training, the painting).
    assert elapsed < 2 * timeout + 60, f"{elapsed:.0f} s\n{table}"


@pytest.mark.slow
def test_a_notebook_that_breaks_is_graded_not_fatal(tmp_path):
    """A syntax error, a cell killing the kernel, one deleting the working folder, one deleting a function."""
    path = notebook_with(
        tmp_path,
        [("compute_content_cost", "J_content = (")],  # a SyntaxError: the function never exists
        appended=[("total-cost", "import os\nos._exit(3)")],  # the kernel dies right after the def
        extra_cells=[
            ("check-gram-matrix", "import os, shutil\nshutil.rmtree(os.getcwd())"),
            ("check-compute-style-cost", "del compute_style_cost"),
        ],
    )
    report = grading.grade(path, skip_training=True)
    table = grading.table(report)
    assert failing(report) == {"compute_content_cost", "total_cost", "compute_style_cost", "train_step"}, table
    assert report.score == GRADED["gram_matrix"] + GRADED["compute_layer_style_cost"]
    messages = {name: f.message for name, f in report.functions.items()}
    assert messages["compute_content_cost"].startswith("not defined: its cell failed: SyntaxError")
    assert messages["total_cost"] == "not defined: its cell failed: the kernel died (the cell ended the Python process)"
    assert messages["compute_style_cost"].startswith("not defined when the notebook had run")
    assert messages["compute_layer_style_cost"] == "All tests passed"


# --- the command's edges -------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda d: d / "missing.ipynb", lambda d: d], ids=["missing", "directory"])
def test_bad_path_is_one_line_and_exit_2(tmp_path, capsys, make):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(grading.main, [str(make(tmp_path))])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")


def test_report_table_and_json():
    report = grading.Report(
        {
            "gram_matrix": grading.FunctionGrade("gram_matrix", True, 1, 1, "All tests passed"),
            "total_cost": grading.FunctionGrade("total_cost", False, 0, 1, "first line\nHint: second line"),
        },
        ["cell 9 (run): NotImplementedError"],
    )
    assert report.as_json() == {
        "score": 1,
        "max_score": 2,
        "functions": {
            "gram_matrix": {"passed": True, "points": 1, "message": "All tests passed"},
            "total_cost": {"passed": False, "points": 0, "message": "first line\nHint: second line"},
        },
    }
    assert grading.table(report).splitlines() == [
        "function     points  passed  message",
        "------------------------------------",
        "gram_matrix     1/1  yes     All tests passed",
        "total_cost      0/1  no      first line",
        "                             Hint: second line",
        "score: 1/2",
        "",
        "other cells that failed:",
        "  cell 9 (run): NotImplementedError",
    ]


def test_cells_are_matched_to_functions_by_metadata_or_by_their_defs():
    nb = nbformat.read(STUDENT, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("def gram_matrix(A):\n    pass\n\ndef total_cost(a, b):\n    pass"))
    roles = grading.cell_roles(nb, GRADED)
    by_metadata = {
        i: [c.metadata.nbgrader.grade_id]
        for i, c in enumerate(nb.cells)
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    assert roles.defines == {**by_metadata, len(nb.cells) - 1: ["gram_matrix", "total_cost"]}
    assert sorted(name for names in roles.checks.values() for name in names) == sorted(GRADED)
    assert roles.last == len(nb.cells) - 1
