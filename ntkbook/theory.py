"""The theorem-side numbers the book compares its experiments against, one section per paper.

* Lazy training (Chizat, Oyallon & Bach 2019; chapter 3). For the empirical least-squares problem
  h(w) = (f(x_1; w), …, f(x_n; w)) ∈ R^n with target y* = y, training is *lazy* when the model
  barely changes its linearization while it fits the data. Chizat et al. (Sec. 2) measure this at
  the initialization w₀ by κ_h(w₀) = ‖h(w₀) − y*‖ · ‖D²h(w₀)‖ / ‖Dh(w₀)‖²:
  :func:`lazy_criterion`, :func:`second_derivative_norm`.
* Gradient descent finds global minima (Du et al. 2019) and the fine-grained view (Arora et al.
  2019; chapter 4): the linear-rate bound, the width and step size the theorems ask for, the
  radius and flip probability of the proof, the split of one gradient step into I₁ and I₂, the
  deep limit K⁽ᴴ⁾, Arora et al.'s predicted loss curve and complexity yᵀ(H^∞)⁻¹y.
* Low-rank Jacobians (Oymak et al. 2019; chapter 5): the information/nuisance split of a
  Jacobian, the linearized residual, the meta-theorem's bound and the tolerance it needs.
* Influence in the over-parameterized regime (Zhang & Zhang 2022): the lower bound
  λ_min/(λ_min + λ) on the error rate of IHVP influence, :func:`ihvp_error_rate_lower_bound`.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, jvp

from ._checks import (
    as_matrix,
    as_vector,
    nonnegative_float,
    positive_float,
    positive_int,
    square,
)
from .empirical import empirical_ntk
from .kernels import layer_kernels
from .models import TwoLayerReLU


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


def _trainable(model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
    frozen = {k: p.detach() for k, p in model.named_parameters() if not p.requires_grad}
    frozen.update(dict(model.named_buffers()))
    if not params:
        raise ValueError(f"model {model!r} has no trainable parameters")
    return params, frozen


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
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    X = as_matrix(X, "X")
    params, frozen = _trainable(model)
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

    Raises:
        TypeError, ValueError: bad inputs, or a model whose Jacobian vanishes on X.
    """
    X = as_matrix(X, "X")
    y = as_vector(y, "y", X.shape[0])
    params, _ = _trainable(model)
    first = next(iter(params.values()))
    X = X.to(dtype=first.dtype, device=first.device)
    y = y.to(dtype=first.dtype, device=first.device)
    with torch.no_grad():
        residual = float(torch.linalg.vector_norm(model(X).reshape(-1) - y))
    K = empirical_ntk(model, X)
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


# =============================================================================================
# Du et al. (2019) and Arora et al. (2019): gradient descent finds global minima
# =============================================================================================
#
# The two-layer network f(x) = m^{-1/2} Σ_r a_r relu(w_rᵀx), a_r = ±1 fixed, w_r(0) ~ N(0, κ²I),
# trained on L = ½‖u − y‖² (Du, Zhai, Póczos & Singh, ICLR 2019; Arora, Du, Hu, Li & Wang,
# ICML 2019), and the deep version (Du, Lee, Li, Wang & Zhai, ICML 2019). The book's chapter 4
# derives every formula below.


@dataclass(frozen=True)
class ConvergenceRequirements:
    """The width and step size under which Du et al.'s two-layer theorem holds, as orders.

    The theorem states m = Ω(n⁶/(λ₀⁴δ³κ²)) and η = O(λ₀/n²) with unspecified absolute constants;
    the numbers here set those constants to 1, so only ratios between them are meaningful.

    Attributes:
        width: n⁶ / (λ₀⁴ δ³ κ²).
        lr: λ₀ / n².
        n, lambda_0, delta, kappa: the inputs.
    """

    width: float
    lr: float
    n: int
    lambda_0: float
    delta: float
    kappa: float

    def __repr__(self) -> str:
        return (f"ConvergenceRequirements(width~{self.width:.3g}, lr~{self.lr:.3g}; n={self.n}, "
                f"lambda_0={self.lambda_0:.4g}, delta={self.delta:g}, kappa={self.kappa:g})")


def du_two_layer_requirements(n: int, lambda_0: float, *, delta: float = 0.1,
                              kappa: float = 1.0) -> ConvergenceRequirements:
    """Width and step size of the two-layer convergence theorem, up to absolute constants.

    Du et al. (ICLR 2019, Sec. 4, the theorem for gradient descent, with κ = 1) and its
    restatement for an initialization scale κ by Arora et al. (ICML 2019, Sec. 3): if ‖x_i‖ = 1,
    |y_i| = O(1), λ₀ = λ_min(H^∞) > 0, m = Ω(n⁶/(λ₀⁴δ³κ²)) and η = O(λ₀/n²), then with
    probability ≥ 1 − δ, ‖y − u(k)‖² ≤ (1 − ηλ₀/2)^k ‖y − u(0)‖² for every k. Only the orders are
    known: the papers do not give the constants, and this function sets them to 1.

    Args:
        n: number of training points. lambda_0: λ_min(H^∞) > 0.
        delta: failure probability δ in (0, 1). kappa: initialization scale κ > 0.

    Returns:
        :class:`ConvergenceRequirements`.

    Raises:
        TypeError, ValueError: non-positive n, λ₀ or κ, or δ outside (0, 1).
    """
    n = positive_int(n, "n")
    lambda_0 = positive_float(lambda_0, "lambda_0")
    delta = positive_float(delta, "delta")
    if delta >= 1:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    kappa = positive_float(kappa, "kappa")
    return ConvergenceRequirements(
        width=n**6 / (lambda_0**4 * delta**3 * kappa**2),
        lr=lambda_0 / n**2,
        n=n, lambda_0=lambda_0, delta=delta, kappa=kappa,
    )


