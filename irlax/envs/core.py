"""The sampled-dynamics env API: gymnax's functional interface, `make`, and action checks.

An env is an object with pure methods (the gymnax API, Lange 2022):

    obs, state = env.reset(key, params)
    obs, state, reward, terminated, truncated, info = env.step(key, state, action, params)

`step` resets automatically: when `terminated | truncated`, the returned `obs` and `state`
begin a new episode and `info["final_observation"]` holds the observation the action led to.
`env.action_space(params)` and `env.observation_space(params)` are `spaces.Discrete` (`.n`) or
`spaces.Box` (`.low`, `.high`, `.shape`); `env.default_params` are the default parameters.
Write a new env by subclassing `Env` and implementing `reset_env`, `step_env`, `get_obs`,
`action_space`, `observation_space` and `default_params` (see `TabularEnv`).

Checking actions: JAX cannot inspect the value of a traced array, so an action is checked
against the action space only when it is concrete, that is when `step` is called eagerly
(outside `jax.jit`, `jax.vmap`, `lax.scan`). Inside a transformation an out-of-space action
goes through unchecked; what happens then is the env's business (gymnax's CartPole, for
instance, treats any action other than 1 as a push to the left). Debug a policy eagerly, or
call `check_action` on the actions a rollout produced.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from typing import Any

import gymnax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import spaces
from gymnax.environments.environment import Environment, EnvParams, EnvState

from irlax._pytree import float_dtype, is_concrete

Env = Environment
"""The base class of every env: gymnax's `Environment`. Subclass it to write a new env."""

NATIVE_ENVS = (
    "CartPole-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "Pendulum-v1",
    "MountainCarContinuous-v0",
)
"""Names `make` builds as pure-JAX (gymnax) envs; `"gymnasium:<id>"` builds any Gymnasium env."""

IRLAX_ENVS = {
    "KeyDoor-v0": ("irlax.envs.key_door", "KeyDoor"),
    "PointMaze-v0": ("irlax.envs.point_maze", "PointMaze"),
}
"""Names `make` builds as irlax's own pure-JAX envs, with the module and class of each; their
constructor's keywords are the overrides (`make("PointMaze-v0", gap="right")`)."""

GYMNASIUM_PREFIX = "gymnasium:"

# CartPole's parameters hold two derived quantities that gymnax does not recompute.
_CARTPOLE_DERIVED = {
    "total_mass": (("masscart", "masspole"), lambda p: p.masscart + p.masspole),
    "polemass_length": (("masspole", "length"), lambda p: p.masspole * p.length),
}

__all__ = [
    "IRLAX_ENVS",
    "NATIVE_ENVS",
    "CheckedEnv",
    "Env",
    "EnvParams",
    "EnvState",
    "Wrapper",
    "check_action",
    "check_in_space",
    "make",
    "multi_discrete",
    "spaces",
]


def make(name: str, **param_overrides: Any) -> tuple[Env, Any]:
    """Build an env and its parameters by name.

    Args:
        name: one of `NATIVE_ENVS` (gymnax's pure-JAX classic-control envs, which jit and vmap),
            one of `IRLAX_ENVS` (irlax's own pure-JAX envs: `"KeyDoor-v0"`, `"PointMaze-v0"`),
            or `"gymnasium:<id>"` for any registered Gymnasium env through the host-stepped
            `GymnasiumEnv` adapter (which jits but does not vmap).
        **param_overrides: for a native env, fields of its params to change (e.g.
            `max_steps_in_episode=200`, `gravity=9.0`); CartPole's derived `total_mass` and
            `polemass_length` follow `masscart`, `masspole` and `length` unless given too.
            For an irlax env: its constructor's keywords (e.g. `size=6` for KeyDoor-v0,
            `gap="right"` for PointMaze-v0).
            For a Gymnasium env: `num_envs` (default 1), and anything else is passed on to
            `gymnasium.make` (e.g. `max_episode_steps`).

    Returns:
        `(env, params)`. A native env is wrapped in `CheckedEnv`, so that stepping it eagerly
        with an action outside its action space raises a ValueError; irlax's own envs check
        their actions themselves.

    Raises:
        ValueError: an unknown name (the message lists the available ones) or an override that
            is not a field of the params (the message lists the fields).
    """
    if not isinstance(name, str):
        raise ValueError(f"name must be a string, got {type(name).__name__}")
    if name.startswith(GYMNASIUM_PREFIX):
        # Imported here: the adapter imports this module.
        from irlax.envs.gymnasium import GymnasiumEnv

        env = GymnasiumEnv(name[len(GYMNASIUM_PREFIX) :], **param_overrides)
        return env, env.default_params
    if name in IRLAX_ENVS:
        module, cls = IRLAX_ENVS[name]
        # Imported here: the env modules import this one.
        env_class = getattr(importlib.import_module(module), cls)
        known = inspect.signature(env_class).parameters
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in known.values()):
            unknown = sorted(set(param_overrides) - set(known))
            if unknown:
                raise ValueError(
                    f"{name} has no parameter(s) {', '.join(unknown)}; its params are: "
                    f"{', '.join(known)}"
                )
        env = env_class(**param_overrides)
        return env, env.default_params
    if name not in NATIVE_ENVS:
        raise ValueError(
            f"unknown env name {name!r}; available: "
            f"{', '.join(NATIVE_ENVS + tuple(IRLAX_ENVS))}, or "
            f"'{GYMNASIUM_PREFIX}<id>' for a registered Gymnasium env"
        )
    env, params = gymnax.make(name)
    return CheckedEnv(env), _override_params(name, params, param_overrides)


