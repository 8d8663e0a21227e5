"""The two editions of the exercise: the solution notebook (one source, nbgrader-marked) and the student edition.

No kernel runs here: tests/test_notebook.py runs the solution notebook, tests/test_grade.py grades both.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nst.config import ROOT
from nst.errors import run_cli
from nst.frontends.cli import COMMANDS
from nst.teaching import exercise
from nst.teaching.exercise import BEGIN, CODE_STUB, END, SOLUTION, STUDENT, solution_lines, student_edition
from nst.teaching.grader import GRADED


def read(path):
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


def nbgrader_meta(cell):
    return cell.metadata.get("nbgrader", {})


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


# --- the solution notebook: one source for both editions and for nbgrader -------------------


def test_each_graded_function_has_its_own_cell_and_a_check_after_it():
    cells = code_cells(read(SOLUTION))
    graded = [(i, cell) for i, cell in enumerate(cells) if nbgrader_meta(cell).get("solution")]
    assert [nbgrader_meta(cell)["grade_id"] for _, cell in graded] == list(GRADED)  # all six, in notebook order
    for i, cell in graded:
        name = nbgrader_meta(cell)["grade_id"]
        # the def line, a docstring, then the body between the markers, in the cell of its own
        assert re.findall(r"^def (\w+)\(", cell.source, re.M) == [name], cell.source
        assert re.search(rf'^def {name}\(.*\):\n    """', cell.source, re.M), f"{name} has no docstring"
        assert cell.source.count(BEGIN) == cell.source.count(END) == 1
        assert nbgrader_meta(cell) == {
            "grade": False,
            "grade_id": name,
            "locked": False,
            "schema_version": 3,
            "solution": True,
            "task": False,
        }
        check = cells[i + 1]  # the very next code cell checks it
        step = "nst.teaching.grader.check_train_step(train_step, generated_image, content_image, style_image)"
        call = step if name == "train_step" else f"nst.teaching.grader.check_{name}({name})"
        assert check.source.startswith(f"{call}.points")
        assert nbgrader_meta(check) == {
            "grade": True,
            "grade_id": f"check_{name}",
            "locked": True,
            "points": GRADED[name],
            "schema_version": 3,
            "solution": False,
            "task": False,
        }


def test_solution_notebook_passes_nbgraders_validation():
    from nbgrader.nbgraderformat import MetadataValidator

    MetadataValidator().validate_nb(read(SOLUTION))  # raises ValidationError on a bad cell


def test_notebook_defines_the_functions_instead_of_importing_them():
    nb = read(SOLUTION)
    sources = "\n".join(cell.source for cell in code_cells(nb))
    assert not re.search(r"from nst\.costs import|import nst\.costs|nst\.costs\.", sources)
    assert "make_train_step" not in sources and "model_nn" not in sources
    cells = {cell.id: cell.source for cell in nb.cells}
    # the later sections run the notebook's own functions
    for name in ("compute_content_cost", "compute_style_cost", "total_cost"):
        assert f"{name}(" in cells["train-step"]
    assert "train_step(generated_image)" in cells["run"]
    for name in list(GRADED)[:-1]:
        assert f'"{name}": {name},' in cells["paint"]
    assert "Options(costs=your_costs" in cells["paint"]
    # the environment still sizes the runs
    for variable in ("NST_ITERATIONS", "NST_SIZE", "NST_OUTPUT_DIR"):
        assert variable in cells["setup-config"]


# --- the student edition -------------------------------------------------------------------


def test_committed_student_edition_is_current(tmp_path):
    fresh = exercise.write_student_edition(SOLUTION, tmp_path / STUDENT.name)
    assert STUDENT.read_text(encoding="utf-8") == fresh.read_text(encoding="utf-8"), (
        "the student edition is stale: run `python -m nst.teaching.exercise` and commit it"
    )


def test_student_edition_contains_no_solution_line():
    solution, student = read(SOLUTION), read(STUDENT)
    lines = solution_lines(solution)
    assert len(lines) >= 20
    student_lines = {line.strip() for cell in student.cells for line in cell.source.splitlines()}
    assert not [line for line in lines if line in student_lines]
    assert BEGIN not in nbformat.writes(student) and END not in nbformat.writes(student)


