"""The generic checkers every chapter's exercises build on.

Each checker takes a reader's answer — a number, an array or a function — compares it with a
reference, and returns an :class:`ExerciseResult` that says whether it is right and, if not,
which known mistake it sees. The message never shows the reference value, so a checker can be
used for graded work; an instructor who wants wrong-answer messages to show it calls
:func:`reveal_answers` (or sets the environment variable ``NTKBOOK_REVEAL_ANSWERS=1`` before
importing ``ntkbook``). An answer that is not a number (``None``, a string, a function where a
number is due) gets a message saying so, not an exception. Tolerances follow the answer's
precision: an answer computed in float32 is judged at float32 precision.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

_REVEAL = {"enabled": os.environ.get("NTKBOOK_REVEAL_ANSWERS", "") == "1"}
# A float32 (or coarser) answer is judged with rtol ≥ _ULPS·eps of its dtype, and with an
# absolute floor of _ULPS·eps times the reference's largest entry (cancellation in a sum).
_ULPS = 100.0


def reveal_answers(enabled: bool = True) -> None:
    """Instructor option: let wrong-answer messages show the expected value (off by default)."""
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be True or False, got {enabled!r}")
    _REVEAL["enabled"] = enabled


def answers_revealed() -> bool:
    """Whether wrong-answer messages show the expected value (see :func:`reveal_answers`)."""
    return _REVEAL["enabled"]


@dataclass(frozen=True)
class ExerciseResult:
    """Whether an answer is right, and a message that says which mistake it shows if not."""

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
    if value is None or isinstance(value, (str, bytes)) or callable(value):
        raise TypeError(f"{name} must be a number or an array of numbers, got "
                        f"{_kind(value)}")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a number or an array of numbers, got "
                        f"{_kind(value)}") from err
    if array.dtype.kind not in "biufc":
        raise TypeError(f"{name} must be a number or an array of numbers, got {_kind(value)}")
    if np.iscomplexobj(array):
        # np.asarray(1 + 1j, dtype=float) keeps 1.0: a wrong answer would pass
        if np.any(array.imag != 0):
            raise TypeError(f"{name} must be real numbers, got complex values")
        array = array.real
    return np.asarray(array, dtype=float)


def _kind(value) -> str:
    if value is None:
        return "None (did you forget to assign or to return the answer?)"
    if isinstance(value, (str, bytes)):
        return "a string (remove the quotes: give the number itself)"
    if callable(value):
        return "a function (call it, or pass its value)"
    return f"a {type(value).__name__}"


def _answer(value, name: str) -> tuple[np.ndarray | None, str]:
    """The reader's answer as a float64 array, or None and the message that says why not."""
    try:
        return _as_array(value, "the answer"), ""
    except TypeError as err:
        return None, f"{name}: {err}."


def _eps(value) -> float:
    """The machine epsilon of the precision ``value`` was computed in (float64 if exact)."""
    if isinstance(value, torch.Tensor):
        return float(torch.finfo(value.dtype).eps) if value.dtype.is_floating_point else 0.0
    dtype = np.asarray(value).dtype if not isinstance(value, (int, float, complex)) else None
    if dtype is not None and dtype.kind in "fc":
        return float(np.finfo(dtype).eps)
    return float(np.finfo(np.float64).eps)


def _tolerances(value, expected: np.ndarray, rtol: float, atol: float) -> tuple[float, float]:
    eps = _eps(value)
    if eps <= np.finfo(np.float64).eps:
        return rtol, atol
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    return max(rtol, _ULPS * eps), max(atol, _ULPS * eps * scale)


def _revealed(text: str) -> str:
    return f" {text} (shown because answers are revealed)." if answers_revealed() else ""


def check_number(answer, expected: float, *, rtol: float = 1e-6, atol: float = 1e-9,
                 name: str = "answer") -> ExerciseResult:
    """Is ``answer`` within ``rtol``·|expected| + ``atol`` of ``expected``?

    The message of a wrong answer says it is wrong, whether only the sign is, and the relative
    tolerance; it shows ``expected`` only when :func:`answers_revealed`.
    """
    a, problem = _answer(answer, name)
    if a is None:
        return ExerciseResult(False, problem)
    if a.size != 1:
        return ExerciseResult(False, f"{name}: expected a single number, got shape {a.shape}.")
    a = float(a.reshape(()))
    if not np.isfinite(a):
        return ExerciseResult(False, f"{name}: got {a}, not a finite number.")
    rtol, atol = _tolerances(answer, np.asarray([expected]), rtol, atol)
    if abs(a - expected) <= rtol * abs(expected) + atol:
        return ExerciseResult(True, f"{name}: correct.")
    hint = ""
    if expected != 0 and abs(a + expected) <= rtol * abs(expected) + atol:
        hint = " The sign is wrong."
    return ExerciseResult(False, f"{name}: wrong (not within a relative tolerance of {rtol:.1g})."
                                 f"{hint}{_revealed(f'Expected {expected:.10g}')}")


