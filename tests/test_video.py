"""nst video: flow, warp and masks against a clip whose motion is known; the temporal term; a whole clip
end to end (a playable mp4 of the right length and rate), Ctrl-C and --resume; bad input and odd clips.
The clip (``small_clip``) is conftest's; a clip in nst batch is tested with nst batch's Ray (test_batch.py)."""

import csv
import json
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from nst.config import ROOT
from nst.engine.values import Span
from nst.engine.video.clip import describe_mp4, ffmpeg, open_clip, read_frames, write_mp4, write_preview
from nst.engine.video.flow import DISFlow, end_point_error, reliability, warp
from nst.engine.video.synthetic import known_motion_clip
from nst.errors import NSTError, run_cli
from nst.frontends.video import main
from nst.images import read_image

PHOTO, PATCH = ROOT / "images" / "golden_gate_bridge.jpg", ROOT / "images" / "chelsea_cat.png"
SMALL = ["--size", "64x96", "--iterations", "4", "--warm-iterations", "2", "--seed", "0", "--quiet"]


@pytest.fixture(scope="module")
def moving():
    """The bridge panned and zoomed at 300x400, the cat sliding over it: 6 frames and their true motion."""
    photo, patch = (
        read_image(ROOT / "images" / "golden_gate_bridge.jpg"),
        read_image(ROOT / "images" / "chelsea_cat.png"),
    )
    return known_motion_clip(photo, patch, 6, 300, 400)


# --- flow, warp, masks, the temporal term: judged by the known motion ---------------------------------


def test_dis_flow_matches_the_known_motion(moving):
    dis = DISFlow()
    for t in range(1, 6):
        _, backward = dis.pair(moving.frames[t - 1], moving.frames[t])
        error = end_point_error(backward, moving.backward[t])[moving.visible[t]]
        assert np.median(error) < 0.2, (t, np.median(error))


def test_masks_exclude_what_was_hidden_and_keep_the_rest(moving):
    dis = DISFlow()
    for t in range(1, 6):
        mask = reliability(*dis.pair(moving.frames[t - 1], moving.frames[t]))
        assert moving.uncovered[t].sum() > 100  # the patch uncovers a strip of the photo every frame
        assert mask[moving.uncovered[t]].mean() < 0.15, t  # ... which the mask leaves out
        assert mask[moving.visible[t]].mean() > 0.9, t  # ... keeping nearly all that frame t - 1 showed


def test_warping_along_the_true_flow_lays_the_last_frame_onto_this_one(moving):
    previous, current = moving.frames[2].astype(np.float32), moving.frames[3].astype(np.float32)
    seen = moving.visible[3]
    along = np.abs(warp(previous, moving.backward[3]) - current).mean(-1)[seen].mean()
    still = np.abs(previous - current).mean(-1)[seen].mean()
    assert along < 0.5 * still


def test_warping_with_zero_flow_is_the_identity(moving):
    zero = np.zeros((300, 400, 2), np.float32)
    frame = moving.frames[1]
    assert np.array_equal(warp(frame, zero), frame)
    image = np.random.default_rng(0).normal(0, 50, (1, 300, 400, 3)).astype(np.float32)
    assert np.array_equal(warp(image, zero), image) and np.allclose(warp(image, zero, sharp=True), image, atol=1e-3)


def test_the_temporal_term_is_zero_for_the_previous_output_passed_through():
    from nst.engine.video.temporal import TemporalTerm

    previous = np.random.default_rng(1).normal(0, 40, (1, 32, 48, 3)).astype(np.float32)
    term = TemporalTerm(weight=5.0, height=32, width=48)
    term.set(warp(previous, np.zeros((32, 48, 2), np.float32), sharp=True), np.ones((32, 48)))
    assert float(term.cost(previous)) == 0.0
    assert float(term.cost(previous + 3.0)) == pytest.approx(9.0)  # 1/D Σ c (G − ω)²: 3² per value
    right_half = np.concatenate([np.zeros((32, 24)), np.ones((32, 24))], axis=1)
    term.set(previous, right_half)
    assert float(term.cost(previous + 3.0)) == pytest.approx(4.5)  # only the reliable half counts
    term.clear()
    assert float(term.cost(previous + 3.0)) == 0.0


# --- clips in and out ---------------------------------------------------------------------------------


def test_odd_sizes_become_even_for_yuv420p(tmp_path):
    frames = [np.random.default_rng(k).integers(0, 255, (33, 47, 3), np.uint8) for k in range(4)]
    write_mp4(frames, tmp_path / "odd.mp4", 12)
    assert describe_mp4(tmp_path / "odd.mp4") == (4, 12, 48, 34, False)


def test_a_one_frame_clip_still_gets_its_preview(tmp_path):
    """One frame at 30 fps lasts 1/30 s, less than one of the preview's 12 fps frames."""
    write_mp4([np.full((40, 60, 3), 200, np.uint8)], tmp_path / "one.mp4", 30)
    write_preview(tmp_path / "one.mp4", tmp_path / "preview.gif")
    assert read_image(tmp_path / "preview.gif").shape[:2] == (40, 60)


def test_rotation_metadata_is_honoured(small_clip, tmp_path):
    turned = tmp_path / "turned.mp4"
    command = [ffmpeg(), "-hide_banner", "-loglevel", "error", "-display_rotation:v:0", "90", "-i", str(small_clip)]
    subprocess.run(command + ["-c", "copy", str(turned)], check=True)
    clip, plain = open_clip(turned), open_clip(small_clip)
    assert (clip.rotation, clip.width, clip.height) == (90, 64, 96) and (plain.width, plain.height) == (96, 64)
    upright, original = next(read_frames(clip))[1], next(read_frames(plain))[1]
    assert np.array_equal(upright, np.rot90(original))  # turned a quarter anticlockwise, as a player shows it


