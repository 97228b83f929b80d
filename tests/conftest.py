"""Exactness tests run in float64; tests of the float32 default use `jax.enable_x64(False)`."""

import jax

jax.config.update("jax_enable_x64", True)
