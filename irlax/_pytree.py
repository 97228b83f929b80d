"""Frozen dataclasses that are JAX pytrees: the one mechanism for every state and result.

`irlax.mdp` and `irlax.data` sit at the bottom of the dependency graph and must not import
Flax, so irlax uses this small decorator (JAX's own `register_dataclass`) everywhere in place
of `flax.struct.dataclass`: one way, in every layer. Like Flax's, its classes have `replace`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax


def static_field(**kwargs: Any) -> Any:
    """A dataclass field that is pytree metadata (hashed, static under `jax.jit`)."""
    return dataclasses.field(metadata={"static": True}, **kwargs)


def pytree_dataclass(cls: type) -> type:
    """Make `cls` a frozen dataclass registered as a pytree, with a `replace` method.

    Fields created with `static_field` are metadata (they fix shapes or control flow and
    must be hashable); every other field is a leaf.
    """
    cls = dataclasses.dataclass(frozen=True)(cls)
    if "replace" not in cls.__dict__:
        cls.replace = _replace
    fields = dataclasses.fields(cls)
    meta = [f.name for f in fields if f.metadata.get("static", False)]
    data = [f.name for f in fields if not f.metadata.get("static", False)]
    return jax.tree_util.register_dataclass(cls, data_fields=data, meta_fields=meta)


def _replace(self, **changes: Any) -> Any:
    """A copy with `changes` replacing fields (the frozen dataclass's `dataclasses.replace`)."""
    return dataclasses.replace(self, **changes)


def is_concrete(*values: Any) -> bool:
    """True when every value is a concrete array (not a tracer), so it can be inspected."""
    return not any(isinstance(v, jax.core.Tracer) for v in values)


def float_dtype() -> Any:
    """The default floating dtype: float32, or float64 when `jax_enable_x64` is on."""
    return jax.dtypes.canonicalize_dtype(jax.numpy.float64)
