"""Lazy training (Chizat, Oyallon & Bach 2019; chapter 3): the criterion κ_h and ‖D²h‖.

For the empirical least-squares problem h(w) = (f(x_1; w), …, f(x_n; w)) ∈ R^n with target
y* = y, training is *lazy* when the model barely changes its linearization while it fits the data.
Chizat et al. (Sec. 2) measure this at the initialization w₀ by
κ_h(w₀) = ‖h(w₀) − y*‖ · ‖D²h(w₀)‖ / ‖Dh(w₀)‖²: :func:`lazy_criterion`,
:func:`second_derivative_norm`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, jvp

from .._checks import as_matrix, as_vector, nonnegative_float, positive_int
from .._checks import seed as check_seed
from ..empirical import _scalar_kernel, _split_parameters


@dataclass(frozen=True)
class LazyCriterion:
    """The three factors of κ_h(w₀) (Chizat et al. 2019, Sec. 2) and their combination.

    Attributes:
        kappa: ‖h(w₀) − y*‖ · ‖D²h(w₀)‖ / ‖Dh(w₀)‖².
        residual_norm: ‖h(w₀) − y*‖, the Euclidean norm over the n training points.
        jacobian_norm: ‖Dh(w₀)‖, the operator norm of the n × P Jacobian, √λ_max(K).
        second_derivative_norm: ‖D²h(w₀)‖, the operator norm of the symmetric bilinear map
            (u, v) ↦ (uᵀ∇²f(x_i; w₀)v)_{i ≤ n} from R^P × R^P to R^n.
    """

    kappa: float
    residual_norm: float
    jacobian_norm: float
    second_derivative_norm: float

    def __repr__(self) -> str:
        return (f"LazyCriterion(kappa={self.kappa:.4g}, residual_norm={self.residual_norm:.4g}, "
                f"jacobian_norm={self.jacobian_norm:.4g}, "
                f"second_derivative_norm={self.second_derivative_norm:.4g})")


def second_derivative_norm(model: nn.Module, X: torch.Tensor, *, iterations: int = 10,
                           restarts: int = 3, rtol: float = 1e-7, seed: int = 0) -> float:
    """‖D²h(w₀)‖ for h(w) = f(X; w): the operator norm of the second derivative.

    D²h(w₀) is the symmetric bilinear map (u, v) ↦ (uᵀ H_i v)_i with H_i = ∇²_w f(x_i; w₀), and

        ‖D²h‖ = max_{‖u‖=‖v‖=1} ‖(uᵀH_i v)_i‖ = max_{‖c‖=1} ‖Σ_i c_i H_i‖₂
              = max_{‖u‖=1} ‖(uᵀH_i u)_i‖

    (the last equality holds for symmetric bilinear maps on a Hilbert space). It is computed by
    alternating maximization: for the current c, a power iteration (Hessian-vector products of the
    scalar c·h by double backward, as in Liu, Zhu & Belkin 2020, refined by Rayleigh–Ritz) gives
    the top eigenvector u of Σ c_i H_i; then c ← q/‖q‖ with q_i = uᵀH_i u (one forward-over-forward
    pass). Each step does not decrease ‖(uᵀH_i u)_i‖; the value returned (the largest ‖q‖ seen) is
    a lower bound on ‖D²h‖ that in practice equals it (the tests compare it with a brute-force
    maximization over c). For
    reference, max_i ‖H_i‖₂ ≤ ‖D²h‖ ≤ √(Σ_i ‖H_i‖₂²).

    Args:
        model: scalar-output module; the trainable parameters are w.
        X: (n, d) inputs.
        iterations: alternating iterations; each runs up to 10 power-iteration steps.
        restarts: independent random starts; the largest value found is returned.
        rtol: both iterations stop early once their estimate changes by less than this, relatively.
        seed: of the random starting directions.

    Returns:
        The estimate of ‖D²h(w₀)‖ (0 for a model that is linear in its weights).

    Raises:
        TypeError, ValueError: bad inputs.
    """
    iterations = positive_int(iterations, "iterations")
    restarts = positive_int(restarts, "restarts")
    rtol = nonnegative_float(rtol, "rtol")
    seed = check_seed(seed)
    X = as_matrix(X, "X")
    params, frozen = _split_parameters(model)
    first = next(iter(params.values()))
    X = X.to(dtype=first.dtype, device=first.device)

    def h(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return functional_call(model, {**frozen, **p}, (X,)).reshape(-1)

    def norm(t: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.sqrt(sum((u * u).sum() for u in t.values()))

    def quadratic(u: dict[str, torch.Tensor]) -> torch.Tensor:
        # q_i = uᵀ H_i u: the second directional derivative of h along u.
        return jvp(lambda p: jvp(h, (p,), (u,))[1], (params,), (u,))[1]

    def hvp_operator(c: torch.Tensor):
        # u ↦ (Σ_i c_i H_i) u by double backward; the graph of ∇(c·h) is built once per c and
        # reused for every product of the power iteration.
        leaves = {k: p.detach().clone().requires_grad_(True) for k, p in params.items()}
        gradient = torch.autograd.grad(h(leaves) @ c, list(leaves.values()), create_graph=True)

        def apply(u: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            inner = sum((g * u[k]).sum() for g, k in zip(gradient, leaves))
            if not inner.requires_grad:  # the gradient does not depend on w: h is linear
                return {k: torch.zeros_like(t) for k, t in u.items()}
            products = torch.autograd.grad(inner, list(leaves.values()), retain_graph=True,
                                           allow_unused=True)
            return {k: torch.zeros_like(u[k]) if t is None else t.detach()
                    for k, t in zip(leaves, products)}

        return apply

    def dot(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> torch.Tensor:
        return sum((a[k] * b[k]).sum() for k in a)

    def top_eigenvector(c: torch.Tensor, u: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        hvp = hvp_operator(c)
        # Power iteration, then Rayleigh–Ritz on span{u, Mu}: Hessians often have eigenvalues ±λ
        # of equal size (the spectrum of a two-layer net is symmetric), where plain power
        # iteration returns a mixture of the two eigenvectors with uᵀMu ≈ 0.
        previous = 0.0
        for _ in range(power_steps):
            mu = hvp(u)
            size = float(norm(mu))
            if size == 0.0:
                return u
            u = {k: t / size for k, t in mu.items()}
            if abs(size - previous) <= rtol * size:
                break
            previous = size
        mu = hvp(u)
        v = {k: mu[k] - dot(mu, u) * u[k] for k in u}
        size = norm(v)
        if float(size) <= 1e-12 * float(norm(mu)):
            return u
        v = {k: t / size for k, t in v.items()}
        mv = hvp(v)
        ritz = torch.stack([torch.stack([dot(u, mu), dot(u, mv)]),
                            torch.stack([dot(v, mu), dot(v, mv)])])
        values, vectors = torch.linalg.eigh(0.5 * (ritz + ritz.T))
        a, b = vectors[:, int(torch.argmax(values.abs()))]
        return {k: a * u[k] + b * v[k] for k in u}

    power_steps = 10
    g = torch.Generator(device="cpu").manual_seed(seed)
    best = 0.0
    for _ in range(restarts):
        u = {k: torch.randn(p.shape, generator=g, dtype=p.dtype).to(p.device)
             for k, p in params.items()}
        size = norm(u)
        u = {k: t / size for k, t in u.items()}
        previous = 0.0
        for _ in range(iterations):
            q = quadratic(u)
            value = float(torch.linalg.vector_norm(q))
            best = max(best, value)
            if 0.0 < value and abs(value - previous) <= rtol * value:
                break
            previous = value
            if value == 0.0 or not math.isfinite(value):
                # u is a null direction of every H_i: restart from c ∝ (1, …, 1).
                q = torch.ones_like(q)
            u = top_eigenvector(q / torch.linalg.vector_norm(q), u)
        best = max(best, float(torch.linalg.vector_norm(quadratic(u))))
    return best


def lazy_criterion(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *,
                   iterations: int = 10, restarts: int = 3, seed: int = 0) -> LazyCriterion:
    """The lazy-training criterion κ_h(w₀) of Chizat, Oyallon & Bach (2019, Sec. 2).

    For the empirical square loss, h(w) = f(X; w) ∈ R^n and y* = y:

        κ_h(w₀) = ‖h(w₀) − y‖ · ‖D²h(w₀)‖ / ‖Dh(w₀)‖²,

    with ‖Dh(w₀)‖² = λ_max(K), K = J Jᵀ the empirical tangent kernel on X (so ‖Dh‖ is the operator
    norm of the Jacobian), and ‖D²h(w₀)‖ the operator norm of the bilinear second derivative,
    estimated by :func:`second_derivative_norm`. κ ≪ 1 means gradient descent fits the data
    before the Jacobian changes much (book, chapter 3). For the scaled model α(f(w) − f(w₀))
    (:class:`ntkbook.LazyModel`) κ = ‖y‖ ‖D²h‖ / (α ‖Dh‖²) falls like 1/α.

    Args:
        model: scalar-output module evaluated at its current weights w₀.
        X: (n, d) training inputs. y: (n,) targets y*.
        iterations, restarts, seed: passed to :func:`second_derivative_norm`.

    Returns:
        :class:`LazyCriterion` with κ and its three factors.

    Example:
        κ of the scaled model α(f(w) − f(w₀)) falls like 1/α (f(w₀) = 0, so ‖h(w₀) − y‖ = ‖y‖):

        >>> import ntkbook
        >>> X = ntkbook.data.sphere(10, 3, seed=0)
        >>> y = torch.sin(3 * X[:, 0])
        >>> net = ntkbook.TwoLayerNet(3, 20, seed=0)
        >>> k1 = lazy_criterion(ntkbook.LazyModel(net, 1.0), X, y).kappa
        >>> k10 = lazy_criterion(ntkbook.LazyModel(net, 10.0), X, y).kappa
        >>> round(k1 / k10, 6)
        10.0

    Raises:
        TypeError, ValueError: bad inputs, or a model whose Jacobian vanishes on X.
    """
    X = as_matrix(X, "X")
    y = as_vector(y, "y", X.shape[0])
    check_seed(seed)
    params, _ = _split_parameters(model)
    first = next(iter(params.values()))
    X = X.to(dtype=first.dtype, device=first.device)
    y = y.to(dtype=first.dtype, device=first.device)
    with torch.no_grad():
        residual = float(torch.linalg.vector_norm(model(X).reshape(-1) - y))
    K = _scalar_kernel(model, X)
    lambda_max = float(torch.linalg.eigvalsh(K)[-1])
    if not lambda_max > 0.0:
        raise ValueError("the Jacobian of the model vanishes on X: κ is undefined")
    curvature = second_derivative_norm(model, X, iterations=iterations, restarts=restarts,
                                       seed=seed)
    return LazyCriterion(
        kappa=residual * curvature / lambda_max,
        residual_norm=residual,
        jacobian_norm=math.sqrt(lambda_max),
        second_derivative_norm=curvature,
    )
