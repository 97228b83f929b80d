"""Soft actor-critic: exact soft values on a tabular MDP, Pendulum, the losses, hygiene.

The learning tests run in float32 (`jax.enable_x64(False)`), the library's default and its
fast path. The tanh-squashed Gaussian's density is tested with the other policy heads
(tests/nets/test_policies.py).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.envs import TabularEnv, make
from irlax.mdp import TabularMDP, soft_value_iteration
from irlax.rl import sac
from irlax.rl.sac import SACConfig, make_train, make_trainer
from tests.rl.oracle import (
    DISCOUNT,
    N_ACTIONS,
    N_STATES,
    TEMPERATURE,
    lookup_reward,
    oracle_mdp,
    oracle_reward,
    soft_optimal,
)

# ---------------------------------------------------------------------------------------------
# The oracle MDP (tests/rl/oracle.py). Episodes are cut after 10 actions (a time limit, which
# SAC must bootstrap through) so that the uniform start distribution keeps every state visited.


def test_discrete_sac_converges_to_soft_value_iteration():
    """With a fixed temperature, discrete SAC's twin-min Q and its policy are the exact soft Q
    and soft-optimal policy (expected backup), to 0.15 in Q (values of order 2) and 0.05 in
    probability. The reward comes only through `reward_fn` (the env pays 0), which proves the
    hook is used and used as the reward."""
    mdp, reward = oracle_mdp(False), oracle_reward()
    plan = soft_optimal(reward)
    q_exact, pi_exact = np.asarray(plan.q), np.asarray(plan.policy)
    live = ~np.asarray(mdp.terminal)  # no action is taken in the terminal state
    config = SACConfig(
        total_steps=4000,
        num_envs=4,
        updates_per_step=4,
        learning_starts=200,
        batch_size=128,
        hidden=(64, 64),
        learning_rate=1e-3,
        tau=0.05,
        discount=DISCOUNT,
        temperature=TEMPERATURE,
        learn_temperature=False,
    )
    with jax.enable_x64(False):
        env = TabularEnv(mdp, np.zeros(N_STATES, np.float32), observation="onehot", time_limit=10)
        train = jax.jit(make_train(config, env, reward_fn=lookup_reward))
        result = train(jax.random.PRNGKey(0), jnp.asarray(reward))
        obs = jnp.eye(N_STATES)
        q = np.asarray(jax.vmap(result.q_values)(obs))
        # The policy's probabilities, estimated from 4000 sampled actions per state.
        keys = jax.random.split(jax.random.PRNGKey(1), 4000)
        actions = jax.vmap(lambda o: jax.vmap(lambda k: result.policy(o, k))(keys))(obs)
        pi = np.asarray(jax.nn.one_hot(actions, N_ACTIONS).mean(axis=1))
    err_q = np.abs(q - q_exact)[live].max()
    assert err_q < 0.15, (q, q_exact)
    # Sampling error of 4000 draws is about 0.008 in each probability.
    assert np.abs(pi - pi_exact)[live].max() < 0.05, (pi, pi_exact)
    # The tolerance discriminates: a soft maximum with a uniform action prior (a living cost of
    # τ·log A per step), or learning from the env's zero reward, would be far off.
    uniform = np.full(N_ACTIONS, 1 / N_ACTIONS)
    with_prior = soft_value_iteration(
        oracle_mdp(True), reward, temperature=TEMPERATURE, action_prior=uniform
    ).q
    assert np.abs(q - np.asarray(with_prior))[live].max() > 1.0
    assert np.abs(q)[live].max() > 1.0
    assert np.isclose(float(result.params["temperature"]), TEMPERATURE)


# ---------------------------------------------------------------------------------------------
# Pendulum


def test_sac_solves_pendulum():
    """SAC with automatic temperature reaches a mean return above −250 on Pendulum-v1 within
    8000 env steps, seed 0: the mean over its 8 parallel envs of their last (5th) episodes,
    played by the stochastic policy while it trained (one gradient step per transition).
    Seeds 0–7 of `split(PRNGKey(0), 8)` all pass this (−90 to −222)."""
    config = SACConfig(
        total_steps=8000,
        num_envs=8,
        updates_per_step=8,
        learning_starts=400,
        batch_size=256,
        hidden=(64, 64),
        learning_rate=1e-3,
    )
    with jax.enable_x64(False):
        env, params = make("Pendulum-v1")
        result = jax.jit(make_train(config, env, params))(jax.random.PRNGKey(0))
    returns = np.asarray(result.metrics["episode_return"])
    assert returns[-1] >= -250, returns[::100]
    # It learned: the first episodes (random actions until 400 steps, then an untrained
    # policy) are far worse, and α was tuned down from its initial 1.
    assert returns[np.isfinite(returns)][0] < -700
    assert result.metrics["temperature"][-1] < 0.5 * config.temperature
    assert int(result.metrics["env_steps"][-1]) == config.total_steps


# ---------------------------------------------------------------------------------------------
# The losses, by hand


def test_losses_by_hand():
    """The module-level losses on numbers worked out by hand."""
    reward = jnp.asarray([1.0, -2.0])
    terminated = jnp.asarray([False, True])
    next_value = jnp.asarray([3.0, 5.0])
    target = sac.soft_bellman_target(reward, terminated, next_value, 0.5)
    np.testing.assert_allclose(target, [1.0 + 0.5 * 3.0, -2.0])  # no bootstrap at a terminal
    q = jnp.asarray([[2.0, -2.0], [3.0, 0.0]])  # twin critics
    # (2 − 2.5)² and (−2 + 2)² average to 0.125; (3 − 2.5)² and (0 + 2)² to 2.125.
    np.testing.assert_allclose(sac.critic_loss(q, target), 0.125 + 2.125)
    np.testing.assert_allclose(
        sac.actor_loss(jnp.asarray([-1.0, -3.0]), jnp.asarray([2.0, 4.0]), 0.5),
        ((0.5 * -1 - 2) + (0.5 * -3 - 4)) / 2,
    )
    log_policy = jnp.log(jnp.asarray([[0.25, 0.75], [0.5, 0.5]]))
    q_all = jnp.asarray([[1.0, 2.0], [0.0, 4.0]])
    loss, entropy = sac.discrete_actor_loss(log_policy, q_all, 0.5)
    p = np.exp(np.asarray(log_policy))
    rows = (p * (0.5 * np.log(p) - np.asarray(q_all))).sum(-1)
    np.testing.assert_allclose(loss, rows.mean(), rtol=1e-12)
    np.testing.assert_allclose(entropy, -(p * np.log(p)).sum(-1).mean(), rtol=1e-12)
    # V = Σ π (Q − α log π) is the negative of the per-state loss.
    np.testing.assert_allclose(sac.discrete_soft_value(log_policy, q_all, 0.5), -rows, rtol=1e-12)
    # J(α) = α (H − H̄); its gradient in log α is α (H − H̄), and none reaches the entropy.
    log_alpha = jnp.log(0.2)
    np.testing.assert_allclose(sac.temperature_loss(log_alpha, 1.5, 1.0), 0.2 * 0.5, rtol=1e-12)
    np.testing.assert_allclose(
        jax.grad(sac.temperature_loss)(log_alpha, 1.5, 1.0), 0.2 * 0.5, rtol=1e-12
    )
    assert float(jax.grad(sac.temperature_loss, argnums=1)(log_alpha, 1.5, 1.0)) == 0.0


# ---------------------------------------------------------------------------------------------
# Hygiene, on a tiny budget


TINY = SACConfig(
    total_steps=48,
    num_envs=2,
    buffer_size=32,  # smaller than the steps taken: the circular buffer wraps
    batch_size=8,
    learning_starts=16,
    updates_per_step=2,
    hidden=(16,),
    discount=DISCOUNT,
)


def _chain():
    """5 states: the start 0, which no move re-enters (so a new episode is visible in the
    data), 1–3 moving at random among 1–4, and the terminal 4; a random `[S, A]` reward."""
    rng = np.random.default_rng(0)
    transitions = np.zeros((5, N_ACTIONS, 5))
    transitions[:4, :, 1:] = rng.dirichlet(np.ones(4), size=(4, N_ACTIONS))
    with jax.enable_x64(False):
        mdp = TabularMDP.from_dense(
            transitions, np.eye(5)[0], discount=DISCOUNT, terminal=np.arange(5) == 4
        )
    return mdp, rng.standard_normal((5, N_ACTIONS)).astype(np.float32)


@pytest.fixture(scope="module")
def tiny():
    """The chain env (3-step time limit), its reward, and a jitted tiny training run that
    counts its traces and returns the final replay buffer with the `Result`."""
    mdp, reward = _chain()
    with jax.enable_x64(False):
        env = TabularEnv(mdp, reward, observation="onehot", time_limit=3)
    trainer = make_trainer(TINY, env)
    traces = []

    @jax.jit
    def run(key):
        traces.append(1)
        state = trainer.init(key)
        state, metrics = jax.lax.scan(
            lambda s, _: trainer.update(s, None)[:2], state, None, trainer.n_updates
        )
        return trainer.result(state, metrics), state.buffer

    return env, reward, run, traces


def test_same_key_same_result_and_no_recompilation(tiny):
    _, _, run, traces = tiny
    with jax.enable_x64(False):
        a, _ = run(jax.random.PRNGKey(1))
        b, _ = run(jax.random.PRNGKey(1))
        c, _ = run(jax.random.PRNGKey(2))
    assert len(traces) == 1 and run._cache_size() == 1
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)
    # Gradient steps ran (the metrics after learning_starts are finite) and depend on the key.
    assert np.isfinite(a.metrics["q_loss"][-1])
    assert not np.array_equal(a.metrics["q_loss"], c.metrics["q_loss"])


def test_vmap_over_seeds_equals_a_loop(tiny):
    """`jax.vmap(make_train(...))` over 2 keys equals the trainer's pieces run key by key."""
    env, _, run, _ = tiny
    keys = jax.random.split(jax.random.PRNGKey(5), 2)
    with jax.enable_x64(False):
        batched = jax.jit(jax.vmap(make_train(TINY, env)))(keys)
        single = [run(k)[0] for k in keys]
    for i, one in enumerate(single):
        for x, y in zip(jax.tree.leaves(batched.params), jax.tree.leaves(one.params), strict=True):
            np.testing.assert_allclose(x[i], y, rtol=1e-5, atol=1e-5)
        for name in ("q_loss", "actor_loss", "entropy", "episode_return", "env_steps"):
            np.testing.assert_allclose(
                batched.metrics[name][i], one.metrics[name], rtol=1e-5, atol=1e-5
            )
    assert not np.allclose(single[0].metrics["q_loss"], single[1].metrics["q_loss"])


