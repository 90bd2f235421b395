"""Bad inputs to ntkbook.empirical: train-mode BatchNorm/Dropout, meta tensors and meta models,
seeds and single inputs of the Hessian norm."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import ntkbook
from ntkbook import empirical_ntk, hessian_spectral_norm, layer_grams


def inputs(n: int = 6, d: int = 4) -> torch.Tensor:
    return ntkbook.data.sphere(n, d, seed=0)


def with_layer(layer: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), layer, nn.Tanh(), nn.Linear(16, 1),
                         nn.Flatten(0)).double()


@pytest.mark.parametrize("layer, name", [(nn.BatchNorm1d(16), "BatchNorm1d"),
                                         (nn.Dropout(0.5), "Dropout"),
                                         (nn.AlphaDropout(0.2), "AlphaDropout")])
def test_train_mode_batchnorm_and_dropout_are_refused(layer: nn.Module, name: str) -> None:
    """A train-mode forward is random (dropout) or couples the examples (batch statistics): its
    tangent kernel is not a function of the two inputs. Before, BatchNorm raised torch's
    'Expected more than 1 value per channel' and Dropout a vmap randomness error."""
    model = with_layer(layer)
    for method in ("auto", "jacobian_contraction", "ntk_vector_products"):
        with pytest.raises(ValueError, match=rf"model is in training mode and has a {name}.*"
                                             r"model.eval\(\)"):
            empirical_ntk(model, inputs(), method=method)


@pytest.mark.parametrize("layer", [nn.BatchNorm1d(16), nn.Dropout(0.5)])
def test_eval_mode_batchnorm_and_dropout_have_a_kernel(layer: nn.Module) -> None:
    model = with_layer(layer)
    X = inputs()
    model.train()
    with torch.no_grad():
        model(torch.randn(32, 4, dtype=torch.float64))  # give BatchNorm running statistics
    model.eval()
    before = {k: b.clone() for k, b in model.named_buffers()}
    a = empirical_ntk(model, X, method="jacobian_contraction")
    b = empirical_ntk(model, X, method="ntk_vector_products")
    assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)
    assert all(torch.equal(before[k], v) for k, v in model.named_buffers())


def test_meta_inputs_and_meta_models_are_a_clear_error() -> None:
    net = ntkbook.TwoLayerReLU(4, 8)
    with pytest.raises(ValueError, match=r"X is a meta tensor"):
        empirical_ntk(net, inputs().to("meta"))
    with pytest.raises(ValueError, match=r"Z is a meta tensor"):
        empirical_ntk(net, inputs(), inputs().to("meta"))
    meta = ntkbook.TwoLayerReLU(4, 8, device="meta")
    with pytest.raises(ValueError, match=r"model's parameters are on the meta device"):
        empirical_ntk(meta, inputs())
    with pytest.raises(ValueError, match=r"model's parameters are on the meta device"):
        layer_grams(meta, inputs())


def test_hessian_spectral_norm_validates_x_and_the_seed() -> None:
    net = ntkbook.TwoLayerReLU(4, 8)
    X = inputs()
    with pytest.raises(ValueError, match=r"seed must lie in"):
        hessian_spectral_norm(net, X[0], seed=2**70)
    with pytest.raises(ValueError, match=r"x must be one input, shape \(d,\) or \(1, d\), got "
                                         r"shape \(2, 4\)"):
        hessian_spectral_norm(net, X[:2])
    with pytest.raises(TypeError, match=r"x must be a torch.Tensor"):
        hessian_spectral_norm(net, [1.0, 2.0, 3.0, 4.0])
