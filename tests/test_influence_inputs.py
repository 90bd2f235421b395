"""Bad and edge-case inputs to ntkbook.influence: IHVP solvers that raise when their answer does
not solve the system (relative residual), a relative divergence test, and clear errors for bad
indices, groups and seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import ntkbook
from ntkbook.influence import (
    group_complexity,
    ihvp_error_rate_lower_bound,
    inverse_hvp,
    koh_liang_influence,
    leave_one_out_retraining,
)


def linear(d: int) -> nn.Module:
    """f(x) = wᵀx at w = 0 (the Hessian of the square loss does not depend on w)."""
    model = nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        model.weight.zero_()
    return model


def rank_deficient(n: int = 20, rank: int = 5, d: int = 10, seed: int = 0):
    """X = AB of rank 5 < d: the Hessian XᵀX of the square loss is singular, and rounding makes
    its five zero eigenvalues ±1e-14."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, rank, generator=g, dtype=torch.float64) @ torch.randn(
        rank, d, generator=g, dtype=torch.float64)
    y = torch.randn(n, generator=g, dtype=torch.float64)
    V = torch.randn(2, d, generator=g, dtype=torch.float64)
    return X, y, V


def full_rank(n: int = 30, d: int = 10, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randn(n, generator=g, dtype=torch.float64)
    V = torch.randn(2, d, generator=g, dtype=torch.float64)
    H = X.T @ X + 0.1 * torch.eye(d, dtype=torch.float64)
    return X, y, V, H


def test_conjugate_gradients_on_a_singular_hessian_raise() -> None:
    """CG used to return solutions of norm 1e30 (relative residual 1e16) without a word."""
    X, y, V = rank_deficient()
    with pytest.raises(ValueError, match=r"conjugate gradients did not solve .* relative "
                                         r"residual .* raise the damping or ridge"):
        inverse_hvp(linear(10), X, y, V, solver="cg")
    # test points outside the row space of X: their gradients are not in the range of H
    X_test = torch.randn(3, 10, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    with pytest.raises(ValueError, match=r"relative residual|not positive definite"):
        koh_liang_influence(linear(10), X, y, X_test, y[:3], solver="cg")
    # inside it the system is consistent and CG finds a solution: no error
    consistent = koh_liang_influence(linear(10), X, y, X[:3], y[:3], solver="cg")
    assert float(consistent.ihvp.relative_residual.max()) < 1e-10


def test_lissa_on_a_singular_hessian_raises() -> None:
    """The Neumann series stops decreasing along the null space and grows linearly."""
    X, y, V = rank_deficient()
    with pytest.raises(ValueError, match=r"LiSSA made no progress .* singular"):
        inverse_hvp(linear(10), X, y, V, solver="lissa")


@pytest.mark.parametrize("factor", [0.49, 0.499])
def test_lissa_with_a_scale_just_under_half_lambda_max_raises(factor: float) -> None:
    """These diverge slowly (to 1e17 and to a residual of 22); the absolute 1e30 test missed
    them."""
    X, y, V, H = full_rank()
    lam_max = float(torch.linalg.eigvalsh(H)[-1])
    with pytest.raises(ValueError, match=r"LiSSA diverged"):
        inverse_hvp(linear(10), X, y, V, ridge=0.1, solver="lissa", scale=factor * lam_max)


def test_lissa_divergence_test_is_relative_to_the_right_hand_side() -> None:
    """A right-hand side of size 1e31 used to trip the absolute 1e30 test."""
    X, y, V, H = full_rank()
    exact = torch.linalg.solve(H, V.T).T
    for size in (1e-30, 1.0, 1e31):
        out = inverse_hvp(linear(10), X, y, size * V, ridge=0.1, solver="lissa", depth=3000)
        error = float(torch.linalg.norm(out.solution / size - exact) / torch.linalg.norm(exact))
        assert error < 1e-8, (size, error)
        assert float(out.relative_residual.max()) < 1e-8


def test_truncated_lissa_still_returns_and_reports_its_residual() -> None:
    """A short series is a legitimate approximation (the book measures its residual)."""
    X, y, V, _ = full_rank()
    out = inverse_hvp(linear(10), X, y, V, ridge=0.1, solver="lissa", depth=5)
    assert 1e-3 < float(out.relative_residual.max()) < 1.0
    minibatch = inverse_hvp(linear(10), X, y, V, ridge=0.1, solver="lissa", depth=200,
                            batch_size=10, seed=0)
    assert float(minibatch.relative_residual.max()) < 1.0


def test_mini_batch_lissa_is_judged_in_the_energy_norm() -> None:
    """With mini-batches a residual above 1 does not mean worse than x = 0: the solution can be
    much closer to x* than 0 is. The test is ‖x − x*‖_A < ‖x*‖_A (A = H + λI), checked here
    against the exact solve."""
    X, y, V, H = full_rank()
    exact = torch.linalg.solve(H, V.T).T
    scale = 1.1 * float(torch.linalg.eigvalsh(H)[-1])

    def energy_ratio(x: torch.Tensor) -> torch.Tensor:
        e = x - exact
        return ((e @ H) * e).sum(1) / ((exact @ H) * exact).sum(1)

    residuals = []
    for seed in range(20):   # batches of 10 of 30 points: noisy, never worse than 0
        out = inverse_hvp(linear(10), X, y, V, ridge=0.1, solver="lissa", depth=300,
                          batch_size=10, scale=scale, seed=seed)
        assert float(energy_ratio(out.solution).max()) < 1
        residuals.append(float(out.relative_residual.max()))
    assert max(residuals) > 1 > min(residuals)   # the residual alone would have misjudged
    for seed in range(5):    # batches of 3: the rescaled batch Hessians exceed 2·scale often
        with pytest.raises(ValueError, match=r"mini-batch LiSSA diverged: .* energy norm"):
            inverse_hvp(linear(10), X, y, V, ridge=0.1, solver="lissa", depth=300,
                        batch_size=3, scale=scale, seed=seed)


def test_conjugate_gradients_that_stop_early_raise() -> None:
    X, y, V, _ = full_rank()
    with pytest.raises(ValueError, match=r"conjugate gradients did not solve"):
        inverse_hvp(linear(10), X, y, V, ridge=0.1, solver="cg", max_iter=2)
    loose = inverse_hvp(linear(10), X, y, V, ridge=0.1, solver="cg", max_iter=2, tol=0.9)
    assert float(loose.relative_residual.max()) <= 0.9


@pytest.mark.parametrize("seed, error, match", [
    (1.5, TypeError, r"seed must be an integer"),
    ("0", TypeError, r"seed must be an integer"),
    (None, TypeError, r"seed must be an integer"),
    (2**70, ValueError, r"seed must lie in"),
])
def test_inverse_hvp_validates_the_seed(seed, error, match) -> None:
    X, y, V, _ = full_rank()
    with pytest.raises(error, match=match):
        inverse_hvp(linear(10), X, y, V, ridge=0.1, solver="lissa", seed=seed)


def fitted():
    X, y, _, _ = full_rank()
    model = linear(10)
    ntkbook.influence.fit_to_optimum(model, X, y, ridge=0.1)
    return model, X, y


@pytest.mark.parametrize("indices", [[0.7], [True], [1, 2.5], ["1"]])
def test_leave_one_out_retraining_refuses_non_integer_indices(indices) -> None:
    """int(0.7) = 0 used to retrain without point 0 instead."""
    model, X, y = fitted()
    with pytest.raises(TypeError, match=r"indices must be integers"):
        leave_one_out_retraining(model, X, y, X[:2], y[:2], indices=indices, ridge=0.1)


def test_leave_one_out_retraining_takes_integer_arrays_and_refuses_scalars() -> None:
    model, X, y = fitted()
    a = leave_one_out_retraining(model, X, y, X[:2], y[:2], indices=[0, 2], ridge=0.1)
    b = leave_one_out_retraining(model, X, y, X[:2], y[:2], indices=torch.tensor([0, 2]),
                                 ridge=0.1)
    c = leave_one_out_retraining(model, X, y, X[:2], y[:2], indices=np.array([0, 2]),
                                 ridge=0.1)
    assert torch.equal(a, b) and torch.equal(a, c)
    with pytest.raises(TypeError, match=r"indices must be a 1-D sequence"):
        leave_one_out_retraining(model, X, y, X[:2], y[:2], indices=3, ridge=0.1)


def test_leave_one_out_retraining_names_x_test_when_its_width_is_wrong() -> None:
    model, X, y = fitted()
    with pytest.raises(ValueError, match=r"X_test must have 10 columns like X_train, got 4"):
        leave_one_out_retraining(model, X, y, X[:2, :4], y[:2], indices=[0], ridge=0.1)


@pytest.mark.parametrize("group", [None, "01", 1.5, [0.5], object()])
def test_group_complexity_refuses_groups_that_are_not_indices(group) -> None:
    K = ntkbook.relu_two_layer_ntk(ntkbook.data.sphere(8, 3, seed=0))
    K = K + 0.1 * torch.eye(8, dtype=torch.float64)
    with pytest.raises((TypeError, ValueError), match=r"group must be"):
        group_complexity(K, torch.ones(8, dtype=torch.float64), group)


def test_group_complexity_casts_targets_to_the_kernel_dtype() -> None:
    K = ntkbook.relu_two_layer_ntk(ntkbook.data.sphere(8, 3, seed=0))
    K = K + 0.1 * torch.eye(8, dtype=torch.float64)
    y = torch.sin(torch.arange(8, dtype=torch.float64))
    exact = group_complexity(K, y, [1, 4])
    assert abs(group_complexity(K.float(), y, [1, 4]) - exact) < 1e-5 * abs(exact)


def test_ihvp_error_rate_lower_bound_accepts_a_float32_singular_kernel() -> None:
    X = ntkbook.data.sphere(40, 3, seed=2)
    K = X @ X.T
    assert ihvp_error_rate_lower_bound(K, 0.1) == pytest.approx(0.0, abs=1e-12)
    assert ihvp_error_rate_lower_bound(K.float(), 0.1) == pytest.approx(0.0, abs=1e-5)
