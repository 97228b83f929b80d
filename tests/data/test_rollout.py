"""`rollout`: a jitted rollout equals a Python loop of `env.step`; padding, keys, errors."""

from functools import partial

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnax.environments import spaces
from jax.tree_util import Partial

from irlax._pytree import pytree_dataclass
from irlax.data import Trajectories, check_demos, episode_returns, rollout
from irlax.data.rollout import _jax_rollout
from irlax.envs import TabularEnv, gridworld, make
from irlax.rl._common import Result

N_EPISODES = 6
RT = {"return_terminated": True}
KEY = jax.random.key(0)


def balance(noise, bad_angle, obs, key):
    """Push the cart towards the pole's lean, with noise; action 2 (invalid) past `bad_angle`."""
    action = (obs[2] + noise * jax.random.normal(key) > 0).astype(jnp.int32)
    return jnp.where(jnp.abs(obs[2]) > bad_angle, 2, action)


def balancer(noise=0.1, bad_angle=jnp.inf):
    # Partial makes noise and bad_angle traced leaves: one compilation serves every test.
    return Partial(balance, jnp.asarray(noise), jnp.asarray(bad_angle))


@pytest.fixture(scope="module")
def cartpole():
    return gymnax.make("CartPole-v1")


@pytest.fixture(scope="module")
def cartpole_demos(cartpole):
    env, params = cartpole
    return rollout(env, balancer(), N_EPISODES, jax.random.key(3), params, return_terminated=True)


def python_loop(env, params, policy, key, n_episodes, max_steps):
    """Episodes from a plain loop of env.step, with the key schedule `rollout` documents."""
    episodes = []
    for episode_key in jax.random.split(key, n_episodes):
        keys = jax.random.split(episode_key, max_steps + 1)
        obs, state = env.reset(keys[0], params)
        observations, actions, rewards, terminated = [np.asarray(obs)], [], [], False
        for t in range(max_steps):
            action_key, env_key = jax.random.split(keys[t + 1])
            action = policy(obs, action_key)
            obs, state, reward, term, trunc, info = env.step(env_key, state, action, params)
            observations.append(np.asarray(info["final_observation"]))
            actions.append(int(action))
            rewards.append(float(reward))
            if term or trunc:
                terminated = bool(term)
                break
        episodes.append((observations, actions, rewards, terminated))
    return episodes


