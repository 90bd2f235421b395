"""The one package-level setting (ntkbook.config): the experiment scale."""

from __future__ import annotations

import math

import pytest

import ntkbook
from ntkbook import config


@pytest.fixture(autouse=True)
def restore_scale():
    before = config.experiment_scale()
    yield
    config.set_experiment_scale(before)


def test_default_scale_is_one_and_scaled_is_the_identity() -> None:
    assert config.experiment_scale() == 1.0
    assert [ntkbook.scaled(n) for n in (1, 7, 1000)] == [1, 7, 1000]


def test_scale_multiplies_rounds_and_keeps_at_least_one() -> None:
    ntkbook.set_experiment_scale(4)
    assert ntkbook.experiment_scale() == 4.0
    assert ntkbook.scaled(10) == 40 and ntkbook.scaled(1) == 4
    ntkbook.set_experiment_scale(0.25)
    assert ntkbook.scaled(10) == 2 and ntkbook.scaled(14) == 4  # round half to even: 2.5 → 2
    ntkbook.set_experiment_scale(1e-6)
    assert ntkbook.scaled(10) == 1
    ntkbook.set_experiment_scale(1.5)
    assert isinstance(ntkbook.scaled(3), int) and ntkbook.scaled(3) == 4


@pytest.mark.parametrize(("factor", "error"), [
    (0, ValueError), (-2.0, ValueError), (math.inf, ValueError), (math.nan, ValueError),
    ("2", TypeError), (True, TypeError), (None, TypeError),
])
def test_bad_scale_names_the_argument(factor, error) -> None:
    with pytest.raises(error, match=r"factor must be"):
        ntkbook.set_experiment_scale(factor)
    assert config.experiment_scale() == 1.0  # unchanged


@pytest.mark.parametrize("size", [0, -3, 2.5, "4", True])
def test_bad_size_names_the_argument(size) -> None:
    with pytest.raises(ValueError, match=r"size must be a positive integer"):
        ntkbook.scaled(size)
