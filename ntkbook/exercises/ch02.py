"""Exercise checkers of chapter 2, *The infinite-width limit*."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .._checks import positive_int
from ..kernels import analytic_nngp, analytic_ntk
from .common import ExerciseResult, check_function, check_number, known_number_mistake, with_mistake


def ch2_ntk_orthogonal(answer, depth: int = 2) -> ExerciseResult:
    """Θ⁽ᴸ⁾(x, z) of the ReLU network for orthogonal unit inputs x ⟂ z (chapter 2, exercise 1).

    The reference is :func:`ntkbook.analytic_ntk` (Arora et al. 2019, eq. 10; c_σ = 2) at
    x = e₁, z = e₂. The message says right or wrong, never the reference value.

    Args:
        answer: the reader's value of Θ⁽ᴸ⁾(x, z), a number.
        depth: the number of hidden layers L ≥ 1.

    Raises:
        ValueError: ``depth`` is not a positive integer.
    """
    depth = positive_int(depth, "depth")
    basis = torch.eye(2, dtype=torch.float64)
    expected = float(analytic_ntk(basis[:1], basis[1:], depth=depth)[0, 0])
    result = check_number(answer, expected, rtol=1e-6,
                          name=f"Theta^({depth})(x, z) for orthogonal unit x, z")
    sigma = float(analytic_nngp(basis[:1], basis[1:], depth=depth)[0, 0])
    mistakes = {"the term Sigma^(L) of the last layer is missing": expected - sigma}
    if depth > 1:
        previous = float(analytic_ntk(basis[:1], basis[1:], depth=depth - 1)[0, 0])
        mistakes["that is the kernel of one layer less; apply the recursion once more"] = previous
    return with_mistake(result, known_number_mistake(answer, mistakes))


def _ch2_arccos_inputs() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(2)
    X = torch.randn(6, 4, generator=g, dtype=torch.float64)
    Z = torch.randn(5, 4, generator=g, dtype=torch.float64) * 3.0
    unit = torch.nn.functional.normalize(torch.randn(7, 3, generator=g, dtype=torch.float64),
                                         dim=1)
    x = torch.tensor([[0.1, 0.7, 0.3]], dtype=torch.float64)
    # Parallel and antipodal pairs push the rounded cosine outside [-1, 1].
    edge = torch.cat([x, 2 * x, -x, -3 * x, 1e3 * x])
    return [(X, Z), (unit, unit), (edge, edge), (X[:1], X[:1])]


def ch2_arccos_kernel(answer_fn: Callable) -> ExerciseResult:
    """A reader's arc-cosine kernel fn(X, Z) against the ReLU NNGP Σ⁽¹⁾ (chapter 2, exercise 2).

    Σ⁽¹⁾(x, z) = 2 E_w[relu(wᵀx) relu(wᵀz)] (Cho & Saul 2009), computed by
    :func:`ntkbook.analytic_nngp` with depth 1. The test inputs include rows of
    several norms and parallel and antipodal pairs, where an unclipped arccos returns NaN.

    Args:
        answer_fn: a function of two float64 tensors (n, d) and (n', d) returning (n, n').
    """
    return check_function(answer_fn, lambda X, Z: analytic_nngp(X, Z, depth=1),
                          _ch2_arccos_inputs(), rtol=1e-6, atol=1e-9, name="arccos_kernel")
