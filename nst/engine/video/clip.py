"""Clips in and out: what a clip holds (``open_clip``), its frames (``read_frames``), and the
stylised frames as an H.264 mp4 with the clip's sound (``write_mp4``) and a preview GIF.

Everything goes through ffmpeg, the binary that the ``imageio-ffmpeg`` wheel ships (so nothing
beyond pip is needed). imageio-ffmpeg rather than PyAV because ffmpeg runs as a separate process:
a clip that crashes or hangs a decoder cannot take down the process holding TensorFlow and hours
of frames; the ffmpeg command line does what a video tool must (turn frames upright by the
clip's rotation, convert to yuv420p, cut and copy the sound) in flags rather than in code of
ours; and the package is pure Python, tied to no NumPy or TensorFlow build. A frame then passes
through a pipe (0.36 MB at 300x400), which costs nothing beside a second of optimisation.

A clip is a video file ffmpeg reads, or a folder of images (its frames, in natural order:
``frame2.png`` before ``frame10.png``). Frames are uint8 RGB (H, W, 3), upright.
"""

import logging
import re
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from nst.errors import NSTError, one_line
from nst.images import MAX_PIXELS_ENV, _pixel_limit, atomic_path, read_image

FOLDER_FPS = 24  # a folder of frames has no rate of its own
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".ppm"}
CRF = 18  # x264's constant quality: 18 looks like the frames themselves, and keeps a 10 s clip at 300x400 small
PREVIEW_WIDTH, PREVIEW_FPS, PREVIEW_SECONDS = 320, 12, 10  # the preview GIF: small, short, smooth enough
# ffmpeg in a session of its own: Ctrl-C in the terminal reaches nst alone, which decides what stops
# (imageio-ffmpeg's reader does the same), so the clip of the frames done is still written.
ALONE = {"start_new_session": True}


@dataclass(frozen=True)
class Clip:
    """What a clip holds, as read before any frame is decoded."""

    path: Path
    width: int  # upright, as the frames come out (a clip rotated by 90° has its sides swapped)
    height: int
    fps: Fraction  # frames per second
    frames: int  # the count its header promises (duration × rate); a folder's exact count
    audio: bool  # whether it has a sound track to copy
    rotation: int = 0  # degrees the player turns it by (its display matrix), which the frames already are
    images: tuple = ()  # a folder's image files, in order

    @property
    def is_folder(self):
        return bool(self.images)

    def seconds(self, frames):
        return float(frames / self.fps)


def ffmpeg():
    """The ffmpeg binary of the imageio-ffmpeg wheel; NSTError when the package is missing."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise NSTError("nst video needs imageio-ffmpeg and OpenCV: pip install 'nst[video]'") from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def natural_key(path):
    """Sort key that reads digit runs as numbers: frame2 < frame10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def open_clip(path, fps=None, max_pixels=None):
    """The ``Clip`` at ``path`` (a video file or a folder of images), checked: a readable video stream,
    frames of at most ``max_pixels`` pixels (default: ``nst.images``'s limit, NST_MAX_PIXELS). Any
    problem is one NSTError line. ``fps`` overrides the rate (a folder's default: 24). How many
    frames a run may take is the run's to check (``nst.engine.video.run.part``)."""
    path = Path(path)
    limit = _pixel_limit(max_pixels)
    if path.is_dir():
        clip = _open_folder(path, fps)
    elif not path.exists():
        raise NSTError(f"{path}: no such file or folder; give a video file or a folder of frames")
    elif path.stat().st_size == 0:
        raise NSTError(f"{path}: the file is empty (0 bytes); give a video file or a folder of frames")
    else:
        clip = _probe(path, fps)
    if clip.width * clip.height > limit:
        raise NSTError(
            f"{path}: frames of {clip.width}x{clip.height} pixels are above the limit of {limit:,} pixels a frame; "
            f"scale the clip down first (ffmpeg -vf scale=1280:-2), or raise the limit with {MAX_PIXELS_ENV}"
        )
    return clip


