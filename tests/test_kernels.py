"""Analytic infinite-width kernels (ntkbook.kernels) against independent oracles.

Oracles used here, none of which re-states the package's formulas:
* invariants of the recursion (diagonal values, symmetry, PSD, homogeneity, the limits θ = 0
  and θ = π), on random inputs drawn by hypothesis;
* Monte Carlo over random finite networks (ntkbook.MLP): the covariance of their outputs is
  the NNGP, the seed-average of their tangent kernels is the NTK;
* numerical integration written here: a 160-node tensor Gauss–Hermite rule on the Cholesky
  factor of the 2×2 covariance (smooth activations, unit inputs), scipy's adaptive quadrature of
  the conditional expectations (smooth activations, inputs of any norm), and one-dimensional
  scipy quadrature with the Gaussian-ReLU moments in closed form (ReLU);
* limits that the kernels must reach at extreme input norms (the arcsine kernel of sign(u) for
  erf at large norms, the linear kernel at small norms);
* a plain, unblocked implementation of the ReLU and erf closed forms (the formulas of Arora
  et al. and Williams, layer by layer on full arrays), which the blocked, fused recursion of the
  package must reproduce to 1e-12 in float64; and the per-layer products of
  ``LayerKernels.ntk_per_layer`` written as the sum of products that defines them.
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
from torch.overrides import TorchFunctionMode

from ntkbook import (
    MLP,
    analytic_nngp,
    analytic_ntk,
    layer_grams,
    layer_kernels,
    relu_two_layer_ntk,
)
from ntkbook.kernels import analytic_kernels, c_sigma_for

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
    # Unit inputs, where the 160² Gauss–Hermite reference is itself accurate (to ~1e-6 for
    # tanh, whose derivative has poles near the real axis, and ~1e-13 for gelu).
    X = random_inputs(5, 4, seed=1)
    X[1] = -X[0]
    X[2] = torch.nn.functional.normalize(X[0] + 1e-3 * X[3], dim=0)
    sigma, theta = reference_recursion(X.numpy(), depth, name)
    lk = layer_kernels(X, depth=depth, activation=name)
    tol = 1e-5 if name == "tanh" else 1e-10
    assert np.abs(lk.ntk.numpy() - theta).max() <= tol * np.abs(theta).max()
    assert np.abs(lk.nngp.numpy() - sigma).max() <= tol * np.abs(sigma).max()


# --- the quadrature path at every input norm, against adaptive quadrature ----------------------

SCALAR = {
    "tanh": (math.tanh, lambda u: 1 - math.tanh(u) ** 2),
    "gelu": (lambda u: u * 0.5 * (1 + math.erf(u / math.sqrt(2))),
             lambda u: 0.5 * (1 + math.erf(u / math.sqrt(2)))
             + u * math.exp(-0.5 * u * u) / math.sqrt(2 * math.pi)),
}


def _pdf(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def adaptive_pair(fn, a: float, b: float, rho: float) -> float:
    """E[fn(u) fn(v)], (u, v) ~ N(0, [[a, √(ab)ρ], [√(ab)ρ, b]]), by scipy's adaptive quadrature.

    u = √a z and v | z ~ N(√b ρ z, b(1 − ρ²)): the inner integral over v's noise is split where
    fn(v)'s argument crosses 0, the outer one at z = 0, where fn(u)'s does.
    """
    s = math.sqrt(b * (1 - rho * rho))
    k = math.sqrt(b) * rho

    def inner(z: float) -> float:
        mu = k * z
        kink = -mu / s
        points = [kink] if -12 < kink < 12 else None
        return integrate.quad(lambda e: fn(mu + s * e) * _pdf(e), -12, 12, points=points,
                              limit=400, epsabs=1e-15, epsrel=1e-13)[0]

    return integrate.quad(lambda z: fn(math.sqrt(a) * z) * inner(z) * _pdf(z), -12, 12,
                          points=[0.0], limit=400, epsabs=1e-15, epsrel=1e-13)[0]


def adaptive_square(fn, a: float) -> float:
    """E[fn(u)²], u ~ N(0, a), by scipy's adaptive quadrature."""
    return integrate.quad(lambda z: fn(math.sqrt(a) * z) ** 2 * _pdf(z), -12, 12, points=[0.0],
                          limit=400, epsabs=1e-15, epsrel=1e-13)[0]


