"""What a run shows and leaves behind besides images: the progress bar and the losses.

``Progress`` draws a bar with the scale, the current cost, seconds per iteration and ETA (or, with
``quiet``, plain log lines only); at a tiled scale it moves tile by tile, so the time left counts
the tiles, and without a terminal it logs a line a minute. ``Recorder`` keeps one ``Row`` per iteration, saves the
images and tells the caller (``Step``). ``write_losses`` saves the cost history as
``losses.csv`` (iteration, J, J_content, J_style[, J_tv], seconds) and ``losses.png``.
"""

import csv
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tqdm import tqdm

from nst.images import atomic_path, deprocess_image, save_image


@dataclass
class Row:
    iteration: int
    costs: dict  # {"J", "J_content", "J_style"[, "J_tv"]}: floats
    seconds: float  # wall time since the loop started

    @property
    def J(self):
        return self.costs["J"]

    @property
    def J_content(self):
        return self.costs["J_content"]

    @property
    def J_style(self):
        return self.costs["J_style"]


@dataclass
class Step:
    """What ``on_iteration`` is given after each iteration."""

    iteration: int  # 0-based, counted across scales
    total: int  # iterations in the run
    costs: dict  # as Row.costs
    seconds: float  # since the run started
    image: Callable  # () -> the current picture, uint8 (H, W, 3), made only when called


def cost_names(rows):
    """The cost columns of a history: J, J_content, J_style, then any others (J_tv) in order of appearance."""
    names = ["J", "J_content", "J_style"]
    for row in rows:
        names += [name for name in row.costs if name not in names]
    return names


class Progress:
    """A tqdm bar on a terminal; plain lines in logs or with ``quiet``."""

    LOG_EVERY = 60.0  # seconds between the tile lines of a run without a terminal

    def __init__(self, total, quiet=False, initial=0):
        self.bar = None
        self.where = ""  # "scale 2/3" when there are several
        self.fraction = 0.0  # how much of the current iteration the tiles done so far stand for
        self.done, self.total = initial, total
        self.first, self.stop = initial, total  # the current scale's iterations
        self.logged = time.perf_counter()
        self.clock = None  # (time, iterations done) when the scale's first iteration ended
        if not quiet and sys.stderr.isatty():
            self.bar = tqdm(
                total=total,
                initial=initial,
                unit="it",
                dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_inv_fmt}{postfix}]",
            )

    def scale(self, number, count, first, stop):
        """Scale ``number`` of ``count`` begins, iterations first .. stop - 1: the bar says which."""
        self.where = f"scale {number}/{count}" if count > 1 else ""
        self.first, self.stop, self.clock = first, stop, None
        if self.bar is not None:
            self.bar.set_description_str(self.where, refresh=False)

    def tile(self, done, count):
        """Step ``done`` of the ``count`` an evaluation over tiles takes (pass 1's tiles, then pass 2's):
        the bar moves by that part of an iteration, a pass-2 tile (forward and backward) counting twice a
        pass-1 tile (never back, nor past the iteration: L-BFGS may evaluate more than once)."""
        tiles = count // 2
        work = (min(done, tiles) + 2 * max(0, done - tiles)) / (3 * tiles)
        fraction = min(0.99, max(self.fraction, work))
        label = f"{self.where + ', ' if self.where else ''}tile {done}/{count}"
        if self.bar is not None:
            self.bar.set_description_str(label, refresh=False)
            self.bar.update(fraction - self.fraction)
        elif time.perf_counter() - self.logged >= self.LOG_EVERY:
            self.logged = time.perf_counter()
            self.log(f"iteration {self.done + 1}/{self.total}, {label}: {self._left(fraction)}")
        self.fraction = fraction

    def _left(self, fraction):
        """The time left at this scale, at the pace since its first iteration ended: the first one also
        holds the scale's set-up (targets, tracing each tile geometry, L-BFGS's first line search) and
        predicted hours where there were minutes."""
        if self.clock is None:
            return "time left known after this scale's first iteration"
        since, done = self.clock
        pace = (time.perf_counter() - since) / (self.done - done + fraction)  # seconds per iteration
        return f"about {pace * (self.stop - self.done - fraction) / 60:.0f} min left at this scale"

    def step(self, row):
        if self.bar is not None:
            self.bar.set_postfix_str(f"J={row.J:.4g}", refresh=False)
            self.bar.set_description_str(self.where, refresh=False)
            self.bar.update(1 - self.fraction)
        self.done += 1
        self.fraction = 0.0
        if self.clock is None:
            self.clock = (time.perf_counter(), self.done)

    def log(self, line):
        if self.bar is not None:
            self.bar.write(line)
        else:
            print(line, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


class Recorder:
    """Per-iteration bookkeeping shared by the optimisers.

    ``record(i, costs, image)`` appends a Row, moves the progress bar, every ``save_every``
    iterations prints the costs as the exercise did and saves ``<i>.png``, then calls
    ``on_iteration`` (the caller's, if any) with a ``Step``. ``image`` is a function returning
    the current (1, H, W, 3) normalised image, called only when needed.
    """

    def __init__(self, files, save_every, progress, total, rows=None, on_iteration=None):
        self.files, self.save_every, self.progress, self.total = files, save_every, progress, total
        self.rows = list(rows or [])
        self.on_iteration = on_iteration
        # A resumed run's clock continues from where the saved one stopped.
        self.start = time.perf_counter() - (self.rows[-1].seconds if self.rows else 0.0)

    def record(self, i, costs, image):
        row = Row(i, {name: float(value) for name, value in costs.items()}, time.perf_counter() - self.start)
        self.rows.append(row)
        self.progress.step(row)
        if i % self.save_every == 0:
            lines = [f"Iteration {i} :", f"total cost = {row.J:.6g}", f"content cost = {row.J_content:.6g}",
                     f"style cost = {row.J_style:.6g}"]  # fmt: skip
            if "J_tv" in row.costs:
                lines.append(f"total variation = {row.costs['J_tv']:.6g}")
            self.progress.log("\n".join(lines))
            save_image(self.files.iteration_image(i), image())
        if self.on_iteration is not None:
            self.on_iteration(Step(i, self.total, row.costs, row.seconds, lambda: deprocess_image(image())))


# matplotlib lays out text (the log axis's 10^k labels, through mathtext's shared parser) in ways
# that are not thread-safe: runs in threads of one process (nst app --queue 2) plot one at a time.
_PLOTTING = threading.Lock()


def write_losses(rows, files):
    """Write the cost history as ``files.losses_csv`` and a log-scale plot ``files.losses_png``, each atomically."""
    names = cost_names(rows)
    with atomic_path(files.losses_csv) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["iteration", *names, "seconds"])
            for r in rows:
                writer.writerow(
                    [r.iteration, *(f"{r.costs.get(n, float('nan')):.9g}" for n in names), f"{r.seconds:.3f}"]
                )
    if not rows:
        return
    # A bare Figure, not pyplot: no global backend switch, so a notebook's plots keep working.
    from matplotlib.figure import Figure

    with _PLOTTING:
        fig = Figure(figsize=(7, 4), dpi=100)
        ax = fig.subplots()
        steps = [r.iteration for r in rows]
        labels = {"J": "J (total)"}
        for name in names:
            ax.plot(steps, [r.costs.get(name, float("nan")) for r in rows], label=labels.get(name, name))
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.set_ylabel("cost")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        with atomic_path(files.losses_png) as tmp:
            fig.savefig(tmp, format="png")
