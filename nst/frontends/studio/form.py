"""What the page asks for, turned into a run's ``Options``: ``Form``, ``make_options`` and the checks.

The form's typed values go straight into ``Options``, which checks every one of them and says
what is wrong in the command line's one line (``--iterations -5: must be at least 1``); the
page never writes a command line to be read again. What only the studio limits (the size of an
upload, the long side of a run) is checked here, in words of the same kind.
"""

from dataclasses import dataclass, field
from pathlib import Path

from nst.engine.options import Options
from nst.errors import NSTError, one_line
from nst.images import load_picture

# The run's options the form sets (a Form field of each name), and those of them the preset sets
# on the page when it changes (the knobs; the seed stays as the user left it).
FORM_OPTIONS = ("preset", "size", "iterations", "alpha", "beta", "tv_weight", "preserve_colors", "seed")
KNOBS = ("size", "iterations", "alpha", "beta", "tv_weight", "preserve_colors")


@dataclass
class Form:
    """What the page (or /stylize) asks for; an option left None or blank keeps its default (the preset's)."""

    content: str | None
    styles: list  # paths of the style images given, in order
    weights: list = field(default_factory=list)  # their blend weights (empty: equal)
    preset: str = "exercise"
    size: str | None = None  # as typed: "300x400", or the long side
    iterations: int | float | None = None
    alpha: float | None = None
    beta: float | None = None
    tv_weight: float | None = None
    preserve_colors: str | None = None
    seed: str | int | None = None  # "" or None: random


def check_upload(path, max_bytes):
    """An uploaded file -> its Path, or NSTError with the CLI's one line about it.

    Named by the file's own name (gradio keeps it as the last part of the upload's path), not
    by the server's temporary folder. nst reads the whole picture here, so a file that is not
    an image, is truncated, or declares more pixels than ``NST_MAX_PIXELS`` (a decompression
    bomb) stops at the Run button and no job starts."""
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
    except OSError as err:
        raise NSTError(f"{name}: the upload is gone ({one_line(err)}); upload it again") from None
    if size > max_bytes:
        raise NSTError(
            f"{name}: file is {size / 1e6:.1f} MB, above this studio's limit of {max_bytes / 1e6:g} MB "
            "(--max-upload-mb); use a smaller file"
        )
    try:
        load_picture(path)
    except NSTError as err:
        raise NSTError(str(err).replace(str(path), name)) from None
    return path


def check_size(options, max_size):
    """Refuse a size whose long side is above ``--max-size``, naming the limit."""
    if options.size.longest > max_size:
        raise NSTError(
            f"--size {options.size}: above this studio's limit of {max_size} pixels on the "
            f"long side (--max-size {max_size}); choose a smaller size"
        )


def _blank(value):
    """Whether a form value was left empty: None (a cleared number box) or blank text."""
    return value is None or isinstance(value, str) and not value.strip()


def make_options(form, settings, output_dir):
    """Everything the form says, checked -> Options writing into ``output_dir``; or NSTError with one line.

    The uploads are checked first (the studio's limits, and whether they are pictures at all),
    then ``Options`` checks each value, then the size against ``--max-size``. Nothing is written."""
    if not form.content:
        raise NSTError("content image: none given; upload a photo or pick one of the examples")
    if not form.styles:
        raise NSTError("style image: none given; upload a painting or pick one of the examples")
    for path in (form.content, *form.styles):
        check_upload(path, settings.max_upload_bytes)
    given = {name: getattr(form, name) for name in FORM_OPTIONS if not _blank(getattr(form, name))}
    # Equal weights are the default blend, so only unequal ones are passed.
    if len(form.styles) > 1 and len(set(form.weights)) > 1:
        given["style_blend"] = tuple(form.weights)
    options = Options(
        content=Path(form.content),
        style=tuple(Path(style) for style in form.styles),
        output_dir=Path(output_dir),
        model=settings.model,  # None: the weights in pretrained-model/
        quiet=True,  # no progress bar in the server's log: the page shows the progress
        **given,
    )
    check_size(options, settings.max_size)
    return options


def knob_values(preset):
    """The knobs as this preset sets them, {name: value}: ``Options(preset=...)`` fills in the
    preset's values itself, so the page shows exactly the CLI's defaults. The size is text, as
    its box shows it ('300x400')."""
    options = Options(preset=preset)
    values = {name: getattr(options, name) for name in KNOBS}
    values["size"] = str(options.size)
    return values


def upload_path(value):
    """An image box's raw value -> the uploaded file's path on the server, or None.

    The page's events skip gradio's preprocessing (``preprocess=False``): gr.Image's opens the
    file with Pillow first, so a text file or a decompression bomb would fail there, in
    Pillow's words. nst reads and checks the file itself, with the CLI's one-line messages.
    gradio has already moved the upload into its cache and checked that it came from an upload."""
    if value is None or isinstance(value, (str, Path)):
        return value
    path = value.get("path") if isinstance(value, dict) else None
    if not path:
        raise NSTError("pasted image: not received as a file; save it and upload the file instead")
    return path
