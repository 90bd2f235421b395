"""TwoLayerNet (ntkbook.models): the formula, the initialization scale and the homogeneity.

Oracles: the forward pass written out with numpy; the neuron norms at initialization; the
2-homogeneity f(x; λw) = λ² f(x; w); gradients against finite differences.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ntkbook
from ntkbook.models import TwoLayerNet


@pytest.mark.parametrize("scaling", ["mean_field", "ntk"])
def test_forward_matches_numpy(scaling: str) -> None:
    net = TwoLayerNet(3, 6, tau=0.7, scaling=scaling, symmetric=False, seed=1)
    X = ntkbook.data.sphere(5, 3, seed=0)
    A, b = net.A.detach().numpy(), net.b.detach().numpy()
    s = 1 / 6 if scaling == "mean_field" else 1 / math.sqrt(6)
    expected = s * np.maximum(X.numpy() @ A.T, 0) @ b
    np.testing.assert_allclose(net(X).detach().numpy(), expected, rtol=1e-12)


def test_initialization_scale_and_symmetry() -> None:
    net = TwoLayerNet(4, 10, tau=2.5, seed=3)
    np.testing.assert_allclose(torch.linalg.vector_norm(net.A.detach(), dim=1), 2.5, rtol=1e-12)
    np.testing.assert_allclose(net.b.detach().abs(), 2.5, rtol=1e-12)
    np.testing.assert_allclose(net.neuron_positions().norm(dim=1), 2.5**2, rtol=1e-12)
    X = ntkbook.data.sphere(7, 4, seed=1)
    assert float(net(X).detach().abs().max()) < 1e-12


def test_two_homogeneity() -> None:
    small = TwoLayerNet(3, 8, tau=1.0, symmetric=False, seed=2)
    large = TwoLayerNet(3, 8, tau=3.0, symmetric=False, seed=2)
    X = ntkbook.data.sphere(6, 3, seed=4)
    torch.testing.assert_close(large(X), 9 * small(X), rtol=1e-12, atol=1e-12)


def test_gradients_match_finite_differences() -> None:
    net = TwoLayerNet(3, 4, tau=1.0, symmetric=False, seed=0)
    X = ntkbook.data.sphere(3, 3, seed=5)
    A, b = net.A.detach().clone().requires_grad_(), net.b.detach().clone().requires_grad_()

    def f(A, b):
        return torch.func.functional_call(net, {"A": A, "b": b}, (X,))

    assert torch.autograd.gradcheck(f, (A, b))


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="even m"):
        TwoLayerNet(2, 5)
    with pytest.raises(ValueError, match="scaling"):
        TwoLayerNet(2, 4, scaling="standard")
    with pytest.raises(ValueError, match="tau"):
        TwoLayerNet(2, 4, tau=0.0)
    with pytest.raises(TypeError, match="floating dtype"):
        TwoLayerNet(2, 4, dtype=torch.int64)
    with pytest.raises(ValueError, match="m must be positive"):
        TwoLayerNet(2, 0)
    with pytest.raises(ValueError):
        TwoLayerNet(3, 4)(torch.ones(5, 2, dtype=torch.float64))
    assert TwoLayerNet(2, 5, symmetric=False).m == 5
    assert "TwoLayerNet(d=2, m=4" in repr(TwoLayerNet(2, 4))
