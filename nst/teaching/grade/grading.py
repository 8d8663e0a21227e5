"""Grading one submission: its cells run in a kernel of their own, then each function judged from outside.

``grade(path)`` runs the notebook's code cells in a new kernel (sandboxed when given a
``sandbox.Sandbox``), up to its last graded or check cell: the training after it grades nothing.
Every cell has a time limit; a kernel that dies or hangs is replaced by a new one that skips the
cell that did it. Then each graded function is judged (``nst.teaching.grader.JUDGES``) through a
``remote.Remote``: the kernel only calls the function on the inputs it is sent and answers with
data, while the judging stays here, in a process that never runs the submission's code: the right
answers, the cases drawn from a seed the kernel never sees, the known mistakes, the messages.
"""

import os
import secrets
import tempfile
from pathlib import Path

from nst.teaching.compute import GUARD_WORDS
from nst.teaching.exercise import read_notebook
from nst.teaching.grade.cells import cell_roles
from nst.teaching.grade.kernel import Kernel, Outcome
from nst.teaching.grade.remote import PROBE_TIMEOUT, Remote, ask_kernel
from nst.teaching.grade.report import FunctionGrade, Report, whole

DEFAULT_TIMEOUT = 120  # seconds, per cell and per function's check
# A tiny training run unless the environment asks for another: the checks need the functions, not a picture.
GRADE_ENV = {"NST_ITERATIONS": "2", "NST_SIZE": "32x48"}
MAX_KERNELS = 4  # kernels started per submission: the first, then one per cell that kills or hangs it


def graded_functions():
    """{name: points} of the graded functions, in notebook order (``nst.teaching.grader.GRADED``)."""
    from nst.teaching.grader import GRADED  # here: the grader loads TensorFlow, which --help need not wait for

    return dict(GRADED)


