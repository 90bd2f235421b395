"""The one package-level setting: how large the book's experiments are.

Chapters size their experiments with :func:`scaled`, so that a single call,
``ntkbook.set_experiment_scale(4)`` at the top of a chapter, runs it with four times the default
sizes on a GPU runtime. The default, 1, is what the book is built and tested with: every chapter
then runs in about two minutes on a laptop CPU.
"""

from __future__ import annotations

import math

_settings = {"scale": 1.0}


def set_experiment_scale(factor: float) -> None:
    """Multiply the sizes the chapters ask :func:`scaled` for by ``factor`` (> 0)."""
    if isinstance(factor, bool) or not isinstance(factor, (int, float)):
        raise TypeError(f"factor must be a number, got {type(factor).__name__}")
    if not (factor > 0 and math.isfinite(factor)):
        raise ValueError(f"factor must be a finite number > 0, got {factor}")
    _settings["scale"] = float(factor)


def experiment_scale() -> float:
    """The current factor (1 unless :func:`set_experiment_scale` changed it)."""
    return _settings["scale"]


def scaled(size: int) -> int:
    """``size`` times the experiment scale, rounded, at least 1."""
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    return max(1, round(size * _settings["scale"]))
