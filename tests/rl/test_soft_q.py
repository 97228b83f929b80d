"""Soft Q-learning: the exact soft Q of a tabular MDP, the reward hook, CartPole, hygiene.

The learning tests run in float32 (`jax.enable_x64(False)`), the library's default and its
fast path; the exact answers come from `soft_value_iteration` in float64.
"""

from __future__ import annotations

import dataclasses

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.envs import TabularEnv
from irlax.mdp import occupancy, soft_value_iteration
from irlax.rl.soft_q import SoftQConfig, make_train, make_trainer
from tests.rl.oracle import (
    DISCOUNT,
    N_ACTIONS,
    N_STATES,
    TEMPERATURE,
    expected_hooked_reward,
    hooked_reward,
    next_state_bonus,
    oracle_mdp,
    oracle_reward,
    soft_optimal,
)

# The oracle MDP (tests/rl/oracle.py). Episodes are also cut after 5 actions, a truncation the
# learner must bootstrap through (while entering the terminal state must not be bootstrapped);
# a learner that treated the cut as terminal misses Q* by more than the tolerance below.
TIME_LIMIT = 5

# Tabular soft Q-learning: Q linear in the one-hot state (hidden=()), uniform exploration
# (epsilon=1: off-policy, so coverage without changing the answer), a decaying step size.
TABULAR = SoftQConfig(
    total_steps=128_000,
    num_envs=16,
    rollout_length=4,
    gradient_steps=4,
    batch_size=256,
    buffer_size=128_000,
    learning_starts=1_000,
    learning_rate=0.05,
    anneal_lr=True,
    discount=DISCOUNT,
    temperature=TEMPERATURE,
    epsilon=1.0,
    target_update="copy",
    target_period=50,
    hidden=(),
)
# Stated tolerances: the largest error of Q over live states, as a fraction of the range of
# Q*, and the largest total variation between the Boltzmann policy and the exact one.
Q_TOLERANCE, TV_TOLERANCE = 0.02, 0.02


def _learned_q(result):
    with jax.enable_x64(False):
        return np.asarray(jax.vmap(result.q_values)(jnp.eye(N_STATES)), np.float64)


def _check_exact(q, q_exact, pi_exact, live):
    """Max |Q − Q*| over live states within Q_TOLERANCE of the range of Q*; policy TV within
    TV_TOLERANCE. Returns the two errors."""
    q_range = q_exact[live].max() - q_exact[live].min()
    q_error = np.abs(q - q_exact)[live].max()
    pi = np.exp(q / TEMPERATURE - np.log(np.exp(q / TEMPERATURE).sum(-1, keepdims=True)))
    tv = 0.5 * np.abs(pi - pi_exact).sum(-1)[live].max()
    assert q_error < Q_TOLERANCE * q_range, (q_error, q_range, q, q_exact)
    assert tv < TV_TOLERANCE, (tv, pi, pi_exact)
    return q_error, tv


@pytest.fixture(scope="module")
def tabular_runs():
    """Default config (entropy bonus τ·H, no prior), env reward: two seeds, a repeat of the
    first, and the two seeds under one `jax.vmap`."""
    with jax.enable_x64(False):
        env = TabularEnv(
            oracle_mdp(False), oracle_reward(), observation="onehot", time_limit=TIME_LIMIT
        )
        train = jax.jit(make_train(TABULAR, env))
        keys = jax.random.split(jax.random.PRNGKey(0), 2)
        runs = [train(k) for k in keys]
        again = train(keys[0])
        cache_size = train._cache_size()
        batched = jax.jit(jax.vmap(train))(keys)
    return {"runs": runs, "again": again, "cache_size": cache_size, "batched": batched}


def test_converges_to_soft_value_iteration(tabular_runs):
    """Both seeds reach the exact soft Q and policy (expected backup, plain soft maximum: the
    defaults of `soft_value_iteration`) to the stated tolerance."""
    mdp, reward = oracle_mdp(True), oracle_reward()
    plan = soft_optimal(reward)
    q_exact, pi_exact = np.asarray(plan.q), np.asarray(plan.policy)
    live = ~np.asarray(mdp.terminal)
    for result in tabular_runs["runs"]:
        _check_exact(_learned_q(result), q_exact, pi_exact, live)
    # The test can fail: the soft maximum with a uniform action prior (a living cost of
    # τ·log A per step) is off by far more.
    uniform = np.full(N_ACTIONS, 1 / N_ACTIONS)
    wrong = np.asarray(
        soft_value_iteration(mdp, reward, temperature=TEMPERATURE, action_prior=uniform).q
    )
    q = _learned_q(tabular_runs["runs"][0])
    assert np.abs(q - wrong)[live].max() > 10 * Q_TOLERANCE * np.ptp(q_exact[live])


def test_metrics_and_steps(tabular_runs):
    """The step count is the config's budget; the logged episode return is the undiscounted
    return of the behaviour policy (uniform here) in episodes cut at 5 actions, whose exact
    expectation the finite-horizon occupancy gives; the loss is logged once learning starts."""
    metrics = tabular_runs["runs"][0].metrics
    n_updates = TABULAR.total_steps // (TABULAR.num_envs * TABULAR.rollout_length)
    assert metrics["env_steps"].shape == (n_updates,)
    assert int(metrics["env_steps"][-1]) == TABULAR.total_steps
    episodic = oracle_mdp(True).replace(horizon=TIME_LIMIT, discount=1.0)
    uniform = jnp.full((N_STATES, N_ACTIONS), -np.log(N_ACTIONS))
    exact_return = float(jnp.sum(occupancy(episodic, uniform) * oracle_reward()))
    logged = np.asarray(metrics["episode_return"])[100:]
    # Standard error about 0.03 (thousands of episodes); a wrong bookkeeping is off by ~1.
    assert abs(logged.mean() - exact_return) < 0.15, (logged.mean(), exact_return)
    # Learning starts once the buffer holds 1000 transitions (16 updates of 64).
    assert np.isnan(metrics["loss"][:15]).all() and np.isfinite(metrics["loss"][15:]).all()


