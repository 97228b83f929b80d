"""Training from a host loop in chunks, with atomic checkpoints and resume; saved policies.

`make_train` runs a whole training as one compiled program, which is fastest but all or
nothing. `run` drives the same `Trainer` pieces in chunks of updates instead: after each chunk
it saves the train state and the metrics so far (`irlax.checkpoint`, written atomically), and
a later call with the same checkpoint path continues from there. The chunk function is
compiled once per trainer (plus once for a shorter last chunk), so the overhead over
`make_train` is one host round trip per chunk.

`save_policy` writes a trained policy with the config that rebuilds it; `load_policy` gives it
back as a `Result` (what `irlax expert` writes and `irlax imitate dagger --expert` reads).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from irlax.checkpoint import load_checkpoint, read_checkpoint_metadata, save_checkpoint
from irlax.envs.gymnasium import GymnasiumState
from irlax.rl import ppo, sac, soft_pg, soft_q
from irlax.rl._common import Result, Trainer

# The trainers whose policies `load_policy` rebuilds, by config class name.
_TRAINERS = {
    module_config.__name__: (module_config, make_trainer)
    for module_config, make_trainer in (
        (ppo.PPOConfig, ppo.make_trainer),
        (sac.SACConfig, sac.make_trainer),
        (soft_q.SoftQConfig, soft_q.make_trainer),
        (soft_pg.SoftPGConfig, soft_pg.make_trainer),
    )
}


def run(
    trainer: Trainer,
    key: jax.Array,
    *,
    reward_params: Any = None,
    checkpoint: str | Path | None = None,
    chunk: int = 50,
    fingerprint: dict | None = None,
    progress: Callable[[int, dict], None] | None = None,
) -> Result:
    """Train `trainer.n_updates` updates in chunks, checkpointing after each chunk.

    Args:
        trainer: from an `irlax.rl` module's `make_trainer`.
        key: PRNG key for `trainer.init` (ignored when resuming: the saved state has its own).
        reward_params: passed to every update (see `Trainer.update`).
        checkpoint: file to save to after each chunk and to resume from when it exists.
        chunk: updates per compiled chunk (and between checkpoints).
        fingerprint: JSON-serialisable description of the run (environment, algorithm,
            config); a checkpoint written with another fingerprint is refused rather than
            silently resumed into a different run.
        progress: called as `progress(updates_done, last_metrics)` after each chunk, where
            `last_metrics` maps each metric to its value at the chunk's last update.

    A run on host-stepped envs (`"gymnasium:ID"`) resumes too, but their state lives in Python
    where no checkpoint reaches it: the learner resumes exactly and the envs on fresh episodes
    (those in flight at the interruption are lost).

    Returns:
        the `Result`, with metrics over every update, those before a resume included.

    Raises:
        ValueError: `chunk < 1`, or a checkpoint from another run or in a bad state.
    """
    if not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be an int >= 1, got {chunk!r}")
    fingerprint = json.loads(json.dumps(fingerprint or {}))  # normalise tuples to lists
    total = trainer.n_updates
    state = _init_function(trainer.init)(key)
    _, step_metrics, _ = jax.eval_shape(trainer.update, state, reward_params)
    metrics = {name: _empty(total, m) for name, m in step_metrics.items()}
    done = 0
    path = None if checkpoint is None else Path(checkpoint)
    if path is not None and path.exists():
        saved = read_checkpoint_metadata(path)
        if saved.get("fingerprint") != fingerprint or saved.get("n_updates") != total:
            theirs = {**(saved.get("fingerprint") or {}), "n_updates": saved.get("n_updates")}
            ours = {**fingerprint, "n_updates": total}
            differ = sorted(k for k in {*theirs, *ours} if theirs.get(k) != ours.get(k))
            raise ValueError(
                f"the checkpoint {path} belongs to another run (its settings differ from "
                f"this one's: {', '.join(differ)}); use another output folder or delete it to "
                "start afresh"
            )
        fresh = state
        (state, metrics), meta = load_checkpoint(path, like=(state, metrics))
        if _steps_on_the_host(fresh):
            state = _continue_on_fresh_episodes(state, fresh)
        metrics = jax.tree.map(np.array, metrics)  # writable copies
        done = int(meta["updates_done"])
        if not 0 <= done <= total:
            raise ValueError(f"the checkpoint {path} says {done} of {total} updates are done")

    compiled = _chunk_function(trainer.update)
    while done < total:
        n = min(chunk, total - done)
        state, new = compiled(state, reward_params, n)
        new = jax.tree.map(np.asarray, new)
        for name, values in new.items():
            metrics[name][done : done + n] = values
        done += n
        if path is not None:
            meta = {"updates_done": done, "n_updates": total, "fingerprint": fingerprint}
            save_checkpoint(path, (state, metrics), meta)
        if progress is not None:
            progress(done, {name: values[-1] for name, values in new.items()})
    return trainer.result(state, jax.tree.map(jnp.asarray, metrics))


@functools.lru_cache(maxsize=16)
def _init_function(init: Callable) -> Callable:
    """`trainer.init`, jitted once per trainer: one program (loaded from the persistent
    compilation cache when that is on), where running it op by op compiled or loaded dozens
    of small ones (a PPO init: about 50)."""
    return jax.jit(init)


@functools.lru_cache(maxsize=16)
def _chunk_function(update: Callable) -> Callable:
    """`chunk(state, reward_params, n)`: `n` updates under `lax.scan`, jitted once per
    trainer, so that a resumed or repeated `run` of one trainer does not compile again."""

    def updates(state, reward_params, n):
        # Each update's transitions are dropped as it ends (not stacked over the chunk).
        return jax.lax.scan(lambda s, _: update(s, reward_params)[:2], state, None, n)

    return jax.jit(updates, static_argnums=2)


def _steps_on_the_host(state) -> bool:
    """Whether the train state's envs are host-stepped (`gymnasium:`), holding their real
    state outside JAX, where a checkpoint cannot reach it."""
    nodes = jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, GymnasiumState))
    return any(isinstance(x, GymnasiumState) for x in nodes)


def _continue_on_fresh_episodes(saved, fresh):
    """Resume a host-stepped run: the learner (networks, optimiser, replay buffer, counters,
    finished-episode statistics) as saved; the envs on the fresh episodes `trainer.init` just
    began, since the episodes in flight at the interruption are lost with the host envs.
    A method that wraps a trainer (adversarial imitation) holds its state as `generator`."""
    if not hasattr(saved, "env_state"):
        generator = _continue_on_fresh_episodes(saved.generator, fresh.generator)
        return saved.replace(generator=generator)
    stats = saved.stats.replace(
        running_return=fresh.stats.running_return, running_length=fresh.stats.running_length
    )
    return saved.replace(env_state=fresh.env_state, obs=fresh.obs, stats=stats)


def _empty(total: int, like) -> np.ndarray:
    """`[total, ...]` of `like`'s dtype, NaN (or 0 for integers) until filled in."""
    fill = np.nan if np.issubdtype(like.dtype, np.inexact) else 0
    return np.full((total, *like.shape), fill, like.dtype)


