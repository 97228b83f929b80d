"""KeyDoor (concurrent actions): moves, walls, blocking objects, acting, the reward and its
termination by hand; random layouts; the scripted expert opens the door on every layout it is
given, one button at a time; the action space is a multi-categorical one."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.data.rollout import check_demos, rollout
from irlax.envs import KeyDoor, KeyDoorParams, KeyDoorState, make
from irlax.envs.key_door import expert
from irlax.nets.policies import MultiCategorical, head_for_space

ENV = KeyDoor()
PARAMS = ENV.default_params  # 5 x 5, 40 steps
NONE, UP, RIGHT, DOWN, LEFT = range(5)
_step_env = jax.jit(ENV.step_env, static_argnums=3)
_expert = jax.jit(expert, static_argnames="size")


def _state(position, facing=0, key=(0, 0), door=(4, 4), has_key=False, time=0):
    return KeyDoorState(
        position=jnp.asarray(position, jnp.int32),
        facing=jnp.int32(facing),
        key=jnp.asarray(key, jnp.int32),
        door=jnp.asarray(door, jnp.int32),
        has_key=jnp.bool_(has_key),
        time=jnp.int32(time),
    )


def _step(state, move, act=0, params=PARAMS):
    """One eager step: `(final state, reward, terminated, truncated, final obs)`."""
    action = jnp.asarray([move, act], jnp.int32)
    _, _, reward, terminated, truncated, info = ENV.step(jax.random.key(0), state, action, params)
    final = _step_env(jax.random.key(0), state, action, params)[1]
    return final, float(reward), bool(terminated), bool(truncated), info["final_observation"]


def test_moves_turn_the_agent_and_the_border_is_a_wall():
    s = _state((2, 2), facing=0)
    for move, cell, facing in [(UP, (1, 2), 0), (RIGHT, (2, 3), 1), (DOWN, (3, 2), 2)]:
        final, *_ = _step(s, move)
        np.testing.assert_array_equal(final.position, cell)
        assert int(final.facing) == facing
    final, *_ = _step(s, LEFT)
    np.testing.assert_array_equal(final.position, (2, 1))
    final, *_ = _step(_state((2, 2), facing=3), NONE)  # no move: stays, keeps facing
    np.testing.assert_array_equal(final.position, (2, 2))
    assert int(final.facing) == 3
    # off the grid: stays, but turns
    final, *_ = _step(_state((0, 2), facing=2), UP)
    np.testing.assert_array_equal(final.position, (0, 2))
    assert int(final.facing) == 0
    final, *_ = _step(_state((2, 4)), RIGHT)
    np.testing.assert_array_equal(final.position, (2, 4))


def test_the_key_and_the_door_block_until_the_key_is_taken():
    s = _state((2, 2), facing=0, key=(2, 3), door=(1, 2))
    final, *_ = _step(s, RIGHT)  # into the key: blocked, now facing it
    np.testing.assert_array_equal(final.position, (2, 2))
    assert int(final.facing) == 1
    final, *_ = _step(s, UP)  # into the door: blocked
    np.testing.assert_array_equal(final.position, (2, 2))
    final, *_ = _step(s.replace(has_key=jnp.bool_(True)), RIGHT)  # a taken key's cell is free
    np.testing.assert_array_equal(final.position, (2, 3))


def test_acting_collects_the_key_and_opens_the_door_with_it_only():
    s = _state((2, 2), facing=1, key=(2, 3), door=(3, 2))
    final, r, term, _, _ = _step(s, NONE, 1)  # facing the key
    assert bool(final.has_key) and r == 0.0 and not term
    final, *_ = _step(s.replace(facing=jnp.int32(0)), NONE, 1)  # facing away: nothing
    assert not bool(final.has_key)
    final, r, term, _, _ = _step(s.replace(facing=jnp.int32(2)), NONE, 1)  # door, no key
    assert r == 0.0 and not term
    final, *_ = _step(s, NONE, 0)  # not acting
    assert not bool(final.has_key)
    # with the key, facing the door, at step 10 of 40: reward 1 - 0.9 * 10 / 40
    opened = s.replace(facing=jnp.int32(2), has_key=jnp.bool_(True), time=jnp.int32(9))
    final, r, term, trunc, _ = _step(opened, NONE, 1)
    assert r == pytest.approx(1 - 0.9 * 10 / 40) and term and not trunc


def test_a_move_and_an_act_in_one_step_turn_to_an_object_and_use_it():
    # the key is to the right while the agent faces up: RIGHT + act collects it at once
    s = _state((2, 2), facing=0, key=(2, 3), door=(0, 0))
    final, *_ = _step(s, RIGHT, 1)
    assert bool(final.has_key)
    # moving then acting on the new front cell: step up to (1, 2), the door at (0, 2) ahead
    s = _state((2, 2), facing=1, key=(4, 4), door=(0, 2), has_key=True, time=0)
    final, r, term, *_ = _step(s, UP, 1)
    np.testing.assert_array_equal(final.position, (1, 2))
    assert term and r == pytest.approx(1 - 0.9 / 40)


def test_episodes_truncate_at_the_step_limit_and_reset():
    s = _state((2, 2), time=PARAMS.max_steps_in_episode - 1)
    _, r, term, trunc, _ = _step(s, NONE)
    assert trunc and not term and r == 0.0
    obs, new_state, *_ = ENV.step(jax.random.key(3), s, jnp.asarray([0, 0], jnp.int32), PARAMS)
    assert int(new_state.time) == 0 and obs[-1] == 0.0


def test_resets_draw_distinct_random_layouts_and_observe_the_whole_state():
    keys = jax.random.split(jax.random.key(0), 512)
    obs, states = jax.vmap(ENV.reset, in_axes=(0, None))(keys, PARAMS)
    cells = np.stack([states.position, states.key, states.door], 1)  # [512, 3, 2]
    assert cells.min() >= 0 and cells.max() < PARAMS.size
    flat = cells[..., 0] * PARAMS.size + cells[..., 1]
    assert (flat[:, 0] != flat[:, 1]).all() and (flat[:, 1] != flat[:, 2]).all()
    assert (flat[:, 0] != flat[:, 2]).all()
    # every cell is used by each of the three, and every facing occurs
    for i in range(3):
        assert len(np.unique(flat[:, i])) == PARAMS.size**2
    assert set(np.asarray(states.facing).tolist()) == {0, 1, 2, 3}
    assert obs.shape == (512, 12) and np.abs(obs).max() <= 1.0
    # the observation spells out the state (offsets, cell, facing, key, time)
    s = _state((1, 3), facing=2, key=(4, 0), door=(0, 3), time=10)
    np.testing.assert_allclose(
        ENV.get_obs(s, PARAMS),
        [0.75, -0.75, -0.25, 0.0, 0.25, 0.75, 0, 0, 1, 0, 0, 0.25],
    )
    with_key = ENV.get_obs(s.replace(has_key=jnp.bool_(True)), PARAMS)
    np.testing.assert_allclose(with_key[np.array([0, 1, 10])], [0.0, 0.0, 1.0])


def test_the_scripted_expert_opens_the_door_on_every_layout_one_button_at_a_time():
    demos = rollout(ENV, expert, 300, jax.random.key(1), PARAMS)
    lengths = np.asarray(demos.lengths)
    returns = np.asarray(demos.rewards).sum(1)
    assert np.asarray(demos.terminated).all()  # every episode ends by opening the door
    np.testing.assert_allclose(returns, 1 - 0.9 * lengths / PARAMS.max_steps_in_episode)
    mask = np.asarray(demos.mask)
    actions = np.asarray(demos.actions)[mask]
    assert not ((actions[:, 0] > 0) & (actions[:, 1] > 0)).any()  # never moves and acts at once
    assert (actions[:, 1] == 1).sum() == 2 * len(lengths)  # acts exactly twice: key, door
    check_demos(ENV, PARAMS, demos)  # the space's checks accept its actions
    # by hand: agent at (2, 0) facing up, key at (2, 2), door at (0, 0)
    s = _state((2, 0), facing=0, key=(2, 2), door=(0, 0))
    taken = []
    for _ in range(8):
        a = _expert(ENV.get_obs(s, PARAMS))
        taken.append(tuple(int(x) for x in a))
        s, r, term, *_ = _step(s, *taken[-1])
        if term:
            break
    # right to (2, 1), act on the key; up to (1, 1), (0, 1); turn left to the door, act
    assert taken == [(RIGHT, 0), (NONE, 1), (UP, 0), (UP, 0), (LEFT, 0), (NONE, 1)]
    assert term and r == pytest.approx(1 - 0.9 * 6 / 40)


def test_the_action_space_is_multi_categorical_and_bad_input_is_refused():
    space = ENV.action_space(PARAMS)
    assert head_for_space(space) == MultiCategorical((5, 2))
    s = _state((2, 2))
    for bad in ([5, 0], [0, 2], [-1, 0], [1], [0.0, 1.0]):
        with pytest.raises(ValueError, match="action"):
            ENV.step(jax.random.key(0), s, np.asarray(bad), PARAMS)
    with pytest.raises(ValueError, match="size"):
        KeyDoor(size=2)
    with pytest.raises(ValueError, match="max_steps_in_episode"):
        ENV.reset(jax.random.key(0), KeyDoorParams(5, 0))
    env, params = make("KeyDoor-v0", size=6)
    assert isinstance(env, KeyDoor) and params.size == 6
    with pytest.raises(ValueError, match="colour"):
        make("KeyDoor-v0", colour=1)
    maze, maze_params = make("PointMaze-v0", gap="right")
    assert maze.name == "PointMaze" and float(maze_params.gap_side) == 1.0
