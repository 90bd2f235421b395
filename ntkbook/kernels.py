"""Infinite-width kernels in closed form: the NNGP and the neural tangent kernel (NTK).

Normalization (Arora et al. 2019, "On Exact Computation with an Infinitely Wide Neural Net",
Sec. 3), with inputs used as given:

    Σ⁽⁰⁾(x, z) = xᵀz,
    Λ⁽ʰ⁾ = [[Σ⁽ʰ⁻¹⁾(x,x), Σ⁽ʰ⁻¹⁾(x,z)], [Σ⁽ʰ⁻¹⁾(z,x), Σ⁽ʰ⁻¹⁾(z,z)]],
    Σ⁽ʰ⁾(x, z) = c_σ E_{(u,v)~N(0,Λ⁽ʰ⁾)}[σ(u)σ(v)],
    Σ̇⁽ʰ⁾(x, z) = c_σ E_{(u,v)~N(0,Λ⁽ʰ⁾)}[σ'(u)σ'(v)],
    Θ⁽⁰⁾ = Σ⁽⁰⁾,  Θ⁽ʰ⁾ = Θ⁽ʰ⁻¹⁾ Σ̇⁽ʰ⁾ + Σ⁽ʰ⁾,

for h = 1, …, L (L = ``depth``, the number of hidden layers). The NNGP of an L-hidden-layer
network is Σ⁽ᴸ⁾ and its NTK is Θ⁽ᴸ⁾. By default c_σ = 1/E_{z~N(0,1)}[σ(z)²] (Du et al. 2019b),
which keeps Σ⁽ʰ⁾(x, x) = ‖x‖² for every layer when σ is ReLU.

ReLU and erf use closed forms (Cho & Saul 2009; Williams 1997); any other activation uses
Gauss–Hermite quadrature of the two-dimensional Gaussian expectation.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from ._activations import get_activation
from ._checks import as_matrix, positive_float, positive_int, same_width

_QUADRATURE_POINTS = 64
_CHUNK_ELEMENTS = 2**24


@functools.lru_cache(maxsize=16)
def _hermite_rule(q: int) -> tuple[np.ndarray, np.ndarray]:
    z, w = np.polynomial.hermite_e.hermegauss(q)
    return z, w / math.sqrt(2 * math.pi)


def _gauss_hermite(q: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes z and weights w with Σ_i w_i g(z_i) ≈ E_{z~N(0,1)}[g(z)]."""
    z, w = _hermite_rule(q)
    return (torch.as_tensor(z, dtype=like.dtype, device=like.device),
            torch.as_tensor(w, dtype=like.dtype, device=like.device))


def c_sigma_for(activation: str) -> float:
    """Du et al.'s c_σ = 1 / E_{z~N(0,1)}[σ(z)²] (Du et al. 2019b, the fully connected network).

    2 for ReLU, 1/((2/π) arcsin(2/3)) for erf, Gauss–Hermite quadrature otherwise.
    """
    act = get_activation(activation)
    if act.name == "relu":
        return 2.0
    if act.name == "erf":
        return 1.0 / ((2.0 / math.pi) * math.asin(2.0 / 3.0))
    z, w = _gauss_hermite(200, torch.zeros((), dtype=torch.float64))
    return float(1.0 / (w * act.fn(z) ** 2).sum())


