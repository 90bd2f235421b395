"""Analytic infinite-width kernels (ntkbook.kernels) against independent oracles.

Oracles used here, none of which re-states the package's formulas:
* invariants of the recursion (diagonal values, symmetry, PSD, homogeneity, the limits θ = 0
  and θ = π), on random inputs drawn by hypothesis;
* Monte Carlo over random finite networks (ntkbook.MLP): the covariance of their outputs is
  the NNGP, the seed-average of their tangent kernels is the NTK;
* numerical integration written here: a 160-node tensor Gauss–Hermite rule on the Cholesky
  factor of the 2×2 covariance (smooth activations) and one-dimensional scipy quadrature with
  the Gaussian-ReLU moments in closed form (ReLU).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.polynomial.hermite_e import hermegauss
from scipy import integrate
from scipy.special import erf as np_erf
from scipy.stats import norm

from ntkbook import (
    MLP,
    analytic_nngp,
    analytic_ntk,
    layer_grams,
    layer_kernels,
    relu_two_layer_ntk,
)
from ntkbook.kernels import c_sigma_for

ACTIVATIONS = ("relu", "erf", "tanh", "gelu")
SMOOTH = {
    "erf": (np_erf, lambda u: 2 / math.sqrt(math.pi) * np.exp(-u * u)),
    "tanh": (np.tanh, lambda u: 1 - np.tanh(u) ** 2),
    "gelu": (lambda u: u * norm.cdf(u), lambda u: norm.cdf(u) + u * norm.pdf(u)),
}


def random_inputs(n: int, d: int, seed: int, *, unit: bool = True) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    if unit:
        return torch.nn.functional.normalize(X, dim=1)
    return X * torch.exp(torch.randn(n, 1, generator=g, dtype=torch.float64) / 2)


# --- independent integration -------------------------------------------------------------------

_Z, _W = hermegauss(160)
_W = _W / math.sqrt(2 * math.pi)


def gauss_pair(fn, a: float, b: float, c: float) -> float:
    """E[fn(u) fn(v)], (u, v) ~ N(0, [[a, c], [c, b]]), by a 160² Gauss–Hermite rule."""
    z1, z2 = _Z[:, None], _Z[None, :]
    u = math.sqrt(a) * z1
    v = c / math.sqrt(a) * z1 + math.sqrt(max(b - c * c / a, 0.0)) * z2
    return float((fn(u) * fn(v) * _W[:, None] * _W[None, :]).sum())


def reference_recursion(X: np.ndarray, depth: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(Σ⁽ᴸ⁾, Θ⁽ᴸ⁾) entry by entry, from the definitions, with :func:`gauss_pair`."""
    fn, dfn = SMOOTH[name]
    c = c_sigma_for(name)
    sigma = X @ X.T
    theta = sigma.copy()
    n = len(X)
    for _ in range(depth):
        new, dot = np.empty_like(sigma), np.empty_like(sigma)
        for i in range(n):
            for j in range(n):
                args = sigma[i, i], sigma[j, j], sigma[i, j]
                new[i, j] = c * gauss_pair(fn, *args)
                dot[i, j] = c * gauss_pair(dfn, *args)
        theta = theta * dot + new
        sigma = new
    return sigma, theta


def relu_moments_by_quadrature(a: float, b: float, c: float) -> tuple[float, float]:
    """(E[relu(u)relu(v)], P(u > 0, v > 0)) by 1-D quadrature over u.

    Given u = √a z, v = μ + s ε with μ = c z/√a, s² = b − c²/a, ε ~ N(0, 1):
    E[relu(v) | z] = μ Φ(μ/s) + s φ(μ/s) and P(v > 0 | z) = Φ(μ/s).
    """
    s = math.sqrt(b - c * c / a)

    def mean_relu(z: float) -> float:
        mu = c * z / math.sqrt(a)
        return mu * norm.cdf(mu / s) + s * norm.pdf(mu / s)

    e_relu = integrate.quad(lambda z: norm.pdf(z) * math.sqrt(a) * z * mean_relu(z), 0, np.inf,
                            epsabs=1e-13, epsrel=1e-12)[0]
    e_step = integrate.quad(lambda z: norm.pdf(z) * norm.cdf(c * z / math.sqrt(a) / s), 0, np.inf,
                            epsabs=1e-13, epsrel=1e-12)[0]
    return e_relu, e_step


