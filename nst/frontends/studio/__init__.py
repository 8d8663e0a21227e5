"""nst studio: style transfer in the browser. ``nst app`` (or ``python -m nst.frontends.studio``).

A local Gradio page over nst's library API, and nothing else: the form's typed values become an
``nst.engine.options.Options`` directly (its checks, and the command line's one-line messages),
uploads are read by ``nst.images.load_picture``, and each job is one ``nst.engine.run.run(options,
on_iteration, should_stop)`` in a worker thread, writing the CLI's files into
``output/studio/<job id>/`` (``nst.engine.outputs.RunFiles``). The page holds no training code
of its own.

How a job flows::

    Run ──> submit (at once, not queued): check the uploads and the form, make a Job
        └─> follow (queued, at most --queue at a time): start the Job's thread, then yield
            what it reports (the current image, the costs, the progress) until it ends
    Stop, or closing the tab ──> the Job's threading.Event: run() ends after the iteration
            in progress and saves the current image as the final one

The same Job runs behind the named endpoint ``/stylize`` (content, style, preset, size,
iterations -> final image, losses), for scripts using ``gradio_client``.

Where each part lives::

    form.py     what the page asks for -> Options: Form, make_options, the upload and size checks
    jobs.py     a run in a thread of its own and the server's jobs: Job, Jobs, follow
    folders.py  the jobs' folders on disk: prune (--keep-hours, --keep-jobs), recover (jobs lost to a kill)
    display.py  what the page shows of a job: progress bar, cost plot, status line, downloads
    page.py     the Gradio page: its components, its events and /stylize (build)
    server.py   the command ``nst app``: Settings, parse_settings, main

The names below are the studio's public ones, importable from here.
"""

from nst.frontends.studio.display import downloads, end_text, losses_table, plot_frame, progress_html
from nst.frontends.studio.form import Form, check_size, check_upload, knob_values, make_options, upload_path
from nst.frontends.studio.jobs import Ended, Job, Jobs, Step, follow
from nst.frontends.studio.page import build
from nst.frontends.studio.server import Settings, main, parse_settings

__all__ = [
    "Ended",
    "Form",
    "Job",
    "Jobs",
    "Settings",
    "Step",
    "build",
    "check_size",
    "check_upload",
    "downloads",
    "end_text",
    "follow",
    "knob_values",
    "losses_table",
    "main",
    "make_options",
    "parse_settings",
    "plot_frame",
    "progress_html",
    "upload_path",
]
