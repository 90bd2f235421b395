"""Influence of training points on test predictions.

Sign convention (Zhang & Zhang 2022, eq. 7), used everywhere in the package and the book: the
influence of training point i on test point t is the change of the test loss ½(f(x_t) − y_t)²
when i is *removed*, L_t(without i) − L_t(with i). Positive: point i was helping.

* In the NTK regime, from kernel matrices: :func:`ntk_loo_influence` (exact leave-one-out,
  eq. 8–9), :func:`ntk_ihvp_influence` (the IHVP estimate, eq. 13), :func:`ihvp_decomposition`
  (eq. 14 and Theorem 3's bound), :func:`group_complexity` (eq. 19),
  :func:`ntk_loo_influence_along_time` (eq. 20).
* For a trained torch model (Koh & Liang 2017): :func:`koh_liang_influence` with the IHVP
  solvers of :func:`inverse_hvp` (direct, conjugate gradients, LiSSA), and the ground truth
  :func:`leave_one_out_retraining` built on :func:`fit_to_optimum` (Newton's method).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, grad, hessian, vmap

from ._checks import (
    as_matrix,
    as_vector,
    kernel_pair,
    nonnegative_float,
    positive_float,
    positive_int,
    square,
)
from .dynamics import _cholesky, _times, gradient_flow_prediction


def _kernel_problem(K_train, K_test_train, y_train, y_test, ridge):
    """Validate a kernel ridge problem; return it with G = (K + λI)⁻¹ and α = G y."""
    ridge = nonnegative_float(ridge, "ridge")
    K_train, K_test_train = kernel_pair(K_train, K_test_train)
    n = K_train.shape[0]
    y_train = as_vector(y_train, "y_train", n)
    y_test = as_vector(y_test, "y_test", K_test_train.shape[0])
    chol = _cholesky(K_train, ridge)
    # (K + λI)⁻¹ as a solve against I: same result as cholesky_inverse, steadier speed.
    G = torch.cholesky_solve(torch.eye(n, dtype=K_train.dtype, device=K_train.device), chol)
    return K_train, K_test_train, y_train, y_test, ridge, G, G @ y_train


def ntk_loo_influence(
    K_train: torch.Tensor,
    K_test_train: torch.Tensor,
    y_train: torch.Tensor,
    y_test: torch.Tensor,
    ridge: float,
) -> torch.Tensor:
    """Exact leave-one-out influence of kernel ridge regression (Zhang & Zhang 2022, eq. 8–9).

    With G = (K + λI)⁻¹, α = Gy and g_i the i-th column of G, removing training point i changes
    the predictor to f⁽⁻ⁱ⁾(x) = k(x)ᵀ(G − g_i g_iᵀ / G_ii) y (eq. 9), so
    f(x) − f⁽⁻ⁱ⁾(x) = (k(x)ᵀ g_i) α_i / G_ii. All (test, train) pairs come from one Cholesky
    factorization and one (n_test × n)·(n × n) product: O(n³ + n_test n²), no retraining.

    Args:
        K_train: (n, n) kernel on the training set. K_test_train: (n_test, n).
        y_train: (n,) targets. y_test: (n_test,) targets.
        ridge: λ ≥ 0 (λ = 0 needs a non-singular K_train).

    Returns:
        (n_test, n) tensor I[t, i] = ½(f⁽⁻ⁱ⁾(x_t) − y_t)² − ½(f(x_t) − y_t)².
    """
    K_train, K_test_train, y_train, y_test, ridge, G, alpha = _kernel_problem(
        K_train, K_test_train, y_train, y_test, ridge)
    A = K_test_train @ G  # A[t, i] = k(x_t)ᵀ g_i
    f = K_test_train @ alpha
    change = A * (alpha / G.diagonal())[None, :]  # f(x_t) − f⁽⁻ⁱ⁾(x_t)
    residual = (f - y_test)[:, None]
    return 0.5 * ((residual - change) ** 2 - residual**2)


def ntk_ihvp_influence(
    K_train: torch.Tensor,
    K_test_train: torch.Tensor,
    y_train: torch.Tensor,
    y_test: torch.Tensor,
    ridge: float,
) -> torch.Tensor:
    """Koh & Liang's IHVP influence in the NTK regime (Zhang & Zhang 2022, Prop. 1, eq. 13).

    The first-order estimate ∇ℓ_tᵀ H⁻¹ ∇ℓ_i (eq. 12, H the Hessian of the regularized training
    loss at the end of training) of a linearized model with kernel K tends, as the width grows, to

        Î[t, i] = a_{t,i} (f(x_t) − y_t)(f(x_i) − y_i),   a_{t,i} = k(x_t)ᵀ(K + λI)⁻¹ e_i,

    with f the kernel ridge predictor. It has the sign convention of :func:`ntk_loo_influence`
    (the change of the test loss when i is removed); the exact influence differs from it by
    using the leave-one-out residual f⁽⁻ⁱ⁾(x_i) − y_i in place of f(x_i) − y_i, plus a second-order
    term (eq. 14) — see :func:`ihvp_decomposition`.

    Args: as :func:`ntk_loo_influence` (ridge λ ≥ 0; λ = 0 needs a non-singular K_train).

    Returns:
        (n_test, n) tensor Î[t, i].
    """
    K_train, K_test_train, y_train, y_test, ridge, G, alpha = _kernel_problem(
        K_train, K_test_train, y_train, y_test, ridge)
    A = K_test_train @ G
    residual_test = K_test_train @ alpha - y_test
    residual_train = K_train @ alpha - y_train
    return A * residual_test[:, None] * residual_train[None, :]


@dataclass(frozen=True)
class IHVPDecomposition:
    """The pieces of Zhang & Zhang's Proposition 2 (eq. 14) and of their Theorem 3 (eq. 16).

    Attributes:
        exact: (n_test, n) exact leave-one-out influence I (eq. 8–9) = ``first_order`` +
            ``second_order``.
        ihvp: (n_test, n) IHVP estimate Î (eq. 13).
        first_order: term I of eq. 14, a_{t,i}(f(x_t) − y_t)(f⁽⁻ⁱ⁾(x_i) − y_i).
        second_order: term II of eq. 14, ½ a_{t,i}² (f⁽⁻ⁱ⁾(x_i) − y_i)².
        shrinkage: (n,) the factor λ G_ii = 1 − h_ii by which Î scales term I: Î = λG_ii · I_first.
        lower_bound: (n_test, n) the right-hand side of eq. 16,
            λ_min/(λ_min + λ)·|I| − ½ a_{t,i}²(f⁽⁻ⁱ⁾(x_i) − y_i)², a lower bound on |I − Î|.
        lambda_min: least eigenvalue of K_train.
    """

    exact: torch.Tensor
    ihvp: torch.Tensor
    first_order: torch.Tensor
    second_order: torch.Tensor
    shrinkage: torch.Tensor
    lower_bound: torch.Tensor
    lambda_min: float

    def __repr__(self) -> str:
        n_test, n = self.exact.shape
        return f"IHVPDecomposition(n_test={n_test}, n={n}, lambda_min={self.lambda_min:.4g})"


def ihvp_decomposition(
    K_train: torch.Tensor,
    K_test_train: torch.Tensor,
    y_train: torch.Tensor,
    y_test: torch.Tensor,
    ridge: float,
) -> IHVPDecomposition:
    """Exact influence, IHVP influence and Zhang & Zhang's error bound, from one factorization.

    With G = (K + λI)⁻¹ and α = G y, the training residual of the full fit is
    f(x_i) − y_i = −λα_i and the leave-one-out residual is f⁽⁻ⁱ⁾(x_i) − y_i = −α_i/G_ii, so
    Î = λG_ii · (term I of eq. 14): the IHVP estimate shrinks the first-order term by
    λG_ii = 1 − h_ii (h_ii the leverage of point i), which lies in [λ/(λ_max + λ), λ/(λ_min + λ)].
    That is the source of Theorem 3's bound |I − Î| ≥ λ_min/(λ_min + λ)|I| − term II (eq. 16).

    Args: as :func:`ntk_loo_influence`.

    Returns:
        :class:`IHVPDecomposition`.
    """
    K_train, K_test_train, y_train, y_test, ridge, G, alpha = _kernel_problem(
        K_train, K_test_train, y_train, y_test, ridge)
    A = K_test_train @ G
    residual_test = (K_test_train @ alpha - y_test)[:, None]
    loo_residual = (-alpha / G.diagonal())[None, :]
    first = A * residual_test * loo_residual
    second = 0.5 * (A * loo_residual) ** 2
    shrinkage = ridge * G.diagonal()
    exact = first + second
    lambda_min = float(torch.linalg.eigvalsh(K_train)[0])
    rate = max(lambda_min, 0.0) / (max(lambda_min, 0.0) + ridge) if ridge > 0 else 1.0
    return IHVPDecomposition(
        exact=exact,
        ihvp=first * shrinkage[None, :],
        first_order=first,
        second_order=second,
        shrinkage=shrinkage,
        lower_bound=rate * exact.abs() - second,
        lambda_min=lambda_min,
    )


def group_complexity(K_train: torch.Tensor, y_train: torch.Tensor, group) -> float:
    """Complexity added by a group of training points (Zhang & Zhang 2022, eq. 19).

        C(X_I) = √(yᵀK⁻¹y) − √(y_{∖I}ᵀ (K_{∖I})⁻¹ y_{∖I}),

    the increase of the RKHS norm ‖f‖_H = √(yᵀK⁻¹y) of the interpolating kernel predictor that
    the points of I contribute (Arora et al. 2019 bound the generalization gap of a two-layer
    network by the same quantity). It is ≥ 0: removing points never increases the minimum norm
    needed to interpolate the rest.

    Args:
        K_train: (n, n) positive-definite kernel. y_train: (n,) targets.
        group: indices of the points in I (a sequence of ints, a 1-D integer tensor, or a
            boolean mask of length n).

    Returns:
        C(X_I), a float.

    Raises:
        ValueError: a K_train that is not symmetric positive definite, indices out of range or
            repeated.
    """
    K_train = square(K_train, "K_train")
    if not torch.allclose(K_train, K_train.T, rtol=1e-6, atol=1e-8 * float(K_train.abs().max())):
        raise ValueError("K_train must be symmetric")
    n = K_train.shape[0]
    y_train = as_vector(y_train, "y_train", n)
    index = torch.as_tensor(group, device=K_train.device)
    if index.numel() == 0:
        index = index.reshape(0).long()
    if index.dtype == torch.bool:
        if index.shape != (n,):
            raise ValueError(
                f"a boolean group mask must have length n = {n}, got {tuple(index.shape)}")
        index = index.nonzero().reshape(-1)
    if index.dtype.is_floating_point or index.dim() != 1:
        raise ValueError("group must be a 1-D sequence of integer indices or a boolean mask")
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= n):
        raise ValueError(f"group indices must lie in [0, {n}), got {index.tolist()}")
    if len(set(index.tolist())) != index.numel():
        raise ValueError("group indices must not repeat")
    keep = torch.ones(n, dtype=torch.bool, device=K_train.device)
    keep[index] = False

    def norm(K: torch.Tensor, y: torch.Tensor) -> float:
        if K.shape[0] == 0:
            return 0.0
        chol, info = torch.linalg.cholesky_ex(K)
        if int(info) != 0:
            raise ValueError("K_train must be positive definite: yᵀK⁻¹y is undefined for a "
                             "singular kernel")
        return float(torch.sqrt(y @ torch.cholesky_solve(y[:, None], chol)[:, 0]))

    return norm(K_train, y_train) - norm(K_train[keep][:, keep], y_train[keep])


def ntk_loo_influence_along_time(
    K_train: torch.Tensor,
    K_test_train: torch.Tensor,
    y_train: torch.Tensor,
    y_test: torch.Tensor,
    t: float | torch.Tensor,
) -> torch.Tensor:
    """Leave-one-out influence of the kernel predictor after training time t (Zhang & Zhang 2022,
    eq. 20).

    The predictor is gradient flow on ½‖f(X) − y‖² from f₀ = 0, as in
    :func:`ntkbook.gradient_flow_prediction`: f_t(x) = k(x)ᵀ K⁻¹(I − e^{−Kt}) y. (Zhang & Zhang
    write the mean loss (1/n)Σ(f − y)², whose flow is e^{−2tK/n}: their t is n/2 times this one.)
    Influence has the sign convention of :func:`ntk_loo_influence`: for a test point x_j,
    I_t[j, i] = ½(f_t⁽⁻ⁱ⁾(x_j) − y_j)² − ½(f_t(x_j) − y_j)², where f_t⁽⁻ⁱ⁾ is trained for the
    same time without point i. As t → ∞ it tends to the ridgeless :func:`ntk_loo_influence`.

    Removing a point changes the whole spectrum of the flow, so there is no rank-one shortcut as
    at t = ∞: each point costs one eigendecomposition of an (n − 1) × (n − 1) kernel, O(n⁴) in all
    (a few seconds for n = 300 on one core), and every time comes at once from that basis. No
    inverse is formed: (1 − e^{−λt})/λ → t as λ → 0, so a singular K_train is fine.

    Args:
        K_train: (n, n) PSD kernel. K_test_train: (n_test, n).
        y_train: (n,) targets. y_test: (n_test,) targets.
        t: a time ≥ 0, or a 1-D tensor of times.

    Returns:
        (n_test, n) for a scalar t; (len(t), n_test, n) for a tensor of times.
    """
    K_train, K_test_train = kernel_pair(K_train, K_test_train)
    n = K_train.shape[0]
    if n < 2:
        raise ValueError(f"leave-one-out needs at least 2 training points, got n = {n}")
    y_train = as_vector(y_train, "y_train", n)
    y_test = as_vector(y_test, "y_test", K_test_train.shape[0])
    times, scalar = _times(t, K_train)
    full = gradient_flow_prediction(K_train, K_test_train, y_train, times)  # (T, n_test)
    residual = full - y_test[None, :]
    out = torch.empty(len(times), K_test_train.shape[0], n, dtype=K_train.dtype,
                      device=K_train.device)
    everyone = torch.arange(n, device=K_train.device)
    for i in range(n):
        rows = everyone[everyone != i]
        without = gradient_flow_prediction(K_train[rows][:, rows], K_test_train[:, rows],
                                           y_train[rows], times)
        out[:, :, i] = 0.5 * ((without - y_test[None, :]) ** 2 - residual**2)
    return out[0] if scalar else out


# =============================================================================================
# Koh & Liang (2017): influence functions of a trained torch model
# =============================================================================================
#
# The training objective is L(w) = Σ_i ℓ(f(x_i; w), y_i) + ½ λ ‖w − w_anchor‖² with the square
# loss ℓ = ½(f − y)² or the logistic loss ℓ = log(1 + e^{−y f}), y = ±1. Removing training point i
# moves the minimizer, to first order, by H⁻¹∇ℓ_i (H = ∇²L at the optimum), so the test loss
# changes by ∇ℓ_tᵀ H⁻¹ ∇ℓ_i: Koh & Liang's I_up,loss(z_i, z_t) = −∇ℓ_tᵀH⁻¹∇ℓ_i with the sign and
# the 1/n of up-weighting by ε = −1/n (their objective is an average) absorbed, in the
# convention of this module (positive: i helped).

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

    Args:
        model: scalar-output module at (near) the optimum of L; its trainable parameters are w.
        X, y: the training set. V: (k, P) or (P,) right-hand sides (flat parameter order of
            ``model.named_parameters()``).
        loss: ``"squared"`` or ``"logistic"`` (labels ±1). ridge: λ ≥ 0.
        solver, damping, tol, max_iter (CG; default P), scale, depth, repeats, batch_size, seed
            (LiSSA): as above.

    Returns:
        :class:`IHVPSolution` (rows of ``solution`` match the rows of V).

    Raises:
        ValueError: unknown solver or loss, a Hessian that is not positive definite for
            ``"direct"``/``"cg"``, a LiSSA run that diverged (scale too small), bad shapes.
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
        for _ in range(repeats):
            h = V.clone()
            for _ in range(depth):
                weights = None
                if batch_size is not None:
                    chosen = torch.randperm(n, generator=g)[:batch_size].to(V.device)
                    weights = torch.zeros(n, dtype=V.dtype, device=V.device)
                    weights[chosen] = n / batch_size
                h = V + h - apply(h, weights) / scale
                if not torch.isfinite(h).all() or float(h.abs().max()) > 1e30:
                    raise ValueError(f"LiSSA diverged: scale = {scale:.4g} must exceed half the "
                                     "largest eigenvalue of H + damping·I (scale=None estimates "
                                     "it)")
            X_sol = X_sol + h / scale
        X_sol = X_sol / repeats
        iterations = depth * repeats
    residual = torch.linalg.vector_norm(apply(X_sol) - V, dim=1)
    return IHVPSolution(X_sol, solver, iterations,
                        residual / torch.linalg.vector_norm(V, dim=1).clamp_min(1e-300))


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
        X_train, y_train, X_test, y_test: the data. indices: training points to remove (all when
            omitted). loss, ridge, anchor, tol, max_iter: as :func:`fit_to_optimum`.

    Returns:
        (n_test, len(indices)) tensor.
    """
    objective = _Objective(model, X_train, y_train, loss, ridge, anchor)
    n = objective.X.shape[0]
    X_test = as_matrix(X_test, "X_test").to(dtype=objective.w.dtype, device=objective.w.device)
    y_test = as_vector(y_test, "y_test", X_test.shape[0]).to(dtype=objective.w.dtype,
                                                              device=objective.w.device)
    indices = list(range(n)) if indices is None else [int(i) for i in indices]
    if any(i < 0 or i >= n for i in indices):
        raise ValueError(f"indices must lie in [0, {n}), got {indices}")

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
