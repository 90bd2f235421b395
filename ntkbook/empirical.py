"""Finite-width tangent kernels of a torch model, three ways, and the Hessian's size.

K_m(x, z) = ⟨∇_w f(x; w), ∇_w f(z; w)⟩, summed over the model's trainable parameters
(those with ``requires_grad``):

* ``"jacobian_contraction"`` — per-example Jacobians with ``torch.func.vmap(jacrev)``, then
  J_X J_Zᵀ: about n·[forward] + n·n'·P time and n·P memory (P parameters).
* ``"ntk_vector_products"`` — column j of J_X J_Zᵀ is a vector-Jacobian product with e_j followed
  by a Jacobian-vector product: n'·[forward] time, no n × P Jacobian (Novak et al. 2022).
* ``"structured"`` — for dense layers the per-example gradient of a weight matrix is an outer
  product (back-propagated vector ⊗ layer input), so each layer's Gram is a Hadamard product of
  two n × n' Grams: one forward pass, one backward pass, a few matrix products.
  For :class:`~ntkbook.TwoLayerReLU`: H = (XZᵀ) ⊙ (S_X S_Zᵀ) / m, S = 1[XWᵀ > 0].
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.func import functional_call, grad, jacrev, jvp, vjp, vmap

from ._checks import as_matrix, positive_int
from .models import MLP, TwoLayerReLU

METHODS = ("auto", "jacobian_contraction", "ntk_vector_products", "structured")
_EXACT_FLOAT32_COUNTS = 2**24


def _split_parameters(model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(trainable parameters, everything else the forward pass needs), detached."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    trainable = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
    if not trainable:
        raise ValueError(f"model {model!r} has no trainable parameters")
    frozen = {k: p.detach() for k, p in model.named_parameters() if not p.requires_grad}
    frozen.update({k: b for k, b in model.named_buffers()})
    return trainable, frozen


def _model_dtype_device(model: nn.Module) -> tuple[torch.dtype, torch.device]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    p = next(iter(model.parameters()), None)
    if p is None:
        raise ValueError(f"model {model!r} has no trainable parameters")
    return p.dtype, p.device


def _prepare(model: nn.Module, X: torch.Tensor, Z: torch.Tensor | None):
    X = as_matrix(X, "X")
    if Z is not None:
        Z = as_matrix(Z, "Z")
        if Z.shape[1] != X.shape[1]:
            raise ValueError(
                f"X and Z must have the same number of columns, got {X.shape[1]} and {Z.shape[1]}"
            )
    dtype, device = _model_dtype_device(model)
    X = X.to(dtype=dtype, device=device)
    Z = X if Z is None else Z.to(dtype=dtype, device=device)
    with torch.no_grad():
        out = model(X[:1])
    if out.shape != (1,):
        raise ValueError(
            f"model must map (n, d) inputs to (n,) outputs (a scalar per example); "
            f"it returned shape {tuple(out.shape)} for one example"
        )
    return X, Z


def _scalar_fn(model: nn.Module, frozen: dict[str, torch.Tensor]):
    def f(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return functional_call(model, {**params, **frozen}, (x[None],))[0]

    return f


def _batch_fn(model: nn.Module, frozen: dict[str, torch.Tensor]):
    def f(params: dict[str, torch.Tensor], X: torch.Tensor) -> torch.Tensor:
        return functional_call(model, {**params, **frozen}, (X,))

    return f


def jacobian(model: nn.Module, X: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-example Jacobians ∂f(x_i)/∂w, one (n, *w.shape) tensor per trainable parameter."""
    X, _ = _prepare(model, X, None)
    params, frozen = _split_parameters(model)
    return vmap(jacrev(_scalar_fn(model, frozen)), in_dims=(None, 0))(params, X)


def _ntk_jacobian_per_parameter(model, X, Z) -> list[torch.Tensor]:
    JX = jacobian(model, X)
    JZ = JX if Z is X else jacobian(model, Z)
    names = list(JX)
    if isinstance(model, MLP):  # nn.Module lists `a` before the hidden layers; Du et al.: last
        names.sort(key=lambda k: k == "a")
    return [JX[k].reshape(X.shape[0], -1) @ JZ[k].reshape(Z.shape[0], -1).T for k in names]


