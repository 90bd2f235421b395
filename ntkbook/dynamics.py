"""Training, and the closed forms that training in the kernel regime should match.

* :func:`gradient_descent` — full-batch gradient descent on L(w) = ½ Σ_i (f(x_i) − y_i)²
  (+ the optional ½λ‖w − w₀‖² of Zhang & Zhang 2022, eq. 2), recording a
  :class:`TrainingHistory`.
* :func:`kernel_ridge` — the kernel (ridge) regression predictor (Zhang & Zhang 2022, eq. 6).
* :func:`gradient_flow_prediction` and :func:`gradient_descent_prediction` — the output of the
  linearized model after time t of gradient flow, or k steps of gradient descent, in closed form
  (Jacot et al. 2018; Lee et al. 2019, the dynamics of the linearized network).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import _lapack
from ._checks import (
    as_matrix,
    as_vector,
    finite_targets,
    kernel_pair_shapes,
    like,
    nonnegative_float,
    positive_float,
    positive_int,
    psd_eigenvalues,
    same_device,
    symmetric_finite,
    symmetric_finite_upper_copy,
)
from .models import MLP, TwoLayerReLU


@dataclass(frozen=True)
class TrainingHistory:
    """What :func:`gradient_descent` recorded, one entry per recorded step.

    Attributes:
        step: the step indices k at which the other arrays were recorded (k = 0 is the start).
        loss: ½ Σ_i (f(x_i) − y_i)² (without the ridge term).
        weight_distance: ‖w(k) − w(0)‖₂ over all trainable parameters (‖W(k) − W(0)‖_F for a
            single weight matrix).
        max_neuron_distance: max_r ‖w_r(k) − w_r(0)‖₂ (:class:`~ntkbook.TwoLayerReLU` only).
        activation_flips: fraction of (example, neuron) ReLU patterns that differ from step 0
            (ReLU models only).
        lambda_min: least eigenvalue of the tangent kernel on the training set
            (only when ``record_gram=True``).
        predictions: (n_records, n) training outputs (only when ``record_predictions=True``).
        test_predictions: (n_records, n_test) outputs on ``X_test`` (only when it is given).
    """

    step: np.ndarray
    loss: np.ndarray
    weight_distance: np.ndarray
    max_neuron_distance: np.ndarray | None = None
    activation_flips: np.ndarray | None = None
    lambda_min: np.ndarray | None = None
    predictions: np.ndarray | None = None
    test_predictions: np.ndarray | None = None

    def __repr__(self) -> str:
        recorded = [k for k, v in vars(self).items() if v is not None]
        return (
            f"TrainingHistory(steps={int(self.step[-1])}, records={len(self.step)}, "
            f"final_loss={self.loss[-1]:.4g}, fields={recorded})"
        )


def _relu_patterns(model: nn.Module, X: torch.Tensor) -> torch.Tensor | None:
    with torch.no_grad():
        if isinstance(model, TwoLayerReLU):
            return model.activation_pattern(X)
        if isinstance(model, MLP) and model.activation.name == "relu":
            pre, _ = model.forward_trace(X)
            return torch.cat([z > 0 for z in pre], dim=1)
    return None


def gradient_descent(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    lr: float,
    steps: int,
    ridge: float = 0.0,
    record_every: int = 1,
    record_gram: bool = False,
    record_predictions: bool = False,
    X_test: torch.Tensor | None = None,
) -> TrainingHistory:
    """Train ``model`` in place by full-batch gradient descent and record its trajectory.

    w(k+1) = w(k) − η ∇L(w(k)),  L(w) = ½ Σ_i (f(x_i; w) − y_i)² + ½ λ ‖w − w(0)‖²,

    the squared loss of Du et al. (2019) and, with λ = ``ridge`` > 0, the regularized loss of
    Zhang & Zhang (2022, eq. 2). Only parameters with ``requires_grad`` are updated.

    Args:
        model: scalar-output module, (n, d) → (n,) (trained in place).
        X: (n, d) training inputs. y: (n,) targets.
        lr: step size η > 0. steps: number of steps k ≥ 1.
        ridge: λ ≥ 0 of the pull towards the initialization.
        record_every: record every this many steps (and always the first and last).
        record_gram: also record λ_min of the tangent kernel (one empirical NTK per record).
        record_predictions: also record the training outputs.
        X_test: if given, record the outputs on these inputs too.

    Returns:
        :class:`TrainingHistory`.

    Raises:
        ValueError: bad shapes or hyper-parameters, a model whose output is not (n,), or a loss
            that became non-finite (the step size is too large).
    """
    from .empirical import empirical_ntk

    X = as_matrix(X, "X")
    y = as_vector(y, "y", X.shape[0])
    lr = positive_float(lr, "lr")
    steps = positive_int(steps, "steps")
    ridge = nonnegative_float(ridge, "ridge")
    record_every = positive_int(record_every, "record_every")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"model {model!r} has no trainable parameters")
    dtype, device = params[0].dtype, params[0].device
    X, y = X.to(dtype=dtype, device=device), y.to(dtype=dtype, device=device)
    if X_test is not None:
        X_test = as_matrix(X_test, "X_test")
        if X_test.shape[1] != X.shape[1]:
            raise ValueError(f"X_test must have {X.shape[1]} columns like X, "
                             f"got {X_test.shape[1]}")
        X_test = X_test.to(dtype=dtype, device=device)
    w0 = [p.detach().clone() for p in params]
    pattern0 = _relu_patterns(model, X)
    two_layer = isinstance(model, TwoLayerReLU)

    rec: dict[str, list] = {k: [] for k in (
        "step", "loss", "weight_distance", "max_neuron_distance", "activation_flips",
        "lambda_min", "predictions", "test_predictions")}

    def record(k: int, out: torch.Tensor) -> None:
        with torch.no_grad():
            rec["step"].append(k)
            rec["loss"].append(float(0.5 * ((out - y) ** 2).sum()))
            rec["weight_distance"].append(
                math.sqrt(sum(float(((p - q) ** 2).sum()) for p, q in zip(params, w0))))
            if two_layer:
                rec["max_neuron_distance"].append(
                    float(torch.linalg.vector_norm(model.W - w0[0], dim=1).max()))
            if pattern0 is not None:
                rec["activation_flips"].append(
                    float((_relu_patterns(model, X) != pattern0).double().mean()))
            if record_predictions:
                rec["predictions"].append(out.detach().cpu().numpy().copy())
            if X_test is not None:
                rec["test_predictions"].append(model(X_test).detach().cpu().numpy().copy())
        if record_gram:
            K = empirical_ntk(model, X)
            rec["lambda_min"].append(float(torch.linalg.eigvalsh(K)[0]))

    for k in range(steps + 1):
        out = model(X)
        if k == 0 and out.shape != y.shape:  # (n, 1) − (n,) would broadcast to (n, n)
            raise ValueError(f"model must map (n, d) inputs to (n,) outputs (a scalar per "
                             f"example); it returned shape {tuple(out.shape)} for X of shape "
                             f"{tuple(X.shape)}")
        if k % record_every == 0 or k == steps:
            record(k, out)
        loss = 0.5 * ((out - y) ** 2).sum()
        if not torch.isfinite(loss):  # checked every step, not only at the recorded ones
            raise ValueError(f"the loss became non-finite at step {k}: lr={lr} is too large")
        if k == steps:
            break
        if ridge > 0:
            loss = loss + 0.5 * ridge * sum(((p - q) ** 2).sum() for p, q in zip(params, w0))
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(lr * g)

    def arr(key: str) -> np.ndarray | None:
        return np.asarray(rec[key]) if rec[key] else None

    return TrainingHistory(
        step=np.asarray(rec["step"]),
        loss=np.asarray(rec["loss"]),
        weight_distance=np.asarray(rec["weight_distance"]),
        max_neuron_distance=arr("max_neuron_distance"),
        activation_flips=arr("activation_flips"),
        lambda_min=arr("lambda_min"),
        predictions=arr("predictions"),
        test_predictions=arr("test_predictions"),
    )


def kernel_ridge(
    K_train: torch.Tensor,
    K_test_train: torch.Tensor,
    y_train: torch.Tensor,
    ridge: float,
) -> torch.Tensor:
    """Kernel ridge regression f(x) = k(x)ᵀ (K + λI)⁻¹ y (Zhang & Zhang 2022, eq. 6).

    With λ = 0 this is the kernel "ridgeless" interpolant, the prediction of an infinitely wide
    network trained to convergence from f₀ = 0 (Arora et al. 2019, "On exact computation").

    Args:
        K_train: (n, n) symmetric positive semi-definite kernel on the training set.
        K_test_train: (n_test, n) kernel between test and training points.
        y_train: (n,) targets, or (n, K) for several outputs.
        ridge: λ ≥ 0, added to the diagonal (not scaled by n).

    Returns:
        (n_test,) predictions (or (n_test, K)).

    Raises:
        TypeError: non-tensors, or kernels of two dtypes.
        ValueError: negative ridge, mismatched shapes, non-finite entries (targets included), or
            K + λI not positive definite (for example λ = 0 with a singular kernel).
    """
    ridge = nonnegative_float(ridge, "ridge")
    # Entries are checked where they are read anyway: K_train by _cholesky's probes, K_test_train
    # through the predictions (any NaN or inf in it reaches the output); y_train is O(n).
    K_train, K_test_train = kernel_pair_shapes(K_train, K_test_train)
    like(K_train, "K_train", K_test_train, "K_test_train")
    same_device(K_train, "K_train", finite_targets(y_train, K_train.shape[0], "y_train"),
                "y_train")
    n = K_train.shape[0]
    Y = _targets(y_train, n)
    chol = _cholesky(K_train, ridge)
    Y = Y.to(K_train.dtype)
    if _lapack.applies(K_train) and not _lapack.differentiated(Y):
        coef = _lapack.cholesky_solve(chol, Y)
    else:
        coef = torch.cholesky_solve(Y, chol)
    out = K_test_train @ coef
    if not torch.isfinite(out).all():
        raise ValueError("K_test_train or y_train contains NaN or infinite entries")
    return out[:, 0] if y_train.ndim == 1 else out


def _targets(y: torch.Tensor, n: int, name: str = "y_train") -> torch.Tensor:
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(y).__name__}")
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) or ({n}, K), got {tuple(y.shape)}")
    if not y.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {y.dtype}")
    return y[:, None] if y.ndim == 1 else y


def _cholesky(K: torch.Tensor, ridge: float) -> torch.Tensor:
    """Cholesky factor of K + ridge·I, or a ValueError that says why there is none.

    The factor is the lower triangle of the returned matrix, with zeros above its diagonal.
    """
    # K is symmetric (checked while its upper triangle is copied), and the upper triangle of the
    # row-major copy is the lower triangle of K + ridge·I in the column-major layout LAPACK
    # factors in place: one copy of half of K instead of three copies of all of it.
    A = symmetric_finite_upper_copy(K, "K_train")
    A.diagonal().add_(ridge)
    chol = A.T
    if _lapack.applies(K):
        info = _lapack.cholesky_in_place(A)
    else:
        info_tensor = torch.empty((), dtype=torch.int32, device=K.device)
        torch.linalg.cholesky_ex(chol, out=(chol, info_tensor))
        info = int(info_tensor)
    if info != 0:
        if ridge == 0:
            raise ValueError(
                "K_train is singular or not positive definite; use ridge > 0 "
                "(kernel ridge regression needs K_train + ridge·I to be invertible)"
            )
        raise ValueError(f"K_train + ridge·I is not positive definite (ridge={ridge})")
    # A factor can exist yet be useless: refuse a system too ill-conditioned to solve.
    d = chol.diagonal()
    if float((d.min() / d.max()) ** 2) < 10 * torch.finfo(K.dtype).eps:
        raise ValueError(
            "K_train + ridge·I is numerically singular (condition number above 1/(10·eps)); "
            "use a larger ridge"
        )
    return chol


def _spectral_prediction(K_train, K_test_train, y_train, f0_train, f0_test, spectral_filter,
                         times):
    K_train, K_test_train = kernel_pair_shapes(K_train, K_test_train)
    n = K_train.shape[0]
    y_train = as_vector(y_train, "y_train", n)
    zero_train = torch.zeros(n, dtype=K_train.dtype, device=K_train.device)
    zero_test = torch.zeros(K_test_train.shape[0], dtype=K_train.dtype, device=K_train.device)
    f0_train = zero_train if f0_train is None else as_vector(f0_train, "f0_train", n)
    f0_test = zero_test if f0_test is None else as_vector(
        f0_test, "f0_test", K_test_train.shape[0])
    residual = (y_train - f0_train).to(K_train.dtype)  # targets in the kernel's dtype
    # g(λ) = (1 − decay(λ)) / λ, continuous at λ = 0; coef (n, number of times) = g(K) residual
    if _lapack.applies(K_train) and not _lapack.differentiated(K_train, residual, times):
        # The tridiagonal route of _lapack: no eigenvector of K is formed (book/performance.md)
        eigen = _lapack.SymmetricEigen(symmetric_finite_upper_copy(K_train, "K_train"))
        psd_eigenvalues(torch.from_numpy(eigen.eigenvalues).to(K_train.dtype), "K_train")
        coef = eigen.apply(residual, spectral_filter)
    else:  # other devices and dtypes, and autograd (either mode) through K, targets or times
        symmetric_finite(K_train, "K_train")
        lam, V = torch.linalg.eigh(K_train)
        psd_eigenvalues(lam, "K_train")
        g = spectral_filter(lam.clamp_min(0.0))
        coef = V @ (g * (V.T @ residual)[None, :]).T
    out = f0_test[:, None] + K_test_train @ coef
    # A NaN or inf of K_test_train reaches the output; so does an overflow, which the callers
    # explain (gradient descent with too large a step).
    if not torch.isfinite(out).all() and not torch.isfinite(K_test_train).all():
        raise ValueError("K_test_train contains NaN or infinite entries")
    return out.T


def gradient_flow_prediction(
    K_train: torch.Tensor,
    K_test_train: torch.Tensor,
    y_train: torch.Tensor,
    t: float | torch.Tensor,
    *,
    f0_train: torch.Tensor | None = None,
    f0_test: torch.Tensor | None = None,
) -> torch.Tensor:
    """f_t(x) = f₀(x) + k(x)ᵀ K⁻¹ (I − e^{−Kt}) (y − f₀(X))  (Lee et al. 2019; Jacot et al. 2018).

    The output of the linearized model after time t of gradient flow dw/dt = −∇L(w) on
    L = ½‖f(X) − y‖², whose training outputs follow du/dt = −K(u − y). For gradient descent with
    step η, continuous time is t = η·k. K⁻¹(I − e^{−Kt}) is evaluated in K's eigenbasis as
    (1 − e^{−λt})/λ, which tends to t as λ → 0: no inverse of a singular K is needed.

    Args:
        K_train: (n, n) PSD kernel. K_test_train: (n_test, n).
        y_train: (n,) targets. t: a time ≥ 0, or a 1-D tensor of times.
        f0_train, f0_test: outputs at initialization (zero when omitted).

    Returns:
        (n_test,) for a scalar t, (len(t), n_test) for a tensor of times.

    Raises:
        TypeError: non-tensors, or kernels of two dtypes.
        ValueError: mismatched shapes, non-finite entries, t < 0, or a K_train that is not
            symmetric positive semi-definite (up to rounding in its dtype).
    """
    _kernel_inputs(K_train, K_test_train, y_train)
    times, scalar = _times(t, K_train)

    def spectral_filter(lam: torch.Tensor) -> torch.Tensor:
        lt = times[:, None] * lam[None, :]
        safe = torch.where(lam > 0, lam, torch.ones_like(lam))
        return torch.where(lam > 0, -torch.expm1(-lt) / safe, times[:, None].expand_as(lt))

    out = _spectral_prediction(K_train, K_test_train, y_train, f0_train, f0_test, spectral_filter,
                               times)
    return out[0] if scalar else out


def gradient_descent_prediction(
    K_train: torch.Tensor,
    K_test_train: torch.Tensor,
    y_train: torch.Tensor,
    *,
    lr: float,
    steps: int | torch.Tensor,
    f0_train: torch.Tensor | None = None,
    f0_test: torch.Tensor | None = None,
) -> torch.Tensor:
    """f_k(x) = f₀(x) + k(x)ᵀ K⁻¹ (I − (I − ηK)^k) (y − f₀(X)): k steps of gradient descent.

    The exact output of the linearized model f_lin after k steps of full-batch gradient descent
    with step η on ½‖f(X) − y‖², since its training residual obeys r(k+1) = (I − ηK) r(k)
    (Du et al. 2019; Arora et al. 2019, "Fine-grained analysis"). Evaluated in K's eigenbasis as
    (1 − (1 − ηλ)^k)/λ, which tends to ηk as λ → 0.

    Args:
        K_train, K_test_train, y_train, f0_train, f0_test: as :func:`gradient_flow_prediction`.
        lr: η > 0. steps: k ≥ 0 or a 1-D integer tensor of step counts.

    Returns:
        (n_test,) for an integer k, (len(steps), n_test) for a tensor of step counts.

    Raises:
        TypeError, ValueError: as :func:`gradient_flow_prediction`; a ValueError also when
            ηλ_max > 2 made the predictions overflow (gradient descent diverges).
    """
    _kernel_inputs(K_train, K_test_train, y_train)
    lr = positive_float(lr, "lr")
    ks, scalar = _times(steps, K_train, "steps")
    if not torch.equal(ks, ks.round()):  # (1 − ηλ)^k of a negative base is NaN for k ∉ ℤ
        raise ValueError(f"steps must be whole numbers, got {steps}")

    def spectral_filter(lam: torch.Tensor) -> torch.Tensor:
        decay = (1 - lr * lam)[None, :] ** ks[:, None]
        safe = torch.where(lam > 0, lam, torch.ones_like(lam))
        return torch.where(lam > 0, (1 - decay) / safe, (lr * ks)[:, None].expand_as(decay))

    out = _spectral_prediction(K_train, K_test_train, y_train, f0_train, f0_test, spectral_filter,
                               ks)
    if not torch.isfinite(out).all():
        lam_max = float(torch.linalg.eigvalsh(K_train)[-1])
        raise ValueError(f"the predictions overflow: lr * lambda_max = {lr * lam_max:.4g} > 2, so "
                         f"gradient descent diverges (|1 - lr * lambda| > 1); use lr < "
                         f"{2 / lam_max:.4g}")
    return out[0] if scalar else out


def _kernel_inputs(K_train: object, K_test_train: object, y_train: object) -> None:
    """Shapes, dtypes and devices of a closed form's inputs (entries are checked as they are
    read, see :func:`_spectral_prediction`)."""
    K_train, K_test_train = kernel_pair_shapes(K_train, K_test_train)
    if isinstance(y_train, torch.Tensor):
        same_device(K_train, "K_train", y_train, "y_train")


def _times(t: float | torch.Tensor, like: torch.Tensor,
           name: str = "t") -> tuple[torch.Tensor, bool]:
    if isinstance(t, torch.Tensor):
        if t.ndim > 1:
            raise ValueError(f"{name} must be a scalar or 1-D, got shape {tuple(t.shape)}")
        scalar = t.ndim == 0
        times = t.reshape(-1).to(dtype=like.dtype, device=like.device)
    else:
        scalar = True
        times = torch.tensor([nonnegative_float(t, name)], dtype=like.dtype, device=like.device)
    if (times < 0).any() or not torch.isfinite(times).all():
        raise ValueError(f"{name} must be finite and >= 0")
    return times, scalar
