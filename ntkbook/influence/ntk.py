"""Influence in the NTK regime, from kernel matrices (Zhang & Zhang 2022; chapters 8–9).

* :func:`ntk_loo_influence` — exact kernel-ridge leave-one-out influence (eq. 8–9);
* :func:`ntk_ihvp_influence` — the IHVP estimate in the NTK regime (Prop. 1, eq. 13);
* :func:`kernel_ihvp_influence` — Koh & Liang's IHVP influence (eq. 12) of a trained model whose
  Hessian is JᵀJ + λI, from its tangent kernel and residuals (the push-through identity);
* :func:`ihvp_decomposition` — eq. 14 and Theorem 3's bound;
* :func:`ihvp_error_rate_lower_bound` — Theorem 3's lower bound λ_min/(λ_min + λ) on the
  error rate (eq. 16);
* :func:`group_complexity` — the complexity of a group of training points (eq. 19);
* :func:`ntk_loo_influence_along_time` — influence after a finite training time (eq. 20).

Sign convention (eq. 7): the change of the test loss ½(f(x_t) − y_t)² when training point i is
*removed*; positive means i helped.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import _lapack
from .._checks import (
    as_matrix,
    as_vector,
    kernel_pair,
    like,
    nonnegative_float,
    positive_float,
    psd_eigenvalues,
    same_device,
    square,
    symmetric,
)
from ..dynamics import _cholesky, _times, gradient_flow_prediction


def _kernel_inputs(K_train, K_test_train, y_train, y_test):
    """Kernels of one dtype and device; targets of the right lengths, cast to that dtype."""
    K_train, K_test_train = kernel_pair(K_train, K_test_train)
    like(K_train, "K_train", K_test_train, "K_test_train")
    y_train = as_vector(y_train, "y_train", K_train.shape[0])
    y_test = as_vector(y_test, "y_test", K_test_train.shape[0])
    same_device(K_train, "K_train", y_train, "y_train")
    same_device(K_train, "K_train", y_test, "y_test")
    return K_train, K_test_train, y_train.to(K_train.dtype), y_test.to(K_train.dtype)


def _kernel_problem(K_train, K_test_train, y_train, y_test, ridge):
    """Validate a kernel ridge problem; return it with G = (K + λI)⁻¹ and α = G y."""
    ridge = nonnegative_float(ridge, "ridge")
    K_train, K_test_train, y_train, y_test = _kernel_inputs(K_train, K_test_train, y_train,
                                                            y_test)
    n = K_train.shape[0]
    chol = _cholesky(K_train, ridge)
    if _lapack.applies(chol):  # LAPACK's potri: a third of the flops of the solve below
        G = _lapack.inverse_from_cholesky_in_place(chol)
    else:  # (K + λI)⁻¹ as a solve against I: same result as cholesky_inverse, steadier speed
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

    Example:
        The influence of training point 0 on test point 0 is the change of the test loss when
        the kernel ridge regressor is refitted without point 0:

        >>> import ntkbook
        >>> X = ntkbook.data.sphere(12, 3, seed=0)
        >>> K, y = ntkbook.relu_two_layer_ntk(X), torch.sin(3 * X[:, 0])
        >>> I = ntk_loo_influence(K[2:, 2:], K[:2, 2:], y[2:], y[:2], ridge=0.1)
        >>> without = ntkbook.kernel_ridge(K[3:, 3:], K[:1, 3:], y[3:], 0.1)
        >>> with_ = ntkbook.kernel_ridge(K[2:, 2:], K[:1, 2:], y[2:], 0.1)
        >>> retrained = 0.5 * (without - y[:1]) ** 2 - 0.5 * (with_ - y[:1]) ** 2
        >>> bool(torch.allclose(I[0, 0], retrained[0], rtol=1e-10))
        True
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


def kernel_ihvp_influence(
    K_train: torch.Tensor,
    K_test_train: torch.Tensor,
    residual_train: torch.Tensor,
    residual_test: torch.Tensor,
    ridge: float,
) -> torch.Tensor:
    """Koh & Liang's IHVP influence computed in function space (Zhang & Zhang 2022, eq. 12).

    For a model f(x; w) trained on L(w) = ½Σ_i (f(x_i; w) − y_i)² + ½λ‖w − w_anchor‖² whose
    Hessian at the trained weights is H = JᵀJ + λI — a linear or linearized model, or the
    two-layer ReLU network of eq. 1 wherever no pre-activation sits on the kink (ReLU'' = 0),
    J the (n, P) Jacobian of the training outputs — the per-example gradients are
    ∇ℓ_i = r_i J_iᵀ with r_i = f(x_i) − y_i, and the push-through identity
    (JᵀJ + λI)⁻¹Jᵀ = Jᵀ(JJᵀ + λI)⁻¹ turns the P × P solve into an n × n one:

        Î[t, i] = ∇ℓ_tᵀ H⁻¹ ∇ℓ_i = r_t r_i [K_te (K + λI)⁻¹]_{t,i},

    with K = JJᵀ and K_te = J(X_test)Jᵀ the tangent kernel at the trained weights. The result is
    what :func:`ntkbook.influence.koh_liang_influence` computes with an exact solver, in the
    removal convention of :func:`ntk_loo_influence` (positive: i helped), at O(n³ + n_test n²)
    cost instead of P-dimensional solves. The anchor of the ridge term enters only through the
    trained weights (where K and r are evaluated), not through H. With the infinite-width kernel
    and the kernel-ridge residuals it is :func:`ntk_ihvp_influence` (eq. 13).

    Args:
        K_train: (n, n) tangent kernel JJᵀ at the trained weights. K_test_train: (n_test, n).
        residual_train: (n,) f(x_i) − y_i. residual_test: (n_test,) f(x_t) − y_t.
        ridge: λ > 0 (without it H = JᵀJ is singular when P > n).

    Returns:
        (n_test, n) tensor Î[t, i].

    Raises:
        TypeError: non-tensors or mixed dtypes.
        ValueError: mismatched shapes, non-finite entries, ridge ≤ 0, a K_train that is not
            symmetric or for which K_train + λI is not positive definite.

    Example:
        A linear model f(x) = wᵀx is its own linearization; its tangent kernel is XXᵀ:

        >>> g = torch.Generator().manual_seed(0)
        >>> X = torch.randn(6, 10, generator=g, dtype=torch.float64)
        >>> y = torch.randn(6, generator=g, dtype=torch.float64)
        >>> H = X.T @ X + 0.5 * torch.eye(10, dtype=torch.float64)
        >>> w = torch.linalg.solve(H, X.T @ y)
        >>> r = X @ w - y
        >>> direct = (r[:, None] * X) @ torch.linalg.solve(H, (r[:, None] * X).T)
        >>> pushed = kernel_ihvp_influence(X @ X.T, X @ X.T, r, r, ridge=0.5)
        >>> bool(torch.allclose(pushed, direct))
        True
    """
    ridge = positive_float(ridge, "ridge")
    K_train, K_test_train = kernel_pair(K_train, K_test_train)
    like(K_train, "K_train", K_test_train, "K_test_train")
    residual_train = as_vector(residual_train, "residual_train", K_train.shape[0])
    residual_test = as_vector(residual_test, "residual_test", K_test_train.shape[0])
    like(K_train, "K_train", residual_train, "residual_train")
    like(K_train, "K_train", residual_test, "residual_test")
    chol = _cholesky(K_train, ridge)
    A = torch.cholesky_solve(K_test_train.T, chol).T  # K_te (K + λI)⁻¹
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


def _group_index(group: object, device: torch.device) -> torch.Tensor:
    if group is None or isinstance(group, (str, bytes)) or not (
            isinstance(group, torch.Tensor) or hasattr(group, "__iter__")):
        raise TypeError("group must be a 1-D sequence of integer indices or a boolean mask, "
                        f"got {type(group).__name__}")
    try:
        return torch.as_tensor(group, device=device)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError("group must be a 1-D sequence of integer indices or a boolean mask, "
                        f"got {group!r}") from err


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
        TypeError: a group that is not a sequence of indices or a mask.
        ValueError: a K_train that is not symmetric positive definite, indices out of range or
            repeated.
    """
    K_train = square(K_train, "K_train")
    symmetric(K_train, "K_train")
    n = K_train.shape[0]
    y_train = as_vector(y_train, "y_train", n)
    same_device(K_train, "K_train", y_train, "y_train")
    y_train = y_train.to(K_train.dtype)
    index = _group_index(group, K_train.device)
    if index.numel() == 0:
        index = index.reshape(0).long()
    if index.dtype == torch.bool:
        if index.shape != (n,):
            raise ValueError(
                f"a boolean group mask must have length n = {n}, got {tuple(index.shape)}")
        index = index.nonzero().reshape(-1)
    if index.dtype.is_floating_point or index.is_complex() or index.dim() != 1:
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


