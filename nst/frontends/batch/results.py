"""What a batch leaves in OUTPUT_DIR: a folder per finished job, and a line per job in results.jsonl.

Nothing already written is lost: ``results.jsonl`` only grows by whole lines (one ``write``,
flushed and fsynced), and is rewritten at the end atomically with the latest line per job; a
job's folder appears whole (written aside, then renamed) before its line is added. A rerun
skips a job whose line says ``done`` for the same inputs, options and weights, and whose image
is still there unchanged (``is_finished``).
"""

import hashlib
import json
import os
import secrets
import shutil
from collections import Counter
from datetime import UTC, datetime

from nst.engine.options import DECLARED, record
from nst.engine.outputs import RunFiles
from nst.errors import NSTError, one_line
from nst.images import atomic_path

RESULTS = "results.jsonl"
# A row's "options": every option but the job's inputs and folder (recorded apart) and quiet (always on).
RECORDED = [name for name in DECLARED if name not in ("content", "style", "output_dir", "quiet")]


def read_results(path):
    """{job name: its latest row}. A line that is not whole JSON (a crash mid-write) is ignored."""
    rows = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, dict) and "job" in row:
                    rows.pop(row["job"], None)  # re-inserted: the order is that of the latest lines
                    rows[row["job"]] = row
    except FileNotFoundError:
        pass
    except OSError as err:
        raise NSTError(f"{path}: cannot read the results ({one_line(err)}); check the output folder") from None
    return rows


def append_row(path, row):
    """Add one whole line: a single write, flushed and fsynced before the next job's."""
    line = (json.dumps(row, ensure_ascii=False) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def compact_results(path):
    """Rewrite results.jsonl atomically with one line per job, the latest."""
    rows = read_results(path)
    if not rows:
        return
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows.values()), encoding="utf-8")


def sha256_file(path):
    """A file's SHA-256 (hex), read in 1 MB pieces: the weights' and the final images' checksums."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_finished(job, row, out, weights):
    """Whether a rerun may skip the job: a `done` row for the same inputs, options and weights,
    and the final image it names still there with the same checksum."""
    if not row or row.get("status") != "done" or job.options is None:
        return False
    same = (
        row.get("content") == str(job.content)
        and row.get("style") == [str(s) for s in job.style]
        and row.get("options") == record(job.options, RECORDED)
        and row.get("weights_sha256") == weights[job.model]["sha256"]
    )
    final = RunFiles(out / job.name).final
    try:
        return same and final.is_file() and sha256_file(final) == row.get("image_sha256")
    except OSError:
        return False


def install_folder(out, name, files):
    """Put the job's files in OUTPUT_DIR/name as a whole: written aside, then renamed into place."""
    new = out / f".{name}.new-{secrets.token_hex(4)}"
    new.mkdir(parents=True)
    try:
        for fname, data in files.items():
            with open(new / fname, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        old = None
        if (out / name).exists():
            old = out / f".{name}.old-{secrets.token_hex(4)}"
            os.replace(out / name, old)
        os.replace(new, out / name)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def job_row(job, row, out):
    """The line of results.jsonl: inputs and options first, then what the worker reported."""
    full = {
        "job": job.name,
        "content": str(job.content),
        "style": [str(s) for s in job.style],
        "options": record(job.options, RECORDED) if job.options is not None else None,
        "status": row["status"],
        "J": row.get("J"),
        "seconds": row.get("seconds", 0.0),
        "peak_memory_mb": row.get("peak_memory_mb"),
        "error": row.get("error"),
    }
    if row["status"] == "done":
        full["image"] = str(RunFiles(out / job.name).final.relative_to(out))
    full.update({k: v for k, v in row.items() if k not in full})
    full["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    return full


def describe(row):
    """One log line per finished job."""
    if row["status"] == "done":
        return (
            f"done    {row['job']}  J={row['J']:.4g}  {row['seconds']:.1f} s  "
            f"{row.get('peak_memory_mb') or 0:.0f} MB  (pid {row.get('pid')} on {row.get('host')})"
        )
    return f"failed  {row['job']}  {row['error']}"


class Results:
    """OUTPUT_DIR as jobs finish: each job's folder, its line in results.jsonl, one log line; and the counts."""

    def __init__(self, out, log):
        self.out, self.log = out, log
        self.path = out / RESULTS
        self.counts = Counter()
        self.job_seconds = 0.0  # the sum of the jobs' own times, as the workers measured them

    def record(self, job, row, files=None):
        if row["status"] == "done":
            try:
                install_folder(self.out, job.name, files or {})
            except OSError as err:
                row = dict(row, status="failed", error=f"{self.out / job.name}: cannot write ({one_line(err)})")
        full = job_row(job, row, self.out)
        append_row(self.path, full)
        self.counts[full["status"]] += 1
        self.job_seconds += full.get("seconds") or 0.0
        self.log(describe(full))
