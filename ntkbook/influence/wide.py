"""The wide two-layer network of Zhang & Zhang (2022) trained on its regularized loss (chapter 8).

The network is :class:`~ntkbook.TwoLayerReLU`, f(x; W) = m^{-1/2} Σ_r a_r relu(w_rᵀx) with the
signs a_r fixed, and the objective is eq. 2 of Zhang & Zhang, anchored at the initialization:

    L(W) = ½ Σ_i (f(x_i; W) − y_i)² + ½ λ ‖W − W(0)‖²_F.

* :func:`train_regularized` — the minimizer of L reached from W(0) (or from a given start);
* :func:`nn_loo_influence` — the influence of eq. 7, I_nn[t, i] = ½(f⁽⁻ⁱ⁾(x_t) − y_t)² −
  ½(f(x_t) − y_t)², by retraining without each training point.

How the minimizer is found (chapter 8 derives each step). Because relu(z) = z·1{z > 0}, the
network is linear in W once its activation pattern S_ir = 1{w_rᵀx_i > 0} is fixed:
f(x_i; W) = J_S(x_i) vec(W). On each region of fixed pattern L is therefore quadratic with
Hessian J_SᵀJ_S + λI (ReLU's second derivative vanishes away from the kinks), and its minimizer
is, by the push-through identity (JᵀJ + λI)⁻¹Jᵀ = Jᵀ(JJᵀ + λI)⁻¹,

    W⁺ = W(0) + J_Sᵀ β,   (H_S + λI) β = y − J_S vec(W(0)),   H_S = (XXᵀ) ⊙ (SSᵀ) / m,

an n × n solve with the structured Gram instead of an md × md one. A minimizer of L often sits
on kinks — pre-activations exactly at 0, where the two sides' quadratics both point across — so
a region may also hold some entries at 0 as equality constraints; their multipliers give the
subgradient s ∈ [0, 1] of relu that makes the point stationary. Each step solves the region's
constrained quadratic (KKT system of size n plus the number of kinks, the kinks eliminated
first), checks its answer (signs as assumed, every s in [0, 1]), takes it or backtracks on L
itself (Armijo), and moves to the next region by a primal-dual active-set rule: an entry of the
wrong sign flips, or is held at 0 if it has flipped before; a kink whose s leaves [0, 1] is
released. When the regions cycle, only the most violated entry changes; when no region step
lowers L, a step along the least-norm Clarke subgradient (steepest descent) is taken. A fit
ends with one of three statuses:

* ``"exact"`` — the region's minimizer passed every check: a stationary point of L, exactly;
* ``"stationary"`` — the least-norm subgradient is below ``tol``·(1 + max|y|);
* ``"stalled"`` — three steps in a row moved no training prediction by more than
  ``tol``·(1 + max|y|), or L stopped decreasing (relative 1e-13 over ten steps).

Only pre-activations that can have changed sign are recomputed at each step: those within the
distance each neuron has moved from a reference point, found by one sorted pass. A step costs
one (m × n)·(n × d) product, the KKT solve and work proportional to the candidates.

The loss has many nearby minimizers at moderate width (each kink is a choice), so "the" trained
network is only defined up to their spread; chapter 8 measures it (retraining from W(0) against
retraining from the full-data minimizer, two tolerances) and compares it with the influences.
"""

from __future__ import annotations

import copy
import math
import numbers
import time
from dataclasses import dataclass

import torch

from .._checks import as_matrix, as_vector, positive_float, positive_int
from ..empirical import _symmetric_counts
from ..models import TwoLayerReLU

# Activation counts (SSᵀ) are integers ≤ m: exact in float32 below 2**24.
_EXACT_FLOAT32_COUNTS = 2**24
_ARMIJO = 1e-4
_SMALLEST_STEP = 2.0**-30
_PATIENCE = 3
_STALL_WINDOW = 10
_MAX_DESCENTS = 3  # steepest-descent steps a fit may take when its region steps stall
_STALL_DECREASE = 1e-13  # relative decrease of L over the window that counts as none
_CYCLE_MEMORY = 8
_OVERSHOOT = 0.5
_MAX_CYCLES = 4  # repeated region changes after which a fit counts as stalled
_KINK_BAND = 1e-12
_SUBGRADIENT_SWEEPS = 20
_SORT_AFTER_USES = 3  # a reference checked this often is worth sorting once
_SLACK = 1e-9  # rounding allowance on a kink's subgradient s ∈ [0, 1]
_REFERENCE_REFRESH = 1 / 32  # candidates, as a share of all entries, that trigger a new reference
STARTS = ("warm", "init")


@dataclass(frozen=True)
class RegularizedFit:
    """A :class:`~ntkbook.TwoLayerReLU` trained on eq. 2, and how the training went.

    Attributes:
        model: the trained copy (its ``W`` is the minimizer; the signs ``a`` are unchanged).
        initial: the network at W(0), the anchor of the ridge term (a copy; never trained).
        ridge: λ.
        X: the (n, d) training inputs it was fitted to.
        y: the (n,) training targets.
        objective: (steps + 1,) L(W) at the start and after every step.
        step_sizes: (steps,) the step of every iteration: the line-search t ∈ [0, 1] of a region
            step (1 = the region's minimizer, 0 = only the region changed), or the length along
            −g of a steepest-descent step (its ``prediction_change`` is NaN).
        prediction_change: (steps,) max_i |Δf(x_i)|, the largest change of a training prediction.
        pattern_flips: (steps,) number of entries of the activation pattern that changed (or
            were put on or taken off their kink).
        kinks: (steps,) number of pre-activations held at exactly 0 after every step.
        pattern: (n, m) the activation pattern 1{w_rᵀx_i > 0} at the minimizer.
        on_kink: (n, m) the pre-activations w_rᵀx_i that sit exactly at 0 (the kink of relu).
        status: ``"exact"``, ``"stationary"`` or ``"stalled"`` (see the module docstring).
        seconds: wall-clock time of the fit.
    """

    model: TwoLayerReLU
    initial: TwoLayerReLU
    ridge: float
    X: torch.Tensor
    y: torch.Tensor
    objective: torch.Tensor
    step_sizes: torch.Tensor
    prediction_change: torch.Tensor
    pattern_flips: torch.Tensor
    kinks: torch.Tensor
    pattern: torch.Tensor
    on_kink: torch.Tensor
    status: str
    seconds: float

    @property
    def steps(self) -> int:
        """The number of Newton steps taken."""
        return int(self.step_sizes.numel())

    def __repr__(self) -> str:
        return (f"RegularizedFit({self.model!r}, ridge={self.ridge:g}, steps={self.steps}, "
                f"status={self.status!r}, objective={float(self.objective[-1]):.6g})")