def test_student_edition_keeps_everything_but_the_solutions():
    solution, student = read(SOLUTION), read(STUDENT)
    assert [cell.id for cell in student.cells] == [cell.id for cell in solution.cells]
    for before, after in zip(solution.cells, student.cells):
        if not nbgrader_meta(before).get("solution"):
            assert after.source == before.source, after.id
            continue
        head, rest = before.source.split(BEGIN)
        indent = re.search(r"[ \t]*$", head)[0]
        tail = rest.split(END, 1)[1].split("\n", 1)[1]
        stub = "\n".join(indent + line for line in CODE_STUB.splitlines())
        assert after.source == head[: len(head) - len(indent)] + stub + "\n" + tail
        assert "### START CODE HERE\n    # YOUR CODE HERE\n    raise NotImplementedError()\n    ### END CODE HERE" in (
            after.source
        )
    for cell in code_cells(student):
        assert cell.outputs == [] and cell.execution_count is None
        if nbgrader_meta(cell).get("grade"):  # check cells: read-only in Jupyter (nbgrader's LockCells)
            assert cell.metadata["editable"] is False and cell.metadata["deletable"] is False


@pytest.mark.slow
def test_nbgrader_generate_assignment_makes_the_same_edition(tmp_path):
    """An instructor's `nbgrader generate_assignment` on the solution notebook, with the stub configured as in
    the README, releases the same cells as `nst exercise`."""
    source = tmp_path / "course" / "source" / "nst"
    source.mkdir(parents=True)
    (source / SOLUTION.name).write_bytes(SOLUTION.read_bytes())
    (tmp_path / "course" / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.ClearSolutions.code_stub = {{'python': {CODE_STUB!r}}}\n"
        "c.ClearSolutions.begin_solution_delimeter = 'BEGIN SOLUTION'\n"
        "c.ClearSolutions.end_solution_delimeter = 'END SOLUTION'\n"
    )
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", "nst", "--CourseDirectory.root=."],
        cwd=tmp_path / "course",
        env=env,
        check=True,
        capture_output=True,
    )
    released = read(tmp_path / "course" / "release" / "nst" / SOLUTION.name)
    assert [cell.source for cell in released.cells] == [cell.source for cell in read(STUDENT).cells]


# --- the command ---------------------------------------------------------------------------


@pytest.mark.slow
def test_exercise_command_writes_the_edition(tmp_path):
    target = tmp_path / "out" / "student.ipynb"
    result = subprocess.run(
        [str(Path(sys.executable).parent / "nst"), "exercise", "--output", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {target}"
    assert target.read_text(encoding="utf-8") == STUDENT.read_text(encoding="utf-8")
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]  # no temporary file left
    assert "exercise" in COMMANDS and "grade" in COMMANDS


@pytest.mark.parametrize(
    "setup, expected",
    [
        (lambda d: d / "missing.ipynb", "no such file"),
        (lambda d: d, "is a directory"),
        (lambda d: (d / "bad.ipynb").write_text("{ not json") and d / "bad.ipynb", "not a Jupyter notebook"),
        (
            lambda d: (d / "plain.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook())) and d / "plain.ipynb",
            "has no ### BEGIN SOLUTION",
        ),  # fmt: skip
    ],
    ids=["missing", "directory", "not-json", "no-solutions"],
)
def test_bad_source_is_one_line_and_exit_2(tmp_path, capsys, setup, expected):
    source = setup(tmp_path)
    out = tmp_path / "student.ipynb"
    with pytest.raises(SystemExit) as exit_info:
        run_cli(exercise.main, ["--source", str(source), "--output", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_solution_region_outside_a_solution_cell_is_refused():
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(f"def f():\n    {BEGIN}\n    return 1\n    {END}"))
    with pytest.raises(exercise.NSTError, match="solution"):
        student_edition(nb)
