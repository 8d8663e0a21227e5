"""One path: training calls the exercise's functions (or a learner's), one cost for every
optimiser, presets in Options, named cost terms, and the library API front ends drive."""

import csv
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import nst.costs.content
import nst.costs.style
from nst.engine.command_line import parse_args
from nst.engine.objective import COST_FUNCTIONS, NST_COSTS, load_costs
from nst.engine.options import PRESETS, Options
from nst.train import main, run

SMALL = {"size": (32, 48), "iterations": 2, "seed": 0, "quiet": True}


def small(tmp_path, name, **overrides):
    return Options(**{**SMALL, "output_dir": tmp_path / name, **overrides})


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


# --- presets and options ----------------------------------------------------------------


def test_presets_apply_in_options_and_explicit_values_win():
    quality = Options(preset="quality")
    assert {k: getattr(quality, k) for k in PRESETS["quality"]} == PRESETS["quality"]
    exercise = Options()
    assert (exercise.optimizer, exercise.iterations, exercise.tv_weight) == ("adam", 200, 0.0)
    mixed = Options(preset="quality", iterations=7, optimizer="adam")
    assert (mixed.optimizer, mixed.iterations, mixed.init) == ("adam", 7, "noise")
    # The command line reaches the same Options, the preset's values included.
    assert parse_args(["--preset", "quality", "--iterations", "7", "--optimizer", "adam"]) == mixed


def test_run_does_not_change_the_options_it_is_given(tmp_path, weights_h5):
    options = small(tmp_path, "same", iterations=1)
    before = repr(options)
    run(options)
    assert repr(options) == before


def test_quality_preset_from_python_runs_lbfgs_and_writes_the_gif(tmp_path, weights_h5, capsys):
    result = run(small(tmp_path, "quality", preset="quality", iterations=2))
    assert "(lbfgs)" in capsys.readouterr().out
    assert result.files.gif.is_file() and result.status == "done"
    assert "J_tv" in result.rows[0].costs  # the quality preset adds a little total variation


# --- named cost terms -------------------------------------------------------------------


def test_tv_weight_gives_a_J_tv_column(tmp_path, weights_h5):
    result = run(small(tmp_path, "tv", tv_weight=10))
    with open(result.files.losses_csv, newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == ["iteration", "J", "J_content", "J_style", "J_tv", "seconds"]
    row = table[0]
    J = 10 * float(row["J_content"]) + 40 * float(row["J_style"]) + 10 * float(row["J_tv"])
    assert float(row["J"]) == pytest.approx(J, rel=1e-5)
    plain = run(small(tmp_path, "plain"))
    assert "J_tv" not in plain.files.losses_csv.read_text().splitlines()[0]


# --- training calls the exercise's functions ----------------------------------------------


@pytest.mark.slow
def test_training_calls_the_exercises_functions(tmp_path, weights_h5):
    # Record which of nst.costs' functions run while each optimiser's step is traced and run.
    # (tf.function's AutoGraph runs converted copies, named tf__<name>, of plain functions.)
    called = set()

    def profile(frame, event, arg):
        name = frame.f_code.co_name.removeprefix("tf__")
        if event == "call" and name in COST_FUNCTIONS:
            called.add(name)

    for optimizer in ("adam", "lbfgs"):
        called.clear()
        sys.setprofile(profile)
        try:
            run(small(tmp_path, optimizer, optimizer=optimizer, iterations=1))
        finally:
            sys.setprofile(None)
        assert called == set(COST_FUNCTIONS), optimizer
    assert NST_COSTS.gram_matrix is nst.costs.style.gram_matrix
    assert NST_COSTS.compute_content_cost is nst.costs.content.compute_content_cost


# --- the learner's functions --------------------------------------------------------------


def test_a_file_re_exporting_nsts_functions_gives_the_default_J(tmp_path, weights_h5):
    names = ", ".join(COST_FUNCTIONS)
    same = write(tmp_path, "same.py", f"from nst.costs import {names}\n")
    default = run(small(tmp_path, "default"))
    learner = run(small(tmp_path, "learner", costs=same))
    # The same J to float32's rounding: two runs in one process need not agree to the last bit (seen once in
    # a whole suite: J_style 185933232 against 185933248 after one step, 9e-8), while a learner's function
    # that differs at all (a Gram twice too large, a missing square) moves J by far more.
    assert len(learner.rows) == len(default.rows) == 2
    for ours, theirs in zip(learner.rows, default.rows):
        assert ours.costs.keys() == theirs.costs.keys()
        assert all(ours.costs[k] == pytest.approx(theirs.costs[k], rel=1e-6) for k in theirs.costs)


def test_a_learners_gram_matrix_is_used_inside_nsts_style_cost(tmp_path, weights_h5, capsys):
    doubled = write(
        tmp_path,
        "doubled.py",
        "import tensorflow as tf\n\ndef gram_matrix(A):\n    return 2 * tf.matmul(A, A, transpose_b=True)\n",
    )
    default = run(small(tmp_path, "default", iterations=1))
    learner = run(small(tmp_path, "learner", iterations=1, costs=doubled))
    first_lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("nst: ")]
    assert first_lines[0].endswith("cost functions: nst's")
    assert f"cost functions from {doubled}: gram_matrix; nst's: compute_content_cost" in first_lines[1]
    assert learner.rows[0].J_style == pytest.approx(4 * default.rows[0].J_style, rel=1e-5)
    assert learner.rows[0].J_content == default.rows[0].J_content