def test_same_key_same_result_and_no_recompilation(tabular_runs):
    first, again = tabular_runs["runs"][0], tabular_runs["again"]
    for a, b in zip(jax.tree.leaves(first.params), jax.tree.leaves(again.params), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first.metrics["loss"], again.metrics["loss"])
    assert tabular_runs["cache_size"] == 1
    # Different seeds differ (the comparison above could not pass by accident).
    other = tabular_runs["runs"][1]
    assert not np.array_equal(first.metrics["loss"], other.metrics["loss"])


def test_vmap_over_seeds_equals_a_loop(tabular_runs):
    batched = tabular_runs["batched"]
    for i, single in enumerate(tabular_runs["runs"]):
        for a, b in zip(
            jax.tree.leaves(single.params), jax.tree.leaves(batched.params), strict=True
        ):
            np.testing.assert_allclose(a, b[i], rtol=1e-4, atol=1e-5)
        for name in ("episode_return", "env_steps"):
            np.testing.assert_allclose(
                single.metrics[name], batched.metrics[name][i], rtol=1e-5, equal_nan=True
            )


def test_reward_fn_hook_matches_soft_value_iteration_exactly():
    """The env pays nothing; the reward comes only through `reward_fn`, as `table[s, a] +
    bonus[s']`, whose expectation is `r̄(s, a) = table[s, a] + E[bonus(s')]`. The default soft
    Q-learning's Q is then `soft_value_iteration(mdp, r̄).q` itself (default arguments: the
    plain soft maximum). The bonus is largest on the terminal state, so an implementation that
    handed `reward_fn` the observation after the automatic reset would miss it. Polyak target
    updates here."""
    mdp64 = oracle_mdp(True)
    table, bonus = oracle_reward(), next_state_bonus(mdp64)
    plan = soft_optimal(expected_hooked_reward(mdp64, table, bonus))
    live = ~np.asarray(mdp64.terminal)
    config = dataclasses.replace(TABULAR, target_update="polyak", tau=0.05, target_period=1)
    with jax.enable_x64(False):
        env = TabularEnv(oracle_mdp(False), jnp.zeros(N_STATES), time_limit=TIME_LIMIT)
        train = jax.jit(make_train(config, env, reward_fn=hooked_reward))
        params = {"table": jnp.asarray(table, jnp.float32), "bonus": jnp.asarray(bonus)}
        result = train(jax.random.PRNGKey(1), params)
    q = _learned_q(result)
    _check_exact(q, np.asarray(plan.q), np.asarray(plan.policy), live)
    # What the env alone pays (nothing) would give a very different Q.
    zero = np.asarray(soft_value_iteration(mdp64, np.zeros(N_STATES), temperature=0.5).q)
    assert np.abs(q - zero)[live].max() > 1.0


def test_learns_cartpole():
    """CartPole-v1 (reward 1 per step, at most 500): within 50k env steps, the mean return of
    the last 1000 updates (4000 steps) exceeds 120 (a uniformly random policy gets ~22; seeds
    0-3 reach 187-244 here).
    Huber loss and periodic target copies."""
    env, env_params = gymnax.make("CartPole-v1")
    config = SoftQConfig(
        total_steps=50_000,
        num_envs=4,
        learning_rate=3e-3,
        target_period=250,
        temperature=0.1,
        loss="huber",
    )
    with jax.enable_x64(False):
        result = jax.jit(make_train(config, env, env_params))(jax.random.PRNGKey(0))
    returns = np.asarray(result.metrics["episode_return"])
    assert returns[-1000:].mean() > 120, returns[-1000:].mean()
    action = result.policy(jnp.zeros(4), jax.random.PRNGKey(0), deterministic=True)
    assert action.shape == () and 0 <= int(action) < 2


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("total_steps", 0),
        ("num_envs", 2.5),
        ("batch_size", True),
        ("learning_starts", 10**9),
        ("learning_rate", -1.0),
        ("max_grad_norm", 0.0),
        ("discount", 1.5),
        ("temperature", 0.0),
        ("temperature", float("nan")),
        ("epsilon", 2.0),
        ("target_update", "soft"),
        ("target_period", 0),
        ("tau", 0.0),
        ("loss", "l1"),
        ("hidden", (64, 0)),
        ("hidden", "64"),
    ],
)
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        SoftQConfig(**{field: value})


def test_budget_smaller_than_one_update_is_refused():
    with pytest.raises(ValueError, match="total_steps"):
        SoftQConfig(total_steps=3, num_envs=4)


def test_continuous_actions_and_wrong_config_are_refused():
    env, env_params = gymnax.make("Pendulum-v1")
    with pytest.raises(ValueError, match="discrete action space"):
        make_trainer(SoftQConfig(), env, env_params)
    cartpole, cartpole_params = gymnax.make("CartPole-v1")
    with pytest.raises(ValueError, match="SoftQConfig"):
        make_trainer(object(), cartpole, cartpole_params)
