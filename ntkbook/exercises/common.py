"""The generic checkers every chapter's exercises build on.

Each checker takes a reader's answer — a number, an array or a function — compares it with a
reference, and returns an :class:`ExerciseResult` that says whether it is right and, if not, how
it is off. Nothing is printed unless the result is displayed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class ExerciseResult:
    """Whether an answer is right, and a message that says how it is off if not."""

    correct: bool
    message: str

    def __bool__(self) -> bool:
        return self.correct

    def _repr_markdown_(self) -> str:
        mark = "✅" if self.correct else "❌"
        return f"{mark} {self.message}"


def _as_array(value, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r}") from err
    if np.iscomplexobj(array):
        # np.asarray(1 + 1j, dtype=float) keeps 1.0: a wrong answer would pass
        if np.any(array.imag != 0):
            raise TypeError(f"{name} must be real numbers, got the complex value(s) {value!r}")
        array = array.real
    try:
        return np.asarray(array, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r}") from err


def check_number(answer, expected: float, *, rtol: float = 1e-6, atol: float = 1e-9,
                 name: str = "answer") -> ExerciseResult:
    """Is ``answer`` within ``rtol``·|expected| + ``atol`` of ``expected``?"""
    a = _as_array(answer, name)
    if a.size != 1:
        return ExerciseResult(False, f"{name}: expected a single number, got shape {a.shape}.")
    a = float(a.reshape(()))
    if abs(a - expected) <= rtol * abs(expected) + atol:
        return ExerciseResult(True, f"{name}: correct ({a:.6g}).")
    hint = ""
    if expected != 0 and a != 0:
        ratio = a / expected
        hint = f" Your value is {ratio:.4g} times the expected one."
        if abs(ratio + 1) < 1e-3:
            hint = " The sign is wrong."
    return ExerciseResult(False, f"{name}: got {a:.6g}, expected {expected:.6g}.{hint}")


def check_array(answer, expected, *, rtol: float = 1e-6, atol: float = 1e-9,
                name: str = "answer") -> ExerciseResult:
    """Does ``answer`` have ``expected``'s shape and match it entrywise within tolerance?"""
    a = _as_array(answer, name)
    e = _as_array(expected, "expected")
    if a.shape != e.shape:
        if a.T.shape == e.shape and np.allclose(a.T, e, rtol=rtol, atol=atol):
            return ExerciseResult(False, f"{name}: the values are right but transposed.")
        return ExerciseResult(False, f"{name}: expected shape {e.shape}, got {a.shape}.")
    if not np.isfinite(a).all():
        return ExerciseResult(False, f"{name}: contains NaN or infinite entries.")
    err = np.abs(a - e)
    bad = err > rtol * np.abs(e) + atol
    if not bad.any():
        return ExerciseResult(True, f"{name}: correct (max abs error {err.max():.2g}).")
    worst = np.unravel_index(np.argmax(err), err.shape)
    rel = np.linalg.norm(a - e) / max(np.linalg.norm(e), 1e-300)
    return ExerciseResult(
        False,
        f"{name}: {bad.sum()} of {a.size} entries are off (relative Frobenius error {rel:.3g}); "
        f"the largest error is at index {tuple(int(i) for i in worst)}: got {a[worst]:.6g}, "
        f"expected {e[worst]:.6g}.",
    )


def check_function(answer: Callable, reference: Callable, inputs: list, *, rtol: float = 1e-6,
                   atol: float = 1e-9, name: str = "function") -> ExerciseResult:
    """Call ``answer`` and ``reference`` on each of ``inputs`` (tuples of arguments); compare."""
    if not callable(answer):
        return ExerciseResult(False, f"{name}: expected a function, got {type(answer).__name__}.")
    for k, args in enumerate(inputs):
        args = args if isinstance(args, tuple) else (args,)
        try:
            got = answer(*args)
        except Exception as err:  # the reader's code: report, don't crash the chapter
            return ExerciseResult(False, f"{name}: raised {type(err).__name__}: {err} "
                                         f"on test input {k}.")
        result = check_array(got, reference(*args), rtol=rtol, atol=atol,
                             name=f"{name} on test input {k}")
        if not result:
            return result
    return ExerciseResult(True, f"{name}: correct on all {len(inputs)} test inputs.")
