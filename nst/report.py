"""What a run shows and leaves behind besides images: the progress bar and the losses.

``Progress`` draws a bar with the current cost, seconds per iteration and ETA (or, with
``quiet``, plain log lines only). ``write_losses`` saves the cost history as
``losses.csv`` (iteration, J, J_content, J_style, seconds) and ``losses.png``.
"""

import csv
import sys
import time
from dataclasses import dataclass

from tqdm import tqdm

from nst.images import atomic_path, save_image


@dataclass
class Row:
    iteration: int
    J: float
    J_content: float
    J_style: float
    seconds: float  # wall time since the loop started


class Progress:
    """A tqdm bar on a terminal; plain lines in logs or with ``quiet``."""

    def __init__(self, total, quiet=False, initial=0):
        self.bar = None
        if not quiet and sys.stderr.isatty():
            self.bar = tqdm(
                total=total,
                initial=initial,
                unit="it",
                dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_inv_fmt}{postfix}]",
            )

    def step(self, row):
        if self.bar is not None:
            self.bar.set_postfix_str(f"J={row.J:.4g}", refresh=False)
            self.bar.update(1)

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

    ``record(i, J, J_content, J_style, image)`` appends a Row, moves the progress bar and,
    every ``save_every`` iterations, prints the costs as the exercise did and saves
    ``<i>.png``; ``on_iteration(i, image)``, when given, runs after (checkpoints).
    ``image`` is a function returning the current (1, H, W, 3) image, called only when needed.
    """

    def __init__(self, output_dir, save_every, progress, rows=None, on_iteration=None):
        self.output_dir, self.save_every, self.progress = output_dir, save_every, progress
        self.rows = list(rows or [])
        self.on_iteration = on_iteration
        # A resumed run's clock continues from where the saved one stopped.
        self.start = time.perf_counter() - (self.rows[-1].seconds if self.rows else 0.0)

    def record(self, i, J, J_content, J_style, image):
        row = Row(i, float(J), float(J_content), float(J_style), time.perf_counter() - self.start)
        self.rows.append(row)
        self.progress.step(row)
        if i % self.save_every == 0:
            self.progress.log(
                f"Iteration {i} :\ntotal cost = {row.J:.6g}\ncontent cost = {row.J_content:.6g}\n"
                f"style cost = {row.J_style:.6g}"
            )
            save_image(self.output_dir / f"{i}.png", image())
        if self.on_iteration is not None:
            self.on_iteration(i, image)


def write_losses(rows, csv_path, png_path):
    """Write the cost history as CSV and as a log-scale plot, each atomically."""
    with atomic_path(csv_path) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["iteration", "J", "J_content", "J_style", "seconds"])
            for r in rows:
                writer.writerow(
                    [r.iteration, f"{r.J:.9g}", f"{r.J_content:.9g}", f"{r.J_style:.9g}", f"{r.seconds:.3f}"]
                )
    if not rows:
        return
    # A bare Figure, not pyplot: no global backend switch, so a notebook's plots keep working.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.subplots()
    steps = [r.iteration for r in rows]
    ax.plot(steps, [r.J for r in rows], label="J (total)")
    ax.plot(steps, [r.J_content for r in rows], label="J_content")
    ax.plot(steps, [r.J_style for r in rows], label="J_style")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png")
