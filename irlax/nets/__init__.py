"""Flax Linen modules: reward models (and, later, policies and Q-functions)."""

from irlax.nets.reward import LinearReward, MLPReward

__all__ = ["LinearReward", "MLPReward"]
