"""nst studio: style transfer in the browser. ``python -m nst.frontends.studio`` (or ``nst app``).

A local Gradio page over nst's library API, and nothing else: the form's values go through
``nst.engine.options.parse_args`` (the CLI's checks and one-line messages), uploads through
``nst.images.load_picture``, and each job is one ``nst.engine.run.run(options, on_iteration,
should_stop)`` in a worker thread, writing the CLI's files into ``output/studio/<job id>/``
(``nst.engine.outputs.RunFiles``). The page holds no training code of its own.

How a job flows::

    Run ──> submit (at once, not queued): check the uploads and the form, make a Job
        └─> follow (queued, at most --queue at a time): start the Job's thread, then yield
            what it reports (the current image, the costs, the progress) until it ends
    Stop, or closing the tab ──> the Job's threading.Event: run() ends after the iteration
            in progress and saves the current image as the final one

The same Job runs behind the named endpoint ``/stylize`` (content, style, preset, size,
iterations -> final image, losses), for scripts using ``gradio_client``.
"""

import os

# Before gradio is imported: no usage statistics or version checks (the machine may be
# offline, and a local tool has no business calling home) ...
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# ... and a closed tab noticed within ~2 s (gradio's default heartbeat is 15 s), so its job
# stops soon after.
os.environ.setdefault("GRADIO_HEARTBEAT_INTERVAL", "2")

import argparse  # noqa: E402 - the environment above must be set first
import math  # noqa: E402
import queue  # noqa: E402
import secrets  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from dataclasses import dataclass, field, replace  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

from nst import config  # noqa: E402
from nst.engine.command_line import build_parser, parse_args  # noqa: E402
from nst.engine.options import Options  # noqa: E402
from nst.engine.outputs import RunFiles  # noqa: E402
from nst.errors import NSTError, one_line, run_cli  # noqa: E402
from nst.images import load_picture  # noqa: E402

TITLE = "nst studio"
DEFAULT_OUTPUT = config.OUTPUT_DIR / "studio"
DEFAULT_MAX_SIZE = 1024  # long side, pixels; 2048 took 16 min and 7.5 GiB on the README's CPU
DEFAULT_MAX_UPLOAD_MB = 50.0
MAX_STYLES = 3  # style slots on the page (the CLI takes any number)
PREVIEW_SECONDS = 1.0  # the current image is sent at most this often (and at the last iteration)
REFRESH_SECONDS = 0.5  # progress and plot at most this often
RATE_WINDOW = 5  # s/it is measured over the last this many iterations
TERM_COLORS = {"J": "#1f77b4", "J_content": "#ff7f0e", "J_style": "#2ca02c", "J_tv": "#9467bd"}
EXAMPLES = [  # (content, style) pairs from images/, offered under the upload boxes
    ("golden_gate_bridge.jpg", "monet_houses_of_parliament.jpg"),
    ("chelsea_cat.png", "starry_night.jpg"),
    ("golden_gate_bridge.jpg", "great_wave.jpg"),
]


@dataclass
class Settings:
    """The server's command line."""

    host: str = "127.0.0.1"
    port: int | None = None  # None: gradio's first free port from 7860
    max_size: int = DEFAULT_MAX_SIZE
    queue: int = 1
    output_dir: Path = DEFAULT_OUTPUT
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB
    model: Path | None = None  # None: the weights in pretrained-model/

    @property
    def max_upload_bytes(self):
        return int(self.max_upload_mb * 1_000_000)


# --- checking what the page sends ----------------------------------------------------------


def check_upload(path, max_bytes):
    """An uploaded file -> its Path, or NSTError with the CLI's one line about it.

    Named by the file's own name (gradio keeps it as the last part of the upload's path), not
    by the server's temporary folder. nst reads the whole picture here, so a file that is not
    an image, is truncated, or declares more pixels than ``NST_MAX_PIXELS`` (a decompression
    bomb) stops at the Run button and no job starts."""
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
    except OSError as err:
        raise NSTError(f"{name}: the upload is gone ({one_line(err)}); upload it again") from None
    if size > max_bytes:
        raise NSTError(
            f"{name}: file is {size / 1e6:.1f} MB, above this studio's limit of {max_bytes / 1e6:g} MB "
            "(--max-upload-mb); use a smaller file"
        )
    try:
        load_picture(path)
    except NSTError as err:
        raise NSTError(str(err).replace(str(path), name)) from None
    return path


