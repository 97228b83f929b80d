"""GAIL: the discriminator's optimum, occupancy matching on a tabular world, CartPole."""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.algorithms import gail
from irlax.data.rollout import rollout
from irlax.nets import MLPReward
from irlax.rl import ppo
from tests.algorithms.deep import (
    cartpole_demos,
    empirical_visitation,
    policy_table,
    table_policy,
    tabular_world,
    visitation,
)

EXPERT_LOGITS = np.asarray(1.5 * jax.random.normal(jax.random.key(5), (6, 5)), np.float32)


def _tabular_demos(env, n=1000):
    return rollout(env, table_policy(EXPERT_LOGITS), n, jax.random.key(1), env.default_params)


def test_the_reward_forms_are_functions_of_the_discriminator():
    # −log(1 − D), log D and log D − log(1 − D) with D = σ(d); the naive forms (float64)
    # lose 1 − D to rounding beyond d ≈ 15, where the stable ones go on exactly (≈ d, 0).
    d = jnp.linspace(-30.0, 15.0, 46, dtype=jnp.float64)
    D = jax.nn.sigmoid(d)
    np.testing.assert_allclose(gail.REWARDS["positive"](d), -jnp.log1p(-D), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(gail.REWARDS["negative"](d), jnp.log(D), rtol=1e-9, atol=1e-15)
    d = jnp.linspace(-80.0, 80.0, 161, dtype=jnp.float32)
    np.testing.assert_allclose(
        gail.REWARDS["positive"](d) + gail.REWARDS["negative"](d),
        gail.REWARDS["logit"](d),
        atol=1e-5,
    )
    np.testing.assert_allclose(gail.REWARDS["positive"](d[-1:]), d[-1:])
    assert (gail.REWARDS["positive"](d) >= 0).all() and (gail.REWARDS["negative"](d) <= 0).all()


def test_for_a_fixed_policy_the_discriminator_approaches_its_optimum():
    # Ho & Ermon 2016 (after eq. 14): for a fixed π the best D is ρ_E / (ρ_E + ρ_π). A
    # generator with a step size of 1e-30 cannot move its (float32) parameters: π is fixed.
    mdp, env = tabular_world()
    S, A = mdp.n_states, mdp.n_actions
    with jax.enable_x64(False):
        demos = _tabular_demos(env)
        frozen = ppo.PPOConfig(
            total_steps=8 * 64 * 40,
            num_envs=8,
            rollout_length=64,
            update_epochs=1,
            num_minibatches=1,
            learning_rate=1e-30,
            anneal_lr=False,
            hidden=(16,),
        )
        config = gail.GAILConfig(
            generator=frozen,
            reward="logit",
            discriminator_steps=25,
            discriminator_learning_rate=3e-3,
            discriminator_batch_size=1024,
            policy_buffer_size=4096,
            discriminator_normalize_observations=False,
            absorbing=False,
        )
        result = jax.jit(gail.make_train(config, env, None, demos))(jax.random.key(2))
        log_pi = policy_table(result.policy, S, A)
        onehot = jnp.eye(S, dtype=jnp.float32)
        logit = jax.vmap(lambda s: jax.vmap(lambda a: result.reward(s, a, s))(jnp.arange(A)))(
            onehot
        )
    rho_e = empirical_visitation(demos, S, A)  # what the discriminator was shown
    rho_pi = visitation(mdp, log_pi)  # what the policy's samples are drawn from
    optimum = rho_e / np.maximum(rho_e + rho_pi, 1e-300)
    seen = (rho_e + rho_pi) / 2 > 0.005
    error = np.abs(np.asarray(jax.nn.sigmoid(logit)) - optimum)[seen]
    assert error.max() < 0.1
    assert np.sum(error * ((rho_e + rho_pi) / 2)[seen]) < 0.04


def test_gail_matches_the_expert_occupancy_on_a_tabular_world():
    mdp, env = tabular_world()
    S, A = mdp.n_states, mdp.n_actions
    with jax.enable_x64(False):
        demos = _tabular_demos(env)
        generator = ppo.PPOConfig(
            total_steps=8 * 64 * 100,
            num_envs=8,
            rollout_length=64,
            update_epochs=4,
            learning_rate=1e-3,
            hidden=(32,),
        )
        config = gail.GAILConfig(
            generator=generator,
            reward="logit",
            discriminator_steps=10,
            discriminator_learning_rate=1e-3,
            discriminator_normalize_observations=False,
            absorbing=False,
        )
        result = jax.jit(gail.make_train(config, env, None, demos))(jax.random.key(3))
        learned = visitation(mdp, policy_table(result.policy, S, A))
        uniform = visitation(mdp, jnp.full((S, A), -jnp.log(A)))
    expert = visitation(mdp, jax.nn.log_softmax(EXPERT_LOGITS))
    tv = 0.5 * np.abs(learned - expert).sum()
    assert tv < 0.1
    assert tv < 0.3 * (0.5 * np.abs(uniform - expert).sum())


def test_gail_imitates_cartpole_from_four_demonstrations():
    env, params, demos = cartpole_demos()
    with jax.enable_x64(False):
        config = gail.GAILConfig(generator=ppo.PPOConfig(total_steps=120 * 512))
        result = jax.jit(gail.make_train(config, env, params, demos))(jax.random.key(0))
    returns = np.asarray(result.metrics["episode_return"])
    assert returns[-1] >= 475, returns[::8]


def test_bad_gail_options_are_refused_by_name():
    with pytest.raises(ValueError, match="reward"):
        gail.GAILConfig(reward="log")
    with pytest.raises(ValueError, match="discriminator_inputs"):
        gail.GAILConfig(discriminator_inputs="action")
    with pytest.raises(ValueError, match="generator"):
        gail.GAILConfig(generator="ppo")
    with pytest.raises(ValueError, match="discount"):
        gail.GAILConfig(generator=ppo.PPOConfig(discount=1.0))
    env, params, demos = cartpole_demos()
    with pytest.raises(ValueError, match="config must be a GAILConfig"):
        gail.make_trainer(ppo.PPOConfig(), env, params, demos)
    small = gail.GAILConfig(generator=ppo.PPOConfig(num_envs=2, rollout_length=8, total_steps=16))
    with pytest.raises(ValueError, match="policy_buffer_size must hold one generator update's 16"):
        gail.make_trainer(dataclasses.replace(small, policy_buffer_size=8), env, params, demos)
    bad_networks = {
        "cannot be called": MLPReward(),  # reads one features array, not (obs, action, next)
        "one value per transition": _TwoOutputs(),
        "must return floating-point values.*got dtype int32": _IntegerOutput(),  # no gradient
    }
    for match, network in bad_networks.items():
        with pytest.raises(ValueError, match=match):
            gail.make_trainer(
                dataclasses.replace(small, reward_network=network), env, params, demos
            )


class _TwoOutputs(nn.Module):
    @nn.compact
    def __call__(self, obs, action, next_obs):
        return nn.Dense(2)(obs)


class _IntegerOutput(nn.Module):
    @nn.compact
    def __call__(self, obs, action, next_obs):
        return (nn.Dense(1)(obs)[..., 0] > 0).astype(jnp.int32)
