"""TabularEnv: sampled transitions follow `probs`, rewards follow the table, episodes end where
the MDP says, and Monte Carlo returns equal the exact values of `irlax.mdp` planning."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from irlax.envs import TabularEnv, TabularEnvState, gridworld, random_mdp
from irlax.mdp import TabularMDP, soft_value_iteration, value_iteration

N_DRAWS = 3000


def _step_all_pairs(env, params, key, n):
    """Step from every (state, action) pair `n` times: next states and rewards `[S, A, n]`."""
    s_count, a_count = env.mdp.n_states, env.mdp.n_actions
    states = jnp.repeat(jnp.arange(s_count, dtype=jnp.int32), a_count * n)
    actions = jnp.tile(jnp.repeat(jnp.arange(a_count, dtype=jnp.int32), n), s_count)

    def one(key, s, a):
        state = TabularEnvState(state=s, time=jnp.int32(0))
        _, _, r, _, _, info = env.step(key, state, a, params)
        return info["final_observation"], r

    keys = jax.random.split(key, s_count * a_count * n)
    next_states, rewards = jax.jit(jax.vmap(one))(keys, states, actions)
    return next_states.reshape(s_count, a_count, n), rewards.reshape(s_count, a_count, n)


@pytest.mark.parametrize("shared", [False, True], ids=["per-action", "shared-list"])
def test_transitions_and_rewards_follow_the_tables(shared):
    if shared:  # [S, 1, K] successor lists, and a state reward [S]
        mdp = gridworld(2, 3, slip=0.3, horizon=None, discount=0.9)
        table = jax.random.normal(jax.random.key(2), (mdp.n_states,))
        want_reward = jnp.broadcast_to(table[:, None], (mdp.n_states, mdp.n_actions))
    else:  # [S, A, K] with duplicate successors, and a state-action reward [S, A]
        mdp = random_mdp(jax.random.key(3), 5, 3, 4, discount=0.9)
        table = want_reward = jax.random.normal(jax.random.key(2), (5, 3))
    env = TabularEnv(mdp, table, observation="index")
    np.testing.assert_array_equal(env.reward, table)
    next_states, rewards = _step_all_pairs(env, env.default_params, jax.random.key(0), N_DRAWS)
    np.testing.assert_array_equal(rewards, jnp.broadcast_to(want_reward[..., None], rewards.shape))
    counts = np.asarray(jax.nn.one_hot(next_states, mdp.n_states).sum(axis=2))  # [S, A, S]
    expected = N_DRAWS * np.asarray(mdp.dense_transitions())
    assert (counts[expected == 0] == 0).all(), "a successor with probability 0 was drawn"
    support = expected > 0
    chi2 = ((counts - expected) ** 2 / np.where(support, expected, 1.0))[support].sum()
    dof = int(support.sum()) - mdp.n_states * mdp.n_actions
    # A correct sampler exceeds this with probability 1e-6; a wrong one by far.
    assert chi2 < stats.chi2.ppf(1 - 1e-6, dof), (chi2, dof)
    # and the test can fail: the same counts against a perturbed table do.
    wrong = np.roll(expected, 1, axis=-1)
    assert ((counts - wrong) ** 2 / np.maximum(wrong, 1.0)).sum() > stats.chi2.ppf(1 - 1e-6, dof)


def _scripted(env, params, key, actions):
    """Scan `env.step` over a fixed action sequence from a reset."""
    obs0, state = env.reset(key, params)

    def body(carry, xs):
        state = carry
        k, a = xs
        obs, state, r, term, trunc, info = env.step(k, state, a, params)
        return state, (obs, r, term, trunc, info["final_observation"], state.time)

    keys = jax.random.split(key, len(actions))
    _, out = jax.lax.scan(body, state, (keys, jnp.asarray(actions, jnp.int32)))
    return obs0, out


def test_horizon_truncates_and_resets():
    mdp = random_mdp(jax.random.key(0), 4, 2, 3, horizon=3)
    env = TabularEnv(mdp, jnp.ones(4), observation="index")
    assert env.max_steps == 3 == env.default_params.max_steps_in_episode
    _, (obs, r, term, trunc, final, time) = jax.jit(_scripted, static_argnums=0)(
        env, env.default_params, jax.random.key(1), [0, 1, 0, 1, 0, 1, 0]
    )
    np.testing.assert_array_equal(trunc, [0, 0, 1, 0, 0, 1, 0])
    np.testing.assert_array_equal(r, np.ones(7))
    np.testing.assert_array_equal(term, np.zeros(7))
    np.testing.assert_array_equal(time, [1, 2, 0, 1, 2, 0, 1])
    # before a reset the observation is the one the action led to
    not_done = ~np.asarray(trunc)
    np.testing.assert_array_equal(np.asarray(final)[not_done], np.asarray(obs)[not_done])
    # time_limit overrides the horizon
    env2 = TabularEnv(mdp, jnp.ones(4), observation="index", time_limit=2)
    _, (_, _, _, trunc2, _, _) = _scripted(env2, env2.default_params, jax.random.key(1), [0] * 5)
    np.testing.assert_array_equal(trunc2, [0, 1, 0, 1, 0])


def test_infinite_horizon_never_truncates():
    mdp = random_mdp(jax.random.key(0), 4, 2, 3, discount=0.9)
    env = TabularEnv(mdp, jnp.ones(4))
    assert env.max_steps is None and env.default_params.max_steps_in_episode is None
    _, (_, _, term, trunc, _, time) = _scripted(
        env, env.default_params, jax.random.key(1), [0, 1] * 50
    )
    assert not np.asarray(trunc).any() and not np.asarray(term).any()
    np.testing.assert_array_equal(time, np.arange(1, 101))


def test_terminal_state_terminates():
    # 1x4 corridor, start at the left, goal at the right; moving right 3 times arrives.
    mdp = gridworld(1, 4, horizon=None, discount=0.9, goal=(0, 3), start=(0, 0))
    env = TabularEnv(mdp, jnp.ones(4), observation="onehot")
    right, left = 3, 2
    obs0, (obs, r, term, trunc, final, _) = _scripted(
        env, env.default_params, jax.random.key(0), [right, left, right, right, right, right]
    )
    np.testing.assert_array_equal(obs0, np.eye(4)[0])
    np.testing.assert_array_equal(term, [0, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(r, np.ones(6))  # paid on the action that enters the goal too
    assert not np.asarray(trunc).any()
    np.testing.assert_array_equal(final[4], np.eye(4)[3])  # arrived at the goal
    np.testing.assert_array_equal(obs[4], np.eye(4)[0])  # and was reset to the start
    np.testing.assert_array_equal(obs[5], np.eye(4)[1])


def test_observation_modes_and_spaces():
    mdp = random_mdp(jax.random.key(0), 5, 2, 2, discount=0.9, n_features=3)
    params_state = TabularEnvState(state=jnp.int32(4), time=jnp.int32(0))
    onehot = TabularEnv(mdp, jnp.zeros(5), observation="onehot")
    np.testing.assert_array_equal(onehot.get_obs(params_state), np.eye(5)[4])
    assert onehot.observation_space().shape == (5,)
    feats = TabularEnv(mdp, jnp.zeros(5), observation="features")
    np.testing.assert_array_equal(feats.get_obs(params_state), mdp.features[4])
    space = feats.observation_space()
    assert space.shape == (3,)
    assert bool(space.contains(mdp.features[0])) and not bool(space.contains(mdp.features * 10))
    index = TabularEnv(mdp, jnp.zeros(5), observation="index")
    assert int(index.get_obs(params_state)) == 4
    assert index.observation_space().n == 5
    assert index.action_space().n == 2 == index.num_actions
    # reset observations follow mdp.init
    obs, _ = jax.vmap(index.reset, (0, None))(jax.random.split(jax.random.key(0), 4000), None)
    freq = np.bincount(np.asarray(obs), minlength=5) / 4000
    np.testing.assert_allclose(freq, mdp.init, atol=0.03)


def _mc_soft_return(env, plan, temperature, key, n, steps):
    """Monte Carlo `E[Σ_t γ^t (r_t − τ log π(a_t|s_t))]` of the first episode: the entropy-
    regularised return whose expectation is the plain soft maximum's `V` (no action prior)."""
    mdp = env.mdp
    finite = mdp.horizon is not None

    def episode(key):
        k0, key = jax.random.split(key)
        _, state = env.reset(k0, None)

        def body(carry, k):
            state, alive, weight = carry
            ka, ks = jax.random.split(k)
            logits = (
                plan.log_policy[state.time, state.state] if finite else plan.log_policy[state.state]
            )
            a = jax.random.categorical(ka, logits)
            _, new, r, term, trunc, _ = env.step(ks, state, a, None)
            bonus = r - temperature * logits[a]
            ret = jnp.where(alive, weight * bonus, 0.0)
            return (new, alive & ~(term | trunc), weight * mdp.discount), ret

        carry = (state, jnp.bool_(True), jnp.asarray(1.0, env.reward.dtype))
        _, rets = jax.lax.scan(body, carry, jax.random.split(key, steps))
        return rets.sum()

    return jax.jit(jax.vmap(episode))(jax.random.split(key, n))


