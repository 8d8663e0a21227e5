"""nst's written-out Adam is the exercise's optimizer: same steps as Keras's Adam(epsilon=1e-8)."""

import numpy as np
import tensorflow as tf

from nst.adam import Adam


def test_adam_matches_keras_adam():
    start = np.random.default_rng(0).normal(0, 50, (1, 5, 7, 3)).astype(np.float32)
    ours, theirs = tf.Variable(start), tf.Variable(start)
    adam = Adam(ours, learning_rate=2.0)
    keras_adam = tf.keras.optimizers.Adam(learning_rate=2.0, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    target = tf.constant(np.random.default_rng(1).normal(0, 50, start.shape).astype(np.float32))
    for _ in range(25):
        for var, step in ((ours, adam.apply), (theirs, lambda g: keras_adam.apply_gradients([(g, theirs)]))):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(var - target) * tf.abs(var))
            step(tape.gradient(loss, var))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-4)
    assert float(adam.t.numpy()) == 25


def test_state_round_trip():
    var = tf.Variable(tf.ones((1, 2, 2, 3)))
    adam = Adam(var)
    adam.apply(tf.fill((1, 2, 2, 3), 0.5))
    state = adam.state()
    other = Adam(tf.Variable(tf.ones((1, 2, 2, 3))))
    other.load_state(state)
    for key in ("m", "v", "t"):
        np.testing.assert_array_equal(other.state()[key], state[key])
