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
from .implicit_bias import least_squares_limit, max_margin
from .kernels import analytic_nngp, analytic_ntk, relu_two_layer_ntk
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


# --- Chapter 6 checkers -------------------------------------------------------------------


def _ch6_equation() -> tuple[torch.Tensor, torch.Tensor]:
    # Chapter 6, exercise 1: the single equation x₁ + 2x₂ + 2x₃ = 3 in ℝ³.
    return (torch.tensor([[1.0, 2.0, 2.0]], dtype=torch.float64),
            torch.tensor([3.0], dtype=torch.float64))


def ch6_gd_limit(answer, *, w0=(0.0, 0.0, 0.0)) -> ExerciseResult:
    """Where gradient descent on ½(x₁ + 2x₂ + 2x₃ − 3)² ends when started at w₀ (chapter 6, ex. 1).

    The reference is :func:`ntkbook.implicit_bias.least_squares_limit`, X⁺y + (I − X⁺X)w₀: the
    minimum-norm solution plus the part of w₀ that gradient descent never moves.

    Args:
        answer: the reader's limit, three numbers.
        w0: the start, three numbers.

    Raises:
        ValueError: ``w0`` does not hold three finite numbers.
    """
    start = torch.as_tensor(np.asarray(w0, dtype=float), dtype=torch.float64)
    if start.shape != (3,) or not bool(torch.isfinite(start).all()):
        raise ValueError(f"w0 must be three finite numbers, got {w0!r}")
    X, y = _ch6_equation()
    expected = least_squares_limit(X, y, start)
    result = check_array(answer, expected, rtol=1e-6, atol=1e-9,
                         name=f"limit of gradient descent from w0 = {tuple(start.tolist())}")
    a = _as_array(answer, "answer")
    if not result and a.shape == (3,) and abs(float(X[0].numpy() @ a) - 3.0) < 1e-6:
        return ExerciseResult(False, result.message + " Your vector solves the equation, but "
                              "not the one gradient descent reaches from this start: which "
                              "part of w0 does it never change?")
    return result


def _ch6_points() -> tuple[torch.Tensor, torch.Tensor]:
    # Chapter 6, exercise 3: three labelled points in the plane.
    X = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0]], dtype=torch.float64)
    return X, torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64)


def ch6_max_margin(answer) -> ExerciseResult:
    """The hard-margin SVM ŵ (no intercept) of the three points of chapter 6, exercise 3.

    x₁ = (1, 0), y₁ = +1; x₂ = (0, 2), y₂ = −1; x₃ = (3, 1), y₃ = +1. The reference is
    :func:`ntkbook.implicit_bias.max_margin` (scikit-learn's SVC, accurate to about 1e-6), the
    minimizer of ‖w‖ subject to y_i x_iᵀw ≥ 1 (Soudry et al. 2018, the limit direction of
    logistic regression).

    Args:
        answer: the reader's ŵ, two numbers (scaled so that the smallest margin is 1).
    """
    X, y = _ch6_points()
    expected = max_margin(X, y).w
    result = check_array(answer, expected, rtol=1e-4, atol=1e-5, name="max-margin vector")
    a = _as_array(answer, "answer")
    if not result and a.shape == (2,) and np.linalg.norm(a) > 0:
        e = expected.numpy()
        cos = float(a @ e) / (np.linalg.norm(a) * np.linalg.norm(e))
        if cos > 1 - 1e-8:
            return ExerciseResult(False, "max-margin vector: the direction is right but the "
                                  "scale is not; scale it so that min_i y_i x_i^T w = 1.")
    return result


# --- Chapter 4 checkers -------------------------------------------------------------------


def ch4_two_point_lambda0(answer, *, angle: float) -> ExerciseResult:
    """λ₀ = λ_min(H^∞) for two unit inputs at the given angle (chapter 4, exercise 1).

    The reference is the least eigenvalue of :func:`ntkbook.relu_two_layer_ntk` (Du et al. 2019,
    the Gram matrix H^∞) on x₁ = (1, 0) and x₂ = (cos θ, sin θ).

    Args:
        answer: the reader's λ₀, a number.
        angle: θ in radians, 0 < θ ≤ π.
    """
    angle = positive_float(angle, "angle")
    if angle > math.pi:
        raise ValueError(f"angle must be in (0, pi], got {angle}")
    X = torch.tensor([[1.0, 0.0], [math.cos(angle), math.sin(angle)]], dtype=torch.float64)
    expected = float(torch.linalg.eigvalsh(relu_two_layer_ntk(X))[0])
    result = check_number(answer, expected, rtol=1e-6, atol=1e-9,
                          name=f"lambda_0 at angle {angle:.4g}")
    given = _as_array(answer, "answer")
    if not result.correct and given.size == 1:
        a = float(given.reshape(()))
        if abs(a - 2 * expected) <= 1e-6 * abs(expected) + 1e-9:
            return ExerciseResult(False, "lambda_0: twice the reference; H^inf(x, x) is 1/2 for "
                                  "a unit x (the indicator is on half the time).")
        largest = float(torch.linalg.eigvalsh(relu_two_layer_ntk(X))[-1])
        if abs(a - largest) <= 1e-6 * abs(largest) + 1e-9:
            return ExerciseResult(False, "lambda_0: that is the largest eigenvalue, "
                                  "1/2 + |H_12|; the least one subtracts.")
    return result


# --- Chapter 5 checkers -------------------------------------------------------------------


