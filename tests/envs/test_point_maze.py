"""PointMaze (AIRL's shifting maze): the wall blocks everywhere but its gap, no step tunnels
through it or leaves the arena (against a float64 reference of the rule), the reward is minus
the distance to the goal, and a gap-following policy reaches the goal only in its own maze."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.envs import PointMaze, PointMazeParams, PointMazeState
from irlax.envs.point_maze import WALL_MARGIN

ENV = PointMaze()
LEFT, RIGHT = PointMaze.params("left"), PointMaze.params("right")
W = 0.5  # the default wall height


def _stack(*params):
    return jax.tree.map(lambda *xs: np.stack(xs), *params)


def _move(params, position, action):
    """The position one eager `step` leads to from `position` (its final observation)."""
    state = PointMazeState(position=jnp.asarray(position, jnp.float64), time=jnp.int32(0))
    _, _, _, _, _, info = ENV.step(jax.random.key(0), state, jnp.asarray(action), params)
    return np.asarray(info["final_observation"])


@pytest.mark.parametrize("gap", ["left", "right"])
def test_the_wall_blocks_a_straight_path_and_the_gap_lets_it_through(gap):
    params = PointMaze.params(gap)
    gap_x, wall_x = (0.1, 0.9) if gap == "left" else (0.9, 0.1)
    for x in (wall_x, 0.5):  # the centre is wall in both mazes
        np.testing.assert_allclose(_move(params, (x, 0.47), (0, 1)), (x, W - WALL_MARGIN))
        np.testing.assert_allclose(_move(params, (x, 0.53), (0, -1)), (x, W + WALL_MARGIN))
    np.testing.assert_allclose(_move(params, (gap_x, 0.47), (0, 1)), (gap_x, 0.52))
    np.testing.assert_allclose(_move(params, (gap_x, 0.53), (0, -1)), (gap_x, 0.48))
    # a blocked move keeps its component along the wall (the point slides)
    np.testing.assert_allclose(_move(params, (0.5, 0.47), (1, 1)), (0.55, W - WALL_MARGIN))


def test_no_step_tunnels_through_the_wall_even_at_full_speed():
    fast = PointMaze.params("left", max_speed=1.0)
    # from the start at full speed: the end points (clipped to the arena) lie past the wall
    np.testing.assert_allclose(_move(fast, (0.5, 0.1), (0, 1)), (0.5, W - WALL_MARGIN))
    np.testing.assert_allclose(_move(fast, (0.5, 0.1), (1, 1)), (1.0, W - WALL_MARGIN))
    np.testing.assert_allclose(_move(fast, (0.5, 0.9), (0, -1)), (0.5, W + WALL_MARGIN))
    # a diagonal that ends above the gap but crosses the wall line at x = 0.55
    half = PointMaze.params("left", max_speed=0.5)
    assert bool(PointMaze.in_gap(jnp.float64(0.1), half))  # an end-point test would pass it
    np.testing.assert_allclose(_move(half, (0.6, 0.45), (-1, 1)), (0.1, W - WALL_MARGIN))
    # one that crosses at x = 0.32 - 0.032 = 0.288, inside the gap, passes (clipped at x = 0)
    np.testing.assert_allclose(_move(half, (0.32, 0.45), (-1, 1)), (0.0, 0.95))


def test_the_wall_line_belongs_to_the_wall_outside_the_gap():
    # steps of 1/8 land exactly on the line y = 1/2
    params = PointMaze.params("left", max_speed=0.125)
    np.testing.assert_array_equal(_move(params, (0.5, 0.625), (0, -1)), (0.5, W + WALL_MARGIN))
    np.testing.assert_array_equal(_move(params, (0.5, 0.375), (0, 1)), (0.5, W - WALL_MARGIN))
    np.testing.assert_array_equal(_move(params, (0.125, 0.375), (0, 1)), (0.125, W))  # the gap
    # on the line inside the gap: down passes, sliding out along the line is stopped (above)
    np.testing.assert_array_equal(_move(params, (0.125, W), (0, -1)), (0.125, 0.375))
    np.testing.assert_array_equal(_move(params, (0.25, W), (1, 0)), (0.375, W + WALL_MARGIN))
    # the gap's end at the arena's side is open: pushing along the side passes
    np.testing.assert_array_equal(_move(params, (0.0, 0.4375), (-1, 1)), (0.0, 0.5625))


def _reference_move(p, a, params):
    """The module docstring's rule in float64 numpy, for batches `p, a [N, 2]`."""
    speed, w = float(params.max_speed), float(params.wall_y)
    side, width = float(params.gap_side), float(params.gap_width)
    q = np.clip(p + speed * np.clip(a, -1, 1), 0, 1)
    below = p[:, 1] < w
    crosses = below != (q[:, 1] < w)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = p[:, 0] + (w - p[:, 1]) / (q[:, 1] - p[:, 1]) * (q[:, 0] - p[:, 0])
    blocked = crosses & ~(side * (x - 0.5) >= 0.5 - width)
    y = np.where(blocked, np.where(below, w - WALL_MARGIN, w + WALL_MARGIN), q[:, 1])
    return np.stack([q[:, 0], y], axis=1), crosses, blocked


