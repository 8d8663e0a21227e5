"""``nst grade SUBMISSION.ipynb | SUBMISSIONS/ [options]``: the command line.

One notebook: its table, ``--json`` for the grades as JSON, exit status 0 when every function
passes, 1 when one fails. A folder: the class (``classroom``), ``--jobs`` at a time, into
``--output``; exit status 0 when every submission was graded, 1 when one could not be. Both: 2
for a bad command line or a path that is not a notebook or a folder of them, in one line.

Grading needs a sandbox (``sandbox``): without one, nst grade says why and stops, unless told
``--no-sandbox``, which it then says loudly.
"""

import json
import sys
import tempfile
from pathlib import Path

from nst.engine.command_line import Parser
from nst.engine.values import Number, Whole
from nst.errors import NSTError, one_line
from nst.images import atomic_path
from nst.teaching.exercise import read_notebook
from nst.teaching.grade.grading import DEFAULT_TIMEOUT, grade
from nst.teaching.grade.report import table

NO_SANDBOX_WARNING = (
    "WARNING: grading without a sandbox (--no-sandbox). Each submission's code runs as you: your files, your "
    "network and your processes are in its reach, and it can use nst's own solution. Its functions are still "
    "judged from outside its kernel, but grade only notebooks you trust this way."
)


def seconds(text):
    """--timeout's text as a positive number of seconds, else NSTError in one line: --timeout 0: must be above 0."""
    return Number(above=0).check("--timeout", text)


def jobs(text):
    return Whole(minimum=1).check("--jobs", text)


def build_parser():
    """``nst grade``'s options; its errors are one line (``nst.engine.command_line.Parser``)."""
    parser = Parser(
        prog="nst grade",
        description="Grade submitted exercise notebooks: each runs in a sandboxed kernel, which only calls its "
        "graded functions on the inputs sent to it; the judging happens outside. For one notebook: a table, exit "
        "status 0 when all pass, 1 when one fails. For a folder of them (or nbgrader's submitted/): gradebook.csv "
        "and a feedback file per student. NST_ITERATIONS and NST_SIZE (default 2 and 32x48) size the notebook's run.",
    )
    parser.add_argument("submission", type=Path, help="a submitted notebook (.ipynb), or a folder of submissions")
    parser.add_argument("--json", type=Path, metavar="PATH", help="one notebook: also write its grades as JSON")
    parser.add_argument("--output", type=Path, metavar="FOLDER", help="a folder: where the grades go (default: "
                        "SUBMISSIONS-grades next to it)")  # fmt: skip
    parser.add_argument("--jobs", type=jobs, default=1, metavar="N", help="a folder: grade N at a time (default: 1)")
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="time limit of each cell and of each function's check (default: %(default)s)",
    )
    parser.add_argument(
        "--no-sandbox", action="store_true", help="grade without a sandbox: only for notebooks you trust"
    )
    parser.add_argument("--debug", action="store_true", help="show a traceback with an error")
    return parser


def make_sandbox(folder, no_sandbox):
    """The sandbox for every kernel of this run (its view of nst in ``folder``), or None with --no-sandbox."""
    from nst.teaching.grade.sandbox import Sandbox, unavailable

    if no_sandbox:
        print(NO_SANDBOX_WARNING, file=sys.stderr, flush=True)
        return None
    reason = unavailable()
    if reason:
        raise NSTError(
            f"cannot sandbox the submissions: {reason}. nst grade runs each submission's code, so it needs one "
            "(docs/teaching.md); or grade notebooks you trust with --no-sandbox"
        )
    return Sandbox(folder)


def main(argv=None):
    """``nst grade``: one notebook (0 when every function passes, 1 when one fails) or a folder of them."""
    args = build_parser().parse_args(argv)
    folder = args.submission.is_dir()
    if folder and args.json is not None:
        raise NSTError(f"{args.submission}: --json is for one notebook; a folder's grades go to --output")
    if not folder:
        read_notebook(args.submission)  # a bad path or file: one line and exit 2 before anything starts
    with tempfile.TemporaryDirectory(prefix="nst-grade-sandbox-") as scratch:
        sandbox = make_sandbox(scratch, args.no_sandbox)
        if folder:
            from nst.teaching.grade.classroom import grade_class

            failed = grade_class(args.submission, args.output, args.jobs, args.timeout, sandbox)
            return 1 if failed else 0
        print(f"grading {args.submission} ...", file=sys.stderr, flush=True)
        report = grade(args.submission, timeout=args.timeout, sandbox=sandbox)
    print(table(report))
    if args.json is not None:
        try:
            with atomic_path(args.json) as temporary:
                temporary.write_text(json.dumps(report.as_json(), indent=2) + "\n")
        except OSError as err:
            raise NSTError(f"{args.json}: cannot write the grades ({one_line(err)}); choose another --json") from None
    return 0 if report.passed else 1
