"""IHVP influence in the NTK regime and the group complexity (ntkbook.influence).

Oracles: Koh & Liang's ∇ℓ_tᵀH⁻¹∇ℓ_i computed in an explicit feature space (a linear model with
P > n random features, its P × P Hessian and per-example gradients), whose kernel is K = ΦΦᵀ;
brute-force leave-one-out retraining; Zhang & Zhang's Theorem 3 inequality on random problems;
the complexity of eq. 19 from explicit inverses.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ntkbook import analytic_ntk, ntk_loo_influence
from ntkbook.influence import (
    IHVPDecomposition,
    group_complexity,
    ihvp_decomposition,
    ntk_ihvp_influence,
    ntk_loo_influence_along_time,
)


def features(n: int, n_test: int, P: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    Phi = torch.randn(n, P, generator=g, dtype=torch.float64) / P**0.5
    Phi_test = torch.randn(n_test, P, generator=g, dtype=torch.float64) / P**0.5
    y = torch.randn(n, generator=g, dtype=torch.float64)
    y_test = torch.randn(n_test, generator=g, dtype=torch.float64)
    return Phi, Phi_test, y, y_test


def koh_liang_in_feature_space(Phi, Phi_test, y, y_test, ridge) -> torch.Tensor:
    """∇ℓ_tᵀ H⁻¹ ∇ℓ_i for f(x) = φ(x)ᵀw trained on ½Σ(f − y)² + ½λ‖w‖² from w = 0."""
    P = Phi.shape[1]
    H = Phi.T @ Phi + ridge * torch.eye(P, dtype=torch.float64)
    w = torch.linalg.solve(H, Phi.T @ y)
    grad_train = (Phi @ w - y)[:, None] * Phi            # ∇ℓ_i, one row per training point
    grad_test = (Phi_test @ w - y_test)[:, None] * Phi_test
    return grad_test @ torch.linalg.solve(H, grad_train.T)


@pytest.mark.parametrize("ridge", [1e-2, 0.3, 3.0])
def test_ihvp_influence_is_koh_liang_in_feature_space(ridge: float) -> None:
    Phi, Phi_test, y, y_test = features(12, 5, 40, seed=int(100 * ridge))
    got = ntk_ihvp_influence(Phi @ Phi.T, Phi_test @ Phi.T, y, y_test, ridge)
    expected = koh_liang_in_feature_space(Phi, Phi_test, y, y_test, ridge)
    assert got.shape == (5, 12)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)


def test_decomposition_matches_leave_one_out_and_the_ihvp_estimate() -> None:
    X = torch.nn.functional.normalize(
        torch.randn(25, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64), dim=1)
    Xt = torch.nn.functional.normalize(
        torch.randn(7, 4, generator=torch.Generator().manual_seed(4), dtype=torch.float64), dim=1)
    y, y_test = torch.sign(X[:, 0]), torch.sign(Xt[:, 0])
    K, K_test = analytic_ntk(X, depth=2), analytic_ntk(Xt, X, depth=2)
    ridge = 0.05
    parts = ihvp_decomposition(K, K_test, y, y_test, ridge)
    assert isinstance(parts, IHVPDecomposition) and "n_test=7" in repr(parts)
    torch.testing.assert_close(parts.exact, ntk_loo_influence(K, K_test, y, y_test, ridge),
                               rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(parts.ihvp, ntk_ihvp_influence(K, K_test, y, y_test, ridge),
                               rtol=1e-9, atol=1e-12)
    eigenvalues = torch.linalg.eigvalsh(K)
    low, high = ridge / (eigenvalues[-1] + ridge), ridge / (eigenvalues[0] + ridge)
    inside = (parts.shrinkage >= low * (1 - 1e-12)) & (parts.shrinkage <= high * (1 + 1e-12))
    assert bool(inside.all())
    assert parts.lambda_min == pytest.approx(float(eigenvalues[0]), rel=1e-12)


def leave_one_out_by_refitting(K, K_test, y, y_test, ridge):
    """Exact influence I[t, i] and leave-one-out residuals f⁽⁻ⁱ⁾(x_i) − y_i, refitting n times."""
    n = K.shape[0]

    def fit(rows, targets_at):
        A = K[rows][:, rows] + ridge * torch.eye(len(rows), dtype=K.dtype)
        return targets_at[:, rows] @ torch.linalg.solve(A, y[rows])

    full = fit(list(range(n)), K_test)
    influence = torch.empty(K_test.shape[0], n, dtype=K.dtype)
    loo_residual = torch.empty(n, dtype=K.dtype)
    for i in range(n):
        rows = [j for j in range(n) if j != i]
        influence[:, i] = 0.5 * (fit(rows, K_test) - y_test) ** 2 - 0.5 * (full - y_test) ** 2
        loo_residual[i] = fit(rows, K[i:i + 1])[0] - y[i]
    return influence, loo_residual


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), log_ridge=st.floats(-4, 4), P=st.integers(6, 60))
def test_theorem_3_lower_bound_holds(seed: int, log_ridge: float, P: int) -> None:
    """|I − Î| ≥ λ_min/(λ_min + λ)|I| − ½a²(f⁽⁻ⁱ⁾(x_i) − y_i)² for every pair (eq. 16)."""
    Phi, Phi_test, y, y_test = features(10, 4, P, seed)
    K, K_test = Phi @ Phi.T, Phi_test @ Phi.T
    ridge = 2.0**log_ridge
    exact, loo_residual = leave_one_out_by_refitting(K, K_test, y, y_test, ridge)
    ihvp = koh_liang_in_feature_space(Phi, Phi_test, y, y_test, ridge)
    a = K_test @ torch.linalg.inv(K + ridge * torch.eye(10, dtype=torch.float64))
    lambda_min = max(float(torch.linalg.eigvalsh(K)[0]), 0.0)
    bound = lambda_min / (lambda_min + ridge) * exact.abs() - 0.5 * (a * loo_residual) ** 2
    slack = 1e-9 * float(exact.abs().max())
    assert bool(((exact - ihvp).abs() >= bound - slack).all())
    parts = ihvp_decomposition(K, K_test, y, y_test, ridge)
    torch.testing.assert_close(parts.lower_bound, bound, rtol=1e-6, atol=1e-9)


def test_ihvp_is_accurate_for_a_large_ridge_and_poor_for_a_small_one() -> None:
    Phi, Phi_test, y, y_test = features(15, 6, 80, seed=7)
    errors = []
    for ridge in (1e-3, 1e3):
        parts = ihvp_decomposition(Phi @ Phi.T, Phi_test @ Phi.T, y, y_test, ridge)
        errors.append(float((parts.exact - parts.ihvp).norm() / parts.exact.norm()))
    assert errors[0] > 0.9 and errors[1] < 0.01, errors


def test_group_complexity_against_explicit_inverses() -> None:
    Phi, _, y, _ = features(12, 1, 30, seed=11)
    K = Phi @ Phi.T
    group = [0, 5, 7]
    keep = [i for i in range(12) if i not in group]
    full = float(torch.sqrt(y @ torch.linalg.inv(K) @ y))
    rest = float(torch.sqrt(y[keep] @ torch.linalg.inv(K[keep][:, keep]) @ y[keep]))
    assert group_complexity(K, y, group) == pytest.approx(full - rest, rel=1e-10)
    mask = torch.zeros(12, dtype=torch.bool)
    mask[group] = True
    assert group_complexity(K, y, mask) == pytest.approx(full - rest, rel=1e-10)
    assert group_complexity(K, y, []) == 0.0
    assert group_complexity(K, y, list(range(12))) == pytest.approx(full, rel=1e-12)
    # removing points never raises the norm needed to interpolate the rest
    for i in range(12):
        assert group_complexity(K, y, [i]) >= -1e-12


def test_bad_inputs_name_the_argument() -> None:
    Phi, Phi_test, y, y_test = features(8, 3, 20, seed=2)
    K, K_test = Phi @ Phi.T, Phi_test @ Phi.T
    with pytest.raises(ValueError, match="ridge must be a finite number >= 0"):
        ntk_ihvp_influence(K, K_test, y, y_test, -1.0)
    with pytest.raises(ValueError, match="K_test_train must have n = 8 columns"):
        ihvp_decomposition(K, K_test[:, :7], y, y_test, 0.1)
    with pytest.raises(ValueError, match="y_test must have 3 entries"):
        ihvp_decomposition(K, K_test, y, y_test[:2], 0.1)
    with pytest.raises(ValueError, match=r"lie in \[0, 8\)"):
        group_complexity(K, y, [8])
    with pytest.raises(ValueError, match="must not repeat"):
        group_complexity(K, y, [1, 1])
    with pytest.raises(ValueError, match="boolean group mask must have length n = 8"):
        group_complexity(K, y, torch.ones(7, dtype=torch.bool))
    with pytest.raises(ValueError, match="integer indices"):
        group_complexity(K, y, [0.5])
    with pytest.raises(ValueError, match="K_train must be positive definite"):
        group_complexity(Phi[:, :3] @ Phi[:, :3].T, y, [0])
    with pytest.raises(ValueError, match="K_train must be symmetric"):
        group_complexity(K + torch.triu(torch.ones_like(K), 1), y, [0])
    with pytest.raises(ValueError, match="y_train must have 8 entries"):
        group_complexity(K, y[:7], [0])


def test_influence_along_time_against_matrix_exponentials() -> None:
    """f_t⁽⁻ⁱ⁾ from K⁻¹(I − expm(−tK)) on each reduced kernel; t → ∞ gives the ridgeless LOO."""
    X = torch.nn.functional.normalize(
        torch.randn(9, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64), dim=1)
    Xt = torch.nn.functional.normalize(
        torch.randn(4, 3, generator=torch.Generator().manual_seed(6), dtype=torch.float64), dim=1)
    y, y_test = torch.sin(3 * X[:, 0]), torch.sin(3 * Xt[:, 0])
    K, K_test = analytic_ntk(X, depth=1), analytic_ntk(Xt, X, depth=1)
    times = torch.tensor([0.0, 0.3, 2.0, 25.0], dtype=torch.float64)

    def flow(rows, t):
        Kr = K[rows][:, rows]
        eye = torch.eye(len(rows), dtype=torch.float64)
        return K_test[:, rows] @ torch.linalg.solve(Kr, (eye - torch.linalg.matrix_exp(-t * Kr))
                                                    @ y[rows])

    got = ntk_loo_influence_along_time(K, K_test, y, y_test, times)
    assert got.shape == (4, 4, 9)
    for a, t in enumerate(times):
        full = flow(list(range(9)), t)
        for i in range(9):
            rows = [j for j in range(9) if j != i]
            expected = 0.5 * (flow(rows, t) - y_test) ** 2 - 0.5 * (full - y_test) ** 2
            torch.testing.assert_close(got[a, :, i], expected, rtol=1e-7, atol=1e-10)
    assert float(got[0].abs().max()) == 0.0  # at t = 0 nothing has been learned from anyone
    late = ntk_loo_influence_along_time(K, K_test, y, y_test, 1e6)
    torch.testing.assert_close(late, ntk_loo_influence(K, K_test, y, y_test, 0.0),
                               rtol=1e-6, atol=1e-9)


def test_influence_along_time_bad_inputs() -> None:
    Phi, Phi_test, y, y_test = features(6, 2, 10, seed=3)
    K, K_test = Phi @ Phi.T, Phi_test @ Phi.T
    with pytest.raises(ValueError, match="t must be finite and >= 0"):
        ntk_loo_influence_along_time(K, K_test, y, y_test, torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="at least 2 training points"):
        ntk_loo_influence_along_time(K[:1, :1], K_test[:, :1], y[:1], y_test, 1.0)
    with pytest.raises(ValueError, match="y_test must have 2 entries"):
        ntk_loo_influence_along_time(K, K_test, y, y_test[:1], 1.0)
    with pytest.raises(ValueError, match="positive semi-definite"):
        ntk_loo_influence_along_time(-K, K_test, y, y_test, 1.0)


def test_influence_along_time_with_several_targets_is_one_call_per_target() -> None:
    """k target columns share the eigendecompositions; each column is the 1-D answer."""
    X = torch.nn.functional.normalize(
        torch.randn(11, 3, generator=torch.Generator().manual_seed(8), dtype=torch.float64), dim=1)
    Xt = torch.nn.functional.normalize(
        torch.randn(4, 3, generator=torch.Generator().manual_seed(9), dtype=torch.float64), dim=1)
    K, K_test = analytic_ntk(X, depth=1), analytic_ntk(Xt, X, depth=1)
    Y = torch.stack([torch.sign(X[:, 0]), torch.sin(3 * X[:, 1]), X[:, 2]], 1)
    Y_test = torch.stack([torch.sign(Xt[:, 0]), torch.sin(3 * Xt[:, 1]), Xt[:, 2]], 1)
    times = torch.tensor([0.1, 1.0, 30.0], dtype=torch.float64)
    got = ntk_loo_influence_along_time(K, K_test, Y, Y_test, times)
    assert got.shape == (3, 4, 11, 3)
    for c in range(3):
        torch.testing.assert_close(got[..., c],
                                   ntk_loo_influence_along_time(K, K_test, Y[:, c], Y_test[:, c],
                                                                times), rtol=1e-12, atol=1e-14)
    one_time = ntk_loo_influence_along_time(K, K_test, Y, Y_test, 1.0)
    assert one_time.shape == (4, 11, 3)
    torch.testing.assert_close(one_time, got[1], rtol=1e-12, atol=1e-14)
    # with the training set as test set the diagonal is the self-influence, >= 0 at t = infinity
    late = ntk_loo_influence_along_time(K, K, Y[:, 0], Y[:, 0], 1e6)
    torch.testing.assert_close(late.diagonal(), ntk_loo_influence(K, K, Y[:, 0], Y[:, 0],
                                                                  0.0).diagonal(),
                               rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="both be 1-D"):
        ntk_loo_influence_along_time(K, K_test, Y, Y_test[:, 0], 1.0)
    with pytest.raises(ValueError, match=r"shapes \(11, k\) and \(4, k\)"):
        ntk_loo_influence_along_time(K, K_test, Y, Y_test[:, :2], 1.0)
    with pytest.raises(TypeError, match="y_test must be a torch.Tensor"):
        ntk_loo_influence_along_time(K, K_test, Y[:, 0], [1.0] * 4, 1.0)


def test_kernel_ihvp_influence_is_koh_liang_with_the_full_hessian_of_a_trained_network() -> None:
    """The push-through formula against the P × P Hessian of eq. 2 (torch.func, direct solve)."""
    import ntkbook
    from ntkbook.influence import kernel_ihvp_influence, koh_liang_influence, train_regularized

    X = ntkbook.data.sphere(14, 4, seed=1)
    X_test = ntkbook.data.sphere(5, 4, seed=2)
    y, y_test = torch.sign(X[:, 0] + 0.3), torch.sign(X_test[:, 0] + 0.3)
    ridge = 0.5
    net = ntkbook.antisymmetric_copy(ntkbook.TwoLayerReLU(4, 120, seed=3))   # P = 480
    model = train_regularized(net, X, y, ridge).model.requires_grad_(True)
    expected = koh_liang_influence(model, X, y, X_test, y_test, ridge=ridge,
                                   solver="direct").influence
    with torch.no_grad():
        r, r_test = model(X) - y, model(X_test) - y_test
    got = kernel_ihvp_influence(ntkbook.empirical_ntk(model, X),
                                ntkbook.empirical_ntk(model, X_test, X), r, r_test, ridge)
    assert got.shape == (5, 14)
    assert float(expected.abs().max()) > 1e-3          # a non-trivial comparison
    torch.testing.assert_close(got, expected, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("ridge", [0.05, 2.0])
def test_kernel_ihvp_influence_with_kernel_ridge_residuals_is_eq_13(ridge: float) -> None:
    from ntkbook.influence import kernel_ihvp_influence

    Phi, Phi_test, y, y_test = features(10, 4, 30, seed=7)
    K, K_test = Phi @ Phi.T, Phi_test @ Phi.T
    alpha = torch.linalg.solve(K + ridge * torch.eye(10, dtype=torch.float64), y)
    got = kernel_ihvp_influence(K, K_test, K @ alpha - y, K_test @ alpha - y_test, ridge)
    torch.testing.assert_close(got, ntk_ihvp_influence(K, K_test, y, y_test, ridge),
                               rtol=1e-10, atol=1e-13)
    torch.testing.assert_close(got, koh_liang_in_feature_space(Phi, Phi_test, y, y_test, ridge),
                               rtol=1e-9, atol=1e-12)


def test_kernel_ihvp_influence_bad_inputs() -> None:
    import ntkbook.influence as influence
    from ntkbook.influence import kernel_ihvp_influence

    assert influence.ntk.kernel_ihvp_influence is kernel_ihvp_influence
    assert "kernel_ihvp_influence" in influence.__all__
    Phi, Phi_test, y, y_test = features(6, 2, 10, seed=4)
    K, K_test = Phi @ Phi.T, Phi_test @ Phi.T
    with pytest.raises(ValueError, match="ridge must be > 0"):
        kernel_ihvp_influence(K, K_test, y, y_test, 0.0)
    with pytest.raises(ValueError, match="residual_train must have 6 entries"):
        kernel_ihvp_influence(K, K_test, y[:5], y_test, 1.0)
    with pytest.raises(ValueError, match="residual_test must have 2 entries"):
        kernel_ihvp_influence(K, K_test, y, y, 1.0)
    with pytest.raises(ValueError, match="K_test_train must have n = 6 columns"):
        kernel_ihvp_influence(K, K_test[:, :5], y, y_test, 1.0)
    with pytest.raises(TypeError, match="residual_test has dtype torch.float32"):
        kernel_ihvp_influence(K, K_test, y, y_test.float(), 1.0)
    with pytest.raises(ValueError, match="residual_train contains NaN"):
        kernel_ihvp_influence(K, K_test, y.clone().fill_(float("nan")), y_test, 1.0)
    with pytest.raises(ValueError, match="symmetric"):
        kernel_ihvp_influence(K + torch.triu(torch.ones_like(K), 1), K_test, y, y_test, 1.0)
    with pytest.raises(ValueError, match="not positive definite"):
        kernel_ihvp_influence(-K - torch.eye(6, dtype=torch.float64), K_test, y, y_test, 0.5)
