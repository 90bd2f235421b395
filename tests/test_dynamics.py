"""Training and its closed forms (ntkbook.dynamics).

Oracles: gradient descent on the linearized network vs the discrete closed form; the closed
form vs the residual recursion r(k+1) = (I − ηK) r(k) iterated in numpy; gradient flow vs the
ODE solved by a matrix exponential (Van Loan's block trick, which needs no K⁻¹ and so covers a
singular K); kernel ridge vs a direct linear solve; the regularized objective of a linear model
vs its normal equations; the recorded history vs quantities recomputed from the weights.
"""

from __future__ import annotations

import copy
import dataclasses
import re

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

import ntkbook
from ntkbook import (
    MLP,
    TwoLayerReLU,
    analytic_ntk,
    empirical_ntk,
    gradient_descent,
    gradient_descent_prediction,
    gradient_flow_prediction,
    kernel_ridge,
    linearize,
)


def inputs(n: int, d: int, seed: int, *, unit: bool = True) -> torch.Tensor:
    X = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return torch.nn.functional.normalize(X, dim=1) if unit else X


def targets(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def rel(a, b) -> float:
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    return float(torch.linalg.norm(a - b) / torch.linalg.norm(b))


class Linear(nn.Module):
    """f(x) = wᵀx: its tangent kernel is XZᵀ at every w."""

    def __init__(self, d: int, seed: int = 0) -> None:
        super().__init__()
        self.w = nn.Parameter(targets(d, seed))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return X @ self.w


def pd_problem(n: int = 8, n_test: int = 5, depth: int = 2):
    """A positive definite NTK problem: unit inputs in general position."""
    X, Xt = inputs(n, 4, seed=1), inputs(n_test, 4, seed=2)
    return analytic_ntk(X, depth=depth), analytic_ntk(Xt, X, depth=depth), targets(n, 3)


def singular_problem(n: int = 7, d: int = 3, n_test: int = 4):
    """K = XXᵀ of rank d < n; K_test_train = X_t Xᵀ vanishes on K's null space."""
    X, Xt = inputs(n, d, seed=4, unit=False), inputs(n_test, d, seed=5, unit=False)
    return X, Xt, X @ X.T, Xt @ X.T, targets(n, 6)


# --- the linearized network follows the closed form exactly ------------------------------------

@pytest.mark.parametrize("make", [lambda: MLP(4, 24, 2, activation="tanh", seed=1),
                                  lambda: TwoLayerReLU(4, 40, seed=1)])
def test_training_the_linearized_model_is_the_discrete_closed_form(make) -> None:
    model = make()
    X, Xt, y = inputs(10, 4, seed=7), inputs(5, 4, seed=8), targets(10, 9)
    K, K_test = empirical_ntk(model, X), empirical_ntk(model, Xt, X)
    f0, f0_test = model(X).detach(), model(Xt).detach()
    lr = 1.0 / float(torch.linalg.eigvalsh(K)[-1])
    steps = 40
    history = gradient_descent(linearize(model), X, y, lr=lr, steps=steps,
                               record_predictions=True, X_test=Xt)
    ks = torch.arange(steps + 1)
    expected_train = gradient_descent_prediction(K, K, y, lr=lr, steps=ks, f0_train=f0,
                                                 f0_test=f0)
    expected_test = gradient_descent_prediction(K, K_test, y, lr=lr, steps=ks, f0_train=f0,
                                                f0_test=f0_test)
    assert rel(history.predictions, expected_train.numpy()) <= 1e-8
    assert rel(history.test_predictions, expected_test.numpy()) <= 1e-8
    # The closed form's own training loss is the recorded loss.
    np.testing.assert_allclose(history.loss, 0.5 * ((expected_train - y) ** 2).sum(1).numpy(),
                               rtol=1e-8)


@pytest.mark.parametrize("lr_factor", [0.5, 1.9, 2.2])  # monotone, oscillating, divergent
def test_discrete_closed_form_is_the_residual_recursion(lr_factor: float) -> None:
    for K, K_test, y in (pd_problem(), singular_problem()[2:]):
        f0 = targets(K.shape[0], 10) * 0.3
        f0_test = targets(K_test.shape[0], 11) * 0.3
        lr = lr_factor / float(torch.linalg.eigvalsh(K)[-1])
        Kn, Ktn, yn = K.numpy(), K_test.numpy(), y.numpy()
        r, f_test = f0.numpy() - yn, f0_test.numpy().copy()
        train, test = [r + yn], [f_test.copy()]
        for _ in range(30):
            f_test = f_test - lr * Ktn @ r
            r = r - lr * Kn @ r
            train.append(r + yn)
            test.append(f_test.copy())
        ks = torch.arange(31)
        got_train = gradient_descent_prediction(K, K, y, lr=lr, steps=ks, f0_train=f0, f0_test=f0)
        got_test = gradient_descent_prediction(K, K_test, y, lr=lr, steps=ks, f0_train=f0,
                                               f0_test=f0_test)
        assert rel(got_train.numpy(), np.array(train)) <= 1e-10
        assert rel(got_test.numpy(), np.array(test)) <= 1e-10
        scalar = gradient_descent_prediction(K, K_test, y, lr=lr, steps=7, f0_train=f0,
                                             f0_test=f0_test)
        assert scalar.shape == (K_test.shape[0],)
        torch.testing.assert_close(scalar, got_test[7], rtol=1e-12, atol=1e-12)


# --- gradient flow -----------------------------------------------------------------------------

def flow_by_matrix_exponential(K, K_test, y, t, f0, f0_test) -> np.ndarray:
    """f_test(t) = f0_test − K_test ∫₀ᵗ e^{−Ks} ds (f0 − y), the integral from expm of a block."""
    K, K_test = K.numpy(), K_test.numpy()
    n = K.shape[0]
    block = np.zeros((2 * n, 2 * n))
    block[:n, :n], block[:n, n:] = -K, np.eye(n)
    integral = scipy.linalg.expm(block * t)[:n, n:]
    return f0_test.numpy() - K_test @ integral @ (f0 - y).numpy()


@pytest.mark.parametrize("t", [0.0, 0.3, 2.0, 25.0])
def test_gradient_flow_matches_the_ode_solution(t: float) -> None:
    K, K_test, y = pd_problem()
    f0, f0_test = 0.2 * targets(8, 12), 0.2 * targets(5, 13)
    expected = flow_by_matrix_exponential(K, K_test, y, t, f0, f0_test)
    got = gradient_flow_prediction(K, K_test, y, t, f0_train=f0, f0_test=f0_test)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9, atol=1e-12)
    # A K_test_train with a component on K's null space: that mode grows linearly in t.
    _, _, Ks, _, ys = singular_problem()
    Kt = inputs(4, 7, seed=14, unit=False)  # arbitrary (4, 7): not annihilating the null space
    expected = flow_by_matrix_exponential(Ks, Kt, ys, t, torch.zeros(7), torch.zeros(4))
    np.testing.assert_allclose(gradient_flow_prediction(Ks, Kt, ys, t).numpy(), expected,
                               rtol=1e-9, atol=1e-10)


