"""``nst batch``'s command line: the batch's own options, and ``nst train``'s for all its jobs.

The parser takes every declared option of ``nst train`` (``nst.engine.command_line.add_options``)
except those the batch sets per job (``OWN``), so the command line is read once, into typed
values: ``parse_batch_args`` returns the batch's own options and ``shared``, {option name: value}
for the ``nst train`` options given, which every job's ``Options`` starts from.
"""

import argparse
from pathlib import Path

from nst.engine.command_line import Formatter, Parser, add_kind_argument, add_options
from nst.engine.options import DECLARED
from nst.engine.values import Whole
from nst.errors import NSTError

DEFAULT_OUTPUT = Path("output/batch")
# Options of `nst train` that the batch sets for each job itself: its inputs and folder, quiet (the
# batch has its own --quiet), and resume (a checkpoint names the inputs of the run that wrote it).
OWN = ("content", "style", "output_dir", "quiet", "resume")
RESUME_ERROR = "--resume: not for nst batch (it continues one run); resume that run with nst train --resume"
# In the help, nst train's options follow the batch's own, from this one on.
FIRST_SHARED = next(declared.flag for declared in DECLARED.values() if declared.name not in OWN)


def build_parser():
    """The batch's own options, then nst train's (but OWN): typed by their kinds, defaults left out."""
    parser = Parser(
        prog="nst batch",
        formatter_class=Formatter,  # nst train's: long defaults such as the style layers' kept whole
        description="Style transfer for many content × style pairs (or a manifest's rows), run as Ray tasks.",
        epilog=f"The options from {FIRST_SHARED} on are those of `nst train` and apply to all jobs. Manifest columns: "
        "content, style (several joined with ';'), optional name (the folder), and any of those options without the "
        "dashes (size, iterations, preset, seed, tv_weight, ...); an empty cell keeps the batch's value; the content "
        "and style paths are relative to the manifest's folder.",
    )
    parser.add_argument(
        "--content", type=Path, nargs="+", metavar="DIR|FILE", help="content images, or folders of them"
    )
    parser.add_argument("--style", type=Path, nargs="+", metavar="DIR|FILE", help="style images, or folders of them")
    parser.add_argument("--manifest", type=Path, metavar="CSV", help="jobs as CSV rows instead of --content × --style")
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"one folder per job, and results.jsonl (default: {DEFAULT_OUTPUT})",
    )
    workers = "jobs at once on the local Ray (default: CPUs / threads)"
    add_kind_argument(parser, "--workers", Whole(1), workers, default=None)
    add_kind_argument(parser, "--threads-per-job", Whole(1), "TensorFlow threads (and Ray CPUs) per job", default=None)
    parser.add_argument("--address", help="an existing Ray cluster: ray://HOST:PORT or auto (default: start one here)")
    add_kind_argument(parser, "--retries", Whole(0), "times Ray reruns a job whose worker died (default: 2)", default=2)
    parser.add_argument("--force", action="store_true", help="rerun the jobs that are already done")
    parser.add_argument("--quiet", action="store_true", help="no progress bar: one log line per job")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")  # read by run_cli
    # Not offered (left out of the help), but refused with a line saying why.
    parser.add_argument("--resume", nargs="?", action=_Refuse, help=argparse.SUPPRESS)
    add_options(parser, exclude=OWN)
    return parser


class _Refuse(argparse.Action):
    """--resume: one line saying why not, rather than argparse's "unrecognized arguments"."""

    def __call__(self, parser, namespace, values, option_string=None):
        raise NSTError(RESUME_ERROR)


def parse_batch_args(argv):
    """argv -> (the batch's own options, {name: typed value} of the `nst train` options given)."""
    args = build_parser().parse_args(argv)
    # add_options leaves out the defaults (argparse.SUPPRESS): only the options given are attributes.
    shared = {name: value for name, value in vars(args).items() if name in DECLARED and name not in OWN}
    if args.manifest and (args.content or args.style):
        raise NSTError("--manifest: give either a manifest or --content and --style, not both")
    if not args.manifest and not (args.content and args.style):
        raise NSTError("no jobs: give --content and --style (files or folders), or --manifest jobs.csv")
    return args, shared
