"""Soft Actor-Critic for continuous (Box) and discrete actions, jitted end to end.

SAC (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications", §4–5) learns the
maximum-entropy policy, the maximiser of `E[Σ_t γ^t (r(s_t, a_t) + α·H(π(·|s_t)))]`, off-policy
from a replay buffer:

- Two Q-functions, each fitted by the soft Bellman residual of eq. 5, and their
  Polyak-averaged target copies; the target takes the minimum of the twins (clipped double Q,
  Fujimoto et al. 2018):
  `y = r + γ·(1 − terminated)·E_{a'~π}[min_i Q̄_i(s', a') − α·log π(a'|s')]`.
- A policy improved towards `exp(Q/α)` by minimising eq. 7,
  `J_π = E_s E_{a~π}[α·log π(a|s) − min_i Q_i(s, a)]`, with a reparameterised tanh-squashed
  Gaussian for Box actions (its log-density by the change of variables of Appendix C,
  including the affine map onto `[low, high]`).
- Automatic temperature tuning (§5, eqs. 17–18): `α` minimises `J(α) = E[α·(H(π) − H̄)]`, so
  it rises while the policy's entropy is below the target `H̄` and falls while it is above.

Discrete SAC (Christodoulou 2019, "Soft Actor-Critic for Discrete Action Settings") keeps the
algorithm and changes the heads: the policy is categorical, each Q-network outputs all `[A]`
action values, and every expectation over actions (the target's `E_{a'~π}`, the policy loss,
the entropy in the temperature loss) is computed exactly as a sum over actions rather than
sampled. With a fixed temperature its fixed point is the soft-optimal Q of soft value
iteration with its defaults (`irlax.mdp.soft_value_iteration`: expected backup, plain soft
maximum).

The losses are module-level pure functions of arrays (`soft_bellman_target`, `critic_loss`,
`actor_loss`, `discrete_actor_loss`, `discrete_soft_value`, `temperature_loss`), for methods
that build on SAC's pieces (IQ-Learn, AIRL with a SAC generator); the policy heads are
`irlax.nets.policies`' `TanhGaussian` and `Categorical`.

One `update` steps every parallel env once (uniformly random actions until `learning_starts`
env steps have been taken), writes the transitions into a fixed-size circular replay buffer
held in the train state, then takes `updates_per_step` gradient steps once the buffer holds
`learning_starts` transitions; a `lax.cond` keeps it one compiled program, so `train` jits,
runs under `lax.scan` and vmaps over seeds. Time limits are not terminations: the buffer stores
`done = terminated` (not truncated) and the observation the action led to
(`info["final_observation"]`), so the target bootstraps through a truncation.

With a `reward_fn`, rewards are relabelled when a batch is drawn: every gradient step scores its
batch with `reward_fn(reward_params, obs, action, next_obs)` under the `reward_params` of that
update, so an IRL method that changes the reward between updates never trains on stale rewards.
Episode returns in the metrics are always the env's own rewards.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from irlax._checks import check_callable, check_env, check_key
from irlax._pytree import pytree_dataclass
from irlax.config import check_config, require_bool, require_hidden, require_int, require_real
from irlax.nets.mlp import MLP
from irlax.nets.policies import (
    Categorical,
    ContinuousCritic,
    TanhGaussian,
    TanhGaussianActor,
    head_for_space,
)
from irlax.rl._common import (
    EpisodeStats,
    Result,
    RewardFn,
    Trainer,
    Transitions,
    env_params_or_default,
    flat_obs,
    reset_envs,
    step_envs,
    train_from,
    transition_reward,
)
from irlax.rl.replay import ReplayBuffer

DISCRETE_TARGET_ENTROPY_SCALE = 0.5
"""Default target entropy of discrete SAC as a fraction of the maximum, `log A`.

