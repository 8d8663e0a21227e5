"""``python -m nst.bench``: the same as ``nst bench``."""

from nst.bench import main
from nst.errors import run_cli

run_cli(main)
