"""How fast is nst's training step? ``python -m nst.bench``.

One run measures, side by side and interleaved (one step of each in turn, so a busy
machine slows all of them alike):

- nst's step in the exercise's configuration (content conv4_2, five style layers,
  alpha 10, beta 40, Adam 2.0, average pooling) in several variants (``VARIANTS``):
  fp32 (nst's default), fp32 with XLA, fp32 with TensorFlow's own convolution
  gradient instead of nst.vgg's flipped-kernel one, bf16 with and without XLA;
  each one's J after the same steps, compared with fp32's;
- the textbook baseline (``nst.bench.baseline``: Keras VGG19, einsum Grams, Keras Adam);
- median wall and CPU seconds per step, the ratio to the baseline, GFLOP/s from the
  analytic convolution FLOP count, the machine's matmul GFLOP/s, peak RSS of nst's
  default step (in a subprocess), and with ``--quality`` the time Adam, plain L-BFGS and
  the quality preset need to reach the exercise's J = α·J_content + β·J_style that the
  faithful 200-iteration Adam run ends at (``time_to_quality``).
"""

import argparse
import contextlib
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import tensorflow as tf

from nst import config
from nst.bench.baseline import conv_gflop, make_baseline_step, matmul_gflops
from nst.bench.layers import format_layers, layer_rows
from nst.engine.objective import make_objective
from nst.engine.optimizers import OPTIMIZERS
from nst.engine.options import Options
from nst.engine.problem import Level, level_sizes
from nst.engine.run import load_weights, run
from nst.engine.runtime import configure_threads, describe_threads, peak_rss_mb
from nst.engine.targets import content_target, style_activations
from nst.engine.values import Size
from nst.errors import NSTError
from nst.images import generate_noise_image, load_image, reshape_and_normalize_image
from nst.kernels import FastKernels
from nst.kernels.convolution import onednn_enabled
from nst.kernels.precision import compute_dtype
from nst.train import compute_cost
from nst.vgg import VGGGraph
from nst.weights import KERAS_H5

# name -> (precision, XLA, FastKernels switches changed from their defaults); "fp32" is nst's step.
DIRECT = {"winograd": False}  # direct convolutions, as before Winograd
VARIANTS = {
    "fp32": ("fp32", False, {}),
    "fp32-direct": ("fp32", False, DIRECT),
    "fp32-4x4": ("fp32", False, {"winograd_6x6": False}),  # F(4x4, 3x3) only, as before F(6x6)
    "fp32-xla": ("fp32", True, {}),
    "fp32-tfgrad": ("fp32", False, {**DIRECT, "flipped_gradient": False}),
    "fp32-flipgrad": ("fp32", False, {**DIRECT, "flipped_gradient": True}),
    "bf16": ("bf16", False, {}),
    "bf16-direct": ("bf16", False, DIRECT),
    "bf16-xla": ("bf16", True, {}),
    "fp16": ("fp16", False, {}),
    "fp16-xla": ("fp16", True, {}),
}
DEFAULT_VARIANTS = "fp32,fp32-direct,fp32-xla,bf16,bf16-direct"
WEIGHTS = config.PRETRAINED_DIR / KERAS_H5.filename  # Keras's file: the baseline can read only that one


def images(height, width):
    """The exercise's content, style and initial generated image (noise seed 0), normalised."""
    content = load_image(config.CONTENT_IMAGE, height, width)
    style = load_image(config.STYLE_IMAGE, height, width)
    return content, style, generate_noise_image(content, config.NOISE_RATIO, seed=0)


def exercise_level(weights, content, style, precision="fp32", kernel_settings=None):
    """The exercise's problem at the images' size, as ``nst.engine.run.run`` builds one level.

    kernel_settings: ``FastKernels`` switches to change, e.g. {"winograd": False}.
    """
    _, height, width, _ = content.shape
    graph = VGGGraph(load_weights(weights), height, width, dtype=compute_dtype(precision), kernels=FastKernels)
    for name, value in (kernel_settings or {}).items():
        setattr(graph.kernels, name, value)
    a_C = content_target(graph, content, config.CONTENT_LAYER).numpy()
    return Level(graph, content, a_C, style_activations(graph, [style], [1.0], config.STYLE_LAYERS))