def test_random_steps_stay_in_the_arena_and_cross_only_through_the_gap():
    n, steps = 256, 30
    mazes = [PointMaze.params(g, max_speed=v) for g in ("left", "right") for v in (0.3, 2.0)]
    rng = np.random.default_rng(3)  # test data from numpy: eager jax.random compiles per shape
    starts = rng.uniform(0, 1, (len(mazes), n, 2))
    actions = rng.uniform(-1.5, 1.5, (len(mazes), n, steps, 2))

    def walk(params, start, actions):
        state = PointMazeState(position=start, time=jnp.int32(0))

        def body(state, a):
            _, state, _, _, trunc, info = ENV.step(jax.random.key(0), state, a, params)
            return state, (info["final_observation"], trunc)

        _, (path, trunc) = jax.lax.scan(body, state, actions)
        return jnp.concatenate([start[None], path]), trunc

    paths, trunc = jax.jit(jax.vmap(jax.vmap(walk, (None, 0, 0))))(_stack(*mazes), starts, actions)
    assert not trunc.any()  # 30 < 100 steps: one episode, so the path is the trajectory
    paths = np.asarray(paths)
    assert (paths >= 0).all() and (paths <= 1).all()
    for m, maze in enumerate(mazes):
        p = paths[m, :, :-1].reshape(-1, 2)
        got = paths[m, :, 1:].reshape(-1, 2)
        want, _, blocked = _reference_move(p, actions[m].reshape(-1, 2), maze)
        np.testing.assert_allclose(got, want, atol=1e-12)
        # independently of the reference: a side change happens only inside the gap
        changed = (p[:, 1] < W) != (got[:, 1] < W)
        x = p[changed, 0] + (W - p[changed, 1]) / (got[changed, 1] - p[changed, 1]) * (
            got[changed, 0] - p[changed, 0]
        )
        assert ((x <= 0.3 + 1e-12) if maze.gap_side < 0 else (x >= 0.7 - 1e-12)).all()
        assert changed.sum() > 20 and blocked.sum() > 20  # both cases were exercised


def _gap_then_goal(obs, params):
    """Head for a point just past the middle of `params`' gap, then for the goal."""
    gap_x = jnp.where(params.gap_side < 0, params.gap_width / 2, 1 - params.gap_width / 2)
    waypoint = jnp.stack([gap_x, params.wall_y + 0.1])
    target = jnp.where(obs[1] < params.wall_y, waypoint, params.goal)
    return jnp.clip((target - obs) / params.max_speed, -1.0, 1.0)


def _rollout(key, params, policy_params, noise):
    """Scan the gap-then-goal policy of `policy_params` plus `noise [T, 2]` from a reset."""
    obs, state = ENV.reset(key, params)

    def body(carry, xs):
        obs, state = carry
        k, eps = xs
        a = _gap_then_goal(obs, policy_params) + eps
        nxt, state, r, term, trunc, info = ENV.step(k, state, a, params)
        return (nxt, state), (obs, a, r, term, trunc, info["final_observation"], state.time)

    keys = jax.random.split(key, noise.shape[0])
    return jax.lax.scan(body, (obs, state), (keys, noise))[1]


