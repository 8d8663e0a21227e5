"""Shared fixtures: the real VGG19 weights, fetched through the project's own command."""

import signal
import subprocess
import sys

import pytest

from nst.config import PRETRAINED_DIR, ROOT
from nst.weights import KERAS_H5, to_mat

# The tests stop nst, the studio and notebook kernels with Ctrl-C (SIGINT). A test run started in the
# background of a shell has SIGINT ignored, and every command it starts would inherit that: with a
# handler here, the commands start with the default again.
signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def weights_h5():
    """The real Keras .h5 in pretrained-model/, fetched by `python -m nst.weights` if missing."""
    subprocess.run([sys.executable, "-m", "nst.weights"], cwd=ROOT, check=True)
    return PRETRAINED_DIR / KERAS_H5.filename


@pytest.fixture(scope="session")
def converted_mat(weights_h5, tmp_path_factory):
    """The real weights in MatConvNet layout, written by `nst.weights --to-mat`'s code."""
    return to_mat(weights_h5, tmp_path_factory.mktemp("converted"), say=lambda line: None)
