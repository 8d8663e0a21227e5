"""Grade a submitted exercise notebook: ``python -m nst.teaching.grade SUBMISSION.ipynb [--json PATH]`` (``nst grade``).

What it does:

1. copies the submission into a new temporary folder and runs it there with nbclient, in an
   IPython kernel of this very interpreter: the kernel's working folder and ``NST_OUTPUT_DIR`` are
   in that folder, so the notebook's relative paths and its outputs cannot reach the repository or
   its ``output/``. ``NST_ITERATIONS`` and ``NST_SIZE`` default to a tiny run (2 iterations at
   32x48) unless the environment sets them: grading needs the functions, not a good picture.
   (This guards against accidents, not malice: a submission runs as you, so run untrusted ones in
   a container.)
2. runs the cells one by one, errors allowed, each with a time limit (``--timeout``, 120 s): a
   cell that fails, loops or kills the kernel does not stop the grading. A cell that is still
   running when its time is up is interrupted; if a graded function was running, that function is
   replaced in the kernel by one that raises at once, so the cells that call it later fail fast
   instead of each waiting out the limit. A cell that kills the kernel (or leaves it hung) is
   skipped and the notebook run again in a new kernel.
3. then, in the same kernel, calls ``nst.teaching.grader.CHECKS[name](function, quiet=True)`` for each
   graded function, each check in its own cell with its own time limit, and reads the results.

It prints a table (function, points, passed, message) and the score; ``--json PATH`` writes
``{"score", "max_score", "functions": {name: {"passed", "points", "message"}}}``. Exit status 0
when every function passes, 1 when one fails, 2 when the submission cannot be read.

A function's message says what its check found; when its own cell failed, that error comes first
(cells are matched to functions by their nbgrader ``grade_id``, else by the ``def`` they hold).
"""

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from jupyter_core.utils import run_sync

from nst.errors import NSTError, one_line, run_cli
from nst.images import atomic_path
from nst.teaching.exercise import read_notebook

DEFAULT_TIMEOUT = 120  # seconds, per cell and per check
# A tiny training run unless the environment asks for another: the checks need the functions, not a picture.
GRADE_ENV = {"NST_ITERATIONS": "2", "NST_SIZE": "32x48"}
PROBE_TIMEOUT = 30  # seconds for the kernel to answer after an interrupt before it counts as hung
MAX_KERNELS = 4  # kernels started per submission: the first, then one per cell that kills or hangs it
TIMEOUT_ENAME = "CellTimeout"
MARK = "NST-GRADE "  # the kernel prints each result as this mark and one line of JSON


def graded_functions():
    """{name: points} of the graded functions, in notebook order (``nst.teaching.grader.GRADED``)."""
    from nst.teaching.grader import GRADED

    return dict(GRADED)


# --- which cell is whose -----------------------------------------------------------------


@dataclass
class CellRoles:
    """Which code cells define a graded function and which check one, by index into ``nb.cells``."""

    defines: dict = field(default_factory=dict)  # cell index -> names of the functions it defines
    checks: dict = field(default_factory=dict)  # cell index -> names of the functions it checks

    @property
    def last(self):
        """Index of the last graded or check cell, or None."""
        return max([*self.defines, *self.checks], default=None)


def cell_roles(nb, names):
    """Match cells to functions by nbgrader ``grade_id`` (``name`` / ``check_name``), else by their source."""
    roles = CellRoles()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        for name in names:
            if grade_id == name or re.search(rf"^\s*def\s+{name}\s*\(", cell.source, re.M):
                roles.defines.setdefault(index, []).append(name)
            elif grade_id == f"check_{name}" or f"check_{name}(" in cell.source:
                roles.checks.setdefault(index, []).append(name)
    return roles


# --- the kernel side: code run in the submission's kernel ---------------------------------

CHECK_CELL = '''
def _nst_grade_check(name):
    """Run nst.teaching.grader's check of the notebook's function `name`; print the result as one line of JSON."""
    import json
    import sys

    import nst.teaching.grader

    namespace = globals()
    result = {"name": name, "defined": name in namespace}
    if result["defined"]:
        try:
            args = [namespace[name]]
            if name == "train_step":
                if "generated_image" not in namespace:
                    raise NameError("generated_image is not defined (its cell failed?), so train_step cannot run")
                args.append(namespace["generated_image"])
            check = nst.teaching.grader.CHECKS[name](*args, quiet=True)
            result.update(passed=bool(check.passed), points=float(check.points), message=str(check.message))
            result.update(mistake=str(getattr(check, "mistake", "")))
        except Exception as err:
            result.update(passed=False, points=0.0, message=f"could not be checked: {type(err).__name__}: {err}")
    sys.stdout.write(MARK + json.dumps(result) + "\\n")
    sys.stdout.flush()


_nst_grade_check(NAME)
'''

