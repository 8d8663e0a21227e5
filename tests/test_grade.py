"""nst grade, end to end: a whole class of real notebooks, each in a real sandboxed kernel, graded in one call.

One call of ``nst grade CLASS/ --jobs 2`` (the fixture ``graded``) grades every notebook of
``tests/submissions.py``: the solution, the student edition, alternative correct implementations,
the classic mistakes (one per function in each of six notebooks), an infinite loop, a notebook
that breaks in four ways, the attacks on the grader and the hostile notebooks. The tests then read
what it wrote: the gradebook, grades.json (each function's points, message and mistake key) and
the feedback files. Each notebook costs a kernel, TensorFlow and VGG19, so the class holds
together what cannot hide one another (``submissions.MISTAKE_NOTEBOOKS``).

The sandbox (bubblewrap, run as root for cgroup limits) must be there for the attacks and the
hostile notebooks: without it they skip, loudly; with NST_SANDBOX_TESTS=required (CI) they fail.
"""

import csv
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest
import submissions

from nst.config import ROOT
from nst.errors import run_cli
from nst.teaching import grade as grading
from nst.teaching.exercise import SOLUTION, STUDENT
from nst.teaching.grade.sandbox import unavailable
from nst.teaching.grader import GRADED

pytestmark = pytest.mark.usefixtures("weights_h5")  # the notebooks load VGG19
TIMEOUT = 40  # seconds per cell and per function's check: the infinite loop costs this once
NO_SANDBOX = unavailable()
TOTAL = sum(GRADED.values())


def need_sandbox():
    if NO_SANDBOX is None:
        return
    message = f"NO SANDBOX ({NO_SANDBOX}): the attacks and the hostile notebooks are not graded here"
    if os.environ.get("NST_SANDBOX_TESTS") == "required":
        pytest.fail(message + "; NST_SANDBOX_TESTS=required (CI) needs them: apt-get install bubblewrap, as root")
    pytest.skip(message)


