"""Grading one submission: its cells run in a kernel, then each graded function's check, and the Report.

``grade(path)`` copies the submission into a new temporary folder and runs it there (``Grading``):
every cell with a time limit, a kernel that dies or hangs replaced by a new one that skips the cell
that did it, then ``nst.teaching.grader``'s check of each graded function in the same kernel.
"""

import os
import shutil
import tempfile
from pathlib import Path

from nst.teaching.exercise import read_notebook
from nst.teaching.grade.cells import AFTER_TIMEOUT_CELL, CHECK_CELL, cell_roles, code_cell, marked_results
from nst.teaching.grade.kernel import Kernel, Outcome
from nst.teaching.grade.report import FunctionGrade, Report, whole

DEFAULT_TIMEOUT = 120  # seconds, per cell and per check
# A tiny training run unless the environment asks for another: the checks need the functions, not a picture.
GRADE_ENV = {"NST_ITERATIONS": "2", "NST_SIZE": "32x48"}
PROBE_TIMEOUT = 30  # seconds for the kernel to answer after an interrupt before it counts as hung
MAX_KERNELS = 4  # kernels started per submission: the first, then one per cell that kills or hangs it


def graded_functions():
    """{name: points} of the graded functions, in notebook order (``nst.teaching.grader.GRADED``)."""
    from nst.teaching.grader import GRADED  # here: the grader loads TensorFlow, which --help need not wait for

    return dict(GRADED)


