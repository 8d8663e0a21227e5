"""The exercise's objective J(G) for one level of a run, and the learner's cost functions in it.

``make_objective(level, options, costs)`` gathers what ``nst.train.compute_cost`` needs: the
network's forward pass (up to the deepest layer the costs read), the targets, the weights
and the five cost functions. Every optimiser minimises that one objective: Adam through
``nst.train.train_step``, L-BFGS through the same ``compute_cost``.

``costs`` is a ``Costs``: nst's own functions (``NST_COSTS``), or a learner's where a file
(``--costs my_costs.py``) or a mapping defines them (``load_costs``); ``check_costs`` runs a
learner's once and names any that misbehaves.
"""

import importlib.util
import types
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf

from nst import costs as nst_costs
from nst.costs import total_variation_cost
from nst.errors import NSTError, one_line, require_file
from nst.kernels import tiles
from nst.kernels.folding import style_targets
from nst.kernels.precision import compute_dtype
from nst.train import Objective, compute_cost

# The functions a learner may replace, in the order the exercise builds them.
COST_FUNCTIONS = ("compute_content_cost", "gram_matrix", "compute_layer_style_cost", "compute_style_cost", "total_cost")


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
    require_file(path, f"give a Python file defining some of {', '.join(COST_FUNCTIONS)}")
    spec = importlib.util.spec_from_file_location(f"nst_user_costs_{abs(hash(str(path.resolve())))}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        raise NSTError(f"{path}: line {err.lineno}: {err.msg}; fix the syntax error") from None
    except Exception as err:  # whatever the learner's module raises on import
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


def make_objective(level, options, costs=NST_COSTS):
    """The exercise's ``nst.train.Objective`` at one level of a run (a tiled level: ``tiled_objective``).

    Arguments:
        level -- a ``nst.engine.problem.Level``: the graph at this size, the content target a_C
            and the style activations [(blend weight, {layer: a_S})]
        options -- ``nst.engine.options.Options``: content_layer, style_layers, alpha, beta, tv_weight
        costs -- a ``Costs``: the five functions to call (nst's by default)

    The network's forward pass stops at the deepest layer the costs read; the style targets
    are embedded in the traced step as constants when small enough (``nst.kernels.folding``).
    """
    if level.tile is not None:
        return tiled_objective(level, options, costs)
    terms = objective_terms(options, costs)
    layers = (options.content_layer,) + tuple(name for name, _ in terms["style_layers"])
    level.graph.check_layers(layers)
    return Objective(
        vgg_model_outputs=lambda image: level.graph.forward(image, layers),  # every activation from one pass
        a_C=tf.constant(level.a_C),
        styles=style_targets(level.styles, terms["style_layers"]),
        **terms,
    )


def objective_terms(options, costs):
    """What a run's objective, whole or tiled, takes from its options: the layers, α and β, the cost
    functions and the extra terms (total variation, when --tv-weight is set)."""
    return dict(
        content_layer=options.content_layer,
        style_layers=tuple((name, float(weight)) for name, weight in options.style_layers),
        alpha=float(options.alpha),
        beta=float(options.beta),
        costs=costs,
        extra_terms=(("J_tv", float(options.tv_weight), total_variation_cost),) if options.tv_weight else (),
    )


# A learner's functions a tiled level cannot call: they take whole activations, which it never holds.
WHOLE_IMAGE_FUNCTIONS = ("compute_content_cost", "compute_layer_style_cost", "compute_style_cost")


def tiled_objective(level, options, costs=NST_COSTS):
    """The same J for a level too large to compute whole: a ``nst.kernels.tiles.TiledObjective``.

    Each style image's Gram matrices are summed over tiles here, once, with ``costs.gram_matrix``
    (the learner's, if given, as the tiled cost uses it on G's tiles); total_cost is also the
    learner's. Raises NSTError for a learner's function of whole activations, or float16 (its
    loss scaling holds one tape over the whole image).
    """
    replaced = [name for name in WHOLE_IMAGE_FUNCTIONS if name in costs.replaced]
    _, height, width, _ = level.content.shape
    if replaced:
        raise NSTError(
            f"{costs.source}: {', '.join(replaced)} need the whole image's activations, but the {width}x{height} "
            "scale is optimised in tiles; use a smaller --size, a larger --max-memory, or --tile 0"
        )
    if compute_dtype(options.precision) == tf.float16:
        raise NSTError(
            f"--precision fp16: not in tiles (the {width}x{height} scale is); use fp32 or bf16, a smaller --size, "
            "a larger --max-memory, or --tile 0"
        )
    terms = objective_terms(options, costs)
    weights, images = zip(*level.style_images)
    grams = tiles.style_grams(
        level.graph, images, weights, terms["style_layers"], height, width, costs.gram_matrix, level.tile
    )
    return tiles.TiledObjective(
        graph=level.graph, height=height, width=width, a_C=level.a_C, grams=grams, tile=level.tile,
        jit_compile=options.xla, **terms,
    )  # fmt: skip


def check_costs(level, options, costs, image):
    """Run the cost once, eagerly, with the learner's functions watched; name any that misbehaves.

    Each of ``costs.replaced`` is wrapped: an exception, a result that is not a TensorFlow
    tensor, or a tensor of the wrong shape (gram_matrix: (n_C, n_C); the costs: a scalar)
    raises NSTError naming ``costs.source`` and the function. A J through which no gradient
    reaches the image (NumPy inside a function) is named too. Nothing to do for nst's own.
    """
    if not costs.replaced or level.tile is not None:  # tiled: tiled_objective has checked what it can
        return
    watched = load_costs({name: _watched(name, costs.functions[name], costs.source) for name in costs.replaced})
    objective = make_objective(level, options, watched)
    image = tf.convert_to_tensor(image, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(image)
        J = compute_cost(image, objective)["J"]
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
        except Exception as err:  # the learner's function, whatever it raises
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
