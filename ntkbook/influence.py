"""Influence of training points on test predictions.

Sign convention (Zhang & Zhang 2022, eq. 7), used everywhere in the package and the book: the
influence of training point i on test point t is the change of the test loss ½(f(x_t) − y_t)²
when i is *removed*, L_t(without i) − L_t(with i). Positive: point i was helping.
"""

from __future__ import annotations

import torch

from ._checks import as_matrix, as_vector, nonnegative_float, square
from .dynamics import _cholesky


def ntk_loo_influence(
    K_train: torch.Tensor,
    K_test_train: torch.Tensor,
    y_train: torch.Tensor,
    y_test: torch.Tensor,
    ridge: float,
) -> torch.Tensor:
    """Exact leave-one-out influence of kernel ridge regression (Zhang & Zhang 2022, eq. 8–9).

    With G = (K + λI)⁻¹, α = Gy and g_i the i-th column of G, removing training point i changes
    the predictor to f⁽⁻ⁱ⁾(x) = k(x)ᵀ(G − g_i g_iᵀ / G_ii) y (eq. 9), so
    f(x) − f⁽⁻ⁱ⁾(x) = (k(x)ᵀ g_i) α_i / G_ii. All (test, train) pairs come from one Cholesky
    factorization and one (n_test × n)·(n × n) product: O(n³ + n_test n²), no retraining.

    Args:
        K_train: (n, n) kernel on the training set. K_test_train: (n_test, n).
        y_train: (n,) targets. y_test: (n_test,) targets.
        ridge: λ ≥ 0 (λ = 0 needs a non-singular K_train).

    Returns:
        (n_test, n) tensor I[t, i] = ½(f⁽⁻ⁱ⁾(x_t) − y_t)² − ½(f(x_t) − y_t)².
    """
    ridge = nonnegative_float(ridge, "ridge")
    K_train = square(K_train, "K_train")
    n = K_train.shape[0]
    K_test_train = as_matrix(K_test_train, "K_test_train")
    if K_test_train.shape[1] != n:
        raise ValueError(
            f"K_test_train must have n = {n} columns to match K_train, got {K_test_train.shape[1]}"
        )
    y_train = as_vector(y_train, "y_train", n)
    y_test = as_vector(y_test, "y_test", K_test_train.shape[0])
    chol = _cholesky(K_train, ridge)
    # (K + λI)⁻¹ as a solve against I: same result as cholesky_inverse, steadier speed.
    G = torch.cholesky_solve(torch.eye(n, dtype=K_train.dtype, device=K_train.device), chol)
    alpha = G @ y_train
    A = K_test_train @ G  # A[t, i] = k(x_t)ᵀ g_i
    f = K_test_train @ alpha
    change = A * (alpha / G.diagonal())[None, :]  # f(x_t) − f⁽⁻ⁱ⁾(x_t)
    residual = (f - y_test)[:, None]
    return 0.5 * ((residual - change) ** 2 - residual**2)