@pytest.mark.parametrize("horizon", [4, None], ids=["finite", "discounted-terminal"])
def test_monte_carlo_return_equals_soft_value(horizon):
    """Timing conventions agree with planning: sampled soft returns match the exact `V`."""
    if horizon:
        mdp = random_mdp(jax.random.key(4), 5, 3, 3, horizon=horizon)
        steps = horizon
    else:
        mdp = random_mdp(jax.random.key(4), 5, 3, 3, discount=0.8, n_terminal=1)
        steps = 80  # 0.8**80 ≈ 2e-8
    reward = jax.random.normal(jax.random.key(5), (5, 3))
    env = TabularEnv(mdp, reward)
    temperature = 0.5
    plan = soft_value_iteration(mdp, reward, temperature=temperature)
    v0 = plan.v[0] if horizon else plan.v
    exact = float(mdp.init @ v0)
    rets = np.asarray(_mc_soft_return(env, plan, temperature, jax.random.key(6), 20000, steps))
    err = 4 * rets.std() / np.sqrt(len(rets))
    assert abs(rets.mean() - exact) < err, (rets.mean(), exact, err)
    # the tolerance is tight enough to tell the soft value from a different one (the hard).
    hard = value_iteration(mdp, reward)
    assert abs(float(mdp.init @ (hard.v[0] if horizon else hard.v)) - exact) > err


