"""Implicit bias of gradient descent on linear models (ntkbook.implicit_bias).

Oracles: gradient descent from zero vs the pseudo-inverse; the iterates vs their closed form in
the SVD basis; gradient flow vs the linear ODE solved by a matrix exponential; ridge vs a direct
linear solve; the expected risk vs Monte Carlo over the noise; one logistic step vs autograd;
the SVM vs its KKT conditions, vs an independent quadratic-program solver (Lawson–Hanson least
distance programming through scipy's NNLS) and vs a brute-force search over directions in 2-D;
bad inputs vs the documented errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize
import torch
from hypothesis import given
from hypothesis import strategies as st

from ntkbook import data
from ntkbook import implicit_bias as ib


def problem(n: int = 8, d: int = 20, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    return X, torch.randn(n, generator=g, dtype=torch.float64)


def stable_lr(X: torch.Tensor, fraction: float = 0.9) -> float:
    return fraction * 2.0 / float(torch.linalg.matrix_norm(X, ord=2)) ** 2


# --- least squares -----------------------------------------------------------------------------


def test_gd_from_zero_reaches_the_minimum_norm_solution() -> None:
    X, y = problem(8, 20)
    path = ib.least_squares_gd(X, y, lr=stable_lr(X, 0.5), steps=4000, record_steps=[4000])
    w = torch.as_tensor(path.weights[-1])
    pinv = torch.linalg.pinv(X) @ y
    assert float(torch.linalg.norm(w - pinv)) < 1e-10 * float(torch.linalg.norm(pinv))
    # Any other interpolant w + v, v in the null space, is longer.
    null = torch.linalg.svd(X).Vh[8:]
    others = w[None, :] + torch.randn(5, 12, dtype=torch.float64) @ null
    assert torch.allclose(others @ X.T, (X @ w).expand(5, -1), atol=1e-10)
    assert bool((torch.linalg.norm(others, dim=1) > torch.linalg.norm(w)).all())


@pytest.mark.parametrize("start", [False, True])
def test_gd_iterates_equal_their_closed_form(start: bool) -> None:
    X, y = problem(6, 15, seed=1)
    w0 = torch.randn(15, generator=torch.Generator().manual_seed(2),
                     dtype=torch.float64) if start else None
    lr = stable_lr(X, 0.8)
    path = ib.least_squares_gd(X, y, lr=lr, steps=300, w0=w0)
    closed = ib.least_squares_closed_form(X, y, path.step, lr=lr, w0=w0).numpy()
    assert path.weights.shape == (301, 15)
    np.testing.assert_allclose(closed, path.weights, rtol=0, atol=1e-11)
    np.testing.assert_allclose(path.loss, 0.5 * ((path.weights @ X.numpy().T - y.numpy()) ** 2)
                               .sum(1), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(path.norm, np.linalg.norm(path.weights, axis=1), rtol=1e-13)


def test_gd_from_a_start_keeps_its_null_space_part() -> None:
    X, y = problem(5, 12, seed=3)
    w0 = torch.randn(12, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    P = torch.linalg.pinv(X)
    expected = P @ y + (torch.eye(12, dtype=torch.float64) - P @ X) @ w0
    limit = ib.least_squares_limit(X, y, w0)
    assert torch.allclose(limit, expected, atol=1e-12)
    path = ib.least_squares_gd(X, y, lr=stable_lr(X, 0.5), steps=5000, w0=w0,
                               record_steps=[0, 5000])
    assert np.allclose(path.weights[-1], limit.numpy(), atol=1e-9)
    assert torch.allclose(ib.least_squares_limit(X, y), P @ y, atol=1e-12)


def test_gradient_flow_solves_the_linear_ode() -> None:
    # dw/dt = −XᵀX w + Xᵀy, solved with the block exponential [[−A, b], [0, 0]] (no inverse).
    X, y = problem(4, 9, seed=5)
    w0 = torch.randn(9, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    A, b = (X.T @ X).numpy(), (X.T @ y).numpy()
    M = np.zeros((10, 10))
    M[:9, :9], M[:9, 9] = -A, b
    times = [0.0, 0.05, 0.3, 2.0]
    flow = ib.least_squares_flow(X, y, times, w0=w0).numpy()
    for row, t in zip(flow, times):
        expected = (scipy.linalg.expm(M * t) @ np.append(w0.numpy(), 1.0))[:9]
        np.testing.assert_allclose(row, expected, rtol=1e-9, atol=1e-11)
    # Small steps: gradient descent after k steps approaches the flow at t = ηk.
    lr = 1e-4
    gd = ib.least_squares_closed_form(X, y, [3000], lr=lr, w0=w0)
    assert float(torch.linalg.norm(gd[0] - ib.least_squares_flow(X, y, 0.3, w0=w0)[0])) < 1e-3


def test_ridge_path_matches_a_direct_solve_and_tends_to_pinv() -> None:
    X, y = problem(7, 16, seed=7)
    lams = [1e-3, 0.1, 1.0, 30.0]
    path = ib.ridge_path(X, y, lams)
    for row, lam in zip(path, lams):
        direct = torch.linalg.solve(X.T @ X + lam * torch.eye(16, dtype=torch.float64), X.T @ y)
        assert torch.allclose(row, direct, rtol=1e-9, atol=1e-11)
    pinv = torch.linalg.pinv(X) @ y
    assert torch.allclose(ib.ridge_path(X, y, 0.0)[0], pinv, atol=1e-12)
    assert float(torch.linalg.norm(ib.ridge_path(X, y, 1e-9)[0] - pinv)) < 1e-6


def test_expected_risk_matches_monte_carlo() -> None:
    X, _ = problem(10, 25, seed=8)
    w_star = torch.randn(25, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    noise_var, draws = 0.3, 4000
    eps = math.sqrt(noise_var) * torch.randn(draws, 10, generator=torch.Generator().manual_seed(10),
                                             dtype=torch.float64)
    Y = X @ w_star + eps  # (draws, n)
    U, s, Vh = torch.linalg.svd(X, full_matrices=False)
    for kind, value in (("ridges", 0.7), ("times", 0.05)):
        h = s**2 / (s**2 + value) if kind == "ridges" else 1 - torch.exp(-value * s**2)
        estimates = (Y @ U * (h / s)) @ Vh  # the estimator applied to every noisy draw
        losses = ((estimates - w_star) ** 2).sum(1)
        mc, se = float(losses.mean()), float(losses.std() / math.sqrt(draws))
        exact = float(ib.expected_risk(X, w_star, noise_var, **{kind: value})[0])
        assert abs(mc - exact) < 4 * se, f"{kind}: MC {mc:.4f} ± {se:.4f}, exact {exact:.4f}"


@pytest.mark.parametrize("seed", range(5))
def test_flow_risk_is_within_the_ali_et_al_factor_of_ridge(seed: int) -> None:
    # Coordinatewise: e^{−x} ≤ 1/(1+x) for the bias and (1 − e^{−x})² ≤ c* (x/(1+x))² for the
    # variance, with c* = max_x ((1 − e^{−x})(1 + x)/x)² ≈ 1.6859.
    x = np.linspace(1e-3, 20, 200_001)
    c_star = (((1 - np.exp(-x)) * (1 + x) / x) ** 2).max()  # ≈ 1.68591
    X, _ = problem(12, 30, seed=seed)
    w_star = torch.randn(30, generator=torch.Generator().manual_seed(100 + seed),
                         dtype=torch.float64)
    times = np.geomspace(1e-3, 1e3, 40)
    for noise_var in (0.0, 0.1, 10.0):
        flow = ib.expected_risk(X, w_star, noise_var, times=times)
        ridge = ib.expected_risk(X, w_star, noise_var, ridges=1 / times)
        assert float((flow / ridge).max()) <= c_star + 1e-9
        if noise_var == 0.0:  # pure bias: gradient flow is never worse
            assert bool((flow <= ridge * (1 + 1e-12)).all())


@given(n=st.integers(1, 8), extra=st.integers(1, 8), seed=st.integers(0, 10_000))
def test_the_paths_share_their_endpoints_and_order_for_any_problem(n, extra, seed) -> None:
    # For every under-determined problem: step 0 is the start, the ridge norm falls with λ and
    # stays below ‖X⁺y‖, gradient flow never shrinks more than ridge at λ = 1/t, and both paths
    # end at X⁺y.
    X, y = problem(n, n + extra, seed=seed)
    pinv = torch.linalg.pinv(X) @ y
    w0 = torch.ones(n + extra, dtype=torch.float64)
    assert torch.allclose(ib.least_squares_closed_form(X, y, [0], lr=0.01, w0=w0)[0], w0)
    norms = torch.linalg.norm(ib.ridge_path(X, y, [1e-8, 0.1, 1.0, 10.0]), dim=1)
    assert bool((norms[1:] <= norms[:-1] + 1e-12).all())
    assert float(norms[0]) <= float(torch.linalg.norm(pinv)) * (1 + 1e-9)
    times = torch.tensor([0.01, 0.3, 5.0], dtype=torch.float64)
    flow = torch.linalg.norm(ib.least_squares_flow(X, y, times), dim=1)
    ridge = torch.linalg.norm(ib.ridge_path(X, y, 1 / times), dim=1)
    assert bool((flow >= ridge * (1 - 1e-12)).all())
    late = 1e6 / float(torch.linalg.svdvals(X).min()) ** 2
    assert torch.allclose(ib.least_squares_flow(X, y, late)[0], pinv, atol=1e-9)


# --- logistic regression and the max-margin solution --------------------------------------------


def separable(seed: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    return data.linearly_separable(30, 2, margin=0.3, seed=seed)


def test_one_logistic_step_is_a_gradient_step() -> None:
    X, y = data.linearly_separable(20, 4, margin=0.1, seed=1)
    c = torch.rand(20, generator=torch.Generator().manual_seed(2), dtype=torch.float64) + 0.5
    w0 = torch.randn(4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    bound = 8.0 / float(torch.linalg.matrix_norm(c.sqrt()[:, None] * X, ord=2)) ** 2
    lr = 0.5 * bound
    path = ib.logistic_gd(X, y, lr=lr, steps=1, sample_weight=c, w0=w0)
    w = w0.clone().requires_grad_(True)
    loss = (c * torch.nn.functional.softplus(-y * (X @ w))).sum()
    (grad,) = torch.autograd.grad(loss, w)
    np.testing.assert_allclose(path.weights[1], (w0 - lr * grad).detach().numpy(), atol=1e-13)
    assert math.isclose(path.loss[0], float(loss.detach()), rel_tol=1e-13)


def test_logistic_record_is_consistent_with_the_weights() -> None:
    X, y = separable()
    svm = ib.max_margin(X, y)
    path = ib.logistic_gd(X, y, lr=stable_lr(X, 1.0), steps=2000, reference=svm.w,
                          record_steps=ib.log_steps(2000, 20))
    W = path.weights
    norms = np.linalg.norm(W, axis=1)
    np.testing.assert_allclose(path.norm, norms, rtol=1e-13)
    G = (y[:, None] * X).numpy()
    np.testing.assert_allclose(path.margin, (W @ G.T).min(1) / norms, rtol=1e-12)
    cos = W @ svm.direction.numpy() / norms
    np.testing.assert_allclose(np.cos(path.angle), cos, atol=1e-12)
    assert bool(np.all(np.diff(path.loss) < 0)), "the loss must decrease at a stable step size"
    assert path.step[0] == 1 and path.step[-1] == 2000


def test_max_margin_satisfies_the_kkt_conditions() -> None:
    X, y = data.linearly_separable(80, 6, margin=0.2, seed=4)
    svm = ib.max_margin(X, y)
    margins = y * (X @ svm.w)
    S = svm.support
    assert float(margins.min()) >= 1 - 1e-5                             # primal feasibility
    assert float((margins[S] - 1).abs().max()) < 1e-5                   # equality on the SVs
    assert bool((svm.alpha >= 0).all())                                 # dual feasibility
    off = torch.ones(80, dtype=torch.bool)
    off[S] = False
    assert float(svm.alpha[off].abs().max()) == 0.0                     # complementary slackness
    stationarity = svm.w - (svm.alpha * y) @ X
    assert float(torch.linalg.norm(stationarity)) < 1e-6 * float(torch.linalg.norm(svm.w))
    assert math.isclose(svm.margin, 1 / float(torch.linalg.norm(svm.w)), rel_tol=1e-12)
    assert len(S) >= 1 and "support_vectors" in repr(svm)


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_max_margin_agrees_with_least_distance_programming(seed: int) -> None:
    # Lawson & Hanson: min ‖w‖ s.t. Gw ≥ 1 from the NNLS problem min ‖[Gᵀ; 1ᵀ]u − e_{d+1}‖, u ≥ 0.
    X, y = data.linearly_separable(60, 5, margin=0.2, seed=seed)
    G = (y[:, None] * X).numpy()
    E = np.vstack([G.T, np.ones((1, 60))])
    f = np.zeros(6)
    f[-1] = 1.0
    u, _ = scipy.optimize.nnls(E, f)
    r = E @ u - f
    w_ldp = -r[:5] / r[5]
    svm = ib.max_margin(X, y)
    assert np.linalg.norm(svm.w.numpy() - w_ldp) < 1e-5 * np.linalg.norm(w_ldp)


def test_max_margin_in_the_plane_beats_every_direction_on_a_grid() -> None:
    X, y = separable(seed=14)
    svm = ib.max_margin(X, y)
    phi = np.linspace(0, 2 * np.pi, 200_001)
    U = np.stack([np.cos(phi), np.sin(phi)], 1)
    best = ((y[:, None] * X).numpy() @ U.T).min(0).max()
    assert svm.margin >= best - 1e-9
    assert svm.margin - best < 1e-4  # the grid step is 3e-5 rad


def test_gd_direction_converges_to_the_svm_with_the_predicted_offset() -> None:
    X, y = separable()
    svm = ib.max_margin(X, y)
    lr = stable_lr(X, 0.9)
    steps = 100_000
    path = ib.logistic_gd(X, y, lr=lr, steps=steps, reference=svm.w,
                          record_steps=[10, 1000, steps])
    assert path.angle[-1] < path.angle[0]
    assert path.norm[-1] > path.norm[1] > path.norm[0]
    offset = ib.asymptotic_offset(X, y, svm, lr=lr)
    S = svm.support
    # The defining equations: η exp(−y_i x_iᵀw̃) = α_i on the support vectors.
    assert torch.allclose(lr * torch.exp(-y[S] * (X[S] @ offset)), svm.alpha[S], rtol=1e-8)
    residual = path.weights[-1] - svm.w.numpy() * math.log(steps)
    assert np.linalg.norm(residual - offset.numpy()) < 0.1 * np.linalg.norm(offset.numpy())


def test_importance_weights_shift_only_the_offset() -> None:
    X, y = separable()
    svm = ib.max_margin(X, y)
    c = torch.where(y > 0, 5.0, 1.0).to(torch.float64)
    lr = 0.9 * 8.0 / float(torch.linalg.matrix_norm(c.sqrt()[:, None] * X, ord=2)) ** 2
    plain = ib.asymptotic_offset(X, y, svm, lr=lr)
    weighted = ib.asymptotic_offset(X, y, svm, lr=lr, sample_weight=c)
    S = svm.support
    shift = y[S] * (X[S] @ (weighted - plain))
    assert torch.allclose(shift, torch.log(c[S]), atol=1e-10)


# --- data --------------------------------------------------------------------------------------


def test_linearly_separable_has_at_least_the_requested_margin() -> None:
    for seed in range(3):
        X, y = data.linearly_separable(50, 4, margin=0.25, seed=seed)
        assert X.shape == (50, 4) and set(y.tolist()) == {1.0, -1.0}
        assert ib.max_margin(X, y).margin >= 0.25 - 1e-6
    assert torch.equal(data.linearly_separable(5, 3, seed=1)[0],
                       data.linearly_separable(5, 3, seed=1)[0])


def test_linear_regression_draws_from_its_model() -> None:
    reg = data.linear_regression(200, 3, n_test=5000, noise=0.0, seed=2)
    assert torch.allclose(reg.X_test @ reg.w_star, reg.y_test)
    noisy = data.linear_regression(10, 3, n_test=20000, noise=0.5, decay=1.0, seed=3)
    residual = noisy.y_test - noisy.X_test @ noisy.w_star
    assert abs(float(residual.std()) - 0.5) < 0.02
    column_var = noisy.X_test.var(0)
    assert torch.allclose(column_var, torch.tensor([1.0, 0.5, 1 / 3], dtype=torch.float64),
                          rtol=0.05)
    assert "n_train=10" in repr(noisy)


# --- bad inputs --------------------------------------------------------------------------------


def test_bad_inputs_raise_the_documented_errors() -> None:
    X, y = problem(5, 10)
    lr = stable_lr(X)
    with pytest.raises(ValueError, match="lr"):
        ib.least_squares_gd(X, y, lr=1.01 * 2 / float(torch.linalg.matrix_norm(X, ord=2)) ** 2,
                            steps=3)
    with pytest.raises(ValueError, match="y"):
        ib.least_squares_gd(X, y[:4], lr=lr, steps=3)
    with pytest.raises(ValueError, match="w0"):
        ib.least_squares_gd(X, y, lr=lr, steps=3, w0=torch.zeros(9, dtype=torch.float64))
    with pytest.raises(ValueError, match="record_steps"):
        ib.least_squares_gd(X, y, lr=lr, steps=3, record_steps=[0, 4])
    with pytest.raises(TypeError, match="X"):
        ib.least_squares_gd(X.numpy(), y, lr=lr, steps=3)
    with pytest.raises(ValueError, match="ridges"):
        ib.ridge_path(X, y, [1.0, -0.1])
    with pytest.raises(ValueError, match="steps"):
        ib.least_squares_closed_form(X, y, [1.5], lr=lr)
    with pytest.raises(ValueError, match="times"):
        ib.least_squares_flow(X, y, [float("nan")])
    with pytest.raises(ValueError, match="exactly one"):
        ib.expected_risk(X, torch.zeros(10, dtype=torch.float64), 0.1, ridges=1.0, times=1.0)
    with pytest.raises(ValueError, match="noise_variance"):
        ib.expected_risk(X, torch.zeros(10, dtype=torch.float64), -0.1, ridges=1.0)

    Xs, ys = separable()
    lr_s = stable_lr(Xs)
    with pytest.raises(ValueError, match="lr"):
        ib.logistic_gd(Xs, ys, lr=8.01 / float(torch.linalg.matrix_norm(Xs, ord=2)) ** 2, steps=2)
    with pytest.raises(ValueError, match=r"\+1 and -1"):
        ib.logistic_gd(Xs, (ys + 1) / 2, lr=lr_s, steps=2)
    with pytest.raises(ValueError, match="sample_weight"):
        ib.logistic_gd(Xs, ys, lr=lr_s, steps=2, sample_weight=torch.zeros(30, dtype=Xs.dtype))
    with pytest.raises(ValueError, match="reference"):
        ib.logistic_gd(Xs, ys, lr=lr_s, steps=2, reference=torch.zeros(2, dtype=Xs.dtype))
    with pytest.raises(ValueError, match="both labels"):
        ib.max_margin(Xs, torch.ones(30, dtype=Xs.dtype))
    flipped, _ = data.flip_labels(ys, 0.2, seed=0)
    with pytest.raises(ValueError, match="not linearly separable"):
        ib.max_margin(Xs, flipped)
    with pytest.raises(ValueError, match="C = "):
        ib.max_margin(Xs, ys, C=1e-3)
    # Two support vectors along e₁ in ℝ³ leave the offset's other coordinates undetermined.
    X3 = torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [2.0, 1.0, 0.0]], dtype=torch.float64)
    y3 = torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64)
    with pytest.raises(ValueError, match="span"):
        ib.asymptotic_offset(X3, y3, ib.max_margin(X3, y3), lr=0.01)
    with pytest.raises(ValueError, match="num"):
        ib.log_steps(10, 0)