def nst_optimizer(weights, content, style, generated, precision="fp32", xla=False, kernel_settings=None,
                  optimizer="adam"):  # fmt: skip
    """nst's optimiser on the exercise's objective, built exactly as ``nst.engine.run.run`` builds it."""
    options = Options(precision=precision, xla=xla, optimizer=optimizer)
    level = exercise_level(weights, content, style, precision, kernel_settings)
    return OPTIMIZERS[optimizer](make_objective(level, options), generated, options)


def nst_step(weights, content, style, generated, precision="fp32", xla=False, kernel_settings=None):
    """One of nst's Adam steps (the exercise's ``train_step``, traced), as a function returning J."""
    adam = nst_optimizer(weights, content, style, generated, precision, xla, kernel_settings)
    return lambda: adam.guarded_step()[0]["J"]


def exact_size(text):
    """'300x400' -> (300, 400); the bench times exact sizes only."""
    size = Size.parse(text)
    if size.long_side is not None:
        raise NSTError(f"--sizes {text}: give HEIGHTxWIDTH, e.g. 300x400")
    return size.height, size.width


def time_interleaved(steps, warmup, count, turn=1):
    """Run each of ``steps`` ({name: step() -> J}) warmup + count times, taking turns.

    With ``turn`` = 1 one step of each in turn; with more, each turn is ``turn`` steps of the same
    variant in a row, the first of them not timed: a run's steps follow steps of their own graph,
    never another's, and the first after another graph's pays for caches and memory the other one
    left (``--turn``). Returns {name: (wall seconds list, CPU seconds list, final J)} for the
    ``count`` timed steps.
    """
    for _ in range(warmup):
        for step in steps.values():
            step().numpy()
    times = {name: ([], [], None) for name in steps}
    timed_per_turn = max(1, turn - 1)
    for _ in range(-(-count // timed_per_turn)):
        for name, step in steps.items():
            if turn > 1:
                step().numpy()  # follows another variant's step: not timed
            for _ in range(min(timed_per_turn, count - len(times[name][0]))):
                wall, cpu = time.perf_counter(), time.process_time()
                J = float(step().numpy())
                walls, cpus, _ = times[name]
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
                times[name] = (walls, cpus, J)
    return times


def bench_size(weights, height, width, variants, warmup, count, turn=1):
    """The rows of the table for one image size."""
    content, style, generated = images(height, width)
    steps = {"baseline": make_baseline_step(weights, content, style, generated)[0]}
    for name in variants:
        steps[name] = nst_step(weights, content, style, generated, *VARIANTS[name])
    print(f"{height}x{width}: {len(steps)} steps, {warmup} + {count} runs each...", file=sys.stderr, flush=True)
    times = time_interleaved(steps, warmup, count, turn)
    base_wall, base_cpu = (statistics.median(t) for t in times["baseline"][:2])
    reference = times["fp32"][2] if "fp32" in times else None
    rows = []
    for name, (walls, cpus, J) in times.items():
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        gflop = conv_gflop(height, width, same_pooling=name != "baseline")
        relative = None if reference is None or name == "baseline" else abs(J - reference) / abs(reference)
        rows.append(
            {
                "size": f"{height}x{width}",
                "variant": name,
                "s_per_step": wall,
                "cpu_s_per_step": cpu,
                "vs_baseline": wall / base_wall,
                "cpu_vs_baseline": cpu / base_cpu,
                "gflops": gflop / wall,
                "gflops_per_cpu_s": gflop / cpu,
                "conv_gflop_per_step": gflop,
                "steps": warmup + count + (-(-count // (turn - 1)) if turn > 1 else 0),
                "J": J,
                "J_rel_vs_fp32": relative,
            }
        )
    return rows


def rss_probe(size, steps):
    """Run nst's default step ``steps`` times; print peak RSS as JSON (meant for a fresh process)."""
    step = nst_step(WEIGHTS, *images(*size))
    for _ in range(steps):
        step().numpy()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # includes the parent's RSS at fork
    print(json.dumps({"peak_rss_mb": peak_rss_mb(), "ru_maxrss_mb": maxrss}))


def peak_rss_of_default_step(size, steps, threads):
    command = [
        sys.executable,
        "-m",
        "nst.bench",
        "--rss-probe",
        "x".join(map(str, size)),
        "--steps",
        str(steps),
        "--threads",
        threads,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- time to quality -------------------------------------------------------------------
#
# The target is the exercise's cost J = α·J_content + β·J_style that the faithful run (Adam from the
# noisy image, seed 0, the exercise's settings) ends at. Every row is judged by that same J at the
# output size: the quality preset minimises J + tv_weight·J_tv, so its rows are read through
# ``exercise_J`` (its TV term left out), and at a coarse scale of a multiscale run J is a different
# problem's, so only the output size's iterations count. Each row's clock starts before anything of
# it is built (the graph, the targets, the trace and SciPy's set-up are all part of its time). A
# row whose network runs in reduced precision is judged by the J of its pictures computed in float32
# (``float32_judge``, its time not counted), not by its network's own J. Rounding a picture to RGB
# 0-255 moves J by < 0.05 % (measured near the end of a preset run, J ~ 2.9e6).


def exercise_J(costs, options):
    """J = α·J_content + β·J_style from a row's cost terms (a preset's J_tv left out)."""
    return options.alpha * float(costs["J_content"]) + options.beta * float(costs["J_style"])


def float32_judge(weights, height, width):
    """picture (height, width, 3) RGB 0-255 -> the exercise's J of it, VGG19 in float32 (``exercise_J``).

    The exercise's problem at that size (its images, layers, α and β) on the exercise's own VGG19
    (TensorFlow's convolutions, not nst's faster kernels: the judge is the reference), traced once;
    one forward pass per call. Whatever a run's network computed in, its picture is judged by this J.
    """
    content, style, _ = images(height, width)
    options, graph = Options(), VGGGraph(load_weights(weights), height, width)
    a_C = content_target(graph, content, config.CONTENT_LAYER).numpy()
    level = Level(graph, content, a_C, style_activations(graph, [style], [1.0], config.STYLE_LAYERS))
    objective = make_objective(level, options)
    cost = tf.function(lambda image: compute_cost(image, objective), input_signature=[tf.TensorSpec(content.shape)])
    return lambda picture: exercise_J(cost(reshape_and_normalize_image(picture)), options)


def losses_until(weights, images, optimizer, target, iterations):
    """Run ``optimizer`` from the noisy start until J <= target; (J list, cumulative seconds list)."""
    losses, seconds, start = [], [], time.perf_counter()

    def on_step(i, terms, image):
        losses.append(float(terms["J"]))
        seconds.append(time.perf_counter() - start)
        return target is not None and losses[-1] <= target

    nst_optimizer(weights, *images, optimizer=optimizer).run(0, iterations, on_step)
    return losses, seconds


def preset_losses_until(weights, height, width, target, preset="quality", output_dir=None, **values):
    """Run ``nst.engine.run.run`` with ``--preset`` at height x width, seed 0, until the exercise's J <= target.

    Returns (exercise J list, cumulative seconds list, options): one entry per iteration at the
    output size, the seconds counted from before ``run`` was called. With a network in reduced
    precision the J is ``float32_judge``'s, its time left out of the seconds. The preset's own
    iterations cap the run; its files go to a temporary folder unless ``output_dir`` is given;
    ``values``: other options of the run (e.g. precision="fp32").
    """
    folder = tempfile.TemporaryDirectory(prefix="nst-bench-") if output_dir is None else None
    options = Options(
        preset=preset,
        size=(height, width),
        seed=0,
        model=Path(weights),
        quiet=True,
        output_dir=output_dir or folder.name,
        **values,
    )
    losses, seconds, reached = [], [], threading.Event()
    multiscale = len(level_sizes(height, width, options.multiscale)) > 1
    judge = None if options.precision == "fp32" else float32_judge(weights, height, width)
    judging = 0.0  # seconds spent by the judge, not the run's

    def on_iteration(step):
        nonlocal judging
        elapsed = time.perf_counter() - start - judging
        if multiscale and step.image().shape[:2] != (height, width):
            return  # a coarse scale: its J is another problem's
        if judge is None:
            losses.append(exercise_J(step.costs, options))
        else:
            began = time.perf_counter()
            losses.append(judge(step.image()))
            judging += time.perf_counter() - began
        seconds.append(elapsed)
        if target is not None and losses[-1] <= target:
            reached.set()

    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the run's log lines would break the table
            run(options, on_iteration=on_iteration, should_stop=reached)
    finally:
        if folder is not None:
            folder.cleanup()
    return losses, seconds, options


def quality_row(name, size, target, losses, seconds, precision="fp32"):
    reached = next((i for i, J in enumerate(losses) if J <= target), None)
    return {
        "optimizer": name,
        "precision": precision,
        "size": size,
        "target_J": target,
        "final_J": losses[-1] if losses else None,
        "iterations": None if reached is None else reached + 1,
        "seconds": None if reached is None else seconds[reached],
    }


def time_to_quality(weights, height, width, iterations):
    """Seconds to the faithful Adam run's final J: Adam itself, plain L-BFGS, the quality preset.

    Adam runs ``iterations`` steps (the exercise's 200) from the noisy image, seed 0; its final J is
    the target. Plain L-BFGS (``--optimizer lbfgs``, the exercise's cost, same start) and the quality
    preset (``nst.engine.run.run`` with ``--preset quality --seed 0``) run until their exercise J passes it.
    Each row: iterations and seconds to the target (None if not reached); ``speedup`` is Adam's
    seconds over the row's (the quality preset's: how many times sooner it reaches the faithful run's J).
    """
    imgs, size = images(height, width), f"{height}x{width}"
    losses, seconds = losses_until(weights, imgs, "adam", None, iterations)
    target = losses[-1]
    rows = [quality_row("adam", size, target, losses, seconds)]
    rows[0]["iterations"], rows[0]["seconds"] = len(losses), seconds[-1]  # the faithful run, whole
    losses, seconds = losses_until(weights, imgs, "lbfgs", target, iterations)
    rows.append(quality_row("lbfgs", size, target, losses, seconds))
    losses, seconds, options = preset_losses_until(weights, height, width, target)
    rows.append(quality_row("quality preset", size, target, losses, seconds, options.precision))
    for row in rows:
        row["speedup"] = None if row["seconds"] is None else rows[0]["seconds"] / row["seconds"]
    return rows


# --- the command -----------------------------------------------------------------------


def format_table(report):
    m = report["machine"]
    rss = "not measured" if report["peak_rss_mb"] is None else f"{report['peak_rss_mb']:.0f} MB"
    lines = [
        f"TensorFlow {m['tensorflow']}, {m['cpus']} CPUs, threads {m['threads']}, oneDNN {m['onednn']}, "
        f"load average {m['load_before']} -> {m['load_after']}",
        f"matmul {m['matmul_n']}x{m['matmul_n']} float32: {m['matmul_gflops']:.1f} GFLOP/s, "
        f"{m['matmul_gflops_per_cpu_s']:.1f} GFLOP per CPU-second; "
        f"peak RSS of nst's default step at {report['rss_size']}: {rss}",
        f"{'size':9} {'variant':13} {'s/step':>8} {'cpu s':>8} {'vs base':>8} {'cpu vs':>7} "
        f"{'GFLOP/s':>8} {'/cpu-s':>7} {'conv GFLOP':>10} {'J after N':>12} {'N':>3} {'J vs fp32':>9}",
    ]
    for r in report["rows"]:
        rel = "" if r["J_rel_vs_fp32"] is None else f"{r['J_rel_vs_fp32']:.1e}"
        lines.append(
            f"{r['size']:9} {r['variant']:13} {r['s_per_step']:8.3f} {r['cpu_s_per_step']:8.3f} "
            f"{r['vs_baseline']:8.3f} {r['cpu_vs_baseline']:7.3f} {r['gflops']:8.1f} "
            f"{r['gflops_per_cpu_s']:7.1f} {r['conv_gflop_per_step']:10.1f} {r['J']:12.6g} "
            f"{r['steps']:3d} {rel:>9}"
        )
    for q in report["quality"] or []:
        if q["seconds"] is None:
            reached = "not reached"
        else:
            reached = f"{q['iterations']} iterations, {q['seconds']:.1f} s, {q['speedup']:.2f}x sooner than Adam"
        lines.append(
            f"time to the exercise's J <= {q['target_J']:.6g} ({q['size']}): {q['optimizer']:14} "
            f"{q['precision']:4} {reached} "
            f"(final J {q['final_J']:.6g})"
        )
    return "\n".join(lines)


def build_parser():
    p = argparse.ArgumentParser(prog="python -m nst.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="300x400,512x512", help="HEIGHTxWIDTH,...")
    p.add_argument("--steps", type=int, default=10, help="timed steps per variant, after the warm-up")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per variant (the first one traces)")
    p.add_argument("--turn", type=int, default=1, help="steps of a variant in a row, the first not timed (1: none)")
    p.add_argument("--variants", default=DEFAULT_VARIANTS, help=f"nst variants, from {','.join(VARIANTS)}")
    p.add_argument("--threads", default="0,0", help="INTRA,INTER thread pools (0: TensorFlow's default)")
    p.add_argument("--model", default=str(WEIGHTS), help="VGG19 weights, Keras .h5")
    p.add_argument("--matmul-size", type=int, default=4096, help="n of the n×n matmul timed")
    p.add_argument("--rss-size", default="300x400", help="size for the peak-RSS subprocess ('none': skip)")
    p.add_argument("--quality", action="store_true", help="also time Adam, L-BFGS, --preset quality to Adam's J")
    p.add_argument("--quality-iterations", type=int, default=config.ITERATIONS)
    p.add_argument("--layers", action="store_true", help="also time each convolution alone, direct vs Winograd")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    p.add_argument("--rss-probe", default=None, help=argparse.SUPPRESS)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    # Each variant builds its own tf.function of the same Python step on purpose; TensorFlow's
    # "excessive retracing" warning about that would only distract from the table.
    tf.get_logger().setLevel("ERROR")
    configure_threads(*(int(n) for n in args.threads.split(",")))
    if args.rss_probe:
        return rss_probe(exact_size(args.rss_probe), args.steps)
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise NSTError(f"--variants: unknown {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    weights, sizes = args.model, [exact_size(s) for s in args.sizes.split(",")]
    report = {
        "machine": {
            "tensorflow": tf.__version__,
            "cpus": os.cpu_count(),
            "threads": describe_threads(),
            "onednn": onednn_enabled(),
            "load_before": [round(x, 2) for x in os.getloadavg()],
            "matmul_n": args.matmul_size,
        },
        "rows": [],
        "quality": None,
        "rss_size": args.rss_size,
        "peak_rss_mb": None,
        "ru_maxrss_mb": None,
    }
    m = report["machine"]
    m["matmul_gflops"], m["matmul_gflops_per_cpu_s"] = matmul_gflops(args.matmul_size)
    for height, width in sizes:
        report["rows"] += bench_size(weights, height, width, variants, args.warmup, args.steps, args.turn)
    if args.layers:
        report["layers"] = layer_rows(weights, *sizes[0])
    if args.rss_size != "none":
        probe = peak_rss_of_default_step(exact_size(args.rss_size), 3, args.threads)
        report["peak_rss_mb"], report["ru_maxrss_mb"] = probe["peak_rss_mb"], probe["ru_maxrss_mb"]
    if args.quality:
        report["quality"] = time_to_quality(weights, *sizes[0], args.quality_iterations)
    report["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(format_table(report), flush=True)
    if report.get("layers"):
        print(f"each convolution alone at {args.sizes.split(',')[0]}:", flush=True)
        print(format_layers(report["layers"], m["matmul_gflops"]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0
