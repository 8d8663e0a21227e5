"""One run per folder: the OS lock that names the run holding a folder, and an earlier run's files cleared."""

import signal
import subprocess
import sys
import time

import pytest

from nst.config import ROOT
from nst.engine.outputs import RunFiles
from nst.errors import NSTError

HOLD = """
import sys, time
from nst.engine.outputs import RunFiles
with RunFiles(sys.argv[1]).claim("the first run"):
    print("holding", flush=True)
    time.sleep(60)
"""


def hold(folder):
    """A process holding ``folder``'s lock; returns once it holds it."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "holding"
    return process


def test_a_second_run_into_a_held_folder_is_one_line_naming_the_first(tmp_path):
    holder = hold(tmp_path)
    try:
        with pytest.raises(NSTError) as info:
            with RunFiles(tmp_path).claim("the second run"):
                pass
        message = str(info.value)
        assert message.startswith(f"{tmp_path}: in use by the first run (process {holder.pid}")
        assert "choose another --output-dir" in message and "\n" not in message
    finally:
        holder.kill()  # kill -9: the kernel releases the lock with the process
        holder.wait()
    with RunFiles(tmp_path).claim("the third run"):
        assert "the third run" in (tmp_path / ".nst-running").read_text()
    assert not (tmp_path / ".nst-running").exists()  # gone when the run ends


@pytest.mark.slow  # nst train as a command: a few seconds of imports
def test_nst_train_into_a_held_folder_stops_before_any_work(tmp_path):
    holder = hold(tmp_path)
    try:
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "nst", "train", "--output-dir", str(tmp_path), "--iterations", "1"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith(f"error: {tmp_path}: in use by the first run")
        assert time.perf_counter() - started < 60 and sorted(p.name for p in tmp_path.iterdir()) == [".nst-running"]
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.wait()


def test_an_earlier_runs_files_are_cleared_and_nothing_else(tmp_path):
    files = RunFiles(tmp_path)
    earlier = ["0.png", "20.png", "180.png", "generated_image.jpg", "losses.png", "progress.gif", "checkpoint.npz"]
    for name in earlier + ["notes.txt", "photo.jpg"]:
        (tmp_path / name).write_bytes(b"x")
    files.losses_csv.write_text("iteration,J,J_content,J_style,seconds\n0,1,1,1,0.1\n")
    assert files.clear_earlier_run() == len(earlier) + 1  # and losses.csv
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "photo.jpg"]


def test_a_folder_no_run_wrote_is_left_alone(tmp_path):
    for name in ("1.png", "2.png", "losses.csv"):
        (tmp_path / name).write_text("mine")
    assert RunFiles(tmp_path).clear_earlier_run() == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1.png", "2.png", "losses.csv"]


@pytest.mark.slow
def test_a_new_run_leaves_nothing_of_the_earlier_one(weights_h5, tmp_path):
    from nst.train import main

    common = [
        "--size",
        "32x48",
        "--save-every",
        "1",
        "--quiet",
        "--output-dir",
        str(tmp_path),
        "--model",
        str(weights_h5),
    ]
    main([*common, "--iterations", "3", "--animation", "gif"])
    assert {"0.png", "1.png", "2.png", "progress.gif"} <= {p.name for p in tmp_path.iterdir()}
    main([*common, "--iterations", "2"])
    names = {p.name for p in tmp_path.iterdir()}
    assert {"0.png", "1.png", "generated_image.jpg", "losses.csv"} <= names
    assert "2.png" not in names and "progress.gif" not in names and ".nst-running" not in names
    assert len((tmp_path / "losses.csv").read_text().splitlines()) == 3  # header and this run's 2 rows
