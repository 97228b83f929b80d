"""Demonstrations: the `Trajectories` pytree and its file format."""

from irlax.data.trajectories import Trajectories

__all__ = ["Trajectories"]