def _pair_expectations(
    name: str,
    a: torch.Tensor,
    b: torch.Tensor,
    c: torch.Tensor,
    quadrature_points: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """E[σ(u)σ(v)] and E[σ'(u)σ'(v)] for (u, v) ~ N(0, [[a, c], [c, b]]), entrywise.

    ``a`` has shape (n, 1), ``b`` shape (1, n'), ``c`` shape (n, n').
    """
    ab = a * b
    sqrt_ab = torch.sqrt(ab)
    safe = torch.where(ab > 0, sqrt_ab, torch.ones_like(sqrt_ab))
    # Rounding can push |ρ| above 1 for (anti)parallel inputs: clip before arccos. Within a few
    # ulps of ±1, snap to ±1: arccos(1 − ε) ≈ √(2ε) would otherwise turn rounding noise of 1e-16
    # into an error of 1e-8 in the angle (and in Σ̇ on the diagonal).
    rho = torch.where(ab > 0, c / safe, torch.zeros_like(c)).clamp(-1.0, 1.0)
    snap = 8 * torch.finfo(rho.dtype).eps
    rho = torch.where(rho.abs() > 1 - snap, rho.sign(), rho)
    if name == "relu":
        theta = torch.arccos(rho)
        e_sigma = sqrt_ab * (torch.sin(theta) + (math.pi - theta) * rho) / (2 * math.pi)
        e_dot = (math.pi - theta) / (2 * math.pi)
        return e_sigma, e_dot
    if name == "erf":
        pa, pb = 1 + 2 * a, 1 + 2 * b
        e_sigma = (2 / math.pi) * torch.arcsin((2 * c / torch.sqrt(pa * pb)).clamp(-1.0, 1.0))
        e_dot = (4 / math.pi) / torch.sqrt(pa * pb - 4 * c * c)
        return e_sigma, e_dot
    act = get_activation(name)
    z, w = _gauss_hermite(quadrature_points, c)
    # u = √a z₁, v = √b (ρ z₁ + √(1−ρ²) z₂); tensor-product rule over (z₁, z₂), in row chunks.
    n, n2 = c.shape
    q = z.shape[0]
    rows = max(1, _CHUNK_ELEMENTS // max(1, n2 * q * q))
    out_sigma, out_dot = [], []
    for start in range(0, n, rows):
        sl = slice(start, start + rows)
        r = rho[sl][..., None, None]
        u = torch.sqrt(a[sl])[..., None, None] * z[:, None]
        v = torch.sqrt(b)[..., None, None] * (r * z[:, None] + torch.sqrt(1 - r * r) * z[None, :])
        ww = w[:, None] * w[None, :]
        out_sigma.append((act.fn(u) * act.fn(v) * ww).sum(dim=(-1, -2)))
        out_dot.append((act.derivative(u) * act.derivative(v) * ww).sum(dim=(-1, -2)))
    return torch.cat(out_sigma), torch.cat(out_dot)


def _diagonal_next(name: str, a: torch.Tensor, quadrature_points: int) -> torch.Tensor:
    """E[σ(u)²] for u ~ N(0, a), entrywise."""
    if name == "relu":
        return a / 2
    if name == "erf":
        return (2 / math.pi) * torch.arcsin(2 * a / (1 + 2 * a))
    act = get_activation(name)
    z, w = _gauss_hermite(max(quadrature_points, 100), a)
    return (act.fn(torch.sqrt(a)[..., None] * z) ** 2 * w).sum(-1)


@dataclass(frozen=True)
class LayerKernels:
    """Every kernel of the recursion for one pair of input sets.

    Attributes:
        sigma: [Σ⁽⁰⁾, …, Σ⁽ᴸ⁾], each (n, n').
        sigma_dot: [Σ̇⁽¹⁾, …, Σ̇⁽ᴸ⁾], each (n, n').
    """

    sigma: tuple[torch.Tensor, ...]
    sigma_dot: tuple[torch.Tensor, ...]

    @property
    def depth(self) -> int:
        return len(self.sigma_dot)

    @property
    def nngp(self) -> torch.Tensor:
        """Σ⁽ᴸ⁾: the covariance of the network's output at initialization."""
        return self.sigma[-1]

    @property
    def ntk(self) -> torch.Tensor:
        """Θ⁽ᴸ⁾ = Σ_{h=1}^{L+1} Σ⁽ʰ⁻¹⁾ Π_{h'=h}^{L} Σ̇⁽ʰ'⁾."""
        return sum(self.ntk_per_layer)

    @property
    def ntk_per_layer(self) -> tuple[torch.Tensor, ...]:
        """The limit of each layer's Gram G⁽ʰ⁾ (h = 1, …, L) and of the output layer's, in order.

        Layer h contributes Σ⁽ʰ⁻¹⁾ Π_{h'=h}^{L} Σ̇⁽ʰ'⁾; the output layer contributes Σ⁽ᴸ⁾. The
        last hidden layer's term Σ⁽ᴸ⁻¹⁾Σ̇⁽ᴸ⁾ is Du et al.'s K⁽ᴴ⁾ (2019b, the recursion for K⁽ʰ⁾).
        """
        L = self.depth
        terms = []
        for h in range(1, L + 2):
            term = self.sigma[h - 1]
            for hp in range(h, L + 1):
                term = term * self.sigma_dot[hp - 1]
            terms.append(term)
        return tuple(terms)


def _check_pair(X: torch.Tensor, Z: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    X = as_matrix(X, "X")
    if Z is None:
        return X, X
    Z = as_matrix(Z, "Z")
    same_width(X, Z)
    if X.device != Z.device:
        raise ValueError(f"X and Z must be on one device, got {X.device} and {Z.device}")
    return X, Z


def layer_kernels(
    X: torch.Tensor,
    Z: torch.Tensor | None = None,
    *,
    depth: int = 1,
    activation: str = "relu",
    c_sigma: float | None = None,
    quadrature_points: int = _QUADRATURE_POINTS,
) -> LayerKernels:
    """Run the NNGP/NTK recursion (Arora et al. 2019, Sec. 3) and keep every layer.

    Args:
        X: (n, d) inputs. Z: (n', d) inputs, ``None`` for Z = X.
        depth: number of hidden layers L ≥ 1.
        activation: ``"relu"`` and ``"erf"`` are exact; others use quadrature.
        c_sigma: the layer constant; ``None`` for 1/E[σ(z)²].
        quadrature_points: Gauss–Hermite points per dimension (non-closed-form activations).

    Returns:
        :class:`LayerKernels` in the dtype and device of ``X``.
    """
    X, Z = _check_pair(X, Z)
    depth = positive_int(depth, "depth")
    name = get_activation(activation).name
    c = c_sigma_for(name) if c_sigma is None else positive_float(c_sigma, "c_sigma")
    q = positive_int(quadrature_points, "quadrature_points")
    cross = X @ Z.T
    diag_x = (X * X).sum(1, keepdim=True)
    diag_z = (Z * Z).sum(1, keepdim=True).T
    sigma = [cross]
    sigma_dot = []
    for _ in range(depth):
        e_sigma, e_dot = _pair_expectations(name, diag_x, diag_z, sigma[-1], q)
        sigma.append(c * e_sigma)
        sigma_dot.append(c * e_dot)
        diag_x = c * _diagonal_next(name, diag_x, q)
        diag_z = c * _diagonal_next(name, diag_z, q)
    return LayerKernels(tuple(sigma), tuple(sigma_dot))


def analytic_nngp(
    X: torch.Tensor,
    Z: torch.Tensor | None = None,
    *,
    depth: int = 1,
    activation: str = "relu",
    c_sigma: float | None = None,
) -> torch.Tensor:
    """The NNGP kernel Σ⁽ᴸ⁾(X, Z) of an L = ``depth`` hidden-layer network (Lee et al. 2018).

    The output of :class:`ntkbook.MLP` at initialization is a centred Gaussian process with this
    covariance in the limit of infinite width. Shape (n, n'); see :func:`layer_kernels`.
    """
    return layer_kernels(X, Z, depth=depth, activation=activation, c_sigma=c_sigma).nngp


def analytic_ntk(
    X: torch.Tensor,
    Z: torch.Tensor | None = None,
    *,
    depth: int = 1,
    activation: str = "relu",
    c_sigma: float | None = None,
) -> torch.Tensor:
    """The neural tangent kernel Θ⁽ᴸ⁾(X, Z) (Jacot et al. 2018, Thm 1; Arora et al. 2019, Sec. 3).

    The limit, as the width grows, of ``empirical_ntk(MLP(d, width, depth), X, Z)``. For ReLU,
    the default c_σ = 2 and unit inputs, Σ⁽ʰ⁾(x, x) = 1 and Θ⁽ᴸ⁾(x, x) = L + 1.

    Example:
        >>> X = torch.nn.functional.normalize(torch.randn(5, 3, dtype=torch.float64), dim=1)
        >>> torch.allclose(analytic_ntk(X, depth=2).diagonal(), torch.full((5,), 3.0).double())
        True
    """
    return layer_kernels(X, Z, depth=depth, activation=activation, c_sigma=c_sigma).ntk


def relu_two_layer_ntk(X: torch.Tensor, Z: torch.Tensor | None = None) -> torch.Tensor:
    """H^∞(x, z) = xᵀz (π − arccos(x̂ᵀẑ)) / (2π) (Du et al. 2019, Sec. 3; Zhang & Zhang 2022, eq. 4).

    The kernel of :class:`ntkbook.TwoLayerReLU` (first layer trained, output layer fixed) in the
    limit m → ∞, for every initialization scale κ: E_{w~N(0,I)}[xᵀz 1{wᵀx ≥ 0, wᵀz ≥ 0}].
    It equals ½ Σ⁽⁰⁾ Σ̇⁽¹⁾ in the notation of :func:`layer_kernels` (ReLU, c_σ = 2).
    """
    X, Z = _check_pair(X, Z)
    cross = X @ Z.T
    norms = torch.linalg.vector_norm(X, dim=1)[:, None] * torch.linalg.vector_norm(Z, dim=1)[None]
    cos = torch.where(norms > 0, cross / torch.where(norms > 0, norms, 1.0), 0.0).clamp(-1.0, 1.0)
    snap = 8 * torch.finfo(cos.dtype).eps  # as in _pair_expectations: ±1 up to rounding is ±1
    cos = torch.where(cos.abs() > 1 - snap, cos.sign(), cos)
    return cross * (math.pi - torch.arccos(cos)) / (2 * math.pi)
