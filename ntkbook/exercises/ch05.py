"""Exercise checkers of chapter 5, *Low-rank Jacobians and label noise*."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..theory.low_rank import information_split, linearized_residual
from .common import ExerciseResult, check_function


def _ch5_inputs() -> list[tuple[torch.Tensor, torch.Tensor, float, int]]:
    # Kernels J Jᵀ of random Jacobians: a full-rank one, one of rank 3 < n (zero eigenvalues),
    # and a 1 × 1 case; step sizes up to 1/λ_max, step counts from 0 to 200.
    g = torch.Generator().manual_seed(5)
    cases = []
    for n, p, steps in [(8, 20, 37), (8, 3, 200), (1, 4, 5), (6, 6, 0)]:
        J = torch.randn(n, p, generator=g, dtype=torch.float64)
        K = J @ J.T
        r0 = torch.randn(n, generator=g, dtype=torch.float64)
        cases.append((K, r0, 0.9 / float(torch.linalg.eigvalsh(K)[-1]), steps))
    return cases


def _ch5_reference(K: torch.Tensor, r0: torch.Tensor, lr: float, steps: int) -> torch.Tensor:
    top = float(torch.linalg.eigvalsh(K)[-1]) ** 0.5
    split = information_split(kernel=K, cutoff=0.5 * top)  # the cutoff does not matter here
    return linearized_residual(split, r0, lr=lr, steps=steps)


def ch5_linearized_residual(answer_fn: Callable) -> ExerciseResult:
    """The reader's r̃_τ = Σ_s (1 − ηλ_s²)^τ (u_sᵀr₀) u_s (chapter 5, exercise 1).

    The reference is :func:`ntkbook.theory.linearized_residual` (Oymak et al. 2019, the
    linearized residual). The test inputs include a kernel with zero eigenvalues and τ = 0.

    Args:
        answer_fn: a function ``(K, r0, lr, steps)`` of the (n, n) kernel J Jᵀ, the (n,) initial
            residual, the step size and an integer number of steps, returning the (n,) residual.
    """
    return check_function(answer_fn, _ch5_reference, _ch5_inputs(), rtol=1e-6, atol=1e-9,
                          name="linearized_residual")
