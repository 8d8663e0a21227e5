"""The options of a run, each declared once, each value checked when an ``Options`` is made.

``Options`` is the declaration: one dataclass field per option, its default, and in its
metadata the help line, the kind of value it takes (``nst.engine.values``: one checker per
kind) and what a checkpoint does with it (``resume``). Everything else derives from it:

- ``Options(...)`` checks every value, typed or as text, and combinations of them, raising
  ``NSTError`` with the command line's one line (``Options(alpha=-1)``: "--alpha -1: must be
  at least 0"). Files are checked when a run starts, since Options may be made where the
  files are not (a Ray head, a moved checkpoint);
- ``DECLARED`` lists the options (flag, help, kind) for every front end: the command line
  (``nst.engine.command_line``), the studio's form, a batch manifest's columns;
- ``record(options)`` is the one JSON form of a run's options (checkpoints, batch results);
  ``settings(options)`` the part a checkpoint checks, ``MUST_MATCH`` what a resumed run must share;
- a *preset* is a set of values for the fields whose default is ``None`` ("as the preset
  says"): ``Options(preset="quality")`` fills them in itself, so the same preset works from
  Python and from the command line, and a value given explicitly always wins.
"""

from dataclasses import dataclass, field, fields
from pathlib import Path

from nst import config
from nst.engine.values import (
    Blend,
    Choice,
    CostFunctions,
    File,
    Files,
    Layer,
    Multiscale,
    Number,
    Size,
    Sizes,
    StyleLayers,
    Switch,
    Whole,
)
from nst.errors import NSTError

PRECISIONS = ("fp32", "bf16", "fp16")  # the network's arithmetic (nst.kernels.precision)
INITS = ("noise", "content", "style", "random")  # starting images (nst.engine.targets.initial_image)
TILE_ALIGN = 16  # --tile: tiles start where VGG19's four 2x2 poolings line up (nst.kernels.tiles)

# Picked at small sizes, by eye, against L-BFGS's speckle. At 1e4 the TV term ends at 20 % of J
# in the gallery's 150x200 quality picture (J_tv 470) and 35 % in the 266x400 cat (J_tv 561).
QUALITY_TV_WEIGHT = 1e4

# The values of the fields whose default is None, per preset. The quality preset starts from the
# exercise's noisy image: at 300x400 its L-BFGS passed the faithful Adam run's J after
# 54 iterations from it, 70 from the content image. A larger L-BFGS memory (30, 50: 52, 51
# iterations), two scales at 300x400 and no TV gained less than the timing noise, so they stay as
# they were. Its network stays float32 (--precision): in bf16 it reached that J in 24-34 % less time
# but ended 100 iterations 12-14 % above float32's J. docs/speed.md has the numbers.
PRESETS = {
    "exercise": {
        "optimizer": "adam",
        "init": "noise",
        "tv_weight": 0.0,
        "iterations": config.ITERATIONS,
        "save_every": config.SAVE_EVERY,
        "animation": "none",
    },
    "quality": {
        "optimizer": "lbfgs",
        "init": "noise",
        "tv_weight": QUALITY_TV_WEIGHT,
        "iterations": 100,
        "save_every": 10,
        "animation": "gif",
    },
}


def option(default, help, kind, resume="setting", group="exercise"):
    """A field of ``Options``: its default, a help line and the kind of value (``nst.engine.values``).

    resume -- "must match": a checkpoint holds the same value; "setting": recorded in the
              checkpoint, may change; None: not recorded (how a run looks, not what it solves)
    group  -- "exercise" or "beyond" (the exercise's own options are listed first)
    """
    return field(default=default, metadata={"help": help, "kind": kind, "resume": resume, "group": group})


def beyond(default, help, kind, resume="setting"):
    """An option beyond the exercise: its default leaves the exercise unchanged (``option``'s group "beyond")."""
    return option(default, help, kind, resume, group="beyond")


