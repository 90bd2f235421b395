"""Leave-one-out influence of kernel ridge regression (ntkbook.influence).

Oracle: brute-force retraining — delete row and column i of the kernel, solve the smaller
system, and take the change of each test loss — for every training point.
"""

from __future__ import annotations

import pytest
import torch

from ntkbook import analytic_ntk, ntk_loo_influence, relu_two_layer_ntk


def inputs(n: int, d: int, seed: int) -> torch.Tensor:
    X = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return torch.nn.functional.normalize(X, dim=1)


def targets(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def brute_force_influence(K, K_test, y, y_test, ridge) -> torch.Tensor:
    """I[t, i] = ½(f⁻ⁱ(x_t) − y_t)² − ½(f(x_t) − y_t)², each f⁻ⁱ refitted from scratch."""
    n = K.shape[0]

    def fit(rows: torch.Tensor) -> torch.Tensor:
        A = K[rows][:, rows] + ridge * torch.eye(len(rows), dtype=K.dtype)
        return K_test[:, rows] @ torch.linalg.solve(A, y[rows])

    full = fit(torch.arange(n))
    out = torch.empty(K_test.shape[0], n, dtype=K.dtype)
    for i in range(n):
        without = fit(torch.cat([torch.arange(i), torch.arange(i + 1, n)]))
        out[:, i] = 0.5 * (without - y_test) ** 2 - 0.5 * (full - y_test) ** 2
    return out


def problem(n: int = 30, n_test: int = 10, depth: int = 2):
    X, Xt = inputs(n, 6, seed=1), inputs(n_test, 6, seed=2)
    y = torch.sign(X[:, 0]) + 0.1 * targets(n, 3)
    y_test = torch.sign(Xt[:, 0])
    return analytic_ntk(X, depth=depth), analytic_ntk(Xt, X, depth=depth), y, y_test


@pytest.mark.parametrize("ridge", [0.0, 1e-3, 0.1, 1.0])
def test_equals_brute_force_leave_one_out(ridge: float) -> None:
    K, K_test, y, y_test = problem()
    assert float(torch.linalg.eigvalsh(K)[0]) > 1e-3  # ridge = 0 needs a non-singular kernel
    got = ntk_loo_influence(K, K_test, y, y_test, ridge)
    expected = brute_force_influence(K, K_test, y, y_test, ridge)
    assert got.shape == (10, 30)
    scale = float(expected.abs().max())
    assert float((got - expected).abs().max()) <= 1e-8 * scale


def test_equals_brute_force_on_the_training_points_and_for_the_two_layer_kernel() -> None:
    X = inputs(20, 5, seed=4)
    K = relu_two_layer_ntk(X)
    y = targets(20, 5)
    # Test points = training points: removing i changes f(x_i) by α_i/G_ii − (y_i − f(x_i)).
    got = ntk_loo_influence(K, K, y, y, 0.05)
    torch.testing.assert_close(got, brute_force_influence(K, K, y, y, 0.05),
                               rtol=1e-8, atol=1e-10)
    assert (got.diagonal() > 0).all()  # a point always helps its own fit


def test_sign_convention_helpful_positive_harmful_negative() -> None:
    """Removing a training copy of the test point (right label) raises the test loss: > 0.

    A copy with the wrong label lowers it when removed: < 0.
    """
    X, y = inputs(20, 6, seed=1), targets(20, 3)
    x_test = inputs(1, 6, seed=9)
    y_test = torch.tensor([1.5], dtype=torch.float64)
    for label, sign in ((1.5, 1.0), (-1.5, -1.0)):
        Xa = torch.cat([X, x_test])
        ya = torch.cat([y, torch.tensor([label], dtype=torch.float64)])
        K, K_test = analytic_ntk(Xa, depth=2), analytic_ntk(x_test, Xa, depth=2)
        influence = ntk_loo_influence(K, K_test, ya, y_test, 0.01)
        assert sign * float(influence[0, -1]) > 0
        # It is the most influential point by far, either way.
        assert int(influence[0].abs().argmax()) == 20


def test_kernel_ridge_identity_for_the_change_of_prediction() -> None:
    """f(x) − f⁻ⁱ(x) = (k(x)ᵀg_i) α_i / G_ii recovered from the returned losses."""
    K, K_test, y, y_test = problem()
    ridge = 0.1
    G = torch.linalg.inv(K + ridge * torch.eye(30, dtype=torch.float64))
    alpha = G @ y
    f = K_test @ alpha
    change = (K_test @ G) * (alpha / G.diagonal())[None, :]
    expected = 0.5 * ((f - y_test)[:, None] - change) ** 2 - 0.5 * ((f - y_test) ** 2)[:, None]
    torch.testing.assert_close(ntk_loo_influence(K, K_test, y, y_test, ridge), expected,
                               rtol=1e-9, atol=1e-12)


def test_bad_inputs_name_the_argument() -> None:
    K, K_test, y, y_test = problem()
    with pytest.raises(ValueError, match=r"ridge must be a finite number >= 0"):
        ntk_loo_influence(K, K_test, y, y_test, -0.1)
    with pytest.raises(ValueError, match=r"y_test must have 10 entries"):
        ntk_loo_influence(K, K_test, y, y_test[:9], 0.1)
    with pytest.raises(ValueError, match=r"y_train must have 30 entries"):
        ntk_loo_influence(K, K_test, y[:29], y_test, 0.1)
    with pytest.raises(ValueError, match=r"K_test_train must have n = 30 columns"):
        ntk_loo_influence(K, K_test[:, :29], y, y_test, 0.1)
    with pytest.raises(ValueError, match=r"K_train must be square"):
        ntk_loo_influence(K[:29], K_test, y, y_test, 0.1)
    with pytest.raises(ValueError, match=r"K_train must be symmetric"):
        ntk_loo_influence(K + torch.triu(torch.ones_like(K), 1), K_test, y, y_test, 0.1)
    X = inputs(30, 3, seed=5)
    singular = X @ X.T  # rank 3
    with pytest.raises(ValueError, match=r"use ridge > 0"):
        ntk_loo_influence(singular, K_test, y, y_test, 0.0)
    assert torch.isfinite(ntk_loo_influence(singular, K_test, y, y_test, 0.1)).all()
    with pytest.raises(TypeError, match=r"y_test must have a floating dtype"):
        ntk_loo_influence(K, K_test, y, y_test.long(), 0.1)
