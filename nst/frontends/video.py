"""``nst video CLIP --style PAINTING``: a clip in the style of a painting, frame to frame without flicker.

The command's own options are declared here, once (``OWN``: each flag's kind from
``nst.engine.values``, its default and help); every ``nst train`` option that makes sense per frame
comes from ``nst.engine.command_line.add_options``. The command line is read once, into typed
values: ``Options`` for every frame, ``Video`` for the clip; ``nst.engine.video.run.stylize`` does
the rest (TensorFlow is imported only then, so ``--help`` stays light).
"""

import sys

from nst.engine.command_line import Formatter, Parser, add_kind_argument, add_options
from nst.engine.options import DECLARED, Options
from nst.engine.values import Choice, File, Number, Span, Switch, Whole
from nst.engine.video.settings import MAX_FRAMES, TEMPORAL_WEIGHT, WARM, Video

# nst train's options with no meaning per frame: the content is the clip; --resume is the video's own
# (it continues a clip, not a checkpoint); snapshots, animations and checkpoints of the iterations of
# one frame would be thousands of files (a video run keeps every frame, and continues after a kill).
EXCLUDE = ("content", "resume", "save_every", "animation", "checkpoint_every")
WARM_TEXT = "; ".join(f"{preset} {optimizer} {n}" for preset, (optimizer, n) in WARM.items())

# The video's own options: name -> (kind, default, help). Video(**values) takes them as named here.
OWN = {
    "temporal_weight": (Number(0), TEMPORAL_WEIGHT, "weight of the temporal cost, which holds each frame to the "
                        "previous output warped by the optical flow (0: none)"),
    "warm_iterations": (Whole(1), None, f"iterations of each frame after the first, twice that for the second "
                        f"(default: the preset's: {WARM_TEXT})"),
    "warm_optimizer": (Choice("adam", "lbfgs"), None, "optimiser of each frame after the first (default: the "
                       "preset's)"),
    "frames": (Span(), (0, None), "A:B: stylise frames A to B - 1 only (numbered from 0; A: or :B)"),
    "max_seconds": (Number(above=0), None, "stylise at most this many seconds of the clip"),
    "max_frames": (Whole(1), MAX_FRAMES, "refuse to stylise more frames than this in one run"),
    "fps": (Number(above=0), None, "frame rate of a folder of frames (default: 24), or another rate for a video"),
    "resume": (Switch(), False, "continue the run in --output-dir after its last finished frame"),
}  # fmt: skip


def build_parser():
    parser = Parser(
        prog="nst video",
        formatter_class=Formatter,
        description="A clip in the style of a painting: each frame stylised as nst train would, started from the "
        "previous output carried along the optical flow and held to it by a temporal cost, so the clip does not "
        "flicker. Writes OUTPUT_DIR/stylized.mp4 (H.264, the clip's sound), frames/, frames.csv and preview.gif.",
        epilog="The options from --style on are those of nst train, for every frame: the first frame is stylised "
        "as nst train would, the others from the previous one (--warm-iterations, --warm-optimizer).",
    )
    clip = "a video file (anything ffmpeg reads) or a folder of frames"
    add_kind_argument(parser, "clip", File(), clip, default=None, metavar="CLIP")
    own = parser.add_argument_group("the clip")
    for name, (kind, default, help_text) in OWN.items():
        shown = f" (default: {kind.text(default)})" if default not in (None, False, (0, None)) else ""
        metavar = "A:B" if isinstance(kind, Span) else name.split("_")[-1].upper()
        flag = "--" + name.replace("_", "-")
        add_kind_argument(own, flag, kind, help_text + shown, default=default, metavar=metavar)
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")  # read by run_cli
    add_options(parser, exclude=EXCLUDE)
    return parser


def parse_video_args(argv):
    """argv -> (Video, Options): the clip's values and every frame's, typed and checked."""
    values = vars(build_parser().parse_args(argv))
    first, stop = values.pop("frames")
    own = {name: values.pop(name) for name in list(values) if name in OWN}
    shared = {name: value for name, value in values.items() if name in DECLARED}
    video = Video(clip=values["clip"], first=first, stop=stop, **own)
    return video, Options(**shared, content=video.clip)


def main(argv=None):
    """``nst video``: 0 when the clip is done (or stopped), 130 after Ctrl-C; bad input exits 2 (NSTError)."""
    video, options = parse_video_args(sys.argv[1:] if argv is None else list(argv))
    from nst.engine.video.run import stylize  # TensorFlow and OpenCV: only once the options are read

    return {"done": 0, "stopped": 0, "interrupted": 130}[stylize(video, options).status]


if __name__ == "__main__":
    from nst.errors import run_cli

    run_cli(main)
