"""Bad inputs to the plotting helpers."""

from __future__ import annotations

import pytest

from ntkbook.plotting import power_law_fit


@pytest.mark.parametrize("x", [[2, 2, 2], [1e-3, 1e-3]])
def test_power_law_fit_refuses_a_constant_x(x) -> None:
    """A slope through points with one abscissa is not determined; polyfit returned one."""
    with pytest.raises(ValueError, match=r"x must take at least two distinct values"):
        power_law_fit(x, [1.0 + k for k in range(len(x))])


def test_power_law_fit_names_the_argument_for_non_numbers() -> None:
    with pytest.raises(TypeError, match=r"x and y must be numbers"):
        power_law_fit(["a", "b"], [1, 2])
