"""Goal-conditioned soft planning on the move grid: exact against brute force, in float64."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.forecast.planning import (
    MIN_COST,
    MOVE_LENGTHS,
    MOVES,
    expected_visits,
    goal_values,
    move_probabilities,
)


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def tiny(seed=0, h=4, w=5):
    rng = np.random.default_rng(seed)
    cost = MIN_COST + 0.3 + rng.uniform(0, 3, (h, w))
    passable = np.ones((h, w), bool)
    passable[1, 2] = passable[2, 1] = False
    goals = np.zeros((2, h, w), bool)
    goals[0, 0, w - 1] = True
    goals[1, h - 1, 0] = goals[1, h - 1, 1] = True
    return cost, goals, passable


def transitions(cost, goal, passable):
    """Dense weights M[s, s'] = e^{r(s, a)} over non-goal cells, and b[s] into the goal."""
    h, w = cost.shape
    n = h * w
    m, b = np.zeros((n, n)), np.zeros(n)
    for r, c in itertools.product(range(h), range(w)):
        if not passable[r, c] or goal[r, c]:
            continue
        for (dr, dc), length in zip(MOVES, MOVE_LENGTHS, strict=True):
            rr, cc = r + dr, c + dc
            if 0 <= rr < h and 0 <= cc < w and passable[rr, cc]:
                weight = np.exp(-length * cost[r, c])
                if goal[rr, cc]:
                    b[r * w + c] += weight
                else:
                    m[r * w + c, rr * w + cc] += weight
    return m, b


def test_values_solve_the_linear_system_of_partition_functions():
    cost, goals, passable = tiny()
    values = np.asarray(goal_values(cost, goals, passable))
    for g in range(2):
        m, b = transitions(cost, goals[g], passable)
        z = np.linalg.solve(np.eye(len(b)) - m, b).reshape(cost.shape)
        free = passable & ~goals[g]
        np.testing.assert_allclose(values[g][free], np.log(z[free]), rtol=0, atol=1e-12)
        assert np.all(values[g][goals[g]] == 0)
        assert np.all(values[g][~passable] < -1e29)


def test_path_probability_is_exp_minus_cost_over_z_by_enumeration():
    """Seed 000: with deterministic moves p(path) ∝ exp(−Σ cost); Σ over paths is Z."""
    cost = tiny()[0][:2, :3] + 4.0  # short paths dominate: the enumeration is exact to 1e-13
    passable = np.ones(cost.shape, bool)
    goals = np.zeros((1, *cost.shape), bool)
    goals[0, 0, 2] = True
    values = np.asarray(goal_values(cost, goals, passable))
    probs = np.asarray(move_probabilities(cost, values, goals, passable))[0]
    h, w = cost.shape
    start = (1, 0)
    total, checked = 0.0, 0
    stack = [(start, 0.0, 1.0)]
    while stack:
        (r, c), path_cost, prob = stack.pop()
        if goals[0, r, c]:
            total += np.exp(-path_cost)
            # The policy's product along the path is exp(−cost) / Z(start).
            np.testing.assert_allclose(prob, np.exp(-path_cost - values[0][start]), rtol=1e-9)
            checked += 1
            continue
        if path_cost > 40:
            continue
        for k, ((dr, dc), length) in enumerate(zip(MOVES, MOVE_LENGTHS, strict=True)):
            rr, cc = r + dr, c + dc
            if 0 <= rr < h and 0 <= cc < w:
                stack.append(((rr, cc), path_cost + length * cost[r, c], prob * probs[k, r, c]))
    assert checked > 200
    np.testing.assert_allclose(np.log(total), values[0][start], atol=1e-10)


def test_move_probabilities_sum_to_one_where_the_walk_goes_on():
    cost, goals, passable = tiny()
    values = goal_values(cost, goals, passable)
    probs = np.asarray(move_probabilities(cost, values, goals, passable))
    totals = probs.sum(axis=1)
    walking = passable[None] & ~goals
    np.testing.assert_allclose(totals[walking], 1.0, atol=1e-12)
    assert np.all(totals[~walking] == 0)


def test_expected_visits_equal_the_fundamental_matrix():
    cost, goals, passable = tiny(seed=3)
    values = goal_values(cost, goals, passable)
    probs = np.asarray(move_probabilities(cost, values, goals, passable))
    h, w = cost.shape
    source = np.zeros((2, h, w))
    source[0, 3, 3] = 1.0
    source[1, 0, 4] = 2.0
    visits = np.asarray(expected_visits(jnp.asarray(probs), jnp.asarray(source)))
    for g in range(2):
        p = np.zeros((h * w, h * w))
        for k, (dr, dc) in enumerate(MOVES):
            for r, c in itertools.product(range(h), range(w)):
                if probs[g, k, r, c] > 0:
                    p[r * w + c, (r + dr) * w + c + dc] += probs[g, k, r, c]
        expected = np.linalg.solve(np.eye(h * w) - p.T, source[g].ravel()).reshape(h, w)
        np.testing.assert_allclose(visits[g], expected, atol=1e-11)


def test_gradient_is_minus_the_expected_length_weighted_visits():
    cost, goals, passable = tiny(seed=1)
    starts = np.zeros(goals.shape)
    starts[0, 3, 3] = 1.0
    starts[1, 0, 3] = 2.0

    @jax.jit
    def objective(c):
        return jnp.sum(jnp.where(starts > 0, goal_values(c, goals, passable) * starts, 0.0))

    grad = np.asarray(jax.jit(jax.grad(objective))(jnp.asarray(cost)))
    eps = 1e-6
    numeric = np.zeros_like(cost)
    for r, c in itertools.product(*map(range, cost.shape)):
        e = np.zeros_like(cost)
        e[r, c] = eps
        numeric[r, c] = (objective(cost + e) - objective(cost - e)) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, atol=1e-7)


