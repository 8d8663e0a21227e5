"""Grade submitted exercise notebooks: ``nst grade SUBMISSION.ipynb`` or ``nst grade SUBMISSIONS/ --jobs N``.

How a submission is graded, so that its code cannot change its grade:

1. its code runs in a kernel of its own, in a sandbox (``sandbox``): no network, a read-only view
   of the system without the repository or the other submissions, one small private folder,
   limits on memory, processes and CPU time (``limits``), and of nst only what the notebook
   legitimately uses: nst's own solution of the exercise is not there to import. The notebook runs
   up to its last graded cell (the training after it grades nothing), each cell with a time limit
   (``--timeout``); a cell that loops is interrupted, one that kills its kernel is skipped in a
   new one.
2. the kernel only computes: the judge (``grading``, in this process, which never runs the
   submission's code) sends it requests (``remote``), each "call this graded function on these
   inputs", and reads back what came out as data. ``nst.teaching.grader`` compares that with its
   own right answers, on the exercise's cases and on cases drawn from a seed the kernel never
   sees, names the known mistakes and writes the messages. Nothing the kernel prints or returns
   can make a wrong function pass.
3. the grades: a table (``report``); a folder of submissions (``classroom``) gives gradebook.csv and a
   feedback file per student, and a rerun grades only what changed.

Without a sandbox (no bubblewrap, not root), nst grade says why and stops, unless ``--no-sandbox``.

The package, one job a module:

- ``command``    the command line: ``main``, ``build_parser``
- ``classroom``  a folder of submissions, graded in parallel: gradebook, feedback, reruns
- ``grading``    one submission graded: ``grade(path)`` and its ``Grading`` across kernels
- ``remote``     the judge's requests to a kernel, and its replies
- ``kernel``     running code in a kernel, each piece with a time limit, its output capped
- ``sandbox``    bubblewrap, and the kernel's view of the system and of nst
- ``limits``     cgroups: memory, processes, CPU time
- ``stand_in``   what ``nst.teaching.grader`` is inside the sandbox
- ``cells``      which submitted cell is whose
- ``report``     the grades: ``FunctionGrade``, ``Report``, the ``table`` and the student's ``feedback``
"""

from nst.teaching.grade.cells import CellRoles, cell_roles
from nst.teaching.grade.command import build_parser, main
from nst.teaching.grade.grading import DEFAULT_TIMEOUT, grade
from nst.teaching.grade.kernel import pinned_kernel_manager
from nst.teaching.grade.report import FunctionGrade, Report, feedback, table

__all__ = [
    "DEFAULT_TIMEOUT",
    "CellRoles",
    "FunctionGrade",
    "Report",
    "build_parser",
    "cell_roles",
    "feedback",
    "grade",
    "main",
    "pinned_kernel_manager",
    "table",
]
