"""Save a run and resume it: one ``.npz`` holding the image, the optimizer and the history.

Keys of the file (plain numeric arrays and one string, so loading never unpickles):

    image        float32 (1, H, W, 3)  the normalised generated image
    iteration    int64 ()              iterations done; a resumed run starts here
    rows         float64 (N, 2 + k)    the loss history: iteration, the k costs, seconds
    optimizer.K  any numeric array     one per optimizer state entry (Adam: m, v, t; L-BFGS: none)
    meta         unicode ()            JSON: {"format": 1, "settings": {...}, "costs": [k cost names]}

Files written before the costs were named have no "costs" in meta and 5 columns:
iteration, J, J_content, J_style, seconds; they still load.
"""

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nst.engine.options import MUST_MATCH
from nst.engine.report import Row, cost_names
from nst.errors import NSTError, one_line, require_file
from nst.images import atomic_path

FORMAT = 1
PREFIX = "optimizer."
REQUIRED = ("image", "iteration", "rows", "meta")
OLD_COSTS = ["J", "J_content", "J_style"]  # the columns of a file without "costs" in its meta


@dataclass
class Checkpoint:
    image: np.ndarray  # float32 (1, H, W, 3)
    iteration: int
    optimizer_state: dict
    rows: list  # of report.Row
    settings: dict
    path: Path | None = field(default=None, compare=False)  # where it was loaded from, for messages


def save_checkpoint(path, image, iteration, optimizer_state, rows, settings):
    """Write a checkpoint atomically: a crash mid-save leaves the previous one intact."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 4 or image.shape[0] != 1 or image.shape[3] != 3:
        raise ValueError(f"expected a (1, H, W, 3) image, got shape {image.shape}")
    names = cost_names(rows)
    table = [[r.iteration, *(r.costs.get(name, np.nan) for name in names), r.seconds] for r in rows]
    arrays = {
        "image": image,
        "iteration": np.int64(iteration),
        "rows": np.array(table, dtype=np.float64).reshape(-1, 2 + len(names)),
        "meta": np.array(json.dumps({"format": FORMAT, "settings": _as_stored(settings), "costs": names})),
    }
    for key, value in optimizer_state.items():
        arrays[PREFIX + key] = np.asarray(value)
    with atomic_path(path) as tmp, open(tmp, "wb") as file:  # a file object: savez won't add ".npz"
        np.savez(file, allow_pickle=False, **arrays)  # refuses object arrays instead of pickling them


def load_checkpoint(path):
    """Read and check a checkpoint; any problem with the file is one ``NSTError`` line."""
    path = require_file(Path(path), "give the .npz checkpoint written by --checkpoint-every")
    try:
        npz = np.load(path, allow_pickle=False)  # never unpickles: a pickle raises ValueError
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
        with npz:
            data = {key: npz[key] for key in npz.files}  # read every member now: CRC errors show here
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as err:
        if "pickle" in str(err):  # numpy's own text suggests loading it unsafely: not our advice
            raise _bad(path, "not a readable checkpoint, it holds pickled Python objects") from err
        raise _bad(path, f"not a readable checkpoint ({one_line(err)})") from err
    except Exception as err:  # zlib, struct... whatever a damaged zip raises
        raise _bad(path, f"the file is damaged ({one_line(err)})") from err
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise _bad(path, f"not a checkpoint, {', '.join(missing)} missing")
    if any(a.dtype.hasobject for a in data.values()):  # allow_pickle=False already refuses; be sure
        raise _bad(path, "holds Python objects")
    image, rows, meta = data["image"], data["rows"], data["meta"]
    if image.dtype.kind != "f" or image.ndim != 4 or image.shape[0] != 1 or image.shape[3] != 3:
        raise _bad(path, f"image is {image.dtype} {image.shape}, expected float (1, H, W, 3)")
    if not np.isfinite(image).all():
        raise _bad(path, "image holds NaN or infinite values")
    if data["iteration"].shape != () or data["iteration"].dtype.kind not in "iu" or data["iteration"] < 0:
        raise _bad(path, "iteration is not a whole number >= 0")
    try:
        info = json.loads(str(meta[()])) if meta.dtype.kind == "U" and meta.shape == () else None
    except ValueError:
        info = None
    if not isinstance(info, dict) or not isinstance(info.get("settings"), dict):
        raise _bad(path, "the settings (meta) are not valid JSON")
    if info.get("format") != FORMAT:
        raise _bad(path, f"format {info.get('format')!r}, this version of nst reads format {FORMAT}")
    names = info.get("costs", OLD_COSTS)
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise _bad(path, "the cost names (meta) are not a list of names")
    columns = 2 + len(names)
    if rows.dtype.kind not in "fiu" or rows.ndim != 2 or rows.shape[1] != columns or not np.isfinite(rows[:, 0]).all():
        raise _bad(path, f"loss history is {rows.dtype} {rows.shape}, expected (N, {columns}) numbers")
    state = {key[len(PREFIX) :]: value for key, value in data.items() if key.startswith(PREFIX)}
    for key, shape in {"m": image.shape, "v": image.shape, "t": ()}.items():  # Adam's, if present
        if key in state and state[key].shape != shape:
            raise _bad(path, f"optimizer {key} has shape {state[key].shape}, expected {shape}")
    history = [
        Row(int(r[0]), {name: float(v) for name, v in zip(names, r[1:-1]) if v == v}, float(r[-1])) for r in rows
    ]
    return Checkpoint(image.astype(np.float32), int(data["iteration"]), state, history, info["settings"], path)


def changed_settings(checkpoint, settings, keys=None):
    """[(key, old, new)] for the settings (``keys``, default all) that differ; tuples == lists."""
    new = _as_stored(settings)
    keys = sorted(set(checkpoint.settings) | set(new)) if keys is None else keys
    return [(k, checkpoint.settings.get(k), new.get(k)) for k in keys if checkpoint.settings.get(k) != new.get(k)]


def check_compatible(checkpoint, settings, keys=MUST_MATCH):
    """Raise ``NSTError`` if ``settings`` differ from the checkpoint's in any of ``keys``."""
    changes = changed_settings(checkpoint, settings, keys)
    if changes:
        key, old, new = changes[0]
        old, new = ("(not set)" if v is None else json.dumps(v) for v in (old, new))
        raise NSTError(
            f"{checkpoint.path or 'checkpoint'}: was made with {key} {old}, this run has {key} "
            f"{new}; resume with the same --{key.replace('_', '-')}, or start afresh without --resume"
        )


def _as_stored(settings):
    """``settings`` (``nst.engine.options.settings``: JSON values) as they come back from the file:
    tuples become lists. Raises TypeError for what JSON cannot hold (a Path: pass str(path))."""
    return json.loads(json.dumps(settings))


def _bad(path, what):
    return NSTError(f"{path}: {what}; give another checkpoint, or start afresh without --resume")
