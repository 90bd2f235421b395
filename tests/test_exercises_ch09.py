"""Oracle tests of the chapter 9 exercise checker (ntkbook.exercises.ch9_self_influence).

The oracle is brute force in numpy: refit kernel ridge regression without each training point and
measure the change of that point's own loss — independent of the package's leave-one-out formula.
"""

from __future__ import annotations

import numpy as np
import torch

import ntkbook
from ntkbook import exercises
from ntkbook.exercises import ch09


def _brute_force(K, y, ridge) -> np.ndarray:
    K, y = K.numpy(), y.numpy()
    n = len(y)
    full = K @ np.linalg.solve(K + ridge * np.eye(n), y)
    out = np.empty(n)
    for i in range(n):
        keep = np.arange(n) != i
        beta = np.linalg.solve(K[keep][:, keep] + ridge * np.eye(n - 1), y[keep])
        out[i] = 0.5 * (K[i, keep] @ beta - y[i]) ** 2 - 0.5 * (full[i] - y[i]) ** 2
    return out


def _closed_form(K, y, ridge) -> torch.Tensor:
    G = torch.linalg.inv(K + ridge * torch.eye(K.shape[0], dtype=K.dtype))
    alpha = G @ y
    return 0.5 * alpha**2 * (G.diagonal() ** -2 - ridge**2)


def test_brute_force_retraining_is_accepted() -> None:
    result = exercises.ch9_self_influence(_brute_force)
    assert result.correct, result.message
    assert exercises.ch9_self_influence is ch09.ch9_self_influence
    assert "ch9_self_influence" in exercises.__all__


def test_the_closed_form_is_accepted_and_equals_brute_force() -> None:
    for K, y, ridge in ch09._ch9_inputs():
        np.testing.assert_allclose(_closed_form(K, y, ridge).numpy(), _brute_force(K, y, ridge),
                                   rtol=1e-9, atol=1e-12)
    assert exercises.ch9_self_influence(_closed_form).correct


def test_known_mistakes_are_named() -> None:
    def first_order(K, y, ridge):
        return ntkbook.influence.ntk_ihvp_influence(K, K, y, y, ridge).diagonal()

    def loo_loss_only(K, y, ridge):
        G = torch.linalg.inv(K + ridge * torch.eye(K.shape[0], dtype=K.dtype))
        return 0.5 * ((G @ y) / G.diagonal()) ** 2

    def multiplied(K, y, ridge):
        G = torch.linalg.inv(K + ridge * torch.eye(K.shape[0], dtype=K.dtype))
        r = -ridge * (G @ y)
        return 0.5 * ((r * ridge * G.diagonal()) ** 2 - r**2)

    cases = {
        "first-order estimate": first_order,
        "opposite sign": lambda *a: -_closed_form(*a),
        "alone: subtract the in-sample loss": loo_loss_only,
        "twice the self-influence": lambda *a: 2 * _closed_form(*a),
        "half the self-influence": lambda *a: 0.5 * _closed_form(*a),
        "multiplied (instead of divided)": multiplied,
    }
    for phrase, fn in cases.items():
        result = exercises.ch9_self_influence(fn)
        assert not result.correct
        assert phrase.split(" (")[0] in result.message, (phrase, result.message)


def test_wrong_answers_never_show_the_expected_values() -> None:
    K, y, ridge = ch09._ch9_inputs()[0]
    expected = _closed_form(K, y, ridge)
    result = exercises.ch9_self_influence(lambda K, y, r: _closed_form(K, y, r) + 0.01)
    assert not result.correct
    assert "values are off" in result.message
    for value in expected.tolist():
        for digits in (3, 4, 6):
            assert f"{value:.{digits}g}" not in result.message


def test_shapes_errors_and_non_functions() -> None:
    full = exercises.ch9_self_influence(
        lambda K, y, r: ntkbook.ntk_loo_influence(K, K, y, y, r))
    assert not full.correct and "return its diagonal" in full.message
    short = exercises.ch9_self_influence(lambda K, y, r: _closed_form(K, y, r)[:-1])
    assert not short.correct and "expected shape" in short.message
    nan = exercises.ch9_self_influence(lambda K, y, r: _closed_form(K, y, r) * float("nan"))
    assert not nan.correct and "NaN" in nan.message

    def crash(K, y, r):
        raise RuntimeError("boom")

    crashed = exercises.ch9_self_influence(crash)
    assert not crashed.correct and "RuntimeError: boom" in crashed.message
    assert not exercises.ch9_self_influence(3.0).correct
    assert not exercises.ch9_self_influence(lambda K, y, r: "abc").correct
