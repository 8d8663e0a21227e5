"""Runs past the memory: --max-memory and --tile, the canvas of several scales, progress, disk, preview."""

import numpy as np
import pytest

from nst.engine import resources
from nst.engine.options import Options
from nst.engine.problem import EDGE, Problem
from nst.engine.report import Progress, Row
from nst.errors import NSTError


def test_tile_and_max_memory_are_checked_like_every_option():
    assert Options(tile="512", max_memory="3.5").tile == 512
    with pytest.raises(
        NSTError, match=r"^--tile 500: must be a multiple of 16 \(VGG19 pools four times\), e\.g\. 512$"
    ):
        Options(tile=500)
    with pytest.raises(NSTError, match=r"^--max-memory 0: must be above 0$"):
        Options(max_memory=0)
    with pytest.raises(NSTError, match=r"^--tile -16: must be at least 0$"):
        Options(tile=-16)


def test_a_scale_goes_into_tiles_only_past_the_budget_or_when_asked():
    assert resources.choose_tile(952, 2048, Options(max_memory=12)) is None  # 2048 px fits 12 GiB whole
    assert resources.choose_tile(3808, 8192, Options(max_memory=14)) in resources.TILE_SIDES  # 8192 px does not
    assert resources.choose_tile(952, 2048, Options(max_memory=4)) in resources.TILE_SIDES
    assert resources.choose_tile(300, 400, Options(tile=256)) == 256
    assert resources.choose_tile(300, 400, Options(tile=512)) is None  # smaller than one tile
    assert resources.choose_tile(3808, 8192, Options(tile=0)) is None  # --tile 0: never
    with pytest.raises(NSTError, match=r"^--max-memory 2: a 8192x3808 scale needs about .* GiB even in tiles; raise"):
        resources.choose_tile(3808, 8192, Options(max_memory=2))
    assert resources.default_budget() > 0


def test_a_coarser_scale_never_takes_more_than_the_largest_one_in_tiles():
    """What oneDNN's allocator takes for a scale's activations it keeps, and the largest scale's state
    comes on top: when the largest scale goes into tiles, a coarser scale's activations (whole or in
    tiles) take no more than its tiles (4096 px: the 952x2048 scale, 8.8 GiB whole, goes into tiles)."""
    options, top = Options(max_memory=12), (1968, 4160)  # 4096 px with its canvas margins
    tile = resources.choose_tile(*top, options)
    assert tile is not None
    assert resources.choose_tile(984, 2080, options) is None  # alone, 2048 px fits 12 GiB whole
    coarse = resources.choose_tile(984, 2080, options, largest=top)
    assert coarse is not None and resources.tile_pool(984, 2080, coarse) <= resources.tile_pool(*top, tile)
    assert resources.choose_tile(488, 1056, options, largest=top) is None  # small enough whole
    assert resources.choose_tile(984, 2080, options, largest=(984, 2080)) is None  # the largest itself, whole
    # 8192 px: its 512 px tiles take ~1 GiB, so every scale from 476x1024 on goes into tiles of at most 512 px
    # (before, the 952x2048 scale ran whole and its ~7 GiB stayed under the largest scale's state: 13.8 GiB).
    top = (3936, 8320)
    assert resources.choose_tile(*top, options) == 512
    sides = [resources.choose_tile(h, w, options, largest=top) for h, w in ((246, 520), (492, 1040), (984, 2080))]
    assert sides[0] is None and all(side is not None and side <= 512 for side in sides[1:])
    assert resources.choose_tile(1968, 4160, options, largest=top) == 512
    assert resources.tile_reason(options, largest=False).startswith("the largest scale is in tiles")
    assert resources.tile_reason(options, largest=True) == "the whole image would pass --max-memory"
    assert resources.tile_reason(Options(tile=256), largest=False) == "--tile"


