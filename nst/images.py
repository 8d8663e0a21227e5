"""Images in and out: read, crop, resize, normalise, the noise image, and saving.

A *picture* is ``uint8 (H, W, 3)``, RGB 0..255, as on disk; a *normalised image* is
``float32 (1, H, W, 3)``, the picture minus ``MEANS`` with a batch axis: VGG19's input.

Reading is strict: any problem with an input file is one ``NSTError`` line, never a
traceback. Pillow decodes (imageio's ``rotate=True`` mirrors converted grayscale images
wrongly); imageio writes. Nothing here unpickles, so reading an image never runs code.
"""

import contextlib
import os
import secrets
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image, ImageFile, ImageOps

from nst.config import IMAGE_HEIGHT, IMAGE_WIDTH, MEANS, NOISE_RATIO
from nst.errors import NSTError, one_line

# Images whose header declares more pixels are refused before decoding: a 70-byte file
# can claim to be 100000x100000, which would take 30 GB to decode.
DEFAULT_MAX_PIXELS = 100_000_000
MAX_PIXELS_ENV = "NST_MAX_PIXELS"
MIN_SIDE = 16  # load_image refuses smaller images: a few pixels blown up to 400x300 are a blur
SAVE_OPTIONS = {".png": {}, ".jpg": {"quality": 95}, ".jpeg": {"quality": 95}}  # for the writer
# The formats read_image tries. Not all Pillow knows: its EPS reader, say, runs Ghostscript.
READ_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM")


def read_image(path, max_pixels=None):
    """Read a PNG, JPEG, GIF, BMP, TIFF, WebP or PPM file as a picture ``uint8 (H, W, 3)``.

    - grayscale, palette, CMYK, ... become RGB; 16-bit values become 8-bit (65535 -> 255);
    - transparency is composited over white, ``rgb * a + 255 * (1 - a)`` with ``a = alpha/255``
      (dropping alpha would show whatever colour hides under transparent pixels);
    - the EXIF orientation is applied (photos come out as viewers show them);
    - of an animation or a multi-page file, only the first frame is read.

    ``max_pixels`` (default: env ``NST_MAX_PIXELS``, else 100 million) caps width * height.
    Anything that is not a readable image within that limit raises ``NSTError``."""
    path = Path(path)
    limit = _pixel_limit(max_pixels)
    if path.is_dir():
        raise NSTError(f"{path}: is a directory, not an image file; give the path of an image file")
    file = open_input(path)
    with file, _strict_pillow():
        try:
            if os.fstat(file.fileno()).st_size == 0:
                raise NSTError(f"{path}: the file is empty (0 bytes); give a PNG or JPEG image")
            with Image.open(file, formats=READ_FORMATS) as header:  # reads only the header, no pixel data
                width, height = header.size
                if width * height > limit:
                    raise NSTError(
                        f"{path}: image is {width}x{height} pixels ({width * height / 1e6:.1f} "
                        f"megapixels), above the limit of {limit:,} pixels; use a smaller "
                        f"image, or raise the limit with {MAX_PIXELS_ENV}={width * height}"
                    )
                # verify() walks the file without decoding; for PNG it checks every chunk's
                # checksum and that the file ends properly: that is how truncated PNGs fail.
                header.verify()
            file.seek(0)  # after verify() the image is unusable: open it again
            with Image.open(file, formats=READ_FORMATS) as image:
                image.seek(0)  # the first frame of a GIF, APNG or multi-page TIFF
                upright = ImageOps.exif_transpose(image)  # decodes: fails if the data runs out
            return _to_rgb8(upright)
        except NSTError:
            raise
        except Image.UnidentifiedImageError as err:
            raise NSTError(
                f"{path}: not an image, or in a format that cannot be read; use PNG, JPEG, GIF, BMP, TIFF, WebP or PPM"
            ) from err
        except Exception as err:  # whatever a decoder raises, the file is bad
            raise NSTError(
                f"{path}: cannot decode the image, the file is truncated or damaged "
                f"({one_line(err)}); re-download it or re-export it as PNG or JPEG"
            ) from err


