"""Plot helpers (ntkbook.plotting): the power-law fit is exact on power laws; helpers draw on the
Axes they are given (a bare matplotlib Figure, no backend or pyplot needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ntkbook.plotting import PowerLawFit, plot_power_law, plot_theory_vs_measured, power_law_fit


def axes():
    from matplotlib.figure import Figure

    return Figure().subplots()


@pytest.mark.parametrize(("constant", "slope"), [(3.0, -0.5), (0.2, 1.0), (7.5, -2.25)])
def test_power_law_fit_recovers_an_exact_power_law(constant: float, slope: float) -> None:
    x = np.array([16, 64, 256, 1024, 4096], dtype=float)
    fit = power_law_fit(x, constant * x**slope)
    assert fit.slope == pytest.approx(slope, abs=1e-12)
    assert fit.intercept == pytest.approx(math.log(constant), abs=1e-10)
    assert fit.r2 == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(fit(x), constant * x**slope, rtol=1e-10)
    assert repr(fit) == f"PowerLawFit(slope={slope:.3f}, r2=1.000)"


def test_power_law_fit_is_least_squares_in_log_log() -> None:
    rng = np.random.default_rng(0)
    x = np.geomspace(1, 1e4, 30)
    y = 2.0 * x**-0.5 * np.exp(0.1 * rng.standard_normal(30))
    fit = power_law_fit(x, y)
    slope, intercept = np.linalg.lstsq(np.c_[np.log(x), np.ones(30)], np.log(y), rcond=None)[0]
    assert fit.slope == pytest.approx(slope, rel=1e-10)
    assert fit.intercept == pytest.approx(intercept, rel=1e-10)
    residual = np.log(y) - (slope * np.log(x) + intercept)
    r2 = 1 - (residual**2).sum() / ((np.log(y) - np.log(y).mean()) ** 2).sum()
    assert fit.r2 == pytest.approx(r2, rel=1e-10) and 0.9 < fit.r2 < 1
    assert isinstance(fit, PowerLawFit)
    assert power_law_fit([1, 2], [5, 5]).r2 == 1.0  # a constant: slope 0, nothing unexplained


def test_power_law_fit_bad_input() -> None:
    with pytest.raises(ValueError, match=r"same length >= 2"):
        power_law_fit([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match=r"same length >= 2"):
        power_law_fit([1], [1])
    with pytest.raises(ValueError, match=r"finite and positive"):
        power_law_fit([1, 2], [1, 0])
    with pytest.raises(ValueError, match=r"finite and positive"):
        power_law_fit([1, np.nan], [1, 2])


def test_plot_power_law_draws_on_log_axes() -> None:
    ax = axes()
    x = np.array([10.0, 100.0, 1000.0])
    fit = plot_power_law(ax, x, 4 * x**-0.5, label="error", color="C1")
    assert fit.slope == pytest.approx(-0.5)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    points, line = ax.get_lines()
    np.testing.assert_allclose(points.get_xdata(), x)
    assert points.get_label() == "error" and "slope -0.50" in line.get_label()
    assert points.get_color() == line.get_color()
    np.testing.assert_allclose(line.get_ydata(), fit(line.get_xdata()))
    quiet = axes()
    plot_power_law(quiet, x, x, fit_label=False)
    assert quiet.get_lines()[1].get_label().startswith("_")  # no legend entry for the fit


def test_plot_theory_vs_measured_labels_and_legend() -> None:
    ax = axes()
    x = np.arange(5.0)
    plot_theory_vs_measured(ax, x, x + 0.1, x, xlabel="width $m$", ylabel="error")
    assert ax.get_xlabel() == "width $m$" and ax.get_ylabel() == "error"
    theory, measured = ax.get_lines()
    np.testing.assert_allclose(theory.get_ydata(), x)
    np.testing.assert_allclose(measured.get_ydata(), x + 0.1)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["theory", "measured"]


def test_set_style_sets_the_book_look_without_choosing_a_backend() -> None:
    import matplotlib as mpl

    from ntkbook.plotting import set_style

    backend = mpl.get_backend()
    with mpl.rc_context():
        set_style()
        assert tuple(mpl.rcParams["figure.figsize"]) == (6.4, 4.0)
        assert mpl.rcParams["legend.frameon"] is True
        assert mpl.rcParams["axes.grid"] is True  # seaborn's whitegrid
    assert mpl.get_backend() == backend
