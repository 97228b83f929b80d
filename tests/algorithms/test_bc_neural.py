"""Neural behaviour cloning: the tabular maximum-likelihood answer, the held-out split,
CartPole from four demonstrations, determinism, vmap, bad input."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.algorithms import bc
from irlax.algorithms._deep import expert_transitions
from irlax.data import Trajectories
from irlax.data.rollout import rollout
from irlax.envs import TabularEnv, make, spaces
from irlax.rl.run import run
from tests.algorithms.deep import (
    assert_close,
    cartpole_demos,
    policy_table,
    table_policy,
    tabular_world,
)

# A stochastic expert whose every action is demonstrated in every state (200 episodes), so
# that the maximum-likelihood table is interior and finite logits reach it.
EXPERT_LOGITS = 0.5 * jax.random.normal(jax.random.key(5), (6, 5))
# A free table of logits: one-hot observations, no hidden layer, plain maximum likelihood.
TABLE = bc.NeuralBCConfig(
    hidden=(),
    batch_size=None,
    learning_rate=0.05,
    epochs=300,
    entropy_weight=0.0,
    normalize_observations=False,
    eval_episodes=0,
)
CARTPOLE = bc.NeuralBCConfig(epochs=2, learning_rate=3e-3, eval_episodes=2)


@functools.cache
def _tabular_demos():
    _, env = tabular_world()
    return rollout(env, table_policy(EXPERT_LOGITS), 200, jax.random.key(1), env.default_params)


def _as_indices(demos):
    return Trajectories(jnp.argmax(demos.observations, -1), demos.actions, demos.lengths)


def test_with_one_hot_observations_and_no_hidden_layer_it_is_tabular_maximum_likelihood():
    mdp, env = tabular_world()
    demos = _tabular_demos()
    table = bc.fit(mdp, _as_indices(demos), key=jax.random.key(0), smoothing=0.0)
    counts = np.asarray(table.info["counts"])
    visited = np.asarray(table.info["visited"])
    assert (counts[visited] > 0).all()  # every demonstrated state saw every action
    train = jax.jit(bc.make_train(TABLE, env, None, demos))
    keys = jax.random.split(jax.random.key(0), 2)
    loop = [train(k) for k in keys]
    for result in loop:
        learned = np.exp(np.asarray(policy_table(result.policy, mdp.n_states, mdp.n_actions)))
        np.testing.assert_allclose(learned[visited], np.exp(table.params)[visited], atol=1e-4)
        # Its last train loss is the tabular policy's mean negative log-likelihood per step.
        np.testing.assert_allclose(
            result.metrics["train_loss"][-1], table.metrics["nll"][0], rtol=1e-6
        )
    assert np.isnan(np.asarray(result.metrics["heldout_loss"])).all()
    assert np.isnan(np.asarray(result.metrics["episode_return"])).all()
    np.testing.assert_array_equal(result.metrics["env_steps"], 0)
    # Same key, same result; vmap over keys equals the loop (the seeds' parameters differ:
    # the table is over-parametrised by the bias, which each initialisation splits its way).
    assert_close(train(keys[0]), loop[0], rtol=0, atol=0)
    both = jax.jit(jax.vmap(bc.make_train(TABLE, env, None, demos)))(keys)
    for i, one in enumerate(loop):
        ith = jax.tree.map(lambda x, i=i: x[i], both)
        assert_close(ith.policy.params, one.policy.params, rtol=1e-9, atol=1e-9)
        assert_close(ith.metrics, one.metrics, rtol=1e-9, atol=1e-9)
    assert not np.allclose(
        loop[0].policy.params["params"]["Dense_0"]["bias"],
        loop[1].policy.params["params"]["Dense_0"]["bias"],
    )


def test_the_heldout_split_is_reported_and_an_interrupted_run_resumes(tmp_path):
    # After each epoch the train and held-out losses are the mean −log π over two disjoint
    # sets whose sizes are (1 − f)·M and f·M: they recombine into the mean over all demos.
    _, env = tabular_world()
    demos = _tabular_demos()
    expert = expert_transitions(env, None, demos)
    m = expert.size
    n_heldout = int(0.25 * m)
    config = dataclasses.replace(TABLE, epochs=4, heldout_fraction=0.25, batch_size=128)
    trainer = bc.make_trainer(config, env, None, demos)
    path = tmp_path / "bc.msgpack"

    def interrupt(done, last):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(trainer, jax.random.key(3), checkpoint=path, chunk=2, progress=interrupt)
    resumed = run(trainer, jax.random.key(3), checkpoint=path, chunk=2)
    whole = run(trainer, jax.random.key(3), chunk=2)
    assert_close(resumed.policy.params, whole.policy.params, rtol=0, atol=0)
    assert_close(resumed.metrics, whole.metrics, rtol=0, atol=0)

    train = trainer.init(jax.random.key(3)).train
    assert int(jnp.sum(~train)) == n_heldout
    assert not np.array_equal(trainer.init(jax.random.key(4)).train, train)  # key's own split
    nll = -jax.vmap(whole.policy.log_prob)(expert.obs, expert.action)
    last = {name: values[-1] for name, values in whole.metrics.items()}
    both = ((m - n_heldout) * last["train_loss"] + n_heldout * last["heldout_loss"]) / m
    np.testing.assert_allclose(both, jnp.mean(nll), rtol=1e-10)
    np.testing.assert_allclose(last["heldout_loss"], jnp.mean(nll[~train]), rtol=1e-10)
    assert last["heldout_loss"] > last["train_loss"]  # a table fits what it is shown


def test_cartpole_from_four_demos_reaches_the_expert():
    env, params, demos = cartpole_demos()
    with jax.enable_x64(False):
        keys = jax.random.split(jax.random.key(0), 2)
        both = jax.jit(jax.vmap(bc.make_train(CARTPOLE, env, params, demos)))(keys)
    returns = np.asarray(both.metrics["episode_return"])
    assert (returns[:, -1] >= 475).all(), returns  # the expert's 500, after two epochs
    # Evaluation: two episodes per epoch, every step counted.
    steps = np.asarray(both.metrics["env_steps"])
    assert (steps[:, 0] > 0).all() and (np.diff(steps) > 0).all()
    assert (steps[:, -1] <= 2 * 2 * 500).all()


def test_bad_input_is_refused_by_name():
    bad_options = {
        "hidden": {"hidden": (0,)},
        "activation": {"activation": "gelu"},
        "learning_rate": {"learning_rate": 0.0},
        "epochs": {"epochs": 0},
        "batch_size": {"batch_size": 0},
        "l2_weight": {"l2_weight": -1.0},
        "entropy_weight": {"entropy_weight": float("nan")},
        "heldout_fraction": {"heldout_fraction": 1.0},
        "box": {"box": "beta"},
        "eval_episodes": {"eval_episodes": -1},
        "eval_max_steps": {"eval_max_steps": 0},
        "eval_deterministic": {"eval_deterministic": 1},
        "normalize_observations": {"normalize_observations": "yes"},
        "anneal_lr": {"anneal_lr": None},
    }
    for name, options in bad_options.items():
        with pytest.raises(ValueError, match=name):
            bc.NeuralBCConfig(**options)
    env, params, demos = cartpole_demos()
    with pytest.raises(ValueError, match="config must be a NeuralBCConfig"):
        bc.make_trainer(bc.BCConfig(), env, params, demos)
    shifted = Trajectories(demos.observations, demos.actions + 1, demos.lengths)
    with pytest.raises(ValueError, match="demo actions"):  # CartPole's actions are 0 and 1
        bc.make_trainer(CARTPOLE, env, params, shifted)
    with pytest.raises(ValueError, match="demo actions must have element shape"):
        bc.make_trainer(
            CARTPOLE,
            env,
            params,
            Trajectories(demos.observations, demos.actions[..., None], demos.lengths),
        )
    with pytest.raises(ValueError, match="Trajectories"):
        bc.make_trainer(CARTPOLE, env, params, {"observations": demos.observations})
    one = Trajectories(demos.observations[:1, :2], demos.actions[:1, :1], jnp.asarray([1]))
    with pytest.raises(ValueError, match="heldout_fraction"):
        bc.make_trainer(dataclasses.replace(CARTPOLE, heldout_fraction=0.5), env, params, one)
    # A tanh-squashed Gaussian needs a bounded box; Pendulum's is, a free box is not.
    pendulum, pendulum_params = make("Pendulum-v1")
    box_demos = Trajectories(jnp.zeros((1, 3, 3)), jnp.zeros((1, 2, 1)), jnp.asarray([2]))
    tanh = dataclasses.replace(CARTPOLE, box="tanh")
    bc.make_trainer(tanh, pendulum, pendulum_params, box_demos)
    with pytest.raises(ValueError, match="finite"):
        bc.make_trainer(tanh, _FreeBox(pendulum), pendulum_params, box_demos)
    # Evaluation needs an episode length: an infinite-horizon TabularEnv has none.
    mdp, _ = tabular_world()
    endless = TabularEnv(
        dataclasses.replace(mdp, horizon=None, discount=0.9), jnp.zeros(mdp.n_states)
    )
    with pytest.raises(ValueError, match="eval_max_steps"):
        evaluate = dataclasses.replace(TABLE, eval_episodes=1)
        bc.make_trainer(evaluate, endless, None, _tabular_demos())


class _FreeBox:
    """An env whose Box action space is unbounded (all else Pendulum's)."""

    def __init__(self, env):
        self.env = env

    def __getattr__(self, name):
        return getattr(self.env, name)

    def action_space(self, params=None):
        space = self.env.action_space(params)
        return spaces.Box(-jnp.inf, jnp.inf, space.shape, space.dtype)
