"""Oracle tests of the chapter 10 exercise checker (ntkbook.exercises.ch10_top_k_spearman).

The oracle is a hand-written Spearman correlation — ranks by argsort, Pearson of the ranks —
independent of scipy and of the package's ``agreement``.
"""

from __future__ import annotations

import numpy as np
import torch

from ntkbook import exercises


def _ranks(v: np.ndarray) -> np.ndarray:
    r = np.empty(v.size)
    r[np.argsort(v)] = np.arange(v.size)
    return r


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def by_hand(estimate, truth, k):
    top = np.argsort(-np.abs(truth))[:k]
    return _pearson(_ranks(estimate[top]), _ranks(truth[top]))


def test_a_right_answer_is_accepted() -> None:
    result = exercises.ch10_top_k_spearman(by_hand)
    assert result.correct, result.message
    as_tensor = exercises.ch10_top_k_spearman(lambda e, t, k: torch.tensor(by_hand(e, t, k)))
    assert as_tensor.correct, as_tensor.message


def test_each_known_mistake_is_named_and_the_value_is_not_revealed() -> None:
    mistakes = {
        "*signed* influences": lambda e, t, k: _pearson(
            _ranks(e[np.argsort(-t)[:k]]), _ranks(t[np.argsort(-t)[:k]])),
        "largest |estimate|": lambda e, t, k: _pearson(
            _ranks(e[np.argsort(-np.abs(e))[:k]]), _ranks(t[np.argsort(-np.abs(e))[:k]])),
        "Pearson's correlation": lambda e, t, k: _pearson(
            e[np.argsort(-np.abs(t))[:k]], t[np.argsort(-np.abs(t))[:k]]),
        "over all points": lambda e, t, k: _pearson(_ranks(e), _ranks(t)),
        "sign is flipped": lambda e, t, k: -by_hand(e, t, k),
    }
    for phrase, answer in mistakes.items():
        result = exercises.ch10_top_k_spearman(answer)
        assert not result.correct
        assert phrase in result.message, result.message
    estimate, truth, k = exercises.ch10._ch10_inputs()[0]
    expected = by_hand(estimate, truth, k)
    for answer in list(mistakes.values()) + [lambda e, t, k: 0.5]:
        message = exercises.ch10_top_k_spearman(answer).message
        assert f"{expected:.3f}" not in message and f"{expected:.2f}" not in message


def test_other_wrong_answers_are_rejected() -> None:
    unknown = exercises.ch10_top_k_spearman(lambda e, t, k: 0.5)
    assert not unknown.correct and "not one of the known mistakes" in unknown.message
    close = exercises.ch10_top_k_spearman(lambda e, t, k: by_hand(e, t, k) + 1e-4)
    assert not close.correct
    shape = exercises.ch10_top_k_spearman(lambda e, t, k: np.ones(k))
    assert not shape.correct and "single number" in shape.message
    nan = exercises.ch10_top_k_spearman(lambda e, t, k: float("nan"))
    assert not nan.correct and "nan" in nan.message
    text = exercises.ch10_top_k_spearman(lambda e, t, k: "high")
    assert not text.correct and "returned a string" in text.message


def test_an_answer_that_raises_or_is_not_a_function_is_reported() -> None:
    def broken(e, t, k):
        raise IndexError("k out of range")

    result = exercises.ch10_top_k_spearman(broken)
    assert not result.correct and "IndexError" in result.message
    assert "expected a function" in exercises.ch10_top_k_spearman(0.9).message


def test_the_inputs_separate_every_mistake_from_the_answer() -> None:
    for estimate, truth, k in exercises.ch10._ch10_inputs():
        right = by_hand(estimate, truth, k)
        for wrong in exercises.ch10._known_mistakes(estimate, truth, k).values():
            assert abs(wrong - right) > 0.03
