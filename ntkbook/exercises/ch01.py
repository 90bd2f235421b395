"""Exercise checkers of chapter 1, *Linearization and the empirical NTK*."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .._checks import positive_float, positive_int
from ..empirical import empirical_ntk, hessian_spectral_norm
from ..kernels import analytic_ntk
from ..models import MLP
from .common import ExerciseResult, check_function, check_number, known_number_mistake, with_mistake


def ch1_relu_ntk_value(answer, *, angle: float = math.pi / 3) -> ExerciseResult:
    """Θ⁽¹⁾(x, z) of the one-hidden-layer ReLU MLP for unit x, z at ``angle`` (chapter 1, ex. 1).

    The reference is :func:`ntkbook.analytic_ntk` with depth 1 (Jacot et al. 2018; Arora et al.
    2019, eq. 10; c_σ = 2) at x = (1, 0), z = (cos θ, sin θ). The message says right or wrong,
    never the reference value.

    Args:
        answer: the reader's value, a number.
        angle: the angle θ ∈ [0, π] between the two inputs, in radians; π/3 by default, the
            angle of the exercise.

    Raises:
        ValueError: ``angle`` is not a number in [0, π].
    """
    if isinstance(angle, bool) or not isinstance(angle, (int, float)) or not (
            0.0 <= angle <= math.pi):
        raise ValueError(f"angle must be a number in [0, pi], got {angle!r}")
    x = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    z = torch.tensor([[math.cos(angle), math.sin(angle)]], dtype=torch.float64)
    expected = float(analytic_ntk(x, z, depth=1)[0, 0])
    result = check_number(answer, expected, rtol=1e-6, name=f"Theta^(1)(x, z) at angle {angle:.4g}")
    cos = math.cos(angle)
    output_layer = (math.sin(angle) + (math.pi - angle) * cos) / math.pi   # Σ⁽¹⁾, c_σ = 2
    hidden_layer = (math.pi - angle) / math.pi * cos                       # Σ̇⁽¹⁾ cos θ
    return with_mistake(result, known_number_mistake(answer, {
        "only the hidden-layer term; the output weights' gradients contribute too": hidden_layer,
        "only the output-layer term; the hidden weights' gradients contribute too": output_layer,
        "the factor c_sigma = 2 is missing": expected / 2,
        "the sin θ/π term of the output-layer kernel is missing (the arc-cosine kernel has "
        "two terms)": expected - math.sin(angle) / math.pi,
    }))


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
    rows. The test inputs have several shapes, including Φ_X = Φ_Z and n ≠ n'.

    Args:
        answer_fn: a function of two float64 tensors (n, P) and (n', P) returning (n, n').
    """
    return check_function(answer_fn, _ch1_linear_model_reference, _ch1_feature_inputs(),
                          rtol=1e-10, atol=1e-12, name="linear_model_ntk")


def ch1_hessian_norm(answer, *, width: int, input_norm: float) -> ExerciseResult:
    """‖∇²_w f(x)‖₂ of a one-hidden-layer ReLU MLP at an input of norm ‖x‖ (chapter 1, ex. 3).

    The reference is :func:`ntkbook.hessian_spectral_norm` (Liu, Zhu & Belkin 2020) of
    ``MLP(4, width, depth=1)`` at a fixed direction scaled to ``input_norm``. The message says
    right or wrong, never the reference value.

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
    result = check_number(answer, expected, rtol=1e-6,
                          name=f"||Hessian|| at width {width}, ||x|| = {input_norm:g}")
    return with_mistake(result, known_number_mistake(answer, {
        "this is the square of the right value: the spectral norm is the largest |eigenvalue|, "
        "not its square": expected**2,
        "the norm of the input enters squared; the Hessian is linear in x": expected * input_norm,
        "the factor c_sigma = 2 under the square root is missing": expected / math.sqrt(2),
        "the width enters without its square root": expected / math.sqrt(width),
    }))
