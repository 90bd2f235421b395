"""Finite-width tangent kernels (ntkbook.empirical).

Oracles: the three ways of computing K_m must agree to rounding (the structured fast paths are
checked against torch.func Jacobian contraction and NTK-vector products); per-example gradients
from plain autograd; the infinite-width kernels as the width grows, with the m^{-1/2} rate
fitted on log-log axes; the exact Hessian from torch.func.hessian and a closed form for the
Hessian of a one-hidden-layer ReLU network.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call, hessian

import ntkbook
from ntkbook import (
    MLP,
    TwoLayerReLU,
    analytic_ntk,
    empirical_ntk,
    hessian_spectral_norm,
    layer_grams,
    relu_two_layer_ntk,
)
from ntkbook.empirical import jacobian
from ntkbook.kernels import c_sigma_for

METHODS = ("structured", "jacobian_contraction", "ntk_vector_products")


def inputs(n: int, d: int, seed: int, *, unit: bool = True) -> torch.Tensor:
    X = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return torch.nn.functional.normalize(X, dim=1) if unit else X


class Generic(nn.Module):
    """A scalar-output module with biases and a sine: no structured path applies."""

    def __init__(self, d: int, hidden: int = 7, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.lin1 = nn.Linear(d, hidden, dtype=torch.float64)
        self.lin2 = nn.Linear(hidden, 1, dtype=torch.float64)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.lin2(torch.sin(self.lin1(X))).squeeze(-1)


def rel(A: torch.Tensor, B: torch.Tensor) -> float:
    return float(torch.linalg.norm(A - B) / torch.linalg.norm(B))


STRUCTURED_MODELS = [
    pytest.param(lambda: TwoLayerReLU(5, 24, seed=1), id="TwoLayerReLU"),
    pytest.param(lambda: TwoLayerReLU(5, 24, kappa=0.1, seed=2), id="TwoLayerReLU-kappa0.1"),
] + [
    pytest.param(lambda act=act, depth=depth: MLP(5, 12, depth, activation=act, seed=depth),
                 id=f"MLP-{act}-{depth}")
    for act in ("relu", "erf", "tanh", "gelu") for depth in (1, 2, 3)
]


# --- three methods, one kernel -----------------------------------------------------------------

@pytest.mark.parametrize("make", STRUCTURED_MODELS)
def test_three_methods_agree(make) -> None:
    model = make()
    X, Z = inputs(9, 5, seed=0, unit=False), inputs(4, 5, seed=1, unit=False)
    for args in ((X,), (X, Z)):
        reference = empirical_ntk(model, *args, method="jacobian_contraction")
        assert reference.shape == (args[0].shape[0], args[-1].shape[0])
        for method in ("structured", "ntk_vector_products", "auto"):
            assert rel(empirical_ntk(model, *args, method=method), reference) <= 1e-10, method
    K = empirical_ntk(model, X)
    torch.testing.assert_close(K, K.T, rtol=1e-12, atol=1e-14)
    assert float(torch.linalg.eigvalsh(K)[0]) >= -1e-10 * float(K.abs().max())


def test_generic_module_two_methods_agree_and_structured_refuses() -> None:
    model = Generic(4)
    X, Z = inputs(8, 4, seed=0, unit=False), inputs(3, 4, seed=1, unit=False)
    for args in ((X,), (X, Z)):
        reference = empirical_ntk(model, *args, method="jacobian_contraction")
        assert rel(empirical_ntk(model, *args, method="ntk_vector_products"), reference) <= 1e-10
        torch.testing.assert_close(empirical_ntk(model, *args), reference, rtol=0, atol=0)
        with pytest.raises(ValueError, match=r"method='structured' needs a TwoLayerReLU or MLP"):
            empirical_ntk(model, *args, method="structured")
        with pytest.raises(ValueError, match=r"method='structured'"):
            layer_grams(model, *args, method="structured")


def test_jacobian_matches_per_example_autograd() -> None:
    model = Generic(3)
    X = inputs(5, 3, seed=2, unit=False)
    J = jacobian(model, X)
    names = [k for k, _ in model.named_parameters()]
    assert list(J) == names
    for i in range(X.shape[0]):
        grads = torch.autograd.grad(model(X[i : i + 1])[0], list(model.parameters()))
        for k, g in zip(names, grads):
            assert J[k].shape == (X.shape[0], *g.shape)
            torch.testing.assert_close(J[k][i], g, rtol=1e-13, atol=1e-14)
    flat = torch.cat([J[k].reshape(5, -1) for k in names], dim=1)
    torch.testing.assert_close(empirical_ntk(model, X), flat @ flat.T, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("make", STRUCTURED_MODELS)
def test_layer_grams_sum_to_the_ntk_and_match_per_parameter_grams(make) -> None:
    model = make()
    X, Z = inputs(7, 5, seed=3, unit=False), inputs(5, 5, seed=4, unit=False)
    structured = layer_grams(model, X, Z, method="structured")
    per_parameter = layer_grams(model, X, Z, method="jacobian_contraction")
    expected_count = 1 if isinstance(model, TwoLayerReLU) else model.depth + 1
    assert len(structured) == len(per_parameter) == expected_count
    # Same order whatever the method: hidden layers first, the output layer a last.
    for G_s, G_j in zip(structured, per_parameter):
        assert rel(G_s, G_j) <= 1e-10
    torch.testing.assert_close(sum(layer_grams(model, X, Z)), empirical_ntk(model, X, Z),
                               rtol=1e-13, atol=1e-13)


def test_frozen_parameters_are_left_out_of_the_kernel() -> None:
    model = MLP(4, 10, 2, seed=5)
    X = inputs(6, 4, seed=5)
    hidden_only = sum(layer_grams(model, X)[:-1])
    model.a.requires_grad_(False)
    torch.testing.assert_close(empirical_ntk(model, X), hidden_only, rtol=1e-12, atol=1e-13)
    assert rel(empirical_ntk(model, X, method="ntk_vector_products"), hidden_only) <= 1e-10
    with pytest.raises(ValueError, match=r"every parameter trainable"):
        empirical_ntk(model, X, method="structured")


def test_structured_two_layer_counts_are_exact_in_float32() -> None:
    """The fast path counts co-activations in float32; integers below 2**24 are exact there."""
    model = TwoLayerReLU(8, 3000, seed=6)
    X = inputs(301, 8, seed=6, unit=False)  # large and odd: the symmetric block split is used
    S = (X @ model.W.detach().T > 0).to(torch.int64)
    exact = (X @ X.T) * (S @ S.T).to(torch.float64) / model.m
    assert torch.equal(empirical_ntk(model, X, method="structured"), exact)
    Z = inputs(5, 8, seed=7, unit=False)
    SZ = (Z @ model.W.detach().T > 0).to(torch.int64)
    assert torch.equal(empirical_ntk(model, X, Z, method="structured"),
                       (X @ Z.T) * (S @ SZ.T).to(torch.float64) / model.m)


def test_kernel_follows_the_model_dtype() -> None:
    X = inputs(6, 3, seed=8)
    for m64 in (TwoLayerReLU(3, 64, seed=1), MLP(3, 32, 2, activation="tanh", seed=1)):
        m32 = copy.deepcopy(m64).to(torch.float32)
        K64 = empirical_ntk(m64, X)
        for method in METHODS:
            K32 = empirical_ntk(m32, X, method=method)  # float64 inputs are moved to float32
            assert K32.dtype == torch.float32
            assert rel(K32.double(), K64) <= 1e-5


# --- finite width → infinite width -------------------------------------------------------------

def fitted_error_slope(make, limit: torch.Tensor, X: torch.Tensor, widths, seeds: int):
    """Log-log slope of the root-mean-square relative Frobenius error over ``seeds`` nets."""
    errors = []
    for width in widths:
        sq = [rel(empirical_ntk(make(width, s), X), limit) ** 2 for s in range(seeds)]
        errors.append(math.sqrt(np.mean(sq)))
    fit = ntkbook.plotting.power_law_fit(widths, errors)
    return fit.slope, errors


# Fluctuations of K_m are O(m^{-1/2}) (Jacot et al.; Arora et al. Thm 3.1) and the bias O(1/m),
# so the error's log-log slope is −½ up to noise. Over 10 reruns with other seeds the fitted
# slope had a standard deviation of ≈ 0.05 (6 networks per width, widths spanning 64×), so
# (−0.75, −0.3) is a ≥ 4σ window that still rejects a plateau (slope 0, wrong limit) and a
# pure bias term (slope −1).
SLOPE_WINDOW = (-0.75, -0.3)


def test_two_layer_kernel_converges_to_relu_two_layer_ntk() -> None:
    X = inputs(16, 5, seed=1)
    widths = [256, 1024, 4096, 16384]
    slope, errors = fitted_error_slope(lambda m, s: TwoLayerReLU(5, m, seed=100 + s),
                                       relu_two_layer_ntk(X), X, widths, seeds=6)
    assert SLOPE_WINDOW[0] < slope < SLOPE_WINDOW[1], f"slope {slope:.3f}, errors {errors}"
    assert errors[-1] < 0.03, errors


@pytest.mark.parametrize("kappa", [0.01, 0.1, 3.0])
def test_two_layer_kernel_does_not_depend_on_kappa(kappa: float) -> None:
    """Only the signs of w_rᵀx enter H, and scaling W by κ > 0 keeps them: H is κ-free."""
    X = inputs(10, 5, seed=2, unit=False)
    reference = empirical_ntk(TwoLayerReLU(5, 300, seed=4), X)
    assert torch.equal(empirical_ntk(TwoLayerReLU(5, 300, kappa=kappa, seed=4), X), reference)


@pytest.mark.parametrize("activation", ["relu", "erf", "tanh"])
def test_depth_one_mlp_kernel_converges_to_analytic_ntk(activation: str) -> None:
    X = inputs(16, 5, seed=1)
    c = c_sigma_for(activation)
    widths = [256, 1024, 4096, 16384]
    slope, errors = fitted_error_slope(
        lambda m, s: MLP(5, m, 1, activation=activation, c_sigma=c, seed=200 + s),
        analytic_ntk(X, depth=1, activation=activation), X, widths, seeds=6)
    assert SLOPE_WINDOW[0] < slope < SLOPE_WINDOW[1], f"slope {slope:.3f}, errors {errors}"
    assert errors[-1] < 0.03, errors


def test_depth_two_mlp_kernel_converges_to_analytic_ntk() -> None:
    X = inputs(16, 5, seed=1)
    widths = [128, 256, 512, 1024, 2048]
    slope, errors = fitted_error_slope(lambda m, s: MLP(5, m, 2, seed=300 + s),
                                       analytic_ntk(X, depth=2), X, widths, seeds=6)
    assert SLOPE_WINDOW[0] < slope < SLOPE_WINDOW[1], f"slope {slope:.3f}, errors {errors}"
    assert errors[-1] < 0.08, errors


# --- the Hessian -------------------------------------------------------------------------------

def exact_hessian(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, slice]]:
    """The Hessian of f(x) in the flattened parameters, and where each parameter sits."""
    names = [k for k, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    offsets = np.cumsum([0] + [math.prod(s) for s in shapes])
    where = {k: slice(int(a), int(b)) for k, a, b in zip(names, offsets[:-1], offsets[1:])}
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def f(v: torch.Tensor) -> torch.Tensor:
        params = {k: v[where[k]].reshape(s) for k, s in zip(names, shapes)}
        return functional_call(model, params, (x[None],))[0]

    return hessian(f)(flat), where


@pytest.mark.parametrize(("activation", "depth", "iterations"),
                         [("tanh", 2, 100), ("relu", 2, 400)])
def test_hessian_spectral_norm_matches_the_exact_hessian(activation, depth, iterations) -> None:
    model = MLP(3, 6, depth, activation=activation, seed=1)
    x = inputs(1, 3, seed=0)[0]
    H, _ = exact_hessian(model, x)
    torch.testing.assert_close(H, H.T, rtol=0, atol=1e-12)
    exact = float(torch.linalg.eigvalsh(H).abs().max())
    # Power iteration converges like (|λ₂|/|λ₁|)^(2k): 0.93^800 for the ReLU case.
    estimate = hessian_spectral_norm(model, x, iterations=iterations)
    assert estimate == pytest.approx(exact, rel=1e-9)


@pytest.mark.parametrize("width", [8, 32, 128])
def test_one_hidden_layer_relu_hessian_is_the_a_w_cross_block(width: int) -> None:
    """f = aᵀ s relu(Wx), s = √(2/m): ∂²f/∂a_r∂w_r = s 1{w_rᵀx > 0} x and every other block is 0.

    The Hessian is [[0, B], [Bᵀ, 0]] and B's columns have disjoint supports, so its spectral
    norm is s‖x‖ exactly: the m^{-1/2} of Liu, Zhu & Belkin with constant √2‖x‖.
    """
    model = MLP(3, width, 1, seed=2)
    x = inputs(1, 3, seed=3, unit=False)[0]
    H, where = exact_hessian(model, x)
    W, a = where["weights.0"], where["a"]
    s = math.sqrt(2 / width)
    active = (model.weights[0].detach() @ x > 0).to(torch.float64)
    assert active.sum() > 0
    B = torch.zeros(width * 3, width, dtype=torch.float64)  # rows: W entries (r, j); cols: a_r
    for r in range(width):
        B[3 * r : 3 * r + 3, r] = s * active[r] * x
    torch.testing.assert_close(H[W, a], B, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(H[a, W], B.T, rtol=1e-12, atol=1e-14)
    assert float(H[W, W].abs().max()) == 0.0 and float(H[a, a].abs().max()) == 0.0
    assert hessian_spectral_norm(model, x, iterations=5) == pytest.approx(
        s * float(torch.linalg.norm(x)), rel=1e-12)


def test_two_layer_relu_hessian_in_W_vanishes() -> None:
    """Only W is trained and relu'' = 0 almost everywhere, so ∇²_W f = 0."""
    model = TwoLayerReLU(4, 16, seed=0)
    x = inputs(1, 4, seed=1)[0]
    H, _ = exact_hessian(model, x)
    assert float(H.abs().max()) == 0.0
    assert hessian_spectral_norm(model, x) == 0.0
    assert hessian_spectral_norm(model, x[None]) == 0.0  # (1, d) is accepted too


# --- bad input ---------------------------------------------------------------------------------

def test_bad_arguments_name_the_argument() -> None:
    model = MLP(3, 8, 1)
    X = inputs(4, 3, seed=0)
    with pytest.raises(ValueError, match=r"method must be one of"):
        empirical_ntk(model, X, method="fast")
    with pytest.raises(ValueError, match=r"method must be"):
        layer_grams(model, X, method="ntk_vector_products")
    with pytest.raises(ValueError, match=r"X must be 2-D"):
        empirical_ntk(model, X[0])
    with pytest.raises(TypeError, match=r"X must have a floating dtype"):
        empirical_ntk(model, torch.ones(4, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"Z must be 2-D"):
        empirical_ntk(model, X, X[0])
    with pytest.raises(ValueError, match=r"X and Z must have the same number of columns"):
        empirical_ntk(model, X, torch.ones(2, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"X must have d = 3 columns"):
        empirical_ntk(model, torch.ones(2, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"model must be a torch.nn.Module"):
        empirical_ntk(lambda X: X.sum(1), X, method="jacobian_contraction")
    with pytest.raises(ValueError, match=r"iterations must be positive"):
        hessian_spectral_norm(model, X[0], iterations=0)
    for seed in (1.5, "0", True):
        with pytest.raises(TypeError, match=r"seed must be an integer"):
            hessian_spectral_norm(model, X[0], seed=seed)
    with pytest.raises(ValueError, match=r"X must have d = 3 columns"):
        hessian_spectral_norm(model, torch.ones(4, dtype=torch.float64))


@pytest.mark.parametrize("method", ["auto", "jacobian_contraction", "ntk_vector_products"])
def test_models_without_scalar_output_are_refused(method: str) -> None:
    """empirical_ntk takes (n,) and (n, k) outputs (tests/test_empirical_multi_output.py); the
    per-layer Grams and the Hessian norm are defined for a scalar output only."""
    X = inputs(4, 3, seed=0)
    grid = nn.Sequential(nn.Linear(3, 4), nn.Unflatten(1, (2, 2))).double()
    with pytest.raises(ValueError, match=r"model must map \(n, d\) inputs to \(n,\) or \(n, k\)"):
        empirical_ntk(grid, X, method=method)
    for model in (nn.Linear(3, 2, dtype=torch.float64), nn.Linear(3, 1, dtype=torch.float64)):
        with pytest.raises(ValueError, match=r"model must map \(n, d\) inputs to \(n,\) outputs"):
            layer_grams(model, X)
    with pytest.raises(ValueError, match=r"model must map"):
        hessian_spectral_norm(nn.Linear(3, 2, dtype=torch.float64), X[0])


class NoParameters(nn.Module):
    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return X.sum(1)


@pytest.mark.parametrize("method", ["auto", "jacobian_contraction", "ntk_vector_products"])
def test_model_without_trainable_parameters_is_refused(method: str) -> None:
    model = MLP(3, 8, 1)
    for p in model.parameters():
        p.requires_grad_(False)
    for m in (model, NoParameters()):
        with pytest.raises(ValueError, match=r"has no trainable parameters"):
            empirical_ntk(m, inputs(4, 3, seed=0), method=method)
