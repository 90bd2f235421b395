"""The generic checkers do not pass complex answers by dropping their imaginary part."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ntkbook.exercises import check_array, check_function, check_number


@pytest.mark.parametrize("answer", [1 + 1j, np.array([1 + 1j]), torch.tensor([1 + 1e-3j])])
def test_a_complex_answer_is_not_correct(answer) -> None:
    """np.asarray(1 + 1j, dtype=float) keeps 1.0 (with a warning): check_array passed."""
    for result in (check_array(answer, np.ones(1) if np.ndim(answer) else 1),
                   check_number(answer, 1.0)):
        assert not result.correct and "answer must be real" in result.message


def test_a_complex_answer_with_zero_imaginary_part_is_its_real_part() -> None:
    """np.linalg.eig returns complex arrays with zero imaginary parts for real spectra."""
    assert check_array(np.array([1 + 0j, 2 + 0j]), [1.0, 2.0]).correct
    assert check_number(complex(0.5, 0.0), 0.5).correct


def test_a_function_returning_complex_values_is_refused_like_any_non_real_value() -> None:
    result = check_function(lambda x: x + 1j, lambda x: x, [np.ones(2)])
    assert not result.correct and "must be real" in result.message
