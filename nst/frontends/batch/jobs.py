"""The jobs of a batch: every content × style pair, or a manifest's rows; and the weights they use.

A content that is a clip (``is_clip``: .mp4, .mov, ...) makes a clip job: its worker stylises it as
``nst video`` does (nst video's defaults for the temporal cost), frame after frame in one task.

A ``Job`` is a name (its folder under OUTPUT_DIR), its inputs and its ``Options``, made once
from typed values: the batch's shared ``nst train`` options, then a manifest row's cells, each
cell read by its option's kind (``DECLARED[name].kind``). A bad row is a job with an ``error``,
which fails without running; the other rows still run.
"""

import csv
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from nst.engine.options import DECLARED, Options
from nst.errors import NSTError, one_line
from nst.frontends.batch.command_line import OWN, RESUME_ERROR
from nst.frontends.batch.results import sha256_file
from nst.weights import find_model

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".ppm"}
# Clips as content: a job then stylises the clip as nst video does, its frames in order in one task.
CLIP_SUFFIXES = {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".wmv", ".flv", ".ogv"}
# Manifest columns that are not options: the inputs, and the job's folder.
INPUT_COLUMNS = ("content", "style", "name")


@dataclass
class Job:
    name: str  # its folder under OUTPUT_DIR
    content: Path
    style: tuple
    options: Options | None = None  # None when error says why not
    error: str | None = None  # a bad row's one-line error: the job fails without running
    model: str | None = None  # the weights file it uses (set by weights_for)


def job_options(name, content, style, values, out):
    """A job's Options: the values given (typed), its inputs and its folder; NSTError if they do not go together."""
    return Options(**values, content=content, style=tuple(style), output_dir=out / name, quiet=True)


def is_clip(path):
    """Whether a job's content is a clip (by its name): nst video's job rather than nst train's."""
    return Path(path).suffix.lower() in CLIP_SUFFIXES


def image_files(paths, flag, suffixes=IMAGE_SUFFIXES):
    """Files as given, folders as the images (or other ``suffixes``) in them (sorted, not recursive,
    hidden files left out)."""
    found = []
    for path in paths:
        if path.is_dir():
            images = sorted(p for p in path.iterdir() if p.suffix.lower() in suffixes and not p.name.startswith("."))
            if not images:
                raise NSTError(f"{flag} {path}: no images in this folder; add .jpg or .png files or give files")
            found += images
        elif path.exists():
            found.append(path)
        else:
            raise NSTError(f"{flag} {path}: no such file or folder; check the path")
    return [p.resolve() for p in found]


def pair_jobs(content, style, shared, out):
    """A job per content × style image. The jobs differ only in their inputs, which Options does not
    open, so options that do not go together fail them all: NSTError, for the whole batch."""
    contents = image_files(content, "--content", IMAGE_SUFFIXES | CLIP_SUFFIXES)  # photos and clips
    styles = image_files(style, "--style")
    pairs = [(c, s) for c in contents for s in styles]
    names = unique_names([f"{c.stem}__{s.stem}" for c, s in pairs])
    return [Job(n, c, (s,), job_options(n, c, [s], shared, out)) for n, (c, s) in zip(names, pairs)]


def manifest_jobs(path, shared, out):
    """The rows of the manifest: content, style, optional name, and `nst train` options as columns."""
    header, rows = read_manifest(path)
    columns = {h: column_option(path, h) for h in header}
    if not {"content", "style"} <= {h.strip().lower() for h in header}:
        raise NSTError(f"{path}: the header needs the columns content and style; it has {', '.join(header)}")
    base = path.resolve().parent
    # enumerate from 2: line 1 is the header
    jobs = [row_job(path, number, row, columns, base, shared, out) for number, row in enumerate(rows, start=2)]
    for job, unique in zip(jobs, unique_names([job.name for job in jobs])):
        if unique != job.name:
            job.name = unique
            if job.options is not None:
                job.options = replace(job.options, output_dir=out / unique)
    return jobs


def read_manifest(path):
    """(header, rows as dicts) of a UTF-8 CSV file with one line per job."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            header = reader.fieldnames or []
    except FileNotFoundError:
        raise NSTError(f"{path}: no such manifest; check the path") from None
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise NSTError(f"{path}: cannot read the manifest ({one_line(err)}); give a UTF-8 CSV file") from None
    if not rows:
        raise NSTError(f"{path}: no jobs in the manifest; write a header line and one line per job")
    return header, rows


def column_option(path, header):
    """A manifest column -> the declared option it sets (None for content, style and name)."""
    key = header.strip().lower()
    if key in INPUT_COLUMNS:
        return None
    name = key.replace("-", "_")  # tv_weight or tv-weight
    if name == "resume":
        raise NSTError(f"{path}: column {header!r}: {RESUME_ERROR}")
    if name in DECLARED and name not in OWN:
        return DECLARED[name]
    raise NSTError(
        f"{path}: unknown column {header!r}; use content, style, name and options of `nst train` without the "
        "dashes (size, iterations, preset, seed, ...)"
    )


def row_job(path, number, row, columns, base, shared, out):
    """Line ``number``'s job: the shared values, then each cell through its option's kind, once."""
    cells = {h.strip().lower(): (v or "").strip() for h, v in row.items() if h is not None}
    content = (base / cells["content"]).resolve() if cells["content"] else None
    styles = tuple((base / s.strip()).resolve() for s in cells["style"].split(";") if s.strip())
    name = cells.get("name") or (
        f"{content.stem}__{'+'.join(s.stem for s in styles)}" if content and styles else f"row{number}"
    )
    job = Job(name, content or Path(), styles)
    try:
        if None in row:  # csv.DictReader keeps the cells beyond the header under None
            raise NSTError("more cells than columns; check the commas")
        if not content or not styles:
            raise NSTError("needs a content and a style image")
        values = dict(shared)
        for header, declared in columns.items():
            cell = (row.get(header) or "").strip()
            if declared is not None and cell:  # an empty cell keeps the batch's value
                values[declared.name] = declared.kind.check(declared.flag, cell)
        job.options = job_options(name, content, styles, values, out)
    except NSTError as err:
        job.error = f"{path} line {number}: {err}"
    return job


def unique_names(names):
    """Folder names, made unique in order: a, b, a -> a, b, a-2."""
    seen, unique = Counter(), []
    for name in names:
        seen[name] += 1
        unique.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return unique


def weights_for(jobs):
    """{model path: {"sha256", "name", "size", "path"}} for the weights the jobs use; sets job.model.

    No default weights is an invalid batch (NSTError); a manifest row's missing --model fails that job.
    """
    found, default = {}, None
    for job in jobs:
        if job.options is None:
            continue
        if job.options.model is None:
            default = default or find_model()
            job.options = replace(job.options, model=default)
        job.model = str(job.options.model)
        if job.model in found:
            continue
        path = Path(job.options.model)
        if not path.is_file():
            job.error = f"{path}: no such weights file; run `python -m nst.weights` to fetch VGG19"
            continue
        found[job.model] = {
            "sha256": sha256_file(path),
            "name": path.name,
            "size": path.stat().st_size,
            "path": job.model,
        }
    return found
