"""The Gymnasium adapter: the same transitions as gymnax's CartPole, under jit and scan through
ordered callbacks, deterministic in its key, with clear errors."""

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnax.environments.classic_control.cartpole import CartPole, EnvState

from irlax.envs import (
    EpisodeStatistics,
    GymnasiumEnv,
    NormalizeObservation,
    TimeLimit,
    make,
    spaces,
)
from irlax.nets.policies import MultiCategorical, head_for_space
from irlax.rl._common import reset_envs, step_envs


@pytest.fixture(scope="module")
def cartpole():
    env = GymnasiumEnv("CartPole-v1", num_envs=2)
    yield env
    env.close()


def test_same_transitions_as_gymnax_cartpole():
    """Step the adapter and gymnax's CartPole from the same physical state with the same
    actions; copy the state across only when Gymnasium starts a new episode."""
    adapter = GymnasiumEnv("CartPole-v1", num_envs=1)
    host = adapter.vector_env.envs[0].unwrapped
    gymnax_env = CartPole()
    params = gymnax_env.default_params
    step_env = jax.jit(gymnax_env.step_env)

    def copy_state():
        x, x_dot, theta, theta_dot = (jnp.float64(v) for v in host.state)
        return EnvState(x=x, x_dot=x_dot, theta=theta, theta_dot=theta_dot, time=0)

    obs, state = adapter.reset(jax.random.key(0))
    gx_state = copy_state()
    np.testing.assert_allclose(obs[0], gymnax_env.get_obs(gx_state), rtol=1e-6)
    actions = np.random.default_rng(0).integers(0, 2, 200)
    n_terminated = 0
    for t, a in enumerate(actions):
        obs, state, reward, term, trunc, info = adapter.step(
            jax.random.key(t), state, jnp.array([a], jnp.int32)
        )
        gx_obs, gx_state, gx_reward, gx_done, _ = step_env(
            jax.random.key(t), gx_state, jnp.int32(a), params
        )
        np.testing.assert_allclose(info["final_observation"][0], gx_obs, rtol=1e-5, atol=1e-6)
        assert float(reward[0]) == float(gx_reward) == 1.0
        assert bool(term[0]) == bool(gx_done), t
        assert not bool(trunc[0])
        if bool(term[0]):
            n_terminated += 1
            assert not np.allclose(obs[0], info["final_observation"][0])
            gx_state = copy_state()  # the new episode's start
            np.testing.assert_allclose(obs[0], gymnax_env.get_obs(gx_state), rtol=1e-6)
        else:
            np.testing.assert_array_equal(obs, info["final_observation"])
    assert n_terminated >= 3
    assert obs.dtype == jnp.float32 and reward.dtype == jnp.float32
    adapter.close()


def _scan_rollout(env, key, n_steps):
    obs, state = env.reset(key)

    def body(state, k):
        action = jax.random.randint(k, (env.num_envs,), 0, 2)
        obs, state, reward, term, _, info = env.step(k, state, action)
        return state, (obs, reward, term, info["final_observation"])

    state, out = jax.lax.scan(body, state, jax.random.split(key, n_steps))
    return obs, state, out


def test_runs_inside_jit_and_scan_deterministically(cartpole):
    rollout = jax.jit(_scan_rollout, static_argnums=(0, 2))
    first = rollout(cartpole, jax.random.key(1), 60)
    obs0, state, (obs, reward, term, final) = first
    assert obs.shape == (60, 2, 4) and final.shape == (60, 2, 4)
    assert int(state.step) == 60
    np.testing.assert_array_equal(reward, np.ones((60, 2), np.float32))
    assert np.asarray(term).sum() >= 2  # random actions fail CartPole within 60 steps
    again = rollout(cartpole, jax.random.key(1), 60)
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(again), strict=True):
        np.testing.assert_array_equal(a, b)
    assert rollout._cache_size() == 1
    other = rollout(cartpole, jax.random.key(2), 60)
    assert not np.array_equal(obs0, other[0])
    # the same key eagerly gives the same as under jit
    eager = _scan_rollout(cartpole, jax.random.key(1), 60)
    np.testing.assert_array_equal(eager[2][0], obs)
    # copies are seeded differently
    assert not np.array_equal(obs0[0], obs0[1])


def test_reset_envs_and_step_envs_drive_it(cartpole):
    obs, state = reset_envs(cartpole, None, jax.random.key(0), 2)
    obs2, *_ = step_envs(cartpole, None, jax.random.key(1), state, jnp.array([0, 1]))
    assert obs.shape == obs2.shape == (2, 4)
    with pytest.raises(ValueError, match="num_envs=3"):
        reset_envs(cartpole, None, jax.random.key(0), 3)


def test_bad_actions(cartpole):
    _, state = cartpole.reset(jax.random.key(0))
    for bad in (jnp.array([0, 2]), jnp.array([0]), jnp.array([0.0, 1.0])):
        with pytest.raises(ValueError, match="outside the action space"):
            cartpole.step(jax.random.key(1), state, bad)
    # inside jit the host check raises, surfacing as a runtime error that quotes it
    with pytest.raises(jax.errors.JaxRuntimeError, match="outside the action space"):
        jax.jit(cartpole.step)(jax.random.key(1), state, jnp.array([0, 5]))
    # the host env did not move: the state is still current
    cartpole.step(jax.random.key(1), state, jnp.array([0, 1]))
    # but now it is stale
    with pytest.raises(jax.errors.JaxRuntimeError, match="stale state"):
        cartpole.step(jax.random.key(1), state, jnp.array([0, 1]))


