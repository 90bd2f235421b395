"""The generic exercise checkers (ntkbook.exercises): right answers pass, wrong ones fail with a
message that says how they are off, and a reader's exception never escapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ntkbook import exercises
from ntkbook.exercises import ExerciseResult, check_array, check_function, check_number


def test_check_number_accepts_within_tolerance() -> None:
    result = check_number(0.5, 0.5, name="H(x, x)")
    assert result == ExerciseResult(True, "H(x, x): correct.")
    assert bool(result) and result._repr_markdown_().startswith("✅")
    assert check_number(1.0 + 5e-7, 1.0)  # rtol 1e-6
    assert not check_number(1.0 + 5e-6, 1.0)
    assert check_number(1e-10, 0.0)  # atol 1e-9
    assert check_number(torch.tensor(2.0, dtype=torch.float64), 2.0)
    assert check_number(np.array([[3.0]]), 3.0)  # any single-element array
    assert check_number(1.05, 1.0, rtol=0.1)


def test_check_number_says_wrong_without_the_value() -> None:
    result = check_number(2.0, 1.0, name="slope")
    assert not result and result._repr_markdown_().startswith("❌")
    assert result.message == "slope: wrong (not within a relative tolerance of 1e-06)."
    assert check_number(-3.0, 3.0).message.endswith("The sign is wrong.")
    assert "expected a single number, got shape (2,)" in check_number([1.0, 2.0], 1.0).message
    assert "not a finite number" in check_number(float("nan"), 1.0).message


@pytest.mark.parametrize(("answer", "phrase"), [
    (None, "got None (did you forget to assign or to return the answer?)"),
    ("0.5", "got a string (remove the quotes"),
    (b"0.5", "got a string"),
    (lambda: 0.5, "got a function (call it"),
    ({"a": 1}, "got a dict"),
    (["1", "2"], "got a list"),
])
def test_a_malformed_answer_gets_a_message_not_an_exception(answer, phrase) -> None:
    for result in (check_number(answer, 0.5), check_array(answer, np.ones(2))):
        assert not result.correct
        assert phrase in result.message, result.message


def test_a_function_returning_a_string_or_none_gets_a_message() -> None:
    for returned in ("0.5", None):
        result = check_function(lambda x, r=returned: r, lambda x: x, [np.ones(2)], name="f")
        assert not result.correct
        assert result.message.startswith("f on test input 0: returned ")
        assert "it must return an array of numbers" in result.message


def test_float32_answers_are_judged_at_float32_precision() -> None:
    expected = np.array([7.837920212, -0.001234567, 1e3 / 3])
    as32 = expected.astype(np.float32)
    assert check_array(as32, expected)
    assert check_array(torch.tensor(as32), expected)
    assert check_number(np.float32(expected[0]), float(expected[0]), rtol=1e-10)
    assert check_number(torch.tensor(expected[0], dtype=torch.float32), float(expected[0]))
    # float64 answers keep the stated tolerance, and a float32 error far above eps still fails
    assert not check_array(as32.astype(np.float64), expected, rtol=1e-10)
    assert not check_array((expected * (1 + 1e-3)).astype(np.float32), expected)
    assert not check_number(np.float32(expected[0] * (1 + 1e-4)), float(expected[0]))


def test_check_array() -> None:
    expected = np.arange(6.0).reshape(2, 3)
    assert check_array(expected + 1e-12, expected)
    assert check_array(torch.tensor(expected), expected)
    transposed = check_array(expected.T, expected, name="K")
    assert not transposed and transposed.message == "K: the values are right but transposed."
    shape = check_array(np.zeros(4), expected)
    assert not shape and "expected shape (2, 3), got (4,)" in shape.message
    nan = check_array(np.full((2, 3), np.nan), expected)
    assert not nan and "NaN" in nan.message
    wrong = expected.copy()
    wrong[1, 2] = 9.0
    off = check_array(wrong, expected, name="G")
    assert not off
    assert off.message == "G: wrong, 1 of 6 entries are off (relative tolerance 1e-06)."
    assert check_array(-expected - 1, expected + 1).message.endswith("The sign is wrong.")


def test_the_instructor_option_reveals_the_expected_value() -> None:
    from ntkbook import exercises

    assert not exercises.answers_revealed()
    exercises.reveal_answers(True)
    try:
        assert "Expected 1.25 (shown because answers are revealed)" in check_number(
            2.0, 1.25).message
        wrong = np.arange(6.0).reshape(2, 3)
        wrong[1, 2] = 9.0
        assert "At index (1, 2): got 9, expected 5" in check_array(
            wrong, np.arange(6.0).reshape(2, 3)).message
    finally:
        exercises.reveal_answers(False)
    assert "1.25" not in check_number(2.0, 1.25).message
    with pytest.raises(TypeError, match="enabled"):
        exercises.reveal_answers("yes")


def test_check_function() -> None:
    def reference(x, p=2):
        return np.asarray(x) ** p

    inputs = [np.arange(3.0), (np.ones(2), 3), 2.0]
    assert check_function(lambda x, p=2: np.asarray(x) ** p, reference, inputs, name="power")
    result = check_function(lambda x, p=2: np.asarray(x) * p, reference, inputs, name="power")
    assert not result and result.message.startswith("power on test input 0:")

    def crashes(x, p=2):
        raise RuntimeError("oops")

    crashed = check_function(crashes, reference, inputs, name="power")
    assert not crashed
    assert crashed.message == "power: raised RuntimeError: oops on test input 0."
    not_callable = check_function(3.0, reference, inputs)
    assert not not_callable and not_callable.message.endswith("expected a function, got float.")
    ok = check_function(lambda x, p=2: np.asarray(x) ** p, reference, inputs)
    assert ok.message == "function: correct on all 3 test inputs."


def test_the_chapter_1_scalar_checkers_name_their_known_mistakes() -> None:
    """The oracle is the closed form √(2/m)‖x‖ (Liu, Zhu & Belkin 2020) and, at θ = π/3,
    Θ⁽¹⁾ = 2/3 + √3/(2π); each wrong value is a known slip from it."""
    h = math.sqrt(2 / 400) * 3.0
    slips = {h**2: "square of the right value", 3 * h: "enters squared",
             h / math.sqrt(2): "c_sigma = 2 under the square root",
             h / 20: "without its square root"}
    for value, phrase in slips.items():
        result = exercises.ch1_hessian_norm(value, width=400, input_norm=3.0)
        assert not result.correct and phrase in result.message, (value, result.message)
    assert exercises.ch1_hessian_norm(h, width=400, input_norm=3.0).correct
    theta = 2 / 3 + math.sqrt(3) / (2 * math.pi)
    assert exercises.ch1_relu_ntk_value(theta).correct
    result = exercises.ch1_relu_ntk_value(2 / 3)
    assert not result.correct and "sin θ/π term" in result.message
