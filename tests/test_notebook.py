"""The solution notebook: committed clean, and runs top to bottom (briefly) on a CPU.

Its six graded functions are defined in the notebook (tests/test_exercise.py checks the cells);
here every check cell passes, nbgrader's own rule gives each its points, the costs print the
exercise's numbers, the notebook's train_step trains, and its functions paint, through nst's
training, the picture nst's own functions paint.

The run uses NST_ITERATIONS=4 and NST_SIZE=64x96, so it takes well under a minute.
The kernel is pinned to the interpreter running the tests (the venv's python): a
kernelspec written to a temporary folder names ``sys.executable`` explicitly, so no
``python3`` kernelspec elsewhere (user folder, system) can substitute another
interpreter, and the notebook's first (injected) cell reports which one ran.
"""

import json
import re
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from nst.config import OUTPUT_DIR, ROOT
from nst.images import read_image
from nst.teaching.grade import pinned_kernel_manager
from nst.teaching.grader import GRADED

NOTEBOOK = ROOT / "notebooks" / "Art_Generation_with_Neural_Style_Transfer.ipynb"
ITERATIONS, SAVE_EVERY = 4, 2  # the notebook's save_every = max(1, min(20, 4 // 2))
HEIGHT, WIDTH = 64, 96
CELL_TIMEOUT = 300  # seconds, per cell

PROBE = "import sys, json; print('KERNEL ' + json.dumps({'executable': sys.executable, 'prefix': sys.prefix}))"


def read_notebook():
    return nbformat.read(NOTEBOOK, as_version=nbformat.NO_CONVERT)


# --- the committed file ----------------------------------------------------------


def test_committed_notebook_is_clean():
    nb = read_notebook()
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code_cells
    for cell in code_cells:
        assert cell.outputs == [], f"cell {cell.get('id')} has outputs"
        assert cell.execution_count is None, f"cell {cell.get('id')} has an execution count"
    for cell in nb.cells:
        assert not cell.get("attachments"), f"cell {cell.get('id')} has attachments"


def test_notebook_uses_the_package_for_everything_but_the_exercise():
    sources = "\n".join(cell.source for cell in read_notebook().cells if cell.cell_type == "code")
    assert not re.findall(r"^\s*def (load_vgg_model|load_image|generate_noise_image)\b", sources, re.M)
    for name in ("load_vgg_model", "load_image", "generate_noise_image", "Adam", "save_image", "run"):
        assert f"{name}(" in sources, f"the notebook never calls {name}"


# --- running it -------------------------------------------------------------------


def text_of(cell):
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.name == "stdout":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def count_images(cell):
    return sum("image/png" in output.get("data", {}) for output in cell.get("outputs", []))


def printed(text, name):
    """The value printed as `name = value` by the notebook's check()."""
    match = re.search(rf"^{re.escape(name)} = (.+)$", text, re.M)
    assert match, f"{name!r} not printed in:\n{text}"
    return match[1]


@pytest.fixture(scope="module")
def executed(tmp_path_factory, weights_h5):
    from nbclient import NotebookClient

    nb = read_notebook()
    nb.cells.insert(0, nbformat.v4.new_code_cell(PROBE, id="test-probe"))
    km = pinned_kernel_manager(tmp_path_factory.mktemp("kernels"))  # nst grade's: exactly this interpreter
    mp = pytest.MonkeyPatch()  # the kernel inherits the environment at start
    mp.setenv("NST_ITERATIONS", str(ITERATIONS))
    mp.setenv("NST_SIZE", f"{HEIGHT}x{WIDTH}")
    out = tmp_path_factory.mktemp("notebook-output")  # not the user's output/notebook
    mp.setenv("NST_OUTPUT_DIR", str(out))
    mp.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    start = time.time() - 1  # file times may be rounded down to the second
    try:
        client = NotebookClient(
            nb, km=km, timeout=CELL_TIMEOUT, allow_errors=False, resources={"metadata": {"path": str(NOTEBOOK.parent)}}
        )
        client.execute()  # raises CellExecutionError on the first cell that fails
    finally:
        mp.undo()
    return {cell.id: cell for cell in nb.cells}, start, out


@pytest.mark.slow
def test_kernel_is_the_venv_python(executed):
    cells, *_ = executed
    kernel = json.loads(text_of(cells["test-probe"]).split("KERNEL ", 1)[1])
    assert Path(kernel["executable"]) == Path(sys.executable)
    assert Path(kernel["prefix"]) == Path(sys.prefix)


@pytest.mark.slow
def test_every_cell_ran(executed):
    cells, *_ = executed
    for cell in cells.values():
        if cell.cell_type == "code":
            assert cell.execution_count is not None, f"cell {cell.id} did not run"
            assert not [o for o in cell.outputs if o.output_type == "error"], f"cell {cell.id} failed"


@pytest.mark.slow
def test_settings_come_from_the_environment(executed):
    cells, *_ = executed
    text = text_of(cells["setup-config"])
    assert f"{ITERATIONS} iterations at {HEIGHT}x{WIDTH}, saving an image every {SAVE_EVERY}" in text
    assert str(ROOT) in text


