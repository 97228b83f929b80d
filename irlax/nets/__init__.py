"""Flax Linen modules and policy heads: reward models, the MLP torso, action distributions."""

from irlax.nets.mlp import MLP
from irlax.nets.policies import (
    Categorical,
    DiagonalGaussian,
    Head,
    MultiCategorical,
    TanhGaussian,
    head_for_space,
)
from irlax.nets.reward import LinearReward, MLPReward

__all__ = [
    "MLP",
    "Categorical",
    "DiagonalGaussian",
    "Head",
    "LinearReward",
    "MLPReward",
    "MultiCategorical",
    "TanhGaussian",
    "head_for_space",
]
