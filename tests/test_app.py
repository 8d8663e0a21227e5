"""nst studio (nst/frontends/studio/): its checks and jobs, /stylize through gradio_client, and the page in a
real browser, headless Chromium driven by Playwright.

The server runs as a user starts it, ``python -m nst.frontends.studio``, in a subprocess on a free loopback
port; every job is tiny (64x96, a few iterations; the Stop and tab-closing tests start longer
ones and end them early). The browser is the system's Chromium (Debian's ``chromium``) or else
Playwright's own; without either the browser tests skip and say so loudly, and with
NST_BROWSER_TESTS=required (set by .ci/run) they fail instead.

NST_UPDATE_SCREENSHOT=1 also writes the mid-run screenshot into images/results/studio.jpg, the
README's picture.
"""

import contextlib
import csv
import io
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from nst.config import IMAGES_DIR, ROOT
from nst.errors import NSTError
from nst.frontends import studio as app
from nst.options import Options, Size

CONTENT = IMAGES_DIR / "golden_gate_bridge.jpg"
STYLE = IMAGES_DIR / "starry_night.jpg"
SIZE = "64x96"  # HxW: the final image is 96 pixels wide, 64 high
MAX_SIZE = 256  # the test server's --max-size
SCREENSHOT = ROOT / "images" / "results" / "studio.jpg"
BROWSER_ARGS = [
    "--no-sandbox",  # as root in a container
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",  # no calls home: the tests check every request stays local
    "--disable-component-update",
    "--no-first-run",
]
NOT_AN_IMAGE = b"hello, I am not a picture\n"
TIMEOUT_MS = 90_000  # a tiny job takes a few seconds; the machine may be busy
KEEP_JOBS = 3  # the test server's --keep-jobs
LOST_JOB = "20261127-120000-0a0b0c"  # running when "the last server" was killed


# --- the checks, without a server ------------------------------------------------------------


def test_uploads_get_the_clis_one_line_naming_the_file(tmp_path):
    text = tmp_path / "upload-1" / "notes.jpg"
    text.parent.mkdir()
    text.write_bytes(NOT_AN_IMAGE)
    bomb = tmp_path / "upload-2" / "bomb.png"
    bomb.parent.mkdir()
    Image.new("1", (20_000, 20_000)).save(bomb)  # 400 megapixels in a few kB
    big = tmp_path / "upload-3" / "big.jpg"
    big.parent.mkdir()
    shutil.copy(CONTENT, big)

    for path, words in [
        (text, "notes.jpg: not an image"),
        (bomb, "bomb.png: image is 20000x20000 pixels"),
        (big, "big.jpg: file is"),
    ]:
        with pytest.raises(NSTError) as err:
            app.check_upload(path, max_bytes=big.stat().st_size - 1)
        message = str(err.value)
        assert message.startswith(words), message
        assert "\n" not in message and str(tmp_path) not in message  # the file's name, not the server's folder
    assert app.check_upload(big, max_bytes=big.stat().st_size) == big


def test_sizes_above_max_size_are_refused_naming_the_limit(tmp_path):
    settings = app.Settings(max_size=MAX_SIZE, output_dir=tmp_path)
    form = app.Form(str(CONTENT), [str(STYLE)], size="300x400")
    with pytest.raises(NSTError, match=rf"--size 300x400: above this studio's limit of {MAX_SIZE} pixels"):
        app.make_options(form, settings, tmp_path / "job")
    form.size, form.iterations = SIZE, -5  # the CLI's own checks and words
    with pytest.raises(NSTError, match=r"--iterations -5: must be at least 1"):
        app.make_options(form, settings, tmp_path / "job")
    assert not (tmp_path / "job").exists()


