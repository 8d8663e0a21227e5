"""The run as a picture of its progress: an animated GIF or a contact sheet of ``<i>.png``.

``nst.engine.run`` saves the generated image as ``output/<i>.png`` every ``--save-every``
iterations; these functions turn that series into ``progress.gif`` (one frame per
file, the last held longer, looping forever) or ``progress.png`` (a grid of labelled
thumbnails). Inputs are read with ``read_image``, so a damaged file is an ``NSTError``.
"""

import math
import re
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image, ImageDraw

from nst.errors import NSTError
from nst.images import atomic_path, read_image, resize_to

ITERATION_NAME = re.compile(r"(\d+)\.png")  # what train.py writes; not generated_image.jpg, losses.png...
THUMB_WIDTH = 200  # a contact sheet's thumbnails are at most this wide (never enlarged)
MARGIN = 4  # pixels around and between thumbnails
LABEL_HEIGHT = 16  # the strip under each thumbnail for its iteration number
BACKGROUND = (255, 255, 255)


def iteration_images(folder, last=None):
    """The saved ``<i>.png`` files in ``folder``, in iteration order (20 before 100).

    ``last``: leave out iterations after it, e.g. stale files from an earlier, longer run
    into the same folder. Other files are ignored; none at all is an ``NSTError``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NSTError(f"{folder}: no such folder; give the output folder of a run")
    found = []
    for path in folder.iterdir():
        match = ITERATION_NAME.fullmatch(path.name)
        if match and path.is_file() and (last is None or int(match[1]) <= last):
            found.append((int(match[1]), path))
    if not found:
        raise NSTError(
            f"{folder}: no saved iterations (files named <i>.png); run nst train with this --output-dir first"
        )
    return [path for _, path in sorted(found)]


def make_gif(paths, out_path, seconds_per_frame=0.4, last_frame_seconds=1.5):
    """An animated GIF, one frame per image, looping forever; written atomically.

    Every frame gets the first image's size (others are centre-cropped and resized), as
    a GIF's frames share one canvas. Note that GIF has 256 colours per frame."""
    frames = _read_all(paths)
    height, width = frames[0].shape[:2]
    frames = [f if f.shape[:2] == (height, width) else resize_to(f, height, width) for f in frames]
    # Pillow takes milliseconds (GIF stores hundredths); the last frame lingers on the result.
    durations = [round(seconds_per_frame * 1000)] * (len(frames) - 1) + [round(last_frame_seconds * 1000)]
    if len(durations) == 1:  # Pillow takes a number, not a list, for a GIF of one frame (a short run)
        durations = durations[0]
    with atomic_path(out_path) as tmp:
        iio.imwrite(tmp, np.stack(frames), plugin="pillow", extension=".gif", duration=durations, loop=0)  # forever


def make_contact_sheet(paths, out_path, columns=5, label=True):
    """One PNG: a grid of thumbnails, ``columns`` wide, in the order given, each labelled
    with its iteration number (the file name's stem) if ``label``; written atomically."""
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}")
    thumbs = [_thumbnail(picture) for picture in _read_all(paths)]
    cell_w = max(t.width for t in thumbs)
    cell_h = max(t.height for t in thumbs) + (LABEL_HEIGHT if label else 0)
    cols = min(columns, len(thumbs))
    rows = math.ceil(len(thumbs) / cols)
    sheet = Image.new("RGB", (MARGIN + cols * (cell_w + MARGIN), MARGIN + rows * (cell_h + MARGIN)), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for k, (thumb, path) in enumerate(zip(thumbs, paths)):
        left = MARGIN + (k % cols) * (cell_w + MARGIN)
        top = MARGIN + (k // cols) * (cell_h + MARGIN)
        sheet.paste(thumb, (left + (cell_w - thumb.width) // 2, top))  # centred if sizes differ
        if label:
            text = Path(path).stem
            box = draw.textbbox((0, 0), text)  # Pillow's default font
            draw.text((left + (cell_w - (box[2] - box[0])) // 2, top + cell_h - LABEL_HEIGHT + 2), text, fill=(0, 0, 0))
    with atomic_path(out_path) as tmp:
        sheet.save(tmp, format="PNG")


def _read_all(paths):
    """Every picture, ``uint8 (H, W, 3)``; an empty list is an ``NSTError``."""
    if not paths:
        raise NSTError("no images to animate; save some with --save-every first")
    return [read_image(path) for path in paths]


def _thumbnail(picture):
    """At most ``THUMB_WIDTH`` wide, same aspect ratio; small pictures are left as they are."""
    image = Image.fromarray(picture)
    if image.width > THUMB_WIDTH:
        height = max(1, round(image.height * THUMB_WIDTH / image.width))
        image = image.resize((THUMB_WIDTH, height), Image.Resampling.LANCZOS)
    return image
