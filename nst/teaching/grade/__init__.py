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
when every function passes, 1 when one fails, 2 when the submission cannot be read (or the
command line is wrong: one line, as nst's other commands say it).

A function's message says what its check found; when its own cell failed, that error comes first
(cells are matched to functions by their nbgrader ``grade_id``, else by the ``def`` they hold).

The package, one job a module:

- ``command``  the command line: ``main``, ``build_parser``
- ``grading``  one submission graded: ``grade(path)`` and its ``Grading`` across kernels
- ``kernel``   running cells in a kernel of this interpreter, each with a time limit
- ``cells``    whose each submitted cell is, and the grader's own cells run in the kernel
- ``report``   the grades: ``FunctionGrade``, ``Report``, and the ``table`` the command prints
"""

from nst.teaching.grade.cells import CellRoles, cell_roles
from nst.teaching.grade.command import build_parser, main
from nst.teaching.grade.grading import DEFAULT_TIMEOUT, grade
from nst.teaching.grade.kernel import pinned_kernel_manager
from nst.teaching.grade.report import FunctionGrade, Report, table

__all__ = [
    "DEFAULT_TIMEOUT",
    "CellRoles",
    "FunctionGrade",
    "Report",
    "build_parser",
    "cell_roles",
    "grade",
    "main",
    "pinned_kernel_manager",
    "table",
]
