"""Exercise checkers of chapter 7, *Influence functions*."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..influence.koh_liang import fit_to_optimum
from ..influence.ntk import ihvp_decomposition
from .common import ExerciseResult, check_cases


def _ch7_inputs() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, float]]:
    # Ridge regression problems (X, y, X_test, y_test, λ): more points than features, fewer
    # points than features (leverages near 1 at a small ridge), and a single test point.
    g = torch.Generator().manual_seed(7)
    cases = []
    for n, d, n_test, ridge in [(12, 4, 3, 0.5), (6, 10, 2, 0.05), (9, 3, 1, 2.0)]:
        X = torch.randn(n, d, generator=g, dtype=torch.float64)
        w = torch.randn(d, generator=g, dtype=torch.float64)
        y = X @ w + 0.3 * torch.randn(n, generator=g, dtype=torch.float64)
        X_test = torch.randn(n_test, d, generator=g, dtype=torch.float64)
        y_test = X_test @ w + 0.3 * torch.randn(n_test, generator=g, dtype=torch.float64)
        cases.append((X, y, X_test, y_test, ridge))
    return cases


def _exact_loo_mistakes(X, y, X_test, y_test, ridge) -> dict[str, torch.Tensor]:
    parts = ihvp_decomposition(X @ X.T, X_test @ X.T, y, y_test, ridge)
    return {
        "this is the first-order (Koh & Liang) estimate ∇ℓ_tᵀH⁻¹∇ℓ_i: divide it by 1 − h_ii "
        "and add the second-order term of the test loss": parts.ihvp,
        "this is only the leverage-corrected first-order term: the test loss is quadratic in "
        "the prediction, add ½(f⁽⁻ⁱ⁾(x_t) − f(x_t))²": parts.first_order,
        "this is the exact influence with the opposite sign: the book's convention is "
        "ℓ_t(without i) − ℓ_t(with i)": -parts.exact,
    }


def ch7_exact_loo(answer_fn: Callable) -> ExerciseResult:
    """The reader's exact leave-one-out influence of ridge regression (chapter 7, exercise 1).

    The model is f(x) = wᵀx (no bias) fitted by L(w) = Σ_i ½(wᵀx_i − y_i)² + ½λ‖w‖²; the answer
    is I[t, i] = ½(f⁽⁻ⁱ⁾(x_t) − y_t)² − ½(f(x_t) − y_t)², computed without retraining. The
    reference is :func:`ntkbook.influence.ntk_loo_influence` with the
    linear kernel K = XXᵀ (Zhang & Zhang 2022, eq. 8–9), which is ridge regression in dual form.
    A wrong answer that equals the first-order estimate, the leverage-corrected first-order term
    alone, or the exact answer with the opposite sign is named as such; the message never shows
    the expected values.

    Args:
        answer_fn: a function ``(X, y, X_test, y_test, ridge)`` of (n, d), (n,), (n_test, d),
            (n_test,) float64 tensors and λ > 0, returning the (n_test, n) influences.
    """
    def reference(X, y, X_test, y_test, ridge):
        return ihvp_decomposition(X @ X.T, X_test @ X.T, y, y_test, ridge).exact

    return check_cases(answer_fn, _ch7_inputs(), reference, mistakes=_exact_loo_mistakes,
                       name="exact_loo")


def _logistic_fit(X: torch.Tensor, y: torch.Tensor, ridge: float) -> torch.Tensor:
    """The minimizer of Σ softplus(−y_i wᵀx_i) + ½λ‖w‖² (the bias is a column of X)."""
    model = torch.nn.Linear(X.shape[1], 1, bias=False).to(X.dtype)
    with torch.no_grad():
        model.weight.zero_()
    fit_to_optimum(model, X, y, loss="logistic", ridge=ridge)
    return model.weight.detach().reshape(-1).clone()


def _ch7_logistic_inputs() -> list[tuple]:
    # Logistic ridge problems (X, y, X_test, y_test, ŵ, λ), labels ±1, a column of ones in X (the
    # bias): well conditioned, few points with a small ridge (large leverages), one test point.
    g = torch.Generator().manual_seed(72)
    cases = []

    def draw(m: int, d: int) -> tuple[torch.Tensor, torch.Tensor]:
        Z = torch.randn(m, d, generator=g, dtype=torch.float64)
        X = torch.cat([Z, torch.ones(m, 1, dtype=torch.float64)], 1)
        noise = torch.randn(m, generator=g, dtype=torch.float64)
        return X, torch.where(Z[:, 0] + 0.8 * noise > 0, 1.0, -1.0).to(torch.float64)

    for n, d, n_test, ridge in [(15, 3, 2, 0.5), (8, 5, 3, 0.1), (20, 4, 1, 1.0)]:
        X, y = draw(n, d)
        X_test, y_test = draw(n_test, d)
        cases.append((X, y, X_test, y_test, _logistic_fit(X, y, ridge), ridge))
    return cases


def _steps(X, y, w, ridge, without_point: bool) -> torch.Tensor:
    """Column i: the Newton step of L − ℓ_i from w, with H − ∇²ℓ_i (or H) as the curvature."""
    f = X @ w
    s = torch.sigmoid(f) * torch.sigmoid(-f)
    H = X.T @ (s[:, None] * X) + ridge * torch.eye(X.shape[1], dtype=X.dtype)
    grads = -(y * torch.sigmoid(-y * f))[:, None] * X          # row i: ∇ℓ_i(w)
    columns = []
    for i in range(X.shape[0]):  # n separate solves: the brute-force reference
        A = H - s[i] * torch.outer(X[i], X[i]) if without_point else H
        columns.append(torch.linalg.solve(A, grads[i]))
    return torch.stack(columns, 1)


def _test_losses(X_test, y_test, W) -> torch.Tensor:
    return torch.nn.functional.softplus(-y_test[:, None] * (X_test @ W))


def _newton_loo(X, y, X_test, y_test, w, ridge, without_point=True, sign=1.0) -> torch.Tensor:
    steps = _steps(X, y, w, ridge, without_point)
    return _test_losses(X_test, y_test, w[:, None] + sign * steps) - _test_losses(
        X_test, y_test, w[:, None])


def _newton_loo_mistakes(X, y, X_test, y_test, w, ridge) -> dict[str, torch.Tensor]:
    f_test = X_test @ w
    grad_test = -(y_test * torch.sigmoid(-y_test * f_test))[:, None] * X_test
    return {
        "the step uses H, the Hessian with point i still in it; the objective after the "
        "removal is L − ℓ_i, and so is its curvature": _newton_loo(
            X, y, X_test, y_test, w, ridge, without_point=False),
        "the test loss is linearized, ∇ℓ_tᵀΔw_i: evaluate it at the new weights": (
            grad_test @ _steps(X, y, w, ridge, True)),
        "this is the first-order influence ∇ℓ_tᵀH⁻¹∇ℓ_i: take the Newton step of L − ℓ_i and "
        "evaluate the test loss there": grad_test @ _steps(X, y, w, ridge, False),
        "the step goes the wrong way: removing ℓ_i leaves the gradient −∇ℓ_i(ŵ), and Newton's "
        "step is minus the inverse curvature times it": _newton_loo(
            X, y, X_test, y_test, w, ridge, sign=-1.0),
        "the sign is reversed: the book's convention is ℓ_t(without i) − ℓ_t(with i)": -_newton_loo(
            X, y, X_test, y_test, w, ridge),
    }


def ch7_newton_loo(answer_fn: Callable) -> ExerciseResult:
    """The reader's one-Newton-step leave-one-out for logistic regression (chapter 7, ex. 2).

    The model is f(x) = wᵀx (X carries a column of ones for the bias) fitted by
    L(w) = Σ_i softplus(−y_i wᵀx_i) + ½λ‖w‖² with labels ±1, and ŵ is its minimizer. The
    answer is I[t, i] = ℓ_t(w̃₋ᵢ) − ℓ_t(ŵ), where w̃₋ᵢ is one Newton step of L − ℓ_i from ŵ
    and ℓ_t is the logistic loss of test point t. The reference solves the n Newton systems
    one by one. A step with the wrong curvature or in the wrong direction, a linearized test
    loss, the first-order influence, and the opposite sign are named as such; the message never
    shows the expected values.

    Args:
        answer_fn: a function ``(X, y, X_test, y_test, w, ridge)`` of (n, d), (n,), (n_test, d),
            (n_test,), (d,) float64 tensors and λ > 0, returning the (n_test, n) matrix.
    """
    return check_cases(answer_fn, _ch7_logistic_inputs(), _newton_loo,
                       mistakes=_newton_loo_mistakes, name="newton_loo")
