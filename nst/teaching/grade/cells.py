"""The notebook's cells as grading sees them: which code cells define a graded function and which check one.

``cell_roles`` matches them by nbgrader's ``grade_id`` (``name`` / ``check_name``), else by their
source. A graded cell's error is reported with its function; the others' under "other cells that
failed"; and the notebook runs up to the last of them (``CellRoles.last``).
"""

import re
from dataclasses import dataclass, field


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
