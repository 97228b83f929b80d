"""The generated street scene: determinism, layout, goals, hidden costs, input checks."""

import os
import subprocess
import sys
from collections import deque

import numpy as np
import pytest

from irlax.forecast.planning import MIN_COST, goal_values
from irlax.forecast.scene import Scene
from irlax.forecast.street import (
    BUILDING,
    CLASSES,
    TRUE_COST,
    StreetScene,
    default_n_goals,
    street_scene,
)


def _bfs(passable, start):
    """Cells reachable from `start` by 8-neighbour moves on passable cells (plain queue)."""
    h, w = passable.shape
    seen = np.zeros_like(passable)
    queue = deque(map(tuple, np.argwhere(start & passable)))
    for r, c in queue:
        seen[r, c] = True
    while queue:
        r, c = queue.popleft()
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                rr, cc = r + dr, c + dc
                if 0 <= rr < h and 0 <= cc < w and passable[rr, cc] and not seen[rr, cc]:
                    seen[rr, cc] = True
                    queue.append((rr, cc))
    return seen


def _check_goals(st: StreetScene):
    labels = st.labels
    passable = labels != BUILDING
    g, h, w = st.goals.shape
    assert (h, w) == labels.shape
    assert len(st.goal_names) == g and len(set(st.goal_names)) == g
    sizes = st.goals.sum(axis=(1, 2))
    assert sizes.min() >= 1 and sizes.max() <= 3
    assert st.goals.sum(axis=0).max() == 1, "goals overlap"
    assert passable[st.goals.any(axis=0)].all()
    reached = _bfs(passable, st.goals[0])
    assert all(reached[goal].all() for goal in st.goals)
    building = np.pad(labels == BUILDING, 1)
    next_to_building = (
        building[:-2, 1:-1] | building[2:, 1:-1] | building[1:-1, :-2] | building[1:-1, 2:]
    )
    border = np.zeros((h, w), bool)
    border[[0, -1]] = border[:, [0, -1]] = True
    for goal, name in zip(st.goals, st.goal_names, strict=True):
        if name.startswith("door "):
            assert next_to_building[goal].all(), name
        else:
            side, edge, number = name.split()
            assert edge == "edge" and side in ("north", "east", "south", "west") and number
            assert border[goal].all(), name
            assert (labels[goal] == CLASSES.index("sidewalk")).all(), name


def test_same_seed_same_scene():
    a, b = street_scene(3, 64), street_scene(3, 64)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.goals, b.goals)
    np.testing.assert_array_equal(a.true_cost, b.true_cost)
    assert a.goal_names == b.goal_names


def test_same_seed_same_scene_in_every_process():
    """Nothing may depend on the order of a set of strings, which PYTHONHASHSEED changes."""
    code = (
        "import hashlib, sys; from irlax.forecast.street import street_scene; "
        "s = street_scene(0, 64, 50); "
        "sys.stdout.write(hashlib.sha256(s.labels.tobytes() + s.goals.tobytes()).hexdigest())"
    )
    digests = set()
    for hash_seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "JAX_PLATFORMS": "cpu"}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        digests.add(out.stdout)
    assert len(digests) == 1


def test_different_seeds_differ():
    scenes = [street_scene(seed, 64) for seed in range(4)]
    for i in range(len(scenes)):
        for j in range(i):
            assert not np.array_equal(scenes[i].labels, scenes[j].labels)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_all_classes_present_at_64(seed):
    st = street_scene(seed, 64)
    assert set(np.unique(st.labels)) == set(range(len(CLASSES)))


def test_default_scene():
    st = street_scene()
    assert isinstance(st.scene, Scene)
    assert st.scene.classes == CLASSES
    assert st.scene.shape == (64, 64)
    assert st.scene.cell_size == 1.0
    np.testing.assert_array_equal(np.asarray(st.scene.passable), st.labels != BUILDING)
    assert st.goals.shape == (12, 64, 64) and st.goals.dtype == bool
    _check_goals(st)
    with pytest.raises(ValueError):  # frozen arrays
        st.goals[0, 0, 0] = True


def test_true_cost():
    st = street_scene(1, 64)
    expected = np.array([TRUE_COST[c] for c in CLASSES])[st.labels]
    np.testing.assert_array_equal(st.true_cost, expected)
    passable = [TRUE_COST[c] for c in CLASSES if c != "building"]
    assert min(passable) >= MIN_COST + 0.25
    assert TRUE_COST["building"] > MIN_COST
    order = sorted(passable)
    assert order == [TRUE_COST[c] for c in ("sidewalk", "crosswalk", "grass", "parking", "road")]


@pytest.mark.parametrize("size", [16, 32, 64, 128, 256])
def test_sizes_build(size):
    st = street_scene(0, size)
    assert st.labels.shape == (size, size)
    assert st.scene.cell_size == pytest.approx(max(1.0, 64 / size))
    assert len(st.goals) == default_n_goals(size)
    _check_goals(st)


@pytest.mark.parametrize("seed", range(8))
def test_goals_valid_across_seeds(seed):
    _check_goals(street_scene(seed, 32))
    _check_goals(street_scene(seed, 64))


@pytest.mark.parametrize("size", [64, 128, 256])
def test_fifty_goals(size):
    for seed in range(3 if size == 64 else 1):
        st = street_scene(seed, size, n_goals=50)
        assert st.goals.shape[0] == 50
        _check_goals(st)


def test_default_n_goals_grows():
    assert default_n_goals(64) == 12
    assert default_n_goals(16) >= 4
    assert default_n_goals(128) > default_n_goals(64)
    assert default_n_goals(256) > default_n_goals(128)


def test_planner_reaches_every_goal():
    st = street_scene(0, 32, n_goals=5)
    values = np.asarray(goal_values(st.true_cost, st.goals, st.scene.passable))
    for v in values:
        for goal in st.goals:
            assert v[goal].max() > -1e20


@pytest.mark.parametrize("size", [15, 0, -64, 64.0, "64", True])
def test_bad_size(size):
    with pytest.raises(ValueError, match="size must be an integer of at least 16"):
        street_scene(0, size)


@pytest.mark.parametrize("n_goals", [1, 0, -3, 2.0])
def test_bad_n_goals(n_goals):
    with pytest.raises(ValueError, match="n_goals must be an integer of at least 2"):
        street_scene(0, 64, n_goals=n_goals)


def test_too_many_goals():
    with pytest.raises(ValueError, match=r"n_goals=100000 is more than the \d+ separate"):
        street_scene(0, 64, n_goals=100_000)
    with pytest.raises(ValueError, match="ask for fewer goals or a larger map"):
        street_scene(0, 16, n_goals=200)
