"""Sample-based MaxEnt IRL: its gradient is the exact MaxEnt gradient in expectation, its
fitted reward is exact MaxEnt's, vmap equals a loop, bad input is refused by name."""

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.algorithms import maxent, maxent_sampled
from irlax.data import Trajectories
from irlax.data.rollout import rollout
from irlax.envs import TabularEnv, gridworld
from irlax.mdp import soft_value_iteration
from irlax.metrics import epic_distance
from irlax.nets import MLPReward
from irlax.nets.reward import TransitionReward
from irlax.rl import ppo, sac, soft_q, train_from
from irlax.rl.run import run
from tests.algorithms.deep import assert_close, table_policy

TEMPERATURE = 1.0
DISCOUNT = 0.8


T = 50  # steps per episode: the end term of the cut episodes, γ^T/(1 − γ) = 7e-5, is negligible


@functools.cache
def _world():
    """A slippery 3x3 gridworld, infinite horizon (γ = 0.8), starting in a corner, as a one-hot
    env cut at T steps; the true reward is +1 in the far corner, −1 in the centre. With 100
    episodes of its soft-optimal expert, as one-hot env demos and as state indices.

    Everything runs in float64 (the tests' default) so that every test shares one compiled
    planner and rollout."""
    mdp = gridworld(
        3, 3, horizon=None, discount=DISCOUNT, slip=0.2, start=(0, 0), features="onehot"
    )
    reward = jnp.zeros(mdp.n_states).at[8].set(1.0).at[4].set(-1.0)
    env = TabularEnv(mdp, reward, "onehot", time_limit=T)
    expert = soft_value_iteration(mdp, reward, temperature=TEMPERATURE).log_policy
    demos = rollout(env, table_policy(expert), 100, jax.random.key(1), env.default_params)
    states = jnp.argmax(demos.observations, -1).astype(jnp.int32)
    indexed = Trajectories(observations=states, actions=demos.actions, lengths=demos.lengths)
    return mdp, reward, env, demos, indexed


def _state_table(reward_fn, params, n_states):
    onehot = jnp.eye(n_states)
    return jax.vmap(lambda s: reward_fn(params, s, 0, s))(onehot)


def test_the_sampled_gradient_averages_to_the_exact_maxent_gradient():
    # Fed the exact soft-optimal policy of r_ψ, the estimator's mean over K independent draws
    # of M episodes is the gradient of maxent's dual objective (the demos' negative
    # log-likelihood), up to the end term of episodes cut at T = 50 steps: its gradient has
    # total mass γ^T/(1 − γ) = 7e-5, far below the Monte-Carlo standard error (~1e-2).
    K, M = 64, 32
    mdp, _, env, demos, indexed = _world()
    S, A = mdp.n_states, mdp.n_actions
    network = TransitionReward("state", ())  # r_ψ(s) = w·onehot(s) + b: a table
    onehot = jnp.eye(S)
    params = network.init(jax.random.key(7), onehot[:1], jnp.zeros((1, A)), onehot[:1])
    params = jax.tree.map(lambda p: p.astype(jnp.float64), params)

    def reward_batch(p, obs, action, next_obs):
        return network.apply(p, obs, jax.nn.one_hot(action, A), next_obs)

    def table(p):
        return reward_batch(p, onehot, jnp.zeros(S, jnp.int32), onehot)

    def exact_ascent(p):
        return -maxent.objective(mdp, table(p), indexed, temperature=TEMPERATURE, objective="dual")

    exact = jax.grad(exact_ascent)(params)
    soft_optimal = soft_value_iteration(mdp, table(params), temperature=TEMPERATURE).log_policy

    policy = table_policy(soft_optimal)

    def log_prob(obs, action):
        return soft_optimal[jnp.argmax(obs), action]

    kinds = ("discounted", "uniform")
    expert = {
        kind: maxent_sampled.demo_steps(env, env.default_params, demos, DISCOUNT, kind)
        for kind in kinds
    }

    def one(key):
        grads = {}
        for kind in kinds:
            sampled = maxent_sampled.sample_episodes(
                env, env.default_params, policy, log_prob, key, M, T, DISCOUNT, kind
            ).steps
            grads[kind], _, _ = maxent_sampled.likelihood_gradient(
                reward_batch, params, expert[kind], sampled, TEMPERATURE
            )
        return grads

    # The same episodes for both weightings (same key): one compiled program.
    estimates = jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(3), K))

    def z_scores(grads):
        w = np.asarray(grads["params"]["MLPReward_0"]["Dense_0"]["kernel"]).reshape(K, S)
        target = np.asarray(exact["params"]["MLPReward_0"]["Dense_0"]["kernel"]).ravel()
        return (w.mean(0) - target) / (w.std(0, ddof=1) / np.sqrt(K))

    discounted = estimates["discounted"]
    z = z_scores(discounted)
    assert np.abs(z).max() < 4.0, z
    assert np.sum(z**2) < 27.9, z  # χ²(9) at p = 0.001
    # Every trajectory on both sides has the same total weight Σ_t γ^t, so the bias b of the
    # table cannot move the likelihood: its gradient is exactly 0, sampled or exact.
    bias = discounted["params"]["MLPReward_0"]["Dense_0"]["bias"]
    np.testing.assert_allclose(bias, 0.0, atol=1e-12)
    np.testing.assert_allclose(exact["params"]["MLPReward_0"]["Dense_0"]["bias"], 0.0, atol=1e-9)
    # The test has power: undiscounted trajectory sums estimate another gradient and fail it.
    assert np.sum(z_scores(estimates["uniform"]) ** 2) > 1000