# Every test below runs this one compiled function: 32 rollouts of 120 steps (a 100-step
# episode and the start of the next), 8 for each (env maze, policy maze) pair.
ROLLOUTS = jax.jit(jax.vmap(_rollout))
STEPS, EPISODE = 120, 100
PAIRS = [(e, p) for e in ("left", "right") for p in ("left", "right")]


def _all_pairs(keys, noise, **overrides):
    """`ROLLOUTS` of the `PAIRS` (env mazes built with `overrides`), rollout i by pair i // 8."""
    env_params = _stack(*(PointMaze.params(e, **overrides) for e, _ in PAIRS for _ in range(8)))
    policy_params = _stack(*(PointMaze.params(p) for _, p in PAIRS for _ in range(8)))
    return ROLLOUTS(keys, env_params, policy_params, noise)


KEYS = jax.random.split(jax.random.key(5), 32)
NOISE = np.random.default_rng(6).normal(0, 0.3, (32, STEPS, 2))


def test_a_gap_following_policy_reaches_the_goal_only_in_its_own_maze():
    _, _, rewards, term, trunc, final, _ = _all_pairs(KEYS, np.zeros((32, STEPS, 2)))
    assert not term.any() and trunc[:, EPISODE - 1].all()
    last = np.asarray(final[:, EPISODE - 1]).reshape(2, 2, 8, 2)  # [env, policy, key, xy]
    reached = np.asarray(ENV.reached_goal(last))
    np.testing.assert_array_equal(reached, np.eye(2, dtype=bool)[:, :, None].repeat(8, 2))
    assert (last[0, 1, :, 1] < W).all() and (last[1, 0, :, 1] < W).all()  # stuck under the wall
    returns = np.asarray(rewards[:, :EPISODE].sum(-1)).reshape(2, 2, 8)
    assert returns[0, 0].min() > returns[0, 1].max() and returns[1, 1].min() > returns[1, 0].max()


def test_reward_is_minus_the_distance_to_the_goal():
    for cost in (0.0, 0.1):
        obs, a, r, *_ = _all_pairs(KEYS, NOISE, control_cost=cost)
        a = np.clip(np.asarray(a), -1, 1)  # what the env applies
        dist = np.linalg.norm(np.asarray(obs) - np.array([0.5, 0.9]), axis=-1)
        np.testing.assert_allclose(ENV.distance_to_goal(obs), dist, rtol=1e-12)
        np.testing.assert_allclose(r, -dist - cost * (a**2).sum(-1), rtol=1e-12)
        assert dist.min() < 0.05 and dist.max() > 0.75


