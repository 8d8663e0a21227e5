"""The jobs' folders on disk: pruned by age and count, never a running job's; jobs lost to a stopped server.

Every job writes into ``<--output-dir>/<job id>/`` (``jobs.new_job_id``: '20261127-153012-a3f9c1').
A studio that serves for weeks would fill the disk, so ``prune`` removes the folders of finished
jobs older than ``--keep-hours`` and, past the newest ``--keep-jobs``, the oldest ones; it runs
when the server starts, whenever a job ends and every hour. A folder is left alone while a run holds it
(``nst.engine.outputs.RunFiles.claim``'s lock, also a run of another server or of ``nst train``
writing there) or while its job is still queued or running here; other folders and files in
``--output-dir`` are not the studio's and are never touched.

A run killed with its server (kill -9, a power cut) leaves its folder half-written: some
``<i>.png``, no final image, and the lock file no process holds any more. ``recover`` finds
these when the server starts, removes the partial files and leaves ``lost.txt`` saying what
happened, so the job is reported as lost rather than mistaken for a result.
"""

import fcntl
import os
import re
import shutil
import time
from pathlib import Path

from nst.engine.outputs import RunFiles

JOB_FOLDER = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")  # the shape of jobs.new_job_id
LOST = "lost.txt"  # in a lost job's folder: what happened to it
DEFAULT_KEEP_HOURS = 24.0
DEFAULT_KEEP_JOBS = 100


def job_folders(output_dir):
    """The job folders in ``output_dir``, oldest first (by their last change)."""
    try:
        entries = list(Path(output_dir).iterdir())
    except OSError:
        return []
    folders = [path for path in entries if JOB_FOLDER.match(path.name) and path.is_dir()]
    return sorted(folders, key=_last_change)


def _last_change(folder):
    try:
        return folder.stat().st_mtime
    except OSError:  # removed meanwhile
        return 0.0


def held(folder):
    """Whether a run holds ``folder`` now (its lock file exists and a live process has it locked).

    Trying the lock takes it for a moment; a run starting in that moment is refused with the
    usual line, as when two runs race for a folder."""
    lock = RunFiles(folder).lock
    try:
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases the lock if we took it
    return False


def prune(output_dir, keep_hours, keep_jobs, busy=frozenset, now=None):
    """Remove finished jobs' folders older than ``keep_hours`` or past the newest ``keep_jobs``.

    ``busy()``: the ids of the jobs queued or running here, asked after the folders are listed
    (a job has its id before its folder), whose folders stay, counted among those kept.
    Returns the names removed, oldest first."""
    now = time.time() if now is None else now
    folders = job_folders(output_dir)
    keep = {folder.name for folder in folders[max(0, len(folders) - keep_jobs) :]}
    busy = busy()
    removed = []
    for folder in folders:
        old = now - _last_change(folder) > keep_hours * 3600
        if (old or folder.name not in keep) and folder.name not in busy and not held(folder):
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                removed.append(folder.name)
    return removed


def recover(output_dir):
    """Mark the jobs a stopped server left running as lost (see above); returns their names."""
    lost = []
    for folder in job_folders(output_dir):
        files = RunFiles(folder)
        if not files.lock.exists() or held(folder):
            continue
        holder = files.lock.read_text(errors="replace").strip() or "a run"
        for path in folder.iterdir():
            if path.is_file() and (files.is_output(path) or path.name == files.checkpoint.name):
                path.unlink()
        (folder / LOST).write_text(
            f"lost: {holder} was still running when the server stopped; its partial files were removed. "
            "Run the job again.\n"
        )
        files.lock.unlink(missing_ok=True)
        lost.append(folder.name)
    return lost