def test_vmap_over_rewards_and_same_key_same_result():
    mdp = random_mdp(jax.random.key(0), 4, 2, 3, horizon=5)
    env = TabularEnv(mdp, jnp.zeros(4))
    rewards = jax.random.normal(jax.random.key(1), (3, 4, 2))
    params = jax.vmap(lambda r: env.default_params.replace(reward=r))(rewards)

    def run(params, key):
        _, (_, r, *_) = _scripted(env, params, key, [0, 1, 1, 0])
        return r

    batched_run = jax.jit(jax.vmap(run, (0, None)))
    batched = batched_run(params, jax.random.key(2))
    single_run = jax.jit(run)
    for i in range(3):
        p_i = jax.tree.map(lambda x, i=i: x[i], params)
        np.testing.assert_array_equal(batched[i], single_run(p_i, jax.random.key(2)))
    np.testing.assert_array_equal(batched, batched_run(params, jax.random.key(2)))
    assert not np.array_equal(batched, batched_run(params, jax.random.key(3)))
    assert batched_run._cache_size() == 1 and single_run._cache_size() == 1


def test_bad_inputs():
    mdp = random_mdp(jax.random.key(0), 4, 2, 3, discount=0.9)
    with pytest.raises(ValueError, match="reward must have shape"):
        TabularEnv(mdp, jnp.zeros(5))
    with pytest.raises(ValueError, match="reward must have shape"):
        TabularEnv(mdp, jnp.zeros((4, 3)))
    with pytest.raises(ValueError, match="finite"):
        TabularEnv(mdp, jnp.array([0.0, jnp.nan, 0.0, 0.0]))
    with pytest.raises(ValueError, match="observation must be one of"):
        TabularEnv(mdp, jnp.zeros(4), observation="pixels")
    with pytest.raises(ValueError, match="needs an MDP with features"):
        TabularEnv(mdp, jnp.zeros(4), observation="features")
    sa = random_mdp(
        jax.random.key(0), 4, 2, 3, discount=0.9, n_features=2, state_action_features=True
    )
    with pytest.raises(ValueError, match="state features"):
        TabularEnv(sa, jnp.zeros(4), observation="features")
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="time_limit"):
            TabularEnv(mdp, jnp.zeros(4), time_limit=bad)
    with pytest.raises(ValueError, match="TabularMDP"):
        TabularEnv(np.zeros((4, 2, 4)), jnp.zeros(4))
    starts_terminal = TabularMDP.from_successors(
        np.zeros((2, 1, 1), int),
        np.ones((2, 1, 1)),
        [0.5, 0.5],
        terminal=[True, False],
        discount=0.9,
    )
    with pytest.raises(ValueError, match="terminal states"):
        TabularEnv(starts_terminal, jnp.zeros(2))
    env = TabularEnv(mdp, jnp.zeros(4))
    _, state = env.reset(jax.random.key(0))
    for bad_action in (2, -1, jnp.array([0]), 1.0):
        with pytest.raises(ValueError, match="action"):
            env.step(jax.random.key(0), state, bad_action)
