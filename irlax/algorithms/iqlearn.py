"""Inverse soft-Q learning, IQ-Learn (Garg et al. 2021, "IQ-Learn: Inverse soft-Q Learning for
Imitation"): imitation without an adversary, by learning one soft Q-function.

A soft Q-function fixes both a policy and a reward. With temperature τ, its value and policy
are `V_Q(s) = τ·log Σ_a exp(Q(s, a)/τ)` and `π_Q(a|s) = exp((Q(s, a) − V_Q(s))/τ)` (discrete
actions), and it is the soft-optimal Q-function of exactly one reward, the one its inverse
soft Bellman operator gives (the paper's §3):

    r_Q(s, a) = Q(s, a) − γ·E_{s'~P(·|s,a)}[V_Q(s')].

IQ-Learn maximises over Q (§4: the regularised max-ent IRL saddle point `max_r min_π`
rewritten in Q alone, `J*(Q)`, with φ the concave function the reward regulariser ψ gives):

    J(Q) = E_{(s,a,s')~ρ_E}[φ(Q(s, a) − γ·(1 − done)·V(s'))] − (1 − γ)·E_{s_0~p_0}[V(s_0)].

**This module's formulation, exactly.** One gradient step ascends

    J = mean_expert φ(r) − value_term,    r = Q(s, a) − γ·(1 − terminated)·V̄(s'),
    φ(x) = x − x²/(4α)                    (the χ² regulariser: a penalty r²/(4α)),

where `V̄` is V of the target network (`target_update="polyak"`) or of Q itself (`"none"`,
the full gradient through V(s')), a time-limit truncation is bootstrapped and a terminal state
has value 0 (`terminated`). `value_term` is one of (`value_term`):

- `"initial"`: `(1 − γ)·mean_{s_0} V(s_0)`, over the demos' first observations (`J*`);
- `"expert"`: `mean_expert [V(s) − γ·(1 − terminated)·V̄(s')]`, the telescoped form
  (§4: `(1 − γ)·E_{p_0}[V(s_0)] = E_{(s,s')~ρ}[V(s) − γ·V(s')]` for the occupancy ρ of any
  policy) with the expert's transitions, the offline default;
- `"mixed"`: the same mean over the expert batch and an equal batch of the learner's replayed
  transitions together (online only; the same identity with the mixture, the online
  default).

With the telescoped value term and φ the identity, `J = τ·mean_expert log π_Q(a|s)`: behaviour
cloning. The χ² term `−mean r²/(4α)` is what makes Q an IRL answer, keeping the implied reward
of the expert's transitions small and consistent with the dynamics (the TD term of the seed
note `002_*`). `1/(4α)` weighs it: α → ∞ is behaviour cloning. The χ² term also pulls `π_Q`
away from a stochastic expert's own policy (the regularised IRL optimum is the expert's only as
ψ → 0): on a slippery 6-state gridworld with an expert soft-optimal at τ = 1, the learned
policy's total variation from the expert's was 0.22, 0.12 and 0.03 at α = 0.1, 0.5 and 10.

The defaults (τ = 0.1, α = 0.05, Adam 3·10⁻³, Polyak target, batch 64) are those found best
offline on CartPole-v1 from one expert episode, where IQ-Learn passes a return of 475 within a
few thousand updates (a few seconds on a CPU).

**Continuous actions** (Box): V is the policy's soft value `V(s) = E_{a~π}[Q(s, a) −
τ·log π(a|s)]` (one reparameterised sample), with a SAC-style tanh-Gaussian actor trained,
after each Q step, by SAC's policy loss `E_{a~π}[τ·log π(a|s) − Q(s, a)]` (Haarnoja et al.
2018, eq. 7) on the batch's states (the paper's continuous-action variant: the actor
approximates the soft-optimal policy of Q, and J is maximised over Q at fixed π).

**Offline** (`online=False`): expert transitions only; `env_steps` stays 0. Every
`eval_every` updates on a JAX env, `eval_episodes` fresh episodes of the policy (its mode when
`eval_deterministic`) are run for at most `eval_max_steps` steps and their mean return is the
update's `episode_return` (the last evaluation's until the next; NaN before the first, and
always on a host-stepped env). **Online** (`online=True`): each update first acts
`rollout_length` steps in `num_envs` envs with the current policy (Boltzmann `softmax(Q/τ)`,
or the actor) into a replay buffer (`irlax.rl.ReplayBuffer`); gradient steps begin when it
holds `learning_starts` transitions; `episode_return` is that of the acting episodes.

**The implied reward** (`ImitationResult.reward_fn(params, obs, action, next_obs)`) is
`Q(s, a) − γ·V(s')` of the final Q (not the target's), the reward of a transition into a
non-terminal state; that of a transition into a terminal state is `Q(s, a)` (V = 0 there),
`result.reward_fn.terminal(result.reward_params, obs, action)`. Its expectation over `s'` is
`r_Q`, whose soft-optimal policy (soft value iteration at temperature τ, expected backup) is
exactly `π_Q`. For continuous actions `V(s')` is estimated with `REWARD_VALUE_SAMPLES` actions
from a fixed key, so `reward_fn` stays a deterministic function.

Usage:

    from irlax.algorithms import iqlearn
    train = iqlearn.make_train(iqlearn.IQLearnConfig(), env, env_params, demos)
    result = jax.jit(train)(key)            # or jax.jit(jax.vmap(train))(keys)
    result.policy.policy(obs, key)           # softmax(Q/τ), or the actor
    result.reward(obs, action, next_obs)     # Q(s, a) − γ V(s')
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Literal, NamedTuple, get_args

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from irlax._pytree import pytree_dataclass
from irlax.algorithms._deep import (
    ExpertTransitions,
    ImitationResult,
    TransitionCheck,
    expert_argument,
    expert_transitions,
    train_from_demos,
)
from irlax.config import (
    check_config,
    make_config,
    require_bool,
    require_choice,
    require_hidden,
    require_int,
    require_real,
)
from irlax.nets.mlp import MLP
from irlax.nets.policies import (
    Categorical,
    ContinuousCritic,
    TanhGaussian,
    TanhGaussianActor,
    action_features,
    head_for_space,
)
from irlax.rl import EpisodeStats, ReplayBuffer, Result, Trainer, Transitions
from irlax.rl._common import env_params_or_default, flat_obs, reset_envs, step_envs
from irlax.rl.sac import actor_loss

ValueTerm = Literal["initial", "expert", "mixed"]
TargetUpdate = Literal["none", "polyak"]
VALUE_TERMS, TARGET_UPDATES = get_args(ValueTerm), get_args(TargetUpdate)

REWARD_VALUE_SAMPLES = 16
"""Continuous actions: actions drawn (from a fixed key) to estimate `V(s')` in `reward_fn`."""


@dataclasses.dataclass(frozen=True)
class IQLearnConfig:
    """Options of IQ-Learn (Garg et al. 2021; see `irlax.algorithms.iqlearn`).

    Attributes:
        online: learn from the expert's transitions and the learner's own (replayed) ones, or
            (False) from the expert's alone.
        updates: updates in all; each acts `rollout_length` steps in every env (online) and
            then takes `gradient_steps` gradient steps.
        gradient_steps: gradient steps per update, each on fresh batches.
        batch_size: expert transitions per gradient step (online, as many of the learner's).
        learning_rate: Adam step size of the Q-network.
        actor_learning_rate: Adam step size of the actor (continuous actions only).
        max_grad_norm: clip the Q-network's gradients to this global norm; None for none.
        hidden: widths of the hidden ReLU layers of the Q-network (and of the actor); () makes
            Q linear in the observation (tabular on one-hot observations).
        discount: γ in [0, 1).
        temperature: τ > 0: `V = τ·logsumexp(Q/τ)` and the policy `softmax(Q/τ)` (discrete),
            the entropy weight of the actor's soft value (continuous).
        chi2_alpha: α > 0 of the χ² regulariser, `φ(x) = x − x²/(4α)`: the expert's implied
            rewards pay `r²/(4α)`; larger is closer to behaviour cloning.
        value_term: "initial" `(1 − γ)·E[V(s_0)]` over the demos' first states, "expert"
            `E[V(s) − γV(s')]` over expert transitions, "mixed" the same over expert and
            replayed transitions (online only); None for "mixed" online and "expert" offline.
        target_update: "none" (V(s') of the Q-network itself, differentiated) or "polyak" (of
            a target network, `target ← (1 − tau)·target + tau·online` after every step).
        tau: weight in (0, 1] of the online parameters in a Polyak step.
        num_envs: parallel envs the learner acts in (online), or evaluates in (offline:
            unused, see eval_episodes).
        rollout_length: steps each env takes per update (online).
        buffer_size: capacity of the learner's replay buffer in transitions (online).
        learning_starts: transitions the buffer must hold before gradient steps begin (online).
        eval_every: offline: evaluate the policy every this many updates (and after the last).
        eval_episodes: offline: episodes per evaluation on a JAX env; 0 for none.
        eval_max_steps: offline: the most steps of an evaluation episode.
        eval_deterministic: offline: evaluate the policy's mode rather than samples.
    """

    online: bool = False
    updates: int = 2000
    gradient_steps: int = 1
    batch_size: int = 64
    learning_rate: float = 3e-3
    actor_learning_rate: float = 3e-4
    max_grad_norm: float | None = None
    hidden: tuple[int, ...] = (64, 64)
    discount: float = 0.99
    temperature: float = 0.1
    chi2_alpha: float = 0.05
    value_term: ValueTerm | None = None
    target_update: TargetUpdate = "polyak"
    tau: float = 0.005
    num_envs: int = 4
    rollout_length: int = 1
    buffer_size: int = 100_000
    learning_starts: int = 1000
    eval_every: int = 100
    eval_episodes: int = 8
    eval_max_steps: int = 1000
    eval_deterministic: bool = True

    def __post_init__(self) -> None:
        require_bool(self, "online")
        for name in (
            "updates",
            "gradient_steps",
            "batch_size",
            "num_envs",
            "rollout_length",
            "buffer_size",
            "eval_every",
            "eval_max_steps",
        ):
            require_int(self, name, minimum=1)
        require_int(self, "learning_starts", minimum=0)
        require_int(self, "eval_episodes", minimum=0)
        if self.learning_starts > self.buffer_size:
            raise ValueError(
                f"learning_starts must be at most buffer_size={self.buffer_size} (the buffer "
                f"could never hold that many), got {self.learning_starts}"
            )
        if self.num_envs * self.rollout_length > self.buffer_size:
            raise ValueError(
                f"buffer_size must hold one update's num_envs * rollout_length = "
                f"{self.num_envs * self.rollout_length} transitions, got {self.buffer_size}"
            )
        require_real(self, "learning_rate", lambda x: x > 0, "> 0")
        require_real(self, "actor_learning_rate", lambda x: x > 0, "> 0")
        if self.max_grad_norm is not None:
            require_real(self, "max_grad_norm", lambda x: x > 0, "> 0 or None")
        require_hidden(self)
        require_real(self, "discount", lambda x: 0 <= x < 1, "in [0, 1)")
        require_real(self, "temperature", lambda x: x > 0, "> 0")
        require_real(self, "chi2_alpha", lambda x: x > 0, "> 0")
        if self.value_term is not None:
            require_choice(self, "value_term", VALUE_TERMS)
            if self.value_term == "mixed" and not self.online:
                raise ValueError(
                    "value_term='mixed' averages over the learner's own transitions too, which "
                    "needs online=True; offline, use 'expert' or 'initial'"
                )
        require_choice(self, "target_update", TARGET_UPDATES)
        require_real(self, "tau", lambda x: 0 < x <= 1, "in (0, 1]")
        require_bool(self, "eval_deterministic")

    @property
    def value_term_used(self) -> str:
        """`value_term`, or its default: "mixed" online, "expert" offline."""
        if self.value_term is not None:
            return self.value_term
        return "mixed" if self.online else "expert"


# ---------------------------------------------------------------------------------------------
# The objective, as pure functions of arrays


class SoftValues(NamedTuple):
    """The soft quantities of a batch of `B` transitions `(s, a, s')`.

    Attributes:
        q: `[B]` `Q(s, a)`.
        value: `[B]` `V(s)`.
        next_value: `[B]` `V(s')` (of the target network when there is one).
        terminated: bool `[B]`, `s'` is terminal (its value is 0).
    """

    q: jnp.ndarray
    value: jnp.ndarray
    next_value: jnp.ndarray
    terminated: jnp.ndarray


def chi2_phi(x: jnp.ndarray, alpha) -> jnp.ndarray:
    """`φ(x) = x − x²/(4α)`: the concave function of the χ² regulariser (Garg et al. 2021,
    the χ² divergence: a penalty `r²/(4α)` on the implied reward)."""
    return x - jnp.square(x) / (4.0 * alpha)


def implied_reward(values: SoftValues, discount) -> jnp.ndarray:
    """`r = Q(s, a) − γ·(1 − terminated)·V(s')`, `[B]`: the inverse soft Bellman operator of
    one sampled successor (Garg et al. 2021, §3)."""
    live = 1.0 - values.terminated.astype(values.next_value.dtype)
    return values.q - discount * live * values.next_value


def value_difference(values: SoftValues, discount) -> jnp.ndarray:
    """`V(s) − γ·(1 − terminated)·V(s')`, `[B]`: the summand of the telescoped value term
    (Garg et al. 2021, §4)."""
    live = 1.0 - values.terminated.astype(values.next_value.dtype)
    return values.value - discount * live * values.next_value


def iq_objective(
    expert: SoftValues,
    *,
    discount,
    chi2_alpha,
    value_term: str,
    initial_value: jnp.ndarray | None = None,
    policy: SoftValues | None = None,
) -> tuple[jnp.ndarray, dict]:
    """The IQ-Learn objective J (to maximise) of one batch, and its parts.

    `J = mean_expert φ(r) − value_term` (see the module for the three value terms).

    Args:
        expert: `SoftValues` of expert transitions.
        discount: γ.
        chi2_alpha: α of `φ(x) = x − x²/(4α)`.
        value_term: "initial", "expert" or "mixed".
        initial_value: `[N]` `V(s_0)` of initial states ("initial").
        policy: `SoftValues` of the learner's transitions ("mixed").

    Returns:
        `(J, parts)`, `parts` holding `expert_reward` (mean implied reward of the expert
        transitions), `chi2_penalty` (mean r²/(4α)) and `value_term`.
    """
    reward = implied_reward(expert, discount)
    penalty = jnp.mean(jnp.square(reward)) / (4.0 * chi2_alpha)
    if value_term == "initial":
        value = (1.0 - discount) * jnp.mean(initial_value)
    elif value_term == "expert":
        value = jnp.mean(value_difference(expert, discount))
    elif value_term == "mixed":
        both = jax.tree.map(lambda e, p: jnp.concatenate([e, p]), expert, policy)
        value = jnp.mean(value_difference(both, discount))
    else:
        raise ValueError(f"value_term must be one of {VALUE_TERMS}, got {value_term!r}")
    objective = jnp.mean(reward) - penalty - value
    parts = {"expert_reward": jnp.mean(reward), "chi2_penalty": penalty, "value_term": value}
    return objective, parts


# ---------------------------------------------------------------------------------------------
# Networks


class _Model(NamedTuple):
    """The networks and the soft quantities they give (static)."""

    head: Categorical | TanhGaussian
    critic: nn.Module
    actor: nn.Module | None
    temperature: float

    def features(self, obs):
        """`[B, D]` the networks' input: flat float observations."""
        return flat_obs(obs, 1)

    @property
    def discrete(self) -> bool:
        return isinstance(self.head, Categorical)

    def init(self, key, obs):
        """`(critic_params, actor_params)` (actor `{}` for discrete actions)."""
        k_critic, k_actor = jax.random.split(key)
        x = self.features(obs[:1])
        if self.discrete:
            return self.critic.init(k_critic, x), {}
        a = jnp.zeros((1, self.head.n), x.dtype)
        return self.critic.init(k_critic, x, a), self.actor.init(k_actor, x)

    def unit_action(self, action, dtype):
        low, high = self.head.bounds(dtype)
        a = action_features(self.head, action).astype(dtype)
        return (a - (high + low) / 2) / ((high - low) / 2)

    def q_all(self, critic, obs):
        """Discrete: `[B, A]` Q-values of a batch of observations."""
        return self.critic.apply(critic, self.features(obs))

    def q_of(self, critic, obs, action):
        """`[B]` Q-values of given (env-format) actions."""
        x = self.features(obs)
        if self.discrete:
            q = self.critic.apply(critic, x)
            return jnp.take_along_axis(q, action[:, None].astype(jnp.int32), axis=1)[:, 0]
        return self.critic.apply(critic, x, self.unit_action(action, x.dtype))

    def dist(self, actor, obs):
        return self.actor.apply(actor, self.features(obs))

    def value(self, critic, actor, obs, key):
        """`[B]` V(s): `τ·logsumexp(Q/τ)`, or `Q(s, ã) − τ·log π(ã|s)` at one draw `ã ~ π`."""
        if self.discrete:
            q = self.q_all(critic, obs)
            return self.temperature * jax.nn.logsumexp(q / self.temperature, axis=-1)
        action, log_pi = self.head.sample_and_log_prob(self.dist(actor, obs), key)
        return self.q_of(critic, obs, action) - self.temperature * log_pi

    def act(self, critic, actor, obs, key, deterministic):
        """`[B]` actions for a batch of observations (samples, or the mode)."""
        if self.discrete:
            logits = self.q_all(critic, obs) / self.temperature
            return jnp.where(deterministic, self.head.mode(logits), self.head.sample(logits, key))
        dist = self.dist(actor, obs)
        return jnp.where(deterministic, self.head.mode(dist), self.head.sample(dist, key))

    def log_prob(self, critic, actor, obs, action):
        """`[B]` log π(a|s)."""
        if self.discrete:
            return self.head.log_prob(self.q_all(critic, obs) / self.temperature, action)
        return self.head.log_prob(self.dist(actor, obs), action)


def _make_model(config: IQLearnConfig, env, env_params) -> _Model:
    space = env.action_space(env_params)
    head = head_for_space(space, box="tanh", name="iqlearn: the env's")
    if isinstance(head, Categorical):
        critic = MLP(config.hidden, head.n, nn.relu)
        return _Model(head, critic, None, config.temperature)
    if isinstance(head, TanhGaussian):
        actor = TanhGaussianActor(config.hidden, head.n)
        return _Model(head, ContinuousCritic(config.hidden), actor, config.temperature)
    raise ValueError(
        "iqlearn needs a Discrete or bounded Box action space, got "
        f"{type(space).__name__} (a {type(head).__name__} head)"
    )


# ---------------------------------------------------------------------------------------------
# The trainer


@pytree_dataclass
class IQLearnState:
    """Everything IQ-Learn carries from one update to the next.

    Attributes:
        critic: the Q-network's parameters.
        target: the target Q-network's parameters (the critic's when there is none).
        actor: the actor's parameters (`{}` for discrete actions).
        critic_opt: the Q-network optimiser's state.
        actor_opt: the actor optimiser's state.
        buffer: the learner's replay buffer (online; one unused slot offline).
        env_state: the acting envs' states.
        obs: `[num_envs, ...]` their current observations.
        stats: episode statistics of the acting envs.
        eval_return: the last offline evaluation's mean return (NaN before the first).
        env_steps: env steps the learner has taken (online; 0 offline).
        gradient_steps: gradient steps taken.
        updates: updates taken.
        key: the PRNG key of what comes next.
        initial_obs: `[N, ...]` the demos' first observations (value term "initial"; else
            None).
    """

    critic: Any
    target: Any
    actor: Any
    critic_opt: Any
    actor_opt: Any
    buffer: ReplayBuffer
    env_state: Any
    obs: jnp.ndarray
    stats: EpisodeStats
    eval_return: jnp.ndarray
    env_steps: jnp.ndarray
    gradient_steps: jnp.ndarray
    updates: jnp.ndarray
    key: jax.Array
    initial_obs: jnp.ndarray | None = None


def make_trainer(config: IQLearnConfig | None, env, env_params, demos, **options) -> Trainer:
    """IQ-Learn in pieces (see `irlax.rl.Trainer`): `init(key, expert=None)`, `update(state,
    expert=None)`, `result`; `expert` the demos' `ExpertTransitions` as data (None: `demos`,
    baked into the program; see `irlax.algorithms._deep`).

    Args:
        config: an `IQLearnConfig` (None for the defaults).
        env: a gymnax-style env with a Discrete or bounded Box action space, or (online) a
            host vector env holding `num_envs` copies.
        env_params: its parameters; None for the defaults.
        demos: expert `Trajectories` of this env's observations and actions.
        **options: fields of `IQLearnConfig` replacing the config's.

    Returns:
        A `Trainer` of `config.updates` updates whose `result` is an `ImitationResult`:
        `policy` an `irlax.rl.Result` (`softmax(Q/τ)` with `q_values` for discrete actions,
        the actor for continuous ones), `reward_params` the Q-network's (and actor's)
        parameters, `reward_fn` the implied reward `Q(s, a) − γ·V(s')`. Metrics per update:
        `episode_return`, `env_steps`, `gradient_steps`, `loss` (−J), `expert_reward`,
        `chi2_penalty`, `value_term`, `q_mean` (mean Q of the expert batch), `actor_loss`
        (continuous), each the mean over the update's gradient steps (NaN before learning
        starts).

    Raises:
        ValueError: a bad config or option, an action space IQ-Learn cannot handle, or demos
            that do not fit the env or hold no transition.
    """
    config = make_config(IQLearnConfig, config, options)
    check_config(config, IQLearnConfig)
    env_params = env_params_or_default(env, env_params)
    given = expert_transitions(env, env_params, demos)
    check_transition = TransitionCheck.of(env, env_params, given)
    model = _make_model(config, env, env_params)
    value_term = config.value_term_used
    n_initial = int(np.sum(np.asarray(demos.lengths) > 0))  # the demos that take a step
    discount = config.discount
    online = config.online
    host_env = getattr(env, "is_vector", False)
    evaluating = (not online) and config.eval_episodes > 0 and not host_env

    critic_chain = [optax.adam(config.learning_rate)]
    if config.max_grad_norm is not None:
        critic_chain.insert(0, optax.clip_by_global_norm(config.max_grad_norm))
    critic_optimizer = optax.chain(*critic_chain)
    actor_optimizer = optax.adam(config.actor_learning_rate)
    acting_envs = config.num_envs if online else 1

    def init(key: jax.Array, expert: ExpertTransitions | None = None) -> IQLearnState:
        expert = expert_argument(expert, given)
        key, env_key, net_key = jax.random.split(key, 3)
        critic, actor = model.init(net_key, expert.obs)
        if online:
            obs, env_state = reset_envs(env, env_params, env_key, acting_envs)
        else:  # nothing acts; placeholders keep one state layout
            obs, env_state = expert.obs[:1], jnp.zeros(())
        capacity = config.buffer_size if online else 1
        buffer = ReplayBuffer.empty(
            capacity, expert.obs[0], expert.action[0], jnp.zeros((), jnp.float32)
        )
        zero = jnp.zeros((), jnp.int32)
        initial_obs = None
        if value_term == "initial":  # each demo's first step, in the demos' order
            first = jnp.nonzero(expert.step == 0, size=n_initial)[0]
            initial_obs = expert.obs[first]
        return IQLearnState(
            critic=critic,
            target=critic,
            actor=actor,
            critic_opt=critic_optimizer.init(critic),
            actor_opt=actor_optimizer.init(actor),
            buffer=buffer,
            env_state=env_state,
            obs=obs,
            stats=EpisodeStats.zeros(acting_envs),
            eval_return=jnp.full((), jnp.nan, jnp.float32),
            env_steps=zero,
            gradient_steps=zero,
            updates=zero,
            key=key,
            initial_obs=initial_obs,
        )

    def soft_values(critic, target, actor, batch, key) -> SoftValues:
        k_v, k_next = jax.random.split(key)
        next_critic = critic if config.target_update == "none" else target
        next_value = model.value(next_critic, actor, batch.next_obs, k_next)
        if config.target_update != "none":
            next_value = jax.lax.stop_gradient(next_value)
        return SoftValues(
            q=model.q_of(critic, batch.obs, batch.action),
            value=model.value(critic, actor, batch.obs, k_v),
            next_value=next_value,
            terminated=batch.terminated,
        )

    def loss_fn(critic, target, actor, expert_batch, policy_batch, initial_obs, key):
        k_e, k_p, k_0 = jax.random.split(key, 3)
        e = soft_values(critic, target, actor, expert_batch, k_e)
        p = None if policy_batch is None else soft_values(critic, target, actor, policy_batch, k_p)
        v0 = model.value(critic, actor, initial_obs, k_0) if value_term == "initial" else None
        objective, parts = iq_objective(
            e,
            discount=discount,
            chi2_alpha=config.chi2_alpha,
            value_term=value_term,
            initial_value=v0,
            policy=p,
        )
        return -objective, {**parts, "q_mean": jnp.mean(e.q)}

    def gradient_step(expert: ExpertTransitions, initial_obs, carry, key):
        critic, target, actor, critic_opt, actor_opt, buffer = carry
        k_e, k_p, k_loss, k_actor = jax.random.split(key, 4)
        expert_batch = expert.sample(k_e, config.batch_size)
        policy_batch = buffer.sample(k_p, config.batch_size) if online else None
        (loss, parts), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            critic, target, actor, expert_batch, policy_batch, initial_obs, k_loss
        )
        updates, critic_opt = critic_optimizer.update(grads, critic_opt, critic)
        critic = optax.apply_updates(critic, updates)
        metrics = {"loss": loss, **parts}
        if not model.discrete:
            # The actor follows the updated Q: SAC's policy loss on the batch's states.
            states = expert_batch.obs
            if online:
                states = jnp.concatenate([states, policy_batch.obs])

            def pi_loss(actor):
                dist = model.dist(actor, states)
                action, log_pi = model.head.sample_and_log_prob(dist, k_actor)
                q = model.q_of(critic, states, action)
                return actor_loss(log_pi, q, model.temperature)

            a_loss, grads = jax.value_and_grad(pi_loss)(actor)
            updates, actor_opt = actor_optimizer.update(grads, actor_opt, actor)
            actor = optax.apply_updates(actor, updates)
            metrics["actor_loss"] = a_loss
        if config.target_update == "polyak":
            target = optax.incremental_update(critic, target, config.tau)
        else:
            target = critic
        carry = (critic, target, actor, critic_opt, actor_opt, buffer)
        return carry, jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), metrics)

    metric_names = ["loss", "expert_reward", "chi2_penalty", "value_term", "q_mean"]
    if not model.discrete:
        metric_names.append("actor_loss")

    def env_step(state: IQLearnState, _):
        key, act_key, step_key = jax.random.split(state.key, 3)
        action = model.act(state.critic, state.actor, state.obs, act_key, False)
        log_prob = model.log_prob(state.critic, state.actor, state.obs, action)
        obs, env_state, reward, terminated, truncated, info = step_envs(
            env, env_params, step_key, state.env_state, action
        )
        final_obs = info["final_observation"]
        buffer = state.buffer.add(state.obs, action, reward, final_obs, terminated)
        stats = state.stats.update(reward, jnp.logical_or(terminated, truncated))
        obs_before = state.obs
        state = state.replace(
            env_state=env_state,
            obs=obs,
            buffer=buffer,
            stats=stats,
            key=key,
            env_steps=state.env_steps + acting_envs,
        )
        return state, Transitions(obs_before, action, final_obs, terminated, truncated, log_prob)

    def evaluate(critic, actor, key):
        """Mean return of `eval_episodes` fresh episodes, each cut at `eval_max_steps`."""
        reset_key, key = jax.random.split(key)
        obs, env_state = reset_envs(env, env_params, reset_key, config.eval_episodes)
        n = config.eval_episodes

        def step(carry, key):
            obs, env_state, total, running = carry
            act_key, step_key = jax.random.split(key)
            action = model.act(critic, actor, obs, act_key, config.eval_deterministic)
            obs, env_state, reward, terminated, truncated, _ = step_envs(
                env, env_params, step_key, env_state, action
            )
            total = total + jnp.where(running, reward, 0.0)
            running = running & ~(terminated | truncated)
            return (obs, env_state, total, running), None

        carry = (obs, env_state, jnp.zeros(n), jnp.ones(n, bool))
        keys = jax.random.split(key, config.eval_max_steps)
        (_, _, total, _), _ = jax.lax.scan(step, carry, keys)
        return jnp.mean(total).astype(jnp.float32)

    def update(state: IQLearnState, expert: ExpertTransitions | None = None):
        expert = expert_argument(expert, given)
        taken = None
        if online:
            state, taken = jax.lax.scan(env_step, state, None, config.rollout_length)
        key, learn_key, eval_key = jax.random.split(state.key, 3)
        carry = (
            state.critic,
            state.target,
            state.actor,
            state.critic_opt,
            state.actor_opt,
            state.buffer,
        )
        keys = jax.random.split(learn_key, config.gradient_steps)

        def learn(carry):
            step = functools.partial(gradient_step, expert, state.initial_obs)
            carry, metrics = jax.lax.scan(step, carry, keys)
            return carry, jax.tree.map(jnp.mean, metrics)

        def wait(carry):
            return carry, dict.fromkeys(metric_names, jnp.full((), jnp.nan, jnp.float32))

        if online:
            ready = state.buffer.size >= max(config.learning_starts, 1)
            carry, metrics = jax.lax.cond(ready, learn, wait, carry)
            grad_steps = state.gradient_steps + jnp.where(ready, config.gradient_steps, 0)
        else:
            carry, metrics = learn(carry)
            grad_steps = state.gradient_steps + config.gradient_steps
        critic, target, actor, critic_opt, actor_opt, _ = carry
        updates = state.updates + 1
        eval_return = state.eval_return
        if evaluating:
            due = (updates % config.eval_every == 0) | (updates == config.updates)
            eval_return = jax.lax.cond(
                due,
                lambda: evaluate(critic, actor, eval_key),
                lambda: eval_return,
            )
        state = state.replace(
            critic=critic,
            target=target,
            actor=actor,
            critic_opt=critic_opt,
            actor_opt=actor_opt,
            eval_return=eval_return,
            gradient_steps=grad_steps,
            updates=updates,
            key=key,
        )
        episode_return = state.stats.mean_return() if online else eval_return
        metrics = {
            **metrics,
            "episode_return": episode_return.astype(jnp.float32),
            "env_steps": state.env_steps,
            "gradient_steps": grad_steps,
        }
        return state, metrics, taken

    def act_fn(params, obs, key, deterministic=False):
        return model.act(params["critic"], params["actor"], obs[None], key, deterministic)[0]

    def log_prob_fn(params, obs, action):
        action = jnp.asarray(action)[None]
        return model.log_prob(params["critic"], params["actor"], obs[None], action)[0]

    def q_fn(params, obs):
        return model.q_all(params["critic"], obs[None])[0]

    def result(state: IQLearnState, metrics: dict) -> ImitationResult:
        params = {"critic": state.critic, "actor": state.actor}
        policy = Result(
            params=params,
            metrics=metrics,
            act_fn=act_fn,
            q_fn=q_fn if model.discrete else None,
            log_prob_fn=log_prob_fn,
        )
        return ImitationResult(
            policy=policy,
            reward_params=params,
            metrics=metrics,
            reward_fn=ImpliedReward(model, discount, check_transition),
        )

    return Trainer(init=init, update=update, result=result, n_updates=config.updates)


