"""Wrappers: exact episode statistics, running moments equal to numpy's, truncation at exactly
`max_steps` with the right final observation, clipping; all under jit and vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.envs import (
    ClipAction,
    EpisodeStatistics,
    NormalizeObservation,
    RunningMeanVar,
    TabularEnv,
    TimeLimit,
    gridworld,
    make,
)

UP, DOWN, LEFT, RIGHT, STAY = range(5)


def _rollout(env, params, key, actions):
    """Reset, then scan `env.step` over `actions [T, ...]`; returns reset obs and per-step
    `(obs, reward, terminated, truncated, info)`."""
    k0, key = jax.random.split(key)
    obs0, state = env.reset(k0, params)

    def body(state, xs):
        k, a = xs
        obs, state, r, term, trunc, info = env.step(k, state, a, params)
        return state, (obs, r, term, trunc, info)

    keys = jax.random.split(key, actions.shape[0])
    state, out = jax.lax.scan(body, state, (keys, actions))
    return obs0, state, out


def _vmapped_rollout(env, params, n_seeds, actions, seed=0):
    f = jax.jit(jax.vmap(_rollout, (None, None, 0, None)), static_argnums=0)
    return f(env, params, jax.random.split(jax.random.key(seed), n_seeds), actions)


def _corridor(**kw):
    """1×4 corridor from the left cell, goal at the right; reward 10·s + a for (s, a)."""
    mdp = gridworld(1, 4, horizon=None, discount=0.9, goal=(0, 3), start=(0, 0), **kw)
    reward = 10.0 * jnp.arange(4)[:, None] + jnp.arange(5)[None, :]
    return TabularEnv(mdp, reward, observation="index")


def test_episode_statistics_of_a_scripted_episode():
    env = EpisodeStatistics(_corridor())
    # episode 1: R R R (states 0,1,2 -> goal); episode 2: L R S R R (0,0,1,1,2 -> goal)
    actions = jnp.array([RIGHT, RIGHT, RIGHT, LEFT, RIGHT, STAY, RIGHT, RIGHT, STAY])
    _, state, (obs, r, term, trunc, info) = _vmapped_rollout(env, None, 2, actions)
    first = (0 + 3) + (10 + 3) + (20 + 3)
    second = (0 + 2) + (0 + 3) + (10 + 4) + (10 + 3) + (20 + 3)
    for seed in range(2):  # deterministic env: both seeds see the same
        np.testing.assert_array_equal(term[seed], [0, 0, 1, 0, 0, 0, 0, 1, 0])
        np.testing.assert_array_equal(info["returned_episode"][seed], term[seed])
        np.testing.assert_array_equal(
            info["episode_return"][seed], [0, 0, first] + [first] * 4 + [second, second]
        )
        np.testing.assert_array_equal(info["episode_length"][seed], [0, 0, 3] + [3] * 4 + [5, 5])
        np.testing.assert_array_equal(r[seed], [3, 13, 23, 2, 3, 14, 13, 23, 4])
        np.testing.assert_array_equal(obs[seed], [1, 2, 0, 0, 1, 1, 2, 0, 0])
    assert not np.asarray(trunc).any()
    np.testing.assert_array_equal(state.running_return, [4.0, 4.0])  # the third episode's
    np.testing.assert_array_equal(state.running_length, [1, 1])


def test_episode_statistics_count_truncations():
    env = EpisodeStatistics(TimeLimit(_corridor(), 2))
    actions = jnp.array([LEFT, LEFT, RIGHT, RIGHT, RIGHT])
    _, _, (_, _, term, trunc, info) = _vmapped_rollout(env, None, 1, actions)
    np.testing.assert_array_equal(trunc[0], [0, 1, 0, 1, 0])
    assert not np.asarray(term).any()
    np.testing.assert_array_equal(info["returned_episode"][0], [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(info["episode_return"][0], [0, 4, 4, 16, 16])
    np.testing.assert_array_equal(info["episode_length"][0], [0, 2, 2, 2, 2])


def test_time_limit_truncates_at_exactly_max_steps():
    # A corridor without a goal: always moving right walks 1, 2, 3, 3, ...
    mdp = gridworld(1, 4, horizon=None, discount=0.9, start=(0, 0))
    env = TimeLimit(TabularEnv(mdp, jnp.zeros(4), observation="index"), 5)
    actions = jnp.full(12, RIGHT)
    obs0, _, (obs, _, term, trunc, info) = _vmapped_rollout(env, None, 3, actions)
    for seed in range(3):
        assert int(obs0[seed]) == 0
        np.testing.assert_array_equal(trunc[seed], [0, 0, 0, 0, 1] * 2 + [0, 0])
        assert not np.asarray(term).any()
        np.testing.assert_array_equal(info["final_observation"][seed], [1, 2, 3, 3, 3] * 2 + [1, 2])
        np.testing.assert_array_equal(obs[seed], [1, 2, 3, 3, 0] * 2 + [1, 2])


def test_time_limit_restarts_its_count_when_the_inner_env_ends():
    env = TimeLimit(_corridor(), 4)
    # terminate after 3 steps, then 4 steps of the next episode get truncated
    actions = jnp.array([RIGHT, RIGHT, RIGHT, LEFT, LEFT, LEFT, LEFT, RIGHT])
    _, _, (obs, _, term, trunc, info) = _vmapped_rollout(env, None, 1, actions)
    np.testing.assert_array_equal(term[0], [0, 0, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(trunc[0], [0, 0, 0, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(info["final_observation"][0], [1, 2, 3, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(obs[0], [1, 2, 0, 0, 0, 0, 0, 1])
    # and the inner env's own truncation (a finite horizon) comes first when shorter
    mdp = gridworld(1, 4, horizon=2, start=(0, 0))
    env = TimeLimit(TabularEnv(mdp, jnp.zeros(4), observation="index"), 3)
    _, _, (_, _, _, trunc, _) = _vmapped_rollout(env, None, 1, jnp.full(6, RIGHT))
    np.testing.assert_array_equal(trunc[0], [0, 1, 0, 1, 0, 1])


def _running_moments(x):
    """numpy mean and variance of `x[:t+1]` for every t."""
    return (
        np.stack([x[: t + 1].mean(0) for t in range(len(x))]),
        np.stack([x[: t + 1].var(0) for t in range(len(x))]),
    )


N_COPIES = 3
ACTIONS = jax.random.bernoulli(jax.random.key(9), 0.5, (40,)).astype(jnp.int32)
KEYS = jax.random.split(jax.random.key(1), N_COPIES)


def _vmapped(env, params, axis_name=None):
    """`_rollout` of `env` vmapped over KEYS with ACTIONS."""
    f = jax.vmap(_rollout, (None, None, 0, None), axis_name=axis_name)
    return jax.jit(f, static_argnums=0)(env, params, KEYS, ACTIONS)


@pytest.fixture(scope="module")
def cartpole_raw():
    """CartPole observations without normalisation: reset `[n, 4]`, steps `[n, T, 4]`, final
    observations `[n, T, 4]`."""
    env, params = make("CartPole-v1")
    obs0, _, (obs, _, term, trunc, info) = _vmapped(env, params)
    assert np.asarray(term | trunc).any(), "want an automatic reset in the run"
    return np.asarray(obs0), np.asarray(obs), np.asarray(info["final_observation"])


def test_normalize_observation_moments_equal_numpy(cartpole_raw):
    raw0, raw, raw_final = cartpole_raw
    inner, params = make("CartPole-v1")
    env = NormalizeObservation(inner)
    obs0, state, (obs, _, _, _, info) = _vmapped(env, params)
    eps = env.epsilon
    for i in range(N_COPIES):  # each copy keeps its own statistics
        seen = np.concatenate([raw0[i][None], raw[i]])  # [T+1, 4]
        mean, var = _running_moments(seen)
        stats = jax.tree.map(lambda x, i=i: x[i], state.statistics)
        assert float(stats.count) == len(seen)
        np.testing.assert_allclose(stats.mean, seen.mean(0), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(stats.var, seen.var(0), rtol=1e-10, atol=1e-12)
        scale = np.sqrt(var + eps)
        np.testing.assert_allclose(obs[i], (seen[1:] - mean[1:]) / scale[1:], rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(obs0[i], (seen[0] - mean[0]) / scale[0])
        np.testing.assert_allclose(
            info["final_observation"][i],
            (raw_final[i] - mean[1:]) / scale[1:],
            rtol=1e-7,
            atol=1e-9,
        )


def test_normalize_observation_shared_across_vmap_and_frozen(cartpole_raw):
    raw0, raw, _ = cartpole_raw
    inner, params = make("CartPole-v1")
    _, state, _ = _vmapped(NormalizeObservation(inner, axis_name="envs"), params, "envs")
    seen = np.concatenate([raw0[:, None], raw], axis=1).reshape(-1, 4)
    for i in range(N_COPIES):  # every copy holds the statistics of all copies' observations
        np.testing.assert_allclose(state.statistics.mean[i], seen.mean(0), rtol=1e-10)
        np.testing.assert_allclose(state.statistics.var[i], seen.var(0), rtol=1e-10)
        assert float(state.statistics.count[i]) == len(seen)

    stats = jax.tree.map(lambda x: x[0], state.statistics)
    frozen = NormalizeObservation(inner, statistics=stats, freeze=True)
    obs0, fstate, (obs, *_) = _vmapped(frozen, params)
    np.testing.assert_array_equal(fstate.statistics.mean[1], stats.mean)
    np.testing.assert_array_equal(fstate.statistics.count[1], stats.count)
    scale = np.sqrt(np.asarray(stats.var) + frozen.epsilon)
    np.testing.assert_allclose(obs, (raw - stats.mean) / scale, rtol=1e-10)
    np.testing.assert_allclose(obs0, (raw0 - stats.mean) / scale, rtol=1e-10)


def test_running_mean_var_merges_batches_like_numpy():
    x = np.random.default_rng(0).normal(3.0, 2.0, (50, 2))
    stats = RunningMeanVar.zeros((2,))
    for chunk in (x[:1], x[1:17], x[17:18], x[18:]):
        stats = stats.update(jnp.asarray(chunk))
    np.testing.assert_allclose(stats.mean, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.var, x.var(0), rtol=1e-12)


def test_clip_action():
    inner, params = make("Pendulum-v1")
    env = ClipAction(inner)
    assert env.action_space(params).high == inner.action_space(params).high
    _, state = env.reset(jax.random.key(0), params)
    key = jax.random.key(1)
    clipped = env.step(key, state, jnp.array([7.0]), params)
    at_bound = inner.step(key, state, jnp.array([2.0]), params)
    for a, b in zip(jax.tree.leaves(clipped), jax.tree.leaves(at_bound), strict=True):
        np.testing.assert_array_equal(a, b)
    low = env.step(key, state, jnp.array([-7.0]), params)
    assert not np.array_equal(low[0], clipped[0])
    for bad in (jnp.array([jnp.nan]), jnp.array([1.0, 1.0])):
        with pytest.raises(ValueError, match="action"):
            env.step(key, state, bad, params)
    # under jit and vmap
    f = jax.jit(jax.vmap(env.step, (0, None, 0, None)))
    out = f(jax.random.split(key, 2), state, jnp.array([[7.0], [2.0]]), params)
    np.testing.assert_array_equal(out[0][0], out[0][1])


def test_actions_are_checked_through_wrappers():
    env, params = make("CartPole-v1")
    wrapped = EpisodeStatistics(NormalizeObservation(TimeLimit(env, 10)))
    _, state = wrapped.reset(jax.random.key(0), params)
    with pytest.raises(ValueError, match="outside the action space"):
        wrapped.step(jax.random.key(1), state, 2, params)
    wrapped.step(jax.random.key(1), state, 1, params)
    pend, pparams = make("Pendulum-v1")
    clip_stats = EpisodeStatistics(ClipAction(pend))
    _, state = clip_stats.reset(jax.random.key(0), pparams)
    clip_stats.step(jax.random.key(1), state, jnp.array([9.0]), pparams)  # clipped, fine
    with pytest.raises(ValueError, match="NaN"):
        clip_stats.step(jax.random.key(1), state, jnp.array([jnp.nan]), pparams)


def test_bad_wrapper_arguments():
    env, _ = make("CartPole-v1")
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="max_steps"):
            TimeLimit(env, bad)
    with pytest.raises(ValueError, match="Box action space"):
        ClipAction(env)
    with pytest.raises(ValueError, match="Box observation space"):
        NormalizeObservation(_corridor())
    with pytest.raises(ValueError, match="freeze"):
        NormalizeObservation(env, freeze=True)
    with pytest.raises(ValueError, match="epsilon"):
        NormalizeObservation(env, epsilon=0.0)
    with pytest.raises(ValueError, match="observation shape"):
        NormalizeObservation(env, statistics=RunningMeanVar.zeros((3,)))


def test_wrapped_env_does_not_recompile():
    env, params = make("CartPole-v1")
    wrapped = EpisodeStatistics(NormalizeObservation(TimeLimit(env, 10)))
    f = jax.jit(jax.vmap(_rollout, (None, None, 0, None)), static_argnums=0)
    actions = jnp.zeros(5, jnp.int32)
    a = f(wrapped, params, jax.random.split(jax.random.key(0), 2), actions)
    b = f(wrapped, params, jax.random.split(jax.random.key(0), 2), actions)
    f(wrapped, params, jax.random.split(jax.random.key(1), 2), actions)
    assert f._cache_size() == 1
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)
