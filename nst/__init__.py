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
import sys

# TensorFlow's C++ start-up log (oneDNN notices, CUDA probing on machines without a GPU)
# is not for users: real problems reach them as Python exceptions. `--debug` or your own
# TF_CPP_MIN_LOG_LEVEL brings it back.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if "--debug" in sys.argv else "3")

__version__ = "0.1.0"
