"""Oracle tests of the chapter 7 checker of one Newton step without point i
(ntkbook.exercises.ch7_newton_loo).

The oracle is autograd: the Hessian of L − ℓ_i by ``torch.autograd.functional.hessian`` and the
Newton step from it, for every i — independent of the checker's own formulas.
"""

from __future__ import annotations

import numpy as np
import torch

from ntkbook import exercises
from ntkbook.exercises import common
from ntkbook.exercises.ch07 import _ch7_logistic_inputs

softplus = torch.nn.functional.softplus


def _objective(X, y, ridge, drop=None):
    keep = torch.ones(X.shape[0], dtype=torch.bool)
    if drop is not None:
        keep[drop] = False

    def L(w):
        return softplus(-y[keep] * (X[keep] @ w)).sum() + 0.5 * ridge * (w @ w)
    return L


def by_autograd(X, y, X_test, y_test, w, ridge):
    base = softplus(-y_test * (X_test @ w))
    columns = []
    for i in range(X.shape[0]):
        L = _objective(X, y, ridge, drop=i)
        g = torch.autograd.functional.jacobian(L, w)
        H = torch.autograd.functional.hessian(L, w)
        stepped = w - torch.linalg.solve(H, g)
        columns.append(softplus(-y_test * (X_test @ stepped)) - base)
    return torch.stack(columns, 1)


def sherman_morrison(X, y, X_test, y_test, w, ridge):
    f = X @ w
    s = torch.sigmoid(f) * torch.sigmoid(-f)
    H = X.T @ (s[:, None] * X) + ridge * torch.eye(X.shape[1], dtype=X.dtype)
    factor = torch.linalg.cholesky(H)
    grads = -(y * torch.sigmoid(-y * f))[:, None] * X
    steps = torch.cholesky_solve(grads.T, factor)
    leverage = s * (X.T * torch.cholesky_solve(X.T, factor)).sum(0)
    W = w[:, None] + steps / (1 - leverage)[None, :]
    return softplus(-y_test[:, None] * (X_test @ W)) - softplus(-y_test * (X_test @ w))[:, None]


def test_the_given_weights_are_the_minimizer() -> None:
    for X, y, _, _, w, ridge in _ch7_logistic_inputs():
        g = torch.autograd.functional.jacobian(_objective(X, y, ridge), w)
        assert float(g.norm()) < 1e-12


def test_autograd_and_the_closed_form_are_accepted() -> None:
    for answer in (by_autograd, sherman_morrison):
        result = exercises.ch7_newton_loo(answer)
        assert result.correct, result.message
    as_float32 = exercises.ch7_newton_loo(lambda *a: sherman_morrison(*a).float())
    assert as_float32.correct, as_float32.message


def test_each_known_mistake_is_named() -> None:
    def with_H(X, y, X_test, y_test, w, ridge):        # curvature of L, not of L − ℓ_i
        f = X @ w
        s = torch.sigmoid(f) * torch.sigmoid(-f)
        H = X.T @ (s[:, None] * X) + ridge * torch.eye(X.shape[1], dtype=X.dtype)
        grads = -(y * torch.sigmoid(-y * f))[:, None] * X
        W = w[:, None] + torch.linalg.solve(H, grads.T)
        return softplus(-y_test[:, None] * (X_test @ W)) - softplus(-y_test * (X_test @ w))[:, None]

    def linearized(X, y, X_test, y_test, w, ridge):
        grad_test = -(y_test * torch.sigmoid(-y_test * (X_test @ w)))[:, None] * X_test
        steps = []  # the Newton steps, by autograd
        for i in range(X.shape[0]):
            L = _objective(X, y, ridge, drop=i)
            steps.append(-torch.linalg.solve(torch.autograd.functional.hessian(L, w),
                                             torch.autograd.functional.jacobian(L, w)))
        return grad_test @ torch.stack(steps, 1)

    def backwards(X, y, X_test, y_test, w, ridge):
        f = X @ w
        s = torch.sigmoid(f) * torch.sigmoid(-f)
        H = X.T @ (s[:, None] * X) + ridge * torch.eye(X.shape[1], dtype=X.dtype)
        grads = -(y * torch.sigmoid(-y * f))[:, None] * X
        leverage = s * (X.T * torch.linalg.solve(H, X.T)).sum(0)
        W = w[:, None] - torch.linalg.solve(H, grads.T) / (1 - leverage)[None, :]
        return softplus(-y_test[:, None] * (X_test @ W)) - softplus(-y_test * (X_test @ w))[:, None]

    cases = {
        "the step uses H": with_H,
        "the test loss is linearized": linearized,
        "the step goes the wrong way": backwards,
        "the sign is reversed": lambda *a: -by_autograd(*a),
        "first-order influence": _koh_liang,
    }
    for phrase, answer in cases.items():
        result = exercises.ch7_newton_loo(answer)
        assert not result.correct, phrase
        assert phrase in result.message, (phrase, result.message)


def _koh_liang(X, y, X_test, y_test, w, ridge):
    f = X @ w
    s = torch.sigmoid(f) * torch.sigmoid(-f)
    H = X.T @ (s[:, None] * X) + ridge * torch.eye(X.shape[1], dtype=X.dtype)
    grads = -(y * torch.sigmoid(-y * f))[:, None] * X
    grad_test = -(y_test * torch.sigmoid(-y_test * (X_test @ w)))[:, None] * X_test
    return grad_test @ torch.linalg.solve(H, grads.T)


def test_wrong_answers_never_show_the_expected_values() -> None:
    reference = np.concatenate([by_autograd(*c).reshape(-1).numpy()
                                for c in _ch7_logistic_inputs()])
    for answer in (lambda *a: 1.01 * sherman_morrison(*a), lambda *a: sherman_morrison(*a)[:, :3],
                   lambda *a: sherman_morrison(*a).T):
        message = exercises.ch7_newton_loo(answer).message
        for value in reference:
            for digits in (3, 4, 6):
                assert f"{value:.{digits}g}" not in message, message
    assert "transposed" in exercises.ch7_newton_loo(lambda *a: sherman_morrison(*a).T).message
    assert "expected shape" in exercises.ch7_newton_loo(
        lambda *a: sherman_morrison(*a)[:, :3]).message
    assert "entries are off" in exercises.ch7_newton_loo(
        lambda *a: 1.01 * sherman_morrison(*a)).message


def test_the_instructor_option_shows_the_expected_values() -> None:
    common.reveal_answers(True)
    try:
        message = exercises.ch7_newton_loo(lambda *a: 1.01 * sherman_morrison(*a)).message
        assert "shown because answers are revealed" in message
        spearman = exercises.ch10_top_k_spearman(lambda e, t, k: 0.123).message
        assert "shown because answers are revealed" in spearman
    finally:
        common.reveal_answers(False)
    assert "revealed" not in exercises.ch10_top_k_spearman(lambda e, t, k: 0.123).message


def test_malformed_answers_are_reported() -> None:
    assert "expected a function" in exercises.ch7_newton_loo(0.5).message
    assert "returned None" in exercises.ch7_newton_loo(lambda *a: None).message

    def broken(*a):
        raise ValueError("singular")

    assert "raised ValueError: singular" in exercises.ch7_newton_loo(broken).message
    nan = exercises.ch7_newton_loo(lambda *a: sherman_morrison(*a) * float("nan"))
    assert "NaN" in nan.message
