"""Demonstrations from a policy: roll it out in an env and collect padded `Trajectories`.

`rollout` runs whole episodes of a policy in a gymnax-style env (`irlax.envs.Env`): a JAX env
is rolled out in one jitted call (`jax.vmap` over episodes, `lax.scan` over steps); a
host-stepped vector env (a Gymnasium adapter, `env.is_vector` true) from a host loop. Both
return the same `Trajectories`, with rewards and with `terminated` (whether each episode
reached a terminal state or was truncated).

`check_demos` says, before any training starts, whether demonstrations fit an env.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from irlax._checks import check_env, check_key
from irlax.data.trajectories import Trajectories

Policy = Callable[[jnp.ndarray, jax.Array], jnp.ndarray]


# --------------------------------------------------------------------------- spaces


class SpaceInfo(NamedTuple):
    """What irlax needs to know of a `Discrete` or `Box` space (gymnax or Gymnasium).

    Attributes:
        kind: "discrete" or "box".
        shape: the shape of one element.
        dtype: numpy dtype of the space's elements.
        n: number of discrete values (discrete only, else None).
        start: the smallest discrete value (discrete only; Gymnasium's `start`, 0 in gymnax).
        low: `[*shape]` lower bounds (box only, else None).
        high: `[*shape]` upper bounds (box only, else None).
    """

    kind: str
    shape: tuple
    dtype: np.dtype
    n: int | None = None
    start: int = 0
    low: np.ndarray | None = None
    high: np.ndarray | None = None


def space_info(space: Any, name: str = "space") -> SpaceInfo:
    """Describe a gymnax or Gymnasium `Discrete`/`Box` space.

    Args:
        space: the space.
        name: what the space is, for error messages ("action space" ...).

    Raises:
        ValueError: the space is neither `Discrete` nor `Box` (dict, tuple, multi-discrete ...).
    """
    kind = type(space).__name__
    if kind == "Discrete" and hasattr(space, "n"):
        dtype = np.dtype(getattr(space, "dtype", None) or np.int64)
        return SpaceInfo(
            "discrete", (), dtype, n=int(space.n), start=int(getattr(space, "start", 0))
        )
    if kind == "Box" and hasattr(space, "low") and hasattr(space, "high"):
        shape = space.shape
        shape = (int(shape),) if np.ndim(shape) == 0 and shape is not None else tuple(shape)
        dtype = np.dtype(space.dtype)
        low = np.broadcast_to(np.asarray(space.low), shape)
        high = np.broadcast_to(np.asarray(space.high), shape)
        return SpaceInfo("box", shape, dtype, low=low, high=high)
    raise ValueError(f"{name} must be a Discrete or Box space, got {space!r}")


def _kind_name(dtype: np.dtype) -> str:
    if np.issubdtype(dtype, np.bool_):
        return "bool"
    if np.issubdtype(dtype, np.integer):
        return "integer"
    if np.issubdtype(dtype, np.floating):
        return "floating"
    return str(dtype)


def _expected_kind(info: SpaceInfo) -> str:
    return "integer" if info.kind == "discrete" else _kind_name(info.dtype)


def check_against_space(
    name: str, values: Any, info: SpaceInfo, lead: int, mask: Any, check_range: bool
) -> None:
    """Check that `values [*lead_axes, *shape]` hold elements of a space where `mask` is True.

    Args:
        name: what the values are, for error messages ("actions", "observations").
        values: the array, with `lead` leading axes (e.g. 2 for `[N, T, ...]`).
        info: the space.
        lead: number of leading (batch, time) axes.
        mask: bool array of the leading shape: which entries are real (not padding).
        check_range: also check the values lie inside the space (discrete range, box bounds);
            otherwise only that they are finite.

    Raises:
        ValueError: shape, dtype kind or (where checked) range differs, naming the first
            offending entry.
    """
    values = np.asarray(values)
    shape = values.shape[lead:]
    if shape != info.shape:
        raise ValueError(
            f"{name} must have element shape {info.shape} to match the env's space, got "
            f"{shape} (array shape {values.shape})"
        )
    got_kind, want_kind = _kind_name(values.dtype), _expected_kind(info)
    if got_kind != want_kind:
        raise ValueError(
            f"{name} must have a {want_kind} dtype to match the env's space ({info.dtype}), "
            f"got {values.dtype}"
        )
    mask = np.broadcast_to(np.asarray(mask, bool), values.shape[:lead])
    # The element size is explicit: `-1` cannot be inferred when a leading axis is 0 (no
    # demos, or no steps), which must reach the caller's own "no transitions" check.
    flat = values.reshape(*values.shape[:lead], int(np.prod(shape)))
    if info.kind == "discrete":
        ok = (values >= info.start) & (values < info.start + info.n)
        what = f"in [{info.start}, {info.start + info.n})"
    elif check_range:
        with np.errstate(invalid="ignore"):
            low = info.low.reshape(-1).astype(np.float64)
            high = info.high.reshape(-1).astype(np.float64)
            ok = np.all((flat >= low) & (flat <= high), axis=-1)
        what = f"inside the box [{info.low.min()}, {info.high.max()}]"
    else:
        ok = np.all(np.isfinite(flat), axis=-1) if got_kind == "floating" else np.ones_like(mask)
        what = "finite"
    bad = mask & ~ok
    if np.any(bad):
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} must be {what}; {int(bad.sum())} entries are not, the first at index "
            f"{where}: {values[where]}"
        )


def observation_mask(trajs: Trajectories) -> jnp.ndarray:
    """Bool `[N, T+1]`: True where `observations[i, t]` is real (t <= lengths[i])."""
    horizon = trajs.max_length
    return jnp.arange(horizon + 1)[None, :] <= jnp.asarray(trajs.lengths)[:, None]


def check_demos(env: Any, env_params: Any, demos: Trajectories) -> None:
    """Refuse demonstrations that do not fit an env, before anything trains on them.

    Checks the observations' element shape and dtype kind (and that real float observations
    are finite) against `env.observation_space(env_params)`, the actions' element shape,
    dtype kind and range against `env.action_space(env_params)`, and that rewards, where
    given, are finite; padding is ignored.

    Args:
        env: a gymnax-style env (JAX or host vector env).
        env_params: its parameters, or None for `env.default_params`.
        demos: the demonstrations.

    Raises:
        ValueError: naming what differs (shape, dtype or out-of-range entry and its index), or
            an `env` that is not a gymnax-style env.
    """
    check_env(env)
    if not isinstance(demos, Trajectories):
        raise ValueError(f"demos must be Trajectories, got {type(demos).__name__}")
    params = env.default_params if env_params is None else env_params
    obs_info = space_info(env.observation_space(params), "the env's observation space")
    act_info = space_info(env.action_space(params), "the env's action space")
    check_against_space(
        "demo observations", demos.observations, obs_info, 2, observation_mask(demos), False
    )
    check_against_space("demo actions", demos.actions, act_info, 2, demos.mask, True)
    if demos.rewards is not None:
        # Not learned from, but they give the expert's return that results are measured by:
        # a NaN there would turn it, and every score normalised by it, into NaN.
        rewards = np.asarray(demos.rewards)
        scalars = SpaceInfo("box", (), rewards.dtype)
        check_against_space("demo rewards", rewards, scalars, 2, demos.mask, False)


# --------------------------------------------------------------------------- returns


def episode_returns(trajs: Trajectories, discount: float = 1.0) -> jnp.ndarray:
    """Return of each trajectory, `sum_t discount^t r_t` over its real steps: `[N]`.

    Args:
        trajs: trajectories with rewards.
        discount: the discount; 1 (default) gives the undiscounted return.

    Raises:
        ValueError: `trajs.rewards` is None.
    """
    if trajs.rewards is None:
        raise ValueError("episode_returns needs trajectories with rewards; trajs.rewards is None")
    return _discounted_returns(jnp.asarray(trajs.rewards), jnp.asarray(trajs.lengths), discount)


@jax.jit
def _discounted_returns(rewards, lengths, discount):
    weights = discount ** jnp.arange(rewards.shape[-1], dtype=rewards.dtype)
    mask = jnp.arange(rewards.shape[-1])[None, :] < lengths[:, None]
    return jnp.sum(jnp.where(mask, rewards, 0.0) * weights, axis=-1)


# --------------------------------------------------------------------------- rollout


class _ByIdentity:
    """Hashes and compares by the identity of what it holds, to make an env a static arg."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ByIdentity) and other.value is self.value


