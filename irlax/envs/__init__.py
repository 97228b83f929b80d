"""Worlds to learn in: tabular world builders (and, later, the sampled-dynamics Env API)."""

from irlax.envs.tabular import GRID_ACTIONS, gridworld, random_mdp

__all__ = ["GRID_ACTIONS", "gridworld", "random_mdp"]