def test_float32_agrees_with_float64():
    cost, goals, passable = tiny(seed=2)
    exact = np.asarray(goal_values(cost, goals, passable))
    with jax.enable_x64(False):
        single = goal_values(jnp.asarray(cost, jnp.float32), goals, passable)
    assert single.dtype == jnp.float32
    free = passable[None] & ~goals
    np.testing.assert_allclose(np.asarray(single)[free], exact[free], rtol=1e-5)


def test_float32_gradient_does_not_depend_on_the_scale_of_the_cotangent():
    # A per-step NLL scales the cotangent by 1/(moves in the training set); the adjoint
    # solve must converge relative to that scale, not stop once changes fall below 1.
    cost, goals, passable = tiny(seed=3, h=12, w=12)
    cost = np.full_like(cost, MIN_COST + 0.3)  # cheap moves: long, diffusive walks
    exact = jax.grad(lambda c: goal_values(c, goals, passable)[0, 11, 0])(jnp.asarray(cost))
    with jax.enable_x64(False):
        c32 = jnp.asarray(cost, jnp.float32)
        for scale in (1.0, 1e-5):
            grad = jax.grad(lambda c, s=scale: s * goal_values(c, goals, passable)[0, 11, 0])(c32)
            np.testing.assert_allclose(np.asarray(grad) / scale, exact, rtol=2e-3, atol=1e-6)


def test_vmap_over_cost_maps_equals_a_loop():
    costs = np.stack([tiny(seed=s)[0] for s in range(3)])
    _, goals, passable = tiny()
    batched = jax.vmap(lambda c: goal_values(c, goals, passable))(jnp.asarray(costs))
    for c, v in zip(costs, batched, strict=True):
        np.testing.assert_allclose(v, goal_values(c, goals, passable), atol=1e-12)


def test_bad_inputs_are_refused():
    cost, goals, passable = tiny()
    with pytest.raises(ValueError, match="MIN_COST"):
        goal_values(np.full(cost.shape, 1.5), goals, passable)
    with pytest.raises(ValueError, match="goals must be"):
        goal_values(cost, goals[0], passable)
    with pytest.raises(ValueError, match="passable"):
        goal_values(cost, goals, passable[:, :-1])
    blocked = goals.copy()
    blocked[0] = False
    blocked[0, 1, 2] = True  # impassable
    with pytest.raises(ValueError, match=r"goal\(s\) \[0\] have no passable cell"):
        goal_values(cost, blocked, passable)
