"""The driver: starting Ray, keeping it fed with jobs (``Batch``), the progress bar and Ctrl-C.

Each job is one Ray task (``nst.frontends.batch.worker.run_job``). Without ``--address`` a local
Ray instance is started with ``--workers × --threads-per-job`` CPUs and each task asks for
``--threads-per-job`` CPUs, so at most ``--workers`` jobs run at once, each with that many
TensorFlow threads. Ray reuses its worker processes, so TensorFlow starts and the weights are
read once per worker process, not once per job. The driver sends each input file once through
Ray's object store, and alone writes OUTPUT_DIR, as the results come back (``Results``).

Ray is imported inside the functions that need it: ``nst train`` never loads it.
"""

import logging
import os
import signal
import sys
import threading
import time
from collections import Counter, deque
from pathlib import Path

from nst.engine.release import SYSTEM_ALLOCATOR
from nst.errors import NSTError, one_line
from nst.frontends.batch.worker import run_job
from nst.images import open_input

# Options naming files a job reads: sent to the workers along with the job.
INPUT_FIELDS = ("content", "style", "costs")
MEMORY_PER_WORKER = 1.5e9  # bytes; a 300x400 run peaks at 1.3 GB (README), so one worker per 1.5 GB at most


def machine_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def machine_memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def local_size(workers, threads):
    """(workers, threads per job) for a local Ray instance: what was asked, the rest from the machine.

    Default: one TensorFlow thread per job and one job per CPU, at most one per 1.5 GB of memory.
    """
    cpus = machine_cpus()
    if threads is None:
        threads = max(1, cpus // workers) if workers else 1
    if workers is None:
        workers = max(1, cpus // threads)
        memory = machine_memory()
        if memory:
            workers = max(1, min(workers, int(memory // MEMORY_PER_WORKER)))
    return workers, threads


def start_ray(args):
    """Connect to Ray; returns (ray module, job slots, whether this process started it, seconds)."""
    if args.address and "RAY_AUTH_MODE" not in os.environ and _ray_token_available():
        # `ray start` (Ray >= 2.5x) turns token authentication on and saves the token; a driver
        # connecting to it must say it uses one, or the cluster refuses it.
        os.environ["RAY_AUTH_MODE"] = "token"
    try:
        import ray
    except ImportError:
        raise NSTError("nst batch needs Ray: pip install 'nst[batch]' (or pip install ray)") from None
    started = time.perf_counter()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
    workers, threads = local_size(args.workers, args.threads_per_job)
    if ray.is_initialized():  # a notebook or a test already connected: use that
        owned = False
    elif args.address:
        try:
            ray.init(address=args.address, **quiet)
        except Exception as err:  # connection errors come in many types
            raise NSTError(
                f"--address {args.address}: cannot connect to Ray ({one_line(err).split('. ')[0]}); "
                "start a cluster with `ray start --head` and check the address"
            ) from None
        owned = True
    else:
        # address="local": a new instance, even when another one runs on this machine
        ray.init(address="local", num_cpus=workers * threads, include_dashboard=False, **quiet)
        owned = True
    args.threads_per_job = threads
    cpus = int(ray.cluster_resources().get("CPU", threads))
    slots = workers if (owned and not args.address) else max(1, cpus // threads)
    return ray, slots, owned, time.perf_counter() - started


def _ray_token_available():
    return bool(os.environ.get("RAY_AUTH_TOKEN")) or (Path.home() / ".ray" / "auth_token").is_file()


class Batch:
    """The driver's loop: submits the jobs as Ray tasks and records each result as it arrives."""

    def __init__(self, ray, args, slots, weights, results):
        self.ray, self.args, self.slots, self.results = ray, args, slots, results
        self.weights = weights  # model path -> {"sha256", "name", "size", "path", "ref"}
        self.task = ray.remote(run_job).options(
            num_cpus=args.threads_per_job,
            max_retries=args.retries,
            # A pool of worker processes per thread setting: TensorFlow's threads are fixed at its start.
            runtime_env={"env_vars": _thread_env(args.threads_per_job)},
        )
        self.inputs = {}  # path -> ObjectRef of its bytes, while jobs still need it
        self.stop = threading.Event()
        self.started = self.finished = None  # perf_counter() at the first submission and after the last result

    def run(self, jobs, bar):
        """Keep at most twice the slots in flight (Ray queues the rest), until done or stopped."""
        self.started = time.perf_counter()
        queue, pending = deque(jobs), {}
        uses = Counter(original for job in jobs for _, original in _input_paths(job.options))
        while (queue or pending) and not self.stop.is_set():
            while queue and len(pending) < 2 * self.slots and not self.stop.is_set():
                job = queue.popleft()
                ref = self.submit(job, uses)
                if ref is None:
                    bar.update(1)
                else:
                    pending[ref] = job
            if not pending:
                continue
            ready, _ = self.ray.wait(list(pending), num_returns=1, timeout=0.5)
            for ref in ready:
                self.finish(pending.pop(ref), ref)
                bar.update(1)
                bar.set_postfix_str(f"{self.images_per_hour():.0f} images/hour", refresh=False)
        if pending or queue:
            self.cancel(pending)
            self.results.counts["cancelled"] += len(pending) + len(queue)
        self.finished = time.perf_counter()

    def submit(self, job, uses):
        """Start a job as a Ray task; a job that cannot start is recorded as failed (returns None)."""
        try:
            inputs = []
            for field, original in _input_paths(job.options):
                if original not in self.inputs:
                    self.inputs[original] = self.ray.put(_read_input(Path(original)))
                inputs.append((field, original, self.inputs[original]))
        except NSTError as err:
            self.results.record(job, {"status": "failed", "error": str(err)})
            return None
        finally:
            for _, original in _input_paths(job.options):
                uses[original] -= 1
                if uses[original] <= 0:
                    self.inputs.pop(original, None)  # the tasks hold their own references
        spec = {"name": job.name, "options": job.options, "inputs": inputs, "weights": self.weights[job.model]}
        return self.task.remote(spec, self.args.threads_per_job)

    def finish(self, job, ref):
        from ray.exceptions import TaskCancelledError, WorkerCrashedError

        try:
            reply = self.ray.get(ref)
        except TaskCancelledError:
            self.results.counts["cancelled"] += 1
            return
        except WorkerCrashedError:
            error = (
                f"{job.name}: its worker process died on each of {self.args.retries + 1} tries (killed, or out of "
                "memory); try fewer --workers, a smaller --size or more --retries"
            )
            reply = {"row": {"status": "failed", "error": error}, "files": {}}
        except Exception as err:  # Ray's other errors (a lost node, out of memory, ...)
            first = (str(err).strip().splitlines() or [""])[0]
            reply = {"row": {"status": "failed", "error": f"{job.name}: {type(err).__name__}: {first}"}, "files": {}}
        row = reply["row"]
        if row["status"] not in ("done", "failed"):  # stopped or interrupted in the worker: not a result
            self.results.counts["cancelled"] += 1
            return
        self.results.record(job, row, reply["files"])

    def cancel(self, pending):
        """Stop running tasks with KeyboardInterrupt (nst stops cleanly); kill those still busy after 5 s."""
        if not pending:
            return
        for ref in pending:
            self.ray.cancel(ref)
        _, busy = self.ray.wait(list(pending), num_returns=len(pending), timeout=5)
        for ref in busy:
            try:
                self.ray.cancel(ref, force=True)
            except Exception:  # finished or gone meanwhile: nothing to cancel
                pass

    def images_per_hour(self):
        elapsed = time.perf_counter() - self.started if self.started else 0.0
        return 3600 * self.results.counts["done"] / elapsed if elapsed > 0 else 0.0


def _thread_env(threads):
    """The workers' environment: TensorFlow's threads, and oneDNN's memory from the system allocator
    (a worker runs many jobs: no pool kept as large as its largest job, see nst.engine.release)."""
    n = str(threads)
    return {"OMP_NUM_THREADS": n, "TF_NUM_INTRAOP_THREADS": n, "TF_NUM_INTEROP_THREADS": n, **SYSTEM_ALLOCATOR}


def _input_paths(options):
    """(field, path) of every input file the job reads."""
    if options is None:
        return []
    found = []
    for field in INPUT_FIELDS:
        value = getattr(options, field, None)
        for v in value if isinstance(value, tuple) else [value]:
            if isinstance(v, (str, Path)):
                found.append((field, str(v)))
    return found


def _read_input(path):
    with open_input(path) as file:
        return file.read()


def progress_bar(total, quiet):
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit="job",
        disable=quiet or not sys.stderr.isatty(),
        dynamic_ncols=True,
        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} jobs [{elapsed}<{remaining}{postfix}]",
    )


class stop_on_ctrl_c:
    """While inside: the first Ctrl-C asks the batch to stop (finished jobs kept), a second one aborts."""

    def __init__(self, event):
        self.event, self.previous = event, None

    def __enter__(self):
        def handler(signum, frame):
            if self.event.is_set():
                raise KeyboardInterrupt
            self.event.set()
            print("\nnst batch: stopping (Ctrl-C again to abort)", file=sys.stderr, flush=True)

        try:
            self.previous = signal.signal(signal.SIGINT, handler)
        except ValueError:  # not the main thread (a test calling main): no handler to install
            self.previous = None
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False