# --- the layer constant ------------------------------------------------------------------------

def test_c_sigma_known_values() -> None:
    assert c_sigma_for("relu") == 2.0
    assert c_sigma_for("erf") == pytest.approx(1 / ((2 / math.pi) * math.asin(2 / 3)), rel=1e-15)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_c_sigma_normalizes_the_second_moment(name: str) -> None:
    fn = {"relu": lambda u: max(u, 0.0), **{k: v[0] for k, v in SMOOTH.items()}}[name]
    second_moment = integrate.quad(lambda z: norm.pdf(z) * fn(z) ** 2, -np.inf, np.inf,
                                   epsabs=1e-14, epsrel=1e-13)[0]
    assert c_sigma_for(name) * second_moment == pytest.approx(1.0, rel=1e-10)


# --- invariants --------------------------------------------------------------------------------

# Σ̇ = (π − arccos ρ)/π is √-sensitive at ρ = 1: the diagonal's ρ, rounded a few ulps below 1,
# gives arccos ρ ≈ √(2·4·2.2e-16) ≈ 4e-8, so Σ̇(x, x) and Θ(x, x) are exact only to ~1e-8 per
# layer. Σ is smooth there (its error is O(θ²)) and exact to rounding.
ARCCOS_ATOL = 3e-8


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 8), d=st.integers(2, 7),
       depth=st.integers(1, 6))
def test_relu_unit_inputs_diagonal(seed: int, n: int, d: int, depth: int) -> None:
    """Arora et al. normalization: Σ⁽ʰ⁾(x, x) = 1 at every layer and Θ⁽ᴸ⁾(x, x) = L + 1."""
    X = random_inputs(n, d, seed)
    lk = layer_kernels(X, depth=depth)
    for sigma in lk.sigma:
        torch.testing.assert_close(sigma.diagonal(), torch.ones(n, dtype=torch.float64),
                                   rtol=0, atol=1e-12)
    for dot in lk.sigma_dot:  # Σ̇ = c_σ P(u > 0) at ρ = 1: c_σ/2 = 1
        torch.testing.assert_close(dot.diagonal(), torch.ones(n, dtype=torch.float64),
                                   rtol=0, atol=ARCCOS_ATOL)
    torch.testing.assert_close(analytic_ntk(X, depth=depth).diagonal(),
                               torch.full((n,), depth + 1.0, dtype=torch.float64),
                               rtol=0, atol=ARCCOS_ATOL * (depth + 1) ** 2)


@pytest.mark.parametrize("name", ["erf", "tanh", "gelu"])
def test_default_c_sigma_keeps_unit_variance_for_every_activation(name: str) -> None:
    X = random_inputs(5, 4, seed=7)
    for sigma in layer_kernels(X, depth=4, activation=name).sigma:
        torch.testing.assert_close(sigma.diagonal(), torch.ones(5, dtype=torch.float64),
                                   rtol=1e-6, atol=0)


def check_symmetric_psd(lk, rtol: float) -> None:
    for K in (*lk.sigma, *lk.sigma_dot, lk.ntk):
        assert torch.isfinite(K).all()
        scale = max(float(K.abs().max()), 1.0)
        assert float((K - K.T).abs().max()) <= rtol * scale
        assert float(torch.linalg.eigvalsh(K)[0]) >= -rtol * scale


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 7), d=st.integers(1, 6),
       depth=st.integers(1, 5), name=st.sampled_from(["relu", "erf"]))