class _MethodCall:
    """`func(owner, obs, key, **keywords)`, hashable by its code and keywords (jit-static)."""

    def __init__(self, func: Callable, keywords: tuple) -> None:
        self.func, self.keywords = func, keywords

    def __call__(self, owner: Any, obs: jnp.ndarray, key: jax.Array) -> jnp.ndarray:
        return self.func(owner, obs, key, **dict(self.keywords))

    def __hash__(self) -> int:
        return hash((self.func, self.keywords))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _MethodCall) and (self.func, self.keywords) == (
            other.func,
            other.keywords,
        )


def _policy_pytree(policy: Policy) -> jax.tree_util.Partial:
    """The policy as a pytree, so that its parameters are traced rather than baked in.

    A bound method of a pytree (e.g. `Result.policy`), optionally in a `functools.partial`
    with hashable keywords (`partial(result.policy, deterministic=True)`), becomes a
    `Partial` holding the owner as a leaf: a second rollout with new parameters reuses the
    compiled code. Any other callable is static (a new one compiles anew).
    """
    if isinstance(policy, jax.tree_util.Partial):
        return policy
    method, keywords = policy, ()
    if isinstance(policy, functools.partial) and not policy.args:
        method, keywords = policy.func, tuple(sorted(policy.keywords.items()))
    if inspect.ismethod(method):
        owner = method.__self__
        try:
            hash(keywords)
        except TypeError:
            return jax.tree_util.Partial(policy)
        if not jax.tree_util.treedef_is_leaf(jax.tree_util.tree_structure(owner)):
            return jax.tree_util.Partial(_MethodCall(method.__func__, keywords), owner)
    return jax.tree_util.Partial(policy)