def test_gradient_flow_accepts_a_tensor_of_times() -> None:
    K, K_test, y = pd_problem()
    times = torch.tensor([0.0, 0.5, 4.0], dtype=torch.float64)
    out = gradient_flow_prediction(K, K_test, y, times)
    assert out.shape == (3, 5)
    for i, t in enumerate(times.tolist()):
        torch.testing.assert_close(out[i], gradient_flow_prediction(K, K_test, y, t))
    torch.testing.assert_close(out[0], torch.zeros(5, dtype=torch.float64))  # f₀ = 0 at t = 0


def test_small_steps_of_gradient_descent_approach_gradient_flow() -> None:
    """k steps of size η vs time t = ηk: the gap is O(η) (first-order Euler)."""
    K, K_test, y = pd_problem()
    t = 1.5
    gaps = []
    for lr in (1e-2, 2.5e-3):
        steps = round(t / lr)
        gd = gradient_descent_prediction(K, K_test, y, lr=lr, steps=steps)
        gaps.append(rel(gd, gradient_flow_prediction(K, K_test, y, t)))
    assert gaps[0] < 1e-2
    assert 3.5 < gaps[0] / gaps[1] < 4.5, gaps  # a 4× smaller step, a 4× smaller gap

    # Real gradient descent on a linear model (tangent kernel XXᵀ, rank 3 < n = 7: singular).
    X, Xt, K, K_test, y = singular_problem()
    model = Linear(3, seed=15)
    f0, f0_test = model(X).detach(), model(Xt).detach()
    lr, steps = 1e-3, 1500
    history = gradient_descent(model, X, y, lr=lr, steps=steps, record_every=steps, X_test=Xt)
    flow = gradient_flow_prediction(K, K_test, y, lr * steps, f0_train=f0, f0_test=f0_test)
    discrete = gradient_descent_prediction(K, K_test, y, lr=lr, steps=steps, f0_train=f0,
                                           f0_test=f0_test)
    assert rel(history.test_predictions[-1], discrete.numpy()) < 1e-10
    # The O(η) gap measured 5e-6 here (η λ_max = 0.015, most of it damped by e^{-λt}).
    assert rel(history.test_predictions[-1], flow.numpy()) < 1e-4