class _Problem:
    """Eq. 2 on the training set, and what every step reuses."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor, W0: torch.Tensor, a: torch.Tensor,
                 ridge: float) -> None:
        self.X, self.y, self.W0, self.a, self.ridge = X, y, W0, a, ridge
        self.n, self.m = X.shape[0], W0.shape[0]
        self.sqrt_m = math.sqrt(self.m)
        self.a_scaled = a / self.sqrt_m
        self.Z0 = X @ W0.T                               # pre-activations at W(0)
        self.gram = X @ X.T
        self.count_dtype = torch.float32 if self.m < _EXACT_FLOAT32_COUNTS else X.dtype
        self.scale_y = 1.0 + float(y.abs().max())
        self.max_input_norm = float(torch.linalg.vector_norm(X, dim=1).max())

    def outputs(self, Z: torch.Tensor) -> torch.Tensor:
        return torch.relu(Z) @ self.a / self.sqrt_m

    def weights(self, beta: torch.Tensor, Sf: torch.Tensor, rows: torch.Tensor,
                cols: torch.Tensor, kappa: torch.Tensor) -> torch.Tensor:
        """W(0) + J_Sᵀβ + Cᵀγ: neuron r gets a_r m^{-1/2} Σ_i c_ir x_i with c_ir = S_ir β_i,
        plus κ_k x_{i_k} for its kinks (κ = γ)."""
        W = torch.addcmul(self.W0, self.a_scaled[:, None], Sf.T @ (beta[:, None] * self.X))
        if rows.numel():
            W.index_add_(0, cols, kappa[:, None] * self.X[rows])
        return W


class _Reference:
    """Exact pre-activations Z = X Wᵀ at one point W, against which later points are checked.

    An entry (i, r) with |z_ir| > ‖x_i‖·‖w_r − w_r^ref‖ has the same sign at w_r as at the
    reference, so a step whose endpoints both move neuron r by less than |z_ir|/max‖x‖ cannot
    change it: only the other entries (the *candidates*) need their pre-activations computed.
    """

    def __init__(self, problem: _Problem, W: torch.Tensor, Z: torch.Tensor | None = None):
        self.W = W
        self.Z = problem.X @ W.T if Z is None else Z
        self.f = problem.outputs(self.Z)
        self.positive = self.Z > 0
        self.abs_Z = self.Z.abs()
        self.m = problem.m
        self._uses = 0
        self._sorted: tuple[torch.Tensor, torch.Tensor] | None = None

    def near(self, threshold: torch.Tensor) -> torch.Tensor:
        """Flat indices i·m + r of the entries with |z_ir| ≤ threshold[r]."""
        self._uses += 1
        if self._sorted is None and self._uses > _SORT_AFTER_USES:
            values, rows = self.abs_Z.T.contiguous().sort(dim=1)   # per neuron: (m, n)
            self._sorted = (values, rows)
        if self._sorted is None:
            rows, cols = (self.abs_Z <= threshold[None, :]).nonzero(as_tuple=True)
            return rows * self.m + cols
        values, sorted_rows = self._sorted
        counts = torch.searchsorted(values, threshold[:, None]).reshape(-1)
        cols = torch.repeat_interleave(torch.arange(self.m, device=counts.device), counts)
        starts = torch.cumsum(counts, 0) - counts
        position = torch.arange(cols.numel(), device=counts.device) - starts[cols]
        return sorted_rows[cols, position] * self.m + cols


@dataclass
class _State:
    """The region an iterate is in, and what the region's quadratic needs.

    Every pre-activation z_ir = w_rᵀx_i is *active* (z > 0), *inactive* (z < 0) or held on its
    *kink* (z = 0, a constraint; ``kinks`` lists them as flat indices i·m + r). ``Sf`` is
    ``active`` as 0/1 numbers, ``counts`` = S Sᵀ and ``u0`` = J_S vec(W(0)), kept up to date
    entry by entry as the region changes. ``crossed`` marks the entries that have changed sign:
    one that crosses back is put on its kink instead. ``modified`` lists (with repeats) the
    entries whose region may disagree with the sign at the reference point: they are checked at
    every step. Row ``excluded`` (if any) is the removed training point.
    """

    active: torch.Tensor
    Sf: torch.Tensor
    kink: torch.Tensor
    kinks: torch.Tensor
    crossed: torch.Tensor
    modified: torch.Tensor
    counts: torch.Tensor
    u0: torch.Tensor
    excluded: int | None = None

    @classmethod
    def create(cls, problem: _Problem, reference: _Reference, active: torch.Tensor,
               kink: torch.Tensor | None = None) -> _State:
        kink = torch.zeros_like(active) if kink is None else kink.clone()
        Sf = active.to(problem.X.dtype)
        return cls(active.clone(), Sf, kink, kink.reshape(-1).nonzero().reshape(-1),
                   torch.zeros_like(active),
                   ((active != reference.positive) | kink).reshape(-1).nonzero().reshape(-1),
                   _symmetric_counts(active.to(problem.count_dtype)),
                   (problem.Z0 * Sf) @ problem.a / problem.sqrt_m)

    def copy(self, excluded: int | None) -> _State:
        return _State(self.active.clone(), self.Sf.clone(), self.kink.clone(), self.kinks.clone(),
                      torch.zeros_like(self.crossed), self.modified.clone(),
                      self.counts.clone(), self.u0.clone(), excluded)

    def rebase(self, reference: _Reference) -> None:
        """Check against a new reference point from now on."""
        self.modified = ((self.active != reference.positive) | self.kink).reshape(-1).nonzero(
        ).reshape(-1)

    def set_active(self, problem: _Problem, rows: torch.Tensor, cols: torch.Tensor,
                   value: bool) -> None:
        """Make the entries (rows, cols) active (``value``) or not, updating Sf, counts, u0."""
        change = self.active[rows, cols] != value
        rows, cols = rows[change], cols[change]
        if not rows.numel():
            return
        columns = torch.unique(cols)
        old = self.Sf[:, columns].to(problem.count_dtype)
        self.active[rows, cols] = value
        self.Sf[rows, cols] = float(value)
        self.modified = torch.cat([self.modified, rows * problem.m + cols])
        if 4 * columns.numel() < problem.m:
            new = self.Sf[:, columns].to(problem.count_dtype)
            self.counts += new @ new.T - old @ old.T
        else:
            self.counts = _symmetric_counts(self.active.to(problem.count_dtype))
        sign = 1.0 if value else -1.0
        self.u0.index_add_(0, rows, sign * problem.Z0[rows, cols] * problem.a[cols]
                           / problem.sqrt_m)

    def hold_on_kink(self, problem: _Problem, rows: torch.Tensor, cols: torch.Tensor) -> None:
        self.set_active(problem, rows, cols, False)
        fresh = ~self.kink[rows, cols]
        rows, cols = rows[fresh], cols[fresh]
        self.kink[rows, cols] = True
        self.kinks = torch.cat([self.kinks, rows * problem.m + cols])
        self.modified = torch.cat([self.modified, rows * problem.m + cols])

    def release(self, problem: _Problem, rows: torch.Tensor, cols: torch.Tensor) -> None:
        if not rows.numel():
            return
        self.kink[rows, cols] = False
        self.kinks = self.kinks[self.kink.reshape(-1)[self.kinks]]


def _solve_state(problem: _Problem, state: _State):
    """Minimize eq. 2 over the region of ``state``: the quadratic with pattern ``active``,
    subject to z_ir = 0 on the kinks.

    With W = W(0) + J_Sᵀβ + Cᵀγ (C: one row x_iᵀ acting on w_r per kink (i, r)), the KKT
    conditions are the (n + k) × (n + k) system [[H_S + λI, B], [Bᵀ, E]] [β; γ] =
    [y − J_S vec(W(0)); −C vec(W(0))], with B = J_S Cᵀ and E = C Cᵀ (block diagonal: kinks
    of different neurons do not interact); γ is eliminated first. Then f(x_i; W) = y_i − λβ_i
    on the pattern, ‖W − W(0)‖² = βᵀH_Sβ + 2βᵀBγ + γᵀEγ, and the kink (i, r) carries the
    subgradient s_ir = √m a_r γ_ir / β_i of relu at 0 (W is stationary iff s ∈ [0, 1]).

    The removed point (if any) keeps its row with the equation β_i = 0, so no matrix is copied.
    Returns β on all n rows (0 on the removed one), the kinks' rows, columns and γ, the
    products β_i s_ir = √m a_r γ_ir and ‖W − W(0)‖².
    """
    X, a, sqrt_m, excluded = problem.X, problem.a, problem.sqrt_m, state.excluded
    H = problem.gram * state.counts.to(X.dtype)
    H /= problem.m
    rhs = problem.y - state.u0
    if excluded is not None:
        H[excluded] = 0.0
        H[:, excluded] = 0.0
        rhs[excluded] = 0.0
    M = H.clone()
    M.diagonal().add_(problem.ridge)
    if excluded is not None:
        M[excluded, excluded] = 1.0
    rows, cols = state.kinks // problem.m, state.kinks % problem.m
    if excluded is not None:
        on = rows != excluded
        rows, cols = rows[on], cols[on]
    order = torch.argsort(cols, stable=True)
    rows, cols = rows[order], cols[order]
    k = rows.numel()
    gamma = X.new_zeros(0)
    beta = None
    if k:
        B = state.Sf[:, cols] * problem.gram[:, rows] * (a[cols] / sqrt_m)
        if excluded is not None:
            B[excluded] = 0.0
        rhs2 = -problem.Z0[rows, cols]
        solved = _solve_kink_blocks(problem.gram, rows, cols, torch.cat([B.T, rhs2[:, None]], 1))
        Einv_Bt, Einv_r2 = solved[:, :-1], solved[:, -1]
        chol, info = torch.linalg.cholesky_ex(M - B @ Einv_Bt)
        if int(info) != 0:
            raise ValueError("the regularized Gram is not positive definite; is ridge > 0?")
        beta = torch.cholesky_solve((rhs - B @ Einv_r2)[:, None], chol)[:, 0]
        gamma = Einv_r2 - Einv_Bt @ beta
    else:
        chol, info = torch.linalg.cholesky_ex(M)
        if int(info) != 0:
            raise ValueError("the regularized Gram is not positive definite; is ridge > 0?")
        beta = torch.cholesky_solve(rhs[:, None], chol)[:, 0]
    if excluded is not None:
        beta[excluded] = 0.0
    distance2 = float(beta @ (H @ beta))
    if k:
        # Bᵀβ + Eγ = −C vec(W(0)) is the KKT system's second row: γᵀEγ needs no product with E
        distance2 += float(2 * beta @ (B @ gamma) + gamma @ (rhs2 - B.T @ beta))
    return beta, rows, cols, gamma, sqrt_m * a[cols] * gamma, distance2


def _solve_kink_blocks(gram: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                       R: torch.Tensor) -> torch.Tensor:
    """E⁺R for E = C Cᵀ (E_kl = x_kᵀx_l for two kinks of one neuron, 0 across neurons), block
    by block, for kinks sorted by neuron (``cols``).

    The blocks of one size are solved in one batch, without padding: a neuron with many kinks
    costs its own block, not one of that size for every neuron. A block is singular when its
    neuron holds kinks at linearly dependent inputs (more kinks than the inputs span, or one
    input twice). The constraints are then redundant but consistent, and the KKT system of
    :func:`_solve_state` still has a unique β and a unique W, with γ determined up to the null
    space of Cᵀ: E's pseudo-inverse gives its γ of least norm, as a least-squares solve of the
    whole (n + k) × (n + k) system would.
    """
    out = torch.empty_like(R)
    _, neuron, counts = torch.unique_consecutive(cols, return_inverse=True, return_counts=True)
    size = counts[neuron]
    lone = size == 1
    if bool(lone.any()):
        # 1 × 1 blocks ‖x_k‖²; a zero input makes its constraint 0 = 0, with pseudo-inverse 0
        norms = gram[rows[lone], rows[lone]][:, None]
        out[lone] = torch.where(norms > 0, R[lone] / norms.where(norms > 0, 1.0), 0.0)
    for s in torch.unique(size[~lone]).tolist():
        # the kinks of the neurons with s kinks, neuron by neuron (cols is sorted)
        members = (size == s).nonzero().reshape(-1)
        r = rows[members].reshape(-1, s)
        blocks = gram[r[:, :, None], r[:, None, :]]
        rhs = R[members].reshape(r.shape[0], s, R.shape[1])
        chol, info = torch.linalg.cholesky_ex(blocks)
        singular = info != 0
        if bool(singular.any()):
            solution = torch.empty_like(rhs)
            regular = ~singular
            solution[regular] = torch.cholesky_solve(rhs[regular], chol[regular])
            # pseudo-inverse by eigendecomposition, with lstsq's default cutoff eps·size
            # relative to the block's trace (which bounds its largest eigenvalue)
            values, vectors = torch.linalg.eigh(blocks[singular])
            trace = values.sum(-1, keepdim=True).clamp_min(0.0)
            cutoff = s * torch.finfo(R.dtype).eps * trace
            inverse = torch.where(values > cutoff, 1.0 / values.clamp_min(cutoff), 0.0)
            solution[singular] = vectors @ (inverse[..., None] * (vectors.mT @ rhs[singular]))
        else:
            solution = torch.cholesky_solve(rhs, chol)
        out[members] = solution.reshape(-1, R.shape[1])
    return out


def _candidates(problem: _Problem, reference: _Reference, state: _State,
                movement: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The entries whose sign may differ from the reference's for neurons that moved at most
    ``movement`` (m,), plus those whose region may already disagree with the reference."""
    threshold = problem.max_input_norm * movement * (1 + 1e-9) + 1e-300
    flat = torch.unique(torch.cat([reference.near(threshold), state.modified, state.kinks]))
    rows, cols = flat // problem.m, flat % problem.m
    if state.excluded is not None:
        on = rows != state.excluded
        rows, cols = rows[on], cols[on]
    return rows, cols