def test_rollout_equals_a_python_loop_of_env_step(cartpole, cartpole_demos):
    env, params = cartpole
    trajs, terminated = cartpole_demos
    horizon = params.max_steps_in_episode
    assert trajs.max_length == horizon and trajs.n_trajectories == N_EPISODES
    episodes = python_loop(env, params, balancer(), jax.random.key(3), N_EPISODES, horizon)
    for i, (obs, actions, rewards, term) in enumerate(episodes):
        length = len(actions)
        assert int(trajs.lengths[i]) == length
        np.testing.assert_array_equal(trajs.actions[i, :length], actions)
        np.testing.assert_allclose(trajs.observations[i, : length + 1], obs, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(trajs.rewards[i, :length], rewards)
        assert bool(terminated[i]) == term
    # The field holds the very array that return_terminated gives.
    assert trajs.terminated is terminated and trajs.terminated.dtype == jnp.bool_
    np.testing.assert_array_equal(episode_returns(trajs), [sum(ep[2]) for ep in episodes])
    # The noisy balancer's episodes differ in length and end before the time limit.
    assert len(set(np.asarray(trajs.lengths).tolist())) > 1
    assert bool(jnp.all(trajs.lengths < horizon)) and bool(jnp.all(terminated))


def test_padding_repeats_the_last_observation_and_zeroes_actions_and_rewards(cartpole_demos):
    trajs, _ = cartpole_demos
    obs, actions, rewards, mask = map(
        np.asarray, (trajs.observations, trajs.actions, trajs.rewards, trajs.mask)
    )
    for i, length in enumerate(np.asarray(trajs.lengths)):
        np.testing.assert_array_equal(mask[i], np.arange(trajs.max_length) < length)
        assert np.all(actions[i, length:] == 0) and np.all(rewards[i, length:] == 0)
        padding = np.broadcast_to(obs[i, length], (trajs.max_length - length, 4))
        np.testing.assert_array_equal(obs[i, length + 1 :], padding)
    # Discounted returns: sum_t discount^t r_t over the real steps only (CartPole pays 1 a step).
    discount = 0.9
    expected = (1 - discount ** np.asarray(trajs.lengths)) / (1 - discount)
    np.testing.assert_allclose(episode_returns(trajs, discount), expected, rtol=1e-9)
    # integer rewards are discounted in floating point too
    integer = trajs.replace(rewards=jnp.asarray(rewards, jnp.int32))
    np.testing.assert_allclose(episode_returns(integer, discount), expected, rtol=1e-6)


def test_same_key_same_result_and_no_recompilation(cartpole, cartpole_demos):
    env, params = cartpole
    trajs, _ = cartpole_demos
    compiled = _jax_rollout._cache_size()
    again = rollout(env, balancer(), N_EPISODES, jax.random.key(3), params)
    for a, b in zip(jax.tree.leaves(again), jax.tree.leaves(trajs), strict=True):
        np.testing.assert_array_equal(a, b)
    other = rollout(env, balancer(noise=0.5), N_EPISODES, jax.random.key(4), params)
    assert not np.array_equal(other.lengths, trajs.lengths)
    assert _jax_rollout._cache_size() == compiled


@pytest.mark.parametrize("n_episodes", [0, -2, 2.0, True])
def test_bad_n_episodes(cartpole, n_episodes):
    env, params = cartpole
    with pytest.raises(ValueError, match="n_episodes"):
        rollout(env, balancer(), n_episodes, jax.random.key(0), params)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (lambda obs, key: jnp.int32(2), r"in \[0, 2\)"),
        (lambda obs, key: jnp.int32(-1), r"in \[0, 2\)"),
        (lambda obs, key: jnp.zeros(2, jnp.int32), "shape"),
        (lambda obs, key: jnp.float32(0.0), "integer dtype"),
    ],
)
def test_actions_outside_the_action_space_on_the_first_step(cartpole, policy, message):
    env, params = cartpole
    with pytest.raises(ValueError, match=message):
        rollout(env, policy, 2, jax.random.key(0), params)


def test_actions_outside_the_action_space_later_in_the_rollout(cartpole, cartpole_demos):
    env, params = cartpole
    # Valid at the start (|angle| < 0.05 after a reset), invalid once the pole leans.
    message = r"in \[0, 2\).*at \[episode, step\].*must return actions in the action space"
    with pytest.raises(ValueError, match=message):
        rollout(env, balancer(bad_angle=0.06), N_EPISODES, jax.random.key(3), params)


# A corridor whose episode ends after a number of steps drawn at reset: exact lengths.


@pytree_dataclass
class CorridorState:
    position: jnp.ndarray
    goal: jnp.ndarray


@pytree_dataclass
class CorridorParams:
    step_reward: jnp.ndarray = 1.0  # no max_steps_in_episode: rollout needs max_steps


class Corridor:
    """JAX env: obs [position, goal]; action 1 moves forward; terminates at the goal."""

    default_params = CorridorParams()

    def action_space(self, params):
        return spaces.Discrete(2)

    def observation_space(self, params):
        return spaces.Box(0.0, 10.0, (2,), jnp.float32)

    def reset(self, key, params):
        goal = jax.random.randint(key, (), 2, 7).astype(jnp.float32)
        state = CorridorState(jnp.float32(0.0), goal)
        return jnp.stack([state.position, goal]), state

    def step(self, key, state, action, params):
        position = state.position + action
        terminated = position >= state.goal
        final = jnp.stack([position, state.goal]).astype(jnp.float32)
        reset_obs, reset_state = self.reset(key, params)
        state = jax.tree.map(
            lambda r, s: jnp.where(terminated, r, s),
            reset_state,
            CorridorState(position.astype(jnp.float32), state.goal),
        )
        obs = jnp.where(terminated, reset_obs, final)
        reward = jnp.float32(params.step_reward)
        info = {"final_observation": final}
        return obs, state, reward, terminated, jnp.bool_(False), info


