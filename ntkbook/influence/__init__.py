"""Influence of training points on test predictions.

Sign convention (Zhang & Zhang 2022, eq. 7), used everywhere in the package and the book: the
influence of training point i on test point t is the change of the test loss ½(f(x_t) − y_t)²
when i is *removed*, L_t(without i) − L_t(with i). Positive: point i was helping.

The subpackage follows the book:

* :mod:`~ntkbook.influence.koh_liang` (chapter 7) — Koh & Liang's influence of a trained torch
  model, its inverse-Hessian-vector-product solvers and leave-one-out retraining by Newton's
  method;
* :mod:`~ntkbook.influence.ntk` (chapters 8–9) — influence in the NTK regime from kernel
  matrices: exact leave-one-out, the IHVP estimate and its error, group complexity, influence
  along training time;
* :mod:`~ntkbook.influence.wide` (chapter 8) — the wide two-layer network trained on Zhang &
  Zhang's regularized loss, and its leave-one-out retraining;
* :mod:`~ntkbook.influence.fragility` (chapter 10) — networks trained to a minimizer, warm- and
  cold-start leave-one-out truths, the Hessian's split into Gauss–Newton and network curvature,
  and the agreement of an estimate with a truth.
"""

from __future__ import annotations

from .fragility import (
    Agreement,
    Curvature,
    FragilityRun,
    Minimum,
    Retraining,
    agreement,
    cold_start_retraining,
    curvature,
    first_order_influence,
    fragility_run,
    minimize,
    warm_start_retraining,
)
from .koh_liang import (
    LOSSES,
    SOLVERS,
    IHVPSolution,
    KohLiangInfluence,
    fit_to_optimum,
    inverse_hvp,
    koh_liang_influence,
    leave_one_out_retraining,
)
from .ntk import (
    IHVPDecomposition,
    group_complexity,
    ihvp_decomposition,
    ihvp_error_rate_lower_bound,
    kernel_ihvp_influence,
    ntk_ihvp_influence,
    ntk_loo_influence,
    ntk_loo_influence_along_time,
)
from .wide import RegularizedFit, nn_loo_influence, train_regularized

__all__ = [
    "LOSSES",
    "RegularizedFit",
    "SOLVERS",
    "IHVPDecomposition",
    "IHVPSolution",
    "KohLiangInfluence",
    "fit_to_optimum",
    "group_complexity",
    "ihvp_decomposition",
    "ihvp_error_rate_lower_bound",
    "inverse_hvp",
    "kernel_ihvp_influence",
    "koh_liang_influence",
    "leave_one_out_retraining",
    "ntk_ihvp_influence",
    "ntk_loo_influence",
    "ntk_loo_influence_along_time",
    "nn_loo_influence",
    "train_regularized",
    "Agreement",
    "Curvature",
    "FragilityRun",
    "Minimum",
    "Retraining",
    "agreement",
    "cold_start_retraining",
    "curvature",
    "first_order_influence",
    "fragility_run",
    "minimize",
    "warm_start_retraining",
]
