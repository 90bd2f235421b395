"""Koh & Liang influence functions of torch models (ntkbook.influence).

Oracles: for a linear model with the square loss everything has a closed form — the Hessian is
XᵀX + λI, the IHVP influence is the kernel formula of Zhang & Zhang eq. 13 with K = XXᵀ, and
leave-one-out retraining is the exact kernel-ridge formula (eq. 9); for logistic regression the
Newton optimum is checked against scipy's L-BFGS from a cold start, and the first-order influence
against leave-one-out retraining.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import torch
from torch import nn

from ntkbook import ntk_loo_influence
from ntkbook.influence import (
    KohLiangInfluence,
    fit_to_optimum,
    inverse_hvp,
    koh_liang_influence,
    leave_one_out_retraining,
    ntk_ihvp_influence,
)


class Linear(nn.Module):
    """f(x) = xᵀw, w ∈ R^d (no bias, so that the kernel is exactly XXᵀ)."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(d, dtype=torch.float64))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return X @ self.w


def regression(n: int, n_test: int, d: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64) / d**0.5
    Xt = torch.randn(n_test, d, generator=g, dtype=torch.float64) / d**0.5
    w = torch.randn(d, generator=g, dtype=torch.float64)
    y = X @ w + 0.3 * torch.randn(n, generator=g, dtype=torch.float64)
    yt = Xt @ w + 0.3 * torch.randn(n_test, generator=g, dtype=torch.float64)
    return X, y, Xt, yt


