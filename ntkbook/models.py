"""The finite networks the book trains, and their linearization.

* :class:`TwoLayerReLU` — f(x) = m^{-1/2} Σ_r a_r relu(w_rᵀx) with a_r ∈ {±1} fixed and
  w_r ~ N(0, κ²I) trained (Du et al. 2019; Zhang & Zhang 2022, eq. 1).
* :class:`MLP` — the fully connected network in the NTK parametrization of Du et al. (2019b)
  and Arora et al. (2019, Sec. 3): x⁽ʰ⁾ = √(c_σ/m) σ(W⁽ʰ⁾x⁽ʰ⁻¹⁾), f(x) = aᵀx⁽ᴴ⁾, all
  weights N(0, 1), all layers trained.
* :class:`TwoLayerNet` — f(x) = s_m Σ_j b_j relu(a_jᵀx), both layers trained, initialization
  scale τ, mean-field (s_m = 1/m) or NTK (s_m = m^{-1/2}) scaling (the two-layer experiments
  of Chizat et al. 2019).
* :class:`LazyModel` — Chizat, Oyallon & Bach's scaled model α(f(w) − f(w₀)).
* :func:`linearize` — f_lin(w) = f(w₀) + J(w₀)(w − w₀), evaluated with a Jacobian-vector product.

Every model maps an (n, d) tensor to an (n,) tensor and its trainable parameters are exactly the
ones its neural tangent kernel sums over.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.func import functional_call, jvp

from ._activations import get_activation
from ._checks import device as check_device
from ._checks import floating_dtype, positive_float, positive_int
from ._checks import seed as check_seed
from .kernels import c_sigma_for


def _generator(seed: int) -> torch.Generator:
    # Draw on the CPU so that a seed gives the same network on every device.
    g = torch.Generator(device="cpu")
    g.manual_seed(check_seed(seed))
    return g


def _check_input(model: nn.Module, X: torch.Tensor, d: int,
                 weight: torch.Tensor) -> torch.Tensor:
    # Shape, dtype and device only: a value check would break torch.func transforms (vmap, jacrev).
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a torch.Tensor, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n, d), got shape {tuple(X.shape)}")
    if not X.is_floating_point():
        raise TypeError(f"X must have a floating dtype, got {X.dtype}")
    if X.shape[1] != d:
        raise ValueError(f"X must have d = {d} columns for {model!r}, got {X.shape[1]}")
    if X.dtype != weight.dtype:
        raise TypeError(f"X has dtype {X.dtype} but the model's parameters are {weight.dtype}; "
                        f"convert it with X.to({weight.dtype})")
    if X.device != weight.device:
        raise ValueError(f"X is on device {X.device} but the model's parameters are on "
                         f"{weight.device}")
    return X


class TwoLayerReLU(nn.Module):
    """Two-layer ReLU network with a fixed ±1 output layer (Du et al. 2019; Zhang & Zhang, eq. 1).

    f(x) = m^{-1/2} Σ_{r=1}^m a_r relu(w_rᵀ x), with a_r uniform on {−1, +1} (a buffer, never
    trained) and w_r ~ N(0, κ² I_d) (the parameter ``W``, shape (m, d)).

    Args:
        d: input dimension.
        m: number of hidden neurons (the width).
        kappa: standard deviation κ of the first-layer weights.
        seed: seed of the initialization.
        dtype, device: of the parameters (default float64 on the CPU).

    Its tangent kernel is H(k)_ij = x_iᵀx_j · (1/m) Σ_r 1{w_rᵀx_i ≥ 0, w_rᵀx_j ≥ 0}, whose
    limit as m → ∞ is :func:`ntkbook.relu_two_layer_ntk` for every κ.

    Example:
        >>> net = TwoLayerReLU(d=3, m=512)
        >>> net(torch.eye(3, dtype=torch.float64)).shape
        torch.Size([3])
    """

    def __init__(
        self,
        d: int,
        m: int,
        *,
        kappa: float = 1.0,
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.d = positive_int(d, "d")
        self.m = positive_int(m, "m")
        self.kappa = positive_float(kappa, "kappa")
        dtype, device = floating_dtype(dtype), check_device(device)
        g = _generator(seed)
        # Drawn in float64 and then cast, so that a seed names the same network in every dtype.
        W = (torch.randn(self.m, self.d, generator=g, dtype=torch.float64) * self.kappa).to(dtype)
        a = torch.randint(0, 2, (self.m,), generator=g).to(dtype) * 2 - 1
        self.W = nn.Parameter(W.to(device))
        self.register_buffer("a", a.to(device))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = _check_input(self, X, self.d, self.W)
        return torch.relu(X @ self.W.T) @ self.a / math.sqrt(self.m)

    def activation_pattern(self, X: torch.Tensor) -> torch.Tensor:
        """The (n, m) boolean matrix 1{w_rᵀx_i > 0}, the derivative pattern autograd uses.

        Du et al. write 1{w_rᵀx_i ≥ 0}; the two differ only where w_rᵀx_i = 0 exactly, an event
        of probability zero for Gaussian weights and non-zero inputs.
        """
        X = _check_input(self, X, self.d, self.W)
        return (X @ self.W.T) > 0

    def __repr__(self) -> str:
        return f"TwoLayerReLU(d={self.d}, m={self.m}, kappa={self.kappa:g})"


class TwoLayerNet(nn.Module):
    """Two-layer ReLU network with both layers trained, in the mean-field or the NTK scaling.

    f(x) = s_m Σ_{j=1}^m b_j relu(a_jᵀx), s_m = 1/m (``scaling="mean_field"``, Chizat, Oyallon &
    Bach 2019; Mei et al. 2018) or s_m = m^{-1/2} (``scaling="ntk"``). At initialization
    a_j = τ z_j with z_j uniform on the unit sphere and b_j = ±τ, so every neuron has
    ‖a_j‖ = |b_j| = τ: the initialization scale τ of Chizat et al.'s two-layer experiments. The
    model is 2-homogeneous in w = (A, b): f(x; λw) = λ² f(x; w).

    With ``symmetric=True`` (m even) the second half of the neurons copies the first half with b
    negated, so f(·; w₀) = 0 whatever τ is and training starts from the zero function.

    Args:
        d: input dimension. m: number of neurons.
        tau: initialization scale τ > 0.
        scaling: ``"mean_field"`` (1/m) or ``"ntk"`` (1/√m).
        symmetric: start from f = 0 (requires an even m).
        seed: of the initialization. dtype, device: of the parameters.

    Example:
        >>> net = TwoLayerNet(d=2, m=8, tau=0.5)
        >>> round(float(net(torch.eye(2, dtype=torch.float64)).detach().abs().max()), 12)
        0.0
    """

    def __init__(
        self,
        d: int,
        m: int,
        *,
        tau: float = 1.0,
        scaling: str = "mean_field",
        symmetric: bool = True,
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.d = positive_int(d, "d")
        self.m = positive_int(m, "m")
        self.tau = positive_float(tau, "tau")
        if scaling not in ("mean_field", "ntk"):
            raise ValueError(f"scaling must be 'mean_field' or 'ntk', got {scaling!r}")
        self.scaling = scaling
        self.symmetric = bool(symmetric)
        if self.symmetric and self.m % 2:
            raise ValueError(f"a symmetric initialization needs an even m, got {self.m}")
        dtype, device = floating_dtype(dtype), check_device(device)
        g = _generator(seed)
        half = self.m // 2 if self.symmetric else self.m
        Z = torch.randn(half, self.d, generator=g, dtype=torch.float64)
        Z = Z / torch.linalg.vector_norm(Z, dim=1, keepdim=True)
        signs = torch.randint(0, 2, (half,), generator=g).to(torch.float64) * 2 - 1
        if self.symmetric:
            Z, signs = torch.cat([Z, Z]), torch.cat([signs, -signs])
        self.A = nn.Parameter((self.tau * Z).to(dtype=dtype, device=device))
        self.b = nn.Parameter((self.tau * signs).to(dtype=dtype, device=device))

    @property
    def output_scale(self) -> float:
        """The output factor s_m = 1/m in the mean-field scaling, 1/√m in the NTK scaling."""
        return 1.0 / self.m if self.scaling == "mean_field" else 1.0 / math.sqrt(self.m)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = _check_input(self, X, self.d, self.A)
        return torch.relu(X @ self.A.T) @ self.b * self.output_scale

    def neuron_positions(self) -> torch.Tensor:
        """The (m, d) points |b_j| a_j that Chizat et al. (2019) draw for each neuron."""
        with torch.no_grad():
            return self.b.abs()[:, None] * self.A

    def __repr__(self) -> str:
        return (f"TwoLayerNet(d={self.d}, m={self.m}, tau={self.tau:g}, "
                f"scaling={self.scaling!r}, symmetric={self.symmetric})")


class MLP(nn.Module):
    """Fully connected network in the NTK parametrization (Du et al. 2019b; Arora et al. 2019).

    x⁽⁰⁾ = x,  x⁽ʰ⁾ = √(c_σ / m) · σ(W⁽ʰ⁾ x⁽ʰ⁻¹⁾) for h = 1, …, depth,  f(x) = aᵀ x⁽ᵈᵉᵖᵗʰ⁾,

    with W⁽¹⁾ ∈ ℝ^{m×d}, W⁽ʰ⁾ ∈ ℝ^{m×m}, a ∈ ℝ^m, every entry N(0, 1), every layer trained, and
    c_σ = 1 / E_{z~N(0,1)}[σ(z)²] unless ``c_sigma`` is given. As m → ∞ its tangent kernel
    converges to :func:`ntkbook.analytic_ntk` with the same ``depth``, ``activation`` and
    ``c_sigma`` (Arora et al. 2019, Theorem 3.1).

    Args:
        d: input dimension.
        width: hidden width m (all hidden layers).
        depth: number of hidden layers H ≥ 1.
        activation: ``"relu"``, ``"erf"``, ``"tanh"`` or ``"gelu"``.
        c_sigma: the scaling constant; ``None`` means Du et al.'s choice above.
        seed, dtype, device: as for :class:`TwoLayerReLU`.

    Example:
        >>> net = MLP(3, width=256, depth=2, seed=0)
        >>> net
        MLP(d=3, width=256, depth=2, activation='relu', c_sigma=2)
        >>> net(torch.eye(3, dtype=torch.float64)).shape
        torch.Size([3])
    """

    def __init__(
        self,
        d: int,
        width: int,
        depth: int,
        *,
        activation: str = "relu",
        c_sigma: float | None = None,
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.d = positive_int(d, "d")
        self.width = positive_int(width, "width")
        self.depth = positive_int(depth, "depth")
        self.activation = get_activation(activation)
        self.c_sigma = (
            c_sigma_for(activation) if c_sigma is None else positive_float(c_sigma, "c_sigma")
        )
        dtype, device = floating_dtype(dtype), check_device(device)
        g = _generator(seed)
        fan_in = [self.d] + [self.width] * (self.depth - 1)
        self.weights = nn.ParameterList(
            nn.Parameter(torch.randn(self.width, k, generator=g, dtype=torch.float64)
                         .to(dtype=dtype, device=device))
            for k in fan_in
        )
        self.a = nn.Parameter(torch.randn(self.width, generator=g, dtype=torch.float64)
                              .to(dtype=dtype, device=device))

    @property
    def scale(self) -> float:
        """The layer factor √(c_σ / m)."""
        return math.sqrt(self.c_sigma / self.width)

    def forward_trace(self, X: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The pre-activations (n, m) of each hidden layer and the layer outputs x⁽⁰⁾…x⁽ᴴ⁾."""
        X = _check_input(self, X, self.d, self.a)
        pre: list[torch.Tensor] = []
        post: list[torch.Tensor] = [X]
        for W in self.weights:
            z = post[-1] @ W.T
            pre.append(z)
            post.append(self.scale * self.activation.fn(z))
        return pre, post

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = _check_input(self, X, self.d, self.a)
        h = X
        for W in self.weights:
            h = self.scale * self.activation.fn(h @ W.T)
        return h @ self.a

    def __repr__(self) -> str:
        return (
            f"MLP(d={self.d}, width={self.width}, depth={self.depth}, "
            f"activation={self.activation.name!r}, c_sigma={self.c_sigma:.4g})"
        )


