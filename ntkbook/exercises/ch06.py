"""Exercise checkers of chapter 6, *Implicit bias*."""

from __future__ import annotations

import numpy as np
import torch

from ..implicit_bias import least_squares_limit, max_margin
from .common import ExerciseResult, _answer, check_array


def _ch6_equation() -> tuple[torch.Tensor, torch.Tensor]:
    # Chapter 6, exercise 1: the single equation x₁ + 2x₂ + 2x₃ = 3 in ℝ³.
    return (torch.tensor([[1.0, 2.0, 2.0]], dtype=torch.float64),
            torch.tensor([3.0], dtype=torch.float64))


def ch6_gd_limit(answer, *, w0=(0.0, 0.0, 0.0)) -> ExerciseResult:
    """Where gradient descent on ½(x₁ + 2x₂ + 2x₃ − 3)² ends when started at w₀ (chapter 6, ex. 1).

    The reference is :func:`ntkbook.implicit_bias.least_squares_limit`. The message says right or
    wrong and names a solution of the equation that is not the limit; it never shows the limit.

    Args:
        answer: the reader's limit, three numbers.
        w0: the start, three numbers.

    Raises:
        ValueError: ``w0`` does not hold three finite numbers.
    """
    start = torch.as_tensor(np.asarray(w0, dtype=float), dtype=torch.float64)
    if start.shape != (3,) or not bool(torch.isfinite(start).all()):
        raise ValueError(f"w0 must be three finite numbers, got {w0!r}")
    X, y = _ch6_equation()
    expected = least_squares_limit(X, y, start)
    result = check_array(answer, expected, rtol=1e-6, atol=1e-9,
                         name=f"limit of gradient descent from w0 = {tuple(start.tolist())}")
    a, _ = _answer(answer, "answer")
    solves = a is not None and a.shape == (3,) and abs(float(X[0].numpy() @ a) - 3.0) < 1e-6
    if not result and solves:
        return ExerciseResult(False, result.message + " Your vector solves the equation, but "
                              "not the one gradient descent reaches from this start: which "
                              "part of w0 does it never change?")
    return result


def _ch6_points() -> tuple[torch.Tensor, torch.Tensor]:
    # Chapter 6, exercise 3: three labelled points in the plane.
    X = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0]], dtype=torch.float64)
    return X, torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64)


def ch6_max_margin(answer) -> ExerciseResult:
    """The hard-margin SVM ŵ (no intercept) of the three points of chapter 6, exercise 3.

    x₁ = (1, 0), y₁ = +1; x₂ = (0, 2), y₂ = −1; x₃ = (3, 1), y₃ = +1. The reference is
    :func:`ntkbook.implicit_bias.max_margin` (scikit-learn's SVC, accurate to about 1e-6), the
    minimizer of ‖w‖ subject to y_i x_iᵀw ≥ 1 (Soudry et al. 2018, the limit direction of
    logistic regression).

    Args:
        answer: the reader's ŵ, two numbers (scaled so that the smallest margin is 1).
    """
    X, y = _ch6_points()
    expected = max_margin(X, y).w
    result = check_array(answer, expected, rtol=1e-4, atol=1e-5, name="max-margin vector")
    a, _ = _answer(answer, "answer")
    if not result and a is not None and a.shape == (2,) and np.linalg.norm(a) > 0:
        e = expected.numpy()
        cos = float(a @ e) / (np.linalg.norm(a) * np.linalg.norm(e))
        if cos > 1 - 1e-8:
            return ExerciseResult(False, "max-margin vector: the direction is right but the "
                                  "scale is not; scale it so that min_i y_i x_i^T w = 1.")
    return result
