"""A whole run: ``run(options)``, what ``nst train`` and every front end call.

``run`` follows the exercise's recipe (``nst.train`` has it step by step), with what nst adds
around the exercise's ``train_step``: it reads the pictures and settles the sizes
(``nst.engine.problem``), computes the targets at each level of a coarse-to-fine run, builds
the objective (``nst.engine.objective``, the exercise's functions or a learner's), runs Adam or
L-BFGS on it (``nst.engine.optimizers``), and saves images, losses, the animation and
checkpoints (``nst.engine.report``, ``nst.engine.outputs``, ``nst.engine.checkpoint``).
Front ends (the CLI, the notebook, the web studio, the batch runner) hand it an ``Options``.
"""

import functools
import gc
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nst.engine.animation import iteration_images, make_contact_sheet, make_gif
from nst.engine.checkpoint import check_compatible, load_checkpoint, save_checkpoint
from nst.engine.objective import check_costs, load_costs, make_objective
from nst.engine.optimizers import make_optimizer
from nst.engine.options import settings
from nst.engine.outputs import RunFiles
from nst.engine.problem import level_sizes, prepare, upsample
from nst.engine.release import released
from nst.engine.report import Progress, Recorder, write_losses
from nst.engine.resources import check_disk, disk_needed, tile_reason
from nst.engine.runtime import describe_device
from nst.errors import NSTError, make_folder
from nst.images import deprocess_image, reshape_and_normalize_image, resize_to, save_image
from nst.vgg_files import read_vgg19_weights
from nst.weights import find_model


@functools.lru_cache(maxsize=2)
def _read_weights(path, stamp):
    return read_vgg19_weights(path)


def load_weights(path):
    """VGG19's weights from ``path``, read once per process (a changed file is read again)."""
    path = Path(path).resolve()
    try:
        stat = path.stat()
    except OSError:
        return read_vgg19_weights(path)  # let the reader say what is wrong, in its words
    return _read_weights(path, (stat.st_size, stat.st_mtime_ns))


@dataclass
class Result:
    image: Path  # the final image
    rows: list  # report.Row per iteration
    status: str  # "done", "stopped" (should_stop) or "interrupted" (Ctrl-C)
    files: RunFiles  # everything the run wrote


def run(options, on_iteration=None, should_stop=None):
    """Run style transfer as ``options`` say; returns a ``Result``. Bad input raises NSTError.

    on_iteration -- called after every iteration with a ``nst.engine.report.Step`` (iteration,
        total, costs, seconds, image()), in the thread that trains
    should_stop -- a function returning True, or a ``threading.Event``, checked after every
        iteration: the run then ends as Ctrl-C does, saving the current image
    """
    files = RunFiles(options.output_dir)
    model = options.model or find_model()
    costs = load_costs(options.costs)
    check_outputs(options, files)
    with files.claim(f"nst train of {options.content.name}"), released():  # its memory back at the end
        return _run(options, files, model, costs, on_iteration, should_stop)


def _run(options, files, model, costs, on_iteration, should_stop):
    """``run``, once the output folder is checked and held."""
    problem, (height, width) = prepare(options, load_weights(model))
    seed = options.seed if options.seed is not None else int(np.random.default_rng().integers(2**31))
    recorded = dict(settings(options), seed=seed)
    sizes = level_sizes(height, width, options.multiscale)
    total = options.iterations * len(sizes)  # iterations are numbered across levels
    checkpoint = load_checkpoint(options.resume) if options.resume else None
    if checkpoint is not None:
        check_compatible(checkpoint, recorded)

    cleared = 0 if options.resume else files.clear_earlier_run()  # a resumed run continues its own files
    progress = Progress(total, quiet=options.quiet, initial=checkpoint.iteration if checkpoint else 0)
    if cleared:
        progress.log(f"{files.folder}: removed {cleared} files of an earlier run (its images, losses, checkpoint)")
    progress.log(
        f"nst: {options.content.name} in the style of {', '.join(Path(p).name for p in options.style)}, "
        f"{height}x{width}{f' in {len(sizes)} scales' if len(sizes) > 1 else ''}, {total} iterations "
        f"({options.optimizer}) on {describe_device()}; weights {model.name}; seed {seed}; {costs.describe()}"
    )
    check_disk(files.folder, disk_needed(sizes, options))
    rows = checkpoint.rows if checkpoint else None
    recorder = Recorder(files, options.save_every, progress, total, rows=rows, on_iteration=on_iteration)
    stop_requested = should_stop.is_set if isinstance(should_stop, threading.Event) else should_stop

    image, status = None, "done"
    for number, (h, w) in enumerate(sizes, start=1):
        first, stop = (number - 1) * options.iterations, number * options.iterations
        if checkpoint is not None and checkpoint.iteration >= stop:
            continue  # this level was finished before the checkpoint
        if checkpoint is not None and image is None:
            image, first = checkpoint.image, checkpoint.iteration
            margin = problem.margin(h, w)  # a checkpoint holds the level's canvas
            if image.shape[1:3] != (h + 2 * margin, w + 2 * margin):
                raise NSTError(
                    f"{options.resume}: holds a {image.shape[2]}x{image.shape[1]} image, but this run's "
                    f"scale {number} is {w}x{h}; resume with the same --size and --multiscale"
                )
        progress.scale(number, len(sizes), first, stop)
        refining = image is not None  # a coarser scale's result (or a checkpoint's image), not a fresh start
        level, objective, image = level_objective(problem, options, costs, (h, w), image, seed)
        optimizer = make_optimizer(objective, image, options, refining)
        if level.tile is not None:
            optimizer.cost.on_tile = progress.tile
            why = tile_reason(options, largest=number == len(sizes))
            progress.log(
                f"scale {number}/{len(sizes)}, {w}x{h}: in {len(optimizer.cost.tiles)} tiles of {level.tile} px ({why})"
            )
        if checkpoint is not None and first == checkpoint.iteration and checkpoint.optimizer_state:
            optimizer.load_state(checkpoint.optimizer_state)

        def on_step(i, terms, current, optimizer=optimizer):
            recorder.record(i, terms, lambda: problem.crop(current()))
            if options.checkpoint_every and (i + 1) % options.checkpoint_every == 0:
                save_checkpoint(files.checkpoint, current(), i + 1, optimizer.state(), recorder.rows, recorded)
            return bool(stop_requested and stop_requested())

        status = optimizer.run(first, stop, on_step)
        image = optimizer.image()
        if optimizer.message and status in ("done", "diverged"):
            progress.log(optimizer.message)
        level = objective = optimizer = on_step = None  # free this level before the next one is built
        gc.collect()
        if status != "done":
            break
    progress.close()
    if image is None:  # resumed from a checkpoint of a run that had already finished
        image = checkpoint.image
    return finish(options, files, problem, image, recorder.rows, status)


