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
iteration with the expected backup (`irlax.mdp.soft_value_iteration`), up to the constant
`α·log A` per step that the uniform action prior there subtracts.

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
from collections.abc import Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from irlax.config import check_config, require_bool, require_hidden, require_int, require_real
from irlax.nets.mlp import MLP
from irlax.rl._common import (
    EpisodeStats,
    Result,
    RewardFn,
    Trainer,
    env_params_or_default,
    reset_envs,
    step_envs,
    train_from,
    transition_reward,
)
from irlax.rl.replay import ReplayBuffer

LOG_STD_MIN = -5.0
"""Smallest log standard deviation of the Gaussian before the tanh (as in the reference code)."""
LOG_STD_MAX = 2.0
"""Largest log standard deviation of the Gaussian before the tanh."""
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
# The tanh-squashed Gaussian (Haarnoja et al. 2018, Appendix C)


def _log_one_minus_tanh_sq(pre_tanh: jnp.ndarray) -> jnp.ndarray:
    """`log(1 − tanh(u)²) = 2·(log 2 − u − softplus(−2u))`, exact where tanh(u)² rounds to 1."""
    return 2.0 * (jnp.log(2.0) - pre_tanh - jax.nn.softplus(-2.0 * pre_tanh))


def tanh_gaussian_log_prob(
    pre_tanh: jnp.ndarray, mean: jnp.ndarray, log_std: jnp.ndarray, scale: jnp.ndarray
) -> jnp.ndarray:
    """Log-density of `a = center + scale·tanh(u)`, `u ~ N(mean, exp(log_std)²)`, at `u`.

    Haarnoja et al. (2018), Appendix C, with the affine map onto the box:
    `log π(a) = Σ_i [log N(u_i; μ_i, σ_i) − log(1 − tanh(u_i)²) − log scale_i]`.

    Args:
        pre_tanh: `[..., d]` the Gaussian sample `u` (evaluating at `u` rather than at `a`
            avoids `atanh` of an action on the boundary).
        mean: `[..., d]` μ.
        log_std: `[..., d]` log σ.
        scale: `[d]` half-widths `(high − low)/2` of the action box.

    Returns:
        `[...]` the log-density of the action, in the env's action units.
    """
    z = (pre_tanh - mean) * jnp.exp(-log_std)
    gaussian = -0.5 * z**2 - log_std - 0.5 * jnp.log(2.0 * jnp.pi)
    return jnp.sum(gaussian - _log_one_minus_tanh_sq(pre_tanh) - jnp.log(scale), axis=-1)


def tanh_gaussian_sample(
    key: jax.Array,
    mean: jnp.ndarray,
    log_std: jnp.ndarray,
    low: jnp.ndarray,
    high: jnp.ndarray,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """A reparameterised sample of the tanh-squashed Gaussian on `[low, high]`.

    Args:
        key: PRNG key.
        mean: `[..., d]` μ of the Gaussian before the tanh.
        log_std: `[..., d]` log σ.
        low: `[d]` lower bounds of the action box.
        high: `[d]` upper bounds.

    Returns:
        `(action [..., d], log_prob [...])`, differentiable in `mean` and `log_std`.
    """
    pre_tanh = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)
    center, scale = (high + low) / 2, (high - low) / 2
    action = center + scale * jnp.tanh(pre_tanh)
    return action, tanh_gaussian_log_prob(pre_tanh, mean, log_std, scale)


def tanh_gaussian_action_log_prob(
    action: jnp.ndarray,
    mean: jnp.ndarray,
    log_std: jnp.ndarray,
    low: jnp.ndarray,
    high: jnp.ndarray,
) -> jnp.ndarray:
    """Log-density of the tanh-squashed Gaussian at an action strictly inside `[low, high]`.

    Inverts the squashing (`u = atanh((a − center)/scale)`) and calls `tanh_gaussian_log_prob`;
    for scoring given actions (behaviour cloning, likelihoods). Actions on the boundary have
    density 0 (log −inf) in exact arithmetic and are unreliable here.

    Returns:
        `[...]` log π(a).
    """
    center, scale = (high + low) / 2, (high - low) / 2
    pre_tanh = jnp.arctanh((action - center) / scale)
    return tanh_gaussian_log_prob(pre_tanh, mean, log_std, scale)


# ---------------------------------------------------------------------------------------------
# Networks