def _ntk_vector_products(model: nn.Module, X: torch.Tensor, Z: torch.Tensor,
                         chunk: int = 32) -> torch.Tensor:
    params, frozen = _split_parameters(model)
    f = _batch_fn(model, frozen)
    _, pullback = vjp(lambda p: f(p, Z), params)

    def column(e: torch.Tensor) -> torch.Tensor:
        (cotangent,) = pullback(e)
        return jvp(lambda p: f(p, X), (params,), (cotangent,))[1]

    eye = torch.eye(Z.shape[0], dtype=X.dtype, device=X.device)
    cols = [vmap(column)(eye[i : i + chunk]) for i in range(0, Z.shape[0], chunk)]
    return torch.cat(cols).T


def _symmetric_counts(S: torch.Tensor) -> torch.Tensor:
    """S Sᵀ for a 0/1 matrix S with 3/4 of the multiply-adds of a general product.

    The top block-row and the bottom-right block are computed; the bottom-left block is the
    transpose of the top-right one. The entries are integer sums, exact in any order, so the
    result equals ``S @ S.T`` bit for bit.
    """
    n = S.shape[0]
    half = n // 2
    if half < 64:  # too small for the split to pay
        return S @ S.T
    counts = torch.empty(n, n, dtype=S.dtype, device=S.device)
    torch.mm(S[:half], S.T, out=counts[:half])
    counts[half:, half:] = S[half:] @ S[half:].T
    counts[half:, :half] = counts[:half, half:].T
    return counts


def _two_layer_gram(model: TwoLayerReLU, X: torch.Tensor, Z: torch.Tensor) -> torch.Tensor:
    W = model.W.detach()
    # Activation counts are integers ≤ m: exact in float32 below 2**24, and twice as fast.
    count_dtype = torch.float32 if model.m < _EXACT_FLOAT32_COUNTS else X.dtype

    def pattern(inputs: torch.Tensor) -> torch.Tensor:
        # S = 1[inputs Wᵀ > 0] as 0/1 counts, in one pass over the (n, m) product.
        pre = inputs.detach() @ W.T
        if pre.dtype == count_dtype:
            return pre.gt_(0)
        return torch.gt(pre, 0, out=torch.empty_like(pre, dtype=count_dtype))

    SX = pattern(X)
    counts = _symmetric_counts(SX) if Z is X else SX @ pattern(Z).T
    return (X @ Z.T).mul_(counts).div_(model.m)


def _mlp_layer_grams(model: MLP, X: torch.Tensor, Z: torch.Tensor) -> list[torch.Tensor]:
    def trace(inputs: torch.Tensor):
        with torch.no_grad():
            pre, post = model.forward_trace(inputs)
            deltas = [None] * model.depth
            back = model.a.detach()
            for h in reversed(range(model.depth)):
                deltas[h] = model.scale * model.activation.derivative(pre[h]) * back
                if h > 0:
                    back = deltas[h] @ model.weights[h].detach()
        return post, deltas

    post_x, delta_x = trace(X)
    post_z, delta_z = (post_x, delta_x) if Z is X else trace(Z)
    grams = [
        (delta_x[h] @ delta_z[h].T) * (post_x[h] @ post_z[h].T) for h in range(model.depth)
    ]
    grams.append(post_x[-1] @ post_z[-1].T)
    return grams


def _has_structure(model: nn.Module) -> bool:
    if not isinstance(model, (TwoLayerReLU, MLP)):
        return False
    return all(p.requires_grad for p in model.parameters())


