"""train_step's yardstick: the exercise's cost J(G) of an image, computed by the checker itself.

A train step's J and the image it leaves behind come from the learner's kernel; on their own they
prove nothing (a function that returns 2, then 1, and nudges the image would look like a step).
So the check also computes J itself, with nst's own functions and its own VGG19, for the image
before the step and the one after it: the step's J must be that cost, and the step must lower it.

``ReferenceCost(content_image, style_image)`` is J(G) = α·J_content + β·J_style with the exercise's
layers and weights, a_C and a_S from those two images (1, H, W, 3) (RGB minus MEANS); calling it
on an image G of the same size gives J(G) as a float. Graphs are made once per size and shared by
the threads of ``nst grade --jobs``.
"""

import threading

import numpy as np

from nst.config import CONTENT_IMAGE, CONTENT_LAYER, STYLE_IMAGE, STYLE_LAYERS

ANCHOR_RTOL = 1e-3  # the learner's J against the checker's: float32, the same network and images
MAX_SIDE = 1024  # a notebook's image larger than this is not the exercise's: its own images are not used
_lock = threading.Lock()
_models = {}  # (H, W) -> VGG19's tf.function for the exercise's layers at that size


def _model(height, width):
    from nst.kernels import FastKernels
    from nst.vgg import load_vgg_model
    from nst.weights import find_model

    with _lock:
        if (height, width) not in _models:
            graph = load_vgg_model(find_model(), height, width, kernels=FastKernels)
            _models[height, width] = graph.model([CONTENT_LAYER] + [name for name, _ in STYLE_LAYERS])
        return _models[height, width]


def image_size(shape):
    """(H, W) of an image shape (1, H, W, 3) the checker can use, else None."""
    if shape is None or len(shape) != 4 or shape[0] != 1 or shape[3] != 3:
        return None
    height, width = shape[1:3]
    return (height, width) if 32 <= height <= MAX_SIDE and 32 <= width <= MAX_SIDE else None


def exercise_image(path, height, width):
    from nst.images import load_image

    return load_image(path, height, width)


class ReferenceCost:
    """J(G) of the exercise for one pair of images; ``cost(G)`` is a float."""

    def __init__(self, content_image, style_image):
        import tensorflow as tf

        from nst.train import Objective

        content = np.asarray(content_image, np.float32)
        height, width = image_size(content.shape)
        self.model = _model(height, width)
        a_C = self.model(tf.constant(content))[CONTENT_LAYER]
        a_S = self.model(tf.constant(np.asarray(style_image, np.float32)))
        self.objective = Objective(self.model, a_C, ((1.0, a_S),))

    def __call__(self, image):
        import tensorflow as tf

        from nst.train import compute_cost

        return float(compute_cost(tf.constant(np.asarray(image, np.float32)), self.objective)["J"])


def notebook_images(content_image, style_image, shape):
    """The content and style images to measure J with, for a generated image of ``shape``.

    The notebook's own (a learner may have chosen other pictures) when they are images of that size,
    else the exercise's pictures at that size; None when ``shape`` is not an image's.
    """
    size = image_size(shape)
    if size is None:
        return None
    chosen = []
    for given, path in ((content_image, CONTENT_IMAGE), (style_image, STYLE_IMAGE)):
        usable = given is not None and given.shape == (1, *size, 3) and np.all(np.isfinite(given))
        chosen.append(given if usable else exercise_image(path, *size))
    return tuple(chosen)
