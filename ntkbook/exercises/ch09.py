"""Exercise checkers of chapter 9, *Why the IHVP fails in the over-parameterized regime*."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..data import sphere
from ..influence.ntk import ntk_ihvp_influence, ntk_loo_influence
from ..kernels import relu_two_layer_ntk
from .common import ExerciseResult, check_cases


def _ch9_inputs() -> list[tuple[torch.Tensor, torch.Tensor, float]]:
    # Kernel ridge problems (K, y, λ) with the two-layer ReLU NTK (eq. 4): ±1 labels with a weak
    # and a strong ridge, and real-valued targets.
    cases = []
    g = torch.Generator().manual_seed(9)
    for n, d, ridge, kind in [(10, 3, 0.1, "pm1"), (8, 5, 2.0, "pm1"), (12, 4, 0.5, "real")]:
        X = sphere(n, d, seed=n + d)
        if kind == "pm1":
            y = torch.where(X[:, 0] + 0.2 * torch.randn(n, generator=g, dtype=X.dtype) > 0,
                            1.0, -1.0).to(X.dtype)
        else:
            y = torch.sin(3 * X[:, 0]) + 0.3 * torch.randn(n, generator=g, dtype=X.dtype)
        cases.append((relu_two_layer_ntk(X), y, ridge))
    return cases


def _self_influence(K, y, ridge) -> torch.Tensor:
    return ntk_loo_influence(K, K, y, y, ridge).diagonal()


def _self_influence_mistakes(K, y, ridge) -> dict[str, torch.Tensor]:
    n = K.shape[0]
    exact = _self_influence(K, y, ridge)
    G = torch.linalg.inv(K + ridge * torch.eye(n, dtype=K.dtype))
    in_sample = -ridge * (G @ y)                    # f(x_i) − y_i
    shrunk = in_sample * ridge * G.diagonal()       # multiplied by λG_ii, not divided
    return {
        "this is the whole leave-one-out influence matrix; return its diagonal, one value per "
        "training point": ntk_loo_influence(K, K, y, y, ridge),
        "this is Koh & Liang's first-order estimate a_ii (f(x_i) − y_i)²: it uses the "
        "in-sample residual where the leave-one-out residual f⁽⁻ⁱ⁾(x_i) − y_i belongs":
            ntk_ihvp_influence(K, K, y, y, ridge).diagonal(),
        "this is the self-influence with the opposite sign: the book's convention is "
        "loss without i minus loss with i": -exact,
        "this is the leave-one-out loss ½(f⁽⁻ⁱ⁾(x_i) − y_i)² alone: subtract the in-sample "
        "loss": exact + 0.5 * in_sample**2,
        "this is twice the self-influence: the losses are ½(f − y)²": 2 * exact,
        "this is half the self-influence: the losses are ½(f − y)², not ¼(f − y)²": 0.5 * exact,
        "this is built on the in-sample residual multiplied by λ[(K + λI)⁻¹]_ii: the "
        "leave-one-out residual is the in-sample residual divided by it":
            0.5 * (shrunk**2 - in_sample**2),
    }


def _values_off(a: np.ndarray, e: np.ndarray) -> str:
    bad = ~np.isclose(a, e, rtol=1e-6, atol=1e-12)
    rel = np.linalg.norm(a - e) / max(np.linalg.norm(e), 1e-300)
    same_sign = np.mean(np.sign(a) == np.sign(e))
    return (f"{int(bad.sum())} of {e.size} values are off (relative error {rel:.3g}; the sign "
            f"agrees on {same_sign:.0%} of them)")


def ch9_self_influence(answer_fn: Callable) -> ExerciseResult:
    """The reader's self-influence of kernel ridge regression (chapter 9, exercise 1).

    The self-influence of training point i is the change of its own loss when it is removed,
    ½(f⁽⁻ⁱ⁾(x_i) − y_i)² − ½(f(x_i) − y_i)², for the kernel ridge predictor of Zhang & Zhang
    (2022, eq. 6) and its leave-one-out version (eq. 9), computed without refitting. The
    reference is the diagonal of :func:`ntkbook.ntk_loo_influence` with the training set as
    the test set. The message never shows the expected values; it names a known mistake when it
    sees one: Koh & Liang's first-order estimate (eq. 13 on the diagonal), the opposite sign,
    the leave-one-out loss without subtracting the in-sample loss, a factor 2, or the in-sample
    residual multiplied (instead of divided) by λ[(K + λI)⁻¹]_ii.

    Args:
        answer_fn: a function ``(K, y, ridge)`` of an (n, n) float64 kernel, (n,) targets and
            λ > 0, returning the (n,) self-influences.
    """
    return check_cases(answer_fn, _ch9_inputs(), _self_influence,
                       mistakes=_self_influence_mistakes, rtol=1e-6, atol=1e-12,
                       name="self_influence", describe=_values_off)
