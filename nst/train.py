"""Solve the optimisation problem: ``python -m nst.train``.

The exercise's recipe, step by step:

1. load the content image C and the style image S (300x400, minus MEANS);
2. make the initial generated image G: noise * 0.6 + C * 0.4;
3. load VGG19 as the exercise's graph;
4. compute, ONCE, the content target a_C = conv4_2(C) and the style targets
   G_S[l] = gram(a_l(S)) for the five style layers;
5. repeat 200 times: one forward pass of G, J = alpha * J_content + beta * J_style,
   its gradient with respect to G's pixels, one Adam step (learning rate 2.0);
   every 20 iterations print the costs and save ``output/<i>.png``;
6. save ``output/generated_image.jpg``, ``output/losses.csv`` and ``output/losses.png``.

The options beyond the exercise (L-BFGS, several scales, colours, ...) change which
images and targets go in (``nst.stylize``) and which optimiser runs, not this recipe.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from nst.adam import Adam
from nst.animation import iteration_images, make_contact_sheet, make_gif
from nst.checkpoint import check_compatible, load_checkpoint, save_checkpoint, settings_from_options
from nst.config import PRETRAINED_DIR
from nst.errors import NSTError, run_cli
from nst.images import save_image
from nst.lbfgs import PIXEL_BOUNDS, make_value_and_grad, minimize_lbfgs
from nst.objective import make_cost, make_gradient
from nst.options import parse_args
from nst.report import Progress, Recorder, write_losses
from nst.stylize import prepare, scales, upsample
from nst.vgg_files import read_vgg19_weights
from nst.weights import KERAS_H5, MATCONVNET_MAT


def find_model(directory=PRETRAINED_DIR):
    """The weights in ``directory``: the MatConvNet .mat if present, else the Keras .h5."""
    for name in (MATCONVNET_MAT.filename, KERAS_H5.filename):
        if (Path(directory) / name).is_file():
            return Path(directory) / name
    raise NSTError(f"{directory}: no VGG19 weights found; run `python -m nst.weights` to fetch them")


def describe_device():
    gpus = tf.config.list_physical_devices("GPU")
    return f"GPU ({len(gpus)} found)" if gpus else "CPU (TensorFlow sees no GPU)"


def make_train_step(
    graph, a_C, G_S, optimizer, content_layer, style_layers, alpha, beta, jit_compile=False, tv_weight=0.0
):
    """One iteration as a compiled ``tf.function``: forward pass, costs, gradient, Adam.

    Works on ``graph['input']`` (the generated image, (1, H, W, 3)) in place and returns
    (J, J_content, J_style, ok), where ok is False if the step produced NaN or inf; the
    image before that step is then in ``train_step.last_good``.
    """
    image = graph["input"]
    cost = make_cost(graph, a_C, G_S, content_layer, style_layers, alpha, beta, tv_weight)
    gradient = make_gradient(cost, graph.dtype)
    last_good = tf.Variable(image)

    @tf.function(jit_compile=jit_compile)
    def train_step():
        J, J_content, J_style, grad = gradient(image)
        last_good.assign(image)
        optimizer.apply(grad)
        ok = tf.math.is_finite(J) & tf.reduce_all(tf.math.is_finite(image))
        return J, J_content, J_style, ok

    train_step.last_good = last_good
    return train_step


def model_nn(graph, train_step, num_iterations, save_every, output_dir, progress=None, start=0, recorder=None):
    """Run ``train_step`` for iterations ``start`` .. ``num_iterations - 1``, saving and reporting.

    Returns (rows, status) with status "done", "interrupted" or "diverged".
    """
    recorder = recorder or Recorder(Path(output_dir), save_every, progress or Progress(num_iterations, quiet=True))
    try:
        for i in range(start, num_iterations):
            J, J_content, J_style, ok = (x.numpy() for x in train_step())
            if not ok:
                graph["input"].assign(train_step.last_good)
                recorder.progress.log(f"Iteration {i}: the cost became {J} (NaN or infinite); stopping")
                return recorder.rows, "diverged"
            recorder.record(i, J, J_content, J_style, lambda: graph["input"].numpy())
    except KeyboardInterrupt:
        return recorder.rows, "interrupted"
    return recorder.rows, "done"


def run_lbfgs(graph, a_C, G_S, options, start_image, start, stop, recorder):
    """L-BFGS iterations ``start`` .. ``stop - 1`` from ``start_image``; leaves the result in graph['input']."""
    value_and_grad = make_value_and_grad(
        graph, a_C, G_S, options.content_layer, options.style_layers, options.alpha, options.beta, options.tv_weight
    )

    def callback(i, x, J, extras):
        recorder.record(start + i, J, extras["J_content"], extras["J_style"], lambda: x)

    result = minimize_lbfgs(value_and_grad, start_image, stop - start, callback=callback, bounds=PIXEL_BOUNDS)
    graph["input"].assign(result.x)
    if result.status in ("interrupted", "diverged"):
        return result.status
    if result.status == "converged":  # fewer iterations than asked: say why rather than stay silent
        recorder.progress.log(
            f"L-BFGS stopped after {len(result.losses)} of {stop - start} iterations: {result.message}"
        )
    return "done"


@dataclass
class Result:
    image: Path  # the final image
    rows: list  # report.Row per iteration
    status: str  # "done", "interrupted" or "diverged"


def run(options):
    """Run style transfer as ``options`` say; returns a Result. Bad input raises NSTError."""
    options.model = options.model or find_model()
    if isinstance(options.style, (str, Path)):
        options.style = (options.style,)  # Options(style=path) from Python: one style image
    out = options.output_dir
    check_outputs(options)
    problem, (height, width) = prepare(options, read_vgg19_weights(options.model))
    seed = options.seed if options.seed is not None else int(np.random.default_rng().integers(2**31))
    settings = dict(settings_from_options(options), seed=seed)
    sizes = scales(height, width, options.multiscale)
    total = options.iterations * len(sizes)  # iterations are numbered across scales
    checkpoint = load_checkpoint(options.resume) if options.resume else None
    if checkpoint is not None:
        check_compatible(checkpoint, settings)

    progress = Progress(total, quiet=options.quiet, initial=checkpoint.iteration if checkpoint else 0)
    progress.log(
        f"nst: {options.content.name} in the style of {', '.join(Path(p).name for p in options.style)}, "
        f"{height}x{width}{f' in {len(sizes)} scales' if len(sizes) > 1 else ''}, {total} iterations "
        f"({options.optimizer}) on {describe_device()}; weights {options.model.name}; seed {seed}"
    )

    def save_state(i, image, optimizer):
        if options.checkpoint_every and (i + 1) % options.checkpoint_every == 0:
            state = optimizer.state() if optimizer else {}
            save_checkpoint(out / "checkpoint.npz", image(), i + 1, state, recorder.rows, settings)

    recorder = Recorder(out, options.save_every, progress, rows=checkpoint.rows if checkpoint else None)
    image, status = None, "done"
    for scale, (h, w) in enumerate(sizes):
        first, stop = scale * options.iterations, (scale + 1) * options.iterations
        if checkpoint is not None and checkpoint.iteration >= stop:
            continue  # this scale was finished before the checkpoint
        graph, content, a_C, G_S = problem.at(h, w)
        if checkpoint is not None and image is None:
            image, first = checkpoint.image, checkpoint.iteration
            if image.shape[1:3] != (h, w):
                raise NSTError(
                    f"{options.resume}: holds a {image.shape[2]}x{image.shape[1]} image, but this run's "
                    f"scale {scale + 1} is {w}x{h}; resume with the same --size and --multiscale"
                )
        image = problem.start_image(content, seed) if image is None else upsample(image, h, w)
        graph["input"].assign(image)
        if options.optimizer == "lbfgs":
            recorder.on_iteration = lambda i, img: save_state(i, img, None)
            status = run_lbfgs(graph, a_C, G_S, options, image, first, stop, recorder)
        else:
            adam = Adam(graph["input"], learning_rate=options.learning_rate)
            if checkpoint is not None and first == checkpoint.iteration and checkpoint.optimizer_state:
                adam.load_state(checkpoint.optimizer_state)
            recorder.on_iteration = lambda i, img, adam=adam: save_state(i, img, adam)
            step = make_train_step(
                graph,
                a_C,
                G_S,
                adam,
                options.content_layer,
                options.style_layers,
                options.alpha,
                options.beta,
                jit_compile=options.xla,
                tv_weight=options.tv_weight,
            )
            _, status = model_nn(graph, step, stop, options.save_every, out, start=first, recorder=recorder)
        image = graph["input"].numpy()
        if status != "done":
            break
    progress.close()
    if image is None:  # resumed from a checkpoint of a run that had already finished
        image = checkpoint.image
    return finish(options, problem, image, recorder.rows, status)


def finish(options, problem, image, rows, status):
    """Save the final image, the losses and the animation; say how it went."""
    out = options.output_dir
    final = out / "generated_image.jpg"
    save_image(final, problem.finish(image))
    write_losses(rows, out / "losses.csv", out / "losses.png")
    if options.animation != "none":
        frames = iteration_images(out, last=rows[-1].iteration if rows else None)
        if options.animation in ("gif", "both"):
            make_gif(frames, out / "progress.gif")
        if options.animation in ("sheet", "both"):
            make_contact_sheet(frames, out / "progress.png")
    if status == "interrupted":
        print(f"Interrupted after {len(rows)} iterations; the current image is saved as {final}", flush=True)
    elif status == "diverged":
        remedy = (
            "try a lower --alpha, --beta or --tv-weight"
            if options.optimizer == "lbfgs"
            else "try a lower --learning-rate"
        )
        raise NSTError(
            f"{final}: the cost became NaN or infinite at iteration {len(rows)}; the last good image "
            f"is saved there; {remedy}"
        )
    else:
        seconds = rows[-1].seconds if rows else 0.0
        print(
            f"Done: J = {rows[-1].J:.6g} after {len(rows)} iterations in {seconds:.1f} s "
            f"({seconds / max(len(rows), 1):.2f} s/iteration); image saved as {final}",
            flush=True,
        )
    return Result(final, rows, status)


# Files a run writes besides <i>.png. (checkpoint.npz is left out: resuming from the
# folder's own checkpoint and then updating it is what --resume is for.)
OUTPUT_NAMES = {"generated_image.jpg", "losses.csv", "losses.png", "progress.gif", "progress.png"}


def check_outputs(options):
    """Refuse an output folder that can't be written, or outputs that would overwrite an input."""
    out = options.output_dir
    if out.exists() and not out.is_dir():
        raise NSTError(f"{out}: is a file, not a folder; choose another --output-dir")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NSTError(
            f"{out}: cannot create the output folder ({err.strerror}); choose another --output-dir"
        ) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise NSTError(f"{out}: output folder is not writable; choose another --output-dir")
    for path in (options.content, *options.style, options.model, options.resume):
        if path is None or Path(path).resolve().parent != out.resolve():
            continue
        name = Path(path).name
        if name in OUTPUT_NAMES or (name.endswith(".png") and name[:-4].isdigit()):
            raise NSTError(
                f"{path}: is an input and would be overwritten by the output; "
                "choose another --output-dir or move the input"
            )


def main(argv=None):
    return {"done": 0, "interrupted": 130}[run(parse_args(argv)).status]


if __name__ == "__main__":
    run_cli(main)
