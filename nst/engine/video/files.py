"""The files a video run writes, named in one place, and what an output folder already holds.

frames/NNNNNN.png   each stylised frame as it finishes, numbered as in the clip (000000.png is its first)
frames.csv          a row per finished frame: frame, start (noise or warped), iterations, J and its terms
                    (J_content, J_style[, J_tv], J_temporal), seconds
stylized.mp4        the stylised frames as H.264 at the clip's rate, with the clip's sound
preview.gif         its first seconds, small
video.json          the clip and the settings of the run that writes here (what --resume checks)
last-frame.npz      the last finished frame as the optimiser left it (float32), so --resume goes on
                    from exactly that image, not from its rounding to a PNG
.nst-running        while a run writes here: its lock (``nst.engine.outputs.RunFiles.claim``)

Every file is written whole or not at all (``nst.images.atomic_path``), frames.csv after the
frame's PNG, so a run killed at any moment leaves finished frames and a table naming only them.
"""

import csv
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nst.engine.outputs import RunFiles
from nst.engine.report import cost_names
from nst.errors import NSTError
from nst.images import atomic_path

NAMES = dict(frames="frames", frames_csv="frames.csv", mp4="stylized.mp4", preview="preview.gif",
             record="video.json", last="last-frame.npz")  # fmt: skip
FORMAT = 1


@dataclass
class FrameRow:
    """One line of frames.csv."""

    frame: int  # its number in the clip
    start: str  # "noise" (as --init says, the first frame) or "warped" (the previous output warped)
    iterations: int
    costs: dict  # J and its terms after the frame's last iteration
    seconds: float  # the frame's own wall time


@dataclass(frozen=True)
class VideoFiles(RunFiles):
    """The paths of a video run's outputs in ``folder``: ``files.mp4`` and the rest of ``NAMES``
    (and ``RunFiles``'s lock, which holds the folder for one run)."""

    def __getattr__(self, name):
        if name in NAMES:
            return self.folder / NAMES[name]
        return super().__getattr__(name)

    def frame(self, number):
        return self.frames / f"{number:06d}.png"

    def is_output(self, path):
        """Whether ``path`` is a file a run in this folder writes (an input there would be overwritten)."""
        path, frames = Path(path).resolve(), self.frames.resolve()
        return frames in (path, path.parent) or path in {self.folder.resolve() / n for n in NAMES.values()}

    def read_rows(self):
        """frames.csv's rows, [FrameRow]; none when there is no table."""
        try:
            with open(self.frames_csv, newline="") as f:
                table = list(csv.DictReader(f))
        except FileNotFoundError:
            return []
        except (OSError, csv.Error, UnicodeDecodeError) as err:
            raise NSTError(f"{self.frames_csv}: cannot read it ({err}); remove it to start the clip afresh") from None
        rows = []
        for line in table:
            fixed = ("frame", "start", "iterations", "seconds")
            costs = {name: float(value) for name, value in line.items() if name not in fixed}
            number, iterations, seconds = int(line["frame"]), int(line["iterations"]), float(line["seconds"])
            rows.append(FrameRow(number, line["start"], iterations, costs, seconds))
        return rows

    def write_rows(self, rows):
        """frames.csv, rewritten whole (atomically) with every finished frame."""
        names = cost_names(rows)
        with atomic_path(self.frames_csv) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["frame", "start", "iterations", *names, "seconds"])
            for r in rows:
                costs = (f"{r.costs.get(n, float('nan')):.9g}" for n in names)
                writer.writerow([r.frame, r.start, r.iterations, *costs, f"{r.seconds:.3f}"])

    def save_last(self, number, image):
        """The finished frame ``number``'s float image (1, H, W, 3), for --resume."""
        with atomic_path(self.last) as tmp, open(tmp, "wb") as f:
            np.savez(f, allow_pickle=False, frame=np.int64(number), image=np.asarray(image, np.float32))

    def load_last(self, number):
        """The float image of frame ``number`` saved by ``save_last``, or None (another frame, or no file)."""
        try:
            with np.load(self.last, allow_pickle=False) as data:
                if int(data["frame"]) == number:
                    return data["image"]
        except (OSError, ValueError, KeyError):
            pass
        return None

    def read_record(self):
        try:
            return json.loads(self.record.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            raise NSTError(f"{self.record}: not readable ({err}); remove it, or choose another --output-dir") from None

    def write_record(self, record):
        with atomic_path(self.record) as tmp:
            tmp.write_text(json.dumps(dict(record, format=FORMAT), indent=1))

    def clear(self):
        """Remove an earlier, finished run's files (its frames and table, clip, preview, record)."""
        shutil.rmtree(self.frames, ignore_errors=True)
        for name in ("frames_csv", "mp4", "preview", "record", "last"):
            getattr(self, name).unlink(missing_ok=True)


def check_folder(files, record, resume):
    """Refuse a folder whose frames would be lost or mixed up; returns the finished rows to keep.

    ``record`` describes this run (``clip``: its path and size, ``settings``: what must match). A folder
    holding another clip's frames, or frames nst did not write, is refused, whatever ``resume`` says;
    an unfinished run of this clip is continued only with ``resume``; a finished one is cleared.
    """
    earlier = files.read_record()
    pngs = sorted(files.frames.glob("*.png")) if files.frames.is_dir() else []
    if earlier is None:
        if pngs:
            raise NSTError(
                f"{files.frames}: holds {len(pngs)} images that no nst video run wrote; choose another --output-dir"
            )
        if resume:
            raise NSTError(f"{files.folder}: no earlier run of this clip to resume; leave out --resume")
        return []
    rows = files.read_rows()
    if earlier.get("clip") != record["clip"]:
        other = (earlier.get("clip") or {}).get("path")
        raise NSTError(
            f"{files.folder}: holds {len(rows)} stylised frames of another clip, {other}; "
            "choose another --output-dir, or remove that folder to reuse it"
        )
    if not resume:
        if rows and not earlier.get("finished"):
            raise NSTError(
                f"{files.folder}: holds an unfinished run of this clip ({len(rows)} frames done); continue it with "
                "--resume, or choose another --output-dir"
            )
        files.clear()
        return []
    changed = [name for name, value in record["settings"].items() if earlier.get("settings", {}).get(name) != value]
    if changed:
        raise NSTError(
            f"{files.folder}: the earlier run had other {', '.join(changed)}; resume with the options it had "
            f"(see {files.record.name}), or choose another --output-dir"
        )
    kept = []  # the frames done, in order from the first, each with its image
    for row in rows:
        if row.frame != (kept[-1].frame + 1 if kept else record["first"]) or not files.frame(row.frame).is_file():
            break
        kept.append(row)
    return kept
