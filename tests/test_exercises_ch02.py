"""Oracle tests of the chapter 2 exercise checkers (ntkbook.exercises.ch2_*)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ntkbook
from ntkbook import exercises


def _theta_orthogonal_by_hand(depth: int) -> float:
    """Θ⁽ᴸ⁾(e₁, e₂) from the scalar ReLU recursion on the angle (unit inputs: diagonals are 1)."""
    rho, theta_ntk = 0.0, 0.0
    for _ in range(depth):
        angle = math.acos(rho)
        sigma = (math.sin(angle) + (math.pi - angle) * rho) / math.pi
        sigma_dot = (math.pi - angle) / math.pi
        theta_ntk = theta_ntk * sigma_dot + sigma
        rho = sigma
    return theta_ntk


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_ntk_orthogonal_accepts_the_hand_recursion(depth: int) -> None:
    result = exercises.ch2_ntk_orthogonal(_theta_orthogonal_by_hand(depth), depth=depth)
    assert result.correct, result.message


def test_ntk_orthogonal_depth_one_is_one_over_pi() -> None:
    assert exercises.ch2_ntk_orthogonal(1 / math.pi, depth=1).correct


def test_ntk_orthogonal_rejects_a_wrong_value() -> None:
    # Forgetting the output-layer term Σ⁽ᴸ⁾ is a typical mistake.
    result = exercises.ch2_ntk_orthogonal(_theta_orthogonal_by_hand(2) - 0.3, depth=2)
    assert not result.correct
    assert "wrong" in result.message
    sigma2 = float(ntkbook.analytic_nngp(torch.eye(2, dtype=torch.float64)[:1],
                                         torch.eye(2, dtype=torch.float64)[1:], depth=2))
    missing = exercises.ch2_ntk_orthogonal(_theta_orthogonal_by_hand(2) - sigma2, depth=2)
    assert not missing.correct and "Sigma^(L) of the last layer is missing" in missing.message
    one_less = exercises.ch2_ntk_orthogonal(1 / math.pi, depth=2)
    assert not one_less.correct and "one layer less" in one_less.message


def test_ntk_orthogonal_rejects_a_bad_depth() -> None:
    with pytest.raises(ValueError, match="depth"):
        exercises.ch2_ntk_orthogonal(1.0, depth=0)


def _arccos_numpy(X: torch.Tensor, Z: torch.Tensor) -> np.ndarray:
    """Σ⁽¹⁾ written in numpy from the formula of Cho & Saul, independently of the package."""
    x, z = X.numpy(), Z.numpy()
    norms = np.linalg.norm(x, axis=1)[:, None] * np.linalg.norm(z, axis=1)[None]
    cos = np.clip(x @ z.T / norms, -1.0, 1.0)
    theta = np.arccos(cos)
    return norms * (np.sin(theta) + (np.pi - theta) * cos) / np.pi


def test_arccos_kernel_accepts_a_correct_implementation() -> None:
    result = exercises.ch2_arccos_kernel(_arccos_numpy)
    assert result.correct, result.message


def test_arccos_kernel_reference_matches_monte_carlo() -> None:
    # The checker's reference (analytic_nngp, depth 1) is 2 E[relu(wᵀx) relu(wᵀz)].
    g = torch.Generator().manual_seed(0)
    X = torch.randn(3, 4, generator=g, dtype=torch.float64)
    w = torch.randn(400_000, 4, generator=g, dtype=torch.float64)
    samples = 2 * torch.relu(w @ X.T)[:, :, None] * torch.relu(w @ X.T)[:, None, :]
    mean, sem = samples.mean(0), samples.std(0) / math.sqrt(w.shape[0])
    closed = torch.as_tensor(_arccos_numpy(X, X))
    assert torch.all((mean - closed).abs() < 5 * sem)


def test_arccos_kernel_rejects_unclipped_arccos() -> None:
    def unclipped(X, Z):
        norms = torch.linalg.vector_norm(X, dim=1)[:, None] * torch.linalg.vector_norm(Z, dim=1)
        cos = X @ Z.T / norms
        theta = torch.arccos(cos)
        return norms * (torch.sin(theta) + (math.pi - theta) * cos) / math.pi

    result = exercises.ch2_arccos_kernel(unclipped)
    assert not result.correct
    assert "NaN" in result.message


def test_arccos_kernel_rejects_missing_sine_and_wrong_scale() -> None:
    def no_sine(X, Z):
        x, z = X.numpy(), Z.numpy()
        norms = np.linalg.norm(x, axis=1)[:, None] * np.linalg.norm(z, axis=1)[None]
        cos = np.clip(x @ z.T / norms, -1.0, 1.0)
        return norms * (np.pi - np.arccos(cos)) * cos / np.pi

    assert not exercises.ch2_arccos_kernel(no_sine).correct

    def half(X, Z):
        return _arccos_numpy(X, Z) / 2  # E[relu relu] without the factor c_σ = 2

    assert not exercises.ch2_arccos_kernel(half).correct


def test_arccos_kernel_reports_exceptions_and_shapes() -> None:
    def raises(X, Z):
        raise RuntimeError("not implemented")

    result = exercises.ch2_arccos_kernel(raises)
    assert not result.correct and "RuntimeError" in result.message

    result = exercises.ch2_arccos_kernel(lambda X, Z: _arccos_numpy(Z, X))
    assert not result.correct
