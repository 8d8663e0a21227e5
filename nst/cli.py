"""The ``nst`` command: ``nst train …``, ``nst weights …``, ``nst bench …`` and the rest.

Each subcommand is a module with ``main(argv)``, the same one ``python -m nst.<module>``
runs, so both spellings take exactly the same options.
"""

import importlib
import sys

from nst.errors import run_cli

# subcommand -> (module, one line for `nst --help`)
COMMANDS = {
    "train": ("nst.train", "paint a content image in the style of another (the exercise)"),
    "weights": ("nst.weights", "fetch and verify the VGG19 weights"),
    "bench": ("nst.bench", "time the training step against a textbook baseline"),
    "app": ("nst.app", "nst studio: style transfer in the browser (needs the app extra)"),
    "batch": ("nst.batch", "style transfer for many image pairs, run on Ray (needs the batch extra)"),
    "exercise": ("nst.exercise", "write the student edition of the exercise notebook (nbgrader)"),
    "grade": ("nst.grade", "run a submitted exercise notebook and grade its functions"),
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
    module = importlib.import_module(COMMANDS[command][0])
    sys.argv = [f"nst {command}", *rest]  # so the command's own --help and errors name it
    return run_cli(module.main, rest)


if __name__ == "__main__":
    sys.exit(main())