def size_text(size):
    """Options.size -> the CLI's spelling: (300, 400) -> '300x400', 1024 -> '1024'."""
    return "x".join(map(str, size)) if isinstance(size, (tuple, list)) else str(size)


def check_size(options, max_size):
    """Refuse a size whose long side is above ``--max-size``, naming the limit."""
    long_side = max(options.size) if isinstance(options.size, (tuple, list)) else options.size
    if long_side > max_size:
        raise NSTError(
            f"--size {size_text(options.size)}: above this studio's limit of {max_size} pixels on the "
            f"long side (--max-size {max_size}); choose a smaller size"
        )


@dataclass
class Form:
    """What the page (or /stylize) asks for; None leaves an option at the preset's value."""

    content: str | None
    styles: list  # paths of the style images given, in order
    weights: list = field(default_factory=list)  # their blend weights (empty: equal)
    preset: str = "exercise"
    size: str | None = None
    iterations: int | float | None = None
    alpha: float | None = None
    beta: float | None = None
    tv_weight: float | None = None
    preserve_colors: str | None = None
    seed: str | int | None = None  # "" or None: random


def _number_text(value):
    """A form number as the command line writes it: 200.0 -> '200', 0.5 -> '0.5'."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def form_argv(form, output_dir):
    """The ``nst train`` command line that does what ``form`` asks, writing into ``output_dir``."""
    argv = ["--content", str(form.content), "--style", *map(str, form.styles)]
    argv += ["--output-dir", str(output_dir), "--preset", form.preset, "--quiet"]
    # "--flag=value", so that a value such as -5 is read as a value (and refused), not a flag.
    for flag, value in [
        ("--size", form.size),
        ("--iterations", form.iterations),
        ("--alpha", form.alpha),
        ("--beta", form.beta),
        ("--tv-weight", form.tv_weight),
        ("--seed", form.seed),
    ]:
        if value is not None and str(value).strip() != "":
            argv.append(f"{flag}={value if isinstance(value, str) else _number_text(value)}")
    if form.preserve_colors:
        argv.append(f"--preserve-colors={form.preserve_colors}")
    if len(form.styles) > 1 and form.weights and len(set(form.weights)) > 1:
        argv.append("--style-blend=" + ",".join(_number_text(w) for w in form.weights))
    return argv


def make_options(form, settings, output_dir):
    """Check everything the form says, as the CLI would; -> Options, or NSTError with one line."""
    if not form.content:
        raise NSTError("content image: none given; upload a photo or pick one of the examples")
    if not form.styles:
        raise NSTError("style image: none given; upload a painting or pick one of the examples")
    for path in (form.content, *form.styles):
        check_upload(path, settings.max_upload_bytes)
    options = parse_args(form_argv(form, output_dir))
    check_size(options, settings.max_size)
    if settings.model is not None:
        options = replace(options, model=settings.model)
    return options


# --- jobs ----------------------------------------------------------------------------------


@dataclass
class Step:
    """One iteration as the worker thread reports it."""

    iteration: int  # 0-based, across scales
    total: int
    costs: dict  # "J", "J_content", "J_style"[, "J_tv"]
    seconds: float  # since the run started
    picture: object = None  # uint8 (H, W, 3) now and then, else None


@dataclass
class Ended:
    """The worker thread's last word: a Result, or the error's one line."""

    result: object = None
    error: str | None = None


def new_job_id():
    """'20261127-153012-a3f9c1': sortable by time, and not guessable by another session."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


class Job:
    """One ``run(options, on_iteration, should_stop)`` in a thread of its own.

    The thread puts a Step per iteration and one Ended into ``updates``; whoever shows the job
    reads them from there, so training never waits for a browser."""

    def __init__(self, job_id, session, options, run):
        self.id, self.session, self.options, self._run = job_id, session, options, run
        self.files = RunFiles(options.output_dir)
        self.stop = threading.Event()
        self.updates = queue.Queue()
        self.thread = None
        self.total = options.iterations  # iterations in the run: more with several scales (see Step.total)
        self._last_preview = -math.inf

    def start(self):
        self.thread = threading.Thread(target=self._work, name=f"nst-job-{self.id}", daemon=True)
        self.thread.start()

    def _work(self):
        try:
            result = self._run(self.options, on_iteration=self._on_iteration, should_stop=self.stop)
        except NSTError as err:
            self.updates.put(Ended(error=str(err)))
        except Exception as err:  # noqa: BLE001 - a job's bug must not take the server down
            traceback.print_exc()
            self.updates.put(Ended(error=f"{type(err).__name__}: {one_line(err)}"))
        else:
            self.updates.put(Ended(result=result))

    def _on_iteration(self, step):
        now = time.monotonic()
        last = step.iteration + 1 >= step.total
        picture, self.total = None, step.total
        if last or now - self._last_preview >= PREVIEW_SECONDS:
            picture, self._last_preview = step.image(), now
        self.updates.put(Step(step.iteration, step.total, dict(step.costs), step.seconds, picture))

    def finished(self):
        return self.thread is not None and not self.thread.is_alive()


