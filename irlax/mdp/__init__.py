"""Exact machinery for MDPs with known dynamics.

Planning (soft and hard value iteration), forward messages (occupancy, posterior marginals),
feature expectations, sampling and likelihoods over a `TabularMDP`.
"""

from irlax.mdp.core import TabularMDP
from irlax.mdp.occupancy import (
    empirical_occupancy,
    feature_expectations,
    occupancy,
    posterior_marginals,
    soft_occupancy,
)
from irlax.mdp.planning import NotConvergedWarning, Plan, soft_value_iteration, value_iteration
from irlax.mdp.sampling import log_likelihood, sample_trajectories

__all__ = [
    "NotConvergedWarning",
    "Plan",
    "TabularMDP",
    "empirical_occupancy",
    "feature_expectations",
    "log_likelihood",
    "occupancy",
    "posterior_marginals",
    "sample_trajectories",
    "soft_occupancy",
    "soft_value_iteration",
    "value_iteration",
]
