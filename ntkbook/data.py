"""Seeded data sets: generated ones, and scikit-learn's digits (shipped with it, never downloaded).

Every generator takes an explicit ``seed`` and returns float64 tensors unless ``dtype`` says
otherwise. Inputs that the theory wants on the unit sphere are returned there.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ._checks import floating_dtype, nonnegative_float, positive_float, positive_int
from ._checks import seed as check_seed


def _gen(seed: int) -> torch.Generator:
    return torch.Generator(device="cpu").manual_seed(check_seed(seed))


def sphere(n: int, d: int, *, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """n points drawn uniformly on the unit sphere S^{d−1} ⊂ ℝ^d, shape (n, d).

    Example:
        >>> X = sphere(4, 3, seed=0)
        >>> X.shape, bool(torch.allclose(X.norm(dim=1), torch.ones(4, dtype=torch.float64)))
        (torch.Size([4, 3]), True)
    """
    n, d = positive_int(n, "n"), positive_int(d, "d")
    dtype = floating_dtype(dtype)
    if d < 2:
        raise ValueError(f"d must be at least 2 for a sphere with more than two points, got {d}")
    X = torch.randn(n, d, generator=_gen(seed), dtype=torch.float64)
    return torch.nn.functional.normalize(X, dim=1).to(dtype)


def circle(n: int, *, seed: int | None = None,
           dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """n points on the unit circle and their angles: ``(X, theta)`` with X = (cos θ, sin θ).

    With ``seed=None`` the angles are evenly spaced in [0, 2π); otherwise uniform at random.
    Targets that are functions of θ (such as sin(kθ)) make frequencies visible.
    """
    n = positive_int(n, "n")
    dtype = floating_dtype(dtype)
    if seed is None:
        theta = torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)
    else:
        theta = torch.rand(n, generator=_gen(seed), dtype=torch.float64) * 2 * math.pi
    X = torch.stack([torch.cos(theta), torch.sin(theta)], dim=1)
    return X.to(dtype), theta.to(dtype)


def toy_2d(n: int, *, kind: str = "moons", noise: float = 0.1, seed: int = 0,
           dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """A two-class data set in the plane with labels ±1: ``(X, y)``, X of shape (n, 2).

    kinds: ``"moons"`` (two interleaved half circles), ``"circles"`` (a disc inside a ring),
    ``"xor"`` (the four quadrants, label = sign(x₁x₂)). Gaussian noise of standard deviation
    ``noise`` is added to the points.
    """
    n = positive_int(n, "n")
    noise = nonnegative_float(noise, "noise")
    dtype = floating_dtype(dtype)
    g = _gen(seed)
    half = torch.arange(n) % 2
    y = (2 * half - 1).to(torch.float64)
    if kind == "moons":
        t = torch.rand(n, generator=g, dtype=torch.float64) * math.pi
        upper = torch.stack([torch.cos(t), torch.sin(t)], 1)
        lower = torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], 1)
        X = torch.where(half[:, None] == 1, upper, lower) - torch.tensor([0.5, 0.25])
    elif kind == "circles":
        t = torch.rand(n, generator=g, dtype=torch.float64) * 2 * math.pi
        radius = torch.where(half == 1, 0.5, 1.0).to(torch.float64)
        X = radius[:, None] * torch.stack([torch.cos(t), torch.sin(t)], 1)
    elif kind == "xor":
        X = torch.rand(n, 2, generator=g, dtype=torch.float64) * 2 - 1
        y = torch.sign(X[:, 0] * X[:, 1])
        y[y == 0] = 1.0
    else:
        raise ValueError(f"kind must be 'moons', 'circles' or 'xor', got {kind!r}")
    X = X + noise * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return X.to(dtype), y.to(dtype)


def mixture(
    n: int,
    d: int,
    proportions: Sequence[float],
    *,
    radius: float = 0.2,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The finite mixture of Zhang & Zhang (2022, Definition 1) on the unit sphere.

    K = len(proportions) components with centres uniform on S^{d−1}; component k receives
    n_k = round(p_k n) points (assumption A1, the last component takes the rounding remainder).
    Each point is its centre plus a perturbation uniform in the ball of radius ``radius``,
    projected back to the sphere, so every point lies within ``radius`` of its centre
    (assumption A2 up to the projection).

    Returns:
        ``(X, component)``: X of shape (n, d) with unit rows, and the component index of each row.
    """
    n, d = positive_int(n, "n"), positive_int(d, "d")
    radius = positive_float(radius, "radius")
    dtype = floating_dtype(dtype)
    if isinstance(proportions, (str, bytes)) or not hasattr(proportions, "__iter__"):
        raise TypeError(f"proportions must be a sequence of numbers, got {proportions!r}")
    proportions = list(proportions)
    if not all(isinstance(q, numbers.Real) and not isinstance(q, bool) for q in proportions):
        raise TypeError(f"proportions must be a sequence of numbers, got {proportions!r}")
    p = torch.as_tensor(proportions, dtype=torch.float64)
    if (p.ndim != 1 or len(p) == 0 or not torch.isfinite(p).all() or (p <= 0).any()
            or abs(float(p.sum()) - 1) > 1e-9):
        raise ValueError(f"proportions must be positive and sum to 1, got {proportions}")
    counts = torch.round(p * n).long()
    counts[-1] = n - counts[:-1].sum()
    if (counts <= 0).any():
        raise ValueError(f"n = {n} is too small for proportions {list(proportions)}")
    g = _gen(seed)
    centres = torch.nn.functional.normalize(torch.randn(len(p), d, generator=g,
                                                        dtype=torch.float64), dim=1)
    component = torch.repeat_interleave(torch.arange(len(p)), counts)
    direction = torch.nn.functional.normalize(torch.randn(n, d, generator=g,
                                                          dtype=torch.float64), dim=1)
    length = radius * torch.rand(n, 1, generator=g, dtype=torch.float64) ** (1.0 / d)
    X = torch.nn.functional.normalize(centres[component] + length * direction, dim=1)
    return X.to(dtype), component


