"""Exact tiles (nst.kernels.tiles): the same J and gradient as one pass over the whole image."""

import numpy as np
import pytest
import tensorflow as tf

from nst.costs import compute_content_cost, compute_layer_style_cost, gram_matrix, unroll_for_gram
from nst.kernels import tiles
from nst.kernels.bands import stride

LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv4_2", "conv5_1", "avgpool4")


@pytest.mark.parametrize("size", [16, 97, 300, 336, 400, 1904, 3808])
@pytest.mark.parametrize("tile", [32, 128, 1024])
def test_tile_interiors_partition_every_layer(size, tile):
    spans = tiles.spans(size, tile)
    assert spans[0].first == 0 and spans[-1].last == size
    for before, after in zip(spans, spans[1:]):
        assert before.last == after.first  # no gap, no overlap
    for span in spans:
        assert span.start % 16 == 0 and span.first % 16 == 0  # the poolings' windows are the image's
        assert span.first - span.start == min(span.first, tiles.MARGIN)  # a full margin, or the image's edge
        assert span.stop - span.last == min(size - span.last, tiles.MARGIN)
        assert span.stop == size or (span.stop - span.start) % 16 == 0  # SAME pooling pads only at the image's end
    for layer in LAYERS:
        s = stride(layer)
        owned = 0  # the layer's rows owned so far: each tile's interior continues where the last one ended
        for span in spans:
            offset, count = span.units(s)
            assert span.first // s == owned and offset * s == span.first - span.start and count > 0
            assert offset + count <= -(-(span.stop - span.start) // s)  # inside the tile's own activation
            owned += count
        assert owned == -(-size // s)  # SAME pooling rounds up


def test_the_formulas_from_sums_are_the_exercises_costs():
    rng = np.random.default_rng(0)
    a_S, a_G, a_C = (tf.constant(rng.uniform(0, 3, (1, 5, 7, 6)).astype(np.float32)) for _ in range(3))
    shape = (1, 5, 7, 6)
    GS, GG = (gram_matrix(unroll_for_gram(a)) for a in (a_S, a_G))
    assert float(tiles.layer_style_cost_from_grams(GS, GG, shape)) == pytest.approx(
        float(compute_layer_style_cost(a_S, a_G)), rel=1e-6
    )
    squares = float(tf.reduce_sum(tf.square(a_C - a_G)))
    assert tiles.content_cost_from_sum(squares, shape) == pytest.approx(float(compute_content_cost(a_C, a_G)), rel=1e-6)
    assert tiles.layer_shape(300, 400, 512, "conv4_2") == (1, 38, 50, 512)
    assert tiles.layer_shape(119, 256, 512, "conv5_1") == (1, 8, 16, 512)


@pytest.fixture(scope="module")
def level(weights_h5):
    """The quality preset's problem (its layers and TV) at 64x96, whole."""
    from nst.engine.problem import prepare
    from nst.engine.run import load_weights
    from nst.options import Options

    options = Options(preset="quality", size=(64, 96), seed=0, alpha=10, beta=40)
    problem, size = prepare(options, load_weights(weights_h5))
    return problem, problem.at(*size), options


def whole_cost_and_gradient(objective, image):
    """(terms, ∂J/∂G) of one pass over the whole image: the exercise's compute_cost, its tape."""
    from nst.train import compute_cost

    x = tf.constant(image)
    with tf.GradientTape() as tape:
        tape.watch(x)
        terms = compute_cost(x, objective)
    return {name: float(value) for name, value in terms.items()}, tape.gradient(terms["J"], x).numpy()


@pytest.mark.slow
def test_tiled_targets_cost_and_gradient_equal_one_pass(weights_h5):
    """The bar: ‖g_tiled − g‖/‖g‖ ≤ 1e-4 and J within 1e-5, for the quality preset's objective (the
    exercise's layers, α, β, and TV) and the exercise preset's (the same without TV; the same traced
    tiles). At 384x512 in 128 px tiles: the layout of 768x1024 in 256 px tiles (3 x 4 tiles: inner, edge
    and corner ones, every interior but the image's edges behind an 80 px margin) at a quarter of the
    pixels, and more of them within a margin's reach of a seam."""
    from dataclasses import replace

    from nst.engine.objective import NST_COSTS, make_objective
    from nst.engine.problem import prepare
    from nst.engine.run import load_weights
    from nst.images import generate_noise_image, reshape_and_normalize_image, resize_to
    from nst.options import Options

    presets = {name: Options(preset=name, size=(384, 512), multiscale="1", tile=0) for name in ("quality", "exercise")}
    problem, size = prepare(presets["quality"], load_weights(weights_h5))
    whole = problem.at(*size)
    whole.graph.kernels.winograd_6x6 = False  # as at a tiled level (Problem.at): the same kernels both ways
    objectives = {name: make_objective(whole, options) for name, options in presets.items()}
    image = generate_noise_image(whole.content, 0.6, seed=0)

    tile, options = 128, presets["quality"]
    styles = [reshape_and_normalize_image(resize_to(s, *size)) for s in problem.styles]
    grams = tiles.style_grams(whole.graph, styles, [1.0], options.style_layers, *size, gram_matrix, tile)
    for name, _ in options.style_layers:  # the style targets, summed over tiles
        expected = gram_matrix(unroll_for_gram(tf.constant(whole.styles[0][1][name]))).numpy()
        np.testing.assert_allclose(grams[0][1][name], expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    a_C = tiles.content_target(whole.graph, whole.content, options.content_layer, tile)
    np.testing.assert_allclose(a_C, whole.a_C, atol=1e-5 * np.abs(whole.a_C).max())

    tiled = tiles.TiledObjective(
        whole.graph, *size, a_C, grams, options.content_layer, tuple(options.style_layers), options.alpha,
        options.beta, NST_COSTS, objectives["quality"].extra_terms, tile,
    )  # fmt: skip
    assert tiled.extra_terms and not objectives["exercise"].extra_terms
    cost = tiles.TiledCost(tiled)
    assert len(cost.tiles) == 12
    for name, objective in objectives.items():
        cost.objective = replace(tiled, extra_terms=objective.extra_terms)  # the traced tiles do not depend on it
        terms, gradient = whole_cost_and_gradient(objective, image)
        tiled_terms, tiled_gradient = cost(image)
        assert set(tiled_terms) == set(terms), name
        for term in terms:
            assert tiled_terms[term] == pytest.approx(terms[term], rel=1e-5), (name, term)
        assert np.linalg.norm(tiled_gradient - gradient) / np.linalg.norm(gradient) <= 1e-4, name


@pytest.mark.slow
def test_a_learners_gram_matrix_computes_the_tiles_grams(level):
    """Tiled, J still comes from the learner's gram_matrix (here twice nst's: J_style four times). In 64 px
    tiles: 1 x 2 of them, each traced once per pass (32 px tiles make 2 x 3 tiles, three times the tracing)."""
    from nst.engine.objective import NST_COSTS, load_costs

    problem, whole, options = level
    image = whole.content[:, :64, :96]
    twice = load_costs({"gram_matrix": lambda A: 2.0 * tf.matmul(A, A, transpose_b=True)})
    results = []
    for costs in (NST_COSTS, twice):
        grams = tiles.style_grams(whole.graph, [image], [1.0], options.style_layers, 64, 96, costs.gram_matrix, 64)
        a_C = tiles.content_target(whole.graph, image, options.content_layer, 64)
        objective = tiles.TiledObjective(
            whole.graph, 64, 96, a_C, grams, options.content_layer, tuple(options.style_layers), 10.0, 40.0, costs,
            tile=64,
        )  # fmt: skip
        cost = tiles.TiledCost(objective)
        assert len(cost.tiles) == 2
        results.append(cost(image + 10.0)[0])
    assert results[1]["J_style"] == pytest.approx(4 * results[0]["J_style"], rel=1e-5)
    assert results[1]["J_content"] == pytest.approx(results[0]["J_content"], rel=1e-6)


def test_tracing_each_tile_geometry_is_not_reported_as_retracing():
    """TensorFlow warns when many functions are traced one after another; tiles do so on purpose (one
    trace per geometry), so nst drops that warning -- and only that one -- from TensorFlow's logger."""
    import logging

    seen = []
    handler = logging.Handler()
    handler.emit = seen.append
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # whatever an earlier test (nst bench quiets TensorFlow) left it at
    logger.addHandler(handler)
    try:
        logger.warning("6 out of the last 10 calls to <function sums> triggered tf.function retracing. Tracing is")
        logger.warning("another warning")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert [record.getMessage() for record in seen] == ["another warning"]


@pytest.mark.parametrize("shape, band_rows", [((37, 23), 5), ((33, 16), 16), ((10, 10), 256), ((1, 7), 3), ((7, 1), 2)])
def test_total_variation_in_bands_is_the_tapes(shape, band_rows):
    """A tiled scale's total variation (NumPy, band by band) has total_variation_cost's value and the
    gradient its tape gives, for bands that split the rows unevenly, one band, and one-pixel sides."""
    from nst.costs import total_variation_cost
    from nst.kernels.variation import total_variation_value_and_grad

    image = np.random.default_rng(0).normal(0, 50, (1, *shape, 3)).astype(np.float32)
    J, gradient = total_variation_value_and_grad(image, band_rows)
    x = tf.constant(image)
    with tf.GradientTape() as tape:
        tape.watch(x)
        expected = total_variation_cost(x)
    assert J == pytest.approx(float(expected), rel=1e-6)
    np.testing.assert_allclose(gradient, tape.gradient(expected, x).numpy(), rtol=0, atol=1e-6 * np.abs(gradient).max())
    assert gradient.dtype == np.float32
    assert tiles.extra_term(total_variation_cost, image)[0] == pytest.approx(J, rel=1e-12)  # what a tiled scale uses
