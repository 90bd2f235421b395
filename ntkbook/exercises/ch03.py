"""Exercise checkers of chapter 3, *Lazy training*."""

from __future__ import annotations

import torch

from .._checks import positive_float
from ..data import sphere
from ..models import TwoLayerNet
from ..theory.lazy import lazy_criterion
from .common import ExerciseResult, check_number


def _ch3_data() -> tuple[torch.Tensor, torch.Tensor]:
    # The data of chapter 3, §3.3–3.4: 20 points on the sphere in R^5 and a nonlinear target.
    X = sphere(20, 5, seed=1)
    return X, torch.sin(3 * X[:, 0]) + 3 * X[:, 1] * X[:, 2]


def ch3_homogeneous_kappa(answer, *, tau: float) -> ExerciseResult:
    """κ_h(w₀) of the 2-homogeneous ``TwoLayerNet`` initialized at scale τ (chapter 3, exercise 1).

    The reference is :func:`ntkbook.theory.lazy_criterion` (Chizat et al. 2019, Sec. 2) for
    ``TwoLayerNet(5, 40, tau=tau, seed=0)`` (mean-field scaling, symmetric initialization) on the
    data of chapter 3, §3.4. By the homogeneity identity it equals κ at τ = 1 divided by τ².

    Args:
        answer: the reader's value of κ, a number.
        tau: the initialization scale τ > 0.
    """
    tau = positive_float(tau, "tau")
    X, y = _ch3_data()
    expected = lazy_criterion(TwoLayerNet(5, 40, tau=tau, seed=0), X, y).kappa
    return check_number(answer, expected, rtol=1e-3, name=f"kappa at tau = {tau:g}")