def _resolve_max_steps(env: Any, env_params: Any, max_steps: int | None) -> int:
    if max_steps is None:
        limit = getattr(env_params, "max_steps_in_episode", None)
        if limit is None:
            limit = getattr(env, "max_steps_in_episode", None)
        if limit is None:
            raise ValueError(
                "max_steps is required: neither the env nor its params have max_steps_in_episode"
            )
        max_steps = int(limit)
    if isinstance(max_steps, bool) or int(max_steps) != max_steps or max_steps < 1:
        raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
    return int(max_steps)


def _check_actions(actions: Any, info: SpaceInfo, what: str, lead: int = 0, mask: Any = True):
    """Refuse policy actions (`lead` leading batch axes) of the wrong shape, dtype or range."""
    actions = np.asarray(actions)
    if actions.shape[lead:] != info.shape or actions.ndim < lead:
        raise ValueError(
            f"the policy must return actions of shape {info.shape} (the action space's), got "
            f"{actions.shape[lead:]} {what}"
        )
    try:
        check_against_space("policy actions", actions, info, lead, mask, True)
    except ValueError as e:
        raise ValueError(f"{e} ({what}); the policy must return actions in the action space") from e


def rollout(
    env: Any,
    policy: Policy,
    n_episodes: int,
    key: jax.Array,
    env_params: Any = None,
    max_steps: int | None = None,
    return_terminated: bool = False,
) -> Trajectories | tuple[Trajectories, jnp.ndarray]:
    """Roll a policy out for `n_episodes` whole episodes: padded demonstrations with rewards.

    Each episode runs until the env says terminated or truncated, or for `max_steps` steps.
    The last observation of an episode is `info["final_observation"]` (the env resets
    itself). Padding repeats the last observation and holds zero actions and rewards.

    A JAX env is rolled out in one jitted call (`jax.vmap` over episodes, `lax.scan` over
    `max_steps` steps); the env and the policy's code are static, the policy's pytree (e.g. a
    `Result`'s parameters) and `env_params` are traced, so a second call does not recompile.
    Episode i uses `k = jax.random.split(key, n_episodes)[i]`, split into
    `reset_key, *step_keys = jax.random.split(k, max_steps + 1)`, and step t into
    `action_key, env_key = jax.random.split(step_keys[t])`.

    A host vector env (`env.is_vector`) is stepped from a host loop; its `num_envs` copies
    share the episodes (copy i runs `(n_episodes + i) // num_envs` of them, so that short
    episodes are not favoured), listed copy by copy.

    Args:
        env: a gymnax-style env (`irlax.envs.Env`) with `Discrete` or `Box` action space.
        policy: `policy(obs, key) -> action` for ONE observation, e.g. `Result.policy`, or
            `functools.partial(result.policy, deterministic=True)` for the mode.
        n_episodes: number of episodes, >= 1.
        key: PRNG key; the same key gives the same trajectories.
        env_params: env parameters, or None for `env.default_params`.
        max_steps: padded length T; defaults to `env_params.max_steps_in_episode` (or
            `env.max_steps_in_episode`), and is required when neither exists. Episodes still
            running at T are cut there (a host vector env's copy then finishes that episode
            unrecorded before its next one starts).
        return_terminated: also return `trajs.terminated` on its own, as
            `(trajs, trajs.terminated)`; kept for code written before `Trajectories` had the
            field, which now always holds the same array.

    Returns:
        `Trajectories` with `observations [N, T+1, ...]`, `actions [N, T, ...]`,
        `lengths [N]`, `rewards [N, T]` and `terminated`, bool `[N]`: True where the episode
        ended by termination (the env said terminated), False where it ended by truncation
        (the env's time limit) or was cut at `max_steps`. With `return_terminated`,
        `(trajs, trajs.terminated)`.

    Raises:
        ValueError: `n_episodes < 1`, bad `max_steps`, or the policy returns an action outside
            the action space (checked concretely on the first step before anything compiles,
            and on every real step once the rollout is done, naming the first bad one).
    """
    check_key(key)
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, (int, np.integer)):
        raise ValueError(f"n_episodes must be an integer >= 1, got {n_episodes!r}")
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    params = env.default_params if env_params is None else env_params
    max_steps = _resolve_max_steps(env, params, max_steps)
    info = space_info(env.action_space(params), "the env's action space")
    if getattr(env, "is_vector", False):
        obs, actions, rewards, lengths, terminated = _host_rollout(
            env, policy, params, key, int(n_episodes), max_steps, info
        )
    else:
        policy = _policy_pytree(policy)
        # A concrete first step, so that a bad policy fails here with a clear message and not
        # with a shape error from inside the traced env.
        first = _first_action(_ByIdentity(env), policy, params, key, int(n_episodes), max_steps)
        _check_actions(first, info, "on the first step")
        obs, actions, rewards, lengths, terminated = _jax_rollout(
            _ByIdentity(env), policy, params, key, int(n_episodes), max_steps
        )
        mask = np.arange(max_steps)[None, :] < np.asarray(lengths)[:, None]
        _check_actions(actions, info, "at [episode, step]", lead=2, mask=mask)
    trajs = Trajectories(
        observations=obs, actions=actions, lengths=lengths, rewards=rewards, terminated=terminated
    )
    return (trajs, trajs.terminated) if return_terminated else trajs


