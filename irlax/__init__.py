"""irlax: inverse reinforcement learning and imitation learning in JAX."""

import os

# XLA's CPU runtime (jaxlib 0.10.2) can deadlock on programs that run independent batched
# LAPACK calls side by side, e.g. SAC vmapped over 5 or more seeds (the QRs of its orthogonal
# initialisers): every thread waits and the call never returns. Its older scheduler does not,
# at no cost in speed. XLA reads the flag when JAX first runs something, so this works when
# irlax is imported before any computation; a user's own setting of the flag is kept.
XLA_WORKAROUND = "--xla_cpu_enable_concurrency_optimized_scheduler=false"
if "xla_cpu_enable_concurrency_optimized_scheduler" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {XLA_WORKAROUND}".strip()

from irlax import data, envs, mdp  # noqa: E402 (after the flag)
from irlax.data import Trajectories  # noqa: E402
from irlax.mdp import TabularMDP  # noqa: E402

__version__ = "0.1.0"

__all__ = ["TabularMDP", "Trajectories", "data", "envs", "mdp"]
