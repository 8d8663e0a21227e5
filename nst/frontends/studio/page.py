"""The Gradio page: its components (the form on the left, the job on the right), its events,
and the named endpoint ``/stylize``; ``build(settings)`` puts them together.

gradio is imported here only, when the page is built, after setting the environment it reads.
The page's help texts and choices are the options' own (``nst.engine.options.DECLARED``), as
``nst train --help`` shows them.
"""

import os
from types import SimpleNamespace

from nst import config
from nst.engine.options import DECLARED
from nst.errors import NSTError
from nst.frontends.studio.display import downloads, end_text, losses_table, plot_frame, progress_html
from nst.frontends.studio.form import KNOBS, Form, knob_values, upload_path
from nst.frontends.studio.jobs import Jobs, follow, log

TITLE = "nst studio"
MAX_STYLES = 3  # style slots on the page (the CLI takes any number)
TERM_COLORS = {"J": "#1f77b4", "J_content": "#ff7f0e", "J_style": "#2ca02c", "J_tv": "#9467bd"}
EXAMPLES = [  # (content, style) pairs from images/, offered under the upload boxes
    ("golden_gate_bridge.jpg", "monet_houses_of_parliament.jpg"),
    ("chelsea_cat.png", "starry_night.jpg"),
    ("golden_gate_bridge.jpg", "great_wave.jpg"),
]


def _gradio():
    """The gradio module, or NSTError saying how to install it."""
    # Set before gradio is imported (huggingface_hub, which it imports, reads its switch then):
    # no usage statistics or version checks (the machine may be offline, and a local tool has
    # no business calling home) ...
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    # ... and a closed tab noticed within ~2 s (gradio's default heartbeat is 15 s), so its job
    # stops soon after.
    os.environ.setdefault("GRADIO_HEARTBEAT_INTERVAL", "2")
    try:
        import gradio
    except ImportError:
        raise NSTError(
            "gradio: not installed; install nst's app extra with `pip install -e .[app]` "
            "(or `pip install -r requirements-dev.txt`)"
        ) from None
    return gradio


def _layout(gr, settings):
    """The page's components, placed: the form on the left, the job on the right."""
    defaults = knob_values("exercise")
    images = config.IMAGES_DIR
    examples = [[str(images / c), str(images / s)] for c, s in EXAMPLES if (images / c).is_file()]
    presets = DECLARED["preset"].kind.choices
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
                ui.preset = gr.Radio(presets, value="exercise", label="Preset", info=DECLARED["preset"].help)
                ui.size = gr.Textbox(
                    defaults["size"],
                    label="Size",
                    info=f"{DECLARED['size'].help}; at most {settings.max_size} on the long side here",
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
                        DECLARED["preserve_colors"].kind.choices,
                        value=defaults["preserve_colors"],
                        label="Preserve colours",
                        info=DECLARED["preserve_colors"].help,
                    )
                    # A textbox: gr.Number shows None as 0, which would fix the seed at 0.
                    ui.seed = gr.Textbox(
                        "", label="Seed", placeholder="random", info=DECLARED["seed"].help, elem_id="nst-seed"
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
            gr.Radio(presets, value="exercise", label="preset"),
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
    """The page's changes for a batch of ``new`` steps (``steps``: all of them so far)."""
    update = {ui.progress: progress_html(steps), ui.plot: plot_frame(steps)}
    shown = [step for step in new if step.picture is not None]
    if shown:
        update[ui.picture] = gr.update(value=shown[-1].picture, label=f"Iteration {shown[-1].iteration + 1}")
    if len(steps) == len(new):  # the first news from this job
        update[ui.status] = f"Job `{job.id}`: running."
    return update


def _end_update(gr, ui, job, ended):
    """The page's changes when a job ends: its status line, its files, Run enabled again."""
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
        from nst.engine.run import run  # TensorFlow: loaded once the page is wanted
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
                job = jobs.create(form, request.session_hash, one_per_session=False)
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

        knobs = [ui.size, ui.iterations, ui.alpha, ui.beta, ui.tv_weight, ui.preserve]  # in KNOBS' order
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
