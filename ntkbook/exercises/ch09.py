"""Exercise checkers of chapter 9, *Why the IHVP fails in the over-parameterized regime*."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..data import sphere
from ..influence.ntk import ntk_ihvp_influence, ntk_loo_influence
from ..kernels import relu_two_layer_ntk
from .common import ExerciseResult, _as_array


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


def _close(a: np.ndarray, e: np.ndarray) -> bool:
    return a.shape == e.shape and np.allclose(a, e, rtol=1e-6, atol=1e-12)


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
    name = "self_influence"
    if not callable(answer_fn):
        return ExerciseResult(False,
                              f"{name}: expected a function, got {type(answer_fn).__name__}.")
    cases = _ch9_inputs()
    for k, (K, y, ridge) in enumerate(cases):
        try:
            got = answer_fn(K.clone(), y.clone(), ridge)
        except Exception as err:  # the reader's code: report, don't crash the chapter
            return ExerciseResult(False, f"{name}: raised {type(err).__name__}: {err} "
                                         f"on test input {k}.")
        try:
            a = _as_array(got, name)
        except TypeError as err:
            return ExerciseResult(False, f"{name}: {err}")
        n = K.shape[0]
        exact = ntk_loo_influence(K, K, y, y, ridge).diagonal()
        if a.shape == (n, n):
            full = ntk_loo_influence(K, K, y, y, ridge).numpy()
            hint = (" — it is the whole leave-one-out influence matrix; return its diagonal"
                    if _close(a, full) else "")
            return ExerciseResult(False, f"{name} on test input {k}: expected one value per "
                                         f"training point, shape ({n},), got {a.shape}{hint}.")
        if a.shape != (n,):
            return ExerciseResult(False, f"{name} on test input {k}: expected shape ({n},), "
                                         f"got {a.shape}.")
        if not np.isfinite(a).all():
            return ExerciseResult(False, f"{name} on test input {k}: contains NaN or infinite "
                                         "entries.")
        e = exact.numpy()
        if _close(a, e):
            continue
        G = torch.linalg.inv(K + ridge * torch.eye(n, dtype=K.dtype))
        alpha = G @ y
        in_sample = -ridge * alpha                    # f(x_i) − y_i
        shrunk = in_sample * ridge * G.diagonal()     # multiplied by λG_ii, not divided
        known = {
            "Koh & Liang's first-order estimate a_ii (f(x_i) − y_i)²: it uses the in-sample "
            "residual where the leave-one-out residual f⁽⁻ⁱ⁾(x_i) − y_i belongs":
                ntk_ihvp_influence(K, K, y, y, ridge).diagonal(),
            "the self-influence with the opposite sign: the book's convention is "
            "loss without i minus loss with i": -exact,
            "the leave-one-out loss ½(f⁽⁻ⁱ⁾(x_i) − y_i)² alone: subtract the in-sample loss":
                exact + 0.5 * in_sample**2,
            "twice the self-influence: the losses are ½(f − y)²": 2 * exact,
            "half the self-influence: the losses are ½(f − y)², not ¼(f − y)²": 0.5 * exact,
            "built on the in-sample residual multiplied by λ[(K + λI)⁻¹]_ii: the leave-one-out "
            "residual is the in-sample residual divided by it":
                0.5 * (shrunk**2 - in_sample**2),
        }
        for label, value in known.items():
            if _close(a, _as_array(value, "expected")):
                return ExerciseResult(False, f"{name} on test input {k}: this is {label}.")
        bad = ~np.isclose(a, e, rtol=1e-6, atol=1e-12)
        rel = np.linalg.norm(a - e) / max(np.linalg.norm(e), 1e-300)
        same_sign = np.mean(np.sign(a) == np.sign(e))
        return ExerciseResult(False, f"{name} on test input {k}: {int(bad.sum())} of {n} values "
                                     f"are off (relative error {rel:.3g}; the sign agrees on "
                                     f"{same_sign:.0%} of them).")
    return ExerciseResult(True, f"{name}: correct on all {len(cases)} test inputs.")
