"""Adversarial inverse reinforcement learning (Fu, Luo & Levine 2018).

AIRL is GAIL with a discriminator of a particular form, which makes its reward recoverable:

    D(s, a, s') = exp f(s, a, s') / (exp f(s, a, s') + π(a|s)),
    f(s, a, s') = g(s) + γ h(s') − h(s)                  (Fu et al. 2018, eqs. 2 and 4)

with `π` the current policy's exact probability. The discriminator's logit is `f − log π`, and
the policy is trained on `log D − log(1 − D) = f − log π`: the entropy-regularised RL problem
with reward `f`, whose optimum is the expert's policy when `f` is the expert's soft advantage.
`g` is the reward and `h` a shaping potential; with a state-only `g` and deterministic
dynamics, `g` recovers the true reward up to a constant (Fu et al. 2018, Thm. 5.1), and a policy
trained on `g` under *new* dynamics behaves as the expert would there: the reward transfers.
After training, `ImitationResult.reward_fn` is `g` alone.

The policy's own entropy bonus is already in its reward (`− log π`), so the default generator is
PPO without an entropy term (`entropy_coef=0`). That reward has no fixed scale (`f` grows as the
discriminator sharpens), so the default PPO also divides it by the running standard deviation
of its discounted sums (`normalize_rewards`): without it, PPO's value loss (~7,500 at the end
of a CartPole run, against GAIL's ~3) fills the clipped gradient norm and the policy barely
learns. A SAC generator is given `f` alone: its soft
objective adds `−α log π` itself, under the policy of each gradient step (a replayed batch's
`log π` would be stale), which is AIRL's objective exactly at temperature α = 1. So its
temperature must be fixed (`learn_temperature=False`; SAC's default tunes it towards a target
entropy, another objective each step): on Pendulum-v1 from 10 demos, AIRL with SAC at α = 1
reached 0.95 of the expert's normalised return, with the tuned temperature 0.34 (5 seeds,
`benchmarks/adversarial.py`).

Usage:

    from irlax.algorithms import airl
    train = airl.make_train(airl.AIRLConfig(), env, env_params, demos)
    result = jax.jit(train)(key)
    result.reward(obs, action, next_obs)     # g(s): the transferable reward
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Literal

from irlax.algorithms._adversarial import AdversarialConfig, Method, make_adversarial_trainer
from irlax.algorithms._deep import require_fixed_temperature, train_from_demos
from irlax.config import check_config, require_choice, require_hidden, require_real
from irlax.nets.reward import ShapedReward, TransitionReward
from irlax.rl import Trainer, ppo

RewardInputs = Literal["state", "state_action"]


@dataclasses.dataclass(frozen=True)
class AIRLConfig(AdversarialConfig):
    """Options of AIRL (those of every adversarial method, and these).

    Attributes:
        generator: the policy's trainer and its options (by default PPO without an entropy
            bonus, AIRL's reward `f − log π` holding the entropy already, and with
            `normalize_rewards`, that reward having no fixed scale); see `AdversarialConfig`.
            A SAC generator needs a fixed temperature (`learn_temperature=False`; 1 is AIRL's
            objective exactly).
        reward_inputs: what the reward `g` reads: "state" (the disentangled reward of Fu et
            al. 2018, which transfers to new dynamics) or "state_action".
        potential_hidden: widths of the hidden layers of the shaping potential `h(s)`.
        entropy_weight: `w > 0` in the PPO generator's reward `f − w·log π`: 1 is AIRL's
            `log D − log(1 − D)` exactly; a smaller `w` weighs the learned `f` more against
            the policy's entropy (the discriminator keeps its form `exp f / (exp f + π)`).
            A SAC generator's temperature plays this part, so with SAC it must stay 1.
    """

    generator: Any = dataclasses.field(
        default_factory=lambda: ppo.PPOConfig(entropy_coef=0.0, normalize_rewards=True)
    )
    reward_inputs: RewardInputs = "state"
    potential_hidden: tuple[int, ...] = (64, 64)
    entropy_weight: float = 1.0

    _network_fields: ClassVar[tuple[str, ...]] = ("discriminator_hidden", "reward_inputs")

    def __post_init__(self) -> None:
        super().__post_init__()
        require_choice(self, "reward_inputs", RewardInputs.__args__)
        require_hidden(self, "potential_hidden")
        require_real(self, "entropy_weight", lambda x: x > 0, "> 0")
        if self.entropy_weight != 1.0 and not isinstance(self.generator, ppo.PPOConfig):
            raise ValueError(
                "entropy_weight applies to a PPO generator; a SAC generator's entropy weight is "
                f"its temperature (set generator.temperature), got entropy_weight="
                f"{self.entropy_weight}"
            )
        require_fixed_temperature(
            self.generator, "AIRL's policy objective (temperature 1 for D = exp f / (exp f + π))"
        )


def _method(config: AIRLConfig) -> Method:
    reward = config.reward_network
    if reward is None:
        reward = TransitionReward(config.reward_inputs, config.discriminator_hidden)
    network = ShapedReward(reward, config.potential_hidden, config.generator.discount)

    def learned_reward(params, x, a, next_x):
        return network.apply(params, x, a, next_x, method="reward_only")

    return Method(network, True, lambda logit: logit, learned_reward, config.entropy_weight)


def make_trainer(config: AIRLConfig, env, env_params, demos) -> Trainer:
    """AIRL in pieces (see `irlax.rl.Trainer`): `init(key, expert=None)`, `update(state,
    expert=None)`, `result`; `expert` the demos' `ExpertTransitions` as data (None: `demos`,
    baked into the program; see `irlax.algorithms._deep`).

    Args:
        config: an `AIRLConfig`.
        env: a gymnax-style env, or a host vector env holding the generator's `num_envs`.
        env_params: its parameters; None for the defaults.
        demos: expert `Trajectories` of this env's observations and actions.

    Returns:
        A `Trainer` whose `result` is an `ImitationResult` with `reward_fn` the learned reward
        `g` (no shaping, no `log π`) and `reward_params` the discriminator's parameters (`g`'s
        and `h`'s) and observation statistics. Metrics as `irlax.algorithms.gail.make_trainer`.

    Raises:
        ValueError: a bad config, or demos that do not fit the env or hold no transition.
    """
    check_config(config, AIRLConfig)
    return make_adversarial_trainer(config, env, env_params, demos, _method(config))


def make_train(config: AIRLConfig, env, env_params, demos):
    """`train(key, expert=None) -> ImitationResult`: AIRL for the generator's step budget.

    Pure in its key: `jax.jit(train)`, or `jax.jit(jax.vmap(train, in_axes=(0, None)))(keys,
    expert)` for many seeds, `expert = expert_transitions(env, env_params, demos)` (compiled once
    for every demo set of its shape; None bakes `demos` into the program).
    """
    return train_from_demos(make_trainer(config, env, env_params, demos))