@functools.partial(jax.jit, static_argnames=("env", "n_episodes", "max_steps"))
def _first_action(env, policy, env_params, key, n_episodes, max_steps):
    """The policy's action on the first episode's first step, as `_jax_rollout` draws it
    (one small program, where running it op by op compiled a dozen)."""
    episode_key = jax.random.split(key, n_episodes)[0]
    reset_key, step_key = jax.random.split(episode_key, max_steps + 1)[:2]
    obs0, _ = env.value.reset(reset_key, env_params)
    return policy(obs0, jax.random.split(step_key)[0])


@functools.partial(jax.jit, static_argnames=("env", "n_episodes", "max_steps"))
def _jax_rollout(env, policy, env_params, key, n_episodes, max_steps):
    env = env.value

    def episode(episode_key):
        keys = jax.random.split(episode_key, max_steps + 1)
        obs0, state0 = env.reset(keys[0], env_params)

        def step(carry, step_key):
            obs, last_obs, state, active = carry
            action_key, env_key = jax.random.split(step_key)
            action = policy(obs, action_key)
            next_obs, state, reward, terminated, truncated, info = env.step(
                env_key, state, action, env_params
            )
            final_obs = jnp.where(active, info["final_observation"], last_obs).astype(obs0.dtype)
            record = (
                final_obs,
                jnp.where(active, action, jnp.zeros_like(action)),
                jnp.where(active, reward, jnp.zeros_like(reward)),
                active,
                active & terminated,
            )
            done = jnp.logical_or(terminated, truncated)
            return (next_obs.astype(obs0.dtype), final_obs, state, active & ~done), record

        carry = (obs0, obs0, state0, jnp.array(True))
        _, (next_obs, actions, rewards, active, terminated) = jax.lax.scan(step, carry, keys[1:])
        observations = jnp.concatenate([obs0[None], next_obs])
        return (
            observations,
            actions,
            rewards,
            jnp.sum(active).astype(jnp.int32),
            jnp.any(terminated),
        )

    return jax.vmap(episode)(jax.random.split(key, n_episodes))


