"""Colour preservation: paint in the style's brushwork but keep the content's colours.

Style transfer copies the style image's palette along with its texture: the Golden
Gate comes out in Monet's violets. Gatys, Bethge, Hertzmann & Shechtman (2016),
"Preserving Color in Neural Artistic Style Transfer", give two remedies:

1. ``luminance_transfer`` (after the transfer): keep only the *luminance* of the
   generated image and put it under the content image's *chroma*. The brush
   strokes live in the luminance, the colours in the chroma.
2. ``match_color_histogram`` (before the transfer): recolour the style image so its
   pixel colours have the content's mean and covariance, then transfer as usual.

Every function takes pictures: (H, W, 3) RGB on the 0..255 scale, uint8 or float.
Results have the dtype of the first argument (uint8 results are rounded) and are
clipped to 0..255. (Normalised images, minus MEANS, convert with
``nst.images.deprocess_image`` first.)

Colour space: YIQ, the NTSC one the paper uses. Y is the luma (the same weights as
the grey of ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B); I and Q are two colour-
difference axes (orange-blue, purple-green), zero for every grey.
"""

import numpy as np

from nst.images import resize_to

# RGB -> YIQ, rows Y, I, Q (FCC NTSC matrix). Applied to the last axis: yiq = rgb @ RGB_TO_YIQ.T.
RGB_TO_YIQ = np.array(
    [
        [0.299, 0.587, 0.114],
        [0.595716, -0.274453, -0.321263],
        [0.211456, -0.522591, 0.311135],
    ]
)
# The exact numerical inverse, not the rounded textbook one (1.0, 0.9563, 0.6210, ...):
# so yiq_to_rgb(rgb_to_yiq(x)) == x to float64 rounding (~1e-13), and a grey
# stays exactly grey through the round trip.
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ)

# Added to covariance matrices before inverting or factorising them, in (0..255 units)².
# A grey or flat image has a singular covariance (no spread off the grey axis); 1e-2
# is far below the spread of any real image (variances of hundreds) and below the
# rounding noise of uint8 pixels (1/12), so it changes nothing else.
COVARIANCE_EPSILON = 1e-2


def _picture(image, name):
    """Check an (H, W, 3) picture and return it as float64."""
    pixels = np.asarray(image)
    if pixels.ndim != 3 or pixels.shape[2] != 3 or 0 in pixels.shape:
        raise ValueError(f"{name}: expected an (H, W, 3) RGB picture, got shape {pixels.shape}")
    if not np.issubdtype(pixels.dtype, np.number) or np.issubdtype(pixels.dtype, np.complexfloating):
        raise ValueError(f"{name}: expected real numbers, got dtype {pixels.dtype}")
    values = pixels.astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return values


def _like(values, reference):
    """Clip float64 values to 0..255 and give them the dtype of ``reference``."""
    values = np.clip(values, 0.0, 255.0)
    dtype = np.asarray(reference).dtype
    if dtype == np.uint8:
        return np.rint(values).astype(np.uint8)
    return values.astype(dtype if np.issubdtype(dtype, np.floating) else np.float64)


def rgb_to_yiq(rgb):
    """RGB (..., 3) -> YIQ (..., 3), float64. Y in 0..255 for RGB in 0..255; I, Q signed."""
    return np.asarray(rgb, dtype=np.float64) @ RGB_TO_YIQ.T


def yiq_to_rgb(yiq):
    """YIQ (..., 3) -> RGB (..., 3), float64, not clipped (Y of one image under I, Q of
    another can leave the RGB cube). ``yiq_to_rgb(rgb_to_yiq(x))`` gives back x."""
    return np.asarray(yiq, dtype=np.float64) @ YIQ_TO_RGB.T


def luminance_transfer(generated_rgb, content_rgb):
    """The generated image's luminance with the content image's colours.

    Arguments:
        generated_rgb -- the result of style transfer, (H, W, 3), 0..255
        content_rgb -- the content image, (H', W', 3), 0..255; if its size differs it is
            centre-cropped and resized to H x W (``nst.images.resize_to``)

    Returns:
        (H, W, 3) RGB with Y from ``generated_rgb`` and I, Q from ``content_rgb``:

            rgb = yiq_to_rgb([Y_generated, I_content, Q_content]), clipped to 0..255

        in the dtype of ``generated_rgb``. Where that combination is outside the RGB
        cube (a bright pixel under a saturated colour) clipping changes it a little.
    """
    generated = _picture(generated_rgb, "generated_rgb")
    content = _picture(content_rgb, "content_rgb")
    height, width = generated.shape[:2]
    if content.shape[:2] != (height, width):
        # resize_to works on uint8 pictures: a float content is rounded first.
        content = resize_to(np.rint(np.clip(content, 0, 255)).astype(np.uint8), height, width).astype(np.float64)
    yiq = rgb_to_yiq(content)
    yiq[..., 0] = rgb_to_yiq(generated)[..., 0]  # the luminance, where the style's strokes are
    return _like(yiq_to_rgb(yiq), generated_rgb)


