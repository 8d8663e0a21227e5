"""A clip in the style of a painting, frame by frame and steady: ``stylize(video, options)``.

``options`` are ``nst train``'s, for every frame; ``video`` (a ``Video``) says which clip, which of
its frames and how frames hold together. For each frame t of the part (frames first .. stop − 1):

1. its content C_t: the frame centre-cropped and resized to the output size, as ``nst train``
   treats a photo;
2. the first frame is stylised as ``nst train`` would (``--init``, the preset's optimiser and
   iterations, coarse-to-fine levels when the size asks for them);
3. every later frame: DIS flow between frames t − 1 and t, both ways; output t − 1 warped onto
   frame t (ω) and its reliability c (``nst.engine.video.flow``); it starts from ω and minimises
   J = α J_content + β J_style [+ J_tv] + temporal_weight · J_temporal (``nst.engine.video.temporal``)
   for the *warm* iterations with the *warm* optimiser (Adam keeping its moments, carried along the
   flow): what a preset means for frames after the first (``WARM``, measured: docs/video.md);
4. the frame is saved as frames/NNNNNN.png, its row added to frames.csv, and its float image kept
   for ``--resume`` (``nst.engine.video.files``).

At the end, and after Ctrl-C with the frames done so far, stylized.mp4 and preview.gif
(``nst.engine.video.clip``). The last level's objective is built once per clip, the content target
and the temporal targets in variables that each frame assigns (``nst.engine.video.objective``):
one traced step for the whole clip.
"""

import dataclasses
import itertools
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nst.engine.objective import load_costs
from nst.engine.optimizers import make_optimizer
from nst.engine.options import MUST_MATCH, record
from nst.engine.problem import level_sizes, prepare
from nst.engine.release import released
from nst.engine.run import check_outputs, level_objective, load_weights
from nst.engine.runtime import describe_device
from nst.engine.video.clip import open_clip, read_frames, write_mp4, write_preview
from nst.engine.video.files import FrameRow, VideoFiles, check_folder
from nst.engine.video.flow import DISFlow, reliability, warp
from nst.engine.video.objective import FrameObjective
from nst.engine.video.progress import ClipProgress
from nst.engine.video.settings import SETTLING
from nst.errors import NSTError
from nst.images import read_image, reshape_and_normalize_image, resize_to, save_image
from nst.weights import find_model


@dataclass
class Result:
    mp4: Path | None  # stylized.mp4 (None when no frame was finished)
    rows: list  # FrameRow per frame done, resumed ones included
    status: str  # "done", "stopped", "interrupted" (Ctrl-C) or "diverged"
    files: VideoFiles


def part(clip, video):
    """(first, stop, count) of the frames to stylise: stop None is the clip's end, count the frames
    expected (a video's header promises a count, duration × rate, which the decoding settles)."""
    first, stop = video.first, video.stop
    if video.max_seconds is not None:
        most = first + max(1, math.floor(video.max_seconds * clip.fps + 1e-9))
        stop = most if stop is None else min(stop, most)
    if clip.frames and first >= clip.frames:
        raise NSTError(f"--frames {first}:: the clip has {clip.frames} frames (0 to {clip.frames - 1}); start earlier")
    count = (clip.frames if stop is None else min(stop, clip.frames or stop)) - first
    if count > video.max_frames:
        raise NSTError(
            f"{clip.path}: {count} frames to stylise, above the limit of {video.max_frames}; stylise a part "
            "with --frames A:B or --max-seconds, or raise --max-frames"
        )
    return first, stop, max(count, 1)


def stylize(video, options, on_frame=None, on_iteration=None, should_stop=None):
    """Stylise ``video.clip`` with ``options`` (``nst.engine.options.Options``); returns a ``Result``.

    on_frame(row) -- after each frame, with its ``FrameRow``
    on_iteration(frame, i, terms) -- after each iteration, with J's terms (TensorFlow scalars)
    should_stop -- a function returning True, or a ``threading.Event``: the run then stops as
        after Ctrl-C, keeping the frames done and writing the clip so far
    Bad input raises NSTError before any frame is stylised.
    """
    files = VideoFiles(options.output_dir)
    clip = open_clip(video.clip, fps=video.fps)
    first, stop, count = part(clip, video)
    model = options.model or find_model()
    costs = load_costs(options.costs)
    check_outputs(dataclasses.replace(options, content=clip.path), files)
    stop_requested = should_stop.is_set if isinstance(should_stop, threading.Event) else should_stop
    with files.claim(f"nst video of {clip.path.name}"), released():  # its memory back at the end, as run()
        frames = Frames(video, options, clip, files, load_weights(model), costs)
        return frames.run(first, stop, count, on_frame, on_iteration, stop_requested)


