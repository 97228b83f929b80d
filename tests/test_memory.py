"""A long-lived process fitting many small problems does not grow: nothing is compiled again
for a shape it has seen, and no cache keeps what each fit made."""

import resource
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from irlax.algorithms import bc, maxent
from irlax.envs import gridworld
from irlax.mdp import sample_trajectories, soft_value_iteration

STATM = Path("/proc/self/statm")


def _resident_mib() -> float:
    """This process's resident memory now (not its peak)."""
    return int(STATM.read_text().split()[1]) * resource.getpagesize() / 2**20


@pytest.mark.skipif(not STATM.exists(), reason="reads the resident size from /proc")
def test_504_fits_in_a_row_do_not_grow_memory_after_the_first_round():
    # Two shapes, new data for every fit: MaxEnt and tabular BC, 126 rounds of 2 worlds.
    sizes, rounds = (3, 4), 126
    worlds = [gridworld(n, n, slip=0.1, horizon=6, features="coordinates") for n in sizes]
    resident, compiled = [], []
    for r in range(rounds):
        theta = jnp.array([0.8, -0.6 + 0.01 * r])
        for i, mdp in enumerate(worlds):
            key = jax.random.key(2 * r + i)
            plan = soft_value_iteration(mdp, mdp.features @ theta)
            demos = sample_trajectories(mdp, plan.log_policy, 8, key)
            maxent.fit(mdp, demos, key=key, steps=10)
            bc.fit(mdp, demos, key=key)
        resident.append(_resident_mib())
        compiled.append(maxent._fit._cache_size())
    assert compiled[-1] == compiled[0]  # one program per shape, made in the first round
    assert resident[-1] <= 1.1 * resident[0], resident[:: rounds // 6]
