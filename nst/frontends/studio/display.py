"""What the page shows of a job, made from what it reports: the progress bar, the cost plot's
data, the status line at its end, its downloads, and /stylize's table of losses.

Plain functions of Steps and Results, no gradio: each can be tried on its own.
"""

import math

RATE_WINDOW = 5  # s/it is measured over the last this many iterations


def duration_text(seconds):
    """A duration as a person says it: '42 s', '3 min 08 s', '1 h 05 min'."""
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
    import pandas as pd  # installed with gradio (the app extra), like the page that draws this

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
