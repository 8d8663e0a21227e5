"""The options beyond the exercise, end to end on the real weights at small sizes.

Each test checks that an option moves the result in the direction it promises.
"""

import csv

import numpy as np
import pytest
from PIL import Image

from nst.config import CONTENT_IMAGE, IMAGES_DIR
from nst.engine.color import rgb_to_yiq
from nst.engine.command_line import parse_args
from nst.images import read_image, resize_to
from nst.train import main

STARRY = str(IMAGES_DIR / "starry_night.jpg")
WAVE = str(IMAGES_DIR / "great_wave.jpg")


@pytest.fixture
def stylize(weights_h5, tmp_path):
    """Run `python -m nst.train` in-process at a small size; return (rows, output folder)."""
    counter = iter(range(100))

    def run(*args, size="48x64", iterations=4, out=None):
        out = out or tmp_path / f"run{next(counter)}"
        argv = [
            "--size",
            size,
            "--iterations",
            str(iterations),
            "--seed",
            "5",
            "--quiet",
            "--model",
            str(weights_h5),
            "--output-dir",
            str(out),
            *args,
        ]
        assert main(argv) == 0
        with open(out / "losses.csv", newline="") as f:
            rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
        return rows, out

    return run


def picture(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)


def total_variation(rgb):
    return np.abs(np.diff(rgb, axis=0)).mean() + np.abs(np.diff(rgb, axis=1)).mean()


def test_presets_and_explicit_options():
    exercise = parse_args([])
    assert (exercise.optimizer, exercise.init, exercise.tv_weight, exercise.multiscale) == (
        "adam",
        "noise",
        0.0,
        "auto",
    )
    quality = parse_args(["--preset", "quality"])
    assert quality.optimizer == "lbfgs" and quality.init == "noise" and quality.tv_weight > 0
    assert parse_args(["--preset", "quality", "--optimizer", "adam", "--tv-weight=0"]).optimizer == "adam"
    assert parse_args(["--preset", "quality", "--tv-weight=0"]).tv_weight == 0.0


def test_lbfgs_goes_further_per_iteration_than_adam(stylize):
    adam, _ = stylize("--init", "content")
    lbfgs, _ = stylize("--init", "content", "--optimizer", "lbfgs")
    # Both start from the content image; L-BFGS's rows hold J after each iteration.
    assert lbfgs[-1]["J"] < adam[-1]["J"]
    assert all(b <= a for a, b in zip([r["J"] for r in lbfgs], [r["J"] for r in lbfgs][1:]))


@pytest.mark.slow
def test_total_variation_weight_smooths_the_result(stylize):
    # L-BFGS: Adam's 2-pixel steps could not undo the start's noise in a few iterations.
    _, plain = stylize("--optimizer", "lbfgs", iterations=8)
    _, smooth = stylize("--optimizer", "lbfgs", "--tv-weight", "1e6", iterations=8)
    assert total_variation(picture(smooth / "generated_image.jpg")) < 0.9 * total_variation(
        picture(plain / "generated_image.jpg")
    )


def chroma_error(rgb, content):
    return np.abs(rgb_to_yiq(rgb)[..., 1:] - rgb_to_yiq(content)[..., 1:]).mean()


@pytest.mark.slow
def test_luminance_transfer_keeps_the_content_colours(stylize):
    content = resize_to(read_image(CONTENT_IMAGE), 48, 64).astype(np.float64)
    _, plain = stylize("--style", STARRY, iterations=8)
    _, kept = stylize("--style", STARRY, "--preserve-colors", "luminance", iterations=8)
    assert chroma_error(picture(kept / "generated_image.jpg"), content) < 4.0  # JPEG noise and clipping only
    assert chroma_error(picture(plain / "generated_image.jpg"), content) > 2 * chroma_error(
        picture(kept / "generated_image.jpg"), content
    )