def run_grade(*args, timeout=900):
    command = [sys.executable, "-m", "nst.teaching.grade", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The whole class graded at once: {"students": grades.json's, "csv": rows, "out": folder, ...}."""
    folder = tmp_path_factory.mktemp("class") / "submitted"
    marker = tmp_path_factory.mktemp("outside") / "escaped"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    hostile = None if NO_SANDBOX else (marker, listener.getsockname()[1])
    names = submissions.write_class(folder, hostile)
    sandbox = ["--no-sandbox"] if NO_SANDBOX else []
    start = time.monotonic()
    done = run_grade(folder, "--jobs", 2, "--timeout", TIMEOUT, *sandbox, timeout=1500)
    elapsed = time.monotonic() - start
    out = folder.parent / "submitted-grades"
    try:
        listener.accept()
        connected = True
    except BlockingIOError:
        connected = False
    listener.close()
    with open(out / "gradebook.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    state = json.loads((out / "grades.json").read_text())
    return {
        "done": done, "names": names, "students": state["students"], "csv": rows, "out": out, "folder": folder,
        "elapsed": elapsed, "marker": marker, "connected": connected,
    }  # fmt: skip


def student(graded, name):
    assert graded["done"].returncode == 0, graded["done"].stdout + graded["done"].stderr
    entry = graded["students"][name]
    assert entry["status"] == "graded", entry
    return entry


def failing(entry):
    return {name for name, f in entry["grades"]["functions"].items() if not f["passed"]}


def messages(entry):
    return {name: f["message"] for name, f in entry["grades"]["functions"].items()}


# --- the class as a whole ---------------------------------------------------------------------


@pytest.mark.slow
def test_the_class_is_graded_into_a_gradebook_and_feedback(graded):
    assert graded["done"].returncode == 0, graded["done"].stdout + graded["done"].stderr
    assert sorted(graded["csv"]) == graded["names"] == sorted(graded["students"])
    header = list(next(iter(graded["csv"].values())))
    assert header == ["student", *GRADED, "total", "status"]
    for name, row in graded["csv"].items():
        functions = graded["students"][name]["grades"]["functions"]
        assert row["status"] == "graded"
        assert [float(row[f]) for f in GRADED] == [functions[f]["points"] for f in GRADED]
        assert float(row["total"]) == sum(functions[f]["points"] for f in GRADED)
        text = (graded["out"] / "feedback" / f"{name}.md").read_text()
        assert text.startswith(f"# {name}: {row['total']}/{TOTAL}\n")
        assert all(f"## `{f}`" in text for f in GRADED)
    print(f"{len(graded['names'])} notebooks in {graded['elapsed']:.0f} s with --jobs 2")


@pytest.mark.slow
def test_solution_gets_full_marks(graded):
    entry = student(graded, "solution")
    assert entry["grades"] == {
        "score": TOTAL,
        "max_score": TOTAL,
        "functions": {
            name: {"passed": True, "points": points, "message": "All tests passed"} for name, points in GRADED.items()
        },
    }
    assert entry["other_cells"] == []
    assert "| `train_step` | 2/2 | yes |" in (graded["out"] / "feedback" / "solution.md").read_text()


@pytest.mark.slow
def test_untouched_student_edition_gets_zero(graded):
    entry = student(graded, "student-edition")
    assert entry["grades"]["score"] == 0
    assert set(entry["mistakes"].values()) == {"not-implemented"}
    for name, message in messages(entry).items():
        assert message.startswith(f"{name} is not implemented yet")


@pytest.mark.slow
def test_alternative_correct_implementations_get_full_marks(graded):
    assert student(graded, "alternatives")["grades"]["score"] == TOTAL


@pytest.mark.parametrize(
    "key, function, words, expected_failing",
    [(m[0], m[1], m[4], m[5]) for m in submissions.MISTAKES],
    ids=[m[0] for m in submissions.MISTAKES],
)
@pytest.mark.slow
def test_each_mistake_fails_exactly_the_affected_functions(graded, key, function, words, expected_failing):
    """Its function fails naming it; with the other mistakes of its notebook, exactly the functions they affect."""
    notebook, together = submissions.mistake_notebook(key)
    entry = student(graded, notebook)
    mistakes = {m[0]: m for m in submissions.MISTAKES}
    assert entry["mistakes"][function] == mistakes[key][3] and words in messages(entry)[function], messages(entry)
    affected = set().union(*(mistakes[other][5] for other in together))
    assert failing(entry) == affected, messages(entry)
    assert entry["grades"]["score"] == sum(p for name, p in GRADED.items() if name not in affected)
    if "train_step" in expected_failing and function != "train_step" and not submissions.STEP_FAILS & set(together):
        # train_step's J is not the exercise's cost: it says which function to fix first
        assert entry["mistakes"]["train_step"] == "wrong-cost"
        assert re.search(rf"\b{function}\b.* failed (its|their) own check: fix", messages(entry)["train_step"])


# --- notebooks that loop, break or delete -------------------------------------------------------


@pytest.mark.slow
def test_infinite_loop_fails_only_what_calls_it(graded):
    entry = student(graded, "infinite-loop")
    assert failing(entry) == {"gram_matrix", "compute_layer_style_cost", "compute_style_cost", "train_step"}
    message = messages(entry)
    assert message["gram_matrix"].startswith(f"did not finish within {TIMEOUT} s when cell ")
    assert "an infinite loop?" in message["gram_matrix"]
    assert "gram_matrix did not finish" in message["compute_layer_style_cost"]  # stubbed after one time limit


@pytest.mark.slow
def test_a_notebook_that_breaks_is_graded_not_fatal(graded):
    """A syntax error, a cell killing the kernel, one deleting the working folder, one deleting a function."""
    entry = student(graded, "breaks")
    assert failing(entry) == {"compute_content_cost", "total_cost", "compute_style_cost", "train_step"}
    assert entry["grades"]["score"] == GRADED["gram_matrix"] + GRADED["compute_layer_style_cost"]
    message = messages(entry)
    assert message["compute_content_cost"].startswith("not defined: its cell failed: SyntaxError")
    assert message["total_cost"] == "not defined: its cell failed: the kernel died (the cell ended the Python process)"
    assert message["compute_style_cost"].startswith("not defined when the notebook had run")
    assert message["compute_layer_style_cost"] == "All tests passed"


# --- attacks: no point for what the submission did not write ---------------------------------------


@pytest.mark.slow
def test_patching_the_checks_and_printing_results_earns_nothing(graded):
    """The checks patched and results printed in the notebook of test_tables_...: its three functions still fail."""
    need_sandbox()
    entry = student(graded, "attack-patch-table-pretend-fake-step")
    assert failing(entry) == {"compute_content_cost", "total_cost", "train_step"}, messages(entry)
    assert entry["grades"]["score"] == sum(GRADED[f] for f in ("gram_matrix", "compute_layer_style_cost",
                                                                "compute_style_cost"))  # fmt: skip


@pytest.mark.slow
def test_forging_the_kernel_s_answers_earns_nothing(graded):
    need_sandbox()
    entry = student(graded, "attack-forge-the-answers")
    assert entry["grades"]["score"] == 0, messages(entry)
    assert "unreadable-answer" not in entry["mistakes"].values(), messages(entry)  # well-formed, and wrong
    assert entry["mistakes"]["compute_content_cost"] == "wrong-value"  # the published number, on another case
    assert entry["mistakes"]["train_step"] == "wrong-cost"


@pytest.mark.slow
def test_nst_s_own_solution_earns_nothing(graded):
    """The snoop's graded cells import nst's own solution (its other cells: the next tests)."""
    need_sandbox()
    entry = student(graded, "hostile-snoop")
    assert entry["grades"]["score"] == 0
    assert set(entry["mistakes"].values()) == {"uses-nst-solution"}, messages(entry)
    assert all("nst's own solution of the exercise" in message for message in messages(entry).values())


@pytest.mark.slow
def test_tables_pretend_tensors_and_a_fake_step_earn_nothing(graded):
    need_sandbox()
    entry = student(graded, "attack-patch-table-pretend-fake-step")
    assert failing(entry) == {"compute_content_cost", "total_cost", "train_step"}, messages(entry)
    assert "a hidden test" in messages(entry)["compute_content_cost"]  # every fixed case was in its table
    assert entry["mistakes"]["total_cost"] == "not-a-tensor"
    assert entry["mistakes"]["train_step"] == "wrong-cost"


# --- hostile notebooks: graded, with a message, and nothing harmed --------------------------------


@pytest.mark.slow
def test_snooping_writing_connecting_and_filling_the_disk_reach_nothing(graded):
    need_sandbox()
    entry = student(graded, "hostile-snoop")
    # had a solution it read been executed, the functions would be defined and pass: its imports fail alone
    assert entry["grades"]["score"] == 0 and set(entry["mistakes"].values()) == {"uses-nst-solution"}
    others = "\n".join(entry["other_cells"])
    assert "FileNotFoundError" in others  # neither the solution notebook nor the classmate's is in its view
    assert "Network is unreachable" in others
    assert "No space left on device" in others
    assert not graded["marker"].exists() and not graded["connected"]
    assert not (ROOT / "escaped").exists() and not (graded["folder"] / "escaped").exists()
    assert not list(graded["folder"].glob("filler*")) and not (ROOT / "filler").exists()


@pytest.mark.slow
def test_memory_hogs_parent_killers_and_fork_bombs_are_skipped(graded):
    need_sandbox()
    entry = student(graded, "hostile-wrecker")
    assert entry["grades"]["score"] == TOTAL, messages(entry)
    others = entry["other_cells"]
    assert len(others) == 3 and "out of memory" in others[0] and "out of memory" in others[2], others
    assert "ProcessLookupError" in others[1]  # in its own PID namespace there is nothing else to kill


# --- a rerun, one notebook by the command line, nbgrader ------------------------------------------
# Each of these commands keeps about one core busy (one kernel at a time), so the one notebook's and
# nbgrader's start together when the rerun does (the fixture ``alongside``): the three share the
# machine's cores instead of waiting for one another.


def one_notebook(folder):
    """``nst grade STUDENT --json FILE``: (the finished command, FILE)."""
    out = folder / "grades.json"
    return run_grade(STUDENT, "--json", out, "--timeout", TIMEOUT, *(["--no-sandbox"] if NO_SANDBOX else [])), out


def nbgrader_autograde(course):
    """nbgrader's own pipeline on the solution notebook as it is, generate_assignment then autograde, with alice's
    submission, the notebook with alpha and beta swapped: {grade cell: (its autograded score, its maximum)}."""
    (course / "source" / "nst").mkdir(parents=True)
    (course / "source" / "nst" / SOLUTION.name).write_bytes(SOLUTION.read_bytes())
    submitted = course / "submitted" / "alice" / "nst"
    submitted.mkdir(parents=True)
    swapped = submissions.notebook([("total_cost", "J = beta * J_content + alpha * J_style")])
    nbformat.write(swapped, submitted / SOLUTION.name)
    env = dict(os.environ, NST_ITERATIONS="2", NST_SIZE="32x48")
    env["PATH"] = f"{os.path.dirname(sys.executable)}{os.pathsep}{env['PATH']}"  # nbgrader runs alembic
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
        return {grade.name: (grade.auto_score, grade.max_score) for grade in notebook.grades}


@pytest.fixture(scope="module")
def alongside(tmp_path_factory):
    """The one notebook's grading and nbgrader's pipeline, started at once in threads: {name: future}."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="alongside") as pool:
        yield {
            "one notebook": pool.submit(one_notebook, tmp_path_factory.mktemp("one")),
            "nbgrader": pool.submit(nbgrader_autograde, tmp_path_factory.mktemp("course")),
        }


@pytest.mark.slow
def test_a_rerun_grades_only_what_changed(graded, alongside, tmp_path):
    folder = tmp_path / "submitted"
    shutil.copytree(graded["folder"], folder)
    shutil.copytree(graded["out"], tmp_path / "submitted-grades")
    shutil.copyfile(SOLUTION, folder / "student-edition.ipynb")  # the student finished the work
    (folder / "late.ipynb").write_text("not a notebook")  # a broken one stops nothing
    done = run_grade(folder, "--timeout", TIMEOUT, *(["--no-sandbox"] if NO_SANDBOX else []))
    assert done.returncode == 1, done.stdout + done.stderr  # one submission could not be graded
    lines = done.stdout.splitlines()
    assert [line for line in lines if "unchanged" not in line] == [
        line for line in lines if line.startswith(("late:", "student-edition:"))
    ]
    assert "student-edition: 10/10" in lines and any(line.startswith("late: not graded: ") for line in lines)
    with open(tmp_path / "submitted-grades" / "gradebook.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert rows["student-edition"]["total"] == str(TOTAL) and rows["late"]["status"].startswith("not graded: ")
    assert rows["solution"] == graded["csv"]["solution"]


@pytest.mark.slow
def test_one_notebook_through_the_command(alongside):
    done, out = alongside["one notebook"].result()
    assert done.returncode == 1, done.stdout + done.stderr
    grades = json.loads(out.read_text())
    assert grades["score"] == 0 and grades["max_score"] == TOTAL
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["function", "points", "passed", "message"]
    assert f"score: 0/{TOTAL}" in done.stdout
    for name, points in GRADED.items():
        assert any(line.startswith(name) and f"0/{points}" in line for line in lines)


@pytest.mark.slow
def test_nbgrader_autograde_scores_a_submission_like_nst_grade(alongside):
    """nbgrader's own pipeline on the solution notebook as it is (``nbgrader_autograde``)."""
    scores = alongside["nbgrader"].result()
    # train_step's J is then not the exercise's cost: 0 there too, as nst grade says (test_each_mistake...)
    failed = {"total_cost", "train_step"}
    assert scores == {
        f"check_{name}": (0.0 if name in failed else float(points), float(points)) for name, points in GRADED.items()
    }


# --- the command's edges ------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda d: d / "missing.ipynb", lambda d: d], ids=["missing", "empty-folder"])
def test_bad_path_is_one_line_and_exit_2(tmp_path, capsys, make):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(grading.main, [str(make(tmp_path)), "--no-sandbox"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ")


def test_without_a_sandbox_it_stops_unless_told(tmp_path, capsys, monkeypatch):
    from nst.teaching.grade import sandbox

    monkeypatch.setattr(sandbox, "unavailable", lambda: "bubblewrap is not installed (apt-get install bubblewrap)")
    with pytest.raises(SystemExit) as exit_info:
        run_cli(grading.main, [str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot sandbox the submissions: bubblewrap is not installed" in err[0]
    assert "--no-sandbox" in err[0]
    with pytest.raises(SystemExit):
        run_cli(grading.main, [str(tmp_path), "--no-sandbox"])  # an empty folder: it warns, then stops there
    err = capsys.readouterr().err
    assert err.startswith("WARNING: grading without a sandbox (--no-sandbox).") and "no notebooks in it" in err


def test_the_graded_kernel_s_nst_holds_no_solution(tmp_path):
    """The sandbox's copy of nst: what the notebook uses, and nst's own solution only as ImportErrors."""
    from nst.teaching.grade.sandbox import kernel_tree

    tree = kernel_tree(tmp_path / "nst")
    sources = {path.relative_to(tree).as_posix(): path.read_text() for path in tree.rglob("*.py")}
    assert {"config.py", "images.py", "adam.py", "vgg.py", "teaching/compute.py"} <= set(sources)
    for name, source in sources.items():  # none of the graded functions, none of the grader's answers
        assert not re.search(r"def (compute_\w+_cost|gram_matrix|total_cost|train_step|content_cost)\(", source), name
    guarded = [
        "nst.costs",
        "nst.costs.style",
        "nst.train",
        "nst.teaching.grader.references",
        "nst.teaching.grader.checks",
    ]
    program = (
        "import sys\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "import nst.teaching.grader as grader\n"
        "print(grader.CHECKS['gram_matrix'](None).points)\n"
        f"for module in {guarded!r}:\n"
        "    try:\n"
        "        __import__(module)\n"
        "    except ImportError as err:\n"
        "        print(err)\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    lines = done.stdout.splitlines()
    assert lines[0].endswith("checks it from outside this kernel") and lines[1] == "None", done.stdout + done.stderr
    assert len(lines) == 2 + len(guarded) and all("nst's own solution of the exercise" in line for line in lines[2:])


def test_report_table_json_and_feedback():
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
    text = grading.feedback(report, "alice")
    assert text.startswith("# alice: 1/2\n") and "| `total_cost` | 0/1 | no |" in text
    assert "## `total_cost`\n\n    first line\n    Hint: second line\n" in text
    assert text.endswith("## Other cells that failed\n\n    cell 9 (run): NotImplementedError\n")


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


def test_submissions_are_found_flat_or_in_nbgrader_s_layout(tmp_path):
    from nst.teaching.grade.classroom import find_submissions

    (tmp_path / "bob.ipynb").write_text("{}")
    (tmp_path / "alice" / "nst" / ".ipynb_checkpoints").mkdir(parents=True)
    (tmp_path / "alice" / "nst" / "exercise.ipynb").write_text("{}")
    (tmp_path / "alice" / "nst" / ".ipynb_checkpoints" / "exercise-checkpoint.ipynb").write_text("{}")
    (tmp_path / "carol" / "nst").mkdir(parents=True)
    (tmp_path / "carol" / "nst" / "a.ipynb").write_text("{}")
    (tmp_path / "carol" / "nst" / "b.ipynb").write_text("{}")
    (tmp_path / "notes").mkdir()
    found = find_submissions(tmp_path)
    assert [(name, path and path.relative_to(tmp_path).as_posix(), why[:17]) for name, path, why in found] == [
        ("alice", "alice/nst/exercise.ipynb", ""),
        ("bob", "bob.ipynb", ""),
        ("carol", None, "several notebooks"),
    ]