def test_a_run_that_would_fill_the_disk_is_refused_first(tmp_path, monkeypatch):
    sizes = [(238, 512), (476, 1024), (952, 2048), (1904, 4096), (3808, 8192)]
    needed = resources.disk_needed(sizes, Options(preset="quality", iterations=10, checkpoint_every=5))
    assert 31e6 * 12 < needed < 1e9  # the checkpoint's float32 image, one saved PNG per scale, the JPEG
    resources.check_disk(tmp_path, 1000)
    usage = type("Usage", (), {"free": 5 * 10**8})
    monkeypatch.setattr(resources.shutil, "disk_usage", lambda folder: usage)
    with pytest.raises(NSTError, match=rf"^{tmp_path}: 0\.5 GB free, and this run writes up to 0\.4 GB"):
        resources.check_disk(tmp_path, 4 * 10**8)


def test_several_scales_are_optimised_on_a_canvas_that_is_cropped():
    options = Options(preset="quality", size=1024)
    problem = Problem(None, np.zeros((595, 1280, 3), np.uint8), [], [1.0], options, size=(476, 1024))
    assert problem.levels() == [(238, 512), (476, 1024)]
    assert [problem.margin(h, w) for h, w in problem.levels()] == [EDGE, 2 * EDGE]
    canvas = np.arange((476 + 4 * EDGE) * (1024 + 4 * EDGE) * 3, dtype=np.float32).reshape(1, 476 + 4 * EDGE, -1, 3)
    np.testing.assert_array_equal(problem.crop(canvas), canvas[:, 2 * EDGE : -2 * EDGE, 2 * EDGE : -2 * EDGE])
    assert problem.crop(canvas[:, :476, :1024]).shape == (1, 476, 1024, 3)  # no level's canvas: as it is
    single = Problem(None, np.zeros((595, 1280, 3), np.uint8), [], [1.0], Options(size=400), size=(186, 400))
    assert single.margin(186, 400) == 0  # one scale (the exercise, the quality preset at 300x400): no canvas
    exercise = Problem(None, np.zeros((595, 1280, 3), np.uint8), [], [1.0], Options(size=1024), size=(476, 1024))
    assert [exercise.margin(h, w) for h, w in exercise.levels()] == [0, 0]  # the exercise preset: never


