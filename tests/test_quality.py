"""Time to quality: the quality preset's values (float32: bf16 ends 14 % worse, docs/speed.md), and the
bench's honest comparison (the exercise's J = α·J_content + β·J_style for every row, computed in float32,
the preset's TV term left out)."""

import csv
import json

import numpy as np
import pytest

from nst import bench, config
from nst.engine.options import PRESETS, QUALITY_TV_WEIGHT, Options
from nst.engine.problem import prepare
from nst.images import generate_noise_image, load_picture
from nst.train import load_weights


def test_quality_preset_values_are_pinned():
    assert PRESETS["quality"] == {
        "optimizer": "lbfgs",
        "init": "noise",
        "tv_weight": QUALITY_TV_WEIGHT,
        "iterations": 100,
        "save_every": 10,
        "animation": "gif",
    }
    assert QUALITY_TV_WEIGHT == 1e4
    quality = Options(preset="quality")
    assert (quality.multiscale, quality.precision, quality.noise_ratio) == ("auto", "fp32", config.NOISE_RATIO)


def test_quality_preset_starts_from_the_exercise_noisy_image(weights_h5):
    # The same start as the faithful Adam run's (nst.bench.images builds it with seed 0).
    problem, (height, width) = prepare(Options(preset="quality", size=(32, 48)), load_weights(weights_h5))
    content, _, noisy = bench.images(height, width)
    np.testing.assert_array_equal(problem.start_image(content, 0), noisy)
    np.testing.assert_array_equal(noisy, generate_noise_image(content, config.NOISE_RATIO, seed=0))


def test_exercise_J_leaves_the_tv_term_out():
    costs = {"J": 1e9, "J_content": 2.0, "J_style": 3.0, "J_tv": 5.0}
    assert bench.exercise_J(costs, Options(preset="quality")) == 10 * 2.0 + 40 * 3.0


def test_preset_rows_are_the_exercise_J_of_the_preset_run(weights_h5, tmp_path):
    # A target every J passes: the run stops after its first iteration.
    losses, seconds, options = bench.preset_losses_until(weights_h5, 32, 48, 1e30, output_dir=tmp_path)
    assert options.preset == "quality" and options.seed == 0 and options.tv_weight == QUALITY_TV_WEIGHT
    assert len(losses) == 1 and seconds[0] > 0
    with open(tmp_path / "losses.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    exercise = 10 * float(row["J_content"]) + 40 * float(row["J_style"])
    assert losses[0] == pytest.approx(exercise, rel=1e-6)
    assert float(row["J"]) > exercise * (1 + 1e-6)  # the preset's own J holds the TV term too


@pytest.mark.slow
def test_bench_quality_reports_the_preset_against_adam(weights_h5, tmp_path, capsys):
    path = tmp_path / "bench.json"
    argv = ["--sizes", "32x48", "--steps", "1", "--warmup", "1", "--variants", "fp32", "--model", str(weights_h5)]
    argv += ["--matmul-size", "256", "--rss-size", "none", "--quality", "--quality-iterations", "3"]
    assert bench.main([*argv, "--json", str(path)]) == 0
    printed = capsys.readouterr().out
    adam, lbfgs, preset = json.loads(path.read_text())["quality"]
    assert (adam["optimizer"], lbfgs["optimizer"], preset["optimizer"]) == ("adam", "lbfgs", "quality preset")
    assert [row["precision"] for row in (adam, lbfgs, preset)] == ["fp32"] * 3  # the preset's network: float32
    assert adam["target_J"] == adam["final_J"] and adam["iterations"] == 3 and adam["speedup"] == 1.0
    for row in (lbfgs, preset):  # three Adam steps are an easy target at 32x48
        assert row["target_J"] == adam["target_J"] and row["final_J"] <= row["target_J"]
        assert row["iterations"] >= 1 and row["seconds"] > 0
        assert row["speedup"] == pytest.approx(adam["seconds"] / row["seconds"])
    assert "quality preset" in printed and "x sooner than Adam" in printed


@pytest.mark.slow
def test_a_bf16_preset_row_is_judged_in_float32(weights_h5, tmp_path):
    # The first iteration's J as the bench reads it, the bf16 network's own, and float32's of the saved picture.
    losses, _, _ = bench.preset_losses_until(weights_h5, 32, 48, 1e30, output_dir=tmp_path, precision="bf16")
    with open(tmp_path / "losses.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    own = 10 * float(row["J_content"]) + 40 * float(row["J_style"])
    picture = load_picture(tmp_path / "0.png")  # the picture the bench judged: RGB 0-255 in float32's VGG19
    assert losses[0] == pytest.approx(bench.float32_judge(weights_h5, 32, 48)(picture), rel=1e-6)
    assert abs(losses[0] - own) > 1e-4 * own  # not the bf16 network's J