def two_inputs(a: float, b: float, rho: float) -> torch.Tensor:
    """Rows x, z with ‖x‖² = a, ‖z‖² = b and x̂ᵀẑ = ρ."""
    return torch.tensor([[math.sqrt(a), 0.0],
                         [math.sqrt(b) * rho, math.sqrt(b * (1 - rho * rho))]],
                        dtype=torch.float64)


@pytest.mark.parametrize("name", ["tanh", "gelu"])
@pytest.mark.parametrize(("a", "b", "rho"), [
    (0.01, 0.04, 0.3), (1.0, 1.0, -0.999), (25.0, 25.0, 0.5), (25.0, 0.04, -0.3),
    (400.0, 1.0, 0.999999), (1e4, 1e4, -0.6),
])
def test_quadrature_is_accurate_at_every_input_norm(name: str, a: float, b: float,
                                                    rho: float) -> None:
    """Σ⁽¹⁾ and Σ̇⁽¹⁾ of inputs with ‖x‖² from 0.01 to 1e4 agree with adaptive quadrature.

    Errors are measured against √(E[σ(u)²]E[σ(v)²]) (the Cauchy–Schwarz bound of the
    expectation; the same with σ' for Σ̇). The rule's measured error here is below 1e-11; the
    Gauss–Hermite rule it replaced was off by up to 34 % at ‖x‖² = 25.
    """
    fn, dfn = SCALAR[name]
    c = c_sigma_for(name)
    lk = layer_kernels(two_inputs(a, b, rho), depth=1, activation=name)
    sigma, dot = lk.sigma[1], lk.sigma_dot[0]
    for value, f in ((sigma[0, 1], fn), (dot[0, 1], dfn)):
        scale = math.sqrt(adaptive_square(f, a) * adaptive_square(f, b))
        assert abs(float(value) / c - adaptive_pair(f, a, b, rho)) <= 1e-9 * scale
    for value, norm2 in ((sigma[0, 0], a), (sigma[1, 1], b)):
        assert float(value) / c == pytest.approx(adaptive_square(fn, norm2), rel=1e-9)


def test_quadrature_ntk_at_norm_five_matches_adaptive_quadrature() -> None:
    """Θ⁽¹⁾(x, x) = ‖x‖² c E[tanh'(u)²] + c E[tanh(u)²], u ~ N(0, ‖x‖²), at ‖x‖ = 5."""
    fn, dfn = SCALAR["tanh"]
    c = c_sigma_for("tanh")
    expected = 25 * c * adaptive_square(dfn, 25.0) + c * adaptive_square(fn, 25.0)
    x = torch.tensor([[3.0, 4.0]], dtype=torch.float64)
    assert float(analytic_ntk(x, depth=1, activation="tanh")) == pytest.approx(expected, rel=1e-10)
    assert expected == pytest.approx(8.840, abs=1e-3)


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


@pytest.mark.parametrize(("name", "depth", "width", "networks", "norm"), [
    ("relu", 1, 32, 4000, 1.0), ("erf", 1, 32, 4000, 1.0), ("tanh", 1, 32, 4000, 1.0),
    ("gelu", 1, 32, 4000, 1.0), ("relu", 2, 128, 1500, 1.0), ("tanh", 2, 128, 1500, 1.0),
    ("tanh", 1, 32, 4000, 5.0), ("gelu", 1, 32, 4000, 5.0),
])
def test_nngp_is_the_covariance_of_random_network_outputs(name, depth, width, networks,
                                                          norm) -> None:
    """E[f(x) f(z)] over the initialization = Σ⁽ᴸ⁾(x, z), for inputs of norm 1 and 5.

    For depth 1 this holds at every width (E[a_r²] = 1, neurons independent), so only Monte
    Carlo error remains; for depth 2 the finite-width bias is O(1/width) (~1 %), below the
    Monte Carlo standard error of ~√2/√networks ≈ 4 %. Each entry must be within 5 standard
    errors, estimated from the same samples.
    """
    X = norm * mc_inputs()
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


