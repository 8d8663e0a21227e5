"""The options of ``python -m nst.train``, as data.

``Options`` holds every setting with the exercise's value as its default;
``parse_args`` fills it from the command line and checks each value, so a bad one
stops the run before anything is loaded, with one line saying what to change.
"""

import argparse
import re
import textwrap
from dataclasses import dataclass, fields
from pathlib import Path

from nst import config
from nst.errors import NSTError
from nst.vgg import LAYERS, MIN_SIZE


@dataclass
class Options:
    content: Path = config.CONTENT_IMAGE
    style: Path = config.STYLE_IMAGE
    output_dir: Path = config.OUTPUT_DIR
    iterations: int = config.ITERATIONS
    alpha: float = config.ALPHA
    beta: float = config.BETA
    learning_rate: float = config.LEARNING_RATE
    content_layer: str = config.CONTENT_LAYER
    style_layers: tuple = config.STYLE_LAYERS
    noise_ratio: float = config.NOISE_RATIO
    seed: int | None = None
    size: tuple = (config.IMAGE_HEIGHT, config.IMAGE_WIDTH)
    save_every: int = config.SAVE_EVERY
    model: Path | None = None  # None: whichever weights are in pretrained-model/
    quiet: bool = False
    debug: bool = False


def parse_size(text):
    """'300x400' -> (300, 400). Each side at least MIN_SIZE."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not match:
        raise NSTError(f"--size {text!r}: expected HEIGHTxWIDTH, e.g. 300x400")
    height, width = int(match[1]), int(match[2])
    if min(height, width) < MIN_SIZE:
        raise NSTError(f"--size {text}: each side must be at least {MIN_SIZE} pixels (VGG19 pools 5 times)")
    return height, width


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
            raise NSTError(f"--style-layers: weight of {name} is {weight!r}, not a number; write NAME:WEIGHT, "
                           "e.g. conv1_1:0.2")
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
    p = _Parser(prog="python -m nst.train",
                description="Neural style transfer, as in the exercise: paint CONTENT in the style of STYLE.",
                formatter_class=_Formatter)
    p.add_argument("--content", type=Path, default=d.content, help="content image")
    p.add_argument("--style", type=Path, default=d.style, help="style image")
    p.add_argument("--output-dir", type=Path, default=d.output_dir, help="where images and losses are written")
    p.add_argument("--iterations", type=_positive_int("--iterations"), default=d.iterations,
                   help="number of optimisation steps")
    p.add_argument("--alpha", type=_number("--alpha", 0), default=d.alpha, help="content weight")
    p.add_argument("--beta", type=_number("--beta", 0), default=d.beta, help="style weight")
    p.add_argument("--learning-rate", type=_number("--learning-rate", 0), default=d.learning_rate,
                   help="Adam's step size, in pixel values")
    p.add_argument("--content-layer", type=_layer, default=d.content_layer,
                   help="layer whose activations define content")
    p.add_argument("--style-layers", type=parse_style_layers, default=_style_text(d.style_layers),
                   help="NAME:WEIGHT,... layers for the style cost")
    p.add_argument("--noise-ratio", type=_number("--noise-ratio", 0, 1), default=d.noise_ratio,
                   help="share of noise in the initial image")
    p.add_argument("--seed", type=int, default=d.seed, help="seed for the noise image (default: random)")
    p.add_argument("--size", type=parse_size, default="x".join(map(str, d.size)), help="HEIGHTxWIDTH")
    p.add_argument("--save-every", type=_positive_int("--save-every"), default=d.save_every,
                   help="save output/<i>.png every N iterations")
    p.add_argument("--model", type=Path, default=None,
                   help=".mat or .h5 VGG19 weights (default: the one in pretrained-model/, the .mat first)")
    p.add_argument("--quiet", action="store_true", help="no progress bar: plain log lines")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return p


def parse_args(argv=None):
    """Command line -> Options. Raises NSTError with one line for any bad value."""
    args = build_parser().parse_args(argv)
    values = vars(args)
    names = {f.name for f in fields(Options)}
    return Options(**{k: v for k, v in values.items() if k in names})