def test_cannot_vmap(cartpole):
    with pytest.raises(ValueError, match="vmap"):
        jax.vmap(cartpole.reset)(jax.random.split(jax.random.key(0), 2))


def test_spaces_and_make():
    env, params = make("gymnasium:Pendulum-v1", num_envs=3, max_episode_steps=4)
    assert env.is_vector and env.num_envs == 3 and env.max_steps_in_episode == 4
    space = env.action_space(params)
    assert isinstance(space, spaces.Box) and space.shape == (1,)
    np.testing.assert_array_equal(space.high, [2.0])
    assert env.observation_space(params).shape == (3,)
    obs, state = env.reset(jax.random.key(0), params)
    for t in range(4):
        obs, state, reward, term, trunc, info = env.step(
            jax.random.key(t), state, jnp.full((3, 1), 0.5), params
        )
        assert reward.dtype == jnp.float32 and reward.shape == (3,)
    # max_episode_steps reached: all truncated, and the final observation is the last one
    assert np.asarray(trunc).all() and not np.asarray(term).any()
    assert not np.allclose(obs, info["final_observation"])
    with pytest.raises(ValueError, match="low, high"):
        env.step(jax.random.key(0), state, jnp.full((3, 1), 2.5), params)
    env.close()
    frozen, _ = make("gymnasium:FrozenLake-v1")
    assert isinstance(frozen.observation_space(None), spaces.Discrete)
    obs, _ = frozen.reset(jax.random.key(0))
    assert obs.dtype == jnp.int32 and obs.shape == (1,)


class _MultiDiscreteEnv(gymnasium.Env):
    """Two concurrent choices, indexed from 1 and from -1; observes the last action."""

    action_space = gymnasium.spaces.MultiDiscrete([2, 3], start=[1, -1])
    observation_space = gymnasium.spaces.Box(-5.0, 5.0, (2,))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        assert self.action_space.contains(action)
        return np.asarray(action, np.float32), float(action.sum()), False, False, {}


class _MultiDiscreteObservations(_MultiDiscreteEnv):
    observation_space = gymnasium.spaces.MultiDiscrete([2, 3])


def test_a_multi_discrete_action_space_is_groups_indexed_from_0():
    gymnasium.register("IrlaxTestMultiDiscrete-v0", entry_point=_MultiDiscreteEnv)
    env = GymnasiumEnv("IrlaxTestMultiDiscrete-v0", num_envs=2)
    space = env.action_space()
    assert head_for_space(space) == MultiCategorical((2, 3))
    _, state = env.reset(jax.random.key(0))
    obs, state, reward, *_ = env.step(jax.random.key(1), state, jnp.array([[0, 0], [1, 2]]))
    np.testing.assert_array_equal(obs, [[1, -1], [2, 1]])  # what the env received
    np.testing.assert_array_equal(reward, [0, 3])
    with pytest.raises(ValueError, match="expected values in \\[low, high\\]"):
        env.step(jax.random.key(2), state, jnp.array([[0, 3], [0, 0]]))
    with pytest.raises(ValueError, match="expected integers"):
        env.step(jax.random.key(2), state, jnp.array([[0.0, 1.0], [0.0, 0.0]]))


def test_unsupported_spaces_and_unknown_ids():
    with pytest.raises(ValueError, match="Tuple"):
        GymnasiumEnv("Blackjack-v1")
    gymnasium.register("IrlaxTestMultiDiscreteObs-v0", entry_point=_MultiDiscreteObservations)
    with pytest.raises(ValueError, match="observation spaces, got MultiDiscrete"):
        GymnasiumEnv("IrlaxTestMultiDiscreteObs-v0")
    with pytest.raises(ValueError, match="NoSuchEnv"):
        GymnasiumEnv("NoSuchEnv-v0")
    with pytest.raises(ValueError, match="num_envs"):
        GymnasiumEnv("CartPole-v1", num_envs=0)


def test_wrappers_on_the_vector_env():
    env, raw_env = GymnasiumEnv("CartPole-v1", num_envs=2), GymnasiumEnv("CartPole-v1", num_envs=2)
    wrapped = EpisodeStatistics(NormalizeObservation(env))
    _, state = wrapped.reset(jax.random.key(0))
    raw_obs, raw_state = raw_env.reset(jax.random.key(0))  # same key: same episodes
    seen = [np.asarray(raw_obs)]
    lengths, finished = np.zeros(2, int), []
    for t in range(40):
        action = jnp.array([t % 2, 0])
        _, state, _, term, trunc, info = wrapped.step(jax.random.key(t), state, action)
        raw_obs, raw_state, *_ = raw_env.step(jax.random.key(t), raw_state, action)
        seen.append(np.asarray(raw_obs))
        lengths += 1
        for i in np.flatnonzero(np.asarray(term | trunc)):
            assert int(info["episode_length"][i]) == lengths[i]
            assert float(info["episode_return"][i]) == lengths[i]  # CartPole pays 1 a step
            finished.append(lengths[i])
            lengths[i] = 0
    assert finished, "no episode finished"
    # statistics over both copies' reset and step observations
    stats = state.env_state.statistics
    seen = np.concatenate(seen).astype(np.float64)
    assert float(stats.count) == len(seen) == 2 * 41
    np.testing.assert_allclose(stats.mean, seen.mean(0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(stats.var, seen.var(0), rtol=1e-9)
    with pytest.raises(ValueError, match="TimeLimit"):
        TimeLimit(env, 5)
    env.close()
    raw_env.close()
