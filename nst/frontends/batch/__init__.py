"""Many style transfers at once, on Ray: ``nst batch`` (``python -m nst.frontends.batch``).

The jobs are every pair of ``--content`` × ``--style`` images (files, or folders of images),
or the rows of ``--manifest jobs.csv``. Every other option is an option of ``nst train`` and
applies to all jobs; a manifest row can override it for its job. Each job writes the usual run
files into ``OUTPUT_DIR/<content stem>__<style stem>/`` and one line into
``OUTPUT_DIR/results.jsonl``.

The rooms, in the order a batch goes through them:

- ``command_line``: the parser; the command line read once, into typed values;
- ``jobs``: the jobs, each with its ``Options`` (a manifest's cells read by their option's
  kind), and the weights files they use;
- ``driver``: starting Ray, submitting the jobs as tasks and collecting their results,
  the progress bar and Ctrl-C;
- ``worker``: the Ray task, ``run_job``: one job in a worker process, on any node;
- ``results``: OUTPUT_DIR as results arrive, a job's folder whole and ``results.jsonl``
  growing by whole lines, and what a rerun may skip.

Here: ``main``, which takes a batch through them.
"""

import shutil
import sys
import time
from pathlib import Path

from nst.errors import NSTError
from nst.frontends.batch.command_line import parse_batch_args
from nst.frontends.batch.driver import Batch, progress_bar, start_ray, stop_on_ctrl_c
from nst.frontends.batch.jobs import manifest_jobs, pair_jobs, weights_for
from nst.frontends.batch.results import RESULTS, Results, compact_results, is_finished, read_results


def main(argv=None):
    """`nst batch`: 0 when every job is done (or skipped), 1 when any failed, 130 after Ctrl-C.

    A batch that cannot start (no inputs, unreadable manifest, bad shared option) raises NSTError: exit 2.
    """
    from tqdm import tqdm

    began = time.perf_counter()
    args, shared = parse_batch_args(sys.argv[1:] if argv is None else list(argv))
    out = args.output_dir
    if args.manifest:
        jobs = manifest_jobs(args.manifest, shared, out)
    else:
        jobs = pair_jobs(args.content, args.style, shared, out)
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
                for info in weights.values():  # no shared disk assumed: each node fetches them into its cache once
                    info["ref"] = ray.put(Path(info["path"]).read_bytes())
                batch = Batch(ray, args, slots, weights, results)
                results.log(
                    f"nst batch: {_plural(len(todo), 'job')} to run, {len(skipped)} already done; {slots} at once × "
                    f"{_plural(args.threads_per_job, 'thread')}"
                )
                with progress_bar(len(todo), args.quiet) as bar, stop_on_ctrl_c(batch.stop):
                    batch.run(todo, bar)
            finally:
                if owned:
                    ray.shutdown()
    finally:
        compact_results(out / RESULTS)
    print(_summary(results, batch, len(skipped), ray_seconds, time.perf_counter() - began, out), flush=True)
    if batch and batch.stop.is_set():
        return 130
    return 1 if results.counts["failed"] else 0


def _summary(results, batch, skipped, ray_seconds, total, out):
    """The batch's last line: the counts, where the time went, and the rate (scripts/batch-bench reads it)."""
    counts = results.counts
    running = batch.finished - batch.started if batch and batch.finished else 0.0
    rate = 3600 * counts["done"] / running if running > 0 else 0.0
    return (
        f"nst batch: {counts['done']} done, {counts['failed']} failed, {skipped} skipped"
        + (f", {counts['cancelled']} cancelled" if counts["cancelled"] else "")
        + f" in {total:.1f} s: Ray start {ray_seconds:.1f} s, jobs {running:.1f} s on {batch.slots if batch else 0} "
        f"slots (their own times add up to {results.job_seconds:.1f} s); {rate:.0f} images per hour; "
        f"results in {out / RESULTS}"
    )


def _plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"
