"""No checker gives the answer away: wrong and malformed answers get messages that contain no
reference value, and ``help()`` on a checker shows no reference value or closed form.

The oracles are the reference values themselves, recomputed here from the closed forms and from
the package; every number a message shows is compared with every one of them.
"""

from __future__ import annotations

import inspect
import math
import re

import numpy as np
import pytest
import torch

from ntkbook import analytic_nngp, analytic_ntk, exercises, relu_two_layer_ntk
from ntkbook.exercises.ch01 import _ch1_feature_inputs
from ntkbook.exercises.ch02 import _ch2_arccos_inputs
from ntkbook.exercises.ch05 import _ch5_inputs, _ch5_reference
from ntkbook.exercises.ch06 import _ch6_equation, _ch6_points
from ntkbook.exercises.ch07 import _ch7_inputs
from ntkbook.implicit_bias import least_squares_limit, max_margin
from ntkbook.influence.ntk import ihvp_decomposition
from ntkbook.models import TwoLayerNet
from ntkbook.theory import lazy_criterion

_NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?|-?\d+e[-+]?\d+")


def _theta_one(angle: float) -> float:
    return ((math.sin(angle) + (math.pi - angle) * math.cos(angle)) / math.pi
            + (math.pi - angle) / math.pi * math.cos(angle))


def _kappa(tau: float) -> float:
    from ntkbook.exercises.ch03 import _ch3_data
    X, y = _ch3_data()
    return lazy_criterion(TwoLayerNet(5, 40, tau=tau, seed=0), X, y).kappa


def _lambda0(angle: float) -> float:
    X = torch.tensor([[1.0, 0.0], [math.cos(angle), math.sin(angle)]], dtype=torch.float64)
    return float(torch.linalg.eigvalsh(relu_two_layer_ntk(X))[0])


def _theta_orthogonal(depth: int) -> float:
    e = torch.eye(2, dtype=torch.float64)
    return float(analytic_ntk(e[:1], e[1:], depth=depth)[0, 0])


def _values(arrays) -> np.ndarray:
    return np.concatenate([np.asarray(a, dtype=float).reshape(-1) for a in arrays])


def _assert_no_reference(message: str, reference: np.ndarray) -> None:
    shown = [float(t) for t in _NUMBER.findall(message)]
    for v in shown:
        close = np.abs(reference - v) <= 1e-3 * np.abs(reference) + 1e-12
        assert not np.any(close & (reference != 0)), (v, message)


MALFORMED = [None, "0.5", lambda *args: 0.5, {"answer": 1}]


def _scalar_cases():
    pi3, pi4 = math.pi / 3, math.pi / 4
    t1, t2, k3, l0 = _theta_one(pi3), _theta_orthogonal(2), _kappa(3.0), _lambda0(pi4)
    h = math.sqrt(2 / 400) * 3.0
    hidden = (math.pi - pi3) / math.pi * math.cos(pi3)
    return [
        ("ch1_relu_ntk_value", lambda a: exercises.ch1_relu_ntk_value(a), t1,
         [0.0, 1.0, hidden, t1 - hidden, t1 / 2, -t1, 0.999 * t1, np.float32(0.9 * t1)]),
        ("ch1_hessian_norm", lambda a: exercises.ch1_hessian_norm(a, width=400, input_norm=3.0),
         h, [0.0, 1.0, h / 3, 2 * h, -h, h * 3]),
        ("ch2_ntk_orthogonal", lambda a: exercises.ch2_ntk_orthogonal(a, depth=2), t2,
         [0.0, 1.0, 1 / math.pi, -t2, 2 * t2]),
        ("ch3_homogeneous_kappa", lambda a: exercises.ch3_homogeneous_kappa(a, tau=3.0), k3,
         [0.0, 1.0, 9 * k3, 3 * k3, 81 * k3, -k3]),
        ("ch4_two_point_lambda0", lambda a: exercises.ch4_two_point_lambda0(a, angle=pi4), l0,
         [0.0, 1.0, 2 * l0, 1 - l0, -l0]),
    ]


@pytest.mark.parametrize("case", _scalar_cases(), ids=lambda c: c[0])
def test_scalar_checkers_accept_the_answer_and_never_show_it(case) -> None:
    _, check, reference, wrong = case
    assert check(reference).correct
    assert check(np.float32(reference)).correct, "float32 work is accepted"
    for answer in wrong + MALFORMED:
        result = check(answer)
        assert not result.correct, answer
        _assert_no_reference(result.message, np.array([reference]))
    assert "None (did you forget" in check(None).message
    assert "a string" in check("0.5").message