def test_long_time_limit_is_the_kernel_interpolant() -> None:
    K, K_test, y = pd_problem()
    interpolant = kernel_ridge(K, K_test, y, ridge=0.0)
    lam_min = float(torch.linalg.eigvalsh(K)[0])
    t = 60.0 / lam_min  # e^{-60}: every mode has converged
    torch.testing.assert_close(gradient_flow_prediction(K, K_test, y, t), interpolant,
                               rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(gradient_flow_prediction(K, K, y, t), y, rtol=1e-8, atol=1e-10)
    f0, f0_test = 0.3 * targets(8, 16), 0.3 * targets(5, 17)
    torch.testing.assert_close(
        gradient_flow_prediction(K, K_test, y, t, f0_train=f0, f0_test=f0_test),
        f0_test + kernel_ridge(K, K_test, y - f0, ridge=0.0), rtol=1e-8, atol=1e-10)
    lr = 1.0 / float(torch.linalg.eigvalsh(K)[-1])
    torch.testing.assert_close(
        gradient_descent_prediction(K, K_test, y, lr=lr, steps=round(60 / (lr * lam_min))),
        interpolant, rtol=1e-8, atol=1e-10)


def test_singular_kernel_limit_is_the_minimum_norm_interpolant() -> None:
    """With K_test_train vanishing on ker K, f_∞ = K_test K⁺ y = lim_{λ→0} kernel ridge."""
    _, _, K, K_test, y = singular_problem()
    pseudo = K_test @ torch.linalg.pinv(K, hermitian=True) @ y
    lam = torch.linalg.eigvalsh(K)
    smallest_nonzero = float(lam[lam > 1e-8 * float(lam[-1])][0])
    t = 60.0 / smallest_nonzero
    got = gradient_flow_prediction(K, K_test, y, t)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, pseudo, rtol=1e-7, atol=1e-9)
    for ridge in (1e-4, 1e-6):  # kernel ridge tends to it at rate O(λ)
        assert rel(kernel_ridge(K, K_test, y, ridge=ridge), pseudo) < 100 * ridge
    with pytest.raises(ValueError, match=r"use ridge > 0"):
        kernel_ridge(K, K_test, y, ridge=0.0)


# --- kernel ridge ------------------------------------------------------------------------------

@pytest.mark.parametrize("ridge", [0.0, 1e-3, 0.5, 10.0])
def test_kernel_ridge_is_a_linear_solve(ridge: float) -> None:
    K, K_test, y = pd_problem()
    A = K + ridge * torch.eye(8, dtype=torch.float64)
    torch.testing.assert_close(kernel_ridge(K, K_test, y, ridge),
                               K_test @ torch.linalg.solve(A, y), rtol=1e-10, atol=1e-12)
    Y = torch.stack([y, -2 * y, targets(8, 20)], dim=1)  # several outputs at once
    out = kernel_ridge(K, K_test, Y, ridge)
    assert out.shape == (5, 3)
    torch.testing.assert_close(out, K_test @ torch.linalg.solve(A, Y), rtol=1e-10, atol=1e-12)


