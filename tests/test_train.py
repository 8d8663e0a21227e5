"""Training end to end on the real weights, at a small size and a few iterations."""

import csv
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from nst import config
from nst.engine.command_line import build_parser, parse_args
from nst.errors import NSTError
from nst.options import Options
from nst.train import main

SMALL = ["--size", "48x64", "--iterations", "6", "--save-every", "2", "--seed", "3", "--quiet"]


def read_losses(folder):
    with open(folder / "losses.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def small_run(weights_h5, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(SMALL + ["--output-dir", str(out), "--model", str(weights_h5)]) == 0
    return out


def test_cost_falls(small_run):
    rows = read_losses(small_run)
    assert [int(r["iteration"]) for r in rows] == list(range(6))
    J = [float(r["J"]) for r in rows]
    assert J[-1] < 0.8 * J[0]
    assert all(float(r["seconds"]) >= 0 for r in rows)
    assert set(rows[0]) == {"iteration", "J", "J_content", "J_style", "seconds"}


def test_every_promised_file_is_a_valid_image_of_the_requested_size(small_run):
    for name in ["0.png", "2.png", "4.png", "generated_image.jpg"]:
        with Image.open(small_run / name) as image:
            image.verify()
        with Image.open(small_run / name) as image:
            assert image.size == (64, 48) and image.mode == "RGB"
    with Image.open(small_run / "losses.png") as plot:
        assert plot.format == "PNG" and plot.size[0] > 200
    assert not (small_run / "6.png").exists()
    assert not [p for p in small_run.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_same_seed_same_costs(small_run, weights_h5, tmp_path):
    assert main(SMALL + ["--output-dir", str(tmp_path), "--model", str(weights_h5)]) == 0
    first = [float(r["J"]) for r in read_losses(small_run)]
    again = [float(r["J"]) for r in read_losses(tmp_path)]
    np.testing.assert_allclose(again, first, rtol=1e-4)


def test_other_seed_other_start(small_run, weights_h5, tmp_path):
    args = [a if a != "3" else "4" for a in SMALL]
    assert main(args + ["--output-dir", str(tmp_path), "--model", str(weights_h5)]) == 0
    assert float(read_losses(tmp_path)[0]["J"]) != float(read_losses(small_run)[0]["J"])


def test_cli_defaults_are_the_exercise(monkeypatch):
    options = parse_args([])
    assert options.size == (300, 400)
    assert options.noise_ratio == 0.6
    assert options.content_layer == "conv4_2"
    assert options.style_layers == (
        ("conv1_1", 0.2),
        ("conv2_1", 0.2),
        ("conv3_1", 0.2),
        ("conv4_1", 0.2),
        ("conv5_1", 0.2),
    )
    assert (options.alpha, options.beta) == (10, 40)
    assert options.learning_rate == 2.0
    assert (options.iterations, options.save_every) == (200, 20)
    assert options.content.name == "golden_gate_bridge.jpg"
    assert [path.name for path in options.style] == ["monet_houses_of_parliament.jpg"]
    assert options.output_dir == config.ROOT / "output"
    assert options.model is None
    assert config.MEANS == (123.68, 116.779, 103.939)
    assert options == Options()  # the dataclass and the command line agree


def test_help_lists_every_option_with_its_default():
    text = " ".join(build_parser().format_help().split())  # undo line wrapping
    for flag in [
        "--content",
        "--style",
        "--output-dir",
        "--iterations",
        "--alpha",
        "--beta",
        "--learning-rate",
        "--content-layer",
        "--style-layers",
        "--noise-ratio",
        "--seed",
        "--size",
        "--save-every",
        "--model",
        "--quiet",
    ]:
        assert flag in text
    for default in [
        "200",
        "conv4_2",
        "conv1_1:0.2,conv2_1:0.2,conv3_1:0.2,conv4_1:0.2,conv5_1:0.2",
        "300x400",
        "0.6",
        "2.0",
    ]:
        assert default in text


@pytest.mark.slow
def test_ctrl_c_saves_the_current_image(weights_h5, tmp_path):
    command = [
        sys.executable,
        "-m",
        "nst.train",
        "--size",
        "64x64",
        "--iterations",
        "100000",
        "--save-every",
        "1",
        "--quiet",
        "--output-dir",
        str(tmp_path),
        "--model",
        str(weights_h5),
    ]
    process = subprocess.Popen(command, cwd=config.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (tmp_path / "2.png").exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert "Interrupted" in out and "generated_image.jpg" in out
    with Image.open(tmp_path / "generated_image.jpg") as image:
        assert image.size == (64, 64)
    assert len(read_losses(tmp_path)) >= 3


def test_divergence_stops_with_the_last_good_image(weights_h5, tmp_path, capsys):
    with pytest.raises(NSTError) as info:
        main(
            [
                "--size",
                "48x48",
                "--iterations",
                "50",
                "--learning-rate",
                "1e38",
                "--quiet",
                "--seed",
                "1",
                "--output-dir",
                str(tmp_path),
                "--model",
                str(weights_h5),
            ]
        )
    assert "NaN or infinite" in str(info.value)
    with Image.open(tmp_path / "generated_image.jpg") as image:
        assert image.size == (48, 48)


def test_lbfgs_divergence_is_reported_not_called_done(weights_h5, tmp_path):
    # alpha 1e38 overflows J to infinity in float32; L-BFGS cannot make progress.
    with pytest.raises(NSTError) as info:
        main(
            [
                "--size",
                "48x48",
                "--iterations",
                "5",
                "--optimizer",
                "lbfgs",
                "--alpha",
                "1e38",
                "--quiet",
                "--seed",
                "1",
                "--output-dir",
                str(tmp_path),
                "--model",
                str(weights_h5),
            ]
        )
    assert "NaN or infinite" in str(info.value) and "--alpha" in str(info.value)
    with Image.open(tmp_path / "generated_image.jpg") as image:
        assert image.size == (48, 48)