def _color_statistics(pixels):
    """Mean (3,) and covariance (3, 3) of an (H, W, 3) picture's colours (1/N, not 1/(N−1))."""
    colours = pixels.reshape(-1, 3)
    mean = colours.mean(axis=0)
    centred = colours - mean
    return mean, centred.T @ centred / len(colours)


def _symmetric_power(covariance, power, epsilon):
    """(Σ + ε·I)^power for a symmetric positive semi-definite Σ, via Σ = V·diag(λ)·Vᵀ."""
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    # eigh may return tiny negatives (−1e-13) for a singular Σ: they are zeros.
    eigenvalues = np.maximum(eigenvalues, 0.0) + epsilon
    return (eigenvectors * eigenvalues**power) @ eigenvectors.T


def color_transform(style_rgb, content_rgb, method="eigen", epsilon=COVARIANCE_EPSILON):
    """The affine colour map x -> A·x + b that gives the style the content's colour statistics.

    With μ_S, Σ_S and μ_C, Σ_C the mean (3,) and covariance (3, 3) of the pixel
    colours, any A with A·Σ_S·Aᵀ = Σ_C and b = μ_C − A·μ_S will do. Two choices:

        method="eigen"     A = Σ_C^{1/2} · Σ_S^{-1/2}, symmetric square roots by
                           eigendecomposition (the "image analogies" colour transfer;
                           it rotates colours least, the paper's choice)
        method="cholesky"  A = L_C · L_S^{-1}, with Σ = L·Lᵀ the Cholesky factors

    ε·I is added to Σ_S (and to Σ_C for Cholesky, which needs it positive definite),
    so grey and flat images work: the directions in which the style has no spread
    are never used, and its A·x stays finite.

    Returns:
        (A (3, 3), b (3,)), float64, to apply as ``colours @ A.T + b``.
    """
    style = _picture(style_rgb, "style_rgb")
    content = _picture(content_rgb, "content_rgb")
    mean_S, cov_S = _color_statistics(style)
    mean_C, cov_C = _color_statistics(content)
    if method == "eigen":
        A = _symmetric_power(cov_C, 0.5, 0.0) @ _symmetric_power(cov_S, -0.5, epsilon)
    elif method == "cholesky":
        identity = np.eye(3)
        L_S = np.linalg.cholesky(cov_S + epsilon * identity)
        L_C = np.linalg.cholesky(cov_C + epsilon * identity)
        A = L_C @ np.linalg.inv(L_S)  # 3x3 and well conditioned after ε: inv is fine
    else:
        raise ValueError(f"method must be 'eigen' or 'cholesky', not {method!r}")
    return A, mean_C - A @ mean_S


def match_color_histogram(style_rgb, content_rgb, method="eigen", epsilon=COVARIANCE_EPSILON):
    """Recolour the style image so its colours' mean and covariance are the content's.

    Gatys et al. (2016), "colour histogram matching": x_S' = A·x_S + b for every pixel x_S (an RGB
    3-vector), with A, b from ``color_transform`` (A·Σ_S·Aᵀ = Σ_C, b = μ_C − A·μ_S).
    Do this before style transfer, then use the recoloured style image as usual.

    Arguments:
        style_rgb -- the style image, (H, W, 3), 0..255
        content_rgb -- the content image, (H', W', 3), 0..255; any size (only its
            colour statistics are used)
        method -- "eigen" (default) or "cholesky", see ``color_transform``
        epsilon -- regulariser added to the covariances, in (0..255 units)²

    Returns:
        the recoloured style image, (H, W, 3), clipped to 0..255, in the dtype of
        ``style_rgb``. Clipping (and rounding, for uint8) moves the statistics slightly.
    """
    A, b = color_transform(style_rgb, content_rgb, method, epsilon)
    style = _picture(style_rgb, "style_rgb")
    return _like(style @ A.T + b, style_rgb)