def check_array(answer, expected, *, rtol: float = 1e-6, atol: float = 1e-9,
                name: str = "answer") -> ExerciseResult:
    """Does ``answer`` have ``expected``'s shape and match it entrywise within tolerance?

    The message of a wrong answer gives the shape or the number of wrong entries, and names a
    transposed answer; it shows no entry of ``expected`` unless :func:`answers_revealed`.
    """
    a, problem = _answer(answer, name)
    if a is None:
        return ExerciseResult(False, problem)
    e = _as_array(expected, "expected")
    rtol, atol = _tolerances(answer, e, rtol, atol)
    if a.shape != e.shape:
        if a.T.shape == e.shape and np.allclose(a.T, e, rtol=rtol, atol=atol):
            return ExerciseResult(False, f"{name}: the values are right but transposed.")
        return ExerciseResult(False, f"{name}: expected shape {e.shape}, got {a.shape}.")
    if not np.isfinite(a).all():
        return ExerciseResult(False, f"{name}: contains NaN or infinite entries.")
    err = np.abs(a - e)
    bad = err > rtol * np.abs(e) + atol
    if not bad.any():
        return ExerciseResult(True, f"{name}: correct.")
    hint = ""
    if np.all(np.abs(a + e) <= rtol * np.abs(e) + atol):
        hint = " The sign is wrong."
    worst = np.unravel_index(np.argmax(err), err.shape)
    shown = _revealed(f"At index {tuple(int(i) for i in worst)}: got {a[worst]:.6g}, "
                      f"expected {e[worst]:.6g}")
    return ExerciseResult(False, f"{name}: wrong, {bad.sum()} of {a.size} entries are off "
                                 f"(relative tolerance {rtol:.1g}).{hint}{shown}")


def _raised(err: Exception) -> str:
    if isinstance(err, NotImplementedError) and not str(err):
        return "NotImplementedError (the function is not written yet)"
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def returned_problem(got, name: str) -> ExerciseResult | None:
    """A failing result if a reader's function returned ``None`` or a string, else None."""
    if got is None or isinstance(got, (str, bytes)):
        return ExerciseResult(False, f"{name}: returned {_kind(got)}; it must return an array "
                                     "of numbers.")
    return None


def check_function(answer: Callable, reference: Callable, inputs: list, *, rtol: float = 1e-6,
                   atol: float = 1e-9, name: str = "function") -> ExerciseResult:
    """Call ``answer`` and ``reference`` on each of ``inputs`` (tuples of arguments); compare."""
    if not callable(answer):
        kind = _kind(answer) if answer is None else type(answer).__name__
        return ExerciseResult(False, f"{name}: expected a function, got {kind}.")
    for k, args in enumerate(inputs):
        args = args if isinstance(args, tuple) else (args,)
        try:
            got = answer(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args])
        except Exception as err:  # the reader's code: report, don't crash the chapter
            return ExerciseResult(False, f"{name}: raised {_raised(err)} on test input {k}.")
        returned = returned_problem(got, f"{name} on test input {k}")
        if returned is not None:
            return returned
        result = check_array(got, reference(*args), rtol=rtol, atol=atol,
                             name=f"{name} on test input {k}")
        if not result:
            return result
    return ExerciseResult(True, f"{name}: correct on all {len(inputs)} test inputs.")


def known_number_mistake(answer, mistakes: dict[str, float], *, rtol: float = 1e-6,
                         atol: float = 1e-9) -> str | None:
    """The label of the first of ``mistakes`` (label → the value that mistake gives) ``answer``
    matches within tolerance, or None; a malformed answer matches none."""
    a, _ = _answer(answer, "answer")
    if a is None or a.size != 1:
        return None
    value = float(a.reshape(()))
    for label, wrong in mistakes.items():
        r, t = _tolerances(answer, np.asarray([wrong]), rtol, atol)
        if abs(value - wrong) <= r * abs(wrong) + t:
            return label
    return None


