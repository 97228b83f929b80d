"""Tracks as cell paths and as `Trajectories` on the grid MDP: one fit from either."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.data import Trajectories
from irlax.forecast.grid import grid_mdp
from irlax.forecast.model import fit, simulate
from irlax.forecast.planning import MIN_COST, MOVES
from irlax.forecast.scene import Scene
from irlax.forecast.tracks import to_paths, to_trajectories
from irlax.mdp import log_likelihood


def small_scene():
    """10×12: a wall across the middle, a lawn on the right, three exits."""
    labels = np.zeros((10, 12), int)
    labels[5, 2:10] = 1
    labels[:, 9:] = 2
    scene = Scene.from_labels(labels, ("path", "wall", "grass"), impassable=("wall",))
    cost = np.where(labels == 2, MIN_COST + 2.0, MIN_COST + 0.5).astype(np.float32)
    goals = np.zeros((3, 10, 12), bool)
    goals[0, 0, :2] = goals[1, -1, 5:7] = goals[2, 3:5, -1] = True
    return scene, cost, goals


@pytest.fixture(scope="module")
def walkers():
    scene, cost, goals = small_scene()
    paths, _ = simulate(cost, goals, scene.passable, 40, jax.random.key(0))
    return scene, goals, paths


def test_trajectories_are_states_and_actions_of_the_grid_mdp(walkers):
    scene, _, paths = walkers
    t = to_trajectories(paths, scene.shape)
    back = to_paths(t, scene.shape)
    assert len(back) == len(paths)
    for p, q in zip(paths, back, strict=True):
        np.testing.assert_array_equal(p, q)
    # Every demonstrated step is a transition of the grid MDP (probability 1): under the
    # uniform policy a track's probability is its start's, 1 / (passable cells), times 1/9 a move.
    mdp = grid_mdp(scene.passable, horizon=int(t.actions.shape[1]))
    uniform = jnp.full((mdp.n_states, mdp.n_actions), -jnp.log(9.0))
    ll = np.asarray(log_likelihood(mdp, uniform, t, include_dynamics=True))
    expected = -np.log(9.0) * np.asarray(t.lengths) - np.log(np.sum(scene.passable))
    np.testing.assert_allclose(ll, expected, rtol=1e-5)


def test_fit_from_trajectories_equals_fit_from_cell_paths(walkers):
    scene, goals, paths = walkers
    from_paths = fit(scene, paths, goals, steps=3)
    from_trajectories = fit(scene, to_trajectories(paths, scene.shape), goals, steps=3)
    np.testing.assert_array_equal(from_paths.theta, from_trajectories.theta)
    np.testing.assert_array_equal(from_paths.log_prior, from_trajectories.log_prior)
    loss = np.asarray(from_paths.metrics["loss"])
    assert np.isfinite(loss[0])  # it did fit
    np.testing.assert_array_equal(loss, np.asarray(from_trajectories.metrics["loss"]))


def test_trajectories_whose_actions_disagree_with_their_cells_are_refused(walkers):
    scene, goals, paths = walkers
    t = to_trajectories(paths[:2], scene.shape)
    actions = np.asarray(t.actions).copy()
    actions[1, 0] = (actions[1, 0] + 1) % len(MOVES)
    bad = Trajectories(t.observations, jnp.asarray(actions), t.lengths)
    with pytest.raises(ValueError, match="trajectory 1, step 0: action"):
        fit(scene, bad, goals)
    off = Trajectories(t.observations.at[0, 0].set(10 * 12), t.actions, t.lengths)
    with pytest.raises(ValueError, match="cells outside"):
        to_paths(off, scene.shape)
    floats = Trajectories(t.observations.astype(jnp.float32), t.actions, t.lengths)
    with pytest.raises(ValueError, match="observations must be integer"):
        to_paths(floats, scene.shape)