def test_the_form_becomes_the_options_of_the_run(tmp_path):
    style_2 = IMAGES_DIR / "great_wave.jpg"  # real pictures: make_options reads the uploads
    settings = app.Settings(output_dir=tmp_path)
    form = app.Form(str(CONTENT), [str(STYLE), str(style_2)], weights=[1, 0.5], preset="quality", size=SIZE)
    form.iterations, form.alpha, form.seed, form.preserve_colors = 3.0, 10.0, "7", "luminance"  # as the page sends
    options = app.make_options(form, settings, tmp_path / "job")
    assert (options.content, options.style) == (CONTENT, (STYLE, style_2))
    assert (options.output_dir, options.preset, options.quiet) == (tmp_path / "job", "quality", True)
    assert options.size == Size(64, 96) and options.iterations == 3 and options.alpha == 10 and options.seed == 7
    assert options.style_blend == (1, 0.5) and options.preserve_colors == "luminance"
    assert options.beta == Options(preset="quality").beta  # not given: its value under the preset
    form.weights = [1, 1]  # equal weights: the default blend, not spelled out
    assert app.make_options(form, settings, tmp_path / "job").style_blend == ()


def test_the_page_shows_the_clis_defaults_for_each_preset():
    for preset in ("exercise", "quality"):
        options, knobs = Options(preset=preset), app.knob_values(preset)
        assert knobs["iterations"] == options.iterations and knobs["tv_weight"] == options.tv_weight
        assert knobs["alpha"] == options.alpha and knobs["preserve_colors"] == options.preserve_colors
    assert app.knob_values("exercise")["size"] == "300x400"


def test_server_options():
    settings = app.parse_settings(["--port", "8123", "--queue", "2", "--max-size", "512"])
    assert (settings.host, settings.port, settings.queue, settings.max_size) == ("127.0.0.1", 8123, 2, 512)
    for argv, words in [(["--queue", "0"], "--queue 0: must be above 0"), (["--port", "x"], "--port 'x'")]:
        with pytest.raises(NSTError, match=re.escape(words)):
            app.parse_settings(argv)


# --- jobs, with a stand-in for nst.train.run ------------------------------------------------


@dataclass
class FakeStep:
    iteration: int
    total: int
    costs: dict
    seconds: float

    def image(self):
        return None


def test_a_job_reports_its_iterations_and_turns_any_failure_into_one_line(tmp_path):
    def run(options, on_iteration, should_stop):
        for i in range(3):
            on_iteration(FakeStep(i, 3, {"J": 3.0 - i, "J_content": 1.0, "J_style": 0.5}, 0.1 * i))
        raise ZeroDivisionError("division by zero\nin somebody's cost function")

    job = app.Job("job", "session", Options(output_dir=tmp_path), run)
    events = list(app.follow(job))
    steps = [step for kind, batch in events if kind == "step" for step in batch]
    assert [step.iteration for step in steps] == [0, 1, 2]
    kind, ended = events[-1]
    assert kind == "ended" and ended.error == "ZeroDivisionError: division by zero in somebody's cost function"


def test_a_job_stopped_while_waiting_never_starts(tmp_path):
    job = app.Job("job", "session", Options(output_dir=tmp_path), run=lambda *a, **k: pytest.fail("started"))
    job.stop.set()
    assert list(app.follow(job)) == [("ended", app.Ended())]
    assert job.thread is None


# --- the server ------------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Studio:
    url: str
    jobs_dir: Path
    log_path: Path
    process: subprocess.Popen

    def jobs(self):
        return sorted(p for p in self.jobs_dir.iterdir() if p.is_dir()) if self.jobs_dir.exists() else []

    def log(self):
        return self.log_path.read_text()

    def wait_for_log(self, text, timeout=30):
        deadline = time.monotonic() + timeout
        while text not in self.log():
            assert time.monotonic() < deadline, f"{text!r} not in the server's log:\n{self.log()}"
            time.sleep(0.2)


@contextlib.contextmanager
def serving(folder, *options):
    """``python -m nst.frontends.studio OPTIONS`` on a free loopback port, writing into folder/jobs;
    stopped with Ctrl-C (SIGINT) at the end."""
    log_path = folder / "server.log"
    env = {**os.environ, "GRADIO_HEARTBEAT_INTERVAL": "0.5", "PYTHONUNBUFFERED": "1"}  # a closed tab seen at once
    command = [sys.executable, "-m", "nst.frontends.studio", "--port", str(free_port()), "--max-size", str(MAX_SIZE)]
    command += ["--output-dir", str(folder / "jobs"), *options]
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 180
        while not (match := re.search(r"nst studio: (http://\S+)", log_path.read_text())):
            assert server.poll() is None, f"the studio exited:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"the studio did not start:\n{log_path.read_text()}"
            time.sleep(0.2)
        yield Studio(match.group(1).rstrip("/") + "/", folder / "jobs", log_path, server)
    finally:
        if server.poll() is None:  # not killed by the test
            server.send_signal(signal.SIGINT)  # Ctrl-C: jobs still running save their images, then it exits
            try:
                code = server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
                pytest.fail(f"the studio did not stop within 60 s of Ctrl-C:\n{log_path.read_text()}")
            assert code == 0, log_path.read_text()


