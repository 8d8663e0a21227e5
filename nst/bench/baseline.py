"""The benchmark's yardsticks: the textbook step, the machine's matmul speed, the FLOP count.

``make_baseline_step`` is neural style transfer written the textbook way, as the
TensorFlow tutorials write it: ``tf.keras.applications.VGG19`` cut down to a sub-model
returning the needed layers, the Gram matrix by ``tf.einsum``, ``tf.keras.optimizers.Adam``
and one ``tf.function`` for the step. Keras's VGG19 is the original network, so it
max-pools where nst's default average-pools; both do the same convolutions, so their
step times compare (with ``pooling="max"`` nst computes the baseline's J exactly, which
tests/test_bench.py checks). Keras expects BGR minus the mean pixel: nst's normalised
image (RGB minus MEANS) with its channels reversed.
"""

import statistics
import time

import tensorflow as tf

from nst import config
from nst.vgg_files import CONV_SHAPES

KERAS_NAMES = {
    "conv1_1": "block1_conv1",
    "conv2_1": "block2_conv1",
    "conv3_1": "block3_conv1",
    "conv4_1": "block4_conv1",
    "conv4_2": "block4_conv2",
    "conv5_1": "block5_conv1",
}


def keras_extractor(weights_path, height, width, layers):
    """A Keras model image (1, H, W, 3) BGR-minus-mean -> [activation of each of ``layers``]."""
    vgg = tf.keras.applications.VGG19(include_top=False, weights=str(weights_path), input_shape=(height, width, 3))
    vgg.trainable = False
    return tf.keras.Model(vgg.input, [vgg.get_layer(KERAS_NAMES[name]).output for name in layers])


def gram(a):
    return tf.einsum("bijc,bijd->bcd", a, a)


def make_baseline_step(weights_path, content, style, generated):
    """The tutorial's train step for the exercise's problem (content conv4_2, the five style
    layers at 0.2, alpha 10, beta 40, Adam 2.0) on ``generated`` (1, H, W, 3); returns
    (step, image variable).

    content, style, generated: nst's normalised images (RGB minus MEANS), float32.
    """
    content_layer, style_layers = config.CONTENT_LAYER, config.STYLE_LAYERS
    alpha, beta, learning_rate = config.ALPHA, config.BETA, config.LEARNING_RATE
    _, height, width, _ = generated.shape
    names = [content_layer] + [name for name, _ in style_layers]
    extractor = keras_extractor(weights_path, height, width, names)
    to_bgr = lambda x: tf.reverse(x, axis=[-1])  # noqa: E731
    a_C = extractor(to_bgr(content))[0]
    G_S = [gram(a) for a in extractor(to_bgr(style))[1:]]
    weights = [float(w) for _, w in style_layers]
    image = tf.Variable(generated)
    optimizer = tf.keras.optimizers.Adam(learning_rate)

    def norm(a):
        _, h, w, c = a.shape
        return float(h * w * c)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            outputs = extractor(to_bgr(image))
            a_G = outputs[0]
            J_content = tf.reduce_sum(tf.square(a_G - a_C)) / (4.0 * norm(a_G))
            J_style = tf.add_n(
                [
                    w * tf.reduce_sum(tf.square(gram(a) - G)) / (4.0 * norm(a) ** 2)
                    for w, a, G in zip(weights, outputs[1:], G_S)
                ]
            )
            J = alpha * J_content + beta * J_style
        optimizer.apply_gradients([(tape.gradient(J, image), image)])
        return J

    return step, image


def conv_gflop(height, width, deepest="conv5_1", same_pooling=True):
    """GFLOP of one step's convolutions: forward + input gradient, 2·H·W·9·Cin·Cout each, up to ``deepest``.

    nst pools with SAME padding (75 rows -> 38); Keras's VGG19 with VALID (75 -> 37).
    """
    total, h, w = 0, height, width
    for name, (kh, kw, c_in, c_out) in CONV_SHAPES.items():
        if name.endswith("_1") and name != "conv1_1":  # the pooling before each block
            h, w = (-(-h // 2), -(-w // 2)) if same_pooling else (h // 2, w // 2)
        total += 2 * (2 * h * w * kh * kw * c_in * c_out)
        if name == deepest:
            return total / 1e9
    raise ValueError(deepest)


def matmul_gflops(n=4096, repeats=3):
    """The machine's float32 matmul speed: (GFLOP per second, GFLOP per CPU-second), median of ``repeats``.

    The second number does not depend on how many cores other processes leave free.
    """
    a, b = tf.random.normal((n, n)), tf.random.normal((n, n))
    product = tf.function(lambda: tf.linalg.matmul(a, b))
    product().numpy()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        product().numpy()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return 2 * n**3 / statistics.median(walls) / 1e9, 2 * n**3 / statistics.median(cpus) / 1e9
