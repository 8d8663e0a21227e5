"""The house keeps its plan: light imports, small rooms, the exercise's step run by training itself."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nst.config import ROOT

LIGHT = """
import contextlib, io, sys
from nst.frontends.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main(sys.argv[1:])
    except SystemExit:
        pass
assert "tensorflow" not in sys.modules, "TensorFlow was imported"
"""


@pytest.mark.parametrize("argv", [[], ["--help"], ["exercise", "--help"], ["grade", "--help"], ["app", "--help"],
                                  ["batch", "--help"], ["train", "--help"], ["weights", "--help"]])  # fmt: skip
def test_import_nst_and_help_load_no_tensorflow(argv):
    result = subprocess.run([sys.executable, "-c", LIGHT, *argv], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_no_module_is_over_500_lines():
    sizes = {path: len(path.read_text().splitlines()) for path in (ROOT / "nst").rglob("*.py")}
    assert {str(path.relative_to(ROOT)): n for path, n in sizes.items() if n > 500} == {}


def test_no_front_end_reaches_into_argparse():
    for path in (ROOT / "nst").rglob("*.py"):
        assert "_actions" not in path.read_text(), path


def test_adam_runs_the_exercises_train_step(weights_h5):
    """nst's Adam iteration is nst.train.train_step itself: the same J and image as calling it by hand."""
    import tensorflow as tf

    import nst.engine.optimizers
    import nst.train
    from nst.adam import Adam
    from nst.bench import exercise_level, images
    from nst.engine.objective import make_objective
    from nst.options import Options

    assert nst.engine.optimizers.train_step is nst.train.train_step
    content, style, generated = images(48, 64)
    options = Options(size=(48, 64))
    objective = make_objective(exercise_level(weights_h5, content, style), options)
    engine = nst.engine.optimizers.AdamOptimizer(objective, generated, options)
    by_hand = tf.Variable(generated)
    adam = Adam(by_hand, learning_rate=options.learning_rate)
    step = tf.function(lambda: nst.train.train_step(by_hand, objective, adam))
    for _ in range(3):
        ours, _ = engine.guarded_step()
        theirs = step()
        assert float(ours["J"]) == pytest.approx(float(theirs["J"]), rel=1e-6)
    np.testing.assert_allclose(engine.image(), by_hand.numpy(), rtol=1e-5, atol=1e-4)


def test_the_notebooks_train_step_has_nsts_shape():
    """The learner's graded train_step (the solution notebook) and nst's read the same way."""
    import json

    cells = json.loads(Path(ROOT / "notebooks" / "Art_Generation_with_Neural_Style_Transfer.ipynb").read_text())[
        "cells"
    ]
    solution = next(
        "".join(c["source"]) for c in cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "train_step"
    )
    ours = (ROOT / "nst" / "train.py").read_text()
    for step in ("with tf.GradientTape() as tape:", "tape.gradient(", "optimizer.apply(grad)"):
        assert step in solution and step in ours, step
