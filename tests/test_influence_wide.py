"""Tests of ntkbook.influence.wide: the wide network trained on Zhang & Zhang's eq. 2.

Oracles: the closed-form minimizer of a region's quadratic (torch.func Jacobian, push-through
identity), a one-neuron problem whose minimizer sits on the kink of relu, random-direction
probes of local minimality, full-batch gradient descent from W(0) (autograd), retraining
without the point by the public API, and the kernel formula of the NTK limit.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.func import functional_call, jacrev

import ntkbook
from ntkbook.influence import RegularizedFit, nn_loo_influence, train_regularized


def objective(net, W, X, y, ridge, W0):
    out = torch.relu(X @ W.T) @ net.a / net.m**0.5
    return float(0.5 * ((out - y) ** 2).sum() + 0.5 * ridge * ((W - W0) ** 2).sum())


def small_problem(n=12, d=4, m=300, seed=0):
    X = ntkbook.data.sphere(n, d, seed=seed)
    y = torch.sin(2 * X[:, 0]) + 0.3 * X[:, 1]
    X_test = ntkbook.data.sphere(5, d, seed=seed + 100)
    return X, y, X_test, torch.sin(2 * X_test[:, 0]) + 0.3 * X_test[:, 1]


def test_without_flips_the_minimizer_is_the_regions_closed_form():
    # A strong ridge keeps W near W(0), so no pattern changes: the minimizer is
    # W(0) + Jᵀ(JJᵀ + λI)⁻¹(y − J W(0)) with J the Jacobian at W(0).
    X, y, _, _ = small_problem()
    net = ntkbook.TwoLayerReLU(4, 300, seed=1)
    ridge = 200.0
    fit = train_regularized(net, X, y, ridge)
    params = {"W": net.W.detach()}
    J = jacrev(lambda p: functional_call(net, p, (X,)))(params)["W"].reshape(X.shape[0], -1)
    f0 = net(X).detach()
    beta = torch.linalg.solve(J @ J.T + ridge * torch.eye(X.shape[0], dtype=X.dtype), y - f0)
    expected = net.W.detach() + (J.T @ beta).reshape(net.W.shape)
    assert fit.status == "exact"
    assert torch.equal(fit.pattern, X @ expected.T > 0)
    assert torch.allclose(fit.model.W, expected, rtol=0, atol=1e-12)


def test_a_minimizer_on_the_kink_is_found_exactly():
    # One neuron, one point: L(w) = ½(relu(w) + 1)² + ½(w − ½)². On the active side the
    # minimizer would be w = −¼ < 0, on the inactive side w = ½ > 0: the minimizer is the kink
    # w = 0, where the gradient does not exist.
    net = ntkbook.TwoLayerReLU(1, 1, seed=0)
    with torch.no_grad():
        net.W.fill_(0.5)
        net.a.fill_(1.0)
    X = torch.ones(1, 1, dtype=torch.float64)
    y = -torch.ones(1, dtype=torch.float64)
    fit = train_regularized(net, X, y, 1.0)
    assert fit.status == "exact"
    assert abs(float(fit.model.W)) < 1e-14
    assert bool(fit.on_kink.all())
    assert float(fit.objective[-1]) == pytest.approx(0.625, abs=1e-14)


@pytest.mark.parametrize("duplicate", [False, True])
def test_a_region_with_dependent_kinks_is_solved_as_the_full_kkt_system(duplicate):
    # Neuron 0 holds kinks at three inputs in d = 2 (or at one input twice over, a duplicated
    # training point): the constraints x_iᵀw_0 = 0 are dependent and E = CCᵀ is singular. The
    # region's minimizer is still unique; the oracle is a least-squares solve of the primal
    # KKT system min ½‖J_S w − y‖² + ½λ‖w − w(0)‖² s.t. C w = 0, built entry by entry.
    from ntkbook.influence import wide

    n, d, m, ridge = 7, 2, 4, 0.5
    X = ntkbook.data.sphere(n, d, seed=3)
    if duplicate:
        X[1] = X[0]
    y = torch.linspace(-1, 1, n, dtype=torch.float64)
    net = ntkbook.TwoLayerReLU(d, m, seed=4)
    problem = wide._Problem(X, y, net.W.detach(), net.a.detach(), ridge)
    reference = wide._Reference(problem, problem.W0)
    kink = torch.zeros(n, m, dtype=torch.bool)
    kink[[0, 1, 2], 0] = True                  # dependent: three inputs in d = 2, or a repeat
    kink[3, 1] = True                          # a lone kink
    kink[[4, 5], 2] = True                     # two independent kinks
    active = reference.positive & ~kink
    state = wide._State.create(problem, reference, active, kink)
    beta, rows, cols, gamma, _, distance2 = wide._solve_state(problem, state)
    W = problem.weights(beta, state.Sf, rows, cols, gamma)

    J = torch.zeros(n, m * d, dtype=torch.float64)
    for i in range(n):
        for r in range(m):
            if active[i, r]:
                J[i, r * d:(r + 1) * d] = net.a[r] / m**0.5 * X[i]
    C = torch.zeros(int(kink.sum()), m * d, dtype=torch.float64)
    for k, (i, r) in enumerate(kink.nonzero().tolist()):
        C[k, r * d:(r + 1) * d] = X[i]
    w0 = problem.W0.reshape(-1)
    top = torch.cat([J.T @ J + ridge * torch.eye(m * d, dtype=torch.float64), C.T], 1)
    bottom = torch.cat([C, torch.zeros(C.shape[0], C.shape[0], dtype=torch.float64)], 1)
    rhs = torch.cat([J.T @ y + ridge * w0, torch.zeros(C.shape[0], dtype=torch.float64)])
    expected = torch.linalg.lstsq(torch.cat([top, bottom]), rhs[:, None],
                                  driver="gelsd").solution[:m * d, 0].reshape(m, d)
    assert torch.allclose(W, expected, rtol=0, atol=1e-12)
    assert float((X @ W.T)[kink].abs().max()) < 1e-14
    assert distance2 == pytest.approx(float(((W - problem.W0) ** 2).sum()), rel=1e-12)


def test_a_small_initialization_with_dependent_kinks_trains_to_a_stop():
    # At kappa = 0.1 the first Newton steps cross so many pre-activations that some neurons
    # hold more kinks than the 3 input directions span: E = CCᵀ is singular in those regions.
    X = ntkbook.data.sphere(40, 3, seed=5)
    y = torch.sign(X[:, 0])
    net = ntkbook.TwoLayerReLU(3, 300, kappa=0.1, seed=5)
    fit = train_regularized(net, X, y, 1.0)
    assert fit.status in ("exact", "stalled", "stationary")
    assert float(fit.objective[-1]) < float(fit.objective[0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_fit_is_a_local_minimum_along_random_directions(seed):
    X, y, _, _ = small_problem(n=15, d=5, m=400, seed=seed)
    net = ntkbook.antisymmetric_copy(ntkbook.TwoLayerReLU(5, 400, seed=seed))
    ridge = 0.3
    fit = train_regularized(net, X, y, ridge)
    W, W0 = fit.model.W.detach(), net.W.detach()
    best = objective(net, W, X, y, ridge, W0)
    assert best == pytest.approx(float(fit.objective[-1]), rel=1e-12)
    g = torch.Generator().manual_seed(seed)
    for scale in (1e-2, 1e-4, 1e-6):
        for _ in range(100):
            D = torch.randn(W.shape, generator=g, dtype=W.dtype)
            D = scale * D / D.norm()
            assert objective(net, W + D, X, y, ridge, W0) >= best - 1e-13
    assert bool((fit.objective[1:] <= fit.objective[:-1] + 1e-12).all())


def test_agrees_with_full_batch_gradient_descent_from_the_initialization():
    # Gradient descent on eq. 2 from W(0) (the discretized flow of eq. 3), step 1/(λ_max + λ)
    # and then decaying. The loss is piecewise quadratic with many kinks, and the two methods
    # stop at nearby but different minimizers: over widths 4000–64000 and two seeds their test
    # predictions differed by 1.4e-6 to 4.6e-5 and their objectives by at most 8e-6 relative.
    # The tolerances below are about twice those spreads.
    X, y, X_test, _ = small_problem(n=8, d=3, m=16000, seed=4)
    net = ntkbook.antisymmetric_copy(ntkbook.TwoLayerReLU(3, 16000, seed=4))
    ridge = 1.0
    fit = train_regularized(net, X, y, ridge)
    W0 = net.W.detach()
    W = W0.clone().requires_grad_(True)
    lr = 1.0 / (float(torch.linalg.eigvalsh(ntkbook.empirical_ntk(net, X))[-1]) + ridge)
    for k in range(1, 20001):
        out = torch.relu(X @ W.T) @ net.a / net.m**0.5
        loss = 0.5 * ((out - y) ** 2).sum() + 0.5 * ridge * ((W - W0) ** 2).sum()
        (grad,) = torch.autograd.grad(loss, W)
        with torch.no_grad():
            W -= lr * min(1.0, 3000 / k) * grad
    with torch.no_grad():
        gd_test = torch.relu(X_test @ W.T) @ net.a / net.m**0.5
        newton_test = fit.model(X_test)
    gd_objective = objective(net, W.detach(), X, y, ridge, W0)
    assert abs(float(fit.objective[-1]) - gd_objective) < 2e-5 * gd_objective
    assert float((gd_test - newton_test).abs().max()) < 1e-4


@pytest.mark.parametrize("start", ["init", "warm"])
def test_loo_influence_is_retraining_without_the_point(start):
    X, y, X_test, y_test = small_problem(n=10, d=4, m=600, seed=5)
    net = ntkbook.antisymmetric_copy(ntkbook.TwoLayerReLU(4, 600, seed=5))
    ridge = 0.5
    fit = train_regularized(net, X, y, ridge)
    indices = [0, 3, 7]
    got = nn_loo_influence(net, X, y, X_test, y_test, ridge, indices=indices, start=start,
                           fit=fit)
    assert got.shape == (5, 3)
    with torch.no_grad():
        base = 0.5 * (fit.model(X_test) - y_test) ** 2
    for column, i in enumerate(indices):
        rows = [j for j in range(10) if j != i]
        begin = None if start == "init" else fit.model
        refit = train_regularized(net, X[rows], y[rows], ridge, start=begin)
        with torch.no_grad():
            expected = 0.5 * (refit.model(X_test) - y_test) ** 2 - base
        assert torch.allclose(got[:, column], expected, rtol=1e-6, atol=1e-12)


def test_wide_network_influence_approaches_the_kernel_formula():
    # Theorem 2 of Zhang & Zhang: I_nn → I_ntk as the width grows; the gap shrinks like a power
    # of m (the kernel's fluctuation alone is m^{-1/2}).
    X, y, X_test, y_test = small_problem(n=10, d=3, m=1, seed=6)
    ridge = 0.5
    K = ntkbook.relu_two_layer_ntk(X)
    expected = ntkbook.ntk_loo_influence(K, ntkbook.relu_two_layer_ntk(X_test, X), y, y_test,
                                         ridge)
    gaps = []
    widths = (1000, 16000)
    for m in widths:
        seed_gaps = []
        for seed in range(3):
            net = ntkbook.antisymmetric_copy(ntkbook.TwoLayerReLU(3, m, seed=seed))
            got = nn_loo_influence(net, X, y, X_test, y_test, ridge)
            seed_gaps.append(float((got - expected).norm() / expected.norm()))
        gaps.append(np.mean(seed_gaps))
    slope = np.log(gaps[1] / gaps[0]) / np.log(widths[1] / widths[0])
    assert gaps[1] < 0.1, gaps
    assert slope < -0.3, (gaps, slope)


def test_fit_record():
    X, y, _, _ = small_problem()
    net = ntkbook.TwoLayerReLU(4, 300, seed=2)
    fit = train_regularized(net, X, y, 0.5)
    assert isinstance(fit, RegularizedFit)
    assert fit.objective.shape == (fit.steps + 1,)
    assert fit.pattern.shape == fit.on_kink.shape == (12, 300)
    assert not bool((fit.pattern & fit.on_kink).any())
    assert fit.status in ("exact", "stationary", "stalled")
    assert torch.equal(fit.initial.W, net.W) and fit.model.W.data_ptr() != net.W.data_ptr()
    assert "RegularizedFit(" in repr(fit)


def test_bad_input_raises():
    X, y, X_test, y_test = small_problem()
    net = ntkbook.TwoLayerReLU(4, 50, seed=0)
    with pytest.raises(TypeError, match="TwoLayerReLU"):
        train_regularized(ntkbook.MLP(4, 10, 1), X, y, 1.0)
    with pytest.raises(ValueError, match="ridge"):
        train_regularized(net, X, y, 0.0)
    with pytest.raises(ValueError, match="columns"):
        train_regularized(net, X[:, :3], y, 1.0)
    with pytest.raises(TypeError, match="dtype"):
        train_regularized(net, X.float(), y.float(), 1.0)
    with pytest.raises(ValueError, match="NaN"):
        train_regularized(net, X, y * float("nan"), 1.0)
    with pytest.raises(ValueError, match="entries"):
        train_regularized(net, X, y[:-1], 1.0)
    with pytest.raises(ValueError, match="shape"):
        train_regularized(net, X, y, 1.0, start=torch.zeros(3, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match="start"):
        train_regularized(net, X, y, 1.0, start="W0")
    with pytest.raises(ValueError, match="start"):
        nn_loo_influence(net, X, y, X_test, y_test, 1.0, start="cold")
    with pytest.raises(ValueError, match="repeat"):
        nn_loo_influence(net, X, y, X_test, y_test, 1.0, indices=[1, 1])
    with pytest.raises(ValueError, match="lie in"):
        nn_loo_influence(net, X, y, X_test, y_test, 1.0, indices=[12])
    with pytest.raises(TypeError, match="integers"):
        nn_loo_influence(net, X, y, X_test, y_test, 1.0, indices=[0.7])
    with pytest.raises(ValueError, match="columns"):
        nn_loo_influence(net, X, y, X_test[:, :2], y_test, 1.0)
    fit = train_regularized(net, X, y, 1.0)
    with pytest.raises(ValueError, match="ridge"):
        nn_loo_influence(net, X, y, X_test, y_test, 2.0, fit=fit)
    with pytest.raises(ValueError, match="other data"):
        nn_loo_influence(net, X, -y, X_test, y_test, 1.0, fit=fit)
    with pytest.raises(ValueError, match="initialization"):
        nn_loo_influence(ntkbook.TwoLayerReLU(4, 50, seed=9), X, y, X_test, y_test, 1.0,
                         fit=fit)
    with pytest.raises(ValueError, match="at least 2"):
        nn_loo_influence(net, X[:1], y[:1], X_test, y_test, 1.0)