@jax.jit
def _batched_actions(policy, obs, keys):
    return jax.vmap(policy)(obs, keys)


def _host_rollout(env, policy, env_params, key, n_episodes, max_steps, info):
    n_envs = int(env.num_envs)
    targets = [(n_episodes + i) // n_envs for i in range(n_envs)]
    policy = _policy_pytree(policy)

    key, reset_key = jax.random.split(key)
    obs, state = env.reset(reset_key, env_params)
    obs = np.asarray(obs)
    episodes: list[list[dict]] = [[] for _ in range(n_envs)]
    current = [{"obs": [obs[i]], "act": [], "rew": []} for i in range(n_envs)]
    # A copy whose episode was cut at max_steps waits for the env to end it before recording.
    waiting = [False] * n_envs
    while any(len(episodes[i]) < targets[i] for i in range(n_envs)):
        key, action_key, env_key = jax.random.split(key, 3)
        action_keys = jax.random.split(action_key, n_envs)
        actions = np.asarray(_batched_actions(policy, jnp.asarray(obs), action_keys))
        recording = [len(episodes[i]) < targets[i] and not waiting[i] for i in range(n_envs)]
        _check_actions(actions, info, "at [env copy]", lead=1, mask=np.array(recording))
        obs, state, reward, terminated, truncated, step_info = env.step(
            env_key, state, jnp.asarray(actions), env_params
        )
        # `obs` is what the policy sees next: after an episode ends, the next one's first.
        obs, final_obs = np.asarray(obs), np.asarray(step_info["final_observation"])
        reward, terminated = np.asarray(reward), np.asarray(terminated, bool)
        done = terminated | np.asarray(truncated, bool)
        for i in range(n_envs):
            if len(episodes[i]) >= targets[i]:
                continue
            if waiting[i]:
                if done[i]:
                    waiting[i] = False
                    current[i] = {"obs": [obs[i]], "act": [], "rew": []}
                continue
            ep = current[i]
            ep["act"].append(actions[i])
            ep["rew"].append(reward[i])
            ep["obs"].append(final_obs[i])
            if done[i] or len(ep["act"]) == max_steps:
                ep["terminated"] = bool(terminated[i])
                episodes[i].append(ep)
                waiting[i] = not done[i]
                current[i] = {"obs": [obs[i]], "act": [], "rew": []}
    flat = [ep for slot in episodes for ep in slot]
    return _pad_episodes(flat, max_steps)


def _pad_episodes(episodes: list[dict], horizon: int):
    """Stack episodes `{"obs": [L+1], "act": [L], "rew": [L], "terminated"}` padded to T."""
    n = len(episodes)
    first = episodes[0]
    obs0, act0 = np.asarray(first["obs"][0]), np.asarray(first["act"][0])
    obs = np.zeros((n, horizon + 1, *obs0.shape), obs0.dtype)
    actions = np.zeros((n, horizon, *act0.shape), act0.dtype)
    rewards = np.zeros((n, horizon), np.asarray(first["rew"][0]).dtype)
    lengths = np.zeros(n, np.int32)
    terminated = np.zeros(n, bool)
    for i, ep in enumerate(episodes):
        length = len(ep["act"])
        obs[i, : length + 1] = np.stack(ep["obs"])
        obs[i, length + 1 :] = ep["obs"][-1]
        actions[i, :length] = np.stack(ep["act"])
        rewards[i, :length] = ep["rew"]
        lengths[i] = length
        terminated[i] = ep["terminated"]
    return (
        jnp.asarray(obs),
        jnp.asarray(actions),
        jnp.asarray(rewards),
        jnp.asarray(lengths),
        jnp.asarray(terminated),
    )
