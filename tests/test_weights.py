"""`python -m nst.weights`: real weights, verified, fetched once, corrupt files reported."""

import dataclasses
import shutil
import subprocess
import sys

import pytest

from nst import weights
from nst.config import ROOT
from nst.errors import NSTError
from nst.weights import KERAS_H5, MATCONVNET_MAT, file_md5


def run_weights(*args):
    return subprocess.run([sys.executable, "-m", "nst.weights", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.fixture(scope="module")
def fetched_dir(tmp_path_factory):
    """A fresh folder filled by the command itself (no copy from pretrained-model/)."""
    folder = tmp_path_factory.mktemp("weights")
    first = run_weights("--dir", str(folder))
    assert first.returncode == 0, first.stderr
    assert "downloaded, verified" in first.stdout
    return folder


@pytest.mark.slow
def test_fetch_gives_the_real_file(fetched_dir):
    path = fetched_dir / KERAS_H5.filename
    assert path.stat().st_size == 80_134_624
    assert file_md5(path) == "253f8cb515780f3b799900260a226db6"
    assert [p.name for p in fetched_dir.iterdir()] == [KERAS_H5.filename]  # no temporary left behind


def test_second_run_downloads_nothing(fetched_dir):
    before = (fetched_dir / KERAS_H5.filename).stat().st_mtime_ns
    again = run_weights("--dir", str(fetched_dir))
    assert again.returncode == 0
    assert "present, verified" in again.stdout
    assert "fetching" not in again.stdout
    assert (fetched_dir / KERAS_H5.filename).stat().st_mtime_ns == before


@pytest.mark.slow
def test_truncated_file_is_reported_and_kept_until_forced(fetched_dir, tmp_path):
    path = tmp_path / KERAS_H5.filename
    shutil.copy(fetched_dir / KERAS_H5.filename, path)
    with open(path, "r+b") as f:
        f.truncate(1_000_000)
    report = run_weights("--dir", str(tmp_path))
    assert report.returncode == 2
    lines = report.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in report.stderr
    assert "corrupt" in lines[0] and "1,000,000" in lines[0] and "80,134,624" in lines[0] and "--force" in lines[0]
    assert path.stat().st_size == 1_000_000  # reported, not replaced

    forced = run_weights("--dir", str(tmp_path), "--force")
    assert forced.returncode == 0, forced.stderr
    assert file_md5(path) == KERAS_H5.md5


def test_same_size_wrong_content_is_caught_by_md5(fetched_dir, tmp_path):
    path = tmp_path / KERAS_H5.filename
    shutil.copy(fetched_dir / KERAS_H5.filename, path)
    with open(path, "r+b") as f:
        f.seek(40_000_000)
        f.write(b"\x00" * 16)
    with pytest.raises(NSTError, match="MD5 .* expected 253f8cb515780f3b799900260a226db6"):
        weights.fetch(KERAS_H5, tmp_path, say=lambda line: None)


def test_bad_download_never_takes_the_final_name(tmp_path, monkeypatch):
    def garbage(dst, desc):
        dst.write(b"not the weights")

    monkeypatch.setattr(weights, "_sources", lambda spec: [("a broken mirror", garbage)])
    with pytest.raises(NSTError, match="could not be fetched.*size 15 bytes"):
        weights.fetch(KERAS_H5, tmp_path, say=lambda line: None)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_mat_says_so_and_suggests_the_h5(tmp_path, monkeypatch, capsys):
    unreachable = dataclasses.replace(MATCONVNET_MAT, url="http://127.0.0.1:9/imagenet-vgg-verydeep-19.mat")
    monkeypatch.setattr(weights, "MATCONVNET_MAT", unreachable)
    with pytest.raises(NSTError) as info:
        weights.main(["--mat", "--dir", str(tmp_path)])
    message = str(info.value)
    assert "\n" not in message
    assert "imagenet-vgg-verydeep-19.mat" in message and "python -m nst.weights" in message
    assert list(tmp_path.iterdir()) == []


def test_to_mat_writes_a_clearly_named_copy(converted_mat):
    assert converted_mat.name == "vgg19-converted-from-keras-h5.mat"
    assert converted_mat.stat().st_size > 70_000_000