def test_closed_forms_are_symmetric_and_psd(seed: int, n: int, d: int, depth: int,
                                             name: str) -> None:
    """Σ⁽ʰ⁾, Σ̇⁽ʰ⁾ and Θ⁽ᴸ⁾ are covariances (of features) on any inputs, of any norm."""
    check_symmetric_psd(layer_kernels(random_inputs(n, d, seed, unit=False), depth=depth,
                                      activation=name), rtol=1e-12)


@settings(max_examples=8)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 7), d=st.integers(1, 6),
       depth=st.integers(1, 4), name=st.sampled_from(["tanh", "gelu"]))
def test_quadrature_kernels_are_symmetric_and_psd(seed: int, n: int, d: int, depth: int,
                                                  name: str) -> None:
    # The tensor rule treats u and v differently, so symmetry and PSD hold to its accuracy,
    # ~1e-5 for unit inputs (see test_quadrature_path_matches_integration).
    check_symmetric_psd(layer_kernels(random_inputs(n, d, seed), depth=depth, activation=name),
                        rtol=1e-5)


@settings(max_examples=10)
@given(seed=st.integers(0, 2**31 - 1), depth=st.integers(1, 4),
       name=st.sampled_from(ACTIVATIONS))
def test_cross_kernel_is_a_block_of_the_joint_kernel(seed: int, depth: int, name: str) -> None:
    X = random_inputs(6, 3, seed, unit=False)
    joint = layer_kernels(X, depth=depth, activation=name)
    cross = layer_kernels(X[:2], X[2:], depth=depth, activation=name)
    for full, block in zip((*joint.sigma, *joint.sigma_dot), (*cross.sigma, *cross.sigma_dot)):
        torch.testing.assert_close(block, full[:2, 2:], rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(analytic_ntk(X[:2], X[2:], depth=depth, activation=name),
                               joint.ntk[:2, 2:], rtol=1e-12, atol=1e-13)


@given(seed=st.integers(0, 2**31 - 1), depth=st.integers(1, 4),
       alpha=st.floats(0.01, 100.0), beta=st.floats(0.01, 100.0))
def test_relu_kernels_are_positively_homogeneous(seed: int, depth: int, alpha: float,
                                                 beta: float) -> None:
    """ReLU is 1-homogeneous, so Σ⁽ʰ⁾ and Θ⁽ᴸ⁾ are bilinear in the input norms."""
    X = random_inputs(4, 3, seed, unit=False)
    Z = random_inputs(3, 3, seed + 1, unit=False)
    base = layer_kernels(X, Z, depth=depth)
    scaled = layer_kernels(alpha * X, beta * Z, depth=depth)
    torch.testing.assert_close(scaled.ntk, alpha * beta * base.ntk, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(scaled.nngp, alpha * beta * base.nngp, rtol=1e-10, atol=1e-12)


# --- the limits θ = 0 and θ = π ----------------------------------------------------------------

RELU_ANTIPODAL = {  # Θ⁽ᴸ⁾(x, −x) for unit x: Σ⁽¹⁾ = Σ̇⁽¹⁾ = 0, then ρ⁽²⁾ = 0, ρ⁽³⁾ = 1/π
    1: 0.0,
    2: 1 / math.pi,
    3: (1 / math.pi) * (1 - math.acos(1 / math.pi) / math.pi)
    + (math.sqrt(1 - 1 / math.pi**2) + (math.pi - math.acos(1 / math.pi)) / math.pi) / math.pi,
}


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_relu_parallel_and_antipodal_limits(depth: int) -> None:
    x = random_inputs(1, 5, seed=3)[0]
    y = random_inputs(1, 5, seed=4)[0]
    near = torch.nn.functional.normalize(x + 1e-9 * y, dim=0)
    X = torch.stack([x, x, near, -x, -near])
    K = analytic_ntk(X, depth=depth)
    assert torch.isfinite(K).all()
    L1 = depth + 1.0
    assert float(K[0, 1]) == pytest.approx(L1, abs=ARCCOS_ATOL * L1**2)  # θ = 0
    assert float(K[0, 2]) == pytest.approx(L1, abs=1e-6)  # θ ≈ 1e-9
    # θ = π: arccos is √-sensitive at ρ = −1 too.
    assert float(K[0, 3]) == pytest.approx(RELU_ANTIPODAL[depth], abs=ARCCOS_ATOL * L1**2)
    assert float(K[0, 4]) == pytest.approx(RELU_ANTIPODAL[depth], abs=1e-6)
    # A row and its rounded duplicate (|ρ| may exceed 1 by rounding) give the same value.
    X2 = random_inputs(1, 5, seed=5, unit=False) * 3.7
    K2 = analytic_ntk(torch.cat([X2, X2, -X2]), depth=depth)
    assert torch.isfinite(K2).all()
    assert float(K2[0, 1]) == pytest.approx(float(K2[0, 0]), rel=1e-12)


@pytest.mark.parametrize("name", ["erf", "tanh"])
@pytest.mark.parametrize("depth", [1, 3])
def test_odd_activation_antipodal_limit(name: str, depth: int) -> None:
    """σ odd ⇒ σ' even ⇒ Σ⁽ʰ⁾(x, −x) = −Σ⁽ʰ⁾(x, x) and Θ⁽ᴸ⁾(x, −x) = −Θ⁽ᴸ⁾(x, x)."""
    x = random_inputs(1, 4, seed=11, unit=False)[0]
    y = random_inputs(1, 4, seed=12)[0]
    X = torch.stack([x, -x, -(x + 1e-9 * y)])
    lk = layer_kernels(X, depth=depth, activation=name)
    assert torch.isfinite(lk.ntk).all()
    rtol = 1e-12 if name == "erf" else 1e-9
    assert float(lk.ntk[0, 1]) == pytest.approx(-float(lk.ntk[0, 0]), rel=rtol)
    assert float(lk.nngp[0, 1]) == pytest.approx(-float(lk.nngp[0, 0]), rel=rtol)
    assert float(lk.ntk[0, 2]) == pytest.approx(-float(lk.ntk[0, 0]), rel=1e-6)


# --- closed forms and quadrature against independent integration -----------------------------

@pytest.mark.parametrize("depth", [1, 2, 3])
def test_erf_closed_form_matches_integration(depth: int) -> None:
    X = random_inputs(4, 3, seed=0, unit=False)
    X[1] = -0.7 * X[0]  # an antipodal pair, where the 2-D integral degenerates
    sigma, theta = reference_recursion(X.numpy(), depth, "erf")
    lk = layer_kernels(X, depth=depth, activation="erf")
    np.testing.assert_allclose(lk.nngp.numpy(), sigma, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lk.ntk.numpy(), theta, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["tanh", "gelu"])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_quadrature_path_matches_integration(name: str, depth: int) -> None:
    # Unit inputs (what the book uses): the default 48-node rule is within 1e-5 for tanh (its
    # derivative has poles near the real axis, the slowest case) and ~1e-13 for gelu.
    X = random_inputs(5, 4, seed=1)
    X[1] = -X[0]
    X[2] = torch.nn.functional.normalize(X[0] + 1e-3 * X[3], dim=0)
    sigma, theta = reference_recursion(X.numpy(), depth, name)
    lk = layer_kernels(X, depth=depth, activation=name)
    scale = np.abs(theta).max()
    assert np.abs(lk.ntk.numpy() - theta).max() <= 1e-5 * scale
    assert np.abs(lk.nngp.numpy() - sigma).max() <= 1e-5 * np.abs(sigma).max()
    # Inputs of larger norm need more nodes; with enough the rule converges to the integral.
    Xl = 1.7 * X
    sigma, theta = reference_recursion(Xl.numpy(), depth, name)
    lk = layer_kernels(Xl, depth=depth, activation=name, quadrature_points=160)
    np.testing.assert_allclose(lk.ntk.numpy(), theta, rtol=1e-9, atol=1e-12 * scale)


@pytest.mark.parametrize("rho", [-0.999999, -0.6, 0.0, 0.3, 0.9, 0.999999])
def test_relu_arccos_formulas_match_integration(rho: float) -> None:
    a, b = 0.8, 2.5
    c = rho * math.sqrt(a * b)
    X = torch.tensor([[math.sqrt(a), 0.0],
                      [c / math.sqrt(a), math.sqrt(b - c * c / a)]], dtype=torch.float64)
    lk = layer_kernels(X, depth=1)
    e_relu, e_step = relu_moments_by_quadrature(a, b, c)
    assert float(lk.sigma[1][0, 1]) == pytest.approx(2 * e_relu, rel=1e-9, abs=1e-12)
    assert float(lk.sigma_dot[0][0, 1]) == pytest.approx(2 * e_step, rel=1e-9, abs=1e-12)


# --- Monte Carlo over random finite networks ---------------------------------------------------

def mc_inputs() -> torch.Tensor:
    X = random_inputs(5, 4, seed=2)
    return torch.cat([X, -X[:1]])  # include an antipodal pair


@pytest.mark.parametrize(("name", "depth", "width", "networks"), [
    ("relu", 1, 32, 4000), ("erf", 1, 32, 4000), ("tanh", 1, 32, 4000), ("gelu", 1, 32, 4000),
    ("relu", 2, 128, 1500), ("tanh", 2, 128, 1500),
])
def test_nngp_is_the_covariance_of_random_network_outputs(name, depth, width, networks) -> None:
    """E[f(x) f(z)] over the initialization = Σ⁽ᴸ⁾(x, z).

    For depth 1 this holds at every width (E[a_r²] = 1, neurons independent), so only Monte
    Carlo error remains; for depth 2 the finite-width bias is O(1/width) (~1 %), below the
    Monte Carlo standard error of ~√2/√networks ≈ 4 %. Each entry must be within 5 standard
    errors, estimated from the same samples.
    """
    X = mc_inputs()
    c = c_sigma_for(name)
    F = torch.stack([
        MLP(4, width, depth, activation=name, c_sigma=c, seed=s)(X).detach()
        for s in range(networks)
    ])
    products = F[:, :, None] * F[:, None, :]
    estimate = products.mean(0)
    standard_error = products.std(0) / math.sqrt(networks)
    S = analytic_nngp(X, depth=depth, activation=name)
    assert ((estimate - S).abs() <= 5 * standard_error + 1e-12).all(), (
        f"max |z| = {float(((estimate - S) / standard_error).abs().max()):.2f}")


@pytest.mark.parametrize(("name", "depth", "width", "networks"), [
    ("relu", 1, 64, 300), ("erf", 1, 64, 300), ("gelu", 1, 64, 300),
    ("relu", 2, 256, 100), ("erf", 2, 256, 100), ("tanh", 2, 256, 100),
])
def test_ntk_is_the_mean_empirical_ntk(name, depth, width, networks) -> None:
    """The seed-average of each layer's Gram (layer_grams of an MLP) estimates its limit.

    Layer h's Gram G⁽ʰ⁾ tends to Σ⁽ʰ⁻¹⁾Π Σ̇ (LayerKernels.ntk_per_layer) and their sum, the
    empirical NTK, to Θ⁽ᴸ⁾. Depth 1 is unbiased at every width (E[G⁽¹⁾] = Σ⁽⁰⁾Σ̇⁽¹⁾,
    E[G⁽²⁾] = Σ⁽¹⁾); at depth 2 the O(1/width) bias is a fraction of the standard error (at
    width 64 with 400 networks the largest |z| was 1.1). Entries within 5 standard errors.
    """
    X = mc_inputs()
    c = c_sigma_for(name)
    grams = torch.stack([
        torch.stack(layer_grams(MLP(4, width, depth, activation=name, c_sigma=c, seed=s), X))
        for s in range(networks)
    ])  # (networks, depth + 1, n, n)
    lk = layer_kernels(X, depth=depth, activation=name)
    for estimate, limit in ((grams, torch.stack(lk.ntk_per_layer)), (grams.sum(1), lk.ntk)):
        standard_error = estimate.std(0) / math.sqrt(networks)
        assert ((estimate.mean(0) - limit).abs() <= 5 * standard_error + 1e-12).all()


def test_relu_two_layer_ntk_is_a_monte_carlo_mean_over_neurons() -> None:
    """H^∞(x, z) = E_w[xᵀz 1{wᵀx ≥ 0} 1{wᵀz ≥ 0}], estimated with 400 000 draws of w."""
    X = random_inputs(5, 3, seed=9, unit=False)
    w = torch.randn(400_000, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    S = (X @ w.T >= 0).to(torch.float64)
    indicators = S[:, None, :] * S[None, :, :]
    estimate = (X @ X.T) * indicators.mean(-1)
    standard_error = (X @ X.T).abs() * indicators.std(-1) / math.sqrt(w.shape[0])
    H = relu_two_layer_ntk(X)
    assert ((estimate - H).abs() <= 5 * standard_error + 1e-12).all()


# --- relations between the package's kernels ---------------------------------------------------

@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 6), d=st.integers(1, 5))
def test_relu_two_layer_ntk_is_half_sigma0_times_sigma_dot1(seed: int, n: int, d: int) -> None:
    X = random_inputs(n, d, seed, unit=False)
    Z = random_inputs(3, d, seed + 1, unit=False)
    for A, B in ((X, None), (X, Z)):
        lk = layer_kernels(A, B, depth=1)
        # Equal up to the rounding of arccos near ρ = ±1 (ARCCOS_ATOL relative to ‖x‖‖z‖).
        norms = torch.linalg.norm(A, dim=1)[:, None] * torch.linalg.norm(
            A if B is None else B, dim=1)[None, :]
        assert ((relu_two_layer_ntk(A, B) - 0.5 * lk.sigma[0] * lk.sigma_dot[0]).abs()
                <= ARCCOS_ATOL * norms + 1e-15).all()


def test_relu_two_layer_ntk_known_values() -> None:
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    H = relu_two_layer_ntk(x)
    assert float(H[0, 0]) == pytest.approx(0.5)  # ‖x‖² · (π − 0)/(2π)
    assert float(H[1, 1]) == pytest.approx(2.0)
    assert float(H[0, 1]) == 0.0  # orthogonal: xᵀz = 0
    assert float(H[0, 2]) == 0.0  # antipodal: π − π = 0
    assert (H[3] == 0).all() and torch.isfinite(H).all()  # a zero row: no 0/0


@settings(max_examples=10)
@given(seed=st.integers(0, 2**31 - 1), depth=st.integers(1, 5),
       name=st.sampled_from(ACTIVATIONS))
def test_per_layer_terms_sum_to_the_ntk_recursion(seed: int, depth: int, name: str) -> None:
    X = random_inputs(4, 3, seed, unit=False)
    lk = layer_kernels(X, depth=depth, activation=name)
    theta = lk.sigma[0]
    for h in range(depth):  # Θ⁽ʰ⁾ = Θ⁽ʰ⁻¹⁾ Σ̇⁽ʰ⁾ + Σ⁽ʰ⁾
        theta = theta * lk.sigma_dot[h] + lk.sigma[h + 1]
    assert len(lk.ntk_per_layer) == depth + 1 and lk.depth == depth
    torch.testing.assert_close(sum(lk.ntk_per_layer), theta, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(lk.ntk, theta, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(lk.ntk_per_layer[-1], lk.nngp, rtol=0, atol=0)
    torch.testing.assert_close(analytic_ntk(X, depth=depth, activation=name), lk.ntk)
    torch.testing.assert_close(analytic_nngp(X, depth=depth, activation=name), lk.nngp)


def test_explicit_c_sigma_scales_the_first_layer() -> None:
    """Σ⁽¹⁾ and Σ̇⁽¹⁾ are linear in c_σ (the inputs of layer 1 do not depend on it)."""
    X = random_inputs(4, 3, seed=5, unit=False)
    lk2 = layer_kernels(X, depth=1, c_sigma=2.0)
    lk3 = layer_kernels(X, depth=1, c_sigma=3.0)
    torch.testing.assert_close(lk3.sigma[1], 1.5 * lk2.sigma[1], rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(lk3.sigma_dot[0], 1.5 * lk2.sigma_dot[0], rtol=1e-13, atol=1e-14)
    default = layer_kernels(X, depth=2).ntk  # c_σ = None is c_σ = 2 for ReLU
    torch.testing.assert_close(default, layer_kernels(X, depth=2, c_sigma=2.0).ntk, rtol=0, atol=0)


# --- dtype and device --------------------------------------------------------------------------

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_outputs_follow_dtype_and_device_of_X(device: str, name: str) -> None:
    X64 = random_inputs(5, 3, seed=6)
    X32 = X64.to(device=device, dtype=torch.float32)
    for fn in (analytic_ntk, analytic_nngp):
        K32 = fn(X32, depth=2, activation=name)
        assert K32.dtype == torch.float32 and K32.device.type == device
        torch.testing.assert_close(K32.cpu().double(), fn(X64, depth=2, activation=name),
                                   rtol=1e-4, atol=1e-5)
    H = relu_two_layer_ntk(X32)
    assert H.dtype == torch.float32 and H.device.type == device
    lk = layer_kernels(X32, X32[:2], depth=2, activation=name)
    assert all(K.dtype == torch.float32 for K in (*lk.sigma, *lk.sigma_dot))


# --- bad input ---------------------------------------------------------------------------------

X_OK = random_inputs(3, 2, seed=0)


@pytest.mark.parametrize("fn", [analytic_ntk, analytic_nngp, layer_kernels, relu_two_layer_ntk])
def test_bad_inputs_name_the_argument(fn) -> None:
    with pytest.raises(ValueError, match=r"X must be 2-D"):
        fn(X_OK[0])
    with pytest.raises(TypeError, match=r"X must have a floating dtype"):
        fn(torch.ones(3, 2, dtype=torch.int64))
    with pytest.raises(TypeError, match=r"X must be a torch.Tensor"):
        fn(X_OK.numpy())
    with pytest.raises(ValueError, match=r"X contains NaN"):
        fn(torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(ValueError, match=r"Z must be 2-D"):
        fn(X_OK, X_OK[0])
    with pytest.raises(ValueError, match=r"X and Z must have the same number of columns"):
        fn(X_OK, torch.ones(2, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"X and Z must share a dtype"):
        fn(X_OK, X_OK.float())


@pytest.mark.parametrize("fn", [analytic_ntk, analytic_nngp, layer_kernels])
def test_bad_hyperparameters_name_the_argument(fn) -> None:
    with pytest.raises(ValueError, match=r"depth must be positive"):
        fn(X_OK, depth=0)
    with pytest.raises(TypeError, match=r"depth must be an integer"):
        fn(X_OK, depth=1.5)
    with pytest.raises(ValueError, match=r"activation must be one of"):
        fn(X_OK, activation="sigmoid")
    with pytest.raises(ValueError, match=r"c_sigma must be > 0"):
        fn(X_OK, c_sigma=0.0)
    with pytest.raises(ValueError, match=r"c_sigma must be a finite number"):
        fn(X_OK, c_sigma=-1.0)
    with pytest.raises(ValueError, match=r"activation must be one of"):
        c_sigma_for("softplus")