def test_the_progress_moves_tile_by_tile_and_logs_the_time_left(capsys, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("nst.engine.report.time.perf_counter", lambda: now[0])
    progress = Progress(20, quiet=True)
    progress.scale(2, 2, 10, 20)
    progress.done = 10
    progress.LOG_EVERY = 0.0
    now[0] += 600.0  # the scale's set-up and first tiles: no pace to tell yet
    progress.tile(4, 8)
    assert capsys.readouterr().out.splitlines()[-1] == (
        "iteration 11/20, scale 2/2, tile 4/8: time left known after this scale's first iteration"
    )
    progress.step(Row(10, {"J": 1.0}, 600.0))  # the clock starts where the first iteration ends
    now[0] += 90.0  # 4 of 8 tiles (pass 1: 4, pass 2: 4): pass 1, a third of an iteration, in 90 s
    progress.tile(4, 8)
    assert progress.fraction == pytest.approx(1 / 3)
    now[0] += 60.0
    progress.tile(6, 8)  # two pass-2 tiles more: two thirds in 150 s, 225 s an iteration, 8 1/3 left
    assert progress.fraction == pytest.approx(2 / 3)
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "iteration 12/20, scale 2/2, tile 6/8: about 31 min left at this scale"
    progress.tile(2, 8)  # a second evaluation of the same iteration never moves it back
    assert progress.fraction == pytest.approx(2 / 3)


def test_a_tiled_lbfgs_takes_a_short_first_step_only_from_an_upsampled_scale():
    """From the noisy start the first step's RMS is FIRST_STEP (8 pixel values); from a coarser scale's
    result, upsampled, REFINING_FIRST_STEP (1): a longer one only sends the line search back."""
    from nst.engine.lean_lbfgs import FIRST_STEP, REFINING_FIRST_STEP
    from nst.engine.optimizers import TiledLBFGSOptimizer, make_optimizer
    from nst.kernels.tiles import TiledObjective

    objective = TiledObjective(None, 64, 96, None, (), "conv4_2", (("conv1_1", 1.0),), 10, 40, None, tile=64)
    image = np.zeros((1, 64, 96, 3), np.float32)
    options = Options(preset="quality")
    fresh, refining = (make_optimizer(objective, image, options, refining=r) for r in (False, True))
    assert isinstance(fresh, TiledLBFGSOptimizer) and isinstance(refining, TiledLBFGSOptimizer)
    assert (fresh.minimize.keywords["first_step"], refining.minimize.keywords["first_step"]) == (
        FIRST_STEP,
        REFINING_FIRST_STEP,
    )
    assert FIRST_STEP == 8.0 and REFINING_FIRST_STEP == 1.0


@pytest.mark.slow
def test_a_tiled_run_gives_the_untiled_runs_losses_and_a_preview(weights_h5, tmp_path, monkeypatch):
    """Adam over tiles of 64 px (1 x 2 of them, each tile's margin reaching past a 64x96 image) takes the
    exercise's steps: the same losses as train_step's; a result larger than PREVIEW_SIDE gets a reduced
    preview; the quality preset's L-BFGS runs over tiles too (in float32: nst.engine.lean_lbfgs). Each
    tile's geometry is traced once per pass, so few tiles keep the test short; test_tiles.py checks
    the sums over many, at a size where their margins matter."""
    import nst.engine.optimizers
    import nst.engine.run
    from nst.engine.lean_lbfgs import REFINING_FIRST_STEP
    from nst.engine.run import run
    from nst.kernels import FastKernels

    monkeypatch.setattr(nst.engine.run, "PREVIEW_SIDE", 48)
    ticks = []
    monkeypatch.setattr(Progress, "tile", lambda self, done, count: ticks.append((done, count)))
    common = dict(size=(64, 96), iterations=2, seed=1, quiet=True, model=weights_h5)
    monkeypatch.setattr(FastKernels, "winograd_6x6", False)  # the whole image's kernels as a tiled level's
    whole = run(Options(output_dir=tmp_path / "whole", **common))
    tiled = run(Options(output_dir=tmp_path / "tiled", tile=64, **common))
    for a, b in zip(whole.rows, tiled.rows, strict=True):
        for name in ("J", "J_content", "J_style"):
            assert b.costs[name] == pytest.approx(a.costs[name], rel=1e-5)
    assert ticks[:4] == [(k, 4) for k in range(1, 5)]  # 1 x 2 tiles, both passes, per evaluation
    from PIL import Image

    with Image.open(tiled.files.preview) as preview:
        assert preview.size == (48, 32)
    assert len(tiled.files.losses_csv.read_text().splitlines()) == 3  # its header and two iterations
    # The float32 L-BFGS, over two scales: the 32x48 one (a 40x56 canvas) fits one tile and runs SciPy's
    # L-BFGS-B; the 64x96 one (80x112) is tiled and starts from the upsampled coarser scale, with the
    # short first step (nst.engine.lean_lbfgs.REFINING_FIRST_STEP).
    first_steps = []
    minimize_lean = nst.engine.optimizers.minimize_lean

    def spy(*args, first_step, **kwargs):
        first_steps.append(first_step)
        return minimize_lean(*args, first_step=first_step, **kwargs)

    monkeypatch.setattr(nst.engine.optimizers, "minimize_lean", spy)
    lbfgs = run(Options(output_dir=tmp_path / "lbfgs", tile=64, preset="quality", multiscale="2", **common))
    assert lbfgs.status == "done" and [row.iteration for row in lbfgs.rows] == [0, 1, 2, 3]
    assert lbfgs.rows[1].J < lbfgs.rows[0].J and lbfgs.rows[3].J < lbfgs.rows[2].J
    assert first_steps == [REFINING_FIRST_STEP]
