"""Tests of nst.engine.checkpoint: round trip, atomic saving, refusing pickles and damaged files
with one NSTError line, and the settings check before resuming."""

import json
import pickle

import numpy as np
import pytest

from nst.engine import checkpoint as ckpt
from nst.engine.checkpoint import (
    Checkpoint,
    changed_settings,
    check_compatible,
    load_checkpoint,
    save_checkpoint,
)
from nst.engine.report import Row
from nst.errors import NSTError

SETTINGS = {
    "content": "/data/louvre.jpg",
    "style": "/data/monet.jpg",
    "size": (12, 16),
    "content_layer": "conv4_2",
    "style_layers": (("conv1_1", 0.5), ("conv2_1", 0.5)),
    "alpha": 10,
    "beta": 40,
    "learning_rate": 2.0,
    "seed": 3,
    "optimizer": "adam",
}


def example(seed=0, rows=3):
    """(image, iteration, optimizer_state, rows, settings) as a run would pass them."""
    rng = np.random.default_rng(seed)
    image = rng.normal(0, 50, (1, 12, 16, 3)).astype(np.float32)
    state = {
        "m": rng.normal(size=image.shape).astype(np.float32),
        "v": rng.random(image.shape).astype(np.float32),
        "t": np.float32(rows),
    }
    history = [
        Row(i, {"J": 1e9 / (i + 1), "J_content": 1e3 + i, "J_style": 2.5e7 / (i + 1)}, 0.1 * i) for i in range(rows)
    ]
    return image, rows, state, history, SETTINGS


def write_npz(path, **arrays):
    """An .npz with exactly these members (pickles allowed: for crafting bad files)."""
    with open(path, "wb") as file:
        np.savez(file, allow_pickle=True, **arrays)
    return path


