"""Exercise checkers of chapter 10, *When influence functions break*."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .common import ExerciseResult, check_cases


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
        "this is the k largest *signed* influences: the most influential points are the largest in "
        "magnitude, |I|, helpful or harmful": float(
            stats.spearmanr(estimate[by_signed], truth[by_signed])[0]),
        "this is the k points with the largest |estimate|: select by the retrained truth, "
        "which the estimate is being judged against": float(
            stats.spearmanr(estimate[by_estimate], truth[by_estimate])[0]),
        "this is Pearson's correlation: Spearman's is Pearson's of the ranks": float(
            stats.pearsonr(estimate[top], truth[top])[0]),
        "this is the correlation over all points: keep only the k most influential": float(
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
    return check_cases(answer_fn, _ch10_inputs(), _top_k_spearman, mistakes=_mistakes,
                       rtol=1e-8, atol=1e-8, name="top_k_spearman")


def _top_k_spearman(estimate: np.ndarray, truth: np.ndarray, k: int) -> float:
    from ..influence.fragility import agreement

    return agreement(estimate, truth, top=k, by="truth").mean_spearman


def _mistakes(estimate: np.ndarray, truth: np.ndarray, k: int) -> dict[str, float]:
    return {**_known_mistakes(estimate, truth, k),
            "the sign is flipped": -_top_k_spearman(estimate, truth, k)}
