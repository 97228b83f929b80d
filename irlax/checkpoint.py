"""Checkpoints: a pytree and JSON metadata in one msgpack file, written atomically.

The file is a msgpack map `{"format", "metadata", "state", "sha256"}`: `metadata` is a JSON
string, `state` the bytes of `flax.serialization.to_bytes({leaf path: leaf})`, the pytree's
leaves keyed by their `jax.tree_util.keystr` paths (so any JAX pytree saves, Flax struct
dataclasses, optax states and irlax's own dataclasses alike), and `sha256` the digest of the
metadata and the state: a file changed by a single bit anywhere is refused, naming it,
rather than loading different weights. Files of the first format (`irlax.checkpoint/1`,
without a digest) still load. Nothing is ever unpickled.
Saving writes a temporary file in the destination's directory, fsyncs it and renames it over
the destination, so an interrupted save leaves the previous checkpoint intact.

Typed PRNG key arrays (`jax.random.key`) are stored as their key data and rewrapped on load
with the implementation of the template's key.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from irlax._files import atomic_write

_FORMAT = "irlax.checkpoint/2"
_FORMAT_WITHOUT_DIGEST = "irlax.checkpoint/1"  # read, never written
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # Python ints msgpack stores (int64 or uint64)


def _is_typed_key(x: Any) -> bool:
    return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _leaf_dict(tree: Any, name: str) -> dict:
    """`{path: leaf}` in flattening order (paths as `jax.tree_util.keystr`), keys unwrapped.

    Flattening with JAX's own registry (not Flax's state dicts) lets any pytree be saved,
    and names the leaves that differ when a checkpoint does not fit its template.

    Raises:
        ValueError: a leaf that is not an array or a number (`name` says which argument).
    """
    try:
        pairs = jax.tree_util.tree_flatten_with_path(tree)[0]
    except (TypeError, ValueError) as e:  # e.g. a dict whose keys cannot be sorted (1, "a")
        raise ValueError(f"{name} is not a JAX pytree: {e}") from e
    leaves = {}
    for p, x in pairs:
        where = jax.tree_util.keystr(p) or "<root>"
        _check_leaf(x, where, name)
        leaves[where] = jax.random.key_data(x) if _is_typed_key(x) else x
    return leaves


def _check_leaf(x: Any, where: str, name: str) -> None:
    """Refuse a leaf msgpack cannot store, or could not give back as what it was: anything
    but a numeric or bool array (NumPy or JAX, typed keys included) or a Python number."""
    if isinstance(x, int) and not isinstance(x, bool) and not _INT_MIN <= x <= _INT_MAX:
        raise ValueError(
            f"{name} leaf {where} is the integer {x}, beyond the 64 bits a checkpoint stores; "
            "keep it as a float or in metadata"
        )
    if _is_typed_key(x) or isinstance(x, bool | int | float | complex):
        return
    if isinstance(x, jax.core.Tracer):
        raise ValueError(
            f"{name} leaf {where} is a traced value: save a checkpoint outside jax.jit"
        )
    dtype = getattr(x, "dtype", None)
    if isinstance(x, np.ndarray | np.generic | jax.Array) and (
        jnp.issubdtype(dtype, jnp.number) or jnp.issubdtype(dtype, jnp.bool_)
    ):
        return
    what = type(x).__name__ if dtype is None else f"{type(x).__name__} of dtype {dtype}"
    raise ValueError(
        f"{name} leaf {where} must be an array or a number (checkpoints hold arrays only; "
        f"keep other values in metadata), got {what}"
    )


def save_checkpoint(path: str | os.PathLike, pytree: Any, metadata: dict | None = None) -> None:
    """Save `pytree` and `metadata` to `path` atomically.

    Args:
        path: destination file; an existing file is replaced only once the new one is
            complete and flushed to disk.
        pytree: arrays, scalars, dicts, lists, `flax.struct` dataclasses, typed PRNG keys.
        metadata: a JSON-serialisable dict (e.g. the config, the step, the env id).

    Raises:
        ValueError: a `path` that is not a str or path, a leaf of `pytree` that is not an
            array or a number (naming it; nothing is written), or `metadata` that is not a
            dict or not JSON-serialisable.
    """
    path = _check_path(path)
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, dict):
        raise ValueError(f"metadata must be a dict, got {type(metadata).__name__}")
    try:
        metadata_json = json.dumps(metadata, allow_nan=True)
    except (TypeError, ValueError) as e:
        raise ValueError(f"metadata must be JSON-serialisable: {e}") from e
    state = serialization.to_bytes(_leaf_dict(pytree, "pytree"))
    digest = _digest(metadata_json, state)
    blob = serialization.msgpack_serialize(
        {"format": _FORMAT, "metadata": metadata_json, "state": state, "sha256": digest}
    )
    atomic_write(path, lambda f: f.write(blob))


def _digest(metadata_json: str, state: bytes) -> str:
    """The checksum of a checkpoint's contents."""
    digest = hashlib.sha256(metadata_json.encode())
    digest.update(state)
    return digest.hexdigest()


