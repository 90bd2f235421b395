"""Oymak et al.'s information/nuisance split and bounds (ntkbook.theory) against oracles.

Oracles: projections onto the top eigenvectors of an explicit J Jᵀ (numpy eigendecomposition);
the closed-form linearized residual against the recursion r ← (I − ηJJᵀ) r run step by step;
J_I^† r₀ against torch.linalg.pinv of the truncated Jacobian; the structured Jacobian change of
the two-layer ReLU net against explicit torch.func Jacobians; bad inputs against the documented
errors.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

import ntkbook
from ntkbook import theory


def _jacobian(n: int, p: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    # Decaying column scales give a spread spectrum, as a network Jacobian has.
    scales = torch.logspace(0, -2, p, dtype=torch.float64)
    return torch.randn(n, p, generator=g, dtype=torch.float64) * scales


def _cutoff_between(J: torch.Tensor, c: int) -> float:
    s = torch.linalg.svdvals(J)
    return float(0.5 * (s[c - 1] + s[c]))


@pytest.mark.parametrize("n,p,c", [(12, 30, 4), (12, 8, 3), (20, 20, 1)])
def test_projections_match_the_eigendecomposition_of_JJt(n: int, p: int, c: int) -> None:
    J = _jacobian(n, p)
    alpha = _cutoff_between(J, c)
    split = theory.information_split(J, cutoff=alpha)
    assert split.rank == c
    evals, evecs = np.linalg.eigh((J @ J.T).numpy())
    E = evecs[:, evals > alpha**2]
    r = torch.randn(3, n, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    expected_I = r.numpy() @ E @ E.T
    np.testing.assert_allclose(split.information(r).numpy(), expected_I, atol=1e-10)
    np.testing.assert_allclose(split.nuisance(r).numpy(), r.numpy() - expected_I, atol=1e-10)
    info, nuis = split.norms(r)
    np.testing.assert_allclose(info, np.linalg.norm(expected_I, axis=1), atol=1e-10)
    np.testing.assert_allclose(nuis, np.linalg.norm(r.numpy() - expected_I, axis=1), atol=1e-10)


def test_kernel_and_jacobian_give_the_same_split() -> None:
    J = _jacobian(15, 40, seed=2)
    alpha = _cutoff_between(J, 5)
    a = theory.information_split(J, cutoff=alpha)
    b = theory.information_split(kernel=J @ J.T, cutoff=alpha)
    assert a.rank == b.rank == 5
    torch.testing.assert_close(a.singular_values, b.singular_values, atol=1e-7, rtol=1e-7)
    r = torch.randn(15, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    torch.testing.assert_close(a.information(r), b.information(r), atol=1e-9, rtol=0)


def test_split_of_a_network_kernel_matches_its_explicit_jacobian() -> None:
    X = ntkbook.data.sphere(10, 4, seed=0)
    net = ntkbook.TwoLayerReLU(4, 30, seed=0)
    J = torch.cat([t.reshape(10, -1) for t in ntkbook.empirical.jacobian(net, X).values()], 1)
    K = ntkbook.empirical_ntk(net, X)
    alpha = _cutoff_between(J, 3)
    r = torch.randn(10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(theory.information_split(J, cutoff=alpha).nuisance(r),
                               theory.information_split(kernel=K, cutoff=alpha).nuisance(r),
                               atol=1e-9, rtol=0)


@pytest.mark.parametrize("n,p", [(10, 25), (10, 4)])
def test_linearized_residual_matches_the_recursion(n: int, p: int) -> None:
    J = _jacobian(n, p, seed=4)
    split = theory.information_split(J, cutoff=_cutoff_between(J, 2))
    lr = 0.9 / float(torch.linalg.svdvals(J)[0]) ** 2
    r = torch.randn(n, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    closed = theory.linearized_residual(split, r, lr=lr, steps=[0, 1, 7, 50])
    K = J @ J.T
    recursion, current = {}, r.clone()
    for tau in range(51):
        recursion[tau] = current.clone()
        current = current - lr * K @ current
    for row, tau in zip(closed, (0, 1, 7, 50)):
        torch.testing.assert_close(row, recursion[tau], atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(theory.linearized_residual(split, r, lr=lr, steps=7),
                               recursion[7], atol=1e-10, rtol=1e-10)
    if p < n:  # directions outside the range of J never move
        torch.testing.assert_close(closed[-1] @ split.vectors[:, p:], r @ split.vectors[:, p:],
                                   atol=1e-10, rtol=0)


@pytest.mark.parametrize("seed", range(5))
def test_linearized_residual_obeys_its_bound(seed: int) -> None:
    J = _jacobian(12, 20, seed=seed)
    split = theory.information_split(J, cutoff=_cutoff_between(J, 3))
    lr = 1.0 / float(split.singular_values[0]) ** 2
    r = torch.randn(12, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    steps = np.arange(0, 200, 7)
    norms = torch.linalg.vector_norm(theory.linearized_residual(split, r, lr=lr, steps=steps),
                                     dim=1).numpy()
    bound = theory.linearized_residual_bound(split, r, lr=lr, steps=steps)
    assert np.all(norms <= bound + 1e-12)
    assert bound[0] >= norms[0] and bound[0] <= math.sqrt(2) * norms[0] + 1e-12


def test_linearized_bound_on_the_cutoff_direction_and_the_null_space() -> None:
    # r₀ = 3u₂ + 4u₃ with λ₂ = 1 just above α and λ₃ = 0: each part meets its bound exactly.
    J = torch.diag(torch.tensor([2.0, 1.0, 0.0], dtype=torch.float64))
    split = theory.information_split(J, cutoff=1.0 - 1e-12)
    lr = 0.25
    r = torch.tensor([0.0, 3.0, 4.0], dtype=torch.float64)
    residual = theory.linearized_residual(split, r, lr=lr, steps=5)
    torch.testing.assert_close(residual, torch.tensor([0.0, 3 * 0.75**5, 4.0],
                                                      dtype=torch.float64))
    bound = theory.linearized_residual_bound(split, r, lr=lr, steps=5)
    assert bound == pytest.approx(0.75**5 * 3 + 4, rel=1e-9)
    for part in (torch.tensor([0.0, 3.0, 0.0], dtype=torch.float64),
                 torch.tensor([0.0, 0.0, 4.0], dtype=torch.float64)):
        attained = float(torch.linalg.vector_norm(
            theory.linearized_residual(split, part, lr=lr, steps=5)))
        assert theory.linearized_residual_bound(split, part, lr=lr, steps=5) == pytest.approx(
            attained, rel=1e-9)


def test_meta_theorem_bound_terms() -> None:
    J = _jacobian(10, 30, seed=6)
    c = 3
    split = theory.information_split(J, cutoff=_cutoff_between(J, c))
    r = torch.randn(10, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    beta = 1.1 * float(split.singular_values[0])
    lr, gamma, delta = 1.0 / beta**2, 2.0, 0.3
    out = theory.meta_theorem_bound(split, r, lr=lr, gamma=gamma, delta=delta, beta=beta)
    info, nuis = (float(v) for v in split.norms(r))
    alpha = split.cutoff
    expected = math.exp(-gamma) * info + nuis + delta * alpha / beta * float(r.norm())
    assert out.bound == pytest.approx(expected, rel=1e-12)
    assert out.residual_gap == pytest.approx(0.6 * delta * alpha / beta * float(r.norm()))
    assert out.stopping_time == pytest.approx(gamma / (lr * alpha**2))
    U, S, Vh = torch.linalg.svd(J, full_matrices=False)
    J_I = U[:, :c] @ torch.diag(S[:c]) @ Vh[:c]
    pinv_norm = float(torch.linalg.vector_norm(torch.linalg.pinv(J_I) @ r))
    assert split.pseudo_inverse_norm(r) == pytest.approx(pinv_norm, rel=1e-9)
    assert out.half_radius == pytest.approx(
        pinv_norm + gamma / alpha * nuis + delta * gamma / alpha * float(r.norm()), rel=1e-9)
    assert "LowRankBound(bound=" in repr(out) and "rank=3" in repr(split)


def test_meta_theorem_bound_holds_for_a_linear_model() -> None:
    # For f(θ) = Jθ the Jacobian never moves (ε = ε₀ = 0): r_τ = r̃_τ, and the bound holds at T.
    J = _jacobian(8, 16, seed=8)
    split = theory.information_split(J, cutoff=_cutoff_between(J, 2))
    beta = float(split.singular_values[0])
    y = torch.randn(8, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    theta = torch.zeros(16, dtype=torch.float64)
    lr, gamma = 1.0 / beta**2, 3.0
    delta = theory.meta_theorem_delta(epsilon=0.0, epsilon0=0.0, alpha=split.cutoff, beta=beta,
                                      gamma=gamma)
    assert delta == 0.0
    out = theory.meta_theorem_bound(split, -y, lr=lr, gamma=gamma, delta=1e-12, beta=beta)
    for _ in range(math.ceil(out.stopping_time)):
        theta = theta - lr * J.T @ (J @ theta - y)
    assert float(torch.linalg.vector_norm(J @ theta - y)) <= out.bound
    assert float(torch.linalg.vector_norm(theta)) <= out.half_radius


def test_meta_theorem_delta_is_the_smallest_admissible_tolerance() -> None:
    alpha, beta, gamma = 0.5, 2.0, 3.0
    for epsilon, epsilon0 in [(1e-3, 0.0), (0.0, 1e-2), (1e-4, 1e-3)]:
        delta = theory.meta_theorem_delta(epsilon=epsilon, epsilon0=epsilon0, alpha=alpha,
                                          beta=beta, gamma=gamma)

        def holds(d: float, epsilon: float = epsilon, epsilon0: float = epsilon0) -> bool:
            return (epsilon <= d * alpha**3 / (5 * gamma * beta**2) * (1 + 1e-12)
                    and epsilon0 <= min(d * alpha, math.sqrt(d * alpha**3 / (gamma * beta))) / 5
                    * (1 + 1e-12))
        assert holds(delta) and not holds(0.999 * delta)


def test_jacobian_distance_structured_matches_explicit_jacobians() -> None:
    X = ntkbook.data.sphere(12, 5, seed=1)
    y = torch.sign(X[:, 0])
    net0 = ntkbook.TwoLayerReLU(5, 40, kappa=0.3, seed=2)
    net = copy.deepcopy(net0)
    ntkbook.gradient_descent(net, X, y, lr=0.5, steps=30, record_every=30)
    structured = theory.jacobian_distance(net, net0, X)
    jac = ntkbook.empirical.jacobian
    explicit = float(torch.linalg.matrix_norm(jac(net, X)["W"].reshape(12, -1)
                                              - jac(net0, X)["W"].reshape(12, -1), ord=2))
    assert explicit > 0.01  # some activation patterns flipped
    assert structured == pytest.approx(explicit, rel=1e-9)
    assert theory.jacobian_distance(net0, net0, X) == 0.0
    mlp0 = ntkbook.MLP(5, 16, 1, seed=0)
    mlp = copy.deepcopy(mlp0)
    ntkbook.gradient_descent(mlp, X, y, lr=0.1, steps=5, record_every=5)
    assert theory.jacobian_distance(mlp, mlp0, X) > 0.0


def test_bad_inputs_raise() -> None:
    J = _jacobian(6, 9)
    top = float(torch.linalg.svdvals(J)[0])
    with pytest.raises(TypeError, match="exactly one"):
        theory.information_split(cutoff=0.1)
    with pytest.raises(TypeError, match="exactly one"):
        theory.information_split(J, kernel=J @ J.T, cutoff=0.1)
    for bad in (0.0, -1.0, 1.001 * top, 2 * top):
        with pytest.raises(ValueError, match="cutoff"):
            theory.information_split(J, cutoff=bad)
    with pytest.raises(ValueError, match="kernel must be square"):
        theory.information_split(kernel=J, cutoff=0.1)
    with pytest.raises(ValueError, match="symmetric"):
        theory.information_split(kernel=J @ J.T + torch.triu(torch.ones(6, 6)), cutoff=0.1)
    with pytest.raises(ValueError, match="positive semi-definite"):
        theory.information_split(kernel=-(J @ J.T), cutoff=0.1)
    with pytest.raises(TypeError, match="jacobian"):
        theory.information_split(J.numpy(), cutoff=0.1)
    split = theory.information_split(J, cutoff=0.5 * top)
    r = torch.ones(6, dtype=torch.float64)
    with pytest.raises(ValueError, match="shape"):
        split.information(torch.ones(5, dtype=torch.float64))
    with pytest.raises(ValueError, match="r0"):
        theory.linearized_residual(split, torch.ones(7, dtype=torch.float64), lr=0.1, steps=1)
    with pytest.raises(ValueError, match="lr"):
        theory.linearized_residual(split, r, lr=0.0, steps=1)
    with pytest.raises(ValueError, match="steps"):
        theory.linearized_residual(split, r, lr=0.1, steps=[-1, 2])
    with pytest.raises(ValueError, match="steps"):
        theory.linearized_residual(split, r, lr=0.1, steps=1.5)
    with pytest.raises(ValueError, match="lr must be <="):
        theory.linearized_residual_bound(split, r, lr=2 / top**2, steps=1)
    ok = dict(lr=1 / top**2, gamma=2.0, delta=0.5, beta=top)
    for key, bad in [("gamma", 0.5), ("delta", 1.5), ("delta", 0.0), ("beta", 0.5 * top),
                     ("lr", 2 / top**2)]:
        with pytest.raises(ValueError, match=key):
            theory.meta_theorem_bound(split, r, **{**ok, key: bad})
    with pytest.raises(ValueError, match="gamma"):
        theory.meta_theorem_delta(epsilon=0.1, epsilon0=0.0, alpha=1.0, beta=1.0, gamma=0.5)
    with pytest.raises(ValueError, match="epsilon"):
        theory.meta_theorem_delta(epsilon=-0.1, epsilon0=0.0, alpha=1.0, beta=1.0, gamma=1.0)
    X = ntkbook.data.sphere(4, 3, seed=0)
    with pytest.raises(ValueError, match="output signs"):
        theory.jacobian_distance(ntkbook.TwoLayerReLU(3, 8, seed=0),
                                 ntkbook.TwoLayerReLU(3, 8, seed=1), X)
    with pytest.raises(ValueError, match="parameter shapes"):
        theory.jacobian_distance(ntkbook.MLP(3, 8, 1), ntkbook.MLP(3, 9, 1), X)
