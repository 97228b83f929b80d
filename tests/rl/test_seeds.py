"""Many seeds at once: sharded over several devices, training gives what one device gives."""

import os
import subprocess
import sys

# In a process of its own: the device count is fixed when JAX starts.
SCRIPT = """
import jax, numpy as np
from irlax.envs import make
from irlax.rl import ppo, train_seeds
assert len(jax.local_devices()) == 4
env, params = make("CartPole-v1")
config = ppo.PPOConfig(total_steps=256, num_envs=2, rollout_length=32, update_epochs=1,
                       num_minibatches=1, hidden=(8,))
train = ppo.make_train(config, env, params)
keys = jax.random.split(jax.random.key(0), 8)
sharded = train_seeds(train, keys)
single = jax.jit(jax.vmap(train))(keys)
kernel = sharded.params["actor"]["params"]["Dense_0"]["kernel"]
assert len(kernel.sharding.device_set) == 4, kernel.sharding
for a, b in zip(jax.tree.leaves(sharded), jax.tree.leaves(single), strict=True):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
print("ok")
"""


def test_seeds_sharded_over_four_devices_equal_one_device():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    env["JAX_PLATFORMS"] = "cpu"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]


def test_a_vmapped_trainer_run_in_checkpointed_chunks_equals_each_seed_alone(tmp_path):
    import jax
    import numpy as np

    from irlax.envs import make
    from irlax.rl import ppo, vmap_trainer
    from irlax.rl.run import run

    env, params = make("CartPole-v1")
    config = ppo.PPOConfig(
        total_steps=256,
        num_envs=2,
        rollout_length=32,
        update_epochs=1,
        num_minibatches=1,
        hidden=(8,),
    )
    trainer = ppo.make_trainer(config, env, params)
    seeds = jax.random.split(jax.random.key(0), 3)
    both = run(vmap_trainer(trainer), seeds, chunk=2, checkpoint=tmp_path / "c.msgpack")
    assert both.metrics["episode_return"].shape == (3, trainer.n_updates)
    for i, key in enumerate(seeds):
        alone = run(trainer, key, chunk=2)
        for a, b in zip(jax.tree.leaves(both), jax.tree.leaves(alone), strict=True):
            np.testing.assert_allclose(np.asarray(a)[i], np.asarray(b), rtol=1e-5, atol=1e-6)
