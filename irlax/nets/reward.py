"""Reward models: maps from per-state (or per-state-action) features to a scalar reward.

A reward model takes features `[..., F]` and returns rewards `[...]` (the trailing feature axis
is consumed). Applied to an MDP's `features [S, F]` it gives a state reward `[S]`; to
`[S, A, F]`, a state-action reward `[S, A]`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp


class LinearReward(nn.Module):
    """`r = θ·φ` (plus an optional bias), θ initialised to 0: the classical linear reward.

    Attributes:
        use_bias: add a learned constant (it cannot change any policy on a fixed horizon).
    """

    use_bias: bool = False

    @nn.compact
    def __call__(self, features: jnp.ndarray) -> jnp.ndarray:
        dense = nn.Dense(1, use_bias=self.use_bias, kernel_init=nn.initializers.zeros)
        return dense(features)[..., 0]


class MLPReward(nn.Module):
    """A fully connected network from features to reward (Wulfmeier et al. 2016, §3).

    Attributes:
        hidden: widths of the hidden layers.
        activation: the nonlinearity between layers.
    """

    hidden: Sequence[int] = (64, 64)
    activation: Callable[[jnp.ndarray], jnp.ndarray] = nn.relu

    @nn.compact
    def __call__(self, features: jnp.ndarray) -> jnp.ndarray:
        x = features
        for width in self.hidden:
            x = self.activation(nn.Dense(width)(x))
        return nn.Dense(1)(x)[..., 0]
