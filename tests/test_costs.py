"""Tests for nst.costs: the exercise's published numbers, then properties.

How the published numbers are drawn
------------------------------------
TF1 edition. The notebook ran in a fresh graph: ``tf.set_random_seed(1)`` then
``tf.random_normal(...)`` without an op seed. TF 1.x then used the graph's op
counter as op seed: 3 for the first draw (after its shape, mean and stddev
constants), 9 for the second (after 6 more ops). TF 2's compat.v1 graph mode
counts 0, 1, ... instead, so the only faithful reproduction is eager with the
op seeds written out: ``tf.random.set_seed(1)`` + ``seed=3`` / ``seed=9``.

TF2 edition. Eager: ``tf.random.set_seed(1)``, then two unseeded
``tf.random.normal`` calls, in that order, after that single set_seed.
"""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nst.config import ALPHA, BETA, STYLE_LAYERS
from nst.costs import (
    compute_content_cost,
    compute_layer_style_cost,
    compute_style_cost,
    gram_matrix,
    total_cost,
    unroll_for_gram,
)

RTOL = 1e-5
PROPERTY_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_scalar_float32(J):
    assert isinstance(J, tf.Tensor)
    assert J.dtype == tf.float32
    assert J.shape == ()


# --- TF1 edition ------------------------------------------------------------


def tf1_pair(shape):
    tf.random.set_seed(1)
    first = tf.random.normal(shape, mean=1, stddev=4, seed=3)
    second = tf.random.normal(shape, mean=1, stddev=4, seed=9)
    return first, second


def test_tf1_content_cost():
    a_C, a_G = tf1_pair([1, 4, 4, 3])
    J = compute_content_cost(a_C, a_G)
    assert_scalar_float32(J)
    np.testing.assert_allclose(J.numpy(), 6.76559, rtol=RTOL)


def test_tf1_gram_matrix():
    tf.random.set_seed(1)
    A = tf.random.normal([3, 2], mean=1, stddev=4, seed=3)
    GA = gram_matrix(A)
    assert GA.shape == (3, 3)
    np.testing.assert_allclose(GA.numpy()[0], [6.42230511, -4.42912197, -2.09668207], rtol=RTOL)


def test_tf1_layer_style_cost():
    a_S, a_G = tf1_pair([1, 4, 4, 3])
    J = compute_layer_style_cost(a_S, a_G)
    assert_scalar_float32(J)
    np.testing.assert_allclose(J.numpy(), 9.19028, rtol=RTOL)


def test_tf1_total_cost():
    np.random.seed(3)
    J_content = np.random.randn()
    J_style = np.random.randn()
    J = total_cost(J_content, J_style)
    assert_scalar_float32(J)
    np.testing.assert_allclose(J.numpy(), 35.34667875478276, rtol=RTOL)


# --- TF2 edition ------------------------------------------------------------


def tf2_pair(shape):
    tf.random.set_seed(1)
    first = tf.random.normal(shape, mean=1, stddev=4)
    second = tf.random.normal(shape, mean=1, stddev=4)
    return first, second


def test_tf2_content_cost():
    a_C, a_G = tf2_pair([1, 4, 4, 3])
    J = compute_content_cost(a_C, a_G)
    assert_scalar_float32(J)
    np.testing.assert_allclose(J.numpy(), 7.0568767, rtol=RTOL)
    assert compute_content_cost(a_C, a_C).numpy() == 0.0


def test_tf2_gram_matrix():
    tf.random.set_seed(1)
    A = tf.random.normal([3, 2], mean=1, stddev=4)
    expected = [
        [63.1888, -26.721275, -7.7320204],
        [-26.721275, 12.76758, -2.5158243],
        [-7.7320204, -2.5158243, 23.752384],
    ]
    np.testing.assert_allclose(gram_matrix(A).numpy(), expected, rtol=RTOL)


def test_tf2_layer_style_cost():
    a_S, a_G = tf2_pair([1, 4, 4, 3])
    J = compute_layer_style_cost(a_S, a_G)
    assert_scalar_float32(J)
    np.testing.assert_allclose(J.numpy(), 14.017805, rtol=RTOL)
    np.testing.assert_allclose(compute_layer_style_cost(a_G, a_G).numpy(), 0.0, atol=0)


def test_tf2_total_cost():
    np.testing.assert_allclose(total_cost(0.2, 0.8).numpy(), 34, rtol=RTOL)
    np.testing.assert_allclose(total_cost(0.3, 0.5, 3, 8).numpy(), 4.9, rtol=RTOL)
    np.random.seed(1)
    J_content = np.random.uniform(0, 1)
    J_style = np.random.uniform(0, 1)
    np.testing.assert_allclose(total_cost(J_content, J_style).numpy(), 32.9832, rtol=RTOL)


