"""What a run gives back when it ends (nst.engine.release): the gradients TensorFlow registered for
its traced custom gradients, also when runs overlap in threads. The memory itself over many runs is
a benchmark (scripts/memory-curve, docs/studio.md)."""

import gc
import weakref

import pytest

tf = pytest.importorskip("tensorflow")

from nst.engine import release  # noqa: E402  (after TensorFlow, which the test needs)


def custom_gradients():
    return {name for name in release._registry() if name.startswith(release.PREFIX)}


def trace_a_step():
    """A traced step with a tf.custom_gradient, as nst's steps have; returns its graph (weakly)."""
    big = tf.constant(tf.ones((256, 256)))  # a constant the graph captures, as style targets are

    @tf.custom_gradient
    def scaled(x):
        return x * big, lambda dy: dy * big

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(scaled(x))
        return tape.gradient(y, x)

    x = tf.ones((256, 256))
    assert float(step(x)[0, 0]) == 1.0
    return weakref.ref(step.get_concrete_function(x).graph)


def test_a_run_leaves_no_custom_gradient_behind_and_its_graph_goes():
    before = custom_gradients()
    with release.released():
        graph = trace_a_step()
        assert len(custom_gradients() - before) == 1
    assert custom_gradients() == before
    gc.collect()
    assert graph() is None  # nothing holds the traced graph (and what it captured) any more


def test_overlapping_runs_keep_what_a_run_still_going_may_own():
    before = custom_gradients()
    first = release.released()
    first.__enter__()
    trace_a_step()
    mine = custom_gradients() - before
    second = release.released()  # a second run starts in another thread, as with nst app --queue 2
    second.__enter__()
    trace_a_step()
    theirs = custom_gradients() - before - mine
    first.__exit__(None, None, None)
    assert custom_gradients() - before == theirs  # the first's went; the second's may be in use
    second.__exit__(None, None, None)
    assert custom_gradients() == before


def test_the_system_allocator_only_before_tensorflow_starts(monkeypatch):
    monkeypatch.delenv("TF_ONEDNN_USE_SYSTEM_ALLOCATOR", raising=False)
    assert release.use_system_allocator() is False  # TensorFlow is loaded here: too late to apply