def forward(obs, key):
    return jnp.int32(1)


def fixed_action(params, obs, key, deterministic):
    return 1 - params["action"] if deterministic else params["action"]


def test_max_steps_cuts_episodes_and_a_results_parameters_are_traced():
    env = Corridor()
    result = Result(params={"action": jnp.int32(1)}, metrics={}, act_fn=fixed_action)
    with pytest.raises(ValueError, match="max_steps is required"):
        rollout(env, result.policy, 3, jax.random.key(0))
    with pytest.raises(ValueError, match="max_steps must be"):
        rollout(env, result.policy, 3, jax.random.key(0), max_steps=0)
    trajs, terminated = rollout(env, result.policy, 16, jax.random.key(0), max_steps=4, **RT)
    goals = np.asarray(trajs.observations[:, 0, 1]).astype(int)  # drawn in [2, 6]
    assert {2, 3, 4} & set(goals.tolist()) and {5, 6} & set(goals.tolist())
    # Episodes shorter than max_steps end at their goal; longer ones are cut at max_steps.
    np.testing.assert_array_equal(trajs.lengths, np.minimum(goals, 4))
    np.testing.assert_array_equal(terminated, goals <= 4)
    np.testing.assert_array_equal(episode_returns(trajs), np.minimum(goals, 4))
    np.testing.assert_array_equal(trajs.observations[:, 4, 0], np.minimum(goals, 4))
    # New parameters, same compiled rollout: standing still (action 0) never reaches a goal.
    compiled = _jax_rollout._cache_size()
    still = result.replace(params={"action": jnp.int32(0)})
    trajs, terminated = rollout(env, still.policy, 16, jax.random.key(0), max_steps=4, **RT)
    assert _jax_rollout._cache_size() == compiled
    np.testing.assert_array_equal(trajs.lengths, 4)
    assert not np.any(np.asarray(terminated))
    np.testing.assert_array_equal(trajs.observations[:, :, 0], 0)
    # functools.partial(policy, deterministic=True): the keyword is static, the params traced.
    flipped = rollout(env, partial(still.policy, deterministic=True), 16, KEY, max_steps=4)
    np.testing.assert_array_equal(flipped.lengths, np.minimum(goals, 4))
    compiled = _jax_rollout._cache_size()
    flipped = rollout(env, partial(result.policy, deterministic=True), 16, KEY, max_steps=4)
    np.testing.assert_array_equal(flipped.lengths, 4)
    assert _jax_rollout._cache_size() == compiled


def test_float32_by_default():
    with jax.enable_x64(False):
        trajs = rollout(Corridor(), forward, 2, jax.random.key(0), max_steps=4)
    assert trajs.observations.dtype == jnp.float32 and trajs.rewards.dtype == jnp.float32


class HostCorridor:
    """Host vector env: a step moves 1 + action; copy i's k-th episode ends at 4 + (3i + k) % 5."""

    is_vector = True
    default_params = CorridorParams()

    def __init__(self, num_envs):
        self.num_envs = num_envs

    def action_space(self, params):
        return spaces.Discrete(2)

    def observation_space(self, params):
        return spaces.Box(0.0, 20.0, (2,), jnp.float32)

    def goal(self, i, k):
        return 4 + (3 * i + k) % 5

    def reset(self, key, params):
        self.episode = [0] * self.num_envs
        self.position = np.zeros(self.num_envs, np.float32)
        return self._obs(), None

    def _obs(self):
        goals = [self.goal(i, k) for i, k in enumerate(self.episode)]
        return np.stack([self.position, np.asarray(goals, np.float32)], axis=1)

    def step(self, key, state, actions, params):
        self.position = self.position + 1 + np.asarray(actions)
        final = self._obs()
        terminated = self.position >= final[:, 1]
        for i in np.flatnonzero(terminated):
            self.episode[i] += 1
            self.position[i] = 0.0
        reward = np.full(self.num_envs, params.step_reward, np.float32)
        info = {"final_observation": final}
        return self._obs(), None, reward, terminated, np.zeros(self.num_envs, bool), info


