"""A fully connected network, the torso of every policy, Q-function and value in `irlax.rl`."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp

from irlax.config import is_int, is_real


def check_widths(name: str, widths) -> None:
    """Refuse layer widths that are not a sequence of integers >= 1, by the field's name (a
    negative width otherwise fails inside Flax or NumPy when the module is first called)."""
    if (
        isinstance(widths, str)
        or not isinstance(widths, Sequence)
        or not all(is_int(w) and w >= 1 for w in widths)
    ):
        raise ValueError(f"{name} must be a sequence of integers >= 1, got {widths!r}")


class MLP(nn.Module):
    """Dense layers with a nonlinearity between them and a linear output layer.

    Attributes:
        hidden: widths of the hidden layers.
        out: width of the output layer.
        activation: the nonlinearity after each hidden layer.
        out_scale: scale of the orthogonal initialiser of the output layer (small values start
            a policy near uniform, as PPO implementations do).
    """

    hidden: Sequence[int] = (64, 64)
    out: int = 1
    activation: Callable[[jnp.ndarray], jnp.ndarray] = nn.tanh
    out_scale: float = 1.0

    def __post_init__(self) -> None:
        check_widths("hidden", self.hidden)
        if not is_int(self.out) or self.out < 1:
            raise ValueError(f"out must be an integer >= 1, got {self.out!r}")
        scale = self.out_scale
        if not (is_real(scale) and math.isfinite(scale) and scale >= 0):
            raise ValueError(f"out_scale must be a finite number >= 0, got {scale!r}")
        if not callable(self.activation):
            raise ValueError(f"activation must be a callable, got {self.activation!r}")
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        for width in self.hidden:
            x = nn.Dense(width, kernel_init=nn.initializers.orthogonal(jnp.sqrt(2.0)))(x)
            x = self.activation(x)
        init = nn.initializers.orthogonal(self.out_scale)
        return nn.Dense(self.out, kernel_init=init, bias_init=nn.initializers.zeros)(x)
