"""Many style transfers at once, on Ray: ``python -m nst.frontends.batch`` (``nst batch``).

The jobs are every pair of ``--content`` × ``--style`` images (files, or folders of images),
or the rows of ``--manifest jobs.csv``. Every other option is an option of ``nst train`` and
applies to all jobs; a manifest row can override it for its job. Each job writes the usual run
files into ``OUTPUT_DIR/<content stem>__<style stem>/`` and one line into
``OUTPUT_DIR/results.jsonl``.

How it runs:

- Each job is one Ray task (``run_job``) calling ``nst.engine.run.run``. Ray reuses its worker
  processes, so TensorFlow starts and the VGG19 weights file is read once per worker process,
  not once per job (``nst.engine.run.run`` caches the weights it read, per path).
- Nothing assumes a disk shared with the workers. The driver (this process) sends the weights
  file once through Ray's object store; each node keeps it in a cache file (``NST_CACHE_DIR``,
  default ``~/.cache/nst``), checked by SHA-256. Input images travel the same way, and a job's
  output files come back with its result, so the driver alone writes ``OUTPUT_DIR``: a job's
  folder appears whole (written aside, then renamed) before its line is added to
  ``results.jsonl``, and a cancelled or crashed job leaves nothing behind.
- ``results.jsonl`` only grows by whole lines (one ``write``, flushed and fsynced); at the end
  it is rewritten atomically with the latest line per job.
- Without ``--address`` a local Ray instance is started with ``--workers × --threads-per-job``
  CPUs and each task asks for ``--threads-per-job`` CPUs, so at most ``--workers`` jobs run at
  once, each with that many TensorFlow threads.

Ray is imported here only, inside the functions that need it: ``nst train`` never loads it.
"""

import argparse
import csv
import hashlib
import json
import logging
import os
import random
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path

from nst.engine.command_line import build_parser as train_parser
from nst.engine.command_line import parse_args
from nst.engine.outputs import RunFiles
from nst.errors import NSTError, one_line, run_cli
from nst.images import atomic_path, open_input

RESULTS = "results.jsonl"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".ppm"}
DEFAULT_OUTPUT = Path("output/batch")
# Options that belong to the batch, not to the jobs' `nst train` options.
OWN = ("content", "style", "output_dir", "quiet", "debug")
# A checkpoint names the inputs of the run that wrote it, which a batch job reads from a copy.
UNSUPPORTED = ("resume",)
# Options naming files a job reads: sent to the workers along with the job.
INPUT_FIELDS = ("content", "style", "costs")
MEMORY_PER_WORKER = 1.5e9  # bytes; a 300x400 run peaks at 1.3 GB (README), so one worker per 1.5 GB at most
TRUE, FALSE = {"1", "true", "yes", "on", "x"}, {"0", "false", "no", "off"}


@dataclass
class Job:
    name: str  # its folder under OUTPUT_DIR
    content: Path
    style: tuple
    options: object = None  # nst.engine.options.Options, or None when error says why not
    error: str | None = None  # a bad row's one-line error: the job fails without running
    model: str | None = None  # the weights file it uses (set by weights_for)


# ---------------------------------------------------------------- the command line


def build_parser():
    train_flags = [
        s
        for a in train_parser()._actions
        for s in a.option_strings
        if s.startswith("--") and a.dest not in (*OWN, *UNSUPPORTED, "help")
    ]
    p = argparse.ArgumentParser(
        prog="nst batch",
        description="Style transfer for many content × style pairs (or a manifest's rows), run as Ray tasks.",
        formatter_class=_Formatter,
        allow_abbrev=False,  # unknown options go to `nst train`; no guessing
        epilog="Every option of `nst train` applies to all jobs (see `nst train --help`): "
        + " ".join(train_flags)
        + ". Manifest columns: content, style (several joined with ';'), optional name (the folder), and any of "
        "those options without the dashes (size, iterations, preset, seed, tv_weight, ...); an empty cell keeps "
        "the batch's value; relative paths are relative to the manifest's folder.",
    )
    p.add_argument("--content", type=Path, nargs="+", metavar="DIR|FILE", help="content images, or folders of them")
    p.add_argument("--style", type=Path, nargs="+", metavar="DIR|FILE", help="style images, or folders of them")
    p.add_argument("--manifest", type=Path, metavar="CSV", help="jobs as CSV rows instead of --content × --style")
    p.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT, help="one folder per job, and results.jsonl")
    p.add_argument(
        "--workers", type=_at_least_1("--workers"), help="jobs at once on the local Ray (default: CPUs / threads)"
    )
    p.add_argument(
        "--threads-per-job", type=_at_least_1("--threads-per-job"), help="TensorFlow threads (and Ray CPUs) per job"
    )
    p.add_argument("--address", help="an existing Ray cluster: ray://HOST:PORT or auto (default: start one here)")
    p.add_argument(
        "--retries", type=_at_least_0("--retries"), default=2, help="times Ray reruns a job whose worker died"
    )
    p.add_argument("--force", action="store_true", help="rerun the jobs that are already done")
    p.add_argument("--quiet", action="store_true", help="no progress bar: one log line per job")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return p


