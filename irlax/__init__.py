"""irlax: inverse reinforcement learning and imitation learning in JAX."""

from irlax import data, envs, mdp
from irlax.data import Trajectories
from irlax.mdp import TabularMDP

__version__ = "0.1.0"

__all__ = ["TabularMDP", "Trajectories", "data", "envs", "mdp"]
