"""AIRL: a state-only reward recovered up to a constant and transferred to new walls;
CartPole from four demonstrations."""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.algorithms import airl
from irlax.data.rollout import rollout
from irlax.envs import TabularEnv, gridworld
from irlax.mdp import soft_value_iteration
from irlax.metrics import epic_distance, expected_value_difference
from irlax.rl import ppo, sac
from tests.algorithms.deep import cartpole_demos, policy_table, table_policy

# A 4x4 maze with a wall across row 2: the gap is on the right for training, on the left for
# the test (Fu et al. 2018's shifting maze, tabular). The reward is 2 in the bottom-left cell.
TRAIN_WALLS = [(2, 0), (2, 1), (2, 2)]
TEST_WALLS = [(2, 1), (2, 2), (2, 3)]
GOAL = 3 * 4 + 0


def test_airl_recovers_a_state_only_reward_that_transfers_to_new_walls():
    # Fu et al. 2018, Thm. 5.1: with deterministic dynamics and a state-only g, AIRL recovers
    # the expert's reward up to a constant, and so its optimal policy under new dynamics.
    train_mdp = gridworld(4, 4, horizon=None, discount=0.9, walls=TRAIN_WALLS)
    test_mdp = gridworld(4, 4, horizon=None, discount=0.9, walls=TEST_WALLS)
    S, A = train_mdp.n_states, train_mdp.n_actions
    reward = jnp.zeros(S, jnp.float32).at[GOAL].set(2.0)
    with jax.enable_x64(False):
        expert = soft_value_iteration(train_mdp, reward, temperature=1.0).log_policy
        env = TabularEnv(train_mdp, reward, "onehot", time_limit=20)
        demos = rollout(env, table_policy(expert), 500, jax.random.key(1), env.default_params)
        generator = ppo.PPOConfig(
            total_steps=8 * 64 * 200,
            num_envs=8,
            rollout_length=64,
            update_epochs=4,
            learning_rate=1e-3,
            entropy_coef=0.0,
            discount=0.9,
            hidden=(32,),
        )
        config = airl.AIRLConfig(
            generator=generator,
            discriminator_hidden=(32,),
            potential_hidden=(32,),
            discriminator_steps=10,
            discriminator_learning_rate=1e-3,
            discriminator_normalize_observations=False,
            absorbing=False,
        )
        result = jax.jit(airl.make_train(config, env, None, demos))(jax.random.key(3))
        onehot = jnp.eye(S, dtype=jnp.float32)
        learned = jax.vmap(lambda s: result.reward(s, 0, s))(onehot)  # g(s)
        copied = policy_table(result.policy, S, A)
    walls = np.isin(np.arange(S), [4 * r + c for r, c in TRAIN_WALLS])
    visited = jnp.asarray(~walls / np.sum(~walls), jnp.float32)  # walls are never entered
    assert float(epic_distance(train_mdp, learned, reward, state_distribution=visited)) < 0.25
    uniform = jnp.full((S, A), -jnp.log(A))
    evd_uniform = float(expected_value_difference(test_mdp, reward, log_policy=uniform))
    evd_reward = float(expected_value_difference(test_mdp, reward, learned))
    evd_policy = float(expected_value_difference(test_mdp, reward, log_policy=copied))
    assert evd_reward < 0.05 * evd_uniform  # the reward transfers: optimal in the new maze
    assert evd_policy > 0.5 * evd_uniform  # the imitating policy does not: it hits the wall


def test_airl_imitates_cartpole_from_four_demonstrations():
    env, params, demos = cartpole_demos()
    with jax.enable_x64(False):
        default = airl.AIRLConfig()
        generator = dataclasses.replace(default.generator, total_steps=64 * 512)
        config = dataclasses.replace(default, generator=generator)
        result = jax.jit(airl.make_train(config, env, params, demos))(jax.random.key(0))
    returns = np.asarray(result.metrics["episode_return"])
    assert returns[-1] >= 475, returns[::8]


def test_bad_airl_options_are_refused_by_name():
    with pytest.raises(ValueError, match="reward_inputs"):
        airl.AIRLConfig(reward_inputs="state_next_state")
    with pytest.raises(ValueError, match="potential_hidden"):
        airl.AIRLConfig(potential_hidden=(0,))
    with pytest.raises(ValueError, match="entropy_weight"):
        airl.AIRLConfig(entropy_weight=0.0)
    with pytest.raises(ValueError, match=r"generator\.temperature"):
        airl.AIRLConfig(generator=sac.SACConfig(), entropy_weight=0.5)
    with pytest.raises(ValueError, match="learn_temperature=False"):
        airl.AIRLConfig(generator=sac.SACConfig())  # SAC's default tunes its temperature
    fixed = sac.SACConfig(learn_temperature=False, temperature=0.5)  # a fixed one is AIRL's w
    assert airl.AIRLConfig(generator=fixed).generator.temperature == 0.5


class _OneValuePerBatch(nn.Module):
    @nn.compact
    def __call__(self, obs, action, next_obs):
        return jnp.sum(nn.Dense(1)(obs))


def test_a_reward_network_g_of_the_wrong_shape_is_refused_by_name():
    # AIRL's own g: inside f = g(s) + γh(s') − h(s) a g returning one value for the whole batch
    # broadcast against h's [B] and trained without a word.
    env, params, demos = cartpole_demos()
    small = airl.AIRLConfig(generator=ppo.PPOConfig(num_envs=2, rollout_length=8, total_steps=16))
    config = dataclasses.replace(small, reward_network=_OneValuePerBatch())
    with pytest.raises(
        ValueError, match=r"reward_network must return one value per transition.*\(\)"
    ):
        airl.make_trainer(config, env, params, demos)
