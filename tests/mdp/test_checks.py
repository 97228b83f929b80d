"""Checks on trajectories, log-policies and start distributions stay on under jax.vmap.

Before tracing a stack of demo sets is checked naming the set at fault; under an eager vmap a
bad member raises at once; under jit, where a check is off, bad indices give NaN rather than a
plausible number.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.data import Trajectories
from irlax.envs import random_mdp
from irlax.mdp import empirical_occupancy, log_likelihood, occupancy, soft_value_iteration
from irlax.mdp.checks import (
    check_distribution,
    check_log_policy,
    check_tabular_trajectories,
)

MDP = random_mdp(jax.random.key(0), 5, 3, 2, horizon=4)
PLAN = soft_value_iteration(MDP, np.linspace(-1, 1, 5))


def _set(actions, lengths=(3, 2), obs=None):
    """Two trajectories of 3 steps in MDP (padding past each length)."""
    obs = np.array([[0, 1, 2, 3], [4, 3, 2, 1]]) if obs is None else np.asarray(obs)
    return Trajectories(obs, np.asarray(actions), np.asarray(lengths))


GOOD = _set([[0, 1, 2], [2, 1, 9]])  # the 9 is padding (length 2) and is not checked
BAD_ACTION = _set([[0, 1, 2], [2, 7, 0]])
BAD_STATE = _set([[0, 1, 2], [2, 1, 0]], obs=[[0, 1, 2, 3], [4, 3, -1, 1]])


def test_one_set_is_checked_naming_trajectory_step_and_value():
    check_tabular_trajectories(MDP, GOOD)
    with pytest.raises(
        ValueError, match=r"actions must lie in \[0, A=3\), got 7 at trajectory 1, step 1$"
    ):
        check_tabular_trajectories(MDP, BAD_ACTION)
    with pytest.raises(
        ValueError, match=r"observations must lie in \[0, S=5\), got -1 at trajectory 1, step 2$"
    ):
        check_tabular_trajectories(MDP, BAD_STATE)
    with pytest.raises(ValueError, match="must be Trajectories"):
        check_tabular_trajectories(MDP, GOOD.actions)


def test_a_stack_of_sets_is_checked_before_vmap_naming_the_set():
    stacked = Trajectories.stack([GOOD, GOOD, BAD_ACTION])
    with pytest.raises(ValueError, match=r"got 7 at demo set 2, trajectory 1, step 1$"):
        check_tabular_trajectories(MDP, stacked)
    check_tabular_trajectories(MDP, Trajectories.stack([GOOD, GOOD]))
    with pytest.raises(ValueError, match=r"one set .* map over the stack with jax\.vmap"):
        empirical_occupancy(MDP, stacked)


def test_eager_vmap_over_demo_sets_raises_for_a_bad_member():
    stacked = Trajectories.stack([GOOD, BAD_ACTION])
    with pytest.raises(ValueError, match=r"actions must lie in \[0, A=3\), got 7 at trajectory 1"):
        jax.vmap(lambda d: empirical_occupancy(MDP, d))(stacked)
    with pytest.raises(ValueError, match=r"observations must lie in \[0, S=5\), got -1"):
        jax.vmap(lambda d: log_likelihood(MDP, PLAN.log_policy, d))(
            Trajectories.stack([BAD_STATE, GOOD])
        )
    good = jax.vmap(lambda d: empirical_occupancy(MDP, d))(Trajectories.stack([GOOD, GOOD]))
    np.testing.assert_array_equal(good[1], empirical_occupancy(MDP, GOOD))


def test_staged_without_checkify_bad_indices_poison_the_result():
    """Under jit a check is off unless checkified: the bad set's numbers are NaN, not plausible."""
    stacked = Trajectories.stack([GOOD, BAD_ACTION, BAD_STATE])
    d = jax.jit(jax.vmap(lambda t: empirical_occupancy(MDP, t)))(stacked)
    np.testing.assert_allclose(d[0], empirical_occupancy(MDP, GOOD), atol=1e-12)
    assert np.isnan(d[1]).any() and np.isnan(d[2]).any()
    ll = jax.jit(jax.vmap(lambda t: log_likelihood(MDP, PLAN.log_policy, t)))(stacked)
    np.testing.assert_allclose(ll[0], log_likelihood(MDP, PLAN.log_policy, GOOD), atol=1e-12)
    # Only the trajectory with the bad index is NaN.
    assert np.isnan(ll[1, 1]) and np.isnan(ll[2, 1])
    np.testing.assert_allclose(ll[1:, 0], ll[0, 0], atol=1e-12)


def test_log_policy_and_start_distribution_are_checked_under_vmap():
    probs = jnp.stack([PLAN.log_policy, PLAN.policy])  # the second holds probabilities
    with pytest.raises(ValueError, match="log_policy must hold log-probabilities"):
        jax.vmap(lambda lp: occupancy(MDP, lp))(probs)
    with pytest.raises(ValueError, match="log_policy must hold log-probabilities"):
        check_log_policy(MDP, PLAN.policy)
    inits = jnp.array([[0.2] * 5, [0.5] * 5])  # the second sums to 2.5
    with pytest.raises(ValueError, match=r"init must be a probability distribution .* sum 2.5"):
        jax.vmap(lambda mu: occupancy(MDP, PLAN.log_policy, init=mu))(inits)
    # A traced start distribution is renormalised like a concrete one.
    mu = np.array([0.1, 0.2, 0.3, 0.2, 0.2])
    np.testing.assert_allclose(
        jax.jit(lambda m: check_distribution("init", m, 5))(jnp.asarray(mu)),
        check_distribution("init", mu, 5),
        atol=1e-12,
    )
    with pytest.raises(ValueError, match=r"init must have shape \[S\] = \(5,\)"):
        jax.jit(lambda m: check_distribution("init", m, 5))(jnp.ones(4))