def _function_cases():
    feats = _ch1_feature_inputs()
    arccos = _ch2_arccos_inputs()
    ch5 = _ch5_inputs()
    ch7 = _ch7_inputs()
    ch7_ref = [ihvp_decomposition(X @ X.T, Xt @ X.T, y, yt, r).exact for X, y, Xt, yt, r in ch7]
    return [
        ("ch1_linear_model_ntk", exercises.ch1_linear_model_ntk,
         _values([A @ B.T for A, B in feats]), lambda A, B: A @ B.T,
         [lambda A, B: 2 * A @ B.T, lambda A, B: A @ A.T, lambda A, B: (A @ B.T)[:, :1]]),
        ("ch2_arccos_kernel", exercises.ch2_arccos_kernel,
         _values([analytic_nngp(X, Z, depth=1) for X, Z in arccos]),
         lambda X, Z: analytic_nngp(X, Z, depth=1),
         [lambda X, Z: 2 * analytic_nngp(X, Z, depth=1), lambda X, Z: X @ Z.T]),
        ("ch5_linearized_residual", exercises.ch5_linearized_residual,
         _values([_ch5_reference(*c) for c in ch5]), _ch5_reference,
         [lambda K, r0, lr, steps: r0, lambda K, r0, lr, steps: 0 * r0]),
        ("ch7_exact_loo", exercises.ch7_exact_loo, _values(ch7_ref),
         lambda X, y, Xt, yt, r: ihvp_decomposition(X @ X.T, Xt @ X.T, y, yt, r).exact,
         [lambda X, y, Xt, yt, r: ihvp_decomposition(X @ X.T, Xt @ X.T, y, yt, r).ihvp,
          lambda X, y, Xt, yt, r: torch.zeros(Xt.shape[0], X.shape[0], dtype=X.dtype)]),
    ]


@pytest.mark.parametrize("case", _function_cases(), ids=lambda c: c[0])
def test_function_checkers_accept_the_answer_and_never_show_it(case) -> None:
    _, check, reference, right, wrong = case
    assert check(right).correct
    # float32 work is accepted at float32 precision (the answer returned as float32)
    assert check(lambda *a: right(*a).to(torch.float32)).correct
    returns_text = [lambda *a: "0.5", lambda *a: None]
    for answer in wrong + returns_text + [None, "f", 3.0]:
        result = check(answer)
        assert not result.correct
        _assert_no_reference(result.message, reference)
    assert "returned a string" in check(returns_text[0]).message
    assert "returned None" in check(returns_text[1]).message


def test_the_chapter_6_checkers_never_show_the_vector() -> None:
    X, y = _ch6_equation()
    limit = least_squares_limit(X, y, torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64))
    ref = limit.numpy()
    assert exercises.ch6_gd_limit(ref, w0=(1.0, 1.0, 1.0)).correct
    for answer in [np.zeros(3), np.array([3.0, 0.0, 0.0]), np.ones(3), ref[::-1].copy(),
                   np.zeros(2)] + MALFORMED:
        result = exercises.ch6_gd_limit(answer, w0=(1.0, 1.0, 1.0))
        assert not result.correct
        _assert_no_reference(result.message, ref)
    P, labels = _ch6_points()
    w = max_margin(P, labels).w.numpy()
    assert exercises.ch6_max_margin(w).correct
    for answer in [np.zeros(2), np.array([1.0, 0.0]), 2 * w, np.array([0.3, 0.3])] + MALFORMED:
        result = exercises.ch6_max_margin(answer)
        assert not result.correct
        _assert_no_reference(result.message, w)


CLOSED_FORMS = ["2/3 + √3/(2π)", "1/π", "X⁺y", "(I − X⁺X)", "divided by τ²", "√(c_σ/m)",
                "Φ_X Φ_Zᵀ", "(sin θ + (π − θ) cos θ)/π", "leverage correction", "1 − h_ii"]


@pytest.mark.parametrize("name", [n for n in exercises.__all__ if n.startswith("ch")])
def test_help_shows_no_reference_value(name: str) -> None:
    doc = inspect.getdoc(getattr(exercises, name)) or ""
    for form in CLOSED_FORMS:
        assert form not in doc, (name, form)
    references = np.array([_theta_one(math.pi / 3), math.sqrt(2 / 400) * 3.0,
                           _theta_orthogonal(2), _kappa(3.0), _lambda0(math.pi / 4)])
    _assert_no_reference(doc, references)


def test_ch1_relu_ntk_value_takes_the_call_of_the_prompt() -> None:
    assert exercises.ch1_relu_ntk_value(_theta_one(math.pi / 3)).correct
