"""``nst train``'s command line: one ``--flag`` per declared option, then the run.

``main(argv)`` is ``nst train`` (and ``python -m nst.train``). ``parse_args(argv)`` reads a
command line into ``Options``; ``add_options(parser)`` adds the
declared options to any parser (``nst batch`` takes them too, for all its jobs). Each flag's
text goes through its option's kind (``nst.engine.values``), once: front ends that hold typed
values build ``Options`` directly and never come here.
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


def _reader(declared):
    """argparse's ``type``: the flag's text through its option's kind."""

    def read(text):
        return declared.kind.check(declared.flag, text)

    read.__name__ = declared.name  # argparse names the type in some messages
    return read


def add_options(parser, exclude=()):
    """Add a ``--flag`` per declared option (but those in ``exclude``); defaults are left out
    (``argparse.SUPPRESS``), so only the options given reach ``Options``, which fills in the rest."""
    groups = {"exercise": parser, "beyond": parser.add_argument_group("beyond the exercise")}
    for declared in DECLARED.values():
        if declared.name in exclude:
            continue
        default = default_text(declared)
        help_text = declared.help + (f" (default: {default})" if default else "")
        group = groups[declared.group]
        if isinstance(declared.kind, Switch):
            group.add_argument(declared.flag, action="store_true", default=argparse.SUPPRESS, help=help_text)
        elif isinstance(declared.kind, Choice):
            group.add_argument(declared.flag, choices=declared.kind.choices, default=argparse.SUPPRESS, help=help_text)
        else:
            many = {"nargs": "+"} if isinstance(declared.kind, Files) else {}
            group.add_argument(
                declared.flag,
                type=_reader(declared) if not many else str,
                metavar=declared.name.upper(),
                default=argparse.SUPPRESS,
                help=help_text,
                **many,
            )
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
