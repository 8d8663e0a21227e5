"""The VGG19 loader: MatConvNet .mat (both formats) and Keras .h5 into the exercise's graph."""

import numpy as np
import pytest
import scipy.io
import tensorflow as tf
from matconvnet_files import random_conv_weights, vgg19_layer_list, write_matconvnet

from nst.config import CONTENT_IMAGE, MEANS
from nst.errors import NSTError
from nst.images import load_image
from nst.vgg import LAYERS, VGGGraph, load_vgg_model
from nst.vgg_files import CONV_NAMES, read_vgg19_weights

EXERCISE_SHAPES = {
    "input": (1, 300, 400, 3),
    "conv1_1": (1, 300, 400, 64),
    "conv1_2": (1, 300, 400, 64),
    "avgpool1": (1, 150, 200, 64),
    "conv2_1": (1, 150, 200, 128),
    "conv2_2": (1, 150, 200, 128),
    "avgpool2": (1, 75, 100, 128),
    "conv3_1": (1, 75, 100, 256),
    "conv3_2": (1, 75, 100, 256),
    "conv3_3": (1, 75, 100, 256),
    "conv3_4": (1, 75, 100, 256),
    "avgpool3": (1, 38, 50, 256),
    "conv4_1": (1, 38, 50, 512),
    "conv4_2": (1, 38, 50, 512),
    "conv4_3": (1, 38, 50, 512),
    "conv4_4": (1, 38, 50, 512),
    "avgpool4": (1, 19, 25, 512),
    "conv5_1": (1, 19, 25, 512),
    "conv5_2": (1, 19, 25, 512),
    "conv5_3": (1, 19, 25, 512),
    "conv5_4": (1, 19, 25, 512),
    "avgpool5": (1, 10, 13, 512),
}


@pytest.fixture(scope="module")
def synthetic():
    return random_conv_weights(seed=7)


@pytest.fixture(scope="module", params=["current", "beta16"])
def synthetic_mat(request, synthetic, tmp_path_factory):
    path = tmp_path_factory.mktemp(request.param) / "imagenet-vgg-verydeep-19.mat"
    return write_matconvnet(path, synthetic, fmt=request.param)


# --- synthetic MatConvNet files ---------------------------------------------------


def test_synthetic_files_have_the_documented_layout(synthetic_mat):
    contents = scipy.io.loadmat(str(synthetic_mat))
    layers = contents["layers"]
    assert layers.shape == (1, 43)
    conv = layers[0][0][0][0]
    if "meta" in contents:
        assert conv.dtype.names[:3] == ("name", "type", "weights")
        assert conv["weights"][0][1].shape == (64, 1)
        assert np.allclose(contents["meta"]["normalization"][0][0][0][0][2][0][0], MEANS)
    else:
        assert conv.dtype.names == ("weights", "pad", "type", "name", "stride")
        assert conv["weights"][0][1].shape == (1, 64)
        assert np.allclose(np.mean(contents["normalization"][0][0][0], (0, 1)), MEANS)


def test_mat_parses_to_the_written_values(synthetic_mat, synthetic):
    weights = read_vgg19_weights(synthetic_mat)
    assert tuple(weights) == CONV_NAMES  # fc6-fc8 are not kept
    for name in CONV_NAMES:
        W, b = weights[name]
        assert W.dtype == np.float32 and b.shape == (W.shape[3],)
        np.testing.assert_array_equal(W, synthetic[name][0])  # used as stored: no transpose
        np.testing.assert_array_equal(b, synthetic[name][1])


def test_graph_has_the_exercise_keys_and_shapes(synthetic_mat):
    graph = load_vgg_model(synthetic_mat)
    assert list(graph) == list(EXERCISE_SHAPES)
    assert {name: graph.shape(name) for name in graph} == EXERCISE_SHAPES
    assert isinstance(graph["input"], tf.Variable) and graph["input"].dtype == tf.float32
    assert graph["input"].shape == (1, 300, 400, 3)
    printed = repr(graph)
    for name, shape in EXERCISE_SHAPES.items():
        assert f"'{name}'" in printed and str(shape) in printed


def test_graph_computes_conv_bias_relu_and_average_pool(synthetic):
    graph = VGGGraph(random_conv_weights(seed=7), 32, 48)
    image = np.random.default_rng(0).uniform(-120, 120, (1, 32, 48, 3)).astype(np.float32)
    graph["input"].assign(image)
    W, b = synthetic["conv1_1"]
    expected = tf.nn.relu(tf.nn.conv2d(image, W, 1, "SAME") + b)
    np.testing.assert_allclose(graph["conv1_1"], expected, rtol=1e-5, atol=1e-5)
    conv12 = graph["conv1_2"]
    pooled = graph["avgpool1"].numpy()
    np.testing.assert_allclose(pooled[0, 0, 0], conv12[0, :2, :2].numpy().mean(axis=(0, 1)), rtol=1e-5, atol=1e-6)
    assert graph["avgpool5"].shape == (1, 1, 2, 512)


def test_one_forward_pass_gives_every_requested_layer(synthetic):
    graph = VGGGraph(synthetic, 64, 64)
    image = tf.random.uniform((1, 64, 64, 3), -100, 100, seed=1)
    activations = graph.model(["conv4_2", "conv1_1", "conv5_1"])
    first = activations(image)
    activations(image + 1.0)
    assert activations.experimental_get_tracing_count() == 1  # fixed signature: no retracing
    assert set(first) == {"conv4_2", "conv1_1", "conv5_1"}
    graph["input"].assign(image)
    for name in first:
        np.testing.assert_allclose(first[name], graph[name], rtol=1e-5, atol=1e-5)


