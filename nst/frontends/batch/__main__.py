"""``python -m nst.frontends.batch``: ``nst batch``."""

from nst.errors import run_cli
from nst.frontends.batch import main

run_cli(main)
