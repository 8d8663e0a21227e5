"""The function being minimised, built once per scale from the exercise's functions.

    J(G) = total_cost(compute_content_cost(a_C, a_G[content layer]),
                      compute_style_cost(a_S, a_G, style layers), alpha, beta)
           [+ tv_weight · J_tv(G)]

``make_cost(scale, options, costs)`` returns ``cost(G) -> {"J", "J_content", "J_style"[, "J_tv"]}``:
one forward pass of G through VGG19 (up to the deepest layer the costs read), then exactly
the five functions a learner writes, found in ``costs``. Every optimiser takes that one
closure: ``make_gradient`` differentiates it for Adam's step and for L-BFGS alike.

``costs`` is a ``Costs``: nst's own functions (``NST_COSTS``), or a learner's where a file
(``--costs my_costs.py``) or a mapping defines them (``load_costs``).
"""

import importlib.util
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from nst import costs as nst_costs
from nst.costs import total_variation_cost
from nst.errors import NSTError, one_line

# The functions a learner may replace, in the order the exercise builds them.
COST_FUNCTIONS = ("compute_content_cost", "gram_matrix", "compute_layer_style_cost", "compute_style_cost", "total_cost")

# Style activations embedded in the step as constants up to this many bytes in all, so that
# TensorFlow computes their Gram matrices once (constant folding): the exercise's 300x400 has
# 58 MB of them. Above it they are passed by reference and gram(a_S) is recomputed at every step
# (about 4 GFLOP at 300x400, 3.5 % of a step, measured). Why a limit: TensorFlow keeps about 13
# copies of an embedded constant (measured: +397 MB for one 30.7 MB array; +553 MB of resident
# memory for the default run's 58 MB); 512x512's 127 MB would by that count cost ~1.6 GB.
FOLD_LIMIT_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Costs:
    """The five cost functions training calls, and where each came from."""

    functions: dict  # name -> function, for every name in COST_FUNCTIONS
    source: str = "nst"  # "nst", a file's path, or "your functions" for a mapping
    replaced: tuple = field(default=())  # the names the source defined

    def __getattr__(self, name):
        try:
            return self.functions[name]
        except KeyError:
            raise AttributeError(name) from None

    def describe(self):
        """One line for the run's log: which functions are whose."""
        if not self.replaced:
            return "cost functions: nst's"
        kept = [name for name in COST_FUNCTIONS if name not in self.replaced]
        return f"cost functions from {self.source}: {', '.join(self.replaced)}" + (
            f"; nst's: {', '.join(kept)}" if kept else ""
        )


NST_COSTS = Costs({name: getattr(nst_costs, name) for name in COST_FUNCTIONS})


def load_costs(source=None):
    """A ``Costs`` from a .py file, a mapping or module of functions, or None (nst's own).

    Each of COST_FUNCTIONS that ``source`` defines replaces nst's; the others stay nst's.
    nst's functions call each other by name (compute_style_cost calls compute_layer_style_cost,
    which calls gram_matrix), so the ones kept are *relinked*: copies whose names resolve to
    the learner's versions, which keeps a learner's ``gram_matrix`` in use inside nst's
    ``compute_layer_style_cost``. Raises NSTError for a file that does not import or defines
    none of them.
    """
    if source is None:
        return NST_COSTS
    if isinstance(source, Costs):
        return source
    if isinstance(source, (str, Path)):
        label, given = str(source), _functions_in_file(Path(source))
    else:
        label = getattr(source, "__file__", None) or "your functions"
        names = source.keys() if isinstance(source, dict) else dir(source)
        get = source.get if isinstance(source, dict) else lambda name: getattr(source, name, None)
        given = {name: get(name) for name in COST_FUNCTIONS if name in names and get(name) is not None}
    for name, function in given.items():
        if not callable(function):
            raise NSTError(f"{label}: {name} is a {type(function).__name__}, not a function; define it with def")
    if not given:
        raise NSTError(
            f"{label}: defines none of {', '.join(COST_FUNCTIONS)}; define at least one of them (same names and "
            "arguments as nst.costs)"
        )
    functions = {name: given.get(name) or _relinked(getattr(nst_costs, name)) for name in COST_FUNCTIONS}
    for name in COST_FUNCTIONS:
        if name not in given and isinstance(functions[name], types.FunctionType):
            functions[name].__globals__.update(functions)  # its collaborators: the learner's where given
    replaced = tuple(name for name in COST_FUNCTIONS if name in given)
    return Costs(functions, label, replaced)


