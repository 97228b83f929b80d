"""Bad demos stay an error when a tabular fit is vmapped over a stack of demo sets."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.algorithms import maxent
from irlax.data import Trajectories
from irlax.envs import gridworld
from irlax.mdp import sample_trajectories, soft_value_iteration
from irlax.mdp.checks import check_tabular_trajectories

KEY = jax.random.key(0)
MDP = gridworld(3, 3, horizon=4, features="coordinates")  # 5 actions


def _demo_sets():
    """Three demo sets of one shape; the middle one takes action 7 at trajectory 2, step 1."""
    plan = soft_value_iteration(MDP, MDP.features @ jnp.array([1.0, -1.0]))
    sets = [sample_trajectories(MDP, plan.log_policy, 4, k) for k in jax.random.split(KEY, 3)]
    assert int(sets[1].lengths[2]) > 1  # the bad action is a step really taken
    bad = Trajectories(sets[1].observations, sets[1].actions.at[2, 1].set(7), sets[1].lengths)
    return sets, Trajectories.stack([sets[0], bad, sets[2]])


def _theta(demos):
    return maxent.fit(MDP, demos, key=KEY, steps=3).info["theta"]


def test_vmapped_fit_over_demo_sets_refuses_an_out_of_range_action():
    _, stacked = _demo_sets()
    with pytest.raises(ValueError, match=r"actions must lie in \[0, A=5\), got 7 at trajectory 2"):
        jax.vmap(_theta)(stacked)


def test_the_stack_is_checked_before_a_jitted_vmap_naming_the_set():
    """Under jit the check is staged: the stack is checked first, and an unchecked bad set's
    fit is NaN (documented) while the other sets' fits are unchanged."""
    sets, stacked = _demo_sets()
    with pytest.raises(ValueError, match=r"got 7 at demo set 1, trajectory 2, step 1"):
        check_tabular_trajectories(MDP, stacked)
    thetas = np.asarray(jax.jit(jax.vmap(_theta))(stacked))
    assert np.isnan(thetas[1]).all()
    for i in (0, 2):
        np.testing.assert_allclose(thetas[i], _theta(sets[i]), atol=1e-10)
