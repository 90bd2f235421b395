"""The finite networks (ntkbook.models): formulas, initialization, lazy scaling, linearization.

Oracles: the forward passes written out in numpy; sample moments of the initialization; the
Jacobian from ntkbook.empirical.jacobian for the linearization; finite differences
(torch.autograd.gradcheck) for every gradient autograd produces.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import erf as np_erf
from scipy.stats import norm
from torch import nn
from torch.func import functional_call

from ntkbook import MLP, LazyModel, LinearizedModel, TwoLayerReLU, empirical_ntk, linearize
from ntkbook.empirical import jacobian
from ntkbook.kernels import c_sigma_for

NUMPY_ACTIVATIONS = {
    "relu": lambda u: np.maximum(u, 0.0),
    "erf": np_erf,
    "tanh": np.tanh,
    "gelu": lambda u: u * norm.cdf(u),
}


def inputs(n: int, d: int, seed: int) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def flat_parameters(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters() if p.requires_grad])


# --- forward passes against the formulas -------------------------------------------------------

@pytest.mark.parametrize("kappa", [1.0, 0.3])
def test_two_layer_forward_is_the_formula(kappa: float) -> None:
    model = TwoLayerReLU(4, 50, kappa=kappa, seed=3)
    X = inputs(6, 4, seed=0)
    W, a, x = model.W.detach().numpy(), model.a.numpy(), X.numpy()
    expected = [sum(a[r] * max(W[r] @ x[i], 0.0) for r in range(50)) / math.sqrt(50)
                for i in range(6)]
    np.testing.assert_allclose(model(X).detach().numpy(), expected, rtol=1e-12, atol=1e-14)
    assert torch.equal(model.activation_pattern(X), X @ model.W.detach().T > 0)


@pytest.mark.parametrize("activation", sorted(NUMPY_ACTIVATIONS))
@pytest.mark.parametrize("depth", [1, 3])
def test_mlp_forward_is_the_formula(activation: str, depth: int) -> None:
    model = MLP(4, 9, depth, activation=activation, seed=1)
    X = inputs(5, 4, seed=1)
    sigma = NUMPY_ACTIVATIONS[activation]
    scale = math.sqrt(c_sigma_for(activation) / 9)
    h = X.numpy()
    for W in model.weights:
        h = scale * sigma(h @ W.detach().numpy().T)
    np.testing.assert_allclose(model(X).detach().numpy(), h @ model.a.detach().numpy(),
                               rtol=1e-12, atol=1e-14)
    pre, post = model.forward_trace(X)
    assert len(pre) == depth and len(post) == depth + 1
    assert torch.equal(post[0], X)
    for k in range(depth):
        torch.testing.assert_close(pre[k], post[k] @ model.weights[k].detach().T)
    torch.testing.assert_close(post[-1] @ model.a, model(X))


def test_explicit_c_sigma_is_used() -> None:
    model = MLP(3, 8, 2, c_sigma=1.0, seed=0)
    assert model.c_sigma == 1.0 and model.scale == pytest.approx(math.sqrt(1 / 8))
    default = MLP(3, 8, 2, seed=0)
    assert default.c_sigma == 2.0
    X = inputs(4, 3, seed=2)
    # ReLU is 1-homogeneous: each of the two layers contributes a factor √(c_σ), so f ∝ c_σ.
    torch.testing.assert_close(default(X), 2.0 * model(X), rtol=1e-13, atol=1e-14)


# --- initialization ----------------------------------------------------------------------------

def test_two_layer_initialization_distribution() -> None:
    m, d, kappa = 20000, 5, 0.7
    model = TwoLayerReLU(d, m, kappa=kappa, seed=0)
    W = model.W.detach()
    assert model.W.requires_grad and not isinstance(model.a, nn.Parameter)
    assert set(model.a.unique().tolist()) == {-1.0, 1.0}
    # Standard errors: mean κ/√N, std κ/√(2N), fraction of +1 ½/√m; 5 of them allowed.
    N = m * d
    assert abs(float(W.mean())) < 5 * kappa / math.sqrt(N)
    assert abs(float(W.std()) - kappa) < 5 * kappa / math.sqrt(2 * N)
    assert abs(float((model.a > 0).double().mean()) - 0.5) < 5 * 0.5 / math.sqrt(m)
    assert [k for k, _ in model.named_parameters()] == ["W"]


def test_mlp_initialization_distribution() -> None:
    model = MLP(16, 256, 3, seed=0)
    assert all(p.requires_grad for p in model.parameters())
    assert [tuple(W.shape) for W in model.weights] == [(256, 16), (256, 256), (256, 256)]
    assert tuple(model.a.shape) == (256,)
    values = flat_parameters(model)
    N = values.numel()
    assert abs(float(values.mean())) < 5 / math.sqrt(N)
    assert abs(float(values.std()) - 1.0) < 5 / math.sqrt(2 * N)


@pytest.mark.parametrize("make", [lambda s: TwoLayerReLU(3, 20, seed=s),
                                  lambda s: MLP(3, 10, 2, activation="tanh", seed=s)])
def test_seeds_are_reproducible_and_distinct(make) -> None:
    assert torch.equal(flat_parameters(make(7)), flat_parameters(make(7)))
    assert not torch.equal(flat_parameters(make(7)), flat_parameters(make(8)))
    for a, b in zip(make(7).buffers(), make(7).buffers()):
        assert torch.equal(a, b)


def test_dtype_and_device_keywords() -> None:
    for model in (TwoLayerReLU(3, 8, dtype=torch.float32, device="cpu"),
                  MLP(3, 8, 2, dtype=torch.float32, device="cpu")):
        assert all(p.dtype == torch.float32 and p.device.type == "cpu"
                   for p in (*model.parameters(), *model.buffers()))
        assert model(inputs(2, 3, seed=0).float()).dtype == torch.float32


def test_reprs() -> None:
    assert repr(TwoLayerReLU(d=64, m=4096, kappa=1.0)) == "TwoLayerReLU(d=64, m=4096, kappa=1)"
    assert repr(TwoLayerReLU(3, 5, kappa=0.25)) == "TwoLayerReLU(d=3, m=5, kappa=0.25)"
    assert repr(MLP(5, 32, 2)) == "MLP(d=5, width=32, depth=2, activation='relu', c_sigma=2)"
    assert repr(MLP(5, 32, 1, activation="erf")).startswith(
        "MLP(d=5, width=32, depth=1, activation='erf', c_sigma=")
    assert repr(LazyModel(MLP(2, 4, 1), alpha=10.0)) == (
        "LazyModel(MLP(d=2, width=4, depth=1, activation='relu', c_sigma=2), alpha=10)")
    assert repr(linearize(TwoLayerReLU(2, 3))) == "LinearizedModel(TwoLayerReLU(d=2, m=3, kappa=1))"


# --- the lazy model ----------------------------------------------------------------------------

def perturb(model: nn.Module, size: float, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(size * torch.randn(p.shape, generator=g, dtype=p.dtype))


@pytest.mark.parametrize("make", [lambda: TwoLayerReLU(3, 20, seed=1),
                                  lambda: MLP(3, 10, 2, activation="erf", seed=1)])
def test_lazy_model_is_zero_at_init_and_scales_with_alpha(make) -> None:
    base = make()
    X = inputs(7, 3, seed=3)
    f0 = base(X).detach()
    for alpha in (0.5, 1.0, 100.0):
        lazy = LazyModel(base, alpha)
        assert torch.equal(lazy(X), torch.zeros(7, dtype=torch.float64))
        perturb(lazy.model, 0.1, seed=4)
        moved = lazy.model(X).detach()
        torch.testing.assert_close(lazy(X), alpha * (moved - f0), rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(base(X), f0, rtol=0, atol=0)  # the original is a copy, untouched


def test_lazy_model_kernel_is_alpha_squared_times_the_kernel() -> None:
    base = MLP(3, 10, 2, seed=2)
    X = inputs(5, 3, seed=5)
    lazy = LazyModel(base, 3.0)
    torch.testing.assert_close(empirical_ntk(lazy, X), 9.0 * empirical_ntk(base, X),
                               rtol=1e-12, atol=1e-12)
    assert [k for k, p in lazy.named_parameters() if p.requires_grad] == [
        "model." + k for k, _ in base.named_parameters()]


def test_lazy_model_moves_with_to_and_stays_zero_at_init() -> None:
    lazy = LazyModel(MLP(3, 10, 2, seed=2), 2.0).to(torch.float32)
    assert all(p.dtype == torch.float32 for p in lazy.parameters())
    out = lazy(inputs(4, 3, seed=1).float())
    assert out.dtype == torch.float32 and torch.equal(out, torch.zeros(4))


# --- the linearization -------------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: TwoLayerReLU(3, 12, seed=1),
                                  lambda: MLP(3, 8, 2, activation="tanh", seed=1)])
def test_linearization_is_the_first_order_taylor_expansion(make) -> None:
    model = make()
    X = inputs(6, 3, seed=6)
    lin = linearize(model)
    assert isinstance(lin, LinearizedModel)
    torch.testing.assert_close(lin(X), model(X), rtol=1e-14, atol=1e-15)
    assert lin.parameter_distance() == 0.0
    perturb(lin, 0.3, seed=7)
    delta = flat_parameters(lin) - flat_parameters(model)
    J = torch.cat([j.reshape(6, -1) for j in jacobian(model, X).values()], dim=1)
    torch.testing.assert_close(lin(X) - model(X), J @ delta, rtol=1e-12, atol=1e-13)
    distance = lin.parameter_distance()
    assert distance == pytest.approx(float(torch.linalg.norm(delta)), rel=1e-13)
    # f_lin is linear in w: its Jacobian at w₀ + δ is still J(w₀), so is its tangent kernel.
    J_lin = torch.cat([j.reshape(6, -1) for j in jacobian(lin, X).values()], dim=1)
    torch.testing.assert_close(J_lin, J, rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(empirical_ntk(lin, X), empirical_ntk(model, X),
                               rtol=1e-12, atol=1e-13)
    # ... and the base network it expands around is a frozen copy.
    torch.testing.assert_close(flat_parameters(model), flat_parameters(make()), rtol=0, atol=0)
    assert not any(p.requires_grad for p in lin.base.parameters())


def test_linearization_keeps_frozen_parameters_frozen() -> None:
    model = MLP(3, 8, 2, seed=3)
    model.a.requires_grad_(False)
    lin = linearize(model)
    X = inputs(5, 3, seed=8)
    assert sum(p.requires_grad for p in lin.parameters()) == 2
    torch.testing.assert_close(empirical_ntk(lin, X), empirical_ntk(model, X),
                               rtol=1e-12, atol=1e-13)


# --- gradients against finite differences ------------------------------------------------------

GRADCHECK_MODELS = [
    pytest.param(lambda: TwoLayerReLU(3, 6, seed=2), id="TwoLayerReLU"),
    *[pytest.param(lambda a=a: MLP(3, 5, 2, activation=a, seed=2), id=f"MLP-{a}")
      for a in ("relu", "erf", "tanh", "gelu")],
    pytest.param(lambda: LazyModel(MLP(3, 5, 2, activation="tanh", seed=2), 4.0), id="Lazy"),
    pytest.param(lambda: linearize(MLP(3, 5, 2, activation="erf", seed=2)), id="Linearized"),
]


@pytest.mark.parametrize("make", GRADCHECK_MODELS)
def test_gradients_match_finite_differences(make) -> None:
    model = make()
    perturb(model, 0.05, seed=9)  # move the lazy/linearized models away from w₀
    X = inputs(4, 3, seed=9).requires_grad_(True)
    names = [k for k, p in model.named_parameters() if p.requires_grad]
    params = tuple(p.detach().clone().requires_grad_(True)
                   for p in model.parameters() if p.requires_grad)

    def f(X: torch.Tensor, *ps: torch.Tensor) -> torch.Tensor:
        return functional_call(model, dict(zip(names, ps)), (X,))

    assert torch.autograd.gradcheck(f, (X, *params), eps=1e-6, atol=1e-7, rtol=1e-5)


# --- bad input ---------------------------------------------------------------------------------

def test_bad_constructor_arguments_name_the_argument() -> None:
    for kwargs, match in [
        (dict(d=0, m=4), r"d must be positive"),
        (dict(d=3, m=-1), r"m must be positive"),
        (dict(d=3, m=4, kappa=0.0), r"kappa must be > 0"),
        (dict(d=3, m=4, kappa=-1.0), r"kappa must be a finite number >= 0"),
    ]:
        with pytest.raises(ValueError, match=match):
            TwoLayerReLU(**kwargs)
    for args, kwargs, match in [
        ((3, 0, 1), {}, r"width must be positive"),
        ((3, 4, 0), {}, r"depth must be positive"),
        ((0, 4, 1), {}, r"d must be positive"),
        ((3, 4, 1), dict(activation="sigmoid"), r"activation must be one of"),
        ((3, 4, 1), dict(c_sigma=0.0), r"c_sigma must be > 0"),
    ]:
        with pytest.raises(ValueError, match=match):
            MLP(*args, **kwargs)
    with pytest.raises(TypeError, match=r"width must be an integer"):
        MLP(3, 4.0, 1)
    with pytest.raises(TypeError, match=r"d must be an integer"):
        TwoLayerReLU(True, 4)
    for seed in (1.5, "0", True, None):
        with pytest.raises(TypeError, match=r"seed must be an integer"):
            TwoLayerReLU(3, 4, seed=seed)
        with pytest.raises(TypeError, match=r"seed must be an integer"):
            MLP(3, 4, 1, seed=seed)
    with pytest.raises(TypeError, match=r"dtype must be a floating dtype"):
        TwoLayerReLU(3, 4, dtype=torch.int64)
    with pytest.raises(TypeError, match=r"dtype must be a floating dtype"):
        MLP(3, 4, 1, dtype=torch.int32)
    for alpha, error in ((0.0, ValueError), (-2.0, ValueError), ("1", TypeError)):
        with pytest.raises(error, match=r"alpha must be"):
            LazyModel(MLP(3, 4, 1), alpha)
    with pytest.raises(TypeError, match=r"model must be a torch.nn.Module"):
        LazyModel(lambda X: X, 1.0)
    with pytest.raises(TypeError, match=r"model must be a torch.nn.Module"):
        linearize(lambda X: X)


@pytest.mark.parametrize("model", [TwoLayerReLU(3, 4), MLP(3, 4, 2)])
def test_bad_inputs_name_the_argument(model: nn.Module) -> None:
    with pytest.raises(ValueError, match=r"X must be 2-D"):
        model(torch.ones(3, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"X must have a floating dtype"):
        model(torch.ones(2, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"X must have d = 3 columns"):
        model(torch.ones(2, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"X must be a torch.Tensor"):
        model(np.ones((2, 3)))


def test_a_seed_names_the_same_network_in_every_dtype() -> None:
    for make in (lambda dt: TwoLayerReLU(3, 16, kappa=0.5, seed=4, dtype=dt),
                 lambda dt: MLP(3, 16, 2, seed=4, dtype=dt)):
        wide, narrow = make(torch.float64), make(torch.float32)
        for p, q in zip(wide.state_dict().values(), narrow.state_dict().values()):
            assert q.dtype == torch.float32
            torch.testing.assert_close(p.to(torch.float32), q, rtol=0, atol=0)
