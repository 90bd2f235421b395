"""Exercise checkers of chapter 7, *Influence functions*."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..influence.ntk import ihvp_decomposition
from .common import ExerciseResult, _answer, _as_array, check_array, returned_problem


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
    name = "exact_loo"
    if not callable(answer_fn):
        return ExerciseResult(False,
                              f"{name}: expected a function, got {type(answer_fn).__name__}.")
    for k, (X, y, X_test, y_test, ridge) in enumerate(_ch7_inputs()):
        try:
            got = answer_fn(X.clone(), y.clone(), X_test.clone(), y_test.clone(), ridge)
        except Exception as err:  # the reader's code: report, don't crash the chapter
            return ExerciseResult(False, f"{name}: raised {type(err).__name__}: {err} "
                                         f"on test input {k}.")
        returned = returned_problem(got, f"{name} on test input {k}")
        if returned is not None:
            return returned
        parts = ihvp_decomposition(X @ X.T, X_test @ X.T, y, y_test, ridge)
        result = check_array(got, parts.exact, rtol=1e-6, atol=1e-10,
                             name=f"{name} on test input {k}")
        if result:
            continue
        a, _ = _answer(got, name)
        if a is None:
            return result
        known = {
            "the first-order (Koh & Liang) estimate ∇ℓ_tᵀH⁻¹∇ℓ_i: divide it by 1 − h_ii and "
            "add the second-order term of the test loss": parts.ihvp,
            "only the leverage-corrected first-order term: the test loss is quadratic in the "
            "prediction, add ½(f⁽⁻ⁱ⁾(x_t) − f(x_t))²": parts.first_order,
            "the exact influence with the opposite sign: the book's convention is "
            "ℓ_t(without i) − ℓ_t(with i)": -parts.exact,
        }
        for label, value in known.items():
            e = _as_array(value, "expected")
            if a.shape == e.shape and np.allclose(a, e, rtol=1e-6, atol=1e-10):
                return ExerciseResult(False, f"{name} on test input {k}: this is {label}.")
        return result
    return ExerciseResult(True, f"{name}: correct on all {len(_ch7_inputs())} test inputs.")