@dataclasses.dataclass(frozen=True)
class ImpliedReward:
    """The reward a learned Q implies (Garg et al. 2021, §3), as a `reward_fn`.

    `ImpliedReward(...)(params, obs, action, next_obs) = Q(s, a) − γ·V(s')` for one transition
    into a non-terminal state; `terminal(params, obs, action) = Q(s, a)` for one into a
    terminal state (whose value is 0). `params` are `ImitationResult.reward_params`.

    Attributes:
        model: the networks (static).
        discount: γ.
        check: refuses a call that is not one transition of the env (`TransitionCheck`); None
            for none.
    """

    model: _Model
    discount: float
    check: TransitionCheck | None = None

    def next_value(self, params, next_obs):
        """`V(s')` of one observation (continuous: the mean over `REWARD_VALUE_SAMPLES` draws
        from a fixed key, so that the reward is a deterministic function)."""
        model = self.model
        if model.discrete:
            return model.value(params["critic"], params["actor"], next_obs[None], None)[0]
        obs = jnp.broadcast_to(next_obs, (REWARD_VALUE_SAMPLES, *jnp.shape(next_obs)))
        return jnp.mean(model.value(params["critic"], params["actor"], obs, jax.random.key(0)))

    def terminal(self, params, obs, action):
        """`Q(s, a)`: the implied reward of a transition into a terminal state."""
        if self.check is not None:
            self.check(obs, action, obs)
        return self._q(params, obs, action)

    def __call__(self, params, obs, action, next_obs):
        if self.check is not None:
            self.check(obs, action, next_obs)
        return self._q(params, obs, action) - self.discount * self.next_value(params, next_obs)

    def _q(self, params, obs, action):
        return self.model.q_of(params["critic"], obs[None], jnp.asarray(action)[None])[0]


def make_train(config: IQLearnConfig | None, env, env_params, demos, **options):
    """`train(key, expert=None) -> ImitationResult`: IQ-Learn for `config.updates` updates.

    Pure in its key: `jax.jit(train)`, or `jax.jit(jax.vmap(train, in_axes=(0, None)))(keys,
    expert)` for many seeds, `expert = expert_transitions(env, env_params, demos)` (compiled once
    for every demo set of its shape; None bakes `demos` into the program). See `make_trainer`
    for the arguments.
    """
    return train_from_demos(make_trainer(config, env, env_params, demos, **options))
