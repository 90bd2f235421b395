"""Activation functions known to the package, with their derivatives.

One table serves both the finite networks (``models.MLP``) and the infinite-width kernels
(``kernels``), so that a name means the same function in both places.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

Fn = Callable[[torch.Tensor], torch.Tensor]
Fn2 = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class Activation:
    """An activation σ with its derivative σ' (both elementwise on tensors).

    ``value_and_derivative`` returns (σ(u), σ'(u)) from shared intermediate results; the
    quadrature of ``ntkbook.kernels`` evaluates both at every node.
    """

    name: str
    fn: Fn
    derivative: Fn
    value_and_derivative: Fn2


def _relu_derivative(u: torch.Tensor) -> torch.Tensor:
    return (u > 0).to(u.dtype)


def _erf_derivative(u: torch.Tensor) -> torch.Tensor:
    return (2.0 / math.sqrt(math.pi)) * torch.exp(-u * u)


def _tanh_derivative(u: torch.Tensor) -> torch.Tensor:
    return 1.0 - torch.tanh(u) ** 2


def _gelu_derivative(u: torch.Tensor) -> torch.Tensor:
    cdf = 0.5 * (1.0 + torch.erf(u / math.sqrt(2.0)))
    pdf = torch.exp(-0.5 * u * u) / math.sqrt(2.0 * math.pi)
    return cdf + u * pdf


def _both(fn: Fn, derivative: Fn) -> Fn2:
    def value_and_derivative(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return fn(u), derivative(u)

    return value_and_derivative


def _tanh_both(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    t = torch.tanh(u)
    return t, torch.addcmul(torch.ones_like(t), t, t, value=-1.0)


def _gelu_both(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    cdf = torch.erf(u * (1.0 / math.sqrt(2.0))).add_(1.0).mul_(0.5)
    # exp(−u²/2) is clamped at e^{−600} (≈ 1e-261) so that it never becomes subnormal (slow on
    # CPUs); u·φ(u) is below 1e-250 there either way.
    pdf = torch.exp((u * u * -0.5).clamp_(min=-600.0)).mul_(1.0 / math.sqrt(2.0 * math.pi))
    return u * cdf, torch.addcmul(cdf, u, pdf)


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", torch.relu, _relu_derivative,
                       _both(torch.relu, _relu_derivative)),
    "erf": Activation("erf", torch.erf, _erf_derivative, _both(torch.erf, _erf_derivative)),
    "tanh": Activation("tanh", torch.tanh, _tanh_derivative, _tanh_both),
    "gelu": Activation("gelu", torch.nn.functional.gelu, _gelu_derivative, _gelu_both),
}


def get_activation(name: str) -> Activation:
    """The activation called ``name``; a ``ValueError`` lists the known names otherwise."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}"
        )
    return ACTIVATIONS[name]
