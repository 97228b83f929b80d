"""Flax Linen modules and policy heads: reward models, the MLP torso, action distributions."""

from irlax.nets.mlp import MLP
from irlax.nets.policies import (
    Categorical,
    ContinuousCritic,
    DiagonalGaussian,
    Head,
    MultiCategorical,
    TanhGaussian,
    TanhGaussianActor,
    action_features,
    head_for_space,
)
from irlax.nets.reward import (
    TRANSITION_INPUTS,
    LinearReward,
    MLPReward,
    ShapedReward,
    TransitionReward,
)

__all__ = [
    "MLP",
    "TRANSITION_INPUTS",
    "Categorical",
    "ContinuousCritic",
    "DiagonalGaussian",
    "Head",
    "LinearReward",
    "MLPReward",
    "MultiCategorical",
    "ShapedReward",
    "TanhGaussian",
    "TanhGaussianActor",
    "TransitionReward",
    "action_features",
    "head_for_space",
]
