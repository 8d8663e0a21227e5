"""Write the student edition of the exercise: ``python -m nst.teaching.exercise`` (or ``nst exercise``).

The solution notebook, ``notebooks/Art_Generation_with_Neural_Style_Transfer.ipynb``, is the one
source. Each graded function sits in its own cell, its body between nbgrader's
``### BEGIN SOLUTION`` and ``### END SOLUTION``, the cell marked with nbgrader metadata (a
solution cell, ``grade_id`` the function's name); the check cell after it is an nbgrader test cell
worth the function's points. So an instructor can also run ``nbgrader generate_assignment`` on it.

The student edition, ``..._student.ipynb`` next to it, is made by nbgrader's own preprocessors,
not by a hand-written stripper:

- ``ClearSolutions`` replaces each solution region by the exercise's stub::

      ### START CODE HERE
      # YOUR CODE HERE
      raise NotImplementedError()
      ### END CODE HERE

  keeping the ``def`` line, the docstring and whatever follows the region (``return J``);
- ``ClearOutput`` removes outputs and execution counts;
- ``LockCells`` makes the check cells read-only and the solution cells undeletable in Jupyter.

The edition is written atomically; a test regenerates it and fails when the committed one is stale.
"""

import argparse
import sys
from pathlib import Path

import nbformat

from nst.config import ROOT
from nst.errors import NSTError, one_line, run_cli
from nst.images import atomic_path

NOTEBOOKS_DIR = ROOT / "notebooks"
SOLUTION = NOTEBOOKS_DIR / "Art_Generation_with_Neural_Style_Transfer.ipynb"
STUDENT = NOTEBOOKS_DIR / "Art_Generation_with_Neural_Style_Transfer_student.ipynb"

# What a learner finds in place of a solution, in the exercise's words.
CODE_STUB = "### START CODE HERE\n# YOUR CODE HERE\nraise NotImplementedError()\n### END CODE HERE"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def read_notebook(path):
    """The notebook at ``path`` (nbformat 4); NSTError for a missing or unreadable file."""
    path = Path(path)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "no such file"
        raise NSTError(f"{path}: {what}; give the path of a Jupyter notebook (.ipynb)")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as err:  # JSON, encoding or schema: all mean "not a notebook"
        raise NSTError(f"{path}: not a Jupyter notebook ({one_line(err)}); give an .ipynb file") from None


def student_edition(solution):
    """The student edition of a solution notebook (a new NotebookNode; ``solution`` is left as is)."""
    from nbgrader.preprocessors import ClearOutput, ClearSolutions, LockCells

    nb = nbformat.from_dict(solution)  # a deep copy: the preprocessors edit cells in place
    clear_solutions = ClearSolutions(
        code_stub={"python": CODE_STUB}, begin_solution_delimeter=BEGIN, end_solution_delimeter=END
    )
    resources = {}
    try:
        for preprocessor in (clear_solutions, ClearOutput(), LockCells()):
            nb, resources = preprocessor.preprocess(nb, resources)
    except (RuntimeError, ValueError) as err:  # a region outside a solution cell, an unclosed region, ...
        raise NSTError(f"{one_line(err)}; mark each solution region's cell as an nbgrader solution cell") from None
    return nb


def solution_lines(nb):
    """The lines inside the solution regions of ``nb``'s code cells (stripped, blank lines left out)."""
    lines = []
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if BEGIN in line:
                inside = True
            elif END in line:
                inside = False
            elif inside and line.strip():
                lines.append(line.strip())
    return lines


def write_student_edition(source=SOLUTION, target=STUDENT):
    """Write the student edition of ``source`` to ``target`` atomically; return ``target``."""
    target = Path(target)
    solution = read_notebook(source)
    if not solution_lines(solution):
        raise NSTError(f"{source}: has no {BEGIN} ... {END} regions; give the solution notebook")
    text = nbformat.writes(student_edition(solution)) + "\n"  # the file ends with a newline, as Jupyter saves it
    try:
        with atomic_path(target) as temporary:
            temporary.write_text(text, encoding="utf-8")
    except OSError as err:
        raise NSTError(
            f"{target}: cannot write the student edition ({one_line(err)}); choose another --output"
        ) from None
    return target


def build_parser():
    parser = argparse.ArgumentParser(
        prog="nst exercise",
        description="Write the student edition of the exercise notebook: the solution notebook with each graded "
        "function's body replaced by ### START CODE HERE ... ### END CODE HERE and the outputs cleared "
        "(nbgrader's ClearSolutions, ClearOutput and LockCells).",
    )
    parser.add_argument("--source", type=Path, default=SOLUTION, help="the solution notebook (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=STUDENT, help="where to write it (default: %(default)s)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.output.resolve() == args.source.resolve():
        raise NSTError(f"{args.output}: is the solution notebook itself; choose another --output")
    written = write_student_edition(args.source, args.output)
    print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    run_cli(main, sys.argv[1:])
