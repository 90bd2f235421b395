"""Checkers for the book's exercises.

Each checker takes a reader's answer — a number, an array or a function — compares it with a
reference computed by the package, and returns an :class:`ExerciseResult` that says whether it is
right and, if not, how it is off. Nothing is printed unless the result is displayed::

    >>> from ntkbook import exercises
    >>> exercises.check_number(0.5, 0.5, name="H(x, x)")
    ExerciseResult(correct=True, message='H(x, x): correct (0.5).')

The chapter-specific checkers at the end of this module are named ``chN_<topic>``; each chapter's
exercise text says which one to call.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ._checks import positive_float, positive_int
from .data import sphere
from .empirical import empirical_ntk, hessian_spectral_norm
from .kernels import analytic_nngp, analytic_ntk
from .models import MLP, TwoLayerNet
from .theory import lazy_criterion


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
        return np.asarray(value, dtype=float)
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


# --- Chapter 1 checkers -------------------------------------------------------------------


def ch1_relu_ntk_value(answer, *, angle: float) -> ExerciseResult:
    """Θ⁽¹⁾(x, z) of the one-hidden-layer ReLU MLP for unit x, z at ``angle`` (chapter 1, ex. 1).

    The reference is :func:`ntkbook.analytic_ntk` with depth 1 (Jacot et al. 2018; Arora et al.
    2019, eq. 10; c_σ = 2) at x = (1, 0), z = (cos θ, sin θ); for θ = π/3 it is 2/3 + √3/(2π).

    Args:
        answer: the reader's value, a number.
        angle: the angle θ ∈ [0, π] between the two inputs, in radians.

    Raises:
        ValueError: ``angle`` is not a number in [0, π].
    """
    if isinstance(angle, bool) or not isinstance(angle, (int, float)) or not (
            0.0 <= angle <= math.pi):
        raise ValueError(f"angle must be a number in [0, pi], got {angle!r}")
    x = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    z = torch.tensor([[math.cos(angle), math.sin(angle)]], dtype=torch.float64)
    expected = float(analytic_ntk(x, z, depth=1)[0, 0])
    return check_number(answer, expected, rtol=1e-6, name=f"Theta^(1)(x, z) at angle {angle:.4g}")


def _ch1_feature_inputs() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    Phi_X = torch.randn(6, 40, generator=g, dtype=torch.float64)
    Phi_Z = torch.randn(4, 40, generator=g, dtype=torch.float64)
    one = torch.randn(1, 7, generator=g, dtype=torch.float64)
    return [(Phi_X, Phi_Z), (Phi_X, Phi_X), (one, one), (Phi_Z[:, :3], Phi_X[:, :3])]


def _ch1_linear_model_reference(Phi_X: torch.Tensor, Phi_Z: torch.Tensor) -> torch.Tensor:
    # The model w ↦ wᵀφ on inputs that already are feature vectors; autodiff gives its kernel.
    model = torch.nn.Sequential(
        torch.nn.Linear(Phi_X.shape[1], 1, bias=False, dtype=Phi_X.dtype), torch.nn.Flatten(0))
    return empirical_ntk(model, Phi_X, Phi_Z, method="jacobian_contraction")


def ch1_linear_model_ntk(answer_fn: Callable) -> ExerciseResult:
    """A reader's fn(Φ_X, Φ_Z) → the tangent kernel of f(x; w) = wᵀφ(x) (chapter 1, ex. 2).

    The reference is :func:`ntkbook.empirical_ntk` (Jacobian contraction, Jacot et al. 2018,
    K(x, x') = ⟨∇_w f(x), ∇_w f(x')⟩) of a bias-free ``torch.nn.Linear`` applied to the feature
    rows, i.e. Φ_X Φ_Zᵀ. The test inputs have several shapes, including Φ_X = Φ_Z and n ≠ n'.

    Args:
        answer_fn: a function of two float64 tensors (n, P) and (n', P) returning (n, n').
    """
    return check_function(answer_fn, _ch1_linear_model_reference, _ch1_feature_inputs(),
                          rtol=1e-10, atol=1e-12, name="linear_model_ntk")


def ch1_hessian_norm(answer, *, width: int, input_norm: float) -> ExerciseResult:
    """‖∇²_w f(x)‖₂ of a one-hidden-layer ReLU MLP at an input of norm ‖x‖ (chapter 1, ex. 3).

    The reference is :func:`ntkbook.hessian_spectral_norm` (Liu, Zhu & Belkin 2020) of
    ``MLP(4, width, depth=1)`` at a fixed direction scaled to ``input_norm``; in closed form it is
    √(c_σ/m)·‖x‖ with c_σ = 2.

    Args:
        answer: the reader's value, a number.
        width: the width m ≥ 1. input_norm: ‖x‖ > 0.

    Raises:
        ValueError: a non-positive ``width`` or ``input_norm``.
    """
    width = positive_int(width, "width")
    input_norm = positive_float(input_norm, "input_norm")
    direction = torch.tensor([0.5, -0.5, 0.5, 0.5], dtype=torch.float64)
    net = MLP(4, width, 1, seed=0)
    # A unit with wᵀx > 0 must exist for the closed form; x and −x cannot both miss every unit.
    with torch.no_grad():
        if not bool((net.weights[0] @ direction > 0).any()):
            direction = -direction
    expected = hessian_spectral_norm(net, input_norm * direction, iterations=10)
    return check_number(answer, expected, rtol=1e-6,
                        name=f"||Hessian|| at width {width}, ||x|| = {input_norm:g}")


# --- Chapter 2 checkers -------------------------------------------------------------------


def ch2_ntk_orthogonal(answer, depth: int = 2) -> ExerciseResult:
    """Θ⁽ᴸ⁾(x, z) of the ReLU network for orthogonal unit inputs x ⟂ z (chapter 2, exercise 1).

    The reference is :func:`ntkbook.analytic_ntk` (Arora et al. 2019, eq. 10; c_σ = 2) at
    x = e₁, z = e₂. For depth 1 it is 1/π.

    Args:
        answer: the reader's value of Θ⁽ᴸ⁾(x, z), a number.
        depth: the number of hidden layers L ≥ 1.

    Raises:
        ValueError: ``depth`` is not a positive integer.
    """
    depth = positive_int(depth, "depth")
    basis = torch.eye(2, dtype=torch.float64)
    expected = float(analytic_ntk(basis[:1], basis[1:], depth=depth)[0, 0])
    return check_number(answer, expected, rtol=1e-6,
                        name=f"Theta^({depth})(x, z) for orthogonal unit x, z")


def _ch2_arccos_inputs() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(2)
    X = torch.randn(6, 4, generator=g, dtype=torch.float64)
    Z = torch.randn(5, 4, generator=g, dtype=torch.float64) * 3.0
    unit = torch.nn.functional.normalize(torch.randn(7, 3, generator=g, dtype=torch.float64),
                                         dim=1)
    x = torch.tensor([[0.1, 0.7, 0.3]], dtype=torch.float64)
    # Parallel and antipodal pairs push the rounded cosine outside [-1, 1].
    edge = torch.cat([x, 2 * x, -x, -3 * x, 1e3 * x])
    return [(X, Z), (unit, unit), (edge, edge), (X[:1], X[:1])]


def ch2_arccos_kernel(answer_fn: Callable) -> ExerciseResult:
    """A reader's arc-cosine kernel fn(X, Z) against the ReLU NNGP Σ⁽¹⁾ (chapter 2, exercise 2).

    Σ⁽¹⁾(x, z) = 2 E_w[relu(wᵀx) relu(wᵀz)] = ‖x‖‖z‖(sin θ + (π − θ) cos θ)/π (Cho & Saul 2009),
    computed by :func:`ntkbook.analytic_nngp` with depth 1. The test inputs include rows of
    several norms and parallel and antipodal pairs, where an unclipped arccos returns NaN.

    Args:
        answer_fn: a function of two float64 tensors (n, d) and (n', d) returning (n, n').
    """
    return check_function(answer_fn, lambda X, Z: analytic_nngp(X, Z, depth=1),
                          _ch2_arccos_inputs(), rtol=1e-6, atol=1e-9, name="arccos_kernel")


# --- Chapter 3 checkers -------------------------------------------------------------------


def _ch3_data() -> tuple[torch.Tensor, torch.Tensor]:
    # The data of chapter 3, §3.3–3.4: 20 points on the sphere in R^5 and a nonlinear target.
    X = sphere(20, 5, seed=1)
    return X, torch.sin(3 * X[:, 0]) + 3 * X[:, 1] * X[:, 2]


def ch3_homogeneous_kappa(answer, *, tau: float) -> ExerciseResult:
    """κ_h(w₀) of the 2-homogeneous ``TwoLayerNet`` initialized at scale τ (chapter 3, exercise 1).

    The reference is :func:`ntkbook.theory.lazy_criterion` (Chizat et al. 2019, Sec. 2) for
    ``TwoLayerNet(5, 40, tau=tau, seed=0)`` (mean-field scaling, symmetric initialization) on the
    data of chapter 3, §3.4. By the homogeneity identity it equals κ at τ = 1 divided by τ².

    Args:
        answer: the reader's value of κ, a number.
        tau: the initialization scale τ > 0.
    """
    tau = positive_float(tau, "tau")
    X, y = _ch3_data()
    expected = lazy_criterion(TwoLayerNet(5, 40, tau=tau, seed=0), X, y).kappa
    return check_number(answer, expected, rtol=1e-3, name=f"kappa at tau = {tau:g}")
