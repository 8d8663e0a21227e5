"""The studio's own command line, ``nst app``: the server's ``Settings``, ``parse_settings`` and ``main``.

These are the server's options (where it listens, its limits, where jobs write); the options of
each run come from the page (``nst.frontends.studio.form``). Each value goes through a checker
of ``nst.engine.values``, as ``nst train``'s do, so a bad one is refused in the same kind of
line: ``--queue 0: must be above 0``.
"""

import argparse
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from nst import config
from nst.engine.command_line import Parser
from nst.engine.release import use_system_allocator
from nst.engine.values import File, Number, Whole
from nst.errors import NSTError, one_line
from nst.frontends.studio.folders import DEFAULT_KEEP_HOURS, DEFAULT_KEEP_JOBS, recover
from nst.frontends.studio.jobs import log
from nst.frontends.studio.page import build

DEFAULT_OUTPUT = config.OUTPUT_DIR / "studio"
DEFAULT_MAX_SIZE = 1024  # long side, pixels; 2048 took 16 min and 7.5 GiB on the README's CPU
DEFAULT_MAX_UPLOAD_MB = 50.0


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
    keep_hours: float = DEFAULT_KEEP_HOURS
    keep_jobs: int = DEFAULT_KEEP_JOBS

    @property
    def max_upload_bytes(self):
        return int(self.max_upload_mb * 1_000_000)


def _checked(kind, flag):
    """argparse's ``type`` for ``flag``: its text through ``kind.check``, which raises NSTError's one line."""
    return partial(kind.check, flag)


def parse_settings(argv):
    """The server's command line -> Settings; anything wrong raises NSTError with one line."""
    d = Settings()
    p = Parser(
        prog="nst app",  # or python -m nst.frontends.studio
        description="nst studio: style transfer in the browser, on this machine.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--host", default=d.host, help="address to listen on (0.0.0.0: anyone on the network)")
    # --port and --model default to None, "as gradio or nst chooses": left out (SUPPRESS), they
    # keep Settings' default, and their help says what it means instead of "(default: None)".
    for flag, kind, default, text in [
        ("--port", Whole(1, 65535), argparse.SUPPRESS, "port (default: the first free one from 7860)"),
        ("--max-size", Whole(above=0), d.max_size, "largest long side, pixels"),
        ("--queue", Whole(above=0), d.queue, "jobs running at once"),
        ("--output-dir", File(), d.output_dir, "each job writes into DIR/<job id>/"),
        ("--max-upload-mb", Number(above=0), d.max_upload_mb, "largest upload, in MB"),
        ("--keep-hours", Number(above=0), d.keep_hours, "remove a finished job's folder this many hours after "
         "its last change"),
        ("--keep-jobs", Whole(above=0), d.keep_jobs, "keep the folders of this many jobs, the newest; older ones are "
         "removed (checked at start, whenever a job ends and every hour; a running job's folder is never removed, nor "
         "anything else in --output-dir)"),
        ("--model", File(), argparse.SUPPRESS, "VGG19 weights (default: those in pretrained-model/)"),
    ]:  # fmt: skip
        p.add_argument(flag, type=_checked(kind, flag), default=default, help=text)
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    values = vars(p.parse_args(argv))
    values.pop("debug")  # read by nst.errors.run_cli from argv, not a setting of the server
    return Settings(**values)


def main(argv=None):
    """``nst app``: serve the studio until Ctrl-C, then give running jobs a moment to save their images."""
    settings = parse_settings(sys.argv[1:] if argv is None else argv)
    use_system_allocator()  # before TensorFlow is imported: a long-lived process (nst.engine.release)
    demo = build(settings)
    demo.queue(default_concurrency_limit=settings.queue, max_size=64)
    output = Path(settings.output_dir).resolve()
    output.mkdir(parents=True, exist_ok=True)
    for job_id in recover(output):
        log(
            f"job {job_id}: lost: it was running when the server stopped; its partial files removed ({output / job_id})"
        )
    demo.jobs.prune()
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
            demo.jobs.prune()  # also while no job ends: folders past --keep-hours
    except KeyboardInterrupt:
        log("stopping: saving the current images of running jobs")
        demo.jobs.stop_all()
        demo.close()
    return 0