def open_input(path):
    """Open an input file for reading in binary; a missing or unreadable file is one NSTError line."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise NSTError(f"{path}: no such file; check the path and the current directory") from None
    except IsADirectoryError:
        raise NSTError(f"{path}: is a directory, not a file; give the path of a file") from None
    except OSError as err:
        raise NSTError(f"{path}: cannot open the file ({err.strerror}); check it is readable") from err


def _to_rgb8(image):
    """A decoded Pillow image of any mode -> ``uint8 (H, W, 3)``."""
    if image.mode.startswith("I") or image.mode == "F":  # one channel of 16/32-bit ints or floats
        values = np.asarray(image, dtype=np.float64)
        full_scale = 1.0 if image.mode == "F" else 65535.0  # floats are taken as 0..1
        gray = np.rint(np.clip(values / full_scale, 0.0, 1.0) * 255).astype(np.uint8)
        return np.repeat(gray[:, :, np.newaxis], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        # An alpha channel, or a palette entry / colour marked transparent (PNG tRNS, GIF).
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float64)
        alpha = rgba[:, :, 3:] / 255.0
        return np.rint(rgba[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


@contextlib.contextmanager
def _strict_pillow():
    """Pillow settings for reading, restored afterwards (process-wide: one reader at a time).
    Truncated files must fail, whatever other code told Pillow; our size guard replaces Pillow's."""
    saved = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
    Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = None, False
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _pixel_limit(max_pixels):
    """The pixel limit: the argument if given, else ``$NST_MAX_PIXELS``, else the default."""
    if max_pixels is not None:
        return int(max_pixels)
    text = os.environ.get(MAX_PIXELS_ENV, "").strip()
    value = int(text) if text.isdecimal() else 0  # digits only: no sign, no "1e9", no "lots"
    if text and value < 1:
        raise NSTError(
            f"{MAX_PIXELS_ENV}={text!r}: not a positive whole number of pixels; set it to "
            f"e.g. 200000000, or unset it for the default {DEFAULT_MAX_PIXELS:,}"
        )
    return value or DEFAULT_MAX_PIXELS


def resize_to(image, height, width):
    """Centre-crop a picture to the aspect ratio width:height, then resize it (Lanczos).

    ``uint8 (H, W, 3) -> uint8 (height, width, 3)``. The crop is the largest centred window
    with the target's proportions: nothing is stretched, only the longer side's edges are lost."""
    pixels = np.asarray(image)
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3 or 0 in pixels.shape:
        raise ValueError(f"expected a uint8 (H, W, 3) picture, got {pixels.dtype} {pixels.shape}")
    if height < 1 or width < 1:
        raise ValueError(f"expected a positive size, got {height}x{width}")
    h, w = pixels.shape[:2]
    # Compare w/h with width/height using integers, so there is no rounding doubt.
    if w * height > h * width:  # too wide: keep the full height, cut the sides
        crop_h, crop_w = h, max(1, round(h * width / height))
    else:  # too tall (or just right): keep the full width, cut top and bottom
        crop_h, crop_w = max(1, round(w * height / width)), w
    top, left = (h - crop_h) // 2, (w - crop_w) // 2
    window = pixels[top : top + crop_h, left : left + crop_w]
    resized = Image.fromarray(window).resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.uint8).copy()


def reshape_and_normalize_image(image):
    """Picture -> network input: ``(H, W, 3) -> float32 (1, H, W, 3)``, minus ``MEANS``
    (VGG19 was trained on images minus the ImageNet mean pixel, so ours must be too)."""
    pixels = np.asarray(image)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) picture, got shape {pixels.shape}")
    return pixels.astype(np.float32)[np.newaxis] - np.asarray(MEANS, dtype=np.float32)


def load_picture(path, max_pixels=None):
    """``read_image``, refusing images with a side under ``MIN_SIDE`` (16) pixels."""
    picture = read_image(path, max_pixels=max_pixels)
    h, w = picture.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise NSTError(
            f"{path}: image is only {w}x{h} pixels, too small to use; "
            f"use an image of at least {MIN_SIDE}x{MIN_SIDE} pixels"
        )
    return picture


