"""The generic checkers do not pass complex answers by dropping their imaginary part."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ntkbook.exercises import check_array, check_function, check_number


@pytest.mark.parametrize("answer", [1 + 1j, np.array([1 + 1j]), torch.tensor([1 + 1e-3j])])
def test_a_complex_answer_is_not_correct(answer) -> None:
    """np.asarray(1 + 1j, dtype=float) keeps 1.0 (with a warning): check_array passed."""
    with pytest.raises(TypeError, match=r"answer must be real"):
        check_array(answer, np.ones(1) if np.ndim(answer) else 1)
    with pytest.raises(TypeError, match=r"answer must be real"):
        check_number(answer, 1.0)


def test_a_complex_answer_with_zero_imaginary_part_is_its_real_part() -> None:
    """np.linalg.eig returns complex arrays with zero imaginary parts for real spectra."""
    assert check_array(np.array([1 + 0j, 2 + 0j]), [1.0, 2.0]).correct
    assert check_number(complex(0.5, 0.0), 0.5).correct


def test_a_function_returning_complex_values_is_refused_like_any_non_real_value() -> None:
    with pytest.raises(TypeError, match=r"must be real"):
        check_function(lambda x: x + 1j, lambda x: x, [np.ones(2)])
