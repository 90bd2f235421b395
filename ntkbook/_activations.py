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


@dataclass(frozen=True)
class Activation:
    """An activation σ with its derivative σ' (both elementwise on tensors)."""

    name: str
    fn: Fn
    derivative: Fn


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


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", torch.relu, _relu_derivative),
    "erf": Activation("erf", torch.erf, _erf_derivative),
    "tanh": Activation("tanh", torch.tanh, _tanh_derivative),
    "gelu": Activation("gelu", torch.nn.functional.gelu, _gelu_derivative),
}


def get_activation(name: str) -> Activation:
    """The activation called ``name``; a ``ValueError`` lists the known names otherwise."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}"
        )
    return ACTIVATIONS[name]
