"""A whole class at once: ``nst grade SUBMISSIONS/`` grades every notebook in a folder, ``--jobs`` at a time.

Where the notebooks are (``find_submissions``): ``SUBMISSIONS/<student>.ipynb``, or one notebook
anywhere inside a student's folder, ``SUBMISSIONS/<student>/...``, which is also nbgrader's
``submitted/<student>/<assignment>/<notebook>.ipynb``.

What it writes into the output folder (``--output``; by default ``<SUBMISSIONS>-grades`` next to
the submissions), each file written whole or not at all:

- ``gradebook.csv``: a row per student: student, the points of each graded function, total, status
- ``feedback/<student>.md``: the student's table and every message (``report.feedback``)
- ``grades.json``: each notebook's SHA-256 and its grades (with the key of each mistake named, the
  other cells that failed, and how many seconds its grading took), so that a rerun grades only the
  notebooks that are new or changed (and every one again when nst's grader has changed)

The submissions are graded in threads (``--jobs``), each in a kernel and sandbox of its own; the
judging itself is light. One submission that cannot be graded never stops the others: its row
says why ("not graded: ...").
"""

import csv
import hashlib
import io
import json
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from nst.errors import NSTError, make_folder, one_line
from nst.images import atomic_path
from nst.teaching.grade.grading import grade, graded_functions
from nst.teaching.grade.report import feedback

GRADED_OK = "graded"
TEACHING = Path(__file__).resolve().parent.parent


def grader_version():
    """A digest of nst's grading code: grades kept from a run with other code are graded again."""
    digest = hashlib.sha256()
    for path in sorted(TEACHING.rglob("*.py")):
        digest.update(path.relative_to(TEACHING).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _notebooks(folder):
    """The notebooks inside ``folder``, at any depth, but none in hidden folders (.ipynb_checkpoints)."""
    found = Path(folder).rglob("*.ipynb")
    return sorted(p for p in found if not any(part.startswith(".") for part in p.relative_to(folder).parts))


def find_submissions(folder):
    """[(student, notebook path or None, why not)]: a notebook in the folder, or one in each student's folder."""
    found = []
    for entry in sorted(Path(folder).iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            found.append((entry.stem, entry, ""))
        elif entry.is_dir():
            notebooks = _notebooks(entry)
            if len(notebooks) == 1:
                found.append((entry.name, notebooks[0], ""))
            elif notebooks:
                names = ", ".join(str(p.relative_to(entry)) for p in notebooks)
                found.append((entry.name, None, f"several notebooks ({names}); leave one"))
    return found


def default_output(folder):
    folder = Path(folder).resolve()
    return folder.parent / f"{folder.name}-grades"


def _digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _file_name(student):
    return re.sub(r"[^\w.-]", "_", student).lstrip(".") or "_"


def _write(path, text):
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


class Class:
    """The grades of one class, as kept in the output folder between runs."""

    def __init__(self, output):
        self.output = Path(output)
        make_folder(self.output, "grades folder", "choose another --output")
        self.state_file = self.output / "grades.json"
        self.version = grader_version()
        self.students = {}
        if self.state_file.is_file():
            try:
                kept = json.loads(self.state_file.read_text())
                if kept.get("grader") == self.version:
                    self.students = kept.get("students", {})
            except (ValueError, AttributeError):
                pass  # an unreadable record: everything is graded again

    def unchanged(self, student, digest):
        kept = self.students.get(student)
        return kept is not None and kept.get("sha256") == digest and kept.get("status") == GRADED_OK

    def record(self, student, digest, status, report=None, seconds=None):
        entry = {"sha256": digest, "status": status}
        if seconds is not None:
            entry["seconds"] = round(seconds, 1)
        if report is not None:
            entry["grades"] = report.as_json()
            entry["mistakes"] = {f.name: f.mistake for f in report.functions.values()}
            entry["other_cells"] = report.cell_errors
            _write(self.output / "feedback" / f"{_file_name(student)}.md", feedback(report, student))
        self.students[student] = entry
        self.save()

    def save(self, students=None):
        """Write grades.json and gradebook.csv (only ``students``' rows, when given: the others are gone)."""
        if students is not None:
            self.students = {name: self.students[name] for name in students if name in self.students}
        (self.output / "feedback").mkdir(exist_ok=True)
        _write(self.state_file, json.dumps({"grader": self.version, "students": self.students}, indent=1) + "\n")
        names = list(graded_functions())
        table = io.StringIO()
        writer = csv.writer(table, lineterminator="\n")
        writer.writerow(["student", *names, "total", "status"])
        for student, entry in sorted(self.students.items()):
            functions = entry.get("grades", {}).get("functions", {})
            points = [functions.get(name, {}).get("points", 0) for name in names]
            writer.writerow([student, *points, entry.get("grades", {}).get("score", 0), entry["status"]])
        _write(self.output / "gradebook.csv", table.getvalue())


def _timed(path, timeout, sandbox):
    """One submission graded: (its Report or None, the seconds its grading took, why it could not be graded)."""
    started = time.monotonic()
    try:
        report, why = grade(path, timeout, sandbox=sandbox), ""
    except Exception as err:  # a notebook that cannot be read, a kernel that cannot start: this one only
        report, why = None, one_line(err)
    return report, time.monotonic() - started, why


def grade_class(folder, output=None, jobs=1, timeout=None, sandbox=None, say=print):
    """Grade every submission in ``folder`` into ``output``; the number that could not be graded."""
    from nst.teaching.grade.grading import DEFAULT_TIMEOUT

    submissions = find_submissions(folder)
    if not submissions:
        raise NSTError(f"{folder}: no notebooks in it (.ipynb, or one in each student's folder); give the submissions")
    book = Class(output or default_output(folder))
    todo, failed = [], 0
    for student, path, why in submissions:
        if path is None:
            book.record(student, "", f"not graded: {why}")
            failed += 1
            say(f"{student}: not graded: {why}")
            continue
        digest = _digest(path)
        if book.unchanged(student, digest):
            say(f"{student}: unchanged since it was graded, kept ({book.students[student]['grades']['score']} points)")
        else:
            todo.append((student, path, digest))
    book.save([student for student, _, _ in submissions])
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="nst-grade") as pool:
        running = {
            pool.submit(_timed, path, timeout or DEFAULT_TIMEOUT, sandbox): (student, digest)
            for student, path, digest in todo
        }
        for done in as_completed(running):
            student, digest = running[done]
            report, seconds, why = done.result()
            if report is None:
                failed += 1
                book.record(student, digest, f"not graded: {why}", seconds=seconds)
                say(f"{student}: not graded: {why}")
                continue
            book.record(student, digest, GRADED_OK, report, seconds)
            say(f"{student}: {report.score}/{report.max_score}")
    print(f"gradebook: {book.output / 'gradebook.csv'}; feedback: {book.output / 'feedback'}", file=sys.stderr)
    return failed