@pytest.mark.parametrize(("name", "depth", "width", "networks", "norm"), [
    ("relu", 1, 64, 300, 1.0), ("erf", 1, 64, 300, 1.0), ("gelu", 1, 64, 300, 1.0),
    ("relu", 2, 256, 100, 1.0), ("erf", 2, 256, 100, 1.0), ("tanh", 2, 256, 100, 1.0),
    ("tanh", 1, 64, 300, 5.0), ("gelu", 1, 64, 300, 5.0),
])
def test_ntk_is_the_mean_empirical_ntk(name, depth, width, networks, norm) -> None:
    """The seed-average of each layer's Gram (layer_grams of an MLP) estimates its limit.

    Layer h's Gram G⁽ʰ⁾ tends to Σ⁽ʰ⁻¹⁾Π Σ̇ (LayerKernels.ntk_per_layer) and their sum, the
    empirical NTK, to Θ⁽ᴸ⁾. Depth 1 is unbiased at every width (E[G⁽¹⁾] = Σ⁽⁰⁾Σ̇⁽¹⁾,
    E[G⁽²⁾] = Σ⁽¹⁾); at depth 2 the O(1/width) bias is a fraction of the standard error (at
    width 64 with 400 networks the largest |z| was 1.1). Entries within 5 standard errors.
    """
    X = norm * mc_inputs()
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


# --- extreme input norms -----------------------------------------------------------------------

@pytest.mark.parametrize(("dtype", "scale", "rtol"), [
    (torch.float64, 1e-100, 1e-12), (torch.float64, 1e100, 1e-12),
    (torch.float32, 1e-12, 1e-5), (torch.float32, 1e12, 1e-5),
])
def test_relu_kernels_are_exact_at_extreme_norms(dtype: torch.dtype, scale: float,
                                                 rtol: float) -> None:
    """Homogeneity Θ(sX) = s²Θ(X) and Σ⁽ᴸ⁾(x, x) = ‖x‖² hold where ‖x‖⁴ is not representable."""
    X = random_inputs(6, 4, seed=21, unit=False)
    base = analytic_kernels(X, depth=3)
    both = analytic_kernels((scale * X).to(dtype), depth=3)
    for K, ref in ((both.nngp, base.nngp), (both.ntk, base.ntk)):
        assert K.dtype == dtype and torch.isfinite(K).all()
        torch.testing.assert_close(K.double() / scale**2, ref, rtol=rtol, atol=0)
    norms2 = (X * X).sum(1)
    torch.testing.assert_close(both.nngp.diagonal().double() / scale**2, norms2, rtol=rtol, atol=0)


def test_relu_kernels_that_overflow_raise() -> None:
    X = random_inputs(3, 4, seed=22, unit=False)
    with pytest.raises(ValueError, match="overflow"):
        analytic_ntk(1e200 * X, depth=2)
    with pytest.raises(ValueError, match="overflow"):
        analytic_nngp((1e25 * X).float(), depth=1)


@pytest.mark.parametrize("scale", [1e10, 1e100, 1e200])
def test_erf_kernels_tend_to_the_arcsine_kernel_at_large_norms(scale: float) -> None:
    """erf(λu) → sign(u) as λ → ∞, and E[sign(u)sign(v)] = (2/π) arcsin ρ: off the diagonal
    Σ⁽¹⁾ → (2c/π) arcsin ρ with relative corrections O(1/‖x‖²). On the diagonal
    Σ⁽¹⁾(x, x) = (2c/π) arcsin(2a/(1 + 2a)) = c − (2c/π) atan(√(1 + 4a)/(2a)), a = ‖x‖², and
    Σ̇⁽¹⁾(x, x) = (4c/π)/√(1 + 4a)."""
    X = random_inputs(5, 3, seed=23)
    c = c_sigma_for("erf")
    lk = layer_kernels(scale * X, depth=1, activation="erf")
    off = ~torch.eye(5, dtype=torch.bool)
    arcsine = (2 * c / math.pi) * torch.asin((X @ X.T).clamp(-1, 1))
    torch.testing.assert_close(lk.sigma[1][off], arcsine[off], rtol=1e-12, atol=0)
    t = 1 / scale  # √(1 + 4a)/(2a) = t√(t² + 4)/2 and 1/√(1 + 4a) = t/√(t² + 4), a = 1/t²
    diagonal = c - (2 * c / math.pi) * math.atan(t * math.sqrt(t * t + 4) / 2)
    dot = (4 * c / math.pi) * t / math.sqrt(t * t + 4)
    for got, want in ((lk.sigma[1].diagonal(), diagonal), (lk.sigma_dot[0].diagonal(), dot)):
        torch.testing.assert_close(got, torch.full((5,), want, dtype=torch.float64), rtol=1e-13,
                                   atol=0)
    # Θ⁽¹⁾(x, x) = a Σ̇⁽¹⁾(x, x) + Σ⁽¹⁾(x, x), finite even where Σ⁽⁰⁾ = a overflows.
    theta = analytic_ntk(scale * X, depth=1, activation="erf")
    expected = scale * (4 * c / math.pi) / math.sqrt(t * t + 4) + diagonal
    torch.testing.assert_close(theta.diagonal(), torch.full((5,), expected, dtype=torch.float64),
                               rtol=1e-13, atol=0)
    assert torch.isfinite(theta).all()