class _Formatter(argparse.HelpFormatter):
    """Shows a default only where there is one to show."""

    def _get_help_string(self, action):
        if action.default in (None, False, argparse.SUPPRESS):
            return action.help
        return f"{action.help} (default: {action.default})"


def _at_least(minimum, flag):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise NSTError(f"{flag} {text!r}: not a whole number") from None
        if value < minimum:
            raise NSTError(f"{flag} {text}: must be at least {minimum}")
        return value

    return parse


def _at_least_1(flag):
    return _at_least(1, flag)


def _at_least_0(flag):
    return _at_least(0, flag)


def parse_batch_args(argv):
    """argv -> (batch options, the argv of `nst train` options shared by all jobs)."""
    parser = build_parser()
    parser.error = lambda message: _raise(f"{message}; see `nst batch --help`")
    args, shared = parser.parse_known_args(argv)
    if any(a == "--resume" or a.startswith("--resume=") for a in shared):
        raise NSTError(RESUME_ERROR)
    parse_args([*shared, "--content", "c.jpg", "--style", "s.jpg"])  # a bad shared option: one line, exit 2
    if args.manifest and (args.content or args.style):
        raise NSTError("--manifest: give either a manifest or --content and --style, not both")
    if not args.manifest and not (args.content and args.style):
        raise NSTError("no jobs: give --content and --style (files or folders), or --manifest jobs.csv")
    return args, shared


RESUME_ERROR = "--resume: not for nst batch (it continues one run); resume that run with nst train --resume"


def _raise(message):
    raise NSTError(message)


# ---------------------------------------------------------------- the jobs


def image_files(paths, flag):
    """Files as given, folders as the images in them (sorted, not recursive, hidden files left out)."""
    found = []
    for path in paths:
        if path.is_dir():
            images = sorted(
                p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
            )
            if not images:
                raise NSTError(f"{flag} {path}: no images in this folder; add .jpg or .png files or give files")
            found += images
        elif path.exists():
            found.append(path)
        else:
            raise NSTError(f"{flag} {path}: no such file or folder; check the path")
    return [p.resolve() for p in found]


def make_job(name, content, style, argv, out):
    """A job whose options are `nst train`'s parse of argv; a bad option makes it a failed job."""
    job = Job(name, content, tuple(style))
    try:
        job.options = parse_args([*argv, "--content", str(content), "--style", *map(str, style)])
    except NSTError as err:
        job.error = str(err)
        return job
    job.options = replace(job.options, output_dir=out / name, quiet=True)
    return job


def pair_jobs(args, shared):
    contents = image_files(args.content, "--content")
    styles = image_files(args.style, "--style")
    names = unique_names([f"{c.stem}__{s.stem}" for c in contents for s in styles])
    pairs = [(c, s) for c in contents for s in styles]
    return [make_job(n, c, [s], shared, args.output_dir) for n, (c, s) in zip(names, pairs)]