@dataclass(frozen=True)
class Dataset:
    """A train/test split. ``y`` is (n,) for ±1 or integer labels and (n, K) for one-hot."""

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[int, ...]

    def __repr__(self) -> str:
        return (
            f"Dataset(n_train={self.X_train.shape[0]}, n_test={self.X_test.shape[0]}, "
            f"d={self.X_train.shape[1]}, classes={self.classes})"
        )


def digits(
    classes: Sequence[int] | None = None,
    *,
    labels: str = "onehot",
    n_train: int | None = None,
    n_test: int = 0,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> Dataset:
    """scikit-learn's 8×8 handwritten digits (1,797 images, shipped with scikit-learn).

    The book's small, offline stand-in for MNIST. Each image (64 pixels) is centred by the mean
    image of the selected classes and projected to the unit sphere, as the theorems assume
    ‖x‖ = 1. The rows are shuffled with ``seed`` and split into train and test.

    Args:
        classes: the digits to keep (default all ten).
        labels: ``"pm1"`` (exactly two classes: the first → +1, the second → −1),
            ``"onehot"`` (n, K) with entries 0/1, or ``"index"`` (position in ``classes``).
        n_train: training points (default: all that are not test points).
        n_test: test points.
    """
    from sklearn.datasets import load_digits

    classes = tuple(range(10)) if classes is None else _digit_classes(classes)
    dtype = floating_dtype(dtype)
    if len(set(classes)) != len(classes) or not all(0 <= c <= 9 for c in classes):
        raise ValueError(f"classes must be distinct digits 0-9, got {classes}")
    if labels not in ("pm1", "onehot", "index"):
        raise ValueError(f"labels must be 'pm1', 'onehot' or 'index', got {labels!r}")
    if labels == "pm1" and len(classes) != 2:
        raise ValueError(f"labels='pm1' needs exactly two classes, got {classes}")
    raw = load_digits()
    keep = torch.as_tensor([int(t) in classes for t in raw.target])
    X = torch.as_tensor(raw.data, dtype=torch.float64)[keep]
    target = torch.as_tensor(raw.target)[keep]
    index = torch.as_tensor([classes.index(int(t)) for t in target])
    order = torch.randperm(X.shape[0], generator=_gen(seed))
    X, index = X[order], index[order]
    X = torch.nn.functional.normalize(X - X.mean(0), dim=1)
    total = X.shape[0]
    if isinstance(n_test, bool) or not isinstance(n_test, int) or n_test < 0:
        raise ValueError(f"n_test must be an integer >= 0, got {n_test!r}")
    n_train = total - n_test if n_train is None else positive_int(n_train, "n_train")
    if n_train + n_test > total:
        raise ValueError(
            f"n_train + n_test = {n_train + n_test} exceeds the {total} images of classes {classes}"
        )
    if labels == "pm1":
        y = 1.0 - 2.0 * index.to(torch.float64)
    elif labels == "onehot":
        y = torch.nn.functional.one_hot(index, len(classes)).to(torch.float64)
    else:
        y = index
    y = y.to(dtype) if y.is_floating_point() else y
    X = X.to(dtype)
    return Dataset(X[:n_train], y[:n_train], X[n_train:n_train + n_test],
                   y[n_train:n_train + n_test], classes)


def _digit_classes(classes: object) -> tuple[int, ...]:
    if isinstance(classes, torch.Tensor):
        classes = classes.tolist()
    if isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
        raise TypeError(f"classes must be a sequence of digits, got {classes!r}")
    classes = list(classes)
    if not classes:
        raise ValueError("classes must name at least one digit, got an empty sequence")
    for c in classes:
        if isinstance(c, bool) or not isinstance(c, numbers.Integral):
            raise TypeError(f"classes must be integers (digits 0-9), got {c!r} in {classes}")
    return tuple(int(c) for c in classes)


def flip_labels(y: torch.Tensor, fraction: float, *, seed: int = 0,
                num_classes: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupt a fraction of the labels: ``(y_noisy, flipped)`` with ``flipped`` a boolean mask.

    Exactly round(fraction · n) labels change. ±1 labels (1-D, float or integer) change sign;
    one-hot labels (n, K) and integer class indices ≥ 0 move to a different class chosen uniformly
    at random (among ``num_classes`` classes when it is given, else 0 … max(y)).
    """
    fraction = nonnegative_float(fraction, "fraction")
    if fraction > 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y must be a torch.Tensor, got {type(y).__name__}")
    if y.ndim not in (1, 2):
        raise ValueError("y must be a 1-D (±1 or integer labels) or 2-D (one-hot) tensor")
    if num_classes is not None:
        num_classes = positive_int(num_classes, "num_classes")
    n = y.shape[0]
    g = _gen(seed)
    chosen = torch.randperm(n, generator=g)[: int(round(fraction * n))]
    flipped = torch.zeros(n, dtype=torch.bool)
    flipped[chosen] = True
    noisy = y.clone()
    if y.ndim == 1 and y.is_floating_point():
        if not torch.all((y == 1) | (y == -1)):
            raise ValueError("y: 1-D float labels must be ±1")
        noisy[chosen] = -y[chosen]
        return noisy, flipped
    if y.ndim == 1 and y.dtype != torch.bool and bool((y < 0).any()):
        # Integer ±1 labels are the ±1 encoding, not class indices: flip their sign.
        if not torch.all((y == 1) | (y == -1)):
            raise ValueError("y: integer labels must be class indices >= 0 or ±1, got "
                             f"{sorted(set(y.tolist()))[:10]}")
        noisy[chosen] = -y[chosen]
        return noisy, flipped
    index = y.argmax(1) if y.ndim == 2 else y.long()
    K = y.shape[1] if y.ndim == 2 else (num_classes or int(index.max()) + 1)
    if y.ndim == 1 and num_classes is not None and int(index.max()) >= num_classes:
        raise ValueError(f"num_classes = {num_classes} is too small for the label "
                         f"{int(index.max())} in y")
    if K < 2:
        raise ValueError("flipping labels needs at least two classes")
    shift = torch.randint(1, K, (len(chosen),), generator=g)
    new_index = index.clone()
    new_index[chosen] = (index[chosen] + shift) % K
    if y.ndim == 2:
        noisy = torch.nn.functional.one_hot(new_index, K).to(y.dtype)
    else:
        noisy = new_index.to(y.dtype)
    return noisy, flipped


# --- Linear models (chapter 6: implicit bias) -------------------------------------------------


def linearly_separable(n: int, d: int, *, margin: float = 0.1, seed: int = 0,
                       dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes that a hyperplane through the origin separates with a guaranteed margin.

    A teacher direction u is drawn uniformly on the sphere; each point is z + margin·y·u with
    z ~ N(0, I_d) and label y = sign(uᵀz), so that y_i uᵀx_i ≥ ``margin`` for every point. The
    max-margin direction is close to, but not exactly, u.

    Returns:
        ``(X, y)``: X of shape (n, d), labels y = ±1.
    """
    n, d = positive_int(n, "n"), positive_int(d, "d")
    margin = nonnegative_float(margin, "margin")
    dtype = floating_dtype(dtype)
    g = _gen(seed)
    u = torch.nn.functional.normalize(torch.randn(d, generator=g, dtype=torch.float64), dim=0)
    Z = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.where(Z @ u >= 0, 1.0, -1.0).to(torch.float64)
    X = Z + margin * y[:, None] * u[None, :]
    return X.to(dtype), y.to(dtype)


@dataclass(frozen=True)
class RegressionData:
    """A noisy linear regression y = Xw* + ε with a held-out test set drawn the same way."""

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    w_star: torch.Tensor
    noise: float

    def __repr__(self) -> str:
        return (
            f"RegressionData(n_train={self.X_train.shape[0]}, n_test={self.X_test.shape[0]}, "
            f"d={self.X_train.shape[1]}, noise={self.noise:g})"
        )


def linear_regression(n: int, d: int, *, n_test: int = 0, noise: float = 0.5,
                      decay: float = 0.0, seed: int = 0,
                      dtype: torch.dtype = torch.float64) -> RegressionData:
    """Gaussian inputs with covariance diag(j^{−decay}), j = 1..d, and y = xᵀw* + ε.

    w* ~ N(0, I_d/d) (so E‖w*‖² = 1), ε ~ N(0, σ²) with σ = ``noise``. With n < d the
    least-squares problem is under-determined: the interpolating solutions form an affine space of
    dimension d − n.

    Args:
        n: training points. d: dimension. n_test: test points (same w*, fresh inputs and noise).
        noise: the standard deviation of ε (≥ 0). decay: covariance eigenvalues j^{−decay} (≥ 0).
    """
    n, d = positive_int(n, "n"), positive_int(d, "d")
    if isinstance(n_test, bool) or not isinstance(n_test, int) or n_test < 0:
        raise ValueError(f"n_test must be an integer >= 0, got {n_test!r}")
    noise = nonnegative_float(noise, "noise")
    decay = nonnegative_float(decay, "decay")
    dtype = floating_dtype(dtype)
    g = _gen(seed)
    scale = torch.arange(1, d + 1, dtype=torch.float64) ** (-decay / 2)
    w_star = torch.randn(d, generator=g, dtype=torch.float64) / math.sqrt(d)
    X = torch.randn(n + n_test, d, generator=g, dtype=torch.float64) * scale
    y = X @ w_star + noise * torch.randn(n + n_test, generator=g, dtype=torch.float64)
    X, y = X.to(dtype), y.to(dtype)
    return RegressionData(X[:n], y[:n], X[n:], y[n:], w_star.to(dtype), noise)