def _override_params(name: str, params: Any, overrides: dict[str, Any]) -> Any:
    if not overrides:
        return params
    fields = [f.name for f in dataclasses.fields(params)]
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ValueError(
            f"{name} has no parameter(s) {', '.join(unknown)}; its params are: {', '.join(fields)}"
        )
    for key, value in overrides.items():
        v = np.asarray(value)
        # Bools are refused too: `gravity=True` is a slip, not 1.0.
        if v.dtype.kind not in "iuf" or not np.isfinite(v).all():
            raise ValueError(f"parameter {key} must be a finite number, got {value!r}")
        default = getattr(params, key)
        if v.shape != np.shape(default):
            raise ValueError(
                f"parameter {key} must have the shape {np.shape(default)} of its default, got "
                f"{value!r}"
            )
    steps = overrides.get("max_steps_in_episode")
    if steps is not None and (int(np.asarray(steps)) != steps or steps < 1):
        raise ValueError(f"max_steps_in_episode must be a positive integer, got {steps!r}")
    params = params.replace(**overrides)
    if name == "CartPole-v1":
        derived = {
            field: fn(params)
            for field, (sources, fn) in _CARTPOLE_DERIVED.items()
            if field not in overrides and any(s in overrides for s in sources)
        }
        params = params.replace(**derived)
    _check_physics(name, params, overrides)
    return params


# What a classic-control parameter must satisfy for its dynamics to mean anything: masses,
# lengths, time steps and limits positive (CartPole with no mass, or a pendulum of length 0,
# divides by zero and steps to NaN), forces, gravities and noise non-negative. Fields not
# listed need only be finite numbers.
_POSITIVE = ("> 0", lambda x: x > 0)
_NON_NEGATIVE = (">= 0", lambda x: x >= 0)
_PHYSICS = {
    "CartPole-v1": {
        "gravity": _NON_NEGATIVE,
        "masscart": _POSITIVE,
        "masspole": _POSITIVE,
        "total_mass": _POSITIVE,
        "length": _POSITIVE,
        "polemass_length": _POSITIVE,
        "force_mag": _NON_NEGATIVE,
        "tau": _POSITIVE,
        "theta_threshold_radians": _POSITIVE,
        "x_threshold": _POSITIVE,
    },
    "Acrobot-v1": {
        "dt": _POSITIVE,
        "link_length_1": _POSITIVE,
        "link_length_2": _POSITIVE,
        "link_mass_1": _POSITIVE,
        "link_mass_2": _POSITIVE,
        "link_com_pos_1": _NON_NEGATIVE,
        "link_com_pos_2": _NON_NEGATIVE,
        "link_moi": _POSITIVE,
        "max_vel_1": _POSITIVE,
        "max_vel_2": _POSITIVE,
        "torque_noise_max": _NON_NEGATIVE,
    },
    "MountainCar-v0": {"max_speed": _POSITIVE, "force": _NON_NEGATIVE, "gravity": _NON_NEGATIVE},
    "Pendulum-v1": {
        "max_speed": _POSITIVE,
        "max_torque": _NON_NEGATIVE,
        "dt": _POSITIVE,
        "g": _NON_NEGATIVE,
        "m": _POSITIVE,
        "l": _POSITIVE,
    },
    "MountainCarContinuous-v0": {
        "max_speed": _POSITIVE,
        "power": _NON_NEGATIVE,
        "gravity": _NON_NEGATIVE,
    },
}
# (low, high) pairs that must stay in order (an empty track or action range).
_ORDERED = {
    "MountainCar-v0": (("min_position", "max_position"),),
    "MountainCarContinuous-v0": (("min_position", "max_position"), ("min_action", "max_action")),
}