# Run after a cell timed out and was interrupted: which graded function was running (the innermost
# one in the traceback of the KeyboardInterrupt)? That function is replaced by one that raises at
# once, so every later cell calling it fails in no time instead of waiting out the limit again.
AFTER_TIMEOUT_CELL = """
def _nst_grade_after_timeout(names, seconds):
    import json
    import sys
    import traceback

    hung = None
    value = getattr(sys, "last_value", None)
    if isinstance(value, KeyboardInterrupt) and value is not globals().get("_nst_grade_seen"):
        globals()["_nst_grade_seen"] = value
        for frame, _ in traceback.walk_tb(sys.last_traceback):
            code = frame.f_code
            name = code.co_name.removeprefix("tf__")  # tf.function's autograph renames what it converts
            if name in names and "/nst/" not in code.co_filename.replace("\\\\", "/"):
                hung = name  # keep the innermost
    if hung is not None:
        def raise_timeout(*args, **kwargs):
            raise TimeoutError(f"{hung} did not finish within {seconds} s when the notebook ran; an infinite loop?")

        raise_timeout.__name__ = raise_timeout.__qualname__ = hung
        globals()[hung] = raise_timeout
    sys.stdout.write(MARK + json.dumps({"hung": hung}) + "\\n")
    sys.stdout.flush()


_nst_grade_after_timeout(NAMES, SECONDS)
"""


def code_cell(template, **values):
    source = template.replace("MARK", repr(MARK))
    for key, value in values.items():
        source = source.replace(key, repr(value))
    return nbformat.v4.new_code_cell(source.strip())


def marked_results(cell):
    """The JSON objects the kernel printed after MARK in ``cell``'s output."""
    text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
    return [json.loads(line[len(MARK) :]) for line in text.splitlines() if line.startswith(MARK)]


# --- running cells -------------------------------------------------------------------------


def pinned_kernel_manager(kernel_dir):
    """An AsyncKernelManager for a kernel named 'python3' that runs exactly this interpreter.

    (Async, as nbclient's own: with a blocking KernelManager, interrupting a cell that ran out of
    time from inside nbclient's event loop never returned.)

    The kernelspec is written to ``kernel_dir``, so no other 'python3' kernelspec (user folder,
    system) can substitute an interpreter without nst and TensorFlow."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    spec_dir = Path(kernel_dir) / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (nst grade)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(kernel_dir)], ensure_native_kernel=False)
    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=specs)


@dataclass
class Outcome:
    status: str  # "ok", "error", "timeout" or "dead"
    error: str = ""  # "<exception>: <message>" for the last three


class Kernel:
    """One kernel running a notebook's cells, each with a time limit; ``stop()`` ends it."""

    def __init__(self, nb, folder, env, timeout):
        from nbclient import NotebookClient

        (folder / "work").mkdir(parents=True, exist_ok=True)  # again: a cell may have deleted it
        self.km = pinned_kernel_manager(folder / "kernels")
        self.client = NotebookClient(
            nb,
            km=self.km,
            timeout=timeout,
            allow_errors=True,
            interrupt_on_timeout=True,
            # Don't wait for the interrupted cell's reply: a hung kernel would never send it.
            error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": f"still running after {timeout} s", "traceback": []},
            resources={"metadata": {"path": str(folder / "work")}},
            on_cell_executed=self._keep_reply,
        )
        self.reply = None
        # The kernel's own stderr (its start-up notices, C-level output) goes to a file, not the table.
        self.log = open(folder / "kernel.log", "ab")  # noqa: SIM115 - closed in stop()
        try:
            self.client.start_new_kernel(env=env, stderr=self.log)
            self.client.start_new_kernel_client()
        except Exception as err:  # noqa: BLE001 - whatever stops a kernel from starting
            self.stop()
            raise NSTError(f"cannot start a Python kernel ({one_line(err)}); is ipykernel installed?") from None

    def _keep_reply(self, cell, cell_index, execute_reply):
        self.reply = execute_reply

    def run(self, cell, index, timeout):
        """Execute one cell; its outputs land in ``cell.outputs``."""
        from nbclient.exceptions import DeadKernelError

        self.client.timeout = timeout
        self.reply = None
        try:
            self.client.execute_cell(cell, index)
        except DeadKernelError:
            return Outcome("dead", "the kernel died (the cell ended the Python process)")
        if not run_sync(self.km.is_alive)():
            return Outcome("dead", "the kernel died (the cell ended the Python process)")
        content = (self.reply or {}).get("content", {})
        if content.get("status") != "error":
            return Outcome("ok")
        if content.get("ename") == TIMEOUT_ENAME:
            return Outcome("timeout", f"did not finish within {timeout:g} s (an infinite loop?)")
        evalue = " ".join(str(content.get("evalue", "")).split())
        return Outcome("error", f"{content.get('ename')}: {evalue}" if evalue else str(content.get("ename")))

    def stop(self):
        try:
            if self.client.kc is not None:
                self.client.kc.stop_channels()
            if self.km.has_kernel:
                run_sync(self.km.shutdown_kernel)(now=True)
        except Exception:  # noqa: BLE001, S110 - already gone
            pass
        self.log.close()


