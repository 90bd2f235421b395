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

A model with k outputs per example has a k × k kernel block per pair of inputs,
Θ(x, z)_{ab} = ⟨∇_w f_a(x), ∇_w f_b(z)⟩; :func:`empirical_ntk` returns all of it, its trace over
the outputs, or its diagonal (the modes of PyTorch's neural tangent kernel tutorial), and computes
any kernel in blocks of rows so that the Jacobians of large inputs need not fit in memory at once.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.func import functional_call, grad, jacrev, jvp, vjp, vmap

from ._checks import as_matrix, positive_int
from ._checks import seed as check_seed
from .models import MLP, TwoLayerReLU

METHODS = ("auto", "jacobian_contraction", "ntk_vector_products", "structured")
MODES = ("full", "trace", "diagonal")
_EXACT_FLOAT32_COUNTS = 2**24
# Layers whose train-mode forward is random or couples the examples of a batch.
_TRAIN_MODE_LAYERS = (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd)


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
    if p.is_meta:
        raise ValueError("the model's parameters are on the meta device (shapes without values); "
                         "materialize it, e.g. with model.to_empty(device='cpu') and an "
                         "initialization, first")
    for module in model.modules():
        if isinstance(module, _TRAIN_MODE_LAYERS) and module.training:
            raise ValueError(
                f"model is in training mode and has a {type(module).__name__} layer: a train-mode "
                "forward is random (dropout) or mixes the examples of a batch (batch "
                "statistics), so its tangent kernel is not a function of two inputs; call "
                "model.eval() first")
    return p.dtype, p.device


def _prepare(model: nn.Module, X: torch.Tensor, Z: torch.Tensor | None, *,
             multi_output: bool = False) -> tuple[torch.Tensor, torch.Tensor, int | None]:
    """Validated inputs in the model's dtype and device (Z is X when omitted) and the number k
    of outputs per example (``None`` for a scalar-output model)."""
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
    if out.shape == (1,):
        return X, Z, None
    if multi_output and out.ndim == 2 and out.shape[0] == 1:
        return X, Z, out.shape[1]
    expected = "(n,) or (n, k)" if multi_output else "(n,) outputs (a scalar per example)"
    raise ValueError(
        f"model must map (n, d) inputs to {expected}; "
        f"it returned shape {tuple(out.shape)} for one example"
    )


def _scalar_fn(model: nn.Module, frozen: dict[str, torch.Tensor]):
    def f(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return functional_call(model, {**params, **frozen}, (x[None],))[0]

    return f


def _batch_fn(model: nn.Module, frozen: dict[str, torch.Tensor]):
    def f(params: dict[str, torch.Tensor], X: torch.Tensor) -> torch.Tensor:
        return functional_call(model, {**params, **frozen}, (X,))

    return f


def jacobian(model: nn.Module, X: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-example Jacobians ∂f(x_i)/∂w, one tensor of shape ``(n, *w.shape)`` per parameter."""
    X, _, _ = _prepare(model, X, None)
    return _jacobian(model, X)


def _jacobian(model: nn.Module, X: torch.Tensor) -> dict[str, torch.Tensor]:
    """``(n, *w.shape)`` per parameter for a scalar-output model, ``(n, k, *w.shape)`` for k."""
    params, frozen = _split_parameters(model)
    return vmap(jacrev(_scalar_fn(model, frozen)), in_dims=(None, 0))(params, X)


def _ntk_jacobian_per_parameter(model, X, Z) -> list[torch.Tensor]:
    JX = _jacobian(model, X)
    JZ = JX if Z is X else _jacobian(model, Z)
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
    X, Z, _ = _prepare(model, X, Z)
    return _layer_grams(model, X, Z, method)


def _layer_grams(model: nn.Module, X: torch.Tensor, Z: torch.Tensor,
                 method: str) -> tuple[torch.Tensor, ...]:
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
                  *, method: str = "auto", mode: str = "full",
                  batch_size: int | None = None) -> torch.Tensor:
    """The finite-width tangent kernel K_m(X, Z) = J(X) J(Z)ᵀ of a model (Jacot et al. 2018).

    For the two-layer net it is the Gram matrix H(k) of Du et al. 2019. Computed in the model's
    dtype and on its device; inputs are moved there. For a model with k outputs per example the
    kernel of inputs x, z is the k × k matrix Θ(x, z)_{ab} = ⟨∇_w f_a(x), ∇_w f_b(z)⟩, and
    ``mode`` says what to return: all of it (``"full"``), its trace Σ_a Θ_aa (``"trace"``), or
    its diagonal Θ_aa (``"diagonal"``) — the three modes of PyTorch's neural tangent kernel
    tutorial. For a scalar-output model the three coincide and the result is (n, n').

    Example:
        >>> import ntkbook
        >>> X = ntkbook.data.sphere(6, 3, seed=0)
        >>> empirical_ntk(ntkbook.MLP(3, 64, 1), X).shape
        torch.Size([6, 6])
        >>> net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(),
        ...                           torch.nn.Linear(16, 2)).double()
        >>> empirical_ntk(net, X, X[:4]).shape, empirical_ntk(net, X, mode="diagonal").shape
        (torch.Size([6, 4, 2, 2]), torch.Size([6, 6, 2]))

    Args:
        model: a module mapping (n, d) to (n,) or to (n, k); its trainable parameters are
            those with ``requires_grad``. BatchNorm and dropout layers must be in eval mode.
        X: (n, d) inputs. Z: (n', d) inputs or ``None`` for X.
        method: ``"auto"`` (structured for :class:`~ntkbook.TwoLayerReLU` and
            :class:`~ntkbook.MLP`, Jacobian contraction otherwise), ``"structured"``,
            ``"jacobian_contraction"`` or ``"ntk_vector_products"``.
        mode: ``"full"``, ``"trace"`` or ``"diagonal"`` (models with k outputs).
        batch_size: compute the kernel in blocks of at most this many rows of X and of Z, so that
            the Jacobians held at once cover 2·batch_size examples instead of n + n'; each block's
            Jacobians are recomputed for every block it meets (about n'/batch_size times more
            Jacobian work, small against the contraction). ``None``: one block.

    Returns:
        (n, n') for a scalar-output model or ``mode="trace"``; (n, n', k, k) for ``"full"`` and
        (n, n', k) for ``"diagonal"``.

    Raises:
        ValueError: unknown method or mode, ``"structured"`` on a model without structure, a
            model whose output is neither (n,) nor (n, k), a train-mode BatchNorm or dropout
            layer, a model on the meta device, inputs of the wrong shape.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if batch_size is not None:
        batch_size = positive_int(batch_size, "batch_size")
    X, Z, outputs = _prepare(model, X, Z, multi_output=True)
    if outputs is not None and method == "structured":
        raise ValueError(f"method='structured' needs a scalar-output TwoLayerReLU or MLP; the "
                         f"model has {outputs} outputs per example")

    def block(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        if outputs is not None:
            return _multi_output_block(model, A, B, method, mode)
        if method == "ntk_vector_products":
            return _ntk_vector_products(model, A, B)
        grams = _layer_grams(model, A, B, method)
        kernel = grams[0]
        for gram in grams[1:]:
            kernel = kernel + gram
        return kernel

    if batch_size is None or (X.shape[0] <= batch_size and Z.shape[0] <= batch_size):
        return block(X, Z)
    return _in_blocks(block, X, Z, batch_size, full=outputs is not None and mode == "full")


def _scalar_kernel(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """K_m(X, X) of a model that must have a scalar output (the theorems' setting)."""
    X, Z, _ = _prepare(model, X, None)
    grams = _layer_grams(model, X, Z, "auto")
    kernel = grams[0]
    for gram in grams[1:]:
        kernel = kernel + gram
    return kernel


def _contract(JA: torch.Tensor, JB: torch.Tensor, mode: str) -> torch.Tensor:
    """Θ from (n, k, P) and (n', k, P) Jacobians, in the given mode."""
    if mode == "full":
        return torch.einsum("iap,jbp->ijab", JA, JB)
    if mode == "trace":
        return torch.einsum("iap,jap->ij", JA, JB)
    return torch.einsum("iap,jap->ija", JA, JB)


def _multi_output_block(model: nn.Module, A: torch.Tensor, B: torch.Tensor, method: str,
                        mode: str) -> torch.Tensor:
    if method == "ntk_vector_products":
        full = _ntk_vector_products_multi(model, A, B)
        if mode == "full":
            return full
        diagonal = full.diagonal(dim1=2, dim2=3)
        return diagonal.sum(-1) if mode == "trace" else diagonal
    JA = _jacobian(model, A)
    JB = JA if B is A else _jacobian(model, B)
    kernel = None
    for name in JA:
        a = JA[name].reshape(A.shape[0], JA[name].shape[1], -1)
        b = JB[name].reshape(B.shape[0], JB[name].shape[1], -1)
        term = _contract(a, b, mode)
        kernel = term if kernel is None else kernel + term
    return kernel


def _ntk_vector_products_multi(model: nn.Module, A: torch.Tensor, B: torch.Tensor,
                               chunk: int = 32) -> torch.Tensor:
    """(n, n', k, k): a vector-Jacobian product for each one-hot cotangent of f(B), then a
    Jacobian-vector product through f(A)."""
    params, frozen = _split_parameters(model)
    f = _batch_fn(model, frozen)
    out_b, pullback = vjp(lambda p: f(p, B), params)
    k = out_b.shape[1]

    def column(e: torch.Tensor) -> torch.Tensor:
        (cotangent,) = pullback(e)
        return jvp(lambda p: f(p, A), (params,), (cotangent,))[1]

    eye = torch.eye(B.shape[0] * k, dtype=A.dtype, device=A.device).reshape(-1, B.shape[0], k)
    cols = torch.cat([vmap(column)(eye[i : i + chunk]) for i in range(0, eye.shape[0], chunk)])
    # cols[(j, b), i, a] = Θ(a_i, b_j)_{a b}
    return cols.reshape(B.shape[0], k, A.shape[0], k).permute(2, 0, 3, 1)


def _in_blocks(block, X: torch.Tensor, Z: torch.Tensor, size: int, *, full: bool) -> torch.Tensor:
    """Assemble a kernel from blocks of at most ``size`` rows of X and of Z; when Z is X only the
    blocks on and above the diagonal are computed and the others are their transposes."""
    rows = [slice(i, min(i + size, X.shape[0])) for i in range(0, X.shape[0], size)]
    cols = rows if Z is X else [slice(j, min(j + size, Z.shape[0]))
                                for j in range(0, Z.shape[0], size)]
    out = None
    for bi, r in enumerate(rows):
        A = X[r]
        for bj, c in enumerate(cols):
            if Z is X and bj < bi:
                continue
            value = block(A, A) if Z is X and bi == bj else block(A, Z[c])
            if out is None:
                out = value.new_empty((X.shape[0], Z.shape[0], *value.shape[2:]))
            out[r, c] = value
            if Z is X and bj > bi:
                out[c, r] = value.permute(1, 0, 3, 2) if full else value.transpose(0, 1)
    return out


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
    seed = check_seed(seed)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not (x.ndim == 1 or (x.ndim == 2 and x.shape[0] == 1)):
        raise ValueError(f"x must be one input, shape (d,) or (1, d), got shape {tuple(x.shape)}")
    X, _, _ = _prepare(model, x.reshape(1, -1), None)
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
