"""The notebook's cells as grading sees them: whose each submitted cell is, and the grader's own cells.

- ``cell_roles``  which code cells define a graded function and which check one
- ``CHECK_CELL``, ``AFTER_TIMEOUT_CELL``  code the grader appends to the notebook and runs in the
  submission's kernel: one checks a function, the other finds which function a timed-out cell was
  running; each prints what it found after ``MARK`` as one line of JSON, which ``marked_results``
  reads back from the cell's output
"""

import json
import re
from dataclasses import dataclass, field

import nbformat

MARK = "NST-GRADE "  # the kernel prints each result as this mark and one line of JSON


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
    """One of the templates above as a code cell, its upper-case placeholders replaced by Python literals."""
    source = template.replace("MARK", repr(MARK))
    for key, value in values.items():
        source = source.replace(key, repr(value))
    return nbformat.v4.new_code_cell(source.strip())


def marked_results(cell):
    """The JSON objects the kernel printed after MARK in ``cell``'s output."""
    text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
    return [json.loads(line[len(MARK) :]) for line in text.splitlines() if line.startswith(MARK)]
