"""The options of ``python -m nst.train``, as data.

``Options`` holds every setting with the exercise's value as its default;
``parse_args`` fills it from the command line and checks each value, so a bad one
stops the run before anything is loaded, with one line saying what to change.
"""

import argparse
import re
import sys
import textwrap
from dataclasses import dataclass, fields
from pathlib import Path

from nst import config
from nst.errors import NSTError
from nst.runtime import PRECISIONS
from nst.targets import INITS
from nst.vgg import LAYERS, MIN_SIZE

# Picked at small sizes, by eye, against L-BFGS's speckle. At 1e4 the TV term ends at 20 % of J
# in the README's 150x200 quality picture (J_tv 470) and 35 % in the 266x400 cat (J_tv 561).
QUALITY_TV_WEIGHT = 1e4


@dataclass
class Options:
    # The exercise
    content: Path = config.CONTENT_IMAGE
    style: tuple = (config.STYLE_IMAGE,)
    output_dir: Path = config.OUTPUT_DIR
    iterations: int = config.ITERATIONS
    alpha: float = config.ALPHA
    beta: float = config.BETA
    learning_rate: float = config.LEARNING_RATE
    content_layer: str = config.CONTENT_LAYER
    style_layers: tuple = config.STYLE_LAYERS
    noise_ratio: float = config.NOISE_RATIO
    seed: int | None = None
    size: tuple | int = (config.IMAGE_HEIGHT, config.IMAGE_WIDTH)  # (H, W), or the long side
    save_every: int = config.SAVE_EVERY
    model: Path | None = None  # None: whichever weights are in pretrained-model/
    quiet: bool = False
    debug: bool = False
    # Beyond the exercise (every default leaves the exercise unchanged)
    preset: str = "exercise"
    optimizer: str = "adam"
    tv_weight: float = 0.0
    preserve_colors: str = "none"
    style_blend: tuple = ()
    style_scale: float = 1.0
    init: str = "noise"
    multiscale: str = "auto"
    checkpoint_every: int | None = None
    resume: Path | None = None
    animation: str = "none"
    xla: bool = False
    precision: str = "fp32"


# A preset is a set of option values; options given on the command line win over it.
PRESETS = {
    "exercise": {},
    "quality": {
        "optimizer": "lbfgs",
        "init": "content",
        "tv_weight": QUALITY_TV_WEIGHT,
        "iterations": 100,
        "save_every": 10,
        "animation": "gif",
    },
}