def manifest_jobs(args, shared):
    """The rows of --manifest: content, style, optional name, and `nst train` options as columns."""
    path = args.manifest
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            header = reader.fieldnames or []
    except FileNotFoundError:
        raise NSTError(f"{path}: no such manifest; check the path") from None
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise NSTError(f"{path}: cannot read the manifest ({one_line(err)}); give a UTF-8 CSV file") from None
    if not rows:
        raise NSTError(f"{path}: no jobs in the manifest; write a header line and one line per job")
    columns = {h: _column_flag(path, h) for h in header}
    keys = {h.strip().lower() for h in header}
    if not {"content", "style"} <= keys:
        raise NSTError(f"{path}: the header needs the columns content and style; it has {', '.join(header)}")
    base = path.resolve().parent
    jobs = []
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        cells = {h.strip().lower(): (v or "").strip() for h, v in row.items() if h is not None}
        content = (base / cells["content"]).resolve() if cells["content"] else Path()
        styles = [(base / s.strip()).resolve() for s in cells["style"].split(";") if s.strip()]
        name = cells.get("name") or (
            f"{content.stem}__{'+'.join(s.stem for s in styles)}" if cells["content"] and styles else f"row{number}"
        )
        try:
            if None in row:
                raise NSTError(f"{path} line {number}: more cells than columns; check the commas")
            if not cells["content"] or not styles:
                raise NSTError(f"{path} line {number}: needs a content and a style image")
            argv = list(shared)
            for header_name, action in columns.items():
                argv += _cell_argv(action, (row.get(header_name) or "").strip(), path, number)
        except NSTError as err:
            jobs.append(Job(name, content, tuple(styles), error=str(err)))
            continue
        jobs.append(make_job(name, content, styles, argv, args.output_dir))
    for job, unique in zip(jobs, unique_names([job.name for job in jobs])):
        job.name = unique
        if job.options is not None:
            job.options = replace(job.options, output_dir=args.output_dir / unique)
    return jobs


def _column_flag(path, header):
    """A manifest column -> the `nst train` flag it sets (None for content, style and name)."""
    key = header.strip().lower()
    if key in ("content", "style", "name"):
        return None
    flag = "--" + key.replace("_", "-")
    if flag == "--resume":
        raise NSTError(f"{path}: column {header!r}: {RESUME_ERROR}")
    for action in train_parser()._actions:
        if flag in action.option_strings and action.dest not in OWN:
            return action
    raise NSTError(
        f"{path}: unknown column {header!r}; use content, style, name and options of `nst train` without the "
        "dashes (size, iterations, preset, seed, ...)"
    )


def _cell_argv(action, cell, path, number):
    if action is None or not cell:
        return []
    flag = action.option_strings[-1]
    if action.nargs == 0:  # a switch such as --xla
        if cell.lower() in TRUE:
            return [flag]
        if cell.lower() in FALSE:
            return []
        raise NSTError(f"{path} line {number}: {flag} {cell!r}: write true or false")
    if action.nargs == "+":
        return [flag, *cell.split(";")]
    return [f"{flag}={cell}"]  # '=' so that a value such as -1 is not taken for an option


def unique_names(names):
    """Folder names, made unique in order: a, b, a -> a, b, a-2."""
    seen, unique = Counter(), []
    for name in names:
        seen[name] += 1
        unique.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return unique


def options_record(options):
    """The job's options as JSON values (its inputs and output folder are recorded apart)."""
    return {f.name: _jsonable(getattr(options, f.name)) for f in fields(options) if f.name not in OWN}


def _jsonable(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): getattr(v, "__name__", _jsonable(v)) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return getattr(value, "__name__", str(value))


# ---------------------------------------------------------------- results.jsonl


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
        and row.get("options") == options_record(job.options)
        and row.get("weights_sha256") == weights[job.model]["sha256"]
    )
    final = RunFiles(out / job.name).final
    try:
        return same and final.is_file() and sha256_file(final) == row.get("image_sha256")
    except OSError:
        return False


# ---------------------------------------------------------------- the worker side

_WEIGHTS = {}  # SHA-256 -> the weights file on this node, per worker process


def cache_dir():
    return Path(os.environ.get("NST_CACHE_DIR") or Path.home() / ".cache" / "nst")


def weights_on_this_node(weights):
    """The job's VGG19 weights as a local file: this node's cache, filled from the object store once.

    ``weights`` = {"sha256", "name", "size", "ref"}; the ObjectRef is nested in a dict so Ray
    does not fetch the bytes for every task, only when the cache lacks them.
    """
    digest = weights["sha256"]
    if digest in _WEIGHTS:
        return _WEIGHTS[digest]
    import ray

    path = cache_dir() / f"{digest[:16]}-{weights['name']}"
    if not (path.is_file() and path.stat().st_size == weights["size"] and sha256_file(path) == digest):
        data = ray.get(weights["ref"])
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
        if sha256_file(path) != digest:
            raise NSTError(f"{path}: the weights arrived damaged (SHA-256 differs); run the batch again")
    _WEIGHTS[digest] = path
    return path


