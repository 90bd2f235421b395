"""Seeded data sets (ntkbook.data): shapes, the promised geometry, labels and determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.datasets import load_digits

from ntkbook import data


def unit_rows(X: torch.Tensor, tol: float = 1e-12) -> bool:
    return bool(((torch.linalg.norm(X, dim=1) - 1).abs() < tol).all())


# --- sphere and circle -------------------------------------------------------------------------

@given(n=st.integers(1, 50), d=st.integers(2, 20), seed=st.integers(0, 2**31 - 1))
def test_sphere_shape_norms_and_determinism(n: int, d: int, seed: int) -> None:
    X = data.sphere(n, d, seed=seed)
    assert X.shape == (n, d) and X.dtype == torch.float64
    assert unit_rows(X)
    assert torch.equal(X, data.sphere(n, d, seed=seed))
    assert not torch.equal(data.sphere(n, d, seed=seed), data.sphere(n, d, seed=seed + 1))


def test_sphere_is_uniform() -> None:
    """Uniform on S^{d-1}: mean 0 and second moment I/d, within 5 standard errors."""
    n, d = 20000, 4
    X = data.sphere(n, d, seed=0)
    assert (X.mean(0).abs() < 5 / math.sqrt(n * d)).all()
    second = X.T @ X / n
    # Var(x_i²) = E x_i⁴ − 1/d² = 3/(d(d+2)) − 1/d²; Var(x_i x_j) = 1/(d(d+2)).
    se_diag = math.sqrt((3 / (d * (d + 2)) - 1 / d**2) / n)
    se_off = math.sqrt(1 / (d * (d + 2)) / n)
    off = second - torch.diag(second.diagonal())
    assert ((second.diagonal() - 1 / d).abs() < 5 * se_diag).all()
    assert (off.abs() < 5 * se_off).all()
    assert data.sphere(3, 5, dtype=torch.float32).dtype == torch.float32


def test_circle_even_and_random() -> None:
    X, theta = data.circle(8)
    torch.testing.assert_close(theta, torch.arange(8, dtype=torch.float64) * math.pi / 4)
    torch.testing.assert_close(X, torch.stack([torch.cos(theta), torch.sin(theta)], 1))
    assert unit_rows(X)
    Xr, tr = data.circle(500, seed=3)
    assert unit_rows(Xr) and ((tr >= 0) & (tr < 2 * math.pi)).all()
    torch.testing.assert_close(torch.atan2(Xr[:, 1], Xr[:, 0]) % (2 * math.pi), tr)
    assert torch.equal(data.circle(5, seed=3)[1], data.circle(5, seed=3)[1])
    assert not torch.equal(data.circle(5, seed=3)[1], data.circle(5, seed=4)[1])


# --- the 2-D toy sets --------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["moons", "circles", "xor"])
def test_toy_2d_shapes_labels_and_determinism(kind: str) -> None:
    X, y = data.toy_2d(101, kind=kind, seed=1)
    assert X.shape == (101, 2) and y.shape == (101,)
    assert set(y.unique().tolist()) <= {-1.0, 1.0}
    X2, y2 = data.toy_2d(101, kind=kind, seed=1)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    assert not torch.equal(X, data.toy_2d(101, kind=kind, seed=2)[0])


def test_toy_2d_geometry_without_noise() -> None:
    X, y = data.toy_2d(200, kind="circles", noise=0.0, seed=0)
    radius = torch.linalg.norm(X, dim=1)
    torch.testing.assert_close(radius[y == 1], torch.full(((y == 1).sum(),), 0.5,
                                                          dtype=torch.float64))
    torch.testing.assert_close(radius[y == -1], torch.ones((y == -1).sum(), dtype=torch.float64))
    assert int((y == 1).sum()) == 100  # balanced
    X, y = data.toy_2d(200, kind="moons", noise=0.0, seed=0)
    shifted = X + torch.tensor([0.5, 0.25], dtype=torch.float64)
    upper = torch.linalg.norm(shifted[y == 1], dim=1)  # unit half circle around (0, 0)
    lower = torch.linalg.norm(shifted[y == -1] - torch.tensor([1.0, 0.5]), dim=1)
    torch.testing.assert_close(upper, torch.ones_like(upper))
    torch.testing.assert_close(lower, torch.ones_like(lower))
    assert (shifted[y == 1, 1] >= 0).all() and (shifted[y == -1, 1] <= 0.5).all()
    X, y = data.toy_2d(300, kind="xor", noise=0.0, seed=0)
    assert torch.equal(y, torch.where(X[:, 0] * X[:, 1] >= 0, 1.0, -1.0).double())
    Xn, _ = data.toy_2d(300, kind="xor", noise=0.2, seed=0)
    assert 0.1 < float((Xn - X).std()) < 0.3  # the noise has the requested size


# --- the mixture -------------------------------------------------------------------------------

def test_mixture_counts_norms_and_radius() -> None:
    n, d, proportions, radius = 103, 8, (0.5, 0.3, 0.2), 0.2
    X, component = data.mixture(n, d, proportions, radius=radius, seed=2)
    assert X.shape == (n, d) and component.shape == (n,)
    assert unit_rows(X)
    counts = torch.bincount(component).tolist()
    assert counts[:2] == [round(0.5 * n), round(0.3 * n)] and sum(counts) == n
    # Each point is its centre plus a perturbation of norm ≤ r, projected to the sphere: its
    # angle to the centre is ≤ arcsin r, so two points of one component are ≤ 2 arcsin r apart.
    cos = X @ X.T
    same = component[:, None] == component[None, :]
    assert (cos[same] >= math.cos(2 * math.asin(radius)) - 1e-12).all()
    # The perturbation fills the ball: the widest pair uses most of that room.
    assert float(cos[same].min()) < math.cos(math.asin(radius))
    X2, c2 = data.mixture(n, d, proportions, radius=radius, seed=2)
    assert torch.equal(X, X2) and torch.equal(component, c2)
    tight, _ = data.mixture(n, d, proportions, radius=0.01, seed=2)
    assert float((tight @ tight.T)[same].min()) > math.cos(2 * math.asin(0.01)) - 1e-12


# --- digits ------------------------------------------------------------------------------------

RAW = load_digits()


def test_digits_default_is_all_ten_classes_onehot() -> None:
    ds = data.digits()
    assert ds.X_train.shape == (1797, 64) and ds.y_train.shape == (1797, 10)
    assert ds.X_test.shape == (0, 64) and ds.classes == tuple(range(10))
    assert unit_rows(ds.X_train)
    assert torch.equal(ds.y_train.sum(1), torch.ones(1797, dtype=torch.float64))
    assert repr(ds) == (
        "Dataset(n_train=1797, n_test=0, d=64, classes=(0, 1, 2, 3, 4, 5, 6, 7, 8, 9))")


def test_digits_pm1_labels_splits_and_images() -> None:
    ds = data.digits((3, 8), labels="pm1", n_train=100, n_test=50, seed=4)
    assert ds.X_train.shape == (100, 64) and ds.X_test.shape == (50, 64)
    assert ds.y_train.shape == (100,) and ds.y_test.shape == (50,)
    assert set(torch.cat([ds.y_train, ds.y_test]).tolist()) == {-1.0, 1.0}
    assert unit_rows(ds.X_train) and unit_rows(ds.X_test)
    # Every row is a real image of its class: centre the raw images of classes 3 and 8 by their
    # mean, normalize, and match rows.
    keep = np.isin(RAW.target, (3, 8))
    raw = RAW.data[keep].astype(np.float64)
    raw = raw - raw.mean(0)
    raw /= np.linalg.norm(raw, axis=1, keepdims=True)
    label = np.where(RAW.target[keep] == 3, 1.0, -1.0)
    X = torch.cat([ds.X_train, ds.X_test]).numpy()
    y = torch.cat([ds.y_train, ds.y_test]).numpy()
    distance = ((X[:, None, :] - raw[None, :, :]) ** 2).sum(-1)
    match = distance.argmin(1)
    assert np.allclose(distance.min(1), 0, atol=1e-20)
    assert len(set(match.tolist())) == len(match)  # distinct images: no duplicates across splits
    np.testing.assert_array_equal(y, label[match])


def test_digits_index_labels_determinism_and_seeds() -> None:
    a = data.digits((0, 1, 7), labels="index", n_test=30, seed=1)
    b = data.digits((0, 1, 7), labels="index", n_test=30, seed=1)
    c = data.digits((0, 1, 7), labels="index", n_test=30, seed=2)
    assert torch.equal(a.X_train, b.X_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.X_train, c.X_train)
    assert a.y_train.dtype == torch.int64 and set(a.y_train.tolist()) == {0, 1, 2}
    total = int(np.isin(RAW.target, (0, 1, 7)).sum())
    assert a.X_train.shape[0] + a.X_test.shape[0] == total
    # Another seed is another shuffle of the same images.
    rows = lambda ds: np.sort(torch.cat([ds.X_train, ds.X_test]).numpy(), axis=0)  # noqa: E731
    np.testing.assert_allclose(rows(a), rows(c), atol=1e-15)
    onehot = data.digits((0, 1, 7), labels="onehot", n_test=30, seed=1)
    assert torch.equal(onehot.y_train.argmax(1), a.y_train)
    assert data.digits((2, 5), labels="pm1", dtype=torch.float32).X_train.dtype == torch.float32


def test_digits_bad_arguments_name_the_argument() -> None:
    for kwargs, match in [
        (dict(classes=(1, 10)), r"classes must be distinct digits 0-9"),
        (dict(classes=(1, 1)), r"classes must be distinct"),
        (dict(labels="binary"), r"labels must be"),
        (dict(classes=(1, 2, 3), labels="pm1"), r"labels='pm1' needs exactly two classes"),
        (dict(n_test=-1), r"n_test must be an integer >= 0"),
        (dict(n_train=0), r"n_train must be positive"),
        (dict(classes=(3, 8), n_train=300, n_test=100), r"n_train \+ n_test = 400 exceeds"),
    ]:
        with pytest.raises(ValueError, match=match):
            data.digits(**kwargs)


# --- label flipping ----------------------------------------------------------------------------

@given(n=st.integers(1, 60), fraction=st.floats(0.0, 1.0), seed=st.integers(0, 1000))
def test_flip_labels_pm1_flips_exactly_round_fraction_n(n: int, fraction: float,
                                                        seed: int) -> None:
    y = torch.where(torch.arange(n) % 3 == 0, 1.0, -1.0).double()
    noisy, flipped = data.flip_labels(y, fraction, seed=seed)
    assert int(flipped.sum()) == round(fraction * n)
    assert torch.equal(noisy[flipped], -y[flipped]) and torch.equal(noisy[~flipped], y[~flipped])
    again = data.flip_labels(y, fraction, seed=seed)
    assert torch.equal(again[0], noisy) and torch.equal(again[1], flipped)


@given(n=st.integers(2, 60), k=st.integers(2, 6), fraction=st.floats(0.0, 1.0),
       seed=st.integers(0, 1000))
def test_flip_labels_onehot_and_index_move_to_another_class(n, k, fraction, seed) -> None:
    index = torch.arange(n) % k
    onehot = torch.nn.functional.one_hot(index, k).double()
    for y in (index, onehot):
        noisy, flipped = data.flip_labels(y, fraction, seed=seed)
        assert noisy.dtype == y.dtype and noisy.shape == y.shape
        assert int(flipped.sum()) == round(fraction * n)
        new = noisy.argmax(1) if y.ndim == 2 else noisy
        assert (new[flipped] != index[flipped]).all() and torch.equal(new[~flipped],
                                                                      index[~flipped])
        assert ((new >= 0) & (new < k)).all()
        if y.ndim == 2:
            assert torch.equal(noisy.sum(1), torch.ones(n, dtype=torch.float64))


def test_flip_labels_index_with_declared_classes() -> None:
    y = torch.zeros(40, dtype=torch.int64)  # only class 0 present, but 3 classes declared
    noisy, flipped = data.flip_labels(y, 0.5, seed=0, num_classes=3)
    assert set(noisy[flipped].tolist()) <= {1, 2} and int(flipped.sum()) == 20


def test_flip_labels_bad_arguments() -> None:
    y = torch.tensor([1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match=r"fraction must be in \[0, 1\]"):
        data.flip_labels(y, 1.5)
    with pytest.raises(ValueError, match=r"fraction must be a finite number >= 0"):
        data.flip_labels(y, -0.1)
    with pytest.raises(ValueError, match=r"1-D float labels must be ±1"):
        data.flip_labels(torch.tensor([0.0, 1.0]), 0.5)
    with pytest.raises(ValueError, match=r"y must be a 1-D"):
        data.flip_labels(torch.ones(2, 2, 2), 0.5)
    with pytest.raises(ValueError, match=r"at least two classes"):
        data.flip_labels(torch.zeros(4, dtype=torch.int64), 0.5)


# --- bad input for the generators --------------------------------------------------------------

def test_generators_bad_arguments_name_the_argument() -> None:
    for call, error, match in [
        (lambda: data.sphere(0, 3), ValueError, r"n must be positive"),
        (lambda: data.sphere(5, 1), ValueError, r"d must be at least 2"),
        (lambda: data.sphere(5, 3.0), TypeError, r"d must be an integer"),
        (lambda: data.circle(-2), ValueError, r"n must be positive"),
        (lambda: data.toy_2d(10, kind="spirals"), ValueError, r"kind must be"),
        (lambda: data.toy_2d(10, noise=-0.1), ValueError, r"noise must be"),
        (lambda: data.mixture(10, 3, (0.5, 0.6)), ValueError, r"proportions must be positive"),
        (lambda: data.mixture(10, 3, (1.2, -0.2)), ValueError, r"proportions must be positive"),
        (lambda: data.mixture(10, 3, ()), ValueError, r"proportions must be"),
        (lambda: data.mixture(3, 3, (0.9, 0.05, 0.05)), ValueError, r"n = 3 is too small"),
        (lambda: data.mixture(10, 3, (0.5, 0.5), radius=0.0), ValueError, r"radius must be > 0"),
        (lambda: data.mixture(0, 3, (1.0,)), ValueError, r"n must be positive"),
    ]:
        with pytest.raises(error, match=match):
            call()
    for seed in (1.5, "1", True, None):
        for call in (lambda s: data.sphere(3, 2, seed=s), lambda s: data.toy_2d(3, seed=s),
                     lambda s: data.mixture(4, 2, (0.5, 0.5), seed=s),
                     lambda s: data.digits((1, 2), seed=s),
                     lambda s: data.flip_labels(torch.tensor([1.0, -1.0]), 0.5, seed=s)):
            with pytest.raises(TypeError, match=r"seed must be an integer"):
                call(seed)
    with pytest.raises(TypeError, match=r"seed must be an integer"):
        data.circle(4, seed=2.0)
