"""``python -m nst.weights``: fetch and verify the VGG19 weights (the same as ``nst weights``)."""

from nst.errors import run_cli
from nst.weights import main

run_cli(main)