Christodoulou (2019) uses 0.98 and CleanRL (Huang et al. 2022) 0.89. Both leave the policy
almost no room below the maximum when `A` is small: on CartPole (A = 2) at 0.89 the
temperature grew without bound (1 → 60 in 20k steps) while the entropy, held down by the
Q-networks' errors, stayed just under the target; at 0.5 it settled (α ≈ 0.1–0.2) and the
returns were higher. 0.5 keeps the policy clearly stochastic (half the maximum entropy) yet
free to prefer actions."""


@dataclasses.dataclass(frozen=True)
class SACConfig:
    """Options of soft actor-critic (Haarnoja et al. 2018; Christodoulou 2019 for discrete).

    The defaults are the paper's (Haarnoja et al. 2018, Table 1: Adam 3·10⁻⁴, γ 0.99,
    τ 0.005, 256×256 ReLU networks, batch 256, one gradient step per env step), with a
    10⁵-transition buffer instead of 10⁶; on Pendulum-v1 they reach an episode return above
    −200 after about 5000 env steps (seed 0: 4600).

    Attributes:
        total_steps: env steps in all, over all parallel envs; training runs
            `total_steps // num_envs` updates.
        num_envs: parallel envs, each stepped once per update.
        buffer_size: capacity of the circular replay buffer, in transitions (the oldest are
            overwritten); at least `num_envs`.
        batch_size: transitions per gradient step, drawn uniformly with replacement.
        learning_starts: env steps (over all envs) taken with uniformly random actions before
            the policy acts; gradient steps begin once this many transitions are stored.
        updates_per_step: gradient steps after each update, i.e. after each step of the
            `num_envs` envs (the update-to-data ratio is `updates_per_step / num_envs`).
        learning_rate: Adam step size of the policy, the Q-functions and the temperature.
        discount: γ in [0, 1].
        tau: Polyak averaging rate of the target Q-networks, in (0, 1]: after every gradient
            step `Q̄ ← τ·Q + (1 − τ)·Q̄` (1 copies the online networks).
        temperature: α > 0, the weight of the entropy bonus; its initial value when
            `learn_temperature` is true.
        learn_temperature: tune α towards `target_entropy` (eqs. 17–18), or keep it fixed.
        target_entropy: H̄, the policy entropy the tuned temperature aims at, in nats (a
            differential entropy for Box actions). None: `−dim(A)` for Box actions (Haarnoja et
            al. 2018) and `DISCRETE_TARGET_ENTROPY_SCALE · log A` for `A` discrete actions.
            For discrete actions it must be below `log A`, the largest entropy there is.
        hidden: widths of the hidden ReLU layers of the policy and of each Q-network.
    """

    total_steps: int = 20_000
    num_envs: int = 1
    buffer_size: int = 100_000
    batch_size: int = 256
    learning_starts: int = 1_000
    updates_per_step: int = 1
    learning_rate: float = 3e-4
    discount: float = 0.99
    tau: float = 0.005
    temperature: float = 1.0
    learn_temperature: bool = True
    target_entropy: float | None = None
    hidden: tuple[int, ...] = (256, 256)

    def __post_init__(self) -> None:
        for name in ("num_envs", "batch_size", "updates_per_step"):
            require_int(self, name, minimum=1)
        require_int(self, "total_steps", minimum=self.num_envs)
        require_int(self, "buffer_size", minimum=self.num_envs)
        require_int(self, "learning_starts", minimum=0)
        require_real(self, "learning_rate", lambda x: x > 0, "> 0")
        require_real(self, "temperature", lambda x: x > 0, "> 0")
        require_real(self, "discount", lambda x: 0 <= x <= 1, "in [0, 1]")
        require_real(self, "tau", lambda x: 0 < x <= 1, "in (0, 1]")
        require_bool(self, "learn_temperature")
        if self.target_entropy is not None:
            require_real(self, "target_entropy", expected="(or None)")
        require_hidden(self)


# ---------------------------------------------------------------------------------------------
# The losses, as pure functions of arrays (for SAC and any method built on its pieces)


def soft_bellman_target(
    reward: jnp.ndarray, terminated: jnp.ndarray, next_value: jnp.ndarray, discount: float
) -> jnp.ndarray:
    """The critics' regression target `y = r + γ·(1 − terminated)·V̄(s')`, without gradient.

    Haarnoja et al. (2018), eqs. 2–3 inside eq. 5, with `V̄(s') = E_{a'~π}[min_i Q̄_i(s', a')
    − α·log π(a'|s')]` from the target critics (`discrete_soft_value`, or one sample
    `q − α·log_prob` for continuous actions). A time limit is not a termination: pass
    `terminated` only.

    Args:
        reward: `[B]` rewards.
        terminated: `[B]` bool, the transition entered a terminal state.
        next_value: `[B]` `V̄(s')`.
        discount: γ.

    Returns:
        `[B]` the targets, under `stop_gradient`.
    """
    live = 1.0 - terminated.astype(next_value.dtype)
    return jax.lax.stop_gradient(reward + discount * live * next_value)


def critic_loss(q: jnp.ndarray, target: jnp.ndarray) -> jnp.ndarray:
    """The soft Bellman residual of every critic, summed over critics (Haarnoja et al. 2018,
    eq. 5, without its ½): `Σ_k mean_b (Q_k(s_b, a_b) − y_b)²`.

    Args:
        q: `[K, B]` the K critics' Q-values of the batch's actions (K = 2: the twins).
        target: `[B]` from `soft_bellman_target`.

    Returns:
        A scalar.
    """
    return jnp.sum(jnp.mean((q - target) ** 2, axis=-1))


def actor_loss(log_prob: jnp.ndarray, q: jnp.ndarray, temperature) -> jnp.ndarray:
    """The policy loss with reparameterised actions (Haarnoja et al. 2018, eq. 7):
    `J_π = mean_b[α·log π(a_b|s_b) − Q(s_b, a_b)]`, `a_b = f(ε_b; s_b)` drawn from π.

    Args:
        log_prob: `[B]` `log π(a_b|s_b)`, differentiable in the policy's parameters.
        q: `[B]` `min_i Q_i(s_b, a_b)` at the same actions (differentiable through `a_b`).
        temperature: α.

    Returns:
        A scalar.
    """
    return jnp.mean(temperature * log_prob - q)


def discrete_actor_loss(
    log_policy: jnp.ndarray, q: jnp.ndarray, temperature
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The discrete policy loss, its expectation over actions exact (Christodoulou 2019, §3):
    `J_π = mean_s Σ_a π(a|s)·(α·log π(a|s) − Q(s, a))`.

    Args:
        log_policy: `[B, A]` `log π(·|s)`.
        q: `[B, A]` `min_i Q_i(s, ·)`.
        temperature: α.

    Returns:
        `(loss, entropy)`: the scalar loss and the policy's mean entropy on the batch.
    """
    pi = jnp.exp(log_policy)
    loss = jnp.mean(jnp.sum(pi * (temperature * log_policy - q), axis=-1))
    entropy = -jnp.mean(jnp.sum(pi * log_policy, axis=-1))
    return loss, entropy


def discrete_soft_value(log_policy: jnp.ndarray, q: jnp.ndarray, temperature) -> jnp.ndarray:
    """`V(s) = Σ_a π(a|s)·(Q(s, a) − α·log π(a|s))`, `[B]`: eq. 3 of Haarnoja et al. (2018)
    with the expectation over actions exact (Christodoulou 2019, §3).

    Args:
        log_policy: `[B, A]`.
        q: `[B, A]`.
        temperature: α.
    """
    return jnp.sum(jnp.exp(log_policy) * (q - temperature * log_policy), axis=-1)


def temperature_loss(log_temperature: jnp.ndarray, entropy, target_entropy) -> jnp.ndarray:
    """The temperature's loss in `log α` (Haarnoja et al. 2018, eqs. 17–18):
    `J(α) = α·(H(π) − H̄)`, the entropy estimate held fixed; gradient descent raises α while
    the policy's entropy is below the target `H̄` and lowers it while above.

    Args:
        log_temperature: log α (the variable optimised).
        entropy: the policy's entropy estimate on the batch (no gradient flows into it).
        target_entropy: H̄.

    Returns:
        A scalar.
    """
    gap = jax.lax.stop_gradient(jnp.asarray(entropy - target_entropy, log_temperature.dtype))
    return jnp.exp(log_temperature) * gap


# ---------------------------------------------------------------------------------------------
# Networks


def _action_head(env, env_params) -> Categorical | TanhGaussian:
    """The policy head of the env's action space: categorical, or tanh-squashed Gaussian."""
    head = head_for_space(env.action_space(env_params), box="tanh", name="SAC: the env's")
    if isinstance(head, Categorical):
        if head.n < 2:
            raise ValueError(f"discrete SAC needs at least 2 actions, the env has {head.n}")
        return head
    if not isinstance(head, TanhGaussian):
        raise ValueError(
            "SAC needs a Discrete or bounded Box action space, got "
            f"{type(env.action_space(env_params)).__name__}"
        )
    return head


class _Model(NamedTuple):
    """The networks of one trainer and the maths that uses them (all static)."""

    head: Categorical | TanhGaussian
    actor: nn.Module
    critic: nn.Module

    @property
    def discrete(self) -> bool:
        return isinstance(self.head, Categorical)

    # -- parameters ---------------------------------------------------------------------------
    def init(self, key: jax.Array, obs: jnp.ndarray) -> tuple[Any, Any]:
        """Actor parameters and twin critic parameters (stacked on a leading axis of 2)."""
        k_actor, k_critic = jax.random.split(key)
        x = flat_obs(obs, 0)[None]
        actor_params = self.actor.init(k_actor, x)
        keys = jax.random.split(k_critic, 2)
        if self.discrete:
            critic_params = jax.vmap(self.critic.init, in_axes=(0, None))(keys, x)
        else:
            a = jnp.zeros((1, self.head.n), x.dtype)
            critic_params = jax.vmap(self.critic.init, in_axes=(0, None, None))(keys, x, a)
        return actor_params, critic_params

    # -- policy -------------------------------------------------------------------------------
    def dist(self, actor_params, obs: jnp.ndarray):
        """The head's distribution parameters at features `obs [B, D]`."""
        return self.actor.apply(actor_params, obs)

    def act(self, actor_params, obs, key, deterministic):
        """`(action, log π(action))` for each observation of a batch `[B, D]`: a draw (or the
        mode when `deterministic`, whose log-probability is then not meaningful)."""
        dist = self.dist(actor_params, obs)
        sampled, log_prob = self.head.sample_and_log_prob(dist, key)
        return jnp.where(deterministic, self.head.mode(dist), sampled), log_prob

    # -- critics ------------------------------------------------------------------------------
    def q_all(self, critic_params, obs: jnp.ndarray) -> jnp.ndarray:
        """Discrete: the twin Q-values of every action, `[2, B, A]`."""
        return jax.vmap(self.critic.apply, in_axes=(0, None))(critic_params, obs)

    def q_of(self, critic_params, obs: jnp.ndarray, action: jnp.ndarray) -> jnp.ndarray:
        """Twin Q-values of given actions, `[2, B]` (env-format actions)."""
        if self.discrete:
            q = self.q_all(critic_params, obs)
            return jnp.take_along_axis(q, action[None, :, None].astype(jnp.int32), -1)[..., 0]
        low, high = self.head.bounds(obs.dtype)
        a = action.reshape(action.shape[0], -1).astype(obs.dtype)
        unit = (a - (high + low) / 2) / ((high - low) / 2)
        return jax.vmap(self.critic.apply, in_axes=(0, None, None))(critic_params, obs, unit)

    # -- the soft quantities ------------------------------------------------------------------
    def soft_value(self, actor_params, critic_params, obs, key, temperature):
        """`E_{a~π}[min_i Q_i(s, a) − α·log π(a|s)]` `[B]`: exact sum for discrete actions, one
        reparameterised sample for a Box."""
        dist = self.dist(actor_params, obs)
        if self.discrete:
            q = jnp.min(self.q_all(critic_params, obs), axis=0)
            return discrete_soft_value(self.head.log_probs(dist), q, temperature)
        action, log_pi = self.head.sample_and_log_prob(dist, key)
        q = jnp.min(self.q_of(critic_params, obs, action), axis=0)
        return q - temperature * log_pi

    def actor_loss(self, actor_params, critic_params, obs, key, temperature):
        """Eq. 7 (Christodoulou's exact sum for discrete actions) and the policy's entropy
        estimate (exact, or the mean of −log π of the sampled actions)."""
        dist = self.dist(actor_params, obs)
        if self.discrete:
            q = jnp.min(self.q_all(critic_params, obs), axis=0)
            return discrete_actor_loss(self.head.log_probs(dist), q, temperature)
        action, log_pi = self.head.sample_and_log_prob(dist, key)
        q = jnp.min(self.q_of(critic_params, obs, action), axis=0)
        return actor_loss(log_pi, q, temperature), -jnp.mean(log_pi)


def _make_model(config: SACConfig, head: Categorical | TanhGaussian) -> _Model:
    hidden = tuple(config.hidden)
    if isinstance(head, Categorical):
        # A small output scale starts the policy near uniform (maximum entropy).
        actor = MLP(hidden, head.n, nn.relu, out_scale=0.01)
        critic = MLP(hidden, head.n, nn.relu)
    else:
        actor = TanhGaussianActor(hidden, head.n)
        critic = ContinuousCritic(hidden)
    return _Model(head, actor, critic)


def default_target_entropy(config: SACConfig, head: Categorical | TanhGaussian) -> float:
    """`config.target_entropy`, or its default for the action space's head (see
    `SACConfig`)."""
    if config.target_entropy is not None:
        return float(config.target_entropy)
    if isinstance(head, Categorical):
        return DISCRETE_TARGET_ENTROPY_SCALE * float(np.log(head.n))
    return -float(head.n)


# ---------------------------------------------------------------------------------------------
# The trainer


@pytree_dataclass
class SACState:
    """Everything SAC training carries from one update to the next.

    Attributes:
        actor_params: the policy network's parameters.
        critic_params: the twin Q-networks' parameters, stacked on a leading axis of 2.
        target_critic_params: their Polyak-averaged copies.
        log_temperature: log α.
        actor_opt_state: Adam state of the policy.
        critic_opt_state: Adam state of the Q-networks.
        temperature_opt_state: Adam state of log α.
        buffer: the replay buffer.
        env_state: the envs' states.
        obs: `[num_envs, ...]` the current observations.
        stats: running episode statistics.
        env_steps: env steps taken so far (over all envs).
        key: PRNG key.
    """

    actor_params: Any
    critic_params: Any
    target_critic_params: Any
    log_temperature: jnp.ndarray
    actor_opt_state: Any
    critic_opt_state: Any
    temperature_opt_state: Any
    buffer: ReplayBuffer
    env_state: Any
    obs: jnp.ndarray
    stats: EpisodeStats
    env_steps: jnp.ndarray
    key: jax.Array


def make_trainer(
    config: SACConfig,
    env,
    env_params: Any = None,
    reward_fn: RewardFn | None = None,
    terminal_reward_fn: RewardFn | None = None,
) -> Trainer:
    """SAC as a `Trainer`: `init(key)`, `update(state, reward_params)`, `result(...)`.

    Haarnoja et al. (2018), Algorithm 1 with automatic temperature tuning (eqs. 17–18), for a
    Box action space; Christodoulou (2019) for a Discrete one.

    Args:
        config: a `SACConfig`.
        env: a gymnax-style env (`irlax.envs.Env`) with a Discrete or bounded Box action space,
            or a host-stepped vector env holding `config.num_envs` copies.
        env_params: the env's parameters; None for its defaults.
        reward_fn: optional `reward_fn(reward_params, obs, action, next_obs) -> reward`, used
            in place of the env's reward (relabelled on every sampled batch).

        terminal_reward_fn: optional, with `reward_fn`: the reward of a transition that ends
            the episode in a terminal state, in place of `reward_fn`'s (see `irlax.rl._common`).
    Returns:
        A `Trainer` with `n_updates = total_steps // num_envs`, whose `update` returns the
        `Transitions` of its one env step (`[1, num_envs]`; `log_prob` is that of the uniform
        distribution before `learning_starts`, of the policy after). Each update's metrics:
        `episode_return`, `env_steps`, `q_loss` (summed squared TD error of both Q-networks,
        batch mean), `actor_loss` (eq. 7), `temperature` (α after the update) and `entropy`
        (the policy's entropy on the batch: exact for discrete actions, the mean of −log π of
        the sampled actions for a Box), each averaged over the update's gradient steps; the
        last three and `q_loss` are NaN (and `temperature` the initial α) before learning
        starts. The result's `params` are `{"actor", "critic", "temperature"}`; for discrete
        actions `q_fn(params, obs) -> [A]` gives the minimum of the twin soft Q-values, the
        quantity the targets and the policy use.

    Raises:
        ValueError: a bad config, an action space SAC cannot handle, or a discrete
            `target_entropy` at or above `log A`.
    """
    check_config(config, SACConfig)
    check_env(env)
    check_callable(reward_fn, "reward_fn")
    check_callable(terminal_reward_fn, "terminal_reward_fn")
    env_params = env_params_or_default(env, env_params)
    head = _action_head(env, env_params)
    model = _make_model(config, head)
    target_entropy = default_target_entropy(config, head)
    if model.discrete and config.learn_temperature and target_entropy >= np.log(head.n):
        raise ValueError(
            f"target_entropy must be < log A = {np.log(head.n):.4f} for {head.n} "
            f"discrete actions (no policy has more entropy), got {target_entropy}"
        )
    n_envs = config.num_envs
    optimiser = optax.adam(config.learning_rate)

    def init(key: jax.Array) -> SACState:
        check_key(key)
        k_env, k_net, k_state = jax.random.split(key, 3)
        obs, env_state = reset_envs(env, env_params, k_env, n_envs)
        actor_params, critic_params = model.init(k_net, obs[0])
        log_temperature = jnp.log(jnp.asarray(config.temperature, jnp.float32))
        if model.discrete:
            action = jnp.zeros((), jnp.int32)
        else:
            action = jnp.zeros(head.shape, jnp.float32)
        buffer = ReplayBuffer.empty(config.buffer_size, obs[0], action, jnp.float32(0))
        return SACState(
            actor_params=actor_params,
            critic_params=critic_params,
            target_critic_params=critic_params,
            log_temperature=log_temperature,
            actor_opt_state=optimiser.init(actor_params),
            critic_opt_state=optimiser.init(critic_params),
            temperature_opt_state=optimiser.init(log_temperature),
            buffer=buffer,
            env_state=env_state,
            obs=obs,
            stats=EpisodeStats.zeros(n_envs),
            env_steps=jnp.zeros((), jnp.int32),
            key=k_state,
        )

    def gradient_step(carry, key, reward_params):
        actor_params, critic_params, target_params, log_temp, opt_states, buffer = carry
        actor_opt, critic_opt, temp_opt = opt_states
        k_batch, k_next, k_pi = jax.random.split(key, 3)
        batch = buffer.sample(k_batch, config.batch_size)
        obs, next_obs = flat_obs(batch.obs, 1), flat_obs(batch.next_obs, 1)
        reward = transition_reward(
            reward_fn,
            reward_params,
            batch.obs,
            batch.action,
            batch.next_obs,
            batch.reward,
            batch.terminated,
            terminal_reward_fn,
        )
        temperature = jnp.exp(log_temp)

        # Soft Bellman target with the target networks (eqs. 2-3, clipped double Q).
        next_value = model.soft_value(actor_params, target_params, next_obs, k_next, temperature)
        target = soft_bellman_target(reward, batch.terminated, next_value, config.discount)

        def q_loss_fn(params):
            return critic_loss(model.q_of(params, obs, batch.action), target)

        q_loss, grads = jax.value_and_grad(q_loss_fn)(critic_params)
        updates, critic_opt = optimiser.update(grads, critic_opt, critic_params)
        critic_params = optax.apply_updates(critic_params, updates)

        # Policy improvement against the updated Q-functions (eq. 7).
        (actor_loss, entropy), grads = jax.value_and_grad(model.actor_loss, has_aux=True)(
            actor_params, critic_params, obs, k_pi, temperature
        )
        updates, actor_opt = optimiser.update(grads, actor_opt, actor_params)
        actor_params = optax.apply_updates(actor_params, updates)

        if config.learn_temperature:
            # Eq. 18 with the entropy estimate of the policy before this step's update.
            grad = jax.grad(temperature_loss)(log_temp, entropy, target_entropy)
            updates, temp_opt = optimiser.update(grad, temp_opt, log_temp)
            log_temp = optax.apply_updates(log_temp, updates)

        target_params = optax.incremental_update(critic_params, target_params, config.tau)
        carry = (
            actor_params,
            critic_params,
            target_params,
            log_temp,
            (actor_opt, critic_opt, temp_opt),
            buffer,
        )
        metrics = {
            "q_loss": q_loss,
            "actor_loss": actor_loss,
            "entropy": entropy,
            "temperature": jnp.exp(log_temp),
        }
        return carry, jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), metrics)

    def update(state: SACState, reward_params: Any = None):
        key, k_policy, k_random, k_step, k_learn = jax.random.split(state.key, 5)

        # Act: uniformly at random until learning_starts env steps, then by the policy.
        policy_action, policy_log_prob = model.act(
            state.actor_params, flat_obs(state.obs, 1), k_policy, deterministic=False
        )
        random_action, random_log_prob = head.uniform(k_random, (n_envs,), policy_action.dtype)
        exploring = state.env_steps < config.learning_starts
        action = jnp.where(exploring, random_action, policy_action)
        log_prob = jnp.where(exploring, random_log_prob, policy_log_prob)
        next_obs, env_state, reward, terminated, truncated, info = step_envs(
            env, env_params, k_step, state.env_state, action
        )
        final_obs = info["final_observation"]
        taken = Transitions(state.obs, action, final_obs, terminated, truncated, log_prob)
        buffer = state.buffer.add(state.obs, action, reward, final_obs, terminated)
        stats = state.stats.update(reward, jnp.logical_or(terminated, truncated))
        env_steps = state.env_steps + n_envs

        carry = (
            state.actor_params,
            state.critic_params,
            state.target_critic_params,
            state.log_temperature,
            (state.actor_opt_state, state.critic_opt_state, state.temperature_opt_state),
            buffer,
        )

        def learn(carry):
            keys = jax.random.split(k_learn, config.updates_per_step)
            carry, metrics = jax.lax.scan(
                lambda c, k: gradient_step(c, k, reward_params), carry, keys
            )
            return carry, jax.tree.map(jnp.mean, metrics)

        def wait(carry):
            nan = jnp.full((), jnp.nan, jnp.float32)
            temperature = jnp.exp(carry[3]).astype(jnp.float32)
            metrics = {"q_loss": nan, "actor_loss": nan, "entropy": nan}
            return carry, {**metrics, "temperature": temperature}

        carry, metrics = jax.lax.cond(env_steps >= config.learning_starts, learn, wait, carry)
        actor_params, critic_params, target_params, log_temp, opt_states, buffer = carry
        state = SACState(
            actor_params=actor_params,
            critic_params=critic_params,
            target_critic_params=target_params,
            log_temperature=log_temp,
            actor_opt_state=opt_states[0],
            critic_opt_state=opt_states[1],
            temperature_opt_state=opt_states[2],
            buffer=buffer,
            env_state=env_state,
            obs=next_obs,
            stats=stats,
            env_steps=env_steps,
            key=key,
        )
        metrics = {
            **metrics,
            "episode_return": stats.mean_return(),
            "env_steps": env_steps,
        }
        return state, metrics, jax.tree.map(lambda x: x[None], taken)

    def act_fn(params, obs, key, deterministic=False):
        return model.act(params["actor"], flat_obs(obs, 0)[None], key, deterministic)[0][0]

    def log_prob_fn(params, obs, action):
        dist = model.dist(params["actor"], flat_obs(obs, 0)[None])
        return head.log_prob(dist, jnp.asarray(action)[None])[0]

    def q_fn(params, obs):
        return jnp.min(model.q_all(params["critic"], flat_obs(obs, 0)[None]), axis=0)[0]

    def result(state: SACState, metrics: dict) -> Result:
        params = {
            "actor": state.actor_params,
            "critic": state.critic_params,
            "temperature": jnp.exp(state.log_temperature),
        }
        return Result(
            params=params,
            metrics=metrics,
            act_fn=act_fn,
            q_fn=q_fn if model.discrete else None,
            log_prob_fn=log_prob_fn,
        )

    return Trainer(init, update, result, config.total_steps // n_envs)


def make_train(
    config: SACConfig,
    env,
    env_params: Any = None,
    reward_fn: RewardFn | None = None,
    terminal_reward_fn: RewardFn | None = None,
):
    """`train(key, reward_params=None) -> Result`: SAC from scratch (see `make_trainer`).

    Pure in its key: jit it, or `jax.jit(jax.vmap(train))(keys)` to train many seeds at once.
    """
    return train_from(make_trainer(config, env, env_params, reward_fn, terminal_reward_fn))
