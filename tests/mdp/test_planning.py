"""Soft and hard value iteration against an independent loop implementation and closed forms."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.envs import gridworld, random_mdp
from irlax.mdp import TabularMDP, occupancy, soft_value_iteration, value_iteration
from tests.mdp import reference


def _worlds():
    """Random stochastic MDPs with terminal states, in both successor layouts."""
    worlds = []
    for seed, (horizon, discount) in enumerate([(4, 1.0), (5, 0.9), (None, 0.8)]):
        m = random_mdp(
            jax.random.key(seed), 5, 3, 3, horizon=horizon, discount=discount, n_terminal=1
        )
        worlds.append(m)
        # The same dynamics rebuilt densely come back in the shared [S, 1, K] layout.
        shared = TabularMDP.from_dense(
            m.dense_transitions(), m.init, horizon=horizon, discount=discount, terminal=m.terminal
        )
        worlds.append(shared)
    return worlds


WORLDS = _worlds()


def test_worlds_cover_both_layouts():
    assert {m.next_states.shape[1] for m in WORLDS} == {1, 3}


@pytest.mark.parametrize("mdp", WORLDS, ids=lambda m: f"H={m.horizon},g={m.discount}")
@pytest.mark.parametrize("backup", ["expected", "optimistic"])
@pytest.mark.parametrize("tau", [1.0, 0.3])
@pytest.mark.parametrize("state_action", [False, True])
def test_soft_vi_matches_loop_reference(mdp, backup, tau, state_action):
    rng = np.random.default_rng(1)
    reward = rng.normal(size=(5, 3) if state_action else 5)
    plan = soft_value_iteration(mdp, reward, temperature=tau, backup=backup, tol=1e-12)
    r_sa = reward if state_action else np.broadcast_to(reward[:, None], (5, 3))
    q, v, pi = reference.soft_vi(
        np.asarray(mdp.dense_transitions()),
        r_sa,
        np.asarray(mdp.terminal),
        mdp.horizon,
        mdp.discount,
        tau,
        backup,
    )
    np.testing.assert_allclose(plan.q, q, atol=1e-9)
    np.testing.assert_allclose(plan.v, v, atol=1e-9)
    np.testing.assert_allclose(plan.policy, pi, atol=1e-9)


def test_action_prior_matches_reference_and_folds_into_reward():
    mdp = WORLDS[0]
    rng = np.random.default_rng(2)
    reward = rng.normal(size=(5, 3))
    prior = rng.dirichlet(np.ones(3), size=5)
    plan = soft_value_iteration(mdp, reward, action_prior=prior, temperature=0.5)
    _, v, pi = reference.soft_vi(
        np.asarray(mdp.dense_transitions()),
        reward,
        np.asarray(mdp.terminal),
        4,
        1.0,
        0.5,
        "expected",
        prior=prior,
    )
    np.testing.assert_allclose(plan.v, v, atol=1e-10)
    np.testing.assert_allclose(plan.policy, pi, atol=1e-10)
    # Levine 2018 §2.3: a prior is exactly a reward of τ log p(a|s) under the plain soft maximum.
    folded = soft_value_iteration(mdp, reward + 0.5 * np.log(prior), temperature=0.5)
    live = ~np.asarray(mdp.terminal)
    np.testing.assert_allclose(folded.v, plan.v, atol=1e-10)
    np.testing.assert_allclose(folded.policy[:, live], plan.policy[:, live], atol=1e-10)


@pytest.mark.parametrize(
    "mdp", WORLDS[:2] + WORLDS[4:], ids=["fin", "fin-shared", "disc", "disc-shared"]
)
def test_hard_vi_matches_reference(mdp):
    reward = np.random.default_rng(3).normal(size=(5, 3))
    plan = value_iteration(mdp, reward, tol=1e-12)
    q, v, pi = reference.soft_vi(
        np.asarray(mdp.dense_transitions()),
        reward,
        np.asarray(mdp.terminal),
        mdp.horizon,
        mdp.discount,
        1.0,
        "expected",
        hard=True,
    )
    np.testing.assert_allclose(plan.q, q, atol=1e-9)
    np.testing.assert_allclose(plan.v, v, atol=1e-9)
    np.testing.assert_allclose(plan.policy, pi, atol=1e-9)


def test_hard_vi_splits_ties_evenly():
    # From the centre of an open grid with a step cost, moving towards a goal in the corner
    # is equally good up or left: the greedy policy splits evenly between them.
    mdp = gridworld(3, 3, horizon=None, discount=0.9, goal=(0, 0))
    plan = value_iteration(mdp, -jnp.ones(9))
    np.testing.assert_allclose(plan.policy[4], [0.5, 0.0, 0.5, 0.0, 0.0])


@pytest.mark.parametrize("horizon,discount", [(6, 1.0), (None, 0.9)])
def test_temperature_to_zero_approaches_hard_vi(horizon, discount):
    mdp = random_mdp(jax.random.key(4), 6, 3, 2, horizon=horizon, discount=discount)
    reward = np.random.default_rng(4).normal(size=(6, 3))
    hard = value_iteration(mdp, reward, tol=1e-12)
    errors = []
    for tau in [1.0, 0.1, 0.01, 0.001]:
        soft = soft_value_iteration(mdp, reward, temperature=tau, tol=1e-12)
        errors.append(float(jnp.max(jnp.abs(soft.v - hard.v))))
    # 0 ≤ V_soft − V_hard ≤ τ log A per step: it shrinks at least fivefold per decade of τ
    # until it reaches rounding error (faster, like exp(−gap/τ), where one action leads).
    assert all(b < a / 5 or b < 1e-12 for a, b in itertools.pairwise(errors)), errors
    assert errors[-1] < 0.05
    soft = soft_value_iteration(mdp, reward, temperature=1e-4, tol=1e-12)
    np.testing.assert_allclose(soft.policy, hard.policy, atol=1e-3)


def test_backups_agree_on_deterministic_mdp():
    mdp = gridworld(4, 4, horizon=6, goal=(3, 3))
    reward = np.random.default_rng(5).normal(size=16)
    a = soft_value_iteration(mdp, reward, backup="expected", temperature=0.7)
    b = soft_value_iteration(mdp, reward, backup="optimistic", temperature=0.7)
    np.testing.assert_allclose(a.q, b.q, atol=1e-10)
    np.testing.assert_allclose(a.log_policy, b.log_policy, atol=1e-10)


def test_optimistic_exceeds_expected_on_stochastic_mdp():
    # Jensen: log E[exp V] ≥ E[V], strictly where successors differ in value.
    mdp = WORLDS[0]
    reward = np.random.default_rng(6).normal(size=5)
    a = soft_value_iteration(mdp, reward, backup="expected")
    b = soft_value_iteration(mdp, reward, backup="optimistic")
    assert bool(jnp.all(b.v >= a.v - 1e-12)) and bool(jnp.any(b.v > a.v + 1e-6))


@pytest.mark.parametrize("backup", ["expected", "optimistic"])
def test_zero_probability_successors_are_ignored(backup):
    # State 2 is listed as a successor of state 0 with probability 0 and is worth 1000 more
    # than the real successor: it must not enter the backup, even through underflow.
    mdp = TabularMDP.from_successors(
        np.array([[[1, 2]], [[1, 2]], [[2, 2]]]),
        np.array([[[1.0, 0.0]], [[0.5, 0.5]], [[1.0, 0.0]]]),
        np.array([1.0, 0.0, 0.0]),
        horizon=2,
    )
    plan = soft_value_iteration(mdp, np.array([0.0, -5.0, 1000.0]), backup=backup)
    assert float(plan.q[0, 0, 0]) == pytest.approx(float(plan.v[1, 1]))
    assert float(plan.v[1, 1]) == pytest.approx(-5.0)


def test_terminal_states_have_zero_value():
    mdp = WORLDS[0]
    plan = soft_value_iteration(mdp, np.ones(5))
    assert bool(jnp.all(plan.v[:, mdp.terminal] == 0))


def test_infinite_horizon_is_a_fixed_point():
    mdp = WORLDS[4]
    reward = np.random.default_rng(7).normal(size=(5, 3))
    plan = soft_value_iteration(mdp, reward, tol=1e-12)
    assert float(plan.residual) < 1e-10
    T = np.asarray(mdp.dense_transitions())
    q = reward + mdp.discount * T @ np.asarray(plan.v)
    q = np.where(np.asarray(mdp.terminal)[:, None], 0.0, q)
    np.testing.assert_allclose(plan.q, q, atol=1e-9)


def test_vmap_over_rewards_equals_loop():
    mdp = WORLDS[1]
    rewards = jnp.asarray(np.random.default_rng(8).normal(size=(4, 5)))
    batched = jax.vmap(lambda r: soft_value_iteration(mdp, r).v)(rewards)
    looped = jnp.stack([soft_value_iteration(mdp, r).v for r in rewards])
    np.testing.assert_allclose(batched, looped, atol=1e-12)
    batched = jax.jit(jax.vmap(lambda r: value_iteration(WORLDS[4], r).v))(rewards)
    looped = jnp.stack([value_iteration(WORLDS[4], r).v for r in rewards])
    np.testing.assert_allclose(batched, looped, atol=1e-9)


def test_no_recompilation_on_second_call():
    mdp = WORLDS[2]
    traces = []

    @jax.jit
    def f(r):
        traces.append(1)  # runs only while tracing
        return soft_value_iteration(mdp, r, temperature=0.5).q

    f(jnp.zeros(5))
    f(jnp.ones(5))
    assert len(traces) == 1


def test_float32_by_default():
    with jax.enable_x64(False):
        mdp = gridworld(3, 3, slip=0.1, horizon=4)
        plan = soft_value_iteration(mdp, np.ones(9))
        assert mdp.probs.dtype == plan.q.dtype == plan.v.dtype == jnp.float32


@pytest.mark.parametrize("discount,horizon", [(0.9, None), (1.0, 4)])
def test_a_float32_reward_on_a_float64_mdp_is_planned_in_float64(discount, horizon):
    mdp = gridworld(3, 3, slip=0.1, horizon=horizon, discount=discount)
    reward = np.linspace(-1, 1, 9)
    plan = soft_value_iteration(mdp, reward.astype(np.float32))
    assert plan.q.dtype == jnp.float64
    np.testing.assert_allclose(plan.q, soft_value_iteration(mdp, reward).q, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"reward": np.ones(4)}, "reward must have shape"),
        ({"reward": np.full(5, np.nan)}, "reward must be finite"),
        ({"reward": np.ones(5), "temperature": 0.0}, "temperature must be finite and > 0"),
        ({"reward": np.ones(5), "backup": "max"}, "backup must be one of"),
        ({"reward": np.ones(5), "action_prior": np.ones(2) / 2}, "action_prior must have"),
        ({"reward": np.ones(5), "action_prior": np.ones(3)}, "action_prior rows must sum"),
        ({"reward": np.ones(5), "action_prior": -np.ones(3)}, "non-negative"),
        ({"reward": np.ones(5), "max_iterations": 0}, "max_iterations must be an integer >= 1"),
        ({"reward": np.ones(5), "max_iterations": 2.5}, "max_iterations must be an integer"),
        ({"reward": np.ones(5), "tol": np.nan}, "tol must be a finite number >= 0"),
        ({"reward": np.ones(5), "tol": -1.0}, "tol must be a finite number >= 0"),
    ],
)
def test_bad_planning_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        soft_value_iteration(WORLDS[0], **kwargs)


def test_concrete_inputs_captured_inside_an_outer_jit_are_checked_eagerly():
    # Checks of concrete arrays must not run jnp operations, which an outer jit would trace.
    mdp = gridworld(3, 3, horizon=4)
    got = jax.jit(lambda x: value_iteration(mdp, jnp.ones((9, 5))).v[0, 0] + x)(1.0)
    np.testing.assert_allclose(got, 5.0)
    prior = jnp.full(5, 0.2)
    got = jax.jit(
        lambda x: soft_value_iteration(mdp, jnp.zeros(9), action_prior=prior).v[0, 0] + x
    )(0.0)
    np.testing.assert_allclose(got, 0.0, atol=1e-12)


def test_bad_reward_is_refused_under_vmap_and_poisons_the_plan_under_jit():
    mdp = gridworld(3, 3, horizon=4)
    rewards = jnp.zeros((2, 9)).at[1, 0].set(jnp.nan)
    with pytest.raises(ValueError, match="reward must be finite"):
        jax.vmap(lambda r: soft_value_iteration(mdp, r).v)(rewards)
    # Under jit the check is staged (irlax._checks): NaN must come out, never a finite answer.
    v = jax.jit(lambda r: soft_value_iteration(mdp, r).v)(rewards[1])
    assert np.isnan(np.asarray(v)[0, 0])
    with pytest.raises(ValueError, match="temperature must be finite and > 0"):
        jax.vmap(lambda t: soft_value_iteration(mdp, rewards[0], temperature=t).v)(
            jnp.array([1.0, 0.0])
        )


@pytest.mark.parametrize(
    "scale,temperature",
    [(1e6, 1.0), (1.0, 3e-4)],
    ids=["large-reward", "small-temperature"],
)
def test_float32_policies_are_distributions_at_extreme_scales(scale, temperature):
    """Rows of exp(log_policy) sum to 1 in float32 even where Q/τ is of order 1e6: the policy
    is normalised after shifting, never as a difference of two large numbers."""
    with jax.enable_x64(False):
        mdp = gridworld(8, 8, horizon=20, goal=(7, 7))
        reward = -scale * jnp.ones(64) + jnp.asarray(np.random.default_rng(0).normal(size=64))
        plan = soft_value_iteration(mdp, reward, temperature=temperature)
        rows = np.asarray(jnp.exp(plan.log_policy).sum(-1), np.float64)
        np.testing.assert_allclose(rows, 1.0, atol=1e-5)
        visits = occupancy(mdp, plan.log_policy)  # refuses log-policies that are not normalised
        assert np.isfinite(np.asarray(visits)).all()


def test_an_infinite_temperature_is_refused():
    with pytest.raises(ValueError, match="temperature must be finite and > 0"):
        soft_value_iteration(gridworld(2, 2, horizon=2), jnp.zeros(4), temperature=np.inf)