def save_policy(path: str | Path, result: Result, config: Any, metadata: dict | None = None):
    """Save a trained policy with the config that rebuilds it, atomically.

    Args:
        path: the file to write (msgpack, `irlax.checkpoint`).
        result: the `Result` of an `irlax.rl` trainer.
        config: the trainer's config (`PPOConfig`, `SACConfig`, `SoftQConfig`, `SoftPGConfig`).
        metadata: more JSON-serialisable facts to keep with it (e.g. the env id).

    Raises:
        ValueError: a config of no `irlax.rl` trainer, or metadata that is not JSON.
    """
    name = type(config).__name__
    if _TRAINERS.get(name, (None,))[0] is not type(config):
        raise ValueError(f"config must be one of {', '.join(_TRAINERS)}, got {name}")
    meta = {**(metadata or {}), "trainer": name, "config": dataclasses.asdict(config)}
    save_checkpoint(path, result.params, meta)


def load_policy(path: str | Path, env, env_params: Any = None) -> Result:
    """A policy saved by `save_policy` (or `irlax expert`), as a `Result` for `env`.

    Args:
        path: the saved policy.
        env: the env it acts in (its spaces fix the networks' shapes).
        env_params: its parameters; None for the defaults.

    Returns:
        A `Result` whose `policy(obs, key)` and `log_prob` act as the saved one did (its
        `metrics` are empty).

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the file, when it is not a saved policy, or its parameters do not
            fit `env` (another env's policy).
    """
    meta = read_checkpoint_metadata(path)
    cls, make_trainer = _TRAINERS.get(meta.get("trainer"), (None, None))
    if cls is None or not isinstance(meta.get("config"), dict):
        raise ValueError(
            f"{path}: not a saved policy (its metadata names no irlax.rl trainer config); "
            "write it with irlax.rl.run.save_policy or `irlax expert`"
        )
    try:
        config = cls(**_fields_from_json(cls, meta["config"]))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: its saved {cls.__name__} is not valid here ({e})") from e
    if getattr(env, "is_vector", False) and config.num_envs != env.num_envs:
        # A host vector env holds a fixed number of copies; the trainer built here only gives
        # the parameters' shapes, which the number of envs it was trained with does not change.
        config = dataclasses.replace(config, num_envs=env.num_envs)
    trainer = make_trainer(config, env, env_params)
    template = jax.eval_shape(lambda key: trainer.result(trainer.init(key), {}), jax.random.key(0))
    like = jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), template.params)
    try:
        params, _ = load_checkpoint(path, like=like)
    except ValueError as e:
        raise ValueError(f"{e} (is it a policy for another env?)") from e
    return template.replace(params=params, metrics={})


def _fields_from_json(cls: type, fields: dict) -> dict:
    """A config's fields as JSON gave them back: lists to tuples where the field is a tuple."""
    hints = typing.get_type_hints(cls)
    out = {}
    for name, value in fields.items():
        hint = hints.get(name)
        kinds = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        if isinstance(value, list) and any(typing.get_origin(k) is tuple for k in kinds):
            value = tuple(value)
        out[name] = value
    return out
