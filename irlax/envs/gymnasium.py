"""`GymnasiumEnv`: any Gymnasium env as a host-stepped vector env of the gymnax API.

The Gymnasium env runs in Python on the host; `reset` and `step` reach it through
`jax.experimental.io_callback(..., ordered=True)`, so they may be called inside `jax.jit` and
`lax.scan` (a whole training loop compiles, and the callbacks run in program order). The
price: the env is stateful on the host, so it cannot be vmapped over seeds (JAX refuses to
vmap an ordered callback), each step is a round trip to Python, and the JAX `state` is only a
step counter that guards against stepping from a stale state. Parallelism comes from
`num_envs` copies, stepped together (`is_vector = True`), which is how `irlax.rl` trainers use
it (`reset_envs`/`step_envs` call `reset`/`step` directly with `[num_envs]` actions).
"""

from __future__ import annotations

from typing import Any

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import io_callback

from irlax._pytree import pytree_dataclass
from irlax.envs.core import Env, check_action, check_in_space, multi_discrete, spaces

__all__ = ["GymnasiumEnv", "GymnasiumParams", "GymnasiumState"]


@pytree_dataclass
class GymnasiumState:
    """The JAX side of a `GymnasiumEnv`'s state (the real state lives on the host).

    Attributes:
        step: int32 `[]` steps since the last `reset`. The host checks it against its own
            count, so stepping from a stale state (one `reset` or `step` ago) is an error
            rather than a silent continuation from somewhere else.
    """

    step: jnp.ndarray


@pytree_dataclass
class GymnasiumParams:
    """A `GymnasiumEnv` has no JAX parameters; configure it through `gymnasium.make` kwargs."""


