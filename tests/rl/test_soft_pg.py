"""Soft policy gradient: the soft-optimal objective on a tabular MDP, the exact soft-optimal
Gaussian on a quadratic bandit, the reward hook, hygiene.

The learning tests run in float32 (`jax.enable_x64(False)`), the library's default and its
fast path; the exact answers come from `irlax.mdp` in float64.
"""

from __future__ import annotations

import math

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct
from gymnax.environments import spaces
from gymnax.environments.environment import EnvParams

from irlax.envs import Env, TabularEnv
from irlax.mdp import occupancy
from irlax.rl.soft_pg import (
    SoftPGConfig,
    make_policy,
    make_train,
    make_trainer,
)
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

# The oracle MDP (tests/rl/oracle.py); episodes are also cut after 5 actions (a truncation to
# bootstrap through).
TIME_LIMIT = 5

# A tabular softmax policy and value (linear in the one-hot state), one gradient step per
# on-policy batch of 16 x 16 steps, a decaying step size.
TABULAR = SoftPGConfig(
    total_steps=128_000,
    num_envs=16,
    rollout_length=16,
    learning_rate=0.1,
    anneal_lr=True,
    max_grad_norm=None,
    discount=DISCOUNT,
    temperature=TEMPERATURE,
    gae_lambda=0.95,
    hidden=(),
)
# Stated tolerances: the learned policy's exact soft return falls short of the soft-optimal one
# by less than GAP_TOLERANCE of the gap between the soft-optimal and the uniform policy (a
# learner that treats truncation as termination falls short by 0.14), and its total variation
# from the soft-optimal policy is below TV_TOLERANCE in every live state.
GAP_TOLERANCE, TV_TOLERANCE = 0.002, 0.03


def _soft_return(mdp, reward, log_policy):
    """`E[Σ_t γ^t (r(s_t, a_t) − τ log π(a_t|s_t))]` from the start distribution, exactly:
    the discounted occupancy of the policy against the soft reward."""
    log_policy = jnp.asarray(log_policy, jnp.float64)
    d = occupancy(mdp, log_policy, tol=1e-12)
    return float(jnp.sum(d * (reward - TEMPERATURE * log_policy)))


def _learned_log_policy(config, env, params):
    with jax.enable_x64(False):
        policy = make_policy(config, env)
        obs = jnp.repeat(jnp.eye(N_STATES), N_ACTIONS, axis=0)
        actions = jnp.tile(jnp.arange(N_ACTIONS), N_STATES)
        log_pi = policy.log_prob(params["actor"], obs, actions)
    return np.asarray(log_pi, np.float64).reshape(N_STATES, N_ACTIONS)


@pytest.fixture(scope="module")
def tabular_runs():
    """The env pays nothing; the reward `table[s, a] + bonus[s']` comes only through
    `reward_fn`. Two seeds, a repeat of the first, and the two seeds under one `jax.vmap`."""
    with jax.enable_x64(False):
        mdp = oracle_mdp(False)
        env = TabularEnv(mdp, jnp.zeros(N_STATES), time_limit=TIME_LIMIT)
        params = {
            "table": jnp.asarray(oracle_reward(), jnp.float32),
            "bonus": jnp.asarray(next_state_bonus(mdp), jnp.float32),
        }
        train = jax.jit(make_train(TABULAR, env, reward_fn=hooked_reward))
        keys = jax.random.split(jax.random.PRNGKey(0), 2)
        runs = [train(k, params) for k in keys]
        again = train(keys[0], params)
        cache_size = train._cache_size()
        batched = jax.jit(jax.vmap(train, in_axes=(0, None)))(keys, params)
    return {
        "env": env,
        "runs": runs,
        "again": again,
        "cache_size": cache_size,
        "batched": batched,
    }


def test_reaches_the_soft_optimal_objective(tabular_runs):
    """Both seeds' policies, evaluated exactly, are within GAP_TOLERANCE of the soft-optimal
    return `Σ_s init(s) V*(s)`, and within TV_TOLERANCE of the soft-optimal policy.

    The objective is the entropy bonus `τ·H` per step, whose optimum is soft value
    iteration's (plain soft maximum). `r̄(s, a) = table[s, a] + E[bonus(s')]` is the expected
    hooked reward: the env itself pays 0, so matching it proves the hook is used, with the
    pre-reset next observation (the bonus is largest on the terminal state).
    """
    mdp = oracle_mdp(True)
    reward = expected_hooked_reward(mdp, oracle_reward(), next_state_bonus(mdp))
    plan = soft_optimal(reward)
    best = float(jnp.dot(mdp.init, plan.v))
    uniform = _soft_return(mdp, reward, np.full((N_STATES, N_ACTIONS), -np.log(N_ACTIONS)))
    # The exact tools agree with each other: the soft-optimal policy's return is V*.
    assert _soft_return(mdp, reward, plan.log_policy) == pytest.approx(best, abs=1e-8)
    assert best - uniform > 0.5  # room to fail
    live = ~np.asarray(mdp.terminal)
    for result in tabular_runs["runs"]:
        log_policy = _learned_log_policy(TABULAR, tabular_runs["env"], result.params)
        learned = _soft_return(mdp, reward, log_policy)
        assert learned <= best + 1e-6
        assert best - learned < GAP_TOLERANCE * (best - uniform), (best, learned, uniform)
        tv = 0.5 * np.abs(np.exp(log_policy) - np.asarray(plan.policy)).sum(-1)[live].max()
        assert tv < TV_TOLERANCE, (tv, np.exp(log_policy), plan.policy)


