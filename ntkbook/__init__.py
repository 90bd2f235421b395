"""ntkbook: neural tangent kernels, lazy training and influence functions, computed.

The companion package of the book *Wide neural networks, computed*. The public surface:

>>> import ntkbook
>>> X = ntkbook.data.sphere(20, 5, seed=0)
>>> net = ntkbook.MLP(5, width=512, depth=2, seed=0)
>>> K_m = ntkbook.empirical_ntk(net, X)           # finite width
>>> K = ntkbook.analytic_ntk(X, depth=2)          # infinite width
>>> float(torch.linalg.norm(K_m - K) / torch.linalg.norm(K)) < 0.2
True
>>> y = torch.sin(3 * X[:, 0])
>>> f = ntkbook.kernel_ridge(K, K, y, ridge=1e-3)  # NTK regression, predictions at X
>>> float((f - y).abs().max()) < 0.01
True
>>> ntkbook.ntk_loo_influence(K[5:, 5:], K[:5, 5:], y[5:], y[:5], ridge=1e-3).shape
torch.Size([5, 15])

The module map follows the book, one chapter (one paper) per module:

* :mod:`~ntkbook.data`, :mod:`~ntkbook.models`, :mod:`~ntkbook.plotting`, :mod:`~ntkbook.config`
  — data sets, the networks, the figures' style, the experiment-scale switch;
* :mod:`~ntkbook.empirical` (chapter 1) — finite-width tangent kernels;
* :mod:`~ntkbook.kernels` (chapter 2) — infinite-width NNGP and NTK;
* :mod:`~ntkbook.dynamics` (chapters 1–2) — training and its kernel-regime closed forms;
* :mod:`~ntkbook.theory` — :mod:`~ntkbook.theory.lazy` (chapter 3, Chizat et al.),
  :mod:`~ntkbook.theory.convergence` (chapter 4, Du et al., Arora et al.),
  :mod:`~ntkbook.theory.low_rank` (chapter 5, Oymak et al.);
* :mod:`~ntkbook.implicit_bias` (chapter 6);
* :mod:`~ntkbook.influence` — :mod:`~ntkbook.influence.koh_liang` (chapter 7, Koh & Liang),
  :mod:`~ntkbook.influence.ntk` (chapters 8–9, Zhang & Zhang);
* :mod:`~ntkbook.exercises` — the generic checkers and one module per chapter (``ch01`` …).
"""

from __future__ import annotations

import torch

from . import (
    config,
    data,
    dynamics,
    empirical,
    exercises,
    implicit_bias,
    influence,
    kernels,
    models,
    plotting,
    theory,
)
from .config import experiment_scale, scaled, set_experiment_scale
from .dynamics import (
    TrainingHistory,
    gradient_descent,
    gradient_descent_prediction,
    gradient_flow_prediction,
    kernel_ridge,
)
from .empirical import empirical_ntk, hessian_spectral_norm, layer_grams
from .influence import ntk_loo_influence
from .kernels import analytic_nngp, analytic_ntk, layer_kernels, relu_two_layer_ntk
from .models import (
    MLP,
    LazyModel,
    LinearizedModel,
    TwoLayerNet,
    TwoLayerReLU,
    antisymmetric_copy,
    linearize,
)

__version__ = "0.1.0"


def device() -> torch.device:
    """``cuda`` when a GPU is available, otherwise ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


__all__ = [
    "MLP",
    "LazyModel",
    "LinearizedModel",
    "TrainingHistory",
    "TwoLayerNet",
    "TwoLayerReLU",
    "analytic_nngp",
    "analytic_ntk",
    "antisymmetric_copy",
    "config",
    "data",
    "device",
    "dynamics",
    "empirical",
    "empirical_ntk",
    "exercises",
    "implicit_bias",
    "experiment_scale",
    "gradient_descent",
    "gradient_descent_prediction",
    "gradient_flow_prediction",
    "hessian_spectral_norm",
    "influence",
    "kernel_ridge",
    "kernels",
    "layer_grams",
    "layer_kernels",
    "linearize",
    "models",
    "ntk_loo_influence",
    "plotting",
    "relu_two_layer_ntk",
    "scaled",
    "set_experiment_scale",
    "theory",
]