def _learning_config():
    generator = soft_q.SoftQConfig(
        total_steps=4 * 8 * 10 * 200,
        num_envs=4,
        rollout_length=8,
        gradient_steps=8,
        batch_size=64,
        buffer_size=4096,
        learning_starts=256,
        learning_rate=0.1,
        discount=DISCOUNT,
        temperature=TEMPERATURE,
        target_update="polyak",
        tau=0.1,
        hidden=(),  # tabular Q on one-hot observations
        max_grad_norm=None,
    )
    return maxent_sampled.MaxEntSampledConfig(
        generator=generator,
        inner_updates=10,
        samples=16,
        reward_inputs="state",
        reward_hidden=(),
        learning_rate=0.1,
        anneal_lr=True,
        l2=0.01,
    )


@functools.cache
def _learning_run():
    """(the trainer, two keys, their results from one vmapped train)."""
    _, _, env, demos, _ = _world()
    trainer = maxent_sampled.make_trainer(_learning_config(), env, None, demos)
    keys = jax.random.split(jax.random.key(0), 2)
    return trainer, keys, jax.jit(jax.vmap(train_from(trainer)))(keys)


def test_the_fitted_reward_agrees_with_exact_maxent_on_the_same_demos():
    # 200 outer steps of 10 soft Q-learning updates each (warm-started), 16 sampled episodes
    # per reward step, a tabular reward r_ψ(s). Measured EPIC distance to maxent's reward over
    # 6 seeds: 0.037-0.052, while the true reward is 0.087 from maxent's (100 demos): the
    # sampled method finds exact MaxEnt's maximum-likelihood reward, closer to it than the
    # truth is.
    mdp, truth, _, _, indexed = _world()
    _, _, both = _learning_run()
    exact = maxent.fit(
        mdp, indexed, key=jax.random.key(0), objective="dual", temperature=TEMPERATURE, l2=0.01
    )
    truth_distance = float(epic_distance(mdp, truth, exact.reward))
    for i in range(2):
        params = jax.tree.map(lambda x, i=i: x[i], both.reward_params)
        learned = _state_table(both.reward_fn, params, mdp.n_states)
        distance = float(epic_distance(mdp, learned, exact.reward))
        assert distance < min(0.08, truth_distance), (i, distance, truth_distance)
    metrics = both.metrics
    assert np.isfinite(np.asarray(metrics["episode_return"])).all()
    env_steps = np.asarray(metrics["env_steps"])
    assert (np.diff(env_steps, axis=1) == 4 * 8 * 10 + 16 * T).all()  # generator + samples


