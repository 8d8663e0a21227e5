"""Optical flow between two frames, warping along it, and where it can be trusted.

Shapes and conventions (NumPy, float32): a flow is ``(H, W, 2)``, ``flow[y, x] = (dx, dy)`` in
pixels; ``flow_between(a, b)`` is dense flow *from a to b*: ``a(x) ≈ b(x + flow(x))``.
``warp(image, flow)`` pulls ``image`` along a flow: ``warp(image, flow)(x) = image(x + flow(x))``,
bilinear, so warping with a zero flow returns the image unchanged.

For consecutive frames t − 1 and t (Ruder, Dosovitskiy and Brox, "Artistic style transfer for
videos", 2016):

    forward  w = flow_between(frame[t-1], frame[t])
    backward ŵ = flow_between(frame[t], frame[t-1])
    warp(output[t-1], ŵ, sharp=True)  output t − 1 laid onto frame t
    reliability(w, ŵ)              1 where that is right, 0 where it cannot be

The flow is OpenCV's DIS (dense inverse search; Kroeger et al., 2016) on the frames' grey
levels: pip-installable (``opencv-python-headless``), about 20 ms for a 300x400 pair.
"""

import cv2
import numpy as np

# Ruder et al.'s thresholds, for flows in pixels: a pixel is disoccluded where the forward flow,
# followed back, does not return to it: |w̃ + ŵ|² > CONSISTENCY · (|w̃|² + |ŵ|²) + CONSISTENCY_PX;
# on a motion boundary where the backward flow changes fast: |∇û|² + |∇v̂|² > BOUNDARY · |ŵ|² + BOUNDARY_PX.
CONSISTENCY, CONSISTENCY_PX = 0.01, 0.5
BOUNDARY, BOUNDARY_PX = 0.01, 0.002


def grey(picture):
    """uint8 (H, W, 3) RGB -> uint8 (H, W) grey levels, what DIS reads."""
    return cv2.cvtColor(np.ascontiguousarray(picture, np.uint8), cv2.COLOR_RGB2GRAY)


class DISFlow:
    """DIS flow, one OpenCV instance reused for every pair (``PRESET_MEDIUM``: its patch search on
    a pyramid, then variational refinement)."""

    def __init__(self, preset=cv2.DISOPTICAL_FLOW_PRESET_MEDIUM):
        self.dis = cv2.DISOpticalFlow_create(preset)

    def __call__(self, a, b):
        """(H, W, 2) flow from picture ``a`` to picture ``b`` (uint8 (H, W, 3), the same size)."""
        return self.dis.calc(grey(a), grey(b), None)

    def pair(self, previous, current):
        """(forward, backward) flows between frame t − 1 (``previous``) and frame t (``current``)."""
        return self(previous, current), self(current, previous)


def farneback_flow(a, b):
    """Farnebäck's polynomial-expansion flow from ``a`` to ``b`` (OpenCV): a second, independent
    method, for judging results without the flow that made them (the benchmark)."""
    return cv2.calcOpticalFlowFarneback(grey(a), grey(b), None, 0.5, 5, 15, 5, 7, 1.5, 0)


def _sample_points(flow):
    """x + flow(x), as the two float32 maps cv2.remap takes."""
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return xs + flow[..., 0], ys + flow[..., 1]


def warp(image, flow, sharp=False):
    """``image`` (H, W, C) or (1, H, W, C), float or uint8, sampled at x + flow(x); outside the frame,
    the nearest edge pixel. The same shape and dtype back.

    Bilinear, or with ``sharp`` Lanczos (8x8 pixels), for stylised images: bilinear interpolation
    blurs their fine brush texture, which the style cost reads first. Measured at 300x400 on an
    exercise run's output (J 6.75e6) warped onto the next frame of the synthetic clip (0-2 px of
    motion): bilinear made its J 1.1e8, bicubic 3.9e7, Lanczos 1.6e7 (nearest 1.0e7, but jagged).
    """
    array = np.asarray(image)
    batch = array.ndim == 4
    planes = array[0] if batch else array
    map_x, map_y = _sample_points(np.asarray(flow, np.float32))
    source = planes.astype(np.float32) if planes.dtype not in (np.float32, np.uint8) else planes
    method = cv2.INTER_LANCZOS4 if sharp else cv2.INTER_LINEAR
    warped = cv2.remap(source, map_x, map_y, method, borderMode=cv2.BORDER_REPLICATE)
    warped = warped.reshape(planes.shape).astype(array.dtype, copy=False)
    return warped[np.newaxis] if batch else warped


def inside(flow):
    """bool (H, W): where x + flow(x) lands inside the frame (elsewhere warping only repeats the edge)."""
    h, w = flow.shape[:2]
    map_x, map_y = _sample_points(flow)
    return (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)


def disoccluded(forward, backward):
    """bool (H, W) on frame t: the forward flow at x + ŵ(x), w̃, does not lead back to x."""
    returned = warp(forward, backward)  # w̃(x) = w(x + ŵ(x))
    mismatch = np.sum((returned + backward) ** 2, axis=-1)
    return mismatch > CONSISTENCY * (np.sum(returned**2, axis=-1) + np.sum(backward**2, axis=-1)) + CONSISTENCY_PX


def motion_boundary(backward):
    """bool (H, W) on frame t: where the backward flow's gradient is steep, |∇û|² + |∇v̂|² (central
    differences) above the threshold."""
    du_y, du_x = np.gradient(backward[..., 0])
    dv_y, dv_x = np.gradient(backward[..., 1])
    steepness = du_x**2 + du_y**2 + dv_x**2 + dv_y**2
    return steepness > BOUNDARY * np.sum(backward**2, axis=-1) + BOUNDARY_PX


def reliability(forward, backward):
    """float32 (H, W) on frame t: 1 where output t − 1, warped by ``backward``, shows what frame t shows;
    0 where frame t sees what t − 1 did not (disoccluded), on motion boundaries, and where x + ŵ(x)
    leaves the frame."""
    trusted = inside(backward) & ~disoccluded(forward, backward) & ~motion_boundary(backward)
    return trusted.astype(np.float32)


def end_point_error(flow, truth):
    """float (H, W): |flow − truth| per pixel, in pixels."""
    return np.sqrt(np.sum((np.asarray(flow) - np.asarray(truth)) ** 2, axis=-1))