@pytest.mark.parametrize(("name", "slope"), [("erf", 2 / math.sqrt(math.pi)), ("tanh", 1.0),
                                             ("gelu", 0.5)])
@pytest.mark.parametrize(("dtype", "scale", "rtol"), [(torch.float64, 1e-100, 1e-9),
                                                      (torch.float32, 1e-12, 1e-5)])
def test_kernels_become_linear_at_small_norms(name: str, slope: float, dtype: torch.dtype,
                                              scale: float, rtol: float) -> None:
    """σ(u) = σ(0) + σ'(0)u + O(u²) with σ(0) = 0: Σ⁽¹⁾ → c σ'(0)² xᵀz, Σ̇⁽¹⁾ → c σ'(0)²."""
    X = random_inputs(5, 3, seed=24, unit=False)
    c = c_sigma_for(name)
    lk = layer_kernels((scale * X).to(dtype), depth=1, activation=name)
    torch.testing.assert_close(lk.sigma[1].double() / scale**2, c * slope**2 * (X @ X.T),
                               rtol=rtol, atol=rtol * float((X @ X.T).abs().max()))
    torch.testing.assert_close(lk.sigma_dot[0].double(),
                               torch.full((5, 5), c * slope**2, dtype=torch.float64),
                               rtol=rtol, atol=0)


# --- the blocked recursion against a plain one ------------------------------------------------

def plain_closed_forms(X: torch.Tensor, Z: torch.Tensor | None, depth: int,
                       name: str) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The ReLU and erf recursions of the module docstring, one full-array step per formula."""
    Z = X if Z is None else Z
    c = c_sigma_for(name)
    a, b = (X * X).sum(1, keepdim=True), (Z * Z).sum(1, keepdim=True).T
    sigma, dots = [X @ Z.T], []
    for _ in range(depth):
        cross = sigma[-1]
        if name == "relu":
            norm = torch.sqrt(a) * torch.sqrt(b)
            rho = (cross / norm).clamp(-1, 1)
            rho = torch.where(rho.abs() > 1 - 8 * torch.finfo(rho.dtype).eps, rho.sign(), rho)
            theta = torch.arccos(rho)
            sigma.append(c * norm * (torch.sin(theta) + (math.pi - theta) * rho) / (2 * math.pi))
            dots.append(c * (math.pi - theta) / (2 * math.pi))
            a, b = c * a / 2, c * b / 2
        else:
            pa, pb = 1 + 2 * a, 1 + 2 * b
            sigma.append(c * (2 / math.pi) * torch.arcsin(2 * cross / torch.sqrt(pa * pb)))
            dots.append(c * (4 / math.pi) / torch.sqrt(pa * pb - 4 * cross * cross))
            a = c * (2 / math.pi) * torch.arcsin(2 * a / pa)
            b = c * (2 / math.pi) * torch.arcsin(2 * b / pb)
    return sigma, dots


def relative(A: torch.Tensor, B: torch.Tensor) -> float:
    return float((A - B).abs().max() / B.abs().max())


def assert_close_to_plain(got: torch.Tensor, want: torch.Tensor, want_x: torch.Tensor,
                          want_z: torch.Tensor) -> None:
    """|got − want| ≤ 1e-12 √(K(x,x)K(z,z)) entrywise: the Cauchy–Schwarz bound of the kernel
    (every Σ⁽ʰ⁾, Σ̇⁽ʰ⁾ and Θ⁽ʰ⁾ is a covariance of features), with the diagonals from ``want_x``
    (the kernel on X alone) and ``want_z`` (on Z alone)."""
    scale = torch.sqrt(want_x.diagonal()[:, None] * want_z.diagonal()[None, :])
    assert ((got - want).abs() <= 1e-12 * scale).all(), float(((got - want).abs() / scale).max())


def plain_all(X: torch.Tensor, Z: torch.Tensor | None, depth: int, name: str):
    """[Σ⁽⁰⁾, …, Σ⁽ᴸ⁾, Σ̇⁽¹⁾, …, Σ̇⁽ᴸ⁾, Θ⁽ᴸ⁾] of the plain recursion."""
    sigma, dots = plain_closed_forms(X, Z, depth, name)
    theta = sigma[0]
    for dot, s in zip(dots, sigma[1:]):
        theta = theta * dot + s
    return [*sigma, *dots, theta]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 40), m=st.integers(1, 30),
       d=st.integers(1, 6), depth=st.integers(1, 6), name=st.sampled_from(["relu", "erf"]),
       cross=st.booleans())
def test_blocked_recursion_equals_the_plain_one(seed: int, n: int, m: int, d: int, depth: int,
                                                name: str, cross: bool) -> None:
    """Every layer's Σ and Σ̇, the NNGP and the NTK agree with the plain recursion to 1e-12."""
    X = random_inputs(n, d, seed, unit=False)
    Z = random_inputs(m, d, seed + 1, unit=False) if cross else None
    want = plain_all(X, Z, depth, name)
    want_x = plain_all(X, None, depth, name)
    want_z = want_x if Z is None else plain_all(Z, None, depth, name)
    lk = layer_kernels(X, Z, depth=depth, activation=name)
    both = analytic_kernels(X, Z, depth=depth, activation=name)
    got = [*lk.sigma, *lk.sigma_dot, lk.ntk]
    for g, w, wx, wz in zip(got, want, want_x, want_z):
        assert_close_to_plain(g, w, wx, wz)
    for g in (both.ntk, analytic_ntk(X, Z, depth=depth, activation=name)):
        assert_close_to_plain(g, want[-1], want_x[-1], want_z[-1])
    for g in (both.nngp, analytic_nngp(X, Z, depth=depth, activation=name)):
        assert_close_to_plain(g, want[depth], want_x[depth], want_z[depth])