def level_objective(problem, options, costs, size, image, seed):
    """One level of a run: (its ``Level``, the objective to minimise there, the image to start from).

    ``image`` is the previous level's result, upsampled here to ``size`` (h, w), or None: the run's
    starting image (``--init``). A learner's cost functions are tried once on it (``check_costs``).
    """
    level = problem.at(*size)
    canvas = level.content.shape[1:3]  # the level's size, with its margin (nst.engine.problem.Problem.margin)
    image = problem.start_image(level.content, seed) if image is None else upsample(image, *canvas)
    objective = make_objective(level, options, costs)
    check_costs(level, options, costs, image)
    # The objective holds the style activations it needs (as TensorFlow constants above 64 MB):
    # drop the NumPy copies, 0.9 GB at 952x2048 and 3.8 GB at 1904x4096.
    level.styles = None
    return level, objective, image


def finish(options, files, problem, image, rows, status):
    """Save the final image, the losses and the animation; say how it went."""
    picture = problem.finish(image)
    save_image(files.final, picture)
    save_preview(files.preview, picture)
    write_losses(rows, files)
    if options.animation != "none":
        frames = iteration_images(files.folder, last=rows[-1].iteration if rows else None)
        if options.animation in ("gif", "both"):
            make_gif(frames, files.gif)
        if options.animation in ("sheet", "both"):
            make_contact_sheet(frames, files.sheet)
    if status in ("interrupted", "stopped"):
        how = "Interrupted" if status == "interrupted" else "Stopped"
        print(f"{how} after {len(rows)} iterations; the current image is saved as {files.final}", flush=True)
    elif status == "diverged":
        remedy = (
            "try a lower --alpha, --beta or --tv-weight"
            if options.optimizer == "lbfgs"
            else "try a lower --learning-rate"
        )
        raise NSTError(
            f"{files.final}: the cost became NaN or infinite at iteration {len(rows)}; the last good image "
            f"is saved there; {remedy}"
        )
    else:
        seconds = rows[-1].seconds if rows else 0.0
        print(
            f"Done: J = {rows[-1].J:.6g} after {len(rows)} iterations in {seconds:.1f} s "
            f"({seconds / max(len(rows), 1):.2f} s/iteration); image saved as {files.final}",
            flush=True,
        )
    return Result(files.final, rows, status, files)


PREVIEW_SIDE = 2048  # a final image with a longer side gets a preview.jpg reduced to this


def save_preview(path, image):
    """``image`` (normalised) reduced to a long side of PREVIEW_SIDE as ``path``, if it is larger:
    a 31-megapixel result takes long to open, and an image viewer shows it reduced anyway."""
    _, height, width, _ = image.shape
    if max(height, width) <= PREVIEW_SIDE:
        return
    scale = PREVIEW_SIDE / max(height, width)
    small = resize_to(deprocess_image(image), round(height * scale), round(width * scale))
    save_image(path, reshape_and_normalize_image(small))


def check_outputs(options, files):
    """Refuse an output folder that can't be written, or outputs that would overwrite an input."""
    out = files.folder
    if out.exists() and not out.is_dir():
        raise NSTError(f"{out}: is a file, not a folder; choose another --output-dir")
    make_folder(out, "output folder", "choose another --output-dir")
    if not os.access(out, os.W_OK | os.X_OK):
        raise NSTError(f"{out}: output folder is not writable; choose another --output-dir")
    inputs = (options.content, *options.style, options.model, options.resume)
    if isinstance(options.costs, (str, Path)):
        inputs += (options.costs,)
    for path in inputs:
        if path is not None and files.is_output(path):
            raise NSTError(
                f"{path}: is an input and would be overwritten by the output; "
                "choose another --output-dir or move the input"
            )
