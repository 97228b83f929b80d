"""Baselines: behaviour cloning through `irlax.algorithms.bc` equals counting on the grid."""

import jax
import numpy as np
import pytest

from irlax.forecast import baselines
from irlax.forecast.grid import valid_moves
from irlax.forecast.model import simulate
from irlax.forecast.planning import MOVES
from irlax.forecast.scene import Scene
from irlax.forecast.tracks import to_trajectories
from tests.forecast.test_tracks import small_scene


@pytest.fixture(scope="module")
def walkers():
    """A 10×12 scene with a wall across most of it, three exits and 60 soft-optimal walkers."""
    scene, cost, goals = small_scene()
    paths, _ = simulate(cost, goals, scene.passable, 60, jax.random.key(0))
    return scene, paths


def counted(scene, paths, alpha):
    """`log p(a | s)` with `p ∝ count(s, a) + α` over the valid moves, counted in numpy."""
    t = to_trajectories(paths, scene.shape)
    mask = np.asarray(t.mask)
    counts = np.zeros((scene.shape[0] * scene.shape[1], len(MOVES)))
    np.add.at(counts, (np.asarray(t.observations)[:, :-1][mask], np.asarray(t.actions)[mask]), 1)
    weights = np.where(valid_moves(scene.passable), counts + alpha, 0.0)
    total = weights.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, np.log(weights / total), -np.inf)


def held_out_alpha(scene, paths, seed=0):
    """α of the lowest NLL on the held-out fifth, from the counted tables."""
    order = np.random.default_rng(seed).permutation(len(paths))
    n_val = max(1, len(paths) // 5)
    val, train = [paths[i] for i in order[:n_val]], [paths[i] for i in order[n_val:]]
    t = to_trajectories(val, scene.shape)

    def nll(alpha):
        table = baselines.MoveTable(np.asarray(counted(scene, train, alpha)))
        log_probs = baselines.sequence_log_probs(table, t.observations, t.actions, t.lengths)
        return float(-log_probs.sum())

    return min((0.01, 0.03, 0.1, 0.3, 1.0, 3.0), key=nll)


def test_behaviour_cloning_equals_counting_over_the_valid_moves(walkers):
    scene, paths = walkers
    table = np.asarray(baselines.behaviour_cloning(scene, paths).log_probs)
    expected = counted(scene, paths, held_out_alpha(scene, paths))
    valid = valid_moves(scene.passable)
    assert np.all(np.isneginf(table[~valid]))
    np.testing.assert_allclose(table[valid], expected[valid], rtol=1e-5, atol=1e-6)
    # Rows are distributions wherever a walker can be.
    rows = np.exp(table).sum(axis=1)
    np.testing.assert_allclose(rows[np.asarray(scene.passable).reshape(-1)], 1.0, rtol=1e-5)


def test_a_visited_cell_follows_its_counts():
    """One track through (1, 1) eastwards, α = 0.01 chosen by hand through a second track."""
    scene = Scene.from_labels(np.zeros((3, 4), int), ("path",))
    paths = [np.array([[1, 0], [1, 1], [1, 2], [1, 3]])] * 5
    table = np.asarray(baselines.behaviour_cloning(scene, paths).log_probs)
    east = next(k for k, m in enumerate(MOVES.tolist()) if m == [0, 1])
    p = np.exp(table[1 * 4 + 1])
    # Every held-out track repeats the training ones: the smallest α wins.
    np.testing.assert_allclose(p[east], (5 + 0.01) / (5 + 9 * 0.01), rtol=1e-5)
    np.testing.assert_allclose(np.delete(p, east), 0.01 / (5 + 9 * 0.01), rtol=1e-4)