@pytest.mark.slow
def test_histogram_matching_pulls_the_colours_towards_the_content(stylize):
    content = resize_to(read_image(CONTENT_IMAGE), 48, 64).astype(np.float64)
    mean_colour = lambda rgb: rgb.reshape(-1, 3).mean(axis=0)  # noqa: E731
    # From pure noise with L-BFGS, so the colours come from the style targets, not the start.
    _, plain = stylize("--style", STARRY, "--init", "random", "--optimizer", "lbfgs", iterations=10)
    _, matched = stylize(
        "--style", STARRY, "--init", "random", "--optimizer", "lbfgs", "--preserve-colors", "histogram", iterations=10
    )
    plain_gap = np.linalg.norm(mean_colour(picture(plain / "generated_image.jpg")) - mean_colour(content))
    matched_gap = np.linalg.norm(mean_colour(picture(matched / "generated_image.jpg")) - mean_colour(content))
    assert matched_gap < plain_gap


@pytest.mark.slow
def test_style_blend(stylize):
    alone, _ = stylize("--style", WAVE)
    blended_all_wave, _ = stylize("--style", STARRY, WAVE, "--style-blend", "0,1")
    mixed, _ = stylize("--style", STARRY, WAVE)
    np.testing.assert_allclose([r["J"] for r in blended_all_wave], [r["J"] for r in alone], rtol=1e-4)
    assert mixed[0]["J_style"] != pytest.approx(alone[0]["J_style"], rel=1e-2)


@pytest.mark.slow
def test_style_scale_changes_the_style_targets(stylize):
    normal, _ = stylize(iterations=1)
    large, _ = stylize("--style-scale", "2", iterations=1)
    assert large[0]["J_content"] == pytest.approx(normal[0]["J_content"], rel=1e-5)
    assert large[0]["J_style"] != pytest.approx(normal[0]["J_style"], rel=1e-2)


@pytest.mark.slow
def test_initialisations(stylize):
    content_start, out = stylize("--init", "content", iterations=1)
    assert content_start[0]["J_content"] == pytest.approx(0.0, abs=1e-3)  # G = C at the first step
    noise, _ = stylize("--init", "noise", iterations=1)
    random, _ = stylize("--init", "random", iterations=1)
    style, _ = stylize("--init", "style", iterations=1)
    assert noise[0]["J_content"] < random[0]["J_content"]
    assert style[0]["J_style"] < noise[0]["J_style"]


def test_long_side_keeps_the_aspect_ratio(stylize):
    _, out = stylize(size="100", iterations=1)
    with Image.open(out / "generated_image.jpg") as image:
        assert image.size == (100, 46)  # 1280x595 content


@pytest.mark.slow
def test_multiscale_reaches_the_asked_size(stylize):
    rows, out = stylize(
        "--multiscale",
        "2",
        size="150",
        iterations=2,
    )
    assert [int(r["iteration"]) for r in rows] == [0, 1, 2, 3]
    with Image.open(out / "0.png") as first, Image.open(out / "generated_image.jpg") as final:
        assert final.size == (150, 70)
        assert first.size == (75, 35)


@pytest.mark.slow
def test_resume_continues_the_loss_curve(stylize, tmp_path):
    out = tmp_path / "resumable"
    first, _ = stylize("--checkpoint-every", "3", iterations=3, out=out)
    resumed, _ = stylize("--resume", str(out / "checkpoint.npz"), "--checkpoint-every", "3", iterations=6, out=out)
    straight, _ = stylize(iterations=6)
    assert [int(r["iteration"]) for r in resumed] == list(range(6))
    np.testing.assert_allclose([r["J"] for r in resumed], [r["J"] for r in straight], rtol=1e-4)
    assert resumed[3]["J"] < first[-1]["J"]


def test_resume_refuses_another_problem(stylize, tmp_path, weights_h5, capsys):
    from nst.errors import run_cli

    out = tmp_path / "resumable"
    stylize("--checkpoint-every", "2", iterations=2, out=out)
    with pytest.raises(SystemExit):
        run_cli(
            main,
            [
                "--size",
                "48x64",
                "--style",
                STARRY,
                "--resume",
                str(out / "checkpoint.npz"),
                "--model",
                str(weights_h5),
                "--output-dir",
                str(out),
                "--quiet",
            ],
        )
    assert "style" in capsys.readouterr().err


def test_animation(stylize):
    _, out = stylize("--animation", "both", "--save-every", "1", iterations=3)
    with Image.open(out / "progress.gif") as gif:
        assert gif.n_frames == 3 and gif.info.get("loop") == 0
    with Image.open(out / "progress.png") as sheet:
        assert sheet.width >= 3 * 64
