"""Configs, one way: frozen dataclasses, their validators, and `make_config`.

Every method's options are a frozen dataclass whose class docstring documents each field under
`Attributes:` (the CLI reads those lines for `--help`). Its `__post_init__` validates the fields
with the `require_*` functions below, so that a bad value is refused where it is given, with a
message that names the field, what was expected and what came. Entry points take
`config=None, **options` and call `make_config(Config, config, options)`: the defaults (or the
given config) with the options replacing fields, validated once more.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def make_config(cls: type, config: Any, options: dict) -> Any:
    """`config` (or the defaults of `cls`) with `options` replacing fields, validated.

    Args:
        cls: the config dataclass.
        config: an instance of `cls`, or None for its defaults.
        options: field names and values that replace the config's.

    Returns:
        A new, validated instance of `cls` (the given config is never modified).

    Raises:
        ValueError: an option that is not a field of `cls`, a config of another type, or a
            field value the config refuses.
    """
    if config is None:
        config = cls()
    else:
        check_config(config, cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown} for {cls.__name__}; the options are {sorted(names)}"
        )
    return dataclasses.replace(config, **options)


def check_config(config: Any, cls: type) -> None:
    """Refuse a config of the wrong type with a clear message."""
    if not isinstance(config, cls):
        raise ValueError(f"config must be a {cls.__name__}, got {type(config).__name__}")


def is_int(value: Any) -> bool:
    """True for a Python or NumPy integer that is not a bool."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def is_real(value: Any) -> bool:
    """True for a Python or NumPy real number (integer or float, possibly inf or NaN) that is
    not a bool."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def require_int(config: Any, name: str, minimum: int) -> None:
    """`config.name` is an integer (not a bool) of at least `minimum`."""
    value = getattr(config, name)
    if not is_int(value) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def require_real(
    config: Any, name: str, ok: Callable[[float], bool] | None = None, expected: str = ""
) -> None:
    """`config.name` is a finite real number (not a bool) for which `ok` holds.

    Args:
        config: the config.
        name: the field.
        ok: an extra condition on the value, e.g. `lambda x: x > 0`.
        expected: what `ok` asks for, in words for the error message, e.g. "> 0".
    """
    value = getattr(config, name)
    if not is_real(value) or not math.isfinite(value) or (ok is not None and not ok(value)):
        rule = f" {expected}" if expected else ""
        raise ValueError(f"{name} must be a finite number{rule}, got {value!r}")


def require_bool(config: Any, name: str) -> None:
    """`config.name` is a bool."""
    value = getattr(config, name)
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be a bool, got {value!r}")


def require_choice(config: Any, name: str, choices: Sequence[str]) -> None:
    """`config.name` is one of `choices`."""
    value = getattr(config, name)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")


def require_hidden(config: Any, name: str = "hidden") -> None:
    """`config.name` is a sequence of layer widths >= 1; stored as a tuple, so that the frozen
    config stays hashable (a static argument of `jax.jit`) when given a list."""
    value = getattr(config, name)
    if (
        isinstance(value, str)
        or not isinstance(value, Sequence)
        or not all(is_int(w) for w in value)
        or not all(w >= 1 for w in value)
    ):
        raise ValueError(f"{name} must be a sequence of integers >= 1, got {value!r}")
    object.__setattr__(config, name, tuple(int(w) for w in value))


def require_rollout_budget(config: Any) -> None:
    """`total_steps`, `num_envs` and `rollout_length` are integers >= 1, and the step budget
    holds at least one rollout of `num_envs * rollout_length` steps (one update)."""
    for name in ("total_steps", "num_envs", "rollout_length"):
        require_int(config, name, minimum=1)
    rollout = config.num_envs * config.rollout_length
    if config.total_steps < rollout:
        raise ValueError(
            f"total_steps must be at least num_envs * rollout_length = {rollout} (one update), "
            f"got {config.total_steps}"
        )


def require_optimizer(config: Any) -> None:
    """`learning_rate` > 0, and `max_grad_norm` > 0 or None (no clipping), where present."""
    require_real(config, "learning_rate", lambda x: x > 0, "> 0")
    if getattr(config, "max_grad_norm", None) is not None:
        require_real(config, "max_grad_norm", lambda x: x > 0, "> 0 or None")