def _pre_activations(problem: _Problem, W: torch.Tensor, rows: torch.Tensor,
                     cols: torch.Tensor) -> torch.Tensor:
    out = torch.empty(rows.numel(), dtype=W.dtype, device=W.device)
    chunk = 1 << 16
    for start in range(0, rows.numel(), chunk):
        r, c = rows[start:start + chunk], cols[start:start + chunk]
        out[start:start + chunk] = (problem.X[r] * W[c]).sum(1)
    return out


def _kink_band(Z: torch.Tensor) -> float:
    """|z| below which a pre-activation counts as sitting on its kink (rounding of X Wᵀ)."""
    return _KINK_BAND * float(Z.abs().max())


def _min_norm_subgradient(problem: _Problem, W: torch.Tensor, Z: torch.Tensor,
                          f: torch.Tensor, weight: torch.Tensor):
    """The element of least norm of the Clarke subdifferential of L at W, and its norm.

    Away from the kinks ∇L = J_Sᵀ(f − y) + λ(W − W(0)). An entry on its kink (|z_ir| within
    rounding of 0) contributes s·c_ir x_i to neuron r for any s ∈ [0, 1], c_ir = a_r(f_i − y_i)/√m;
    the neurons are orthogonal blocks, so the least-norm choice of s is a small box-constrained
    least-squares problem per neuron (closed form for one kink, coordinate descent for more).
    W is Clarke stationary iff the norm is 0, and −g is then the steepest-descent direction of
    L at W whenever the kinks are convex (c_ir > 0).
    """
    X, a_scaled = problem.X, problem.a_scaled
    residual = (f - problem.y) * weight
    band = _kink_band(Z)
    on_kink = (Z.abs() <= band) & (weight[:, None] > 0)
    S = (Z > band).to(X.dtype)
    g = torch.addcmul(problem.ridge * (W - problem.W0), a_scaled[:, None],
                      S.T @ (residual[:, None] * X))
    rows, cols = on_kink.nonzero(as_tuple=True)
    if rows.numel():
        V = (a_scaled[cols] * residual[rows])[:, None] * X[rows]          # (k, d)
        counts = torch.bincount(cols, minlength=problem.m)
        single = counts[cols] == 1
        v, c = V[single], cols[single]
        s_single = (-(g[c] * v).sum(1) / (v * v).sum(1).clamp_min(1e-300)).clamp(0, 1)
        g.index_add_(0, c, s_single[:, None] * v)
        multi = (~single).nonzero().reshape(-1)
        if multi.numel():
            # Coordinate descent on the box, all neurons at once: round j updates the j-th
            # kink of every neuron that has one.
            V_m, c_m = V[multi], cols[multi]
            order = torch.argsort(c_m, stable=True)
            V_m, c_m = V_m[order], c_m[order]
            first = torch.searchsorted(c_m, c_m)          # index of each neuron's first kink
            rank = torch.arange(c_m.numel(), device=c_m.device) - first
            s_m = torch.zeros(c_m.numel(), dtype=X.dtype, device=X.device)
            norms = (V_m * V_m).sum(1).clamp_min(1e-300)
            for _ in range(_SUBGRADIENT_SWEEPS):
                for j in range(int(rank.max()) + 1):
                    k = (rank == j).nonzero().reshape(-1)
                    r, v = c_m[k], V_m[k]
                    base = g[r] - s_m[k, None] * v
                    s_new = (-(base * v).sum(1) / norms[k]).clamp(0, 1)
                    g[r] = base + s_new[:, None] * v
                    s_m[k] = s_new
    return g, float(torch.linalg.vector_norm(g))