class Grading:
    """The state of one submission's grading, carried across kernels when one dies or hangs."""

    def __init__(self, nb, folder, env, timeout, skip_training):
        self.nb, self.folder, self.env, self.timeout = nb, folder, env, timeout
        self.n_cells = len(nb.cells)  # the submission's; the grader's own cells are appended after them
        self.points = graded_functions()
        self.roles = cell_roles(nb, self.points)
        code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
        if skip_training and self.roles.last is not None:
            code = [i for i in code if i <= self.roles.last]
        self.code_cells = code
        self.fatal = {}  # cell index -> error, for cells that killed or hung a kernel: skipped in the next one
        self.cell_errors = {}  # cell index -> error, from the latest run of that cell
        self.hung = {}  # function name -> message, for functions interrupted after the time limit
        self.results = {}  # function name -> what its check said (a dict from CHECK_CELL, or our own)

    def grade(self):
        for _ in range(MAX_KERNELS):
            kernel = Kernel(self.nb, self.folder, self.env, self.timeout)
            try:
                if self.run_notebook(kernel) and self.run_checks(kernel):
                    break
            finally:
                kernel.stop()
        gave_up = f"not checked: the kernel died or hung {MAX_KERNELS} times; see the cells that failed"
        for name in self.points:  # whatever is left was never checked
            self.results.setdefault(name, {"defined": True, "passed": False, "message": gave_up})
        return self.report()

    def run_notebook(self, kernel):
        """Run the submission's cells in ``kernel``; False if it died or hung (then try again without that cell)."""
        for index in self.code_cells:
            if index in self.fatal:
                continue
            outcome = kernel.run(self.nb.cells[index], index, self.timeout)
            self.cell_errors.pop(index, None)
            if outcome.status in ("error", "timeout"):
                self.cell_errors[index] = outcome.error
            if outcome.status == "timeout":
                outcome = self.after_timeout(kernel, index)
            if outcome.status == "dead":
                self.fatal[index] = self.cell_errors[index] = outcome.error
                return False
        return True

    def after_timeout(self, kernel, index):
        """Find the graded function a timed-out cell was running and stub it; 'dead' if the kernel hangs."""
        probe = self.add_cell(AFTER_TIMEOUT_CELL, NAMES=list(self.points), SECONDS=f"{self.timeout:g}")
        outcome = kernel.run(probe, len(self.nb.cells) - 1, PROBE_TIMEOUT)
        if outcome.status != "ok":
            return Outcome("dead", f"did not finish within {self.timeout:g} s, and the kernel hung")
        hung = next((r["hung"] for r in marked_results(probe) if "hung" in r), None)
        if hung is not None and hung not in self.hung:
            where = self.describe(index)
            self.hung[hung] = f"did not finish within {self.timeout:g} s when {where} called it (an infinite loop?)"
        return Outcome("timeout")

    def run_checks(self, kernel):
        """Check each graded function not checked yet; False if the kernel died or hung on one."""
        for name in self.points:
            if name in self.results:
                continue
            if name in self.hung:
                self.results[name] = {"defined": True, "passed": False, "message": self.hung[name]}
                continue
            cell = self.add_cell(CHECK_CELL, NAME=name)
            outcome = kernel.run(cell, len(self.nb.cells) - 1, self.timeout)
            found = [r for r in marked_results(cell) if r.get("name") == name]
            if found and outcome.status == "ok":
                self.results[name] = found[-1]
                continue
            message = {
                "timeout": f"its check did not finish within {self.timeout:g} s (an infinite loop?)",
                "dead": "the kernel died while checking it (the function ended the Python process?)",
            }.get(outcome.status, f"could not be checked: {outcome.error}")
            self.results[name] = {"defined": True, "passed": False, "message": message}
            if outcome.status == "timeout":
                outcome = self.after_timeout(kernel, len(self.nb.cells) - 1)
            if outcome.status == "dead":
                return False
        return True

    def add_cell(self, template, **values):
        """Append one of the grader's own cells to the notebook (nbclient runs cells of the notebook)."""
        cell = code_cell(template, **values)
        self.nb.cells.append(cell)
        return cell

    def describe(self, index):
        if index >= self.n_cells:
            return "its check"
        cell = self.nb.cells[index]
        label = f"cell {index + 1}"  # counted from 1 in the file's order, markdown cells included
        return f"{label} ({cell.get('id')})" if cell.get("id") else label

    def report(self):
        functions = {}
        for name, max_points in self.points.items():
            result = self.results[name]
            own_cells = [i for i, names in self.roles.defines.items() if name in names]
            errors = [self.cell_errors[i] for i in own_cells if i in self.cell_errors]
            if not result.get("defined"):
                if errors:
                    message = f"not defined: its cell failed: {errors[0]}"
                elif own_cells:
                    message = "not defined when the notebook had run: did a later cell delete or rename it?"
                else:
                    message = f"not defined: no cell defines {name}"
                passed, points = False, 0.0
            else:
                passed = bool(result.get("passed"))
                points = min(float(result.get("points", max_points if passed else 0)), max_points) if passed else 0.0
                message = result.get("message", "")
                if errors:
                    message = f"its cell failed: {errors[0]}\n{message}"
            functions[name] = FunctionGrade(
                name, passed, whole(points), whole(max_points), message.strip(), result.get("mistake", "")
            )
        own = set(self.roles.defines) | set(self.roles.checks)
        others = [f"{self.describe(i)}: {error}" for i, error in sorted(self.cell_errors.items()) if i not in own]
        return Report(functions, others, self.nb)


def grade(path, timeout=DEFAULT_TIMEOUT, skip_training=False, env=None):
    """Grade the notebook at ``path``; returns a Report. NSTError if it is not a readable notebook.

    ``skip_training`` runs the cells only up to the last graded or check cell: the training after
    it does not change any function, only takes time. ``env`` replaces ``os.environ`` for the kernel.
    """
    path = Path(path)
    nb = read_notebook(path)
    env = dict(os.environ if env is None else env)
    for key, value in GRADE_ENV.items():
        env.setdefault(key, value)
    env["MPLBACKEND"] = "Agg"  # figures are not graded
    with tempfile.TemporaryDirectory(prefix="nst-grade-", ignore_cleanup_errors=True) as folder:
        folder = Path(folder)
        work = folder / "work"
        work.mkdir()
        shutil.copyfile(path, work / path.name)  # next to itself, as in the learner's Jupyter
        env["NST_OUTPUT_DIR"] = str(work / "output")  # never the repository's output/
        return Grading(nb, folder, env, timeout, skip_training).grade()
