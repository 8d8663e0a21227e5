"""Shared fixtures: the real VGG19 weights, fetched through the project's own command; a small clip."""

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


@pytest.fixture(scope="session")
def small_clip(tmp_path_factory):
    """A 64x96 clip of 6 frames at 24 fps with a sound track: the bridge panned and zoomed, the cat sliding over it
    (nst video's tests, and nst batch's with a clip as content)."""
    from nst.engine.video.clip import ffmpeg, write_mp4
    from nst.engine.video.synthetic import known_motion_clip
    from nst.images import read_image

    folder = tmp_path_factory.mktemp("clip")
    photo = read_image(ROOT / "images" / "golden_gate_bridge.jpg")
    patch = read_image(ROOT / "images" / "chelsea_cat.png")
    frames = known_motion_clip(photo, patch, 6, 64, 96, pan=(1.0, 0.3), speed=(-3.0, 1.5)).frames
    silent = folder / "silent.mp4"
    write_mp4(frames, silent, 24)
    sound = folder / "clip.mp4"
    tone = [ffmpeg(), "-hide_banner", "-loglevel", "error", "-i", str(silent), "-f", "lavfi", "-i", "sine=440:d=1"]
    subprocess.run(tone + ["-map", "0:v", "-map", "1:a", "-c:v", "copy", "-shortest", str(sound)], check=True)
    return sound