def load_image(path, height=IMAGE_HEIGHT, width=IMAGE_WIDTH, max_pixels=None):
    """Read, centre-crop, resize, normalise: a file -> ``float32 (1, height, width, 3)``.
    Images with a side under ``MIN_SIDE`` (16) pixels are refused with an ``NSTError``."""
    return reshape_and_normalize_image(resize_to(load_picture(path, max_pixels), height, width))


def generate_noise_image(content_image, noise_ratio=NOISE_RATIO, seed=None):
    """The starting generated image: the content image blurred by noise; seedable.

    ``G0 = noise * noise_ratio + content * (1 - noise_ratio)``, float32, ``noise`` uniform
    in [-20, 20) and of the content's shape, normally ``(1, H, W, 3)``. Starting near the
    content converges faster."""
    if not 0.0 <= noise_ratio <= 1.0:
        raise ValueError(f"noise_ratio must be between 0 and 1, got {noise_ratio}")
    content = np.asarray(content_image, dtype=np.float32)
    noise = np.random.default_rng(seed).uniform(-20, 20, size=content.shape).astype(np.float32)
    return noise * np.float32(noise_ratio) + content * np.float32(1.0 - noise_ratio)


def deprocess_image(image):
    """Normalised image -> picture: add ``MEANS``, round, clip to 0..255.

    ``(1, H, W, 3)`` or ``(H, W, 3)`` floats (numpy or TensorFlow) -> ``uint8 (H, W, 3)``;
    ``ValueError`` if it holds NaN or infinity (the optimisation diverged)."""
    pixels = np.asarray(image, dtype=np.float64)
    pixels = pixels[0] if pixels.ndim == 4 and len(pixels) == 1 else pixels
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"expected a (1, H, W, 3) or (H, W, 3) image, got shape {pixels.shape}")
    if not np.isfinite(pixels).all():
        raise ValueError("the image contains NaN or infinite values")
    return np.clip(np.rint(pixels + np.asarray(MEANS)), 0, 255).astype(np.uint8)


def save_image(path, image):
    """Write a normalised image (see ``deprocess_image``) as ``.png`` or ``.jpg``/``.jpeg``
    (quality 95), going by the extension; atomically (``atomic_path``), creating folders."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SAVE_OPTIONS:
        raise NSTError(f"{path}: cannot tell the image format from the name; end it with .png or .jpg")
    try:
        picture = deprocess_image(image)
    except ValueError as err:
        raise NSTError(f"{path}: not saved, {err}; lower the learning rate or check the costs") from err
    with atomic_path(path) as temporary:
        iio.imwrite(temporary, picture, plugin="pillow", extension=suffix, **SAVE_OPTIONS[suffix])


@contextlib.contextmanager
def atomic_path(path):
    """Write any file so that it appears complete or not at all::

        with atomic_path("output/losses.csv") as tmp:
            tmp.write_text(csv_text)

    ``tmp`` is in the same folder (created if missing) and has the same extension, for
    writers that go by it (imageio, matplotlib, ``np.save``). On success it is flushed and
    renamed onto ``path`` in one step (``os.replace``); on an exception it is deleted and
    ``path`` is untouched. A crash may leave a hidden ``.NAME.*.tmp*`` file, never a half
    ``path``. Failing to create the folder, to write or to rename raises ``NSTError``
    with one line naming ``path``, so no caller needs to catch ``OSError`` itself."""
    final = Path(path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NSTError(f"{final}: cannot create its folder ({one_line(err)}); choose another path") from err
    temporary = final.with_name(f".{final.name}.{secrets.token_hex(4)}.tmp{final.suffix}")
    try:
        try:
            yield temporary
        except OSError as err:
            raise NSTError(
                f"{final}: cannot write ({one_line(err)}); check that the folder is writable and the disk has space"
            ) from err
        if temporary.is_file():  # flush first, or a power cut could leave an empty file
            with open(temporary, "rb+") as written:
                os.fsync(written.fileno())
        try:
            os.replace(temporary, final)
        except OSError as err:
            raise NSTError(f"{final}: cannot put the new file in place ({one_line(err)}); choose another path") from err
    except BaseException:  # also on Ctrl-C: never leave the temporary file around
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
