"""What a run gives back when it ends, so that a process running many (the studio, a batch
worker, a notebook) stays the same size however many runs, and of whatever sizes, it serves.

Three things kept memory after a run (measured with ``scripts/memory-curve``: one process, 50
runs at 25 sizes up to 384x512, docs/studio.md):

1. TensorFlow's ``tf.custom_gradient`` in a traced function (nst's convolutions' and Gram
   matrices' gradients) registers each call's gradient function in TensorFlow's global
   gradient registry and never removes it. Each holds its traced graph and every constant the
   graph captured (the style targets among them): ~100 MB per run at 384x512, for good.
   ``released()`` removes a run's entries when it ends; the run's graphs are gone by then, and
   nothing computes their gradients again.
2. glibc keeps the memory a run freed in its arenas: ``malloc_trim`` hands it back.
3. oneDNN's allocator keeps a pool as large as the largest run's tensors ever were.
   ``use_system_allocator()`` (long-lived front ends, before TensorFlow is imported) takes
   memory from the system allocator instead: the same numbers, the same speed measured
   (0.81 s/iteration at 300x400 either way).

Runs in threads of one process (the studio's ``--queue 2``) overlap: an entry may only go once
no run still going could own it. Entries are named by TensorFlow's global counter
("CustomGradient-<uid>"), which only grows; a run notes the counter when it starts, so an entry
older than the oldest run still going, made while some run went, is no one's any more.
"""

import contextlib
import ctypes
import math
import os
import sys
import threading

SYSTEM_ALLOCATOR = {"TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "1"}  # the environment of point 3
PREFIX = "CustomGradient-"  # tf.custom_gradient's names for the gradients it registers

_lock = threading.Lock()
_going = {}  # a run's token -> the counter when it started
_ended = []  # (first, last) counter values of ended runs whose entries may still be owned


def use_system_allocator():
    """Have oneDNN take memory from the system allocator rather than keep a pool (see 3 above).

    Only before TensorFlow is imported; returns whether it applies."""
    if "tensorflow" in sys.modules:
        return False
    for name, value in SYSTEM_ALLOCATOR.items():
        os.environ.setdefault(name, value)
    return True


def _registry():
    """TensorFlow's gradient registry as {name: entry}, or None if this TensorFlow keeps it elsewhere."""
    from tensorflow.python.framework import ops

    return getattr(getattr(ops, "_gradient_registry", None), "_registry", None)


def _counter():
    from tensorflow.python.framework import ops

    return ops.uid()


@contextlib.contextmanager
def released():
    """Around one run: when it ends, remove the gradients it registered and give freed memory back."""
    token = object()
    with _lock:
        _going[token] = _counter()
    try:
        yield
    finally:
        with _lock:
            _ended.append((_going.pop(token), _counter()))
            _forget_ended()
        trim()


def _forget_ended():
    """Remove the entries no run still going can own (``_lock`` held)."""
    global _ended
    registry = _registry()
    if registry is None:
        return
    horizon = min(_going.values(), default=math.inf)  # runs still going registered only after this
    for name in list(registry):  # a copy: another thread may be registering
        uid = name[len(PREFIX) :] if name.startswith(PREFIX) else ""
        if uid.isdigit() and int(uid) < horizon and any(a <= int(uid) <= b for a, b in _ended):
            registry.pop(name, None)
    _ended = [(a, b) for a, b in _ended if b >= horizon]


def trim():
    """Return the memory glibc keeps in its arenas to the system (elsewhere: nothing to do)."""
    try:
        ctypes.CDLL(None).malloc_trim(0)  # the process's own symbols: glibc's, where it is the C library
    except (OSError, AttributeError):
        pass
