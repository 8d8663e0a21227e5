"""Jobs: one run in a thread of its own (``Job``), the server's jobs by id (``Jobs``), and
``follow``, which starts a job and passes on what it reports, at a pace a browser can take.

Training never waits for a browser: the job's thread puts what happens into a queue, and
whoever shows the job reads it from there. A job is stopped through its ``threading.Event``:
``run()`` ends after the iteration in progress and saves the current image as the final one.
"""

import errno
import math
import queue
import secrets
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from nst.engine.outputs import RunFiles
from nst.errors import NSTError, one_line
from nst.frontends.studio.folders import prune
from nst.frontends.studio.form import make_options

PREVIEW_SECONDS = 1.0  # the current image is sent at most this often (and at the last iteration)
REFRESH_SECONDS = 0.5  # progress and plot at most this often


def log(line):
    """One line in the server's log."""
    print(f"nst studio: {line}", flush=True)


@dataclass
class Step:
    """One iteration as the worker thread reports it."""

    iteration: int  # 0-based, across scales
    total: int
    costs: dict  # "J", "J_content", "J_style"[, "J_tv"]
    seconds: float  # since the run started
    picture: object = None  # uint8 (H, W, 3) now and then, else None


@dataclass
class Ended:
    """The worker thread's last word: a Result, or the error's one line."""

    result: object = None
    error: str | None = None


def new_job_id():
    """'20261127-153012-a3f9c1': sortable by time, and not guessable by another session."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


class Job:
    """One ``run(options, on_iteration, should_stop)`` in a thread of its own.

    The thread puts a Step per iteration and one Ended into ``updates``."""

    def __init__(self, job_id, session, options, run):
        self.id, self.session, self.options, self._run = job_id, session, options, run
        self.files = RunFiles(options.output_dir)
        self.stop = threading.Event()
        self.updates = queue.Queue()
        self.thread = None
        self.total = options.iterations  # iterations in the run: more with several scales (see Step.total)
        self._last_preview = -math.inf

    def start(self):
        self.thread = threading.Thread(target=self._work, name=f"nst-job-{self.id}", daemon=True)
        self.thread.start()

    def _work(self):
        try:
            result = self._run(self.options, on_iteration=self._on_iteration, should_stop=self.stop)
        except NSTError as err:
            self.updates.put(Ended(error=str(err)))
        except Exception as err:  # a full disk, or a job's bug: neither may take the server down
            if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
                self.updates.put(Ended(error=disk_full(self.files.folder, err)))
                return
            traceback.print_exc()  # its traceback on the server's log, its one line on the page
            self.updates.put(Ended(error=f"{type(err).__name__}: {one_line(err)}"))
        else:
            self.updates.put(Ended(result=result))

    def _on_iteration(self, step):
        now = time.monotonic()
        last = step.iteration + 1 >= step.total
        picture, self.total = None, step.total
        if last or now - self._last_preview >= PREVIEW_SECONDS:
            picture, self._last_preview = step.image(), now
        self.updates.put(Step(step.iteration, step.total, dict(step.costs), step.seconds, picture))

    def finished(self):
        """Whether the job's thread has started and ended."""
        return self.thread is not None and not self.thread.is_alive()


def disk_full(folder, err):
    """The one line for a job that found the disk full (the server goes on serving)."""
    return (
        f"{folder}: the disk is full ({err.strerror}); the job stopped there. Free some space, or have "
        "the studio keep fewer jobs (nst app --keep-jobs, --keep-hours), and run it again"
    )


class Jobs:
    """The server's jobs, by id; each belongs to one browser session (one tab) or to a /stylize call."""

    def __init__(self, settings, run):
        self.settings, self.run = settings, run
        self.lock = threading.Lock()
        self.by_id = {}

    def create(self, form, session, one_per_session=True):
        """Check ``form`` and register a job for ``session`` (not started: it waits its turn).

        A page runs one job at a time (its Stop button stops that one); a script calling
        /stylize may queue several (``one_per_session=False``), up to gradio's queue size."""
        with self.lock:
            if one_per_session and any(job.session == session for job in self.by_id.values()):
                raise NSTError("a job is already running in this page; stop it or wait for it to end")
        job_id = new_job_id()
        options = make_options(form, self.settings, Path(self.settings.output_dir) / job_id)
        job = Job(job_id, session, options, self.run)
        with self.lock:
            self.by_id[job_id] = job
        log(f"job {job_id}: queued")
        return job

    def get(self, job_id):
        with self.lock:
            return self.by_id.get(job_id)

    def forget(self, job):
        """The job has ended, or will never start: drop it, then prune the job folders.

        Its own folder stays this time, whatever --keep-jobs says: /stylize still hands its image
        to gradio after this (a later prune takes it)."""
        with self.lock:
            self.by_id.pop(job.id, None)
        self.prune(spare=job.id)

    def ids(self):
        with self.lock:
            return set(self.by_id)

    def prune(self, spare=None):
        """Remove job folders past --keep-hours or --keep-jobs (``folders.prune``), but never those of
        the jobs here (queued or running) nor ``spare``'s; say so in the log."""
        s = self.settings
        try:
            removed = prune(s.output_dir, s.keep_hours, s.keep_jobs, busy=lambda: self.ids() | {spare})
        except OSError as err:  # the output folder itself gone or unreadable: the next job says so
            log(f"pruning {s.output_dir}: {one_line(err)}")
            return
        if removed:
            log(f"removed {len(removed)} old job folders (--keep-hours {s.keep_hours:g}, --keep-jobs {s.keep_jobs})")

    def stop_session(self, session, why):
        """Ask the session's jobs to stop; True if there was one."""
        with self.lock:
            jobs = [job for job in self.by_id.values() if job.session == session]
        for job in jobs:
            if not job.stop.is_set():
                log(f"job {job.id}: stopping ({why})")
                job.stop.set()
            if job.thread is None and why == "page closed":  # its turn may never come: gradio drops it
                self.forget(job)
        return bool(jobs)

    def stop_all(self, wait=30.0):
        """Stop every job and give each a moment to save its image (server shutdown)."""
        with self.lock:
            jobs = list(self.by_id.values())
        for job in jobs:
            job.stop.set()
        deadline = time.monotonic() + wait
        # Every job thread, also of jobs already forgotten (their page closed) that are still saving.
        for thread in threading.enumerate():
            if thread.name.startswith("nst-job-"):
                thread.join(max(0.0, deadline - time.monotonic()))


def follow(job):
    """Start ``job`` and yield ('step', [Step...]) batches, then ('ended', Ended).

    Batches come at most every REFRESH_SECONDS, or at once when one brings a picture, so a
    fast run does not flood the browser. Stopped before its turn: ends without training."""
    if job.stop.is_set():
        yield "ended", Ended(error=None, result=None)
        return
    job.start()
    log(f"job {job.id}: started, writing {job.options.output_dir}")
    batch, last_sent = [], time.monotonic()
    while True:
        try:
            update = job.updates.get(timeout=REFRESH_SECONDS)
        except queue.Empty:
            update = None
            if job.finished() and job.updates.empty():  # died without a word: never hang the page
                yield "ended", Ended(error="the job ended unexpectedly; see the server's log")
                return
        if isinstance(update, Ended):
            if batch:
                yield "step", batch
            yield "ended", update
            return
        if update is not None:
            batch.append(update)
        due = time.monotonic() - last_sent >= REFRESH_SECONDS
        if batch and (due or batch[-1].picture is not None):
            yield "step", batch
            batch, last_sent = [], time.monotonic()
