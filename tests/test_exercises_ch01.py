"""The chapter 1 exercise checkers: right answers pass, wrong ones fail with a useful message.

Oracles are closed forms derived in the chapter (the one-hidden-layer ReLU kernel, the Hessian
norm √(c_σ/m)‖x‖) and the definition of the kernel of a linear model, Φ_X Φ_Zᵀ.
"""

from __future__ import annotations

import math

import pytest
import torch

from ntkbook import exercises


def _theta_one(angle: float) -> float:
    # Θ⁽¹⁾ = 2[(sin θ + (π − θ)cos θ)/(2π)] + 2[(π − θ)/(2π)] cos θ for unit inputs, c_σ = 2.
    return ((math.sin(angle) + (math.pi - angle) * math.cos(angle)) / math.pi
            + (math.pi - angle) / math.pi * math.cos(angle))


@pytest.mark.parametrize("angle", [0.0, 0.4, math.pi / 3, math.pi / 2, 2.5, math.pi])
def test_relu_ntk_value_accepts_the_closed_form(angle: float) -> None:
    result = exercises.ch1_relu_ntk_value(_theta_one(angle), angle=angle)
    assert result.correct, result.message


def test_relu_ntk_value_at_pi_over_3() -> None:
    assert exercises.ch1_relu_ntk_value(2 / 3 + math.sqrt(3) / (2 * math.pi), angle=math.pi / 3)


def test_relu_ntk_value_rejects_the_first_layer_term_alone() -> None:
    # Forgetting the output layer's Σ⁽¹⁾ term is the typical mistake.
    angle = math.pi / 3
    wrong = (math.pi - angle) / math.pi * math.cos(angle)
    result = exercises.ch1_relu_ntk_value(wrong, angle=angle)
    assert not result.correct
    assert "Known mistake: only the hidden-layer term" in result.message
    # the call the exercise's prompt gives: the angle defaults to the exercise's pi/3
    assert exercises.ch1_relu_ntk_value(_theta_one(math.pi / 3)).correct
    assert not exercises.ch1_relu_ntk_value(wrong).correct


@pytest.mark.parametrize("angle", [-0.1, 4.0, "1.0", True])
def test_relu_ntk_value_rejects_bad_angles(angle) -> None:
    with pytest.raises(ValueError, match="angle"):
        exercises.ch1_relu_ntk_value(1.0, angle=angle)


def test_linear_model_ntk_accepts_the_gram_of_features() -> None:
    result = exercises.ch1_linear_model_ntk(lambda A, B: A @ B.T)
    assert result.correct, result.message


def test_linear_model_ntk_rejects_wrong_answers() -> None:
    assert not exercises.ch1_linear_model_ntk(lambda A, B: 2 * A @ B.T)
    assert not exercises.ch1_linear_model_ntk(lambda A, B: A @ A.T)
    transposed = exercises.ch1_linear_model_ntk(lambda A, B: B @ A.T)
    assert not transposed.correct and "transposed" in transposed.message


def test_linear_model_ntk_reports_a_crash() -> None:
    def broken(A, B):
        raise RuntimeError("boom")

    result = exercises.ch1_linear_model_ntk(broken)
    assert not result.correct and "RuntimeError" in result.message


@pytest.mark.parametrize("width, input_norm", [(400, 3.0), (64, 1.0), (1000, 0.25)])
def test_hessian_norm_is_the_closed_form(width: int, input_norm: float) -> None:
    result = exercises.ch1_hessian_norm(math.sqrt(2 / width) * input_norm, width=width,
                                        input_norm=input_norm)
    assert result.correct, result.message


def test_hessian_norm_rejects_the_gradient_scale() -> None:
    # √(2/m) without the input norm, or with its square, is wrong.
    assert not exercises.ch1_hessian_norm(math.sqrt(2 / 400), width=400, input_norm=3.0)
    assert not exercises.ch1_hessian_norm(math.sqrt(2 / 400) * 9, width=400, input_norm=3.0)


@pytest.mark.parametrize("kwargs", [dict(width=0, input_norm=1.0), dict(width=10, input_norm=0.0)])
def test_hessian_norm_rejects_bad_arguments(kwargs) -> None:
    with pytest.raises(ValueError):
        exercises.ch1_hessian_norm(1.0, **kwargs)


def test_checkers_accept_tensors() -> None:
    value = torch.tensor(2 / 3 + math.sqrt(3) / (2 * math.pi), dtype=torch.float64)
    assert exercises.ch1_relu_ntk_value(value, angle=math.pi / 3)
