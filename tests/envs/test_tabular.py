"""Grid and random worlds: the dynamics they promise."""

import jax
import numpy as np
import pytest

from irlax.envs import GRID_ACTIONS, gridworld, random_mdp


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