def _check_path(path: Any) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise ValueError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    return Path(path)


def _read(path: Path) -> dict:
    data = path.read_bytes()
    try:
        container = serialization.msgpack_restore(data)
    except Exception as e:
        raise ValueError(f"{path}: not a readable checkpoint (corrupt or truncated: {e})") from e
    formats = (_FORMAT, _FORMAT_WITHOUT_DIGEST)
    if not isinstance(container, dict) or container.get("format") not in formats:
        raise ValueError(f"{path}: not an irlax checkpoint (format tag {_FORMAT!r})")
    if not isinstance(container.get("state"), bytes) or not isinstance(
        container.get("metadata"), str
    ):
        raise ValueError(f"{path}: checkpoint lacks its state or metadata")
    if container["format"] == _FORMAT and container.get("sha256") != _digest(
        container["metadata"], container["state"]
    ):
        raise ValueError(
            f"{path}: corrupt checkpoint (its contents do not match their sha256 checksum)"
        )
    try:
        container["metadata"] = json.loads(container["metadata"])
    except ValueError as e:
        raise ValueError(f"{path}: checkpoint metadata is not valid JSON ({e})") from e
    return container


def read_checkpoint_metadata(path: str | os.PathLike) -> dict:
    """The metadata of a checkpoint, without restoring its state (to build the template).

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the file, when it is not a readable irlax checkpoint.
    """
    return _read(_check_path(path))["metadata"]


def load_checkpoint(path: str | os.PathLike, like: Any) -> tuple[Any, dict]:
    """Load a checkpoint written by `save_checkpoint` into the structure of `like`.

    Args:
        path: the checkpoint file.
        like: a pytree of the saved structure (e.g. a freshly initialised train state); its
            leaves fix the expected shapes and dtypes and are not modified.

    Returns:
        `(pytree, metadata)`: the restored pytree, with `like`'s structure and static fields
        and JAX arrays where `like` has them, and the metadata dict.

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the file, when it is corrupt or truncated, or its structure, a
            leaf's shape or a leaf's dtype differs from `like`.
    """
    path = _check_path(path)
    template = _leaf_dict(like, "like")
    container = _read(path)
    try:
        saved = serialization.msgpack_restore(container["state"])
    except Exception as e:
        raise ValueError(f"{path}: not a readable checkpoint (corrupt state: {e})") from e
    if not isinstance(saved, dict) or saved.keys() != template.keys():
        saved_keys = set(saved) if isinstance(saved, dict) else set()
        missing = sorted(template.keys() - saved_keys)
        extra = sorted(saved_keys - template.keys())
        raise ValueError(
            f"{path}: checkpoint does not match the structure of `like`: leaves missing from "
            f"the checkpoint {missing[:5]}, leaves not in `like` {extra[:5]}"
        )
    try:
        restored = serialization.from_state_dict(template, saved)
    except Exception as e:
        raise ValueError(f"{path}: checkpoint does not match the structure of `like` ({e})") from e
    out = []
    for (where, old), original in zip(template.items(), jax.tree.leaves(like), strict=True):
        new = restored[where]
        new_shape, old_shape = np.shape(new), np.shape(old)
        if new_shape != old_shape:
            raise ValueError(
                f"{path}: leaf {where} has shape {new_shape} in the checkpoint, but {old_shape} "
                "in `like`"
            )
        if isinstance(old, (bool, int, float, complex)):
            out.append(type(old)(np.asarray(new).item()))
            continue
        if np.asarray(new).dtype != np.dtype(old.dtype):
            raise ValueError(
                f"{path}: leaf {where} has dtype {np.asarray(new).dtype} in the checkpoint, "
                f"but {old.dtype} in `like`"
            )
        if _is_typed_key(original):
            impl = jax.random.key_impl(original)
            out.append(jax.random.wrap_key_data(jnp.asarray(new), impl=impl))
        elif isinstance(old, jax.Array):
            out.append(jnp.asarray(new))
        elif isinstance(old, np.generic):  # a NumPy scalar (np.float32(1.0)) stays one
            out.append(np.asarray(new)[()])
        else:
            out.append(np.asarray(new))
    tree = jax.tree.unflatten(jax.tree.structure(like), out)
    return tree, container["metadata"]
