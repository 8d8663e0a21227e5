"""The options of ``nst train``, each declared once.

``Options`` is the declaration: one dataclass field per option, its default, and in its
metadata the command line's help, how a value is read and checked (``parse`` or
``choices``), and what a checkpoint does with it (``resume``). The argument parser, the
checkpoint's settings and the presets are all derived from it:

- ``build_parser()`` makes one ``--flag`` per field, so ``nst train --help`` lists them all;
- ``settings(options)`` is what a checkpoint records; ``MUST_MATCH`` the settings a
  resumed run must share with it (they define the problem being solved);
- a *preset* is a set of values for the fields whose default is ``None`` ("as the preset
  says"): ``Options(preset="quality")`` fills them in itself, so the same preset works from
  Python and from the command line, and a value given explicitly always wins.
"""

import argparse
import json
import re
import sys
import textwrap
from dataclasses import dataclass, field, fields
from pathlib import Path

from nst import config
from nst.errors import NSTError
from nst.runtime import PRECISIONS
from nst.targets import INITS
from nst.vgg import LAYERS, MIN_SIZE

# Picked at small sizes, by eye, against L-BFGS's speckle. At 1e4 the TV term ends at 20 % of J
# in the README's 150x200 quality picture (J_tv 470) and 35 % in the 266x400 cat (J_tv 561).
QUALITY_TV_WEIGHT = 1e4

# The values of the fields whose default is None, per preset. The quality preset starts from the
# exercise's noisy image: at 300x400 (issue 17) its L-BFGS passed the faithful Adam run's J after
# 54 iterations from it, 70 from the content image. A larger L-BFGS memory (30, 50: 52, 51
# iterations), two scales at 300x400 and no TV gained less than the timing noise, so they stay as
# they were; the README's "Time to quality" has the numbers.
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


# --- reading and checking one value ---------------------------------------------------


