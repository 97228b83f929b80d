"""Exactness tests run in float64; tests of the float32 default use `jax.enable_x64(False)`.

The suite compiles hundreds of programs, many of them the same program in several tests (a
tiny PPO on CartPole, say), and on 2 cores compilation is most of its time. JAX's persistent
compilation cache, shared by the pytest-xdist workers, compiles each such program once per
run (and, kept in the temporary folder, not again in the next local run; a cache written by
another JAX version is never read, as its key holds the version). `IRLAX_TEST_JAX_CACHE`
names another folder, or `off` turns it off; the `irlax` commands the tests run use the same
(through `IRLAX_JAX_CACHE`), never the user's own cache.
"""

import os
import tempfile
from pathlib import Path

import jax

from irlax import compilation_cache

jax.config.update("jax_enable_x64", True)

_cache = os.environ.get("IRLAX_TEST_JAX_CACHE") or str(
    Path(tempfile.gettempdir()) / f"irlax-test-jax-cache-{os.getuid()}"
)
os.environ[compilation_cache.ENV_VAR] = _cache
compilation_cache.enable(_cache)
