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

ReLU and erf use closed forms (Cho & Saul 2009; Williams 1997); any other activation uses a
quadrature of the two-dimensional Gaussian expectation in polar coordinates (see
``_pair_moments``) that stays accurate at every input norm.

How the closed forms are computed. Every layer of the recursion acts entry by entry on n × n'
arrays, so after the one matrix product XZᵀ the whole depth is run on one block of rows at a
time, small enough to stay in a core's cache, instead of one pass over the full arrays per
operation; both kernels come out of one pass (:func:`analytic_kernels`); with Z = X only the
upper triangle is computed and mirrored, so the result is exactly symmetric. The recursions are
written in normalized variables — the correlation ρ = Σ(x,z)/√(Σ(x,x)Σ(z,z)) for ReLU, the
arcsine argument for erf — with the norms √Σ(x,x) kept apart, so no entry is ever formed as a
product Σ(x,x)·Σ(z,z) that could overflow or underflow.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

from ._activations import Activation, get_activation
from ._checks import as_matrix, positive_float, positive_int, same_width

# Entries per block of the closed-form recursions on a CPU: a few live float64 buffers of this
# size (512 KiB each) stay in a core's L2 cache. Elsewhere (CUDA) one block is the whole array.
_CPU_BLOCK_ELEMENTS = 1 << 16
_DEVICE_BLOCK_ELEMENTS = 1 << 26
# Quadrature nodes evaluated at once by the polar rule (bounds its memory to ~10 MB).
_QUADRATURE_CHUNK = 1 << 17
# Steps of the polar rule: in log r, and in the double-exponential angle variable (see
# _pair_moments for how the angular step shrinks with the norm).
_RADIAL_STEP = 0.15
_ANGULAR_STEP = 0.075
_ANGULAR_END = 3.2


@dataclass(frozen=True)
class AnalyticKernels:
    """The NNGP Σ⁽ᴸ⁾ and the NTK Θ⁽ᴸ⁾ of one pair of input sets, from one run of the recursion."""

    nngp: torch.Tensor
    ntk: torch.Tensor


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
        """Θ⁽ᴸ⁾ = Σ_{h=1}^{L+1} Σ⁽ʰ⁻¹⁾ Π_{h'=h}^{L} Σ̇⁽ʰ'⁾.

        Computed as Θ⁽ʰ⁾ = Θ⁽ʰ⁻¹⁾Σ̇⁽ʰ⁾ + Σ⁽ʰ⁾: L products, not the L(L+1)/2 of the sum.
        """
        theta = self.sigma[0].clone()
        for dot, sigma in zip(self.sigma_dot, self.sigma[1:]):
            theta.mul_(dot).add_(sigma)
        return theta

    @property
    def ntk_per_layer(self) -> tuple[torch.Tensor, ...]:
        """The limit of each layer's Gram G⁽ʰ⁾ (h = 1, …, L) and of the output layer's, in order.

        Layer h contributes Σ⁽ʰ⁻¹⁾ Π_{h'=h}^{L} Σ̇⁽ʰ'⁾; the output layer contributes Σ⁽ᴸ⁾. The
        last hidden layer's term Σ⁽ᴸ⁻¹⁾Σ̇⁽ᴸ⁾ is Du et al.'s K⁽ᴴ⁾ (2019b, the recursion for K⁽ʰ⁾).
        The products are accumulated from the last layer down: 2L products in all.
        """
        L = self.depth
        terms: list[torch.Tensor] = [self.sigma[L]]
        suffix = None
        for h in range(L, 0, -1):
            dot = self.sigma_dot[h - 1]
            suffix = dot if suffix is None else dot * suffix
            terms.append(self.sigma[h - 1] * suffix)
        return tuple(reversed(terms))


# --- inputs --------------------------------------------------------------------------------------

