"""When influence functions break: trained networks, their minima, and two retraining truths
(Basu, Pope & Feizi 2021; chapter 10).

Everything here works on the summed objective of the package (chapter 7, eq. 7.4),

    L(w) = Σ_i ℓ(f(x_i; w), y_i) + ½ λ ‖w − w_anchor‖²,

with the square loss ℓ = ½(f − y)² or the logistic loss ℓ = log(1 + e^{−yf}) (y = ±1), and with
the removal convention of influence, I[t, i] = ℓ_t(without i) − ℓ_t(with i) (positive: i helped).
The anchor is zero for ordinary weight decay and the initialization w₀ for Zhang & Zhang's
eq. 2, the regularizer of chapters 8–9.

* :func:`minimize` — train to a minimizer: L-BFGS, then a damped Newton method with the exact
  Hessian until ‖∇L‖ ≤ tol, so that the influence theorem's hypothesis ∇L(ŵ) = 0 holds to
  rounding;
* :func:`first_order_influence` — Koh & Liang's estimate ∇ℓ_tᵀ(H + μI)⁻¹∇ℓ_i from that Hessian;
* :func:`warm_start_retraining` — the leave-one-out stationary point reached by descent from ŵ
  (the object the influence function linearizes, where the path of minimizers reaches the
  removal), with the one-Newton-step estimate that uses the leave-one-out Hessian H₋ᵢ(ŵ) and how
  far each removal moves the weights;
* :func:`cold_start_retraining` — leave-one-out retraining from the initialization, the
  "ground truth" of practice, whose own noise any comparison with it must be read against;
* :func:`curvature` — the spectrum of H at the trained weights and its split into the
  Gauss–Newton part JᵀΛJ + λI and the network's own curvature Σ_i ℓ'_i ∇²f_i;
* :func:`agreement` — Pearson and Spearman correlation on the most influential points;
* :func:`fragility_run` — one configuration (depth, width, λ, seed) of the chapter's grid.

Networks of the class :class:`ntkbook.MLP` take a structured path: hand-written forward and
backward passes, which make a gradient of the chapter's small networks several times cheaper
than through ``torch.func`` (the refits take tens of thousands of them), and the Hessian by
forward-mode differentiation of that backward pass. Any other scalar-output module takes the
``torch.func`` path; the tests check that both give the same values, gradients and Hessians.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, grad_and_value, hessian, jacfwd, jacrev, vmap

from .._checks import as_matrix, as_vector, index_list, nonnegative_float, positive_float
from .._checks import positive_int as check_positive_int
from .._checks import seed as check_seed
from ..models import MLP
from .koh_liang import _example_losses, _Objective

MAX_PARAMETERS = 6000  # a P × P Hessian is formed and factored, as in chapter 7's direct solver
_ANCHORS = ("zero", "initial")


# --------------------------------------------------------------------------------------------
# The objective on a flat parameter vector


def _loss_derivatives(f: torch.Tensor, y: torch.Tensor, loss: str
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """ℓ'(f) and ℓ''(f), elementwise."""
    if loss == "squared":
        return f - y, torch.ones_like(f)
    return -y * torch.sigmoid(-y * f), torch.sigmoid(f) * torch.sigmoid(-f)


