"""Checkpoints: exact round trips (PRNG keys, Flax dataclasses, optax states), atomic writes,
and clear errors for corrupt files and mismatched templates."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import struct

from irlax.checkpoint import load_checkpoint, read_checkpoint_metadata, save_checkpoint
from irlax.data import Trajectories


@struct.dataclass
class TrainState:
    params: dict
    opt_state: optax.OptState
    key: jax.Array
    legacy_key: jax.Array
    step: jnp.ndarray
    act_fn: object = struct.field(pytree_node=False, default=None)


def make_state(seed):
    key = jax.random.key(seed)
    params = {
        "dense": {"kernel": jax.random.normal(key, (3, 2)), "bias": jnp.zeros(2, jnp.float32)},
        "log_alpha": jnp.float32(seed),
    }
    opt_state = optax.adam(1e-3).init(params)
    return TrainState(
        params=params,
        opt_state=opt_state,
        key=jax.random.split(key)[1],
        legacy_key=jax.random.PRNGKey(seed + 1),
        step=jnp.int32(7 * seed),
        act_fn=len,
    )


def assert_trees_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        if jnp.issubdtype(getattr(x, "dtype", None), jax.dtypes.prng_key):
            assert jax.random.key_impl(x) == jax.random.key_impl(y)
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(x, y)
        assert np.asarray(x).dtype == np.asarray(y).dtype


def test_round_trip(tmp_path):
    state = make_state(3)
    metadata = {"algorithm": "sac", "env": "Pendulum-v1", "step": 12, "config": {"lr": 3e-4}}
    path = tmp_path / "ckpt.msgpack"
    save_checkpoint(path, state, metadata)
    restored, meta = load_checkpoint(path, like=make_state(0))
    assert_trees_equal(restored, state)
    assert meta == metadata and read_checkpoint_metadata(path) == metadata
    assert restored.act_fn is len  # static fields come from the template
    # The restored key draws what the saved key draws.
    np.testing.assert_array_equal(
        jax.random.normal(restored.key, (4,)), jax.random.normal(state.key, (4,))
    )
    # Any JAX pytree: irlax's own dataclasses, tuples, numpy leaves and Python scalars.
    demos = Trajectories(np.zeros((2, 3, 4)), np.ones((2, 2), np.int32), np.array([2, 1]))
    tree = (demos, np.arange(3), 2.5, {"n": 4})
    save_checkpoint(path, tree, {})
    like = (demos, np.zeros(3, np.int64), 0.0, {"n": 0})
    back, meta = load_checkpoint(path, like)
    assert_trees_equal(back, tree)
    assert isinstance(back[2], float) and isinstance(back[3]["n"], int) and meta == {}


def test_an_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.msgpack"
    save_checkpoint(path, make_state(1), {"step": 1})
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, make_state(2), {"step": 2})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.msgpack"]  # no temporary file left behind
    restored, meta = load_checkpoint(path, make_state(0))
    assert_trees_equal(restored, make_state(1)) and meta == {"step": 1}
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_corrupt_and_foreign_files(tmp_path):
    path = tmp_path / "ckpt.msgpack"
    save_checkpoint(path, make_state(1), {"step": 1})
    data = path.read_bytes()
    for name, content in [
        ("truncated", data[: len(data) // 2]),
        ("empty", b""),
        ("garbage", b"\xc1\xff not msgpack"),
    ]:
        bad = tmp_path / name
        bad.write_bytes(content)
        with pytest.raises(ValueError, match=f"{name}: not a readable checkpoint"):
            load_checkpoint(bad, make_state(0))
    foreign = tmp_path / "foreign"
    from flax import serialization

    foreign.write_bytes(serialization.to_bytes({"a": np.zeros(2)}))
    with pytest.raises(ValueError, match="foreign: not an irlax checkpoint"):
        load_checkpoint(foreign, make_state(0))
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing", make_state(0))


def test_a_template_of_another_structure_is_refused(tmp_path):
    path = tmp_path / "ckpt.msgpack"
    save_checkpoint(path, make_state(1), {})
    like = make_state(0)
    wider = like.replace(params={**like.params, "dense": {"kernel": jnp.zeros((3, 5))}})
    message = f"{path}: checkpoint does not match the structure.*not in `like`.*'bias'"
    with pytest.raises(ValueError, match=message):
        load_checkpoint(path, wider)  # a leaf fewer than saved
    wider = like.replace(
        params={**like.params, "dense": {**like.params["dense"], "kernel": jnp.zeros((3, 5))}}
    )
    with pytest.raises(ValueError, match=r"leaf .*'kernel'\] has shape \(3, 2\) in the checkpoint"):
        load_checkpoint(path, wider)
    recast = like.replace(step=jnp.float32(0))
    with pytest.raises(ValueError, match=r"leaf \.step has dtype int32 in the checkpoint"):
        load_checkpoint(path, recast)
    with pytest.raises(ValueError, match="does not match the structure"):
        load_checkpoint(path, {"params": like.params})
    extra = like.replace(params={**like.params, "temperature": jnp.float32(1)})
    with pytest.raises(
        ValueError, match=r"missing from the checkpoint \[\"\.params\['temperature'\]"
    ):
        load_checkpoint(path, extra)


def test_bad_metadata(tmp_path):
    with pytest.raises(ValueError, match="metadata must be a dict"):
        save_checkpoint(tmp_path / "c", {"a": jnp.zeros(1)}, ["not", "a", "dict"])
    with pytest.raises(ValueError, match="JSON-serialisable"):
        save_checkpoint(tmp_path / "c", {"a": jnp.zeros(1)}, {"f": len})
    assert os.listdir(tmp_path) == []