def test_total_cost_defaults_come_from_config():
    assert total_cost(1.0, 0.0).numpy() == ALPHA
    assert total_cost(0.0, 1.0).numpy() == BETA


# --- Unrolling: reshape then transpose ---------------------------------------


def bare_reshape_layer_cost(a_S, a_G):
    """The classic mistake, kept here to show the test below can tell it apart."""
    _, n_H, n_W, n_C = a_G.shape
    G_S = gram_matrix(tf.reshape(a_S, [n_C, n_H * n_W]))
    G_G = gram_matrix(tf.reshape(a_G, [n_C, n_H * n_W]))
    return tf.reduce_sum(tf.square(G_S - G_G)) / (4 * n_C**2 * (n_H * n_W) ** 2)


def reference_layer_cost(a_S, a_G):
    """Straight from the definition G[c, d] = Σ_positions a[h, w, c] · a[h, w, d], in float64."""
    _, n_H, n_W, n_C = a_G.shape
    G_S = np.einsum("hwc,hwd->cd", a_S[0], a_S[0])
    G_G = np.einsum("hwc,hwd->cd", a_G[0], a_G[0])
    return np.sum((G_S - G_G) ** 2) / (4 * n_C**2 * (n_H * n_W) ** 2)


def test_unroll_puts_one_channel_per_row():
    # Two positions with channels (1, 2) and (3, 4): channel 0 is (1, 3), channel 1 is (2, 4).
    a = tf.constant([[[[1.0, 2.0], [3.0, 4.0]]]])
    np.testing.assert_array_equal(unroll_for_gram(a).numpy(), [[1.0, 3.0], [2.0, 4.0]])


def test_layer_style_cost_is_not_a_bare_reshape():
    rng = np.random.default_rng(0)
    a_S = rng.normal(size=(1, 2, 3, 2)).astype(np.float32)
    a_G = rng.normal(size=(1, 2, 3, 2)).astype(np.float32)
    expected = reference_layer_cost(a_S.astype(np.float64), a_G.astype(np.float64))
    wrong = bare_reshape_layer_cost(tf.constant(a_S), tf.constant(a_G)).numpy()
    assert abs(wrong - expected) > 0.1 * abs(expected)  # the case does tell them apart
    np.testing.assert_allclose(compute_layer_style_cost(a_S, a_G).numpy(), expected, rtol=1e-5)


# --- Properties --------------------------------------------------------------

VALUES = st.floats(-4, 4, width=32, allow_subnormal=False)


@st.composite
def activation_shapes(draw, max_side=4, max_channels=4):
    n_H, n_W = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    return (1, n_H, n_W, draw(st.integers(1, max_channels)))


@st.composite
def activation_pairs(draw):
    shape = draw(activation_shapes())
    arrays = hnp.arrays(np.float32, shape, elements=VALUES)
    return draw(arrays), draw(arrays)


def permute_positions(a, permutation):
    """Move the n_H·n_W positions of a (1, n_H, n_W, n_C) activation around, channels intact."""
    _, n_H, n_W, n_C = a.shape
    return a.reshape(n_H * n_W, n_C)[list(permutation)].reshape(a.shape)


@PROPERTY_SETTINGS
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)), elements=st.floats(-10, 10)))
def test_gram_is_symmetric_positive_semidefinite(A):
    G = gram_matrix(tf.constant(A)).numpy()
    assert G.shape == (A.shape[0], A.shape[0])
    np.testing.assert_allclose(G, G.T, rtol=0, atol=1e-12)
    eigenvalues = np.linalg.eigvalsh(G)
    assert eigenvalues.min() >= -1e-9 * max(1.0, eigenvalues.max())


@PROPERTY_SETTINGS
@given(activation_pairs())
def test_costs_are_scalar_float32(pair):
    a_S, a_G = pair
    for J in (compute_content_cost(a_S, a_G), compute_layer_style_cost(a_S, a_G)):
        assert_scalar_float32(J)
        assert J.numpy() >= 0
    np.testing.assert_allclose(
        compute_layer_style_cost(a_S, a_G).numpy(),
        reference_layer_cost(a_S.astype(np.float64), a_G.astype(np.float64)),
        rtol=1e-4,
        atol=1e-6,
    )