class GymnasiumEnv(Env):
    """A Gymnasium vector env (`num_envs` copies, synchronous) behind the gymnax API.

    `reset(key, params) -> (obs [n, ...], state)` seeds the copies from the key (copy `i`
    with `seed + i`, `seed` drawn from the key), so the same key gives the same observations.
    `step(key, state, actions [n, ...], params) -> (obs, state, reward [n], terminated [n],
    truncated [n], info)` resets finished copies at once (Gymnasium's `SAME_STEP` autoreset):
    `obs` is then the first observation of the next episode and `info["final_observation"]`
    `[n, ...]` the observation the action led to. The step key is unused (Gymnasium's own
    generators, seeded at reset, drive the dynamics).

    Spaces are those of one copy, converted to gymnax's: `Discrete` (observations int32,
    indices shifted to start at 0), `Box` (observations float32) and, for actions, a 1-D
    `MultiDiscrete` as `irlax.envs.multi_discrete(nvec)` (each group's indices from 0; a
    `MultiCategorical` policy head). Rewards are float32.
    Actions are checked on the host: one outside the action space raises a ValueError
    (surfacing as a `jax.errors.JaxRuntimeError` that quotes it when the step is inside
    `jax.jit`).

    Attributes:
        env_id: the Gymnasium id.
        num_envs: number of copies n.
        is_vector: True: `reset`/`step` act on all copies at once and do not vmap.
        max_steps_in_episode: Gymnasium's time limit (`max_episode_steps`), or None.
        vector_env: the underlying `gymnasium.vector.SyncVectorEnv`.
    """

    is_vector = True

    def __init__(self, env_id: str, num_envs: int = 1, **make_kwargs: Any):
        """Build `num_envs` copies with `gymnasium.make_vec(env_id, ..., **make_kwargs)`.

        Args:
            env_id: a registered Gymnasium id, e.g. "CartPole-v1".
            num_envs: number of copies, a positive integer.
            **make_kwargs: passed on to `gymnasium.make` (e.g. `max_episode_steps`).

        Raises:
            ValueError: an unknown id, a bad `num_envs`, or an action or observation space
                other than `Discrete` and `Box` (and, for actions, 1-D `MultiDiscrete`).
        """
        super().__init__()
        if isinstance(num_envs, bool) or int(num_envs) != num_envs or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        mode = getattr(getattr(gymnasium.vector, "AutoresetMode", None), "SAME_STEP", None)
        if mode is None:
            raise ValueError(
                f"GymnasiumEnv needs gymnasium >= 1.1 (same-step autoreset), found "
                f"{gymnasium.__version__}"
            )
        try:
            vec = gymnasium.make_vec(
                env_id,
                num_envs=int(num_envs),
                vectorization_mode="sync",
                vector_kwargs={"autoreset_mode": mode},
                **make_kwargs,
            )
        except gymnasium.error.Error as error:
            raise ValueError(f"cannot make Gymnasium env {env_id!r}: {error}") from error
        try:
            if vec.metadata.get("autoreset_mode") != mode:
                raise ValueError(f"{env_id}: the vector env does not reset in the same step")
            self._action_space, self._action_start = _to_gymnax(
                vec.single_action_space, "action", env_id
            )
            self._obs_space, self._obs_start = _to_gymnax(
                vec.single_observation_space, "observation", env_id
            )
        except ValueError:
            vec.close()
            raise
        self.env_id = env_id
        self.num_envs = int(num_envs)
        self.vector_env = vec
        spec = getattr(getattr(vec, "envs", [None])[0], "spec", None)
        self.max_steps_in_episode = getattr(spec, "max_episode_steps", None)
        self._host_steps: int | None = None  # None until the first reset
        shape = (self.num_envs, *self._obs_space.shape)
        dtype = jnp.int32 if isinstance(self._obs_space, spaces.Discrete) else jnp.float32
        self._obs_struct = jax.ShapeDtypeStruct(shape, dtype)

    # -- the gymnax API ------------------------------------------------------------------------

    @property
    def default_params(self) -> GymnasiumParams:
        return GymnasiumParams()

    @property
    def name(self) -> str:
        return f"gymnasium:{self.env_id}"

    @property
    def num_actions(self) -> int:
        space = self._action_space
        return space.n if isinstance(space, spaces.Discrete) else int(np.prod(space.shape))

    def action_space(self, params: Any = None) -> Any:
        """The action space of one copy (`Discrete` or `Box`)."""
        return self._action_space

    def observation_space(self, params: Any = None) -> Any:
        """The observation space of one copy (`Discrete` or `Box`)."""
        return self._obs_space

    def reset(self, key: jax.Array, params: Any = None) -> tuple[jnp.ndarray, GymnasiumState]:
        """Reset every copy, seeded from `key`: `(obs [n, ...], state)`."""
        seed = jax.random.randint(key, (), 0, np.iinfo(np.int32).max, dtype=jnp.int32)
        obs = io_callback(self._host_reset, self._obs_struct, seed, ordered=True)
        return obs, GymnasiumState(step=jnp.int32(0))

    def step(self, key: jax.Array, state: GymnasiumState, action: Any, params: Any = None):
        """Step every copy with `action [n, ...]`, resetting finished ones (see the class)."""
        check_action(self, params, action)
        action = jnp.asarray(action)
        n = self.num_envs
        shapes = (
            self._obs_struct,
            jax.ShapeDtypeStruct((n,), jnp.float32),
            jax.ShapeDtypeStruct((n,), jnp.bool_),
            jax.ShapeDtypeStruct((n,), jnp.bool_),
            self._obs_struct,
        )
        obs, reward, terminated, truncated, final = io_callback(
            self._host_step, shapes, state.step, action, ordered=True
        )
        info = {"final_observation": final, "terminated": terminated, "truncated": truncated}
        return obs, GymnasiumState(step=state.step + 1), reward, terminated, truncated, info

    def close(self) -> None:
        """Close the Gymnasium env."""
        self.vector_env.close()

    def __repr__(self) -> str:
        return f"GymnasiumEnv({self.env_id!r}, num_envs={self.num_envs})"

    # -- host side -----------------------------------------------------------------------------

    def _host_reset(self, seed) -> np.ndarray:
        obs, _ = self.vector_env.reset(seed=int(seed))
        self._host_steps = 0
        return self._convert_obs(obs)

    def _host_step(self, step, action):
        if self._host_steps is None:
            raise ValueError(f"{self!r}: step called before reset")
        if int(step) != self._host_steps:
            raise ValueError(
                f"{self!r}: stepping from a stale state (its step count is {int(step)}, the "
                f"host env has taken {self._host_steps} steps since its reset); a GymnasiumEnv "
                "keeps its real state on the host, so only the latest state can be stepped"
            )
        action = np.asarray(action)
        check_in_space(self._action_space, action, batch_shape=(self.num_envs,), name="action")
        if isinstance(self._action_space, spaces.Discrete) or hasattr(self._action_space, "nvec"):
            action = action.astype(np.int64) + self._action_start
        else:
            action = action.astype(self.vector_env.single_action_space.dtype)
        obs, reward, terminated, truncated, info = self.vector_env.step(action)
        self._host_steps += 1
        obs = self._convert_obs(obs)
        final = obs.copy()
        if "_final_obs" in info:
            for i in np.flatnonzero(info["_final_obs"]):
                final[i] = self._convert_obs(info["final_obs"][i])
        return (
            obs,
            np.asarray(reward, np.float32),
            np.asarray(terminated, bool),
            np.asarray(truncated, bool),
            final,
        )

    def _convert_obs(self, obs) -> np.ndarray:
        if isinstance(self._obs_space, spaces.Discrete):
            return (np.asarray(obs) - self._obs_start).astype(np.int32)
        return np.asarray(obs, np.float32)


def _to_gymnax(space: gymnasium.spaces.Space, kind: str, env_id: str) -> tuple[Any, Any]:
    """A gymnax space for a Gymnasium one, and the index offset of a `Discrete` one (of each
    group of a `MultiDiscrete` action space, which becomes `multi_discrete(nvec)`)."""
    if isinstance(space, gymnasium.spaces.Discrete):
        return spaces.Discrete(int(space.n)), int(space.start)
    multi = isinstance(space, gymnasium.spaces.MultiDiscrete)
    if multi and kind == "action" and space.nvec.ndim == 1:
        return multi_discrete(tuple(space.nvec)), np.asarray(space.start, np.int64)
    if isinstance(space, gymnasium.spaces.Box):
        if kind == "action" and not np.issubdtype(space.dtype, np.floating):
            raise ValueError(
                f"{env_id}: GymnasiumEnv supports float Box action spaces, got {space}"
            )
        low = np.asarray(space.low, np.float32)
        high = np.asarray(space.high, np.float32)
        return spaces.Box(low, high, tuple(space.shape), jnp.float32), 0
    raise ValueError(
        f"{env_id}: GymnasiumEnv supports Discrete and Box {kind} spaces"
        + (" and 1-D MultiDiscrete action spaces" if kind == "action" else "")
        + ", got "
        f"{type(space).__name__} ({space})"
    )