def parse_size(text):
    """'300x400' -> (300, 400); '1024' -> 1024, the long side (the content's aspect is kept)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX×]\s*(\d+)\s*)?", str(text))
    if not match:
        raise NSTError(f"--size {text!r}: expected HEIGHTxWIDTH (e.g. 300x400) or a long side (e.g. 1024)")
    sides = [int(side) for side in match.groups() if side is not None]
    if min(sides) < MIN_SIZE:
        raise NSTError(f"--size {text}: each side must be at least {MIN_SIZE} pixels (VGG19 pools 5 times)")
    return tuple(sides) if len(sides) == 2 else sides[0]


def parse_multiscale(text):
    """'auto' or a number of scales (1: off)."""
    if text == "auto":
        return text
    return str(positive_int("--multiscale")(text))


def parse_blend(text):
    """'0.7,0.3' -> (0.7, 0.3)."""
    return tuple(number("--style-blend", 0)(part) for part in text.split(",") if part.strip())


def parse_style_layers(text):
    """'conv1_1:0.2,conv2_1:0.2' -> (('conv1_1', 0.2), ('conv2_1', 0.2))."""
    layers = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, weight = item.partition(":")
        name = name.strip()
        if name not in LAYERS:
            raise NSTError(f"--style-layers: unknown layer {name!r}; choose from {', '.join(LAYERS)}")
        try:
            value = float(weight) if weight else None
        except ValueError:
            value = None
        if value is None or value != value or value in (float("inf"), float("-inf")):
            raise NSTError(
                f"--style-layers: weight of {name} is {weight!r}, not a number; write NAME:WEIGHT, e.g. conv1_1:0.2"
            )
        layers.append((name, value))
    if not layers:
        raise NSTError("--style-layers: no layers given; write e.g. conv1_1:0.2,conv2_1:0.2")
    return tuple(layers)


def positive_int(flag):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise NSTError(f"{flag} {text!r}: not a whole number") from None
        if value < 1:
            raise NSTError(f"{flag} {text}: must be at least 1")
        return value

    return parse


def number(flag, minimum=None, maximum=None):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise NSTError(f"{flag} {text!r}: not a number") from None
        if value != value or abs(value) == float("inf"):
            raise NSTError(f"{flag} {text}: must be a finite number")
        if minimum is not None and value < minimum or maximum is not None and value > maximum:
            bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            raise NSTError(f"{flag} {text}: must be {bounds}")
        return value

    return parse


def parse_layer(text):
    if text not in LAYERS:
        raise NSTError(f"--content-layer: unknown layer {text!r}; choose from {', '.join(LAYERS)}")
    return text


def style_layers_text(layers):
    return ",".join(f"{name}:{weight:g}" for name, weight in layers)


# --- the declaration ---------------------------------------------------------------------


def option(default, help, parse=None, choices=None, many=False, flag=False, resume="setting", group="exercise"):
    """A field of ``Options`` with its command-line form.

    parse   -- text -> value, raising NSTError (argparse's ``type``)
    choices -- the allowed values
    many    -- takes one or more values (``nargs="+"``); flag: a switch without a value
    resume  -- "must match": a checkpoint holds the same value; "setting": recorded in the
               checkpoint, may change; None: not recorded (how a run looks, not what it solves)
    group   -- "exercise" or "beyond" (the exercise's own options are listed first)
    """
    metadata = {"help": help, "parse": parse, "choices": choices, "many": many, "flag": flag, "resume": resume}
    return field(default=default, metadata={**metadata, "group": group})


def _preset(name):
    return f"the preset's: {', '.join(f'{preset} {values[name]}' for preset, values in PRESETS.items())}"


@dataclass
class Options:
    # The exercise
    content: Path = option(config.CONTENT_IMAGE, "content image", parse=Path, resume="must match")
    style: tuple = option(
        (config.STYLE_IMAGE,),
        "style image(s); several are blended, see --style-blend",
        parse=Path,
        many=True,
        resume="must match",
    )
    output_dir: Path = option(config.OUTPUT_DIR, "where images and losses are written", parse=Path, resume=None)
    iterations: int = option(None, "number of optimisation steps", parse=positive_int("--iterations"), resume=None)
    alpha: float = option(config.ALPHA, "content weight", parse=number("--alpha", 0))
    beta: float = option(config.BETA, "style weight", parse=number("--beta", 0))
    learning_rate: float = option(
        config.LEARNING_RATE, "Adam's step size, in pixel values", parse=number("--learning-rate", 0)
    )
    content_layer: str = option(
        config.CONTENT_LAYER, "layer whose activations define content", parse=parse_layer, resume="must match"
    )
    style_layers: tuple = option(
        config.STYLE_LAYERS, "NAME:WEIGHT,... layers for the style cost", parse=parse_style_layers, resume="must match"
    )
    noise_ratio: float = option(
        config.NOISE_RATIO, "share of noise in the initial image", parse=number("--noise-ratio", 0, 1)
    )
    seed: int | None = option(None, "seed for the noise image (default: random)", parse=int)
    size: tuple | int = option(
        (config.IMAGE_HEIGHT, config.IMAGE_WIDTH),
        "HEIGHTxWIDTH, or the long side (the content's aspect kept)",
        parse=parse_size,
        resume="must match",
    )
    save_every: int = option(
        None, "save output-dir/<i>.png every N iterations", parse=positive_int("--save-every"), resume=None
    )
    model: Path | None = option(
        None,
        ".mat or .h5 VGG19 weights (default: the one in pretrained-model/, the .mat first)",
        parse=Path,
        resume=None,
    )
    quiet: bool = option(False, "no progress bar: plain log lines", flag=True, resume=None)
    # Beyond the exercise (every default leaves the exercise unchanged)
    preset: str = option(
        "exercise",
        "exercise: the exercise's settings; quality: L-BFGS from the noisy image with a little TV",
        choices=tuple(PRESETS),
        resume=None,
        group="beyond",
    )
    costs: object = option(
        None,
        "a .py file defining some of the exercise's cost functions, used instead of nst's",
        parse=Path,
        resume=None,
        group="beyond",
    )
    optimizer: str = option(
        None,
        "lbfgs: SciPy's L-BFGS-B, fewer and longer iterations",
        choices=("adam", "lbfgs"),
        resume="must match",
        group="beyond",
    )
    tv_weight: float = option(
        None, "weight of the total-variation cost (smoothness)", parse=number("--tv-weight", 0), group="beyond"
    )
    preserve_colors: str = option(
        "none",
        "keep the content's colours: transfer luminance only, or match the style's colours first",
        choices=("none", "luminance", "histogram"),
        resume="must match",
        group="beyond",
    )
    style_blend: tuple = option(
        (),
        "W1,W2,... weights of several --style images (default: equal)",
        parse=parse_blend,
        resume="must match",
        group="beyond",
    )
    style_scale: float = option(
        1.0,
        "size of the style image relative to the output (larger: bigger brush strokes)",
        parse=number("--style-scale", 0.05, 8),
        resume="must match",
        group="beyond",
    )
    init: str = option(
        None,
        "starting image: the exercise's noisy content, the content, the style, or noise",
        choices=INITS,
        group="beyond",
    )
    multiscale: str = option(
        "auto",
        "number of scales, each twice the last (auto: start at a long side of at most 512)",
        parse=parse_multiscale,
        resume="must match",
        group="beyond",
    )
    checkpoint_every: int | None = option(
        None,
        "save output-dir/checkpoint.npz every N iterations",
        parse=positive_int("--checkpoint-every"),
        resume=None,
        group="beyond",
    )
    resume: Path | None = option(None, "continue from a checkpoint.npz", parse=Path, resume=None, group="beyond")
    animation: str = option(
        None,
        "progress.gif and/or progress.png from the saved iterations",
        choices=("none", "gif", "sheet", "both"),
        resume=None,
        group="beyond",
    )
    xla: bool = option(False, "compile the training step with XLA", flag=True, resume=None, group="beyond")
    precision: str = option(
        "fp32",
        "the network's arithmetic; costs are always summed in float32",
        choices=tuple(PRECISIONS),
        resume=None,
        group="beyond",
    )

    def __post_init__(self):
        if self.preset not in PRESETS:
            raise NSTError(f"preset {self.preset!r}: choose from {', '.join(PRESETS)}")
        for name, value in PRESETS[self.preset].items():
            if getattr(self, name) is None:  # not given: the preset's value
                setattr(self, name, value)
        # From Python a single path is as good as a tuple of one.
        self.style = (self.style,) if isinstance(self.style, (str, Path)) else tuple(self.style)
        self.content, self.output_dir = Path(self.content), Path(self.output_dir)


MUST_MATCH = tuple(f.name for f in fields(Options) if f.metadata["resume"] == "must match")


def settings(options):
    """What a checkpoint records of ``options``: JSON-ready, paths resolved, tuples as lists."""
    recorded = {}
    for f in fields(Options):
        if f.metadata["resume"] is None:
            continue
        value = getattr(options, f.name)
        if f.name == "content":
            value = str(Path(value).resolve())
        elif f.name == "style":
            value = [str(Path(path).resolve()) for path in value]
        recorded[f.name] = value
    return json.loads(json.dumps(recorded))  # tuples become lists, as they come back from a checkpoint


# --- the command line --------------------------------------------------------------------


class _Formatter(argparse.HelpFormatter):
    def _split_lines(self, text, width):  # keep long defaults such as the style layers whole
        return textwrap.wrap(" ".join(text.split()), width, break_long_words=False)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump, exit 2 via NSTError
        raise NSTError(f"{message}; see `nst train --help`")


def _default_text(f):
    if f.default is None and any(f.name in values for values in PRESETS.values()):
        return _preset(f.name)
    if f.name == "style_layers":
        return style_layers_text(f.default)
    if f.name == "size":
        return "x".join(map(str, f.default))
    if f.default in (None, (), False):
        return None
    values = f.default if isinstance(f.default, tuple) else (f.default,)
    return " ".join(str(_relative(value)) for value in values)


def _relative(value):
    """A path inside the repository as the README writes it (images/..., output)."""
    if isinstance(value, Path) and value.is_relative_to(config.ROOT):
        return value.relative_to(config.ROOT)
    return value


def build_parser(prog="nst train"):
    """The argument parser, one ``--flag`` per field of ``Options``.

    Every default is ``argparse.SUPPRESS``: only the options written on the command line
    reach ``Options``, which fills in the rest (its defaults and the preset's values).
    """
    parser = _Parser(
        prog=prog,
        description="Neural style transfer, as in the exercise: paint CONTENT in the style of STYLE.",
        formatter_class=_Formatter,
        argument_default=argparse.SUPPRESS,
    )
    groups = {"exercise": parser, "beyond": parser.add_argument_group("beyond the exercise")}
    for f in fields(Options):
        meta, flag = f.metadata, "--" + f.name.replace("_", "-")
        default = _default_text(f)
        help_text = meta["help"] + (f" (default: {default})" if default else "")
        if meta["flag"]:
            groups[meta["group"]].add_argument(flag, action="store_true", help=help_text)
            continue
        kwargs = {"type": meta["parse"], "choices": meta["choices"], "help": help_text}
        if meta["many"]:
            kwargs["nargs"] = "+"
        groups[meta["group"]].add_argument(flag, metavar=f.name.upper() if not meta["choices"] else None, **kwargs)
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return parser


def parse_args(argv=None):
    """Command line -> Options. Raises NSTError with one line for any bad value."""
    argv = list(sys.argv[1:] if argv is None else argv)
    values = vars(build_parser().parse_args(argv))
    values.pop("debug", None)  # read by nst.errors.run_cli from argv, not an option of the run
    if "style" in values:
        values["style"] = tuple(values["style"])
    return Options(**values)