class Grading:
    """The state of one submission's grading, carried across kernels when one dies or hangs."""

    def __init__(self, nb, folder, env, timeout, hidden, sandbox):
        self.nb, self.folder, self.env, self.timeout = nb, folder, env, timeout
        self.hidden, self.sandbox = hidden, sandbox
        self.points = graded_functions()
        self.roles = cell_roles(nb, self.points)
        last = self.roles.last
        self.code_cells = [
            i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and (last is None or i <= last)
        ]
        self.fatal = {}  # cell index -> error, for cells that killed or hung a kernel: skipped in the next one
        self.cell_errors = {}  # cell index -> error, from the latest run of that cell
        self.hung = {}  # function name -> message, for functions interrupted after the time limit
        self.results = {}  # function name -> {"defined", "passed", "points", "message", "mistake"}

    def grade(self):
        for attempt in range(MAX_KERNELS):
            kernel = Kernel(self.folder / f"kernel-{attempt}", self.env, self.sandbox)
            try:
                if self.run_notebook(kernel) and self.judge(kernel):
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
            outcome = kernel.run(self.nb.cells[index].source, self.timeout)
            self.cell_errors.pop(index, None)
            if outcome.status in ("error", "timeout"):
                self.cell_errors[index] = outcome.error
            if outcome.status == "timeout":
                outcome = self.after_timeout(kernel, self.describe(index))
            if outcome.status == "dead":
                self.fatal[index] = self.cell_errors[index] = outcome.error
                return False
        return True

    def after_timeout(self, kernel, where):
        """Find the graded function that was running when time ran out, and have the kernel stub it."""
        call = {"kind": "hung", "names": list(self.points), "seconds": f"{self.timeout:g}"}
        reply, outcome = ask_kernel(kernel, call)
        if outcome.status != "ok":
            return Outcome("dead", f"did not finish within {self.timeout:g} s, and the kernel hung")
        hung = reply.get("hung") if isinstance(reply, dict) else None
        if hung in self.points and hung not in self.hung:
            self.hung[hung] = f"did not finish within {self.timeout:g} s when {where} called it (an infinite loop?)"
        return Outcome("timeout")

    def judge(self, kernel):
        """Judge each graded function not judged yet; False if the kernel died or hung on one."""
        reply, outcome = ask_kernel(kernel, {"kind": "defined", "names": list(self.points)}, PROBE_TIMEOUT)
        if outcome.status == "dead":
            return False
        defined = reply.get("defined") if isinstance(reply, dict) else None
        defined = defined if isinstance(defined, dict) else {}
        for name in self.points:
            if name in self.results:
                continue
            if name in self.hung:
                self.results[name] = {"defined": True, "passed": False, "message": self.hung[name]}
                self.results[name]["mistake"] = "timeout"
                continue
            if defined.get(name) != "function":
                self.results[name] = {"defined": False}
                continue
            computer = Remote(kernel, name, self.timeout)
            result = self.judge_one(name, computer)
            self.results[name] = {"defined": True, "passed": result.passed, "points": result.points}
            self.results[name].update(message=result.message, mistake=result.mistake)
            if computer.hung and self.after_timeout(kernel, "its check").status == "dead":
                return False
            if computer.dead:
                return False
        return True

    def judge_one(self, name, computer):
        from nst.teaching.grader import JUDGES
        from nst.teaching.grader.step import judge_train_step

        if name != "train_step":
            return JUDGES[name](computer, self.hidden)
        failed = [other for other, result in self.results.items() if not result.get("passed")]
        return judge_train_step(computer, self.hidden, measure=True, failed=failed)

    def describe(self, index):
        cell = self.nb.cells[index]
        label = f"cell {index + 1}"  # counted from 1 in the file's order, markdown cells included
        return f"{label} ({cell.get('id')})" if cell.get("id") else label

    def report(self):
        functions = {}
        for name, max_points in self.points.items():
            result = self.results[name]
            own_cells = [i for i, names in self.roles.defines.items() if name in names]
            errors = [self.cell_errors[i] for i in own_cells if i in self.cell_errors]
            mistake = result.get("mistake", "")
            if not result.get("defined"):
                mistake = "not-defined"
                if errors:
                    message = f"not defined: its cell failed: {errors[0]}"
                    mistake = "uses-nst-solution" if GUARD_WORDS in errors[0] else mistake
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
            functions[name] = FunctionGrade(name, passed, whole(points), whole(max_points), message.strip(), mistake)
        own = set(self.roles.defines) | set(self.roles.checks)
        others = [f"{self.describe(i)}: {error}" for i, error in sorted(self.cell_errors.items()) if i not in own]
        return Report(functions, others)


def grading_env(env=None):
    """The environment a graded notebook runs with: ``env`` (else this process's), a tiny training, no display."""
    env = dict(os.environ if env is None else env)
    for key, value in GRADE_ENV.items():
        env.setdefault(key, value)
    env["MPLBACKEND"] = "Agg"  # figures are not graded
    return env


def grade(path, timeout=DEFAULT_TIMEOUT, env=None, sandbox=None, seed=None):
    """Grade the notebook at ``path``; returns a Report. NSTError if it is not a readable notebook.

    ``sandbox`` (a ``sandbox.Sandbox``) runs its kernel sandboxed; without one it runs as this user.
    ``env`` replaces ``os.environ`` for the kernel; ``seed`` that of the hidden cases (else a secret one).
    """
    from nst.teaching.grader import hidden_cases

    nb = read_notebook(path)
    hidden = hidden_cases(secrets.randbits(63) if seed is None else seed)
    env = grading_env(env)
    with tempfile.TemporaryDirectory(prefix="nst-grade-", ignore_cleanup_errors=True) as folder:
        folder = Path(folder)
        if sandbox is None:
            env["NST_OUTPUT_DIR"] = str(folder / "kernel-0" / "work" / "output")  # never the repository's output/
        return Grading(nb, folder, env, timeout, hidden, sandbox).grade()
