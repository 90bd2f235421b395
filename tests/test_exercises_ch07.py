"""Oracle tests of the chapter 7 exercise checker (ntkbook.exercises.ch7_exact_loo).

The oracle is brute force in numpy: refit ridge regression without each training point and
measure the change of the test loss — independent of the package's leave-one-out formula.
"""

from __future__ import annotations

import numpy as np
import torch

from ntkbook import exercises


def _fit(X: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    return np.linalg.solve(X.T @ X + ridge * np.eye(X.shape[1]), X.T @ y)


def _brute_force(X, y, X_test, y_test, ridge) -> np.ndarray:
    X, y, X_test, y_test = (t.numpy() for t in (X, y, X_test, y_test))
    base = 0.5 * (X_test @ _fit(X, y, ridge) - y_test) ** 2
    out = np.empty((X_test.shape[0], X.shape[0]))
    for i in range(X.shape[0]):
        keep = np.arange(X.shape[0]) != i
        out[:, i] = 0.5 * (X_test @ _fit(X[keep], y[keep], ridge) - y_test) ** 2 - base
    return out


def _pieces(X, y, X_test, y_test, ridge):
    """Koh & Liang's estimate, the leverages and the exact prediction change, in numpy."""
    X, y, X_test, y_test = (t.numpy() for t in (X, y, X_test, y_test))
    H_inv = np.linalg.inv(X.T @ X + ridge * np.eye(X.shape[1]))
    w = H_inv @ X.T @ y
    r, r_test = X @ w - y, X_test @ w - y_test
    first = r_test[:, None] * (X_test @ H_inv @ X.T) * r[None, :]
    leverage = np.einsum("id,de,ie->i", X, H_inv, X)
    change = (X_test @ H_inv @ X.T) * (r / (1 - leverage))[None, :]
    return first, leverage, change


def _leverage_formula(X, y, X_test, y_test, ridge) -> np.ndarray:
    first, leverage, change = _pieces(X, y, X_test, y_test, ridge)
    return first / (1 - leverage)[None, :] + 0.5 * change**2


def test_brute_force_retraining_is_accepted() -> None:
    result = exercises.ch7_exact_loo(_brute_force)
    assert result.correct, result.message


def test_the_leverage_formula_is_accepted_and_equals_brute_force() -> None:
    for args in exercises.ch07._ch7_inputs():
        np.testing.assert_allclose(_leverage_formula(*args), _brute_force(*args), rtol=1e-9,
                                   atol=1e-12)
    result = exercises.ch7_exact_loo(lambda *a: torch.as_tensor(_leverage_formula(*a)))
    assert result.correct, result.message


def test_the_first_order_estimate_is_named() -> None:
    result = exercises.ch7_exact_loo(lambda *a: _pieces(*a)[0])
    assert not result.correct
    assert "first-order (Koh & Liang) estimate" in result.message


def test_the_missing_second_order_term_is_named() -> None:
    result = exercises.ch7_exact_loo(
        lambda *a: _pieces(*a)[0] / (1 - _pieces(*a)[1])[None, :])
    assert not result.correct
    assert "leverage-corrected first-order term" in result.message


def test_the_opposite_sign_is_named() -> None:
    result = exercises.ch7_exact_loo(lambda *a: -_brute_force(*a))
    assert not result.correct
    assert "opposite sign" in result.message


def test_a_transposed_answer_is_rejected() -> None:
    result = exercises.ch7_exact_loo(lambda *a: _brute_force(*a).T)
    assert not result.correct


def test_a_slightly_wrong_answer_is_rejected() -> None:
    result = exercises.ch7_exact_loo(lambda *a: _brute_force(*a) * 1.001)
    assert not result.correct
    assert "entries are off" in result.message


def test_an_answer_that_raises_is_reported() -> None:
    def broken(*args):
        raise RuntimeError("singular matrix")

    result = exercises.ch7_exact_loo(broken)
    assert not result.correct
    assert "RuntimeError" in result.message


def test_a_non_function_is_rejected() -> None:
    result = exercises.ch7_exact_loo(np.zeros((3, 12)))
    assert not result.correct
    assert "expected a function" in result.message
