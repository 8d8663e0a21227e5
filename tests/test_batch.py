"""nst batch on a real local Ray instance (2 CPUs), with tiny images (32x48) and 2 iterations.

One Ray instance serves the whole module (``nst.frontends.batch.main`` uses the one this process
started), so its worker processes, with TensorFlow and the weights loaded, serve every test, the
clip (nst video's, as content) too.
"""

import csv
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import ray
from PIL import Image

from nst.config import ROOT
from nst.errors import run_cli
from nst.frontends.batch import main
from nst.frontends.batch.results import RESULTS, sha256_file

SMALL = ["--size", "32x48", "--iterations", "2", "--seed", "1"]


@pytest.fixture(scope="module")
def ray_local(weights_h5, tmp_path_factory):
    """Ray with 2 CPUs; the workers' weights cache in a fresh folder, so the object store fills it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NST_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))  # the workers inherit it
        mp.setenv("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        yield ray
        ray.shutdown()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """content/ with 2 photos and style/ with 2 paintings, small copies of the demo images."""
    root = tmp_path_factory.mktemp("inputs")
    demo = ROOT / "images"
    for folder, name, source in [
        ("content", "bridge.jpg", "golden_gate_bridge.jpg"),
        ("content", "cat.png", "chelsea_cat.png"),
        ("style", "starry.jpg", "starry_night.jpg"),
        ("style", "wave.jpg", "great_wave.jpg"),
    ]:
        (root / folder).mkdir(exist_ok=True)
        with Image.open(demo / source) as image:
            image.convert("RGB").resize((72, 48)).save(root / folder / name)
    return root


def rows_of(out):
    return [json.loads(line) for line in (out / RESULTS).read_text().splitlines()]


def summary(text):
    return [line for line in text.splitlines() if line.startswith("nst batch:")][-1]


@pytest.fixture(scope="module")
def pairs(ray_local, inputs, tmp_path_factory):
    """The first batch: 2 content × 2 style images."""
    out = tmp_path_factory.mktemp("pairs")
    argv = ["--content", str(inputs / "content"), "--style", str(inputs / "style"), "--output-dir", str(out), *SMALL]
    code = main(argv)
    return argv, out, code


def test_help(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--help"])
    assert exit.value.code == 0
    text = capsys.readouterr().out
    for option in ["--content", "--style", "--manifest", "--workers", "--threads-per-job", "--address", "--retries"]:
        assert option in text
    assert "--iterations" in text and "--preset" in text  # nst train's options, applied to all jobs


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "no jobs"),
        (["--content", "{empty}", "--style", "{empty}"], "no images in this folder"),
        (["--content", "{empty}/nothing.jpg", "--style", "{empty}"], "no such file or folder"),
        (["--manifest", "{empty}/jobs.csv"], "no such manifest"),
        (["--manifest", "{header_only}"], "no jobs in the manifest"),
        (["--content", "{empty}", "--style", "{empty}", "--iterations", "none"], "--iterations 'none'"),
    ],
)
def test_an_invalid_batch_exits_2_with_one_line(argv, message, tmp_path, capsys):
    (tmp_path / "header.csv").write_text("content,style\n")
    names = {"empty": tmp_path, "header_only": tmp_path / "header.csv"}
    with pytest.raises(SystemExit) as exit:
        run_cli(main, [a.format(**names) for a in argv] + ["--output-dir", str(tmp_path / "out")])
    assert exit.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


@pytest.mark.slow
def test_pairs_make_every_folder_and_row(pairs, weights_h5):
    _, out, code = pairs
    assert code == 0
    names = {"bridge__starry", "bridge__wave", "cat__starry", "cat__wave"}
    assert {p.name for p in out.iterdir() if p.is_dir()} == names
    rows = rows_of(out)
    assert {r["job"] for r in rows} == names and len(rows) == 4
    for row in rows:
        assert row["status"] == "done" and row["error"] is None
        assert row["threads"] == {"intra": 1, "inter": 1}  # 2 CPUs, 1 thread per job
        assert row["J"] > 0 and row["seconds"] > 0 and row["peak_memory_mb"] > 100
        assert row["options"]["iterations"] == 2 and row["options"]["size"] == [32, 48]
        with Image.open(out / row["image"]) as image:
            assert image.size == (48, 32)
        assert (out / row["job"] / "losses.csv").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no folder left half-written
    # The workers got the weights through Ray's object store into this node's (fresh) cache.
    (cached,) = Path(os.environ["NST_CACHE_DIR"]).iterdir()
    assert cached.name.endswith(weights_h5.name) and sha256_file(cached) == sha256_file(weights_h5)
    assert {r["weights_sha256"] for r in rows} == {sha256_file(weights_h5)}


@pytest.mark.slow
def test_a_rerun_skips_every_finished_job(pairs, capsys):
    argv, out, _ = pairs
    before = {p: p.stat().st_mtime_ns for p in out.glob("*/*")}
    lines = (out / RESULTS).read_text()
    capsys.readouterr()
    started = time.perf_counter()
    assert main(argv) == 0
    assert time.perf_counter() - started < 10
    assert "0 done, 0 failed, 4 skipped" in summary(capsys.readouterr().out)
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/*")} == before  # nothing rewritten
    assert (out / RESULTS).read_text() == lines


@pytest.mark.slow
def test_a_corrupt_image_fails_only_its_jobs(pairs, inputs, capsys):
    argv, out, _ = pairs
    broken = inputs / "content" / "broken.jpg"
    broken.write_bytes((inputs / "content" / "bridge.jpg").read_bytes()[:300])  # a truncated JPEG
    try:
        capsys.readouterr()
        assert main(argv) == 1
        text = capsys.readouterr().out
    finally:
        broken.unlink()
    assert "0 done, 2 failed, 4 skipped" in summary(text)
    rows = {r["job"]: r for r in rows_of(out)}
    assert len(rows) == 6
    for name in ["broken__starry", "broken__wave"]:
        error = rows[name]["error"]
        assert rows[name]["status"] == "failed" and not (out / name).exists()
        assert error.startswith(f"{broken}: ") and "\n" not in error  # the user's path, not the worker's copy
        assert f"failed  {name}  {error}" in text
    assert sum(r["status"] == "done" for r in rows.values()) == 4


@pytest.mark.slow
def test_manifest_rows_with_their_own_options(ray_local, inputs, tmp_path):
    manifest = tmp_path / "jobs.csv"
    shutil.copy(inputs / "content" / "cat.png", tmp_path / "cat.png")
    with open(manifest, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["content", "style", "size", "seed", "iterations", "name"])
        writer.writerow(["cat.png", inputs / "style" / "wave.jpg", "32x64", "3", "", ""])  # relative to the CSV
        writer.writerow(["cat.png", "", "", "", "", "no_style"])
        writer.writerow([inputs / "content" / "bridge.jpg", inputs / "style" / "starry.jpg", "", "", "abc", "typo"])
    out = tmp_path / "out"
    assert main(["--manifest", str(manifest), "--output-dir", str(out), *SMALL]) == 1
    rows = {r["job"]: r for r in rows_of(out)}
    assert set(rows) == {"cat__wave", "no_style", "typo"}
    assert rows["cat__wave"]["status"] == "done"
    assert rows["cat__wave"]["content"] == str(tmp_path / "cat.png")
    assert rows["cat__wave"]["options"]["size"] == [32, 64] and rows["cat__wave"]["seed"] == 3
    with Image.open(out / rows["cat__wave"]["image"]) as image:
        assert image.size == (64, 32)
    assert rows["no_style"]["error"] == f"{manifest} line 3: needs a content and a style image"
    assert rows["typo"]["status"] == "failed" and "--iterations 'abc': not a whole number" in rows["typo"]["error"]

    # --force runs the done job again (the bad rows fail again)
    image = out / rows["cat__wave"]["image"]
    before = image.stat().st_mtime_ns
    assert main(["--manifest", str(manifest), "--output-dir", str(out), *SMALL, "--force"]) == 1
    assert image.stat().st_mtime_ns != before
    assert len(rows_of(out)) == 3


@pytest.mark.slow
def test_a_clip_in_a_batch_is_one_job(ray_local, small_clip, tmp_path, weights_h5):
    """nst batch with a clip as content: one Ray task stylises its frames in order; one results line for it."""
    from nst.engine.video.clip import describe_mp4

    out = tmp_path / "batch"
    style = ROOT / "images" / "starry_night.jpg"
    argv = ["--content", str(small_clip), "--style", str(style), "--output-dir", str(out), "--size", "64x96"]
    assert main([*argv, "--iterations", "4", "--seed", "0", "--model", str(weights_h5), "--quiet"]) == 0
    (row,) = rows_of(out)
    assert (row["status"], row["frames"], row["clip"]) == ("done", 6, "stylized.mp4")
    folder = out / row["job"]
    assert describe_mp4(folder / "stylized.mp4") == (6, 24, 96, 64, True)
    with open(folder / "frames.csv", newline="") as f:
        assert [int(r["frame"]) for r in csv.DictReader(f)] == list(range(6))
    assert (folder / "generated_image.jpg").is_file()


def busy_workers():
    """PIDs of Ray worker processes running a job right now (Ray titles them ray::run_job)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes().startswith(b"ray::run_job"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@pytest.mark.slow
def test_a_killed_worker_is_retried_and_the_batch_completes(ray_local, inputs, tmp_path):
    out = tmp_path / "out"
    argv = ["--content", str(inputs / "content" / "bridge.jpg"), "--style", str(inputs / "style")]
    result = {}
    thread = threading.Thread(
        target=lambda: result.update(code=main([*argv, "--output-dir", str(out), *SMALL, "--iterations", "20"]))
    )
    thread.start()
    deadline, killed = time.monotonic() + 120, None
    while killed is None and time.monotonic() < deadline and thread.is_alive():
        busy = busy_workers()
        if busy:
            killed = busy[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    thread.join(timeout=300)
    assert killed is not None, "no worker process was seen running a job"
    assert result["code"] == 0
    rows = rows_of(out)
    assert [r["status"] for r in rows] == ["done", "done"]
    assert killed not in {r["pid"] for r in rows}  # the killed job ran again, in another process


@pytest.mark.slow
def test_ctrl_c_keeps_finished_jobs_and_cancels_the_rest(ray_local, inputs, tmp_path, capsys):
    out = tmp_path / "out"

    def press_ctrl_c_after_the_first_job():
        while not (out / RESULTS).is_file() or not (out / RESULTS).read_text():
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=press_ctrl_c_after_the_first_job, daemon=True).start()
    argv = ["--content", str(inputs / "content"), "--style", str(inputs / "style"), "--output-dir", str(out)]
    assert main([*argv, *SMALL, "--iterations", "30"]) == 130
    rows = rows_of(out)  # every line whole JSON
    assert 1 <= len(rows) < 4 and all(r["status"] == "done" for r in rows)
    assert {p.name for p in out.iterdir()} == {RESULTS} | {r["job"] for r in rows}  # nothing from cancelled jobs
    assert "cancelled" in summary(capsys.readouterr().out)
    shutil.rmtree(out)


@pytest.mark.slow
def test_nst_train_does_not_import_ray(weights_h5, tmp_path):
    code = (
        "import sys, nst.train, nst.frontends.cli\n"
        f"nst.train.main(['--size', '32x48', '--iterations', '1', '--quiet', '--output-dir', {str(tmp_path)!r}])\n"
        "assert 'ray' not in sys.modules, 'nst train imported Ray'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True, timeout=300)
