"""Reward models: maps from per-state (or per-state-action) features to a scalar reward.

A reward model takes features `[..., F]` and returns rewards `[...]` (the trailing feature axis
is consumed). Applied to an MDP's `features [S, F]` it gives a state reward `[S]`; to
`[S, A, F]`, a state-action reward `[S, A]`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp

from irlax.config import is_real
from irlax.nets.mlp import check_widths


class LinearReward(nn.Module):
    """`r = θ·φ` (plus an optional bias), θ initialised to 0: the classical linear reward.

    Attributes:
        use_bias: add a learned constant (it cannot change any policy on a fixed horizon).
    """

    use_bias: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.use_bias, bool):
            raise ValueError(f"use_bias must be a bool, got {self.use_bias!r}")
        super().__post_init__()

    @nn.compact
    def __call__(self, features: jnp.ndarray) -> jnp.ndarray:
        dense = nn.Dense(1, use_bias=self.use_bias, kernel_init=nn.initializers.zeros)
        return dense(features)[..., 0]


class MLPReward(nn.Module):
    """A fully connected network from features to reward (Wulfmeier et al. 2016, §3).

    Attributes:
        hidden: widths of the hidden layers.
        activation: the nonlinearity between layers.
        zero_output: start at a reward of 0 everywhere (the output layer initialised to 0).
    """

    hidden: Sequence[int] = (64, 64)
    activation: Callable[[jnp.ndarray], jnp.ndarray] = nn.relu
    zero_output: bool = False

    def __post_init__(self) -> None:
        _check_layers(self.hidden, self.activation)
        if not isinstance(self.zero_output, bool):
            raise ValueError(f"zero_output must be a bool, got {self.zero_output!r}")
        super().__post_init__()

    @nn.compact
    def __call__(self, features: jnp.ndarray) -> jnp.ndarray:
        x = features
        for width in self.hidden:
            x = self.activation(nn.Dense(width)(x))
        if self.zero_output:
            return nn.Dense(1, kernel_init=nn.initializers.zeros)(x)[..., 0]
        return nn.Dense(1)(x)[..., 0]


def _check_layers(hidden, activation, name: str = "hidden") -> None:
    check_widths(name, hidden)
    if not callable(activation):
        raise ValueError(f"activation must be a callable, got {activation!r}")


TRANSITION_INPUTS = ("state", "state_action", "state_next_state", "state_action_next_state")
"""What a `TransitionReward` reads of a transition `(s, a, s')`."""


class TransitionReward(nn.Module):
    """A reward of a transition, `r(s)`, `r(s, a)`, `r(s, s')` or `r(s, a, s')`: an MLP over
    the concatenated parts it reads (the discriminator networks of GAIL and AIRL).

    Called as `reward(obs, action, next_obs)` with float feature vectors `[..., D]`,
    `[..., A]`, `[..., D]` (actions as `irlax.nets.policies.action_features` encodes them);
    the parts it does not read are ignored. Returns `[...]`.

    Attributes:
        inputs: one of `TRANSITION_INPUTS`; "state" is a state-only reward, the disentangled
            reward of Fu et al. 2018 (§5) that transfers to new dynamics.
        hidden: widths of the hidden layers.
        activation: the nonlinearity between layers.
        zero_output: start at a reward of 0 everywhere (the output layer initialised to 0).
    """

    inputs: str = "state_action"
    hidden: Sequence[int] = (64, 64)
    activation: Callable[[jnp.ndarray], jnp.ndarray] = nn.relu
    zero_output: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.inputs, str) or self.inputs not in TRANSITION_INPUTS:
            raise ValueError(f"inputs must be one of {TRANSITION_INPUTS}, got {self.inputs!r}")
        _check_layers(self.hidden, self.activation)
        super().__post_init__()

    @nn.compact
    def __call__(self, obs: jnp.ndarray, action: jnp.ndarray, next_obs: jnp.ndarray):
        parts = {"state": obs, "action": action, "next_state": next_obs}
        chosen = [parts[name] for name in ("state", "action", "next_state") if name in self.inputs]
        x = jnp.concatenate(chosen, axis=-1)
        return MLPReward(self.hidden, self.activation, self.zero_output)(x)


class ShapedReward(nn.Module):
    """`f(s, a, s') = g(s, a, s') + γ h(s') − h(s)`: a reward plus potential-based shaping.

    AIRL's discriminator (Fu et al. 2018, eq. 4 of §5): `g` is the reward (state-only for the
    disentangled reward that transfers), `h` a learned potential. Shaping by `h` changes no
    optimal policy (Ng et al. 1999), so `g` alone is the reward to keep; apply it with
    `module.apply(params, obs, action, next_obs, method="reward_only")`.

    Attributes:
        reward: `g`, any module called as `g(obs, action, next_obs)` (a `TransitionReward`).
        potential_hidden: widths of the hidden layers of the potential `h(s)` (an `MLPReward`).
        discount: γ of the shaping term (the generator's discount).
        activation: the potential's nonlinearity.
    """

    reward: nn.Module
    potential_hidden: Sequence[int] = (64, 64)
    discount: float = 0.99
    activation: Callable[[jnp.ndarray], jnp.ndarray] = nn.relu

    def __post_init__(self) -> None:
        if not isinstance(self.reward, nn.Module):
            raise ValueError(
                f"reward must be a Flax module called as reward(obs, action, next_obs) (e.g. "
                f"TransitionReward()), got {self.reward!r}"
            )
        _check_layers(self.potential_hidden, self.activation, "potential_hidden")
        d = self.discount
        if not is_real(d) or not 0 <= d <= 1:
            raise ValueError(f"discount must be a number in [0, 1], got {d!r}")
        super().__post_init__()

    def setup(self) -> None:
        self.potential = MLPReward(self.potential_hidden, self.activation)

    def __call__(self, obs: jnp.ndarray, action: jnp.ndarray, next_obs: jnp.ndarray):
        shaping = self.discount * self.potential(next_obs) - self.potential(obs)
        return self.reward(obs, action, next_obs) + shaping

    def reward_only(self, obs: jnp.ndarray, action: jnp.ndarray, next_obs: jnp.ndarray):
        """`g(s, a, s')` without the shaping."""
        return self.reward(obs, action, next_obs)