def parse_size(text):
    """'300x400' -> (300, 400); '1024' -> 1024, the long side (the content's aspect is kept)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX×]\s*(\d+)\s*)?", text)
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
    return str(_positive_int("--multiscale")(text))


def parse_blend(text):
    """'0.7,0.3' -> (0.7, 0.3)."""
    return tuple(_number("--style-blend", 0)(part) for part in text.split(",") if part.strip())


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


def _positive_int(flag):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise NSTError(f"{flag} {text!r}: not a whole number") from None
        if value < 1:
            raise NSTError(f"{flag} {text}: must be at least 1")
        return value

    return parse


def _number(flag, minimum=None, maximum=None):
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


def _layer(text):
    if text not in LAYERS:
        raise NSTError(f"--content-layer: unknown layer {text!r}; choose from {', '.join(LAYERS)}")
    return text


def _style_text(layers):
    return ",".join(f"{name}:{weight:g}" for name, weight in layers)


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    def _split_lines(self, text, width):  # keep long defaults such as the style layers whole
        return textwrap.wrap(" ".join(text.split()), width, break_long_words=False)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump, exit 2 via NSTError
        raise NSTError(f"{message}; see `python -m nst.train --help`")


def build_parser():
    d = Options()
    p = _Parser(
        prog="python -m nst.train",
        description="Neural style transfer, as in the exercise: paint CONTENT in the style of STYLE.",
        formatter_class=_Formatter,
    )
    p.add_argument("--content", type=Path, default=d.content, help="content image")
    p.add_argument(
        "--style",
        type=Path,
        nargs="+",
        default=list(d.style),
        help="style image(s); several are blended, see --style-blend",
    )
    p.add_argument("--output-dir", type=Path, default=d.output_dir, help="where images and losses are written")
    p.add_argument(
        "--iterations", type=_positive_int("--iterations"), default=d.iterations, help="number of optimisation steps"
    )
    p.add_argument("--alpha", type=_number("--alpha", 0), default=d.alpha, help="content weight")
    p.add_argument("--beta", type=_number("--beta", 0), default=d.beta, help="style weight")
    p.add_argument(
        "--learning-rate",
        type=_number("--learning-rate", 0),
        default=d.learning_rate,
        help="Adam's step size, in pixel values",
    )
    p.add_argument(
        "--content-layer", type=_layer, default=d.content_layer, help="layer whose activations define content"
    )
    p.add_argument(
        "--style-layers",
        type=parse_style_layers,
        default=_style_text(d.style_layers),
        help="NAME:WEIGHT,... layers for the style cost",
    )
    p.add_argument(
        "--noise-ratio",
        type=_number("--noise-ratio", 0, 1),
        default=d.noise_ratio,
        help="share of noise in the initial image",
    )
    p.add_argument("--seed", type=int, default=d.seed, help="seed for the noise image (default: random)")
    p.add_argument("--size", type=parse_size, default="x".join(map(str, d.size)), help="HEIGHTxWIDTH")
    p.add_argument(
        "--save-every",
        type=_positive_int("--save-every"),
        default=d.save_every,
        help="save output/<i>.png every N iterations",
    )
    p.add_argument(
        "--model",
        type=Path,
        default=None,
        help=".mat or .h5 VGG19 weights (default: the one in pretrained-model/, the .mat first)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar: plain log lines")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")

    beyond = p.add_argument_group("beyond the exercise")
    beyond.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=d.preset,
        help="exercise: the exercise's settings; quality: " + _preset_text("quality"),
    )
    beyond.add_argument(
        "--optimizer",
        choices=["adam", "lbfgs"],
        default=d.optimizer,
        help="lbfgs: SciPy's L-BFGS-B, fewer and longer iterations",
    )
    beyond.add_argument(
        "--tv-weight",
        type=_number("--tv-weight", 0),
        default=d.tv_weight,
        help="weight of the total-variation cost (smoothness)",
    )
    beyond.add_argument(
        "--preserve-colors",
        choices=["none", "luminance", "histogram"],
        default=d.preserve_colors,
        help="keep the content's colours: transfer luminance only, or match the style's colours first",
    )
    beyond.add_argument(
        "--style-blend",
        type=parse_blend,
        default=d.style_blend,
        help="W1,W2,... weights of several --style images (default: equal)",
    )
    beyond.add_argument(
        "--style-scale",
        type=_number("--style-scale", 0.05, 8),
        default=d.style_scale,
        help="size of the style image relative to the output (larger: bigger brush strokes)",
    )
    beyond.add_argument(
        "--init",
        choices=INITS,
        default=d.init,
        help="starting image: the exercise's noisy content, the content, the style, or noise",
    )
    beyond.add_argument(
        "--multiscale",
        type=parse_multiscale,
        default=d.multiscale,
        help="number of scales, each twice the last (auto: start at a long side of at most 512)",
    )
    beyond.add_argument(
        "--checkpoint-every",
        type=_positive_int("--checkpoint-every"),
        default=d.checkpoint_every,
        help="save output-dir/checkpoint.npz every N iterations",
    )
    beyond.add_argument("--resume", type=Path, default=d.resume, help="continue from a checkpoint.npz")
    beyond.add_argument(
        "--animation",
        choices=["none", "gif", "sheet", "both"],
        default=d.animation,
        help="progress.gif and/or progress.png from the saved iterations",
    )
    beyond.add_argument("--xla", action="store_true", help="compile the training step with XLA")
    beyond.add_argument(
        "--precision",
        choices=list(PRECISIONS),
        default=d.precision,
        help="the network's arithmetic; costs are always summed in float32",
    )
    return p


def _preset_text(name):
    return ", ".join(f"--{key.replace('_', '-')} {value}" for key, value in PRESETS[name].items())


def _given(parser, argv):
    """The destinations of the options written on the command line."""
    written = {arg.split("=")[0] for arg in argv if arg.startswith("--")}
    return {action.dest for action in parser._actions if written & set(action.option_strings)}


def parse_args(argv=None):
    """Command line -> Options. Raises NSTError with one line for any bad value."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    values = vars(parser.parse_args(argv))
    given = _given(parser, argv)
    for key, value in PRESETS[values["preset"]].items():
        if key not in given:
            values[key] = value
    values["style"] = tuple(values["style"])
    names = {f.name for f in fields(Options)}
    return Options(**{k: v for k, v in values.items() if k in names})