class Jobs:
    """The server's jobs, by id; each belongs to one browser session (one tab)."""

    def __init__(self, settings, run):
        self.settings, self.run = settings, run
        self.lock = threading.Lock()
        self.by_id = {}

    def create(self, form, session):
        """Check ``form`` and register a job for ``session`` (not started: it waits its turn)."""
        with self.lock:
            if any(job.session == session for job in self.by_id.values()):
                raise NSTError("a job is already running in this page; stop it or wait for it to end")
        job_id = new_job_id()
        options = make_options(form, self.settings, Path(self.settings.output_dir) / job_id)
        job = Job(job_id, session, options, self.run)
        with self.lock:
            self.by_id[job_id] = job
        log(f"job {job_id}: queued")
        return job

    def get(self, job_id):
        with self.lock:
            return self.by_id.get(job_id)

    def forget(self, job):
        with self.lock:
            self.by_id.pop(job.id, None)

    def stop_session(self, session, why):
        """Ask the session's jobs to stop; True if there was one."""
        with self.lock:
            jobs = [job for job in self.by_id.values() if job.session == session]
        for job in jobs:
            if not job.stop.is_set():
                log(f"job {job.id}: stopping ({why})")
                job.stop.set()
            if job.thread is None and why == "page closed":  # its turn may never come: gradio drops it
                self.forget(job)
        return bool(jobs)

    def stop_all(self, wait=30.0):
        """Stop every job and give each a moment to save its image (server shutdown)."""
        with self.lock:
            jobs = list(self.by_id.values())
        for job in jobs:
            job.stop.set()
        deadline = time.monotonic() + wait
        # Every job thread, also of jobs already forgotten (their page closed) that are still saving.
        for thread in threading.enumerate():
            if thread.name.startswith("nst-job-"):
                thread.join(max(0.0, deadline - time.monotonic()))


def log(line):
    print(f"nst studio: {line}", flush=True)


def follow(job):
    """Start ``job`` and yield ('step', [Step...]) batches, then ('ended', Ended).

    Batches come at most every REFRESH_SECONDS, or at once when one brings a picture, so a
    fast run does not flood the browser. Stopped before its turn: ends without training."""
    if job.stop.is_set():
        yield "ended", Ended(error=None, result=None)
        return
    job.start()
    log(f"job {job.id}: started, writing {job.options.output_dir}")
    batch, last_sent = [], time.monotonic()
    while True:
        try:
            update = job.updates.get(timeout=REFRESH_SECONDS)
        except queue.Empty:
            update = None
            if job.finished() and job.updates.empty():  # died without a word: never hang the page
                yield "ended", Ended(error="the job ended unexpectedly; see the server's log")
                return
        if isinstance(update, Ended):
            if batch:
                yield "step", batch
            yield "ended", update
            return
        if update is not None:
            batch.append(update)
        due = time.monotonic() - last_sent >= REFRESH_SECONDS
        if batch and (due or batch[-1].picture is not None):
            yield "step", batch
            batch, last_sent = [], time.monotonic()


# --- what the page shows -------------------------------------------------------------------


def duration_text(seconds):
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def seconds_per_iteration(steps):
    """Over the last RATE_WINDOW iterations (L-BFGS and larger scales change the pace)."""
    recent = steps[-(RATE_WINDOW + 1) :]
    if len(recent) >= 2:
        return (recent[-1].seconds - recent[0].seconds) / (recent[-1].iteration - recent[0].iteration or 1)
    return steps[-1].seconds / (steps[-1].iteration + 1)


