"""A clip whose motion is known exactly: a photo panned and zoomed, a patch moving over it.

``known_motion_clip(photo, patch, count, height, width)`` renders ``count`` frames of a camera
that pans across ``photo`` and slowly zooms in, while a rectangle cut from ``patch`` slides over
the scene (hiding the photo in front of it and uncovering it behind: occlusions). With the frames
come, for every frame t ≥ 1, the true backward flow (frame t → frame t − 1, as
``nst.engine.video.flow``'s convention) and what of frame t frame t − 1 showed. The tests judge
DIS flow, warping and the reliability masks against it; the benchmark judges the stylised
clip's steadiness with a flow the method does not use.

Camera: frame pixel x shows photo point p = s_t · x + o_t (s_t photo pixels per frame pixel,
shrinking by ``zoom`` per frame; o_t moving ``pan`` frame pixels per frame to the right and down).
So background pixel x of frame t was at x' = (s_t · x + o_t − o_{t−1}) / s_{t−1} in frame t − 1.
The patch's corner moves by ``speed`` (dx, dy) frame pixels per frame: its pixels were at x − speed.
"""

from dataclasses import dataclass

import cv2
import numpy as np

EDGE = 2.0  # pixels around the patch's outline taken as neither patch nor photo (mixed by interpolation)


@dataclass
class KnownMotionClip:
    frames: list  # uint8 (H, W, 3) per frame
    backward: list  # float32 (H, W, 2): the true flow frame t -> t - 1 (None for frame 0)
    visible: list  # bool (H, W): frame t's pixels that frame t - 1 showed too, away from edges (None for 0)
    uncovered: list  # bool (H, W): frame t's photo pixels the patch hid in frame t - 1 (None for 0)
    fps: float = 24.0


def _camera(photo_shape, height, width, count, pan, zoom):
    """(s_t, o_t) per frame: the view starts at 0.9 of the photo's fitting scale, near its top-left."""
    ph, pw = photo_shape[:2]
    fit = min(ph / height, pw / width)
    scales = [0.9 * fit * zoom**t for t in range(count)]
    start = np.array([0.02 * pw, 0.02 * ph])
    offsets = [start + scales[0] * np.array(pan, float) * t for t in range(count)]
    for s, o in zip(scales, offsets):
        if o[0] + s * width > pw or o[1] + s * height > ph:
            raise ValueError(f"the camera leaves the photo before frame {count}; use a larger photo or less pan")
    return scales, offsets


def _patch_box(t, corner, speed, size):
    """(x0, y0, x1, y1) of the patch in frame t."""
    x0, y0 = corner[0] + speed[0] * t, corner[1] + speed[1] * t
    return x0, y0, x0 + size[1], y0 + size[0]


def _in_box(xs, ys, box, margin=0.0):
    x0, y0, x1, y1 = box
    return (xs >= x0 - margin) & (xs < x1 + margin) & (ys >= y0 - margin) & (ys < y1 + margin)


def known_motion_clip(photo, patch, count, height, width, pan=(2.0, 0.6), zoom=0.995, speed=(-8.0, 4.0)):
    """Render the clip; see the module's notes. ``photo`` and ``patch`` are uint8 (h, w, 3) pictures;
    the photo must hold the camera's whole path (a 1280x595 photo holds about 40 frames at 300x400
    with the default pan)."""
    photo, patch = np.ascontiguousarray(photo), np.ascontiguousarray(patch)
    scales, offsets = _camera(photo.shape, height, width, count, pan, zoom)
    size = (height // 3, width // 4)  # the patch: a quarter of the width, a third of the height
    corner = (0.65 * width, 0.3 * height)
    texture = cv2.resize(patch, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    clip = KnownMotionClip([], [], [], [])
    for t in range(count):
        s, o = scales[t], offsets[t]
        camera = np.float64([[s, 0, o[0]], [0, s, o[1]]])  # frame -> photo
        frame = cv2.warpAffine(photo, camera, (width, height), flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP)
        box = _patch_box(t, corner, speed, size)
        placed = np.float64([[1, 0, -box[0]], [0, 1, -box[1]]])  # frame -> patch texture
        inverse = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        on_patch = cv2.warpAffine(np.full(size, 255, np.uint8), placed, (width, height), flags=inverse)
        drawn = cv2.warpAffine(texture, placed, (width, height), flags=inverse)
        alpha = (on_patch.astype(np.float32) / 255)[..., None]
        clip.frames.append(np.rint(frame * (1 - alpha) + drawn * alpha).astype(np.uint8))
        if t == 0:
            for field in (clip.backward, clip.visible, clip.uncovered):
                field.append(None)
            continue
        before = _patch_box(t - 1, corner, speed, size)
        s0, o0 = scales[t - 1], offsets[t - 1]
        bx, by = (s * xs + o[0] - o0[0]) / s0, (s * ys + o[1] - o0[1]) / s0  # background's place in t - 1
        patch_now = _in_box(xs, ys, box)
        flow = np.stack([np.where(patch_now, -speed[0], bx - xs), np.where(patch_now, -speed[1], by - ys)], -1)
        px, py = xs + flow[..., 0], ys + flow[..., 1]
        in_frame = (px >= 0) & (px <= width - 1) & (py >= 0) & (py <= height - 1)
        edges = _in_box(xs, ys, box, EDGE) & ~_in_box(xs, ys, box, -EDGE)
        was_hidden = ~patch_now & _in_box(bx, by, before, EDGE)
        clip.backward.append(flow.astype(np.float32))
        clip.visible.append(in_frame & ~edges & ~was_hidden)
        clip.uncovered.append(in_frame & ~_in_box(xs, ys, box, EDGE) & _in_box(bx, by, before, -EDGE))
    return clip
