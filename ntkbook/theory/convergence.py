"""Gradient descent finds global minima (Du et al. 2019; Arora et al. 2019; chapter 4).

The two-layer network f(x) = m^{-1/2} Σ_r a_r relu(w_rᵀx), a_r = ±1 fixed, w_r(0) ~ N(0, κ²I),
trained on L = ½‖u − y‖² (Du, Zhai, Póczos & Singh, ICLR 2019; Arora, Du, Hu, Li & Wang,
ICML 2019), and the deep version (Du, Lee, Li, Wang & Zhai, ICML 2019): the linear-rate bound,
the width and step size the theorems ask for, the radius and flip probability of the proof, the
split of one gradient step into I₁ and I₂, the deep limit K⁽ᴴ⁾, Arora et al.'s predicted loss
curve and complexity yᵀ(H^∞)⁻¹y. The book's chapter 4 derives every formula below.
"""

from __future__ import annotations

import copy
import math
import sys
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .._checks import (
    as_matrix,
    as_vector,
    nonnegative_float,
    positive_float,
    positive_int,
    psd_eigenvalues,
    square,
    symmetric,
)
from ..empirical import _scalar_kernel, _split_parameters
from ..kernels import layer_kernels
from ..models import TwoLayerReLU


@dataclass(frozen=True)
class ConvergenceRequirements:
    """The width and step size under which Du et al.'s two-layer theorem holds, as orders.

    The theorem states m = Ω(n⁶/(λ₀⁴δ³κ²)) and η = O(λ₀/n²) with unspecified absolute constants;
    the numbers here set those constants to 1, so only ratios between them are meaningful.

    Attributes:
        width: n⁶ / (λ₀⁴ δ³ κ²).
        lr: λ₀ / n².
        n: the input n.
        lambda_0: the input λ₀.
        delta: the input δ.
        kappa: the input κ.
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

    Example:
        >>> du_two_layer_requirements(100, 0.05)
        ConvergenceRequirements(width~1.6e+20, lr~5e-06; n=100, lambda_0=0.05, delta=0.1, kappa=1)

    Raises:
        TypeError, ValueError: non-positive n, λ₀ or κ, or δ outside (0, 1).
    """
    n = positive_int(n, "n")
    lambda_0 = positive_float(lambda_0, "lambda_0")
    delta = positive_float(delta, "delta")
    if delta >= 1:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    kappa = positive_float(kappa, "kappa")
    # In logarithms: n⁶ of a large int overflows a float, and λ₀⁴ of a small λ₀ underflows to 0.
    log10_width = (6 * math.log10(n) - 4 * math.log10(lambda_0) - 3 * math.log10(delta)
                   - 2 * math.log10(kappa))
    if log10_width >= math.log10(sys.float_info.max):
        raise ValueError(f"the width n^6 / (lambda_0^4 delta^3 kappa^2) = 10^{log10_width:.0f} "
                         f"overflows a float (n={n}, lambda_0={lambda_0:g}, delta={delta:g}, "
                         f"kappa={kappa:g})")
    return ConvergenceRequirements(
        width=10.0**log10_width,
        lr=math.exp(math.log(lambda_0) - 2 * math.log(n)),
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
    symmetric(K, name)
    lam, V = torch.linalg.eigh(0.5 * (K + K.T))
    psd_eigenvalues(lam, name)  # the tolerance follows K's dtype
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
        """Σ_{i ≤ count} (v_iᵀy)² / ‖y‖²: the share of the labels in the top eigenvectors.

        Raises:
            ValueError: y = 0, whose share is undefined.
        """
        count = positive_int(count, "count")
        p2 = self.projections**2
        total = p2.sum()
        if not total > 0:
            raise ValueError("y = 0: the share of ||y||^2 in the top eigenvectors is undefined")
        return float(p2[:count].sum() / total)

    def __repr__(self) -> str:
        share = (f"{self.top_fraction(10):.3f}" if (self.projections**2).sum() > 0
                 else "undefined (y = 0)")
        return (f"SpectralProjections(n={len(self.eigenvalues)}, "
                f"lambda_max={self.eigenvalues[0]:.4g}, lambda_min={self.eigenvalues[-1]:.4g}, "
                f"top-10 share={share})")


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
    symmetric(H, "H")
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
        I1: (n,) tensor I₁.
        I2: (n,) tensor I₂.
        residual: y − u(k). residual_next: y − u(k+1).
        flipped: (n,) booleans, True where some neuron's ReLU pattern on x_i changes during the
            step (two-layer ReLU networks only, else ``None``). For ReLU, I₂ᵢ = 0 where False.
        first_order: −2rᵀI₁ / ‖r‖², with r = y − u(k).
        second_order: −2rᵀI₂ / ‖r‖².
        step_size_term: ‖u(k+1) − u(k)‖² / ‖r‖².
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
    params, _ = _split_parameters(model)
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
    K = _scalar_kernel(model, X)
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
