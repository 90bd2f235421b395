"""Oracle tests of the chapter 6 exercise checkers (ntkbook.exercises.ch6_*)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ntkbook import exercises


def test_gd_limit_from_zero_is_the_projection_onto_the_row() -> None:
    a = np.array([1.0, 2.0, 2.0])
    assert exercises.ch6_gd_limit(3 * a / (a @ a)).correct  # (1/3, 2/3, 2/3)


def test_gd_limit_from_a_start_adds_its_null_space_part() -> None:
    a, w0 = np.array([1.0, 2.0, 2.0]), np.array([1.0, 1.0, 1.0])
    by_hand = w0 - a * (a @ w0 - 3) / (a @ a)  # (7/9, 5/9, 5/9)
    assert exercises.ch6_gd_limit(torch.tensor(by_hand), w0=w0).correct
    wrong = exercises.ch6_gd_limit(3 * a / (a @ a), w0=w0)  # solves the equation, wrong start
    assert not wrong.correct and "never change" in wrong.message


def test_gd_limit_rejects_a_bad_start() -> None:
    with pytest.raises(ValueError, match="w0"):
        exercises.ch6_gd_limit([0.0, 0.0, 0.0], w0=(1.0, 2.0))


def test_max_margin_accepts_the_hand_solution() -> None:
    # Constraints w₁ ≥ 1, −2w₂ ≥ 1, 3w₁ + w₂ ≥ 1: the shortest feasible vector is (1, −1/2).
    assert exercises.ch6_max_margin([1.0, -0.5]).correct


def test_max_margin_says_when_only_the_scale_is_wrong() -> None:
    result = exercises.ch6_max_margin([2.0, -1.0])
    assert not result.correct and "scale" in result.message
    assert not exercises.ch6_max_margin([1.0, -1.0]).correct  # (0, 2) read as (0, 1)