def test_blocked_recursion_equals_the_plain_one_across_many_blocks() -> None:
    """n = 700 rows: the recursion runs in row blocks (and mirrors the upper triangle)."""
    X = random_inputs(700, 5, seed=25, unit=False)
    Z = random_inputs(300, 5, seed=26, unit=False)
    for name in ("relu", "erf"):
        want_x = plain_all(X, None, 3, name)
        want_z = plain_all(Z, None, 3, name)
        for B in (None, Z):
            want = want_x if B is None else plain_all(X, B, 3, name)
            both = analytic_kernels(X, B, depth=3, activation=name)
            other = want_x if B is None else want_z
            assert_close_to_plain(both.ntk, want[-1], want_x[-1], other[-1])
            assert_close_to_plain(both.nngp, want[3], want_x[3], other[3])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_kernels_of_one_input_set_are_exactly_symmetric(name: str) -> None:
    X = random_inputs(150 if name in ("relu", "erf") else 9, 4, seed=27, unit=False)
    lk = layer_kernels(X, depth=2, activation=name)
    both = analytic_kernels(X, depth=2, activation=name)
    for K in (*lk.sigma[1:], *lk.sigma_dot, both.nngp, both.ntk):
        assert torch.equal(K, K.T)


# --- LayerKernels: products linear in depth ------------------------------------------------------

def defining_ntk_per_layer(lk) -> list[torch.Tensor]:
    """Σ⁽ʰ⁻¹⁾ Π_{h'=h}^{L} Σ̇⁽ʰ'⁾ for h = 1, …, L + 1, each product formed from scratch."""
    terms = []
    for h in range(1, lk.depth + 2):
        term = lk.sigma[h - 1]
        for hp in range(h, lk.depth + 1):
            term = term * lk.sigma_dot[hp - 1]
        terms.append(term)
    return terms


class CountTorchCalls(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.calls += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("depth", [1, 2, 7])
def test_ntk_per_layer_matches_its_definition(name: str, depth: int) -> None:
    lk = layer_kernels(random_inputs(5, 3, seed=28, unit=False), depth=depth, activation=name)
    reference = defining_ntk_per_layer(lk)
    assert len(lk.ntk_per_layer) == len(reference)
    for got, want in zip(lk.ntk_per_layer, reference):
        assert relative(got, want) <= 1e-13
    assert relative(lk.ntk, sum(reference)) <= 1e-13


def test_layer_kernel_products_grow_linearly_with_depth() -> None:
    """Θ⁽ᴸ⁾ and the L + 1 per-layer terms take O(L) tensor operations, not O(L²)."""
    X = random_inputs(3, 2, seed=29)
    depth = 300
    lk = layer_kernels(X, depth=depth)
    for prop in ("ntk", "ntk_per_layer"):
        with CountTorchCalls() as counter:
            getattr(lk, prop)
        assert counter.calls <= 4 * depth + 10, f"{prop}: {counter.calls} tensor operations"


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
