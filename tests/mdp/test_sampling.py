"""Sampling agrees with occupancy; likelihoods agree with the policy and the dynamics."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.data import Trajectories
from irlax.envs import gridworld, random_mdp
from irlax.mdp import (
    TabularMDP,
    empirical_occupancy,
    log_likelihood,
    occupancy,
    sample_trajectories,
    soft_value_iteration,
)
from tests.mdp import reference

MDP = random_mdp(jax.random.key(0), 6, 3, 3, horizon=5, n_terminal=1)
PLAN = soft_value_iteration(MDP, np.linspace(-1, 1, 6), temperature=0.5)


def test_sampling_frequencies_agree_with_occupancy():
    n = 40_000
    demos = sample_trajectories(MDP, PLAN.log_policy, n, jax.random.key(1))
    freq = np.asarray(empirical_occupancy(MDP, demos))
    exact = np.asarray(occupancy(MDP, PLAN.log_policy))
    # Each entry is a mean of n Bernoulli draws: allow 5 standard errors.
    se = np.sqrt(exact * (1 - exact) / n)
    assert np.all(np.abs(freq - exact) <= 5 * se + 1e-12)
    # Episodes stop exactly when they enter a terminal state.
    obs, lengths = np.asarray(demos.observations), np.asarray(demos.lengths)
    term = np.asarray(MDP.terminal)
    for i in range(200):
        hits = np.flatnonzero(term[obs[i]])
        assert lengths[i] == (hits[0] if hits.size else 5)


def test_stationary_policy_and_infinite_horizon_sampling():
    mdp = gridworld(3, 3, slip=0.2, horizon=None, discount=0.9)
    plan = soft_value_iteration(mdp, np.arange(9.0))
    n = 20_000
    demos = sample_trajectories(mdp, plan.log_policy, n, jax.random.key(2), length=30)
    freq = np.asarray(empirical_occupancy(mdp, demos))  # Σ_{t<30} γ^t, averaged
    # The exact truncated sum: the same policy over a 30-step horizon, discounted by step.
    per_step = np.asarray(occupancy(mdp.replace(horizon=30), plan.log_policy))
    exact = np.tensordot(0.9 ** np.arange(30), per_step, axes=1)
    # Each trajectory contributes at most Σ γ^t < 10 to an entry: 5 standard errors.
    assert np.all(np.abs(freq - exact) <= 5 * np.sqrt(10 * exact / n) + 1e-9)
    assert demos.observations.shape == (n, 31)


def test_same_key_same_trajectories():
    a = sample_trajectories(MDP, PLAN.log_policy, 50, jax.random.key(3))
    b = sample_trajectories(MDP, PLAN.log_policy, 50, jax.random.key(3))
    c = sample_trajectories(MDP, PLAN.log_policy, 50, jax.random.key(4))
    np.testing.assert_array_equal(a.observations, b.observations)
    np.testing.assert_array_equal(a.actions, b.actions)
    assert not np.array_equal(a.actions, c.actions)


def test_likelihood_is_path_probability():
    """With dynamics, exp(log-likelihood) of every possible path sums to 1 (enumeration)."""
    T = np.asarray(MDP.dense_transitions())
    pi = np.asarray(PLAN.policy)
    paths = list(reference.paths(T, np.asarray(MDP.init), np.asarray(MDP.terminal), 5))
    obs = np.array([list(s) + [s[-1]] * (6 - len(s)) for s, _, _ in paths])
    act = np.array([list(a) + [0] * (5 - len(a)) for _, a, _ in paths])
    lengths = np.array([len(a) for _, a, _ in paths])
    demos = Trajectories(observations=obs, actions=act, lengths=lengths)
    ll = np.asarray(log_likelihood(MDP, PLAN.log_policy, demos, include_dynamics=True))
    assert np.exp(ll).sum() == pytest.approx(1.0, abs=1e-12)
    policy_only = np.asarray(log_likelihood(MDP, PLAN.log_policy, demos))
    for i in (0, len(paths) // 2, len(paths) - 1):
        s, a, p_dyn = paths[i]
        by_hand = sum(np.log(pi[t, s[t], a[t]]) for t in range(len(a)))
        assert policy_only[i] == pytest.approx(by_hand, abs=1e-12)
        assert ll[i] == pytest.approx(by_hand + np.log(p_dyn), abs=1e-12)


def test_likelihood_adds_duplicate_successors():
    mdp = TabularMDP.from_successors(
        np.array([[[1, 1]], [[1, 1]]]), np.full((2, 1, 2), 0.5), np.array([1.0, 0.0]), horizon=1
    )
    demos = Trajectories(np.array([[0, 1]]), np.array([[0]]), np.array([1]))
    ll = log_likelihood(mdp, jnp.zeros((1, 2, 1)), demos, include_dynamics=True)
    assert float(ll[0]) == pytest.approx(0.0)


def test_bad_sampling_input():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="length is required"):
        sample_trajectories(
            random_mdp(key, 3, 2, 2, discount=0.9), jnp.full((3, 2), -np.log(2)), 2, key
        )
    with pytest.raises(ValueError, match="exceeds"):
        sample_trajectories(MDP, PLAN.log_policy, 2, key, length=6)
    with pytest.raises(ValueError, match="n must be"):
        sample_trajectories(MDP, PLAN.log_policy, 0, key)
    with pytest.raises(ValueError, match="log_policy must have shape"):
        sample_trajectories(MDP, jnp.zeros((5, 6, 2)), 2, key)
    bad = Trajectories(np.array([[0, 9]]), np.array([[0]]), np.array([1]))
    with pytest.raises(ValueError, match="observations must lie"):
        log_likelihood(MDP, PLAN.log_policy, bad)
    bad = Trajectories(np.array([[0, 1]]), np.array([[3]]), np.array([1]))
    with pytest.raises(ValueError, match="actions must lie"):
        log_likelihood(MDP, PLAN.log_policy, bad)
    bad = Trajectories(np.zeros((1, 7), int), np.zeros((1, 6), int), np.array([6]))
    with pytest.raises(ValueError, match="more than the horizon"):
        log_likelihood(MDP, PLAN.log_policy, bad)
    bad = Trajectories(np.zeros((1, 2)), np.zeros((1, 1), int), np.array([1]))
    with pytest.raises(ValueError, match="integer indices"):
        empirical_occupancy(MDP, bad)


def test_an_integer_key_is_refused_by_name():
    mdp = gridworld(2, 2, horizon=3)
    log_pi = soft_value_iteration(mdp, jnp.zeros(4)).log_policy
    with pytest.raises(ValueError, match="key must be a JAX PRNG key"):
        sample_trajectories(mdp, log_pi, 2, 0)