def whole(number):
    """An int when the number is whole (points print as 2, not 2.0), else the float."""
    return int(number) if float(number).is_integer() else float(number)


# --- grading -----------------------------------------------------------------------------


@dataclass
class FunctionGrade:
    name: str
    passed: bool
    points: float
    max_points: float
    message: str
    mistake: str = ""  # nst.teaching.grader's key for what its check recognised ("bare-reshape", ...), if anything


@dataclass
class Report:
    functions: dict  # name -> FunctionGrade, in notebook order
    cell_errors: list  # "cell N (id): error" for the failed cells that are not a graded function's
    notebook: object = None  # the executed notebook (outputs of the last run)

    @property
    def score(self):
        return sum(f.points for f in self.functions.values())

    @property
    def max_score(self):
        return sum(f.max_points for f in self.functions.values())

    @property
    def passed(self):
        return all(f.passed for f in self.functions.values())

    def as_json(self):
        return {
            "score": self.score,
            "max_score": self.max_score,
            "functions": {
                f.name: {"passed": f.passed, "points": f.points, "message": f.message} for f in self.functions.values()
            },
        }


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


# --- the command ---------------------------------------------------------------------------


def format_points(points):
    return f"{points:g}"


def table(report):
    """The report as text: one row per function, messages wrapped under their column."""
    width = max(len("function"), *(len(name) for name in report.functions))
    header = f"{'function':{width}}  points  passed  message"
    lines = [header, "-" * len(header)]
    indent = " " * (width + 18)
    for f in report.functions.values():
        points = f"{format_points(f.points)}/{format_points(f.max_points)}"
        message = f.message.splitlines() or [""]
        lines.append(f"{f.name:{width}}  {points:>6}  {'yes' if f.passed else 'no':6}  {message[0]}")
        lines += [indent + line for line in message[1:]]
    lines.append(f"score: {format_points(report.score)}/{format_points(report.max_score)}")
    if report.cell_errors:
        lines.append("")
        lines.append("other cells that failed:")
        lines += [f"  {error}" for error in report.cell_errors]
    return "\n".join(lines)


def positive_seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, not {text!r}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="nst grade",
        description="Run a submitted exercise notebook in a temporary folder and grade each of its graded "
        "functions with nst.teaching.grader's checks. Exit status 0 when all pass, 1 when one fails, 2 when the "
        "notebook cannot be read. NST_ITERATIONS and NST_SIZE (default 2 and 32x48) size its training.",
    )
    parser.add_argument("submission", type=Path, help="the submitted notebook (.ipynb)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the grades as JSON to PATH")
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="time limit of each cell and each check (default: %(default)s)",
    )
    parser.add_argument(
        "--skip-training",
        action="store_true",
        help="run the notebook only up to its last graded cell (the training after it grades nothing)",
    )
    parser.add_argument("--debug", action="store_true", help="show a traceback with an error")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    read_notebook(args.submission)  # a bad path or file: one line and exit 2 before anything starts
    print(f"grading {args.submission} ...", file=sys.stderr, flush=True)
    report = grade(args.submission, timeout=args.timeout, skip_training=args.skip_training)
    print(table(report))
    if args.json is not None:
        try:
            with atomic_path(args.json) as temporary:
                temporary.write_text(json.dumps(report.as_json(), indent=2) + "\n")
        except OSError as err:
            raise NSTError(f"{args.json}: cannot write the grades ({one_line(err)}); choose another --json") from None
    return 0 if report.passed else 1


if __name__ == "__main__":
    run_cli(main, sys.argv[1:])
