"""Worlds to learn in: tabular world builders (and, later, the sampled-dynamics Env API)."""

from irlax.envs.objectworld import (
    OBJECT_DENSITY,
    OBJECTWORLD_FEATURES,
    ObjectworldLayout,
    binaryworld,
    noisy_expert_demos,
    objectworld,
    objectworld_layout,
)
from irlax.envs.tabular import GRID_ACTIONS, gridworld, random_mdp

__all__ = [
    "GRID_ACTIONS",
    "OBJECTWORLD_FEATURES",
    "OBJECT_DENSITY",
    "ObjectworldLayout",
    "binaryworld",
    "gridworld",
    "noisy_expert_demos",
    "objectworld",
    "objectworld_layout",
    "random_mdp",
]