def _functions_in_file(path):
    """Import a learner's .py file by path; {name: function} for the COST_FUNCTIONS it defines."""
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "no such file"
        raise NSTError(f"{path}: {what}; give a Python file defining some of {', '.join(COST_FUNCTIONS)}")
    spec = importlib.util.spec_from_file_location(f"nst_user_costs_{abs(hash(str(path.resolve())))}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        raise NSTError(f"{path}: line {err.lineno}: {err.msg}; fix the syntax error") from None
    except Exception as err:  # noqa: BLE001 - whatever the learner's module raises on import
        raise NSTError(f"{path}: does not import ({type(err).__name__}: {one_line(err)}); fix it and retry") from None
    return {name: getattr(module, name) for name in COST_FUNCTIONS if hasattr(module, name)}


def _relinked(function):
    """A copy of nst's ``function`` with its own copy of its module's globals, for ``load_costs``
    to point the cost-function names in; a decorated function (gram_matrix, for its custom
    gradient) calls no cost function and is returned as it is."""
    if not isinstance(function, types.FunctionType):
        return function
    copy = types.FunctionType(function.__code__, dict(function.__globals__), function.__name__, function.__defaults__)
    copy.__doc__, copy.__kwdefaults__ = function.__doc__, function.__kwdefaults__
    return copy


def make_cost(scale, options, costs=NST_COSTS):
    """cost(G: (1, H, W, 3)) -> {"J", "J_content", "J_style"[, "J_tv"]}, scalar float32 tensors.

    Arguments:
        scale -- a ``nst.stylize.Scale``: the graph at this size, the content target a_C and
            the style activations [(blend weight, {layer: a_S})]
        options -- ``nst.options.Options``: content_layer, style_layers, alpha, beta, tv_weight
        costs -- a ``Costs``: the five functions to call (nst's by default)

    Several style images: J_style = Σ_k w_k · compute_style_cost(a_S_k, a_G, style_layers).
    The style activations become constants inside the traced step (below FOLD_LIMIT_BYTES),
    so TensorFlow computes their half of each style cost, gram(a_S), once.
    """
    style_layers = tuple((name, float(weight)) for name, weight in options.style_layers)
    layers = (options.content_layer,) + tuple(name for name, _ in style_layers)
    scale.graph.check_layers(layers)
    alpha, beta, tv_weight = float(options.alpha), float(options.beta), float(options.tv_weight)
    styles = [(float(w), {name: np.asarray(a[name]) for name, _ in style_layers}) for w, a in scale.styles]
    fold = sum(a.nbytes for _, a_S in styles for a in a_S.values()) <= FOLD_LIMIT_BYTES
    if not fold:  # captured by reference: one copy in TensorFlow's memory, shared by every trace
        styles = [(w, {name: tf.constant(a) for name, a in a_S.items()}) for w, a_S in styles]
    a_C = tf.constant(scale.a_C)

    def cost(image):
        a_G = scale.graph.forward(image, layers)  # every activation from one pass
        J_content = costs.compute_content_cost(a_C, a_G[options.content_layer])
        J_style = 0.0
        for weight, a_S in styles:
            a_S = {name: tf.constant(a) for name, a in a_S.items()} if fold else a_S
            J_style += weight * costs.compute_style_cost(a_S, a_G, style_layers)
        J = costs.total_cost(J_content, J_style, alpha, beta)
        terms = {"J": J, "J_content": J_content, "J_style": J_style}
        if tv_weight:  # decided in Python: without TV the traced graph is exactly the exercise's J
            terms["J_tv"] = total_variation_cost(image)
            terms["J"] = J + tv_weight * terms["J_tv"]
        return terms

    return cost


def check_costs(scale, options, costs, image):
    """Run the cost once, eagerly, with the learner's functions watched; name any that misbehaves.

    Each of ``costs.replaced`` is wrapped: an exception, a result that is not a TensorFlow
    tensor, or a tensor of the wrong shape (gram_matrix: (n_C, n_C); the costs: a scalar)
    raises NSTError naming ``costs.source`` and the function. A J through which no gradient
    reaches the image (NumPy inside a function) is named too. Nothing to do for nst's own.
    """
    if not costs.replaced:
        return
    watched = load_costs({name: _watched(name, costs.functions[name], costs.source) for name in costs.replaced})
    cost = make_cost(scale, options, watched)
    image = tf.convert_to_tensor(image, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(image)
        J = cost(image)["J"]
    if tape.gradient(J, image) is None:
        raise NSTError(
            f"{costs.source}: no gradient reaches the image through {', '.join(costs.replaced)}; "
            "use TensorFlow operations (tf.*) inside them, not NumPy or Python floats"
        )


def _watched(name, function, source):
    """``function`` with its exceptions and result shape turned into one NSTError line."""

    def watched(*args, **kwargs):
        try:
            result = function(*args, **kwargs)
        except NSTError:
            raise
        except Exception as err:  # noqa: BLE001 - the learner's function, whatever it raises
            raise NSTError(f"{source}: {name} raised {type(err).__name__}: {one_line(err)}") from None
        if not tf.is_tensor(result):
            raise NSTError(f"{source}: {name} returned a {type(result).__name__}, not a TensorFlow tensor")
        if name == "gram_matrix":
            n_C = args[0].shape[0]
            expected, what = (n_C, n_C), f"(n_C, n_C) = ({n_C}, {n_C}) for A of shape {tuple(args[0].shape)}"
        else:
            expected, what = (), "a scalar, shape ()"
        if tuple(result.shape) != expected:
            raise NSTError(f"{source}: {name} returned shape {tuple(result.shape)}; expected {what}")
        return result

    return watched


# float16 loss scaling: start here, halve on overflow, double again after this many good calls.
FP16_INITIAL_SCALE = 1.0
FP16_GROWTH_INTERVAL = 100
FP16_MAX_HALVINGS = 30


def make_gradient(cost, compute_dtype=tf.float32):
    """gradient(G) -> (terms, ∂J/∂G) for ``cost``'s terms dict, for use inside a ``tf.function``.

    In float16 the backward pass through VGG19 overflows (float16 stops at 65504; at
    the exercise's J ~ 1e9 the first unscaled step leaves NaN pixels). So with a
    float16 network the gradient is taken of s·J and divided by s (dynamic loss
    scaling): when it comes out NaN or infinite, s is halved and the pass repeated (at
    most FP16_MAX_HALVINGS times); after FP16_GROWTH_INTERVAL good calls s doubles, up
    to 1. J itself is summed in float32 and never scaled. Other dtypes take the plain
    gradient.
    """

    def plain(image, scale=None):
        with tf.GradientTape() as tape:
            tape.watch(image)
            terms = cost(image)
            scaled = terms["J"] if scale is None else terms["J"] * scale
        grad = tape.gradient(scaled, image)
        return terms, (grad if scale is None else grad / scale)

    if tf.as_dtype(compute_dtype) != tf.float16:
        return plain

    scale = tf.Variable(FP16_INITIAL_SCALE, trainable=False, dtype=tf.float32)
    good_calls = tf.Variable(0, trainable=False, dtype=tf.int32)

    def scaled(image):
        terms, grad = plain(image, scale)
        halvings = 0
        while not tf.reduce_all(tf.math.is_finite(grad)) and halvings < FP16_MAX_HALVINGS:
            scale.assign(scale * 0.5)
            good_calls.assign(0)
            terms, grad = plain(image, scale)
            halvings += 1
        good_calls.assign_add(1)
        if good_calls >= FP16_GROWTH_INTERVAL:
            scale.assign(tf.minimum(scale * 2.0, 1.0))
            good_calls.assign(0)
        return terms, grad

    scaled.scale = scale  # for tests and curious users
    return scaled
