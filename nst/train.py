"""Training, as the exercise does it: J(G) from the graded cost functions, and ``train_step``.

The exercise's recipe:

1. load the content image C and the style image S (300x400, minus MEANS);
2. make the initial generated image G: noise * 0.6 + C * 0.4;
3. load VGG19 as the exercise's graph;
4. compute, once, the targets: a_C = conv4_2(C) and a_S, S's activations at the five style layers;
5. repeat 200 times ``train_step``: one forward pass of G, J = total_cost(compute_content_cost(...),
   compute_style_cost(...)), its gradient with respect to G's pixels, one Adam step (learning
   rate 2.0); every 20 iterations print the costs and save ``output/<i>.png``;
6. save ``output/generated_image.jpg``, ``output/losses.csv`` and ``output/losses.png``.

Step 5 is this module: ``compute_cost`` is J(G), built from exactly the functions a learner
writes (``nst.costs``, or the learner's own), and ``train_step`` is one iteration. nst's Adam
runs call ``train_step`` at every iteration, and its L-BFGS runs minimise the same
``compute_cost``. The rest of the recipe, and what nst adds (coarse-to-fine levels, checkpoints,
progress, the command line), is nst's engine: ``nst.train.run(options)`` is the whole run
(``nst.engine.run``), ``python -m nst.train`` / ``nst train`` its command line.

Speed-ups plug in from outside, without changing a line here: the faster convolutions inside
``vgg_model_outputs`` (``nst.kernels.FastKernels``), float16's loss scaling around it
(``nst.kernels.precision``), and style targets that the traced step embeds as constants
(``nst.kernels.folding``).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tensorflow as tf

import nst.costs
from nst.config import ALPHA, BETA, CONTENT_LAYER, STYLE_LAYERS


@dataclass(frozen=True)
class Objective:
    """Everything J(G) needs besides G."""

    vgg_model_outputs: Callable  # G (1, H, W, 3) -> {layer: activation (1, n_H, n_W, n_C)}, one forward pass
    a_C: Any  # the content target: C's activation at content_layer, (1, n_H, n_W, n_C)
    styles: tuple  # the style targets, ((weight, a_S), ...): a_S maps each style layer to S's activation;
    #                one style image: ((1.0, a_S),); several are blended, their weights summing to 1
    content_layer: str = CONTENT_LAYER
    style_layers: tuple = STYLE_LAYERS  # ((layer, λ), ...)
    alpha: float = ALPHA
    beta: float = BETA
    costs: Any = nst.costs  # the five graded functions: nst's, or a learner's (nst.engine.objective.Costs)
    extra_terms: tuple = ()  # beyond the exercise: ((name, weight, cost), ...), each adding weight · cost(G)
    #                          to J, e.g. ("J_tv", tv_weight, total_variation_cost), a smoothness prior


def compute_cost(generated_image, objective):
    """J(G) = α · J_content + β · J_style, and its terms, from one forward pass of G.

    Arguments:
        generated_image -- G, shape (1, H, W, 3), a tf.Variable or tensor
        objective -- an ``Objective``

    Returns:
        {"J", "J_content", "J_style"} and one entry per extra term ("J_tv", ...): scalar float32 tensors.
        With several style images, J_style = Σ_k w_k · compute_style_cost(a_S_k, a_G, style_layers).
    """
    o = objective
    a_G = o.vgg_model_outputs(generated_image)
    J_content = o.costs.compute_content_cost(o.a_C, a_G[o.content_layer])
    J_style = 0.0
    for weight, a_S in o.styles:
        J_style += weight * o.costs.compute_style_cost(a_S, a_G, o.style_layers)
    J = o.costs.total_cost(J_content, J_style, o.alpha, o.beta)
    terms = {"J": J, "J_content": J_content, "J_style": J_style}
    for name, weight, cost in o.extra_terms:  # none in the exercise: its traced graph is exactly J
        terms[name] = cost(generated_image)
        terms["J"] = terms["J"] + weight * terms[name]
    return terms


def train_step(generated_image, objective, optimizer):
    """One iteration: J(G), its gradient with respect to G's pixels, and one Adam update of G.

    Arguments:
        generated_image -- G, a tf.Variable of shape (1, H, W, 3), updated in place
        objective -- an ``Objective``: the network, the targets and the weights
        optimizer -- ``nst.adam.Adam`` on generated_image

    Returns:
        the terms of J before the update, as ``compute_cost`` returns them

    Wrap it in ``tf.function`` (nst's runs do): TensorFlow traces it once, and every later
    step runs the traced graph.
    """
    with tf.GradientTape() as tape:
        terms = compute_cost(generated_image, objective)
    grad = tape.gradient(terms["J"], generated_image)
    optimizer.apply(grad)
    return terms


def __getattr__(name):
    """``nst.train.run``, ``nst.train.main`` (and the rest of the run) come from the engine, on first use."""
    if name == "main":
        from nst.engine.command_line import main

        return main
    if name == "find_model":  # where the notebook once found it
        from nst.weights import find_model

        return find_model
    if name in ("run", "Result", "load_weights"):
        import nst.engine.run

        return getattr(nst.engine.run, name)
    raise AttributeError(f"module 'nst.train' has no attribute {name!r}")


if __name__ == "__main__":
    from nst.engine.command_line import main
    from nst.errors import run_cli

    run_cli(main)