class _GaussianActor(nn.Module):
    """Mean and log standard deviation `[d]` each of the Gaussian before the tanh."""

    hidden: Sequence[int]
    action_dim: int

    @nn.compact
    def __call__(self, obs: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
        out = MLP(self.hidden, 2 * self.action_dim, nn.relu)(obs)
        mean, raw = jnp.split(out, 2, axis=-1)
        # A smooth squash of log σ into [LOG_STD_MIN, LOG_STD_MAX] keeps gradients alive at
        # the bounds, where clipping would zero them.
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (jnp.tanh(raw) + 1.0)
        return mean, log_std


class _ContinuousCritic(nn.Module):
    """Q(s, a) of one Q-network; the action enters rescaled to [−1, 1]."""

    hidden: Sequence[int]

    @nn.compact
    def __call__(self, obs: jnp.ndarray, action: jnp.ndarray) -> jnp.ndarray:
        x = jnp.concatenate([obs, action], axis=-1)
        return MLP(self.hidden, 1, nn.relu)(x)[..., 0]


class _Spec(NamedTuple):
    """What the networks need to know about the action space (static)."""

    discrete: bool
    n_actions: int  # A for discrete actions, d for a Box
    action_shape: tuple[int, ...]
    low: np.ndarray  # flat [d] bounds of a Box (empty for discrete)
    high: np.ndarray


def _action_spec(env, env_params) -> _Spec:
    space = env.action_space(env_params)
    if hasattr(space, "n"):
        n = int(space.n)
        if n < 2:
            raise ValueError(f"discrete SAC needs at least 2 actions, the env has {n}")
        return _Spec(True, n, (), np.zeros(0), np.zeros(0))
    if not (hasattr(space, "low") and hasattr(space, "high") and hasattr(space, "shape")):
        raise ValueError(
            f"the env's action space must be Discrete (.n) or Box (.low, .high, .shape), "
            f"got {type(space).__name__}"
        )
    shape = tuple(int(d) for d in space.shape)
    d = int(np.prod(shape)) if shape else 1
    low = np.broadcast_to(np.asarray(space.low, np.float64), shape).reshape(d)
    high = np.broadcast_to(np.asarray(space.high, np.float64), shape).reshape(d)
    if not (np.isfinite(low).all() and np.isfinite(high).all() and (low < high).all()):
        raise ValueError(
            "SAC squashes actions into the action box, so its bounds must be finite with "
            f"low < high; got low={space.low}, high={space.high}"
        )
    return _Spec(False, d, shape, low, high)


def _flat(obs: jnp.ndarray, batch_dims: int) -> jnp.ndarray:
    """Observations as float vectors: `[..batch, D]`."""
    obs = jnp.asarray(obs)
    if not jnp.issubdtype(obs.dtype, jnp.floating):
        obs = obs.astype(jnp.float32)
    return obs.reshape((*obs.shape[:batch_dims], -1))


class _Model(NamedTuple):
    """The networks of one trainer and the maths that uses them (all static)."""

    spec: _Spec
    actor: nn.Module
    critic: nn.Module

    # -- parameters ---------------------------------------------------------------------------
    def init(self, key: jax.Array, obs: jnp.ndarray) -> tuple[Any, Any]:
        """Actor parameters and twin critic parameters (stacked on a leading axis of 2)."""
        k_actor, k_critic = jax.random.split(key)
        x = _flat(obs, 0)[None]
        actor_params = self.actor.init(k_actor, x)
        keys = jax.random.split(k_critic, 2)
        if self.spec.discrete:
            critic_params = jax.vmap(self.critic.init, in_axes=(0, None))(keys, x)
        else:
            a = jnp.zeros((1, self.spec.n_actions), x.dtype)
            critic_params = jax.vmap(self.critic.init, in_axes=(0, None, None))(keys, x, a)
        return actor_params, critic_params

    # -- policy -------------------------------------------------------------------------------
    def _bounds(self, dtype):
        low = jnp.asarray(self.spec.low, dtype)
        high = jnp.asarray(self.spec.high, dtype)
        return low, high

    def log_policy(self, actor_params, obs: jnp.ndarray) -> jnp.ndarray:
        """Discrete: `log π(·|s)`, `[B, A]`."""
        return jax.nn.log_softmax(self.actor.apply(actor_params, obs), axis=-1)

    def sample(self, actor_params, obs: jnp.ndarray, key: jax.Array):
        """Continuous: a reparameterised action `[B, d]` (env units) and its log π `[B]`."""
        mean, log_std = self.actor.apply(actor_params, obs)
        low, high = self._bounds(mean.dtype)
        return tanh_gaussian_sample(key, mean, log_std, low, high)

    def act(self, actor_params, obs: jnp.ndarray, key: jax.Array, deterministic) -> jnp.ndarray:
        """An action for each observation of a batch `[B, D]`, in the env's format."""
        if self.spec.discrete:
            logits = self.actor.apply(actor_params, obs)
            sampled = jax.random.categorical(key, logits, axis=-1)
            return jnp.where(deterministic, jnp.argmax(logits, axis=-1), sampled)
        mean, log_std = self.actor.apply(actor_params, obs)
        low, high = self._bounds(mean.dtype)
        sampled, _ = tanh_gaussian_sample(key, mean, log_std, low, high)
        mode = (high + low) / 2 + (high - low) / 2 * jnp.tanh(mean)
        action = jnp.where(deterministic, mode, sampled)
        return action.reshape((obs.shape[0], *self.spec.action_shape))

    # -- critics ------------------------------------------------------------------------------
    def q_all(self, critic_params, obs: jnp.ndarray) -> jnp.ndarray:
        """Discrete: the twin Q-values of every action, `[2, B, A]`."""
        return jax.vmap(self.critic.apply, in_axes=(0, None))(critic_params, obs)

    def q_of(self, critic_params, obs: jnp.ndarray, action: jnp.ndarray) -> jnp.ndarray:
        """Twin Q-values of given actions, `[2, B]` (env-format actions)."""
        if self.spec.discrete:
            q = self.q_all(critic_params, obs)
            return jnp.take_along_axis(q, action[None, :, None].astype(jnp.int32), -1)[..., 0]
        low, high = self._bounds(obs.dtype)
        a = action.reshape(action.shape[0], -1).astype(obs.dtype)
        unit = (a - (high + low) / 2) / ((high - low) / 2)
        return jax.vmap(self.critic.apply, in_axes=(0, None, None))(critic_params, obs, unit)

    # -- the soft quantities ------------------------------------------------------------------
    def soft_value(self, actor_params, critic_params, obs, key, temperature):
        """`E_{a~π}[min_i Q_i(s, a) − α·log π(a|s)]` `[B]`: exact sum for discrete actions, one
        reparameterised sample for a Box."""
        if self.spec.discrete:
            log_pi = self.log_policy(actor_params, obs)
            q = jnp.min(self.q_all(critic_params, obs), axis=0)
            return jnp.sum(jnp.exp(log_pi) * (q - temperature * log_pi), axis=-1)
        action, log_pi = self.sample(actor_params, obs, key)
        q = jnp.min(self.q_of(critic_params, obs, action), axis=0)
        return q - temperature * log_pi

    def actor_loss(self, actor_params, critic_params, obs, key, temperature):
        """Eq. 7, `E[α·log π(a|s) − min_i Q_i(s, a)]`, and the policy's entropy estimate."""
        if self.spec.discrete:
            log_pi = self.log_policy(actor_params, obs)
            pi = jnp.exp(log_pi)
            q = jnp.min(self.q_all(critic_params, obs), axis=0)
            loss = jnp.mean(jnp.sum(pi * (temperature * log_pi - q), axis=-1))
            entropy = -jnp.mean(jnp.sum(pi * log_pi, axis=-1))
            return loss, entropy
        action, log_pi = self.sample(actor_params, obs, key)
        q = jnp.min(self.q_of(critic_params, obs, action), axis=0)
        return jnp.mean(temperature * log_pi - q), -jnp.mean(log_pi)


def _make_model(config: SACConfig, spec: _Spec) -> _Model:
    hidden = tuple(config.hidden)
    if spec.discrete:
        # A small output scale starts the policy near uniform (maximum entropy).
        actor = MLP(hidden, spec.n_actions, nn.relu, out_scale=0.01)
        critic = MLP(hidden, spec.n_actions, nn.relu)
    else:
        actor = _GaussianActor(hidden, spec.n_actions)
        critic = _ContinuousCritic(hidden)
    return _Model(spec, actor, critic)


def default_target_entropy(config: SACConfig, spec: _Spec) -> float:
    """`config.target_entropy`, or its default for the action space (see `SACConfig`)."""
    if config.target_entropy is not None:
        return float(config.target_entropy)
    if spec.discrete:
        return DISCRETE_TARGET_ENTROPY_SCALE * float(np.log(spec.n_actions))
    return -float(spec.n_actions)


# ---------------------------------------------------------------------------------------------
# Replay buffer


# ---------------------------------------------------------------------------------------------
# The trainer


@struct.dataclass
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

    Returns:
        A `Trainer` with `n_updates = total_steps // num_envs`. Each update's metrics:
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
    env_params = env_params_or_default(env, env_params)
    spec = _action_spec(env, env_params)
    model = _make_model(config, spec)
    target_entropy = default_target_entropy(config, spec)
    if spec.discrete and config.learn_temperature and target_entropy >= np.log(spec.n_actions):
        raise ValueError(
            f"target_entropy must be < log A = {np.log(spec.n_actions):.4f} for {spec.n_actions} "
            f"discrete actions (no policy has more entropy), got {target_entropy}"
        )
    n_envs = config.num_envs
    optimiser = optax.adam(config.learning_rate)

    def init(key: jax.Array) -> SACState:
        k_env, k_net, k_state = jax.random.split(key, 3)
        obs, env_state = reset_envs(env, env_params, k_env, n_envs)
        actor_params, critic_params = model.init(k_net, obs[0])
        log_temperature = jnp.log(jnp.asarray(config.temperature, jnp.float32))
        if spec.discrete:
            action = jnp.zeros((), jnp.int32)
        else:
            action = jnp.zeros(spec.action_shape, jnp.float32)
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

    def random_actions(key: jax.Array, like: jnp.ndarray) -> jnp.ndarray:
        if spec.discrete:
            return jax.random.randint(key, (n_envs,), 0, spec.n_actions).astype(like.dtype)
        low, high = (jnp.asarray(b, like.dtype) for b in (spec.low, spec.high))
        u = jax.random.uniform(key, (n_envs, spec.n_actions), like.dtype)
        return (low + u * (high - low)).reshape(like.shape)

    def gradient_step(carry, key, reward_params):
        actor_params, critic_params, target_params, log_temp, opt_states, buffer = carry
        actor_opt, critic_opt, temp_opt = opt_states
        k_batch, k_next, k_pi = jax.random.split(key, 3)
        batch = buffer.sample(k_batch, config.batch_size)
        obs, next_obs = _flat(batch.obs, 1), _flat(batch.next_obs, 1)
        reward = transition_reward(
            reward_fn, reward_params, batch.obs, batch.action, batch.next_obs, batch.reward
        )
        temperature = jnp.exp(log_temp)

        # Soft Bellman target with the target networks (eqs. 2-3, clipped double Q).
        next_value = model.soft_value(actor_params, target_params, next_obs, k_next, temperature)
        live = 1.0 - batch.terminated.astype(next_value.dtype)
        target = jax.lax.stop_gradient(reward + config.discount * live * next_value)

        def q_loss_fn(params):
            q = model.q_of(params, obs, batch.action)
            return jnp.sum(jnp.mean((q - target) ** 2, axis=-1))

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
            gap = jax.lax.stop_gradient(entropy - target_entropy).astype(log_temp.dtype)
            grad = jax.grad(lambda lt: jnp.exp(lt) * gap)(log_temp)
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
        policy_action = model.act(
            state.actor_params, _flat(state.obs, 1), k_policy, deterministic=False
        )
        action = jnp.where(
            state.env_steps < config.learning_starts,
            random_actions(k_random, policy_action),
            policy_action,
        )
        next_obs, env_state, reward, terminated, truncated, info = step_envs(
            env, env_params, k_step, state.env_state, action
        )
        final_obs = info["final_observation"]
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
        return state, metrics

    def act_fn(params, obs, key, deterministic=False):
        return model.act(params["actor"], _flat(obs, 0)[None], key, deterministic)[0]

    def q_fn(params, obs):
        return jnp.min(model.q_all(params["critic"], _flat(obs, 0)[None]), axis=0)[0]

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
            q_fn=q_fn if spec.discrete else None,
        )

    return Trainer(init, update, result, config.total_steps // n_envs)


def make_train(
    config: SACConfig,
    env,
    env_params: Any = None,
    reward_fn: RewardFn | None = None,
):
    """`train(key, reward_params=None) -> Result`: SAC from scratch (see `make_trainer`).

    Pure in its key: jit it, or `jax.jit(jax.vmap(train))(keys)` to train many seeds at once.
    """
    return train_from(make_trainer(config, env, env_params, reward_fn))
