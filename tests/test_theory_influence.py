"""Zhang & Zhang's lower bound on the IHVP error rate (ntkbook.theory, Theorem 3).

Oracles: the exact per-point shrinkage λG_ii of ntkbook.influence.ihvp_decomposition (1 − λG_ii
is never below the bound), equality for a kernel with a single eigenvalue, and the limits λ → 0
and λ → ∞.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ntkbook import analytic_ntk
from ntkbook.influence import ihvp_decomposition
from ntkbook.theory import ihvp_error_rate_lower_bound


def kernel(n: int, seed: int) -> torch.Tensor:
    X = torch.randn(n, 5, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return analytic_ntk(torch.nn.functional.normalize(X, dim=1), depth=1)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 1000), log_ridge=st.floats(-4, 4))
def test_every_point_loses_at_least_the_bound(seed: int, log_ridge: float) -> None:
    K = kernel(12, seed)
    ridge = 2.0**log_ridge
    y = torch.randn(12, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    parts = ihvp_decomposition(K, K[:3], y, y[:3], ridge)
    rate = ihvp_error_rate_lower_bound(K, ridge)
    assert bool(((1 - parts.shrinkage) >= rate - 1e-12).all())


def test_equality_for_a_multiple_of_the_identity_and_the_limits() -> None:
    K = 0.7 * torch.eye(5, dtype=torch.float64)
    assert ihvp_error_rate_lower_bound(K, 0.3) == pytest.approx(0.7, rel=1e-12)
    y = torch.ones(5, dtype=torch.float64)
    parts = ihvp_decomposition(K, K, y, y, 0.3)
    torch.testing.assert_close(1 - parts.shrinkage, torch.full((5,), 0.7, dtype=torch.float64))
    K = kernel(10, 3)
    assert ihvp_error_rate_lower_bound(K, 1e-9) > 0.999
    assert ihvp_error_rate_lower_bound(K, 1e9) < 1e-6


def test_bad_inputs() -> None:
    K = kernel(6, 1)
    with pytest.raises(ValueError, match="ridge must be > 0"):
        ihvp_error_rate_lower_bound(K, 0.0)
    with pytest.raises(ValueError, match="K_train must be square"):
        ihvp_error_rate_lower_bound(K[:5], 1.0)
    with pytest.raises(ValueError, match="K_train must be symmetric"):
        ihvp_error_rate_lower_bound(K + torch.triu(torch.ones_like(K), 1), 1.0)
    with pytest.raises(ValueError, match="positive semi-definite"):
        ihvp_error_rate_lower_bound(-K, 1.0)
