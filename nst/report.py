"""What a run shows and leaves behind besides images: the progress bar and the losses.

``Progress`` draws a bar with the current cost, seconds per iteration and ETA (or, with
``quiet``, plain log lines only). ``write_losses`` saves the cost history as
``losses.csv`` (iteration, J, J_content, J_style, seconds) and ``losses.png``.
"""

import csv
import sys
from dataclasses import dataclass

from tqdm import tqdm

from nst.images import atomic_path


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
            self.bar = tqdm(total=total, initial=initial, unit="it", dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_inv_fmt}{postfix}]")

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


def write_losses(rows, csv_path, png_path):
    """Write the cost history as CSV and as a log-scale plot, each atomically."""
    with atomic_path(csv_path) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["iteration", "J", "J_content", "J_style", "seconds"])
            for r in rows:
                writer.writerow([r.iteration, f"{r.J:.9g}", f"{r.J_content:.9g}", f"{r.J_style:.9g}",
                                 f"{r.seconds:.3f}"])
    if not rows:
        return
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
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
    plt.close(fig)