class Frames:
    """One clip's run: the previous frame and output, the last level's shared objective, the files."""

    def __init__(self, video, options, clip, files, weights, costs):
        self.video, self.options, self.clip, self.files = video, options, clip, files
        self.weights, self.costs = weights, costs
        self.flow = DISFlow()
        self.seed = options.seed if options.seed is not None else int(np.random.default_rng().integers(2**31))

    def run(self, first, stop, count, on_frame, on_iteration, stop_requested):
        reader = read_frames(self.clip, first, stop)
        try:
            opening = next(reader)
        except StopIteration:
            raise NSTError(f"{self.clip.path}: no frames to read; give a clip with at least one frame") from None
        self.problem, (self.height, self.width) = prepare(self.options, self.weights, content=opening[1])
        self.sizes = level_sizes(self.height, self.width, self.options.multiscale)
        rows = check_folder(self.files, self.record(first, stop), self.video.resume)
        self.files.write_record(self.record(first, stop))
        optimizer, warm_iterations = self.video.warm(self.options)
        first_iterations = self.options.iterations * len(self.sizes)
        todo = max(1, count - len(rows))
        later = todo - (0 if rows else 1)  # frames still to do from a warped start
        settling = int(later > 0 and (not rows or rows[-1].frame == first))  # the second frame, twice the iterations
        total = (first_iterations if not rows else 0) + (later + settling * (SETTLING - 1)) * warm_iterations
        self.progress = ClipProgress(total, todo, self.options.quiet)
        self.progress.log(self.describe(first, count, rows, optimizer, warm_iterations))
        self.on_iteration, self.stop_requested = on_iteration, stop_requested
        done, status = list(rows), "done"
        try:
            for number, picture in itertools.chain([opening], reader):
                content = resize_to(picture, self.height, self.width)
                if done and number <= done[-1].frame:  # finished before: only its picture is needed, for the flow
                    self.previous = (content, self._restore(done[-1].frame) if number == done[-1].frame else None)
                    continue
                iterations = warm_iterations * (SETTLING if number == first + 1 else 1)
                status, row = self.frame(number, content, optimizer, iterations)
                if row is not None:
                    done.append(row)
                    self.files.write_rows(done)
                    self.progress.frame_done(row)
                    if on_frame is not None:
                        on_frame(row)
                if status != "done":
                    break
        except KeyboardInterrupt:
            status = "interrupted"
        finally:
            reader.close()
            self.progress.close()
        return self.finish(done, first, stop, status)

    def record(self, first, stop):
        """video.json: the clip, the part, and what a resumed run must share (``check_folder``)."""
        clip = self.clip
        return {
            "clip": {
                "path": str(clip.path.resolve()),
                "width": clip.width,
                "height": clip.height,
                "frames": clip.frames,
                "fps": str(clip.fps),
            },
            "first": first,
            "stop": stop,
            "settings": dict(record(self.options, MUST_MATCH), size=[self.height, self.width], first=first),
            "options": record(self.options),
            "video": {"temporal_weight": self.video.temporal_weight, "warm": list(self.video.warm(self.options))},
            "seed": self.seed,
            "finished": False,
        }

    def describe(self, first, count, rows, optimizer, iterations):
        o = self.options
        resumed = f"; resuming after frame {rows[-1].frame}" if rows else ""
        return (
            f"nst video: {self.clip.path.name} frames {first}-{first + count - 1} ({count} at {float(self.clip.fps):g} "
            f"fps) in the style of {', '.join(Path(p).name for p in o.style)}, {self.height}x{self.width}; first "
            f"frame {o.iterations} iterations ({o.optimizer}) from {o.init}, then {iterations} ({optimizer}) from the "
            f"previous frame warped (the second frame {SETTLING}x that), temporal weight "
            f"{self.video.temporal_weight:g}; on {describe_device()}; seed "
            f"{self.seed}{resumed}"
        )

    def _restore(self, number):
        """The finished frame's output as the optimiser left it (last-frame.npz), else read back from its PNG."""
        image = self.files.load_last(number)
        if image is None:
            image = reshape_and_normalize_image(read_image(self.files.frame(number)))
        return image

    def frame(self, number, content, optimizer, iterations):
        """Stylise one frame; returns (status, its FrameRow or None when it did not finish)."""
        started = time.perf_counter()
        normalised = reshape_and_normalize_image(content)
        previous = getattr(self, "previous", None)
        if previous is None:  # the first frame: as nst train would
            status, image, terms, count = self.first_frame(number, normalised)
            start = "noise" if self.options.init in ("noise", "random") else self.options.init
        else:
            before, output = previous
            if not hasattr(self, "shared"):  # resumed: the last level's objective, as the first frame had it
                self.share(*level_objective(self.problem, self.options, self.costs, self.sizes[-1], None, 0)[:2])
            forward, backward = self.flow.pair(before, content)
            warped, mask = warp(output, backward, sharp=True), reliability(forward, backward)
            self.shared.aim(normalised, warped, mask)
            # The start is ω everywhere, as Ruder et al. start: frame t's content in the unreliable pixels
            # made the start's J 3-4x higher, and J still 34-41 % higher 30 iterations on (docs/video.md).
            running = self.shared.optimizer(optimizer, warped, backward)
            status, image, terms, count = self._run(number, running, iterations)
            start = "warped"
        if status != "done" or terms is None:  # stopped, or diverged (its image is the last good one, not a result)
            return status, None
        image = self.shared.crop(image)
        finished = dataclasses.replace(self.problem, content=content).finish(image)  # --preserve-colors luminance
        save_image(self.files.frame(number), finished)
        self.files.save_last(number, image)
        self.previous = (content, image)
        costs = {name: float(value) for name, value in terms.items()}
        return status, FrameRow(number, start, count, costs, time.perf_counter() - started)

    def first_frame(self, number, normalised):
        """The first frame: each level as ``nst.engine.run`` optimises it, the last on the shared objective."""
        image, status, terms, count = None, "done", None, 0
        for level_number, size in enumerate(self.sizes, start=1):
            level, objective, image = level_objective(self.problem, self.options, self.costs, size, image, self.seed)
            if level_number == len(self.sizes):
                self.share(level, objective)
                self.shared.aim(normalised)
                optimizer = self.shared.optimizer(self.options.optimizer, self.shared.crop(image))
            else:
                optimizer = make_optimizer(objective, image, self.options)
            status, image, terms, n = self._run(number, optimizer, self.options.iterations)
            count += n
            if status != "done":
                break
        return status, image, terms, count

    def share(self, level, objective):
        margin = self.problem.margin(*self.sizes[-1])
        self.shared = FrameObjective(level, objective, self.options, self.video.temporal_weight, margin)

    def _run(self, number, optimizer, iterations):
        """(status, image, the last iteration's terms, iterations done)."""
        last = {}

        def on_step(i, terms, current):
            last.update(terms=terms, count=i + 1)
            self.progress.iteration(number, terms)
            if self.on_iteration is not None:
                self.on_iteration(number, i, terms)
            return bool(self.stop_requested and self.stop_requested())

        status = optimizer.run(0, iterations, on_step)
        if status == "diverged":
            self.progress.log(f"frame {number}: the cost became NaN or infinite ({optimizer.message}); stopping")
        return status, optimizer.image(), last.get("terms"), last.get("count", 0)

    def finish(self, rows, first, stop, status):
        """stylized.mp4 and preview.gif from the frames done; the record marked finished when all are."""
        files, clip = self.files, self.clip
        sound = (clip.path, clip.seconds(first), clip.seconds(len(rows))) if clip.audio and rows else None
        if rows:
            write_mp4((read_image(files.frame(row.frame)) for row in rows), files.mp4, clip.fps, sound)
            write_preview(files.mp4, files.preview)
        if status == "done":
            files.write_record(dict(self.record(first, stop), finished=True))
        if status == "diverged":
            number = rows[-1].frame + 1 if rows else first
            raise NSTError(
                f"{files.frame(number)}: the cost became NaN or infinite at this frame; the frames before it and the "
                "clip so far are saved; try a lower --learning-rate or --temporal-weight, then --resume"
            )
        if not rows:
            print(f"{status.capitalize()} before the first frame was finished; no clip written", flush=True)
            return Result(None, rows, status, files)
        seconds = sum(row.seconds for row in rows)
        print(
            f"{'Done' if status == 'done' else status.capitalize()}: {len(rows)} frames ({rows[0].frame}-"
            f"{rows[-1].frame}) in {seconds:.0f} s ({seconds / len(rows):.1f} s a frame); {files.mp4} at "
            f"{float(clip.fps):g} fps"
            + (", with the clip's sound" if sound else "")
            + ("; continue with --resume" if status != "done" else ""),
            flush=True,
        )
        return Result(files.mp4, rows, status, files)