def hop(obs, key):
    """Hop (action 1) from positions divisible by 3: the actions depend on what is observed."""
    return (obs[0] % 3 == 0).astype(jnp.int32)


def hop_episode(goal, max_steps):
    """(positions, actions, terminated) of `hop` in a corridor to `goal`, cut at max_steps."""
    position, positions, actions = 0, [0], []
    while len(actions) < max_steps:
        action = int(position % 3 == 0)
        position += 1 + action
        positions.append(position)
        actions.append(action)
        if position >= goal:
            return positions, actions, True
    return positions, actions, False


def check_host_episodes(env, counts, max_steps):
    n_episodes = sum(counts)
    trajs, terminated = rollout(env, hop, n_episodes, jax.random.key(0), max_steps=max_steps, **RT)
    # Copy i runs (n_episodes + i) // num_envs episodes; they are listed copy by copy.
    assert counts == [(n_episodes + i) // env.num_envs for i in range(env.num_envs)]
    goals = [env.goal(i, k) for i, count in enumerate(counts) for k in range(count)]
    obs, actions = np.asarray(trajs.observations), np.asarray(trajs.actions)
    for j, goal in enumerate(goals):
        positions, expected_actions, expected_terminated = hop_episode(goal, max_steps)
        length = len(expected_actions)
        assert int(trajs.lengths[j]) == length and bool(terminated[j]) == expected_terminated
        assert bool(trajs.terminated[j]) == expected_terminated
        np.testing.assert_array_equal(obs[j, : length + 1, 0], positions)
        np.testing.assert_array_equal(obs[j, : length + 1, 1], goal)  # each starts afresh
        np.testing.assert_array_equal(
            obs[j, length + 1 :], obs[j, length][None].repeat(max_steps - length, 0)
        )
        np.testing.assert_array_equal(actions[j, :length], expected_actions)
    np.testing.assert_array_equal(
        episode_returns(trajs), [len(hop_episode(g, max_steps)[1]) for g in goals]
    )
    check_demos(env, None, trajs)
    return terminated


def test_host_vector_env_shares_episodes_among_copies_in_order():
    terminated = check_host_episodes(HostCorridor(num_envs=3), [2, 2, 3], max_steps=8)
    assert np.all(np.asarray(terminated))


def test_host_vector_env_cut_episodes_wait_for_the_env_to_end_them():
    # Goals 4, 5 (copy 0) and 7, 8 (copy 1); copy 1's episodes take 5 steps, cut at 3: its
    # second episode is recorded only from the env's own next reset.
    terminated = check_host_episodes(HostCorridor(num_envs=2), [2, 2], max_steps=3)
    np.testing.assert_array_equal(terminated, [True, True, False, False])
    with pytest.raises(ValueError, match=r"in \[0, 2\)"):
        rollout(HostCorridor(2), lambda obs, key: jnp.int32(3), 2, jax.random.key(0), max_steps=3)


# terminated: a terminal state versus a time limit, on envs where the answer is known


def push_left(obs, key):
    return jnp.int32(0)


def test_terminated_survives_save_and_load(cartpole_demos, tmp_path):
    # What `irlax expert` does: roll out, save, and a learner loads the flags back.
    trajs, terminated = cartpole_demos
    trajs.save(tmp_path / "demos.npz")
    np.testing.assert_array_equal(Trajectories.load(tmp_path / "demos.npz").terminated, terminated)


def test_tabular_env_terminal_state_versus_time_limit():
    # A corridor of 5 cells, the goal (terminal) at the right end, starts uniform over cells
    # 0-3, a time limit of 2 actions; action 3 moves right, so from cell c the goal is 4 - c
    # steps away: starts 2 and 3 terminate (start 2 on the time limit's own step, where
    # termination wins), starts 0 and 1 are truncated at cells 2 and 3.
    mdp = gridworld(1, 5, horizon=None, discount=0.9, goal=(0, 4))
    env = TabularEnv(mdp, np.zeros(5), observation="index", time_limit=2)
    trajs = rollout(env, lambda obs, key: jnp.int32(3), 32, KEY)
    start = np.asarray(trajs.observations[:, 0])
    assert set(start.tolist()) == {0, 1, 2, 3}
    np.testing.assert_array_equal(trajs.terminated, start >= 2)
    np.testing.assert_array_equal(trajs.lengths, np.minimum(4 - start, 2))
    np.testing.assert_array_equal(trajs.observations[:, 2], np.minimum(start + 2, 4))


def test_gymnasium_host_env_terminal_state_versus_its_time_limit():
    for limit, terminated in [(500, True), (5, False)]:
        env, params = make("gymnasium:CartPole-v1", num_envs=2, max_episode_steps=limit)
        try:
            trajs = rollout(env, push_left, 3, KEY, params)
        finally:
            env.close()
        assert np.all(np.asarray(trajs.lengths) <= min(limit, 20))
        np.testing.assert_array_equal(trajs.terminated, terminated)


# check_demos


def test_check_demos_accepts_rollouts_and_names_what_differs(cartpole, cartpole_demos):
    env, params = cartpole
    trajs, _ = cartpole_demos
    check_demos(env, params, trajs)
    obs, act, lengths = (np.asarray(x) for x in (trajs.observations, trajs.actions, trajs.lengths))

    def demos(observations=obs, actions=act):
        return Trajectories(observations, actions, lengths)

    with pytest.raises(ValueError, match=r"observations must have element shape \(4,\)"):
        check_demos(env, params, demos(observations=obs[..., :3]))
    with pytest.raises(ValueError, match="observations must have a floating dtype"):
        check_demos(env, params, demos(observations=obs.astype(np.int32)))
    with pytest.raises(ValueError, match=r"actions must have element shape \(\)"):
        check_demos(env, params, demos(actions=act[..., None]))
    with pytest.raises(ValueError, match="actions must have a integer dtype"):
        check_demos(env, params, demos(actions=act.astype(np.float32)))
    bad = act.copy()
    bad[1, 5] = 2
    with pytest.raises(
        ValueError, match=r"in \[0, 2\); 1 entries are not, the first at index \(1, 5\)"
    ):
        check_demos(env, params, demos(actions=bad))
    padding_only = act.copy()
    padding_only[0, lengths[0]] = 7  # ignored: past the end of trajectory 0
    check_demos(env, params, demos(actions=padding_only))
    nan = obs.copy()
    nan[2, 0, 1] = np.nan
    with pytest.raises(ValueError, match=r"finite.*index \(2, 0\)"):
        check_demos(env, params, demos(observations=nan))
    with pytest.raises(ValueError, match="demos must be Trajectories"):
        check_demos(env, params, {"observations": obs})


def test_check_demos_box_actions():
    env, params = gymnax.make("Pendulum-v1")
    obs = np.zeros((2, 4, 3), np.float32)
    actions = np.zeros((2, 3, 1), np.float32)
    check_demos(env, params, Trajectories(obs, actions, np.array([3, 1])))
    actions[1, 2, 0] = 5.0  # padding of trajectory 1: fine
    check_demos(env, params, Trajectories(obs, actions, np.array([3, 1])))
    actions[0, 1, 0] = -2.5
    with pytest.raises(ValueError, match=r"inside the box.*index \(0, 1\)"):
        check_demos(env, params, Trajectories(obs, actions, np.array([3, 1])))
    with pytest.raises(ValueError, match=r"element shape \(1,\)"):
        check_demos(env, params, Trajectories(obs, np.zeros((2, 3, 2)), np.array([3, 1])))


def test_episode_returns_needs_rewards():
    with pytest.raises(ValueError, match="rewards is None"):
        episode_returns(Trajectories(np.zeros((1, 2)), np.zeros((1, 1), int), np.array([1])))
