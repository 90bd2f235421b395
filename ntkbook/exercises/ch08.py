"""Exercise checkers of chapter 8, *Influence functions of wide networks*."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..data import sphere
from ..influence.ntk import ihvp_decomposition
from ..kernels import relu_two_layer_ntk
from .common import ExerciseResult, check_cases


def _ch8_inputs() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, float]]:
    # Kernel ridge problems (K, K_test_train, y, y_test, λ) with the two-layer ReLU NTK of
    # points on the sphere: a moderate ridge, a small one (removals matter most) and a large one.
    cases = []
    problems = [(10, 3, 4, 0.5, 80), (7, 2, 3, 0.02, 81), (12, 1, 5, 5.0, 82)]
    for n, n_test, d, ridge, seed in problems:
        X = sphere(n + n_test, d, seed=seed)
        X, X_test = X[:n], X[n:]
        y = torch.sin(3 * X[:, 0]) + X[:, 1]
        y_test = torch.sin(3 * X_test[:, 0]) + X_test[:, 1]
        cases.append((relu_two_layer_ntk(X), relu_two_layer_ntk(X_test, X), y, y_test, ridge))
    return cases


def _kernel_loo_mistakes(K, K_test, y, y_test, ridge) -> dict[str, torch.Tensor]:
    n = K.shape[0]
    parts = ihvp_decomposition(K, K_test, y, y_test, ridge)
    G = torch.linalg.inv(K + ridge * torch.eye(n, dtype=K.dtype))
    change = (K_test @ G) * ((G @ y) / G.diagonal())[None, :]    # f(x_t) − f⁽⁻ⁱ⁾(x_t)
    return {
        "the sign is reversed: the book's convention is ℓ_t(without i) − ℓ_t(with i), "
        "positive when point i helps": -_refits(K, K_test, y, y_test, ridge),
        "this is the first-order (implicit-Hessian) estimate: the residual of point i must be "
        "its leave-one-out residual, not its training residual": parts.ihvp,
        "the first-order term alone: the test loss is quadratic in the prediction, so the "
        "square of the prediction's change belongs too": parts.first_order,
        "this is the change of the prediction, not of the test loss": change,
        "this is the change of the prediction (with i minus without), not of the test loss":
            -change,
    }


def _relative_error(a: np.ndarray, e: np.ndarray) -> str:
    rel = float(np.linalg.norm(a - e) / np.linalg.norm(e))
    return f"relative error {rel:.2g} against refitting without each point"


def ch8_kernel_loo(answer_fn: Callable) -> ExerciseResult:
    """The reader's leave-one-out influence of kernel ridge regression (chapter 8, exercise 1).

    ``answer_fn(K, K_test_train, y, y_test, ridge)`` must return the (n_test, n) matrix
    I[t, i] = ½(f⁽⁻ⁱ⁾(x_t) − y_t)² − ½(f(x_t) − y_t)² of the kernel ridge predictor, computed
    without refitting. It is compared with n refits on several problems. The message says right
    or wrong and, for the usual mistakes, which one it is; it never shows the expected values.
    """
    return check_cases(answer_fn, _ch8_inputs(), _refits, mistakes=_kernel_loo_mistakes,
                       rtol=1e-7, atol=1e-12, name="kernel_loo", unit="test problem",
                       describe=_relative_error)


def _refits(K: torch.Tensor, K_test: torch.Tensor, y: torch.Tensor, y_test: torch.Tensor,
            ridge: float) -> torch.Tensor:
    """Eq. 7 of Zhang & Zhang by brute force: refit the kernel predictor without each point."""
    n = K.shape[0]

    def predict(rows: list[int]) -> torch.Tensor:
        A = K[rows][:, rows] + ridge * torch.eye(len(rows), dtype=K.dtype)
        return K_test[:, rows] @ torch.linalg.solve(A, y[rows])

    base = 0.5 * (predict(list(range(n))) - y_test) ** 2
    columns = [0.5 * (predict([j for j in range(n) if j != i]) - y_test) ** 2 - base
               for i in range(n)]
    return torch.stack(columns, 1)
