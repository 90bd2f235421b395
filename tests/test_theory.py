"""The lazy-training criterion (ntkbook.theory) against brute force on tiny models.

Oracles: full Hessians and Jacobians formed with torch.autograd.functional on a network with a
few dozen parameters; ‖D²h‖ = max_{‖c‖=1} ‖Σ_i c_i H_i‖₂ by a dense search over the unit circle
(n = 2) and by random search plus the bounds max_i ‖H_i‖ ≤ ‖D²h‖ ≤ √(Σ_i ‖H_i‖²) (n = 4); the
scaling identities of Chizat, Oyallon & Bach (2019) for the scaled and the homogeneous model.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call

import ntkbook
from ntkbook import theory
from ntkbook.models import TwoLayerNet


def _flat_model(model: torch.nn.Module, X: torch.Tensor):
    names = [k for k, p in model.named_parameters() if p.requires_grad]
    shapes = [p.shape for k, p in model.named_parameters() if p.requires_grad]
    w0 = torch.cat([p.detach().reshape(-1) for k, p in model.named_parameters()
                    if p.requires_grad])

    def h(w: torch.Tensor) -> torch.Tensor:
        params, i = {}, 0
        for k, s in zip(names, shapes):
            params[k] = w[i:i + s.numel()].reshape(s)
            i += s.numel()
        return functional_call(model, params, (X,))

    return h, w0


def _hessians(model: torch.nn.Module, X: torch.Tensor) -> torch.Tensor:
    h, w0 = _flat_model(model, X)
    return torch.stack([torch.autograd.functional.hessian(lambda w, i=i: h(w)[i], w0)
                        for i in range(X.shape[0])])


def _brute_force_norm_circle(H: torch.Tensor, points: int = 20000) -> float:
    angles = torch.linspace(0, math.pi, points, dtype=torch.float64)
    C = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    M = torch.einsum("ci,ipq->cpq", C, H)
    return float(torch.linalg.matrix_norm(M, 2).max())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_second_derivative_norm_matches_a_dense_search_for_two_outputs(seed: int) -> None:
    net = ntkbook.MLP(3, width=5, depth=1, activation="tanh", seed=seed)
    X = ntkbook.data.sphere(2, 3, seed=seed)
    expected = _brute_force_norm_circle(_hessians(net, X))
    estimate = theory.second_derivative_norm(net, X)
    assert estimate == pytest.approx(expected, rel=1e-4)


def test_second_derivative_norm_is_within_the_bounds_and_beats_random_search() -> None:
    net = ntkbook.MLP(3, width=4, depth=2, activation="gelu", seed=3)
    X = ntkbook.data.sphere(4, 3, seed=4)
    H = _hessians(net, X)
    per_output = torch.linalg.matrix_norm(H, 2)
    g = torch.Generator().manual_seed(0)
    C = torch.randn(5000, 4, generator=g, dtype=torch.float64)
    C = C / torch.linalg.vector_norm(C, dim=1, keepdim=True)
    random_search = float(torch.linalg.matrix_norm(torch.einsum("ci,ipq->cpq", C, H), 2).max())
    estimate = theory.second_derivative_norm(net, X)
    assert float(per_output.max()) <= estimate * (1 + 1e-9)
    assert estimate <= float(torch.linalg.vector_norm(per_output)) * (1 + 1e-9)
    assert estimate >= random_search * (1 - 1e-6)


def test_lazy_criterion_matches_brute_force() -> None:
    net = ntkbook.MLP(3, width=5, depth=1, activation="tanh", seed=1)
    X = ntkbook.data.sphere(2, 3, seed=0)
    y = torch.tensor([1.0, -0.5], dtype=torch.float64)
    h, w0 = _flat_model(net, X)
    J = torch.autograd.functional.jacobian(h, w0)
    residual = float(torch.linalg.vector_norm(h(w0).detach() - y))
    jac_norm = float(torch.linalg.matrix_norm(J, 2))
    curvature = _brute_force_norm_circle(_hessians(net, X))
    result = theory.lazy_criterion(net, X, y)
    assert result.residual_norm == pytest.approx(residual, rel=1e-12)
    assert result.jacobian_norm == pytest.approx(jac_norm, rel=1e-10)
    assert result.second_derivative_norm == pytest.approx(curvature, rel=1e-4)
    assert result.kappa == pytest.approx(residual * curvature / jac_norm**2, rel=1e-4)
    assert "kappa=" in repr(result)


def test_scaled_model_kappa_falls_like_one_over_alpha() -> None:
    net = ntkbook.MLP(3, width=8, depth=1, activation="tanh", seed=0)
    X = ntkbook.data.sphere(5, 3, seed=1)
    y = X[:, 0] ** 2
    kappas = [theory.lazy_criterion(ntkbook.LazyModel(net, a), X, y).kappa for a in (1.0, 10.0)]
    # α h(w0) = 0 for the centred model, so κ_{αh} = κ_h(with residual ‖y‖) / α.
    assert kappas[1] == pytest.approx(kappas[0] / 10, rel=1e-8)


def test_homogeneous_model_kappa_falls_like_tau_to_the_minus_two() -> None:
    X = ntkbook.data.sphere(6, 4, seed=2)
    y = torch.ones(6, dtype=torch.float64)
    k1 = theory.lazy_criterion(TwoLayerNet(4, 10, tau=1.0, seed=0), X, y)
    k3 = theory.lazy_criterion(TwoLayerNet(4, 10, tau=3.0, seed=0), X, y)
    assert k3.kappa == pytest.approx(k1.kappa / 9, rel=1e-8)
    assert k3.jacobian_norm == pytest.approx(3 * k1.jacobian_norm, rel=1e-10)
    assert k3.second_derivative_norm == pytest.approx(k1.second_derivative_norm, rel=1e-8)


def test_a_model_linear_in_its_weights_has_zero_curvature() -> None:
    model = torch.nn.Linear(3, 1, bias=False).double()
    wrapped = torch.nn.Sequential(model, torch.nn.Flatten(0))
    X = ntkbook.data.sphere(4, 3, seed=0)
    result = theory.lazy_criterion(wrapped, X, torch.zeros(4, dtype=torch.float64))
    assert result.second_derivative_norm == 0.0
    assert result.kappa == 0.0


def test_bad_inputs_raise() -> None:
    net = ntkbook.MLP(3, width=4, depth=1, seed=0)
    X = ntkbook.data.sphere(4, 3, seed=0)
    y = torch.zeros(4, dtype=torch.float64)
    with pytest.raises(ValueError, match="y must have 4 entries"):
        theory.lazy_criterion(net, X, y[:3])
    with pytest.raises(ValueError, match="X must be 2-D"):
        theory.lazy_criterion(net, X[0], y)
    with pytest.raises(ValueError, match="iterations must be positive"):
        theory.second_derivative_norm(net, X, iterations=0)
    with pytest.raises(TypeError, match="seed must be an integer"):
        theory.second_derivative_norm(net, X, seed=1.5)
    frozen = ntkbook.MLP(3, width=4, depth=1, seed=0).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        theory.lazy_criterion(frozen, X, y)
