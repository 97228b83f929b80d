"""Importing irlax protects users from jaxlib 0.10.2's CPU scheduler deadlock."""

import os
import subprocess
import sys

import pytest

FLAG = "xla_cpu_enable_concurrency_optimized_scheduler"


def _flags_after_import(xla_flags):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    if xla_flags is not None:
        env["XLA_FLAGS"] = xla_flags
    code = "import os, irlax; print(os.environ['XLA_FLAGS'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, f"--{FLAG}=false"),
        ("--xla_dump_to=/tmp/x", f"--xla_dump_to=/tmp/x --{FLAG}=false"),
        (f"--{FLAG}=true", f"--{FLAG}=true"),  # the user's own choice is kept
    ],
)
def test_import_adds_the_workaround_unless_the_user_set_the_flag(given, expected):
    assert _flags_after_import(given) == expected


def test_sac_vmapped_over_five_seeds_returns():
    # Hangs with XLA's default scheduler (checked: --{FLAG}=true never returns); it needs the
    # default 256-wide layers, whose two batched QRs in the initialisers run side by side.
    code = """
import irlax, jax
from irlax import envs
from irlax.rl import sac
config = sac.SACConfig(total_steps=40, learning_starts=20, buffer_size=64, batch_size=8)
train = sac.make_train(config, *envs.make("Pendulum-v1"))
result = jax.jit(jax.vmap(train))(jax.random.split(jax.random.key(0), 5))
print(jax.block_until_ready(result.metrics["episode_return"]).shape[0])
"""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "5"
