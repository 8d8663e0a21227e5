"""How the computation runs: threads, precision and XLA, as plain switches.

None of these changes what is computed, only how:

- ``configure_threads(intra, inter)``: TensorFlow's thread pools. They must be set
  before TensorFlow runs its first operation; call this first thing in ``main``.
- ``PRECISIONS``: the network's compute dtype for ``load_vgg_model(..., dtype=...)``.
  The image, its gradient, Adam and every cost stay float32 (the costs cast the
  activations up), so only the VGG19 passes run in the reduced precision.
  bf16 runs anywhere; fp16 is meant for GPUs (tensor cores).
- XLA is ``Options(xla=True)`` (``--xla``): Adam's traced step is compiled with ``jit_compile=True``.

A GPU needs no switch: TensorFlow places the operations on it when it sees one. But
``pip install tensorflow`` alone brings no CUDA libraries, so on a machine with an NVIDIA
GPU it quietly runs on the CPU; ``describe_device`` (the run's first line) says so and how
to fix it (``pip install -e .[gpu]``, TensorFlow's ``and-cuda`` extra).
"""

import os
import shutil

import tensorflow as tf

from nst.errors import NSTError

PRECISIONS = {"fp32": tf.float32, "bf16": tf.bfloat16, "fp16": tf.float16}


def compute_dtype(precision):
    """'fp32' | 'bf16' | 'fp16' -> the tf.DType for ``load_vgg_model``."""
    try:
        return PRECISIONS[precision]
    except KeyError:
        raise NSTError(f"precision {precision!r}: choose from {', '.join(PRECISIONS)}") from None


def configure_threads(intra=None, inter=None):
    """Set TensorFlow's intra-op and inter-op thread counts (None or 0: TensorFlow's default).

    Raises NSTError if TensorFlow has already started its runtime, when the setting
    would silently not apply.
    """
    threading = tf.config.threading
    try:
        # Asking for what is already set is no change, even after TensorFlow has started.
        if intra is not None and int(intra) != threading.get_intra_op_parallelism_threads():
            threading.set_intra_op_parallelism_threads(int(intra))
        if inter is not None and int(inter) != threading.get_inter_op_parallelism_threads():
            threading.set_inter_op_parallelism_threads(int(inter))
    except RuntimeError as err:
        raise NSTError(f"thread settings must come before TensorFlow's first operation ({err})") from None


def describe_threads():
    """{'intra': n, 'inter': n}; 0 means TensorFlow's default (one thread per core)."""
    return {
        "intra": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def nvidia_driver_present():
    """Whether this machine has an NVIDIA driver (its /proc entry, or nvidia-smi on the PATH)."""
    return os.path.exists("/proc/driver/nvidia/version") or shutil.which("nvidia-smi") is not None


def describe_device():
    """Where training runs, for the run's first line; with a fix when a GPU goes unused."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return f"GPU ({len(gpus)} found)"
    if nvidia_driver_present():
        return (
            "CPU: this machine has an NVIDIA driver, but TensorFlow found no GPU (its CUDA libraries are "
            "missing); `pip install -e .[gpu]` installs them"
        )
    return "CPU (TensorFlow sees no GPU)"


def onednn_enabled():
    """Whether TensorFlow's oneDNN (MKL) CPU kernels are on: env TF_ENABLE_ONEDNN_OPTS, before import."""
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return None


def peak_rss_mb():
    """This process's peak resident memory in MB.

    Linux's VmHWM, which starts afresh at exec; ``ru_maxrss`` (the fallback elsewhere)
    would start from the resident size of the parent that forked the process.
    """
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
