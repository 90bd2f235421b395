"""One look for every figure of the book, and the few plot helpers several chapters share.

Helpers take a matplotlib ``Axes`` and return what they computed, so a chapter keeps control of
its figure. Importing this module does not choose a matplotlib backend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PowerLawFit:
    """Least-squares fit of log y = slope · log x + intercept."""

    slope: float
    intercept: float
    r2: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.exp(self.intercept) * np.asarray(x, dtype=float) ** self.slope

    def __repr__(self) -> str:
        return f"PowerLawFit(slope={self.slope:.3f}, r2={self.r2:.3f})"


def power_law_fit(x, y) -> PowerLawFit:
    """Fit y ≈ C x^slope by least squares on log-log axes (x, y > 0, at least two distinct x).

    Example:
        >>> power_law_fit([1, 4, 16, 64], [2.0, 1.0, 0.5, 0.25])
        PowerLawFit(slope=-0.500, r2=1.000)

    Raises:
        TypeError: values that are not numbers.
        ValueError: shapes that differ, fewer than two points, non-positive or non-finite
            values, or a constant x (the slope is then undetermined).
    """
    try:
        x = np.asarray(x, dtype=float).ravel()
        y = np.asarray(y, dtype=float).ravel()
    except (TypeError, ValueError) as err:
        raise TypeError(f"x and y must be numbers or arrays of numbers: {err}") from None
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"x and y must have the same length >= 2, got {x.size} and {y.size}")
    if (x <= 0).any() or (y <= 0).any() or not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x and y must be finite and positive for a log-log fit")
    if np.ptp(x) == 0:
        raise ValueError(f"x must take at least two distinct values for a slope, got {x[0]:g} "
                         f"{x.size} times")
    lx, ly = np.log(x), np.log(y)
    slope, intercept = np.polyfit(lx, ly, 1)
    residual = ly - (slope * lx + intercept)
    total = ((ly - ly.mean()) ** 2).sum()
    r2 = 1.0 - (residual**2).sum() / total if total > 0 else 1.0
    return PowerLawFit(float(slope), float(intercept), float(r2))


def set_style() -> None:
    """The book's seaborn style: white grid, colour-blind palette, readable sizes."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", palette="colorblind")
    mpl.rcParams.update({
        "figure.figsize": (6.4, 4.0),
        "figure.dpi": 100,
        "axes.titlesize": "medium",
        "legend.fontsize": "small",
        "legend.frameon": True,
    })


def plot_power_law(ax, x, y, *, label: str = "measured", color=None, marker: str = "o",
                   fit_label: bool = True) -> PowerLawFit:
    """Scatter (x, y) on log-log axes with its fitted power law; the slope goes in the legend."""
    fit = power_law_fit(x, y)
    x = np.asarray(x, dtype=float)
    (points,) = ax.plot(x, y, marker, color=color, label=label)
    grid = np.geomspace(x.min(), x.max(), 50)
    line_label = f"fit: slope {fit.slope:.2f}" if fit_label else None
    ax.plot(grid, fit(grid), "-", color=points.get_color(), alpha=0.6, label=line_label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    return fit


def plot_theory_vs_measured(ax, x, measured, theory, *, xlabel: str, ylabel: str,
                            measured_label: str = "measured",
                            theory_label: str = "theory") -> None:
    """Measured values as markers and the theory as a line on the same axes."""
    ax.plot(x, theory, "-", color="0.2", label=theory_label)
    ax.plot(x, measured, "o", label=measured_label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
