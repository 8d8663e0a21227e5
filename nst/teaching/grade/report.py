"""The grades of one submission: a ``FunctionGrade`` per graded function, the ``Report`` of them all,
and the report as the command prints it (``table``), writes it (``Report.as_json``), or gives it to
the student (``feedback``, Markdown)."""

from dataclasses import dataclass


@dataclass
class FunctionGrade:
    """One graded function's grade: points out of max_points, and the message saying why."""

    name: str
    passed: bool
    points: float
    max_points: float
    message: str
    mistake: str = ""  # nst.teaching.grader's key for what its check recognised ("bare-reshape", ...), if anything


@dataclass
class Report:
    """A submission's grades: one FunctionGrade a graded function, and the other cells that failed."""

    functions: dict  # name -> FunctionGrade, in notebook order
    cell_errors: list  # "cell N (id): error" for the failed cells that are not a graded function's

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


def whole(number):
    """An int when the number is whole (points print as 2, not 2.0), else the float."""
    return int(number) if float(number).is_integer() else float(number)


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


def feedback(report, student):
    """The report as its student reads it, in Markdown: the table, then each message in full."""
    score = f"{format_points(report.score)}/{format_points(report.max_score)}"
    lines = [f"# {student}: {score}", "", "| function | points | passed |", "| --- | ---: | --- |"]
    for f in report.functions.values():
        points = f"{format_points(f.points)}/{format_points(f.max_points)}"
        lines.append(f"| `{f.name}` | {points} | {'yes' if f.passed else 'no'} |")
    for f in report.functions.values():
        lines += ["", f"## `{f.name}`", ""]
        lines += [f"    {line}" for line in f.message.splitlines()]  # a code block: the messages' own words, as is
    if report.cell_errors:
        lines += ["", "## Other cells that failed", ""]
        lines += [f"    {error}" for error in report.cell_errors]
    return "\n".join(lines) + "\n"
