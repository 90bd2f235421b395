"""The chapter 4 exercise checker against an independent closed form."""

from __future__ import annotations

import math

import pytest

from ntkbook import exercises


def _closed_form(theta: float) -> float:
    # H^∞ = [[1/2, c], [c, 1/2]] with c = cos θ (π − θ)/(2π): eigenvalues 1/2 ± |c|
    return 0.5 - abs(math.cos(theta) * (math.pi - theta) / (2 * math.pi))


@pytest.mark.parametrize("theta", [0.05, math.pi / 3, math.pi / 2, 2.5, math.pi])
def test_the_closed_form_is_accepted(theta: float) -> None:
    assert exercises.ch4_two_point_lambda0(_closed_form(theta), angle=theta).correct


def test_wrong_answers_are_rejected_with_a_hint() -> None:
    theta = math.pi / 4  # at π/3 the largest eigenvalue is exactly twice λ₀: avoid it
    right = _closed_form(theta)
    doubled = exercises.ch4_two_point_lambda0(2 * right, angle=theta)
    assert not doubled.correct and "twice" in doubled.message
    largest = exercises.ch4_two_point_lambda0(1 - right, angle=theta)
    assert not largest.correct and "largest" in largest.message
    assert not exercises.ch4_two_point_lambda0(right * 1.01, angle=theta).correct
    assert not exercises.ch4_two_point_lambda0([right, right], angle=theta).correct


def test_bad_angles_raise() -> None:
    with pytest.raises(ValueError, match="angle"):
        exercises.ch4_two_point_lambda0(0.1, angle=0.0)
    with pytest.raises(ValueError, match="angle"):
        exercises.ch4_two_point_lambda0(0.1, angle=4.0)
