"""Grid and random worlds: the dynamics they promise."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.envs import GRID_ACTIONS, gridworld, random_mdp
from irlax.envs.tabular import grid_successors
from irlax.mdp import occupancy, soft_value_iteration


def test_gridworld_moves_and_walls():
    g = gridworld(3, 4, horizon=2)
    T = np.asarray(g.dense_transitions())
    up, down, left, right, stay = (GRID_ACTIONS.index(a) for a in GRID_ACTIONS)
    centre = 1 * 4 + 1
    assert T[centre, up, 1] == T[centre, down, 9] == T[centre, left, 4] == 1.0
    assert T[centre, right, 6] == T[centre, stay, centre] == 1.0
    assert T[0, up, 0] == T[0, left, 0] == 1.0  # the border keeps you in place
    assert g.next_states.shape == (12, 5, 1)


def test_gridworld_slip():
    g = gridworld(3, 3, slip=0.2, horizon=2)
    T = np.asarray(g.dense_transitions())
    centre = 4
    # right with prob 0.8 + 0.2/4; each other neighbour 0.2/4; never stays.
    np.testing.assert_allclose(T[centre, 3, [1, 7, 3, 5, 4]], [0.05, 0.05, 0.05, 0.85, 0.0])
    np.testing.assert_allclose(T[centre, 4, [1, 7, 3, 5, 4]], [0.05, 0.05, 0.05, 0.05, 0.8])
    # corner (0, 0): up and left bounce back.
    np.testing.assert_allclose(T[0, 1, [0, 3, 1]], [0.1, 0.85, 0.05])
    assert g.next_states.shape == (9, 1, 5)


def test_gridworld_goal_start_features():
    g = gridworld(2, 3, horizon=4, goal=[(1, 2), (0, 2)], start=(1, 0), features="onehot")
    np.testing.assert_array_equal(g.terminal, [0, 0, 1, 0, 0, 1])
    np.testing.assert_array_equal(g.init, [0, 0, 0, 1, 0, 0])
    assert g.features.shape == (6, 6)
    g = gridworld(2, 3, horizon=4, goal=(1, 2), features="coordinates")
    np.testing.assert_allclose(g.init, [0.2, 0.2, 0.2, 0.2, 0.2, 0])
    np.testing.assert_allclose(g.features[5], [1.0, 1.0])


def test_random_mdp_is_determined_by_its_key():
    a = random_mdp(jax.random.key(0), 10, 3, 4, horizon=5, n_features=2, n_terminal=2)
    b = random_mdp(jax.random.key(0), 10, 3, 4, horizon=5, n_features=2, n_terminal=2)
    c = random_mdp(jax.random.key(1), 10, 3, 4, horizon=5, n_features=2, n_terminal=2)
    np.testing.assert_array_equal(a.next_states, b.next_states)
    np.testing.assert_array_equal(a.features, b.features)
    assert not np.array_equal(a.next_states, c.next_states)
    assert int(a.terminal.sum()) == 2 and float(a.init[a.terminal].sum()) == 0.0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"height": 0, "width": 3}, "height must be a positive integer"),
        ({"height": 3, "width": 3, "slip": 1.5}, "slip must lie in"),
        ({"height": 3, "width": 3, "goal": (3, 0)}, "goal cell"),
        ({"height": 3, "width": 3, "start": (0, 5)}, "start cell"),
        ({"height": 3, "width": 3, "features": "pixels"}, "features must be"),
        ({"height": 1, "width": 1, "goal": (0, 0)}, "nowhere to start"),
        ({"height": 3, "width": 3, "horizon": None}, "discount must be < 1"),
    ],
)
def test_bad_gridworld_input(kwargs, match):
    kwargs.setdefault("horizon", 3)
    with pytest.raises(ValueError, match=match):
        gridworld(**kwargs)


# Walls (the reward-transfer mazes of AIRL, Fu et al. 2018): a brute-force reference of the
# dynamics, written move by move, against which the builder's successor lists are checked.


def reference_transitions(height, width, walls, slip):
    """Dense `[S, 5, S]` transitions of a walled grid, one cell and one move at a time."""
    n = height * width
    blocked = {r * width + c for r, c in walls}

    def move(s, a):
        if s in blocked:
            return s
        dr, dc = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}.get(
            GRID_ACTIONS[a], (0, 0)
        )
        r, c = divmod(s, width)
        r2, c2 = r + dr, c + dc
        if not (0 <= r2 < height and 0 <= c2 < width) or r2 * width + c2 in blocked:
            return s
        return r2 * width + c2

    T = np.zeros((n, 5, n))
    for s in range(n):
        for a in range(5):
            T[s, a, move(s, a)] += 1.0 - slip
            for d in range(4):  # a slip picks one of the 4 moves uniformly
                T[s, a, move(s, d)] += slip / 4
    return T


MAZE_WALLS = [(1, 1), (1, 2), (2, 2), (0, 3)]


@pytest.mark.parametrize("slip", [0.0, 0.2])
def test_walls_block_moves_like_the_border(slip):
    g = gridworld(3, 4, slip=slip, horizon=3, walls=MAZE_WALLS)
    T = np.asarray(g.dense_transitions())
    np.testing.assert_allclose(T, reference_transitions(3, 4, MAZE_WALLS, slip), atol=1e-6)
    np.testing.assert_allclose(T.sum(-1), 1.0, atol=1e-6)
    right, stay = GRID_ACTIONS.index("right"), GRID_ACTIONS.index("stay")
    # (1, 0) -> right runs into the wall (1, 1) and stays, as does a slip left (border) or
    # right (wall); from (0, 2) every move but left is blocked: up (border), right (wall (0, 3)),
    # down (wall (1, 2)).
    assert T[4, right, 4] == pytest.approx(1.0 - slip + slip / 2)
    assert T[4, stay, 4] == pytest.approx(1.0 - slip + slip / 2)
    assert T[2, right, 2] == pytest.approx(1.0 - slip + 3 * slip / 4)
    assert T[2, right, 1] == pytest.approx(slip / 4)
    for r, c in MAZE_WALLS:  # a wall cell only leads to itself, and no move enters it
        w = r * 4 + c
        np.testing.assert_array_equal(T[w, :, w], 1.0)
        np.testing.assert_array_equal(np.delete(T, w, axis=0)[..., w], 0.0)
    assert g.n_states == 12 and g.next_states.shape == ((12, 5, 1) if slip == 0 else (12, 1, 5))
    np.testing.assert_array_equal(
        np.asarray(g.next_states).reshape(12, 5), grid_successors(3, 4, walls=MAZE_WALLS)
    )


def test_walls_keep_states_features_and_get_no_start():
    free = gridworld(3, 4, horizon=3, goal=(2, 3), features="coordinates")
    g = gridworld(3, 4, horizon=3, goal=(2, 3), features="coordinates", walls=MAZE_WALLS)
    np.testing.assert_array_equal(g.features, free.features)
    np.testing.assert_array_equal(g.terminal, free.terminal)
    expected = np.full(12, 1 / 7)  # 12 cells - 4 walls - 1 goal
    expected[[5, 6, 10, 3, 11]] = 0.0
    np.testing.assert_allclose(g.init, expected, rtol=1e-6)
    # one cell, a list of one, and no walls at all are spelt several ways
    np.testing.assert_array_equal(
        gridworld(3, 4, horizon=3, walls=(1, 1)).next_states,
        gridworld(3, 4, horizon=3, walls=[(1, 1)]).next_states,
    )
    np.testing.assert_array_equal(
        gridworld(3, 4, horizon=3, walls=[]).next_states, gridworld(3, 4, horizon=3).next_states
    )


@pytest.mark.parametrize("horizon", [6, None])
def test_walls_are_never_visited(horizon):
    g = gridworld(4, 4, slip=0.3, horizon=horizon, discount=0.9, goal=(3, 3), walls=MAZE_WALLS)
    wall = np.zeros(16, bool)
    wall[[r * 4 + c for r, c in MAZE_WALLS]] = True
    assert float(g.init[wall].sum()) == 0.0
    # uniform and random stationary policies (a soft-optimal one in the detour test below)
    logits = jax.random.normal(jax.random.key(0), (3, 16, 5))
    for log_pi in jax.nn.log_softmax(jnp.concatenate([jnp.zeros((1, 16, 5)), logits]), -1):
        d = np.asarray(occupancy(g, log_pi)).reshape(-1, 16, 5).sum((0, 2))
        np.testing.assert_array_equal(d[wall], 0.0)
        assert d[~wall & ~np.asarray(g.terminal)].min() > 0.1  # every other cell is visited


def steps_and_gap_visits(gap_col):
    """A 5x5 maze, wall row 2 but a gap at `gap_col`; start (0, 0), goal (4, 0), -1 per step.

    Returns the soft-optimal expected number of steps to the goal, the expected visits to the
    gap cell, and the probability of reaching the goal within the horizon.
    """
    walls = [(2, c) for c in range(5) if c != gap_col]
    g = gridworld(5, 5, horizon=30, start=(0, 0), goal=(4, 0), walls=walls)
    plan = soft_value_iteration(g, -jnp.ones(25), temperature=0.05)
    d = np.asarray(occupancy(g, plan.log_policy)).sum(-1)  # [H, S]
    np.testing.assert_array_equal(d[:, [2 * 5 + c for _, c in walls]], 0.0)
    return d.sum(), d[:, 2 * 5 + gap_col].sum(), 1.0 - d[-1].sum()


def test_soft_optimal_path_detours_through_the_gap():
    left_steps, left_gap, left_reached = steps_and_gap_visits(0)
    right_steps, right_gap, right_reached = steps_and_gap_visits(4)
    # Shortest paths: straight down the left column (4 steps) or across, down and back (12);
    # the same reward vector over the same 25 states gives both plans.
    assert left_steps == pytest.approx(4.0, abs=0.01)
    assert right_steps == pytest.approx(12.0, abs=0.01)
    # Every path to the goal crosses the wall row at the gap, once.
    assert left_reached > 0.999 and right_reached > 0.999
    assert 0.999 < left_gap < 1.001 and 0.999 < right_gap < 1.001


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"walls": (3, 0)}, r"walls cell \(3, 0\) is outside the 3x3 grid"),
        ({"walls": [(0, 0), (1, -1)]}, r"walls cell \(1, -1\) is outside"),
        ({"walls": [(0.5, 1)]}, r"walls cell \(0.5, 1.0\) must have whole-number"),
        ({"walls": [(0, 1, 2)]}, "walls must be a cell"),
        ({"walls": [(0, 1), (2,)]}, "walls must be a cell"),
        ({"walls": "corner"}, "walls must be a cell"),
        ({"walls": (1, 1), "start": (1, 1)}, r"walls must not cover the start cell \(1, 1\)"),
        ({"walls": [(0, 0), (2, 2)], "goal": (2, 2)}, r"walls must not cover a goal.*\(2, 2\)"),
        ({"walls": [(r, c) for r in range(3) for c in range(3)]}, "walls must leave a cell free"),
        (
            {"walls": [(r, c) for r in range(3) for c in range(3) if r + c], "goal": (0, 0)},
            "goal and walls cover every cell; there is nowhere to start",
        ),
        ({"start": (1,)}, "start must be a cell"),
        ({"goal": [(0, 0), (1, 1, 1)]}, "goal must be a cell"),
        ({"height": None}, "height must be a positive integer"),
        ({"slip": "some"}, "slip must lie in"),
    ],
)
def test_bad_walls_are_refused_by_name(kwargs, match):
    kwargs = {"height": 3, "width": 3, "horizon": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        gridworld(**kwargs)
