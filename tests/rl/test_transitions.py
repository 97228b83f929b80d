"""The trainer contract: `update` returns the transitions it collected, which a Python loop over
`env.step` reproduces, with log π of each action under the policy that acted; `Result.log_prob`
is a normalised log-probability.

Tiny budgets, float32 (`jax.enable_x64(False)`), the library's default.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.envs import TabularEnv, make
from irlax.mdp import TabularMDP
from irlax.rl import Transitions, ppo, sac, soft_pg, soft_q

N_STATES, N_ACTIONS, TIME_LIMIT, EPSILON = 4, 3, 3, 0.3


def _chain_env():
    """A deterministic chain: every episode starts in state 0; action k moves k states right
    (capped at state 3, which is terminal); episodes are cut after 3 actions. Deterministic
    dynamics and start make a Python loop over `env.step` independent of its keys."""
    dense = np.zeros((N_STATES, N_ACTIONS, N_STATES))
    for s in range(N_STATES):
        for a in range(N_ACTIONS):
            dense[s, a, min(s + a, N_STATES - 1)] = 1.0
    terminal = np.arange(N_STATES) == N_STATES - 1
    with jax.enable_x64(False):
        mdp = TabularMDP.from_dense(dense, np.eye(N_STATES)[0], discount=0.9, terminal=terminal)
        reward = np.arange(N_STATES * N_ACTIONS, dtype=np.float32).reshape(N_STATES, N_ACTIONS)
        return TabularEnv(mdp, reward, observation="onehot", time_limit=TIME_LIMIT)


TRAINERS = {
    "ppo": (
        ppo,
        ppo.PPOConfig(
            total_steps=64, num_envs=2, rollout_length=8, update_epochs=1, num_minibatches=1
        ),
    ),
    "soft_pg": (soft_pg, soft_pg.SoftPGConfig(total_steps=64, num_envs=2, rollout_length=8)),
    "soft_q": (
        soft_q,
        soft_q.SoftQConfig(
            total_steps=64,
            num_envs=2,
            rollout_length=8,
            learning_starts=0,
            buffer_size=64,
            batch_size=8,
            temperature=0.5,
            epsilon=EPSILON,
        ),
    ),
    "sac": (
        sac,
        sac.SACConfig(total_steps=64, num_envs=2, learning_starts=0, buffer_size=64, batch_size=8),
    ),
}


def _updates(trainer, key, n):
    """`n` updates from `init(key)`: each update's transitions and the `Result` of the
    parameters it acted with."""
    update = jax.jit(trainer.update)
    state = trainer.init(key)
    out = []
    for _ in range(n):
        before = trainer.result(state, {})
        state, _, transitions = update(state, None)
        out.append((transitions, before))
    return out


def _flatten(x):
    return jnp.reshape(x, (-1, *x.shape[2:]))


@pytest.mark.parametrize("name", list(TRAINERS))
def test_transitions_are_what_the_env_loop_gives_with_the_acting_log_prob(name):
    module, config = TRAINERS[name]
    env = _chain_env()
    n_envs = config.num_envs
    with jax.enable_x64(False):
        trainer = module.make_trainer(config, env)
        key = jax.random.key(0)
        runs = _updates(trainer, key, 16 if name == "sac" else 2)
        steps = 1 if name == "sac" else config.rollout_length
        for transitions, before in runs:
            assert isinstance(transitions, Transitions)
            assert transitions.obs.shape == (steps, n_envs, N_STATES)
            assert transitions.next_obs.shape == (steps, n_envs, N_STATES)
            assert transitions.action.shape == (steps, n_envs)
            for field in ("terminated", "truncated"):
                assert getattr(transitions, field).dtype == bool
                assert getattr(transitions, field).shape == (steps, n_envs)
            # log π of each action under the parameters before the update.
            obs, action = _flatten(transitions.obs), _flatten(transitions.action)
            log_prob = jax.vmap(before.log_prob)(obs, action)
            if name == "soft_q":  # the behaviour policy mixes in ε uniform actions
                log_prob = jnp.log((1 - EPSILON) * jnp.exp(log_prob) + EPSILON / N_ACTIONS)
            np.testing.assert_allclose(
                _flatten(transitions.log_prob), log_prob, rtol=1e-5, atol=1e-6
            )
        stacked = jax.tree.map(lambda *x: np.concatenate(x), *[t for t, _ in runs])
        # The same actions played in a Python loop over env.step from the initial env states.
        env_state = trainer.init(key).env_state
    ends = {"terminated": 0, "truncated": 0}
    for i in range(n_envs):
        state = jax.tree.map(lambda x, i=i: x[i], env_state)
        obs = np.asarray(stacked.obs[0, i])
        for t in range(stacked.obs.shape[0]):
            np.testing.assert_array_equal(stacked.obs[t, i], obs)
            obs, state, _, terminated, truncated, info = env.step(
                jax.random.key(t), state, stacked.action[t, i]
            )
            np.testing.assert_array_equal(stacked.next_obs[t, i], info["final_observation"])
            assert stacked.terminated[t, i] == terminated
            assert stacked.truncated[t, i] == truncated
            if terminated:  # next_obs is the terminal state, obs the reset one
                assert np.argmax(stacked.next_obs[t, i]) == N_STATES - 1
                assert np.argmax(obs) == 0
            ends["terminated"] += bool(terminated)
            ends["truncated"] += bool(truncated and not terminated)
    assert ends["terminated"] > 0 and ends["truncated"] > 0, ends


@pytest.mark.parametrize("name", list(TRAINERS))
def test_result_log_prob_is_normalised(name):
    """`Result.log_prob` over every action of each state sums (in probability) to 1, and
    samples of `Result.policy` fall on the actions it scores highest."""
    module, config = TRAINERS[name]
    with jax.enable_x64(False):
        trainer = module.make_trainer(config, _chain_env())
        state = trainer.init(jax.random.key(1))
        for _ in range(2):
            state, _, _ = jax.jit(trainer.update)(state, None)
        result = trainer.result(state, {})
        obs = jnp.repeat(jnp.eye(N_STATES), N_ACTIONS, axis=0)
        actions = jnp.tile(jnp.arange(N_ACTIONS), N_STATES)
        log_prob = jax.vmap(result.log_prob)(obs, actions).reshape(N_STATES, N_ACTIONS)
        mode = jax.vmap(lambda o: result.policy(o, jax.random.key(0), deterministic=True))(
            jnp.eye(N_STATES)
        )
    np.testing.assert_allclose(np.exp(log_prob).sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(mode, np.argmax(log_prob, -1))


def test_continuous_transitions_log_prob():
    """Box actions: PPO's transitions carry the clipped action the env received and the
    Gaussian log-density of it; SAC's the squashed action and its density, and before
    `learning_starts` the uniform density on the box, `−log 4` on Pendulum's [−2, 2]."""
    with jax.enable_x64(False):
        env, params = make("Pendulum-v1")
        config = ppo.PPOConfig(
            total_steps=64, num_envs=2, rollout_length=32, num_minibatches=1, init_log_std=1.0
        )
        trainer = ppo.make_trainer(config, env, params)
        ((transitions, before),) = _updates(trainer, jax.random.key(0), 1)
        action = np.asarray(transitions.action)
        assert action.shape == (32, 2, 1)
        assert np.abs(action).max() == 2.0  # a σ = e policy's draws were clipped
        log_prob = jax.vmap(before.log_prob)(
            _flatten(transitions.obs), _flatten(transitions.action)
        )
        np.testing.assert_allclose(_flatten(transitions.log_prob), log_prob, rtol=1e-5)

        config = sac.SACConfig(
            total_steps=8, num_envs=2, learning_starts=4, buffer_size=8, batch_size=4
        )
        trainer = sac.make_trainer(config, env, params)
        runs = _updates(trainer, jax.random.key(0), 4)
    for transitions, _ in runs[:2]:  # env steps 0 and 2: still exploring
        np.testing.assert_allclose(transitions.log_prob, -np.log(4.0), rtol=1e-6)
    for transitions, before in runs[2:]:
        with jax.enable_x64(False):
            log_prob = jax.vmap(before.log_prob)(
                _flatten(transitions.obs), _flatten(transitions.action)
            )
        np.testing.assert_allclose(_flatten(transitions.log_prob), log_prob, atol=1e-3)
        assert np.isfinite(log_prob).all()