def du_linear_rate_bound(initial: float, lambda_0: float, lr: float, steps) -> np.ndarray:
    """The linear-rate bound (1 − ηλ₀/2)^k ‖y − u(0)‖² of Du et al.'s theorems.

    The conclusion of Du et al. (ICLR 2019, Sec. 4, the theorem for gradient descent, and the
    induction condition of its proof) and of the deep version (Du et al., ICML 2019, the theorem
    "Convergence rate of gradient descent for deep fully-connected neural networks", with
    λ₀ = λ_min(K⁽ᴴ⁾)).

    Args:
        initial: ‖y − u(0)‖² ≥ 0 (any initial value the bound should start from).
        lambda_0: λ₀ > 0. lr: η > 0 with ηλ₀ ≤ 2 (otherwise the factor is negative).
        steps: an integer k ≥ 0 or an array of them.

    Returns:
        An array of the bound at ``steps`` (0-d for a scalar).

    Raises:
        TypeError, ValueError: bad numbers, negative or non-integer steps, or ηλ₀ > 2.
    """
    initial = nonnegative_float(initial, "initial")
    lambda_0 = positive_float(lambda_0, "lambda_0")
    lr = positive_float(lr, "lr")
    if lr * lambda_0 > 2:
        raise ValueError(f"lr * lambda_0 = {lr * lambda_0:.4g} > 2: the rate 1 - lr*lambda_0/2 "
                         "would be negative")
    k = _step_array(steps)
    return initial * (1.0 - lr * lambda_0 / 2.0) ** k


def _step_array(steps) -> np.ndarray:
    k = np.asarray(steps.detach().cpu() if isinstance(steps, torch.Tensor) else steps)
    if k.dtype == bool or not np.issubdtype(k.dtype, np.number):
        raise TypeError(f"steps must be integers, got {steps!r}")
    if not np.all(np.isfinite(k)) or np.any(k < 0) or np.any(k != np.round(k)):
        raise ValueError(f"steps must be whole numbers >= 0, got {steps!r}")
    return k.astype(float)


def du_weight_radius(residual_norm: float, n: int, m: int, lambda_0: float) -> float:
    """R' = 4√n ‖y − u(0)‖ / (√m λ₀): how far any neuron can move while the rate holds.

    Du et al. (ICLR 2019, Sec. 4, the corollary to the induction condition): if
    ‖y − u(k')‖² ≤ (1 − ηλ₀/2)^{k'} ‖y − u(0)‖² for k' ≤ k, then
    max_r ‖w_r(k+1) − w_r(0)‖ ≤ R'. It follows from ‖∂L/∂w_r‖ ≤ √n‖y − u‖/√m and the geometric
    series Σ_k (1 − ηλ₀/2)^{k/2} ≤ 4/(ηλ₀); it does not depend on η or κ.

    Args:
        residual_norm: ‖y − u(0)‖₂ ≥ 0. n: training points. m: width. lambda_0: λ₀ > 0.

    Raises:
        TypeError, ValueError: bad numbers.
    """
    residual_norm = nonnegative_float(residual_norm, "residual_norm")
    n, m = positive_int(n, "n"), positive_int(m, "m")
    lambda_0 = positive_float(lambda_0, "lambda_0")
    return 4.0 * math.sqrt(n) * residual_norm / (math.sqrt(m) * lambda_0)


def flip_probability(radius: float, kappa: float = 1.0) -> float:
    """P(|w_r(0)ᵀx| < R) = erf(R / (κ√2)) for w_r(0) ~ N(0, κ²I) and a unit input x.

    A neuron's activation on x can differ from its initial one only if w_r moved by more than
    |w_r(0)ᵀx|, so this is the chance that a neuron which moved at most R *can* flip on x
    (Du et al., ICLR 2019, Sec. 4, the events A_ir; Arora et al. 2019). It is at most
    √(2/π)·R/κ, the bound the papers use.

    Args:
        radius: R ≥ 0. kappa: κ > 0.

    Raises:
        TypeError, ValueError: bad numbers.
    """
    radius = nonnegative_float(radius, "radius")
    kappa = positive_float(kappa, "kappa")
    return math.erf(radius / (kappa * math.sqrt(2.0)))


