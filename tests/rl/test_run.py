"""The checkpointing host loop equals one compiled training, and resumes where it stopped."""

import jax
import numpy as np
import pytest

from irlax.envs import make
from irlax.rl import ppo
from irlax.rl._common import train_from
from irlax.rl.run import run

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
