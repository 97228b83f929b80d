"""Checks on array values that stay on under `jax.vmap`, and under `jax.jit` through checkify.

A check on the values of an array (a range, finiteness, a sum) can only look at them when they
exist. `check_values` decides by what it is given:

1. **Concrete values** (plain calls, and every entry point that validates before tracing, such
   as `Trajectories.stack` or `irlax.mdp.checks.check_tabular_trajectories` on a stack of
   demo sets): checked now; a failure raises `ValueError`.
2. **Under an eager `jax.vmap`** (vmap without jit, the way the README batches fits over keys
   and demo sets): the values exist beneath the batching, so the check runs now as
   `jax.experimental.checkify.check`, which raises `checkify.JaxRuntimeError` (a `ValueError`)
   with the first failing member's message.
3. **Staged values** (inside `jax.jit`, `lax.scan`, `jax.grad`, or a function being
   `checkify.checkify`-ed): the check is a `checkify.debug_check`. It costs nothing in compiled
   code and is switched on by functionalising the caller with `checkify.checkify`, the
   documented way to keep checks on under jit and vmap::

       err, out = jax.jit(checkify.checkify(f))(x)
       err.throw()  # ValueError (checkify.JaxRuntimeError) if a check failed
       err, out = jax.vmap(checkify.checkify(f))(xs)
       err.throw()  # "at mapped index i: ..." names the failing member

   Without checkify a staged check is dropped, so the functions that can corrupt a result
   silently on bad indices (the empirical occupancy, likelihoods) also make that result NaN
   (documented where they do), and batched entry points validate the batch before tracing.

Telling 2 from 3 needs JAX's `BatchTracer` class, which JAX does not export: it is imported
from `jax._src` inside a `try`, and if a JAX release moves it, case 2 falls back to case 3
(checks switched on by checkify) rather than breaking; a test fails to say so.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

from irlax._pytree import is_concrete

try:  # only to tell an eager vmap from staging; see the module docstring
    from jax._src.interpreters.batching import BatchTracer as _BatchTracer
except ImportError:  # pragma: no cover - depends on the JAX release
    _BatchTracer = None


def array_module(*values: Any) -> ModuleType:
    """`numpy` when every value is concrete, else `jax.numpy`: one predicate serves both paths.

    Concrete checks run in numpy (no dispatch to a device, exact float64 where the input is),
    traced ones in `jax.numpy`; the two modules share the functions a check needs.
    """
    return np if is_concrete(*values) else jnp


def _eager_under_vmap(x: Any) -> bool:
    """True when `x` is batched by eager `jax.vmap`s only, with concrete values beneath."""
    while _BatchTracer is not None and isinstance(x, _BatchTracer):
        x = x.val
    return not isinstance(x, jax.core.Tracer)


def check_values(ok: Any, message: str, *args: Any) -> None:
    """Raise a `ValueError` unless `ok` holds, whether the values are concrete or traced.

    How the check runs (now, under an eager vmap, or through checkify when staged) is decided
    per call by what `ok` is; see the module docstring.

    Args:
        ok: bool array of any shape, computed from the values being checked (with
            `array_module(values)`); the check passes when every entry is True.
        message: a `str.format` template naming the argument, what was expected and what
            came; `{}` fields take `args` (literal braces must be doubled).
        *args: arrays formatted into `message`, e.g. the offending value and its index; each
            computed like `ok` (0-d, so that a traced one formats as a number).

    Raises:
        ValueError: `ok` is concrete, or batched by an eager `jax.vmap`, and not all True
            (under vmap, `checkify.JaxRuntimeError`, a `ValueError` subclass).
    """
    if is_concrete(ok):
        if not bool(np.all(ok)):
            raise ValueError(message.format(*(_plain(a) for a in args)))
        return
    pred = jnp.all(ok)
    fmt = [jnp.asarray(a) for a in args]
    if _eager_under_vmap(pred):
        checkify.check(pred, message, *fmt)
    else:
        checkify.debug_check(pred, message, *fmt)


def _plain(x: Any) -> Any:
    """A 0-d array as a Python number (formats as `7`, not `array(7)`), else unchanged."""
    return np.asarray(x).item() if np.ndim(x) == 0 else np.asarray(x)


def check_key(key: Any, name: str = "key") -> None:
    """Refuse anything but a JAX PRNG key: a typed key (`jax.random.key`) or a raw `uint32[2]`
    one (`jax.random.PRNGKey`), also traced or batched (a leading axis of keys under vmap).

    Args:
        key: the value given as a key.
        name: the argument's name, for the message.

    Raises:
        ValueError: an int, a float array, or anything else that is not a key.
    """
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key):
        return
    if dtype == jnp.uint32 and jnp.shape(key)[-1:] == (2,):
        return
    raise ValueError(
        f"{name} must be a JAX PRNG key (jax.random.key(seed)), got "
        f"{type(key).__name__}{'' if dtype is None else f' of dtype {dtype}'}"
    )