def _reset_peak_memory():
    """Start this process's peak resident memory (VmHWM) afresh, so each job reports its own peak (Linux)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def run_job(spec, threads):
    """One job in a Ray worker: its inputs into a scratch folder, `nst.engine.run.run`, the output files back.

    Returns {"row": result row, "files": {name: bytes}} (files only when done). A bad input is
    a `failed` row with nst's one-line error, its paths the user's, not the scratch folder's.
    """
    started = time.perf_counter()
    _reset_peak_memory()
    from nst.engine.runtime import configure_threads, describe_threads, peak_rss_mb

    row = {"host": socket.gethostname(), "pid": os.getpid()}
    files, renames = {}, {}
    try:
        configure_threads(threads, threads)  # before this process's first TensorFlow operation
        row["threads"] = describe_threads()
        from nst.engine.run import run

        with tempfile.TemporaryDirectory(prefix="nst-job-") as scratch:
            options, renames = _localise(spec["options"], spec["inputs"], Path(scratch))
            options = replace(options, model=weights_on_this_node(spec["weights"]))
            renames[str(options.model)] = spec["weights"]["path"]
            renames[str(Path(scratch) / "out")] = str(options.output_dir)
            options = replace(options, output_dir=Path(scratch) / "out")
            if options.seed is None:  # nst picks one at random; pick it here to record it
                options = replace(options, seed=random.randrange(2**31))
            result = run(options)
            if result.status != "done":
                return {"row": dict(row, status=result.status), "files": {}}
            files = {p.name: p.read_bytes() for p in sorted(options.output_dir.iterdir()) if _is_output(p)}
            last = result.rows[-1] if result.rows else None
            row.update(
                status="done",
                seed=options.seed,
                iterations=len(result.rows),
                J=float(last.J) if last else None,
                costs={k: float(v) for k, v in getattr(last, "costs", {}).items()} if last else {},
                image_sha256=hashlib.sha256(files[Path(result.image).name]).hexdigest(),
                weights_sha256=spec["weights"]["sha256"],
            )
    except NSTError as err:
        row.update(status="failed", error=_restore_paths(str(err), renames))
    except Exception as err:  # noqa: BLE001 - a bug in one job must not take the batch down
        message = _restore_paths(one_line(err), renames)
        row.update(status="failed", error=f"{type(err).__name__}: {message}; rerun with --debug, or report it")
    row.update(seconds=round(time.perf_counter() - started, 3), peak_memory_mb=round(peak_rss_mb(), 1))
    return {"row": row, "files": files}


def _localise(options, inputs, scratch):
    """Write the job's input files under scratch/in; returns (options pointing at them, {local: original})."""
    import ray

    renames = {}
    for index, (field, original, ref) in enumerate(inputs):
        local = scratch / "in" / str(index) / Path(original).name
        local.parent.mkdir(parents=True)
        local.write_bytes(ray.get(ref))
        renames[str(local)] = original
        value = getattr(options, field)
        if isinstance(value, tuple):  # style: several images
            options = replace(options, **{field: tuple(local if str(v) == original else v for v in value)})
        else:
            options = replace(options, **{field: local})
    return options, renames


def _restore_paths(message, renames):
    for local, original in sorted(renames.items(), key=lambda kv: -len(kv[0])):
        message = message.replace(local, original)
    return message


def _is_output(path):
    return path.is_file() and not path.name.startswith(".")


# ---------------------------------------------------------------- the driver


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
        except Exception as err:  # noqa: BLE001 - connection errors come in many types
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


def _plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


def _ray_token_available():
    return bool(os.environ.get("RAY_AUTH_TOKEN")) or (Path.home() / ".ray" / "auth_token").is_file()


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
        except Exception as err:  # noqa: BLE001 - Ray's other errors (a lost node, out of memory, ...)
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
            except Exception:  # noqa: BLE001 - finished or gone meanwhile: nothing to cancel
                pass

    def images_per_hour(self):
        elapsed = time.perf_counter() - self.started if self.started else 0.0
        return 3600 * self.results.counts["done"] / elapsed if elapsed > 0 else 0.0


