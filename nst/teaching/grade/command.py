"""``nst grade SUBMISSION.ipynb [--json PATH] [--timeout SECONDS] [--skip-training]``: the command line."""

import json
import sys
from pathlib import Path

from nst.engine.command_line import Parser
from nst.engine.values import Number
from nst.errors import NSTError, one_line
from nst.images import atomic_path
from nst.teaching.exercise import read_notebook
from nst.teaching.grade.grading import DEFAULT_TIMEOUT, grade
from nst.teaching.grade.report import table


def seconds(text):
    """--timeout's text as a positive number of seconds, else NSTError in one line: --timeout 0: must be above 0."""
    return Number(above=0).check("--timeout", text)


def build_parser():
    """``nst grade``'s options; its errors are one line (``nst.engine.command_line.Parser``)."""
    parser = Parser(
        prog="nst grade",
        description="Run a submitted exercise notebook in a temporary folder and grade each of its graded "
        "functions with nst.teaching.grader's checks. Exit status 0 when all pass, 1 when one fails, 2 when the "
        "notebook cannot be read. NST_ITERATIONS and NST_SIZE (default 2 and 32x48) size its training.",
    )
    parser.add_argument("submission", type=Path, help="the submitted notebook (.ipynb)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the grades as JSON to PATH")
    parser.add_argument(
        "--timeout",
        type=seconds,
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
    """``nst grade``: grade the submission, print the table; 0 when every function passes, 1 when one fails."""
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
