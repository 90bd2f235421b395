"""The theorem-side numbers the book compares its experiments against, one module per paper.

* :mod:`~ntkbook.theory.lazy` (chapter 3) — lazy training (Chizat, Oyallon & Bach 2019): the
  criterion κ_h(w₀) = ‖h(w₀) − y*‖ · ‖D²h(w₀)‖ / ‖Dh(w₀)‖² and the operator norm ‖D²h‖;
* :mod:`~ntkbook.theory.convergence` (chapter 4) — gradient descent finds global minima (Du et al.
  2019) and the fine-grained view (Arora et al. 2019): the linear-rate bound, the width and step
  size the theorems ask for, the radius and flip probability of the proof, the split of one
  gradient step into I₁ and I₂, the deep limit K⁽ᴴ⁾, the predicted loss curve and yᵀ(H^∞)⁻¹y;
* :mod:`~ntkbook.theory.low_rank` (chapter 5) — low-rank Jacobians (Oymak et al. 2019): the
  information/nuisance split of a Jacobian, the linearized residual, the meta-theorem's bound
  and the tolerance it needs.

Every name is also importable from ``ntkbook.theory`` itself. Zhang & Zhang's lower bound on the
error rate of IHVP influence lives with the rest of their paper in :mod:`ntkbook.influence.ntk`;
``ntkbook.theory.ihvp_error_rate_lower_bound`` is the same function.
"""

from __future__ import annotations

from ..influence.ntk import ihvp_error_rate_lower_bound
from .convergence import (
    ConvergenceRequirements,
    SpectralProjections,
    UpdateDecomposition,
    arora_complexity,
    arora_loss_curve,
    du_deep_gram_limit,
    du_linear_rate_bound,
    du_two_layer_requirements,
    du_update_decomposition,
    du_weight_radius,
    flip_probability,
    label_projections,
    max_stable_lr,
)
from .lazy import LazyCriterion, lazy_criterion, second_derivative_norm
from .low_rank import (
    InformationSplit,
    LowRankBound,
    information_split,
    jacobian_distance,
    linearized_residual,
    linearized_residual_bound,
    meta_theorem_bound,
    meta_theorem_delta,
)

__all__ = [
    "ConvergenceRequirements",
    "InformationSplit",
    "LazyCriterion",
    "LowRankBound",
    "SpectralProjections",
    "UpdateDecomposition",
    "arora_complexity",
    "arora_loss_curve",
    "du_deep_gram_limit",
    "du_linear_rate_bound",
    "du_two_layer_requirements",
    "du_update_decomposition",
    "du_weight_radius",
    "flip_probability",
    "ihvp_error_rate_lower_bound",
    "information_split",
    "jacobian_distance",
    "label_projections",
    "lazy_criterion",
    "linearized_residual",
    "linearized_residual_bound",
    "max_stable_lr",
    "meta_theorem_bound",
    "meta_theorem_delta",
    "second_derivative_norm",
]
