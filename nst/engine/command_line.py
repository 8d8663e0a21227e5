"""``nst train``'s command line: one ``--flag`` per declared option, then the run.

``main(argv)`` is ``nst train`` (and ``python -m nst.train``). ``parse_args(argv)`` reads a
command line into ``Options``; ``add_options(parser)`` adds the
declared options to any parser (``nst batch`` takes them too, for all its jobs). Each flag's
text goes through its option's kind (``nst.engine.values``), once: front ends that hold typed
values build ``Options`` directly and never come here. ``add_kind_argument`` is the one place a
kind becomes a flag, for these options and for the commands' own (``nst video``, ``nst batch``).
"""

import argparse
import sys
import textwrap

from nst import config
from nst.engine.options import DECLARED, PRESETS, Options
from nst.engine.values import Choice, Files, Switch
from nst.errors import NSTError


class Formatter(argparse.HelpFormatter):
    """Help text that keeps long defaults such as the style layers whole."""

    def _split_lines(self, text, width):  # keep long defaults such as the style layers whole
        return textwrap.wrap(" ".join(text.split()), width, break_long_words=False)


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one ``NSTError`` line pointing at ``--help``."""

    def error(self, message):
        raise NSTError(f"{message}; see `{self.prog} --help`")


def default_text(declared):
    """An option's default as its help line shows it, or None when there is nothing to show."""
    if declared.from_preset():
        return "the preset's: " + ", ".join(f"{preset} {values[declared.name]}" for preset, values in PRESETS.items())
    if declared.default in (None, (), False):
        return None
    if isinstance(declared.kind, Files):
        return declared.kind.text([_relative(path) for path in declared.default])
    return declared.kind.text(_relative(declared.default))


def _relative(value):
    """A path inside the repository as the README writes it (images/..., output)."""
    try:
        return value.relative_to(config.ROOT) if value.is_relative_to(config.ROOT) else value
    except AttributeError:  # not a path
        return value


def add_kind_argument(group, flag, kind, help, default=argparse.SUPPRESS, metavar=None):
    """Add ``flag`` to ``group`` (a parser or one of its groups), its text read by ``kind``.

    The one place where a kind of ``nst.engine.values`` becomes an argparse argument: a ``Switch``
    is a bare flag, a ``Choice`` lists its names (``{adam,lbfgs}``), ``Files`` takes one or more
    paths (checked together when ``Options`` is made); any other kind reads the text through
    ``kind.check(flag, text)``, so a bad value is the kind's one line (``--alpha -1: must be at
    least 0``). A positional argument (``flag`` without dashes) is named by its metavar in errors.
    ``default`` is the value when the flag is not given (``argparse.SUPPRESS``: none at all);
    ``metavar`` names the value in the help (argparse's own for a Switch or a Choice).
    """
    if isinstance(kind, Switch):
        return group.add_argument(flag, action="store_true", default=default, help=help)
    if isinstance(kind, Choice):
        return group.add_argument(flag, choices=kind.choices, default=default, help=help)
    if isinstance(kind, Files):
        return group.add_argument(flag, nargs="+", default=default, metavar=metavar, help=help)
    name = flag if flag.startswith("-") else metavar or flag.upper()

    def read(text):
        return kind.check(name, text)

    read.__name__ = flag.lstrip("-").replace("-", "_")  # argparse names the type in some messages
    return group.add_argument(flag, type=read, default=default, metavar=metavar, help=help)


def add_options(parser, exclude=()):
    """Add a ``--flag`` per declared option (but those in ``exclude``); defaults are left out
    (``argparse.SUPPRESS``), so only the options given reach ``Options``, which fills in the rest."""
    groups = {"exercise": parser, "beyond": parser.add_argument_group("beyond the exercise")}
    for declared in DECLARED.values():
        if declared.name not in exclude:
            default = default_text(declared)
            help_text = declared.help + (f" (default: {default})" if default else "")
            add_kind_argument(groups[declared.group], declared.flag, declared.kind, help_text)
    return parser


def build_parser(prog="nst train"):
    """The argument parser of ``nst train``: every option of ``Options``, and --debug."""
    parser = Parser(
        prog=prog,
        description="Neural style transfer, as in the exercise: paint CONTENT in the style of STYLE.",
        formatter_class=Formatter,
    )
    add_options(parser)
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return parser


def parse_args(argv=None):
    """Command line -> Options. Raises NSTError with one line for any bad value."""
    argv = list(sys.argv[1:] if argv is None else argv)
    values = vars(build_parser().parse_args(argv))
    values.pop("debug", None)  # read by nst.errors.run_cli from argv, not an option of the run
    return Options(**values)


def main(argv=None):
    """``nst train``: the command line's options, then ``nst.train.run``; exit status 0, or 130 after Ctrl-C."""
    options = parse_args(argv)
    from nst.engine.run import run  # TensorFlow: only once the options are read (``--help`` stays light)

    return {"done": 0, "stopped": 0, "interrupted": 130}[run(options).status]
