"""Influence functions of a trained torch model (Koh & Liang 2017; chapter 7).

The training objective is L(w) = Σ_i ℓ(f(x_i; w), y_i) + ½ λ ‖w − w_anchor‖² with the square
loss ℓ = ½(f − y)² or the logistic loss ℓ = log(1 + e^{−y f}), y = ±1. Removing training point i
moves the minimizer, to first order, by H⁻¹∇ℓ_i (H = ∇²L at the optimum), so the test loss
changes by ∇ℓ_tᵀ H⁻¹ ∇ℓ_i: Koh & Liang's I_up,loss(z_i, z_t) = −∇ℓ_tᵀH⁻¹∇ℓ_i with the sign and
the 1/n of up-weighting by ε = −1/n (their objective is an average) absorbed, in the
convention of this package (positive: i helped).

* :func:`inverse_hvp` — (H + μI)⁻¹v by direct, conjugate-gradient or LiSSA solvers;
* :func:`koh_liang_influence` — the influence of every training point on every test point;
* :func:`fit_to_optimum` — Newton's method to the minimizer, and
  :func:`leave_one_out_retraining`, the ground truth built on it.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, grad, hessian, vmap

from .._checks import (
    as_matrix,
    as_vector,
    index_list,
    nonnegative_float,
    positive_float,
    positive_int,
)
from .._checks import seed as check_seed

LOSSES = ("squared", "logistic")
SOLVERS = ("direct", "cg", "lissa")
_DIRECT_MAX_PARAMETERS = 6000


def _example_losses(out: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    if loss == "squared":
        return 0.5 * (out - y) ** 2
    return torch.nn.functional.softplus(-y * out)


class _Objective:
    """L(w) on flat parameter vectors, with its gradient, Hessian-vector products and Hessian."""

    def __init__(self, model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss: str,
                 ridge: float, anchor: torch.Tensor | None) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        self.model, self.loss, self.ridge = model, loss, nonnegative_float(ridge, "ridge")
        params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
        if not params:
            raise ValueError(f"model {model!r} has no trainable parameters")
        self.frozen = {k: p.detach() for k, p in model.named_parameters() if not p.requires_grad}
        self.frozen.update(dict(model.named_buffers()))
        self.names = list(params)
        self.shapes = [params[k].shape for k in self.names]
        self.w = torch.cat([params[k].reshape(-1) for k in self.names])
        self.X = as_matrix(X, "X").to(dtype=self.w.dtype, device=self.w.device)
        self.y = as_vector(y, "y", self.X.shape[0]).to(dtype=self.w.dtype, device=self.w.device)
        if loss == "logistic" and not bool(((self.y == 1) | (self.y == -1)).all()):
            raise ValueError("the logistic loss needs labels y = ±1")
        if anchor is None:
            anchor = torch.zeros_like(self.w)
        anchor = as_vector(anchor, "anchor", self.w.numel())
        self.anchor = anchor.to(dtype=self.w.dtype, device=self.w.device)
        self._graph: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def params(self, w: torch.Tensor) -> dict[str, torch.Tensor]:
        out, start = {}, 0
        for name, shape in zip(self.names, self.shapes):
            size = math.prod(shape)
            out[name] = w[start:start + size].reshape(shape)
            start += size
        return out

    def outputs(self, w: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        out = functional_call(self.model, {**self.frozen, **self.params(w)}, (X,))
        if out.numel() != X.shape[0]:
            raise ValueError(f"the model must have a scalar output: {X.shape[0]} inputs gave "
                             f"an output of shape {tuple(out.shape)}")
        return out.reshape(-1)

    def value(self, w: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        terms = _example_losses(self.outputs(w, self.X), self.y, self.loss)
        total = terms.sum() if weights is None else (weights * terms).sum()
        return total + 0.5 * self.ridge * ((w - self.anchor) ** 2).sum()

    def gradient(self, w: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        return grad(lambda v: self.value(v, weights))(w)

    def hvp(self, V: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Rows of V times ∇²L(w), by double backward through the gradient's graph.

        The full-batch graph is built once per weight vector and reused, which made a product
        ten or more times cheaper than rebuilding it with ``torch.func`` on small models (LiSSA
        and CG take hundreds of products); a weighted (mini-batch) objective builds its own.
        """
        if weights is None:
            if self._graph is None or self._graph[0] is not self.w:
                self._graph = (self.w, *self._gradient_graph(None))
            _, leaf, g = self._graph
        else:
            leaf, g = self._gradient_graph(weights)
        if not g.requires_grad:  # the gradient does not depend on w: the Hessian is zero
            return torch.zeros_like(V)
        out = torch.autograd.grad(g, leaf, grad_outputs=V, is_grads_batched=True,
                                  retain_graph=True, allow_unused=True)[0]
        return torch.zeros_like(V) if out is None else out

    def _gradient_graph(self, weights: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        leaf = self.w.detach().clone().requires_grad_(True)
        g = torch.autograd.grad(self.value(leaf, weights), leaf, create_graph=True)[0]
        return leaf, g

    def hessian(self, weights: torch.Tensor | None = None) -> torch.Tensor:
        return hessian(lambda v: self.value(v, weights))(self.w)

    def example_gradients(self, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(n, P) rows ∇_w ℓ(f(x_i; w), y_i) at the current weights."""
        def per_example(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return grad(lambda v: _example_losses(self.outputs(v, x[None]), target[None],
                                                  self.loss).sum())(self.w)

        return vmap(per_example)(X, y)


@dataclass(frozen=True)
class IHVPSolution:
    """(H + μI)⁻¹ applied to the rows of V, with how well the solver did.

    Attributes:
        solution: (k, P) the rows x_j ≈ (H + μI)⁻¹ v_j.
        solver: ``"direct"``, ``"cg"`` or ``"lissa"``.
        iterations: conjugate-gradient iterations, or LiSSA's depth × repeats (0 for direct).
        relative_residual: (k,) ‖(H + μI)x_j − v_j‖ / ‖v_j‖ with the exact, full-batch Hessian:
            the check that the answer solves the system it was asked to solve.
    """

    solution: torch.Tensor
    solver: str
    iterations: int
    relative_residual: torch.Tensor

    def __repr__(self) -> str:
        worst = float(self.relative_residual.max()) if self.relative_residual.numel() else 0.0
        return (f"IHVPSolution(solver={self.solver!r}, rows={self.solution.shape[0]}, "
                f"iterations={self.iterations}, max_relative_residual={worst:.3g})")


def inverse_hvp(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    V: torch.Tensor,
    *,
    loss: str = "squared",
    ridge: float = 0.0,
    solver: str = "cg",
    damping: float = 0.0,
    tol: float = 1e-10,
    max_iter: int | None = None,
    scale: float | None = None,
    depth: int = 1000,
    repeats: int = 1,
    batch_size: int | None = None,
    seed: int = 0,
) -> IHVPSolution:
    """Inverse Hessian-vector products (H + μI)⁻¹v of the training objective (Koh & Liang 2017,
    Sec. 3).

    H = ∇²L(w) at the model's current weights, L(w) = Σ_i ℓ(f(x_i; w), y_i) + ½λ‖w − w_anchor‖²,
    and μ = ``damping`` ≥ 0 is added by the solver only (to make an indefinite H usable).

    * ``"direct"``: forms the P × P Hessian and solves by Cholesky — exact, O(P³), P ≤ 6000.
    * ``"cg"``: conjugate gradients on all rows at once, Hessian-vector products only; needs
      H + μI positive definite; stops when every relative residual is below ``tol``.
    * ``"lissa"`` (Agarwal, Bullins & Hazan 2017, as used by Koh & Liang): the truncated Neumann
      series h_j = v + (I − (H_B + μI)/s) h_{j−1}, answer h_depth / s, averaged over ``repeats``,
      with H_B the Hessian of a random batch of ``batch_size`` points rescaled to the full sum
      (the full Hessian if ``batch_size`` is None). The series converges to (H + μI)⁻¹v when
      H + μI ≻ 0 and the scale s > λ_max(H + μI)/2; the error after ``depth`` terms decays like
      (1 − λ_min/s)^depth, so a small λ_min needs a large depth. ``scale=None`` takes 1.1× a
      power-iteration estimate of λ_max(H + μI).

    Every answer is checked against the system it was asked to solve: the relative residual
    ‖(H + μI)x_j − v_j‖ / ‖v_j‖ with the exact, full-batch Hessian is returned, and a
    ``ValueError`` is raised when

    * ``"direct"`` or ``"cg"``: any residual exceeds max(``tol``, √ε) (ε the dtype's machine
      epsilon) — the system was not solved, typically because H + μI is singular or too
      ill-conditioned;
    * ``"lissa"``: the series diverges — a term's residual above 2‖v_j‖ during the iterations
      (with the full-batch Hessian each term's residual is at most ‖v_j‖ when the series
      converges, so this proves divergence) or a final residual above 1 (worse than x = 0), and
      with mini-batches ‖h‖ above 1e30·‖v_j‖ or an answer worse than x = 0 (below) — or, with
      the full-batch Hessian, when the second half of the series made no progress on a residual
      above √ε: H + μI is singular along v_j, where the series grows without bound. A truncated
      series whose residual is still falling is a legitimate approximation and is returned; read
      ``relative_residual`` to judge it. With mini-batches the answer is random and its residual
      can exceed 1 even when the solution is within tens of percent of the exact one (the noise
      lies more along the large eigenvalues of H than x* does, and the residual weights those
      most), so there
      "worse than x = 0" is measured in the energy norm of A = H + μI instead: it raises when
      xᵀAx > 2xᵀv, i.e. when ‖x − x*‖_A > ‖x*‖_A.

    Args:
        model: scalar-output module at (near) the optimum of L; its trainable parameters are w.
        X, y: the training set. V: (k, P) or (P,) right-hand sides (flat parameter order of
            ``model.named_parameters()``).
        loss: ``"squared"`` or ``"logistic"`` (labels ±1). ridge: λ ≥ 0.
        solver, damping, tol, max_iter, scale, depth, repeats, batch_size, seed: as above;
            ``max_iter`` (default P) is for CG, ``scale`` … ``seed`` for LiSSA.

    Returns:
        :class:`IHVPSolution` (rows of ``solution`` match the rows of V).

    Example:
        For a linear model and the square loss, H = XᵀX + λI:

        >>> X = torch.randn(30, 5, generator=torch.Generator().manual_seed(0),
        ...                 dtype=torch.float64)
        >>> y, v = X[:, 0], torch.ones(5, dtype=torch.float64)
        >>> model = torch.nn.Linear(5, 1, bias=False).double()
        >>> exact = torch.linalg.solve(X.T @ X + 0.1 * torch.eye(5, dtype=torch.float64), v)
        >>> cg = inverse_hvp(model, X, y, v, ridge=0.1, solver="cg")
        >>> lissa = inverse_hvp(model, X, y, v, ridge=0.1, solver="lissa", depth=2000)
        >>> [bool(torch.allclose(out.solution[0], exact)) for out in (cg, lissa)]
        [True, True]

    Raises:
        TypeError: non-tensor V, a seed that is not an integer.
        ValueError: unknown solver or loss, a Hessian that is not positive definite for
            ``"direct"``/``"cg"``, an answer that does not solve the system (above), a LiSSA run
            that diverged (scale too small) or stalled (singular H + μI), bad shapes.
    """
    objective = _Objective(model, X, y, loss, ridge, None)
    return _inverse_hvp(objective, V, solver=solver, damping=damping, tol=tol, max_iter=max_iter,
                        scale=scale, depth=depth, repeats=repeats, batch_size=batch_size,
                        seed=seed)


def _inverse_hvp(objective: _Objective, V: torch.Tensor, *, solver: str, damping: float,
                 tol: float, max_iter: int | None, scale: float | None, depth: int, repeats: int,
                 batch_size: int | None, seed: int) -> IHVPSolution:
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    damping = nonnegative_float(damping, "damping")
    tol = positive_float(tol, "tol")
    seed = check_seed(seed)
    P = objective.w.numel()
    if not isinstance(V, torch.Tensor):
        raise TypeError(f"V must be a torch.Tensor, got {type(V).__name__}")
    V = V.reshape(1, -1) if V.ndim == 1 else V
    V = as_matrix(V, "V").to(dtype=objective.w.dtype, device=objective.w.device)
    if V.shape[1] != P:
        raise ValueError(f"V must have P = {P} columns (one per trainable parameter), "
                         f"got {V.shape[1]}")

    def apply(U: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        return objective.hvp(U, weights) + damping * U

    iterations = 0
    if solver == "direct":
        if P > _DIRECT_MAX_PARAMETERS:
            raise ValueError(f"the direct solver forms a P × P Hessian; P = {P} exceeds "
                             f"{_DIRECT_MAX_PARAMETERS}, use solver='cg' or 'lissa'")
        H = objective.hessian()
        H = 0.5 * (H + H.T) + damping * torch.eye(P, dtype=H.dtype, device=H.device)
        chol, info = torch.linalg.cholesky_ex(H)
        if int(info) != 0:
            raise ValueError("H + damping·I is not positive definite; raise the damping or ridge")
        X_sol = torch.cholesky_solve(V.T, chol).T
    elif solver == "cg":
        max_iter = P if max_iter is None else positive_int(max_iter, "max_iter")
        X_sol = torch.zeros_like(V)
        R = V.clone()
        D = R.clone()
        rr = (R * R).sum(1)
        target = tol * torch.linalg.vector_norm(V, dim=1)
        while iterations < max_iter and bool((rr.sqrt() > target).any()):
            AD = apply(D)
            curvature = (D * AD).sum(1)
            active = rr.sqrt() > target
            if bool((curvature[active] <= 0).any()):
                raise ValueError("H + damping·I is not positive definite (conjugate gradients "
                                 "met a direction of non-positive curvature); raise the damping")
            step = torch.where(active, rr / torch.where(active, curvature, 1.0), 0.0)
            X_sol = X_sol + step[:, None] * D
            R = R - step[:, None] * AD
            rr_new = (R * R).sum(1)
            D = R + torch.where(active, rr_new / torch.where(active, rr, 1.0), 0.0)[:, None] * D
            rr = rr_new
            iterations += 1
    else:
        depth, repeats = positive_int(depth, "depth"), positive_int(repeats, "repeats")
        n = objective.X.shape[0]
        if batch_size is not None:
            batch_size = positive_int(batch_size, "batch_size")
            if batch_size > n:
                raise ValueError(f"batch_size must be at most n = {n}, got {batch_size}")
        if scale is None:
            U = torch.randn(V.shape[1], generator=torch.Generator().manual_seed(seed),
                            dtype=V.dtype).to(V.device)
            for _ in range(30):
                U = apply(U[None])[0]
                top = float(torch.linalg.vector_norm(U))
                U = U / top
            scale = 1.1 * top
        scale = positive_float(scale, "scale")
        g = torch.Generator().manual_seed(seed)
        X_sol = torch.zeros_like(V)
        v_norm = torch.linalg.vector_norm(V, dim=1)
        halfway = None
        for _ in range(repeats):
            h = V.clone()
            for step in range(depth):
                weights = None
                if batch_size is not None:
                    chosen = torch.randperm(n, generator=g)[:batch_size].to(V.device)
                    weights = torch.zeros(n, dtype=V.dtype, device=V.device)
                    weights[chosen] = n / batch_size
                h_next = V + h - apply(h, weights) / scale
                if batch_size is None:
                    # (H + μI)(h/s) − v = h − h_next: the residual of the previous term, for free.
                    # It is (I − (H + μI)/s)^j v, of norm ≤ ‖v‖ whenever the series converges.
                    term_residual = torch.linalg.vector_norm(h - h_next, dim=1)
                    if step == depth // 2:
                        halfway = term_residual
                    diverged = bool((term_residual > 2 * v_norm).any())
                else:
                    diverged = bool((torch.linalg.vector_norm(h_next, dim=1) > 1e30 * v_norm).any())
                h = h_next
                if diverged or not torch.isfinite(h).all():
                    raise ValueError(f"LiSSA diverged: scale = {scale:.4g} must exceed half the "
                                     "largest eigenvalue of H + damping·I (scale=None estimates "
                                     "it)")
            X_sol = X_sol + h / scale
        X_sol = X_sol / repeats
        iterations = depth * repeats
    AX = apply(X_sol)
    relative = (torch.linalg.vector_norm(AX - V, dim=1)
                / torch.linalg.vector_norm(V, dim=1).clamp_min(torch.finfo(V.dtype).tiny))
    if solver == "lissa" and batch_size is not None:
        # ‖x − x*‖²_A − ‖x*‖²_A = xᵀAx − 2xᵀv with A = H + μI: positive iff x is farther from the
        # answer than x = 0 in the energy norm, the norm in which x minimizes ½xᵀAx − xᵀv.
        excess = (X_sol * AX).sum(1) - 2 * (X_sol * V).sum(1)
        if bool((excess > 0).any()):
            raise ValueError(f"mini-batch LiSSA diverged: its answer is farther from "
                             f"(H + damping·I)⁻¹v than x = 0 in the energy norm (relative "
                             f"residual {float(relative.max()):.3g}); batches of {batch_size} "
                             f"points rescaled to the full sum have eigenvalues above "
                             f"2·scale = {2 * scale:.4g} too often: raise batch_size or scale, "
                             "or lower depth")
    _check_residual(solver, relative, tol, V.dtype, halfway if solver == "lissa" else None,
                    torch.linalg.vector_norm(V, dim=1),
                    minibatch=solver == "lissa" and batch_size is not None)
    return IHVPSolution(X_sol, solver, iterations, relative)


def _check_residual(solver: str, relative: torch.Tensor, tol: float, dtype: torch.dtype,
                    halfway: torch.Tensor | None, v_norm: torch.Tensor,
                    minibatch: bool = False) -> None:
    """Raise when an IHVP does not solve its system (see :func:`inverse_hvp`)."""
    floor = math.sqrt(torch.finfo(dtype).eps)
    worst = float(relative.max()) if relative.numel() else 0.0
    if not math.isfinite(worst):
        raise ValueError(f"{solver}: the inverse-Hessian-vector product is not finite; "
                         "H + damping·I is singular or indefinite, raise the damping or ridge")
    if solver in ("direct", "cg") and worst > max(tol, floor):
        what = "the direct solve" if solver == "direct" else "conjugate gradients"
        raise ValueError(f"{what} did not solve (H + damping·I)x = v: relative residual "
                         f"{worst:.3g} > {max(tol, floor):.3g}; H + damping·I is singular or too "
                         "ill-conditioned, raise the damping or ridge (or max_iter for cg)")
    if solver == "lissa":
        # With the full-batch Hessian a convergent series ends at a residual ≤ 1, so a larger one
        # proves divergence. With mini-batches it does not: the sampling noise sits more along
        # the large eigenvalues of H than x* does, which the residual weights most, so a run can
        # end above 1
        # while its solution is within a few tens of percent of the exact one. There the test is
        # the energy norm (in _inverse_hvp), and the residual is returned as measured.
        if worst > 1.0 and not minibatch:
            raise ValueError(f"LiSSA diverged: relative residual {worst:.3g} > 1 (worse than "
                             "x = 0); the scale must exceed half the largest eigenvalue of "
                             "H + damping·I, which must be positive definite")
        if halfway is not None:
            final = relative * v_norm
            stalled = (relative > floor) & (final >= (1 - floor) * halfway)
            if bool(stalled.any()):
                raise ValueError(f"LiSSA made no progress over the second half of the series "
                                 f"(relative residual {worst:.3g}): H + damping·I is singular "
                                 "along the right-hand side, where the series grows without "
                                 "bound; raise the damping or ridge")


@dataclass(frozen=True)
class KohLiangInfluence:
    """Koh & Liang influences of every training point on every test point, and their IHVPs.

    Attributes:
        influence: (n_test, n) ∇ℓ_tᵀ(H + μI)⁻¹∇ℓ_i, the first-order change of test loss t when
            training point i is removed (positive: i helped).
        ihvp: the :class:`IHVPSolution` for the test gradients (H + μI)⁻¹∇ℓ_t.
        train_gradients: (n, P) ∇ℓ_i. test_gradients: (n_test, P) ∇ℓ_t.
    """

    influence: torch.Tensor
    ihvp: IHVPSolution
    train_gradients: torch.Tensor
    test_gradients: torch.Tensor

    def __repr__(self) -> str:
        n_test, n = self.influence.shape
        return f"KohLiangInfluence(n_test={n_test}, n={n}, ihvp={self.ihvp!r})"


def koh_liang_influence(
    model: nn.Module,
    X_train: torch.Tensor,
    y_train: torch.Tensor,
    X_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    loss: str = "squared",
    ridge: float = 0.0,
    solver: str = "direct",
    damping: float = 0.0,
    tol: float = 1e-10,
    max_iter: int | None = None,
    scale: float | None = None,
    depth: int = 1000,
    repeats: int = 1,
    batch_size: int | None = None,
    seed: int = 0,
) -> KohLiangInfluence:
    """Influence functions of a trained model (Koh & Liang 2017, Sec. 2), removal convention.

    Koh & Liang up-weight a training point by ε in an averaged objective and differentiate:
    I_up,loss(z_i, z_t) = −∇ℓ_tᵀ H_avg⁻¹ ∇ℓ_i. Removing z_i is ε = −1/n; with the summed objective
    used here (H = n·H_avg) the predicted change of the test loss is therefore

        I[t, i] = ∇ℓ_tᵀ H⁻¹ ∇ℓ_i ≈ ℓ_t(without i) − ℓ_t(with i),

    the convention of :func:`ntk_loo_influence` (positive: i helped). One IHVP per *test* point:
    (H + μI)⁻¹∇ℓ_t by ``solver``, then a product with all training gradients.

    Args:
        model: the trained scalar-output model (weights at a minimizer of L).
        X_train, y_train: the training set. X_test, y_test: the test points.
        loss, ridge: the objective, as :func:`inverse_hvp`.
        solver, damping, tol, max_iter, scale, depth, repeats, batch_size, seed: the IHVP
            solver and its settings, as :func:`inverse_hvp`.

    Returns:
        :class:`KohLiangInfluence`.
    """
    objective = _Objective(model, X_train, y_train, loss, ridge, None)
    X_test = as_matrix(X_test, "X_test").to(dtype=objective.w.dtype, device=objective.w.device)
    y_test = as_vector(y_test, "y_test", X_test.shape[0]).to(dtype=objective.w.dtype,
                                                              device=objective.w.device)
    if X_test.shape[1] != objective.X.shape[1]:
        raise ValueError(f"X_test must have {objective.X.shape[1]} columns like X_train, "
                         f"got {X_test.shape[1]}")
    if loss == "logistic" and not bool(((y_test == 1) | (y_test == -1)).all()):
        raise ValueError("the logistic loss needs labels y_test = ±1")
    train_gradients = objective.example_gradients(objective.X, objective.y)
    test_gradients = objective.example_gradients(X_test, y_test)
    solution = _inverse_hvp(objective, test_gradients, solver=solver, damping=damping, tol=tol,
                            max_iter=max_iter, scale=scale, depth=depth, repeats=repeats,
                            batch_size=batch_size, seed=seed)
    return KohLiangInfluence(solution.solution @ train_gradients.T, solution, train_gradients,
                             test_gradients)


def fit_to_optimum(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    loss: str = "squared",
    ridge: float = 0.0,
    anchor: torch.Tensor | None = None,
    tol: float = 1e-12,
    max_iter: int = 100,
) -> int:
    """Minimize L(w) = Σ_i ℓ(f(x_i; w), y_i) + ½λ‖w − w_anchor‖² by Newton's method, in place.

    Each step solves with the full P × P Hessian and backtracks until L decreases, so it is
    meant for small, (nearly) convex problems — logistic regression, linear and linearized
    models — where it reaches the minimizer to machine precision in a few steps; that precision is
    what a leave-one-out ground truth needs. P ≤ 6000.

    Args:
        model: scalar-output module; its trainable parameters are updated in place.
        X, y: the data. loss: ``"squared"`` or ``"logistic"`` (labels ±1).
        ridge: λ ≥ 0. anchor: (P,) the centre w_anchor of the ridge term (zero when omitted).
        tol: stop when the Newton step is below tol·(1 + ‖w‖). max_iter: at most this many steps.

    Returns:
        The number of Newton steps taken.

    Raises:
        ValueError: a Hessian that is not positive definite (add a ridge), bad inputs.
        RuntimeError: no convergence within ``max_iter`` steps.
    """
    objective = _Objective(model, X, y, loss, ridge, anchor)
    tol = positive_float(tol, "tol")
    max_iter = positive_int(max_iter, "max_iter")
    P = objective.w.numel()
    if P > _DIRECT_MAX_PARAMETERS:
        raise ValueError(f"Newton's method forms a P × P Hessian; P = {P} exceeds "
                         f"{_DIRECT_MAX_PARAMETERS}")
    w = objective.w.clone()
    steps = 0
    while True:
        if steps == max_iter:
            raise RuntimeError(f"Newton's method did not converge in {max_iter} steps")
        steps += 1
        objective.w = w
        g = objective.gradient(w)
        H = objective.hessian()
        chol, info = torch.linalg.cholesky_ex(0.5 * (H + H.T))
        if int(info) != 0:
            raise ValueError("the Hessian of the objective is not positive definite; add a ridge")
        step = torch.cholesky_solve(g[:, None], chol)[:, 0]
        value, t = float(objective.value(w)), 1.0
        while t > 1e-10 and not float(objective.value(w - t * step)) <= value:
            t /= 2
        w = w - t * step
        if float(torch.linalg.vector_norm(t * step)) <= tol * (1 + float(
                torch.linalg.vector_norm(w))):
            break
    with torch.no_grad():
        for name, value in objective.params(w).items():
            model.get_parameter(name).copy_(value)
    return steps


def leave_one_out_retraining(
    model: nn.Module,
    X_train: torch.Tensor,
    y_train: torch.Tensor,
    X_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    indices=None,
    loss: str = "squared",
    ridge: float = 0.0,
    anchor: torch.Tensor | None = None,
    tol: float = 1e-12,
    max_iter: int = 100,
) -> torch.Tensor:
    """The ground truth of influence: retrain without each training point and measure.

    For each i in ``indices``, a copy of ``model`` is re-fitted by :func:`fit_to_optimum` on the
    training set without point i, *warm-started* from the given (full-data optimal) weights —
    for a strictly convex objective the start does not change the minimizer, only the cost — and
    I[t, i] = ℓ_t(without i) − ℓ_t(with i) is recorded (Zhang & Zhang 2022, eq. 7). ``model``
    itself is not changed.

    Args:
        model: scalar-output module at the minimizer of the full-data objective.
        X_train, y_train, X_test, y_test: the data. indices: training points to remove, a 1-D
            sequence or integer tensor of indices in [0, n) (all when omitted).
        loss, ridge, anchor, tol, max_iter: as :func:`fit_to_optimum`.

    Returns:
        (n_test, len(indices)) tensor.

    Raises:
        TypeError: indices that are not integers.
        ValueError: indices out of range, inputs of the wrong shape.
    """
    objective = _Objective(model, X_train, y_train, loss, ridge, anchor)
    n = objective.X.shape[0]
    X_test = as_matrix(X_test, "X_test")
    if X_test.shape[1] != objective.X.shape[1]:
        raise ValueError(f"X_test must have {objective.X.shape[1]} columns like X_train, "
                         f"got {X_test.shape[1]}")
    X_test = X_test.to(dtype=objective.w.dtype, device=objective.w.device)
    y_test = as_vector(y_test, "y_test", X_test.shape[0]).to(dtype=objective.w.dtype,
                                                              device=objective.w.device)
    indices = list(range(n)) if indices is None else index_list(indices, n, "indices")

    def test_losses(net: nn.Module) -> torch.Tensor:
        with torch.no_grad():
            return _example_losses(net(X_test).reshape(-1), y_test, loss)

    base = test_losses(model)
    out = torch.empty(X_test.shape[0], len(indices), dtype=base.dtype, device=base.device)
    everyone = torch.arange(n, device=objective.X.device)
    for column, i in enumerate(indices):
        rows = everyone[everyone != i]
        clone = copy.deepcopy(model)
        fit_to_optimum(clone, objective.X[rows], objective.y[rows], loss=loss, ridge=ridge,
                       anchor=anchor, tol=tol, max_iter=max_iter)
        out[:, column] = test_losses(clone) - base
    return out
