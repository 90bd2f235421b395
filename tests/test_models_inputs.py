"""Bad inputs to the models: clear errors naming the argument instead of torch's internals."""

from __future__ import annotations

import pytest
import torch

from ntkbook import MLP, LazyModel, TwoLayerReLU, linearize
from ntkbook.models import TwoLayerNet

MODELS = {
    "TwoLayerReLU": lambda **kw: TwoLayerReLU(4, 8, **kw),
    "TwoLayerNet": lambda **kw: TwoLayerNet(4, 8, **kw),
    "MLP": lambda **kw: MLP(4, 8, 2, **kw),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_dtype_must_be_a_floating_torch_dtype(name: str) -> None:
    for bad in ("float64", float, torch.int64, torch.complex64):
        with pytest.raises(TypeError, match=r"dtype must be a floating dtype"):
            MODELS[name](dtype=bad)


@pytest.mark.parametrize("name", list(MODELS))
def test_seed_must_be_an_integer_in_the_generator_range(name: str) -> None:
    with pytest.raises(ValueError, match=r"seed must lie in \[-2\*\*63, 2\*\*64\)"):
        MODELS[name](seed=2**70)
    with pytest.raises(TypeError, match=r"seed must be an integer"):
        MODELS[name](seed=1.5)
    import numpy as np

    same = MODELS[name](seed=np.int64(3))
    assert all(torch.equal(p, q) for p, q in zip(same.parameters(),
                                                 MODELS[name](seed=3).parameters()))


@pytest.mark.parametrize("name", list(MODELS))
def test_a_device_that_does_not_exist_is_a_clear_error(name: str) -> None:
    with pytest.raises(ValueError, match=r"device 'gpu0' is not a torch device"):
        MODELS[name](device="gpu0")
    with pytest.raises(TypeError, match=r"device must be"):
        MODELS[name](device=1.5)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
@pytest.mark.parametrize("name", list(MODELS))
def test_cuda_without_a_gpu_is_a_clear_error(name: str) -> None:
    with pytest.raises(ValueError, match=r"device='cuda' but no CUDA GPU is available"):
        MODELS[name](device="cuda")


@pytest.mark.parametrize("name", list(MODELS))
def test_forward_with_another_dtype_names_x(name: str) -> None:
    X = torch.randn(3, 4, dtype=torch.float64)
    model32 = MODELS[name](dtype=torch.float32)
    with pytest.raises(TypeError, match=r"X has dtype torch.float64 but the model's parameters "
                                        r"are torch.float32"):
        model32(X)
    with pytest.raises(TypeError, match=r"X has dtype torch.float32"):
        MODELS[name]()(X.float())


@pytest.mark.parametrize("name", list(MODELS))
def test_forward_on_another_device_names_x(name: str) -> None:
    with pytest.raises(ValueError, match=r"X is on device meta but the model's parameters are "
                                         r"on cpu"):
        MODELS[name]()(torch.randn(3, 4, dtype=torch.float64, device="meta"))


def test_wrappers_forward_check_still_runs_under_torch_func() -> None:
    """The dtype/device check must not break vmap/jvp (LinearizedModel, empirical_ntk)."""
    net = MLP(4, 8, 2, seed=0)
    X = torch.randn(5, 4, dtype=torch.float64)
    lin = linearize(net)
    assert torch.allclose(lin(X), net(X))
    lazy = LazyModel(net, 3.0)
    assert torch.equal(lazy(X), torch.zeros(5, dtype=torch.float64))
