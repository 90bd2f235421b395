"""Exercise checkers of chapter 10, *When influence functions break*."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .common import ExerciseResult, _as_array


def _ch10_inputs() -> list[tuple[np.ndarray, np.ndarray, int]]:
    # (estimate, truth, k): influences of n training points on one test point. The estimate is a
    # monotone but non-linear function of the truth plus noise, so that Pearson and Spearman
    # differ and the top k by |estimate| is not the top k by |truth|; half of the effects are
    # negative, so "largest" and "largest in magnitude" differ. The seed is one for which every
    # known mistake below is at least 0.03 away from the right value on every input.
    g = np.random.default_rng(64)
    cases = []
    for n, k in [(30, 10), (50, 12), (20, 6)]:
        truth = g.standard_normal(n)
        estimate = truth**3 + 0.6 * g.standard_normal(n)
        cases.append((estimate, truth, k))
    return cases


def _known_mistakes(estimate: np.ndarray, truth: np.ndarray, k: int) -> dict[str, float]:
    from scipy import stats

    by_signed = np.argsort(-truth, kind="stable")[:k]
    by_estimate = np.argsort(-np.abs(estimate), kind="stable")[:k]
    top = np.argsort(-np.abs(truth), kind="stable")[:k]
    return {
        "the k largest *signed* influences: the most influential points are the largest in "
        "magnitude, |I|, helpful or harmful": float(
            stats.spearmanr(estimate[by_signed], truth[by_signed])[0]),
        "the k points with the largest |estimate|: select by the retrained truth, which the "
        "estimate is being judged against": float(
            stats.spearmanr(estimate[by_estimate], truth[by_estimate])[0]),
        "Pearson's correlation: Spearman's is Pearson's of the ranks": float(
            stats.pearsonr(estimate[top], truth[top])[0]),
        "the correlation over all points: keep only the k most influential": float(
            stats.spearmanr(estimate, truth)[0]),
    }


def ch10_top_k_spearman(answer_fn: Callable) -> ExerciseResult:
    """The reader's Spearman correlation on the k most influential points (chapter 10, ex. 1).

    ``answer_fn(estimate, truth, k)`` takes two (n,) float64 arrays — an influence estimate and
    the retrained influences of n training points on one test point — and k, and returns
    Spearman's rank correlation of the two over the k training points of largest |truth|. The
    reference is :func:`ntkbook.influence.fragility.agreement` with ``by="truth"``. An answer that
    selects by the signed truth or by |estimate|, computes Pearson's correlation, or ignores k
    is named as such; the expected value is not shown.

    Args:
        answer_fn: the reader's function.
    """
    from ..influence.fragility import agreement

    name = "top_k_spearman"
    if not callable(answer_fn):
        return ExerciseResult(False,
                              f"{name}: expected a function, got {type(answer_fn).__name__}.")
    cases = _ch10_inputs()
    for index, (estimate, truth, k) in enumerate(cases):
        try:
            got = answer_fn(estimate.copy(), truth.copy(), k)
        except Exception as err:  # the reader's code: report, don't crash the chapter
            return ExerciseResult(False, f"{name}: raised {type(err).__name__}: {err} "
                                         f"on test input {index}.")
        try:
            value = _as_array(got, "answer")
        except TypeError as err:
            return ExerciseResult(False, f"{name}: {err} (test input {index}).")
        if value.size != 1:
            return ExerciseResult(False, f"{name}: expected a single number on test input "
                                         f"{index}, got shape {value.shape}.")
        value = float(value.reshape(()))
        if not np.isfinite(value):
            return ExerciseResult(False, f"{name}: returned {value} on test input {index}.")
        expected = agreement(estimate, truth, top=k, by="truth").mean_spearman
        if abs(value - expected) <= 1e-8:
            continue
        for label, wrong in _known_mistakes(estimate, truth, k).items():
            if abs(value - wrong) <= 1e-8:
                return ExerciseResult(False, f"{name} on test input {index}: not correct — "
                                             f"this is {label}.")
        if abs(value + expected) <= 1e-8:
            return ExerciseResult(False, f"{name} on test input {index}: not correct — the "
                                         "sign is flipped.")
        return ExerciseResult(False, f"{name} on test input {index} (n = {truth.size}, "
                                     f"k = {k}): not correct, and not one of the known "
                                     "mistakes. Check which k points you keep and how you "
                                     "rank them.")
    return ExerciseResult(True, f"{name}: correct on all {len(cases)} test inputs.")
