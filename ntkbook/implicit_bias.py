"""The implicit bias of gradient descent on linear models (chapter 6).

Least squares, L(w) = ½‖Xw − y‖²:

* :func:`least_squares_gd` — gradient descent from a given start, with the recorded path.
* :func:`least_squares_closed_form` and :func:`least_squares_flow` — the same iterates in the
  SVD basis of X, after k steps of gradient descent or after time t of gradient flow.
* :func:`least_squares_limit` — where gradient descent ends: X⁺y + (I − X⁺X)w₀, the
  minimum-norm solution X⁺y when it starts from zero.
* :func:`ridge_path` — w_λ = (XᵀX + λI)⁻¹Xᵀy on a grid of λ.
* :func:`expected_risk` — E_ε‖ŵ − w*‖² of ridge or gradient flow under y = Xw* + ε, in closed
  form (Ali, Kolter & Tibshirani 2019 compare the two paths with it).

Logistic regression, L(w) = Σ_i c_i log(1 + exp(−y_i x_iᵀw)):

* :func:`logistic_gd` — gradient descent, optionally importance-weighted (Byrd & Lipton 2019),
  recording ‖w_t‖, the angle to a reference direction and the normalized margin.
* :func:`max_margin` — the hard-margin linear SVM without intercept, from scikit-learn's ``SVC``:
  the direction that gradient descent on separable data converges to (Soudry et al. 2018).
* :func:`asymptotic_offset` — the vector w̃ of w_t ≈ ŵ log t + w̃ (Soudry et al. 2018).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ._checks import as_matrix, as_vector, nonnegative_float, positive_float, positive_int

# --- shared helpers -------------------------------------------------------------------------


def log_steps(steps: int, num: int = 50) -> np.ndarray:
    """About ``num`` step indices spaced evenly in log scale from 1 to ``steps`` (both included).

    Args:
        steps: the last step, ≥ 1. num: how many points to aim for (duplicates are dropped).

    Returns:
        A sorted integer array without repetitions.
    """
    steps, num = positive_int(steps, "steps"), positive_int(num, "num")
    return np.unique(np.round(np.geomspace(1, steps, num)).astype(np.int64))


def _problem(X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    X = as_matrix(X, "X")
    y = as_vector(y, "y", X.shape[0]).to(X.dtype)
    return X, y


def _start(w0: torch.Tensor | None, X: torch.Tensor) -> torch.Tensor:
    if w0 is None:
        return torch.zeros(X.shape[1], dtype=X.dtype, device=X.device)
    return as_vector(w0, "w0", X.shape[1]).to(dtype=X.dtype, device=X.device)


def _record_steps(record_steps: Sequence[int] | np.ndarray | None, steps: int) -> np.ndarray:
    if record_steps is None:
        return np.arange(steps + 1)
    rec = np.asarray(record_steps)
    if rec.ndim != 1 or rec.size == 0 or not np.issubdtype(rec.dtype, np.integer):
        raise ValueError("record_steps must be a non-empty 1-D sequence of integers")
    if rec.min() < 0 or rec.max() > steps:
        raise ValueError(f"record_steps must lie in [0, steps = {steps}]")
    return np.unique(rec)


@dataclass(frozen=True)
class _SVD:
    U: torch.Tensor  # (n, r)
    s: torch.Tensor  # (r,) positive singular values
    V: torch.Tensor  # (d, r)


def _svd(X: torch.Tensor) -> _SVD:
    """Thin SVD of X restricted to its numerical rank (the cutoff of ``torch.linalg.pinv``)."""
    U, s, Vh = torch.linalg.svd(X, full_matrices=False)
    cutoff = float(s.max()) * max(X.shape) * torch.finfo(X.dtype).eps
    r = int((s > cutoff).sum())
    return _SVD(U[:, :r], s[:r], Vh[:r].T)


def _max_stable_lr(X: torch.Tensor) -> float:
    return 2.0 / float(torch.linalg.matrix_norm(X, ord=2)) ** 2


# --- least squares --------------------------------------------------------------------------


@dataclass(frozen=True)
class LeastSquaresPath:
    """What :func:`least_squares_gd` recorded (NumPy arrays, one row per recorded step).

    Attributes:
        step: the recorded step indices k.
        weights: (records, d) iterates w_k.
        loss: ½‖Xw_k − y‖².
        norm: ‖w_k‖₂.
    """

    step: np.ndarray
    weights: np.ndarray
    loss: np.ndarray
    norm: np.ndarray

    def __repr__(self) -> str:
        return (
            f"LeastSquaresPath(steps={int(self.step[-1])}, records={len(self.step)}, "
            f"d={self.weights.shape[1]}, final_loss={self.loss[-1]:.4g}, "
            f"final_norm={self.norm[-1]:.4g})"
        )


def least_squares_gd(
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    lr: float,
    steps: int,
    w0: torch.Tensor | None = None,
    record_steps: Sequence[int] | np.ndarray | None = None,
) -> LeastSquaresPath:
    """Gradient descent w_{k+1} = w_k − η Xᵀ(Xw_k − y) on L(w) = ½‖Xw − y‖², from w₀.

    Every iterate stays in w₀ + row(X), which is why gradient descent from zero ends at the
    minimum-norm solution (:func:`least_squares_limit`; the row-space argument of chapter 6).

    Args:
        X: (n, d) design matrix (n < d is the under-determined case). y: (n,) targets.
        lr: step size 0 < η < 2/σ_max(X)². steps: number of steps k ≥ 1.
        w0: (d,) start (zero when omitted).
        record_steps: the steps to record (default: every step from 0 to ``steps``).

    Returns:
        :class:`LeastSquaresPath`.

    Raises:
        ValueError: bad shapes, non-finite entries, ``record_steps`` outside [0, steps], or
            η ≥ 2/σ_max(X)², for which the iteration diverges along the top singular direction.
        TypeError: non-tensor or non-floating inputs.
    """
    X, y = _problem(X, y)
    lr = positive_float(lr, "lr")
    steps = positive_int(steps, "steps")
    w = _start(w0, X).clone()
    if lr >= _max_stable_lr(X):
        raise ValueError(
            f"lr = {lr:.4g} is not below 2/sigma_max(X)^2 = {_max_stable_lr(X):.4g}: "
            "gradient descent on least squares would diverge"
        )
    rec = _record_steps(record_steps, steps)
    out: dict[str, list] = {"step": [], "weights": [], "loss": [], "norm": []}
    position = 0
    with torch.no_grad():
        for k in range(steps + 1):
            residual = X @ w - y
            if position < len(rec) and rec[position] == k:
                out["step"].append(k)
                out["weights"].append(w.cpu().numpy().copy())
                out["loss"].append(0.5 * float(residual @ residual))
                out["norm"].append(float(torch.linalg.vector_norm(w)))
                position += 1
            if k == steps:
                break
            w -= lr * (X.T @ residual)
    return LeastSquaresPath(*(np.asarray(out[key]) for key in ("step", "weights", "loss", "norm")))


def least_squares_limit(
    X: torch.Tensor, y: torch.Tensor, w0: torch.Tensor | None = None
) -> torch.Tensor:
    """The limit of gradient descent (or flow) on ½‖Xw − y‖² from w₀: X⁺y + (I − X⁺X)w₀.

    The component of w₀ orthogonal to the row space never moves, and the row-space component
    converges to X⁺y. From w₀ = 0 this is the minimum-norm least-squares solution X⁺y (chapter 6,
    the row-space argument; the λ → 0 end of the ridge path).

    Args:
        X: (n, d). y: (n,). w0: (d,) start (zero when omitted).

    Returns:
        (d,) tensor.

    Raises:
        ValueError, TypeError: bad shapes or dtypes.
    """
    X, y = _problem(X, y)
    w0 = _start(w0, X)
    svd = _svd(X)
    row_part = svd.V @ (svd.V.T @ w0)
    return svd.V @ ((svd.U.T @ y) / svd.s) + (w0 - row_part)


def _iterates(X, y, w0, decay):
    # w = w_lim + V diag(decay(σ²)) Vᵀ (w₀ − X⁺y): the error w − w_lim lives in the row space and
    # contracts by decay(σ_i²) along the right singular vector v_i.
    X, y = _problem(X, y)
    w0 = _start(w0, X)
    svd = _svd(X)
    coef_min_norm = (svd.U.T @ y) / svd.s
    error0 = svd.V.T @ w0 - coef_min_norm  # coordinates of P_row(w₀) − X⁺y
    w_lim = svd.V @ coef_min_norm + (w0 - svd.V @ (svd.V.T @ w0))
    factors = decay(svd.s**2)  # (T, r)
    return w_lim[None, :] + (factors * error0[None, :]) @ svd.V.T


def _as_grid(values, name: str, like: torch.Tensor, *, integer: bool = False) -> torch.Tensor:
    grid = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
    if grid.numel() == 0 or not torch.isfinite(grid).all() or (grid < 0).any():
        raise ValueError(f"{name} must be finite numbers >= 0, got {values!r}")
    if integer and not torch.equal(grid, grid.round()):
        raise ValueError(f"{name} must be whole numbers, got {values!r}")
    return grid.to(dtype=like.dtype, device=like.device)


def least_squares_closed_form(
    X: torch.Tensor,
    y: torch.Tensor,
    steps: int | Sequence[int] | np.ndarray | torch.Tensor,
    *,
    lr: float,
    w0: torch.Tensor | None = None,
) -> torch.Tensor:
    """The iterate of :func:`least_squares_gd` after k steps, in closed form in the SVD of X.

    With X = Σ_i σ_i u_i v_iᵀ, the error e_k = w_k − w_∞ (w_∞ = :func:`least_squares_limit`)
    lies in the row space and obeys e_{k+1} = (I − ηXᵀX)e_k, so

        w_k = w_∞ + Σ_i (1 − ησ_i²)^k ⟨v_i, w₀ − X⁺y⟩ v_i.

    From w₀ = 0 the coordinate along v_i is (1 − (1 − ησ_i²)^k) ⟨u_i, y⟩/σ_i: a spectral filter,
    the discrete-time counterpart of gradient flow's 1 − e^{−σ_i² t} (chapter 6, section 6.2).

    Args:
        X: (n, d). y: (n,). steps: k ≥ 0, or a 1-D sequence of step counts.
        lr: η > 0 (not checked for stability: the formula holds for any η).
        w0: (d,) start (zero when omitted).

    Returns:
        (len(steps), d) tensor (one row per step count; one row for a single k).

    Raises:
        ValueError: negative or fractional step counts, bad shapes. TypeError: bad dtypes.
    """
    lr = positive_float(lr, "lr")
    ks = _as_grid(steps, "steps", X, integer=True)
    return _iterates(X, y, w0, lambda s2: (1 - lr * s2)[None, :] ** ks[:, None])


def least_squares_flow(
    X: torch.Tensor,
    y: torch.Tensor,
    times: float | Sequence[float] | np.ndarray | torch.Tensor,
    *,
    w0: torch.Tensor | None = None,
) -> torch.Tensor:
    """Gradient flow dw/dt = −Xᵀ(Xw − y) at time t: w_t = w_∞ + Σ_i e^{−σ_i² t}⟨v_i, w₀ − X⁺y⟩ v_i.

    The limit of :func:`least_squares_closed_form` as η → 0 with ηk = t. From w₀ = 0 the
    coordinate along v_i is (1 − e^{−σ_i² t})⟨u_i, y⟩/σ_i, against σ_i/(σ_i² + λ)·⟨u_i, y⟩ for
    ridge: with λ = 1/t the two filters agree for σ_i² t ≪ 1 and ≫ 1 (Ali et al. 2019).

    Args:
        X: (n, d). y: (n,). times: t ≥ 0, or a 1-D sequence of times. w0: (d,) start.

    Returns:
        (len(times), d) tensor.

    Raises:
        ValueError: negative or non-finite times, bad shapes. TypeError: bad dtypes.
    """
    ts = _as_grid(times, "times", X)
    return _iterates(X, y, w0, lambda s2: torch.exp(-ts[:, None] * s2[None, :]))


def ridge_path(
    X: torch.Tensor, y: torch.Tensor, ridges: float | Sequence[float] | np.ndarray | torch.Tensor
) -> torch.Tensor:
    """Ridge regression w_λ = (XᵀX + λI)⁻¹Xᵀy = Σ_i σ_i/(σ_i² + λ) ⟨u_i, y⟩ v_i on a grid of λ.

    The minimizer of ½‖Xw − y‖² + ½λ‖w‖² (the same unnormalized loss as :func:`least_squares_gd`,
    so that early stopping after time t compares with λ = 1/t). λ = 0 is allowed and means the
    limit λ → 0⁺, the minimum-norm solution X⁺y, even when XᵀX is singular.

    Args:
        X: (n, d). y: (n,). ridges: λ ≥ 0, or a 1-D sequence of them.

    Returns:
        (len(ridges), d) tensor.

    Raises:
        ValueError: a negative or non-finite λ, bad shapes. TypeError: bad dtypes.
    """
    X, y = _problem(X, y)
    lams = _as_grid(ridges, "ridges", X)
    svd = _svd(X)
    filt = svd.s[None, :] / (svd.s[None, :] ** 2 + lams[:, None])
    return (filt * (svd.U.T @ y)[None, :]) @ svd.V.T


def expected_risk(
    X: torch.Tensor,
    w_star: torch.Tensor,
    noise_variance: float,
    *,
    ridges: float | Sequence[float] | np.ndarray | torch.Tensor | None = None,
    times: float | Sequence[float] | np.ndarray | torch.Tensor | None = None,
) -> torch.Tensor:
    """E_ε‖ŵ − w*‖² for y = Xw* + ε, ε ~ N(0, s²I), of ridge (``ridges``) or gradient flow
    from zero (``times``).

    Both estimators act on the SVD coordinates by a filter h_i ∈ [0, 1]: ŵ has coordinate
    h_i⟨u_i, y⟩/σ_i along v_i, with h_i = σ_i²/(σ_i² + λ) for ridge and 1 − e^{−σ_i² t} for
    gradient flow. Hence

        E‖ŵ − w*‖² = Σ_i (1 − h_i)² ⟨v_i, w*⟩² + ‖(I − X⁺X)w*‖² + s² Σ_i h_i²/σ_i²

    (bias from the shrunk and the unseen directions, variance from the noise). Ali, Kolter &
    Tibshirani (2019, their comparison of gradient flow and ridge with λ = 1/t) bound the ratio of
    the two risks; the chapter evaluates it with this function. For an isotropic test input
    x ~ N(0, I) this is also the excess prediction risk.

    Args:
        X: (n, d). w_star: (d,) true coefficients. noise_variance: s² ≥ 0.
        ridges: λ ≥ 0 values, or times: t ≥ 0 values — exactly one of the two.

    Returns:
        1-D tensor, one risk per λ or t.

    Raises:
        ValueError: both or neither of ``ridges``/``times``, negative values, bad shapes.
    """
    X = as_matrix(X, "X")
    w_star = as_vector(w_star, "w_star", X.shape[1]).to(X.dtype)
    noise_variance = nonnegative_float(noise_variance, "noise_variance")
    if (ridges is None) == (times is None):
        raise ValueError("give exactly one of ridges= and times=")
    svd = _svd(X)
    s2 = svd.s**2
    if ridges is not None:
        lams = _as_grid(ridges, "ridges", X)
        h = s2[None, :] / (s2[None, :] + lams[:, None])
    else:
        ts = _as_grid(times, "times", X)
        h = -torch.expm1(-ts[:, None] * s2[None, :])
    coords = svd.V.T @ w_star
    unseen = float(torch.linalg.vector_norm(w_star - svd.V @ coords)) ** 2
    bias = ((1 - h) ** 2 * coords[None, :] ** 2).sum(1) + unseen
    variance = noise_variance * (h**2 / s2[None, :]).sum(1)
    return bias + variance


# --- logistic regression on separable data ----------------------------------------------------


def _sample_weight(sample_weight: torch.Tensor | None, y: torch.Tensor) -> torch.Tensor:
    """The importance weights c_i > 0 (all ones when omitted), in the dtype of the labels."""
    if sample_weight is None:
        return torch.ones_like(y)
    c = as_vector(sample_weight, "sample_weight", y.shape[0]).to(y.dtype)
    if not bool((c > 0).all()):
        raise ValueError("sample_weight must be positive")
    return c


def _labels(y: torch.Tensor, n: int) -> torch.Tensor:
    y = as_vector(y, "y", n)
    if not torch.all((y == 1) | (y == -1)):
        raise ValueError("y must hold labels +1 and -1")
    return y


@dataclass(frozen=True)
class LogisticPath:
    """What :func:`logistic_gd` recorded (NumPy arrays, one entry per recorded step).

    Attributes:
        step: recorded step indices t.
        weights: (records, d) iterates w_t.
        loss: Σ_i c_i log(1 + exp(−y_i x_iᵀw_t)).
        norm: ‖w_t‖₂.
        margin: the normalized margin min_i y_i x_iᵀw_t/‖w_t‖ (NaN where w_t = 0).
        angle: angle in radians between w_t and the reference direction (NaN where w_t = 0;
            None without a reference).
    """

    step: np.ndarray
    weights: np.ndarray
    loss: np.ndarray
    norm: np.ndarray
    margin: np.ndarray
    angle: np.ndarray | None = None

    def __repr__(self) -> str:
        angle = "" if self.angle is None else f", final_angle={self.angle[-1]:.4g}"
        return (
            f"LogisticPath(steps={int(self.step[-1])}, records={len(self.step)}, "
            f"final_loss={self.loss[-1]:.4g}, final_norm={self.norm[-1]:.4g}{angle})"
        )


def logistic_gd(
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    lr: float,
    steps: int,
    sample_weight: torch.Tensor | None = None,
    reference: torch.Tensor | None = None,
    w0: torch.Tensor | None = None,
    record_steps: Sequence[int] | np.ndarray | None = None,
) -> LogisticPath:
    """Gradient descent on the (importance-weighted) logistic loss, recording its direction.

    L(w) = Σ_i c_i log(1 + exp(−y_i x_iᵀw)) with weights c_i > 0 (all 1 by default), and
    w_{t+1} = w_t − η∇L(w_t). On linearly separable data L has no minimizer: ‖w_t‖ grows like
    ‖ŵ‖ log t and w_t/‖w_t‖ converges to the max-margin direction ŵ/‖ŵ‖ (Soudry et al. 2018,
    their main theorem: w_t = ŵ log t + ρ_t with ρ_t bounded, for η below 2/(βσ_max²), β = ¼ the
    smoothness of the logistic loss). The weights c_i only change ρ_t, so they do not change the
    limit direction (Byrd & Lipton 2019).

    Args:
        X: (n, d) inputs. y: (n,) labels ±1.
        lr: step size, 0 < η < 8/σ_max(C^{1/2}X)² (C = diag(c)), the smoothness condition of
            the theorem. steps: number of steps ≥ 1.
        sample_weight: (n,) importance weights c_i > 0.
        reference: (d,) non-zero direction to measure the angle to (e.g. ``max_margin(X, y).w``).
        w0: (d,) start (zero when omitted).
        record_steps: steps to record (default: every step; :func:`log_steps` for long runs).

    Returns:
        :class:`LogisticPath`.

    Raises:
        ValueError: bad shapes, labels other than ±1, non-positive weights, a zero reference,
            ``record_steps`` outside [0, steps], or a step size at or above the bound.
        TypeError: non-tensor or non-floating inputs.
    """
    X = as_matrix(X, "X")
    y = _labels(y, X.shape[0]).to(X.dtype)
    lr = positive_float(lr, "lr")
    steps = positive_int(steps, "steps")
    c = _sample_weight(sample_weight, y)
    ref = None
    if reference is not None:
        ref = as_vector(reference, "reference", X.shape[1]).to(X.dtype)
        if float(torch.linalg.vector_norm(ref)) == 0.0:
            raise ValueError("reference must be a non-zero direction")
        ref = ref / torch.linalg.vector_norm(ref)
    bound = 8.0 / float(torch.linalg.matrix_norm(c.sqrt()[:, None] * X, ord=2)) ** 2
    if lr >= bound:
        raise ValueError(
            f"lr = {lr:.4g} is not below 8/sigma_max(C^(1/2) X)^2 = {bound:.4g}, the step-size "
            "condition of the convergence theorem"
        )
    w = _start(w0, X).clone()
    G = y[:, None] * X  # rows y_i x_i
    # The loop does three in-place kernels per step (it runs for 10⁵–10⁶ steps):
    # buf = σ(−Gw), then w += η (CG)ᵀ buf.
    minus_G = (-G).contiguous()
    weighted_GT = (c[:, None] * G).T.contiguous()
    buf = torch.empty_like(y)
    rec = _record_steps(record_steps, steps)
    out: dict[str, list] = {k: [] for k in ("step", "weights", "loss", "norm", "margin", "angle")}
    position = 0
    with torch.no_grad():
        for t in range(steps + 1):
            if position < len(rec) and rec[position] == t:
                m = G @ w
                norm = float(torch.linalg.vector_norm(w))
                out["step"].append(t)
                out["weights"].append(w.cpu().numpy().copy())
                out["loss"].append(float((c * torch.nn.functional.softplus(-m)).sum()))
                out["norm"].append(norm)
                out["margin"].append(float(m.min()) / norm if norm > 0 else math.nan)
                if ref is not None:
                    cos = float(ref @ w) / norm if norm > 0 else math.nan
                    out["angle"].append(math.acos(min(1.0, max(-1.0, cos)))
                                        if norm > 0 else math.nan)
                position += 1
            if t == steps:
                break
            torch.mv(minus_G, w, out=buf)
            buf.sigmoid_()
            w.addmv_(weighted_GT, buf, alpha=lr)
    return LogisticPath(
        step=np.asarray(out["step"]),
        weights=np.asarray(out["weights"]),
        loss=np.asarray(out["loss"]),
        norm=np.asarray(out["norm"]),
        margin=np.asarray(out["margin"]),
        angle=np.asarray(out["angle"]) if ref is not None else None,
    )


@dataclass(frozen=True)
class MaxMargin:
    """The hard-margin SVM without intercept: ŵ = argmin ‖w‖ subject to y_i x_iᵀw ≥ 1.

    Attributes:
        w: (d,) the solution ŵ; ``direction`` is ŵ/‖ŵ‖.
        alpha: (n,) dual coefficients α_i ≥ 0 with ŵ = Σ_i α_i y_i x_i, zero off the support.
        support: indices of the support vectors (y_i x_iᵀŵ = 1).
        margin: the geometric margin 1/‖ŵ‖ = max_{‖u‖=1} min_i y_i x_iᵀu.
    """

    w: torch.Tensor
    alpha: torch.Tensor
    support: torch.Tensor
    margin: float

    @property
    def direction(self) -> torch.Tensor:
        return self.w / torch.linalg.vector_norm(self.w)

    def __repr__(self) -> str:
        return (
            f"MaxMargin(d={self.w.shape[0]}, support_vectors={len(self.support)}, "
            f"margin={self.margin:.4g}, norm={1 / self.margin:.4g})"
        )


def _separable(G: np.ndarray) -> bool:
    from scipy.optimize import linprog

    # Feasibility of Gw ≥ 1 is exactly linear separability through the origin.
    n, d = G.shape
    result = linprog(np.zeros(d), A_ub=-G, b_ub=-np.ones(n), bounds=[(None, None)] * d,
                     method="highs")
    return result.status == 0


def max_margin(
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    C: float = 1e8,
    tol: float = 1e-12,
    support_tol: float = 1e-5,
) -> MaxMargin:
    """The max-margin (hard-margin SVM) solution through the origin, from scikit-learn.

    Solves min ½‖w‖² subject to y_i x_iᵀw ≥ 1 with ``sklearn.svm.SVC(kernel="linear")``
    (libsvm), whose soft-margin problem is the hard-margin one once C exceeds every dual
    coefficient. libsvm always fits an intercept b; it is trained on the symmetrized data
    {(x_i, y_i)} ∪ {(−x_i, −y_i)}, whose max-margin hyperplane passes through the origin (the
    reflection maps a solution (w, b) to (w, −b), and the solution is unique), and whose
    constraints are exactly the original ones. The dual coefficients of a point and its mirror
    image add up to the α_i of ŵ = Σ_i α_i y_i x_i. This ŵ is the limit direction of
    :func:`logistic_gd` (Soudry et al. 2018).

    Args:
        X: (n, d) inputs. y: (n,) labels ±1 (both present).
        C: the soft-margin constant, large enough to make the margin hard.
        tol: libsvm's stopping tolerance.
        support_tol: how close to 1 a margin y_i x_iᵀŵ must be to count as a support vector.

    Returns:
        :class:`MaxMargin` (tensors in X's dtype and device). libsvm reaches the KKT conditions
        to about 1e-6 relative: margins ≥ 1 − 1e-5, equality on the support vectors.

    Raises:
        ValueError: bad shapes, labels other than ±1 or only one class, data that are not
            linearly separable through the origin, or a C too small for a hard margin.
    """
    from sklearn.svm import SVC

    X = as_matrix(X, "X")
    y = _labels(y, X.shape[0]).to(X.dtype)
    C = positive_float(C, "C")
    tol = positive_float(tol, "tol")
    support_tol = positive_float(support_tol, "support_tol")
    if bool((y == y[0]).all()):
        raise ValueError("y must contain both labels +1 and -1")
    Xn, yn = X.detach().cpu().double().numpy(), y.detach().cpu().double().numpy()
    n = len(yn)
    G = yn[:, None] * Xn
    if not _separable(G):
        raise ValueError("X, y are not linearly separable through the origin: no max-margin "
                         "solution exists. The logistic loss has a finite minimizer only if the "
                         "data are strictly non-separable (no w != 0 with y_i x_i^T w >= 0 for "
                         "all i); otherwise gradient descent still diverges along the separable "
                         "part of the data (Ji & Telgarsky 2019)")
    svm = SVC(C=C, kernel="linear", tol=tol, shrinking=False)
    svm.fit(np.vstack([Xn, -Xn]), np.concatenate([yn, -yn]))
    w = svm.coef_[0].astype(np.float64)
    margins = G @ w
    if margins.min() < 1 - 1e-5:
        raise ValueError(f"C = {C:g} is too small for a hard margin (a point has margin "
                         f"{margins.min():.6g} < 1); increase C")
    alpha = np.zeros(2 * n)
    alpha[svm.support_] = np.abs(svm.dual_coef_[0])  # libsvm stores α_i y_i
    alpha = alpha[:n] + alpha[n:]
    support = np.flatnonzero(margins <= 1 + support_tol)
    as_t = {"dtype": X.dtype, "device": X.device}
    return MaxMargin(
        w=torch.as_tensor(w, **as_t),
        alpha=torch.as_tensor(alpha, **as_t),
        support=torch.as_tensor(support, dtype=torch.long, device=X.device),
        margin=float(1.0 / np.linalg.norm(w)),
    )


def asymptotic_offset(X: torch.Tensor, y: torch.Tensor, svm: MaxMargin, *, lr: float,
                      sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    """The offset w̃ in w_t ≈ ŵ log t + w̃ for gradient descent on the logistic loss.

    Soudry et al. (2018) show that the residual ρ_t = w_t − ŵ log t converges, for almost every
    separable data set, to a vector w̃ with η exp(−y_i x_iᵀw̃) = α_i on every support vector
    (the limit of the exponentially weighted gradient must reproduce ŵ = Σ_i α_i y_i x_i). When
    the support vectors span ℝ^d these equations determine w̃:
    y_i x_iᵀw̃ = log(η c_i/α_i) for i in the support, with importance weights c_i (1 by
    default). The weights move w̃ but not ŵ (Byrd & Lipton 2019). Then the angle to ŵ behaves like
    ‖w̃_⊥‖/(‖ŵ‖ log t + ⟨ŵ, w̃⟩/‖ŵ‖): a 1/log t decay with an offset.

    Args:
        X, y: the data :func:`max_margin` was computed on. svm: its result.
        lr: the step size η of :func:`logistic_gd`.
        sample_weight: (n,) the importance weights c_i > 0 of the run (all 1 when omitted).

    Returns:
        (d,) tensor w̃.

    Raises:
        ValueError: the support vectors do not span ℝ^d (w̃ is then not determined by them), or
            a support vector has α_i = 0, or a non-positive weight.
    """
    X = as_matrix(X, "X")
    y = _labels(y, X.shape[0]).to(X.dtype)
    lr = positive_float(lr, "lr")
    c = _sample_weight(sample_weight, y)
    S = svm.support
    G_S = y[S, None] * X[S]
    if int(torch.linalg.matrix_rank(G_S)) < X.shape[1]:
        raise ValueError(
            f"the {len(S)} support vectors span fewer than d = {X.shape[1]} dimensions: "
            "the offset is not determined by them"
        )
    alpha = svm.alpha[S]
    if bool((alpha <= 0).any()):
        raise ValueError("a support vector has dual coefficient 0 (a degenerate data set)")
    return torch.linalg.lstsq(G_S, torch.log(lr * c[S] / alpha)).solution