def members(path):
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def assert_refused(path, *words):
    with pytest.raises(NSTError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: "), message
    for word in words:
        assert word in message, message
    return message


# ---------------------------------------------------------------- round trip


def test_round_trip(tmp_path):
    image, iteration, state, rows, settings = example()
    save_checkpoint(tmp_path / "run.npz", image, iteration, state, rows, settings)
    loaded = load_checkpoint(tmp_path / "run.npz")
    assert isinstance(loaded, Checkpoint) and loaded.path == tmp_path / "run.npz"
    assert loaded.image.dtype == np.float32 and np.array_equal(loaded.image, image)
    assert loaded.iteration == iteration and isinstance(loaded.iteration, int)
    assert sorted(loaded.optimizer_state) == ["m", "t", "v"]
    for key, value in state.items():
        assert np.array_equal(loaded.optimizer_state[key], value)
        assert loaded.optimizer_state[key].dtype == np.asarray(value).dtype
    assert loaded.rows == rows  # floats are stored as float64: exact
    assert loaded.settings == json.loads(json.dumps(settings))  # tuples come back as lists
    assert changed_settings(loaded, settings) == []


def test_round_trip_empty_state_and_history_any_file_name(tmp_path):
    """L-BFGS has no state to save; a run checkpointed before its first row has no rows;
    a name not ending in .npz stays as given (np.savez would append .npz to a path)."""
    image = example()[0]
    save_checkpoint(tmp_path / "run.ckpt", image, 0, {}, [], {})
    assert [p.name for p in tmp_path.iterdir()] == ["run.ckpt"]
    loaded = load_checkpoint(tmp_path / "run.ckpt")
    assert (loaded.iteration, loaded.optimizer_state, loaded.rows, loaded.settings) == (0, {}, [], {})


def test_adam_state_resumes_exactly(tmp_path):
    """Two Adam steps == one step, checkpoint, restore into a fresh Adam, one more step."""
    import tensorflow as tf

    from nst.adam import Adam

    grads = [tf.constant(np.random.default_rng(k).normal(size=(1, 4, 5, 3)), tf.float32) for k in (1, 2)]
    straight = Adam(tf.Variable(tf.zeros((1, 4, 5, 3))))
    for g in grads:
        straight.apply(g)
    first = Adam(tf.Variable(tf.zeros((1, 4, 5, 3))))
    first.apply(grads[0])
    save_checkpoint(tmp_path / "a.npz", first.var.numpy(), 1, first.state(), [], SETTINGS)
    saved = load_checkpoint(tmp_path / "a.npz")
    resumed = Adam(tf.Variable(saved.image))
    resumed.load_state(saved.optimizer_state)
    resumed.apply(grads[1])
    assert np.array_equal(resumed.var.numpy(), straight.var.numpy())
    assert np.array_equal(resumed.state()["m"], straight.state()["m"])


def test_save_refuses_what_it_cannot_store(tmp_path):
    image = example()[0]
    with pytest.raises(ValueError):
        save_checkpoint(tmp_path / "c.npz", image[0], 0, {}, [], {})  # no batch axis
    with pytest.raises(TypeError):
        save_checkpoint(tmp_path / "c.npz", image, 0, {}, [], {"content": tmp_path})  # a Path
    with pytest.raises(ValueError):
        save_checkpoint(tmp_path / "c.npz", image, 0, {"x": np.array([object()])}, [], {})
    assert list(tmp_path.iterdir()) == []


def test_settings_are_json_and_compatible_with_themselves(tmp_path):
    from nst.engine.options import MUST_MATCH, Options, settings

    recorded = settings(Options())
    assert json.loads(json.dumps(recorded)) == recorded
    assert set(MUST_MATCH) <= set(recorded) and recorded["optimizer"] == "adam"
    save_checkpoint(tmp_path / "c.npz", example()[0], 0, {}, [], recorded)
    check_compatible(load_checkpoint(tmp_path / "c.npz"), settings(Options()))


def test_checkpoints_written_before_costs_were_named_still_load(tmp_path):
    # The first format: no "costs" in meta, five columns (iteration, J, J_content, J_style, seconds).
    image = example()[0]
    old_rows = np.array([[0, 3e9, 8e3, 7e7, 1.5], [1, 2e9, 9e3, 5e7, 3.0]])
    meta = np.array(json.dumps({"format": 1, "settings": SETTINGS}))
    path = write_npz(tmp_path / "old.npz", image=image, iteration=np.int64(2), rows=old_rows, meta=meta)
    loaded = load_checkpoint(path)
    assert [row.costs for row in loaded.rows] == [
        {"J": 3e9, "J_content": 8e3, "J_style": 7e7},
        {"J": 2e9, "J_content": 9e3, "J_style": 5e7},
    ]
    assert [row.seconds for row in loaded.rows] == [1.5, 3.0] and loaded.iteration == 2


def test_named_costs_round_trip_with_a_tv_column(tmp_path):
    image, iteration, state, rows, settings = example()
    rows = [Row(r.iteration, {**r.costs, "J_tv": 400.0 + r.iteration}, r.seconds) for r in rows]
    save_checkpoint(tmp_path / "c.npz", image, iteration, state, rows, settings)
    assert load_checkpoint(tmp_path / "c.npz").rows == rows


# ---------------------------------------------------------------- atomic


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()])
def test_failure_mid_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch, failure):
    path = tmp_path / "run.npz"
    image, iteration, state, rows, settings = example(seed=1)
    save_checkpoint(path, image, iteration, state, rows, settings)
    before = path.read_bytes()

    def half_written(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")
        raise failure

    monkeypatch.setattr(ckpt.np, "savez", half_written)
    with pytest.raises((NSTError, KeyboardInterrupt)) as info:
        save_checkpoint(path, *example(seed=2))
    if isinstance(failure, OSError):
        assert str(info.value).startswith(f"{path}: cannot write (disk full)") and "\n" not in str(info.value)
    monkeypatch.undo()
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["run.npz"]
    assert np.array_equal(load_checkpoint(path).image, image)


# ---------------------------------------------------------------- never unpickle


class Boom:
    """Unpickling this would run code: it records that it did."""

    ran = []

    def __reduce__(self):
        return (Boom.ran.append, ("unpickled!",))


@pytest.mark.parametrize("member", ["image", "meta", "optimizer.m", "extra"])
def test_object_arrays_are_refused_without_unpickling(tmp_path, member):
    good = tmp_path / "good.npz"
    save_checkpoint(good, *example())
    arrays = members(good)
    arrays[member] = np.array([Boom(), "x"], dtype=object)
    bad = write_npz(tmp_path / "bad.npz", **arrays)
    assert_refused(bad, "pickled Python objects", "--resume")
    assert Boom.ran == []


@pytest.mark.parametrize("kind", ["pickle", "npy", "npy_object"])
def test_pickles_and_single_arrays_are_refused(tmp_path, kind):
    path = tmp_path / "run.npz"
    if kind == "pickle":
        path.write_bytes(pickle.dumps({"image": Boom()}))
    else:
        array = np.array([Boom()], dtype=object) if kind == "npy_object" else np.zeros(3)
        with open(path, "wb") as file:
            np.save(file, array, allow_pickle=True)
    assert_refused(path, "not a readable checkpoint", *(["pickled"] if kind != "npy" else []))
    assert Boom.ran == []


# ---------------------------------------------------------------- damaged files


def test_truncated_and_corrupted_files_are_refused(tmp_path):
    good = tmp_path / "good.npz"
    save_checkpoint(good, *example())
    data = good.read_bytes()
    for n, cut in enumerate([0, 10, len(data) // 3, len(data) // 2, len(data) - 30, len(data) - 1]):
        path = tmp_path / f"cut{n}.npz"
        path.write_bytes(data[:cut])
        assert_refused(path, "--resume")
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF  # inside the image's data: the zip's CRC catches it
    (tmp_path / "flipped.npz").write_bytes(bytes(flipped))
    assert_refused(tmp_path / "flipped.npz")


def test_missing_files_folders_and_text_are_refused(tmp_path):
    assert_refused(tmp_path / "nope.npz", "no such file", "--checkpoint-every")
    assert_refused(tmp_path, "is a folder")
    (tmp_path / "notes.npz").write_text("hello")
    assert_refused(tmp_path / "notes.npz", "not a readable checkpoint")


def bad_member(tmp_path, **changes):
    """A good checkpoint with some members replaced (None: removed)."""
    save_checkpoint(tmp_path / "good.npz", *example())
    arrays = {**members(tmp_path / "good.npz"), **changes}
    return write_npz(tmp_path / "bad.npz", **{k: v for k, v in arrays.items() if v is not None})


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"image": None}, ["image missing"]),
        ({"meta": None, "rows": None}, ["rows, meta missing"]),
        ({"image": np.zeros((12, 16, 3), np.float32)}, ["(12, 16, 3)"]),
        ({"image": np.zeros((1, 12, 16, 4), np.float32)}, ["(1, 12, 16, 4)"]),
        ({"image": np.zeros((1, 12, 16, 3), np.uint8)}, ["uint8"]),
        ({"image": np.full((1, 12, 16, 3), np.nan, np.float32)}, ["NaN"]),
        ({"iteration": np.float64(3)}, ["iteration"]),
        ({"iteration": np.int64(-1)}, ["iteration"]),
        ({"iteration": np.arange(2)}, ["iteration"]),
        ({"rows": np.zeros((3, 4))}, ["(3, 4)"]),
        ({"rows": np.array(["a", "b"])}, ["loss history"]),
        ({"meta": np.array("{not json")}, ["JSON"]),
        ({"meta": np.array(b'{"format": 1, "settings": {}}')}, ["JSON"]),
        ({"meta": np.array(json.dumps({"format": 1, "settings": [1]}))}, ["JSON"]),
        ({"meta": np.array(json.dumps({"format": 99, "settings": {}}))}, ["format 99"]),
        ({"optimizer.m": np.zeros((1, 6, 8, 3), np.float32)}, ["optimizer m", "(1, 6, 8, 3)"]),
        ({"optimizer.t": np.zeros(2, np.float32)}, ["optimizer t", "(2,)"]),
        ({"rows": np.array([[np.nan, 1, 1, 1, 0]])}, ["loss history"]),
    ],
)
def test_wrong_members_are_refused(tmp_path, changes, words):
    assert_refused(bad_member(tmp_path, **changes), *words)


