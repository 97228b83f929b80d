"""`plan_on_grid`, the maze benchmark's check of a learned reward apart from the learner: value
iteration on the reward map must respect the wall, the horizon and the reward itself."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import adversarial

from irlax.envs import PointMaze


def _distance_reward(goal):
    xs = adversarial.map_axis()
    gx, gy = np.meshgrid(xs, xs)
    return -np.hypot(gx - goal[0], gy - goal[1])


@pytest.mark.parametrize("gap", ["left", "right"])
def test_the_true_reward_reaches_the_goal_in_either_maze(gap):
    params = PointMaze.params(gap)
    truth = adversarial._true_map(np.asarray(params.goal))
    np.testing.assert_allclose(truth, _distance_reward(np.asarray(params.goal)))
    assert adversarial.plan_on_grid(truth, params, 0.98)


def test_the_wall_costs_the_detour_through_the_gap():
    """Start and goal one above the other at the left edge, the gap at the right: straight up
    is 16 cells but through the wall; round by the gap (x ≥ 0.7) is at least 26 moves. So 20
    steps do not reach the goal and 40 do."""
    corner = {"gap": "right", "start": (0.1, 0.1), "goal": (0.1, 0.9), "start_noise": 0.0}
    reward = _distance_reward((0.1, 0.9))
    short = PointMaze.params(**corner, max_steps_in_episode=20)
    long = PointMaze.params(**corner, max_steps_in_episode=40)
    assert not adversarial.plan_on_grid(reward, short, 0.98)
    assert adversarial.plan_on_grid(reward, long, 0.98)
    # Through an open gap on the left the same 20 steps suffice.
    assert adversarial.plan_on_grid(
        reward, PointMaze.params(**{**corner, "gap": "left"}, max_steps_in_episode=20), 0.98
    )


def test_a_reward_that_peaks_elsewhere_is_followed_there():
    """The planner follows the reward, not the goal: one highest in the lower-left corner keeps
    the policy below the wall."""
    xs = adversarial.map_axis()
    gx, gy = np.meshgrid(xs, xs)
    corner = -np.hypot(gx, gy)
    assert not adversarial.plan_on_grid(corner, PointMaze.params("left"), 0.98)


def test_a_map_of_another_size_is_refused():
    with pytest.raises(ValueError, match="20x20"):
        adversarial.plan_on_grid(np.zeros((10, 10)), PointMaze.params("left"), 0.98)