def test_vmap_equals_a_loop_and_an_interrupted_run_resumes_to_the_same_result(tmp_path):
    # The loop is irlax.rl.run's host loop of checkpointed chunks; the first key's run is
    # interrupted after its first chunk and resumed from the checkpoint.
    trainer, keys, both = _learning_run()
    path = tmp_path / "checkpoint.msgpack"

    def interrupt(done, last):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(trainer, keys[0], checkpoint=path, chunk=100, progress=interrupt)
    resumed = run(trainer, keys[0], checkpoint=path, chunk=100)
    one = [run(trainer, k, chunk=100) for k in keys]
    assert_close(resumed.reward_params, one[0].reward_params, rtol=0, atol=0)
    assert_close(resumed.metrics, one[0].metrics, rtol=0, atol=0)
    for i in range(2):
        ith = jax.tree.map(lambda x, i=i: x[i], both)
        assert_close(ith.reward_params, one[i].reward_params, rtol=1e-4, atol=1e-5)
        assert_close(ith.metrics, one[i].metrics, rtol=1e-4, atol=1e-5)
        assert_close(ith.policy.params, one[i].policy.params, rtol=1e-4, atol=1e-5)
    assert not np.allclose(one[0].metrics["grad_norm"], one[1].metrics["grad_norm"])


def test_bad_options_and_inputs_are_refused_by_name():
    bad_fields = {
        "generator": ppo.PPOConfig(),
        "inner_updates": 0,
        "samples": 0,
        "episode_steps": 0,
        "reward_network": "mlp",
        "reward_inputs": "action",
        "reward_hidden": (0,),
        "learning_rate": 0.0,
        "optimizer": "lbfgs",
        "anneal_lr": 1,
        "l2": -1.0,
        "step_weights": "geometric",
    }
    for name, value in bad_fields.items():
        with pytest.raises(ValueError, match=name):
            maxent_sampled.MaxEntSampledConfig(**{name: value})
    with pytest.raises(ValueError, match="learn_temperature=False"):
        maxent_sampled.MaxEntSampledConfig(generator=sac.SACConfig())
    mdp, reward, env, demos, indexed = _world()
    small = maxent_sampled.MaxEntSampledConfig(
        generator=soft_q.SoftQConfig(total_steps=16, learning_starts=8, buffer_size=16),
        inner_updates=2,
    )
    with pytest.raises(ValueError, match="config must be a MaxEntSampledConfig"):
        maxent_sampled.make_trainer(soft_q.SoftQConfig(), env, None, demos)
    with pytest.raises(ValueError, match="demos must be Trajectories"):
        maxent_sampled.make_trainer(small, env, None, demos.observations)
    with pytest.raises(ValueError, match="demo observations"):
        maxent_sampled.make_trainer(small, env, None, indexed)  # indices, not one-hot
    with pytest.raises(ValueError, match="episode_steps=4"):
        maxent_sampled.make_trainer(dataclasses.replace(small, episode_steps=4), env, None, demos)
    endless = TabularEnv(mdp, reward, "onehot")  # infinite horizon, no time limit
    with pytest.raises(ValueError, match="episode_steps is required"):
        maxent_sampled.make_trainer(small, endless, None, demos)
    with pytest.raises(ValueError, match="inner_updates=5"):
        maxent_sampled.make_trainer(dataclasses.replace(small, inner_updates=5), env, None, demos)
    bad_networks = {"cannot be called": MLPReward(), "one value per transition": _TwoOutputs()}
    for match, network in bad_networks.items():
        with pytest.raises(ValueError, match=match):
            maxent_sampled.make_trainer(
                dataclasses.replace(small, reward_network=network), env, None, demos
            )


class _TwoOutputs(nn.Module):
    @nn.compact
    def __call__(self, obs, action, next_obs):
        return nn.Dense(2)(obs)
