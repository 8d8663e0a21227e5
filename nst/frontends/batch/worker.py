"""The Ray task: one job in a Ray worker process (``run_job``), and what it needs on its node.

A job is ``nst train``'s run of a pair, or, when its content is a clip, ``nst video``'s run of the
clip, frame after frame in this one task (``_run_clip``).

Nothing assumes a disk shared with the driver: the job's input images and the VGG19 weights
arrive through Ray's object store. Each node keeps the weights in a cache file (``NST_CACHE_DIR``,
default ``~/.cache/nst``), checked by SHA-256, and each worker process remembers it, so a
worker reads them once however many jobs it runs (``nst.engine.run.run`` keeps the weights it
loaded, per path). The output files go back to the driver with the job's result row.

Ray sends ``run_job`` to its workers by name: it must stay a function of an importable module.
"""

import hashlib
import os
import random
import socket
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from nst.engine.outputs import RunFiles
from nst.errors import NSTError, one_line
from nst.frontends.batch.jobs import is_clip
from nst.frontends.batch.results import sha256_file
from nst.images import atomic_path

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

    ``spec`` = {"name", "options", "inputs": [(field, original path, ObjectRef)], "weights"}.
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

        with tempfile.TemporaryDirectory(prefix="nst-job-") as scratch:
            options, renames = _localise(spec["options"], spec["inputs"], Path(scratch))
            options = replace(options, model=weights_on_this_node(spec["weights"]))
            renames[str(options.model)] = spec["weights"]["path"]
            renames[str(Path(scratch) / "out")] = str(options.output_dir)
            options = replace(options, output_dir=Path(scratch) / "out")
            if options.seed is None:  # nst picks one at random; pick it here to record it
                options = replace(options, seed=random.randrange(2**31))
            result, done = (_run_clip if is_clip(options.content) else _run_image)(options)
            if result.status != "done":
                return {"row": dict(row, status=result.status), "files": {}}
            files = {p.name: p.read_bytes() for p in sorted(options.output_dir.iterdir()) if _is_output(p)}
            final = RunFiles(options.output_dir).final.name
            row.update(done, status="done", seed=options.seed, weights_sha256=spec["weights"]["sha256"])
            row["image_sha256"] = hashlib.sha256(files[final]).hexdigest()
    except NSTError as err:
        row.update(status="failed", error=_restore_paths(str(err), renames))
    except Exception as err:  # a bug in one job must not take the batch down
        message = _restore_paths(one_line(err), renames)
        row.update(status="failed", error=f"{type(err).__name__}: {message}; rerun with --debug, or report it")
    row.update(seconds=round(time.perf_counter() - started, 3), peak_memory_mb=round(peak_rss_mb(), 1))
    return {"row": row, "files": files}


def _run_image(options):
    """``nst train``'s run of one pair: (its Result, the row's fields)."""
    from nst.engine.run import run

    result = run(options)
    last = result.rows[-1] if result.rows else None
    costs = {k: float(v) for k, v in last.costs.items()} if last else {}
    return result, {"iterations": len(result.rows), "J": costs.get("J"), "costs": costs}


def _run_clip(options):
    """``nst video``'s run of a clip, its frames in order in this task: (its Result, the row's fields).

    The folder a batch gets back is flat: stylized.mp4, preview.gif, frames.csv, video.json, and as
    generated_image.jpg (the image every batch row names) the clip's last stylised frame; not the
    frames themselves.
    """
    from nst.engine.video.run import stylize
    from nst.engine.video.settings import Video
    from nst.images import read_image, reshape_and_normalize_image, save_image

    result = stylize(Video(options.content), options)
    if result.status == "done":
        last = read_image(result.files.frame(result.rows[-1].frame))
        save_image(RunFiles(options.output_dir).final, reshape_and_normalize_image(last))
        result.files.last.unlink(missing_ok=True)  # for --resume, which a batch does not do
    costs = result.rows[-1].costs if result.rows else {}
    fields = {
        "frames": len(result.rows),
        "iterations": sum(row.iterations for row in result.rows),
        "J": costs.get("J"),
        "costs": costs,
        "clip": result.files.mp4.name,
    }
    return result, fields


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
    """The error message with the worker's local paths put back as the user gave them."""
    for local, original in sorted(renames.items(), key=lambda kv: -len(kv[0])):
        message = message.replace(local, original)
    return message


def _is_output(path):
    return path.is_file() and not path.name.startswith(".")
