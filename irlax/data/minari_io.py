"""Minari datasets in and out: `Trajectories` <-> a local Minari dataset (HDF5).

Minari (https://minari.farama.org) stores each episode's observations `[L+1, ...]`, actions,
rewards, terminations and truncations `[L]`; an episode's last step says whether it ended by
termination or truncation, which `Trajectories.terminated` carries. Only `Box` and `Discrete`
observation and action spaces map onto `Trajectories`; anything else is refused. Nothing here
downloads: datasets are found under `MINARI_DATASETS_PATH` (default `~/.minari/datasets`) or at
a given directory.

Minari is imported when these functions are first called, so `import irlax.data` stays light.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from irlax.data.rollout import SpaceInfo, check_against_space, observation_mask, space_info
from irlax.data.trajectories import Trajectories


def _to_gymnasium_space(space: Any, name: str):
    """A Gymnasium `Box`/`Discrete` equal to a gymnax or Gymnasium one."""
    import gymnasium

    if isinstance(space, (gymnasium.spaces.Box, gymnasium.spaces.Discrete)):
        return space
    info = space_info(space, name)
    if info.kind == "discrete":
        return gymnasium.spaces.Discrete(info.n, start=info.start, dtype=np.int64)
    return gymnasium.spaces.Box(
        low=info.low.astype(info.dtype), high=info.high.astype(info.dtype), dtype=info.dtype
    )


def _parse_dataset_id(dataset_id: str) -> None:
    from minari.dataset.minari_dataset import parse_dataset_id

    try:
        parse_dataset_id(dataset_id)
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"dataset_id must look like '(namespace/)name-v<version>', e.g. "
            f"'cartpole/expert-v0'; got {dataset_id!r}"
        ) from e


def save_minari(
    trajs: Trajectories,
    dataset_id: str,
    env_id: str | None = None,
    *,
    observation_space: Any = None,
    action_space: Any = None,
    terminated: Any = None,
    algorithm_name: str = "irlax",
    author: str | None = None,
    author_email: str | None = None,
    code_permalink: str | None = None,
    description: str | None = None,
) -> Path:
    """Write trajectories as a new local Minari dataset (HDF5, lossless).

    The dataset goes to `$MINARI_DATASETS_PATH/<dataset_id>` (default root
    `~/.minari/datasets`); `minari.load_dataset(dataset_id)` and `load_minari` read it back.
    Observations and actions are stored in the spaces' dtypes. If writing fails, the partly
    written dataset directory is removed.

    Args:
        trajs: trajectories with rewards, every episode at least one step long.
        dataset_id: Minari id `(namespace/)name-v<version>`; must not exist yet.
        env_id: a registered Gymnasium id (e.g. "CartPole-v1"): recorded in the dataset so
            that `dataset.recover_environment()` works, and the default for both spaces.
        observation_space: gymnax or Gymnasium `Box`/`Discrete`; default from `env_id`.
        action_space: gymnax or Gymnasium `Box`/`Discrete`; default from `env_id`.
        terminated: bool `[N]`, True where an episode ended by termination (its last step
            gets `terminations=True`), else by truncation (`truncations=True`). None (the
            default) takes `trajs.terminated` (which `rollout` and `load_minari` fill), and
            marks every episode truncated when that is None too (unknown: truncation is the
            claim that does not invent terminal states). Given alongside a
            `trajs.terminated`, the two must agree.
        algorithm_name, author, author_email, code_permalink, description: Minari metadata.

    Returns:
        The dataset's directory.

    Raises:
        ValueError: bad id, existing dataset, missing spaces, unknown `env_id`, no rewards,
            empty episodes, trajectories that do not fit the spaces, or a `terminated` that is
            not bool `[N]` or disagrees with `trajs.terminated`.
    """
    import gymnasium
    import minari
    from minari.data_collector import EpisodeBuffer
    from minari.storage.datasets_root_dir import get_dataset_path

    if not isinstance(trajs, Trajectories):
        raise ValueError(f"trajs must be Trajectories, got {type(trajs).__name__}")
    _parse_dataset_id(dataset_id)
    if env_id is not None and env_id not in gymnasium.registry:
        raise ValueError(
            f"env_id {env_id!r} is not a registered Gymnasium environment; leave env_id out "
            "and pass observation_space and action_space instead"
        )
    if env_id is None and (observation_space is None or action_space is None):
        raise ValueError("save_minari needs env_id, or both observation_space and action_space")
    if env_id is not None and (observation_space is None or action_space is None):
        env = gymnasium.make(env_id)
        observation_space = observation_space or env.observation_space
        action_space = action_space or env.action_space
        env.close()
    observation_space = _to_gymnasium_space(observation_space, "observation_space")
    action_space = _to_gymnasium_space(action_space, "action_space")
    obs_info = space_info(observation_space, "observation_space")
    act_info = space_info(action_space, "action_space")

    if trajs.rewards is None:
        raise ValueError("Minari datasets store rewards, but trajs.rewards is None")
    lengths = np.asarray(trajs.lengths)
    if np.any(lengths < 1):
        raise ValueError(
            f"Minari episodes take at least one step; trajectory {int(np.argmin(lengths))} has "
            f"length {int(lengths.min())}"
        )
    check_against_space(
        "observations", trajs.observations, obs_info, 2, observation_mask(trajs), False
    )
    check_against_space("actions", trajs.actions, act_info, 2, trajs.mask, True)
    n = trajs.n_trajectories
    if terminated is None:
        terminated = trajs.terminated if trajs.terminated is not None else np.zeros(n, bool)
    else:
        terminated = np.asarray(terminated)
        if terminated.shape != (n,) or terminated.dtype != bool:
            raise ValueError(
                f"terminated must be bool [N] = ({n},), got {terminated.dtype} {terminated.shape}"
            )
        if trajs.terminated is not None and not np.array_equal(terminated, trajs.terminated):
            first = int(np.argmax(terminated != np.asarray(trajs.terminated)))
            raise ValueError(
                f"terminated disagrees with trajs.terminated (first at trajectory {first}); "
                "give it once: leave the argument out, or set trajs.replace(terminated=...)"
            )
    terminated = np.asarray(terminated)

    observations = np.asarray(trajs.observations).astype(obs_info.dtype)
    actions = np.asarray(trajs.actions).astype(act_info.dtype)
    rewards = np.asarray(trajs.rewards)
    buffers = []
    for i in range(n):
        length = int(lengths[i])
        ends = np.zeros(length, bool)
        ends[-1] = True
        buffers.append(
            EpisodeBuffer(
                id=i,
                observations=observations[i, : length + 1],
                actions=actions[i, :length],
                rewards=rewards[i, :length],
                terminations=ends & terminated[i],
                truncations=ends & ~terminated[i],
            )
        )

    path = get_dataset_path(dataset_id)
    if path.exists():
        raise ValueError(f"a Minari dataset {dataset_id!r} already exists at {path}")
    try:
        with warnings.catch_warnings():
            # Minari nags about every metadata field left out; those are the caller's choice.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"minari\.")
            minari.create_dataset_from_buffers(
                dataset_id,
                buffers,
                env=env_id,
                algorithm_name=algorithm_name,
                author=author,
                author_email=author_email,
                code_permalink=code_permalink,
                action_space=action_space,
                observation_space=observation_space,
                description=description,
                data_format="hdf5",
                jpeg_encoding=False,
            )
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    return path


def _data_path(dataset_id_or_path: str | os.PathLike) -> Path:
    from minari.storage.datasets_root_dir import get_dataset_path

    given = Path(dataset_id_or_path)
    for candidate in (given, given / "data"):
        if (candidate / "metadata.json").is_file():
            return candidate
    if isinstance(dataset_id_or_path, str) and not given.is_absolute():
        root = get_dataset_path(dataset_id_or_path)
        if (root / "data" / "metadata.json").is_file():
            return root / "data"
    root = os.environ.get("MINARI_DATASETS_PATH", "~/.minari/datasets")
    raise FileNotFoundError(
        f"no local Minari dataset {str(dataset_id_or_path)!r}: not a dataset directory, nor an "
        f"id under MINARI_DATASETS_PATH={root}"
        " (load_minari never downloads; use `minari download` first)"
    )


def load_minari(
    dataset_id_or_path: str | os.PathLike, return_terminated: bool = False
) -> Trajectories | tuple[Trajectories, jnp.ndarray]:
    """Read a local Minari dataset as padded `Trajectories` (never downloads).

    Episodes keep their order; each is padded to the longest by repeating its last
    observation, with zero actions and rewards.

    Args:
        dataset_id_or_path: a dataset id under `MINARI_DATASETS_PATH`, or the dataset's
            directory (or its `data/` folder).
        return_terminated: also return `trajs.terminated` on its own, as
            `(trajs, trajs.terminated)`; kept for code written before `Trajectories` had the
            field, which now always holds the same array.

    Returns:
        `Trajectories` with rewards and `terminated`, bool `[N]`: True where the episode's
        last step has `terminations=True` (False where it was truncated); with
        `return_terminated`, `(trajs, trajs.terminated)`.

    Raises:
        FileNotFoundError: no such local dataset.
        ValueError: unreadable dataset, spaces other than `Box`/`Discrete` (or a `Discrete`
            not starting at 0), no episodes, or inconsistent episode arrays.
    """
    import minari

    path = _data_path(dataset_id_or_path)
    try:
        dataset = minari.MinariDataset(path)
    except Exception as e:
        raise ValueError(f"{path}: not a readable Minari dataset ({e})") from e
    infos: dict[str, SpaceInfo] = {}
    for name, space in (
        ("observation", dataset.observation_space),
        ("action", dataset.action_space),
    ):
        infos[name] = space_info(space, f"{path}: the dataset's {name} space")
        if infos[name].kind == "discrete" and infos[name].start != 0:
            raise ValueError(
                f"{path}: the dataset's {name} space {space!r} starts at "
                f"{infos[name].start}; irlax needs Discrete spaces starting at 0"
            )
    episodes = []
    for episode in dataset.iterate_episodes():
        episodes.append(_episode_arrays(path, episode))
    if not episodes:
        raise ValueError(f"{path}: the dataset has no episodes")

    horizon = max(len(ep["act"]) for ep in episodes)
    first = episodes[0]
    n = len(episodes)
    observations = np.zeros((n, horizon + 1, *first["obs"].shape[1:]), first["obs"].dtype)
    actions = np.zeros((n, horizon, *first["act"].shape[1:]), first["act"].dtype)
    rewards = np.zeros((n, horizon), first["rew"].dtype)
    lengths = np.zeros(n, np.int32)
    terminated = np.zeros(n, bool)
    for i, ep in enumerate(episodes):
        length = len(ep["act"])
        observations[i, : length + 1] = ep["obs"]
        observations[i, length + 1 :] = ep["obs"][-1]
        actions[i, :length] = ep["act"]
        rewards[i, :length] = ep["rew"]
        lengths[i] = length
        terminated[i] = ep["terminated"]
    trajs = Trajectories(
        observations=jnp.asarray(observations),
        actions=jnp.asarray(actions),
        lengths=jnp.asarray(lengths),
        rewards=jnp.asarray(rewards),
        terminated=jnp.asarray(terminated),
    )
    check_against_space(
        f"{path}: observations",
        observations,
        infos["observation"],
        2,
        observation_mask(trajs),
        False,
    )
    check_against_space(f"{path}: actions", actions, infos["action"], 2, trajs.mask, True)
    return (trajs, trajs.terminated) if return_terminated else trajs


def _episode_arrays(path: Path, episode: Any) -> dict:
    obs, act = episode.observations, episode.actions
    if not isinstance(obs, np.ndarray) or not isinstance(act, np.ndarray):
        raise ValueError(f"{path}: episode {episode.id} holds nested observations or actions")
    rew = np.asarray(episode.rewards)
    term = np.asarray(episode.terminations, bool)
    trunc = np.asarray(episode.truncations, bool)
    length = len(rew)
    if len(act) != length or len(obs) != length + 1 or len(term) != length or len(trunc) != length:
        raise ValueError(
            f"{path}: episode {episode.id} must hold L+1 observations and L actions, rewards, "
            f"terminations, truncations; got {len(obs)}, {len(act)}, {length}, {len(term)}, "
            f"{len(trunc)}"
        )
    ended = term | trunc
    if length and np.any(ended[:-1]):
        raise ValueError(
            f"{path}: episode {episode.id} ends at step {int(np.argmax(ended))} but goes on "
            f"to step {length - 1}"
        )
    return {
        "obs": obs,
        "act": act,
        "rew": rew,
        "terminated": bool(length and term[-1]),
    }
