"""empirical_ntk for models with several outputs, and in blocks of rows.

The oracle is an independent Jacobian contraction: ``torch.func.jacrev`` of the whole batch's
output (n, k) with respect to every trainable parameter, flattened to J ∈ R^{n×k×P}, then
Θ[i, j, a, b] = Σ_p J[i, a, p] J'[j, b, p] (full), its trace over a = b, or its diagonal.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call, jacrev

import ntkbook
from ntkbook import MLP, TwoLayerReLU, empirical_ntk


def oracle(model: nn.Module, X: torch.Tensor, Z: torch.Tensor, mode: str) -> torch.Tensor:
    params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
    buffers = dict(model.named_buffers())

    def flat(inputs: torch.Tensor) -> torch.Tensor:
        # J[name]: (n, k, *w.shape), the derivative of the whole (n, k) output
        J = jacrev(lambda p: functional_call(model, {**p, **buffers}, (inputs,)))(params)
        n, k = inputs.shape[0], model(inputs[:1]).shape[1]
        return torch.cat([t.reshape(n, k, -1) for t in J.values()], dim=-1)

    JX, JZ = flat(X), flat(Z)
    full = torch.einsum("iap,jbp->ijab", JX, JZ)
    if mode == "full":
        return full
    diagonal = full.diagonal(dim1=2, dim2=3)
    return diagonal.sum(-1) if mode == "trace" else diagonal


def three_outputs() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 12), nn.Tanh(), nn.Linear(12, 12), nn.GELU(),
                         nn.Linear(12, 3)).double()


def inputs(n: int, seed: int) -> torch.Tensor:
    return ntkbook.data.sphere(n, 4, seed=seed)


@pytest.mark.parametrize("method", ["auto", "jacobian_contraction", "ntk_vector_products"])
@pytest.mark.parametrize("mode", ["full", "trace", "diagonal"])
def test_multi_output_kernel_is_the_jacobian_contraction(method: str, mode: str) -> None:
    model = three_outputs()
    X, Z = inputs(7, 0), inputs(5, 1)
    for A, B in ((X, Z), (X, X)):
        got = empirical_ntk(model, A, B, method=method, mode=mode)
        want = oracle(model, A, B, mode)
        shape = {"full": (A.shape[0], B.shape[0], 3, 3), "trace": (A.shape[0], B.shape[0]),
                 "diagonal": (A.shape[0], B.shape[0], 3)}[mode]
        assert got.shape == shape
        torch.testing.assert_close(got, want, rtol=1e-11, atol=1e-13)
    assert torch.equal(empirical_ntk(model, X, method=method, mode=mode),
                       empirical_ntk(model, X, None, method=method, mode=mode))


def test_full_kernel_is_symmetric_under_swapping_inputs_and_outputs() -> None:
    model = three_outputs()
    X, Z = inputs(6, 2), inputs(4, 3)
    a = empirical_ntk(model, X, Z)
    b = empirical_ntk(model, Z, X)
    torch.testing.assert_close(a, b.permute(1, 0, 3, 2), rtol=1e-12, atol=1e-14)


def test_one_output_of_shape_n_by_1_is_a_1_by_1_block() -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)).double()
    squeezed = nn.Sequential(model, nn.Flatten(0))
    X = inputs(5, 4)
    full = empirical_ntk(model, X)
    assert full.shape == (5, 5, 1, 1)
    torch.testing.assert_close(full[:, :, 0, 0], empirical_ntk(squeezed, X), rtol=1e-12,
                               atol=1e-14)
    torch.testing.assert_close(empirical_ntk(model, X, mode="trace"), empirical_ntk(squeezed, X),
                               rtol=1e-12, atol=1e-14)


def test_float32_multi_output_kernel_is_computed_in_float32() -> None:
    model = three_outputs().float()
    X = inputs(5, 5).float()
    got = empirical_ntk(model, X, mode="diagonal")
    assert got.dtype == torch.float32
    want = oracle(three_outputs(), inputs(5, 5), inputs(5, 5), "diagonal")
    torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-5)


def test_structured_method_is_refused_for_several_outputs() -> None:
    with pytest.raises(ValueError, match=r"method='structured' needs a scalar-output"):
        empirical_ntk(three_outputs(), inputs(3, 0), method="structured")
    with pytest.raises(ValueError, match=r"mode must be one of"):
        empirical_ntk(three_outputs(), inputs(3, 0), mode="diag")


SCALAR_MODELS = {
    "TwoLayerReLU": lambda: TwoLayerReLU(4, 64, seed=0),
    "MLP": lambda: MLP(4, 32, 2, seed=0),
    "Sequential": lambda: nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1),
                                        nn.Flatten(0)).double(),
}


@pytest.mark.parametrize("name", list(SCALAR_MODELS))
@pytest.mark.parametrize("method", ["auto", "jacobian_contraction", "ntk_vector_products"])
@pytest.mark.parametrize("batch_size", [1, 3, 4, 100])
def test_blocks_of_rows_give_the_same_kernel(name: str, method: str, batch_size: int) -> None:
    model = SCALAR_MODELS[name]()
    X, Z = inputs(10, 6), inputs(7, 7)
    for A, B in ((X, None), (X, Z)):
        whole = empirical_ntk(model, A, B, method=method)
        blocked = empirical_ntk(model, A, B, method=method, batch_size=batch_size)
        torch.testing.assert_close(blocked, whole, rtol=1e-12, atol=1e-14)
    if batch_size < 10:  # blocks below the diagonal are the transposes of those above it
        blocked = empirical_ntk(model, X, method=method, batch_size=batch_size)
        assert torch.equal(blocked[batch_size:, :batch_size], blocked[:batch_size, batch_size:].T)


@pytest.mark.parametrize("mode", ["full", "trace", "diagonal"])
@pytest.mark.parametrize("batch_size", [1, 2, 5])
def test_blocks_of_rows_for_several_outputs(mode: str, batch_size: int) -> None:
    model = three_outputs()
    X, Z = inputs(9, 8), inputs(4, 9)
    for A, B in ((X, X), (X, Z), (Z, X)):
        blocked = empirical_ntk(model, A, B, mode=mode, batch_size=batch_size)
        torch.testing.assert_close(blocked, oracle(model, A, B, mode), rtol=1e-11, atol=1e-13)


def test_batch_size_is_validated() -> None:
    for bad, error in ((0, ValueError), (-2, ValueError), (2.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match=r"batch_size must be"):
            empirical_ntk(MLP(4, 8, 1), inputs(3, 0), batch_size=bad)