def _descent_step(problem: _Problem, W: torch.Tensor, Z: torch.Tensor, f: torch.Tensor,
                  g: torch.Tensor, g_norm: float, weight: torch.Tensor, value: float, objective):
    """Backtracking (Armijo) along −g from W; (None, value, 0) if no step lowers L."""
    W0 = problem.W0
    dZ = -(problem.X @ g.T)
    cross = -float(((W - W0) * g).sum())
    distance2 = float(((W - W0) ** 2).sum())
    step = 1.0 / problem.ridge
    while step >= _SMALLEST_STEP / problem.ridge:
        f_s = problem.outputs(Z + step * dZ)
        value_s = objective(f_s, distance2 + 2 * step * cross + step**2 * g_norm**2)
        if value_s <= value - _ARMIJO * step * g_norm**2:
            return W - step * g, value_s, step
        step *= 0.5
    return None, value, 0.0


def _newton(problem: _Problem, reference: _Reference, W: torch.Tensor, state: _State, *,
            tol: float, max_steps: int, descents_allowed: int = _MAX_DESCENTS
            ) -> tuple[torch.Tensor, dict]:
    """Active-set Newton iteration on eq. 2 from W (in the region ``state``), with at most
    ``descents_allowed`` steepest-descent steps when the region steps stall."""
    y, W0, a, ridge, sqrt_m = problem.y, problem.W0, problem.a, problem.ridge, problem.sqrt_m
    keep = torch.arange(problem.n, device=y.device)
    excluded = state.excluded
    weight = torch.ones_like(y)
    if excluded is not None:
        keep = keep[keep != excluded]
        weight[excluded] = 0.0

    def objective(f: torch.Tensor, distance2: float) -> float:
        return 0.5 * float(((f[keep] - y[keep]) ** 2).sum()) + 0.5 * ridge * distance2

    def movement(V: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(V - reference.W, dim=1)

    f = reference.f if W is reference.W else problem.outputs(problem.X @ W.T)
    distance2 = float(((W - W0) ** 2).sum())
    value = objective(f, distance2)
    moved = movement(W)
    record = {"objective": [value], "step_sizes": [], "prediction_change": [],
              "pattern_flips": [], "kinks": [], "status": None}
    previous_changes: list[torch.Tensor] = []
    descents = 0
    cycles = 0
    for _ in range(max_steps):
        beta, rows, cols, gamma, kappa_s, distance2_t = _solve_state(problem, state)
        target = problem.weights(beta, state.Sf, rows, cols, gamma)
        moved_t = movement(target)
        c_rows, c_cols = _candidates(problem, reference, state, torch.maximum(moved, moved_t))
        z_t = _pre_activations(problem, target, c_rows, c_cols)
        on_kink = state.kink[c_rows, c_cols]
        # Is the target a stationary point of L? Its pre-activations must have the signs the
        # region assumed, and every kink must carry a subgradient s ∈ [0, 1] (βs ∈ [0, β]).
        wrong = ((z_t > 0) != state.active[c_rows, c_cols]) & ~on_kink
        beta_k = beta[rows]
        s_beta = kappa_s
        positive = beta_k > 0
        up = torch.where(positive, s_beta > beta_k * (1 + _SLACK), s_beta < beta_k * (1 + _SLACK))
        down = torch.where(positive, s_beta < -_SLACK * beta_k, s_beta > -_SLACK * beta_k)
        consistent = not (bool(wrong.any()) or bool(up.any()) or bool(down.any()))
        # f at the target: y − λβ on the region's pattern, corrected where a sign is wrong or a
        # kink's pre-activation is not exactly 0.
        w_rows, w_cols, w_z = c_rows[wrong], c_cols[wrong], z_t[wrong]
        f_t = (y - ridge * beta).index_add(
            0, w_rows, (torch.relu(w_z) - state.Sf[w_rows, w_cols] * w_z) * a[w_cols] / sqrt_m)
        k_z = z_t[on_kink]
        f_t = f_t.index_add(0, c_rows[on_kink], torch.relu(k_z) * a[c_cols[on_kink]] / sqrt_m)
        value_t = objective(f_t, distance2_t)
        t = 1.0
        if not consistent and value_t > value:
            # Backtrack on L along the segment. Only candidates can change sign on it, so f is
            # the linear interpolation of its ends corrected on the candidates that cross.
            z_c = _pre_activations(problem, W, c_rows, c_cols)
            crossing = (z_c > 0) != (z_t > 0)
            x_rows, x_cols = c_rows[crossing], c_cols[crossing]
            x_c, x_t, x_a = z_c[crossing], z_t[crossing], a[x_cols] / sqrt_m
            inner = float(((W - W0) * (target - W0)).sum())
            f_end, distance2_end = f_t, distance2_t
            rising = ((x_c > 0) | ((x_c == 0) & (x_t > x_c))).to(x_c.dtype)
            df = (f_t - f).index_add(
                0, x_rows, (rising * (x_t - x_c) - (torch.relu(x_t) - torch.relu(x_c))) * x_a)
            slope = min(float(((f - y)[keep] * df[keep]).sum())
                        + ridge * (inner - distance2), 0.0)
            while t >= _SMALLEST_STEP:
                t *= 0.5
                bend = (torch.relu(x_c + t * (x_t - x_c)) - (1 - t) * torch.relu(x_c)
                        - t * torch.relu(x_t))
                f_t = ((1 - t) * f + t * f_end).index_add(0, x_rows, bend * x_a)
                distance2_t = ((1 - t) ** 2 * distance2 + 2 * t * (1 - t) * inner
                               + t**2 * distance2_end)
                value_t = objective(f_t, distance2_t)
                if value_t <= value + _ARMIJO * t * slope:
                    break
            else:
                t = 0.0  # no decrease along this direction: only the region changes
        # The next region, from the target (a primal-dual active-set rule): an entry with the
        # wrong sign flips (or is held on its kink, below); a kink whose subgradient leaves
        # [0, 1] is released to the side it points to.
        released = up | down
        changes = torch.cat([w_rows * problem.m + w_cols,
                             rows[released] * problem.m + cols[released]]).sort().values
        repeated = changes.numel() > 0 and any(torch.equal(changes, c) for c in previous_changes)
        cycles += int(repeated)
        if repeated and changes.numel() > 1:
            # The same entries change again as a few steps ago (the regions cycle, each step
            # only a sliver of a descent): change just the most violated one this time.
            if bool(released.any()):
                excess = torch.where(released, (kappa_s / beta_k - (kappa_s / beta_k).clamp(0, 1))
                                     .abs().nan_to_num(0.0), -1.0)
                released = torch.zeros_like(released)
                released[excess.argmax()] = True
                up, down = up & released, down & released
                w_rows, w_cols, w_z = w_rows[:0], w_cols[:0], w_z[:0]
            else:
                worst = w_z.abs().argmax()
                w_rows, w_cols, w_z = w_rows[worst:worst + 1], w_cols[worst:worst + 1], w_z[
                    worst:worst + 1]
        previous_changes = [changes, *previous_changes[:_CYCLE_MEMORY - 1]]
        # Held on its kink instead: an entry that has crossed before, or whose target lands just
        # past the kink (by less than half of its move) — a valley the step overshoots.
        z_now = _pre_activations(problem, W, w_rows, w_cols)
        again = state.crossed[w_rows, w_cols] | (w_z.abs() < _OVERSHOOT * (w_z - z_now).abs())
        to_kink_rows, to_kink_cols = w_rows[again], w_cols[again]
        flip_rows, flip_cols = w_rows[~again], w_cols[~again]
        becomes_active = ~state.active[flip_rows, flip_cols]
        state.set_active(problem, flip_rows[becomes_active], flip_cols[becomes_active], True)
        state.set_active(problem, flip_rows[~becomes_active], flip_cols[~becomes_active], False)
        state.hold_on_kink(problem, to_kink_rows, to_kink_cols)
        state.release(problem, rows[released], cols[released])
        state.set_active(problem, rows[up], cols[up], True)
        if t > 0:
            state.crossed[flip_rows, flip_cols] = True
        else:
            # A step that cannot lower L means the region is cycling through kinks: forget
            # which entries crossed, so that they flip again instead of being held on kinks.
            state.crossed.zero_()
        flips = w_rows.numel() + int(released.sum())
        if t > 0:
            change = float((f_t - f)[keep].abs().max())
            if t == 1.0:
                W, moved = target, moved_t
            else:
                W, moved = W + t * (target - W), torch.maximum(moved, moved_t)
            f, distance2, value = f_t, distance2_t, value_t
        else:
            change = 0.0
        record["objective"].append(value)
        record["step_sizes"].append(t)
        record["prediction_change"].append(change)
        record["pattern_flips"].append(flips)
        record["kinks"].append(state.kinks.numel())
        if consistent and t == 1.0:
            record["status"] = "exact"
            break
        recent = record["prediction_change"][-_PATIENCE:]
        if len(recent) == _PATIENCE and max(recent) <= tol * problem.scale_y:
            record["status"] = "stalled"  # the predictions have stopped moving
            break
        if cycles >= _MAX_CYCLES:
            record["status"] = "stalled"  # the regions keep cycling through the same kinks
            break
        if t == 0.0 and descents < descents_allowed:
            # The region steps make no progress: is W stationary? If not, take a steepest-
            # descent step of the nonsmooth L, which no region's quadratic sees, and restart the
            # regions from where it lands.
            Z = problem.X @ W.T
            f = problem.outputs(Z)
            g, g_norm = _min_norm_subgradient(problem, W, Z, f, weight)
            if g_norm <= tol * problem.scale_y:
                record["status"] = "stationary"
                break
            moved_W, value_sd, step = _descent_step(problem, W, Z, f, g, g_norm, weight, value,
                                                    objective)
            if moved_W is None:
                record["status"] = "stalled"
                break
            descents += 1
            W = moved_W
            Z = problem.X @ W.T
            f = problem.outputs(Z)
            distance2 = float(((W - W0) ** 2).sum())
            value = objective(f, distance2)
            reference = _Reference(problem, W, Z)
            band = _kink_band(Z)
            kink = Z.abs() <= band
            if state.excluded is not None:
                kink[state.excluded] = False
            state = _State.create(problem, reference, Z > band, kink)
            state.excluded = excluded
            moved = torch.zeros_like(moved)
            record["objective"].append(value)
            record["step_sizes"].append(step)
            record["prediction_change"].append(float("nan"))
            record["pattern_flips"].append(0)
            record["kinks"].append(state.kinks.numel())
            previous_changes = []
        history = record["objective"][-_STALL_WINDOW - 1:]
        if len(history) > _STALL_WINDOW and history[0] - history[-1] <= _STALL_DECREASE * abs(
                history[-1]):
            record["status"] = "stalled"  # L no longer decreases: nothing left to gain
            break
        if t == 0.0:
            continue
        if c_rows.numel() > _REFERENCE_REFRESH * problem.n * problem.m and t > 0:
            # Far from the reference: check against the current point from now on.
            reference = _Reference(problem, W)
            state.rebase(reference)
            moved = torch.zeros_like(moved)
    if record["status"] is None:
        raise RuntimeError(
            f"training on eq. 2 did not converge in {max_steps} steps (last step size "
            f"{record['step_sizes'][-1]:.3g}, last change of a prediction "
            f"{record['prediction_change'][-1]:.3g}); raise max_steps or tol")
    return W, record


def _check_model(model: object, name: str = "model") -> TwoLayerReLU:
    if not isinstance(model, TwoLayerReLU):
        raise TypeError(f"{name} must be a TwoLayerReLU (the network of Zhang & Zhang, eq. 1), "
                        f"got {type(model).__name__}")
    return model


def _check_data(model: TwoLayerReLU, X: object, y: object, xname: str,
                yname: str) -> tuple[torch.Tensor, torch.Tensor]:
    X = as_matrix(X, xname)
    y = as_vector(y, yname, X.shape[0])
    W = model.W
    for tensor, name in ((X, xname), (y, yname)):
        if tensor.dtype != W.dtype:
            raise TypeError(f"{name} must have the model's dtype {W.dtype}, got {tensor.dtype}")
        if tensor.device != W.device:
            raise ValueError(f"{name} must be on the model's device {W.device}, "
                             f"got {tensor.device}")
    if X.shape[1] != model.d:
        raise ValueError(f"{xname} must have d = {model.d} columns for {model!r}, "
                         f"got {X.shape[1]}")
    return X, y


def _fit(initial: TwoLayerReLU, problem: _Problem, start: torch.Tensor, *, tol: float,
         max_steps: int) -> RegularizedFit:
    began = time.perf_counter()
    with torch.no_grad():
        reference = _Reference(problem, start)
        state = _State.create(problem, reference, reference.positive)
        W, record = _newton(problem, reference, start, state, tol=tol, max_steps=max_steps)
    trained = copy.deepcopy(initial).requires_grad_(True)   # W is a trainable parameter again
    with torch.no_grad():
        trained.W.copy_(W)
    dtype = problem.X.dtype
    return RegularizedFit(
        model=trained,
        initial=initial,
        ridge=problem.ridge,
        X=problem.X,
        y=problem.y,
        objective=torch.tensor(record["objective"], dtype=dtype),
        step_sizes=torch.tensor(record["step_sizes"], dtype=dtype),
        prediction_change=torch.tensor(record["prediction_change"], dtype=dtype),
        pattern_flips=torch.tensor(record["pattern_flips"], dtype=torch.long),
        kinks=torch.tensor(record["kinks"], dtype=torch.long),
        pattern=state.active,
        on_kink=state.kink,
        status=record["status"],
        seconds=time.perf_counter() - began,
    )


def train_regularized(
    model: TwoLayerReLU,
    X: torch.Tensor,
    y: torch.Tensor,
    ridge: float,
    *,
    start: TwoLayerReLU | torch.Tensor | None = None,
    tol: float = 1e-10,
    max_steps: int = 200,
) -> RegularizedFit:
    """Train a :class:`~ntkbook.TwoLayerReLU` on Zhang & Zhang's regularized loss (2022, eq. 2).

        L(W) = ½ Σ_i (f(x_i; W) − y_i)² + ½ λ ‖W − W(0)‖²_F,

    with W(0) the weights of ``model`` (only W is trained; the signs a stay fixed). The
    minimizer is reached by the active-set Newton iteration of this module's docstring, from
    W(0) — the start of the gradient flow of eq. 3 — unless ``start`` says otherwise.

    Args:
        model: the network at initialization W(0); it is not changed.
        X: (n, d) training inputs; y: (n,) targets — in the model's dtype and on its device.
        ridge: λ > 0 (with λ = 0 the minimizer is not unique, md > n).
        start: where the iteration starts: ``None`` for W(0), or a TwoLayerReLU / (m, d) tensor
            of weights (a warm start; the anchor stays W(0)).
        tol: the tolerance of the ``"stationary"`` and ``"stalled"`` stops, in units of
            1 + max|y| (see the module docstring).
        max_steps: at most this many Newton steps.

    Returns:
        :class:`RegularizedFit`, whose ``model`` is the trained copy.

    Raises:
        TypeError: ``model`` is not a TwoLayerReLU, or X, y have another dtype.
        ValueError: bad shapes, non-finite data, ridge ≤ 0, a start of the wrong shape.
        RuntimeError: no convergence within ``max_steps``.

    Example:
        >>> import ntkbook
        >>> X = ntkbook.data.sphere(20, 3, seed=0)
        >>> y = X[:, 0]
        >>> net = ntkbook.antisymmetric_copy(ntkbook.TwoLayerReLU(3, 2000, seed=0))
        >>> fit = train_regularized(net, X, y, ridge=1.0)
        >>> fit.status
        'exact'
    """
    model = _check_model(model)
    X, y = _check_data(model, X, y, "X", "y")
    ridge = positive_float(ridge, "ridge")
    tol = positive_float(tol, "tol")
    max_steps = positive_int(max_steps, "max_steps")
    initial = copy.deepcopy(model).requires_grad_(False)
    W0 = initial.W.detach()
    if start is None:
        W_start = W0.clone()
    else:
        if isinstance(start, TwoLayerReLU):
            W_start = start.W.detach()
        elif isinstance(start, torch.Tensor):
            W_start = start.detach()
        else:
            raise TypeError(f"start must be None, a TwoLayerReLU or a tensor, "
                            f"got {type(start).__name__}")
        if W_start.shape != W0.shape or W_start.dtype != W0.dtype:
            raise ValueError(f"start must have the weights' shape {tuple(W0.shape)} and dtype "
                             f"{W0.dtype}, got {tuple(W_start.shape)} and {W_start.dtype}")
        if isinstance(start, TwoLayerReLU) and not torch.equal(start.a, initial.a):
            raise ValueError("start must have the same output signs a as model")
        if not torch.isfinite(W_start).all():
            raise ValueError("start contains NaN or infinite weights")
        W_start = W_start.to(W0.device).clone()
    problem = _Problem(X, y, W0, initial.a, ridge)
    return _fit(initial, problem, W_start, tol=tol, max_steps=max_steps)


def _test_losses_change(f_without: torch.Tensor, f_with: torch.Tensor,
                        y_test: torch.Tensor) -> torch.Tensor:
    # ½(f' − y)² − ½(f − y)² = Δ(f − y) + ½Δ², without the cancellation of two squares.
    delta = f_without - f_with
    return delta * (f_with - y_test) + 0.5 * delta**2


def nn_loo_influence(
    model: TwoLayerReLU,
    X_train: torch.Tensor,
    y_train: torch.Tensor,
    X_test: torch.Tensor,
    y_test: torch.Tensor,
    ridge: float,
    *,
    indices=None,
    start: str = "warm",
    fit: RegularizedFit | None = None,
    tol: float = 1e-10,
    max_steps: int = 200,
    progress: bool = False,
) -> torch.Tensor:
    """Leave-one-out influence of the trained wide network (Zhang & Zhang 2022, eq. 7).

        I_nn[t, i] = ½(f⁽⁻ⁱ⁾(x_t) − y_t)² − ½(f(x_t) − y_t)²,

    with f the network trained on eq. 2 from W(0) on all n points and f⁽⁻ⁱ⁾ the network trained
    on the n − 1 points without i, with the same W(0) and λ (:func:`train_regularized`). The
    sign convention is that of :func:`ntkbook.ntk_loo_influence`, whose kernel formula (eq. 8–9)
    it is compared with in chapter 8: positive means i helped.

    Args:
        model: the network at initialization W(0).
        X_train, y_train: (n, d), (n,) the training set. X_test, y_test: (n_test, d), (n_test,).
        ridge: λ > 0.
        indices: the training points to remove, a sequence of distinct integers in [0, n)
            (all n when ``None``).
        start: ``"warm"`` — each retraining starts from the full-data minimizer (cheap: a few
            steps), or ``"init"`` — from W(0), as the gradient flow of eq. 3 would. For a convex
            objective both give the same minimizer; chapter 8 measures how far apart they are.
        fit: the full-data fit, if already computed by :func:`train_regularized` with this
            model, data and ridge (it is checked); computed otherwise.
        tol, max_steps: as :func:`train_regularized`, for every fit.
        progress: show a progress bar (tqdm) over the retrainings.

    Returns:
        (n_test, len(indices)) tensor.

    Raises:
        TypeError, ValueError: as :func:`train_regularized`, indices that are not distinct
            integers in range, a ``fit`` of another model, data or ridge.
        RuntimeError: a retraining that did not converge.
    """
    model = _check_model(model)
    X_train, y_train = _check_data(model, X_train, y_train, "X_train", "y_train")
    X_test, y_test = _check_data(model, X_test, y_test, "X_test", "y_test")
    ridge = positive_float(ridge, "ridge")
    tol = positive_float(tol, "tol")
    max_steps = positive_int(max_steps, "max_steps")
    if start not in STARTS:
        raise ValueError(f"start must be one of {STARTS}, got {start!r}")
    n = X_train.shape[0]
    if n < 2:
        raise ValueError(f"leave-one-out needs at least 2 training points, got n = {n}")
    indices = _check_indices(indices, n)
    if fit is None:
        fit = train_regularized(model, X_train, y_train, ridge, tol=tol, max_steps=max_steps)
    else:
        if not isinstance(fit, RegularizedFit):
            raise TypeError(f"fit must be a RegularizedFit, got {type(fit).__name__}")
        if not (torch.equal(fit.initial.W, model.W) and torch.equal(fit.initial.a, model.a)):
            raise ValueError("fit was trained from another initialization than model")
        if fit.ridge != ridge:
            raise ValueError(f"fit was trained with ridge {fit.ridge}, not {ridge}")
        if not (torch.equal(fit.X, X_train) and torch.equal(fit.y, y_train)):
            raise ValueError("fit was trained on other data than X_train, y_train")
    initial = fit.initial
    W0 = initial.W.detach()
    problem = _Problem(X_train, y_train, W0, initial.a, ridge)
    with torch.no_grad():
        f_with = fit.model(X_test)
        if start == "warm":
            W_begin = fit.model.W.detach()
            reference = _Reference(problem, W_begin)
            state_begin = _State.create(problem, reference, fit.pattern, fit.on_kink)
        else:
            W_begin = W0
            reference = _Reference(problem, W0, problem.Z0)
            state_begin = _State.create(problem, reference, reference.positive)
        out = torch.empty(X_test.shape[0], len(indices), dtype=W0.dtype, device=W0.device)
        loop = indices
        if progress:
            # the text bar, not tqdm.auto's widget: a widget's output needs scripts from a CDN to
            # display, and the book is read offline
            from tqdm import tqdm

            loop = tqdm(indices, desc=f"retraining without each point (m = {model.m})",
                        leave=False)
        for column, i in enumerate(loop):
            # A warm start sits next to the answer: its stalls are cycles between neighbouring
            # regions, which steepest-descent steps cost more than they gain.
            W, _ = _newton(problem, reference, W_begin, state_begin.copy(excluded=i), tol=tol,
                           max_steps=max_steps, descents_allowed=0 if start == "warm" else
                           _MAX_DESCENTS)
            f_without = torch.relu(X_test @ W.T) @ initial.a / problem.sqrt_m
            out[:, column] = _test_losses_change(f_without, f_with, y_test)
    return out


def _check_indices(indices, n: int) -> list[int]:
    if indices is None:
        return list(range(n))
    if isinstance(indices, torch.Tensor):
        if indices.dtype.is_floating_point or indices.dtype == torch.bool or indices.ndim != 1:
            raise ValueError("indices must be a 1-D sequence of integers")
        indices = indices.tolist()
    out = []
    for i in indices:
        if isinstance(i, bool) or not isinstance(i, numbers.Integral):
            raise TypeError(f"indices must be integers, got {i!r}")
        if not 0 <= i < n:
            raise ValueError(f"indices must lie in [0, {n}), got {i}")
        out.append(int(i))
    if len(set(out)) != len(out):
        raise ValueError("indices must not repeat")
    if not out:
        raise ValueError("indices must name at least one training point")
    return out
