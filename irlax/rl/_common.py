"""What the forward-RL trainers share: the result type, batched env stepping, episode returns.

Every module in `irlax.rl` exposes `make_trainer(config, env, env_params=None, reward_fn=None)
-> Trainer` and `make_train(...) -> train`, with `train(key, reward_params=None) -> Result`.
`train` is a pure function of its key: jit it, or `jax.vmap` it over keys to train many seeds at
once (JAX envs only). It is `Trainer.init`, then `Trainer.update` under `lax.scan`
`Trainer.n_updates` times, then `Trainer.result`; the pieces are public so that a checkpointing
host loop (`irlax expert`) or an IRL method (which changes `reward_params` between updates)
can drive them.

`env` follows the gymnax API (`irlax.envs.Env`). A host-stepped vector env (a Gymnasium
adapter, `env.is_vector` true) already holds `num_envs` copies and is stepped by a callback;
`reset_envs` and `step_envs` hide the difference, so the trainers never branch on it.

`reward_fn(reward_params, obs, action, next_obs) -> reward` replaces the env's reward when it is
given (the hook the IRL methods train their policies through); `next_obs` is the observation
the action led to, before any automatic reset. With it, `terminal_reward_fn` (same signature,
optional) replaces it on transitions that end the episode in a terminal state: the reward of
entering the terminal state plus the discounted value of what follows (0 for a true terminal
state; an absorbing state's value for adversarial imitation, Kostrikov et al. 2019).
`Trainer.update` also returns the `Transitions` it collected, with log π of each action, which
is what adversarial IRL needs of a policy's samples;
`Result.log_prob(obs, action)` scores any action under the trained policy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from irlax._checks import check_env
from irlax._pytree import pytree_dataclass, static_field

RewardFn = Callable[[Any, jnp.ndarray, jnp.ndarray, jnp.ndarray], jnp.ndarray]


class Trainer(NamedTuple):
    """A trainer in pieces (all pure; `init` and `update` jit and vmap).

    Attributes:
        init: `init(key) -> state`, a pytree holding everything training needs (parameters,
            optimiser states, env states, buffers, keys, `EpisodeStats`).
        update: `update(state, reward_params) -> (state, metrics, transitions)`, one update
            (a rollout and its gradient steps); `metrics` is a dict of scalars with at least
            `episode_return` and `env_steps`; `transitions` are the `Transitions` the update
            collected, `[T, num_envs]` of them, acted on by the parameters before the update.
        result: `result(state, metrics) -> Result`, with `metrics` stacked over updates.
        n_updates: how many updates `make_train` runs (from the config's step budget).

    A deep imitation or IRL method's trainer (`irlax.algorithms`) takes its demonstrations as
    data in the same places: `init(key, expert=None)` and `update(state, expert=None)`, the
    second argument the demos' transitions rather than reward parameters.
    """

    init: Callable
    update: Callable
    result: Callable
    n_updates: int


@pytree_dataclass
class Transitions:
    """The transitions one `Trainer.update` collected, in the order they were taken.

    Every field has leading axes `[T, n]`: `T` steps (PPO, soft_pg, soft_q: `rollout_length`;
    SAC: 1) of each of the `n = num_envs` parallel envs.

    Attributes:
        obs: `[T, n, ...]` the observations acted on, as the env returned them.
        action: `[T, n, ...]` the actions as the env received them (a Gaussian's draw clipped
            into the box).
        next_obs: `[T, n, ...]` the observation each action led to, before any automatic reset
            (`info["final_observation"]`): at a termination or truncation, the episode's last.
        terminated: bool `[T, n]`, the episode ended in a terminal state.
        truncated: bool `[T, n]`, the episode was cut off (a time limit).
        log_prob: `[T, n]` `log π(action | obs)` under the policy that acted: the parameters
            before the update, with the trainer's exploration (SAC's uniform actions before
            `learning_starts`, soft_q's ε-mixture); for an on-policy trainer it is
            `Result.log_prob` of the pre-update parameters.
    """

    obs: jnp.ndarray
    action: jnp.ndarray
    next_obs: jnp.ndarray
    terminated: jnp.ndarray
    truncated: jnp.ndarray
    log_prob: jnp.ndarray


def train_from(trainer: Trainer) -> Callable:
    """`train(key, reward_params=None) -> Result`: init, `n_updates` updates, result.

    Each update's transitions are discarded as it ends (nothing is stacked over the run, so
    memory does not grow with the number of updates).
    """

    def train(key: jax.Array, reward_params: Any = None) -> Result:
        state = trainer.init(key)
        state, metrics = jax.lax.scan(
            lambda s, _: trainer.update(s, reward_params)[:2], state, None, trainer.n_updates
        )
        return trainer.result(state, metrics)

    return train


def vmap_trainer(trainer: Trainer) -> Trainer:
    """The same trainer over a batch of seeds, all in one program.

    `init(keys [n])`, `update(states, reward_params)` (`reward_params` shared) and
    `result(states, metrics)` are vmapped: each update's metrics are `[n]` (stacked to
    `[n_updates, n]`), and the result has a leading seed axis. `irlax.rl.run.run(
    vmap_trainer(trainer), keys, checkpoint=...)` trains many seeds in chunks with checkpoints,
    as `train_seeds` trains them in one call. JAX envs only (a host-stepped env is one batch).
    """
    return Trainer(
        init=jax.vmap(trainer.init),
        update=jax.vmap(trainer.update, in_axes=(0, None)),
        result=jax.vmap(trainer.result, in_axes=(0, 1)),
        n_updates=trainer.n_updates,
    )


def train_seeds(train: Callable, keys: jax.Array, *args: Any) -> Any:
    """Train one seed per key at once, the seed axis sharded over every local device.

    `jax.jit(jax.vmap(train))(keys, *args)`, with `keys` placed so that each of the `D` local
    devices (the GPUs, or the CPU devices `--xla_force_host_platform_device_count=D` makes)
    trains `len(keys) / D` of the seeds; with one device, or a number of seeds `D` does not
    divide, everything runs on the default device. The compiled program is kept per `train`.

    Args:
        train: `train(key, *args)`, e.g. from any `make_train`.
        keys: `[n]` PRNG keys, one per seed.
        *args: the same for every seed (e.g. `reward_params`).

    Returns:
        `train`'s result with a leading seed axis, sharded like `keys`.
    """
    devices = jax.local_devices()
    if len(devices) > 1 and keys.shape[0] % len(devices) == 0:
        mesh = jax.sharding.Mesh(np.asarray(devices), ("seed",))
        keys = jax.device_put(
            keys, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("seed"))
        )
    return _vmapped(train, len(args))(keys, *args)


@functools.lru_cache(maxsize=32)
def _vmapped(train: Callable, n_args: int) -> Callable:
    return jax.jit(jax.vmap(train, in_axes=(0, *[None] * n_args)))


@pytree_dataclass
class Result:
    """What a forward-RL trainer returns.

    Attributes:
        params: the trained parameters (a pytree; for actor-critic methods, the actor's and
            critic's together).
        metrics: per-update arrays, each `[n_updates]` (with a leading seed axis under
            `jax.vmap`). Always holds `episode_return`: the mean over parallel envs of the
            return of each env's most recently finished episode (NaN until one has finished),
            and `env_steps`: environment steps taken so far.
        act_fn: `act_fn(params, obs, key, deterministic) -> action`, static.
        q_fn: `q_fn(params, obs) -> [A]` for value-based methods, else None; static.
        log_prob_fn: `log_prob_fn(params, obs, action) -> log π(action | obs)`, static; None
            for a result built without one.
    """

    params: Any
    metrics: dict
    act_fn: Callable = static_field()
    q_fn: Callable | None = static_field(default=None)
    log_prob_fn: Callable | None = static_field(default=None)

    def policy(self, obs: jnp.ndarray, key: jax.Array, deterministic: bool = False):
        """An action for one observation (sampled, or the mode with `deterministic=True`)."""
        return self.act_fn(self.params, obs, key, deterministic)

    def log_prob(self, obs: jnp.ndarray, action: jnp.ndarray) -> jnp.ndarray:
        """`log π(action | obs)` of one observation and action under the trained policy (for
        soft_q, the Boltzmann policy `softmax(Q/τ)`); a scalar. `jax.vmap` it for a batch."""
        if self.log_prob_fn is None:
            raise ValueError("log_prob needs a Result built with a log_prob_fn")
        return self.log_prob_fn(self.params, obs, action)

    def q_values(self, obs: jnp.ndarray) -> jnp.ndarray:
        """Soft Q-values `[A]` of one observation (value-based methods only)."""
        if self.q_fn is None:
            raise ValueError("q_values needs a value-based method (soft_q, discrete sac)")
        return self.q_fn(self.params, obs)


@pytree_dataclass
class EpisodeStats:
    """Running episode statistics of `n` parallel envs (a pytree, carried through `lax.scan`).

    Attributes:
        running_return: `[n]` undiscounted env reward summed since the episode began.
        running_length: int `[n]` steps since the episode began.
        last_return: `[n]` return of the most recently finished episode (0 before any).
        last_length: int `[n]` its length.
        finished: int `[n]` episodes finished so far.
    """

    running_return: jnp.ndarray
    running_length: jnp.ndarray
    last_return: jnp.ndarray
    last_length: jnp.ndarray
    finished: jnp.ndarray

    @classmethod
    def zeros(cls, n: int) -> EpisodeStats:
        """Statistics of `n` envs that have not stepped yet."""
        zero = jnp.zeros(n)
        count = jnp.zeros(n, jnp.int32)
        return cls(zero, count, zero, count, count)

    def update(self, reward: jnp.ndarray, done: jnp.ndarray) -> EpisodeStats:
        """After one step of every env: add `reward [n]`; close episodes where `done [n]`."""
        ret = self.running_return + reward
        length = self.running_length + 1
        return EpisodeStats(
            running_return=jnp.where(done, 0.0, ret),
            running_length=jnp.where(done, 0, length),
            last_return=jnp.where(done, ret, self.last_return),
            last_length=jnp.where(done, length, self.last_length),
            finished=self.finished + done.astype(jnp.int32),
        )

    def mean_return(self) -> jnp.ndarray:
        """Mean of `last_return` over envs that have finished an episode; NaN if none has."""
        seen = self.finished > 0
        total = jnp.sum(jnp.where(seen, self.last_return, 0.0))
        count = jnp.sum(seen)
        return jnp.where(count > 0, total / jnp.maximum(count, 1), jnp.nan)


def flat_obs(obs: jnp.ndarray, batch_ndim: int) -> jnp.ndarray:
    """Observations as the float vectors a network reads: `[*batch, D]` from
    `[*batch, *obs_shape]` (integer observations become float32)."""
    obs = jnp.asarray(obs)
    if not jnp.issubdtype(obs.dtype, jnp.floating):
        obs = obs.astype(jnp.float32)
    return jnp.reshape(obs, (*obs.shape[:batch_ndim], -1))


def env_params_or_default(env, env_params):
    """`env_params`, or the env's defaults when None.

    Raises:
        ValueError: `env` is not an env (`check_env`), or `env_params` is not of the type of
            its `default_params` (another env's, or a name), which would fail deep inside the
            env's `step`.
    """
    check_env(env)
    default = env.default_params
    if env_params is None:
        return default
    if default is not None and not isinstance(env_params, type(default)):
        name = lambda x: f"{type(x).__module__}.{type(x).__qualname__}"  # noqa: E731
        raise ValueError(
            f"env_params must be the env's parameters, of type {name(default)} (its "
            f"default_params, or those irlax.envs.make returns), or None for the defaults; "
            f"got {name(env_params)}"
        )
    return env_params


def reset_envs(env, env_params, key: jax.Array, num_envs: int):
    """Reset `num_envs` copies: `(obs [n, ...], state)`.

    A JAX env is vmapped over split keys; a host vector env resets its own copies and must
    hold exactly `num_envs` of them.
    """
    if getattr(env, "is_vector", False):
        if env.num_envs != num_envs:
            raise ValueError(
                f"the config asks for num_envs={num_envs}, but the vector env holds "
                f"{env.num_envs}; build it with num_envs={num_envs}"
            )
        return env.reset(key, env_params)
    keys = jax.random.split(key, num_envs)
    return jax.vmap(env.reset, in_axes=(0, None))(keys, env_params)


def step_envs(env, env_params, key: jax.Array, state, actions: jnp.ndarray):
    """Step every copy once with auto-reset: `(obs, state, reward, terminated, truncated, info)`.

    Each output has a leading `[n]` axis; `info["final_observation"]` is the observation each
    action led to (before any reset), which `reward_fn` and bootstrapping need.
    """
    if getattr(env, "is_vector", False):
        return env.step(key, state, actions, env_params)
    keys = jax.random.split(key, actions.shape[0])
    return jax.vmap(env.step, in_axes=(0, 0, 0, None))(keys, state, actions, env_params)


def transition_reward(
    reward_fn, reward_params, obs, action, next_obs, env_reward, terminated, terminal_reward_fn
):
    """The reward a trainer learns from, batched over the leading axis.

    `reward_fn(reward_params, obs, action, next_obs)`, or the env's reward when `reward_fn` is
    None; where `terminated`, `terminal_reward_fn(...)` instead when it is given (the reward of
    entering a terminal state, including the value of whatever follows it: an absorbing
    state's, as adversarial imitation needs; Kostrikov et al. 2019).
    """
    if reward_fn is None:
        return env_reward

    def batched(fn):
        values = jax.vmap(fn, in_axes=(None, 0, 0, 0))(reward_params, obs, action, next_obs)
        return jnp.reshape(values, env_reward.shape).astype(env_reward.dtype)

    reward = batched(reward_fn)
    if terminal_reward_fn is not None:
        reward = jnp.where(terminated, batched(terminal_reward_fn), reward)
    return reward
