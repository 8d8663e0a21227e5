"""A studio that runs for weeks: its job folders pruned by age and count (never a running job's),
jobs lost to a killed server found at the next start, one run per folder, a full disk, and
--resume after a kill -9. The server itself is tested in test_app.py; its memory over many jobs
is a benchmark (scripts/memory-curve, docs/studio.md)."""

import contextlib
import dataclasses
import errno
import os
import subprocess
import sys
import time

import pytest

from nst.config import IMAGES_DIR, ROOT
from nst.errors import NSTError
from nst.frontends import studio as app
from nst.frontends.studio import folders

CONTENT = IMAGES_DIR / "golden_gate_bridge.jpg"
STYLE = IMAGES_DIR / "starry_night.jpg"
HOUR = 3600

# A run that holds its folder, writes some of its files, then waits to be killed.
HOLD = """
import sys, time
from pathlib import Path
from nst.engine.outputs import RunFiles
files = RunFiles(sys.argv[1])
with files.claim("nst train of golden_gate_bridge.jpg"):
    for name in ("0.png", "1.png", "losses.csv", "checkpoint.npz") if sys.argv[2] == "writes" else ():
        (files.folder / name).write_bytes(b"partial")
    print("holding", flush=True)
    time.sleep(120)
"""


@contextlib.contextmanager
def held(folder, writes=True):
    """A process holding ``folder`` as a run does (having written some of its files if ``writes``),
    killed (kill -9) when the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-c", HOLD, str(folder), "writes" if writes else "-"]
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "holding"
        yield process
    finally:
        process.kill()
        process.wait()


def job_folder(root, stamp, age_hours, now):
    """A finished job's folder named as the studio names them, last changed ``age_hours`` ago."""
    folder = root / f"20261127-{stamp}-a3f9c1"
    folder.mkdir()
    (folder / "generated_image.jpg").write_bytes(b"x")
    os.utime(folder, (now - age_hours * HOUR, now - age_hours * HOUR))
    return folder


def test_pruning_keeps_the_newest_jobs_and_the_young_ones_and_never_a_running_one(tmp_path):
    now = time.time()
    old, older, oldest = (job_folder(tmp_path, f"00000{i}", hours, now) for i, hours in enumerate((30, 40, 50)))
    young = [job_folder(tmp_path, f"10000{i}", hours, now) for i, hours in enumerate((4, 3, 2, 1))]
    queued = job_folder(tmp_path, "200000", 60, now)  # a job of this server, not started or not ended
    mine = tmp_path / "my-notes"  # not a job's folder: never the studio's to remove
    mine.mkdir()
    (tmp_path / "20261127-000000-a3f9c1.jpg").write_bytes(b"a file, not a folder")
    with held(tmp_path / "20261127-300000-b4e0d2") as holder:  # a run of another server, 70 hours old
        os.utime(tmp_path / "20261127-300000-b4e0d2", (now - 70 * HOUR, now - 70 * HOUR))
        removed = folders.prune(tmp_path, keep_hours=24, keep_jobs=3, busy=lambda: {queued.name}, now=now)
        assert holder.poll() is None
    # Older than 24 hours: gone; of the young, only the newest 3 stay; the running and queued stay.
    assert sorted(removed) == sorted(f.name for f in (oldest, old, older, young[0]))
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(
        [*(f.name for f in young[1:]), queued.name, "20261127-300000-b4e0d2", "my-notes", "20261127-000000-a3f9c1.jpg"]
    )
    # Once the queued job has ended and the other run was killed, their folders go too.
    assert sorted(folders.prune(tmp_path, keep_hours=24, keep_jobs=3, now=now)) == [
        queued.name,
        "20261127-300000-b4e0d2",
    ]