def test_functions_from_python_replace_nsts(tmp_path, weights_h5):
    def total_cost(J_content, J_style, alpha=10, beta=40):
        return 0.5 * (alpha * J_content + beta * J_style)

    costs = load_costs({"total_cost": total_cost})
    assert costs.replaced == ("total_cost",) and costs.gram_matrix is not None
    half = run(small(tmp_path, "half", iterations=1, costs={"total_cost": total_cost}))
    default = run(small(tmp_path, "default", iterations=1))
    assert half.rows[0].J == pytest.approx(0.5 * default.rows[0].J, rel=1e-6)
    assert costs.total_cost is total_cost and costs.describe().startswith("cost functions from your functions")


BAD_FILES = {
    "syntax.py": ("def gram_matrix(A)\n    return A\n", "line 1"),
    "empty.py": ("x = 1\n", "defines none of"),
    "shape.py": (
        "import tensorflow as tf\n\ndef gram_matrix(A):\n    return tf.matmul(A, A, transpose_a=True)\n",
        "gram_matrix returned shape",
    ),
    "raises.py": ("def compute_content_cost(a_C, a_G):\n    raise ValueError('oops')\n", "compute_content_cost raised"),
    "numpy.py": (
        "import numpy as np\nimport tensorflow as tf\n\ndef total_cost(J_content, J_style, alpha=10, beta=40):\n"
        "    return tf.constant(np.float32(alpha * float(J_content) + beta * float(J_style)))\n",
        "no gradient reaches the image",
    ),
    "imports.py": ("import no_such_module\n", "does not import"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_costs_files_stop_with_one_line(tmp_path, weights_h5, capsys, name):
    text, expected = BAD_FILES[name]
    path = write(tmp_path, name, text)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        from nst.errors import run_cli

        run_cli(main, ["--costs", str(path), "--size", "32x48", "--iterations", "1", "--output-dir", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {path}") and expected in err[0]
    assert not out.exists() or not any(out.iterdir())  # nothing written


# --- the library API ----------------------------------------------------------------------


def test_on_iteration_sees_every_step_and_an_event_stops_the_run(tmp_path, weights_h5):
    stop = threading.Event()
    seen = []

    def on_iteration(step):
        picture = step.image()
        seen.append((step.iteration, step.total, sorted(step.costs), picture.shape, picture.dtype))
        if step.iteration == 1:
            stop.set()

    result = run(small(tmp_path, "stop", iterations=5), on_iteration=on_iteration, should_stop=stop)
    assert result.status == "stopped" and len(result.rows) == 2 and result.image.is_file()
    assert seen == [(i, 5, ["J", "J_content", "J_style"], (32, 48, 3), np.uint8) for i in (0, 1)]
    with open(result.files.losses_csv) as f:
        assert len(f.readlines()) == 3  # header and the two iterations done


def test_should_stop_can_be_a_function(tmp_path, weights_h5):
    result = run(small(tmp_path, "fn", iterations=5, optimizer="lbfgs"), should_stop=lambda: True)
    assert result.status == "stopped" and len(result.rows) == 1


def test_nst_command_runs_train_help():
    nst = Path(sys.executable).with_name("nst")
    assert nst.is_file(), "pip install -e . installs the nst command"
    result = subprocess.run([str(nst), "train", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--costs" in result.stdout and "usage: nst train" in result.stdout
    assert result.stderr == ""  # TensorFlow's start-up lines are held back
    listing = subprocess.run([str(nst), "--help"], capture_output=True, text=True, timeout=120).stdout
    assert all(command in listing for command in ("train", "weights", "bench"))


def test_the_first_line_names_the_device_and_an_unused_gpu(monkeypatch):
    import tensorflow as tf

    from nst.engine import runtime

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    monkeypatch.setattr(runtime, "nvidia_driver_present", lambda: False)
    assert runtime.describe_device() == "CPU (TensorFlow sees no GPU)"
    monkeypatch.setattr(runtime, "nvidia_driver_present", lambda: True)
    assert "pip install -e .[gpu]" in runtime.describe_device()
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: ["GPU:0"])
    assert runtime.describe_device() == "GPU (1 found)"
