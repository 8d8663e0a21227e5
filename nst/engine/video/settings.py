"""What ``nst video`` adds to ``nst train``'s options: ``Video``, and its defaults as measured.

Light: no TensorFlow, so the command's ``--help`` reads its defaults from here.
"""

from dataclasses import dataclass
from pathlib import Path

# The temporal cost's weight in nst's units (J_temporal per pixel value, J the exercise's). Measured by
# scripts/video-bench (docs/video.md) at 300x400 with 12 L-BFGS iterations a frame: weights 0, 1e3,
# 1e4 and 1e5 gave the same warping error (0.045-0.046x that of frames stylised alone) and the same
# worst J_content + J_style; the warm start holds the clip. 1e4 keeps the term at ~0.2 % of J, there
# to hold a frame that runs longer (--warm-iterations) to its predecessor.
TEMPORAL_WEIGHT = 1e4
# What a preset means for the frames after the first: (optimiser, iterations) from the warped
# previous output. Measured by scripts/video-bench: from the warped start L-BFGS came within 5 % of
# the frame stylised alone after 14, 1 and 1 iterations (frames 1-3), Adam after -, - and 22 (its
# first steps on a new frame raise J); an L-BFGS iteration took ~1.1 s with the frame's flow and
# files, so 10 keep 240 frames within the hour (measured: 46 min for a 10 s clip at 300x400). The
# first frame is stylised as nst train would (the preset's own optimiser and iterations, from --init's start).
WARM = {"exercise": ("lbfgs", 10), "quality": ("lbfgs", 10)}
# The second frame runs SETTLING times the warm iterations: it starts from the first frame's picture,
# which warped had J_content + J_style 1.6x the frame alone's, where later frames started at 0.8-1.0x.
SETTLING = 2
MAX_FRAMES = 3000  # frames in one run unless --max-frames says more: about 12 hours at 300x400


@dataclass(frozen=True)
class Video:
    """The clip, its part, and how its frames hold together; ``nst.engine.video.run.stylize`` takes it
    with the frames' ``Options``. The command line checks each value (``nst.frontends.video``)."""

    clip: Path  # a video file, or a folder of frames
    temporal_weight: float = TEMPORAL_WEIGHT
    warm_iterations: int | None = None  # iterations of each later frame (None: the preset's, WARM)
    warm_optimizer: str | None = None  # "adam" or "lbfgs" for later frames (None: the preset's)
    first: int = 0  # the part: frames first .. stop - 1 (stop None: to the end)
    stop: int | None = None
    max_seconds: float | None = None  # at most this long a part
    max_frames: int = MAX_FRAMES
    fps: float | None = None  # the rate of a folder of frames (default 24), or another for a video
    resume: bool = False  # go on with the run in the output folder

    def __post_init__(self):
        object.__setattr__(self, "clip", Path(self.clip))

    def warm(self, options):
        """(optimiser, iterations) for the frames after the first."""
        optimizer, iterations = WARM[options.preset]
        return self.warm_optimizer or optimizer, self.warm_iterations or iterations
