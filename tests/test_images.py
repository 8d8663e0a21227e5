"""Tests of nst.images: reading every kind of image, crop/resize, normalisation, the noise
image, atomic saving, and one clear NSTError for every kind of bad input file."""

import io
import os
import pickle
import struct
import zlib

import imageio.v3 as iio
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from nst import images
from nst.config import IMAGE_HEIGHT, IMAGE_WIDTH, IMAGES_DIR, MEANS
from nst.errors import NSTError
from nst.images import (
    atomic_path,
    deprocess_image,
    generate_noise_image,
    load_image,
    read_image,
    reshape_and_normalize_image,
    resize_to,
    save_image,
)

MEANS32 = np.asarray(MEANS, dtype=np.float32)
RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


# ---------------------------------------------------------------- helpers


def png_bytes(pixels, color_type, bit_depth=8, width=None, height=None):
    """A minimal PNG written by hand (Pillow cannot write 16-bit RGB, nor lie about sizes).

    color_type: 0 gray, 2 RGB, 4 gray+alpha, 6 RGBA.
    """

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    h, w = pixels.shape[:2]
    dtype = ">u2" if bit_depth == 16 else "u1"
    rows = b"".join(b"\x00" + pixels[y].astype(dtype).tobytes() for y in range(h))
    header = struct.pack(">IIBBBBB", width or w, height or h, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def smooth_picture(h, w):
    """A gradient picture: compresses well and survives JPEG nearly unchanged."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) % 256], axis=-1).astype(np.uint8)


def write(path, data):
    path.write_bytes(data)
    return path


def assert_picture(result, h, w):
    assert isinstance(result, np.ndarray)
    assert result.dtype == np.uint8
    assert result.shape == (h, w, 3)


def assert_nst_error(path, *fragments, reader=read_image):
    """reader(path) raises NSTError: one line, naming the file and each fragment."""
    with pytest.raises(NSTError) as caught:
        reader(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment.lower() in message.lower()
    return message


def files_in(folder):
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------- reading


@pytest.mark.parametrize("extension", [".png", ".jpg", ".bmp", ".webp", ".tif"])
def test_read_rgb_formats_gives_uint8_hw3(tmp_path, extension):
    picture = smooth_picture(30, 50)
    path = tmp_path / f"picture{extension}"
    Image.fromarray(picture).save(path)
    result = read_image(path)
    assert_picture(result, 30, 50)
    if extension in (".png", ".bmp", ".tif"):
        np.testing.assert_array_equal(result, picture)
    else:  # lossy
        assert np.abs(result.astype(int) - picture).mean() < 4


def test_read_accepts_str_paths(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(smooth_picture(4, 5)).save(path)
    assert_picture(read_image(str(path)), 4, 5)


def test_demo_images_load_to_network_size():
    for name in ("golden_gate_bridge.jpg", "monet_houses_of_parliament.jpg", "chelsea_cat.png"):
        image = load_image(IMAGES_DIR / name)
        assert image.shape == (1, IMAGE_HEIGHT, IMAGE_WIDTH, 3)
        assert image.dtype == np.float32


def test_grayscale_becomes_rgb(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    path = tmp_path / "gray.png"
    Image.fromarray(gray, mode="L").save(path)
    result = read_image(path)
    assert_picture(result, 3, 4)
    for channel in range(3):
        np.testing.assert_array_equal(result[:, :, channel], gray)


def test_rgba_is_composited_over_white(tmp_path):
    rgba = np.array([[[255, 0, 0, 255], [0, 0, 255, 0], [0, 0, 0, 128], [10, 20, 30, 255]]], dtype=np.uint8)
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    result = read_image(path)
    assert_picture(result, 1, 4)
    assert tuple(result[0, 0]) == RED
    assert tuple(result[0, 1]) == WHITE  # fully transparent
    assert tuple(result[0, 2]) == (127, 127, 127)  # 0 * 128/255 + 255 * 127/255
    assert tuple(result[0, 3]) == (10, 20, 30)


def test_gray_alpha_is_composited_over_white(tmp_path):
    la = np.array([[[100, 255], [100, 0]]], dtype=np.uint8)
    path = tmp_path / "la.png"
    Image.fromarray(la, mode="LA").save(path)
    result = read_image(path)
    assert tuple(result[0, 0]) == (100, 100, 100)
    assert tuple(result[0, 1]) == WHITE


def test_palette_image_gives_its_colours(tmp_path):
    image = Image.new("P", (3, 2))
    image.putpalette([*RED, *GREEN, *BLUE] + [0] * (256 * 3 - 9))
    image.putdata([0, 1, 2, 2, 1, 0])
    path = tmp_path / "palette.png"
    image.save(path)
    result = read_image(path)
    assert_picture(result, 2, 3)
    assert [tuple(p) for p in result[0]] == [RED, GREEN, BLUE]
    assert [tuple(p) for p in result[1]] == [BLUE, GREEN, RED]


def test_palette_transparency_is_white(tmp_path):
    image = Image.new("P", (2, 1))
    image.putpalette([*RED, *BLUE] + [0] * (256 * 3 - 6))
    image.putdata([0, 1])
    path = tmp_path / "palette_t.png"
    image.save(path, transparency=1)
    result = read_image(path)
    assert [tuple(p) for p in result[0]] == [RED, WHITE]


def test_16bit_grayscale_png_scales_to_8bit(tmp_path):
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)  # 32896 = 128 * 257
    path = tmp_path / "gray16.png"
    Image.fromarray(values).save(path)
    with Image.open(path) as written:
        assert written.mode.startswith("I")  # really 16-bit on disk
    result = read_image(path)
    assert_picture(result, 1, 4)
    np.testing.assert_array_equal(result[0, :, 0], [0, 1, 128, 255])


def test_16bit_rgb_png_scales_to_8bit(tmp_path):
    pixels = np.array([[[65535, 0, 32896], [0, 65535, 257]]], dtype=np.uint16)
    path = write(tmp_path / "rgb16.png", png_bytes(pixels, color_type=2, bit_depth=16))
    result = read_image(path)
    assert_picture(result, 1, 2)
    assert tuple(result[0, 0]) == (255, 0, 128)
    assert tuple(result[0, 1]) == (0, 255, 1)


def test_16bit_rgba_png(tmp_path):
    pixels = np.array([[[65535, 0, 0, 65535], [0, 0, 0, 0]]], dtype=np.uint16)
    path = write(tmp_path / "rgba16.png", png_bytes(pixels, color_type=6, bit_depth=16))
    result = read_image(path)
    assert [tuple(p) for p in result[0]] == [RED, WHITE]


def test_exif_orientation_6_is_applied(tmp_path):
    # Stored 40 wide x 20 tall, top half red, bottom half blue. Orientation 6 says
    # "rotate 90 degrees clockwise to display": 20 wide x 40 tall, red on the right.
    stored = np.zeros((20, 40, 3), dtype=np.uint8)
    stored[:10] = RED
    stored[10:] = BLUE
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    result = read_image(path)
    assert_picture(result, 40, 20)
    assert np.abs(result[:, -4:].astype(int) - RED).max() < 40
    assert np.abs(result[:, :4].astype(int) - BLUE).max() < 40


def test_exif_mirror_on_grayscale_jpeg(tmp_path):
    # Orientation 2 = mirrored left-right. (imageio's own rotate=True gets this wrong after
    # converting a grayscale image to RGB: it flips the colour channels instead.)
    stored = np.zeros((16, 32), dtype=np.uint8)
    stored[:, :16] = 255  # white on the left
    exif = Image.Exif()
    exif[0x0112] = 2
    path = tmp_path / "mirrored.jpg"
    Image.fromarray(stored, mode="L").save(path, exif=exif, quality=95)
    result = read_image(path)
    assert_picture(result, 16, 32)
    assert result[:, :12].max() < 30 and result[:, -12:].min() > 225  # now white on the right


def test_multi_frame_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 6), RED), Image.new("RGB", (8, 6), BLUE)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    result = read_image(path)
    assert_picture(result, 6, 8)
    assert (result == RED).all()


def test_multi_page_tiff_gives_first_page(tmp_path):
    pages = [Image.new("RGB", (5, 4), GREEN), Image.new("RGB", (9, 9), RED)]
    path = tmp_path / "pages.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    result = read_image(path)
    assert_picture(result, 4, 5)
    assert (result == GREEN).all()


def test_ppm_is_read(tmp_path):
    path = tmp_path / "picture.ppm"
    Image.fromarray(smooth_picture(5, 7)).save(path)
    np.testing.assert_array_equal(read_image(path), smooth_picture(5, 7))


# ---------------------------------------------------------------- bad input files


def test_missing_file(tmp_path):
    assert_nst_error(tmp_path / "nope.jpg", "no such file")


def test_directory_instead_of_file(tmp_path):
    assert_nst_error(tmp_path, "directory")


def test_empty_file(tmp_path):
    assert_nst_error(write(tmp_path / "empty.png", b""), "empty")


def test_text_file_named_jpg(tmp_path):
    assert_nst_error(write(tmp_path / "notes.jpg", b"just some text\n" * 20), "not an image")


def test_random_bytes_named_jpg(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    assert_nst_error(write(tmp_path / "noise.jpg", noise), "not an image")


def test_unsupported_format_npy(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.zeros((4, 4, 3), dtype=np.uint8))
    assert_nst_error(path, "not an image", "PNG")


def test_pickle_is_never_unpickled(tmp_path):
    marker = tmp_path / "code_ran"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    for name in ("evil.png", "evil.npy", "evil.jpg"):
        path = write(tmp_path / name, pickle.dumps(Payload()))
        assert_nst_error(path, "not an image")
    assert not marker.exists()


def test_formats_outside_the_list_are_not_opened(tmp_path):
    # Pillow would hand an EPS file to Ghostscript, an interpreter: read_image does not.
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n0 0 moveto showpage\n%%EOF\n"
    assert_nst_error(write(tmp_path / "drawing.eps", eps), "not an image")
    path = tmp_path / "picture.pcx"
    Image.new("RGB", (8, 8)).save(path)  # a real image, but not in READ_FORMATS
    assert_nst_error(path, "not an image", "PNG, JPEG")


def test_truncated_jpeg(tmp_path):
    data = (IMAGES_DIR / "golden_gate_bridge.jpg").read_bytes()
    for keep in (len(data) // 2, len(data) - 100, len(data) - 2):
        path = write(tmp_path / f"cut{keep}.jpg", data[:keep])
        assert_nst_error(path, "truncated")


def test_truncated_png(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
    data = buffer.getvalue()
    # Cut in the pixel data, in the last chunk's checksum, and just the end-of-file chunk.
    for keep in (len(data) // 2, len(data) - 14, len(data) - 12):
        path = write(tmp_path / f"cut{keep}.png", data[:keep])
        assert_nst_error(path, "truncated")


def test_truncated_files_fail_even_if_pillow_was_told_to_allow_them(tmp_path, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = (IMAGES_DIR / "golden_gate_bridge.jpg").read_bytes()
    assert_nst_error(write(tmp_path / "cut.jpg", data[: len(data) // 2]), "truncated")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored afterwards


def test_pillow_settings_are_restored(tmp_path):
    before = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
    read_image(IMAGES_DIR / "chelsea_cat.png")
    with pytest.raises(NSTError):
        read_image(write(tmp_path / "bad.png", b"not a png"))
    assert (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES) == before


def test_one_pixel_image_is_too_small_to_load(tmp_path):
    path = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), RED).save(path)
    assert_picture(read_image(path), 1, 1)  # readable ...
    assert_nst_error(path, "1x1", "too small", "16x16", reader=load_image)  # ... but not usable
    narrow = tmp_path / "narrow.png"
    Image.new("RGB", (500, 15)).save(narrow)
    assert_nst_error(narrow, "too small", reader=load_image)
    ok = tmp_path / "ok.png"
    Image.new("RGB", (16, 16)).save(ok)
    assert load_image(ok).shape == (1, IMAGE_HEIGHT, IMAGE_WIDTH, 3)


def test_decompression_bomb_is_refused_from_the_header(tmp_path):
    # A 70-byte PNG claiming 100000 x 100000 pixels (10 gigapixels, ~30 GB decoded).
    path = write(tmp_path / "bomb.png", png_bytes(np.zeros((1, 1), np.uint8), 0, width=100_000, height=100_000))
    assert path.stat().st_size < 100
    message = assert_nst_error(path, "100000x100000", "limit", "NST_MAX_PIXELS=10000000000")
    assert "100,000,000" in message  # the default limit


def test_pixel_limit_from_environment_and_argument(tmp_path, monkeypatch):
    path = tmp_path / "forty.png"
    Image.new("RGB", (40, 40)).save(path)  # 1600 pixels
    monkeypatch.setenv("NST_MAX_PIXELS", "1000")
    assert_nst_error(path, "above the limit of 1,000 pixels", "NST_MAX_PIXELS=1600")
    assert_picture(read_image(path, max_pixels=2000), 40, 40)  # the argument wins
    monkeypatch.setenv("NST_MAX_PIXELS", "1600")
    assert_picture(read_image(path), 40, 40)  # the limit is inclusive
    # Raising the limit past Pillow's own guard (~179 megapixels) works too: the bomb now
    # passes the size check and fails, as it should, only when decoded.
    bomb = write(tmp_path / "bomb.png", png_bytes(np.zeros((1, 1), np.uint8), 0, width=20_000, height=10_000))
    monkeypatch.setenv("NST_MAX_PIXELS", str(300_000_000))
    assert_nst_error(bomb, "cannot decode")


@pytest.mark.parametrize("value", ["lots", "-5", "0", "1e9"])
def test_bad_pixel_limit_environment_variable(tmp_path, monkeypatch, value):
    monkeypatch.setenv("NST_MAX_PIXELS", value)
    with pytest.raises(NSTError, match="^NST_MAX_PIXELS=.*not a positive whole number"):
        read_image(IMAGES_DIR / "chelsea_cat.png")


# ---------------------------------------------------------------- resize_to


@pytest.mark.parametrize("source", [(595, 1280), (1280, 595), (300, 400), (7, 1000), (1000, 7), (3, 3), (1, 1)])
@pytest.mark.parametrize("target", [(300, 400), (400, 300), (64, 64), (1, 5), (5, 1)])
def test_resize_to_gives_exact_size(source, target):
    result = resize_to(np.zeros((*source, 3), np.uint8), *target)
    assert result.shape == (*target, 3) and result.dtype == np.uint8


def test_resize_to_crops_the_centre_of_a_wide_image():
    # 100 tall x 400 wide: red sides, a green middle exactly as wide as the 4:3 crop (133).
    picture = np.zeros((100, 400, 3), np.uint8)
    picture[:] = RED
    picture[:, 133:267] = GREEN
    result = resize_to(picture, 300, 400)
    assert result.shape == (300, 400, 3)
    assert np.abs(result[:, 4:-4].astype(int) - GREEN).max() <= 2  # only the centre is kept


def test_resize_to_never_distorts():
    # A black 40 x 40 square in the middle of a white 100 x 400 picture stays square.
    for shape in ((100, 400), (400, 100)):
        picture = np.full((*shape, 3), 255, np.uint8)
        cy, cx = shape[0] // 2, shape[1] // 2
        picture[cy - 20 : cy + 20, cx - 20 : cx + 20] = 0
        result = resize_to(picture, 50, 50)  # crop to 100 x 100, then halve
        rows, cols = np.nonzero(result[:, :, 0] < 128)
        height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
        assert height == width == 20
        assert abs((rows.min() + rows.max()) / 2 - 24.5) <= 0.5  # still centred
        assert abs((cols.min() + cols.max()) / 2 - 24.5) <= 0.5


def test_resize_to_same_size_is_identity():
    picture = smooth_picture(30, 40)
    np.testing.assert_array_equal(resize_to(picture, 30, 40), picture)


def test_resize_to_rejects_non_pictures():
    with pytest.raises(ValueError):
        resize_to(np.zeros((10, 10, 3), np.float32), 5, 5)
    with pytest.raises(ValueError):
        resize_to(np.zeros((10, 10), np.uint8), 5, 5)
    with pytest.raises(ValueError):
        resize_to(np.zeros((10, 10, 3), np.uint8), 0, 5)


# ---------------------------------------------------------------- normalisation, noise, deprocess


def test_reshape_and_normalize_subtracts_means():
    picture = np.random.default_rng(2).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    result = reshape_and_normalize_image(picture)
    assert result.shape == (1, 6, 7, 3) and result.dtype == np.float32
    np.testing.assert_array_equal(result[0], picture.astype(np.float32) - MEANS32)
    np.testing.assert_allclose(result[0], picture - np.asarray(MEANS), atol=1e-4)


def test_deprocess_inverts_normalisation():
    picture = np.random.default_rng(3).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    normalised = reshape_and_normalize_image(picture)
    np.testing.assert_array_equal(deprocess_image(normalised), picture)
    np.testing.assert_array_equal(deprocess_image(normalised[0]), picture)


def test_deprocess_clips_and_rounds():
    image = np.array([[[-1000.0, 1000.0, 0.4]]])  # one pixel, normalised values
    result = deprocess_image(image)
    assert result.dtype == np.uint8
    assert tuple(result[0, 0]) == (0, 255, round(MEANS[2] + 0.4))


def test_deprocess_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        deprocess_image(np.full((1, 2, 2, 3), np.nan))


def test_noise_image_bounds_and_dtype():
    content = load_image(IMAGES_DIR / "golden_gate_bridge.jpg")
    noisy = generate_noise_image(content, seed=0)
    assert noisy.shape == content.shape and noisy.dtype == np.float32
    centre = content * 0.4
    assert (noisy >= centre - 12 - 1e-3).all() and (noisy <= centre + 12 + 1e-3).all()
    assert np.abs(noisy - centre).max() > 11  # the noise really spans the range


def test_noise_image_is_seedable():
    content = np.zeros((1, 8, 9, 3), np.float32)
    a, b = generate_noise_image(content, seed=7), generate_noise_image(content, seed=7)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, generate_noise_image(content, seed=8))


def test_noise_ratio_zero_returns_content():
    content = reshape_and_normalize_image(smooth_picture(5, 6))
    np.testing.assert_array_equal(generate_noise_image(content, noise_ratio=0.0, seed=1), content)
    with pytest.raises(ValueError):
        generate_noise_image(content, noise_ratio=1.5)


# ---------------------------------------------------------------- saving


def test_save_png_round_trips(tmp_path):
    rng = np.random.default_rng(4)
    image = rng.uniform(-130, 140, (1, 20, 30, 3)).astype(np.float32)
    path = tmp_path / "sub" / "dir" / "out.png"  # missing folders are created
    save_image(path, image)
    back = reshape_and_normalize_image(read_image(path))
    expected = np.clip(image + MEANS32, 0, 255) - MEANS32
    assert np.abs(back - expected).max() <= 0.5 + 1e-4
    assert files_in(path.parent) == ["out.png"]


def test_save_accepts_hw3_and_jpeg(tmp_path):
    image = reshape_and_normalize_image(smooth_picture(40, 60))
    for name in ("out.jpg", "out.JPEG"):
        save_image(tmp_path / name, image[0])
        back = read_image(tmp_path / name)
        assert_picture(back, 40, 60)
        assert np.abs(back.astype(int) - smooth_picture(40, 60)).mean() < 3
    assert iio.improps(tmp_path / "out.jpg").shape == (40, 60, 3)


def test_save_overwrites_existing_file(tmp_path):
    path = tmp_path / "out.png"
    path.write_bytes(b"old")
    save_image(path, np.zeros((1, 4, 4, 3), np.float32))
    assert_picture(read_image(path), 4, 4)
    assert files_in(tmp_path) == ["out.png"]


def test_save_refuses_unknown_extension(tmp_path):
    for name in ("out.xyz", "out"):
        with pytest.raises(NSTError, match=r"\.png or \.jpg"):
            save_image(tmp_path / name, np.zeros((1, 4, 4, 3), np.float32))
    assert files_in(tmp_path) == []


def test_save_refuses_nan(tmp_path):
    path = tmp_path / "out.png"
    with pytest.raises(NSTError, match="NaN") as caught:
        save_image(path, np.full((1, 4, 4, 3), np.nan, np.float32))
    assert str(caught.value).startswith(f"{path}: ")
    assert files_in(tmp_path) == []


def test_save_failing_mid_write_leaves_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    path.write_bytes(b"previous result")

    def half_write(target, *args, **kwargs):
        with open(target, "wb") as f:
            f.write(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(images.iio, "imwrite", half_write)
    with pytest.raises(NSTError, match="No space left") as caught:
        save_image(path, np.zeros((1, 4, 4, 3), np.float32))
    assert str(caught.value).startswith(f"{path}: ")
    assert path.read_bytes() == b"previous result"
    assert files_in(tmp_path) == ["out.png"]


def test_save_onto_a_directory_is_an_nst_error(tmp_path):
    (tmp_path / "out.png").mkdir()
    with pytest.raises(NSTError, match="out.png"):
        save_image(tmp_path / "out.png", np.zeros((1, 4, 4, 3), np.float32))
    assert files_in(tmp_path) == ["out.png"]


# ---------------------------------------------------------------- atomic_path


def test_atomic_path_success(tmp_path):
    final = tmp_path / "deep" / "losses.csv"
    with atomic_path(final) as temporary:
        assert temporary.parent == final.parent and temporary.suffix == ".csv"
        assert temporary != final
        temporary.write_text("a,b\n1,2\n")
        assert not final.exists()  # nothing under the final name until the end
    assert final.read_text() == "a,b\n1,2\n"
    assert files_in(final.parent) == ["losses.csv"]


def test_atomic_path_failure_leaves_nothing(tmp_path):
    final = tmp_path / "losses.csv"
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(final) as temporary:
            temporary.write_text("half a fi")
            raise RuntimeError("boom")
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_atomic_path_failure_keeps_existing_file(tmp_path, error):
    final = tmp_path / "plot.png"
    final.write_bytes(b"the old plot")
    with pytest.raises(error):
        with atomic_path(final) as temporary:
            temporary.write_bytes(b"the new pl")
            raise error()
    assert final.read_bytes() == b"the old plot"
    assert files_in(tmp_path) == ["plot.png"]


def test_atomic_path_works_with_np_save(tmp_path):
    final = tmp_path / "state.npy"
    with atomic_path(final) as temporary:
        np.save(temporary, np.arange(3))  # would append ".npy" if the suffix were different
    np.testing.assert_array_equal(np.load(final, allow_pickle=False), np.arange(3))
    assert files_in(tmp_path) == ["state.npy"]


def test_atomic_path_parent_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(NSTError, match="cannot create its folder"):
        with atomic_path(tmp_path / "file" / "out.csv"):
            pass


# ---------------------------------------------------------------- properties


def _valid_png():
    buffer = io.BytesIO()
    Image.fromarray(smooth_picture(12, 10)).save(buffer, "PNG")
    return buffer.getvalue()


def _valid_jpeg():
    buffer = io.BytesIO()
    Image.fromarray(smooth_picture(12, 10)).save(buffer, "JPEG")
    return buffer.getvalue()


def _corrupted(data):
    """Valid image bytes, cut short and/or with a few bytes overwritten."""
    return st.tuples(
        st.integers(0, len(data)),
        st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)), max_size=4),
    ).map(lambda cut_and_changes: _apply(data, *cut_and_changes))


def _apply(data, cut, changes):
    damaged = bytearray(data)
    for position, value in changes:
        damaged[position] = value
    return bytes(damaged[:cut])


any_bytes = st.one_of(
    st.binary(max_size=2000),
    st.binary(max_size=500).map(lambda tail: b"\x89PNG\r\n\x1a\n" + tail),
    st.binary(max_size=500).map(lambda tail: b"\xff\xd8\xff\xe0" + tail),
    _corrupted(_valid_png()),
    _corrupted(_valid_jpeg()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=any_bytes)
def test_property_any_bytes_give_a_picture_or_nst_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "input.jpg"
    path.write_bytes(data)
    try:
        result = read_image(path)
    except NSTError as err:
        message = str(err)
        assert message.startswith(f"{path}: ") and "\n" not in message
    else:
        assert result.dtype == np.uint8 and result.ndim == 3 and result.shape[2] == 3
        assert min(result.shape) >= 1


@settings(max_examples=60, deadline=None)
@given(h=st.integers(2, 64), w=st.integers(2, 64), channels=st.sampled_from([1, 3, 4]), seed=st.integers(0, 2**32 - 1))
def test_property_png_shapes_read_back_as_rgb(tmp_path_factory, h, w, channels, seed):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
    path = tmp_path_factory.mktemp("png") / "random.png"
    iio.imwrite(path, pixels[:, :, 0] if channels == 1 else pixels)
    result = read_image(path)
    assert_picture(result, h, w)
    if channels == 1:
        expected = np.repeat(pixels, 3, axis=2)
    elif channels == 3:
        expected = pixels
    else:
        alpha = pixels[:, :, 3:] / 255.0
        expected = np.rint(pixels[:, :, :3] * alpha + 255 * (1 - alpha))
    np.testing.assert_array_equal(result, expected)


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 300), w=st.integers(1, 300), th=st.integers(1, 300), tw=st.integers(1, 300))
def test_property_resize_to_gives_exact_size(h, w, th, tw):
    result = resize_to(np.full((h, w, 3), 77, np.uint8), th, tw)
    assert result.shape == (th, tw, 3) and result.dtype == np.uint8
    assert (result == 77).all()  # a flat picture stays flat: no ringing, no black borders