def _check_physics(name: str, params: Any, overrides: dict[str, Any]) -> None:
    """Refuse parameters (given, or derived from given ones) whose dynamics are meaningless."""
    for field, (expected, ok) in _PHYSICS.get(name, {}).items():
        value = getattr(params, field)
        if not ok(float(value)):
            given = "" if field in overrides else " (derived from the parameters given)"
            raise ValueError(
                f"parameter {field} of {name} must be {expected}{given}, got {value!r}"
            )
    for low, high in _ORDERED.get(name, ()):
        if not getattr(params, low) < getattr(params, high):
            raise ValueError(
                f"parameters {low} < {high} of {name} must hold, got {low}="
                f"{getattr(params, low)!r} and {high}={getattr(params, high)!r}"
            )


def check_action(
    env: Env, params: Any, action: Any, *, batch_shape: tuple[int, ...] | None = None
) -> None:
    """Raise a ValueError if a concrete action lies outside the env's action space.

    A traced action (inside `jax.jit`, `jax.vmap`, `lax.scan`) cannot be inspected and passes
    unchecked; so do actions of spaces other than `Discrete` and `Box`.

    Args:
        env: the env (a host vector env checks `[num_envs, ...]` against its single space).
        params: its params, or None for `env.default_params`.
        action: one action (`[]` int for `Discrete`, `[*shape]` for `Box`), or a batch of them.
        batch_shape: leading batch axes of `action`; None for `(env.num_envs,)` on a vector
            env and `()` otherwise.

    Raises:
        ValueError: naming the action and the space: a wrong shape, a non-integer or
            out-of-range index, a NaN or infinity, or a value outside `[low, high]`.
    """
    if not is_concrete(action):
        return
    if params is None:
        params = env.default_params
    if batch_shape is None:
        batch_shape = (env.num_envs,) if getattr(env, "is_vector", False) else ()
    check_in_space(env.action_space(params), action, batch_shape=batch_shape, name="action")


def multi_discrete(nvec: tuple[int, ...]) -> spaces.Box:
    """A `MultiDiscrete` action space: `len(nvec)` integers, the g-th in `[0, nvec[g])`.

    gymnax has no multi-discrete space, so this is the integer `Box(0, nvec − 1, [G], int32)`
    it is equal to, carrying `nvec` as Gymnasium's `MultiDiscrete` does: `head_for_space` reads
    `nvec` (a `MultiCategorical` head), while the checks of `irlax.data` and `irlax.envs` that
    know `Discrete` and `Box` check its shape, integer dtype and per-group range.

    Args:
        nvec: the number of choices of each group, each >= 1.

    Returns:
        The space, with attribute `nvec` (a tuple of ints).
    """
    nvec = tuple(int(n) for n in nvec)
    if not nvec or min(nvec) < 1:
        raise ValueError(f"nvec must be a non-empty sequence of integers >= 1, got {nvec!r}")
    space = spaces.Box(0, jnp.asarray(nvec, jnp.int32) - 1, (len(nvec),), jnp.int32)
    space.nvec = nvec
    return space