@PROPERTY_SETTINGS
@given(activation_pairs(), st.randoms(use_true_random=False))
def test_style_cost_ignores_where_things_are(pair, random):
    a_S, a_G = pair
    _, n_H, n_W, n_C = a_G.shape
    permutation = list(range(n_H * n_W))
    random.shuffle(permutation)
    J = compute_layer_style_cost(a_S, a_G).numpy()
    J_permuted = compute_layer_style_cost(a_S, permute_positions(a_G, permutation)).numpy()
    # Summing in another order rounds differently; allow for that relative to the terms' size.
    G_S, G_G = (gram_matrix(unroll_for_gram(a)).numpy() for a in (a_S, a_G))
    scale = (np.sum(G_S**2) + np.sum(G_G**2)) / (4 * n_C**2 * (n_H * n_W) ** 2)
    np.testing.assert_allclose(J_permuted, J, rtol=1e-5, atol=1e-5 * scale + 1e-12)


@PROPERTY_SETTINGS
@given(
    activation_shapes().flatmap(lambda shape: hnp.arrays(np.float32, shape, elements=VALUES)),
    st.randoms(use_true_random=False),
)
def test_content_cost_sees_where_things_are(a, random):
    _, n_H, n_W, n_C = a.shape
    permutation = list(range(n_H * n_W))
    random.shuffle(permutation)
    moved = permute_positions(a, permutation)
    # moved somewhere by more than float32 can square: a difference of 3e-27 squares to 0 (underflow)
    assume(np.max(np.abs(moved - a)) > 1e-6)
    assert compute_content_cost(a, a).numpy() == 0.0
    assert compute_content_cost(a, moved).numpy() > 0.0