def _open_folder(path, fps):
    images = sorted(
        (p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")),
        key=natural_key,
    )
    if not images:
        raise NSTError(f"{path}: no frames in this folder (no .png or .jpg files); give a video or a folder of images")
    height, width = read_image(images[0]).shape[:2]
    rate = Fraction(fps or FOLDER_FPS).limit_denominator(1001)
    return Clip(path, width, height, rate, len(images), audio=False, images=tuple(images))


def _probe(path, fps):
    """Read the clip's header with ``ffmpeg -i``: its video stream, rate, duration, rotation and sound."""
    try:
        done = subprocess.run([ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, timeout=60, **ALONE)
    except subprocess.TimeoutExpired:
        raise NSTError(f"{path}: ffmpeg could not read its header in 60 s; check the file") from None
    text = done.stderr.decode(errors="replace")
    if "Input #0" not in text:
        reason = next((line.split(": ", 1)[-1] for line in text.splitlines() if "rror" in line), "unknown format")
        raise NSTError(f"{path}: not a video ffmpeg can read ({reason.strip()}); give an mp4, mov, mkv, webm, avi ...")
    streams = [line.strip() for line in text.splitlines() if line.strip().startswith("Stream #0")]
    video = next((s for s in streams if " Video: " in s and "attached pic" not in s), None)
    if video is None:
        raise NSTError(f"{path}: holds no video stream (no frames, or sound only); give a video or a folder of frames")
    codec = video.split(" Video: ", 1)[1].split()[0].strip(",")
    if codec == "none" or "unknown codec" in text:
        tag = re.search(r"Video: none \((\w+)", video)
        raise NSTError(
            f"{path}: its video codec{f' ({tag[1]})' if tag else ''} is unknown to ffmpeg, so its frames cannot be "
            "decoded; convert it to H.264 (ffmpeg -i CLIP -c:v libx264 clip.mp4) with an ffmpeg that reads it"
        )
    size = re.search(r", (\d{2,5})x(\d{2,5})[ ,\[]", video)
    rate = re.search(r"([\d.]+) fps", video) or re.search(r"([\d.]+) tbr", video)
    if size is None:
        raise NSTError(f"{path}: ffmpeg names no frame size for its video stream; the file is damaged")
    width, height = int(size[1]), int(size[2])
    rotation = re.search(r"rotation of (-?[\d.]+) degrees", text)
    degrees = round(float(rotation[1])) % 360 if rotation else 0
    if degrees in (90, 270):  # ffmpeg turns the frames upright as it decodes them
        width, height = height, width
    if fps:
        rate = Fraction(fps).limit_denominator(1001)
    else:
        rate = Fraction(rate[1]).limit_denominator(1001) if rate and float(rate[1]) > 0 else Fraction(FOLDER_FPS)
    duration = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", text)
    seconds = int(duration[1]) * 3600 + int(duration[2]) * 60 + float(duration[3]) if duration else 0.0
    audio = any(" Audio: " in s for s in streams)
    return Clip(path, width, height, rate, round(seconds * float(rate)), audio, rotation=degrees)


def read_frames(clip, start=0, stop=None):
    """Frames ``start`` .. ``stop`` − 1 of the clip, one uint8 (H, W, 3) array at a time, with their numbers:
    yields (number, frame). A video is decoded from its beginning (exact, where seeking is not)."""
    if clip.is_folder:
        for number, image in enumerate(clip.images[start:stop], start=start):
            yield number, read_image(image)
        return
    import imageio_ffmpeg

    logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)  # it warns when rotation changes the size
    reader = imageio_ffmpeg.read_frames(str(clip.path), pix_fmt="rgb24")
    try:
        width, height = next(reader)["size"]
        number = 0
        for raw in reader:
            if stop is not None and number >= stop:
                break
            if number >= start:
                yield number, np.frombuffer(raw, np.uint8).reshape(height, width, 3)
            number += 1
    except (OSError, RuntimeError, StopIteration) as err:
        raise NSTError(f"{clip.path}: cannot decode its frames ({_first_line(err)}); check the file") from None
    finally:
        reader.close()


def _first_line(err):
    return one_line(str(err).strip().splitlines()[0] if str(err).strip() else err)


def even(picture):
    """The picture padded to even sides by repeating its last row / column: yuv420p, H.264's usual
    format, stores colour per 2x2 block, so both sides must be even."""
    h, w = picture.shape[:2]
    return np.pad(picture, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def write_mp4(frames, out, fps, sound=None):
    """Write ``frames`` (uint8 (H, W, 3) pictures, all one size) as an H.264 mp4 (yuv420p, CRF 18) at
    ``fps``, atomically. ``sound`` = (clip path, start seconds, seconds): that stretch of the clip's
    audio, re-encoded as AAC (copying would fail for codecs mp4 cannot hold, and cut only at packets)."""
    frames = iter(frames)
    first = even(next(frames))
    height, width = first.shape[:2]
    with atomic_path(out) as tmp:
        command = [ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"]
        command += ["-s", f"{width}x{height}", "-r", str(fps), "-i", "-"]
        if sound is not None:
            clip, start, seconds = sound
            command += ["-ss", f"{start:.6f}", "-t", f"{seconds:.6f}", "-i", str(clip)]
            command += ["-map", "0:v:0", "-map", "1:a:0?", "-c:a", "aac", "-b:a", "160k"]
        command += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", str(CRF), "-movflags", "+faststart", str(tmp)]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE, **ALONE)
        try:
            process.stdin.write(first.tobytes())
            for frame in frames:
                process.stdin.write(even(frame).tobytes())
            process.stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg stopped early: its message follows
        error = process.stderr.read().decode(errors="replace").strip()
        if process.wait() != 0:
            raise NSTError(f"{out}: ffmpeg could not write the clip ({one_line(error) or 'no message'})")


def write_preview(mp4, out):
    """A small looping GIF of the stylised clip's first seconds (its own 256-colour palette), atomically."""
    # eof_action=pass: a clip shorter than one preview frame (one frame at 30 fps) still gives one
    graph = (
        f"fps={PREVIEW_FPS}:eof_action=pass,scale='min({PREVIEW_WIDTH},iw)':-1:flags=lanczos,split[a][b];"
        "[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer"
    )
    with atomic_path(out) as tmp:
        command = [ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-t", str(PREVIEW_SECONDS), "-i", str(mp4)]
        done = subprocess.run(command + ["-vf", graph, "-loop", "0", str(tmp)], capture_output=True, **ALONE)
        if done.returncode != 0:
            message = one_line(done.stderr.decode(errors="replace"))
            raise NSTError(f"{out}: ffmpeg could not write the preview ({message})")


def describe_mp4(path):
    """(frames, fps, width, height, has sound) of a written mp4, decoding it whole: what a player would show."""
    clip = _probe(Path(path), None)
    count = sum(1 for _ in read_frames(clip))
    return count, clip.fps, clip.width, clip.height, clip.audio
