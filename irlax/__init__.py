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

import importlib  # noqa: E402 (after the flag)

__version__ = "0.1.0"

__all__ = ["TabularMDP", "Trajectories", "data", "envs", "mdp"]

# Imported on first use (PEP 562), so that `import irlax` (and `irlax --help`) need not load JAX.
_LAZY = {
    "data": ("irlax.data", None),
    "envs": ("irlax.envs", None),
    "mdp": ("irlax.mdp", None),
    "Trajectories": ("irlax.data", "Trajectories"),
    "TabularMDP": ("irlax.mdp", "TabularMDP"),
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'irlax' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = importlib.import_module(module)
    return value if attribute is None else getattr(value, attribute)


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
