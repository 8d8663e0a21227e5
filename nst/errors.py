"""User-facing errors: one clear line, a non-zero exit, no traceback.

Code anywhere in nst raises ``NSTError("<file>: <what is wrong>; <what to do>")``.
Commands wrap their ``main`` in ``run_cli``, which prints that line to stderr and
exits with status 2 (or 130 after Ctrl-C). ``--debug`` on the command line (or the
environment variable NST_DEBUG=1) shows the traceback as well: ``debugging()`` says so.
"""

import os
import sys
import traceback


class NSTError(Exception):
    """A problem the user can fix. Its message is the single line they will see."""


def one_line(err):
    """An exception as a short single line, for inclusion in an NSTError message."""
    return " ".join(str(err).split()) or type(err).__name__


def debugging(argv=None):
    """Whether to show tracebacks and TensorFlow's start-up lines: ``--debug`` in argv, or NST_DEBUG set."""
    return "--debug" in (sys.argv[1:] if argv is None else argv) or bool(os.environ.get("NST_DEBUG"))


def run_cli(main, argv=None):
    """Run ``main(argv)`` and turn an ``NSTError`` into one line on stderr and exit 2."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = debugging(argv)
    try:
        code = main(argv)
    except NSTError as err:
        if debug:
            traceback.print_exc()
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)


def require_file(path, give):
    """``path`` if it is a file; else NSTError: "<path>: no such file; <give>" (or "is a folder")."""
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "no such file"
        raise NSTError(f"{path}: {what}; {give}")
    return path


def make_folder(path, what, remedy):
    """Create folder ``path`` (and its parents) if needed; NSTError naming ``what`` and the remedy if it cannot be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NSTError(f"{path}: cannot create the {what} ({err.strerror}); {remedy}") from None