@dataclass(frozen=True)
class Options:
    """A run's options; see the module's notes. Every field is ``nst train``'s option of that name.

    Frozen: a changed copy is ``dataclasses.replace(options, seed=1)``, checked like the original.
    """

    # The exercise
    content: Path = option(config.CONTENT_IMAGE, "content image", File(), resume="must match")
    style: tuple = option(
        (config.STYLE_IMAGE,),
        "style image(s); several are blended, see --style-blend",
        Files(),
        resume="must match",
    )
    output_dir: Path = option(config.OUTPUT_DIR, "where images and losses are written", File(), resume=None)
    iterations: int = option(None, "number of optimisation steps", Whole(1), resume=None)
    alpha: float = option(config.ALPHA, "content weight", Number(0))
    beta: float = option(config.BETA, "style weight", Number(0))
    learning_rate: float = option(config.LEARNING_RATE, "Adam's step size, in pixel values", Number(0))
    content_layer: str = option(
        config.CONTENT_LAYER, "layer whose activations define content", Layer(), resume="must match"
    )
    style_layers: tuple = option(
        config.STYLE_LAYERS, "NAME:WEIGHT,... layers for the style cost", StyleLayers(), resume="must match"
    )
    noise_ratio: float = option(config.NOISE_RATIO, "share of noise in the initial image", Number(0, 1))
    seed: int | None = option(None, "seed for the noise image (default: random)", Whole())
    size: Size = option(
        Size(config.IMAGE_HEIGHT, config.IMAGE_WIDTH),
        "HEIGHTxWIDTH, or the long side (the content's aspect kept)",
        Sizes(),
        resume="must match",
    )
    save_every: int = option(None, "save output-dir/<i>.png every N iterations", Whole(1), resume=None)
    model: Path | None = option(
        None,
        ".mat or .h5 VGG19 weights (default: the one in pretrained-model/, the .mat first)",
        File(),
        resume=None,
    )
    quiet: bool = option(False, "no progress bar: plain log lines", Switch(), resume=None)
    # Beyond the exercise (every default leaves the exercise unchanged)
    preset: str = beyond(
        "exercise",
        "exercise: the exercise's settings; quality: L-BFGS from the noisy image with a little TV",
        Choice(*PRESETS),
        resume=None,
    )
    costs: object = beyond(
        None,
        "a .py file defining some of the exercise's cost functions, used instead of nst's",
        CostFunctions(),
        resume=None,
    )
    optimizer: str = beyond(
        None,
        "lbfgs: SciPy's L-BFGS-B, fewer and longer iterations",
        Choice("adam", "lbfgs"),
        resume="must match",
    )
    tv_weight: float = beyond(None, "weight of the total-variation cost (smoothness)", Number(0))
    preserve_colors: str = beyond(
        "none",
        "keep the content's colours: transfer luminance only, or match the style's colours first",
        Choice("none", "luminance", "histogram"),
        resume="must match",
    )
    style_blend: tuple = beyond(
        (),
        "W1,W2,... weights of several --style images (default: equal)",
        Blend(),
        resume="must match",
    )
    style_scale: float = beyond(
        1.0,
        "size of the style image relative to the output (larger: bigger brush strokes)",
        Number(0.05, 8),
        resume="must match",
    )
    init: str = beyond(
        None,
        "starting image: the exercise's noisy content, the content, the style, or noise",
        Choice(*INITS),
    )
    multiscale: str = beyond(
        "auto",
        "number of scales, each twice the last (auto: start at a long side of at most 512)",
        Multiscale(),
        resume="must match",
    )
    checkpoint_every: int | None = beyond(
        None,
        "save output-dir/checkpoint.npz every N iterations",
        Whole(1),
        resume=None,
    )
    resume: Path | None = beyond(None, "continue from a checkpoint.npz", File(), resume=None)
    animation: str = beyond(
        None,
        "progress.gif and/or progress.png from the saved iterations",
        Choice("none", "gif", "sheet", "both"),
        resume=None,
    )
    xla: bool = beyond(False, "compile the training step with XLA", Switch(), resume=None)
    precision: str = beyond(
        "fp32", "the network's arithmetic; costs are always float32", Choice(*PRECISIONS), resume=None
    )
    max_memory: float | None = beyond(
        None,
        "GiB the run may take: a scale whose whole image would not fit is optimised in tiles, "
        "the same J and gradient (default: half of this machine's memory)",
        Number(above=0),
        resume=None,
    )
    tile: int | None = beyond(
        None,
        "optimise every scale larger than N x N pixels in tiles of N (a multiple of 16), whatever "
        "the memory; 0: never in tiles",
        Whole(0),
        resume=None,
    )

    def __post_init__(self):
        Choice(*PRESETS).check("--preset", self.preset)
        for name, value in PRESETS[self.preset].items():
            if getattr(self, name) is None:  # not given: the preset's value
                object.__setattr__(self, name, value)
        for declared in DECLARED.values():
            value = getattr(self, declared.name)
            if value is not None:  # None: not set (a seed, a model, a checkpoint...)
                object.__setattr__(self, declared.name, declared.kind.check(declared.flag, value))
        if self.tile is not None and self.tile % TILE_ALIGN:
            raise NSTError(
                f"--tile {self.tile}: must be a multiple of {TILE_ALIGN} (VGG19 pools four times), "
                f"e.g. {-(-self.tile // TILE_ALIGN) * TILE_ALIGN}"
            )
        if self.style_blend and len(self.style_blend) != len(self.style):
            raise NSTError(
                f"--style-blend: {len(self.style_blend)} weights for {len(self.style)} style image(s); "
                "give one per --style"
            )


@dataclass(frozen=True)
class Declared:
    """One option as front ends see it."""

    name: str
    default: object
    help: str
    kind: object  # a checker of nst.engine.values
    resume: str | None
    group: str

    @property
    def flag(self):
        return "--" + self.name.replace("_", "-")

    def from_preset(self):
        """Whether the preset gives this option's default."""
        return self.default is None and any(self.name in values for values in PRESETS.values())


DECLARED = {f.name: Declared(f.name, f.default, **f.metadata) for f in fields(Options)}
MUST_MATCH = tuple(name for name, declared in DECLARED.items() if declared.resume == "must match")


def as_json(value):
    """Option values (or a dict of them) as JSON values: paths resolved, tuples as lists, a Size as
    [H, W] or its long side; so a record read back from JSON compares equal to a fresh one."""
    if isinstance(value, Path):
        return str(value.resolve())
    if isinstance(value, Size):
        return value.record()
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [as_json(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return getattr(value, "source", None) or getattr(value, "__name__", None) or "your functions"  # --costs from Python


def record(options, names=None):
    """The options as JSON values, {name: value}: every option, or those in ``names``."""
    return {name: as_json(getattr(options, name)) for name in DECLARED if names is None or name in names}


def settings(options):
    """What a checkpoint records of ``options``: the options that say what is being solved."""
    return record(options, [name for name, declared in DECLARED.items() if declared.resume is not None])
