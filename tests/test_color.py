"""Tests for nst.engine.color: YIQ, luminance-only transfer and colour histogram matching."""

import numpy as np
import pytest

from nst.config import CONTENT_IMAGE, STYLE_IMAGE
from nst.engine.color import (
    color_transform,
    luminance_transfer,
    match_color_histogram,
    rgb_to_yiq,
    yiq_to_rgb,
)
from nst.images import read_image, resize_to

RNG = np.random.default_rng(0)


def statistics(picture):
    colours = np.asarray(picture, np.float64).reshape(-1, 3)
    return colours.mean(axis=0), np.cov(colours, rowvar=False, bias=True)


def in_gamut_yiq(shape, luma, chroma, seed):
    """YIQ with Y uniform in ``luma`` and |I|, |Q| ≤ ``chroma``: inside the RGB cube for the
    ranges used below (each RGB value is Y plus at most ~1.7 · (|I| + |Q|))."""
    rng = np.random.default_rng(seed)
    y = rng.uniform(*luma, size=shape[:2] + (1,))
    iq = rng.uniform(-chroma, chroma, size=shape[:2] + (2,))
    return np.concatenate([y, iq], axis=2)


def correlated_colours(shape, mean, seed):
    """Float colours with a full covariance: a random mix of three independent normals."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(0, 1, (3, 3)) * 9 + np.diag([12.0, 10.0, 8.0])
    return rng.normal(0, 1, shape) @ mix.T + np.asarray(mean)


# --- YIQ ----------------------------------------------------------------------------


def test_yiq_round_trip_is_exact():
    rgb = RNG.uniform(0, 255, (20, 30, 3))
    np.testing.assert_allclose(yiq_to_rgb(rgb_to_yiq(rgb)), rgb, rtol=0, atol=1e-10)
    yiq = rgb_to_yiq(rgb)
    np.testing.assert_allclose(rgb_to_yiq(yiq_to_rgb(yiq)), yiq, rtol=0, atol=1e-10)
    every_byte = np.arange(256, dtype=np.uint8).repeat(3).reshape(16, 16, 3)
    assert np.array_equal(np.rint(yiq_to_rgb(rgb_to_yiq(every_byte))).astype(np.uint8), every_byte)


def test_yiq_of_known_colours():
    grey = rgb_to_yiq([100.0, 100.0, 100.0])
    np.testing.assert_allclose(grey, [100.0, 0.0, 0.0], atol=1e-4)  # greys have no chroma
    white = rgb_to_yiq([255, 255, 255])
    assert white[0] == pytest.approx(255.0)
    assert rgb_to_yiq([255, 0, 0])[0] == pytest.approx(0.299 * 255)  # BT.601 luma weights
    assert rgb_to_yiq([0, 255, 0])[0] == pytest.approx(0.587 * 255)
    assert rgb_to_yiq([0, 0, 255])[0] == pytest.approx(0.114 * 255)
    assert rgb_to_yiq([255, 128, 0])[1] > 0 > rgb_to_yiq([0, 128, 255])[1]  # I: orange vs blue


def test_yiq_works_on_any_leading_shape():
    assert rgb_to_yiq(np.zeros((2, 3, 4, 3))).shape == (2, 3, 4, 3)
    assert yiq_to_rgb(np.zeros(3)).shape == (3,)


# --- luminance transfer ---------------------------------------------------------------


def test_luminance_transfer_keeps_generated_luma_and_content_chroma():
    generated_yiq = in_gamut_yiq((24, 32), luma=(70, 185), chroma=15, seed=1)
    content_yiq = in_gamut_yiq((24, 32), luma=(70, 185), chroma=15, seed=2)
    generated, content = yiq_to_rgb(generated_yiq), yiq_to_rgb(content_yiq)
    assert generated.min() > 0 and generated.max() < 255 and content.min() > 0 and content.max() < 255

    result = luminance_transfer(generated, content)
    assert result.dtype == np.float64 and result.shape == (24, 32, 3)
    result_yiq = rgb_to_yiq(result)
    np.testing.assert_allclose(result_yiq[..., 0], generated_yiq[..., 0], atol=1e-8)
    np.testing.assert_allclose(result_yiq[..., 1:], content_yiq[..., 1:], atol=1e-8)


def test_luminance_transfer_of_uint8_pictures():
    generated = np.rint(yiq_to_rgb(in_gamut_yiq((24, 32), (70, 185), 15, seed=3))).astype(np.uint8)
    content = np.rint(yiq_to_rgb(in_gamut_yiq((24, 32), (70, 185), 15, seed=4))).astype(np.uint8)
    result = luminance_transfer(generated, content)
    assert result.dtype == np.uint8
    # Rounding to whole numbers moves Y, I, Q by at most ~1.
    np.testing.assert_allclose(rgb_to_yiq(result)[..., 0], rgb_to_yiq(generated)[..., 0], atol=1.0)
    np.testing.assert_allclose(rgb_to_yiq(result)[..., 1:], rgb_to_yiq(content)[..., 1:], atol=1.0)


def test_luminance_transfer_on_real_images():
    # The Monet as a stand-in for a stylised bridge: violet and orange, nothing like the bridge's colours.
    content = resize_to(read_image(CONTENT_IMAGE), 60, 80)
    generated = resize_to(read_image(STYLE_IMAGE), 60, 80)
    result = luminance_transfer(generated, content)
    assert result.dtype == np.uint8 and result.shape == (60, 80, 3)
    chroma_error = np.abs(rgb_to_yiq(result)[..., 1:] - rgb_to_yiq(content)[..., 1:])
    luma_error = np.abs(rgb_to_yiq(result)[..., 0] - rgb_to_yiq(generated)[..., 0])
    # Clipping moves the few out-of-gamut pixels; the rest are within rounding.
    assert np.mean(chroma_error < 1.0) > 0.95 and np.median(chroma_error) < 0.5
    assert np.mean(luma_error < 1.0) > 0.95
    # And it is really the content's colours: mean chroma far closer to the content than to the Monet.
    assert np.abs(rgb_to_yiq(result)[..., 1:].mean((0, 1)) - rgb_to_yiq(content)[..., 1:].mean((0, 1))).max() < 1.0


def test_luminance_transfer_resizes_the_content():
    content = read_image(CONTENT_IMAGE)  # full size, a different shape from the generated image
    generated = np.full((30, 40, 3), 128, np.uint8)
    result = luminance_transfer(generated, content)
    assert result.shape == (30, 40, 3)
    expected_chroma = rgb_to_yiq(resize_to(content, 30, 40))[..., 1:]
    ok = np.abs(rgb_to_yiq(result)[..., 1:] - expected_chroma) < 1.0
    assert ok.mean() > 0.95


def test_luminance_transfer_of_a_grey_generated_image_and_grey_content():
    grey = np.full((8, 8, 3), 90, np.uint8)
    content = RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert np.all(luminance_transfer(content, grey) == np.rint(rgb_to_yiq(content)[..., :1]).clip(0, 255))
    assert luminance_transfer(grey, grey).tolist() == grey.tolist()


def test_luminance_transfer_clips():
    white = np.full((4, 4, 3), 255.0)
    saturated = np.zeros((4, 4, 3))
    saturated[..., 0] = 255.0  # pure red: lots of chroma under white luminance leaves the cube
    result = luminance_transfer(white, saturated)
    assert result.min() >= 0 and result.max() <= 255


@pytest.mark.parametrize("bad", [np.zeros((4, 4)), np.zeros((4, 4, 4)), np.full((4, 4, 3), np.nan)])
def test_luminance_transfer_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        luminance_transfer(bad, np.zeros((4, 4, 3)))


# --- colour histogram matching -----------------------------------------------------------


@pytest.mark.parametrize("method", ["eigen", "cholesky"])
def test_match_color_histogram_gives_the_contents_mean_and_covariance(method):
    style = RNG.uniform(0, 255, (40, 50, 3))  # uniform: a flat, uncorrelated palette
    content = correlated_colours((30, 20, 3), mean=(120, 110, 140), seed=6)  # another size
    result = match_color_histogram(style, content, method=method)
    assert result.shape == style.shape and result.dtype == np.float64
    assert result.min() > 0 and result.max() < 255  # no clipping here: the statistics are exact
    mean_R, cov_R = statistics(result)
    mean_C, cov_C = statistics(content)
    np.testing.assert_allclose(mean_R, mean_C, atol=1e-6)
    np.testing.assert_allclose(cov_R, cov_C, rtol=1e-3, atol=1e-2)


def test_the_eigen_transform_is_symmetric_for_symmetric_whitening():
    # Σ_C^{1/2} Σ_S^{-1/2} with Σ_S ∝ I is symmetric; Cholesky's L_C·L_S⁻¹ is lower triangular instead.
    style = np.random.default_rng(7).normal(0, 30, (200, 200, 3)) + 128
    content = correlated_colours((50, 50, 3), (100, 120, 90), seed=8)
    A_eigen, _ = color_transform(style, content, "eigen")
    A_chol, _ = color_transform(style, content, "cholesky")
    np.testing.assert_allclose(A_eigen, A_eigen.T, atol=0.02)
    np.testing.assert_allclose(A_chol, np.tril(A_chol), atol=1e-12)


def test_match_color_histogram_on_real_images():
    style = resize_to(read_image(STYLE_IMAGE), 90, 120)
    content = resize_to(read_image(CONTENT_IMAGE), 90, 120)
    mean_C, cov_C = statistics(content)
    mean_S, _ = statistics(style)

    # Before clipping, the affine map gives the content's statistics exactly.
    A, b = color_transform(style, content)
    unclipped = style.reshape(-1, 3) @ A.T + b
    np.testing.assert_allclose(statistics(unclipped)[0], mean_C, atol=1e-6)
    np.testing.assert_allclose(statistics(unclipped)[1], cov_C, rtol=1e-4)

    # The bridge's sky is near white, so ~6% of the recoloured values leave 0..255 and are
    # clipped: that trims the variances by ~10%, and never brings the Monet's colours back.
    assert np.mean((unclipped < 0) | (unclipped > 255)) < 0.1
    result = match_color_histogram(style, content)
    assert result.dtype == np.uint8 and result.shape == style.shape
    mean_R, cov_R = statistics(result)
    assert np.abs(mean_R - mean_C).max() < 3.0 < np.abs(mean_S - mean_C).max()
    np.testing.assert_allclose(cov_R, cov_C, rtol=0.15)


def test_match_color_histogram_keeps_the_styles_structure():
    style = resize_to(read_image(STYLE_IMAGE), 45, 60)
    content = resize_to(read_image(CONTENT_IMAGE), 45, 60)
    result = match_color_histogram(style, content)
    # An affine map of the colours: the style's luminance pattern survives (strongly correlated).
    correlation = np.corrcoef(rgb_to_yiq(style)[..., 0].ravel(), rgb_to_yiq(result)[..., 0].ravel())[0, 1]
    assert correlation > 0.9


@pytest.mark.parametrize("method", ["eigen", "cholesky"])
def test_a_grey_style_image_does_not_crash(method):
    grey_values = RNG.integers(0, 256, (30, 40, 1), dtype=np.uint8)
    grey_style = np.repeat(grey_values, 3, axis=2)  # R = G = B: a singular covariance
    content = resize_to(read_image(CONTENT_IMAGE), 30, 40)
    with np.errstate(all="raise"):  # no division by zero, no invalid values
        result = match_color_histogram(grey_style, content, method=method)
    assert result.dtype == np.uint8
    assert np.abs(statistics(result)[0] - statistics(content)[0]).max() < 3.0


@pytest.mark.parametrize("method", ["eigen", "cholesky"])
def test_a_grey_content_image_makes_the_style_grey(method):
    style = resize_to(read_image(STYLE_IMAGE), 30, 40)
    grey_content = np.repeat(resize_to(read_image(CONTENT_IMAGE), 30, 40)[..., :1], 3, axis=2)
    result = match_color_histogram(style, grey_content, method=method).astype(np.int64)
    # The content has no colour to give: the result is grey, give or take rounding and ε.
    assert np.abs(result[..., 0] - result[..., 1]).max() <= 1
    assert np.abs(result[..., 1] - result[..., 2]).max() <= 1


def test_a_flat_style_image_becomes_the_contents_mean_colour():
    flat = np.full((10, 10, 3), (200, 30, 60), np.uint8)
    content = correlated_colours((20, 20, 3), (120, 110, 140), seed=9)
    result = match_color_histogram(flat, content)
    mean_C = statistics(content)[0]
    assert np.abs(result.astype(np.float64) - mean_C).max() <= 0.5 + 1e-9


def test_match_color_histogram_rejects_an_unknown_method():
    with pytest.raises(ValueError, match="method"):
        match_color_histogram(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)), method="pca")
