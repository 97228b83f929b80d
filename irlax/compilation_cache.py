"""A persistent compilation cache: a program compiled once is loaded, not compiled, next time.

irlax's trainers and fitters are single compiled programs, and on a small machine compiling
them takes longer than running them (a CartPole PPO compiles for seconds and runs for one).
JAX can keep every compiled program on disk, keyed by the program, its shapes, the JAX and XLA
versions, the flags and the device, and load it in any later process that asks for the same
program. This module turns that on with irlax's defaults; it is JAX's own mechanism
(`jax_compilation_cache_dir`), so a cache written by another JAX version is never read (its
keys differ) and a corrupt entry is reported by JAX as a warning and compiled afresh.

The `irlax` command turns it on by default, in `~/.cache/irlax/jax` (`$XDG_CACHE_HOME/irlax/jax`
where that is set), or in the folder `IRLAX_JAX_CACHE` names; `IRLAX_JAX_CACHE=off` or
`irlax --jax-cache off ...` turns it off. The library leaves the choice to its user; one line
turns it on for a script, before its first compilation:

    import irlax.compilation_cache; irlax.compilation_cache.enable()
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import jax
from jax.experimental.compilation_cache import compilation_cache as jax_cache

ENV_VAR = "IRLAX_JAX_CACHE"
"""The environment variable naming the cache folder, or `off`."""

MIN_COMPILE_SECONDS = 0.0
"""Programs that compile faster than this are not written. None is skipped: on a small CPU
even an eager op's program takes 0.1-0.3 s to compile and far less to load, and a command
runs dozens of them (a warm `irlax expert ppo` on CartPole: 14.5 s with every program cached,
against about 0.6 of the cold run's time when those under 0.1 s were compiled again)."""


def default_folder() -> Path:
    """`$XDG_CACHE_HOME/irlax/jax`, or `~/.cache/irlax/jax`."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "irlax" / "jax"


def enable(folder: str | os.PathLike | None = None) -> Path | None:
    """Turn JAX's persistent compilation cache on, in `folder` (or off).

    Programs compiled before the call are not written; those after are, and those found are
    loaded instead of compiled.

    Args:
        folder: where the compiled programs are kept; `"off"` turns the cache off; None takes
            `$IRLAX_JAX_CACHE`, else `default_folder()`.

    Returns:
        The folder in use, or None when the cache stays off: asked to, or because the folder
        cannot be created or written (then with one warning saying so; compilation goes on
        as without a cache).
    """
    if folder is None:
        folder = os.environ.get(ENV_VAR) or default_folder()
    if str(folder) == "off":
        _use(None)
        return None
    path = Path(folder).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
            pass
    except OSError as e:
        warnings.warn(
            f"compilation cache off: cannot write to {path} ({e.strerror or e}); "
            f"programs are compiled as usual (set {ENV_VAR} to another folder or to off)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    _use(str(path))
    return path


def _use(folder: str | None) -> None:
    """Point JAX's cache at `folder` (None: off), re-opening it if it was opened elsewhere
    (JAX opens its cache once, at the first compilation after the folder is set)."""
    if jax.config.jax_compilation_cache_dir != folder:
        jax.config.update("jax_compilation_cache_dir", folder)
        jax_cache.reset_cache()
