"""Exercise checkers of chapter 3, *Lazy training*."""

from __future__ import annotations

import torch

from .._checks import positive_float
from ..data import sphere
from ..models import TwoLayerNet
from ..theory.lazy import lazy_criterion
from .common import ExerciseResult, check_number, known_number_mistake, with_mistake


def _ch3_data() -> tuple[torch.Tensor, torch.Tensor]:
    # The data of chapter 3, §3.3–3.4: 20 points on the sphere in R^5 and a nonlinear target.
    X = sphere(20, 5, seed=1)
    return X, torch.sin(3 * X[:, 0]) + 3 * X[:, 1] * X[:, 2]


def ch3_homogeneous_kappa(answer, *, tau: float) -> ExerciseResult:
    """κ_h(w₀) of the 2-homogeneous ``TwoLayerNet`` initialized at scale τ (chapter 3, exercise 1).

    The reference is :func:`ntkbook.theory.lazy_criterion` (Chizat et al. 2019, Sec. 2) for
    ``TwoLayerNet(5, 40, tau=tau, seed=0)`` (mean-field scaling, symmetric initialization) on the
    data of chapter 3, §3.4. The estimate is deterministic, so the tolerance is tight (rtol 1e-6):
    a value rounded to the four digits the chapter prints fails. The message says right or wrong,
    never the reference value.

    Args:
        answer: the reader's value of κ, a number.
        tau: the initialization scale τ > 0.
    """
    tau = positive_float(tau, "tau")
    X, y = _ch3_data()
    expected = lazy_criterion(TwoLayerNet(5, 40, tau=tau, seed=0), X, y).kappa
    result = check_number(answer, expected, rtol=1e-6, name=f"kappa at tau = {tau:g}")
    if tau == 1.0:
        return result
    at_one = lazy_criterion(TwoLayerNet(5, 40, tau=1.0, seed=0), X, y).kappa
    return with_mistake(result, known_number_mistake(answer, {
        "that is kappa at tau = 1; kappa depends on tau": at_one,
        "kappa does not scale like 1/tau here: count the degrees of homogeneity": at_one / tau,
        "kappa falls, not grows, as tau grows": at_one * tau**2,
    }, rtol=1e-3))