def test_same_key_same_result_and_no_recompilation(tabular_runs):
    first, again = tabular_runs["runs"][0], tabular_runs["again"]
    for a, b in zip(jax.tree.leaves(first.params), jax.tree.leaves(again.params), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first.metrics["value_loss"], again.metrics["value_loss"])
    assert tabular_runs["cache_size"] == 1
    other = tabular_runs["runs"][1]  # different seeds differ
    assert not np.array_equal(first.metrics["value_loss"], other.metrics["value_loss"])


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


def test_metrics_count_steps(tabular_runs):
    metrics = tabular_runs["runs"][0].metrics
    n_updates = TABULAR.total_steps // (TABULAR.num_envs * TABULAR.rollout_length)
    assert metrics["env_steps"].shape == (n_updates,)
    assert int(metrics["env_steps"][-1]) == TABULAR.total_steps
    # The env pays nothing, so the logged (env) episode return is 0 once episodes end.
    assert np.all(np.asarray(metrics["episode_return"])[1:] == 0.0)


# A one-step continuous bandit: observe a one-hot context s of 2, act a ∈ [-3, 3], receive
# r = −(a − c_s)²/2 and stop. The soft-optimal policy is π*(a|s) ∝ exp(r/τ) = N(c_s, τ): a
# Gaussian, so the Gaussian actor can represent it exactly, and at it the soft reward
# r − τ log π*(a|s) is the same for every a (zero-variance gradient at the optimum).
BANDIT_TARGETS = (-0.5, 0.8)


@struct.dataclass
class BanditState:
    context: jnp.ndarray
    time: jnp.ndarray


class QuadraticBandit(Env):
    """The one-step bandit above (reward through the env, not a hook)."""

    @property
    def default_params(self):
        return EnvParams(max_steps_in_episode=1)

    def reset_env(self, key, params):
        state = BanditState(context=jax.random.randint(key, (), 0, 2), time=jnp.int32(0))
        return self.get_obs(state), state

    def get_obs(self, state, params=None, key=None):
        return jax.nn.one_hot(state.context, 2, dtype=jnp.float32)

    def step_env(self, key, state, action, params):
        target = jnp.asarray(BANDIT_TARGETS)[state.context]
        reward = -0.5 * jnp.sum((action - target) ** 2)
        state = BanditState(context=state.context, time=state.time + 1)
        return self.get_obs(state), state, reward, jnp.array(True), {}

    def action_space(self, params=None):
        return spaces.Box(-3.0, 3.0, (1,), jnp.float32)

    def observation_space(self, params=None):
        return spaces.Box(0.0, 1.0, (2,), jnp.float32)


def test_gaussian_policy_reaches_the_soft_optimal_gaussian():
    """On the quadratic bandit with τ = 0.1, the learned Gaussian is N(c_s, τ): means within
    0.01 of c_s and standard deviation within 1% of √τ; the logged soft reward is then the
    soft-optimal value τ·log √(2πτ)."""
    temperature = 0.1
    config = SoftPGConfig(
        total_steps=64_000,
        num_envs=64,
        rollout_length=1,
        learning_rate=0.05,
        anneal_lr=True,
        max_grad_norm=None,
        temperature=temperature,
        hidden=(),
    )
    with jax.enable_x64(False):
        env = QuadraticBandit()
        result = jax.jit(make_train(config, env))(jax.random.PRNGKey(0))
        means = make_policy(config, env).mode(result.params["actor"], jnp.eye(2))
        action = result.policy(jnp.eye(2)[0], jax.random.PRNGKey(1))
    np.testing.assert_allclose(np.asarray(means)[:, 0], BANDIT_TARGETS, atol=0.01)
    std = float(np.exp(result.params["actor"]["log_std"][0]))
    assert std == pytest.approx(math.sqrt(temperature), rel=0.01)
    optimum = temperature * math.log(math.sqrt(2 * math.pi * temperature))
    assert float(result.metrics["soft_reward"][-1]) == pytest.approx(optimum, abs=1e-3)
    assert action.shape == (1,) and -3.0 <= float(action[0]) <= 3.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("total_steps", 0),
        ("num_envs", 1.5),
        ("rollout_length", False),
        ("learning_rate", 0.0),
        ("max_grad_norm", -1.0),
        ("discount", -0.1),
        ("temperature", -1.0),
        ("temperature", float("inf")),
        ("gae_lambda", 1.5),
        ("value_coef", -1.0),
        ("init_log_std", float("nan")),
        ("hidden", (0,)),
    ],
)
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        SoftPGConfig(**{field: value})


def test_budget_smaller_than_one_update_is_refused():
    with pytest.raises(ValueError, match="total_steps"):
        SoftPGConfig(total_steps=10, num_envs=4, rollout_length=4)


def test_wrong_config_type_is_refused():
    env, env_params = gymnax.make("CartPole-v1")
    with pytest.raises(ValueError, match="SoftPGConfig"):
        make_trainer(object(), env, env_params)