@st.composite
def tiny_normal_pairs(draw):
    # Finite differences want well-scaled values, so draw them from a seeded normal.
    shape = draw(activation_shapes(max_side=2, max_channels=2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.normal(size=shape).astype(np.float32), rng.normal(size=shape).astype(np.float32)


@settings(max_examples=10, deadline=None)
@given(tiny_normal_pairs())
def test_gradients_agree_with_finite_differences(pair):
    a_target, a_G = pair
    for cost in (compute_content_cost, compute_layer_style_cost):
        # The costs compute in float32, so a central difference with a fairly large
        # step; it is exact for the quadratic content cost and O(step²) for style.
        theoretical, numerical = tf.test.compute_gradient(
            lambda g, cost=cost: cost(a_target, g), [tf.constant(a_G)], delta=1e-2
        )
        scale = max(1.0, np.abs(theoretical[0]).max())
        np.testing.assert_allclose(theoretical[0], numerical[0], rtol=1e-2, atol=1e-2 * scale)


def test_gram_gradient_in_float64():
    A = tf.constant(np.random.default_rng(1).normal(size=(3, 4)))
    theoretical, numerical = tf.test.compute_gradient(gram_matrix, [A])
    np.testing.assert_allclose(theoretical[0], numerical[0], rtol=1e-6, atol=1e-8)


def test_gram_gradient_is_tensorflows_for_any_upstream():
    # gram_matrix writes its gradient as (dG + dGᵀ)·A; it must equal TensorFlow's own
    # gradient of A·Aᵀ for any upstream gradient, symmetric or not (the style cost's is
    # symmetric, so a mutation to 2·dG·A would pass the finite-difference test above).
    rng = np.random.default_rng(7)
    A = tf.constant(rng.normal(size=(4, 30)).astype(np.float32))
    upstream = tf.constant(rng.normal(size=(4, 4)).astype(np.float32))
    grads = []
    for gram in (gram_matrix, lambda x: tf.matmul(x, x, transpose_b=True)):
        with tf.GradientTape() as tape:
            tape.watch(A)
            G = gram(A)
            weighted = tf.reduce_sum(G * upstream)
        grads.append((G.numpy(), tape.gradient(weighted, A).numpy()))
    (G_ours, dA_ours), (G_tf, dA_tf) = grads
    np.testing.assert_allclose(G_ours, G_tf, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dA_ours, dA_tf, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [tf.bfloat16, tf.float16])
def test_reduced_precision_activations_are_costed_in_float32(dtype):
    a_S, a_G = tf2_pair([1, 4, 4, 3])
    a_S, a_G = tf.cast(a_S, dtype), tf.cast(a_G, dtype)
    widened = tf.cast(a_S, tf.float32), tf.cast(a_G, tf.float32)
    for cost in (compute_content_cost, compute_layer_style_cost):
        J = cost(a_S, a_G)
        assert_scalar_float32(J)
        np.testing.assert_allclose(J.numpy(), cost(*widened).numpy(), rtol=1e-6)


# --- Inside tf.function ------------------------------------------------------

UNKNOWN = tf.TensorSpec(shape=None, dtype=tf.float32)
OPEN_SIZE = tf.TensorSpec(shape=[1, None, None, 3], dtype=tf.float32)


@pytest.mark.parametrize("spec", [UNKNOWN, OPEN_SIZE], ids=["unknown-rank", "unknown-size"])
@pytest.mark.parametrize("cost", [compute_content_cost, compute_layer_style_cost])
def test_costs_work_with_unknown_shapes(cost, spec):
    graph_cost = tf.function(cost, input_signature=[spec, spec])
    for shape in ([1, 4, 4, 3], [1, 2, 5, 3]):
        a, b = tf2_pair(shape)
        J = graph_cost(a, b)
        assert_scalar_float32(J)
        np.testing.assert_allclose(J.numpy(), cost(a, b).numpy(), rtol=RTOL)


@pytest.mark.parametrize("cost", [compute_content_cost, compute_layer_style_cost])
def test_known_shapes_need_no_runtime_shape_ops(cost):
    # With a static shape the normalisation is a Python number baked into the graph.
    spec = tf.TensorSpec([1, 4, 4, 3], tf.float32)
    graph = tf.function(cost).get_concrete_function(spec, spec).graph
    assert "Shape" not in {op.type for op in graph.get_operations()}


def test_style_cost_works_with_unknown_shapes():
    a_S, a_G = layer_activations(seed=5)
    spec = {name: tf.TensorSpec(None, tf.float32) for name, _ in STYLE_LAYERS}
    graph_cost = tf.function(compute_style_cost, input_signature=[spec, spec])
    J = graph_cost(*({name: a[name] for name, _ in STYLE_LAYERS} for a in (a_S, a_G)))
    assert_scalar_float32(J)
    np.testing.assert_allclose(J.numpy(), compute_style_cost(a_S, a_G).numpy(), rtol=RTOL)


# --- Several layers ----------------------------------------------------------

SHAPES = {
    "conv1_1": (1, 6, 8, 2),
    "conv2_1": (1, 5, 4, 3),
    "conv3_1": (1, 4, 3, 4),
    "conv4_1": (1, 3, 2, 5),
    "conv4_2": (1, 3, 2, 5),
    "conv5_1": (1, 2, 2, 6),
}


def layer_activations(seed):
    rng = np.random.default_rng(seed)

    def draw():
        return {name: tf.constant(rng.normal(1, 4, size=shape), tf.float32) for name, shape in SHAPES.items()}

    return draw(), draw()


def test_style_cost_default_layers_weigh_each_by_a_fifth():
    a_S, a_G = layer_activations(seed=1)
    J = compute_style_cost(a_S, a_G)
    assert_scalar_float32(J)
    layer_costs = [compute_layer_style_cost(a_S[name], a_G[name]).numpy() for name, _ in STYLE_LAYERS]
    np.testing.assert_allclose(J.numpy(), 0.2 * sum(layer_costs), rtol=RTOL)


def test_style_cost_follows_custom_layers_and_weights():
    a_S, a_G = layer_activations(seed=2)
    layers = [("conv3_1", 0.7), ("conv4_2", 0.25), ("conv1_1", 0.05)]
    expected = sum(w * compute_layer_style_cost(a_S[name], a_G[name]).numpy() for name, w in layers)
    np.testing.assert_allclose(compute_style_cost(a_S, a_G, layers).numpy(), expected, rtol=RTOL)
    only_one = compute_style_cost(a_S, a_G, [("conv2_1", 1.0)])
    expected_one = compute_layer_style_cost(a_S["conv2_1"], a_G["conv2_1"])
    np.testing.assert_allclose(only_one.numpy(), expected_one.numpy(), rtol=RTOL)
    assert compute_style_cost(a_S, a_G, []).numpy() == 0.0


def test_missing_style_layer_is_named():
    a_S, a_G = layer_activations(seed=4)
    with pytest.raises(KeyError, match="conv9_9"):
        compute_style_cost(a_S, a_G, [("conv9_9", 1.0)])


def test_wrong_shapes_fail_loudly():
    with pytest.raises(ValueError):
        compute_content_cost(tf.zeros([4, 4, 3]), tf.zeros([4, 4, 3]))
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError)):
        compute_content_cost(tf.zeros([2, 4, 4, 3]), tf.zeros([2, 4, 4, 3]))