def _ch5_inputs() -> list[tuple[torch.Tensor, torch.Tensor, float, int]]:
    # Kernels J Jᵀ of random Jacobians: a full-rank one, one of rank 3 < n (zero eigenvalues),
    # and a 1 × 1 case; step sizes up to 1/λ_max, step counts from 0 to 200.
    g = torch.Generator().manual_seed(5)
    cases = []
    for n, p, steps in [(8, 20, 37), (8, 3, 200), (1, 4, 5), (6, 6, 0)]:
        J = torch.randn(n, p, generator=g, dtype=torch.float64)
        K = J @ J.T
        r0 = torch.randn(n, generator=g, dtype=torch.float64)
        cases.append((K, r0, 0.9 / float(torch.linalg.eigvalsh(K)[-1]), steps))
    return cases


def _ch5_reference(K: torch.Tensor, r0: torch.Tensor, lr: float, steps: int) -> torch.Tensor:
    from .theory import information_split, linearized_residual

    top = float(torch.linalg.eigvalsh(K)[-1]) ** 0.5
    split = information_split(kernel=K, cutoff=0.5 * top)  # the cutoff does not matter here
    return linearized_residual(split, r0, lr=lr, steps=steps)


def ch5_linearized_residual(answer_fn: Callable) -> ExerciseResult:
    """The reader's r̃_τ = Σ_s (1 − ηλ_s²)^τ (u_sᵀr₀) u_s (chapter 5, exercise 1).

    The reference is :func:`ntkbook.theory.linearized_residual` (Oymak et al. 2019, the
    linearized residual). The test inputs include a kernel with zero eigenvalues and τ = 0.

    Args:
        answer_fn: a function ``(K, r0, lr, steps)`` of the (n, n) kernel J Jᵀ, the (n,) initial
            residual, the step size and an integer number of steps, returning the (n,) residual.
    """
    return check_function(answer_fn, _ch5_reference, _ch5_inputs(), rtol=1e-6, atol=1e-9,
                          name="linearized_residual")


# --- Chapter 7 checkers -------------------------------------------------------------------


def _ch7_inputs() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, float]]:
    # Ridge regression problems (X, y, X_test, y_test, λ): more points than features, fewer
    # points than features (leverages near 1 at a small ridge), and a single test point.
    g = torch.Generator().manual_seed(7)
    cases = []
    for n, d, n_test, ridge in [(12, 4, 3, 0.5), (6, 10, 2, 0.05), (9, 3, 1, 2.0)]:
        X = torch.randn(n, d, generator=g, dtype=torch.float64)
        w = torch.randn(d, generator=g, dtype=torch.float64)
        y = X @ w + 0.3 * torch.randn(n, generator=g, dtype=torch.float64)
        X_test = torch.randn(n_test, d, generator=g, dtype=torch.float64)
        y_test = X_test @ w + 0.3 * torch.randn(n_test, generator=g, dtype=torch.float64)
        cases.append((X, y, X_test, y_test, ridge))
    return cases


def ch7_exact_loo(answer_fn: Callable) -> ExerciseResult:
    """The reader's exact leave-one-out influence of ridge regression (chapter 7, exercise 1).

    The model is f(x) = wᵀx (no bias) fitted by L(w) = Σ_i ½(wᵀx_i − y_i)² + ½λ‖w‖²; the answer
    is I[t, i] = ½(f⁽⁻ⁱ⁾(x_t) − y_t)² − ½(f(x_t) − y_t)², computed without retraining (the
    leverage correction of Koh & Liang's first-order estimate plus the second-order term of the
    quadratic test loss). The reference is :func:`ntkbook.influence.ntk_loo_influence` with the
    linear kernel K = XXᵀ (Zhang & Zhang 2022, eq. 8–9), which is ridge regression in dual form.
    A wrong answer that equals the first-order estimate, the leverage-corrected first-order term
    alone, or the exact answer with the opposite sign is named as such.

    Args:
        answer_fn: a function ``(X, y, X_test, y_test, ridge)`` of (n, d), (n,), (n_test, d),
            (n_test,) float64 tensors and λ > 0, returning the (n_test, n) influences.
    """
    from .influence import ihvp_decomposition

    name = "exact_loo"
    if not callable(answer_fn):
        return ExerciseResult(False,
                              f"{name}: expected a function, got {type(answer_fn).__name__}.")
    for k, (X, y, X_test, y_test, ridge) in enumerate(_ch7_inputs()):
        try:
            got = answer_fn(X.clone(), y.clone(), X_test.clone(), y_test.clone(), ridge)
        except Exception as err:  # the reader's code: report, don't crash the chapter
            return ExerciseResult(False, f"{name}: raised {type(err).__name__}: {err} "
                                         f"on test input {k}.")
        parts = ihvp_decomposition(X @ X.T, X_test @ X.T, y, y_test, ridge)
        result = check_array(got, parts.exact, rtol=1e-6, atol=1e-10,
                             name=f"{name} on test input {k}")
        if result:
            continue
        a = _as_array(got, name)
        known = {
            "the first-order (Koh & Liang) estimate ∇ℓ_tᵀH⁻¹∇ℓ_i: divide it by 1 − h_ii and "
            "add the second-order term of the test loss": parts.ihvp,
            "only the leverage-corrected first-order term: the test loss is quadratic in the "
            "prediction, add ½(f⁽⁻ⁱ⁾(x_t) − f(x_t))²": parts.first_order,
            "the exact influence with the opposite sign: the book's convention is "
            "ℓ_t(without i) − ℓ_t(with i)": -parts.exact,
        }
        for label, value in known.items():
            e = _as_array(value, "expected")
            if a.shape == e.shape and np.allclose(a, e, rtol=1e-6, atol=1e-10):
                return ExerciseResult(False, f"{name} on test input {k}: this is {label}.")
        return result
    return ExerciseResult(True, f"{name}: correct on all {len(_ch7_inputs())} test inputs.")