def progress_html(steps):
    """The progress bar: iteration, s/it, time left and the current J."""
    if not steps:
        return '<div id="nst-progress">starting: loading the network and the images...</div>'
    step = steps[-1]
    done = step.iteration + 1
    rate = seconds_per_iteration(steps)
    left = rate * (step.total - done)
    return (
        f'<div id="nst-progress"><progress value="{done}" max="{step.total}" style="width:100%"></progress>'
        f"<br>iteration {done} / {step.total} &middot; {rate:.2f} s/it &middot; "
        f"{duration_text(left)} left &middot; J = {step.costs['J']:.4g}</div>"
    )


def plot_frame(steps):
    """The costs in long form for gr.LinePlot: iterations done (as the progress bar counts
    them), term, log10 of its value (J spans orders of magnitude more than its terms). A cost
    of 0 (J_content while the image is still the content) is NaN, a gap: every term stays in
    every frame, as the plot keeps only the terms its first frame had."""
    import pandas as pd

    rows = [
        (step.iteration + 1, term, math.log10(value) if value > 0 and math.isfinite(value) else math.nan)
        for step in steps
        for term, value in step.costs.items()
    ]
    return pd.DataFrame(rows, columns=["iteration", "term", "log10 cost"])


def downloads(files):
    """The final image (full resolution), losses.csv and, when made, the progress GIF."""
    return [str(path) for path in (files.final, files.losses_csv, files.gif) if path.is_file()]


def end_text(job, ended):
    """The status line for a job's end."""
    if ended.error:
        return f"**error:** {ended.error}"
    result = ended.result
    if result is None:
        return "Stopped before it started."
    rows = result.rows
    if result.status == "done":
        seconds = rows[-1].seconds if rows else 0.0
        return (
            f"Done: {len(rows)} iterations in {duration_text(seconds)}, J = {rows[-1].J:.4g}. "
            f"Files in `{job.files.folder}`."
        )
    return (
        f"Stopped after {len(rows)} of {job.total} iterations; the current image is kept. "
        f"Files in `{job.files.folder}`."
    )


def losses_table(rows):
    """Result.rows -> a list of dicts, as the losses go out of /stylize."""
    table = []
    for row in rows:
        entry = {"iteration": row.iteration, **{k: float(v) for k, v in row.costs.items()}}
        entry["seconds"] = float(row.seconds)
        table.append(entry)
    return table


# --- the page ------------------------------------------------------------------------------


def _gradio():
    try:
        import gradio
    except ImportError:
        raise NSTError(
            "gradio: not installed; install nst's app extra with `pip install -e .[app]` "
            "(or `pip install -r requirements-dev.txt`)"
        ) from None
    return gradio


def _parser_choices(dest):
    """The choices the CLI offers for an option, so the page offers the same."""
    for action in build_parser()._actions:
        if action.dest == dest:
            return list(action.choices)
    raise KeyError(dest)


def _parser_help(dest):
    for action in build_parser()._actions:
        if action.dest == dest:
            return " ".join((action.help or "").split())
    return None


KNOBS = ("size", "iterations", "alpha", "beta", "tv_weight", "preserve_colors")


def knob_values(preset):
    """The page's settings as this preset makes them: Options(preset=...) fills in the preset's
    values itself, so the page shows exactly the CLI's defaults."""
    options = Options(preset=preset)
    values = {name: getattr(options, name) for name in KNOBS}
    values["size"] = size_text(values["size"])
    return values


def upload_path(value):
    """An image box's raw value -> the uploaded file's path on the server, or None.

    The page's events skip gradio's preprocessing (``preprocess=False``): gr.Image's opens the
    file with Pillow first, so a text file or a decompression bomb would fail there, in
    Pillow's words. nst reads and checks the file itself, with the CLI's one-line messages.
    gradio has already moved the upload into its cache and checked that it came from an upload."""
    if value is None or isinstance(value, (str, Path)):
        return value
    path = value.get("path") if isinstance(value, dict) else None
    if not path:
        raise NSTError("pasted image: not received as a file; save it and upload the file instead")
    return path


