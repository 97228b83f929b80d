"""Generative adversarial imitation learning (Ho & Ermon 2016).

A discriminator `D(s, a) = σ(d(s, a))` learns to tell expert transitions (label 1) from the
policy's (label 0) by logistic regression; the policy is trained by an `irlax.rl` trainer on a
reward that grows with `D`. At the saddle point of `min_π max_D E_E[log D] + E_π[log(1 − D)] −
λH(π)` the policy's occupancy measure matches the expert's (Ho & Ermon 2016, eq. 15 and
Prop. 3.2); the optimal discriminator for a fixed policy is `ρ_E / (ρ_E + ρ_π)`.

The policy's reward (`reward`):

- `"positive"`: `−log(1 − D) = softplus(d) ≥ 0`, the reward of Ho & Ermon's implementation and
  the strongest early signal; being positive, it rewards surviving: without absorbing states
  a policy gains by making episodes last.
- `"negative"`: `log D = −softplus(−d) ≤ 0`; it rewards ending episodes early.
- `"logit"`: `log D − log(1 − D) = d`, unbounded in both directions (AIRL's form; the
  generator then minimises `KL(ρ_π ‖ ρ_E)`, Ghasemipour et al. 2019).

Either sign bias is what the absorbing states of `irlax.algorithms._adversarial` remove (on by
default; Kostrikov et al. 2019).

Usage:

    from irlax.algorithms import gail
    train = gail.make_train(gail.GAILConfig(), env, env_params, demos)
    result = jax.jit(train)(key)            # or jax.jit(jax.vmap(train))(keys)
    result.policy.policy(obs, key)           # the imitating policy
    result.reward(obs, action, next_obs)     # the reward it was trained on (softplus(d))
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal

import jax

from irlax.algorithms._adversarial import (
    AdversarialConfig,
    Method,
    make_adversarial_trainer,
)
from irlax.algorithms._deep import train_from_demos
from irlax.config import check_config, require_choice
from irlax.nets.reward import TransitionReward
from irlax.rl import Trainer

REWARDS = {
    "positive": lambda d: jax.nn.softplus(d),
    "negative": lambda d: -jax.nn.softplus(-d),
    "logit": lambda d: d,
}
"""The policy's reward as a function of the discriminator's logit `d` (see the module)."""

DiscriminatorInputs = Literal[
    "state_action", "state_next_state", "state", "state_action_next_state"
]
RewardForm = Literal["positive", "negative", "logit"]


@dataclasses.dataclass(frozen=True)
class GAILConfig(AdversarialConfig):
    """Options of GAIL (those of every adversarial method, and these).

    Attributes:
        discriminator_inputs: what the discriminator reads: "state_action" `D(s, a)` (Ho &
            Ermon), "state_next_state" `D(s, s')` (imitation from observation, Torabi et al.
            2019), "state" or "state_action_next_state".
        reward: the policy's reward: "positive" `−log(1 − D)`, "negative" `log D` or "logit"
            `log D − log(1 − D)` (see `irlax.algorithms.gail`).
    """

    discriminator_inputs: DiscriminatorInputs = "state_action"
    reward: RewardForm = "positive"

    _network_fields: ClassVar[tuple[str, ...]] = ("discriminator_hidden", "discriminator_inputs")

    def __post_init__(self) -> None:
        super().__post_init__()
        require_choice(self, "discriminator_inputs", DiscriminatorInputs.__args__)
        require_choice(self, "reward", REWARDS)


def _method(config: GAILConfig) -> Method:
    network = config.reward_network
    if network is None:
        network = TransitionReward(config.discriminator_inputs, config.discriminator_hidden)
    reward_of_logit = REWARDS[config.reward]

    def learned_reward(params, x, a, next_x):
        return reward_of_logit(network.apply(params, x, a, next_x))

    return Method(network, False, reward_of_logit, learned_reward)


def make_trainer(config: GAILConfig, env, env_params, demos) -> Trainer:
    """GAIL in pieces (see `irlax.rl.Trainer`): `init(key, expert=None)`, `update(state,
    expert=None)`, `result`; `expert` the demos' `ExpertTransitions` as data (None: `demos`,
    baked into the program; see `irlax.algorithms._deep`).

    Args:
        config: a `GAILConfig`.
        env: a gymnax-style env, or a host vector env holding the generator's `num_envs`.
        env_params: its parameters; None for the defaults.
        demos: expert `Trajectories` of this env's observations and actions.

    Returns:
        A `Trainer` whose `result` is an `ImitationResult`: the policy, the discriminator's
        parameters and observation statistics as `reward_params`, and `reward_fn` the
        policy's reward (`config.reward` of the logit, no absorbing term). Metrics per update:
        the generator's (`episode_return` under the env's reward, `env_steps`, ...), and the
        discriminator's after its last step: `discriminator_loss`,
        `discriminator_accuracy_expert`, `discriminator_accuracy_policy`, `gradient_penalty`,
        and with absorbing states `absorbing_reward` (the per-step reward of the absorbing
        state; a terminal transition's reward adds γ/(1 − γ) times it).

    Raises:
        ValueError: a bad config, or demos that do not fit the env or hold no transition.
    """
    check_config(config, GAILConfig)
    return make_adversarial_trainer(config, env, env_params, demos, _method(config))


def make_train(config: GAILConfig, env, env_params, demos):
    """`train(key, expert=None) -> ImitationResult`: GAIL for the generator's step budget.

    Pure in its key: `jax.jit(train)`, or `jax.jit(jax.vmap(train, in_axes=(0, None)))(keys,
    expert)` for many seeds, `expert = expert_transitions(env, env_params, demos)` (compiled once
    for every demo set of its shape; None bakes `demos` into the program). See
    `make_trainer` for the arguments.
    """
    return train_from_demos(make_trainer(config, env, env_params, demos))
