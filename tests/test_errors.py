"""Bad input and faults: one clear line, a non-zero exit, nothing lost or half-written."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matconvnet_files import random_conv_weights, write_matconvnet
from PIL import Image

from nst import config
from nst.errors import NSTError, run_cli
from nst.train import main as train_main
from nst.vgg_files import HDF5_MAGIC, MAT5_MAGIC, read_vgg19_weights
from nst.weights import main as weights_main


def fails(command_main, argv, capsys, *fragments):
    """Run a command in-process; expect exit 2 and one stderr line containing every fragment."""
    with pytest.raises(SystemExit) as info:
        run_cli(command_main, argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert info.value.code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture
def train(tmp_path, weights_h5, capsys):
    """Run nst.train with a small size into tmp_path/out; check that nothing was written."""
    out = tmp_path / "out"

    def run(*args, fragments=(), output=out):
        argv = [
            "--size",
            "32x32",
            "--iterations",
            "2",
            "--quiet",
            "--output-dir",
            str(output),
            "--model",
            str(weights_h5),
            *args,
        ]
        before = sorted(output.iterdir()) if output.is_dir() else []
        line = fails(train_main, argv, capsys, *fragments)
        if output.is_dir():
            assert sorted(output.iterdir()) == before
        return line

    return run


def write(path, data):
    path.write_bytes(data)
    return path


def png_bytes(width, height):
    from io import BytesIO

    buffer = BytesIO()
    Image.new("RGB", (width, height), (200, 100, 50)).save(buffer, format="PNG")
    return buffer.getvalue()


# --- images -----------------------------------------------------------------------


def test_missing_content(train, tmp_path):
    missing = tmp_path / "nope.jpg"
    train("--content", str(missing), fragments=[str(missing)])


def test_directory_as_style(train, tmp_path):
    train("--style", str(tmp_path), fragments=[str(tmp_path)])


def test_text_file_named_jpg(train, tmp_path):
    text = write(tmp_path / "photo.jpg", b"hello, I am not a picture\n")
    train("--content", str(text), fragments=[str(text)])


def test_random_bytes_named_jpg(train, tmp_path):
    noise = write(tmp_path / "noise.jpg", np.random.default_rng(0).bytes(20_000))
    train("--style", str(noise), fragments=[str(noise)])


@pytest.mark.parametrize("source", ["golden_gate_bridge.jpg", "chelsea_cat.png"])
def test_truncated_image(train, tmp_path, source):
    data = (config.IMAGES_DIR / source).read_bytes()
    cut = write(tmp_path / f"cut{source[-4:]}", data[: len(data) // 2])
    train("--content", str(cut), fragments=[str(cut)])


def test_one_pixel_image(train, tmp_path):
    tiny = write(tmp_path / "tiny.png", png_bytes(1, 1))
    train("--content", str(tiny), fragments=[str(tiny), "1x1"])


@pytest.mark.slow
def test_decompression_bomb_and_its_limit(train, tmp_path, monkeypatch):
    big = tmp_path / "big.png"
    Image.new("1", (12_000, 10_000)).save(big)  # 120 megapixels, a few kB on disk
    line = train("--style", str(big), fragments=[str(big), "NST_MAX_PIXELS"])
    assert "120,000,000" in line or "120000000" in line
    monkeypatch.setenv("NST_MAX_PIXELS", "200000000")
    from nst.images import read_image

    assert read_image(big).shape == (10_000, 12_000, 3)  # the user raised the limit


def test_unsupported_format(train, tmp_path):
    eps = write(tmp_path / "drawing.eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    train("--content", str(eps), fragments=[str(eps)])


# --- weights files ----------------------------------------------------------------


@pytest.fixture(scope="module")
def good_mat(tmp_path_factory):
    return write_matconvnet(tmp_path_factory.mktemp("mat") / "vgg.mat", random_conv_weights(1))


def test_truncated_mat(train, tmp_path, good_mat):
    data = good_mat.read_bytes()
    cut = write(tmp_path / "cut.mat", data[: len(data) // 3])
    train("--model", str(cut), fragments=[str(cut), "truncated or corrupt"])


def test_random_mat(train, tmp_path):
    noise = write(tmp_path / "noise.mat", np.random.default_rng(5).bytes(10_000))
    train("--model", str(noise), fragments=[str(noise), "not a MatConvNet .mat or Keras .h5"])


@pytest.mark.slow
def test_mat_that_is_not_vgg19(train, tmp_path):
    other = write_matconvnet(tmp_path / "other.mat", random_conv_weights(2), rename={"conv5_1": "conv5_one"})
    train("--model", str(other), fragments=[str(other), "not VGG19", "conv5_1"])


def test_unknown_matconvnet_format(train, tmp_path):
    import scipy.io

    odd = tmp_path / "odd.mat"
    scipy.io.savemat(str(odd), {"net": np.ones((3, 3))})
    train("--model", str(odd), fragments=[str(odd), "unknown MatConvNet format"])


def test_corrupt_h5(train, tmp_path, weights_h5):
    data = bytearray(weights_h5.read_bytes()[:3_000_000])
    cut = write(tmp_path / "cut.h5", bytes(data))
    train("--model", str(cut), fragments=[str(cut), "truncated or corrupt"])


# --- outputs ------------------------------------------------------------------------


def test_output_dir_is_a_file(train, tmp_path):
    plain = write(tmp_path / "plain.txt", b"keep me")
    train(fragments=[str(plain), "is a file"], output=plain)
    assert plain.read_bytes() == b"keep me"


def test_output_dir_not_writable(train):
    train(fragments=["/proc/nst-output", "cannot create"], output=config.Path("/proc/nst-output"))


def test_output_never_overwrites_an_input(train, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    content = out / "generated_image.jpg"
    content.write_bytes((config.IMAGES_DIR / "golden_gate_bridge.jpg").read_bytes())
    before = content.read_bytes()
    train("--content", str(content), fragments=[str(content), "input"])
    assert content.read_bytes() == before


# --- option values ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--iterations", "-5"], "--iterations -5"),
        (["--iterations", "ten"], "--iterations 'ten'"),
        (["--size", "16x400"], "at least 32"),
        (["--size", "big"], "HEIGHTxWIDTH"),
        (["--content-layer", "conv9_9"], "unknown layer 'conv9_9'"),
        (["--style-layers", "conv1_1:0.5,pool7:0.5"], "unknown layer 'pool7'"),
        (["--style-layers", "conv1_1:abc"], "not a number"),
        (["--alpha", "lots"], "--alpha 'lots'"),
        (["--beta", "nan"], "--beta nan"),
        (["--noise-ratio", "1.5"], "between 0"),
        (["--save-every", "0"], "at least 1"),
        (["--no-such-option"], "unrecognized arguments"),
    ],
)
def test_invalid_option_values(train, args, fragment):
    train(*args, fragments=[fragment])


def test_weights_dir_is_a_file(tmp_path, capsys):
    plain = write(tmp_path / "plain", b"x")
    fails(weights_main, ["--dir", str(plain)], capsys, str(plain))


@pytest.mark.slow
def test_no_traceback_from_the_real_command(tmp_path):
    """The same as above through `python -m`, as a user types it."""
    missing = tmp_path / "missing.png"
    result = subprocess.run(
        [sys.executable, "-m", "nst.train", "--content", str(missing), "--output-dir", str(tmp_path / "out")],
        cwd=config.ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {missing}")
    debug = subprocess.run(
        [
            sys.executable,
            "-m",
            "nst.train",
            "--content",
            str(missing),
            "--debug",
            "--output-dir",
            str(tmp_path / "out"),
        ],
        cwd=config.ROOT,
        capture_output=True,
        text=True,
    )
    assert debug.returncode == 2 and "Traceback" in debug.stderr


# --- the loader never fails any other way ----------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prefix=st.sampled_from([b"", MAT5_MAGIC, HDF5_MAGIC, b"MATLAB 5.0 MAT-file, Platform: posix"]),
    body=st.binary(max_size=4096),
)
def test_loader_on_random_bytes(tmp_path, prefix, body):
    path = write(tmp_path / "weights.bin", prefix + body)
    with pytest.raises(NSTError) as info:
        read_vgg19_weights(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