def layer_grams(model: nn.Module, X: torch.Tensor, Z: torch.Tensor | None = None,
                *, method: str = "auto") -> tuple[torch.Tensor, ...]:
    """The Gram of each trainable parameter tensor, G⁽ʰ⁾_ij = ⟨∂f(x_i)/∂W⁽ʰ⁾, ∂f(z_j)/∂W⁽ʰ⁾⟩.

    Du et al. (2019b, "Gradient descent finds global minima of deep neural networks") split the
    tangent kernel this way: for :class:`~ntkbook.MLP` the
    tuple is (G⁽¹⁾, …, G⁽ᴴ⁾, G⁽ᴴ⁺¹⁾) — the hidden layers, then the output layer a; for
    :class:`~ntkbook.TwoLayerReLU` it is (H,). Their sum is :func:`empirical_ntk`.

    Args:
        model: a scalar-output module. X: (n, d). Z: (n', d) or ``None`` for X.
        method: ``"structured"`` (TwoLayerReLU and MLP only), ``"jacobian_contraction"``, or
            ``"auto"`` (structured when available).
    """
    if method not in ("auto", "structured", "jacobian_contraction"):
        raise ValueError(
            f"method must be 'auto', 'structured' or 'jacobian_contraction', got {method!r}"
        )
    X, Z = _prepare(model, X, Z)
    structured = _has_structure(model)
    if method == "structured" and not structured:
        raise ValueError(
            f"method='structured' needs a TwoLayerReLU or MLP with every parameter trainable, "
            f"got {model!r}"
        )
    if method == "jacobian_contraction" or not structured:
        return tuple(_ntk_jacobian_per_parameter(model, X, Z))
    if isinstance(model, TwoLayerReLU):
        return (_two_layer_gram(model, X, Z),)
    return tuple(_mlp_layer_grams(model, X, Z))


def empirical_ntk(model: nn.Module, X: torch.Tensor, Z: torch.Tensor | None = None,
                  *, method: str = "auto") -> torch.Tensor:
    """The finite-width tangent kernel K_m(X, Z) = J(X) J(Z)ᵀ of a scalar-output model.

    (Jacot et al. 2018; for the two-layer net it is the Gram matrix H(k) of Du et al. 2019.)
    Computed in the model's dtype and on its device; inputs are moved there.

    Args:
        model: a module mapping (n, d) to (n,); its trainable parameters are those with
            ``requires_grad``.
        X: (n, d) inputs. Z: (n', d) inputs or ``None`` for X.
        method: ``"auto"`` (structured for :class:`~ntkbook.TwoLayerReLU` and
            :class:`~ntkbook.MLP`, Jacobian contraction otherwise), ``"structured"``,
            ``"jacobian_contraction"`` or ``"ntk_vector_products"``.

    Returns:
        (n, n') tensor.

    Raises:
        ValueError: unknown method, ``"structured"`` on a model without structure, a model that
            is not scalar-output, inputs of the wrong shape.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "ntk_vector_products":
        X, Z = _prepare(model, X, Z)
        return _ntk_vector_products(model, X, Z)
    grams = layer_grams(model, X, Z, method=method)
    kernel = grams[0]
    for gram in grams[1:]:
        kernel = kernel + gram
    return kernel


def hessian_spectral_norm(model: nn.Module, x: torch.Tensor, *, iterations: int = 100,
                          seed: int = 0) -> float:
    """‖∇²_w f(x; w)‖₂ by power iteration on Hessian-vector products (Liu, Zhu & Belkin 2020).

    Liu et al. (2020) show this spectral norm is O(m^{-1/2}) for networks in the NTK
    parametrization, which is why wide networks are close to linear in w. Each iteration is one
    forward-over-reverse product (``jvp`` of ``grad``); the Hessian is never formed.

    Args:
        model: scalar-output module. x: one input, shape (d,) or (1, d).
        iterations: power-iteration steps. seed: of the random start.

    Returns:
        The largest |eigenvalue| of the Hessian of f(x) in the trainable parameters.
    """
    iterations = positive_int(iterations, "iterations")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    x = x.reshape(1, -1)
    X, _ = _prepare(model, x, None)
    params, frozen = _split_parameters(model)
    f = _scalar_fn(model, frozen)
    g = torch.Generator(device="cpu").manual_seed(seed)
    v = {k: torch.randn(p.shape, generator=g, dtype=p.dtype).to(p.device)
         for k, p in params.items()}

    def norm(t: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.sqrt(sum((u * u).sum() for u in t.values()))

    def hvp(t: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return jvp(lambda p: grad(f)(p, X[0]), (params,), (t,))[1]

    scale = norm(v)
    v = {k: u / scale for k, u in v.items()}
    estimate = 0.0
    for _ in range(iterations):
        hv = hvp(v)
        size = norm(hv)
        estimate = float(size)
        if estimate == 0.0 or not math.isfinite(estimate):
            break
        v = {k: u / size for k, u in hv.items()}
    return estimate