class LazyModel(nn.Module):
    """The scaled model α(f(w) − f(w₀)) of Chizat, Oyallon & Bach (2019, Sec. 2).

    Subtracting f(w₀) makes the output zero at initialization whatever α is, so that scaling by
    α changes how far the weights must move, not where training starts. Training it with step
    size η/α² gives, as α → ∞, the linearized model's dynamics (Chizat et al., Sec. 2).

    Args:
        model: any scalar-output module; it is copied, the original is left untouched.
        alpha: the scale α > 0.
    """

    def __init__(self, model: nn.Module, alpha: float) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.alpha = positive_float(alpha, "alpha")
        self.model = copy.deepcopy(model)
        # f(·; w₀) is a frozen copy: a submodule, so .to() moves it along with the model.
        self.initial = copy.deepcopy(model)
        for p in self.initial.parameters():
            p.requires_grad_(False)

    def initial_output(self, X: torch.Tensor) -> torch.Tensor:
        """f(X; w₀). No gradient reaches w₀; one still flows to X."""
        return self.initial(X)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.alpha * (self.model(X) - self.initial_output(X))

    def __repr__(self) -> str:
        return f"LazyModel({self.model!r}, alpha={self.alpha:g})"


class LinearizedModel(nn.Module):
    """f_lin(x; w) = f(x; w₀) + ⟨∇_w f(x; w₀), w − w₀⟩ (Lee et al. 2019, the linearized network).

    The parameters of this module are the w of the formula, initialized at w₀ and trainable; the
    base network is kept frozen at w₀. The forward pass is one Jacobian-vector product
    (``torch.func.jvp``), so no Jacobian is ever materialized.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.base = copy.deepcopy(model)
        # w keeps the base's requires_grad flags: a parameter frozen in f stays frozen in f_lin.
        self.params = nn.ParameterList(
            nn.Parameter(p.detach().clone(), requires_grad=p.requires_grad)
            for p in self.base.parameters()
        )
        for p in self.base.parameters():
            p.requires_grad_(False)
        self._names = [k for k, _ in self.base.named_parameters()]

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        w0 = dict(self.base.named_parameters())
        delta = {k: p - w0[k] for k, p in zip(self._names, self.params)}

        def f(params: dict[str, torch.Tensor]) -> torch.Tensor:
            return functional_call(self.base, params, (X,))

        out0, tangent = jvp(f, (w0,), (delta,))
        return out0 + tangent

    def parameter_distance(self) -> float:
        """‖w − w₀‖₂ over all parameters."""
        w0 = [p for _, p in self.base.named_parameters()]
        with torch.no_grad():
            return float(torch.sqrt(sum(((p - q) ** 2).sum() for p, q in zip(self.params, w0))))

    def __repr__(self) -> str:
        return f"LinearizedModel({self.base!r})"


def linearize(model: nn.Module) -> LinearizedModel:
    """The first-order Taylor expansion of ``model`` around its current parameters w₀.

    Returns a :class:`LinearizedModel` whose parameters start at w₀; training it by gradient
    descent is training the linear model in w that the NTK theory describes.
    """
    return LinearizedModel(model)


# --- Chapter 4: a two-layer network that starts from the zero function --------------------------


def antisymmetric_copy(model: TwoLayerReLU) -> TwoLayerReLU:
    """A copy of ``model`` whose second half of neurons mirrors the first with a_r negated.

    Neuron m/2 + r gets w_{m/2+r}(0) = w_r(0) and a_{m/2+r} = −a_r, so f(·; W(0)) = 0 exactly
    while the tangent kernel at initialization equals that of the first m/2 neurons:
    H(0) = (XXᵀ) ⊙ (S Sᵀ)/(m/2) with S the pattern of the first half. Arora et al. (ICML 2019,
    Sec. 4) make u(0) small by a small initialization scale κ; this makes it zero at any κ, which
    keeps the activation patterns as stable as κ = 1 allows. The two copies are separate
    parameters afterwards, but not independent: they start with opposite gradients and are
    coupled through the shared residual.

    Args:
        model: a :class:`TwoLayerReLU` with an even width m; it is not changed.

    Returns:
        A new :class:`TwoLayerReLU` with the same d, m, κ, dtype and device.

    Raises:
        TypeError: ``model`` is not a TwoLayerReLU. ValueError: m is odd.
    """
    if not isinstance(model, TwoLayerReLU):
        raise TypeError(f"model must be a TwoLayerReLU, got {type(model).__name__}")
    if model.m % 2:
        raise ValueError(f"an antisymmetric copy needs an even width m, got {model.m}")
    half = model.m // 2
    mirrored = copy.deepcopy(model)
    with torch.no_grad():
        mirrored.W[half:] = model.W[:half]
        mirrored.a[half:] = -model.a[:half]
    return mirrored