def check_in_space(
    space: Any, value: Any, *, batch_shape: tuple[int, ...] = (), name: str = "value"
) -> None:
    """Raise a ValueError if a concrete value (or batch of values) is not in a space.

    Args:
        space: a `spaces.Discrete` or `spaces.Box` (others are not checked).
        value: the value, with leading axes `batch_shape`.
        batch_shape: its leading batch axes.
        name: what to call the value in the message ("action").

    Raises:
        ValueError: naming the value and the space, and what is wrong (for an integer `Box`,
            also a float value).
    """
    if not isinstance(space, spaces.Discrete | spaces.Box) or not is_concrete(value):
        return
    x = np.asarray(value)
    expected = tuple(batch_shape) + tuple(space.shape)

    def fail(reason: str):
        shown = x.tolist() if x.size <= 16 else f"array of shape {x.shape}"
        raise ValueError(f"{name} {shown!r} is outside the {name} space {space!r}: {reason}")

    if x.shape != expected:
        fail(f"expected shape {expected}, got {x.shape}")
    if isinstance(space, spaces.Discrete):
        if x.dtype.kind not in "iu":
            fail(f"expected integers, got dtype {x.dtype}")
        if x.size and (x.min() < 0 or x.max() >= space.n):
            fail(f"expected integers in [0, {space.n})")
        return
    if x.dtype.kind not in "biuf":
        fail(f"expected numbers, got dtype {x.dtype}")
    if np.dtype(getattr(space, "dtype", np.float32)).kind in "iu" and x.dtype.kind not in "biu":
        fail(f"expected integers (the space's dtype is {np.dtype(space.dtype)}), got {x.dtype}")
    if not np.isfinite(x).all():
        fail("found NaN or infinity")
    if is_concrete(space.low, space.high):
        low = np.asarray(space.low, np.float64)
        high = np.asarray(space.high, np.float64)
        x64 = x.astype(np.float64)
        if (x64 < low).any() or (x64 > high).any():
            fail("expected values in [low, high]")


class Wrapper(Env):
    """Base of env wrappers: delegates the gymnax API and any other attribute to `env`.

    A subclass overrides `reset` and `step` (and the spaces, if it changes them); its state
    is typically a pytree holding the inner env's state.
    """

    def __init__(self, env: Env):
        super().__init__()
        self._env = env

    @property
    def env(self) -> Env:
        """The wrapped env."""
        return self._env

    @property
    def unwrapped(self) -> Env:
        """The innermost env under every wrapper."""
        env = self._env
        while isinstance(env, Wrapper):
            env = env.env
        return env

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails; `_env` may be missing while unpickling.
        if name == "_env" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._env, name)

    @property
    def default_params(self) -> Any:
        return self._env.default_params

    @property
    def name(self) -> str:
        return self._env.name

    @property
    def num_actions(self) -> int:
        return self._env.num_actions

    def action_space(self, params: Any = None) -> Any:
        return self._env.action_space(self._params(params))

    def observation_space(self, params: Any = None) -> Any:
        return self._env.observation_space(self._params(params))

    def state_space(self, params: Any = None) -> Any:
        return self._env.state_space(self._params(params))

    def reset(self, key, params=None):
        return self._env.reset(key, self._params(params))

    def step(self, key, state, action, params=None):
        return self._env.step(key, state, action, self._params(params))

    def _params(self, params: Any) -> Any:
        return self.default_params if params is None else params

    def _check_action(self, params: Any, action: Any) -> None:
        """Raise a ValueError if the inner env would refuse a concrete action."""
        if isinstance(self._env, Wrapper):
            self._env._check_action(params, action)
        else:
            check_action(self._env, params, action)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._env!r})"


class CheckedEnv(Wrapper):
    """An env whose `step` refuses concrete actions outside the action space (ValueError).

    Transparent otherwise: same state, params, spaces and results as the wrapped env, except
    that `Box` actions are cast to the default float dtype (gymnax fails on a float32 action
    when x64 makes its states float64). Traced actions are not checked (see the module
    docstring). `make` wraps native envs in it.
    """

    def step(self, key, state, action, params=None):
        params = self._params(params)
        self._check_action(params, action)
        if isinstance(self._env.action_space(params), spaces.Box):
            # gymnax mixes dtypes (and fails) when a float32 action meets float64 states.
            action = jnp.asarray(action, float_dtype())
        return self._env.step(key, state, action, params)

    # The state is the inner env's, so its pieces may be used directly.
    def step_env(self, key, state, action, params):
        return self._env.step_env(key, state, action, params)

    def reset_env(self, key, params):
        return self._env.reset_env(key, params)

    def get_obs(self, state, params=None, key=None):
        return self._env.get_obs(state, params=params, key=key)

    def is_terminated(self, state, params):
        return self._env.is_terminated(state, params)

    def is_truncated(self, state, params):
        return self._env.is_truncated(state, params)
