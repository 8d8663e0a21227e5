"""Where and how the computation runs: the device, TensorFlow's threads, the memory it took.

None of these changes what is computed, only how:

- ``configure_threads(intra, inter)``: TensorFlow's thread pools. They must be set
  before TensorFlow runs its first operation; call this first thing in ``main``.
- the network's precision is ``--precision`` (``nst.kernels.precision``), XLA is ``--xla``
  (Adam's traced step compiled with ``jit_compile=True``).

A GPU needs no switch: TensorFlow places the operations on it when it sees one. But
``pip install tensorflow`` alone brings no CUDA libraries, so on a machine with an NVIDIA
GPU it quietly runs on the CPU; ``describe_device`` (the run's first line) says so and how
to fix it (``pip install -e .[gpu]``, TensorFlow's ``and-cuda`` extra).
"""

import os
import shutil

import tensorflow as tf

from nst.errors import NSTError


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
