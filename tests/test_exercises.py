"""The generic exercise checkers (ntkbook.exercises): right answers pass, wrong ones fail with a
message that says how they are off, and a reader's exception never escapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ntkbook.exercises import ExerciseResult, check_array, check_function, check_number


def test_check_number_accepts_within_tolerance() -> None:
    result = check_number(0.5, 0.5, name="H(x, x)")
    assert result == ExerciseResult(True, "H(x, x): correct (0.5).")
    assert bool(result) and result._repr_markdown_().startswith("✅")
    assert check_number(1.0 + 5e-7, 1.0)  # rtol 1e-6
    assert not check_number(1.0 + 5e-6, 1.0)
    assert check_number(1e-10, 0.0)  # atol 1e-9
    assert check_number(torch.tensor(2.0, dtype=torch.float64), 2.0)
    assert check_number(np.array([[3.0]]), 3.0)  # any single-element array
    assert check_number(1.05, 1.0, rtol=0.1)


def test_check_number_says_how_it_is_off() -> None:
    result = check_number(2.0, 1.0, name="slope")
    assert not result and result._repr_markdown_().startswith("❌")
    assert result.message == "slope: got 2, expected 1. Your value is 2 times the expected one."
    assert check_number(-3.0, 3.0).message.endswith("The sign is wrong.")
    assert "expected a single number, got shape (2,)" in check_number([1.0, 2.0], 1.0).message
    with pytest.raises(TypeError, match=r"answer must be a number"):
        check_number("one", 1.0)


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
    assert off.message.startswith("G: 1 of 6 entries are off")
    assert "index (1, 2): got 9, expected 5" in off.message


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
