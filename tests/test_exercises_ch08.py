"""Chapter 8's checker: the kernel leave-one-out influence (eq. 9) against brute-force refits."""

from __future__ import annotations

import re

import torch

from ntkbook import exercises
from ntkbook.exercises.ch08 import _ch8_inputs, _refits


def sherman_morrison(K, K_test, y, y_test, ridge):
    G = torch.linalg.inv(K + ridge * torch.eye(K.shape[0], dtype=K.dtype))
    alpha = G @ y
    change = (K_test @ G) * (alpha / G.diagonal())[None, :]
    residual = (K_test @ alpha - y_test)[:, None]
    return 0.5 * (residual - change) ** 2 - 0.5 * residual**2


def variant(kind):
    def answer(K, K_test, y, y_test, ridge):
        G = torch.linalg.inv(K + ridge * torch.eye(K.shape[0], dtype=K.dtype))
        alpha = G @ y
        A = K_test @ G
        residual = (K_test @ alpha - y_test)[:, None]
        if kind == "ihvp":
            return A * residual * (K @ alpha - y)[None, :]
        if kind == "first order":
            return -A * residual * (alpha / G.diagonal())[None, :]
        if kind == "prediction":
            return A * (alpha / G.diagonal())[None, :]
        if kind == "sign":
            return -sherman_morrison(K, K_test, y, y_test, ridge)
        if kind == "transposed":
            return sherman_morrison(K, K_test, y, y_test, ridge).T
        if kind == "nan":
            return sherman_morrison(K, K_test, y, y_test, ridge) * float("nan")
        raise ValueError(kind)
    return answer


def test_the_oracle_is_refitting():
    K, K_test, y, y_test, ridge = _ch8_inputs()[0]
    assert torch.allclose(_refits(K, K_test, y, y_test, ridge),
                          sherman_morrison(K, K_test, y, y_test, ridge), atol=1e-12)


def test_a_right_answer_passes():
    result = exercises.ch8_kernel_loo(sherman_morrison)
    assert result.correct, result.message


def test_known_mistakes_are_named():
    expected = {
        "ihvp": "first-order (implicit-Hessian) estimate",
        "first order": "first-order term alone",
        "prediction": "change of the prediction",
        "sign": "sign is reversed",
        "transposed": "transposed",
        "nan": "NaN",
    }
    for kind, phrase in expected.items():
        result = exercises.ch8_kernel_loo(variant(kind))
        assert not result.correct, kind
        assert phrase in result.message, (kind, result.message)


def test_a_wrong_answer_does_not_reveal_the_reference():
    K, K_test, y, y_test, ridge = _ch8_inputs()[0]
    reference = _refits(K, K_test, y, y_test, ridge)

    def zeros(K, K_test, y, y_test, ridge):
        return torch.zeros(K_test.shape[0], K.shape[0], dtype=K.dtype)

    result = exercises.ch8_kernel_loo(zeros)
    assert not result.correct
    shown = {float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", result.message)}
    assert not any(abs(v - float(r)) < 1e-6 * abs(float(r)) + 1e-15
                   for v in shown for r in reference.reshape(-1) if r != 0)


def test_bad_answers_are_reported_not_raised():
    assert "expected a function" in exercises.ch8_kernel_loo(3.0).message

    def broken(*args):
        raise RuntimeError("boom")

    assert "raised RuntimeError: boom" in exercises.ch8_kernel_loo(broken).message

    def text(*args):
        return "0.5"

    assert not exercises.ch8_kernel_loo(text).correct
