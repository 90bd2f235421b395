"""Oracle tests of the chapter 3 exercise checkers (ntkbook.exercises.ch3_*)."""

from __future__ import annotations

import pytest
import torch

import ntkbook
from ntkbook import exercises, theory
from ntkbook.models import TwoLayerNet


def _chapter_data() -> tuple[torch.Tensor, torch.Tensor]:
    X = ntkbook.data.sphere(20, 5, seed=1)
    return X, torch.sin(3 * X[:, 0]) + 3 * X[:, 1] * X[:, 2]


@pytest.mark.parametrize("tau", [0.5, 3.0])
def test_homogeneous_kappa_accepts_the_homogeneity_identity(tau: float) -> None:
    X, y = _chapter_data()
    kappa_1 = theory.lazy_criterion(TwoLayerNet(5, 40, tau=1.0, seed=0), X, y).kappa
    result = exercises.ch3_homogeneous_kappa(kappa_1 / tau**2, tau=tau)
    assert result.correct, result.message


def test_homogeneous_kappa_rejects_the_wrong_power() -> None:
    X, y = _chapter_data()
    kappa_1 = theory.lazy_criterion(TwoLayerNet(5, 40, tau=1.0, seed=0), X, y).kappa
    result = exercises.ch3_homogeneous_kappa(kappa_1 / 3.0, tau=3.0)
    assert not result.correct
    assert "degrees of homogeneity" in result.message
    unchanged = exercises.ch3_homogeneous_kappa(kappa_1, tau=3.0)
    assert not unchanged.correct and "kappa depends on tau" in unchanged.message


def test_homogeneous_kappa_rejects_a_bad_tau() -> None:
    with pytest.raises(ValueError, match="tau"):
        exercises.ch3_homogeneous_kappa(1.0, tau=-1.0)


def test_homogeneous_kappa_needs_more_digits_than_the_chapter_prints() -> None:
    X, y = _chapter_data()
    kappa_1 = theory.lazy_criterion(TwoLayerNet(5, 40, tau=1.0, seed=0), X, y).kappa
    assert exercises.ch3_homogeneous_kappa(kappa_1 / 9.0, tau=3.0).correct
    assert not exercises.ch3_homogeneous_kappa(round(kappa_1, 3) / 9.0, tau=3.0).correct
