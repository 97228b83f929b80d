"""Forecasting is a client of the core: its sweeps equal `irlax.mdp` on the same grid MDP.

On small scenes built as `TabularMDP`s (`grid_mdp`, rewards `−len(a)·c(s)` from `move_rewards`)
the forecasting planner's goal-conditioned soft values, policy, expected visits and cost
gradient equal `soft_value_iteration`, its policy, `occupancy` and autodiff through the core's
backward scan, in float64 to 1e-8. The core plans over a finite horizon; with every cost above
`MIN_COST + 0.3` a walk that has not arrived after `HORIZON` moves carries a weight below
0.72^HORIZON ≈ 1e-29, far under the tolerance.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.forecast.grid import grid_mdp, move_rewards, valid_moves
from irlax.forecast.planning import (
    MOVES,
    expected_visits,
    goal_values,
    move_probabilities,
)
from irlax.mdp import occupancy, soft_value_iteration
from tests.forecast.test_planning import tiny

HORIZON = 200
TOL = 1e-8


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def scene(seed):
    """A 4×5 or 5×4 grid with two impassable cells, a one-cell and a two-cell goal."""
    return tiny(seed, *((4, 5) if seed % 2 == 0 else (5, 4)))


def core_plan(cost, goal, passable):
    mdp = grid_mdp(passable, goal, horizon=HORIZON)
    return mdp, soft_value_iteration(mdp, move_rewards(cost, passable))


@pytest.mark.parametrize("seed", [0, 1])
def test_goal_values_and_policy_equal_soft_value_iteration(seed):
    cost, goals, passable = scene(seed)
    values = np.asarray(goal_values(cost, goals, passable))
    probs = np.asarray(move_probabilities(cost, values, goals, passable))
    for g in range(len(goals)):
        _, plan = core_plan(cost, goals[g], passable)
        v = np.asarray(plan.v[0]).reshape(cost.shape)
        np.testing.assert_allclose(values[g][passable], v[passable], rtol=0, atol=TOL)
        assert np.all(values[g][goals[g]] == 0) and np.all(v[goals[g]] == 0)
        # The stationary policy: the core's first step, `[S, 9]`, against `[9, H, W]`.
        free = (passable & ~goals[g]).reshape(-1)
        pi = np.exp(np.asarray(plan.log_policy[0]))
        np.testing.assert_allclose(
            probs[g].reshape(len(MOVES), -1).T[free], pi[free], rtol=0, atol=TOL
        )


@pytest.mark.parametrize("seed", [0, 1])
def test_expected_visits_equal_the_occupancy(seed):
    cost, goals, passable = scene(seed)
    values = goal_values(cost, goals, passable)
    probs = move_probabilities(cost, values, goals, passable)
    rng = np.random.default_rng(seed + 10)
    for g in range(len(goals)):
        free = passable & ~goals[g]
        source = np.where(free, rng.uniform(0.1, 1.0, cost.shape), 0.0)
        source /= source.sum()
        visits = np.asarray(expected_visits(probs[g : g + 1], jnp.asarray(source[None])))[0]
        mdp, plan = core_plan(cost, goals[g], passable)
        occ = occupancy(mdp, plan.log_policy, init=source.reshape(-1))  # [H, S, A]
        d = np.asarray(occ.sum(axis=(0, 2))).reshape(cost.shape)
        np.testing.assert_allclose(visits[free], d[free], rtol=0, atol=TOL)
        # Every walker arrives: the goal cells hold the arrivals, one per walker released.
        np.testing.assert_allclose(visits[goals[g]].sum(), 1.0, rtol=0, atol=TOL)
        # The core never takes an impossible move (reward LOG_ZERO).
        assert float(occ.sum(axis=0)[~valid_moves(passable)].max()) == 0.0


def test_cost_gradient_equals_autodiff_through_the_core():
    """`goal_values`' implicit-function VJP against backpropagation through the core's scan."""
    cost, goals, passable = scene(0)
    goals = goals[1:]  # the two-cell goal
    weights = np.random.default_rng(3).normal(size=cost.shape) * passable
    mdp = grid_mdp(passable, goals[0], horizon=HORIZON)

    def forecast_objective(c):
        return jnp.sum(goal_values(c, goals, passable)[0] * weights)

    @jax.jit
    def core_objective(c):
        values = soft_value_iteration(mdp, move_rewards(c, passable)).v[0]
        return jnp.sum(values.reshape(c.shape) * weights)

    cost = jnp.asarray(cost)
    np.testing.assert_allclose(
        jax.grad(forecast_objective)(cost), jax.grad(core_objective)(cost), rtol=0, atol=TOL
    )


def test_the_grid_mdp_moves_like_the_forecasting_grid():
    passable = np.ones((3, 4), bool)
    passable[1, 1] = False
    goal = np.zeros((3, 4), bool)
    goal[0, 3] = True
    mdp = grid_mdp(passable, goal, horizon=5)
    assert (mdp.n_states, mdp.n_actions) == (12, 9)
    np.testing.assert_array_equal(mdp.terminal, (goal | ~passable).reshape(-1))
    init = np.asarray(mdp.init).reshape(3, 4)
    np.testing.assert_allclose(init[passable & ~goal], 1 / 10)
    assert init[~passable].sum() == 0 and init[goal].sum() == 0
    nxt = np.asarray(mdp.next_states)[..., 0]
    se = next(k for k, m in enumerate(MOVES.tolist()) if m == [1, 1])
    assert nxt[0 * 4 + 2, se] == 1 * 4 + 3  # (0, 2) → (1, 3)
    assert nxt[0 * 4 + 0, se] == 0  # (0, 0) → (1, 1) is impassable: stays, and is invalid
    assert not valid_moves(passable)[0, se]
    rewards = np.asarray(move_rewards(np.full((3, 4), 3.0), passable))
    np.testing.assert_allclose(rewards[2, se], -3.0 * np.sqrt(2))
    assert rewards[0, se] < -1e29


def test_bad_grid_inputs_are_refused():
    passable = np.ones((3, 4), bool)
    with pytest.raises(ValueError, match="goal must be"):
        grid_mdp(passable, np.ones((4, 3), bool), horizon=5)
    with pytest.raises(ValueError, match="goal has no passable cell"):
        grid_mdp(~passable, np.ones((3, 4), bool), horizon=5)
    with pytest.raises(ValueError, match="no passable cell outside the goal"):
        grid_mdp(passable, passable, horizon=5)
    with pytest.raises(ValueError, match="passable must be"):
        grid_mdp(np.ones(3, bool), horizon=5)
