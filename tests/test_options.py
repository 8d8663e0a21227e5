"""Options check themselves: every kind of value, typed or as text, with the command line's one line."""

import dataclasses
import json
from pathlib import Path

import pytest

from nst.engine.command_line import Parser, add_kind_argument, parse_args
from nst.engine.options import DECLARED, PRESETS, Options, record, settings
from nst.engine.values import Choice, File, Number, Size, Span, Switch
from nst.errors import NSTError, run_cli


@pytest.mark.parametrize(
    "values, words",
    [
        ({"alpha": -1}, "--alpha -1: must be at least 0"),
        ({"beta": float("nan")}, "--beta nan: must be a finite number"),
        ({"alpha": "lots"}, "--alpha 'lots': not a number"),
        ({"alpha": True}, "--alpha True: not a number"),
        ({"iterations": 0}, "--iterations 0: must be at least 1"),
        ({"iterations": 2.5}, "--iterations 2.5: not a whole number"),
        ({"noise_ratio": 1.5}, "--noise-ratio 1.5: must be between 0 and 1"),
        ({"size": (16, 400)}, "at least 32"),
        ({"size": "big"}, "HEIGHTxWIDTH"),
        ({"size": (300, 400, 3)}, "HEIGHTxWIDTH"),
        ({"content_layer": "conv9_9"}, "unknown layer 'conv9_9'"),
        ({"style_layers": (("conv1_1", "abc"),)}, "not a number"),
        ({"style_layers": ()}, "no layers given"),
        ({"preset": "fast"}, "--preset 'fast': choose from exercise, quality"),
        ({"optimizer": "sgd"}, "--optimizer 'sgd': choose from adam, lbfgs"),
        ({"quiet": "maybe"}, "--quiet 'maybe': write true or false"),
        ({"style_blend": (0, 0), "style": ("a.jpg", "b.jpg")}, "not all zero"),
        ({"style_blend": (1, 2, 3), "style": ("a.jpg", "b.jpg")}, "3 weights for 2 style image(s)"),
        ({"multiscale": 0}, "--multiscale 0: must be at least 1"),
        ({"content": ""}, "--content '': must be the path of a file"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_option(values, words):
    with pytest.raises(NSTError) as info:
        Options(**values)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_typed_values_and_text_become_the_same_options():
    typed = Options(size=(64, 96), iterations=3, alpha=10, seed=7, quiet=True, style_blend=(1, 0.5),
                    style=("a.jpg", "b.jpg"), style_layers=(("conv1_1", 1),))  # fmt: skip
    text = Options(size="64x96", iterations="3", alpha="10", seed="7", quiet="yes", style_blend="1,0.5",
                   style=("a.jpg", "b.jpg"), style_layers="conv1_1:1")  # fmt: skip
    assert typed == text
    assert typed.size == Size(64, 96) and typed.iterations == 3 and typed.style == (Path("a.jpg"), Path("b.jpg"))
    assert Options(size=1024).size == Size(long_side=1024) and Options(size="1024").size.longest == 1024


def test_the_command_line_gives_what_python_gives():
    argv = ["--size", "64x96", "--iterations", "3", "--alpha", "10", "--quiet", "--style", "a.jpg", "b.jpg"]
    assert parse_args(argv) == Options(size=(64, 96), iterations=3, alpha=10, quiet=True, style=("a.jpg", "b.jpg"))


def test_a_kinds_flag_gives_typed_values_and_its_check_is_the_parsers_one_line(capsys):
    parser = Parser(prog="nst demo")
    add_kind_argument(parser, "clip", File(), "a clip", default=None, metavar="CLIP")
    add_kind_argument(parser, "--frames", Span(), "A:B", default=(0, None), metavar="A:B")
    add_kind_argument(parser, "--seconds", Number(above=0), "how long")  # absent: no attribute at all
    add_kind_argument(parser, "--optimizer", Choice("adam", "lbfgs"), "which", default="adam")
    add_kind_argument(parser, "--resume", Switch(), "continue", default=False)
    assert vars(parser.parse_args(["a.mp4", "--frames", "2:", "--seconds", "1.5", "--resume"])) == {
        "clip": Path("a.mp4"), "frames": (2, None), "seconds": 1.5, "optimizer": "adam", "resume": True
    }  # fmt: skip
    assert vars(parser.parse_args(["a.mp4"])) == {"clip": Path("a.mp4"), "frames": (0, None),
                                                  "optimizer": "adam", "resume": False}  # fmt: skip
    for argv, line in [
        (["a.mp4", "--seconds", "lots"], "error: --seconds 'lots': not a number"),
        (["a.mp4", "--seconds", "-1"], "error: --seconds -1: must be above 0"),
        (["a.mp4", "--frames", "9:3"], "error: --frames 9:3: the end must come after the start"),
        ([""], "error: CLIP '': must be the path of a file"),
        (["a.mp4", "--optimizer", "sgd"], "error: argument --optimizer: invalid choice: 'sgd'"),  # argparse's
    ]:
        with pytest.raises(SystemExit) as info:
            run_cli(parser.parse_args, argv)
        err = capsys.readouterr().err.splitlines()
        assert info.value.code == 2 and len(err) == 1 and err[0].startswith(line), err


def test_presets_fill_what_is_not_given_and_a_given_value_wins():
    quality = Options(preset="quality")
    assert all(getattr(quality, name) == value for name, value in PRESETS["quality"].items())
    assert Options(preset="quality", iterations=5).iterations == 5


def test_options_are_frozen_and_a_changed_copy_is_checked():
    options = Options()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.alpha = 5
    assert dataclasses.replace(options, seed=3).seed == 3
    with pytest.raises(NSTError, match="--alpha -2: must be at least 0"):
        dataclasses.replace(options, alpha=-2)


def test_one_json_record_round_trips():
    options = Options(size=(64, 96), style=("a.jpg", "b.jpg"), style_blend=(1, 2))
    recorded = record(options)
    assert set(recorded) == set(DECLARED) and json.loads(json.dumps(recorded)) == recorded
    assert recorded["size"] == [64, 96] and recorded["style_blend"] == [1.0, 2.0]
    assert recorded["style"] == [str(Path("a.jpg").resolve()), str(Path("b.jpg").resolve())]
    assert record(Options(size=512))["size"] == 512
    assert set(settings(options)) == {name for name, d in DECLARED.items() if d.resume is not None}