def _check_pair(X: torch.Tensor,
                Z: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    X = as_matrix(X, "X")
    if Z is None:
        return X, None
    Z = as_matrix(Z, "Z")
    same_width(X, Z)
    if X.device != Z.device:
        raise ValueError(f"X and Z must be on one device, got {X.device} and {Z.device}")
    return X, Z


def _row_norms(X: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """‖x_i‖ and the unit rows x_i/‖x_i‖ (zero rows stay zero), without overflow or underflow.

    Each row is divided by its largest |entry| before the sum of squares, so norms from the
    smallest to the largest representable number come out right.
    """
    peak = X.abs().amax(dim=1, keepdim=True)
    scaled = X / torch.where(peak > 0, peak, 1.0)
    length = torch.linalg.vector_norm(scaled, dim=1, keepdim=True)  # in [1, √d] for nonzero rows
    norms = (peak * length)[:, 0]
    if not torch.isfinite(norms).all():
        raise ValueError(f"{name} has a row whose norm overflows {X.dtype}")
    return norms, scaled / torch.where(length > 0, length, 1.0)


def _snap_correlations_(rho: torch.Tensor) -> torch.Tensor:
    """Clip to [−1, 1] and snap values within 8 ulps of ±1 to ±1, in place.

    Rounding can push |ρ| above 1 for (anti)parallel inputs, and arccos(1 − ε) ≈ √(2ε) would
    turn rounding noise of 1e-16 into an error of 1e-8 in the angle (and in Σ̇ on the diagonal).
    """
    near = 1 - 8 * torch.finfo(rho.dtype).eps
    rho.clamp_(-1.0, 1.0)
    rho.masked_fill_(rho > near, 1.0)
    return rho.masked_fill_(rho < -near, -1.0)


# --- the blocked driver --------------------------------------------------------------------------

class _Outputs:
    """The n × n' arrays a recursion writes, block by block."""

    def __init__(self, n: int, m: int, like: torch.Tensor, *, nngp: bool, ntk: bool,
                 layers: int) -> None:
        def new() -> torch.Tensor:
            return torch.empty(n, m, dtype=like.dtype, device=like.device)

        self.nngp = new() if nngp else None
        self.ntk = new() if ntk else None
        self.sigma = [new() for _ in range(layers + 1)] if layers else []
        self.sigma_dot = [new() for _ in range(layers)] if layers else []

    def arrays(self) -> list[torch.Tensor]:
        out = [a for a in (self.nngp, self.ntk) if a is not None]
        return out + self.sigma + self.sigma_dot


def _run_blocks(X: torch.Tensor, Z: torch.Tensor | None, outputs: _Outputs, block,
                block_elements: int) -> None:
    """Call ``block(r0, r1, c0)`` for row blocks of the n × n' outputs, which it fills in columns
    c0…n'−1. With Z = None only columns c0 = r0 onwards are computed and the rest mirrored, so
    that every output is exactly symmetric.
    """
    symmetric = Z is None
    n = X.shape[0]
    m = n if symmetric else Z.shape[0]
    r0 = 0
    while r0 < n:
        c0 = r0 if symmetric else 0
        rows = max(1, min(n - r0, block_elements // (m - c0)))
        r1 = r0 + rows
        block(r0, r1, c0)
        if symmetric:
            for out in outputs.arrays():
                square = out[r0:r1, r0:r1]
                upper = square.triu(1)
                square.copy_(square.triu() + upper.T)
                if r1 < n:
                    out[r1:, r0:r1] = out[r0:r1, r1:].T
        r0 = r1


class _Workspace:
    """Reusable flat buffers, viewed as (rows, cols) blocks."""

    def __init__(self, count: int, size: int, like: torch.Tensor) -> None:
        self.flat = [torch.empty(size, dtype=like.dtype, device=like.device)
                     for _ in range(count)]

    def views(self, rows: int, cols: int) -> list[torch.Tensor]:
        return [f[: rows * cols].view(rows, cols) for f in self.flat]


def _block_elements(like: torch.Tensor) -> int:
    return _CPU_BLOCK_ELEMENTS if like.device.type == "cpu" else _DEVICE_BLOCK_ELEMENTS


# --- ReLU ----------------------------------------------------------------------------------------

def _relu(X: torch.Tensor, Z: torch.Tensor | None, depth: int, c: float,
          outputs: _Outputs) -> None:
    """The ReLU recursion (Cho & Saul 2009; Arora et al. 2019, Sec. 3) in normalized form.

    With ρ₀ = x̂ᵀẑ and θ = arccos ρ_{h−1}, the correlation obeys ρ_h = (√(1−ρ²) + (π − θ)ρ)/π
    whatever c_σ is, Σ̇⁽ʰ⁾ = (c/2)(1 − θ/π), Σ⁽ʰ⁾ = (c/2)ʰ ‖x‖‖z‖ ρ_h, and
    Θ⁽ʰ⁾ = (c/2)ʰ ‖x‖‖z‖ W_h with W_h = W_{h−1}(1 − θ/π) + ρ_h, W₀ = ρ₀.
    """
    nx, ux = _row_norms(X, "X")
    nz, uz = (nx, ux) if Z is None else _row_norms(Z, "Z")
    half = c / 2
    # Θ⁽ᴸ⁾ ≤ (L + 1) max(1, c/2)^L ‖x‖‖z‖, and so is every Σ⁽ʰ⁾.
    bound = float(nx.max()) * float(nz.max()) * max(1.0, half) ** depth * (depth + 1)
    if bound > torch.finfo(X.dtype).max:
        raise ValueError(
            f"the ReLU kernels of these inputs overflow {X.dtype} (up to about {bound:.3g}); "
            "rescale X (and Z): the kernels are homogeneous of degree 1 in each input"
        )
    m = uz.shape[0]
    dtype = X.dtype
    layers = len(outputs.sigma_dot)
    want_ntk = outputs.ntk is not None
    work = _Workspace(4, max(_block_elements(X), m), X)
    inv_pi = 1 / math.pi
    inv_pi2 = torch.full((), inv_pi * inv_pi, dtype=dtype, device=X.device)
    scale_x = nx * half**depth

    def block(r0: int, r1: int, c0: int) -> None:
        rows, cols = r1 - r0, m - c0
        rho, theta, s, W = work.views(rows, cols)
        outer_z = nz[None, c0:]
        torch.mm(ux[r0:r1], uz[c0:].T, out=rho)
        _snap_correlations_(rho)
        if want_ntk:
            W.copy_(rho)
        if layers:
            torch.mm(X[r0:r1], (X if Z is None else Z)[c0:].T, out=outputs.sigma[0][r0:r1, c0:])
        for h in range(1, depth + 1):
            torch.acos(rho, out=theta)
            torch.addcmul(inv_pi2.expand(rows, cols), rho, rho, value=-inv_pi * inv_pi, out=s)
            s.sqrt_()  # √(1 − ρ²)/π
            if want_ntk:
                W.addcmul_(W, theta, value=-inv_pi)  # W·(1 − θ/π)
            if layers:
                dot = outputs.sigma_dot[h - 1][r0:r1, c0:]
                torch.mul(theta, -half * inv_pi, out=dot).add_(half)
            s.add_(rho)
            torch.addcmul(s, theta, rho, value=-inv_pi, out=rho).clamp_(max=1.0)
            if want_ntk:
                W.add_(rho)
            if layers:
                out = outputs.sigma[h][r0:r1, c0:]
                torch.mul(rho, (nx[r0:r1] * half**h)[:, None], out=out).mul_(outer_z)
        if want_ntk:
            out = outputs.ntk[r0:r1, c0:]
            torch.mul(W, scale_x[r0:r1, None], out=out).mul_(outer_z)
        if outputs.nngp is not None:
            out = outputs.nngp[r0:r1, c0:]
            torch.mul(rho, scale_x[r0:r1, None], out=out).mul_(outer_z)

    _run_blocks(X, Z, outputs, block, _block_elements(X))


# --- erf -----------------------------------------------------------------------------------------

def _erf_diagonals(norms: torch.Tensor, depth: int, c: float) -> list[torch.Tensor]:
    """p_h = 1/√(1 + 2Σ⁽ʰ⁾(x,x)) for h = 0, …, depth − 1, with Σ⁽⁰⁾(x,x) = ‖x‖² never squared."""
    p = [1 / torch.hypot(torch.ones_like(norms), math.sqrt(2) * norms)]
    u2 = 1 - p[0] * p[0]  # 2‖x‖²p₀² = 2a/(1 + 2a)
    for _ in range(1, depth):
        a = (2 * c / math.pi) * torch.asin(u2)
        p.append(torch.rsqrt(1 + 2 * a))
        u2 = 2 * a * p[-1] * p[-1]
    return p


def _erf(X: torch.Tensor, Z: torch.Tensor | None, depth: int, c: float,
         outputs: _Outputs) -> None:
    """The erf recursion (Williams 1997) in the variables of the arcsine.

    With P_h = p_h(x)p_h(z), p_h = 1/√(1 + 2Σ⁽ʰ⁾(x,x)), and r_h = 2Σ⁽ʰ⁾P_h (|r_h| < 1):
    Σ⁽ʰ⁾ = (2c/π) arcsin r_{h−1} and Σ̇⁽ʰ⁾ = (4c/π) P_{h−1}/√(1 − r²_{h−1}). The NTK is carried
    as Q_h = 2Θ⁽ʰ⁾P_h: Q₀ = r₀ and Q_h = (Q_{h−1}/√(1 − r²_{h−1}) + arcsin r_{h−1})·(4c/π)P_h,
    so Θ⁽ᴸ⁾ = (2c/π)(Q_{L−1}/√(1 − r²_{L−1}) + arcsin r_{L−1}). For the first layer 1 − r₀² is
    formed as (1 − ρ₀²) + ρ₀²(p² + q² − p²q²), a sum of non-negative terms (with hypot, so
    that no p² underflows), and arcsin r₀ as atan2(r₀, √(1 − r₀²)): both keep their precision
    for inputs of any norm.
    """
    nx, ux = _row_norms(X, "X")
    nz, uz = (nx, ux) if Z is None else _row_norms(Z, "Z")
    px = _erf_diagonals(nx, depth, c)
    pz = px if Z is None else _erf_diagonals(nz, depth, c)
    # Layer 1 in terms of ρ₀: r₀ = ρ₀·(√2‖x‖p₀)(√2‖z‖q₀), and each factor is below 1.
    gx, gz = math.sqrt(2) * nx * px[0], math.sqrt(2) * nz * pz[0]
    m = uz.shape[0]
    dtype = X.dtype
    layers = len(outputs.sigma_dot)
    want_ntk = outputs.ntk is not None
    work = _Workspace(5, max(_block_elements(X), m), X)
    one = torch.ones((), dtype=dtype, device=X.device)
    k_sigma, k_next = 2 * c / math.pi, 4 * c / math.pi

    def block(r0: int, r1: int, c0: int) -> None:
        rows, cols = r1 - r0, m - c0
        r, s, y, M, Q = work.views(rows, cols)
        ones = one.expand(rows, cols)
        torch.mm(ux[r0:r1], uz[c0:].T, out=r)
        _snap_correlations_(r)
        if layers:
            torch.mm(X[r0:r1], (X if Z is None else Z)[c0:].T, out=outputs.sigma[0][r0:r1, c0:])
        # √(1 − r₀²) = hypot(√(1 − ρ²), |ρ| hypot(p, q√(1 − p²))) with ρ still in r, and
        # √(1 − p²) = √2‖x‖p: no square of p or q, which underflows for large norms.
        torch.addcmul(ones, r, r, value=-1.0, out=s).clamp_(min=0.0).sqrt_()
        torch.mul(gx[r0:r1, None], pz[0][None, c0:], out=M)
        torch.hypot(M, px[0][r0:r1, None].expand(rows, cols), out=M)
        M.mul_(r).abs_()
        torch.hypot(s, M, out=s)
        r.mul_(gx[r0:r1, None]).mul_(gz[None, c0:])
        if want_ntk:
            Q.copy_(r)
        for h in range(1, depth + 1):
            if h > 1:
                torch.addcmul(ones, r, r, value=-1.0, out=s).sqrt_()
                torch.asin(r, out=y)
            else:  # arcsin r₀ = atan2(r₀, √(1 − r₀²)): exact also where r₀ rounds to ±1
                torch.atan2(r, s, out=y)
            if layers:
                dot = outputs.sigma_dot[h - 1][r0:r1, c0:]
                torch.div((k_next * px[h - 1][r0:r1])[:, None], s, out=dot)
                dot.mul_(pz[h - 1][None, c0:])
                torch.mul(y, k_sigma, out=outputs.sigma[h][r0:r1, c0:])
            if want_ntk:
                Q.div_(s).add_(y)
            if h < depth:
                torch.mul((k_next * px[h][r0:r1])[:, None], pz[h][None, c0:], out=M)
                if want_ntk:
                    Q.mul_(M)
                torch.mul(y, M, out=r).clamp_(-1.0, 1.0)
        if want_ntk:
            torch.mul(Q, k_sigma, out=outputs.ntk[r0:r1, c0:])
        if outputs.nngp is not None:
            torch.mul(y, k_sigma, out=outputs.nngp[r0:r1, c0:])

    _run_blocks(X, Z, outputs, block, _block_elements(X))


# --- any other activation: quadrature ------------------------------------------------------------

@functools.lru_cache(maxsize=32)
def _angular_rule(step: float) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """Double-exponential (tanh-sinh) rule on an arc of unit length: fractions from the left
    end, from the right end, and weights (Takahasi & Mori 1974)."""
    count = math.ceil(_ANGULAR_END / step)
    left, right, weights = [], [], []
    for k in range(-count, count + 1):
        tau = k * step
        x = (math.pi / 2) * math.sinh(tau)
        left.append(1 / (1 + math.exp(-2 * x)))
        right.append(1 / (1 + math.exp(2 * x)))
        weights.append(step * (math.pi / 2) * math.cosh(tau) / (2 * math.cosh(x) ** 2))
    return tuple(left), tuple(right), tuple(weights)


def _log_radial_rule(top: float, bottom: float, step: float, power: int):
    """Trapezoidal rule in t = log r on [log bottom, log top]: nodes r_k and the weights of
    ∫ g(r) r^{power−1} e^{−r²/2} dr, plus the weight that the nodes below ``bottom`` would add to
    a g that is constant there (the geometric tail of the rule)."""
    t_top, t_bottom = math.log(top), math.log(bottom)
    count = math.ceil((t_top - t_bottom) / step) + 1
    t = [t_top - step * (count - 1 - k) for k in range(count)]
    r = [math.exp(v) for v in t]
    w = [step * v**power * math.exp(-0.5 * v * v) for v in r]
    tail = step * math.exp(power * t[0]) * math.exp(-power * step) / (1 - math.exp(-power * step))
    return r, w, tail


def _pair_moments(act: Activation, sa: torch.Tensor, sb: torch.Tensor,
                  rho: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """E[σ(u)σ(v)] and E[σ'(u)σ'(v)] for (u, v) ~ N(0, [[a, c], [c, b]]), entrywise.

    ``sa`` = √a, ``sb`` = √b and ``rho`` = c/√(ab) are 1-D tensors of one length.

    In polar coordinates of the whitened plane, u = √a r cos ψ and v = √b r cos(ψ − ψ₀) with
    cos ψ₀ = ρ, so every feature of the integrand — the kinks of σ(u) and σ(v), of width ~1/√a
    and ~1/√b, and the Gaussian — sits at r = 0 or on the four rays where u = 0 or v = 0.
    The rule is, radially, the trapezoidal rule in log r (uniform relative resolution at every
    scale from 1e-4/max(√a, √b) to 9.5, where the Gaussian weight is below 1e-17), with the
    geometric tail below it in closed form; and, in angle, a double-exponential rule on each of
    the four arcs between those rays, which concentrates nodes at both ends of each arc. Arcs
    ψ and ψ + π are taken together (u, v → −u, −v). The angular step shrinks like
    1/(1 + log₁₀(max a, b)/4), so the error stays below ~1e-11 of √(E[σ(u)²]E[σ(v)²]) for
    norms² a, b from 0 to 1e4, against adaptive quadrature; the cost grows like log(a).
    """
    dtype, device = sa.dtype, sa.device
    peak = max(1.0, float(sa.max()), float(sb.max()))
    radius, radial_w, tail = _log_radial_rule(9.5, 1e-4 / peak, _RADIAL_STEP, 2)
    r = torch.tensor(radius, dtype=dtype, device=device)
    wr = torch.tensor(radial_w, dtype=dtype, device=device) / (2 * math.pi)
    step = _ANGULAR_STEP / (1 + math.log10(peak * peak) / 4)
    left, right, angular_w = (torch.tensor(v, dtype=dtype, device=device)
                              for v in _angular_rule(step))
    zero = torch.zeros((), dtype=dtype, device=device)
    f0, d0 = act.value_and_derivative(zero)
    e_sigma = torch.empty_like(sa)
    e_dot = torch.empty_like(sa)
    per_entry = left.shape[0] * r.shape[0]
    chunk = max(1, _QUADRATURE_CHUNK // per_entry)
    for start in range(0, sa.shape[0], chunk):
        sl = slice(start, start + chunk)
        a_, b_ = sa[sl, None], sb[sl, None]
        psi0 = torch.arccos(rho[sl]).clamp(0.0, math.pi)[:, None]
        rest = math.pi - psi0
        # Arc [π/2, π/2 + ψ₀] and arc [π/2 + ψ₀, 3π/2], each with u and v from the ends at
        # which they vanish (sin of the distance to that end keeps them accurate there).
        arcs = ((psi0, -a_ * torch.sin(psi0 * left), b_ * torch.sin(psi0 * right)),
                (rest, -a_ * torch.sin(rest * right), -b_ * torch.sin(rest * left)))
        total_sigma = 0.0
        total_dot = 0.0
        for length, alpha, beta in arcs:
            U = alpha[..., None] * r
            V = beta[..., None] * r
            fu, du = act.value_and_derivative(U)
            fv, dv = act.value_and_derivative(V)
            fmu, dmu = act.value_and_derivative(U.neg_())
            fmv, dmv = act.value_and_derivative(V.neg_())
            ss = torch.addcmul(fu.mul_(fv), fmu, fmv)
            dd = torch.addcmul(du.mul_(dv), dmu, dmv)
            total_sigma = total_sigma + (ss @ wr @ angular_w) * length[:, 0]
            total_dot = total_dot + (dd @ wr @ angular_w) * length[:, 0]
        e_sigma[sl] = total_sigma + f0 * f0 * tail
        e_dot[sl] = total_dot + d0 * d0 * tail
    return e_sigma, e_dot


def _second_moment(act: Activation, sa: torch.Tensor) -> torch.Tensor:
    """E[σ(u)²] for u ~ N(0, a), entrywise, with ``sa`` = √a: the trapezoidal rule in log |z|
    (as in :func:`_pair_moments`) on ∫₀^∞ (σ(√a z)² + σ(−√a z)²) φ(z) dz."""
    peak = max(1.0, float(sa.max()))
    radius, w, tail = _log_radial_rule(9.5, 1e-8 / peak, 0.1, 1)
    z = torch.tensor(radius, dtype=sa.dtype, device=sa.device)
    wz = torch.tensor(w, dtype=sa.dtype, device=sa.device) / math.sqrt(2 * math.pi)
    u = sa[:, None] * z
    f0 = float(act.fn(torch.zeros((), dtype=torch.float64)))
    values = act.fn(u) ** 2 + act.fn(-u) ** 2
    return values @ wz + 2 * f0 * f0 * tail / math.sqrt(2 * math.pi)


def _quadrature(X: torch.Tensor, Z: torch.Tensor | None, depth: int, c: float, act: Activation,
                outputs: _Outputs) -> None:
    """The recursion for activations without a closed form: Σ⁽ʰ⁾, Σ̇⁽ʰ⁾ by :func:`_pair_moments`."""
    nx, ux = _row_norms(X, "X")
    nz, uz = (nx, ux) if Z is None else _row_norms(Z, "Z")
    # √Σ⁽ʰ⁾(x, x) for h = 0, …, depth − 1.
    sx, sz = [nx], [nz]
    for _ in range(1, depth):
        sx.append(torch.sqrt(c * _second_moment(act, sx[-1])))
        sz.append(sx[-1] if Z is None else torch.sqrt(c * _second_moment(act, sz[-1])))
    m = uz.shape[0]
    layers = len(outputs.sigma_dot)
    want_ntk = outputs.ntk is not None

    def block(r0: int, r1: int, c0: int) -> None:
        rho = ux[r0:r1] @ uz[c0:].T
        _snap_correlations_(rho)
        theta = None
        if want_ntk or layers:
            theta = rho * nx[r0:r1, None] * nz[None, c0:]
        if layers:
            outputs.sigma[0][r0:r1, c0:] = X[r0:r1] @ (X if Z is None else Z)[c0:].T
        for h in range(1, depth + 1):
            a_, b_ = sx[h - 1][r0:r1, None], sz[h - 1][None, c0:]
            shape = rho.shape
            e_sigma, e_dot = _pair_moments(act, a_.expand(shape).reshape(-1),
                                           b_.expand(shape).reshape(-1), rho.reshape(-1))
            sigma, dot = c * e_sigma.view(shape), c * e_dot.view(shape)
            if theta is not None:
                theta = theta * dot + sigma
            if layers:
                outputs.sigma[h][r0:r1, c0:] = sigma
                outputs.sigma_dot[h - 1][r0:r1, c0:] = dot
            if h < depth:
                norm = sx[h][r0:r1, None] * sz[h][None, c0:]
                rho = torch.where(norm > 0, sigma / torch.where(norm > 0, norm, 1.0), 0.0)
                _snap_correlations_(rho)
        if want_ntk:
            outputs.ntk[r0:r1, c0:] = theta
        if outputs.nngp is not None:
            outputs.nngp[r0:r1, c0:] = sigma

    _run_blocks(X, Z, outputs, block, max(1, m))
    for out in outputs.arrays():
        if not torch.isfinite(out).all():
            raise ValueError(f"the {act.name} kernels of these inputs overflow {X.dtype}; "
                             "rescale X (and Z)")


# --- public functions ----------------------------------------------------------------------------

def c_sigma_for(activation: str) -> float:
    """Du et al.'s c_σ = 1 / E_{z~N(0,1)}[σ(z)²] (Du et al. 2019b, the fully connected network).

    2 for ReLU, 1/((2/π) arcsin(2/3)) for erf, quadrature otherwise.
    """
    act = get_activation(activation)
    if act.name == "relu":
        return 2.0
    if act.name == "erf":
        return 1.0 / ((2.0 / math.pi) * math.asin(2.0 / 3.0))
    return float(1.0 / _second_moment(act, torch.ones(1, dtype=torch.float64))[0])


def _recursion(X: torch.Tensor, Z: torch.Tensor | None, depth: int, activation: str,
               c_sigma: float | None, *, nngp: bool, ntk: bool, layers: bool) -> _Outputs:
    X, Z = _check_pair(X, Z)
    depth = positive_int(depth, "depth")
    act = get_activation(activation)
    c = c_sigma_for(act.name) if c_sigma is None else positive_float(c_sigma, "c_sigma")
    n, m = X.shape[0], (X if Z is None else Z).shape[0]
    outputs = _Outputs(n, m, X, nngp=nngp, ntk=ntk, layers=depth if layers else 0)
    with torch.no_grad():
        if act.name == "relu":
            _relu(X, Z, depth, c, outputs)
        elif act.name == "erf":
            _erf(X, Z, depth, c, outputs)
        else:
            _quadrature(X, Z, depth, c, act, outputs)
    return outputs


def layer_kernels(
    X: torch.Tensor,
    Z: torch.Tensor | None = None,
    *,
    depth: int = 1,
    activation: str = "relu",
    c_sigma: float | None = None,
) -> LayerKernels:
    """Run the NNGP/NTK recursion (Arora et al. 2019, Sec. 3) and keep every layer.

    Args:
        X: (n, d) inputs. Z: (n', d) inputs, ``None`` for Z = X.
        depth: number of hidden layers L ≥ 1.
        activation: ``"relu"`` and ``"erf"`` are exact; others use quadrature.
        c_sigma: the layer constant; ``None`` for 1/E[σ(z)²].

    Returns:
        :class:`LayerKernels` in the dtype and device of ``X``.

    Raises:
        ValueError: bad shapes or hyper-parameters, or kernels that overflow the dtype.
    """
    out = _recursion(X, Z, depth, activation, c_sigma, nngp=False, ntk=False, layers=True)
    return LayerKernels(tuple(out.sigma), tuple(out.sigma_dot))


def analytic_kernels(
    X: torch.Tensor,
    Z: torch.Tensor | None = None,
    *,
    depth: int = 1,
    activation: str = "relu",
    c_sigma: float | None = None,
) -> AnalyticKernels:
    """The NNGP Σ⁽ᴸ⁾ and the NTK Θ⁽ᴸ⁾ together, from one run of the recursion.

    The same values as :func:`analytic_nngp` and :func:`analytic_ntk`, for the cost of one.
    """
    out = _recursion(X, Z, depth, activation, c_sigma, nngp=True, ntk=True, layers=False)
    return AnalyticKernels(out.nngp, out.ntk)


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
    return _recursion(X, Z, depth, activation, c_sigma, nngp=True, ntk=False, layers=False).nngp


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
    return _recursion(X, Z, depth, activation, c_sigma, nngp=False, ntk=True, layers=False).ntk


def relu_two_layer_ntk(X: torch.Tensor, Z: torch.Tensor | None = None) -> torch.Tensor:
    """H^∞(x, z) = xᵀz (π − arccos(x̂ᵀẑ)) / (2π) (Du et al. 2019, Sec. 3; Zhang & Zhang 2022, eq. 4).

    The kernel of :class:`ntkbook.TwoLayerReLU` (first layer trained, output layer fixed) in the
    limit m → ∞, for every initialization scale κ: E_{w~N(0,I)}[xᵀz 1{wᵀx ≥ 0, wᵀz ≥ 0}].
    It equals ½ Σ⁽⁰⁾ Σ̇⁽¹⁾ in the notation of :func:`layer_kernels` (ReLU, c_σ = 2).
    """
    X, Z = _check_pair(X, Z)
    Z_ = X if Z is None else Z
    _, ux = _row_norms(X, "X")
    uz = ux if Z is None else _row_norms(Z_, "Z")[1]
    cos = _snap_correlations_(ux @ uz.T)
    return (X @ Z_.T) * (math.pi - torch.arccos(cos)) / (2 * math.pi)