def classification(n: int, n_test: int, d: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(d, generator=g, dtype=torch.float64)
    X = torch.randn(n + n_test, d, generator=g, dtype=torch.float64)
    p = torch.sigmoid(1.5 * X @ w / d**0.5)
    y = torch.where(torch.rand(n + n_test, generator=g, dtype=torch.float64) < p, 1.0, -1.0)
    return X[:n], y[:n].double(), X[n:], y[n:].double()


def test_solvers_agree_with_the_closed_form_hessian() -> None:
    X, y, _, _ = regression(40, 1, 12, seed=1)
    model, ridge = Linear(12), 0.5
    fit_to_optimum(model, X, y, ridge=ridge)
    V = torch.randn(3, 12, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    exact = torch.linalg.solve(X.T @ X + ridge * torch.eye(12, dtype=torch.float64), V.T).T
    direct = inverse_hvp(model, X, y, V, ridge=ridge, solver="direct")
    torch.testing.assert_close(direct.solution, exact, rtol=1e-10, atol=1e-12)
    cg = inverse_hvp(model, X, y, V, ridge=ridge, solver="cg", tol=1e-12)
    torch.testing.assert_close(cg.solution, exact, rtol=1e-8, atol=1e-10)
    assert cg.iterations <= 12 + 2 and float(cg.relative_residual.max()) < 1e-11
    lissa = inverse_hvp(model, X, y, V, ridge=ridge, solver="lissa", depth=400)
    torch.testing.assert_close(lissa.solution, exact, rtol=1e-6, atol=1e-8)
    assert "lissa" in repr(lissa)
    # Stochastic batches: unbiased Hessian samples, so averaging over repeats shrinks the error
    # like 1/√repeats (a factor 4 from 1 to 16 repeats), and the residual reports it.
    errors = []
    for repeats in (1, 16):
        noisy = inverse_hvp(model, X, y, V, ridge=ridge, solver="lissa", depth=120,
                            repeats=repeats, batch_size=20, seed=3)
        errors.append(float(torch.linalg.norm(noisy.solution - exact) / torch.linalg.norm(exact)))
    assert errors[1] < 0.5 * errors[0] and errors[1] < 0.1, errors
    assert float(noisy.relative_residual.max()) > 1e-3   # an honest diagnostic: not converged


def test_influence_of_a_linear_model_is_the_kernel_formula() -> None:
    """Koh & Liang on f(x) = xᵀw equals Zhang & Zhang's eq. 13 with K = XXᵀ, exactly."""
    X, y, Xt, yt = regression(15, 6, 30, seed=4)   # P = 30 > n = 15: over-parameterized
    model, ridge = Linear(30), 0.2
    fit_to_optimum(model, X, y, ridge=ridge)
    result = koh_liang_influence(model, X, y, Xt, yt, ridge=ridge)
    assert isinstance(result, KohLiangInfluence) and result.influence.shape == (6, 15)
    kernel_formula = ntk_ihvp_influence(X @ X.T, Xt @ X.T, y, yt, ridge)
    torch.testing.assert_close(result.influence, kernel_formula, rtol=1e-9, atol=1e-12)
    # the per-example gradients are (f(x_i) − y_i) x_i
    residual = (X @ model.w - y).detach()
    torch.testing.assert_close(result.train_gradients, residual[:, None] * X, rtol=1e-12,
                               atol=1e-14)
    for solver in ("cg", "lissa"):
        other = koh_liang_influence(model, X, y, Xt, yt, ridge=ridge, solver=solver, depth=3000)
        torch.testing.assert_close(other.influence, result.influence, rtol=1e-5, atol=1e-8)


def test_leave_one_out_retraining_is_the_exact_kernel_formula() -> None:
    X, y, Xt, yt = regression(12, 5, 20, seed=5)
    model, ridge = Linear(20), 0.1
    fit_to_optimum(model, X, y, ridge=ridge)
    before = model.w.detach().clone()
    actual = leave_one_out_retraining(model, X, y, Xt, yt, ridge=ridge)
    torch.testing.assert_close(actual, ntk_loo_influence(X @ X.T, Xt @ X.T, y, yt, ridge),
                               rtol=1e-8, atol=1e-11)
    assert torch.equal(model.w.detach(), before)   # the model itself is untouched
    some = leave_one_out_retraining(model, X, y, Xt, yt, indices=[3, 7], ridge=ridge)
    torch.testing.assert_close(some, actual[:, [3, 7]], rtol=1e-12, atol=1e-14)


def test_logistic_regression_optimum_and_influence() -> None:
    X, y, Xt, yt = classification(60, 8, 5, seed=6)
    ridge = 0.5
    model = nn.Linear(5, 1).double()
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    steps = fit_to_optimum(model, X, y, loss="logistic", ridge=ridge)
    assert steps < 20

    def objective(v: np.ndarray) -> tuple[float, np.ndarray]:
        w = torch.tensor(v, requires_grad=True)
        out = X @ w[:5] + w[5]
        value = torch.nn.functional.softplus(-y * out).sum() + 0.5 * ridge * (w**2).sum()
        value.backward()
        return float(value.detach()), w.grad.numpy()

    reference = scipy.optimize.minimize(objective, np.zeros(6), jac=True, method="L-BFGS-B",
                                        options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10_000})
    ours = np.concatenate([model.weight.detach().numpy().ravel(), model.bias.detach().numpy()])
    np.testing.assert_allclose(ours, reference.x, rtol=1e-6, atol=1e-8)

    predicted = koh_liang_influence(model, X, y, Xt, yt, loss="logistic", ridge=ridge).influence
    actual = leave_one_out_retraining(model, X, y, Xt, yt, loss="logistic", ridge=ridge)
    correlation = np.corrcoef(predicted.numpy().ravel(), actual.numpy().ravel())[0, 1]
    assert correlation > 0.99, correlation


def test_bad_inputs_raise_clear_errors() -> None:
    X, y, Xt, yt = regression(8, 2, 12, seed=7)
    model = Linear(12)
    V = torch.ones(1, 12, dtype=torch.float64)
    with pytest.raises(ValueError, match="loss must be one of"):
        inverse_hvp(model, X, y, V, loss="hinge")
    with pytest.raises(ValueError, match="solver must be one of"):
        inverse_hvp(model, X, y, V, solver="newton")
    with pytest.raises(ValueError, match="V must have P = 12 columns"):
        inverse_hvp(model, X, y, torch.ones(1, 11, dtype=torch.float64))
    with pytest.raises(ValueError, match="not positive definite"):
        inverse_hvp(model, X, y, V, solver="direct")       # n = 8 < P = 12 and no ridge
    with pytest.raises(ValueError, match="LiSSA diverged"):
        inverse_hvp(model, X, y, V, ridge=1.0, solver="lissa", scale=0.01, depth=2000)
    with pytest.raises(ValueError, match="labels y = ±1"):
        inverse_hvp(model, X, y, V, loss="logistic")
    with pytest.raises(TypeError, match="unexpected keyword argument 'dept'"):
        koh_liang_influence(model, X, y, Xt, yt, ridge=1.0, dept=10)
    with pytest.raises(ValueError, match="X_test must have 12 columns"):
        koh_liang_influence(model, X, y, Xt[:, :5], yt, ridge=1.0)
    with pytest.raises(ValueError, match="add a ridge"):
        fit_to_optimum(model, X, y)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 8\)"):
        leave_one_out_retraining(model, X, y, Xt, yt, indices=[8], ridge=1.0)
    with pytest.raises(ValueError, match="scalar output"):
        inverse_hvp(nn.Linear(12, 3).double(), X, y, torch.ones(1, 39, dtype=torch.float64))
    with pytest.raises(ValueError, match="anchor must have 12 entries"):
        fit_to_optimum(model, X, y, ridge=1.0, anchor=torch.zeros(3, dtype=torch.float64))
