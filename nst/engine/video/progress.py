"""What a video run shows while it works: one bar over every iteration of every frame.

On a terminal, ``nst.engine.report.Progress``'s tqdm bar counts the clip's iterations (the first
frame's, then the warm iterations of each later frame), so its rate and time left are the clip's;
beside it the frame being stylised and its current J and J_temporal. In a log, or with ``--quiet``,
a line per finished frame with the time left, from the later frames' mean time.
"""

from nst.engine.report import Progress


class ClipProgress(Progress):
    def __init__(self, iterations, frames, quiet=False):
        super().__init__(iterations, quiet)
        self.frames, self.finished = frames, 0
        self.seconds = []  # the time of each later frame (the first one is not typical)

    def iteration(self, frame, terms):
        """After an iteration of ``frame``; ``terms`` are J's terms."""
        if self.bar is not None:
            shown = f"frame {frame} ({self.finished + 1}/{self.frames}) J={float(terms['J']):.4g}"
            if "J_temporal" in terms:
                shown += f" J_temporal={float(terms['J_temporal']):.3g}"
            self.bar.set_postfix_str(shown, refresh=False)
            self.bar.update(1)

    def frame_done(self, row):
        """After a frame is saved: a log line when there is no bar."""
        self.finished += 1
        if row.start == "warped":
            self.seconds.append(row.seconds)
        if self.bar is None:
            left = self.frames - self.finished
            mean = sum(self.seconds) / len(self.seconds) if self.seconds else row.seconds
            self.log(
                f"frame {row.frame} ({self.finished}/{self.frames}): {row.iterations} iterations from {row.start}, "
                f"J = {row.costs['J']:.6g}, {row.seconds:.1f} s; about {_duration(left * mean)} left"
            )


def _duration(seconds):
    """90 -> '2 min', 4000 -> '1 h 7 min', 20 -> '20 s'."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
