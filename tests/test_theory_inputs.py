"""Bad and edge-case inputs to ntkbook.theory: float32 kernels accepted with a tolerance that
follows the dtype, no NaN shares for y = 0, no overflow inside the width requirement, clear
errors for seeds and meta tensors."""

from __future__ import annotations

import math

import pytest
import torch

import ntkbook
from ntkbook import theory


def singular(n: int = 40, d: int = 3, seed: int = 2) -> torch.Tensor:
    X = ntkbook.data.sphere(n, d, seed=seed)
    return X @ X.T


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_max_stable_lr_accepts_a_singular_kernel_in_either_dtype(dtype: torch.dtype) -> None:
    K = singular()
    exact = theory.max_stable_lr(K)
    assert theory.max_stable_lr(K.to(dtype)) == pytest.approx(exact, rel=1e2 * torch.finfo(
        dtype).eps)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_information_split_accepts_a_singular_kernel_in_either_dtype(dtype: torch.dtype) -> None:
    K = singular()
    split = theory.information_split(kernel=K.to(dtype), cutoff=1.0)
    assert split.rank == theory.information_split(kernel=K, cutoff=1.0).rank == 3


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_label_projections_accepts_a_singular_kernel_in_either_dtype(dtype: torch.dtype) -> None:
    K = singular()
    y = torch.ones(40, dtype=dtype)
    projections = theory.label_projections(K.to(dtype), y)
    assert projections.eigenvalues.shape == (40,)


def test_an_indefinite_kernel_is_still_refused() -> None:
    K = singular()
    shifted = K - 1e-2 * float(torch.linalg.eigvalsh(K)[-1]) * torch.eye(40, dtype=K.dtype)
    for dtype in (torch.float32, torch.float64):
        with pytest.raises(ValueError, match=r"K must be positive semi-definite"):
            theory.max_stable_lr(shifted.to(dtype))
        with pytest.raises(ValueError, match=r"kernel must be positive semi-definite"):
            theory.information_split(kernel=shifted.to(dtype), cutoff=1.0)


def test_the_label_share_of_y_equal_to_zero_is_an_error_not_nan() -> None:
    K = singular()
    projections = theory.label_projections(K, torch.zeros(40, dtype=torch.float64))
    assert "nan" not in repr(projections)
    with pytest.raises(ValueError, match=r"y = 0"):
        projections.top_fraction(3)


def test_du_two_layer_requirements_does_not_overflow_inside() -> None:
    """n⁶ of a Python int and λ₀⁴ of a tiny float used to raise OverflowError and
    ZeroDivisionError."""
    with pytest.raises(ValueError,
                       match=r"width n\^6 .* = 10\^409 overflows a float .*lambda_0=1e-100"):
        theory.du_two_layer_requirements(10, 1e-100)
    with pytest.raises(ValueError, match=r"width .* overflows a float"):
        theory.du_two_layer_requirements(10**60, 0.1)
    big = theory.du_two_layer_requirements(10**50, 0.5, delta=0.5, kappa=2.0)
    assert big.width == pytest.approx(1e300 / (0.5**4 * 0.5**3 * 4), rel=1e-12)
    assert big.lr == pytest.approx(0.5e-100, rel=1e-12)
    small = theory.du_two_layer_requirements(10, 0.2)
    assert small.width == pytest.approx(10**6 / (0.2**4 * 0.1**3), rel=1e-12)
    assert math.isfinite(theory.du_two_layer_requirements(2, 1e-70).width)


def test_seeds_are_validated() -> None:
    net = ntkbook.TwoLayerReLU(3, 8)
    X = ntkbook.data.sphere(4, 3, seed=0)
    y = torch.ones(4, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"seed must lie in"):
        theory.lazy_criterion(net, X, y, seed=2**70)
    with pytest.raises(TypeError, match=r"seed must be an integer"):
        theory.second_derivative_norm(net, X, seed=1.5)


def test_meta_tensors_are_a_clear_error() -> None:
    K = singular()
    with pytest.raises(ValueError, match=r"K is a meta tensor"):
        theory.max_stable_lr(K.to("meta"))
    with pytest.raises(ValueError, match=r"kernel is a meta tensor"):
        theory.information_split(kernel=K.to("meta"), cutoff=1.0)