# ---------------------------------------------------------------- resuming with other settings


def test_check_compatible(tmp_path):
    save_checkpoint(tmp_path / "run.npz", *example())
    saved = load_checkpoint(tmp_path / "run.npz")
    check_compatible(saved, dict(SETTINGS))  # same settings (tuples vs lists) pass
    check_compatible(saved, {**SETTINGS, "alpha": 5, "learning_rate": 1.0, "seed": None})  # may change
    with pytest.raises(NSTError) as info:
        check_compatible(saved, {**SETTINGS, "size": (300, 400)})
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'run.npz'}: ") and "\n" not in message
    assert "size [12, 16]" in message and "size [300, 400]" in message and "--size" in message
    with pytest.raises(NSTError, match=r"style .*monet.*van_gogh.*--style"):
        check_compatible(saved, {**SETTINGS, "style": "/data/van_gogh.jpg"})
    with pytest.raises(NSTError, match=r"optimizer \(not set\)"):
        check_compatible(saved, {k: v for k, v in SETTINGS.items() if k != "optimizer"})
    with pytest.raises(NSTError, match="alpha 10, this run has alpha 5"):
        check_compatible(saved, {**SETTINGS, "alpha": 5}, keys=["alpha"])
    check_compatible(saved, {**SETTINGS, "size": (1, 1)}, keys=["content"])  # only the keys asked
    assert changed_settings(saved, {**SETTINGS, "beta": 1, "seed": 4}) == [("beta", 40, 1), ("seed", 3, 4)]
