"""``python -m nst.teaching.grade SUBMISSION.ipynb``: the same command as ``nst grade``."""

import sys

from nst.errors import run_cli
from nst.teaching.grade.command import main

run_cli(main, sys.argv[1:])
