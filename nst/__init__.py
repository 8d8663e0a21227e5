"""nst: the "Art Generation with Neural Style Transfer" exercise in TensorFlow 2.

Modules, in the order the exercise meets them:

- ``nst.config``   the exercise's numbers (image size, MEANS, layers, alpha, beta, ...)
- ``nst.weights``  fetch and verify the pretrained VGG19 weights (``python -m nst.weights``)
- ``nst.vgg``      ``load_vgg_model``: the weights as the exercise's graph of layers
- ``nst.costs``    content cost, Gram matrix, style cost, total cost
- ``nst.images``   read, crop, resize, normalise and save images; the noise image
- ``nst.train``    the Adam loop and the ``python -m nst.train`` command
"""

import os

# TensorFlow's C++ start-up notices (oneDNN, CPU features) are not for users; set
# TF_CPP_MIN_LOG_LEVEL yourself to see them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