def test_nst_app_help_says_what_it_keeps(capsys):
    with pytest.raises(SystemExit):
        app.parse_settings(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--keep-hours" in text and "--keep-jobs" in text
    assert "a running job's folder is never removed" in text
    settings = app.parse_settings(["--keep-hours", "0.5", "--keep-jobs", "10"])
    assert (settings.keep_hours, settings.keep_jobs) == (0.5, 10)
    with pytest.raises(NSTError, match="--keep-jobs 0: must be above 0"):
        app.parse_settings(["--keep-jobs", "0"])


def test_a_job_its_server_was_killed_in_is_reported_lost_not_left_half_written(tmp_path):
    lost = tmp_path / "20261127-153012-a3f9c1"
    with held(lost):
        with held(tmp_path / "20261127-153013-b4e0d2"):  # still running, in another process
            assert folders.recover(tmp_path) == []
        assert folders.recover(tmp_path) == ["20261127-153013-b4e0d2"]
    assert folders.recover(tmp_path) == [lost.name]  # the kill released the lock; the file stayed
    for folder in (lost, tmp_path / "20261127-153013-b4e0d2"):
        assert sorted(p.name for p in folder.iterdir()) == [folders.LOST]
        note = (folder / folders.LOST).read_text()
        assert note.startswith("lost: nst train of golden_gate_bridge.jpg (process ") and "Run the job again" in note
    assert folders.recover(tmp_path) == []  # reported once


def studio_job(tmp_path, run, **options):
    settings = app.Settings(output_dir=tmp_path / "jobs", max_size=256)
    jobs = app.Jobs(settings, run)
    form = app.Form(str(CONTENT), [str(STYLE)], size="32x48", iterations=options.pop("iterations", 2))
    job = jobs.create(form, "a page")
    job.options = dataclasses.replace(job.options, **options)  # e.g. save_every, for the tests below
    return jobs, job


def ended(job):
    return next(payload for kind, payload in app.follow(job) if kind == "ended")


def test_a_studio_job_into_a_folder_in_use_is_one_line_naming_the_other_run(tmp_path):
    from nst.engine.run import run

    jobs, job = studio_job(tmp_path, run)
    with held(job.files.folder) as holder:
        error = ended(job).error
    assert error.startswith(f"{job.files.folder}: in use by nst train of golden_gate_bridge.jpg (process {holder.pid}")
    assert "\n" not in error


def test_nst_train_nst_video_and_the_studio_hold_a_folder_by_one_lock(tmp_path):
    """The studio's jobs are nst.engine.run.run's (test above); nst video's runs claim their folder
    through VideoFiles, a RunFiles: the same .nst-running, so each refuses the others."""
    from nst.engine.outputs import RunFiles
    from nst.engine.video.files import VideoFiles

    assert VideoFiles(tmp_path).lock == RunFiles(tmp_path).lock
    with held(tmp_path, writes=False) as holder:  # nst train's run, in another process
        with pytest.raises(NSTError, match=rf"in use by nst train of golden_gate_bridge.jpg \(process {holder.pid}"):
            with VideoFiles(tmp_path).claim("nst video of clip.mp4"):
                pass
    with VideoFiles(tmp_path).claim("nst video of clip.mp4"):  # the kill released it
        with pytest.raises(NSTError, match="in use by nst video of clip.mp4"):
            with RunFiles(tmp_path).claim("nst train of golden_gate_bridge.jpg"):
                pass


def test_a_write_the_engine_does_not_word_gets_the_studios_line_for_a_full_disk(tmp_path):
    def run(options, on_iteration, should_stop):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(options.output_dir / "losses.csv"))

    _, job = studio_job(tmp_path, run)
    error = ended(job).error
    assert error.startswith(f"{job.files.folder}: the disk is full (No space left on device)")
    assert "--keep-jobs" in error and "\n" not in error


@contextlib.contextmanager
def small_disk(folder, megabytes):
    """A tmpfs of ``megabytes`` mounted on ``folder`` (needs root, as CI and this machine have)."""
    folder.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small disk here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


@pytest.mark.slow
def test_a_full_disk_during_a_job_is_that_jobs_error_and_the_next_job_runs(weights_h5, tmp_path):
    from nst.engine.run import run

    with small_disk(tmp_path / "jobs", 8) as disk:
        filler = disk / "filler"

        def fill_the_disk_after_the_first_iteration(options, on_iteration, should_stop):
            def on_step(step):
                if step.iteration == 0:
                    with open(filler, "wb") as f:  # another program takes the rest of the disk
                        with contextlib.suppress(OSError):
                            while True:
                                f.write(b"\0" * 65536)
                                f.flush()
                on_iteration(step)

            return run(options, on_iteration=on_step, should_stop=should_stop)

        jobs, job = studio_job(tmp_path, fill_the_disk_after_the_first_iteration, save_every=1, model=weights_h5)
        error = ended(job).error  # the engine's line, naming the file it could not write
        assert error.startswith(f"{job.files.folder}/") and "No space left on device" in error, error
        assert "\n" not in error
        assert not job.files.lock.exists() and not job.files.final.exists()
        jobs.forget(job)

        filler.unlink()  # space again: the studio goes on
        _, second = studio_job(tmp_path, run, model=weights_h5)
        assert ended(second).result.status == "done" and second.files.final.is_file()


@pytest.mark.slow
def test_resume_works_after_a_kill_9(weights_h5, tmp_path):
    """A run killed with kill -9 leaves its lock file, but not its lock: --resume continues there.

    The checkpoint comes from a real run; the kill is of a process holding the folder as every run
    does (``RunFiles.claim``), which costs a second rather than TensorFlow's start in a subprocess."""
    from nst.train import main

    common = ["--size", "32x48", "--model", str(weights_h5), "--output-dir", str(tmp_path), "--quiet", "--seed", "1"]
    main([*common, "--iterations", "2", "--checkpoint-every", "2"])
    with held(tmp_path, writes=False):  # a run into the folder, killed before it wrote anything
        pass
    assert (tmp_path / ".nst-running").exists()  # the killed run's file stays; its lock went with it
    main([*common, "--iterations", "4", "--resume", str(tmp_path / "checkpoint.npz")])
    rows = (tmp_path / "losses.csv").read_text().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in rows] == [0, 1, 2, 3]  # the checkpoint's 2 rows, then 2 more
    assert not (tmp_path / ".nst-running").exists() and (tmp_path / "generated_image.jpg").is_file()


def test_runs_in_threads_write_their_loss_plots_at_once(tmp_path):
    """nst app --queue 2 runs two jobs in threads of one process; matplotlib's text layout is not
    thread-safe: without one plot at a time, these 8 plots all failed in mathtext's parser, and so
    did half the jobs of scripts/memory-curve load with --queue 2."""
    import threading

    from nst.engine.outputs import RunFiles
    from nst.engine.report import Row, write_losses

    rows = [Row(i, {"J": 10.0 ** (9 - i), "J_content": 10.0**4, "J_style": 10.0 ** (8 - i)}, 0.1 * i) for i in range(5)]
    errors = []

    def plot(n):
        for k in range(4):
            try:
                write_losses(rows, RunFiles(tmp_path / f"{n}-{k}"))
            except Exception as err:
                errors.append(err)

    for folder in (tmp_path / f"{n}-{k}" for n in range(2) for k in range(4)):
        folder.mkdir()
    threads = [threading.Thread(target=plot, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(list(tmp_path.glob("*/losses.png"))) == 8
