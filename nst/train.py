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
"""

import os
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from nst.adam import Adam
from nst.config import PRETRAINED_DIR
from nst.errors import NSTError, run_cli
from nst.options import parse_args
from nst.weights import KERAS_H5, MATCONVNET_MAT
from nst.costs import compute_content_cost, compute_style_cost_from_grams, style_grams, total_cost
from nst.images import generate_noise_image, load_image, save_image
from nst.report import Progress, Row, write_losses
from nst.vgg import load_vgg_model


def find_model(directory=PRETRAINED_DIR):
    """The weights in ``directory``: the MatConvNet .mat if present, else the Keras .h5."""
    for name in (MATCONVNET_MAT.filename, KERAS_H5.filename):
        if (Path(directory) / name).is_file():
            return Path(directory) / name
    raise NSTError(f"{directory}: no VGG19 weights found; run `python -m nst.weights` to fetch them")


def describe_device():
    gpus = tf.config.list_physical_devices("GPU")
    return f"GPU ({len(gpus)} found)" if gpus else "CPU (TensorFlow sees no GPU)"


def make_train_step(graph, a_C, G_S, optimizer, content_layer, style_layers, alpha, beta, jit_compile=False):
    """One iteration as a compiled ``tf.function``: forward pass, costs, gradient, Adam.

    Works on ``graph['input']`` (the generated image, (1, H, W, 3)) in place and returns
    (J, J_content, J_style, ok), where ok is False if the step produced NaN or inf; the
    image before that step is then in ``last_good``.
    """
    image = graph["input"]
    layers = (content_layer,) + tuple(name for name, _ in style_layers)
    last_good = tf.Variable(image)

    @tf.function(jit_compile=jit_compile)
    def train_step():
        with tf.GradientTape() as tape:
            a_G = graph.forward(image, layers)  # every activation from one pass
            J_content = compute_content_cost(a_C, a_G[content_layer])
            J_style = compute_style_cost_from_grams(G_S, a_G, style_layers)
            J = total_cost(J_content, J_style, alpha, beta)
        grad = tape.gradient(J, image)
        last_good.assign(image)
        optimizer.apply(grad)
        ok = tf.math.is_finite(J) & tf.reduce_all(tf.math.is_finite(image))
        return J, J_content, J_style, ok

    train_step.last_good = last_good
    return train_step


def model_nn(graph, train_step, num_iterations, save_every, output_dir, progress):
    """Run ``train_step`` ``num_iterations`` times, saving and reporting along the way.

    Returns (rows, status) with status "done", "interrupted" or "diverged".
    """
    rows, start = [], time.perf_counter()
    try:
        for i in range(num_iterations):
            J, J_content, J_style, ok = (x.numpy() for x in train_step())
            if not ok:
                graph["input"].assign(train_step.last_good)
                progress.log(f"Iteration {i}: the cost became {J} (NaN or infinite); stopping")
                return rows, "diverged"
            rows.append(Row(i, float(J), float(J_content), float(J_style), time.perf_counter() - start))
            progress.step(rows[-1])
            if i % save_every == 0:
                progress.log(f"Iteration {i} :\ntotal cost = {J:.6g}\ncontent cost = {J_content:.6g}\n"
                             f"style cost = {J_style:.6g}")
                save_image(output_dir / f"{i}.png", graph["input"].numpy())
    except KeyboardInterrupt:
        return rows, "interrupted"
    return rows, "done"


def output_paths(output_dir, iterations, save_every):
    names = [f"{i}.png" for i in range(0, iterations, save_every)]
    names += ["generated_image.jpg", "losses.csv", "losses.png"]
    return [Path(output_dir) / name for name in names]


def check_outputs(options):
    """Refuse an output folder that can't be written, or outputs that would overwrite an input."""
    out = options.output_dir
    if out.exists() and not out.is_dir():
        raise NSTError(f"{out}: is a file, not a folder; choose another --output-dir")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NSTError(f"{out}: cannot create the output folder ({err.strerror}); choose another --output-dir") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise NSTError(f"{out}: output folder is not writable; choose another --output-dir")
    inputs = {p.resolve() for p in (options.content, options.style, options.model) if p is not None}
    for path in output_paths(out, options.iterations, options.save_every):
        if path.resolve() in inputs:
            raise NSTError(f"{path}: is an input and would be overwritten by the output; "
                           "choose another --output-dir or move the input")


def run(options):
    progress = Progress(options.iterations, quiet=options.quiet)
    height, width = options.size
    options.model = model_path = options.model or find_model()
    check_outputs(options)

    content_image = load_image(options.content, height, width)
    style_image = load_image(options.style, height, width)
    seed = options.seed if options.seed is not None else int(np.random.default_rng().integers(2**31))
    generated_image = generate_noise_image(content_image, options.noise_ratio, seed=seed)

    graph = load_vgg_model(model_path, height, width)
    graph.check_layers([options.content_layer] + [name for name, _ in options.style_layers])
    progress.log(f"nst: {options.content.name} in the style of {options.style.name}, {height}x{width}, "
                 f"{options.iterations} iterations on {describe_device()}; weights {model_path.name}; seed {seed}")

    # The targets never change: compute them once, before the loop.
    graph["input"].assign(content_image)
    a_C = graph[options.content_layer]
    a_S = graph.forward(style_image, [name for name, _ in options.style_layers])
    G_S = style_grams(a_S, options.style_layers)

    graph["input"].assign(generated_image)
    optimizer = Adam(graph["input"], learning_rate=options.learning_rate)
    train_step = make_train_step(graph, a_C, G_S, optimizer, options.content_layer, options.style_layers,
                                 options.alpha, options.beta)
    rows, status = model_nn(graph, train_step, options.iterations, options.save_every, options.output_dir,
                            progress)
    progress.close()

    out = options.output_dir
    final = out / "generated_image.jpg"
    save_image(final, graph["input"].numpy())
    write_losses(rows, out / "losses.csv", out / "losses.png")
    if status == "interrupted":
        print(f"Interrupted after {len(rows)} iterations; the current image is saved as {final}", flush=True)
        return 130
    if status == "diverged":
        raise NSTError(f"{final}: the cost became NaN or infinite at iteration {len(rows)}; the last good image "
                       "is saved there; try a lower --learning-rate")
    seconds = rows[-1].seconds if rows else 0.0
    print(f"Done: J = {rows[-1].J:.6g} after {len(rows)} iterations in {seconds:.1f} s "
          f"({seconds / max(len(rows), 1):.2f} s/iteration); image saved as {final}", flush=True)
    return 0


def main(argv=None):
    return run(parse_args(argv))


if __name__ == "__main__":
    run_cli(main)