def _layout(gr, settings):
    """The page's components, placed: the form on the left, the job on the right."""
    defaults = knob_values("exercise")
    images = config.IMAGES_DIR
    examples = [[str(images / c), str(images / s)] for c, s in EXAMPLES if (images / c).is_file()]
    ui = SimpleNamespace()
    gr.Markdown(
        f"# {TITLE}\nPaint a photo in the style of a painting: the neural style transfer of Gatys, Ecker "
        "and Bethge, as in the exercise, on this machine. On a CPU a 300x400 run takes minutes: watch "
        "it form, and stop it when you like it."
    )
    with gr.Row():
        with gr.Column(scale=1):
            with gr.Row():
                ui.content = gr.Image(label="Content (the photo)", type="filepath", height=220, elem_id="nst-content")
                ui.style = gr.Image(label="Style (the painting)", type="filepath", height=220, elem_id="nst-style")
            if examples:
                gr.Examples(examples, inputs=[ui.content, ui.style], label="Or pick a demo pair")
            ui.styles, ui.weights = [ui.style], []
            with gr.Accordion("Several styles, blended", open=False):
                ui.weights.append(gr.Slider(0, 1, value=1, step=0.05, label="Weight of the style above"))
                with gr.Row():
                    for n in range(2, MAX_STYLES + 1):
                        with gr.Column():
                            ui.styles.append(
                                gr.Image(label=f"Style {n}", type="filepath", height=140, elem_id=f"nst-style-{n}")
                            )
                            ui.weights.append(gr.Slider(0, 1, value=1, step=0.05, label=f"Weight of style {n}"))
            with gr.Row():
                ui.preset = gr.Radio(
                    _parser_choices("preset"), value="exercise", label="Preset", info=_parser_help("preset")
                )
                ui.size = gr.Textbox(
                    defaults["size"],
                    label="Size",
                    info=f"HEIGHTxWIDTH, or the long side; at most {settings.max_size} on the long side here",
                    elem_id="nst-size",
                )
                ui.iterations = gr.Number(
                    defaults["iterations"], precision=0, label="Iterations", elem_id="nst-iterations"
                )
            with gr.Accordion("More settings", open=False, elem_id="nst-more"):
                with gr.Row():
                    ui.alpha = gr.Number(defaults["alpha"], label="α (content weight)", elem_id="nst-alpha")
                    ui.beta = gr.Number(defaults["beta"], label="β (style weight)", elem_id="nst-beta")
                    ui.tv_weight = gr.Number(defaults["tv_weight"], label="TV weight", elem_id="nst-tv")
                with gr.Row():
                    ui.preserve = gr.Radio(
                        _parser_choices("preserve_colors"),
                        value=defaults["preserve_colors"],
                        label="Preserve colours",
                        info=_parser_help("preserve_colors"),
                    )
                    # A textbox: gr.Number shows None as 0, which would fix the seed at 0.
                    ui.seed = gr.Textbox(
                        "", label="Seed", placeholder="random", info=_parser_help("seed"), elem_id="nst-seed"
                    )
            with gr.Row():
                ui.run = gr.Button("Run", variant="primary", elem_id="nst-run")
                ui.stop = gr.Button("Stop", variant="stop", interactive=False, elem_id="nst-stop")
        with gr.Column(scale=1):
            ui.status = gr.Markdown("", elem_id="nst-status")
            ui.progress = gr.HTML("", elem_id="nst-progress-box")
            ui.picture = gr.Image(label="Image", type="filepath", interactive=False, height=300, elem_id="nst-image")
            ui.plot = gr.LinePlot(
                x="iteration",
                y="log10 cost",
                color="term",
                color_map=TERM_COLORS,
                x_axis_format="d",  # whole iterations
                label="Cost (log10)",
                elem_id="nst-plot",
            )
            ui.files = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="nst-downloads")
    gr.Markdown(
        f"Each job writes into `{settings.output_dir}/<job id>/` the files `nst train` writes. Limits here: "
        f"{settings.max_size} pixels on the long side, uploads of {settings.max_upload_mb:g} MB, "
        f"{settings.queue} job{'s' if settings.queue > 1 else ''} at a time (others wait in the queue, "
        "their place shown). Closing the page stops its job."
    )
    ui.job_id = gr.State(None)

    # /stylize's own inputs and outputs (it takes fewer knobs than the page): not shown.
    with gr.Column(visible=False):
        ui.api_inputs = [
            gr.Image(type="filepath", label="content"),
            gr.Image(type="filepath", label="style"),
            gr.Radio(_parser_choices("preset"), value="exercise", label="preset"),
            gr.Textbox(defaults["size"], label="size"),
            gr.Number(None, precision=0, label="iterations"),
        ]
        ui.api_outputs = [gr.File(label="image"), gr.JSON(label="losses")]
        ui.api_button = gr.Button()
    return ui


