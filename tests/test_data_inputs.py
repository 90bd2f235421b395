"""Bad and edge-case inputs to ntkbook.data: a clear error naming the argument, never a silently
wrong data set (integer dtypes that truncate points, labels that turn into another encoding,
proportions or classes that are rounded away)."""

from __future__ import annotations

import pytest
import torch

from ntkbook import data

GENERATORS = {
    "sphere": lambda **kw: data.sphere(5, 3, **kw),
    "circle": lambda **kw: data.circle(5, **({"seed": 0} | kw)),
    "toy_2d": lambda **kw: data.toy_2d(6, **kw),
    "mixture": lambda **kw: data.mixture(10, 3, (0.5, 0.5), **kw),
    "digits": lambda **kw: data.digits((0, 1), **kw),
    "linearly_separable": lambda **kw: data.linearly_separable(5, 3, **kw),
    "linear_regression": lambda **kw: data.linear_regression(5, 3, **kw),
}


@pytest.mark.parametrize("name", list(GENERATORS))
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool, torch.complex128])
def test_non_floating_dtypes_are_refused(name: str, dtype: torch.dtype) -> None:
    """An integer dtype used to truncate unit vectors to zeros (sphere) or to ±1 (circle)."""
    with pytest.raises(TypeError, match=r"dtype must be a floating dtype"):
        GENERATORS[name](dtype=dtype)


@pytest.mark.parametrize("name", list(GENERATORS))
def test_a_dtype_given_as_a_string_is_a_clear_error(name: str) -> None:
    with pytest.raises(TypeError, match=r"dtype must be a floating dtype .*'float64'"):
        GENERATORS[name](dtype="float64")


@pytest.mark.parametrize("name", list(GENERATORS))
@pytest.mark.parametrize("seed", [2**64, -(2**63) - 1, 2**70])
def test_seeds_outside_the_generator_range_are_a_clear_error(name: str, seed: int) -> None:
    with pytest.raises(ValueError, match=r"seed must lie in \[-2\*\*63, 2\*\*64\)"):
        GENERATORS[name](seed=seed)


def test_seeds_at_the_ends_of_the_range_work() -> None:
    assert data.sphere(3, 2, seed=2**64 - 1).shape == (3, 2)
    assert data.sphere(3, 2, seed=-(2**63)).shape == (3, 2)


@pytest.mark.parametrize("proportions", [(float("nan"),), (0.5, float("nan")),
                                         (float("inf"), -float("inf")), (0.5, 0.5, float("nan"))])
def test_mixture_refuses_non_finite_proportions(proportions) -> None:
    with pytest.raises(ValueError, match=r"proportions must be"):
        data.mixture(10, 3, proportions)


@pytest.mark.parametrize("proportions", ["ab", 1.0, None, [[0.5, 0.5]]])
def test_mixture_refuses_proportions_that_are_not_a_sequence_of_numbers(proportions) -> None:
    with pytest.raises((TypeError, ValueError), match=r"proportions must be"):
        data.mixture(10, 3, proportions)


def test_digits_refuses_an_empty_class_list() -> None:
    with pytest.raises(ValueError, match=r"classes must name at least one digit"):
        data.digits(classes=[])


@pytest.mark.parametrize("classes", [[1.7, 2], [True, 2], ["3", "8"], [2.0, 3]])
def test_digits_refuses_classes_that_are_not_integers(classes) -> None:
    """int(1.7) = 1 used to select digit 1 without a word."""
    with pytest.raises(TypeError, match=r"classes must be integers"):
        data.digits(classes=classes)


def test_digits_accepts_integer_like_classes() -> None:
    import numpy as np

    a = data.digits(classes=np.array([3, 8]), labels="pm1", n_train=20)
    b = data.digits(classes=torch.tensor([3, 8]), labels="pm1", n_train=20)
    c = data.digits(classes=(3, 8), labels="pm1", n_train=20)
    assert a.classes == b.classes == c.classes == (3, 8)
    assert torch.equal(a.X_train, c.X_train) and torch.equal(b.y_train, c.y_train)


def test_digits_refuses_a_scalar_for_classes() -> None:
    with pytest.raises(TypeError, match=r"classes must be a sequence"):
        data.digits(classes=3)


def test_flip_labels_flips_integer_pm1_labels_by_sign() -> None:
    """Integer ±1 labels used to become class indices, so −1 + 1 wrapped to the label 0."""
    y = torch.tensor([1, -1, 1, -1, 1, -1, 1, 1])
    noisy, flipped = data.flip_labels(y, 0.5, seed=3)
    assert noisy.dtype == y.dtype
    assert int(flipped.sum()) == 4
    assert torch.equal(noisy[flipped], -y[flipped]) and torch.equal(noisy[~flipped], y[~flipped])


def test_flip_labels_refuses_negative_integer_labels_that_are_not_pm1() -> None:
    with pytest.raises(ValueError, match=r"y: integer labels must be class indices >= 0 or ±1"):
        data.flip_labels(torch.tensor([0, -2, 1]), 0.5)


def test_flip_labels_refuses_labels_beyond_num_classes() -> None:
    with pytest.raises(ValueError, match=r"num_classes = 2 .* label 3"):
        data.flip_labels(torch.tensor([0, 1, 2, 3]), 0.5, num_classes=2)


def test_flip_labels_names_y_for_bad_float_labels_and_non_tensors() -> None:
    with pytest.raises(ValueError, match=r"y: 1-D float labels must be ±1"):
        data.flip_labels(torch.tensor([0.0, 1.0]), 0.5)
    with pytest.raises(TypeError, match=r"y must be a torch.Tensor"):
        data.flip_labels([1, -1], 0.5)