@pytest.fixture(scope="module")
def studio(weights_h5, tmp_path_factory):
    """The studio as ``nst app`` serves it, --keep-jobs 3, started on a folder a killed server left."""
    folder = tmp_path_factory.mktemp("studio")
    # A job the last server was running when it was killed: its partial files and the lock file the
    # kill released (no process holds it), as `kill -9` leaves them.
    lost = folder / "jobs" / LOST_JOB
    lost.mkdir(parents=True)
    (lost / ".nst-running").write_text("nst train of golden_gate_bridge.jpg (process 1, since 12:00:00)")
    (lost / "0.png").write_bytes(b"partial")
    with serving(folder, "--model", str(weights_h5), "--keep-jobs", str(KEEP_JOBS)) as server:
        yield server


def read_losses(folder):
    with open(folder / "losses.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_a_job_the_killed_server_was_running_is_reported_lost_at_the_restart(studio):
    studio.wait_for_log(f"job {LOST_JOB}: lost: it was running when the server stopped")
    assert [p.name for p in (studio.jobs_dir / LOST_JOB).iterdir()] == ["lost.txt"]


@pytest.mark.slow
def test_stylize_endpoint_with_gradio_client(studio, tmp_path):
    from gradio_client import Client, handle_file

    before = studio.jobs()
    client = Client(studio.url, verbose=False)
    image, losses = client.predict(
        handle_file(str(CONTENT)), handle_file(str(STYLE)), "exercise", SIZE, 3, api_name="/stylize"
    )
    with Image.open(image) as picture:
        assert picture.size == (96, 64)
    assert [row["iteration"] for row in losses] == [0, 1, 2]
    assert all(row["J"] > 0 and {"J_content", "J_style", "seconds"} <= set(row) for row in losses)
    (job,) = set(studio.jobs()) - set(before)
    assert (job / "generated_image.jpg").is_file() and len(read_losses(job)) == 3

    notes = tmp_path / "notes.jpg"
    notes.write_text(NOT_AN_IMAGE.decode())
    for content, size, words in [
        (notes, SIZE, "notes.jpg: not an image"),
        (CONTENT, "1024", f"--size 1024: above this studio's limit of {MAX_SIZE} pixels"),
    ]:
        with pytest.raises(Exception, match=re.escape(words)):
            client.predict(handle_file(str(content)), handle_file(str(STYLE)), "exercise", size, 3, api_name="/stylize")
    assert set(studio.jobs()) == {*before, job}  # refused: no job started


# --- the page, in Chromium -------------------------------------------------------------------


def no_browser(reason):
    message = f"NO BROWSER: nst studio's browser tests did NOT run ({reason})"
    if os.environ.get("NST_BROWSER_TESTS") == "required":
        pytest.fail(message + "; NST_BROWSER_TESTS=required (CI) needs them: install Debian's chromium")
    print(f"\n*** {message} ***", file=sys.stderr)
    pytest.skip(message + "; install Debian's chromium (apt-get install chromium) or `playwright install chromium`")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import Error, sync_playwright

    executable = next(filter(None, map(shutil.which, ["chromium", "chromium-browser", "google-chrome"])), None)
    with sync_playwright() as playwright:
        try:  # the system's Chromium, else Playwright's own (`playwright install chromium`)
            browser = playwright.chromium.launch(executable_path=executable, args=BROWSER_ARGS)
        except Error as err:
            no_browser(f"no system Chromium, and Playwright's own would not start: {str(err).splitlines()[0]}")
        yield browser
        browser.close()


class Page:
    """One browser tab (its own context: its own gradio session) on the studio."""

    def __init__(self, browser, studio):
        self.context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.hosts = set()
        self.page.on("request", lambda request: self.hosts.add(request.url.split("/")[2]))
        self.studio = studio
        self.page.goto(studio.url)
        self.page.wait_for_selector("#nst-run")

    def fill(self, content=CONTENT, style=STYLE, size=SIZE, iterations=3):
        """Upload the images (paths, or Playwright's {name, mimeType, buffer}), set size and iterations."""
        self.page.locator("#nst-content input[type=file]").set_input_files(content)
        self.page.locator("#nst-style input[type=file]").set_input_files(style)
        self.set("#nst-size", size)
        self.set("#nst-iterations", iterations)
        self.page.wait_for_selector("#nst-style img")  # both uploads shown

    def set(self, box, value):
        """Type ``value`` into a textbox or number box and leave it (Tab), as a user does."""
        field = self.page.locator(f"{box} textarea, {box} input").first
        field.fill(str(value))
        field.press("Tab")
        # Gradio takes the value into the form's state on its change event, a little later; a Run
        # clicked before that sent the old value once (CI, 2026-11-28). Wait for the box to settle.
        deadline = time.monotonic() + 10
        while field.input_value() != str(value) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.page.wait_for_timeout(500)

    def run(self):
        self.page.locator("#nst-run").click()

    def status(self, pattern, timeout=TIMEOUT_MS / 1000):
        """Wait until the status line matches ``pattern`` (re.search); return its text."""
        deadline = time.monotonic() + timeout
        while not re.search(pattern, text := self.page.locator("#nst-status").inner_text().strip()):
            if time.monotonic() > deadline:
                self.page.screenshot(path=self.studio.log_path.with_name("failed.png"))
                pytest.fail(f"status {text!r} never matched {pattern!r}; server log:\n{self.studio.log()[-3000:]}")
            time.sleep(0.2)
        return text

    def iteration(self):
        """The iteration the progress bar shows (0 before the first)."""
        text = self.page.locator("#nst-progress").inner_text() if self.page.locator("#nst-progress").count() else ""
        match = re.search(r"iteration (\d+) /", text)
        return int(match.group(1)) if match else 0

    def wait_for_iteration(self, n):
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while self.iteration() < n:
            assert time.monotonic() < deadline, f"the page never reached iteration {n}"
            time.sleep(0.2)

    def job_id(self):
        return re.search(r"\d{8}-\d{6}-[0-9a-f]{6}", self.page.locator("#nst-status").inner_text()).group(0)

    def close(self):
        self.context.close()


@pytest.fixture
def tab(browser, studio):
    tab = Page(browser, studio)
    yield tab
    tab.close()


@pytest.mark.slow
def test_page_refuses_a_bad_upload_then_runs_a_quality_job_and_downloads_it(tab, studio, tmp_path):
    from playwright.sync_api import expect

    page = tab.page
    assert page.title() == "nst studio"
    assert page.locator("#nst-size textarea, #nst-size input").first.input_value() == "300x400"  # the CLI's

    before = studio.jobs()
    tab.fill(content={"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": NOT_AN_IMAGE})  # text, renamed
    tab.run()
    text = tab.status("error")
    assert "notes.jpg: not an image, or in a format that cannot be read; use PNG" in text
    assert studio.jobs() == before  # no job started
    assert page.locator("#nst-run").is_enabled()

    page.locator("#nst-content button[aria-label='Remove Image']").click()  # the page still works
    page.locator("#nst-content input[type=file]").set_input_files(str(CONTENT))
    page.wait_for_selector("#nst-content img")
    page.get_by_label("quality").check()  # the preset sets the knobs to its values, as the CLI's
    expect(page.locator("#nst-iterations input")).to_have_value(str(Options(preset="quality").iterations))
    tab.set("#nst-size", SIZE)
    tab.set("#nst-iterations", 3)
    tab.run()
    text = tab.status(r"^Done")
    assert "3 iterations" in text
    job = studio.jobs_dir / tab.job_id()
    assert len(read_losses(job)) == 3

    listed = re.sub(r"\s", "", page.locator("#nst-downloads").inner_text())
    assert "generated_image.jpg" in listed and "losses.csv" in listed and "progress.gif" in listed
    with page.expect_download() as download:
        page.locator("#nst-downloads a").first.click()
    assert download.value.suggested_filename == "generated_image.jpg"
    saved = tmp_path / "download.jpg"
    download.value.save_as(saved)
    with Image.open(saved) as picture:
        picture.load()
        assert picture.size == (96, 64)
    assert saved.read_bytes() == (job / "generated_image.jpg").read_bytes()  # full resolution, as written
    host = studio.url.split("/")[2]
    assert tab.hosts == {host}, f"the page called out: {tab.hosts - {host}}"


@pytest.mark.slow
def test_stop_ends_the_run_and_keeps_the_current_image(tab, studio, tmp_path):
    tab.fill(size="128x192", iterations=400)  # larger, for the README's screenshot
    tab.run()
    tab.wait_for_iteration(4)
    tab.page.wait_for_selector("#nst-image img")
    tab.page.evaluate("window.scrollTo(0, 0)")
    shot = tab.page.screenshot(type="jpeg", quality=70)
    if os.environ.get("NST_UPDATE_SCREENSHOT"):
        Image.open(io.BytesIO(shot)).save(SCREENSHOT, quality=70, optimize=True)
    tab.page.locator("#nst-stop").click()
    text = tab.status(r"^Stopped after")
    done = int(re.search(r"Stopped after (\d+) of 400", text).group(1))
    assert 4 <= done < 400
    job = studio.jobs_dir / tab.job_id()
    assert len(read_losses(job)) == done
    with Image.open(job / "generated_image.jpg") as picture:
        assert picture.size == (192, 128)
    assert tab.page.locator("#nst-image").filter(has_text="Final image").count() == 1
    assert tab.page.locator("#nst-run").is_enabled()


@pytest.mark.slow
def test_two_tabs_get_their_own_jobs_and_closing_one_stops_its_job(browser, studio):
    first, second = Page(browser, studio), Page(browser, studio)
    try:
        first.fill(iterations=400)
        first.run()
        first.wait_for_iteration(2)
        second.fill(content=IMAGES_DIR / "chelsea_cat.png", iterations=3)
        second.run()
        second.page.get_by_text(re.compile(r"queue: 1/1")).first.wait_for()  # --queue 1: it waits its turn
        first_job = first.job_id()
        first.close()  # the tab goes away ...
        studio.wait_for_log(f"job {first_job}: stopping (page closed)")
        text = second.status(r"^Done")  # ... and the second job gets its turn
        second_job = second.job_id()
        assert second_job != first_job and second_job in text
        rows = read_losses(studio.jobs_dir / first_job)
        assert 2 <= len(rows) < 400  # stopped early, its image saved
        assert (studio.jobs_dir / first_job / "generated_image.jpg").is_file()
        assert len(read_losses(studio.jobs_dir / second_job)) == 3
    finally:
        second.close()


@pytest.mark.slow
def test_a_failing_job_shows_its_error_and_the_server_keeps_serving(tab, studio):
    tab.fill(iterations=3)
    tab.page.locator("#nst-more").click()  # "More settings", rendered when opened
    assert tab.page.locator("#nst-seed textarea, #nst-seed input").first.input_value() == ""  # random
    tab.set("#nst-alpha", "1e38")  # J overflows float32 at the first step: NaN
    tab.run()
    text = tab.status(r"error")
    assert "NaN" in text or "infinite" in text, text
    assert tab.page.locator("#nst-run").is_enabled()
    with urllib.request.urlopen(studio.url + "config", timeout=30) as response:  # still serving
        assert response.status == 200


# --- several clients at once (scripts/memory-curve load: 8 clients x 3 jobs, --queue 1 and 2) --------


def submit_at_once(studio, clients, jobs_each):
    """``clients`` gradio_client clients submit ``jobs_each`` jobs each through /stylize, all at once,
    every job at a width of its own (its image says whose it is), 1 iteration; waits for them all.

    Returns {width: (result image, losses)} and {width: [the places in the queue it was seen at]}, and
    the most jobs that ran at once, as the server's log tells them."""
    from gradio_client import Client, handle_file

    log_start = len(studio.log())
    widths = iter(range(48, 48 + 4 * clients * jobs_each, 4))
    jobs = [
        (width, client.submit(handle_file(str(CONTENT)), handle_file(str(STYLE)), "exercise", f"32x{width}", 1,
                              api_name="/stylize"))
        for client in [Client(studio.url, verbose=False) for _ in range(clients)]
        for width in itertools.islice(widths, jobs_each)
    ]  # fmt: skip
    ranks = {width: [] for width, _ in jobs}
    while not all(job.done() for _, job in jobs):
        for width, job in jobs:
            rank = job.status().rank
            if rank is not None and rank not in ranks[width][-1:]:
                ranks[width].append(rank)
        time.sleep(0.1)
    results = {width: job.result(timeout=10) for width, job in jobs}
    running = most = 0
    for line in studio.log()[log_start:].splitlines():
        if re.search(r"job \S+: started", line):
            running += 1
            most = max(most, running)
        elif re.search(r"job \S+: Done", line):
            running -= 1
    assert running == 0  # every job that started ended
    return results, ranks, most


def check_each_got_its_own(results, ranks, queue):
    for width, (image, losses) in results.items():
        with Image.open(image) as picture:
            assert picture.size == (width, 32)  # its own job's image, no other client's
        assert len(losses) == 1
        assert ranks[width] == sorted(ranks[width], reverse=True)  # a waiting job only moves forward
    # The last submitted waited behind all the others but the --queue running ones (its place 0: next).
    assert max(rank for places in ranks.values() for rank in places) == len(results) - queue - 1


@pytest.mark.slow
def test_clients_at_once_each_get_their_own_images_in_queue_order_and_old_folders_go(studio):
    """--queue 1: 2 clients submit 2 jobs each at once; one runs at a time; the old folders go."""
    results, ranks, most = submit_at_once(studio, clients=2, jobs_each=2)
    check_each_got_its_own(results, ranks, queue=1)
    assert most == 1

    kept = studio.jobs()  # --keep-jobs 3: the older folders were removed as jobs ended
    assert len(kept) == KEEP_JOBS and LOST_JOB not in {p.name for p in kept}
    with urllib.request.urlopen(f"{studio.url}gradio_api/file={kept[-1] / 'generated_image.jpg'}", timeout=30) as r:
        assert r.status == 200 and r.read() == (kept[-1] / "generated_image.jpg").read_bytes()


@dataclass
class Restart:
    server: Studio  # the second server
    job: Path  # the folder of the job the first server was running when it was killed
    when_killed: list  # the names in that folder then


@pytest.fixture(scope="module")
def restarted(weights_h5, tmp_path_factory):
    """A studio killed (kill -9) while a job writes its images, then started again on its folder,
    this time with --queue 2."""
    from gradio_client import Client, handle_file

    folder = tmp_path_factory.mktemp("restarted")
    with serving(folder, "--model", str(weights_h5)) as first:
        inputs = handle_file(str(CONTENT)), handle_file(str(STYLE)), "exercise", "32x48", 1000
        Client(first.url, verbose=False).submit(*inputs, api_name="/stylize")
        deadline = time.monotonic() + 60
        while not list(first.jobs_dir.glob("*/0.png")):
            assert time.monotonic() < deadline, first.log()
            time.sleep(0.1)
        first.process.kill()
        first.process.wait()
    (job,) = first.jobs()
    when_killed = sorted(p.name for p in job.iterdir())
    with serving(folder, "--model", str(weights_h5), "--queue", "2") as again:
        yield Restart(again, job, when_killed)


@pytest.mark.slow
def test_a_server_killed_mid_job_reports_the_job_lost_when_started_again(restarted):
    assert ".nst-running" in restarted.when_killed and "0.png" in restarted.when_killed
    assert "generated_image.jpg" not in restarted.when_killed  # half-written, as a kill leaves it
    restarted.server.wait_for_log(f"job {restarted.job.name}: lost: it was running when the server stopped")
    assert [p.name for p in restarted.job.iterdir()] == ["lost.txt"]


@pytest.mark.slow
def test_with_queue_2_two_jobs_run_at_once_and_each_client_gets_its_own_images(restarted):
    """--queue 2 (on the restarted server): 2 clients submit 2 jobs each at once; two run at a time,
    in threads of one process."""
    studio = restarted.server
    results, ranks, most = submit_at_once(studio, clients=2, jobs_each=2)
    check_each_got_its_own(results, ranks, queue=2)
    assert most == 2 and "Traceback" not in studio.log()
    new = [job for job in studio.jobs() if job != restarted.job]
    assert len(new) == 4 and all((job / "losses.png").is_file() for job in new)