def test_reward_fn_stands_in_for_the_env_reward(tiny):
    """Looking the reward up through `reward_fn` on an env that pays 0 trains exactly as the
    env paying it does; a different `reward_params` trains differently."""
    env, reward, run, _ = tiny
    with jax.enable_x64(False):
        silent = TabularEnv(env.mdp, np.zeros_like(reward), observation="onehot", time_limit=3)
        hooked = jax.jit(make_train(TINY, silent, reward_fn=lookup_reward))
        key = jax.random.PRNGKey(1)
        direct, _ = run(key)
        via_hook = hooked(key, jnp.asarray(reward, jnp.float32))
        other = hooked(key, jnp.asarray(-reward, jnp.float32))
    for x, y in zip(jax.tree.leaves(direct.params), jax.tree.leaves(via_hook.params), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(direct.metrics["q_loss"], via_hook.metrics["q_loss"], rtol=1e-5)
    assert not np.allclose(via_hook.metrics["q_loss"], other.metrics["q_loss"])
    # Episode returns are the env's own: 0 for the silent env.
    assert np.nanmax(np.abs(via_hook.metrics["episode_return"])) == 0.0


def test_buffer_stores_final_observation_and_terminated_only(tiny):
    """Every stored transition is a possible move of the MDP (so `next_obs` is the state the
    action led to, not the reset one), and `terminated` is set exactly where that state is
    terminal, never for the time limit; the circular buffer wraps in place."""
    env, _, run, _ = tiny
    mdp = env.mdp
    with jax.enable_x64(False):
        _, buffer = run(jax.random.PRNGKey(0))
    buffer = jax.tree.map(np.asarray, buffer)
    assert int(buffer.size) == TINY.buffer_size
    assert int(buffer.position) == TINY.total_steps % TINY.buffer_size
    s, s_next = np.argmax(buffer.obs, -1), np.argmax(buffer.next_obs, -1)
    dense = np.asarray(mdp.dense_transitions())
    assert (dense[s, buffer.action, s_next] > 0).all()
    np.testing.assert_array_equal(buffer.terminated, np.asarray(mdp.terminal)[s_next])
    assert not np.asarray(mdp.terminal)[s].any()
    # Follow each env through the buffer in the order written (the oldest slot is at
    # `position`, the envs alternate); an episode ended where the next transition leaves the
    # start state 0, which no move enters. It ended by termination (stored as terminated)
    # or by the 3-step time limit (a truncation, stored as not terminated).
    order = np.roll(np.arange(TINY.buffer_size), -int(buffer.position))
    assert not (s_next == 0).any()
    counts = {"terminated": 0, "truncated": 0}
    for i in range(TINY.num_envs):
        seq = order[i :: TINY.num_envs]
        length = None  # steps into the current episode, once its start is in the buffer
        for j, ended in zip(seq[:-1], s[seq[1:]] == 0, strict=True):
            length = 1 if s[j] == 0 else None if length is None else length + 1
            assert length is None or length <= 3
            if ended:
                kind = "terminated" if buffer.terminated[j] else "truncated"
                assert kind == "terminated" or length in (None, 3)
                counts[kind] += 1
            else:
                assert not buffer.terminated[j]
    assert counts["terminated"] > 0 and counts["truncated"] > 0, counts


# ---------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("total_steps", 0),
        ("num_envs", 0),
        ("buffer_size", 0),
        ("batch_size", 2.5),
        ("learning_starts", -1),
        ("updates_per_step", 0),
        ("learning_rate", 0.0),
        ("discount", 1.5),
        ("tau", 0.0),
        ("temperature", -1.0),
        ("learn_temperature", "yes"),
        ("target_entropy", float("nan")),
        ("hidden", (64, 0)),
    ],
)
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        SACConfig(**{field: value})


def test_bad_env_or_target_entropy():
    mdp, reward = oracle_mdp(False), oracle_reward()
    env = TabularEnv(mdp, reward, observation="onehot")
    with pytest.raises(ValueError, match="target_entropy"):
        make_trainer(SACConfig(target_entropy=float(np.log(N_ACTIONS))), env)
    with pytest.raises(ValueError, match="SACConfig"):
        make_trainer({"total_steps": 10}, env)
    mountain, params = make("MountainCarContinuous-v0")
    make_trainer(SACConfig(), mountain, params)  # a bounded Box is fine