def test_vmap_over_mazes_equals_a_loop():
    size = ROLLOUTS._cache_size()
    out = _all_pairs(KEYS, NOISE)
    assert ROLLOUTS._cache_size() <= max(size, 1)  # new values reuse the compiled rollout
    single = jax.jit(_rollout)
    for i in (0, 8, 16, 24):  # one rollout of each pair
        params, policy_params = (PointMaze.params(g) for g in PAIRS[i // 8])
        want = single(KEYS[i], params, policy_params, NOISE[i])
        for got, w in zip(out, want, strict=True):
            np.testing.assert_allclose(got[i], w, rtol=1e-12, atol=1e-12)
    # same key, same noise, other maze: the paths differ (the gap-left policy meets the wall)
    assert not np.allclose(out[5][0], out[5][16])


def test_same_key_same_rollout_and_starts_fill_the_noise_square():
    first = _all_pairs(KEYS, NOISE)
    again = _all_pairs(KEYS, NOISE)
    for x, y in zip(first, again, strict=True):
        np.testing.assert_array_equal(x, y)
    starts = np.asarray(first[0][:, 0])  # [32, 2], one reset per key
    offset = starts - np.array([0.5, 0.1])
    assert (np.abs(offset) <= 0.02).all() and (np.abs(offset).max(0) > 0.015).all()
    assert len(np.unique(offset[:, 0])) == 32


def test_episodes_truncate_at_max_steps_and_report_the_final_observation():
    obs, _, _, term, trunc, final, time = (np.asarray(x) for x in _all_pairs(KEYS, NOISE))
    want = np.zeros(STEPS, bool)
    want[EPISODE - 1] = True
    np.testing.assert_array_equal(trunc, np.broadcast_to(want, trunc.shape))
    assert not term.any()
    want_time = (np.arange(STEPS) + 1) % EPISODE
    np.testing.assert_array_equal(time, np.broadcast_to(want_time, time.shape))
    # inside an episode the next observation is the final one; after truncation a fresh start
    np.testing.assert_array_equal(obs[:, 1:EPISODE], final[:, : EPISODE - 1])
    assert (final[:, EPISODE - 1, 1] > 0.85).any()  # the episodes that reached the goal ...
    assert (np.abs(obs[:, EPISODE] - np.array([0.5, 0.1])) <= 0.02).all()  # ... restart
    assert not np.allclose(obs[:, EPISODE], obs[:, 0])  # from a new start (the reset key)


@pytest.mark.parametrize(
    "gap, overrides, named",
    [
        ("up", {}, "gap"),
        (None, {}, "gap"),
        ("left", {"gap_side": 1.0}, "gap_side"),
        ("left", {"speed": 0.1}, "speed"),
        ("left", {"gap_width": 1.0}, "gap_width"),
        ("left", {"wall_y": 0.0}, "wall_y"),
        ("left", {"start": (0.5, 0.49)}, "start"),
        ("left", {"start": (0.01, 0.1)}, "start"),
        ("left", {"start": (0.5,)}, "start"),
        ("left", {"goal": (0.5, 1.2)}, "goal"),
        ("left", {"goal_radius": 0.0}, "goal_radius"),
        ("left", {"max_speed": -0.1}, "max_speed"),
        ("left", {"max_speed": float("nan")}, "max_speed"),
        ("left", {"start_noise": -0.01}, "start_noise"),
        ("left", {"control_cost": -1.0}, "control_cost"),
        ("left", {"max_steps_in_episode": 0}, "max_steps_in_episode"),
        ("left", {"max_steps_in_episode": 2.5}, "max_steps_in_episode"),
        ("left", {"max_steps_in_episode": True}, "max_steps_in_episode"),
    ],
)
def test_a_bad_gap_or_parameter_is_refused_by_name(gap, overrides, named):
    with pytest.raises(ValueError, match=named):
        PointMaze.params(gap, **overrides)
    with pytest.raises(ValueError, match=named):
        PointMaze(gap, **overrides)


def test_bad_params_or_actions_given_to_the_env_are_refused_by_name():
    _, state = ENV.reset(jax.random.key(0), LEFT)
    with pytest.raises(ValueError, match="gap_side"):
        ENV.reset(jax.random.key(0), LEFT.replace(gap_side=jnp.float64(0.5)))
    with pytest.raises(ValueError, match="wall_y"):
        ENV.step(jax.random.key(0), state, jnp.zeros(2), LEFT.replace(wall_y=jnp.float64(1.0)))
    with pytest.raises(ValueError, match="params must be PointMazeParams"):
        ENV.reset(jax.random.key(0), {"gap_side": -1.0})
    with pytest.raises(ValueError, match="action"):
        ENV.step(jax.random.key(0), state, jnp.array([0.0, 1.5]), LEFT)


def test_float32_by_default():
    with jax.enable_x64(False):
        env = PointMaze("right")
        params = env.default_params
        assert isinstance(params, PointMazeParams) and params.gap_side.dtype == jnp.float32
        obs, state = env.reset(jax.random.key(0), params)
        obs, _, r, *_ = env.step(jax.random.key(1), state, jnp.ones(2, jnp.float32), params)
        assert obs.dtype == r.dtype == jnp.float32
        assert env.observation_space(params).contains(obs)
