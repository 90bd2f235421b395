"""Trained networks, their minima and two retraining truths (ntkbook.influence.fragility).

Oracles: the structured MLP path against ``torch.func`` on the same function; ridge regression's
closed-form minimizer and exact leave-one-out (chapter 7, Proposition 7.2: one Newton step with
H₋ᵢ is exact for a quadratic objective); chapter 7's Newton retraining and Koh & Liang influence
for logistic regression; brute-force refits of a network from the trained weights; scipy's
correlations for the agreement scores.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

import ntkbook
from ntkbook.influence import (
    agreement,
    cold_start_retraining,
    curvature,
    first_order_influence,
    fit_to_optimum,
    fragility_run,
    koh_liang_influence,
    leave_one_out_retraining,
    minimize,
    warm_start_retraining,
)
from ntkbook.influence import fragility as fr


class SameMLP(ntkbook.MLP):
    """The same network, but not of the class MLP: it takes the ``torch.func`` path."""


class Linear(nn.Module):
    def __init__(self, d: int, bias: bool = False) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(d, dtype=torch.float64))
        self.b = nn.Parameter(torch.zeros((), dtype=torch.float64)) if bias else None

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return X @ self.w + (0.0 if self.b is None else self.b)


def data(n: int, n_test: int, d: int, seed: int, labels: str = "real"):
    g = torch.Generator().manual_seed(seed)
    X = torch.nn.functional.normalize(torch.randn(n + n_test, d, generator=g,
                                                  dtype=torch.float64), dim=1)
    w = torch.randn(d, generator=g, dtype=torch.float64)
    y = torch.sin(2 * X @ w) + 0.1 * torch.randn(n + n_test, generator=g, dtype=torch.float64)
    if labels == "pm1":
        y = torch.where(y >= 0, 1.0, -1.0).to(torch.float64)
    return X[:n], y[:n], X[n:], y[n:]


def flat_vector(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


@pytest.mark.parametrize("activation", ["tanh", "erf", "gelu"])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_structured_path_equals_torch_func(activation: str, loss: str) -> None:
    X, y, _, _ = data(9, 0, 4, seed=1, labels="pm1")
    fast_net = ntkbook.MLP(4, 6, 2, activation=activation, seed=3)
    slow_net = SameMLP(4, 6, 2, activation=activation, seed=3)
    anchor = 0.3 * flat_vector(fast_net)
    fast = fr._Flat(fast_net, X, y, loss, 0.2, anchor)
    slow = fr._Flat(slow_net, X, y, loss, 0.2, anchor)
    assert fast.fast and not slow.fast
    w = fast.w + 0.1 * torch.randn(fast.P, generator=torch.Generator().manual_seed(0),
                                   dtype=torch.float64)
    keep = torch.ones(9, dtype=torch.float64)
    keep[4] = 0.0
    for k in (None, keep):
        torch.testing.assert_close(fast.gradient(w, k), slow.gradient(w, k), rtol=1e-12,
                                   atol=1e-13)
        v_fast, g_fast = fast.value_and_gradient(w, k)
        v_slow, g_slow = slow.value_and_gradient(w, k)
        assert v_fast == pytest.approx(v_slow, rel=1e-13)
        torch.testing.assert_close(g_fast, g_slow, rtol=1e-12, atol=1e-13)
        torch.testing.assert_close(fast.hessian(w, k), slow.hessian(w, k), rtol=1e-10,
                                   atol=1e-12)
    torch.testing.assert_close(fast.jacobian(w, X), slow.jacobian(w, X), rtol=1e-12,
                               atol=1e-13)
    per_example = fast.example_hessians(w, [0, 4, 8])
    torch.testing.assert_close(per_example, slow.example_hessians(w, [0, 4, 8]), rtol=1e-10,
                               atol=1e-12)
    # the full Hessian is the sum of the per-example ones plus the ridge
    total = fast.example_hessians(w, list(range(9))).sum(0) + 0.2 * torch.eye(fast.P,
                                                                             dtype=w.dtype)
    torch.testing.assert_close(total, fast.hessian(w), rtol=1e-10, atol=1e-12)


def test_minimize_reaches_the_closed_form_ridge_solution() -> None:
    X, y, _, _ = data(25, 0, 6, seed=2)
    model = Linear(6)
    anchor = torch.linspace(-1, 1, 6, dtype=torch.float64)
    found = minimize(model, X, y, ridge=0.3, anchor=anchor)
    # argmin ½‖Xw − y‖² + ½λ‖w − a‖²  =  (XᵀX + λI)⁻¹(Xᵀy + λa)
    H = X.T @ X + 0.3 * torch.eye(6, dtype=torch.float64)
    exact = torch.linalg.solve(H, X.T @ y + 0.3 * anchor)
    torch.testing.assert_close(model.w.detach(), exact, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(found.hessian, H, rtol=1e-12, atol=1e-12)
    assert found.gradient_norm <= 1e-10 and found.lambda_min > 0.3 - 1e-12
    assert found.data_negative == 0 and "Minimum(P=6" in repr(found)


def test_minimize_trains_a_network_to_a_strict_local_minimum() -> None:
    X, y, _, _ = data(20, 0, 3, seed=4)
    net = ntkbook.MLP(3, 8, 2, activation="tanh", seed=1)
    w0 = flat_vector(net)
    found = minimize(net, X, y, ridge=0.05, anchor="initial")
    flat = fr._Flat(net, X, y, "squared", 0.05, w0)
    assert float(flat.gradient(flat.w).norm()) <= 1e-10
    assert found.lambda_min > 0
    torch.testing.assert_close(found.hessian, flat.hessian(flat.w), rtol=1e-8, atol=1e-10)
    # ordinary weight decay: a different objective, a different minimizer
    other = ntkbook.MLP(3, 8, 2, activation="tanh", seed=1)
    minimize(other, X, y, ridge=0.05, anchor="zero")
    assert float((flat_vector(other) - flat.w).norm()) > 1e-3


def test_warm_start_retraining_is_exact_for_ridge_regression() -> None:
    X, y, Xt, yt = data(15, 4, 5, seed=5)
    model = Linear(5)
    found = minimize(model, X, y, ridge=0.2)
    out = warm_start_retraining(model, X, y, Xt, yt, ridge=0.2, hessian=found.hessian,
                                tol=1e-12)
    exact = ntkbook.ntk_loo_influence(X @ X.T, Xt @ X.T, y, yt, 0.2)
    torch.testing.assert_close(out.influence, exact, rtol=1e-8, atol=1e-12)
    # one Newton step with H₋ᵢ is exact for a quadratic objective (Proposition 7.2)
    torch.testing.assert_close(out.newton_influence, exact, rtol=1e-8, atol=1e-12)
    assert bool(out.convex_start.all()) and out.start == "warm"
    # the first-order estimate is not: it shrinks every effect
    first = first_order_influence(model, X, y, Xt, yt, hessian=found.hessian)
    assert float((first - exact).norm() / exact.norm()) > 1e-3


def test_warm_start_matches_chapter_7_for_logistic_regression() -> None:
    X, y, Xt, yt = data(30, 3, 4, seed=6, labels="pm1")
    model = Linear(4, bias=True)
    fit_to_optimum(model, X, y, loss="logistic", ridge=0.5)
    reference = leave_one_out_retraining(model, X, y, Xt, yt, indices=[0, 7, 19],
                                         loss="logistic", ridge=0.5)
    ours = warm_start_retraining(model, X, y, Xt, yt, indices=[0, 7, 19], loss="logistic",
                                 ridge=0.5, tol=1e-12)
    # chapter 7's Newton method stops when backtracking can no longer lower L in floating point
    # (‖∇L₋ᵢ‖ ≈ 4e-8 here); ours continues on ‖∇L₋ᵢ‖ to 1e-12, hence the 1e-5 tolerance
    torch.testing.assert_close(ours.influence, reference, rtol=1e-5, atol=1e-10)
    assert ours.indices == (0, 7, 19)
    # Koh & Liang's estimate from the same Hessian as chapter 7's direct solver
    H = fr._Flat(model, X, y, "logistic", 0.5, None).hessian(flat_vector(model))
    torch.testing.assert_close(
        first_order_influence(model, X, y, Xt, yt, hessian=H, loss="logistic"),
        koh_liang_influence(model, X, y, Xt, yt, loss="logistic", ridge=0.5).influence,
        rtol=1e-10, atol=1e-13)


def test_warm_start_retraining_of_a_network_equals_brute_force_refits() -> None:
    X, y, Xt, yt = data(24, 5, 3, seed=7)
    net = ntkbook.MLP(3, 10, 2, activation="tanh", seed=2)
    w0 = flat_vector(net)
    found = minimize(net, X, y, ridge=0.5, anchor="initial")
    chosen = [0, 5, 11, 23]
    out = warm_start_retraining(net, X, y, Xt, yt, indices=chosen, ridge=0.5, anchor=w0,
                                hessian=found.hessian, tol=1e-11)
    flat = fr._Flat(net, X, y, "squared", 0.5, w0)
    base = flat.test_losses(flat.w, Xt, yt)
    for column, i in enumerate(chosen):
        keep = torch.ones(24, dtype=torch.float64)
        keep[i] = 0.0
        # brute force: exact-Hessian Newton on L₋ᵢ from ŵ (a different algorithm)
        w, _, _ = fr._newton(flat, flat.w, keep, 1e-11, 200)
        torch.testing.assert_close(out.influence[:, column],
                                   flat.test_losses(w, Xt, yt) - base, rtol=1e-6, atol=1e-10)
        torch.testing.assert_close(out.distance[column], torch.linalg.vector_norm(w - flat.w),
                                   rtol=1e-5, atol=1e-9)
    assert bool(out.convex_start.all())


def test_non_convex_removals_still_end_at_a_stationary_point_below_the_start() -> None:
    X, y, Xt, yt = data(24, 3, 3, seed=8)
    net = ntkbook.MLP(3, 12, 2, activation="tanh", seed=0)
    w0 = flat_vector(net)
    found = minimize(net, X, y, ridge=1e-3, anchor="initial")
    out = warm_start_retraining(net, X, y, Xt, yt, ridge=1e-3, anchor=w0,
                                hessian=found.hessian, tol=1e-9)
    assert not bool(out.convex_start.all()), "expected some removals with indefinite H₋ᵢ(ŵ)"
    flat = fr._Flat(net, X, y, "squared", 1e-3, w0)
    # the refits of non-convex starts: redo one with the package's descent and check it
    i = int(torch.nonzero(~out.convex_start)[0])
    keep = torch.ones(24, dtype=torch.float64)
    keep[i] = 0.0
    M = found.hessian - flat.example_hessians(flat.w, [i])[0]
    chol, mu = fr._factor(M)
    assert mu > 0
    w, _ = fr._preconditioned_lbfgs(flat, flat.w, keep, torch.cholesky_inverse(chol), 1e-9,
                                    2000)
    assert float(flat.gradient(w, keep).norm()) <= 1e-9
    assert float(flat.value(w, keep)) < float(flat.value(flat.w, keep))


def test_cold_start_equals_warm_start_for_a_convex_objective() -> None:
    X, y, Xt, yt = data(14, 3, 4, seed=9, labels="pm1")
    model = Linear(4, bias=True)
    cold = cold_start_retraining(model, X, y, Xt, yt, indices=[1, 2, 9], loss="logistic",
                                 ridge=0.4, anchor=None, tol=1e-12)
    trained = Linear(4, bias=True)
    minimize(trained, X, y, loss="logistic", ridge=0.4)
    warm = warm_start_retraining(trained, X, y, Xt, yt, indices=[1, 2, 9], loss="logistic",
                                 ridge=0.4, tol=1e-12)
    torch.testing.assert_close(cold.influence, warm.influence, rtol=1e-7, atol=1e-12)
    assert cold.start == "cold" and cold.newton_influence is None
    assert float(model.w.detach().abs().max()) == 0.0, "the untrained model must not change"


def test_cold_start_of_a_network_refits_from_its_initialization() -> None:
    X, y, Xt, yt = data(12, 2, 3, seed=10)
    net = ntkbook.MLP(3, 6, 1, activation="tanh", seed=4)
    w0 = flat_vector(net)
    cold = cold_start_retraining(net, X, y, Xt, yt, indices=[3], ridge=0.3)
    torch.testing.assert_close(flat_vector(net), w0, rtol=0, atol=0)
    full, without = ntkbook.MLP(3, 6, 1, activation="tanh", seed=4), ntkbook.MLP(
        3, 6, 1, activation="tanh", seed=4)
    minimize(full, X, y, ridge=0.3, anchor=w0)
    keep = torch.arange(12) != 3
    minimize(without, X[keep], y[keep], ridge=0.3, anchor=w0)
    with torch.no_grad():
        expected = 0.5 * (without(Xt) - yt) ** 2 - 0.5 * (full(Xt) - yt) ** 2
    torch.testing.assert_close(cold.influence[:, 0], expected, rtol=1e-6, atol=1e-10)


def test_curvature_splits_the_hessian() -> None:
    X, y, _, _ = data(10, 0, 4, seed=11)
    model = Linear(4)
    minimize(model, X, y, ridge=0.1)
    linear = curvature(model, X, y, ridge=0.1)
    assert linear.nonlinearity < 1e-12  # a linear model has no curvature of its own
    torch.testing.assert_close(linear.eigenvalues, torch.linalg.eigvalsh(
        X.T @ X + 0.1 * torch.eye(4, dtype=torch.float64)), rtol=1e-10, atol=1e-12)
    net = ntkbook.MLP(4, 5, 2, activation="tanh", seed=0)
    shape = curvature(net, X, y, ridge=0.1)
    # oracle for G: the Jacobian from torch.func, contracted by hand
    flat = fr._Flat(SameMLP(4, 5, 2, activation="tanh", seed=0), X, y, "squared", 0.1, None)
    J = flat.jacobian(flat.w, X)
    G = J.T @ J + 0.1 * torch.eye(flat.P, dtype=torch.float64)
    torch.testing.assert_close(shape.gauss_newton_eigenvalues, torch.linalg.eigvalsh(G),
                               rtol=1e-9, atol=1e-11)
    N = flat.hessian(flat.w) - G
    expected = float(torch.linalg.matrix_norm(N, 2)) / float(torch.linalg.eigvalsh(G)[0])
    assert shape.nonlinearity == pytest.approx(expected, rel=1e-8)
    assert "Curvature(" in repr(shape)


def test_agreement_against_scipy() -> None:
    g = np.random.default_rng(0)
    truth = g.standard_normal((3, 20))
    estimate = truth + 0.5 * g.standard_normal((3, 20))
    result = agreement(torch.as_tensor(estimate), torch.as_tensor(truth), top=8)
    for r in range(3):
        top = np.argsort(-np.abs(truth[r]))[:8]
        assert result.pearson[r] == pytest.approx(stats.pearsonr(estimate[r, top],
                                                                 truth[r, top])[0])
        assert result.spearman[r] == pytest.approx(stats.spearmanr(estimate[r, top],
                                                                   truth[r, top])[0])
    by_estimate = agreement(estimate, truth, top=8, by="estimate")
    top = np.argsort(-np.abs(estimate[0]))[:8]
    assert by_estimate.spearman[0] == pytest.approx(stats.spearmanr(estimate[0, top],
                                                                    truth[0, top])[0])
    everything = agreement(estimate[0], truth[0])
    assert everything.mean_pearson == pytest.approx(stats.pearsonr(estimate[0], truth[0])[0])
    assert "Agreement(rows=3, top=8" in repr(result)


def test_agreement_refuses_bad_inputs() -> None:
    a = np.arange(10.0)
    with pytest.raises(ValueError, match="same shape"):
        agreement(a, a[:9])
    with pytest.raises(ValueError, match="at least 3 points"):
        agreement(a, a, top=2)
    with pytest.raises(ValueError, match="at most the 10"):
        agreement(a, a, top=11)
    with pytest.raises(ValueError, match="constant"):
        agreement(np.ones(10), a)
    with pytest.raises(ValueError, match="by must be"):
        agreement(a, a, by="both")
    with pytest.raises(ValueError, match="NaN"):
        agreement(np.full(10, np.nan), a)
    with pytest.raises(TypeError, match="tensor or an array"):
        agreement([1.0, 2.0, 3.0], a[:3])


def test_inputs_are_validated() -> None:
    X, y, Xt, yt = data(8, 2, 3, seed=12)
    net = ntkbook.MLP(3, 4, 1, seed=0)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        minimize("net", X, y)
    with pytest.raises(ValueError, match="loss must be one of"):
        minimize(net, X, y, loss="hinge")
    with pytest.raises(ValueError, match="anchor must be"):
        minimize(net, X, y, anchor="init")
    with pytest.raises(ValueError, match="labels y = ±1"):
        minimize(net, X, y, loss="logistic")
    with pytest.raises(ValueError, match="ridge must be"):
        minimize(net, X, y, ridge=-1.0)
    with pytest.raises(ValueError, match="P = 6720"):
        minimize(ntkbook.MLP(3, 80, 2), X, y)
    with pytest.raises(ValueError, match="anchor='initial' would take"):
        warm_start_retraining(net, X, y, Xt, yt, anchor="initial")
    with pytest.raises(ValueError, match="X_test must have 3 columns"):
        warm_start_retraining(net, X, y, Xt[:, :2], yt)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 8\)"):
        warm_start_retraining(net, X, y, Xt, yt, indices=[8])
    with pytest.raises(ValueError, match="hessian must have shape"):
        first_order_influence(net, X, y, Xt, yt, hessian=torch.eye(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="not positive definite"):
        first_order_influence(net, X, y, Xt, yt, hessian=-torch.eye(16, dtype=torch.float64))
    with pytest.raises(ValueError, match="anchor must be one of"):
        fragility_run(X, y, Xt, yt, depth=1, width=4, ridge=0.1, anchor="init")


def test_fragility_run_puts_the_pieces_together() -> None:
    X, y, Xt, yt = data(16, 4, 3, seed=13)
    run = fragility_run(X, y, Xt, yt, depth=1, width=6, ridge=0.5, seed=1)
    assert run.parameters == 6 * 3 + 6 and "FragilityRun(depth=1" in repr(run)
    assert run.retraining.influence.shape == (4, 16) and run.influence.shape == (4, 16)
    assert run.minimum.gradient_norm <= 1e-10 and run.minimum.lambda_min > 0
    first = run.agreement(top=None)
    direct = agreement(run.influence, run.retraining.influence)
    np.testing.assert_allclose(first.spearman, direct.spearman)
    newton = run.agreement([0, 2], top=5, estimate="newton")
    assert newton.pearson.shape == (2,)
    with pytest.raises(ValueError, match="estimate must be"):
        run.agreement(estimate="second_order")
    net = ntkbook.MLP(3, 6, 1, activation="tanh", seed=1)
    moved = float((flat_vector(net) - torch.cat([p.detach().reshape(-1) for p in
                                                  net.parameters()])).norm())
    assert moved == 0.0 and 0 < run.relative_distance < 10
