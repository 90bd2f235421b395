"""Oracle tests of the chapter 5 exercise checker (ntkbook.exercises.ch5_*)."""

from __future__ import annotations

import torch

from ntkbook import exercises


def _by_recursion(K: torch.Tensor, r0: torch.Tensor, lr: float, steps: int) -> torch.Tensor:
    r = r0.clone()
    for _ in range(steps):
        r = r - lr * K @ r
    return r


def _spectral(K: torch.Tensor, r0: torch.Tensor, lr: float, steps: int) -> torch.Tensor:
    lam, U = torch.linalg.eigh(K)
    return U @ ((1 - lr * lam) ** steps * (U.T @ r0))


def test_linearized_residual_accepts_the_recursion_and_the_spectral_formula() -> None:
    for answer in (_by_recursion, _spectral):
        result = exercises.ch5_linearized_residual(answer)
        assert result.correct, result.message


def test_linearized_residual_rejects_singular_values_in_place_of_their_squares() -> None:
    def wrong(K, r0, lr, steps):
        lam, U = torch.linalg.eigh(K)
        return U @ ((1 - lr * lam.clamp_min(0).sqrt()) ** steps * (U.T @ r0))

    result = exercises.ch5_linearized_residual(wrong)
    assert not result.correct and "linearized_residual" in result.message


def test_linearized_residual_rejects_one_step_too_many_and_non_functions() -> None:
    result = exercises.ch5_linearized_residual(lambda K, r0, lr, s: _spectral(K, r0, lr, s + 1))
    assert not result.correct
    assert not exercises.ch5_linearized_residual(3.0).correct