def test_a_folder_of_frames_is_a_clip_in_natural_order(tmp_path):
    for number in (10, 2, 1):
        shutil.copy(ROOT / "images" / "chelsea_cat.png", tmp_path / f"frame{number}.png")
    clip = open_clip(tmp_path)
    assert [p.name for p in clip.images] == ["frame1.png", "frame2.png", "frame10.png"]
    assert (clip.frames, clip.fps, clip.audio) == (3, 24, False)


def test_frame_ranges():
    assert Span().check("--frames", "3:9") == (3, 9) and Span().check("--frames", "5:") == (5, None)
    with pytest.raises(NSTError, match="the end must come after the start"):
        Span().check("--frames", "9:3")


# --- bad input: one line, exit 2, nothing lost ----------------------------------------------------------


def fails(argv, capsys, *fragments):
    with pytest.raises(SystemExit) as info:
        run_cli(main, argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in err[0], (fragment, err[0])


def test_bad_clips(small_clip, tmp_path, capsys, monkeypatch):
    common = ["--output-dir", str(tmp_path / "out"), *SMALL]
    (tmp_path / "text.mp4").write_text("not a video")
    fails([str(tmp_path / "text.mp4"), *common], capsys, "text.mp4: not a video ffmpeg can read")
    (tmp_path / "empty.mp4").write_bytes(b"")
    fails([str(tmp_path / "empty.mp4"), *common], capsys, "empty.mp4: the file is empty")
    (tmp_path / "frames").mkdir()
    fails([str(tmp_path / "frames"), *common], capsys, "frames: no frames in this folder")
    nothing = tmp_path / "nothing.mp4"
    subprocess.run(
        [ffmpeg(), "-loglevel", "error", "-f", "lavfi", "-i", "color=size=64x48", "-frames:v", "0", str(nothing)]
    )
    fails([str(nothing), *common], capsys, "nothing.mp4: holds no video stream")
    unknown = tmp_path / "unknown.mp4"
    unknown.write_bytes(small_clip.read_bytes().replace(b"avc1", b"zzzz"))
    fails([str(unknown), *common], capsys, "unknown.mp4: its video codec (zzzz) is unknown to ffmpeg")
    fails([str(small_clip), *common, "--max-frames", "5"], capsys, "6 frames to stylise, above the limit of 5")
    fails([str(small_clip), *common, "--frames", "7:"], capsys, "the clip has 6 frames")
    monkeypatch.setenv("NST_MAX_PIXELS", "5000")
    fails([str(small_clip), *common], capsys, "frames of 96x64 pixels are above the limit of 5,000")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# --- a whole clip: Ctrl-C keeps the frames done, --resume finishes it, another clip's folder is refused ---


def rows(folder):
    with open(folder / "frames.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_a_clip_interrupted_resumed_and_guarded(small_clip, tmp_path, weights_h5, capsys):
    """nst video on a 64x96 clip of 6 frames: Ctrl-C after the first frames (a real SIGINT to the command)
    keeps them and writes the clip so far; --resume finishes it, the frames done untouched; the mp4 then
    holds 6 frames at 24 fps with the sound; a folder holding this clip refuses another clip."""
    out = tmp_path / "out"
    argv = [str(small_clip), "--output-dir", str(out), "--model", str(weights_h5), *SMALL]
    slow = [*argv, "--warm-iterations", "40"]  # long enough frames to interrupt in the middle
    process = subprocess.Popen([sys.executable, "-m", "nst", "video", *slow], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if (out / "frames.csv").exists() and len(rows(out)) >= 2:
            break
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
    done = rows(out)
    assert 2 <= len(done) < 6 and "continue with --resume" in stdout
    assert describe_mp4(out / "stylized.mp4")[0] == len(done)
    kept = {p.name: p.read_bytes() for p in (out / "frames").iterdir()}
    assert len(kept) == len(done) and not list(out.glob(".*tmp*")) and not list((out / "frames").glob(".*"))

    assert run_cli_code([*argv, "--resume"]) == 0
    table = rows(out)
    assert [int(r["frame"]) for r in table] == list(range(6))
    assert [r["start"] for r in table] == ["noise"] + ["warped"] * 5
    assert all(float(r["J_temporal"]) > 0 for r in table[1:])
    assert all((out / "frames" / name).read_bytes() == data for name, data in kept.items())
    assert describe_mp4(out / "stylized.mp4") == (6, 24, 96, 64, True)
    assert (out / "preview.gif").stat().st_size > 0 and json.loads((out / "video.json").read_text())["finished"]

    other = tmp_path / "other.mp4"
    write_mp4([read_image(p) for p in sorted((out / "frames").iterdir())][:3], other, 24)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    capsys.readouterr()
    fails([str(other), "--output-dir", str(out), "--model", str(weights_h5), *SMALL], capsys, "of another clip")
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def run_cli_code(argv):
    with pytest.raises(SystemExit) as info:
        run_cli(main, argv)
    return info.value.code


def test_help_loads_no_tensorflow():
    code = "\n".join([
        "import contextlib, io, sys",
        "from nst.frontends.cli import main",
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):",
        "    main(['video', '--help'])",
        "assert 'tensorflow' not in sys.modules and 'cv2' not in sys.modules",
    ])  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
