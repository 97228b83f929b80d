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


def check_env(env: Any, name: str = "env") -> None:
    """Refuse what is not a gymnax-style env (`irlax.envs.make(...)[0]`, a `GymnasiumEnv`):
    an object with `reset`, `step`, `action_space` and `observation_space` methods and
    `default_params`. Checked where an env is given, so that None or a name fails here by
    name rather than as an `AttributeError` deep inside a trainer.

    Args:
        env: the value given as an env.
        name: the argument's name, for the message.

    Raises:
        ValueError: None, a string (an env id: build the env with `irlax.envs.make`), or an
            object without the env methods.
    """
    hint = "; build one with irlax.envs.make(name)"
    if isinstance(env, str):
        raise ValueError(f"{name} must be an env object, got the string {env!r}{hint}")
    missing = [
        m
        for m in ("reset", "step", "action_space", "observation_space")
        if not callable(getattr(env, m, None))
    ]
    if env is None:
        raise ValueError(f"{name} must be a gymnax-style env, got None{hint}")
    if missing or not hasattr(env, "default_params"):
        what = ", ".join(missing) if missing else "default_params"
        raise ValueError(
            f"{name} must be a gymnax-style env (with reset, step, action_space, "
            f"observation_space and default_params), got {type(env).__name__} without {what}"
            f"{hint}"
        )


def check_callable(fn: Any, name: str, *, optional: bool = True) -> None:
    """Refuse a value that should be a function (None allowed when `optional`).

    Raises:
        ValueError: `fn` is not callable (and not None where None is allowed).
    """
    if fn is None and optional:
        return
    if not callable(fn):
        allowed = " or None" if optional else ""
        raise ValueError(f"{name} must be a callable{allowed}, got {type(fn).__name__}")


def check_real_scalar(value: Any, name: str) -> None:
    """Refuse a value that is not one real number: a string, a bool, None, an array of more
    than one element. A 0-d JAX or NumPy array passes, traced too (a vmapped scalar), so
    that callers may batch over it with `jax.vmap`; its range is for `check_values`.

    Raises:
        ValueError: naming `name`, what was expected and what came.
    """
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool | np.bool_
        )
    else:
        ok = jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.floating)
        if ok and jnp.ndim(value) != 0:
            raise ValueError(
                f"{name} must be a single number (to batch over it, map with jax.vmap), got "
                f"an array of shape {jnp.shape(value)}"
            )
    if not ok:
        raise ValueError(f"{name} must be a real number, got {value!r}")
