"""nst: the "Art Generation with Neural Style Transfer" exercise in TensorFlow 2.

The top of the package is the exercise, in the order a learner meets it:

- ``nst.config``   the exercise's settings (image size, MEANS, layers, alpha, beta, ...)
- ``nst.weights``  the pretrained VGG19 weights: fetch and verify them (``nst weights``)
- ``nst.vgg``      ``load_vgg_model``: the weights as the exercise's graph of layers
                   (``nst.vgg_files`` reads the .mat and .h5 files)
- ``nst.images``   read, crop, resize, normalise and save images; the noise image
- ``nst.costs``    content cost, Gram matrix, style cost, total cost (and total variation)
- ``nst.adam``     Adam, written out
- ``nst.train``    ``compute_cost`` (J(G)) and ``train_step``, the exercise's iteration;
                   ``nst.train.run(Options(...))`` a whole run (``nst.options.Options``)

Everything else lives in rooms below it, each importing only the rooms under it:

- ``nst.engine``     the run behind every front end: options, problem, objective, optimisers,
                     L-BFGS, report, checkpoints, outputs, animation, colour
- ``nst.kernels``    the same numbers faster or in less memory: Winograd, bands, folding, precision
- ``nst.frontends``  the ``nst`` command, the web studio, the batch runner
- ``nst.teaching``   the student edition, the grader and ``nst grade``
- ``nst.bench``      timings against a textbook baseline

``import nst`` itself is light: it loads no TensorFlow. When something does, TensorFlow's
start-up notices are held back (see ``_QuietTensorFlow``).
"""

import importlib.abc
import importlib.machinery
import os
import sys
import tempfile

from nst.errors import debugging

__version__ = "0.1.0"


class _QuietTensorFlow(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import TensorFlow, the first time anything does, with its C++ start-up lines held back.

    TensorFlow 2.21 logs through absl before absl is initialised, so TF_CPP_MIN_LOG_LEVEL
    no longer hides its start-up notices ("oneDNN custom operations are on", "Could not
    find cuda drivers", each printed twice). They are information, not errors, and they
    come before nst's own first line. So file descriptor 2 points at a temporary file
    while TensorFlow loads; if the import fails, what it printed is shown with the error.
    ``--debug`` (or NST_DEBUG=1) shows everything.
    """

    def find_spec(self, name, path, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: the real import below finds TensorFlow as usual
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None:
            self.loader, spec.loader = spec.loader, self
        return spec

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader  # TensorFlow's own, as if found directly
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the messages logged after start-up
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all (some services): nothing to hide
            return self.loader.exec_module(module)
        with tempfile.TemporaryFile() as held:
            sys.stderr.flush()
            os.dup2(held.fileno(), 2)
            try:
                self.loader.exec_module(module)
            except BaseException:
                os.dup2(saved, 2)
                held.seek(0)
                sys.stderr.write(held.read().decode(errors="replace"))
                raise
            finally:
                os.dup2(saved, 2)
                os.close(saved)


if not debugging() and "tensorflow" not in sys.modules:
    sys.meta_path.insert(0, _QuietTensorFlow())