# --- the regularized objective of gradient_descent ---------------------------------------------

def test_gradient_descent_steps_are_the_linear_model_iteration() -> None:
    X, y = inputs(6, 3, seed=21, unit=False), targets(6, 22)
    model = Linear(3, seed=23)
    w0 = model.w.detach().numpy().copy()
    lr, ridge = 0.05, 0.7
    gradient_descent(model, X, y, lr=lr, steps=9, ridge=ridge)
    w, Xn, yn = w0.copy(), X.numpy(), y.numpy()
    for _ in range(9):
        w = w - lr * (Xn.T @ (Xn @ w - yn) + ridge * (w - w0))
    np.testing.assert_allclose(model.w.detach().numpy(), w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("ridge", [0.3, 5.0])
def test_ridge_converges_to_the_regularized_minimizer(ridge: float) -> None:
    """argmin ½‖Xw − y‖² + ½λ‖w − w₀‖² = w₀ + (XᵀX + λI)⁻¹ Xᵀ(y − Xw₀): kernel ridge with f₀."""
    X, Xt, K, K_test, y = singular_problem()
    model = Linear(3, seed=24)
    w0 = model.w.detach().clone()
    f0, f0_test = model(X).detach(), model(Xt).detach()
    A = X.T @ X + ridge * torch.eye(3, dtype=torch.float64)
    w_star = w0 + torch.linalg.solve(A, X.T @ (y - X @ w0))
    eig = torch.linalg.eigvalsh(A)
    lr = 1.0 / float(eig[-1])
    steps = int(np.ceil(40 / (lr * float(eig[0]))))  # contraction (1 − ηλ_min)^k ≤ e^{-40}
    history = gradient_descent(model, X, y, lr=lr, steps=steps, ridge=ridge, X_test=Xt,
                               record_every=steps)
    torch.testing.assert_close(model.w.detach(), w_star, rtol=1e-10, atol=1e-12)
    expected = f0_test + kernel_ridge(K, K_test, y - f0, ridge)
    np.testing.assert_allclose(history.test_predictions[-1], expected.numpy(), rtol=1e-9)
    # The recorded loss leaves the ridge term out.
    assert history.loss[-1] == pytest.approx(0.5 * float(((X @ w_star - y) ** 2).sum()),
                                             rel=1e-9)


# --- the recorded history ----------------------------------------------------------------------

def test_history_fields_two_layer() -> None:
    model = TwoLayerReLU(5, 60, seed=2)
    start = copy.deepcopy(model)
    X, Xt, y = inputs(8, 5, seed=25), inputs(4, 5, seed=26), targets(8, 27)
    history = gradient_descent(model, X, y, lr=0.3, steps=10, record_every=3, record_gram=True,
                               record_predictions=True, X_test=Xt)
    np.testing.assert_array_equal(history.step, [0, 3, 6, 9, 10])
    for field in ("loss", "weight_distance", "max_neuron_distance", "activation_flips",
                  "lambda_min"):
        assert getattr(history, field).shape == (5,), field
    assert history.predictions.shape == (5, 8) and history.test_predictions.shape == (5, 4)
    assert history.weight_distance[0] == 0 and history.max_neuron_distance[0] == 0
    assert history.activation_flips[0] == 0
    # Start and end, recomputed from the weights.
    f0 = start(X).detach()
    assert history.loss[0] == pytest.approx(0.5 * float(((f0 - y) ** 2).sum()), rel=1e-12)
    np.testing.assert_allclose(history.predictions[0], f0.numpy(), rtol=1e-12)
    np.testing.assert_allclose(history.predictions[-1], model(X).detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(history.test_predictions[-1], model(Xt).detach().numpy(),
                               rtol=1e-12)
    assert history.loss[-1] == pytest.approx(0.5 * float(((model(X).detach() - y) ** 2).sum()),
                                             rel=1e-12)
    moved = model.W.detach() - start.W.detach()
    assert history.weight_distance[-1] == pytest.approx(float(torch.linalg.norm(moved)),
                                                        rel=1e-12)
    assert history.max_neuron_distance[-1] == pytest.approx(
        float(torch.linalg.norm(moved, dim=1).max()), rel=1e-12)
    flips = (model.activation_pattern(X) != start.activation_pattern(X)).double().mean()
    assert history.activation_flips[-1] == pytest.approx(float(flips))
    for record, net in ((0, start), (-1, model)):
        lam = float(torch.linalg.eigvalsh(empirical_ntk(net, X))[0])
        assert history.lambda_min[record] == pytest.approx(lam, rel=1e-10)
    assert history.loss[-1] < history.loss[0]
    assert not torch.equal(model.W, start.W)  # trained in place


def test_history_fields_depend_on_the_model() -> None:
    X, y = inputs(6, 3, seed=28), targets(6, 29)
    relu = MLP(3, 16, 2, seed=3)
    start = copy.deepcopy(relu)
    history = gradient_descent(relu, X, y, lr=0.05, steps=4)
    np.testing.assert_array_equal(history.step, np.arange(5))
    assert history.max_neuron_distance is None  # TwoLayerReLU only
    assert history.lambda_min is None and history.predictions is None
    assert history.test_predictions is None
    pre0, pre1 = start.forward_trace(X)[0], relu.forward_trace(X)[0]
    flips = torch.cat([(a > 0) != (b > 0) for a, b in zip(pre0, pre1)], dim=1).double().mean()
    assert history.activation_flips.shape == (5,)
    assert history.activation_flips[-1] == pytest.approx(float(flips))
    moved = torch.cat([(p - q).detach().reshape(-1)
                       for p, q in zip(relu.parameters(), start.parameters())])
    assert history.weight_distance[-1] == pytest.approx(float(torch.linalg.norm(moved)),
                                                        rel=1e-12)
    smooth = gradient_descent(MLP(3, 16, 2, activation="tanh"), X, y, lr=0.05, steps=2)
    assert smooth.activation_flips is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        history.loss = np.zeros(5)
    assert repr(history).startswith("TrainingHistory(steps=4, records=5, final_loss=")


def test_too_large_a_step_raises() -> None:
    X, y = inputs(6, 3, seed=30), targets(6, 31)
    with pytest.raises(ValueError, match=r"non-finite .*lr=1000.0 is too large"):
        gradient_descent(MLP(3, 16, 2, seed=4), X, y, lr=1e3, steps=200)
    # between two records too: the run stops at the first non-finite loss, not at the next record
    with pytest.raises(ValueError, match=r"non-finite at step \d+:") as error:
        gradient_descent(MLP(3, 16, 2, seed=4), X, y, lr=1e3, steps=200, record_every=1000)
    assert int(re.search(r"step (\d+)", str(error.value)).group(1)) < 20, str(error.value)


# --- bad input ---------------------------------------------------------------------------------

def test_gradient_descent_bad_arguments_name_the_argument() -> None:
    X, y = inputs(6, 3, seed=32), targets(6, 33)

    def run(**kwargs):
        args = dict(model=MLP(3, 8, 1), X=X, y=y, lr=0.1, steps=2) | kwargs
        return gradient_descent(args.pop("model"), args.pop("X"), args.pop("y"), **args)

    for kwargs, error, match in [
        (dict(y=y[:5]), ValueError, r"y must have 6 entries"),
        (dict(y=y[:, None]), ValueError, r"y must be 1-D"),
        (dict(y=torch.ones(6, dtype=torch.int64)), TypeError, r"y must have a floating dtype"),
        (dict(X=X[0]), ValueError, r"X must be 2-D"),
        (dict(X=X.long()), TypeError, r"X must have a floating dtype"),
        (dict(lr=0.0), ValueError, r"lr must be > 0"),
        (dict(lr=-1.0), ValueError, r"lr must be a finite number"),
        (dict(steps=0), ValueError, r"steps must be positive"),
        (dict(steps=2.0), TypeError, r"steps must be an integer"),
        (dict(ridge=-0.1), ValueError, r"ridge must be a finite number >= 0"),
        (dict(record_every=0), ValueError, r"record_every must be positive"),
        (dict(X_test=torch.ones(2, 4, dtype=torch.float64)), ValueError,
         r"X_test must have 3 columns like X, got 4"),
        (dict(X_test=torch.ones(4, dtype=torch.float64)), ValueError, r"X_test must be 2-D"),
    ]:
        with pytest.raises(error, match=match):
            run(**kwargs)
    frozen = MLP(3, 8, 1)
    for p in frozen.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match=r"has no trainable parameters"):
        run(model=frozen)


def test_closed_forms_bad_arguments_name_the_argument() -> None:
    K, K_test, y = pd_problem()
    for fn in (lambda *a: kernel_ridge(*a, ridge=0.1),
               lambda *a: gradient_flow_prediction(*a, t=1.0),
               lambda *a: gradient_descent_prediction(*a, lr=0.1, steps=3),
               lambda *a: ntkbook.ntk_loo_influence(*a, y_test=torch.zeros(5), ridge=0.1)):
        with pytest.raises(ValueError, match=r"K_train must be square"):
            fn(K[:, :7], K_test, y)
        with pytest.raises(ValueError, match=r"K_train must be 2-D"):
            fn(K[0], K_test, y)
        with pytest.raises(ValueError, match=r"K_test_train must have n = 8 columns"):
            fn(K, K_test[:, :7], y)
        with pytest.raises(ValueError, match=r"y_train must"):
            fn(K, K_test, y[:7])
        with pytest.raises(TypeError, match=r"y_train must have a floating dtype"):
            fn(K, K_test, y.long())
        with pytest.raises(ValueError, match=r"K_train must be symmetric"):
            fn(K + torch.triu(torch.ones_like(K), 1), K_test, y)
    with pytest.raises(ValueError, match=r"ridge must be a finite number >= 0"):
        kernel_ridge(K, K_test, y, ridge=-1e-3)
    indefinite = torch.diag(torch.tensor([1.0, -1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match=r"not positive definite"):
        kernel_ridge(indefinite, torch.ones(1, 2, dtype=torch.float64), y[:2], ridge=0.0)
    with pytest.raises(ValueError, match=r"not positive definite \(ridge=0.5\)"):
        kernel_ridge(indefinite, torch.ones(1, 2, dtype=torch.float64), y[:2], ridge=0.5)
    for fn in (lambda *a, **kw: gradient_flow_prediction(*a, 1.0, **kw),
               lambda *a, **kw: gradient_descent_prediction(*a, lr=0.1, steps=3, **kw)):
        with pytest.raises(ValueError, match=r"K_train must be positive semi-definite"):
            fn(indefinite, torch.ones(1, 2, dtype=torch.float64), y[:2])
        with pytest.raises(ValueError, match=r"f0_train must have 8 entries"):
            fn(K, K_test, y, f0_train=torch.zeros(7, dtype=torch.float64))
        with pytest.raises(ValueError, match=r"f0_test must have 5 entries"):
            fn(K, K_test, y, f0_test=torch.zeros(4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"t must be a finite number >= 0"):
        gradient_flow_prediction(K, K_test, y, -1.0)
    with pytest.raises(ValueError, match=r"t must be finite and >= 0"):
        gradient_flow_prediction(K, K_test, y, torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match=r"t must be a scalar or 1-D"):
        gradient_flow_prediction(K, K_test, y, torch.ones(2, 2))
    with pytest.raises(ValueError, match=r"lr must be > 0"):
        gradient_descent_prediction(K, K_test, y, lr=0.0, steps=3)
    with pytest.raises(ValueError, match=r"steps must be finite and >= 0"):
        gradient_descent_prediction(K, K_test, y, lr=0.1, steps=torch.tensor([-1]))
    with pytest.raises(ValueError, match=r"steps must be a finite number >= 0"):
        gradient_descent_prediction(K, K_test, y, lr=0.1, steps=-1)
    # A fractional step count has no meaning (and (1 − ηλ)^k is NaN for 1 − ηλ < 0).
    with pytest.raises(ValueError, match=r"steps must be whole numbers"):
        gradient_descent_prediction(K, K_test, y, lr=0.1, steps=2.5)
    with pytest.raises(ValueError, match=r"steps must be whole numbers"):
        gradient_descent_prediction(K, K_test, y, lr=0.1, steps=torch.tensor([1.0, 0.5]))
