"""Demonstrations: the `Trajectories` pytree, rollouts, and file formats (npz; Minari)."""

from irlax.data.minari_io import load_minari, save_minari
from irlax.data.rollout import check_demos, episode_returns, rollout
from irlax.data.trajectories import Trajectories

__all__ = [
    "Trajectories",
    "check_demos",
    "episode_returns",
    "load_minari",
    "rollout",
    "save_minari",
]
