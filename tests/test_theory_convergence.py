"""Oracles for the convergence section of ntkbook.theory (Du et al. 2019; Arora et al. 2019)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ntkbook
from ntkbook import theory


def _random_psd(n: int, seed: int, rank: int | None = None) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(n, rank or n, generator=g, dtype=torch.float64)
    return A @ A.T / n


def _kernel_recursion(H: torch.Tensor, y: torch.Tensor, u0: torch.Tensor, lr: float,
                      steps: int) -> np.ndarray:
    """‖y − u(k)‖² of u(k+1) = u(k) − ηH(u(k) − y), by running it."""
    u, out = u0.clone(), []
    for _ in range(steps + 1):
        out.append(float(((y - u) ** 2).sum()))
        u = u - lr * H @ (u - y)
    return np.asarray(out)


# --- Arora et al.'s loss curve ----------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_arora_curve_is_the_exact_loss_of_the_kernel_recursion(seed: int) -> None:
    H = _random_psd(12, seed)
    g = torch.Generator().manual_seed(100 + seed)
    y = torch.randn(12, generator=g, dtype=torch.float64)
    u0 = 0.3 * torch.randn(12, generator=g, dtype=torch.float64)
    lr = 1.5 / float(torch.linalg.eigvalsh(H)[-1])  # oscillating top mode, still stable
    exact = _kernel_recursion(H, y, u0, lr, 60)
    predicted = theory.arora_loss_curve(H, y, lr=lr, steps=np.arange(61), u0=u0)
    np.testing.assert_allclose(predicted, exact, rtol=1e-10, atol=1e-12)
    zero_start = _kernel_recursion(H, y, torch.zeros(12, dtype=torch.float64), lr, 60)
    np.testing.assert_allclose(theory.arora_loss_curve(H, y, lr=lr, steps=np.arange(61)),
                               zero_start, rtol=1e-10, atol=1e-12)


def test_arora_curve_on_a_singular_kernel_keeps_the_null_space() -> None:
    H = _random_psd(8, 3, rank=3)
    y = torch.linspace(-1, 1, 8, dtype=torch.float64)
    lr = 1.0 / float(torch.linalg.eigvalsh(H)[-1])
    curve = theory.arora_loss_curve(H, y, lr=lr, steps=[0, 10, 10_000])
    lam, V = torch.linalg.eigh(H)
    null = V[:, lam < 1e-10]
    assert curve[0] == pytest.approx(float(y @ y))
    assert curve[-1] == pytest.approx(float(((null.T @ y) ** 2).sum()), rel=1e-8)


def test_arora_curve_matches_the_package_gradient_descent_prediction() -> None:
    H = _random_psd(10, 5)
    y = torch.sign(torch.linspace(-1, 1, 10, dtype=torch.float64) + 0.05)
    ks = torch.arange(0, 40, 3)
    u = ntkbook.gradient_descent_prediction(H, H, y, lr=0.3, steps=ks)
    measured = ((y - u) ** 2).sum(1).numpy()
    np.testing.assert_allclose(theory.arora_loss_curve(H, y, lr=0.3, steps=ks.numpy()),
                               measured, rtol=1e-9)


def test_arora_curve_scalar_steps_and_bad_inputs() -> None:
    H = _random_psd(4, 0)
    y = torch.ones(4, dtype=torch.float64)
    assert theory.arora_loss_curve(H, y, lr=0.1, steps=0).shape == ()
    with pytest.raises(ValueError, match="lr"):
        theory.arora_loss_curve(H, y, lr=-0.1, steps=3)
    with pytest.raises(ValueError, match="steps"):
        theory.arora_loss_curve(H, y, lr=0.1, steps=[1, 2.5])
    with pytest.raises(ValueError, match="steps"):
        theory.arora_loss_curve(H, y, lr=0.1, steps=-1)
    with pytest.raises(ValueError, match="y"):
        theory.arora_loss_curve(H, torch.ones(5, dtype=torch.float64), lr=0.1, steps=3)
    with pytest.raises(ValueError, match="symmetric"):
        theory.arora_loss_curve(H + torch.triu(torch.ones(4, 4, dtype=torch.float64), 1), y,
                                lr=0.1, steps=3)
    with pytest.raises(ValueError, match="semi-definite"):
        theory.arora_loss_curve(-H, y, lr=0.1, steps=3)
    with pytest.raises(ValueError, match="u0"):
        theory.arora_loss_curve(H, y, lr=0.1, steps=3, u0=torch.ones(3, dtype=torch.float64))


# --- the linear-rate bound --------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), fraction=st.floats(0.05, 1.0))
def test_the_kernel_recursion_obeys_the_linear_rate_bound(seed: int, fraction: float) -> None:
    # For a fixed kernel with λ_min = λ₀ and η ≤ 1/λ_max every mode shrinks by 1 − ηλ_i ≤ 1 − ηλ₀
    # per step, so the squared residual decays at least like (1 − ηλ₀)^{2k} ≤ (1 − ηλ₀/2)^k.
    H = _random_psd(6, seed) + 0.05 * torch.eye(6, dtype=torch.float64)
    lam = torch.linalg.eigvalsh(H)
    lr = fraction / float(lam[-1])
    y = torch.randn(6, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    exact = _kernel_recursion(H, y, torch.zeros(6, dtype=torch.float64), lr, 50)
    bound = theory.du_linear_rate_bound(exact[0], float(lam[0]), lr, np.arange(51))
    assert np.all(exact <= bound * (1 + 1e-12))


def test_linear_rate_bound_values_and_bad_inputs() -> None:
    assert float(theory.du_linear_rate_bound(3.0, 0.5, 0.2, 0)) == 3.0
    np.testing.assert_allclose(theory.du_linear_rate_bound(2.0, 0.5, 0.2, [1, 4]),
                               [2.0 * 0.95, 2.0 * 0.95**4])
    with pytest.raises(ValueError, match="lr \\* lambda_0"):
        theory.du_linear_rate_bound(1.0, 2.0, 1.5, 3)
    with pytest.raises(ValueError, match="initial"):
        theory.du_linear_rate_bound(-1.0, 0.5, 0.1, 3)
    with pytest.raises(ValueError, match="lambda_0"):
        theory.du_linear_rate_bound(1.0, 0.0, 0.1, 3)
    with pytest.raises(TypeError, match="steps"):
        theory.du_linear_rate_bound(1.0, 0.5, 0.1, "three")


# --- step sizes and width -----------------------------------------------------------------------


def test_max_stable_lr_separates_convergence_from_divergence() -> None:
    H = _random_psd(9, 7)
    y = torch.linspace(-1, 1, 9, dtype=torch.float64) + 0.3
    eta = theory.max_stable_lr(H)
    assert eta == pytest.approx(2 / float(torch.linalg.eigvalsh(H)[-1]))
    zero = torch.zeros(9, dtype=torch.float64)
    below = _kernel_recursion(H, y, zero, 0.97 * eta, 3000)
    above = _kernel_recursion(H, y, zero, 1.03 * eta, 3000)
    assert below[-1] < below[0] and above[-1] > 1e6 * above[0]
    with pytest.raises(ValueError, match="zero"):
        theory.max_stable_lr(torch.zeros(3, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="square"):
        theory.max_stable_lr(torch.zeros(3, 2, dtype=torch.float64))


def test_width_requirement_orders() -> None:
    base = theory.du_two_layer_requirements(10, 0.2, delta=0.1, kappa=1.0)
    assert base.width == pytest.approx(10**6 / (0.2**4 * 0.1**3))
    assert base.lr == pytest.approx(0.2 / 100)
    assert theory.du_two_layer_requirements(20, 0.2).width == pytest.approx(64 * base.width)
    assert theory.du_two_layer_requirements(10, 0.2, kappa=0.5).width == pytest.approx(
        4 * base.width)
    assert "width~" in repr(base)
    with pytest.raises(ValueError, match="delta"):
        theory.du_two_layer_requirements(10, 0.2, delta=1.0)
    with pytest.raises(ValueError, match="lambda_0"):
        theory.du_two_layer_requirements(10, -0.2)
    with pytest.raises(TypeError, match="n"):
        theory.du_two_layer_requirements(10.5, 0.2)


def test_flip_probability_is_the_gaussian_band_and_below_the_papers_bound() -> None:
    g = torch.Generator().manual_seed(0)
    z = 0.7 * torch.randn(400_000, generator=g, dtype=torch.float64)  # w_r(0)ᵀx for κ = 0.7
    for radius in (0.01, 0.1, 0.5):
        p = theory.flip_probability(radius, 0.7)
        empirical = float((z.abs() < radius).double().mean())
        assert abs(empirical - p) < 4 * math.sqrt(p * (1 - p) / z.numel())
        assert p <= math.sqrt(2 / math.pi) * radius / 0.7
    with pytest.raises(ValueError, match="kappa"):
        theory.flip_probability(0.1, 0.0)


# --- the trajectory of a real network ----------------------------------------------------------


def test_neurons_stay_within_the_radius_while_the_rate_holds() -> None:
    X = ntkbook.data.sphere(6, 8, seed=2)
    y = torch.sign(X[:, 0])
    lam0 = float(torch.linalg.eigvalsh(ntkbook.relu_two_layer_ntk(X))[0])
    net = ntkbook.TwoLayerReLU(8, 2048, kappa=0.5, seed=1)
    lr = 0.5
    history = ntkbook.gradient_descent(net, X, y, lr=lr, steps=200, record_every=1)
    bound = theory.du_linear_rate_bound(history.loss[0], lam0, lr, history.step)
    assert np.all(history.loss <= bound), "the premise of the radius lemma failed"
    radius = theory.du_weight_radius(math.sqrt(2 * history.loss[0]), 6, 2048, lam0)
    assert history.max_neuron_distance.max() <= radius
    # the radius is a bound, not an estimate: the measured distance is well inside it
    assert history.max_neuron_distance.max() < 0.5 * radius


def test_weight_radius_formula_and_bad_inputs() -> None:
    assert theory.du_weight_radius(2.0, 4, 16, 0.5) == pytest.approx(4 * 2 * 2.0 / (4 * 0.5))
    with pytest.raises(ValueError, match="m"):
        theory.du_weight_radius(1.0, 4, 0, 0.5)


# --- complexity and projections -----------------------------------------------------------------


def test_complexity_is_the_squared_norm_of_the_minimum_norm_interpolant() -> None:
    g = torch.Generator().manual_seed(4)
    J = torch.randn(7, 30, generator=g, dtype=torch.float64)  # features of a linear model
    y = torch.randn(7, generator=g, dtype=torch.float64)
    w = torch.linalg.lstsq(J, y[:, None], driver="gelsd").solution[:, 0]  # min-norm solution
    assert torch.allclose(J @ w, y)
    assert theory.arora_complexity(J @ J.T, y) == pytest.approx(float(w @ w), rel=1e-9)


def test_complexity_bad_inputs() -> None:
    with pytest.raises(ValueError, match="singular"):
        theory.arora_complexity(_random_psd(6, 0, rank=2), torch.ones(6, dtype=torch.float64))
    with pytest.raises(ValueError, match="y"):
        theory.arora_complexity(_random_psd(3, 0), torch.ones(4, dtype=torch.float64))
    with pytest.raises(TypeError, match="H"):
        theory.arora_complexity([[1.0]], torch.ones(1, dtype=torch.float64))


def test_label_projections_reconstruct_the_labels() -> None:
    H = _random_psd(9, 8)
    y = torch.randn(9, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    proj = theory.label_projections(H, y)
    assert np.all(np.diff(proj.eigenvalues) <= 0)
    assert float((proj.projections**2).sum()) == pytest.approx(float(y @ y))
    # yᵀH⁻¹y = Σ (v_iᵀy)²/λ_i: the spectral and the Cholesky route agree
    assert float((proj.projections**2 / proj.eigenvalues).sum()) == pytest.approx(
        theory.arora_complexity(H, y), rel=1e-8)
    assert proj.top_fraction(9) == pytest.approx(1.0)
    top = torch.linalg.eigh(H).eigenvectors[:, -1]
    assert theory.label_projections(H, top).top_fraction(1) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="count"):
        proj.top_fraction(0)


# --- the deep Gram and the update decomposition --------------------------------------------------


def test_deep_gram_limit_depth_one_is_twice_the_two_layer_kernel() -> None:
    X = ntkbook.data.sphere(7, 4, seed=3)
    torch.testing.assert_close(theory.du_deep_gram_limit(X, 1),
                               2 * ntkbook.relu_two_layer_ntk(X))


def test_deep_gram_limit_is_the_mean_last_layer_gram() -> None:
    # G⁽ᴴ⁾(0) is an unbiased-in-the-limit Monte Carlo estimate of K⁽ᴴ⁾: average over networks
    # and compare entrywise within 4 standard errors (measured from the same networks).
    X = ntkbook.data.sphere(6, 5, seed=1)
    K = theory.du_deep_gram_limit(X, 3)
    G = torch.stack([ntkbook.layer_grams(ntkbook.MLP(5, 512, 3, seed=s), X)[2]
                     for s in range(24)])
    standard_error = G.std(0) / math.sqrt(G.shape[0])
    assert torch.all((G.mean(0) - K).abs() < 4 * standard_error + 1e-3)
    # and the check has power: the depth-2 kernel is rejected
    wrong = theory.du_deep_gram_limit(X, 2)
    assert not torch.all((G.mean(0) - wrong).abs() < 4 * standard_error + 1e-3)
    with pytest.raises(ValueError, match="depth"):
        theory.du_deep_gram_limit(X, 0)


def test_update_decomposition_adds_up_and_I2_lives_on_flipped_examples() -> None:
    X = ntkbook.data.sphere(10, 6, seed=0)
    y = torch.sign(X[:, 1])
    net = ntkbook.TwoLayerReLU(6, 64, seed=3)
    W0 = net.W.detach().clone()
    lr = 0.8
    dec = theory.du_update_decomposition(net, X, y, lr=lr)
    assert torch.equal(net.W.detach(), W0), "the model must not change"
    # the step as the package's gradient descent takes it
    history = ntkbook.gradient_descent(net, X, y, lr=lr, steps=1, record_predictions=True)
    u0, u1 = (torch.as_tensor(p) for p in history.predictions)
    torch.testing.assert_close(dec.I1 + dec.I2, u1 - u0)
    # I₁ with the tangent kernel computed by Jacobian contraction instead of the fast path
    net_k = ntkbook.TwoLayerReLU(6, 64, seed=3)
    K = ntkbook.empirical_ntk(net_k, X, method="jacobian_contraction")
    torch.testing.assert_close(dec.I1, lr * K @ (y - u0))
    # ReLU is linear between pattern changes: no flip on x_i means no remainder on x_i
    assert dec.flipped.any() and not dec.flipped.all()
    assert float(dec.I2[~dec.flipped].abs().max()) < 1e-12
    assert float(dec.I2[dec.flipped].abs().max()) > 1e-6
    # the decomposition of ‖y − u(k+1)‖²
    r2 = float(dec.residual @ dec.residual)
    total = r2 * (1 + dec.first_order + dec.second_order + dec.step_size_term)
    assert total == pytest.approx(float(dec.residual_next @ dec.residual_next), rel=1e-10)


def test_update_decomposition_of_a_tiny_step_has_no_remainder() -> None:
    X = ntkbook.data.sphere(5, 4, seed=1)
    y = torch.ones(5, dtype=torch.float64)
    dec = theory.du_update_decomposition(ntkbook.TwoLayerReLU(4, 32, seed=0), X, y, lr=1e-9)
    assert not dec.flipped.any()
    assert float(dec.I2.abs().max()) < 1e-15
    with pytest.raises(ValueError, match="lr"):
        theory.du_update_decomposition(ntkbook.TwoLayerReLU(4, 32), X, y, lr=0.0)
    with pytest.raises(ValueError, match="y"):
        theory.du_update_decomposition(ntkbook.TwoLayerReLU(4, 32), X, y[:3], lr=0.1)


def test_update_decomposition_for_a_smooth_network_is_second_order() -> None:
    X = ntkbook.data.sphere(6, 3, seed=2)
    y = torch.linspace(-1, 1, 6, dtype=torch.float64)
    net = ntkbook.MLP(3, 32, 2, activation="erf", seed=0)
    small = theory.du_update_decomposition(net, X, y, lr=1e-3)
    half = theory.du_update_decomposition(net, X, y, lr=5e-4)
    assert small.flipped is None
    ratio = float(small.I2.norm() / half.I2.norm())
    assert 3.5 < ratio < 4.5, f"I2 should scale like eta^2, ratio {ratio:.3f}"


# --- the antisymmetric initialization of chapter 4 ---------------------------------------------


def test_antisymmetric_copy_starts_at_zero_with_the_half_network_kernel() -> None:
    from ntkbook.models import antisymmetric_copy

    X = ntkbook.data.sphere(9, 5, seed=4)
    net = ntkbook.TwoLayerReLU(5, 40, kappa=0.7, seed=2)
    mirrored = antisymmetric_copy(net)
    assert float(mirrored(X).detach().abs().max()) < 1e-15
    assert float(net(X).detach().abs().max()) > 0.1, "the original is untouched"
    half = ntkbook.TwoLayerReLU(5, 20, kappa=0.7, seed=2)
    with torch.no_grad():
        half.W.copy_(net.W[:20])
    torch.testing.assert_close(ntkbook.empirical_ntk(mirrored, X, method="jacobian_contraction"),
                               ntkbook.empirical_ntk(half, X))
    with pytest.raises(ValueError, match="even"):
        antisymmetric_copy(ntkbook.TwoLayerReLU(5, 7))
    with pytest.raises(TypeError, match="TwoLayerReLU"):
        antisymmetric_copy(ntkbook.MLP(5, 8, 1))