class _Flat(_Objective):
    """L(w) of a scalar-output module on flat parameter vectors (order: named_parameters):
    chapter 7's objective, with structured passes for :class:`ntkbook.MLP`."""

    def __init__(self, model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss: str,
                 ridge: float, anchor: torch.Tensor | None) -> None:
        if anchor is not None and not isinstance(anchor, torch.Tensor):
            raise TypeError(f"anchor must be a torch.Tensor or None, got {type(anchor).__name__}")
        super().__init__(model, X, y, loss, ridge, anchor)
        if not self.w.is_floating_point():
            raise TypeError(f"the model's parameters must be floating point, got {self.w.dtype}")
        self.sizes = [math.prod(s) for s in self.shapes]
        self.P = self.w.numel()
        self.fast = (type(model) is MLP and not self.frozen
                     and self.names == ["a"] + [f"weights.{h}" for h in range(model.depth)])

    # -- inputs -------------------------------------------------------------------------------
    def _inputs(self, X: object, name: str) -> torch.Tensor:
        X = as_matrix(X, name)
        if hasattr(self, "X") and X.shape[1] != self.X.shape[1]:
            raise ValueError(f"{name} must have {self.X.shape[1]} columns like X, "
                             f"got {X.shape[1]}")
        return X.to(dtype=self.w.dtype, device=self.w.device)

    def _targets(self, y: object, name: str, n: int) -> torch.Tensor:
        y = as_vector(y, name, n).to(dtype=self.w.dtype, device=self.w.device)
        if self.loss == "logistic" and not bool(((y == 1) | (y == -1)).all()):
            raise ValueError(f"the logistic loss needs labels {name} = ±1")
        return y

    # -- the network ----------------------------------------------------------------------------
    def _split(self, w: torch.Tensor) -> list[torch.Tensor]:
        return [p.reshape(s) for p, s in zip(torch.split(w, self.sizes), self.shapes)]

    def outputs(self, w: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        if self.fast:
            return self._mlp_forward(w, X, slopes=False)[0]
        params = dict(zip(self.names, self._split(w)))
        out = functional_call(self.model, {**self.frozen, **params}, (X,))
        if out.numel() != X.shape[0]:
            raise ValueError(f"the model must have a scalar output: {X.shape[0]} inputs gave an "
                             f"output of shape {tuple(out.shape)}")
        return out.reshape(-1)

    def _mlp_forward(self, w: torch.Tensor, X: torch.Tensor, slopes: bool = True):
        a, *Ws = self._split(w)
        scale, act = self.model.scale, self.model.activation
        h, hs, derivatives = X, [X], []
        for W in Ws:
            z = h @ W.T
            h = scale * act.fn(z)
            hs.append(h)
            if slopes:
                # fn and derivative separately: the fused value_and_derivative uses addcmul,
                # whose forward-mode derivative goes through a slow Python decomposition
                derivatives.append(scale * act.derivative(z))
        return h @ a, hs, derivatives, a, Ws

    def _mlp_backward(self, c: torch.Tensor, hs, slopes, a, Ws, per_example: bool):
        """Σ_i c_i ∇f(x_i) (per_example=False) or the rows c_i ∇f(x_i) (per_example=True)."""
        delta = c[:, None] * a[None, :]
        parts = []
        for h in range(len(Ws) - 1, -1, -1):
            g = delta * slopes[h]
            parts.append(g[:, :, None] * hs[h][:, None, :] if per_example else g.T @ hs[h])
            if h > 0:
                delta = g @ Ws[h]
        first = c[:, None] * hs[-1] if per_example else hs[-1].T @ c
        if per_example:
            return torch.cat([first] + [p.reshape(c.shape[0], -1) for p in parts[::-1]], 1)
        return torch.cat([first] + [p.reshape(-1) for p in parts[::-1]])

    # -- L, its gradient and Hessian -----------------------------------------------------------
    def value_and_gradient(self, w: torch.Tensor, keep: torch.Tensor | None = None
                           ) -> tuple[float, torch.Tensor]:
        """(L(w), ∇L(w)) from one forward and one backward pass."""
        if not self.fast:
            g, v = grad_and_value(lambda u: self.value(u, keep))(w)
            return float(v), g
        f, hs, slopes, a, Ws = self._mlp_forward(w, self.X)
        terms = _example_losses(f, self.y, self.loss)
        c = _loss_derivatives(f, self.y, self.loss)[0]
        if keep is not None:
            terms, c = keep * terms, keep * c
        offset = w - self.anchor
        value = float(terms.sum() + 0.5 * self.ridge * (offset @ offset))
        return value, self._mlp_backward(c, hs, slopes, a, Ws, False) + self.ridge * offset

    def gradient(self, w: torch.Tensor, keep: torch.Tensor | None = None,
                 X: torch.Tensor | None = None, y: torch.Tensor | None = None,
                 ridge: bool = True) -> torch.Tensor:
        """∇ of Σ_i keep_i ℓ_i (+ the ridge term) on (X, y) (the training set by default)."""
        X = self.X if X is None else X
        y = self.y if y is None else y
        if self.fast:
            f, hs, slopes, a, Ws = self._mlp_forward(w, X)
            c = _loss_derivatives(f, y, self.loss)[0]
            c = c if keep is None else keep * c
            out = self._mlp_backward(c, hs, slopes, a, Ws, per_example=False)
        else:
            def data_term(v: torch.Tensor) -> torch.Tensor:
                terms = _example_losses(self.outputs(v, X), y, self.loss)
                return terms.sum() if keep is None else (keep * terms).sum()

            out = grad(data_term)(w)
        return out + self.ridge * (w - self.anchor) if ridge else out

    def hessian(self, w: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        if self.fast:
            H = jacfwd(lambda v: self.gradient(v, keep))(w)
        else:
            H = hessian(lambda v: self.value(v, keep))(w)
        return 0.5 * (H + H.T)

    def example_hessians(self, w: torch.Tensor, rows: list[int]) -> torch.Tensor:
        """(len(rows), P, P) the per-example Hessians ∇²ℓ_i(w) (no ridge term).

        One vectorized pass over the examples, in chunks of at most 64 MiB of output: about the
        cost of one full Hessian, not of len(rows) of them.
        """
        index = torch.as_tensor(rows, dtype=torch.long, device=self.X.device)
        X, y = self.X[index], self.y[index]

        def one(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            if self.fast:
                return jacfwd(lambda v: self.gradient(v, None, x[None], target[None],
                                                      ridge=False))(w)
            return hessian(lambda v: _example_losses(self.outputs(v, x[None]), target[None],
                                                 self.loss).sum())(w)

        chunk = max(1, (64 * 2**20) // (8 * self.P * self.P))
        H = vmap(one, chunk_size=chunk)(X, y)
        return 0.5 * (H + H.transpose(1, 2))

    def jacobian(self, w: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """(n, P) rows ∇_w f(x_i; w)."""
        if self.fast:
            f, hs, slopes, a, Ws = self._mlp_forward(w, X)
            return self._mlp_backward(torch.ones_like(f), hs, slopes, a, Ws, per_example=True)
        return vmap(lambda x: jacrev(lambda v: self.outputs(v, x[None]).sum())(w))(X)

    def example_gradients(self, w: torch.Tensor, X: torch.Tensor, y: torch.Tensor
                          ) -> torch.Tensor:
        """(n, P) rows ∇_w ℓ(f(x_i; w), y_i)."""
        f = self.outputs(w, X)
        return _loss_derivatives(f, y, self.loss)[0][:, None] * self.jacobian(w, X)

    def test_losses(self, w: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return _example_losses(self.outputs(w, X), y, self.loss)

    def write(self, w: torch.Tensor) -> None:
        with torch.no_grad():
            for name, value in zip(self.names, self._split(w)):
                self.model.get_parameter(name).copy_(value)


def _objective(model: nn.Module, X: object, y: object, loss: str, ridge: float,
               anchor: object) -> _Flat:
    if isinstance(anchor, str):
        if anchor not in _ANCHORS:
            raise ValueError(f"anchor must be a tensor, None, or one of {_ANCHORS}, got "
                             f"{anchor!r}")
        if anchor == "zero":
            anchor = None
        else:
            anchor = torch.cat([p.detach().reshape(-1) for p in model.parameters()
                                if p.requires_grad])
    flat = _Flat(model, X, y, loss, ridge, anchor)
    if flat.P > MAX_PARAMETERS:
        raise ValueError(f"the model has P = {flat.P} trainable parameters; the exact Hessian "
                         f"is formed for P ≤ {MAX_PARAMETERS} (use koh_liang_influence with "
                         "solver='cg' beyond)")
    return flat


# --------------------------------------------------------------------------------------------
# Training to a minimizer


def _factor(M: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Cholesky factor of M + μI with μ = 0 if M is positive definite, otherwise μ = 1.1·|λ_min(M)|
    plus a rounding margin (the least damping that makes it safely positive definite)."""
    chol, info = torch.linalg.cholesky_ex(M)
    if int(info) == 0:
        return chol, 0.0
    eigenvalues = torch.linalg.eigvalsh(M)
    if not bool(torch.isfinite(eigenvalues).all()):
        raise ValueError("the Hessian is not finite; the objective is not twice differentiable "
                         "here")
    scale = max(float(eigenvalues.abs().max()), 1.0)
    mu = 1.1 * max(-float(eigenvalues[0]), 0.0) + 1e-10 * scale
    eye = torch.eye(M.shape[0], dtype=M.dtype, device=M.device)
    for _ in range(40):
        chol, info = torch.linalg.cholesky_ex(M + mu * eye)
        if int(info) == 0:
            return chol, mu
        mu *= 2.0
    raise ValueError("no damping makes the Hessian positive definite")


def _newton(flat: _Flat, w: torch.Tensor, keep: torch.Tensor | None, tol: float,
            max_iter: int) -> tuple[torch.Tensor, int, torch.Tensor | None]:
    """Damped Newton descent to ‖∇L‖ ≤ tol.

    Each step solves with a Cholesky factor of ∇²L + μI, μ ≥ 0 the least damping that makes it
    positive definite (:func:`_factor`), and backtracks (:func:`_armijo`). The Hessian is
    recomputed after a step only if the step had to be shortened below a quarter or reduced
    ‖∇L‖ by less than a tenth (otherwise the old factor is reused: a steady linear rate costs far
    less than fresh Hessians); a step that fails with a fresh Hessian raises the damping.
    Returns (w, steps, ∇²L(w) if it was computed at the final w, else None).
    """
    M = flat.hessian(w, keep)
    chol, _ = _factor(M)
    current, fresh, extra, steps = True, True, 0.0, 0
    eye = torch.eye(flat.P, dtype=w.dtype, device=w.device)
    value, g = flat.value_and_gradient(w, keep)
    while float(torch.linalg.vector_norm(g)) > tol:
        if steps == max_iter:
            raise RuntimeError(f"Newton's method did not reach ‖∇L‖ ≤ {tol:.1e} in "
                               f"{max_iter} steps (‖∇L‖ = "
                               f"{float(torch.linalg.vector_norm(g)):.2e})")
        steps += 1
        d = -torch.cholesky_solve(g[:, None], chol)[:, 0]
        found = _armijo(flat, w, keep, value, g, d)
        if found is not None:
            trial, trial_value, g_new = found
            # a fresh Hessian costs ~P gradients: keep the old factor while it buys a steady rate
            slow = (float(torch.linalg.vector_norm(trial - w)) < 0.25 * float(
                torch.linalg.vector_norm(d)) or float(torch.linalg.vector_norm(g_new)) > 0.9
                * float(torch.linalg.vector_norm(g)))
            w, g, value = trial, g_new, trial_value
            if slow:
                M, extra, fresh = flat.hessian(w, keep), 0.0, True
            else:
                fresh = False
            current = fresh
        elif fresh:
            extra = max(10.0 * extra, 1e-8 * max(float(M.diagonal().abs().max()), 1.0))
        else:
            M, extra, fresh, current = flat.hessian(w, keep), 0.0, True, True
        if fresh:
            chol, _ = _factor(M + extra * eye if extra else M)
    return w, steps, M if current else None


def _armijo(flat: _Flat, w: torch.Tensor, keep: torch.Tensor | None, value: float,
            g: torch.Tensor, d: torch.Tensor) -> tuple[torch.Tensor, float, torch.Tensor] | None:
    """Backtrack along d until the Armijo condition holds; near the minimizer, where L changes
    by less than its rounding error, a full step that lowers ‖∇L‖ is accepted instead.
    Returns (w + t d, its value, its gradient), or None when no step length helps."""
    slope, g_norm, t = float(g @ d), float(torch.linalg.vector_norm(g)), 1.0
    smallest = 1e-15 * float(torch.linalg.vector_norm(w)) / max(
        float(torch.linalg.vector_norm(d)), torch.finfo(d.dtype).tiny)
    while t >= max(1e-12, smallest):
        trial = w + t * d
        if t == 1.0:
            trial_value, g_trial = flat.value_and_gradient(trial, keep)
        else:
            trial_value, g_trial = float(flat.value(trial, keep)), None
        if trial_value <= value + 1e-4 * t * slope:
            return trial, trial_value, (flat.gradient(trial, keep) if g_trial is None
                                        else g_trial)
        if t == 1.0 and trial_value <= value + 1e-12 * (1.0 + abs(value)):
            if float(torch.linalg.vector_norm(g_trial)) < g_norm:
                return trial, trial_value, g_trial
        t *= 0.5
    return None


def _preconditioned_lbfgs(flat: _Flat, w: torch.Tensor, keep: torch.Tensor | None,
                          inverse: torch.Tensor, tol: float, max_iter: int, memory: int = 20
                          ) -> tuple[torch.Tensor, int]:
    """L-BFGS whose initial inverse metric is ``inverse`` = M⁻¹ (an explicit matrix: a refit
    applies it tens of times, and a product costs less than two triangular solves), to
    ‖∇L‖ ≤ tol.

    With M = H₋ᵢ(ŵ) the first step is the Newton step of the leave-one-out objective, and the
    curvature pairs correct M where the refit moves away from ŵ — without a single new P × P
    Hessian, which costs about P gradients. Armijo backtracking makes it a descent method from
    any start (a curvature pair with sᵀy ≤ 0 is skipped; a non-descent direction restarts the
    memory).
    """
    pairs: list[tuple[torch.Tensor, torch.Tensor, float]] = []
    value, g = flat.value_and_gradient(w, keep)
    steps, best, since_best = 0, float(torch.linalg.vector_norm(g)), 0
    while float(torch.linalg.vector_norm(g)) > tol:
        if since_best == 25:
            # no progress for 25 steps (rounding near the minimizer, or an ill-fitting
            # metric): finish with exact Newton steps
            w, more, _ = _newton(flat, w, keep, tol, max_iter)
            return w, steps + more
        if steps == max_iter:
            raise RuntimeError(f"the refit did not reach ‖∇L‖ ≤ {tol:.1e} in {max_iter} steps "
                               f"(‖∇L‖ = {float(torch.linalg.vector_norm(g)):.2e})")
        steps += 1
        q, alphas = g.clone(), []
        for s_k, y_k, rho in reversed(pairs):
            alpha = rho * float(s_k @ q)
            q -= alpha * y_k
            alphas.append(alpha)
        r = inverse @ q
        for (s_k, y_k, rho), alpha in zip(pairs, reversed(alphas)):
            r += s_k * (alpha - rho * float(y_k @ r))
        d = -r
        if float(g @ d) >= 0:
            pairs.clear()
            d = -(inverse @ g)
        found = _armijo(flat, w, keep, value, g, d)
        if found is None:
            if pairs:
                pairs.clear()
                continue
            # rounding stalls even the preconditioned gradient step: finish with exact Newton
            w, more, _ = _newton(flat, w, keep, tol, max_iter)
            return w, steps + more
        trial, value, g_new = found
        s_k, y_k = trial - w, g_new - g
        sy = float(s_k @ y_k)
        if sy > 1e-12 * float(torch.linalg.vector_norm(s_k) * torch.linalg.vector_norm(y_k)):
            pairs.append((s_k, y_k, 1.0 / sy))
            if len(pairs) > memory:
                pairs.pop(0)
        w, g = trial, g_new
        g_norm = float(torch.linalg.vector_norm(g))
        if g_norm < 0.9 * best:
            best, since_best = g_norm, 0
        else:
            since_best += 1
    return w, steps


@dataclass(frozen=True)
class Minimum:
    """A network trained to a minimizer ŵ of L, with the Hessian there.

    Attributes:
        hessian: (P, P) ∇²L(ŵ).
        eigenvalues: its eigenvalues, ascending.
        gradient_norm: ‖∇L(ŵ)‖ at the end.
        lbfgs_iterations: the work of the L-BFGS phase.
        newton_steps: the work of the Newton phase.
        ridge: λ.
        loss: the loss.
        seconds: wall-clock time.
    """

    hessian: torch.Tensor
    eigenvalues: torch.Tensor
    gradient_norm: float
    lbfgs_iterations: int
    newton_steps: int
    ridge: float
    loss: str
    seconds: float

    @property
    def lambda_min(self) -> float:
        """The least eigenvalue of ∇²L(ŵ): > 0 at a strict local minimum."""
        return float(self.eigenvalues[0])

    @property
    def lambda_max(self) -> float:
        return float(self.eigenvalues[-1])

    @property
    def data_negative(self) -> int:
        """How many eigenvalues of the data part ∇²L − λI are negative (beyond rounding)."""
        floor = 1e3 * torch.finfo(self.eigenvalues.dtype).eps * max(abs(self.lambda_max), 1.0)
        return int((self.eigenvalues - self.ridge < -floor).sum())

    def __repr__(self) -> str:
        return (f"Minimum(P={self.hessian.shape[0]}, gradient_norm={self.gradient_norm:.1e}, "
                f"lambda_min={self.lambda_min:.3g}, lambda_max={self.lambda_max:.3g}, "
                f"lbfgs_iterations={self.lbfgs_iterations}, newton_steps={self.newton_steps})")


def _lbfgs(flat: _Flat, w: torch.Tensor, keep: torch.Tensor | None, max_iter: int
           ) -> tuple[torch.Tensor, int]:
    """scipy's L-BFGS-B from w, to a gradient small enough for Newton's method to take over.

    (The value and gradient cross to the CPU as float64 arrays once per evaluation; scipy's
    loop costs a small fraction of torch's ``LBFGS`` per iteration on these small networks.)
    """
    def fun(v: np.ndarray) -> tuple[float, np.ndarray]:
        vt = torch.from_numpy(v).to(dtype=w.dtype, device=w.device)
        g = flat.gradient(vt, keep)
        return float(flat.value(vt, keep)), g.detach().cpu().numpy().astype(np.float64)

    import scipy.optimize  # deferred: scipy.optimize costs about a second at import

    result = scipy.optimize.minimize(
        fun, w.detach().cpu().numpy().astype(np.float64), jac=True, method="L-BFGS-B",
        options={"maxiter": max_iter, "maxfun": 2 * max_iter, "gtol": 1e-7, "ftol": 1e-14,
                 "maxcor": 30})
    return torch.from_numpy(result.x).to(dtype=w.dtype, device=w.device), int(result.nit)


def minimize(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    loss: str = "squared",
    ridge: float = 0.0,
    anchor: torch.Tensor | str | None = None,
    tol: float = 1e-10,
    max_iter: int = 5000,
) -> Minimum:
    """Train ``model`` in place to a minimizer of L(w) = Σ_i ℓ_i(w) + ½λ‖w − w_anchor‖².

    Koh & Liang's influence function is the derivative of the minimizer (chapter 7, Theorem
    7.1); it needs ∇L(ŵ) = 0 and ∇²L(ŵ) ≻ 0. A network stopped after a fixed number of
    epochs satisfies neither, so this function trains until ‖∇L‖ ≤ ``tol``: L-BFGS from the
    model's current weights, then damped Newton steps with the exact Hessian (the least
    damping μ that makes ∇²L + μI positive definite, Armijo backtracking), which converge
    quadratically once the Hessian is positive definite. A descent method can in principle stop
    at a saddle point: read ``lambda_min`` of the result (> 0 at a strict local minimum).

    Args:
        model: scalar-output module with P ≤ 6000 trainable parameters, updated in place.
        X, y: the training set. loss: ``"squared"`` or ``"logistic"`` (labels ±1).
        ridge: λ ≥ 0. anchor: w_anchor — a (P,) tensor, ``None`` or ``"zero"`` (weight decay
            towards 0), or ``"initial"`` (the model's weights at the call: Zhang & Zhang's
            eq. 2).
        tol: stop when ‖∇L‖ ≤ tol. max_iter: L-BFGS iterations, and Newton steps, at most.

    Returns:
        :class:`Minimum`.

    Raises:
        TypeError, ValueError: bad inputs, P > 6000.
        RuntimeError: ‖∇L‖ ≤ tol not reached.

    Example:
        >>> X = torch.randn(20, 3, generator=torch.Generator().manual_seed(0),
        ...                 dtype=torch.float64)
        >>> net = MLP(3, width=8, depth=2, activation="tanh", seed=0)
        >>> found = minimize(net, X, X[:, 0], ridge=0.1, anchor="initial")
        >>> found.gradient_norm <= 1e-10, found.lambda_min > 0
        (True, True)
    """
    start = time.perf_counter()
    flat = _objective(model, X, y, loss, ridge, anchor)
    tol = positive_float(tol, "tol")
    max_iter = check_positive_int(max_iter, "max_iter")
    w, iterations = _lbfgs(flat, flat.w, None, max_iter)
    w, steps, H = _newton(flat, w, None, tol, max_iter)
    flat.write(w)
    H = flat.hessian(w) if H is None else H
    gradient_norm = float(torch.linalg.vector_norm(flat.gradient(w)))
    return Minimum(H, torch.linalg.eigvalsh(H), gradient_norm, iterations, steps, flat.ridge,
                   loss, time.perf_counter() - start)


# --------------------------------------------------------------------------------------------
# Influence estimates and retraining truths


def first_order_influence(
    model: nn.Module,
    X_train: torch.Tensor,
    y_train: torch.Tensor,
    X_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    hessian: torch.Tensor,
    loss: str = "squared",
    damping: float = 0.0,
) -> torch.Tensor:
    """Koh & Liang's influence ∇ℓ_tᵀ(H + μI)⁻¹∇ℓ_i (chapter 7, eq. 7.5), removal convention.

    The same numbers as :func:`~ntkbook.influence.koh_liang_influence` with ``solver="direct"``,
    from a Hessian already at hand (``Minimum.hessian``): the ridge enters through H only.

    Args:
        model: the trained model. X_train, y_train, X_test, y_test: the data.
        hessian: (P, P) ∇²L at the model's weights. loss: the loss.
        damping: μ ≥ 0, added to H before the solve (needed where H is not positive definite).

    Returns:
        (n_test, n) tensor.

    Raises:
        ValueError: H + μI not positive definite, bad shapes.
    """
    flat = _Flat(model, X_train, y_train, loss, 0.0, None)
    X_test = flat._inputs(X_test, "X_test")
    y_test = flat._targets(y_test, "y_test", X_test.shape[0])
    H = as_matrix(hessian, "hessian").to(dtype=flat.w.dtype, device=flat.w.device)
    if H.shape != (flat.P, flat.P):
        raise ValueError(f"hessian must have shape ({flat.P}, {flat.P}), got {tuple(H.shape)}")
    damping = nonnegative_float(damping, "damping")
    eye = torch.eye(flat.P, dtype=H.dtype, device=H.device)
    chol, info = torch.linalg.cholesky_ex(H + damping * eye)
    if int(info) != 0:
        raise ValueError("hessian + damping·I is not positive definite; raise the damping")
    train = flat.example_gradients(flat.w, flat.X, flat.y)
    test = flat.example_gradients(flat.w, X_test, y_test)
    return test @ torch.cholesky_solve(train.T, chol)


@dataclass(frozen=True)
class Retraining:
    """Leave-one-out retraining: what removing each training point does to the test losses.

    Attributes:
        influence: (n_test, k) ℓ_t(ŵ₋ᵢ) − ℓ_t(ŵ), one column per removed point.
        indices: the k removed training points.
        distance: (k,) ‖ŵ₋ᵢ − ŵ‖, how far the removal moved the weights.
        iterations: (k,) Newton steps (warm start) or L-BFGS iterations (cold start) per refit.
        newton_influence: warm start only — (n_test, k) the test-loss change after one Newton
            step with the leave-one-out Hessian, ŵ + H₋ᵢ(ŵ)⁻¹∇ℓ_i(ŵ): exact when L is
            quadratic (a linear or linearized model with the square loss).
        convex_start: warm start only — (k,) whether H₋ᵢ(ŵ) = ∇²L(ŵ) − ∇²ℓ_i(ŵ) is positive
            definite, i.e. whether ŵ lies in a convex region of the leave-one-out objective.
        start: ``"warm"`` or ``"cold"``.
    """

    influence: torch.Tensor
    indices: tuple[int, ...]
    distance: torch.Tensor
    iterations: torch.Tensor
    newton_influence: torch.Tensor | None
    convex_start: torch.Tensor | None
    start: str

    def __repr__(self) -> str:
        n_test, k = self.influence.shape
        return f"Retraining(start={self.start!r}, n_test={n_test}, removed={k})"


def _indices(indices: object, n: int) -> list[int]:
    return list(range(n)) if indices is None else index_list(indices, n, "indices")


def warm_start_retraining(
    model: nn.Module,
    X_train: torch.Tensor,
    y_train: torch.Tensor,
    X_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    indices=None,
    loss: str = "squared",
    ridge: float = 0.0,
    anchor: torch.Tensor | str | None = None,
    hessian: torch.Tensor | None = None,
    tol: float = 1e-8,
    max_iter: int = 1000,
) -> Retraining:
    """Leave-one-out stationary points reached by descent from the trained weights ŵ.

    For each removed point i, L₋ᵢ = L − ℓ_i is minimized from ŵ to ‖∇L₋ᵢ‖ ≤ ``tol`` by L-BFGS
    with the metric M = H₋ᵢ(ŵ) = H − ∇²ℓ_i(ŵ) (plus the least damping that makes it positive
    definite) and Armijo backtracking: its first step is the Newton step of L₋ᵢ at ŵ, and no
    P × P Hessian is formed after it (the per-example Hessians come in one vectorized pass);
    exact Newton steps finish a refit that stalls at the rounding floor. This is the minimizer
    that the influence function linearizes: the end of the curve of minimizers ŵ_ε of L + εℓ_i
    from ε = 0 to ε = −1 (chapter 7, Theorem 7.1), when that curve exists. It is what chapter
    7's :func:`~ntkbook.influence.leave_one_out_retraining` computes for a convex objective,
    made robust to non-convex ones: where H₋ᵢ(ŵ) is not positive definite the descent may leave
    the basin of ŵ (``convex_start`` records where). The end point is certified stationary, not
    a minimum: descent can stop at a saddle point, even from a positive definite H₋ᵢ(ŵ) — for
    example where weight decay has switched hidden units off (their weights ≈ 0, so the gradient
    on them is ≈ 0 too), which descent does not switch back on (chapter 10). The default
    ``tol`` = 1e-8 changed the influences of chapter 10's networks by less than 1e-6 of their
    largest value against 1e-10.

    Args:
        model: scalar-output module at a minimizer of the full objective (see :func:`minimize`;
            with ``anchor="initial"`` pass the *initial* weights as a tensor instead, since the
            model's weights are no longer the initialization). Not changed.
        X_train, y_train, X_test, y_test: the data.
        indices: training points to remove (all when omitted).
        loss, ridge, anchor: the objective, as :func:`minimize`.
        hessian: ∇²L(ŵ) if already computed (``Minimum.hessian``).
        tol, max_iter: the stopping rule of each refit.

    Returns:
        :class:`Retraining` with ``start="warm"``.
    """
    if isinstance(anchor, str) and anchor == "initial":
        raise ValueError("anchor='initial' would take the trained weights as the anchor; pass "
                         "the initial weights as a tensor")
    flat = _objective(model, X_train, y_train, loss, ridge, anchor)
    X_test = flat._inputs(X_test, "X_test")
    y_test = flat._targets(y_test, "y_test", X_test.shape[0])
    tol = positive_float(tol, "tol")
    max_iter = check_positive_int(max_iter, "max_iter")
    n = flat.X.shape[0]
    chosen = _indices(indices, n)
    w_hat = flat.w
    H = flat.hessian(w_hat) if hessian is None else as_matrix(hessian, "hessian").to(w_hat)
    if H.shape != (flat.P, flat.P):
        raise ValueError(f"hessian must have shape ({flat.P}, {flat.P}), got {tuple(H.shape)}")
    base = flat.test_losses(w_hat, X_test, y_test)
    train_gradients = flat.example_gradients(w_hat, flat.X, flat.y)
    k = len(chosen)
    out = torch.empty(X_test.shape[0], k, dtype=w_hat.dtype, device=w_hat.device)
    newton = torch.empty_like(out)
    distance = torch.empty(k, dtype=w_hat.dtype, device=w_hat.device)
    iterations = torch.empty(k, dtype=torch.long)
    convex = torch.empty(k, dtype=torch.bool)
    chunk = max(1, (64 * 2**20) // (8 * flat.P * flat.P))
    for first in range(0, k, chunk):
        block = chosen[first:first + chunk]
        example_hessians = flat.example_hessians(w_hat, block)
        for offset, i in enumerate(block):
            column = first + offset
            keep = torch.ones(n, dtype=w_hat.dtype, device=w_hat.device)
            keep[i] = 0.0
            M = H - example_hessians[offset]
            chol, mu = _factor(M)
            one_step = w_hat + torch.cholesky_solve(train_gradients[i][:, None], chol)[:, 0]
            newton[:, column] = flat.test_losses(one_step, X_test, y_test) - base
            w, steps = _preconditioned_lbfgs(flat, w_hat, keep, torch.cholesky_inverse(chol),
                                             tol, max_iter)
            out[:, column] = flat.test_losses(w, X_test, y_test) - base
            distance[column] = torch.linalg.vector_norm(w - w_hat)
            iterations[column], convex[column] = steps, mu == 0.0
    return Retraining(out, tuple(chosen), distance, iterations, newton, convex, "warm")


def cold_start_retraining(
    model: nn.Module,
    X_train: torch.Tensor,
    y_train: torch.Tensor,
    X_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    indices=None,
    loss: str = "squared",
    ridge: float = 0.0,
    anchor: torch.Tensor | str | None = "initial",
    tol: float = 1e-10,
    max_iter: int = 5000,
) -> Retraining:
    """Leave-one-out retraining from the initialization: the ground truth of practice.

    ``model`` holds an *untrained* initialization w₀. A copy is trained by :func:`minimize` on the
    full training set, and another copy from the same w₀ on each leave-one-out set; the column
    of point i is ℓ_t(w₋ᵢ) − ℓ_t(w_full). For a strictly convex objective this equals
    :func:`warm_start_retraining`; for a network the two refits may end in different minima, and
    the difference then measures the optimizer as much as the data point. Calling it with
    initializations of different seeds gives several "truths"; their agreement measures that
    noise. It is not a bound on an estimate's agreement with one of them: with each truth a common
    signal plus independent noise, an estimate of the signal can agree with one truth up to about
    the square root of the truths' agreement with each other.

    Args:
        model: scalar-output module at its initialization (not changed).
        X_train, y_train, X_test, y_test, indices: as :func:`warm_start_retraining`.
        loss, ridge: the objective. anchor: as :func:`minimize`; the default ``"initial"`` is w₀.
        tol, max_iter: as :func:`minimize`.

    Returns:
        :class:`Retraining` with ``start="cold"`` (``distance`` is ‖w₋ᵢ − w_full‖).
    """
    flat = _objective(model, X_train, y_train, loss, ridge, anchor)
    X_test = flat._inputs(X_test, "X_test")
    y_test = flat._targets(y_test, "y_test", X_test.shape[0])
    n = flat.X.shape[0]
    chosen = _indices(indices, n)
    anchor_vector = flat.anchor
    full = copy.deepcopy(model)
    minimize(full, flat.X, flat.y, loss=loss, ridge=ridge, anchor=anchor_vector, tol=tol,
             max_iter=max_iter)
    w_full = _Flat(full, flat.X, flat.y, loss, ridge, anchor_vector).w
    base = flat.test_losses(w_full, X_test, y_test)
    k = len(chosen)
    out = torch.empty(X_test.shape[0], k, dtype=w_full.dtype, device=w_full.device)
    distance = torch.empty(k, dtype=w_full.dtype, device=w_full.device)
    iterations = torch.empty(k, dtype=torch.long)
    everyone = torch.arange(n, device=flat.X.device)
    for column, i in enumerate(chosen):
        rows = everyone[everyone != i]
        clone = copy.deepcopy(model)
        found = minimize(clone, flat.X[rows], flat.y[rows], loss=loss, ridge=ridge,
                         anchor=anchor_vector, tol=tol, max_iter=max_iter)
        w = _Flat(clone, flat.X, flat.y, loss, ridge, anchor_vector).w
        out[:, column] = flat.test_losses(w, X_test, y_test) - base
        distance[column] = torch.linalg.vector_norm(w - w_full)
        iterations[column] = found.lbfgs_iterations
    return Retraining(out, tuple(chosen), distance, iterations, None, None, "cold")


# --------------------------------------------------------------------------------------------
# Diagnostics


@dataclass(frozen=True)
class Curvature:
    """The Hessian of L at the trained weights, split as H = G + N.

    G = JᵀΛJ + λI (Λ = diag ℓ''(f_i)) is the Gauss–Newton part: the whole Hessian of a linear
    (or linearized, lazy) model. N = Σ_i ℓ'(f_i)∇²f(x_i) is the network's own curvature, weighted
    by the residuals; it is what can make H indefinite.

    Attributes:
        eigenvalues: of H, ascending.
        gauss_newton_eigenvalues: of G, ascending.
        nonlinearity: ‖N‖₂ / λ_min(G) — the size of the network's curvature on the scale of the
            smallest curvature the linear picture has; below 1, H is positive definite for sure
            (Weyl's inequality).
        relative_nonlinearity: ‖N‖₂ / ‖G‖₂.
    """

    eigenvalues: torch.Tensor
    gauss_newton_eigenvalues: torch.Tensor
    nonlinearity: float
    relative_nonlinearity: float

    def __repr__(self) -> str:
        return (f"Curvature(lambda_min={float(self.eigenvalues[0]):.3g}, "
                f"lambda_max={float(self.eigenvalues[-1]):.3g}, "
                f"nonlinearity={self.nonlinearity:.3g})")


def curvature(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, loss: str = "squared",
              ridge: float = 0.0, hessian: torch.Tensor | None = None) -> Curvature:
    """Split ∇²L at the model's weights into Gauss–Newton and network curvature (see
    :class:`Curvature`).

    Args:
        model: scalar-output module (P ≤ 6000). X, y: the training set. loss, ridge: L.
        hessian: ∇²L at the model's weights if already computed.

    Returns:
        :class:`Curvature`.
    """
    flat = _objective(model, X, y, loss, ridge, None)
    H = flat.hessian(flat.w) if hessian is None else as_matrix(hessian, "hessian").to(flat.w)
    if H.shape != (flat.P, flat.P):
        raise ValueError(f"hessian must have shape ({flat.P}, {flat.P}), got {tuple(H.shape)}")
    J = flat.jacobian(flat.w, flat.X)
    second = _loss_derivatives(flat.outputs(flat.w, flat.X), flat.y, loss)[1]
    G = J.T @ (second[:, None] * J)
    G = 0.5 * (G + G.T) + flat.ridge * torch.eye(flat.P, dtype=G.dtype, device=G.device)
    N = H - G
    g_eig = torch.linalg.eigvalsh(G)
    n_norm = float(torch.linalg.matrix_norm(N, ord=2))
    tiny = torch.finfo(G.dtype).tiny
    return Curvature(torch.linalg.eigvalsh(H), g_eig, n_norm / max(float(g_eig[0]), tiny),
                     n_norm / max(float(g_eig[-1]), tiny))


@dataclass(frozen=True)
class Agreement:
    """How well an influence estimate matches a retraining truth, one test point per row.

    Attributes:
        pearson: (n_test,) Pearson correlations over each row's most influential points.
        spearman: (n_test,) Spearman correlations over the same points.
        top: how many points per row (None: all).
    """

    pearson: np.ndarray
    spearman: np.ndarray
    top: int | None

    @property
    def mean_pearson(self) -> float:
        return float(np.mean(self.pearson))

    @property
    def mean_spearman(self) -> float:
        return float(np.mean(self.spearman))

    def __repr__(self) -> str:
        return (f"Agreement(rows={self.pearson.size}, top={self.top}, "
                f"pearson={self.mean_pearson:.3f}, spearman={self.mean_spearman:.3f})")


def agreement(estimate: torch.Tensor, truth: torch.Tensor, *, top: int | None = None,
              by: str = "truth") -> Agreement:
    """Pearson and Spearman correlation of ``estimate`` and ``truth``, row by row.

    Each row is one test point; with ``top`` = k the correlation is taken over the k training
    points of largest |truth| (``by="truth"``, the most influential points) or of largest
    |estimate| (``by="estimate"``, the ones an analyst would inspect), as in the comparisons of
    Koh & Liang (2017), Zhang & Zhang (2022, Table 1) and Basu et al. (2021).

    Args:
        estimate, truth: (n_test, n) or (n,) tensors or arrays of the same shape.
        top: k ≥ 3 points per row, or None for all. by: ``"truth"`` or ``"estimate"``.

    Returns:
        :class:`Agreement`.

    Raises:
        ValueError: shapes differ, fewer than 3 points, a constant row (no correlation).
    """
    a = _as_rows(estimate, "estimate")
    b = _as_rows(truth, "truth")
    if a.shape != b.shape:
        raise ValueError(f"estimate and truth must have the same shape, got {a.shape} and "
                         f"{b.shape}")
    if by not in ("truth", "estimate"):
        raise ValueError(f"by must be 'truth' or 'estimate', got {by!r}")
    if top is not None:
        top = check_positive_int(top, "top")
        if top > a.shape[1]:
            raise ValueError(f"top must be at most the {a.shape[1]} points per row, got {top}")
    k = a.shape[1] if top is None else top
    if k < 3:
        raise ValueError(f"a correlation needs at least 3 points per row, got {k}")
    from scipy import stats  # deferred: scipy.stats costs about half a second at import

    pearson, spearman = np.empty(a.shape[0]), np.empty(a.shape[0])
    for r in range(a.shape[0]):
        order = np.argsort(-np.abs(b[r] if by == "truth" else a[r]), kind="stable")[:k]
        u, v = a[r, order], b[r, order]
        if np.ptp(u) == 0 or np.ptp(v) == 0:
            raise ValueError(f"row {r} is constant on its {k} points; no correlation exists")
        pearson[r] = stats.pearsonr(u, v)[0]
        spearman[r] = stats.spearmanr(u, v)[0]
    return Agreement(pearson, spearman, top)


def _as_rows(value: object, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a tensor or an array, got {type(value).__name__}")
    if value.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be real numbers, got dtype {value.dtype}")
    value = np.asarray(value, dtype=float)
    if value.ndim == 1:
        value = value[None, :]
    if value.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D, got shape {value.shape}")
    if not np.isfinite(value).all():
        raise ValueError(f"{name} contains NaN or infinite entries")
    return value


# --------------------------------------------------------------------------------------------
# One configuration of the grid


@dataclass(frozen=True)
class FragilityRun:
    """One network of the chapter's grid: trained, explained, and retrained.

    Attributes:
        depth: hidden layers H.
        width: hidden width m.
        ridge: λ.
        seed: the seed of the initialization.
        parameters: P.
        network: the trained :class:`ntkbook.MLP`.
        initial: (P,) its initialization w₀.
        minimum: the :class:`Minimum` reached.
        curvature: the :class:`Curvature` there.
        influence: (n_test, n) Koh & Liang's estimate.
        retraining: the warm-start :class:`Retraining` of every training point.
        relative_distance: ‖ŵ − w₀‖ / ‖w₀‖ (laziness: small in the lazy regime).
        seconds: wall-clock time of the whole run.
    """

    depth: int
    width: int
    ridge: float
    seed: int
    parameters: int
    network: MLP
    initial: torch.Tensor
    minimum: Minimum
    curvature: Curvature
    influence: torch.Tensor
    retraining: Retraining
    relative_distance: float
    seconds: float

    def agreement(self, rows=None, *, top: int | None = 10, by: str = "truth",
                  estimate: str = "first_order") -> Agreement:
        """:func:`agreement` of an estimate with the warm-start truth on test points ``rows``.

        ``estimate`` is ``"first_order"`` (Koh & Liang) or ``"newton"`` (one Newton step with
        the leave-one-out Hessian).
        """
        if estimate not in ("first_order", "newton"):
            raise ValueError(f"estimate must be 'first_order' or 'newton', got {estimate!r}")
        est = self.influence if estimate == "first_order" else self.retraining.newton_influence
        truth = self.retraining.influence
        columns = list(self.retraining.indices)
        est = est[:, columns] if estimate == "first_order" else est
        if rows is not None:
            rows = index_list(rows, truth.shape[0], "rows")
            est, truth = est[rows], truth[rows]
        return agreement(est, truth, top=top, by=by)

    def __repr__(self) -> str:
        return (f"FragilityRun(depth={self.depth}, width={self.width}, ridge={self.ridge:g}, "
                f"seed={self.seed}, P={self.parameters}, {self.seconds:.2f} s)")


def fragility_run(
    X_train: torch.Tensor,
    y_train: torch.Tensor,
    X_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    depth: int,
    width: int,
    ridge: float,
    seed: int = 0,
    activation: str = "tanh",
    anchor: str = "initial",
    loss: str = "squared",
    indices=None,
) -> FragilityRun:
    """Train an :class:`ntkbook.MLP` to a minimizer, estimate influence, retrain (chapter 10).

    The network ``MLP(d, width, depth, activation=activation, seed=seed)`` is trained by
    :func:`minimize` on L = Σ_i ℓ_i + ½λ‖w − w_anchor‖² (``anchor="initial"``: w₀, Zhang &
    Zhang's eq. 2; ``"zero"``: ordinary weight decay); Koh & Liang's influence of every training
    point on every test point is computed with the exact Hessian (:func:`first_order_influence`),
    and the warm-start leave-one-out truth (:func:`warm_start_retraining`) for ``indices``
    (every training point by default).

    Returns:
        :class:`FragilityRun`.
    """
    start = time.perf_counter()
    seed = check_seed(seed)
    if anchor not in _ANCHORS:
        raise ValueError(f"anchor must be one of {_ANCHORS}, got {anchor!r}")
    X_train = as_matrix(X_train, "X_train")
    net = MLP(X_train.shape[1], width, depth, activation=activation, seed=seed,
              dtype=X_train.dtype, device=X_train.device)
    initial = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    anchor_vector = initial if anchor == "initial" else None
    found = minimize(net, X_train, y_train, loss=loss, ridge=ridge, anchor=anchor_vector)
    shape = curvature(net, X_train, y_train, loss=loss, ridge=ridge, hessian=found.hessian)
    influence = first_order_influence(net, X_train, y_train, X_test, y_test,
                                      hessian=found.hessian, loss=loss)
    truth = warm_start_retraining(net, X_train, y_train, X_test, y_test, indices=indices,
                                  loss=loss, ridge=ridge, anchor=anchor_vector,
                                  hessian=found.hessian)
    trained = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    moved = float(torch.linalg.vector_norm(trained - initial) / torch.linalg.vector_norm(initial))
    return FragilityRun(depth, width, float(ridge), seed, initial.numel(), net, initial, found,
                        shape, influence, truth, moved, time.perf_counter() - start)
