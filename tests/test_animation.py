"""Tests of nst.engine.animation: the saved iterations in numeric order, the GIF's frames, order,
timing and looping, the contact sheet's grid, and NSTError for nothing to show."""

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from nst.engine import animation
from nst.engine.animation import LABEL_HEIGHT, MARGIN, THUMB_WIDTH, iteration_images, make_contact_sheet, make_gif
from nst.errors import NSTError

# Iteration -> flat colour; distinct, so each frame can be recognised by its mean colour.
COLOURS = {0: (200, 30, 30), 20: (30, 200, 30), 100: (30, 30, 200)}


@pytest.fixture
def run_folder(tmp_path):
    """An output folder as nst.train leaves it, plus files that are not iterations."""
    for i, colour in COLOURS.items():
        iio.imwrite(tmp_path / f"{i}.png", np.full((30, 40, 3), colour, np.uint8))
    iio.imwrite(tmp_path / "losses.png", np.zeros((8, 8, 3), np.uint8))
    iio.imwrite(tmp_path / "generated_image.jpg", np.zeros((8, 8, 3), np.uint8))
    for name in ("notes.txt", "losses.csv", "7.png.bak", "x1.png", ".20.png.1a2b.tmp.png"):
        (tmp_path / name).write_text("not an iteration")
    (tmp_path / "40.png").mkdir()  # a folder, whatever its name
    return tmp_path


def mean_colour(image):
    return np.asarray(image.convert("RGB"), dtype=np.float64).reshape(-1, 3).mean(axis=0)


def test_iteration_images_numeric_order_others_ignored(run_folder):
    assert [p.name for p in iteration_images(run_folder)] == ["0.png", "20.png", "100.png"]
    assert [p.name for p in iteration_images(run_folder, last=20)] == ["0.png", "20.png"]


@pytest.mark.parametrize("setup", ["empty", "only_others", "missing"])
def test_nothing_to_animate_is_an_error(tmp_path, setup):
    folder = tmp_path / "out"
    if setup != "missing":
        folder.mkdir()
    if setup == "only_others":
        (folder / "losses.csv").write_text("iteration\n")
        iio.imwrite(folder / "generated_image.jpg", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(NSTError) as info:
        iteration_images(folder)
    assert str(info.value).startswith(f"{folder}: ") and "\n" not in str(info.value)
    with pytest.raises(NSTError):
        make_gif([], tmp_path / "p.gif")
    with pytest.raises(NSTError):
        make_contact_sheet([], tmp_path / "p.png")
    assert not (tmp_path / "p.gif").exists() and not (tmp_path / "p.png").exists()


def test_gif_frames_order_timing_and_loop(run_folder, tmp_path):
    out = tmp_path / "anim" / "progress.gif"  # the folder is created
    make_gif(iteration_images(run_folder), out, seconds_per_frame=0.3, last_frame_seconds=2)
    with Image.open(out) as gif:
        assert gif.format == "GIF" and gif.n_frames == 3 and gif.info["loop"] == 0  # 0: forever
        means, durations = [], []
        for k in range(gif.n_frames):
            gif.seek(k)
            assert gif.size == (40, 30)
            means.append(mean_colour(gif))
            durations.append(gif.info["duration"])
    np.testing.assert_allclose(means, list(COLOURS.values()), atol=2)
    assert durations == [300, 300, 2000]
    assert [p.name for p in out.parent.iterdir()] == ["progress.gif"]  # no temporary file left


def test_gif_frames_of_another_size_are_fitted(tmp_path):
    iio.imwrite(tmp_path / "0.png", np.full((30, 40, 3), 200, np.uint8))
    iio.imwrite(tmp_path / "5.png", np.full((60, 90, 3), 20, np.uint8))
    make_gif(iteration_images(tmp_path), tmp_path / "p.gif")
    frames = iio.imread(tmp_path / "p.gif", plugin="pillow", mode="RGB")
    assert frames.shape == (2, 30, 40, 3) and abs(frames[1].mean() - 20) < 2


def test_a_damaged_frame_is_an_error_and_leaves_nothing(run_folder, tmp_path):
    (run_folder / "60.png").write_bytes((run_folder / "20.png").read_bytes()[:50])
    with pytest.raises(NSTError, match="60.png"):
        make_gif(iteration_images(run_folder), tmp_path / "p.gif")
    assert not (tmp_path / "p.gif").exists()


@pytest.mark.parametrize(
    "columns, label, grid", [(5, True, (3, 1)), (2, True, (2, 2)), (2, False, (2, 2)), (1, True, (1, 3))]
)
def test_contact_sheet_grid(run_folder, tmp_path, columns, label, grid):
    out = tmp_path / "sheet.png"
    make_contact_sheet(iteration_images(run_folder), out, columns=columns, label=label)
    cols, rows = grid
    cell_h = 30 + (LABEL_HEIGHT if label else 0)  # small pictures are not enlarged
    with Image.open(out) as sheet:
        assert sheet.format == "PNG"
        assert sheet.size == (MARGIN + cols * (40 + MARGIN), MARGIN + rows * (cell_h + MARGIN))
        # the k-th thumbnail, in reading order, is the k-th iteration's colour
        for k, colour in enumerate(COLOURS.values()):
            left, top = MARGIN + (k % cols) * (40 + MARGIN), MARGIN + (k // cols) * (cell_h + MARGIN)
            np.testing.assert_allclose(mean_colour(sheet.crop((left, top, left + 40, top + 30))), colour)
            if label:  # dark text on the white strip under the thumbnail
                assert np.asarray(sheet.crop((left, top + 30, left + 40, top + cell_h)).convert("L")).min() < 128


def test_contact_sheet_thumbnails_keep_aspect_ratio(tmp_path):
    for i in (0, 1, 2):
        iio.imwrite(tmp_path / f"{i}.png", np.full((300, 400, 3), 60 * i, np.uint8))
    make_contact_sheet(iteration_images(tmp_path), tmp_path / "sheet.png", columns=2, label=False)
    with Image.open(tmp_path / "sheet.png") as sheet:  # 400x300 -> 200x150
        assert sheet.size == (MARGIN + 2 * (THUMB_WIDTH + MARGIN), MARGIN + 2 * (150 + MARGIN))


def test_write_failure_is_one_line(run_folder, tmp_path, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(animation.iio, "imwrite", full_disk)
    with pytest.raises(NSTError, match=r"p\.gif: cannot write \(.*No space left") as info:
        make_gif(iteration_images(run_folder), tmp_path / "p.gif")
    assert "\n" not in str(info.value) and not (tmp_path / "p.gif").exists()
