"""The ``nst`` command: ``nst train …``, ``nst weights …``, ``nst bench …`` and the rest.

Each subcommand is a function ``main(argv)`` in its own room, loaded only when asked for (so
``nst --help`` loads no TensorFlow); ``python -m nst.train``, ``python -m nst.weights`` and
``python -m nst.bench`` run the same functions with the same options.
"""

import importlib
import sys

from nst.errors import run_cli

# subcommand -> ("module:function", one line for `nst --help`)
COMMANDS = {
    "train": ("nst.engine.command_line:main", "paint a content image in the style of another (the exercise)"),
    "weights": ("nst.weights:main", "fetch and verify the VGG19 weights"),
    "bench": ("nst.bench:main", "time the training step against a textbook baseline"),
    "app": ("nst.frontends.studio:main", "nst studio: style transfer in the browser (needs the app extra)"),
    "batch": ("nst.frontends.batch:main", "style transfer for many image pairs, run on Ray (needs the batch extra)"),
    "video": ("nst.frontends.video:main", "a clip in the style of a painting, without flicker (video extra)"),
    "exercise": ("nst.teaching.exercise:main", "write the student edition of the exercise notebook (nbgrader)"),
    "grade": ("nst.teaching.grade:main", "run a submitted exercise notebook and grade its functions"),
}


def usage():
    width = max(map(len, COMMANDS))
    lines = ["usage: nst COMMAND [options]   (nst COMMAND --help for a command's options)", "", "commands:"]
    lines += [f"  {name:{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"error: nst {command}: no such command; choose from {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module, function = COMMANDS[command][0].split(":")
    sys.argv = [f"nst {command}", *rest]  # so the command's own --help and errors name it
    return run_cli(getattr(importlib.import_module(module), function), rest)


if __name__ == "__main__":
    sys.exit(main())
