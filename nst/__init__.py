"""nst: the "Art Generation with Neural Style Transfer" exercise in TensorFlow 2.

Modules, in the order the exercise meets them:

- ``nst.config``     the exercise's numbers (image size, MEANS, layers, alpha, beta, ...)
- ``nst.weights``    fetch and verify the pretrained VGG19 weights (``nst weights``)
- ``nst.vgg``        ``load_vgg_model``: the weights as the exercise's graph of layers
- ``nst.costs``      content cost, Gram matrix, style cost, total cost, total variation
- ``nst.images``     read, crop, resize, normalise and save images; the noise image
- ``nst.objective``  the cost closure J(G) built from those functions, and its gradient
- ``nst.train``      ``run(options, on_iteration, should_stop)`` and ``nst train``

Beyond the exercise: ``nst.options`` (every option, declared once), ``nst.stylize`` and
``nst.targets`` (sizes, scales, targets), ``nst.optimize`` (Adam and L-BFGS), ``nst.lbfgs``,
``nst.color``, ``nst.checkpoint``, ``nst.animation``, ``nst.report``, ``nst.outputs`` (the
files a run writes), ``nst.bench`` and ``nst.cli`` (the ``nst`` command).

Front ends, all driving ``nst.train.run``: ``nst.app`` (the web studio), ``nst.batch`` (many
runs on Ray); and for teaching: ``nst.grader`` (checks that name a learner's mistake),
``nst.exercise`` (the student edition) and ``nst.grade`` (grade a submission).
"""

import os
import sys
import tempfile

__version__ = "0.1.0"

DEBUG = "--debug" in sys.argv or bool(os.environ.get("NST_DEBUG"))


def _import_tensorflow_quietly():
    """Import TensorFlow with its C++ start-up lines held back.

    TensorFlow 2.21 logs through absl before absl is initialised, so TF_CPP_MIN_LOG_LEVEL
    no longer hides its start-up notices ("oneDNN custom operations are on", "Could not
    find cuda drivers", each printed twice). They are information, not errors, and they
    come before nst's own first line. So file descriptor 2 points at a temporary file
    while TensorFlow loads; if the import fails, what it printed is shown with the error.
    ``--debug`` (or NST_DEBUG=1) shows everything.
    """
    if DEBUG or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the messages logged after start-up
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all (some services): nothing to hide
        return
    with tempfile.TemporaryFile() as held:
        sys.stderr.flush()
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


_import_tensorflow_quietly()
