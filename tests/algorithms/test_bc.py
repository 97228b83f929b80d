"""Tabular behaviour cloning: smoothed counting."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.algorithms import bc
from irlax.algorithms.bc import BCConfig
from irlax.data import Trajectories
from irlax.envs import gridworld
from irlax.mdp import (
    log_likelihood,
    occupancy,
    sample_trajectories,
    soft_value_iteration,
    value_iteration,
)
from tests.algorithms.helpers import reach_probability, trajectories

WORLD = gridworld(3, 3, horizon=None, discount=0.9, goal=(2, 2), features="onehot")


# Padding (past each length) must not count: its actions are deliberately unusual.
DEMOS = trajectories(
    [[0, 1, 2, 5, 8], [0, 3, 4, 4, 4], [3, 4, 5, 8, 8]],
    [[3, 3, 1, 1], [1, 3, 4, 4], [3, 3, 1, 2]],
    lengths=[4, 2, 3],
)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 1.0])
def test_equals_counting_by_hand(smoothing):
    counts = np.zeros((9, 5))
    obs, act, lengths = (np.asarray(x) for x in (DEMOS.observations, DEMOS.actions, DEMOS.lengths))
    for i in range(obs.shape[0]):
        for t in range(lengths[i]):
            counts[obs[i, t], act[i, t]] += 1
    expected = np.full((9, 5), 0.2)
    seen = counts.sum(1) > 0
    expected[seen] = (counts[seen] + smoothing) / (
        counts[seen].sum(1, keepdims=True) + 5 * smoothing
    )
    res = bc.fit(WORLD, DEMOS, key=jax.random.key(0), smoothing=smoothing)
    np.testing.assert_allclose(res.plan.policy, expected, atol=1e-12)
    np.testing.assert_allclose(res.info["counts"], counts)
    np.testing.assert_array_equal(res.info["visited"], seen)
    with np.errstate(divide="ignore"):  # smoothing 0: undemonstrated actions get log 0
        np.testing.assert_allclose(res.reward, np.log(expected), atol=1e-12)
    np.testing.assert_array_equal(res.params, res.reward)
    # history: the mean negative log-likelihood per demonstrated step.
    nll = -np.sum(log_likelihood(WORLD, res.plan.log_policy, DEMOS)) / lengths.sum()
    np.testing.assert_allclose(res.metrics["nll"], [nll], rtol=1e-12)
    # The plan is the myopic soft-optimal agent of that reward: v = logsumexp q = 0.
    np.testing.assert_allclose(jax.nn.logsumexp(res.plan.q, axis=-1), res.plan.v, atol=1e-12)
    np.testing.assert_array_equal(res.plan.v, 0.0)


def test_smoothing_tends_to_uniform_and_zero_is_maximum_likelihood():
    huge = bc.fit(WORLD, DEMOS, key=jax.random.key(0), smoothing=1e12)
    np.testing.assert_allclose(huge.plan.policy, 0.2, atol=1e-10)
    mle = bc.fit(WORLD, DEMOS, key=jax.random.key(0), smoothing=0.0)
    # State 0 saw actions 3 and 1 (once each): the likelihood's maximiser is 1/2, 1/2.
    np.testing.assert_allclose(mle.plan.policy[0], [0, 0.5, 0, 0.5, 0], atol=1e-12)
    # No other table gives the demos a higher likelihood.
    best = np.sum(log_likelihood(WORLD, mle.plan.log_policy, DEMOS))
    for smoothing in (0.01, 0.1, 1.0):
        res = bc.fit(WORLD, DEMOS, key=jax.random.key(0), smoothing=smoothing)
        assert np.sum(log_likelihood(WORLD, res.plan.log_policy, DEMOS)) < best


@pytest.mark.parametrize("horizon", [None, 6])
def test_exact_occupancy_recovers_the_expert_policy(horizon):
    """Infinitely many demos: π(a|s) = d(s, a) / d(s) wherever the expert goes."""
    mdp = gridworld(3, 3, horizon=horizon, discount=0.9, goal=(2, 2), features="onehot")
    reward = np.random.default_rng(0).normal(size=(9, 5))
    expert = soft_value_iteration(mdp, reward)
    stationary = expert.log_policy if horizon is None else expert.log_policy[0]
    if horizon is not None:  # a stationary expert, for the stationary clone to recover it
        expert = dataclasses.replace(expert, log_policy=jnp.broadcast_to(stationary, (6, 9, 5)))
    res = bc.fit(mdp, occupancy(mdp, expert.log_policy), key=jax.random.key(0))
    live = ~np.asarray(mdp.terminal)
    np.testing.assert_allclose(res.plan.policy[..., live, :], expert.policy[..., live, :])
    assert res.plan.log_policy.shape == expert.log_policy.shape
    np.testing.assert_allclose(res.reward[live], np.asarray(stationary)[live], atol=1e-12)
    np.testing.assert_allclose(res.reward[~live], np.log(0.2))  # never acted in: uniform


def test_cloned_policy_reaches_the_goal():
    """Demos of a shortest-path expert from every cell: the clone reaches the goal."""
    expert = value_iteration(WORLD, -np.ones(9))
    demos = sample_trajectories(WORLD, expert.log_policy, 100, jax.random.key(1), length=6)
    res = bc.fit(WORLD, demos, key=jax.random.key(0))
    live = ~np.asarray(WORLD.terminal)
    assert bool(np.all(res.info["visited"][live]))
    assert reach_probability(WORLD, res.plan.log_policy, 30)[live].min() > 0.99


def test_vmap_over_keys_and_demos_equals_a_loop():
    keys = jax.random.split(jax.random.key(0), 2)
    obs = jnp.stack([DEMOS.observations, DEMOS.observations[::-1]])
    act = jnp.stack([DEMOS.actions, DEMOS.actions[::-1]])
    lengths = jnp.stack([DEMOS.lengths, DEMOS.lengths[::-1]])

    def fit(key, o, a, n):
        return bc.fit(WORLD, Trajectories(o, a, n), key=key)

    batched = jax.vmap(fit)(keys, obs, act, lengths)
    for i in range(2):
        one = fit(keys[i], obs[i], act[i], lengths[i])
        np.testing.assert_allclose(batched.reward[i], one.reward, atol=1e-12)
        np.testing.assert_allclose(batched.metrics["nll"][i], one.metrics["nll"], atol=1e-12)


def test_float32_by_default():
    with jax.enable_x64(False):
        world = gridworld(3, 3, horizon=None, discount=0.9, goal=(2, 2))
        res = bc.fit(world, DEMOS, key=jax.random.key(0))
        assert res.reward.dtype == jnp.float32
        assert res.plan.log_policy.dtype == jnp.float32
        np.testing.assert_allclose(res.plan.policy.sum(-1), 1.0, atol=1e-6)


@pytest.mark.parametrize(
    ("demos", "match"),
    [
        (trajectories([[0, 1, 99]], [[0, 1]]), "observations"),
        (trajectories([[0, 1, 2]], [[0, 7]]), "actions"),
        (trajectories([[0, -1, 2]], [[0, 1]]), "observations"),
        (trajectories(np.zeros((0, 3)), np.zeros((0, 2))), "empty"),
        (trajectories([[0, 1]], [[3]], lengths=[0]), "empty"),
        (jnp.ones((9, 4)), "shape"),
        (jnp.full((9, 5), jnp.nan), "finite"),
        (jnp.zeros((9, 5)), "zero"),
    ],
)
def test_bad_demos_raise(demos, match):
    with pytest.raises(ValueError, match=match):
        bc.fit(WORLD, demos, key=jax.random.key(0))


def test_bad_options_and_config_raise():
    with pytest.raises(ValueError, match="unknown option"):
        bc.fit(WORLD, DEMOS, key=jax.random.key(0), temperature=1.0)
    with pytest.raises(ValueError, match="smoothing"):
        bc.fit(WORLD, DEMOS, key=jax.random.key(0), smoothing=-0.1)
    for value in (float("nan"), float("inf"), "1", True):  # inf made every probability NaN
        with pytest.raises(ValueError, match="smoothing must be a finite number >= 0"):
            BCConfig(smoothing=value)
    with pytest.raises(ValueError, match="config"):
        bc.fit(WORLD, DEMOS, key=jax.random.key(0), config={"smoothing": 1.0})