def _thread_env(threads):
    n = str(threads)
    return {"OMP_NUM_THREADS": n, "TF_NUM_INTRAOP_THREADS": n, "TF_NUM_INTEROP_THREADS": n}


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
        "options": options_record(job.options) if job.options is not None else None,
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


def weights_for(jobs):
    """{model path: {"sha256", "name", "size", "path"}} for the weights the jobs use; sets job.model.

    No default weights is an invalid batch (NSTError); a manifest row's missing --model fails that job.
    """
    from nst.engine.run import find_model

    found, default = {}, None
    for job in jobs:
        if job.options is None:
            continue
        if job.options.model is None:
            default = default or find_model()
            job.options = replace(job.options, model=default)
        job.model = str(job.options.model)
        if job.model in found:
            continue
        path = Path(job.options.model)
        if not path.is_file():
            job.error = f"{path}: no such weights file; run `python -m nst.weights` to fetch VGG19"
            continue
        found[job.model] = {
            "sha256": sha256_file(path),
            "name": path.name,
            "size": path.stat().st_size,
            "path": job.model,
        }
    return found


def progress_bar(total, quiet):
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit="job",
        disable=quiet or not sys.stderr.isatty(),
        dynamic_ncols=True,
        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} jobs [{elapsed}<{remaining}{postfix}]",
    )


def main(argv=None):
    """`nst batch`: 0 when every job is done (or skipped), 1 when any failed, 130 after Ctrl-C.

    A batch that cannot start (no inputs, unreadable manifest, bad shared option) raises NSTError: exit 2.
    """
    from tqdm import tqdm

    began = time.perf_counter()
    args, shared = parse_batch_args(sys.argv[1:] if argv is None else list(argv))
    jobs = manifest_jobs(args, shared) if args.manifest else pair_jobs(args, shared)
    out = args.output_dir
    if out.exists() and not out.is_dir():
        raise NSTError(f"{out}: is a file, not a folder; choose another --output-dir")
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(".*.new-*"):  # a job's folder being written when an earlier batch died
        shutil.rmtree(stale, ignore_errors=True)
    weights = weights_for(jobs)
    previous = read_results(out / RESULTS)
    skipped = [j for j in jobs if not args.force and not j.error and is_finished(j, previous.get(j.name), out, weights)]
    todo = [j for j in jobs if j not in skipped]
    results = Results(out, log=lambda line: tqdm.write(line, file=sys.stdout))
    batch, ray_seconds = None, 0.0
    try:
        for job in [j for j in todo if j.error]:  # bad rows fail without Ray
            results.record(job, {"status": "failed", "error": job.error})
        todo = [j for j in todo if not j.error]
        if todo:
            ray, slots, owned, ray_seconds = start_ray(args)
            try:
                for info in weights.values():
                    info["ref"] = ray.put(Path(info["path"]).read_bytes())
                batch = Batch(ray, args, slots, weights, results)
                threads = args.threads_per_job
                results.log(
                    f"nst batch: {_plural(len(todo), 'job')} to run, {len(skipped)} already done; {slots} at once × "
                    f"{threads} thread{'s' if threads > 1 else ''}"
                )
                with progress_bar(len(todo), args.quiet) as bar, _stop_on_ctrl_c(batch.stop):
                    batch.run(todo, bar)
            finally:
                if owned:
                    ray.shutdown()
    finally:
        compact_results(out / RESULTS)
    counts, total = results.counts, time.perf_counter() - began
    running = batch.finished - batch.started if batch and batch.finished else 0.0
    rate = 3600 * counts["done"] / running if running > 0 else 0.0
    print(
        f"nst batch: {counts['done']} done, {counts['failed']} failed, {len(skipped)} skipped"
        + (f", {counts['cancelled']} cancelled" if counts["cancelled"] else "")
        + f" in {total:.1f} s: Ray start {ray_seconds:.1f} s, jobs {running:.1f} s on {batch.slots if batch else 0} "
        f"slots (their own times add up to {results.job_seconds:.1f} s); {rate:.0f} images per hour; "
        f"results in {out / RESULTS}",
        flush=True,
    )
    if batch and batch.stop.is_set():
        return 130
    return 1 if counts["failed"] else 0


class _stop_on_ctrl_c:
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


if __name__ == "__main__":
    run_cli(main)