def _form(ui, values):
    """The page's values ({component: value}) -> Form; style slots left empty are skipped."""
    styles = [(upload_path(values[box]), values[w]) for box, w in zip(ui.styles, ui.weights) if values[box]]
    return Form(
        content=upload_path(values[ui.content]),
        styles=[path for path, _ in styles],
        weights=[weight for _, weight in styles],
        preset=values[ui.preset],
        size=values[ui.size],
        iterations=values[ui.iterations],
        alpha=values[ui.alpha],
        beta=values[ui.beta],
        tv_weight=values[ui.tv_weight],
        preserve_colors=values[ui.preserve],
        seed=values[ui.seed],
    )


def _step_update(gr, ui, job, steps, new):
    update = {ui.progress: progress_html(steps), ui.plot: plot_frame(steps)}
    shown = [step for step in new if step.picture is not None]
    if shown:
        update[ui.picture] = gr.update(value=shown[-1].picture, label=f"Iteration {shown[-1].iteration + 1}")
    if len(steps) == len(new):  # the first news from this job
        update[ui.status] = f"Job `{job.id}`: running."
    return update


def _end_update(gr, ui, job, ended):
    update = {
        ui.status: end_text(job, ended),
        ui.run: gr.update(interactive=True),
        ui.stop: gr.update(interactive=False),
        ui.files: downloads(job.files) or None,
    }
    if job.files.final.is_file():  # also after a NaN: the last good image was saved
        update[ui.picture] = gr.update(value=str(job.files.final), label="Final image")
    return update


def build(settings, run=None):
    """The studio as gradio Blocks (not launched). ``run`` defaults to ``nst.engine.run.run``."""
    gr = _gradio()
    if run is None:
        from nst.engine.run import run
    jobs = Jobs(settings, run)

    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(1800, 3600)) as demo:
        ui = _layout(gr, settings)

        def submit(values, request: gr.Request):
            """Run pressed: check everything and queue the job, or say what is wrong."""
            try:
                job = jobs.create(_form(ui, values), request.session_hash)
            except NSTError as err:
                log(f"refused: {err}")
                return {ui.status: f"**error:** {err}", ui.job_id: None}
            return {
                ui.status: f"Job `{job.id}`: waiting for its turn...",
                ui.job_id: job.id,
                ui.run: gr.update(interactive=False),
                ui.stop: gr.update(interactive=True),
                ui.progress: progress_html([]),
                ui.picture: None,
                ui.plot: None,
                ui.files: None,
            }

        def gate(job_id):
            if job_id is None:  # submit refused it and said why: end the chain, quietly
                raise gr.Error("no job", visible=False, print_exception=False)

        def stream(job_id):
            """The job, live: yields page updates until it ends."""
            job = jobs.get(job_id)
            if job is None:
                yield {ui.status: "This job is gone (the server restarted?); press Run again."}
                return
            steps = []
            try:
                for kind, payload in follow(job):
                    if kind == "step":
                        steps += payload
                        yield _step_update(gr, ui, job, steps, payload)
                    else:
                        log(f"job {job.id}: {end_text(job, payload)}")
                        yield _end_update(gr, ui, job, payload)
            finally:  # also when gradio closes this generator because the page went away
                job.stop.set()
                jobs.forget(job)

        def stop(request: gr.Request):
            if jobs.stop_session(request.session_hash, "Stop pressed"):
                return {ui.status: "Stopping after the current iteration...", ui.stop: gr.update(interactive=False)}
            return {ui.stop: gr.update(interactive=False)}

        def unload(request: gr.Request):
            jobs.stop_session(request.session_hash, "page closed")

        def apply_preset(preset):
            values = knob_values(preset)
            return [values[name] for name in KNOBS]

        def stylize(content, style, preset, size, iterations, request: gr.Request):
            """Paint CONTENT in the style of STYLE; returns the final image and the costs of each iteration."""
            try:
                content, style = upload_path(content), upload_path(style)
                form = Form(content, [style] if style else [], preset=preset, size=size, iterations=iterations)
                job = jobs.create(form, request.session_hash)
            except NSTError as err:
                raise gr.Error(str(err), print_exception=False) from None
            try:
                ended = next(payload for kind, payload in follow(job) if kind == "ended")
            finally:
                job.stop.set()
                jobs.forget(job)
            log(f"job {job.id}: {end_text(job, ended)}")
            if ended.error or ended.result is None:
                raise gr.Error(ended.error or "stopped before it started", print_exception=False)
            return str(ended.result.image), losses_table(ended.result.rows)

        knobs = [ui.size, ui.iterations, ui.alpha, ui.beta, ui.tv_weight, ui.preserve]
        ui.preset.change(apply_preset, ui.preset, knobs, queue=False, api_visibility="private")
        form_inputs = {ui.content, *ui.styles, *ui.weights, ui.preset, *knobs, ui.seed}
        job_view = [ui.status, ui.run, ui.stop, ui.progress, ui.picture, ui.plot, ui.files]
        ui.run.click(
            submit, form_inputs, [*job_view, ui.job_id], queue=False, preprocess=False, api_visibility="private"
        ).then(gate, ui.job_id, None, queue=False, api_visibility="private").success(
            stream,
            ui.job_id,
            job_view,
            concurrency_limit=settings.queue,
            concurrency_id="nst-job",  # the page's jobs and /stylize's share the --queue slots
            show_progress="minimal",
            api_visibility="private",
        )
        ui.stop.click(stop, None, [ui.status, ui.stop], queue=False, api_visibility="private")
        demo.unload(unload)
        ui.api_button.click(
            stylize,
            ui.api_inputs,
            ui.api_outputs,
            api_name="stylize",
            preprocess=False,  # see upload_path
            concurrency_limit=settings.queue,
            concurrency_id="nst-job",
        )
    demo.jobs = jobs
    return demo


