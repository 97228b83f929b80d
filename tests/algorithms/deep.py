"""Shared by the tests of the deep imitation methods: worlds and demonstrations."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.data.rollout import rollout
from irlax.envs import TabularEnv, gridworld, make
from irlax.mdp import occupancy

# A linear controller that balances CartPole-v1 for all 500 steps from any start (checked in
# test_adversarial): push right when the pole falls right, weighted toward the cart's centre.
CARTPOLE_EXPERT = jnp.asarray([0.1, 0.5, 10.0, 2.0])


def cartpole_expert(obs, key):
    """The scripted CartPole-v1 expert's action for one observation."""
    return (jnp.dot(obs, CARTPOLE_EXPERT.astype(obs.dtype)) > 0).astype(jnp.int32)


@functools.cache
def cartpole_demos(n: int = 4):
    """`(env, params, demos)`: `n` expert episodes of CartPole-v1 (500 steps each), float32."""
    with jax.enable_x64(False):
        env, params = make("CartPole-v1")
        return env, params, rollout(env, cartpole_expert, n, jax.random.key(0), params)


def tabular_world(horizon=6):
    """A 2x3 slippery gridworld as a one-hot `TabularEnv` with no reward, starting in a corner."""
    mdp = gridworld(2, 3, horizon=horizon, slip=0.2, start=(0, 0))
    return mdp, TabularEnv(mdp, jnp.zeros(mdp.n_states), "onehot")


def table_policy(logits):
    """`policy(obs, key)` drawing from `softmax(logits[s])` at one-hot observation `s`."""
    logits = jnp.asarray(logits)
    return lambda obs, key: jax.random.categorical(key, logits[jnp.argmax(obs)])


def policy_table(result, n_states, n_actions):
    """`[S, A]` log π of a trained policy on one-hot observations."""
    onehot = jnp.eye(n_states, dtype=jnp.float32)
    actions = jnp.arange(n_actions)
    return jax.vmap(lambda s: jax.vmap(lambda a: result.log_prob(s, a))(actions))(onehot)


def visitation(mdp, log_policy):
    """`[S, A]` the fraction of a finite-horizon episode's steps spent at each (s, a) under a
    stationary policy: what the samples of its rollouts are distributed as."""
    occ = occupancy(mdp, jnp.broadcast_to(log_policy, (mdp.horizon, *log_policy.shape)))
    total = np.asarray(occ.sum(0), np.float64)
    return total / total.sum()


def empirical_visitation(demos, n_states, n_actions):
    """`[S, A]` the fraction of the demos' (one-hot) steps at each (s, a)."""
    mask = np.asarray(demos.mask)
    states = np.asarray(demos.observations)[:, :-1].argmax(-1)[mask]
    counts = np.zeros((n_states, n_actions))
    np.add.at(counts, (states, np.asarray(demos.actions)[mask]), 1)
    return counts / counts.sum()


def assert_close(a, b, rtol=1e-5, atol=1e-6):
    """Two pytrees of one structure agree leaf by leaf."""
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def assert_reward_of_one_transition(result, demos) -> None:
    """A learned `result.reward` of CartPole takes one transition, is finite, refuses by name a
    batch, wrong shapes, None and an action outside the space (also traced under `jax.jit`),
    and `jax.vmap`s over a batch."""
    obs, action = demos.observations[0], demos.actions[0]
    reward = result.reward(obs[0], action[0], obs[1])
    assert reward.shape == () and np.isfinite(reward)
    bad = {
        r"obs must be one observation of shape \(4,\).*jax.vmap.*got shape \(5, 4\)": (
            obs[:5],
            action[0],
            obs[1],
        ),
        r"next_obs must be one observation of shape \(4,\).*got shape \(3,\)": (
            obs[0],
            action[0],
            obs[1, :3],
        ),
        r"action must be one action of shape \(\).*got shape \(2,\)": (obs[0], action[:2], obs[1]),
        r"action 7 is outside the action space.*\[0, 2\)": (obs[0], 7, obs[1]),
        "obs must be one observation .* got None": (None, action[0], obs[1]),
    }
    for match, transition in bad.items():
        with pytest.raises(ValueError, match=match):
            result.reward(*transition)
    with pytest.raises(ValueError, match=r"jax\.vmap it for a batch"):  # shapes, also traced
        jax.jit(result.reward)(obs[:5], action[:5], obs[1:6])
    batch = jax.vmap(result.reward)(obs[:5], action[:5], obs[1:6])
    assert batch.shape == (5,)