@pytest.mark.slow
def test_graph_is_printed(executed):
    cells, *_ = executed
    text = text_of(cells["vgg-load"])
    assert f"'input'     tf.Variable shape=(1, {HEIGHT}, {WIDTH}, 3)" in text
    assert "'conv4_2'   tf.Tensor shape=(1, 8, 12, 512)" in text
    assert "'avgpool5'" in text


@pytest.mark.slow
def test_costs_match_the_exercise(executed):
    cells, *_ = executed
    content = text_of(cells["content-example"])
    np.testing.assert_allclose(float(printed(content, "J_content")), 7.0568767, rtol=1e-5)
    assert "7.0568" in content

    gram = text_of(cells["gram-example"])
    first_row = re.search(r"GA = \[\[([^\]]+)\]", gram)[1]
    np.testing.assert_allclose(np.array(first_row.split(), float), [63.1888, -26.721275, -7.7320204], rtol=1e-5)

    layer = text_of(cells["layer-style-example"])
    np.testing.assert_allclose(float(printed(layer, "J_style_layer")), 14.017805, rtol=1e-5)

    style = text_of(cells["style-example"])
    np.testing.assert_allclose(float(printed(style, "J_style (same test case at every layer)")), 14.017805, rtol=1e-5)
    per_layer = dict(re.findall(r"^(conv\d_\d): λ = 0.2, J_style\^\[l\] = (\S+)$", style, re.M))
    assert len(per_layer) == 5
    np.testing.assert_allclose(float(printed(style, "J_style")), 0.2 * sum(map(float, per_layer.values())), rtol=1e-4)

    total = text_of(cells["total-example"])
    np.testing.assert_allclose(float(printed(total, "total_cost(0.2, 0.8)")), 34, rtol=1e-5)
    np.testing.assert_allclose(float(printed(total, "total_cost(0.3, 0.5, alpha=3, beta=8)")), 4.9, rtol=1e-5)
    np.testing.assert_allclose(float(printed(total, "total_cost(random, random)")), 32.9832, rtol=1e-5)
    # every check() passed, not just the ones parsed above
    assert sum(text_of(cell).count("✓ matches") for cell in cells.values()) == 10


@pytest.mark.slow
def test_check_cells_pass_and_nbgrader_gives_full_marks(executed):
    from nbgrader.utils import determine_grade

    cells, *_ = executed
    checks = [cell for cell in cells.values() if cell.metadata.get("nbgrader", {}).get("grade")]
    assert [cell.metadata.nbgrader.grade_id for cell in checks] == [f"check_{name}" for name in GRADED]
    for cell in checks:
        name = cell.metadata.nbgrader.grade_id.removeprefix("check_")
        assert text_of(cell).startswith("All tests passed\n"), text_of(cell)
        assert text_of(cell).rstrip().endswith(str(GRADED[name]))  # Out: the points
        # nbgrader's autograder reads a check cell's output as its score
        assert determine_grade(cell) == (GRADED[name], GRADED[name])


@pytest.mark.slow
def test_training_wrote_the_images(executed):
    cells, start, out = executed
    log = text_of(cells["run"])
    saved_iterations = list(range(0, ITERATIONS, SAVE_EVERY))
    assert saved_iterations == [0, 2]
    for i in saved_iterations:
        assert f"Iteration {i} :\ntotal cost = " in log
    assert f"done: {ITERATIONS} iterations" in log

    expected = [f"{i}.png" for i in saved_iterations] + ["generated_image.jpg", "losses.csv", "losses.png"]
    for name in expected:
        path = out / name
        assert path.is_file(), f"{path} missing"
        assert path.stat().st_mtime >= start, f"{path} was not written by this run"
    for name in expected[:-2]:
        assert read_image(out / name).shape == (HEIGHT, WIDTH, 3)
    user_copy = OUTPUT_DIR / "notebook" / "losses.csv"  # the user's own notebook run is left alone
    assert not user_copy.exists() or user_copy.stat().st_mtime < start
    lines = (out / "losses.csv").read_text().splitlines()
    assert lines[0] == "iteration,J"
    assert len(lines) == 1 + ITERATIONS
    costs = [float(line.split(",")[1]) for line in lines[1:]]
    assert costs[-1] < costs[0]  # the notebook's train_step lowers J


@pytest.mark.slow
def test_your_functions_paint_the_same_picture(executed):
    cells, start, out = executed
    text = text_of(cells["paint-show"])
    match = re.search(rf"{ITERATIONS} iterations at {HEIGHT}x{WIDTH}; largest difference between the two pictures: "
                      r"(\d+) \(of 255\)$", text, re.M)  # fmt: skip
    assert match, text
    # The same start and the same formulas, summed in another order: a pixel may round the other way.
    assert int(match[1]) <= 2
    for folder in ("your-functions", "nst-functions"):
        image = out / folder / "generated_image.jpg"
        assert image.stat().st_mtime >= start
        assert read_image(image).shape == (HEIGHT, WIDTH, 3)


@pytest.mark.slow
def test_figures_are_shown(executed):
    cells, *_ = executed
    # write_losses switches matplotlib to Agg; the notebook must still show figures after it
    for cell_id in ("problem-show", "solve-load", "noise-show", "watch", "result", "losses", "paint-show"):
        assert count_images(cells[cell_id]) >= 1, f"cell {cell_id} shows no image"


@pytest.mark.slow
def test_help_is_shown(executed):
    cells, *_ = executed
    assert "--iterations" in text_of(cells["next-help"])