def with_mistake(result: ExerciseResult, label: str | None) -> ExerciseResult:
    """``result``, with the known mistake ``label`` named in its message when there is one."""
    if result.correct or label is None:
        return result
    return ExerciseResult(False, f"{result.message} Known mistake: {label}.")


def _copied(argument):
    if isinstance(argument, torch.Tensor):
        return argument.clone()
    if isinstance(argument, np.ndarray):
        return argument.copy()
    return argument


def check_cases(answer_fn: Callable, cases: Sequence[tuple], reference: Callable, *,
                mistakes: Callable[..., dict[str, object]] | None = None, rtol: float = 1e-6,
                atol: float = 1e-10, name: str = "function", unit: str = "test input",
                describe: Callable[[np.ndarray, np.ndarray], str] | None = None,
                ) -> ExerciseResult:
    """Run a reader's function on every case and compare it with the reference; name mistakes.

    For each ``case`` (a tuple of arguments) the reader's ``answer_fn(*case)`` gets copies of
    the arguments, so it cannot change them, and its result is compared with
    ``reference(*case)`` entrywise at the answer's precision (:func:`check_array`'s
    tolerances). A wrong result is compared with each value of ``mistakes(*case)`` — a dict
    from a label to what that mistake returns, computed only when needed, of any shape — and
    the first it matches is named. Otherwise the message gives the number of wrong entries
    and, for an array, the relative error ``describe(answer, expected)`` or ‖a − e‖/‖e‖; it
    never shows the reference unless :func:`answers_revealed`. A function that raises, returns
    nothing or returns text gets a message saying so.

    Args:
        answer_fn: the reader's function.
        cases: tuples of arguments, one per test input.
        reference: the right answer, as a function of the same arguments.
        mistakes: known mistakes, as a function of the same arguments (optional).
        rtol, atol: tolerances for a float64 answer (coarser dtypes get theirs).
        name: the name of the reader's function in the messages.
        unit: what a case is called in the messages ("test input", "test problem").
        describe: the message for a wrong answer that is no known mistake (optional).
    """
    if not callable(answer_fn):
        kind = _kind(answer_fn) if answer_fn is None else type(answer_fn).__name__
        return ExerciseResult(False, f"{name}: expected a function, got {kind}.")
    for k, case in enumerate(cases):
        where = f"{name} on {unit} {k}"
        try:
            got = answer_fn(*[_copied(a) for a in case])
        except Exception as err:  # the reader's code: report, don't crash the chapter
            return ExerciseResult(False, f"{name}: raised {_raised(err)} on {unit} {k}.")
        returned = returned_problem(got, where)
        if returned is not None:
            return returned
        a, problem = _answer(got, where)
        if a is None:
            return ExerciseResult(False, problem)
        e = _as_array(reference(*case), "expected")
        r, t = _tolerances(got, e, rtol, atol)
        if a.shape == e.shape and np.isfinite(a).all() and np.allclose(a, e, rtol=r, atol=t):
            continue
        if np.isfinite(a).all():
            for label, value in (mistakes(*case) if mistakes is not None else {}).items():
                v = _as_array(value, "expected")
                if v.shape == a.shape and np.allclose(a, v, rtol=r, atol=t):
                    return ExerciseResult(False, f"{where}: wrong — {label}.")
        if a.shape != e.shape:
            if a.T.shape == e.shape and np.allclose(a.T, e, rtol=r, atol=t):
                return ExerciseResult(False, f"{where}: the values are right but transposed.")
            expected = "a single number" if e.size == 1 else f"shape {e.shape}"
            return ExerciseResult(False, f"{where}: expected {expected}, got shape {a.shape}.")
        if not np.isfinite(a).all():
            if a.size == 1:
                return ExerciseResult(False, f"{where}: got {float(a.reshape(()))}, not a "
                                             "finite number.")
            return ExerciseResult(False, f"{where}: contains NaN or infinite entries.")
        if describe is not None:
            detail = describe(a, e)
        elif e.size == 1:
            # no distance for a single number: it would give the value away
            detail = "not within the tolerance, and not one of the known mistakes"
        else:
            bad = ~np.isclose(a, e, rtol=r, atol=t)
            rel = float(np.linalg.norm(a - e) / max(float(np.linalg.norm(e)), 1e-300))
            detail = f"{int(bad.sum())} of {a.size} entries are off (relative error {rel:.2g})"
        shown = _revealed("Expected " + np.array2string(e, precision=6, threshold=20))
        return ExerciseResult(False, f"{where}: wrong, {detail}.{shown}")
    return ExerciseResult(True, f"{name}: correct on all {len(cases)} {unit}s.")
