"""Low-rank Jacobians (Oymak, Fabian, Li & Soltanolkotabi 2019; chapter 5).

"Generalization guarantees for neural networks via harnessing the low-rank structure of the
Jacobian" (arXiv:1906.05392): the information/nuisance split of a Jacobian, the linearized
residual, the meta-theorem's bound and the tolerance it needs. Notation of the paper (and of the
book's chapter 5): a model f : R^p → R^{nK} with Jacobian 𝒥(θ) ∈ R^{nK×p}, the residual
r(θ) = f(θ) − y, gradient descent θ_{τ+1} = θ_τ − η𝒥(θ_τ)ᵀr_τ, and a reference Jacobian
J = Σ_s λ_s u_s v_sᵀ (its SVD, λ₁ ≥ λ₂ ≥ … ≥ λ_{nK} ≥ 0). JJᵀ is the empirical tangent kernel
when J = 𝒥(θ₀).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .._checks import (
    as_matrix,
    as_vector,
    nonnegative_float,
    positive_float,
    psd_eigenvalues,
    square,
    symmetric,
)
from ..empirical import jacobian as _jacobian
from ..models import TwoLayerReLU


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

    Example:
        A Jacobian with singular values 3, 2 and 0.1: the cutoff 1 keeps two directions.

        >>> J = torch.diag(torch.tensor([3.0, 2.0, 0.1], dtype=torch.float64))
        >>> information_split(J, cutoff=1.0).rank
        2
        >>> information_split(kernel=J @ J.T, cutoff=1.0).rank
        2

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
        symmetric(K, "kernel")
        eig, V = torch.linalg.eigh(0.5 * (K + K.T))
        psd_eigenvalues(eig, "kernel")  # the tolerance follows the kernel's dtype
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
    J = torch.cat([t.reshape(X.shape[0], -1) for t in _jacobian(model, X).values()], dim=1)
    J0 = torch.cat([t.reshape(X.shape[0], -1) for t in _jacobian(reference, X).values()], dim=1)
    return float(torch.linalg.matrix_norm(J - J0, ord=2))
