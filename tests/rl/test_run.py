"""The checkpointing host loop equals one compiled training, and resumes where it stopped."""

import dataclasses

import jax
import numpy as np
import pytest

from irlax.envs import make
from irlax.rl import ppo
from irlax.rl._common import train_from
from irlax.rl.run import load_policy, run, save_policy

CONFIG = ppo.PPOConfig(
    total_steps=4 * 16 * 6,
    num_envs=4,
    rollout_length=16,
    update_epochs=1,
    num_minibatches=1,
    hidden=(8,),
)


@pytest.fixture(scope="module")
def trainer():
    with jax.enable_x64(False):
        env, params = make("CartPole-v1")
        yield ppo.make_trainer(CONFIG, env, params)


def assert_same(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)


def test_chunks_equal_one_compiled_training(trainer):
    with jax.enable_x64(False):
        key = jax.random.key(0)
        whole = jax.jit(train_from(trainer))(key)
        chunked = run(trainer, key, chunk=4)  # 6 updates: a chunk of 4 and one of 2
    assert_same(chunked.params, whole.params)
    assert_same(chunked.metrics, whole.metrics)


def test_an_interrupted_run_resumes_from_its_checkpoint(trainer, tmp_path):
    path = tmp_path / "checkpoint.msgpack"

    def interrupt(done, last):
        raise KeyboardInterrupt

    with jax.enable_x64(False):
        key = jax.random.key(1)
        with pytest.raises(KeyboardInterrupt):
            run(trainer, key, checkpoint=path, chunk=2, progress=interrupt)
        assert path.exists()
        seen = []
        resumed = run(trainer, key, checkpoint=path, chunk=2, progress=lambda d, m: seen.append(d))
        whole = run(trainer, key, chunk=2)
    assert seen == [4, 6]  # the first chunk was not trained again
    assert_same(resumed.params, whole.params)
    assert_same(resumed.metrics, whole.metrics)


def test_a_checkpoint_of_another_run_is_refused(trainer, tmp_path):
    path = tmp_path / "checkpoint.msgpack"
    with jax.enable_x64(False):
        run(trainer, jax.random.key(0), checkpoint=path, chunk=6, fingerprint={"seed": 0})
        with pytest.raises(ValueError, match="another run"):
            run(trainer, jax.random.key(0), checkpoint=path, fingerprint={"seed": 1})
    with pytest.raises(ValueError, match="chunk"):
        run(trainer, jax.random.key(0), chunk=0)


def test_an_interrupted_gymnasium_run_resumes_on_fresh_episodes(tmp_path):
    # A host-stepped env keeps its real state in Python, out of the checkpoint's reach: the
    # learner resumes exactly, the envs on fresh episodes (a stale env state would be refused).
    path = tmp_path / "checkpoint.msgpack"

    def interrupt(done, last):
        raise KeyboardInterrupt

    with jax.enable_x64(False):
        env, params = make("gymnasium:CartPole-v1", num_envs=CONFIG.num_envs)
        trainer = ppo.make_trainer(CONFIG, env, params)
        with pytest.raises(KeyboardInterrupt):
            run(trainer, jax.random.key(2), checkpoint=path, chunk=2, progress=interrupt)
        seen = []
        result = run(
            trainer,
            jax.random.key(3),
            checkpoint=path,
            chunk=2,
            progress=lambda d, m: seen.append(d),
        )
    assert seen == [4, 6]
    returns = np.asarray(result.metrics["episode_return"])
    assert np.isfinite(returns).all() and (returns > 0).all()


@pytest.mark.parametrize("algo", ["ppo", "sac"])
def test_a_saved_policy_loads_back_acting_as_it_did(algo, tmp_path):
    from irlax.rl import sac

    with jax.enable_x64(False):
        env, params = make("Pendulum-v1")
        if algo == "ppo":
            config = dataclasses.replace(CONFIG, normalize_observations=True, hidden=(8, 4))
            train = ppo.make_train(config, env, params)
        else:
            config = sac.SACConfig(total_steps=8, learning_starts=4, batch_size=4, hidden=(8,))
            train = sac.make_train(config, env, params)
        result = jax.jit(train)(jax.random.key(1))
        save_policy(tmp_path / "policy.msgpack", result, config, {"env": "Pendulum-v1"})
        back = load_policy(tmp_path / "policy.msgpack", env, params)
        obs = jax.random.normal(jax.random.key(2), (5, 3))
        actions = jax.random.uniform(jax.random.key(3), (5, 1), minval=-1.9, maxval=1.9)
        np.testing.assert_array_equal(
            jax.vmap(back.log_prob)(obs, actions), jax.vmap(result.log_prob)(obs, actions)
        )
        key = jax.random.key(4)
        act = jax.vmap(lambda o: back.policy(o, key, True))(obs)
        np.testing.assert_array_equal(act, jax.vmap(lambda o: result.policy(o, key, True))(obs))
        cartpole, cartpole_params = make("CartPole-v1")
        with pytest.raises(ValueError, match="another env"):
            load_policy(tmp_path / "policy.msgpack", cartpole, cartpole_params)


def test_a_file_that_is_not_a_saved_policy_is_refused(trainer, tmp_path):
    from irlax.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "params.msgpack", {"w": np.zeros(2)}, {"env": "CartPole-v1"})
    env, params = make("CartPole-v1")
    with pytest.raises(ValueError, match="not a saved policy"):
        load_policy(tmp_path / "params.msgpack", env, params)
    with pytest.raises(ValueError, match="config must be one of"):
        save_policy(tmp_path / "x.msgpack", None, object())
