"""A fully connected network, the torso of every policy, Q-function and value in `irlax.rl`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp


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

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        for width in self.hidden:
            x = nn.Dense(width, kernel_init=nn.initializers.orthogonal(jnp.sqrt(2.0)))(x)
            x = self.activation(x)
        init = nn.initializers.orthogonal(self.out_scale)
        return nn.Dense(self.out, kernel_init=init, bias_init=nn.initializers.zeros)(x)