def _flow_filter(lam: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """(1 − e^{−λt})/λ for every (time, eigenvalue), continuous at λ = 0 (where it is t)."""
    lt = times[:, None] * lam[None, :]
    safe = torch.where(lam > 0, lam, torch.ones_like(lam))
    return torch.where(lam > 0, -torch.expm1(-lt) / safe, times[:, None].expand_as(lt))


def _target_columns(y_train: object, y_test: object, n: int, n_test: int,
                    K_train: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Targets as (n, k) and (n_test, k) columns of K_train's dtype; whether they were 1-D."""
    for value, name in ((y_train, "y_train"), (y_test, "y_test")):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if y_train.ndim == 1 and y_test.ndim == 1:
        y_train, y_test = as_vector(y_train, "y_train", n), as_vector(y_test, "y_test", n_test)
        y_train, y_test, single = y_train[:, None], y_test[:, None], True
    elif y_train.ndim == 2 and y_test.ndim == 2:
        y_train, y_test = as_matrix(y_train, "y_train"), as_matrix(y_test, "y_test")
        if (y_train.shape[0], y_test.shape[0], y_train.shape[1]) != (n, n_test, y_test.shape[1]):
            raise ValueError(f"y_train and y_test must have shapes ({n}, k) and ({n_test}, k), "
                             f"got {tuple(y_train.shape)} and {tuple(y_test.shape)}")
        single = False
    else:
        raise ValueError("y_train and y_test must both be 1-D (one target) or both 2-D (k "
                         f"targets), got shapes {tuple(y_train.shape)} and {tuple(y_test.shape)}")
    same_device(K_train, "K_train", y_train, "y_train")
    same_device(K_train, "K_train", y_test, "y_test")
    return y_train.to(K_train.dtype), y_test.to(K_train.dtype), single


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
    With the training set as the test set, the diagonal is each point's self-influence.

    Removing a point changes the whole spectrum of the flow, so there is no rank-one shortcut as
    at t = ∞: each point costs one eigendecomposition of an (n − 1) × (n − 1) kernel, O(n⁴) in all
    (a few seconds for n = 300 on one core), and every time comes at once from that basis. No
    inverse is formed: (1 − e^{−λt})/λ → t as λ → 0, so a singular K_train is fine. Several
    target vectors on the same inputs (clean and corrupted labels, say) share the
    eigendecompositions: pass them as the k columns of 2-D targets.

    Args:
        K_train: (n, n) PSD kernel. K_test_train: (n_test, n).
        y_train: (n,) targets, or (n, k) for k target vectors at once.
        y_test: (n_test,) targets, or (n_test, k) with the same k.
        t: a time ≥ 0, or a 1-D tensor of times.

    Returns:
        (n_test, n) for a scalar t; (len(t), n_test, n) for a tensor of times; with 2-D targets a
        trailing dimension k is added.

    Raises:
        TypeError: non-tensors or kernels of two dtypes.
        ValueError: mismatched shapes, 1-D targets mixed with 2-D ones, non-finite entries,
            t < 0, n < 2, a K_train that is not symmetric positive semi-definite.
    """
    K_train, K_test_train = kernel_pair(K_train, K_test_train)
    like(K_train, "K_train", K_test_train, "K_test_train")
    n, n_test = K_train.shape[0], K_test_train.shape[0]
    if n < 2:
        raise ValueError(f"leave-one-out needs at least 2 training points, got n = {n}")
    Y, Y_test, single = _target_columns(y_train, y_test, n, n_test, K_train)
    times, scalar = _times(t, K_train)
    # The full-data flow through the public, validated path (symmetry, PSD, finiteness).
    full = torch.stack([gradient_flow_prediction(K_train, K_test_train, Y[:, c], times)
                        for c in range(Y.shape[1])], -1)                  # (T, n_test, k)
    residual = full - Y_test[None]
    out = torch.empty(len(times), n_test, n, Y.shape[1], dtype=K_train.dtype,
                      device=K_train.device)
    everyone = torch.arange(n, device=K_train.device)
    for i in range(n):
        rows = everyone[everyone != i]
        # A principal submatrix of a PSD matrix is PSD: clamp only rounding below zero.
        lam, V = torch.linalg.eigh(K_train.index_select(0, rows).index_select(1, rows))
        spectral = _flow_filter(lam.clamp_min(0.0), times)                # (T, n − 1)
        coef = V @ (spectral[:, :, None] * (V.T @ Y[rows])[None])         # (T, n − 1, k)
        without = K_test_train.index_select(1, rows) @ coef              # (T, n_test, k)
        out[:, :, i] = 0.5 * ((without - Y_test[None]) ** 2 - residual**2)
    if single:
        out = out[..., 0]
    return out[0] if scalar else out


def ihvp_error_rate_lower_bound(K_train: torch.Tensor, ridge: float) -> float:
    """λ_min / (λ_min + λ): Zhang & Zhang's lower bound on the IHVP error rate (Theorem 3, eq. 16).

    In the NTK regime the IHVP estimate Î (eq. 13) scales the leading term of the exact
    leave-one-out influence I (eq. 14) by λG_ii, G = (K + λI)⁻¹, and λG_ii ≤ λ/(λ_min + λ); hence
    |I − Î| ≥ λ_min/(λ_min + λ)·|I| − ½α(x_i, x_t)²(f⁽⁻ⁱ⁾(x_i) − y_i)² for every pair. The rate
    tends to 1 (the estimate is useless) as λ → 0 and to 0 as λ → ∞;
    :func:`ihvp_decomposition` evaluates both sides pair by pair.

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
    symmetric(K_train, "K_train")
    eigenvalues = torch.linalg.eigvalsh(K_train)
    psd_eigenvalues(eigenvalues, "K_train")
    lambda_min = max(float(eigenvalues[0]), 0.0)
    return lambda_min / (lambda_min + ridge)