# --- the command ---------------------------------------------------------------------------


def _positive(kind, flag):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise NSTError(f"{flag} {text!r}: not a number") from None
        if not value > 0:
            raise NSTError(f"{flag} {text}: must be above 0")
        return value

    return parse


def _port(text):
    try:
        value = int(text)
    except ValueError:
        raise NSTError(f"--port {text!r}: not a whole number") from None
    if not 1 <= value <= 65535:
        raise NSTError(f"--port {text}: must be between 1 and 65535")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise NSTError(f"{message}; see `nst app --help`")


def parse_settings(argv):
    d = Settings()
    p = _Parser(
        prog="nst app",  # or python -m nst.frontends.studio
        description="nst studio: style transfer in the browser, on this machine.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--host", default=d.host, help="address to listen on (0.0.0.0: anyone on the network)")
    p.add_argument("--port", type=_port, default=d.port, help="port (default: the first free one from 7860)")
    p.add_argument(
        "--max-size", type=_positive(int, "--max-size"), default=d.max_size, help="largest long side, in pixels"
    )
    p.add_argument("--queue", type=_positive(int, "--queue"), default=d.queue, help="jobs running at once")
    p.add_argument("--output-dir", type=Path, default=d.output_dir, help="each job writes into DIR/<job id>/")
    p.add_argument(
        "--max-upload-mb", type=_positive(float, "--max-upload-mb"), default=d.max_upload_mb, help="largest upload"
    )
    p.add_argument("--model", type=Path, default=d.model, help="VGG19 weights (default: those in pretrained-model/)")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    values = vars(p.parse_args(argv))
    values.pop("debug")
    return Settings(**values)


def main(argv=None):
    settings = parse_settings(sys.argv[1:] if argv is None else argv)
    demo = build(settings)
    demo.queue(default_concurrency_limit=settings.queue, max_size=64)
    output = Path(settings.output_dir).resolve()
    output.mkdir(parents=True, exist_ok=True)
    try:
        _, url, _ = demo.launch(
            server_name=settings.host,
            server_port=settings.port,
            share=False,
            quiet=True,
            prevent_thread_lock=True,
            show_error=False,
            inbrowser=False,
            max_file_size=2 * settings.max_upload_bytes,  # a backstop; check_upload says it nicer
            allowed_paths=[str(output), str(config.IMAGES_DIR)],
            enable_monitoring=False,
            mcp_server=False,
            ssr_mode=False,
            footer_links=["api"],
        )
    except OSError as err:
        raise NSTError(f"--port {settings.port}: cannot listen there ({one_line(err)}); choose another") from None
    print(f"nst studio: {url} (Ctrl-C to stop; jobs write into {output})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        log("stopping: saving the current images of running jobs")
        demo.jobs.stop_all()
        demo.close()
    return 0


if __name__ == "__main__":
    run_cli(main)