def _symmetric_psd(K: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    K = square(K, name)
    scale = float(K.abs().max())
    if not torch.allclose(K, K.T, rtol=1e-6, atol=1e-10 * max(scale, 1e-300)):
        raise ValueError(f"{name} must be symmetric")
    lam, V = torch.linalg.eigh(0.5 * (K + K.T))
    if float(lam[0]) < -1e-10 * max(scale, 1e-300) * K.shape[0]:
        raise ValueError(f"{name} must be positive semi-definite; least eigenvalue "
                         f"{float(lam[0]):.3g}")
    return lam.clamp_min(0.0), V


def max_stable_lr(K: torch.Tensor) -> float:
    """2/λ_max(K): above it the kernel recursion r(k+1) = (I − ηK) r(k) diverges.

    The residual component along the top eigenvector is multiplied by 1 − ηλ_max each step, whose
    modulus exceeds 1 exactly when η > 2/λ_max. Compare with the O(λ₀/n²) of Du et al.

    Args:
        K: (n, n) symmetric positive semi-definite kernel, not zero.

    Raises:
        TypeError, ValueError: not a symmetric PSD matrix, or K = 0.
    """
    lam, _ = _symmetric_psd(K, "K")
    if not float(lam[-1]) > 0:
        raise ValueError("K is zero: every step size is stable")
    return 2.0 / float(lam[-1])


@dataclass(frozen=True)
class SpectralProjections:
    """The labels in the eigenbasis of a kernel (Arora et al. 2019, Sec. 4).

    Attributes:
        eigenvalues: λ₁ ≥ … ≥ λ_n, a numpy array.
        projections: v_iᵀy for the matching unit eigenvectors (the sign of each v_i is arbitrary,
            so only |v_iᵀy| and (v_iᵀy)² have meaning).
    """

    eigenvalues: np.ndarray
    projections: np.ndarray

    def top_fraction(self, count: int) -> float:
        """Σ_{i ≤ count} (v_iᵀy)² / ‖y‖²: the share of the labels in the top eigenvectors."""
        count = positive_int(count, "count")
        p2 = self.projections**2
        return float(p2[:count].sum() / p2.sum())

    def __repr__(self) -> str:
        return (f"SpectralProjections(n={len(self.eigenvalues)}, "
                f"lambda_max={self.eigenvalues[0]:.4g}, lambda_min={self.eigenvalues[-1]:.4g}, "
                f"top-10 share={self.top_fraction(10):.3f})")


def label_projections(H: torch.Tensor, y: torch.Tensor) -> SpectralProjections:
    """Eigenvalues of H in decreasing order and the projections v_iᵀy of the labels on them.

    Arora et al. (ICML 2019, Sec. 4) explain why true labels are learned faster than random ones
    by where ‖y‖² sits in this spectrum.

    Args:
        H: (n, n) symmetric PSD kernel (H^∞ in the paper). y: (n,) labels.

    Raises:
        TypeError, ValueError: bad shapes or a matrix that is not symmetric PSD.
    """
    lam, V = _symmetric_psd(H, "H")
    y = as_vector(y, "y", H.shape[0]).to(H.dtype)
    proj = V.T @ y
    return SpectralProjections(lam.flip(0).cpu().numpy(), proj.flip(0).cpu().numpy())


def arora_loss_curve(H: torch.Tensor, y: torch.Tensor, *, lr: float, steps,
                     u0: torch.Tensor | None = None) -> np.ndarray:
    """Arora et al.'s prediction ‖y − u(k)‖² ≈ Σ_i (1 − ηλ_i)^{2k} (v_iᵀ(y − u(0)))².

    Arora et al. (ICML 2019, Sec. 4, the theorem on the trajectory) state
    ‖y − u(k)‖₂ = √(Σ_i (1 − ηλ_i)^{2k}(v_iᵀy)²) ± ε for a small initialization (u(0) ≈ 0) and a
    wide network, with (λ_i, v_i) the eigenpairs of H^∞. It is the exact squared residual of the
    kernel recursion u(k+1) = u(k) − ηH(u(k) − y); ``u0`` lets the recursion start from the
    network's actual initial output.

    Args:
        H: (n, n) symmetric PSD kernel. y: (n,) targets.
        lr: η > 0. steps: an integer k ≥ 0 or an array of them.
        u0: (n,) initial outputs u(0); ``None`` for 0, as in the theorem.

    Returns:
        The predicted ‖y − u(k)‖² (the sum of squares, not ½ of it) at ``steps``.

    Raises:
        TypeError, ValueError: bad shapes, a matrix that is not symmetric PSD, bad steps.
    """
    lr = positive_float(lr, "lr")
    lam, V = _symmetric_psd(H, "H")
    n = H.shape[0]
    r0 = as_vector(y, "y", n).to(H.dtype)
    if u0 is not None:
        r0 = r0 - as_vector(u0, "u0", n).to(H.dtype)
    p2 = ((V.T @ r0) ** 2).cpu().numpy()
    k = _step_array(steps)
    decay = (1.0 - lr * lam.cpu().numpy())[None, :] ** (2.0 * k.reshape(-1)[:, None])
    return (decay @ p2).reshape(k.shape)


def arora_complexity(H: torch.Tensor, y: torch.Tensor) -> float:
    """yᵀ(H^∞)⁻¹y, the data-dependent complexity of Arora et al. (ICML 2019, Sec. 5).

    It bounds the distance the weights travel, ‖W(k) − W(0)‖_F ≲ √(yᵀ(H^∞)⁻¹y), and enters their
    generalization bound through √(2yᵀ(H^∞)⁻¹y/n) (both in their Sec. 5).
    Computed by a Cholesky solve.

    Args:
        H: (n, n) symmetric positive definite kernel. y: (n,) labels.

    Raises:
        TypeError, ValueError: bad shapes, H not symmetric, or H singular (no inverse).
    """
    H = square(H, "H")
    y = as_vector(y, "y", H.shape[0]).to(H.dtype)
    if not torch.allclose(H, H.T, rtol=1e-6, atol=1e-10 * float(H.abs().max())):
        raise ValueError("H must be symmetric")
    chol, info = torch.linalg.cholesky_ex(H)
    d = chol.diagonal()
    if int(info) != 0 or float((d.min() / d.max()) ** 2) < 10 * torch.finfo(H.dtype).eps:
        raise ValueError("H is singular or not positive definite: y^T H^-1 y is undefined")
    return float(y @ torch.cholesky_solve(y[:, None], chol)[:, 0])


def du_deep_gram_limit(X: torch.Tensor, depth: int, *, activation: str = "relu",
                       c_sigma: float | None = None) -> torch.Tensor:
    """K⁽ᴴ⁾, the limit of the last hidden layer's Gram G⁽ᴴ⁾ of a deep fully connected network.

    Du et al. (ICML 2019, the recursion that defines K⁽ʰ⁾ for fully connected networks): K⁽⁰⁾ = XXᵀ,
    K⁽ʰ⁾ = c_σ E[σ(u)σ(v)] over (u, v) ~ N(0, A⁽ʰ⁾) for h < H, where A⁽ʰ⁾ is the 2 × 2
    restriction of K⁽ʰ⁻¹⁾, and K⁽ᴴ⁾ = c_σ K⁽ᴴ⁻¹⁾ ⊙ E[σ'(u)σ'(v)] over (u, v) ~ N(0, A⁽ᴴ⁾): the
    derivative is taken at the layer-H pre-activations, whose covariance is K⁽ᴴ⁻¹⁾ (the recursion
    is sometimes printed with A⁽ᴴ⁻¹⁾ there; G⁽ᴴ⁾(0) does not converge to that matrix — book,
    chapter 4). In the notation of :func:`ntkbook.layer_kernels` this is Σ⁽ᴴ⁻¹⁾ ⊙ Σ̇⁽ᴴ⁾. Their
    theorem's λ₀ is λ_min(K⁽ᴴ⁾).

    Args:
        X: (n, d) inputs. depth: number of hidden layers H ≥ 1.
        activation, c_sigma: as :func:`ntkbook.layer_kernels`.

    Returns:
        (n, n) tensor in the dtype and device of X.
    """
    depth = positive_int(depth, "depth")
    kernels = layer_kernels(X, depth=depth, activation=activation, c_sigma=c_sigma)
    return kernels.ntk_per_layer[depth - 1]


@dataclass(frozen=True)
class UpdateDecomposition:
    """One gradient-descent step split as in Du et al.'s proof.

    u(k+1) − u(k) = I₁ + I₂ with I₁ = −ηK(k)(u(k) − y) the first-order (kernel) term and I₂ the
    rest, and

        ‖y − u(k+1)‖² = ‖y − u(k)‖² − 2(y − u(k))ᵀI₁ − 2(y − u(k))ᵀI₂ + ‖u(k+1) − u(k)‖².

    Attributes:
        I1, I2: (n,) tensors.
        residual: y − u(k). residual_next: y − u(k+1).
        flipped: (n,) booleans, True where some neuron's ReLU pattern on x_i changes during the
            step (two-layer ReLU networks only, else ``None``). For ReLU, I₂ᵢ = 0 where False.
        first_order, second_order, step_size_term: −2rᵀI₁, −2rᵀI₂ and ‖u(k+1) − u(k)‖², each
            divided by ‖r‖² = ‖y − u(k)‖².
    """

    I1: torch.Tensor
    I2: torch.Tensor
    residual: torch.Tensor
    residual_next: torch.Tensor
    flipped: torch.Tensor | None
    first_order: float
    second_order: float
    step_size_term: float

    def __repr__(self) -> str:
        flips = "" if self.flipped is None else f", flipped={int(self.flipped.sum())}"
        return (f"UpdateDecomposition(first_order={self.first_order:.4g}, "
                f"second_order={self.second_order:.4g}, "
                f"step_size_term={self.step_size_term:.4g}{flips})")


def du_update_decomposition(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *,
                            lr: float) -> UpdateDecomposition:
    """Split one gradient-descent step of ``model`` into the terms of Du et al.'s proof.

    Du et al. (ICLR 2019, Sec. 4; ICML 2019, the proof for fully connected networks): the step
    w ← w − η∇L(w), L = ½‖u − y‖², changes the outputs by I₁ + I₂, where
    I₁ = −ηK(k)(u(k) − y) with K(k) the tangent kernel at the current weights (H(k) for the
    two-layer network) and I₂ the remainder, of second order in η. The model is not changed.

    Args:
        model: scalar-output module at w(k). X: (n, d). y: (n,) targets. lr: η > 0.

    Returns:
        :class:`UpdateDecomposition`.

    Raises:
        TypeError, ValueError: bad inputs, or y − u(k) = 0.
    """
    X = as_matrix(X, "X")
    y = as_vector(y, "y", X.shape[0])
    lr = positive_float(lr, "lr")
    params, _ = _trainable(model)
    first = next(iter(params.values()))
    X, y = X.to(dtype=first.dtype, device=first.device), y.to(dtype=first.dtype,
                                                               device=first.device)
    stepped = copy.deepcopy(model)
    trainable = [p for p in stepped.parameters() if p.requires_grad]
    u = stepped(X)
    grads = torch.autograd.grad(0.5 * ((u - y) ** 2).sum(), trainable)
    u = u.detach()
    pattern = stepped.activation_pattern(X) if isinstance(stepped, TwoLayerReLU) else None
    with torch.no_grad():
        for p, g in zip(trainable, grads):
            p.sub_(lr * g)
        u_next = stepped(X)
    flipped = None
    if pattern is not None:
        flipped = (stepped.activation_pattern(X) != pattern).any(dim=1)
    K = empirical_ntk(model, X)
    residual = y - u
    size = float(residual @ residual)
    if size == 0.0:
        raise ValueError("y - u(k) = 0: the step does nothing to decompose")
    I1 = lr * (K @ residual)
    delta = u_next - u
    I2 = delta - I1
    return UpdateDecomposition(
        I1=I1, I2=I2, residual=residual, residual_next=y - u_next, flipped=flipped,
        first_order=float(-2 * residual @ I1) / size,
        second_order=float(-2 * residual @ I2) / size,
        step_size_term=float(delta @ delta) / size,
    )


# =============================================================================================
# Oymak, Fabian, Li & Soltanolkotabi (2019): low-rank Jacobians, information and nuisance spaces
# =============================================================================================
#
# "Generalization guarantees for neural networks via harnessing the low-rank structure of the
# Jacobian" (arXiv:1906.05392). Notation of the paper (and of the book's chapter 5): a model
# f : R^p → R^{nK} with Jacobian 𝒥(θ) ∈ R^{nK×p}, the residual r(θ) = f(θ) − y, gradient descent
# θ_{τ+1} = θ_τ − η𝒥(θ_τ)ᵀr_τ, and a reference Jacobian J = Σ_s λ_s u_s v_sᵀ (its SVD,
# λ₁ ≥ λ₂ ≥ … ≥ λ_{nK} ≥ 0). JJᵀ is the empirical tangent kernel when J = 𝒥(θ₀).


@dataclass(frozen=True)
class InformationSplit:
    """The information and nuisance spaces of a Jacobian for a spectrum cutoff α.

    Oymak et al. (2019, the definition of the information and nuisance spaces): with
    J = Σ_s λ_s u_s v_sᵀ and 0 < α < λ₁, let c be the number of singular values above α;
    I = span{u_1, …, u_c} and N = span{u_{c+1}, …, u_{nK}}, so R^{nK} = I ⊕ N.

    Attributes:
        singular_values: λ₁ ≥ … ≥ λ_{nK} ≥ 0 (length nK; zero-padded when p < nK).
        vectors: (nK, nK) orthogonal matrix U whose column s is u_s.
        cutoff: α.
        rank: c, the dimension of the information space.
    """

    singular_values: torch.Tensor
    vectors: torch.Tensor
    cutoff: float
    rank: int

    def _residuals(self, r: torch.Tensor, name: str) -> torch.Tensor:
        if not isinstance(r, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(r).__name__}")
        n = self.vectors.shape[0]
        if r.ndim not in (1, 2) or r.shape[-1] != n:
            raise ValueError(f"{name} must have shape ({n},) or (batch, {n}), "
                             f"got {tuple(r.shape)}")
        if not r.is_floating_point():
            raise TypeError(f"{name} must have a floating dtype, got {r.dtype}")
        if not torch.isfinite(r).all():
            raise ValueError(f"{name} contains NaN or infinite entries")
        return r.to(dtype=self.vectors.dtype, device=self.vectors.device)

    def coefficients(self, r: torch.Tensor) -> torch.Tensor:
        """a = Uᵀr, the coordinates of r (shape (nK,) or (batch, nK)) in the basis u_s."""
        return self._residuals(r, "r") @ self.vectors

    def information(self, r: torch.Tensor) -> torch.Tensor:
        """Π_I(r) = Σ_{s ≤ c} (u_sᵀr) u_s, for r of shape (nK,) or (batch, nK)."""
        U_I = self.vectors[:, : self.rank]
        return (self._residuals(r, "r") @ U_I) @ U_I.T

    def nuisance(self, r: torch.Tensor) -> torch.Tensor:
        """Π_N(r) = r − Π_I(r) = Σ_{s > c} (u_sᵀr) u_s."""
        U_N = self.vectors[:, self.rank:]
        return (self._residuals(r, "r") @ U_N) @ U_N.T

    def norms(self, r: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """(‖Π_I(r)‖, ‖Π_N(r)‖) for r of shape (nK,) or (batch, nK), as numpy arrays."""
        a = self.coefficients(r)
        info = torch.linalg.vector_norm(a[..., : self.rank], dim=-1)
        nuis = torch.linalg.vector_norm(a[..., self.rank:], dim=-1)
        return info.cpu().numpy(), nuis.cpu().numpy()

    def pseudo_inverse_norm(self, r: torch.Tensor) -> float:
        """‖J_I^† r‖ = √(Σ_{s ≤ c} (u_sᵀr)²/λ_s²), J_I = Σ_{s ≤ c} λ_s u_s v_sᵀ the truncated
        Jacobian: the distance the linearized problem travels to fit Π_I(r) (Oymak et al. 2019,
        the radius R of the meta-theorem)."""
        a = self.coefficients(as_vector(r, "r", self.vectors.shape[0]))
        lam = self.singular_values[: self.rank]
        return float(torch.linalg.vector_norm(a[: self.rank] / lam))

    def __repr__(self) -> str:
        lam = self.singular_values
        return (f"InformationSplit(nK={len(lam)}, cutoff={self.cutoff:.4g}, rank={self.rank}, "
                f"lambda_1={float(lam[0]):.4g}, lambda_c={float(lam[self.rank - 1]):.4g})")


def information_split(jacobian: torch.Tensor | None = None, *, kernel: torch.Tensor | None = None,
                      cutoff: float) -> InformationSplit:
    """The information space I and the nuisance space N of a Jacobian for the cutoff α.

    Oymak et al. (2019, the information and nuisance spaces): I is spanned by the left singular
    vectors of J whose singular values exceed α, N by the others. Give either the Jacobian
    J ∈ R^{nK×p} (split by its SVD) or the kernel JJᵀ ∈ R^{nK×nK} (split by its
    eigendecomposition: the eigenvalues of JJᵀ are λ_s², its eigenvectors the u_s). For a
    network, JJᵀ at θ₀ is the empirical tangent kernel, so
    ``information_split(kernel=ntkbook.empirical_ntk(net, X), cutoff=alpha)`` never forms J.

    Args:
        jacobian: (nK, p) matrix J, or ``None``.
        kernel: (nK, nK) symmetric positive semi-definite JJᵀ, or ``None``.
        cutoff: α, with 0 < α < λ₁ (a singular value, not an eigenvalue of JJᵀ).

    Returns:
        :class:`InformationSplit`.

    Raises:
        TypeError, ValueError: neither or both of ``jacobian`` and ``kernel``; a kernel that is not
            square, symmetric and positive semi-definite; a cutoff outside (0, λ₁).
    """
    if (jacobian is None) == (kernel is None):
        raise TypeError("give exactly one of jacobian (J) and kernel (J Jᵀ)")
    cutoff = positive_float(cutoff, "cutoff")
    if jacobian is not None:
        J = as_matrix(jacobian, "jacobian")
        U, S, _ = torch.linalg.svd(J, full_matrices=True)
        lam = torch.zeros(J.shape[0], dtype=J.dtype, device=J.device)
        lam[: S.shape[0]] = S
    else:
        K = square(kernel, "kernel")
        scale = max(float(K.abs().max()), torch.finfo(K.dtype).tiny)
        if not torch.allclose(K, K.T, rtol=1e-6, atol=1e-10 * scale):
            raise ValueError("kernel must be symmetric")
        eig, V = torch.linalg.eigh(0.5 * (K + K.T))
        if float(eig[0]) < -1e-10 * scale * K.shape[0]:
            raise ValueError(f"kernel must be positive semi-definite; least eigenvalue "
                             f"{float(eig[0]):.3g}")
        lam = eig.clamp_min(0.0).sqrt().flip(0)
        U = V.flip(1)
    lambda_1 = float(lam[0])
    if not cutoff < lambda_1:
        raise ValueError(f"cutoff must lie in (0, lambda_1) = (0, {lambda_1:.4g}), got {cutoff}")
    rank = int((lam > cutoff).sum())
    return InformationSplit(lam, U, cutoff, rank)


def _lowrank_steps(steps) -> tuple[np.ndarray, bool]:
    array = np.asarray(steps)
    if array.ndim > 1 or array.size == 0:
        raise ValueError(f"steps must be an integer or a 1-D sequence of them, got {steps!r}")
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"steps must be integers, got {steps!r}")
    if not (np.all(np.isfinite(array)) and np.all(array == np.round(array)) and np.all(array >= 0)):
        raise ValueError(f"steps must be whole numbers >= 0, got {steps!r}")
    return array.reshape(-1).astype(np.int64), array.ndim == 0


def linearized_residual(split: InformationSplit, r0: torch.Tensor, *, lr: float,
                        steps) -> torch.Tensor:
    """r̃_τ = Σ_s (1 − ηλ_s²)^τ a_s u_s with a = Uᵀr₀: the residual of the linearized problem.

    Gradient descent on ½‖f(θ₀) + J(θ − θ₀) − y‖² with step η moves the residual by
    r̃_{τ+1} = (I − ηJJᵀ) r̃_τ; in the basis u_s this is a factor 1 − ηλ_s² per step (Oymak et al.
    2019, the linearized residual in the proof of the meta-theorem). Directions with λ_s = 0
    never move.

    Args:
        split: :func:`information_split` of the reference Jacobian J (only its SVD is used).
        r0: (nK,) initial residual f(θ₀) − y.
        lr: step size η > 0.
        steps: τ ≥ 0, an integer or a 1-D sequence of integers.

    Returns:
        (nK,) for an integer τ, (len(steps), nK) for a sequence.

    Raises:
        TypeError, ValueError: bad shapes, η ≤ 0, steps that are not whole numbers ≥ 0.
    """
    lr = positive_float(lr, "lr")
    taus, scalar = _lowrank_steps(steps)
    a = split.coefficients(as_vector(r0, "r0", split.vectors.shape[0]))
    factor = 1.0 - lr * split.singular_values**2
    tau = torch.as_tensor(taus, dtype=factor.dtype, device=factor.device)
    decay = factor[None, :] ** tau[:, None]
    out = (decay * a[None, :]) @ split.vectors.T
    return out[0] if scalar else out


def linearized_residual_bound(split: InformationSplit, r0: torch.Tensor, *, lr: float,
                              steps) -> np.ndarray:
    """(1 − ηα²)^τ‖Π_I(r₀)‖ + ‖Π_N(r₀)‖, a bound on ‖r̃_τ‖ when η ≤ 1/λ₁².

    Each information coefficient shrinks by |1 − ηλ_s²| ≤ 1 − ηα² per step, each nuisance one
    by at most 1 (Oymak et al. 2019, the linear-residual bound used in the meta-theorem).

    Args:
        split, r0, lr, steps: as :func:`linearized_residual`.

    Returns:
        The bound at each τ (a numpy array of the shape of ``steps``).

    Raises:
        ValueError: η > 1/λ₁² (the bound needs every factor 1 − ηλ_s² in [0, 1]); the rest as
            :func:`linearized_residual`.
    """
    lr = positive_float(lr, "lr")
    lambda_1 = float(split.singular_values[0])
    if lr * lambda_1**2 > 1.0 + 1e-12:
        raise ValueError(f"lr must be <= 1/lambda_1^2 = {1 / lambda_1**2:.4g}, got {lr}")
    taus, scalar = _lowrank_steps(steps)
    info, nuis = split.norms(as_vector(r0, "r0", split.vectors.shape[0]))
    out = (1.0 - lr * split.cutoff**2) ** taus.astype(float) * float(info) + float(nuis)
    return out[0] if scalar else out


@dataclass(frozen=True)
class LowRankBound:
    """The conclusions of Oymak et al.'s meta-theorem for given (Γ, δ, β, η).

    Attributes:
        bound: e^{−Γ}‖Π_I(r₀)‖ + ‖Π_N(r₀)‖ + (δα/β)‖r₀‖, the bound on ‖r_T‖.
        information_term: e^{−Γ}‖Π_I(r₀)‖.
        nuisance_term: ‖Π_N(r₀)‖.
        deviation_term: (δα/β)‖r₀‖.
        residual_gap: (3/5)(δα/β)‖r₀‖, the bound on ‖r_τ − r̃_τ‖ for τ ≤ T.
        half_radius: R/2 = ‖J_I^†r₀‖ + (Γ/α)‖Π_N(r₀)‖ + δ(Γ/α)‖r₀‖, the bound on ‖θ_τ − θ₀‖.
        stopping_time: T = Γ/(ηα²) (a real number; the theorem reads it as a step count).
    """

    bound: float
    information_term: float
    nuisance_term: float
    deviation_term: float
    residual_gap: float
    half_radius: float
    stopping_time: float

    def __repr__(self) -> str:
        return (f"LowRankBound(bound={self.bound:.4g} = {self.information_term:.4g} + "
                f"{self.nuisance_term:.4g} + {self.deviation_term:.4g}, "
                f"residual_gap={self.residual_gap:.4g}, half_radius={self.half_radius:.4g}, "
                f"stopping_time={self.stopping_time:.4g})")


def meta_theorem_bound(split: InformationSplit, r0: torch.Tensor, *, lr: float, gamma: float,
                       delta: float, beta: float) -> LowRankBound:
    """The final-residual bound of Oymak et al.'s meta-theorem and its companions.

    Oymak et al. (2019, the meta-theorem on low-rank Jacobians; its proof rests on their
    Lemmas 6.7–6.8, the one-step perturbation and growth lemmas): let J be an (ε₀, β)
    reference Jacobian at θ₀, split by the cutoff α into I and N; let the model's Jacobian
    obey ‖𝒥(θ)‖ ≤ β everywhere and ‖𝒥(θ) − 𝒥(θ₀)‖ ≤ ε/2 in the ball of radius R around θ₀,
    with 0 < δ ≤ 1, Γ ≥ 1, ε ≤ δα³/(5Γβ²), ε₀ ≤ min(δα, √(δα³/(Γβ)))/5 and η ≤ 1/β².
    Then for τ ≤ T = Γ/(ηα²):
    ‖r_τ − r̃_τ‖ ≤ (3/5)(δα/β)‖r₀‖, ‖θ_τ − θ₀‖ ≤ R/2, and at τ = T

        ‖r_T‖ ≤ e^{−Γ}‖Π_I(r₀)‖ + ‖Π_N(r₀)‖ + (δα/β)‖r₀‖.

    This function evaluates the right-hand sides; whether the hypotheses hold is a separate
    question (:func:`meta_theorem_delta` gives the smallest δ they allow for measured ε, ε₀).
    On a real run the theorem's β, ε are suprema over all θ (or the ball) and cannot be computed;
    the book estimates β by max ‖𝒥(θ_τ)‖ over the trajectory and ε by 2 max ‖𝒥(θ_τ) − 𝒥(θ₀)‖
    (:func:`jacobian_distance`), both lower estimates of the theorem's quantities.

    Args:
        split: :func:`information_split` of the reference Jacobian J with cutoff α.
        r0: (nK,) initial residual f(θ₀) − y.
        lr: η, with 0 < η ≤ 1/β².
        gamma: Γ ≥ 1. delta: 0 < δ ≤ 1.
        beta: β ≥ ‖J‖ = λ₁.

    Returns:
        :class:`LowRankBound`.

    Raises:
        TypeError, ValueError: parameters outside the theorem's ranges.
    """
    lr = positive_float(lr, "lr")
    gamma = positive_float(gamma, "gamma")
    delta = positive_float(delta, "delta")
    beta = positive_float(beta, "beta")
    if gamma < 1.0:
        raise ValueError(f"gamma must be >= 1, got {gamma}")
    if delta > 1.0:
        raise ValueError(f"delta must be in (0, 1], got {delta}")
    lambda_1 = float(split.singular_values[0])
    if beta < lambda_1 * (1 - 1e-12):
        raise ValueError(f"beta must be >= ||J|| = {lambda_1:.4g}, got {beta}")
    if lr * beta**2 > 1.0 + 1e-12:
        raise ValueError(f"lr must be <= 1/beta^2 = {1 / beta**2:.4g}, got {lr}")
    r0 = as_vector(r0, "r0", split.vectors.shape[0])
    info, nuis = (float(v) for v in split.norms(r0))
    total = float(torch.linalg.vector_norm(r0))
    alpha = split.cutoff
    information_term = math.exp(-gamma) * info
    deviation_term = delta * alpha / beta * total
    return LowRankBound(
        bound=information_term + nuis + deviation_term,
        information_term=information_term,
        nuisance_term=nuis,
        deviation_term=deviation_term,
        residual_gap=0.6 * deviation_term,
        half_radius=(split.pseudo_inverse_norm(r0) + gamma / alpha * nuis
                     + delta * gamma / alpha * total),
        stopping_time=gamma / (lr * alpha**2),
    )


def meta_theorem_delta(*, epsilon: float, epsilon0: float, alpha: float, beta: float,
                       gamma: float) -> float:
    """The smallest tolerance δ for which the meta-theorem's perturbation hypotheses hold.

    Oymak et al. (2019, the meta-theorem) ask ε ≤ δα³/(5Γβ²) and ε₀ ≤ min(δα, √(δα³/(Γβ)))/5,
    that is δ ≥ 5Γβ²ε/α³, δ ≥ 5ε₀/α and δ ≥ 25Γβε₀²/α³. The theorem applies (for the other
    hypotheses) only if this δ is ≤ 1; the function returns it whatever its size, so that a
    chapter can say by how much a real network misses the hypothesis.

    Args:
        epsilon: ε ≥ 0, twice the bound on ‖𝒥(θ) − 𝒥(θ₀)‖ in the ball of radius R.
        epsilon0: ε₀ ≥ 0, the distance of the reference Jacobian from 𝒥(θ₀) (0 when J = 𝒥(θ₀)).
        alpha: the cutoff α > 0. beta: the spectrum bound β > 0. gamma: Γ ≥ 1.

    Returns:
        max(5Γβ²ε/α³, 5ε₀/α, 25Γβε₀²/α³).

    Raises:
        TypeError, ValueError: parameters outside these ranges.
    """
    epsilon = nonnegative_float(epsilon, "epsilon")
    epsilon0 = nonnegative_float(epsilon0, "epsilon0")
    alpha = positive_float(alpha, "alpha")
    beta = positive_float(beta, "beta")
    gamma = positive_float(gamma, "gamma")
    if gamma < 1.0:
        raise ValueError(f"gamma must be >= 1, got {gamma}")
    return max(5 * gamma * beta**2 * epsilon / alpha**3, 5 * epsilon0 / alpha,
               25 * gamma * beta * epsilon0**2 / alpha**3)


def jacobian_distance(model: nn.Module, reference: nn.Module, X: torch.Tensor) -> float:
    """‖𝒥(θ) − 𝒥(θ₀)‖, the spectral norm of the change of the Jacobian on the inputs X.

    ``model`` holds θ and ``reference`` holds θ₀ (same architecture). For
    :class:`~ntkbook.TwoLayerReLU` with the same output signs a, the rows of the difference are
    (a_r/√m)(1{w_rᵀx_i > 0} − 1{w_r(0)ᵀx_i > 0}) x_i, so with D = S − S₀ the change of the
    activation patterns, (𝒥 − 𝒥₀)(𝒥 − 𝒥₀)ᵀ = (XXᵀ) ⊙ (DDᵀ)/m and no Jacobian is formed. Other
    models use their explicit per-example Jacobians (``torch.func``). This is what Oymak et al.'s
    bounded-Jacobian-perturbation assumption (2019) controls.

    Args:
        model, reference: scalar-output modules with the same trainable parameter shapes.
        X: (n, d) inputs.

    Returns:
        The spectral norm (a float ≥ 0).

    Raises:
        TypeError, ValueError: bad inputs or models whose parameters do not match.
    """
    from .empirical import jacobian

    X = as_matrix(X, "X")
    if isinstance(model, TwoLayerReLU) and isinstance(reference, TwoLayerReLU):
        if model.W.shape != reference.W.shape or not torch.equal(model.a, reference.a):
            raise ValueError("model and reference must share the width, d and output signs a")
        X = X.to(dtype=model.W.dtype, device=model.W.device)
        with torch.no_grad():
            D = (model.activation_pattern(X).to(X.dtype)
                 - reference.activation_pattern(X).to(X.dtype))
            gram = (X @ X.T) * (D @ D.T) / model.m
        return math.sqrt(max(float(torch.linalg.eigvalsh(gram)[-1]), 0.0))
    shapes = [p.shape for p in model.parameters() if p.requires_grad]
    if shapes != [p.shape for p in reference.parameters() if p.requires_grad]:
        raise ValueError("model and reference must have the same trainable parameter shapes")
    J = torch.cat([t.reshape(X.shape[0], -1) for t in jacobian(model, X).values()], dim=1)
    J0 = torch.cat([t.reshape(X.shape[0], -1) for t in jacobian(reference, X).values()], dim=1)
    return float(torch.linalg.matrix_norm(J - J0, ord=2))


# =============================================================================================
# Zhang & Zhang (2022): how far the IHVP influence can be from the exact one
# =============================================================================================


def ihvp_error_rate_lower_bound(K_train: torch.Tensor, ridge: float) -> float:
    """λ_min / (λ_min + λ): Zhang & Zhang's lower bound on the IHVP error rate (Theorem 3, eq. 16).

    In the NTK regime the IHVP estimate Î (eq. 13) scales the leading term of the exact
    leave-one-out influence I (eq. 14) by λG_ii, G = (K + λI)⁻¹, and λG_ii ≤ λ/(λ_min + λ); hence
    |I − Î| ≥ λ_min/(λ_min + λ)·|I| − ½α(x_i, x_t)²(f⁽⁻ⁱ⁾(x_i) − y_i)² for every pair. The rate
    tends to 1 (the estimate is useless) as λ → 0 and to 0 as λ → ∞;
    :func:`ntkbook.influence.ihvp_decomposition` evaluates both sides pair by pair.

    Args:
        K_train: (n, n) symmetric positive semi-definite kernel on the training set.
        ridge: λ > 0.

    Returns:
        λ_min(K_train) / (λ_min(K_train) + λ), in [0, 1).

    Raises:
        ValueError: a non-square, non-symmetric or indefinite K_train, or ridge ≤ 0.
    """
    K_train = square(K_train, "K_train")
    ridge = positive_float(ridge, "ridge")
    if not torch.allclose(K_train, K_train.T, rtol=1e-6, atol=1e-8 * float(K_train.abs().max())):
        raise ValueError("K_train must be symmetric")
    eigenvalues = torch.linalg.eigvalsh(K_train)
    if float(eigenvalues[0]) < -1e-10 * float(eigenvalues.abs().max()):
        raise ValueError("K_train must be positive semi-definite; its least eigenvalue is "
                         f"{float(eigenvalues[0]):.3g}")
    lambda_min = max(float(eigenvalues[0]), 0.0)
    return lambda_min / (lambda_min + ridge)
