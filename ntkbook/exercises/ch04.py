"""Exercise checkers of chapter 4, *Gradient descent finds global minima*."""

from __future__ import annotations

import math

import torch

from .._checks import positive_float
from ..kernels import relu_two_layer_ntk
from .common import ExerciseResult, _answer, check_number


def ch4_two_point_lambda0(answer, *, angle: float) -> ExerciseResult:
    """λ₀ = λ_min(H^∞) for two unit inputs at the given angle (chapter 4, exercise 1).

    The reference is the least eigenvalue of :func:`ntkbook.relu_two_layer_ntk` (Du et al. 2019,
    the Gram matrix H^∞) on x₁ = (1, 0) and x₂ = (cos θ, sin θ).

    Args:
        answer: the reader's λ₀, a number.
        angle: θ in radians, 0 < θ ≤ π.
    """
    angle = positive_float(angle, "angle")
    if angle > math.pi:
        raise ValueError(f"angle must be in (0, pi], got {angle}")
    X = torch.tensor([[1.0, 0.0], [math.cos(angle), math.sin(angle)]], dtype=torch.float64)
    expected = float(torch.linalg.eigvalsh(relu_two_layer_ntk(X))[0])
    result = check_number(answer, expected, rtol=1e-6, atol=1e-9,
                          name=f"lambda_0 at angle {angle:.4g}")
    given, _ = _answer(answer, "answer")
    if not result.correct and given is not None and given.size == 1:
        a = float(given.reshape(()))
        if abs(a - 2 * expected) <= 1e-6 * abs(expected) + 1e-9:
            return ExerciseResult(False, "lambda_0: twice the reference; H^inf(x, x) is 1/2 for "
                                  "a unit x (the indicator is on half the time).")
        largest = float(torch.linalg.eigvalsh(relu_two_layer_ntk(X))[-1])
        if abs(a - largest) <= 1e-6 * abs(largest) + 1e-9:
            return ExerciseResult(False, "lambda_0: that is the largest eigenvalue, "
                                  "1/2 + |H_12|; the least one subtracts.")
    return result
