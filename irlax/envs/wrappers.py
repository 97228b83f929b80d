"""Env wrappers of the gymnax API: episode statistics, observation normalisation, time limits,
action clipping.

Each wrapper is itself an `Env`: pure `reset`/`step` over a frozen-pytree state that holds the
inner env's state, so a wrapped env jits, vmaps over keys and runs under `lax.scan` as the
inner one does, keeps automatic resets, and keeps `info["final_observation"]` the observation
the action led to (normalised, for `NormalizeObservation`). Wrappers compose:
`EpisodeStatistics(NormalizeObservation(TimeLimit(env, 200)))`.

`EpisodeStatistics`, `NormalizeObservation` and `ClipAction` also wrap a host-stepped vector
env (`GymnasiumEnv`), acting on its leading `[num_envs]` axis; `TimeLimit` does not (give
Gymnasium's own `max_episode_steps` to `make("gymnasium:<id>", max_episode_steps=...)`).

`step` checks a concrete action against the action space (ValueError) before entering its
jit-compiled body, as `CheckedEnv` does; traced actions cannot be checked.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from irlax._pytree import float_dtype, pytree_dataclass
from irlax.envs.core import Env, Wrapper, check_in_space, spaces

__all__ = [
    "ClipAction",
    "EpisodeStatistics",
    "EpisodeStatisticsState",
    "NormalizeObservation",
    "NormalizeObservationState",
    "RunningMeanVar",
    "TimeLimit",
    "TimeLimitState",
]


class _CheckedJitWrapper(Wrapper):
    """A wrapper whose `reset`/`step` bodies are jit-compiled, with an eager action check."""

    def reset(self, key, params=None):
        return self._reset(key, self._params(params))

    def step(self, key, state, action, params=None):
        params = self._params(params)
        self._check_action(params, action)
        return self._step(key, state, action, params)

    @partial(jax.jit, static_argnames=("self",))
    def _reset(self, key, params):
        return self.reset_wrapped(key, params)

    @partial(jax.jit, static_argnames=("self",))
    def _step(self, key, state, action, params):
        return self.step_wrapped(key, state, action, params)

    def reset_wrapped(self, key, params):
        raise NotImplementedError

    def step_wrapped(self, key, state, action, params):
        raise NotImplementedError

    def _batch_shape(self) -> tuple[int, ...]:
        """Leading axes of observations and rewards: `(num_envs,)` for a vector env."""
        return (self._env.num_envs,) if getattr(self._env, "is_vector", False) else ()


# -- EpisodeStatistics -------------------------------------------------------------------------


@pytree_dataclass
class EpisodeStatisticsState:
    """State of `EpisodeStatistics`.

    Attributes:
        env_state: the inner env's state.
        running_return: return of the current episode so far (undiscounted).
        running_length: int32 steps of the current episode so far.
        episode_return: return of the most recently finished episode (0 before any).
        episode_length: int32 length of the most recently finished episode (0 before any).
    """

    env_state: Any
    running_return: jnp.ndarray
    running_length: jnp.ndarray
    episode_return: jnp.ndarray
    episode_length: jnp.ndarray


class EpisodeStatistics(_CheckedJitWrapper):
    """Adds the return and length of the most recently finished episode to `info`.

    `info["episode_return"]` (undiscounted sum of env rewards) and `info["episode_length"]`
    hold the last finished episode's values (0 before any has finished) and
    `info["returned_episode"]` is True on the step that finishes one, which is when a logger
    should read them. Gymnasium's `RecordEpisodeStatistics`, in pure-JAX form.
    """

    def reset_wrapped(self, key, params):
        obs, env_state = self._env.reset(key, params)
        shape = self._batch_shape()
        zero = jnp.zeros(shape, float_dtype())
        count = jnp.zeros(shape, jnp.int32)
        return obs, EpisodeStatisticsState(env_state, zero, count, zero, count)

    def step_wrapped(self, key, state, action, params):
        obs, env_state, reward, terminated, truncated, info = self._env.step(
            key, state.env_state, action, params
        )
        done = jnp.logical_or(terminated, truncated)
        ret = state.running_return + reward
        length = state.running_length + 1
        new = EpisodeStatisticsState(
            env_state=env_state,
            running_return=jnp.where(done, 0.0, ret).astype(state.running_return.dtype),
            running_length=jnp.where(done, 0, length),
            episode_return=jnp.where(done, ret, state.episode_return).astype(
                state.episode_return.dtype
            ),
            episode_length=jnp.where(done, length, state.episode_length),
        )
        info = {
            **info,
            "episode_return": new.episode_return,
            "episode_length": new.episode_length,
            "returned_episode": done,
        }
        return obs, new, reward, terminated, truncated, info


# -- NormalizeObservation ----------------------------------------------------------------------


@pytree_dataclass
class RunningMeanVar:
    """Running mean and (population) variance of the observations seen: the one running
    normaliser, used by `NormalizeObservation` and by PPO's `normalize_observations`.

    Attributes:
        count: number of observations seen (float, so that it cannot overflow).
        mean: `[*obs_shape]` their mean.
        var: `[*obs_shape]` their variance (divided by `count`, numpy's `np.var`).
    """

    count: jnp.ndarray
    mean: jnp.ndarray
    var: jnp.ndarray

    @classmethod
    def zeros(cls, shape: tuple[int, ...], dtype: Any = None) -> RunningMeanVar:
        """No observations seen: count 0, mean 0, variance 1."""
        dtype = float_dtype() if dtype is None else dtype
        return cls(jnp.zeros((), dtype), jnp.zeros(shape, dtype), jnp.ones(shape, dtype))

    def update(self, batch: jnp.ndarray, axis_name: str | None = None) -> RunningMeanVar:
        """Merge a batch `[B, *obs_shape]` (and, with `axis_name`, the batches of every copy
        along that `vmap` axis).

        The parallel variance update of Chan, Golub & LeVeque (1979): with `δ` the difference
        of the batch mean and the running mean, `M2 = M2_a + M2_b + δ² n_a n_b / (n_a + n_b)`.
        """
        x = batch.astype(self.mean.dtype)
        n_b = jnp.asarray(x.shape[0], self.mean.dtype)
        total = jnp.sum(x, axis=0)
        if axis_name is not None:
            n_b = jax.lax.psum(n_b, axis_name)
            total = jax.lax.psum(total, axis_name)
        mean_b = total / n_b
        m2_b = jnp.sum((x - mean_b) ** 2, axis=0)
        if axis_name is not None:
            m2_b = jax.lax.psum(m2_b, axis_name)
        count = self.count + n_b
        delta = mean_b - self.mean
        mean = self.mean + delta * (n_b / count)
        m2 = self.var * self.count + m2_b + delta**2 * (self.count * n_b / count)
        return RunningMeanVar(count=count, mean=mean, var=m2 / count)

    def normalize(
        self, x: jnp.ndarray, epsilon: float = 1e-8, clip: float | None = None
    ) -> jnp.ndarray:
        """`(x − mean) / √(var + ε)` for `x [..., *obs_shape]`, clipped to `±clip` if given."""
        z = (x - self.mean) / jnp.sqrt(self.var + epsilon)
        return z if clip is None else jnp.clip(z, -clip, clip)


@pytree_dataclass
class NormalizeObservationState:
    """State of `NormalizeObservation`.

    Attributes:
        env_state: the inner env's state.
        statistics: the `RunningMeanVar` of the observations seen.
    """

    env_state: Any
    statistics: RunningMeanVar


class NormalizeObservation(_CheckedJitWrapper):
    """Observations standardised by their running mean and variance: `(o − μ) / √(σ² + ε)`.

    The statistics (`state.statistics`, a `RunningMeanVar`) are carried in the env state and
    updated with every observation `reset` and `step` return (resets included, before
    normalising), as Gymnasium's `NormalizeObservation` does; `info["final_observation"]` is
    normalised with the same statistics but not counted. Under `jax.vmap` each copy keeps its
    own statistics, unless `axis_name` is given and the vmap names that axis
    (`jax.vmap(env.step, axis_name=...)`), in which case all copies share them. A vector env
    updates them with its whole `[num_envs]` batch.

    To evaluate with the statistics of training, build
    `NormalizeObservation(env, statistics=train_state.statistics, freeze=True)`.
    """

    def __init__(
        self,
        env: Env,
        *,
        epsilon: float = 1e-8,
        statistics: RunningMeanVar | None = None,
        freeze: bool = False,
        axis_name: str | None = None,
    ):
        """Wrap `env`.

        Args:
            env: an env with a `Box` observation space.
            epsilon: ε > 0 added to the variance.
            statistics: the statistics to start from; None for none seen.
            freeze: never update the statistics (requires `statistics`).
            axis_name: a `jax.vmap` axis name over which copies share their statistics.

        Raises:
            ValueError: a non-Box observation space, ε ≤ 0, or `freeze` without statistics.
        """
        super().__init__(env)
        space = env.observation_space(env.default_params)
        if not isinstance(space, spaces.Box):
            raise ValueError(
                f"NormalizeObservation needs a Box observation space, got {type(space).__name__}"
            )
        if not float(epsilon) > 0:
            raise ValueError(f"epsilon must be > 0, got {epsilon}")
        if freeze and statistics is None:
            raise ValueError("freeze=True needs statistics to freeze (statistics=...)")
        if statistics is not None and tuple(statistics.mean.shape) != tuple(space.shape):
            raise ValueError(
                f"statistics must have the observation shape {tuple(space.shape)}, got mean "
                f"of shape {tuple(statistics.mean.shape)}"
            )
        self.obs_shape = tuple(space.shape)
        self.epsilon = float(epsilon)
        self.statistics = statistics
        self.freeze = bool(freeze)
        self.axis_name = axis_name

    def normalize(self, obs: jnp.ndarray, statistics: RunningMeanVar) -> jnp.ndarray:
        """`(obs − mean) / √(var + ε)`, in the observations' float dtype."""
        dtype = obs.dtype if jnp.issubdtype(obs.dtype, jnp.floating) else float_dtype()
        return statistics.normalize(obs, self.epsilon).astype(dtype)

    def _update(self, statistics: RunningMeanVar, obs: jnp.ndarray) -> RunningMeanVar:
        if self.freeze:
            return statistics
        batch = obs.reshape((-1, *self.obs_shape))
        return statistics.update(batch, self.axis_name)

    def reset_wrapped(self, key, params):
        obs, env_state = self._env.reset(key, params)
        stats = self.statistics
        if stats is None:
            stats = RunningMeanVar.zeros(self.obs_shape)
        stats = self._update(stats, obs)
        return self.normalize(obs, stats), NormalizeObservationState(env_state, stats)

    def step_wrapped(self, key, state, action, params):
        obs, env_state, reward, terminated, truncated, info = self._env.step(
            key, state.env_state, action, params
        )
        stats = self._update(state.statistics, obs)
        info = {**info, "final_observation": self.normalize(info["final_observation"], stats)}
        new = NormalizeObservationState(env_state, stats)
        return self.normalize(obs, stats), new, reward, terminated, truncated, info


# -- TimeLimit ---------------------------------------------------------------------------------


@pytree_dataclass
class TimeLimitState:
    """State of `TimeLimit`.

    Attributes:
        env_state: the inner env's state.
        time: int32 steps taken in the current episode.
    """

    env_state: Any
    time: jnp.ndarray


class TimeLimit(_CheckedJitWrapper):
    """Truncates episodes after `max_steps` steps (and resets, keeping automatic resets).

    The inner env's own ends still apply: an episode ends at whichever comes first.
    `truncated` is True on the `max_steps`-th step of an episode, and
    `info["final_observation"]` is then the observation that step led to.
    """

    def __init__(self, env: Env, max_steps: int):
        """Wrap `env`.

        Args:
            env: a JAX env (not a host-stepped vector env).
            max_steps: steps per episode before truncation, a positive integer.

        Raises:
            ValueError: a bad `max_steps` or a vector env.
        """
        super().__init__(env)
        if isinstance(max_steps, bool) or int(max_steps) != max_steps or max_steps < 1:
            raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
        if getattr(env, "is_vector", False):
            raise ValueError(
                "TimeLimit cannot reset single copies of a host vector env; pass "
                "max_episode_steps to make('gymnasium:<id>', max_episode_steps=...) instead"
            )
        self.max_steps = int(max_steps)

    def reset_wrapped(self, key, params):
        obs, env_state = self._env.reset(key, params)
        return obs, TimeLimitState(env_state, jnp.int32(0))

    def step_wrapped(self, key, state, action, params):
        key_step, key_reset = jax.random.split(key)
        obs, env_state, reward, terminated, truncated, info = self._env.step(
            key_step, state.env_state, action, params
        )
        time = state.time + 1
        inner_done = jnp.logical_or(terminated, truncated)
        out_of_time = time >= self.max_steps
        truncated = jnp.logical_or(truncated, out_of_time)
        # The inner env reset itself if it was done; otherwise reset it here.
        must_reset = jnp.logical_and(out_of_time, jnp.logical_not(inner_done))
        obs_re, state_re = self._env.reset(key_reset, params)
        env_state = jax.tree.map(lambda r, s: jnp.where(must_reset, r, s), state_re, env_state)
        obs = jax.tree.map(lambda r, s: jnp.where(must_reset, r, s), obs_re, obs)
        done = jnp.logical_or(terminated, truncated)
        new = TimeLimitState(env_state, jnp.where(done, 0, time).astype(jnp.int32))
        info = {**info, "truncated": truncated}
        return obs, new, reward, terminated, truncated, info


# -- ClipAction --------------------------------------------------------------------------------


class ClipAction(_CheckedJitWrapper):
    """Clips continuous actions into the `Box` action space before the inner env sees them.

    The advertised action space stays the inner one, so squashing policies still see its
    true bounds; an action outside it is clipped rather than refused. A concrete action of
    the wrong shape, or with a NaN or infinity, is still a ValueError.
    """

    def __init__(self, env: Env):
        super().__init__(env)
        space = env.action_space(env.default_params)
        if not isinstance(space, spaces.Box):
            raise ValueError(f"ClipAction needs a Box action space, got {type(space).__name__}")

    def _check_action(self, params, action) -> None:
        space = self.action_space(params)
        unbounded = spaces.Box(-np.inf, np.inf, space.shape, space.dtype)
        check_in_space(unbounded, action, batch_shape=self._batch_shape(), name="action")

    def reset_wrapped(self, key, params):
        return self._env.reset(key, params)

    def step_wrapped(self, key, state, action, params):
        space = self.action_space(params)
        action = jnp.clip(jnp.asarray(action), space.low, space.high)
        return self._env.step(key, state, action, params)
