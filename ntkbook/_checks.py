"""Input validation shared by the public functions: clear errors that name the argument."""

from __future__ import annotations

import numbers

import torch


def as_matrix(x: object, name: str) -> torch.Tensor:
    """Check that ``x`` is a floating-point 2-D tensor with finite entries."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, d), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {x.dtype}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} must have at least one row, got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite entries")
    return x


def as_vector(y: object, name: str, length: int | None = None) -> torch.Tensor:
    """Check that ``y`` is a floating-point 1-D tensor (of ``length`` entries, if given)."""
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(y).__name__}")
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {tuple(y.shape)}")
    if not y.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {y.dtype}")
    if length is not None and y.shape[0] != length:
        raise ValueError(f"{name} must have {length} entries, got {y.shape[0]}")
    if not torch.isfinite(y).all():
        raise ValueError(f"{name} contains NaN or infinite entries")
    return y


def same_width(X: torch.Tensor, Z: torch.Tensor, xname: str = "X", zname: str = "Z") -> None:
    if X.shape[1] != Z.shape[1]:
        raise ValueError(
            f"{xname} and {zname} must have the same number of columns, "
            f"got {X.shape[1]} and {Z.shape[1]}"
        )
    if X.dtype != Z.dtype:
        raise TypeError(f"{xname} and {zname} must share a dtype, got {X.dtype} and {Z.dtype}")


def positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return int(value)


def nonnegative_float(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not value >= 0.0 or value == float("inf"):
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return value


def positive_float(value: object, name: str) -> float:
    value = nonnegative_float(value, name)
    if value == 0.0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def square(K: object, name: str) -> torch.Tensor:
    K = as_matrix(K, name)
    if K.shape[0] != K.shape[1]:
        raise ValueError(f"{name} must be square, got shape {tuple(K.shape)}")
    return K


def kernel_pair(K_train: object, K_test_train: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Check a square training kernel and a test-by-train kernel with matching columns."""
    K_train = square(K_train, "K_train")
    K_test_train = as_matrix(K_test_train, "K_test_train")
    n = K_train.shape[0]
    if K_test_train.shape[1] != n:
        raise ValueError(
            f"K_test_train must have n = {n} columns to match K_train, got {K_test_train.shape[1]}"
        )
    return K_train, K_test_train
