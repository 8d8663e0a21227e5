"""One checker per kind of option value: typed values and their text, checked the same way.

Each kind turns a value into its one type, or raises ``NSTError`` with the command line's
one line (``--alpha -1: must be at least 0``), whether the value came typed (from Python,
the studio's form, a batch manifest's cell) or as text (the command line):

    Number(0).check("--alpha", -1)        -> NSTError: --alpha -1: must be at least 0
    Number(0).check("--alpha", "0.5")     -> 0.5
    SIZE.check("--size", (300, 400))      -> Size(300, 400)

``text(value)`` writes a value back the way the command line spells it (for help texts and the
studio's fields), never to be parsed again. ``Size`` is the one type for an output size.
"""

import math
import re
from dataclasses import dataclass
from pathlib import Path

from nst.errors import NSTError
from nst.vgg_files import LAYERS, MIN_SIZE


def _number(flag, value, what="a number"):
    """value as a float: a real number, or text of one; bools are not numbers."""
    if isinstance(value, bool):
        raise NSTError(f"{flag} {value}: not {what}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise NSTError(f"{flag} {value!r}: not {what}") from None


class Number:
    """A finite float, optionally at least ``minimum``, at most ``maximum``, or strictly ``above`` a bound."""

    def __init__(self, minimum=None, maximum=None, above=None):
        self.minimum, self.maximum, self.above = minimum, maximum, above

    def check(self, flag, value):
        number = _number(flag, value)
        shown = value if isinstance(value, str) else _text_of_number(number)
        if not math.isfinite(number):
            raise NSTError(f"{flag} {shown}: must be a finite number")
        return _within(self, flag, number, shown)

    def text(self, value):
        return str(value)


def _within(kind, flag, number, shown):
    """number, if it is within the kind's bounds (minimum, maximum, above); else NSTError."""
    low, high = kind.minimum, kind.maximum
    if low is not None and number < low or high is not None and number > high:
        bounds = (
            f"between {low} and {high}"
            if low is not None and high is not None
            else (f"at least {low}" if low is not None else f"at most {high}")
        )
        raise NSTError(f"{flag} {shown}: must be {bounds}")
    if kind.above is not None and not number > kind.above:
        raise NSTError(f"{flag} {shown}: must be above {kind.above}")
    return number


def _text_of_number(value):
    """200.0 -> '200', 0.5 -> '0.5', 1e-08 -> '1e-08'."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


class Whole:
    """A whole number (an int, or a float or text holding one), within the bounds given (as ``Number``'s)."""

    def __init__(self, minimum=None, maximum=None, above=None):
        self.minimum, self.maximum, self.above = minimum, maximum, above

    def check(self, flag, value):
        if isinstance(value, str):
            try:
                number = int(value.strip())
            except ValueError:
                raise NSTError(f"{flag} {value!r}: not a whole number") from None
        else:
            number = _number(flag, value, "a whole number")
            if not number.is_integer():
                raise NSTError(f"{flag} {value}: not a whole number")
            number = int(number)
        return _within(self, flag, number, number)

    def text(self, value):
        return str(value)


class Choice:
    """One of a few names."""

    def __init__(self, *choices):
        self.choices = tuple(choices)

    def check(self, flag, value):
        if value not in self.choices:
            raise NSTError(f"{flag} {value!r}: choose from {', '.join(self.choices)}")
        return value

    def text(self, value):
        return str(value)


class Switch:
    """On or off: a bool, or text such as a manifest cell holds (true/false, yes/no, 1/0, on/off, x)."""

    TRUE, FALSE = {"1", "true", "yes", "on", "x"}, {"0", "false", "no", "off", ""}

    def check(self, flag, value):
        if isinstance(value, str):
            if value.strip().lower() in self.TRUE:
                return True
            if value.strip().lower() in self.FALSE:
                return False
            raise NSTError(f"{flag} {value!r}: write true or false")
        if isinstance(value, bool):
            return value
        raise NSTError(f"{flag} {value!r}: must be true or false")

    def text(self, value):
        return "true" if value else "false"


class File:
    """A path (text or a Path); whether the file is there is checked when a run starts."""

    def check(self, flag, value):
        if isinstance(value, (str, Path)) and str(value).strip():
            return Path(value)
        raise NSTError(f"{flag} {value!r}: must be the path of a file")

    def text(self, value):
        return str(value)


class Files:
    """One or more paths: a tuple of Path (one path alone is a tuple of one)."""

    def check(self, flag, value):
        values = [value] if isinstance(value, (str, Path)) else list(value)
        if not values:
            raise NSTError(f"{flag}: no file given; give at least one")
        return tuple(File().check(flag, v) for v in values)

    def text(self, value):
        return " ".join(map(str, value))


class Layer:
    """The name of one of VGG19's layers."""

    def check(self, flag, value):
        if value not in LAYERS:
            raise NSTError(f"{flag}: unknown layer {value!r}; choose from {', '.join(LAYERS)}")
        return value

    def text(self, value):
        return value


class StyleLayers:
    """((layer, weight), ...): text 'conv1_1:0.2,conv2_1:0.2', or pairs (lists from JSON too)."""

    def check(self, flag, value):
        if isinstance(value, str):
            value = [self._pair(flag, item) for item in value.split(",") if item.strip()]
        pairs = []
        for pair in value:
            try:
                name, weight = pair
            except (TypeError, ValueError):
                raise NSTError(f"{flag}: {pair!r} is not a (layer, weight) pair") from None
            Layer().check(flag, name)
            try:
                weight = float(weight) if not isinstance(weight, bool) else math.nan
            except (TypeError, ValueError):
                weight = math.nan
            if not math.isfinite(weight):
                raise NSTError(
                    f"{flag}: weight of {name} is {pair[1]!r}, not a number; write NAME:WEIGHT, e.g. conv1_1:0.2"
                )
            pairs.append((name, weight))
        if not pairs:
            raise NSTError(f"{flag}: no layers given; write e.g. conv1_1:0.2,conv2_1:0.2")
        return tuple(pairs)

    @staticmethod
    def _pair(flag, item):
        name, _, weight = item.partition(":")
        return name.strip(), weight.strip()

    def text(self, value):
        return ",".join(f"{name}:{weight:g}" for name, weight in value)


class Blend:
    """Non-negative weights, not all zero: text '0.7,0.3' or numbers; () is "equal"."""

    def check(self, flag, value):
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        weights = tuple(Number(0).check(flag, w) for w in value)
        if weights and sum(weights) <= 0:
            raise NSTError(f"{flag}: weights must be non-negative and not all zero")
        return weights

    def text(self, value):
        return ",".join(_text_of_number(w) for w in value)


class Span:
    """A part of a sequence: text 'A:B' (from A up to, not including, B; 'A:' to the end, ':B' from 0),
    or a pair (A, B or None). Checked into (A, B or None), whole numbers with 0 ≤ A < B."""

    def check(self, flag, value):
        if isinstance(value, str):
            match = re.fullmatch(r"\s*(\d*)\s*:\s*(\d*)\s*", value)
            if not match:
                raise NSTError(f"{flag} {value!r}: expected A:B (from A up to B, not including B), A: or :B, e.g. 0:48")
            value = (match[1] or 0, match[2] or None)
        try:
            first, stop = value
        except (TypeError, ValueError):
            raise NSTError(f"{flag} {value!r}: expected A:B, e.g. 0:48") from None
        first = Whole(0).check(flag, first)
        stop = None if stop is None else Whole(0).check(flag, stop)
        if stop is not None and stop <= first:
            raise NSTError(f"{flag} {self.text((first, stop))}: the end must come after the start")
        return first, stop

    def text(self, value):
        return f"{value[0]}:{'' if value[1] is None else value[1]}"


class Multiscale:
    """'auto', or a number of scales (1: off), kept as text ('3') as checkpoints record it."""

    def check(self, flag, value):
        if value == "auto":
            return value
        return str(Whole(1).check(flag, value))

    def text(self, value):
        return value


@dataclass(frozen=True)
class Size:
    """An output size: HEIGHT x WIDTH, or only the long side (``Size(long_side=1024)``),
    the other side then following the content image's aspect ratio. Each side ≥ 32."""

    height: int | None = None
    width: int | None = None
    long_side: int | None = None

    def __post_init__(self):
        exact = self.height is not None or self.width is not None
        if exact == (self.long_side is not None) or exact and None in (self.height, self.width):
            raise NSTError("--size: give a height and a width, or only a long side")
        sides = (self.height, self.width) if exact else (self.long_side,)
        for side in sides:
            if isinstance(side, bool) or not isinstance(side, int):
                raise NSTError(f"--size {self}: each side must be a whole number of pixels")
        if min(sides) < MIN_SIZE:
            raise NSTError(f"--size {self}: each side must be at least {MIN_SIZE} pixels (VGG19 pools 5 times)")

    @classmethod
    def parse(cls, text):
        """'300x400' -> Size(300, 400); '1024' -> Size(long_side=1024)."""
        match = re.fullmatch(r"\s*(\d+)\s*(?:[xX×]\s*(\d+)\s*)?", str(text))
        if not match:
            raise NSTError(f"--size {text!r}: expected HEIGHTxWIDTH (e.g. 300x400) or a long side (e.g. 1024)")
        height, width = match.groups()
        return cls(long_side=int(height)) if width is None else cls(int(height), int(width))

    def __str__(self):
        return str(self.long_side) if self.long_side is not None else f"{self.height}x{self.width}"

    def __eq__(self, other):
        """Equal to another Size, to the (H, W) it stands for, or to its long side: Size(300, 400) == (300, 400)."""
        if isinstance(other, Size):
            return (self.height, self.width, self.long_side) == (other.height, other.width, other.long_side)
        if isinstance(other, (tuple, list, int)) and not isinstance(other, bool):
            return self.record() == (list(other) if isinstance(other, tuple) else other)
        return NotImplemented

    def __hash__(self):
        return hash(self.long_side if self.long_side is not None else (self.height, self.width))

    def resolve(self, content_shape):
        """(H, W) for a content image of shape (h, w, ...): as given, or the long side with its aspect."""
        if self.long_side is None:
            return self.height, self.width
        h, w = content_shape[:2]
        if h >= w:
            return self.long_side, max(MIN_SIZE, round(self.long_side * w / h))
        return max(MIN_SIZE, round(self.long_side * h / w)), self.long_side

    @property
    def longest(self):
        """The long side in pixels."""
        return self.long_side if self.long_side is not None else max(self.height, self.width)

    def record(self):
        """As JSON has always recorded it: [H, W] or the long side."""
        return self.long_side if self.long_side is not None else [self.height, self.width]


class Sizes:
    """The kind of ``Size``: from a Size, text ('300x400', '1024'), (H, W) or a long side."""

    def check(self, flag, value):
        if isinstance(value, Size):
            return value
        if isinstance(value, str):
            return Size.parse(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return Size(long_side=value)
        if isinstance(value, (tuple, list)) and len(value) == 2:
            return Size(*(Whole().check(flag, side) for side in value))
        raise NSTError(f"{flag} {value!r}: expected HEIGHTxWIDTH (e.g. 300x400) or a long side (e.g. 1024)")

    def text(self, value):
        return str(value)


class CostFunctions:
    """A .py file of cost functions (text or a Path), or, from Python, a mapping or module of them."""

    def check(self, flag, value):
        return File().check(flag, value) if isinstance(value, str) else value

    def text(self, value):
        return str(value) if isinstance(value, Path) else getattr(value, "__name__", "your functions")