def test_image_size_is_a_parameter(synthetic):
    graph = VGGGraph(synthetic, 40, 33)
    assert graph.shape("conv1_1") == (1, 40, 33, 64)
    assert graph.shape("avgpool5") == (1, 2, 2, 512)
    graph["input"].assign(tf.zeros((1, 40, 33, 3)))
    assert tuple(graph["avgpool5"].shape) == (1, 2, 2, 512)
    with pytest.raises(NSTError, match="at least 32"):
        VGGGraph(synthetic, 31, 400)


def test_unknown_layer_names_are_refused(synthetic):
    graph = VGGGraph(synthetic, 32, 32)
    with pytest.raises(KeyError):
        graph["conv6_1"]
    with pytest.raises(NSTError, match="unknown layer"):
        graph.model(["conv4_2", "pool9"])


# --- bad files: one clear line ----------------------------------------------------


def _expect(path, *fragments):
    with pytest.raises(NSTError) as info:
        read_vgg19_weights(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    for fragment in fragments:
        assert fragment in message
    return message


def test_missing_file_and_directory(tmp_path):
    _expect(tmp_path / "nope.mat", "no such weights file", "python -m nst.weights")
    _expect(tmp_path, "not a file")


def test_text_and_random_bytes(tmp_path):
    text = tmp_path / "weights.mat"
    text.write_text("these are not weights\n")
    _expect(text, "not a MatConvNet .mat or Keras .h5")
    noise = tmp_path / "noise.h5"
    noise.write_bytes(np.random.default_rng(1).bytes(5000))
    _expect(noise, "not a MatConvNet .mat or Keras .h5")


def test_truncated_mat(synthetic_mat, tmp_path):
    data = synthetic_mat.read_bytes()
    cut = tmp_path / "cut.mat"
    cut.write_bytes(data[: len(data) // 2])
    _expect(cut, "truncated or corrupt")


@pytest.mark.slow
def test_mat_that_is_not_vgg19(synthetic, tmp_path):
    renamed = write_matconvnet(tmp_path / "renamed.mat", synthetic, rename={"conv3_2": "conv3_x"})
    _expect(renamed, "not VGG19", "missing layers conv3_2")
    wrong = dict(synthetic, conv2_1=(np.zeros((3, 3, 64, 64), np.float32), np.zeros(64, np.float32)))
    _expect(write_matconvnet(tmp_path / "wrong.mat", wrong), "not VGG19", "conv2_1")
    short = write_matconvnet(tmp_path / "short.mat", synthetic, layers=vgg19_layer_list()[:10])
    _expect(short, "missing layers")


def test_unknown_matconvnet_format(tmp_path):
    odd = tmp_path / "odd.mat"
    scipy.io.savemat(str(odd), {"net": np.zeros((2, 2))})
    _expect(odd, "unknown MatConvNet format")


def test_corrupt_h5(weights_h5, tmp_path):
    cut = tmp_path / "cut.h5"
    with open(weights_h5, "rb") as f:
        cut.write_bytes(f.read(4_000_000))
    _expect(cut, "truncated or corrupt")


# --- real weights -----------------------------------------------------------------


def test_converted_mat_holds_the_h5_weights(weights_h5, converted_mat):
    assert "converted-from-keras" in converted_mat.name
    from_h5, from_mat = read_vgg19_weights(weights_h5), read_vgg19_weights(converted_mat)
    for name in CONV_NAMES:
        np.testing.assert_array_equal(from_h5[name][0], from_mat[name][0])
        np.testing.assert_array_equal(from_h5[name][1], from_mat[name][1])


@pytest.mark.parametrize("source", ["h5", "mat"])
def test_every_layer_matches_keras_vgg19(source, weights_h5, converted_mat):
    """Our graph with max pooling vs tf.keras.applications.VGG19 on a real photo, caffe preprocessing."""
    height, width = 64, 96  # multiples of 32: SAME and Keras's VALID pooling agree
    keras_vgg = tf.keras.applications.VGG19(weights=str(weights_h5), include_top=False, input_shape=(height, width, 3))
    outputs = [layer.output for layer in keras_vgg.layers[1:]]
    keras_layers = tf.keras.Model(keras_vgg.input, outputs)

    rgb = load_image(CONTENT_IMAGE, height, width) + np.array(MEANS, np.float32)  # real photo, 0..255 RGB
    expected = keras_layers(tf.keras.applications.vgg19.preprocess_input(rgb.copy()))

    path = weights_h5 if source == "h5" else converted_mat
    graph = load_vgg_model(path, height, width, pooling="max")
    ours = graph.forward(rgb - np.array(MEANS, np.float32), graph.layers)
    assert len(graph.layers) == len(expected) == 21
    for name, theirs in zip(graph.layers, expected):
        theirs = theirs.numpy()
        difference = np.abs(ours[name].numpy() - theirs).max() / np.abs(theirs).max()
        assert difference <= 1e-5, (name, difference)


def test_loader_keeps_only_convolutions(weights_h5):
    graph = load_vgg_model(weights_h5, 32, 32)
    assert sorted(graph._weights) == sorted(CONV_NAMES)
    assert list(graph)[1:] == list(LAYERS)
