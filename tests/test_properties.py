"""Property-based tests (issue 17) of the constructors and file formats: any input either
builds a valid object or is refused by a `ValueError` that names the field at fault, and
save → load gives back what was saved.

Inputs are drawn as a valid object's fields, each then kept, given in an equivalent form (a
list, a JAX array) or broken in one way (a wrong shape, NaN or infinity, a negative
probability, a row that does not sum to 1, a string, object or complex array, an empty array,
a ragged list, a wrong scalar). A case knows which fields it broke (`bad`: must be refused)
and which it changed in a way that may or may not be valid (`maybe`). The property:

* nothing broken and nothing doubtful: the object builds, and its invariants hold (rows sum
  to 1, shapes agree, indices in range, the dense matrix given back);
* something broken: a `ValueError` naming one of the changed fields;
* any other exception (a `TypeError` from NumPy, an `IndexError`, a JAX error) fails the test.

Each `@example` is an input that hypothesis found failing before its fix. The settings are
derandomised (the same examples on every run) with no deadline (JAX compiles on first use).
"""

from __future__ import annotations

import csv
import json
import math
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from irlax.checkpoint import load_checkpoint, save_checkpoint
from irlax.data import Trajectories
from irlax.forecast import Scene
from irlax.forecast.io import ClassSpec, load_classes, load_labels, load_tracks
from irlax.forecast.tracks import to_paths, to_trajectories
from irlax.mdp import TabularMDP

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Case(NamedTuple):
    """Arguments for a constructor, and which of them were changed."""

    kwargs: dict
    bad: frozenset = frozenset()  # fields broken: the call must be refused naming one
    maybe: frozenset = frozenset()  # fields changed in a way that may be valid or not


def built_or_refused(build, case: Case, aliases: dict | None = None):
    """`build(**case.kwargs)`, or None when it raised a `ValueError` naming a changed field.

    Fails the test when a valid input is refused, a broken one is accepted, or the error
    names no changed field (or its alias: how messages name it); any other exception
    propagates (and fails the test).
    """
    changed = {(aliases or {}).get(name, name) for name in case.bad | case.maybe}
    try:
        out = build(**case.kwargs)
    except ValueError as e:
        assert changed, f"a valid input was refused: {e}"
        assert any(name in str(e) for name in changed), (
            f"the error names none of the changed fields {sorted(changed)}: {e}"
        )
        return None
    assert not case.bad, f"broken fields {sorted(case.bad)} were accepted"
    return out


# --------------------------------------------------------------------------- mutations

# Changes that leave an array's meaning as it was.
SAME = ("same", "list", "jax")
# Changes that make any numeric-array field invalid.
BROKEN = ("string", "object", "complex", "none", "ragged", "extra axis", "drop axis", "empty")


def change(x: np.ndarray, how: str, rng: np.random.Generator):
    """`x` changed as `how` says (see `SAME`, `BROKEN` and the per-field extras)."""
    x = np.asarray(x)
    if how == "same":
        return x
    if how == "list":
        return x.tolist()
    if how == "jax":
        return jnp.asarray(x)
    if how == "string":
        return x.astype(str)
    if how == "object":
        return x.astype(object)
    if how == "complex":
        return x + 0j
    if how == "none":
        return None
    if how == "ragged":
        return [[0.0], [0.0, 1.0]]
    if how == "extra axis":
        return x[..., None]
    if how == "drop axis":  # the last two axes merged, or a vector to a scalar
        if x.ndim == 1:
            return np.zeros((), x.dtype) if x.size == 0 else x[0]
        return x.reshape(*x.shape[:-2], x.shape[-2] * x.shape[-1])
    if how == "empty":
        return np.zeros((0, *x.shape[1:]), x.dtype)
    if how in ("nan", "inf", "-inf", "negative"):
        if x.size == 0:
            return x
        integer = how == "negative" and x.dtype.kind in "iu"
        flat = x.astype(np.int64 if integer else np.float64).reshape(-1)
        flat[rng.integers(flat.size)] = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}.get(
            how, -1 if integer else -0.25
        )
        return flat.reshape(x.shape)
    if how == "float":
        return x.astype(np.float64) + 0.5
    if how == "bool":
        return x.astype(bool)
    if how == "float32":
        return x.astype(np.float32)
    if how == "out of range":
        return x + 1000
    raise AssertionError(how)


def changes(draw, name: str, value, kinds: dict, rng: np.random.Generator):
    """Draw one change of field `name`; return the new value and its verdict."""
    how = draw(st.sampled_from(sorted(kinds)), label=name)
    return change(value, how, rng), kinds[how], how


def one_of_verdicts(fields: dict) -> Case:
    """A `Case` from `{name: (value, verdict)}`, verdict one of "ok", "bad", "maybe"."""
    return Case(
        kwargs={k: v[0] for k, v in fields.items()},
        bad=frozenset(k for k, v in fields.items() if v[1] == "bad"),
        maybe=frozenset(k for k, v in fields.items() if v[1] == "maybe"),
    )


def kinds(ok=(), bad=(), maybe=()) -> dict:
    return {**dict.fromkeys(ok, "ok"), **dict.fromkeys(bad, "bad"), **dict.fromkeys(maybe, "maybe")}


# --------------------------------------------------------------------------- TabularMDP

# (value, verdict) pairs: a dict would merge True with 1.
HORIZONS = [(None, "ok"), (1, "ok"), (3, "ok"), (2.0, "ok"), (np.int32(2), "ok")] + [
    (v, "bad") for v in (0, -1, 1.5, math.nan, math.inf, "3", True, np.ones(1))
]
DISCOUNTS = [(0.0, "ok"), (0.5, "ok"), (0.99, "ok"), (1.0, "ok"), (np.float32(0.5), "ok")] + [
    (v, "bad") for v in (-0.1, 1.5, math.nan, math.inf, "0.9", None, True, np.ones(1))
]


@st.composite
def dense_mdp_cases(draw) -> Case:
    """`TabularMDP.from_dense` arguments, at most two of them changed."""
    s = draw(st.integers(1, 4), label="S")
    a = draw(st.integers(1, 3), label="A")
    rng = np.random.default_rng(draw(st.integers(0, 2**16), label="seed"))
    t = rng.random((s, a, s)) * (rng.random((s, a, s)) < 0.6)
    t[..., 0] += t.sum(-1) == 0  # no empty row
    t /= t.sum(-1, keepdims=True)
    terminal = rng.random(s) < 0.3
    broken = draw(
        st.sets(st.sampled_from(["transitions", "init", "terminal", "features"]), max_size=2),
        label="changed",
    )
    if "terminal" not in broken and draw(st.booleans(), label="zero terminal rows"):
        t[terminal] = 0.0
    init = rng.random(s) + 0.1
    init /= init.sum()
    features = rng.normal(size=(s, a, 2) if draw(st.booleans()) else (s, 2))
    fields = {}
    for name, value, extra in (
        (
            "transitions",
            t,
            kinds(bad=("nan", "inf", "negative", "out of range", "empty")),
        ),
        ("init", init, kinds(bad=("nan", "inf", "negative", "out of range", "empty"))),
        ("terminal", terminal, kinds(bad=("float", "string", "object", "complex"))),
        ("features", features, kinds(bad=("nan", "inf", "string", "object", "complex", "empty"))),
    ):
        if name not in broken:
            fields[name] = (value, "ok")
            continue
        table = kinds(ok=SAME, bad=BROKEN) | extra
        if name == "features":  # [S, F] + axis may read as [S, A, F]; None means no features
            table |= kinds(ok=("none",), maybe=("extra axis", "drop axis"))
        if name == "terminal":
            table |= kinds(ok=("none", "bool"))
        fields[name] = changes(draw, name, value, table, rng)
    fields["horizon"] = draw(st.sampled_from(HORIZONS), label="horizon")
    fields["discount"] = draw(st.sampled_from(DISCOUNTS), label="discount")
    if fields["horizon"][0] is None and fields["discount"] == (1.0, "ok"):
        fields["discount"] = (1.0, "bad")  # an infinite horizon needs discounting
    return one_of_verdicts(fields)


def check_mdp(mdp: TabularMDP) -> None:
    """The invariants every `TabularMDP` holds."""
    s, a, k = mdp.probs.shape
    assert mdp.next_states.shape in ((s, a, k), (s, 1, k))
    assert mdp.next_states.dtype == jnp.int32
    ns, p = np.asarray(mdp.next_states), np.asarray(mdp.probs)
    assert ((ns >= 0) & (ns < s)).all()
    assert (p >= 0).all() and np.isfinite(p).all()
    sums = p.sum(-1)
    term = np.asarray(mdp.terminal)
    assert mdp.terminal.dtype == jnp.bool_ and term.shape == (s,)
    np.testing.assert_allclose(sums[~term], 1.0, atol=1e-6)
    assert np.all((np.abs(sums[term] - 1) < 1e-6) | (sums[term] == 0))
    init = np.asarray(mdp.init)
    assert init.shape == (s,) and (init >= 0).all()
    np.testing.assert_allclose(init.sum(), 1.0, atol=1e-6)
    if mdp.features is not None:
        assert mdp.features.shape[0] == s and mdp.features.ndim in (2, 3)
        assert np.isfinite(np.asarray(mdp.features)).all()
    assert mdp.horizon is None or (type(mdp.horizon) is int and mdp.horizon >= 1)
    assert 0 <= mdp.discount <= 1 and (mdp.horizon is not None or mdp.discount < 1)


@SETTINGS
@given(dense_mdp_cases())
@example(
    Case(
        {"transitions": np.full((1, 1, 1), 1001.0), "init": np.ones(1), "horizon": 2},
        bad=frozenset({"transitions"}),
    )
)  # was refused as "probs must sum to 1": from_dense has no argument called probs
@example(
    Case(
        {"transitions": -np.ones((1, 1, 1)), "init": np.ones(1), "horizon": 2},
        bad=frozenset({"transitions"}),
    )
)  # "probs must be non-negative"
def test_from_dense_builds_a_valid_mdp_or_names_the_field(case):
    """Any `from_dense` input gives a valid MDP whose dense matrix is the input's
    (row-normalised), or a `ValueError` naming a changed field."""
    mdp = built_or_refused(TabularMDP.from_dense, case)
    if mdp is None:
        return
    check_mdp(mdp)
    t = np.asarray(case.kwargs["transitions"], np.float64)
    sums = t.sum(-1, keepdims=True)
    want = np.where(sums == 0, 0.0, t / np.where(sums == 0, 1.0, sums))
    np.testing.assert_allclose(np.asarray(mdp.dense_transitions()), want, atol=1e-12)
    np.testing.assert_allclose(mdp.init, np.asarray(case.kwargs["init"], np.float64), atol=1e-12)


@st.composite
def successor_cases(draw) -> Case:
    """`TabularMDP.from_successors` arguments, at most two of them changed."""
    s = draw(st.integers(1, 4), label="S")
    a = draw(st.integers(1, 3), label="A")
    k = draw(st.integers(1, 3), label="K")
    shared = draw(st.booleans(), label="shared")
    rng = np.random.default_rng(draw(st.integers(0, 2**16), label="seed"))
    next_states = rng.integers(0, s, (s, 1 if shared else a, k))
    probs = rng.random((s, a, k)) + 0.01
    probs /= probs.sum(-1, keepdims=True)
    init = np.full(s, 1.0 / s)
    broken = draw(st.sets(st.sampled_from(["next_states", "probs", "init"]), max_size=2))
    fields = {}
    for name, value, extra in (
        ("next_states", next_states, kinds(bad=("float", "bool", "out of range", "negative"))),
        ("probs", probs, kinds(bad=("nan", "inf", "negative", "out of range"), ok=("float32",))),
        ("init", init, kinds(bad=("nan", "inf", "negative", "out of range"))),
    ):
        if name not in broken:
            fields[name] = (value, "ok")
            continue
        table = kinds(ok=SAME, bad=BROKEN) | extra
        fields[name] = changes(draw, name, value, table, rng)
    fields["horizon"] = (draw(st.sampled_from([None, 4])), "ok")
    fields["discount"] = (0.9, "ok")
    return one_of_verdicts(fields)


@SETTINGS
@given(successor_cases())
def test_from_successors_builds_a_valid_mdp_or_names_the_field(case):
    """Any `from_successors` input gives a valid MDP with the given successor lists, or a
    `ValueError` naming a changed field."""
    mdp = built_or_refused(TabularMDP.from_successors, case)
    if mdp is None:
        return
    check_mdp(mdp)
    np.testing.assert_array_equal(mdp.next_states, np.asarray(case.kwargs["next_states"]))
    want = np.asarray(case.kwargs["probs"], np.float64)
    np.testing.assert_allclose(mdp.probs, want / want.sum(-1, keepdims=True), atol=1e-12)


# --------------------------------------------------------------------------- Trajectories


@st.composite
def trajectory_cases(draw) -> Case:
    """`Trajectories` fields (NumPy or JAX arrays), at most two of them changed.

    Lists are not drawn: the constructor leaves values without a shape unchecked, as JAX's
    pytree machinery rebuilds the class with placeholders (see `Trajectories.__post_init__`).
    """
    n = draw(st.integers(0, 3), label="N")
    t = draw(st.integers(0, 3), label="T")
    rng = np.random.default_rng(draw(st.integers(0, 2**16), label="seed"))
    obs_shape = draw(st.sampled_from([(), (2,), (1, 2)]), label="obs element")
    obs_dtype = draw(st.sampled_from([np.int32, np.int64, np.float32, np.float64]))
    obs = rng.integers(0, 5, (n, t + 1, *obs_shape)).astype(obs_dtype)
    act = rng.integers(0, 3, (n, t, *draw(st.sampled_from([(), (1,)]), label="act element")))
    lengths = rng.integers(0, t + 1, n).astype(draw(st.sampled_from([np.int32, np.int64])))
    fields = {
        "observations": obs,
        "actions": act.astype(np.int32),
        "lengths": lengths,
        "rewards": rng.normal(size=(n, t)) if draw(st.booleans()) else None,
        "terminated": (rng.random(n) < 0.5) if draw(st.booleans()) else None,
    }
    if obs_dtype in (np.float32, np.float64) and n and draw(st.booleans()):
        fields["observations"][0, 0] = np.nan  # NaN data is kept (padding may be NaN)
    broken = draw(st.sets(st.sampled_from(sorted(fields)), max_size=2), label="changed")
    out = {}
    no_list = tuple(k for k in SAME if k != "list")
    for name, value in fields.items():
        if name not in broken or (value is None and name in ("rewards", "terminated")):
            out[name] = (value, "ok")
            continue
        table = kinds(ok=no_list, bad=("string", "object", "complex", "extra axis"))
        if name in ("observations", "actions"):  # [N, T+1, ...]: any element shape
            table |= kinds(ok=("float32", "nan", "extra axis"), maybe=("drop axis", "empty"))
        if name == "lengths":
            table |= kinds(bad=("float", "bool", "out of range", "drop axis"), maybe=("empty",))
        if name == "rewards":
            table |= kinds(ok=("none", "nan", "float32"), bad=("drop axis",))
        if name == "terminated":
            table |= kinds(ok=("none",), bad=("float", "drop axis"), maybe=("empty",))
        out[name] = changes(draw, name, value, table, rng)
        if n == 0 and out[name][1] == "bad":
            out[name] = (out[name][0], "maybe")  # no trajectory: e.g. no length out of range
    case = one_of_verdicts(out)
    reshaped = [k for k, v in out.items() if v[2:] and v[2] in ("empty", "extra axis", "drop axis")]
    if len(reshaped) > 1:  # two shapes changed: either, or a third field, may be the odd one
        case = case._replace(maybe=case.maybe | {"observations", "actions", "lengths"})
    return case


def assert_same_arrays(a, b) -> None:
    """Equal shapes, dtypes and values (NaN equal to NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    assert (a.shape, a.dtype) == (b.shape, b.dtype)
    np.testing.assert_array_equal(a, b)


@SETTINGS
@given(trajectory_cases())
@example(
    Case(
        {
            "observations": np.zeros((0, 2)),
            "actions": np.zeros((0, 1), int),
            "lengths": np.zeros((0, 1), int),
        },
        maybe=frozenset({"lengths"}),
    )
)  # IndexError: lengths [0, 1] read as a stack of zero sets, then set 0 taken
@example(
    Case(
        {
            "observations": np.zeros((1, 2)),
            "actions": np.zeros((1, 1), int),
            "lengths": np.zeros((1, 1), int),
        },
        bad=frozenset({"lengths"}),
    )
)  # "observations must be [N, T+1, ...], got shape (2,)": lengths, the cause, unnamed
def test_trajectories_build_valid_or_name_the_field_and_round_trip(case):
    """Any fields give valid `Trajectories` (shapes agree, lengths in [0, T]) that
    save → load gives back unchanged, or a `ValueError` naming a changed field."""
    traj = built_or_refused(Trajectories, case)
    if traj is None:
        return
    n, t = traj.n_trajectories, traj.max_length
    assert traj.observations.shape[:2] == (n, t + 1)
    assert traj.lengths.shape == (n,) and np.issubdtype(traj.lengths.dtype, np.integer)
    assert ((np.asarray(traj.lengths) >= 0) & (np.asarray(traj.lengths) <= t)).all()
    if traj.rewards is not None:
        assert traj.rewards.shape == (n, t)
    if traj.terminated is not None:
        assert traj.terminated.shape == (n,) and traj.terminated.dtype == np.bool_
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "demos.npz"
        traj.save(path)
        back = Trajectories.load(path)
    for name in ("observations", "actions", "lengths", "rewards", "terminated"):
        mine, theirs = getattr(traj, name), getattr(back, name)
        assert (mine is None) == (theirs is None), name
        if mine is not None:
            assert_same_arrays(mine, theirs)


# --------------------------------------------------------------------------- checkpoints

ARRAY_DTYPES = [
    np.bool_,
    np.int8,
    np.uint8,
    np.int32,
    np.int64,
    np.uint32,
    np.uint64,
    np.float16,
    np.float32,
    np.float64,
    np.complex64,
    jnp.bfloat16,
]


@st.composite
def array_leaves(draw):
    """A NumPy or JAX array of a drawn dtype and small shape (0-d and zero-size included)."""
    dtype = np.dtype(draw(st.sampled_from(ARRAY_DTYPES)))
    shape = draw(st.sampled_from([(), (0,), (3,), (2, 2), (1, 0, 2)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = rng.normal(size=shape) * 100
    if dtype.kind == "c":
        x = x + 1j * rng.normal(size=shape)
    if dtype.kind == "f" and x.size and draw(st.booleans()):
        x.reshape(-1)[0] = draw(st.sampled_from([np.nan, np.inf, -np.inf, -0.0]))
    x = (
        x.astype(dtype)
        if dtype.kind not in "iub"
        else (x > 0 if dtype.kind == "b" else np.abs(x).astype(dtype))
    )
    if draw(st.booleans()) and dtype not in (np.dtype(np.uint64), np.dtype(np.float16)):
        return jnp.asarray(x, dtype)
    return x


python_leaves = st.one_of(
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.complex_numbers(allow_nan=False, max_magnitude=1e6),
)
key_leaves = st.integers(0, 2**31 - 1).map(jax.random.key) | st.integers(0, 2**31 - 1).map(
    jax.random.PRNGKey
)
leaves = array_leaves() | python_leaves | key_leaves
names = st.text(st.characters(codec="utf-8"), max_size=6)
pytrees = st.recursive(
    leaves,
    lambda inner: (
        st.dictionaries(names, inner, max_size=3)
        | st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
    ),
    max_leaves=8,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def assert_same_tree(saved, loaded) -> None:
    """Same structure; each leaf of the same kind (NumPy, JAX, key, Python), dtype and value."""
    assert jax.tree.structure(saved) == jax.tree.structure(loaded)
    for a, b in zip(jax.tree.leaves(saved), jax.tree.leaves(loaded), strict=True):
        assert type(a) is type(b) or (isinstance(a, jax.Array) and isinstance(b, jax.Array))
        if isinstance(a, bool | int | float | complex):
            assert a == b or (a != a and b != b)  # NaN
        elif isinstance(a, jax.Array) and jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            assert jax.random.key_impl(a) == jax.random.key_impl(b)
            assert_same_arrays(jax.random.key_data(a), jax.random.key_data(b))
        else:
            assert_same_arrays(a, b)


@SETTINGS
@given(pytrees, st.dictionaries(st.text(max_size=5), json_values, max_size=3))
@example(tree=np.float32(1.5), metadata={})  # a NumPy scalar came back as a 0-d array
def test_checkpoints_round_trip_any_pytree_of_arrays_and_numbers(tree, metadata):
    """save → load gives back every leaf (its kind, dtype, shape and value, NaN included)
    and the metadata, for any pytree of arrays, Python numbers and PRNG keys."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.msgpack"
        save_checkpoint(path, tree, metadata)
        back, meta = load_checkpoint(path, tree)
    assert_same_tree(tree, back)
    assert meta == metadata


bad_leaves = st.sampled_from(
    [
        "text",
        b"bytes",
        np.asarray(["a", "b"]),
        np.asarray([1, None], dtype=object),
        np.datetime64("2020-01-01"),
        2**64,
        -(2**63) - 1,
        print,
    ]
)


@SETTINGS
@given(pytrees, bad_leaves, st.sampled_from(["a", "b"]))
@example(tree={}, bad=2**64, key="a")  # OverflowError inside msgpack
@example(tree={}, bad=-(2**63) - 1, key="a")
def test_checkpoints_refuse_a_leaf_they_cannot_store_by_name(tree, bad, key):
    """A leaf that is not an array or a number (or an int beyond 64 bits) is refused by a
    `ValueError` naming its path, before the file is touched."""
    tree = {"ok": tree, key: bad}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.msgpack"
        with pytest.raises(ValueError, match=rf"pytree leaf \['{key}'\]"):
            save_checkpoint(path, tree)
        assert not path.exists()


# --------------------------------------------------------------------------- scenes


@st.composite
def scene_cases(draw) -> tuple[Case, Any]:
    """`Scene.from_labels` or `Scene.from_probs` arguments, at most two changed."""
    h, w, k = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    classes = tuple(f"c{i}" for i in range(k))
    labels = rng.integers(0, k, (h, w))
    labels[0, 0] = 0  # class c0 is never impassable below: one passable cell at least
    impassable = tuple(c for c in classes[1:] if draw(st.booleans()))
    extra = rng.normal(size=(h, w, draw(st.integers(0, 2))))
    fields = {"classes": classes, "cell_size": draw(st.sampled_from([0.5, 1, 2.0])), "extra": extra}
    if draw(st.booleans(), label="from labels"):
        build = Scene.from_labels
        fields |= {"labels": labels, "impassable": impassable}
    else:
        build = Scene.from_probs
        probs = rng.random((h, w, k)) + 0.01
        fields |= {
            "probs": probs / probs.sum(-1, keepdims=True),
            "passable": rng.random((h, w)) < 0.7,
        }
        fields["passable"][0, 0] = True
    broken = draw(st.sets(st.sampled_from(sorted(fields)), max_size=2), label="changed")
    out = {}
    for name, value in fields.items():
        if name not in broken:
            out[name] = (value, "ok")
        elif name == "classes":
            out[name] = draw(
                st.sampled_from(
                    [
                        (list(value), "ok"),
                        ("c0", "bad"),  # a single string is not a list of names
                        ((*value[:-1], value[0]) if k > 1 else ("",), "maybe"),  # a repeat
                        (value[:-1], "maybe"),  # one class too few (maybe none labelled)
                        (5, "bad"),
                        (None, "bad"),
                    ]
                )
            )
        elif name == "cell_size":
            out[name] = draw(
                st.sampled_from(
                    [
                        (3, "ok"),
                        (np.float32(0.25), "ok"),
                        (0.0, "bad"),
                        (-1.0, "bad"),
                        (math.nan, "bad"),
                        (math.inf, "bad"),
                        ("1", "bad"),
                        (None, "bad"),
                        (True, "bad"),
                        (np.ones(2), "bad"),
                    ]
                )
            )
        elif name == "impassable":
            out[name] = draw(
                st.sampled_from(
                    [([], "ok"), (classes[-1:], "maybe"), (("nope",), "bad"), (classes[0], "bad")]
                )
            )
        else:
            table = kinds(ok=SAME, bad=BROKEN)
            if name == "labels":
                table |= kinds(bad=("float", "bool", "out of range", "negative"))
            if name == "probs":
                table |= kinds(bad=("nan", "inf", "negative", "out of range"), ok=("float32",))
            if name == "passable":
                table |= kinds(
                    bad=("float", "nan"), ok=("float32", "none"), maybe=("out of range",)
                )
            if name == "extra":
                table |= kinds(bad=("nan", "inf"), ok=("float32", "none"))
                if extra.shape[-1] == 0:
                    table |= kinds(maybe=("string", "object", "complex", "nan", "inf"))
            out[name] = changes(draw, name, value, table, rng)
    return one_of_verdicts(out), build


@SETTINGS
@given(scene_cases())
@example(
    case_build=(
        Case({"probs": np.full((1, 1, 1), "a"), "classes": ["x"]}, frozenset({"probs"})),
        Scene.from_probs,
    )
)  # NumPy's "could not convert string to float: 'a'", not naming probs
@example(
    case_build=(
        Case(
            {"probs": np.ones((1, 1, 1)), "classes": ["x"], "cell_size": "1"},
            frozenset({"cell_size"}),
        ),
        Scene.from_probs,
    )
)  # TypeError from np.isfinite
@example(
    case_build=(
        Case({"probs": np.ones((1, 1, 4)) / 4, "classes": "road"}, frozenset({"classes"})),
        Scene.from_probs,
    )
)  # a string taken as four one-letter class names
@example(
    case_build=(
        Case(
            {"probs": np.ones((1, 1, 1)), "classes": ["x"], "passable": [["no"]]},
            frozenset({"passable"}),
        ),
        Scene.from_probs,
    )
)  # a non-empty string taken as True
def test_scenes_build_valid_or_name_the_field(case_build):
    """Any input gives a valid `Scene` (probabilities in each cell summing to 1, finite
    features, a passable cell, unique class names, a positive cell size), or a `ValueError`
    naming a changed field."""
    case, build = case_build
    scene = built_or_refused(build, case)
    if scene is None:
        return
    h, w = scene.shape
    k = len(scene.classes)
    assert k >= 1 and len(set(scene.classes)) == k
    assert all(isinstance(c, str) for c in scene.classes)
    probs = np.asarray(scene.probs)
    assert probs.shape == (h, w, k) and (probs >= 0).all()
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    assert scene.passable.shape == (h, w) and scene.passable.dtype == jnp.bool_
    assert bool(scene.passable.any())
    assert scene.extra.shape[:2] == (h, w) and np.isfinite(np.asarray(scene.extra)).all()
    assert isinstance(scene.cell_size, float) and 0 < scene.cell_size < math.inf
    if "labels" in case.kwargs:
        labels = np.asarray(case.kwargs["labels"])
        np.testing.assert_array_equal(scene.labels, labels)
        blocked = [scene.classes.index(c) for c in case.kwargs.get("impassable", ())]
        np.testing.assert_array_equal(scene.passable, ~np.isin(labels, blocked))


# --------------------------------------------------------------------------- scene files


@st.composite
def class_specs(draw) -> ClassSpec:
    """A valid class list: unique names (some with spaces), colours and passable flags."""
    k = draw(st.integers(1, 4))
    names = draw(
        st.lists(
            st.text("ab é_-", min_size=1, max_size=4).map(str.strip).filter(bool),
            min_size=k,
            max_size=k,
            unique=True,
        )
    )
    colors = draw(
        st.lists(st.tuples(*[st.integers(0, 255)] * 3), min_size=k, max_size=k, unique=True)
    )
    passable = draw(st.lists(st.booleans(), min_size=k, max_size=k))
    passable[draw(st.integers(0, k - 1))] = True
    return ClassSpec(
        names=tuple(names),
        colors=tuple(colors),
        passable=tuple(passable),
        cell_size=draw(st.sampled_from([1.0, 0.5, 0.1, 3.0])),
        pixels_per_cell=draw(st.integers(1, 3)),
    )


SPEC_FIELDS = {"names": "name", "colors": "colo", "passable": "passable"}  # "colours" too


@st.composite
def class_spec_cases(draw) -> Case:
    """`ClassSpec` arguments from a valid spec, at most two of them changed."""
    spec = draw(class_specs())
    k = len(spec.names)
    first = spec.colors[0]
    options = {
        "names": [
            (list(spec.names), "ok"),
            (tuple(f" {n} " for n in spec.names), "ok"),  # stripped, as the loader does
            ("".join(spec.names), "bad"),
            (None, "bad"),
            (spec.names[:-1], "bad"),
            ((*spec.names[:-1], spec.names[0]) if k > 1 else ("  ",), "bad"),
            ((1,) * k, "bad"),
        ],
        "colors": [
            (spec.hex_colors, "ok"),
            (np.asarray(spec.colors, np.uint8), "ok"),
            ([list(c) for c in spec.colors], "ok"),
            (None, "bad"),
            (((first[0] + 0.5, *first[1:]), *spec.colors[1:]), "bad"),
            (((256, *first[1:]), *spec.colors[1:]), "bad"),
            ((first[:2], *spec.colors[1:]), "bad"),
            (("#12", *spec.colors[1:]), "bad"),
            ((*spec.colors[:-1], first) if k > 1 else ("#000000",), "maybe"),
            (spec.colors[:-1], "bad"),
            ("#000000", "bad"),
        ],
        "passable": [
            (list(spec.passable), "ok"),
            (np.asarray(spec.passable), "ok"),
            ([int(p) for p in spec.passable], "ok"),
            ((False,) * k, "bad"),
            (tuple("no" for _ in spec.passable), "bad"),
            (None, "bad"),
            (spec.passable[:-1], "bad"),
        ],
        "cell_size": [(2, "ok"), (np.float32(0.5), "ok")]
        + [(v, "bad") for v in (0, -1.0, math.nan, math.inf, "1", True, None)],
        "pixels_per_cell": [(np.int64(2), "ok")]
        + [(v, "bad") for v in (0, -1, 1.0, 2.5, "2", True, None)],
    }
    fields = {name: (getattr(spec, name), "ok") for name in options}
    for name in draw(st.sets(st.sampled_from(sorted(options)), max_size=2), label="changed"):
        fields[name] = draw(st.sampled_from(options[name]), label=name)
    return one_of_verdicts(fields)


@SETTINGS
@given(class_spec_cases())
@example(
    Case(
        {"names": "ab", "colors": ((0, 0, 0), (1, 1, 1)), "passable": (True,) * 2},
        frozenset({"names"}),
    )
)  # a string was read as one class per letter
@example(
    Case({"names": ("a",), "colors": None, "passable": (True,)}, frozenset({"colors"}))
)  # TypeError: not iterable
@example(
    Case({"names": ("a",), "colors": ((0.5, 0, 0),), "passable": (True,)}, frozenset({"colors"}))
)  # 0.5 truncated to 0
@example(
    Case({"names": ("a",), "colors": ((0, 0, 0),), "passable": ("no",)}, frozenset({"passable"}))
)  # "no" read as True
@example(
    Case({"names": (" a",), "colors": ((0, 0, 0),), "passable": (True,)})
)  # " a" came back from the file as "a"
def test_class_specs_build_valid_or_name_the_field_and_round_trip(case):
    """Any arguments give a valid `ClassSpec` (unique stripped names, unique colours of 3
    integers in 0-255, a passable class, positive sizes) that `to_json` → `load_classes`
    gives back exactly, or a `ValueError` naming a changed field."""
    spec = built_or_refused(ClassSpec, case, SPEC_FIELDS)
    if spec is None:
        return
    k = len(spec.names)
    assert k >= 1 and len(set(spec.names)) == k == len(spec.colors) == len(spec.passable)
    assert all(isinstance(n, str) and n == n.strip() and n for n in spec.names)
    assert len(set(spec.colors)) == k
    assert all(
        len(c) == 3 and all(type(v) is int and 0 <= v <= 255 for v in c) for c in spec.colors
    )
    assert all(type(p) is bool for p in spec.passable) and any(spec.passable)
    assert type(spec.cell_size) is float and 0 < spec.cell_size < math.inf
    assert type(spec.pixels_per_cell) is int and spec.pixels_per_cell >= 1
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "classes.json"
        path.write_text(json.dumps(spec.to_json()), encoding="utf-8")
        back = load_classes(path)
    for field in ("names", "colors", "passable", "cell_size", "pixels_per_cell"):
        assert getattr(back, field) == getattr(spec, field), field


def write_png(path: Path, rgb: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(rgb.astype(np.uint8)).save(path)


@SETTINGS
@given(class_specs(), st.integers(1, 7), st.integers(1, 7), st.integers(0, 2**16))
def test_scene_files_round_trip(spec, h, w, seed):
    """classes.json written from a spec loads as that spec, and a map PNG loads as its
    brute-force cell fractions: each cell's class probabilities are the fractions of its
    pixels in each class (edge cells smaller), passable where under half are impassable."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, len(spec.names), (h, w))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "classes.json").write_text(json.dumps(spec.to_json()), encoding="utf-8")
        back = load_classes(folder / "classes.json")
        write_png(folder / "map.png", np.asarray(spec.colors)[pixels])
        p = spec.pixels_per_cell
        hc, wc, k = -(-h // p), -(-w // p), len(spec.names)
        want = np.zeros((hc, wc, k))
        for r in range(hc):
            for c in range(wc):
                block = pixels[r * p : (r + 1) * p, c * p : (c + 1) * p]
                want[r, c] = np.bincount(block.ravel(), minlength=k) / block.size
        blocked = np.asarray(spec.passable) == 0
        passable = want[..., blocked].sum(-1) < 0.5
        if not passable.any():
            with pytest.raises(ValueError, match=r"map\.png: no cell is passable"):
                load_labels(folder / "map.png", back)
            return
        scene = load_labels(folder / "map.png", back)
    for field in ("names", "colors", "passable", "cell_size", "pixels_per_cell"):
        assert getattr(back, field) == getattr(spec, field), field
    assert back.source == str(folder / "classes.json")
    assert scene.classes == spec.names and scene.cell_size == spec.cell_size
    np.testing.assert_allclose(scene.probs, want, atol=1e-6)
    np.testing.assert_array_equal(scene.passable, passable)
    if p == 1:  # one pixel per cell: the one-hot scene of its labels
        same = Scene.from_labels(
            pixels, spec.names, cell_size=spec.cell_size, impassable=spec.impassable
        )
        np.testing.assert_array_equal(scene.probs, same.probs)
        np.testing.assert_array_equal(scene.passable, same.passable)


MAP_SPEC = ClassSpec(("walk", "wall"), ((0, 0, 0), (255, 0, 0)), (True, False))


@SETTINGS
@given(st.integers(0, 200), st.integers(0, 4), st.binary(max_size=4))
@example(position=11, drop=1, replacement=b"\x05")  # Pillow's "Truncated IHDR chunk" ValueError
@example(position=36, drop=1, replacement=b"\x00")  # Pillow's SyntaxError "broken PNG file"
def test_a_damaged_map_png_loads_as_it_was_or_is_refused_naming_the_file(
    position, drop, replacement
):
    """A map PNG with bytes replaced, removed, inserted or cut off either loads as the
    scene it was (Pillow checks each chunk's CRC) or is refused by a `ValueError` naming the
    file, whatever Pillow or zlib raised."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "map.png"
        write_png(path, np.zeros((2, 3, 3)))  # 68 bytes: all "walk"
        good = load_labels(path, MAP_SPEC)
        data = path.read_bytes()
        position %= len(data) + 1
        path.write_bytes(data[:position] + replacement + data[position + drop :])
        try:
            scene = load_labels(path, MAP_SPEC)
        except ValueError as e:
            assert str(path) in str(e), str(e)
            return
    np.testing.assert_array_equal(scene.probs, good.probs)
    np.testing.assert_array_equal(scene.passable, good.passable)


def _json_edits(doc: dict):
    """Edits of a valid classes.json document, each (description, edited document)."""
    first = doc["classes"][0]
    edits = {
        "no classes key": {k: v for k, v in doc.items() if k != "classes"},
        "unknown key": {**doc, "cellsize": 1},
        "classes not a list": {**doc, "classes": first},
        "empty classes": {**doc, "classes": []},
        "cell_size string": {**doc, "cell_size": "1"},
        "cell_size nan": {**doc, "cell_size": math.nan},
        "cell_size negative": {**doc, "cell_size": -1},
        "cell_size bool": {**doc, "cell_size": True},
        "ppc zero": {**doc, "pixels_per_cell": 0},
        "ppc fraction": {**doc, "pixels_per_cell": 2.5},
        "ppc string": {**doc, "pixels_per_cell": "2"},
        "ppc null": {**doc, "pixels_per_cell": None},
        "top level list": [doc],
    }
    for key, value in {
        "name": [None, 3, "", "  "],
        "color": ["#12345", "red", [1, 2], [1, 2, 300], [1.5, 2, 3], None, True, "#xyzxyz"],
        "passable": [1, "no", None],
        "extra": [1],
    }.items():
        for v in value:
            edits[f"{key}={v!r}"] = {**doc, "classes": [{**first, key: v}, *doc["classes"][1:]]}
    edits["no name"] = {**doc, "classes": [{"color": first["color"]}]}
    edits["no color"] = {**doc, "classes": [{"name": first["name"]}]}
    edits["class not an object"] = {**doc, "classes": ["road"]}
    edits["repeated"] = {**doc, "classes": [first, first]}
    edits["none passable"] = {**doc, "classes": [{**c, "passable": False} for c in doc["classes"]]}
    return edits


@SETTINGS
@given(class_specs(), st.data())
def test_any_classes_json_loads_valid_or_is_refused_naming_the_file(spec, data):
    """Any edit of a valid classes.json (a missing or unknown key, a wrong type, a bad
    colour, a repeat) and any text at all either loads as a valid `ClassSpec` or is refused
    by a `ValueError` naming the file."""
    edits = _json_edits(spec.to_json())
    which = data.draw(st.sampled_from(sorted(edits)), label="edit")
    text = json.dumps(edits[which])
    if data.draw(st.booleans(), label="garble"):
        cut = data.draw(st.integers(0, len(text)), label="cut")
        text = text[:cut] + data.draw(st.text(max_size=5), label="junk") + text[cut + 1 :]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "classes.json"
        path.write_text(text, encoding="utf-8")
        try:
            got = load_classes(path)
        except ValueError as e:
            assert str(path) in str(e), str(e)
            return
    assert len(got.names) == len(set(got.names)) == len(got.colors) == len(got.passable) >= 1
    assert len(set(got.colors)) == len(got.colors) and any(got.passable)
    assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in got.colors)
    assert all(n == n.strip() and n for n in got.names)
    assert math.isfinite(got.cell_size) and got.cell_size > 0 and got.pixels_per_cell >= 1


# --------------------------------------------------------------------------- track files


@st.composite
def walks(draw, shape: tuple[int, int], passable: np.ndarray):
    """A path of 8-neighbour moves (no stays) through passable cells of the grid."""
    h, w = shape
    cells = np.argwhere(passable)
    r, c = (int(v) for v in cells[draw(st.integers(0, len(cells) - 1))])
    path = [(r, c)]
    for _ in range(draw(st.integers(0, 6))):
        moves = [
            (r + dr, c + dc)
            for dr in (-1, 0, 1)
            for dc in (-1, 0, 1)
            if (dr or dc) and 0 <= r + dr < h and 0 <= c + dc < w and passable[r + dr, c + dc]
        ]
        if not moves:
            break
        r, c = draw(st.sampled_from(moves))
        path.append((r, c))
    return np.asarray(path, np.int64)


@st.composite
def track_files(draw):
    """A scene, its spec, the tracks walked on it, and their CSV rows (sub-pixel points)."""
    h, w, p = draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    labels = (rng.random((h, w)) < 0.25).astype(int)
    labels[draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))] = 0
    spec = ClassSpec(("walk", "wall"), ((0, 0, 0), (255, 0, 0)), (True, False), 1.0, p)
    scene = Scene.from_labels(labels, spec.names, impassable=("wall",))
    paths = [draw(walks((h, w), labels == 0)) for _ in range(draw(st.integers(1, 3)))]
    rows = [list(TRACK_HEADER)]
    t0 = []
    for i, path in enumerate(paths):
        start = draw(st.sampled_from([0.0, 1.5, -3.0, 1e6]))
        t0.append(start)
        for j, (r, c) in enumerate(path):
            x, y = (c + rng.uniform(0, 0.999)) * p, (r + rng.uniform(0, 0.999)) * p
            rows.append([f"w{i}", repr(start + j * 0.5), repr(float(x)), repr(float(y))])
    if draw(st.booleans(), label="shuffle"):  # rows in any order: sorted by t on loading
        body = rows[1:]
        rng.shuffle(body)
        rows = [rows[0], *body]
    return scene, spec, paths, t0, rows


TRACK_HEADER = ("track_id", "t", "x", "y")


def write_csv(path: Path, rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


@SETTINGS
@given(track_files())
def test_track_files_round_trip(files):
    """Tracks written as `track_id,t,x,y` rows (any point inside each cell, rows in any
    order) load as the same cell paths, ids and start times; and as `Trajectories` of moves,
    `to_trajectories` → `to_paths` gives the paths back."""
    scene, spec, paths, t0, rows = files
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tracks.csv"
        write_csv(path, rows)
        got = load_tracks(path, scene, spec, min_length=1, max_gap=1)
    assert sorted(got.ids) == [f"w{i}" for i in range(len(paths))]  # in order of first row
    assert (got.dropped, got.splits, got.blocked) == (0, 0, 0)
    for track, cells, start in zip(got.ids, got.paths, got.t0, strict=True):
        i = int(track[1:])
        assert_same_arrays(paths[i], cells)
        assert start == t0[i]
    back = to_paths(to_trajectories(got.paths, scene.shape), scene.shape)
    for mine, theirs in zip(got.paths, back, strict=True):
        assert_same_arrays(mine, theirs)


def _csv_edits(rows: list[list[str]]):
    """Edits of a valid tracks.csv, each a list of rows (or raw text)."""
    first = rows[1]
    return {
        "no header": rows[1:],
        "header only": rows[:1],
        "missing column": [[c for c in r[:3]] for r in rows],
        "repeated column": [[*rows[0], "t"], *[[*r, "0"] for r in rows[1:]]],
        "extra column": [[*rows[0], "note"], *[[*r, "x"] for r in rows[1:]]],
        "short row": [*rows, first[:3]],
        "empty id": [*rows, ["", "99", first[2], first[3]]],
        "t not a number": [*rows, [first[0], "soon", first[2], first[3]]],
        "x nan": [*rows, [first[0], "99", "nan", first[3]]],
        "y inf": [*rows, [first[0], "99", first[2], "inf"]],
        "repeated t": [*rows, first],
        "off the map": [*rows, [first[0], "99", "-1", first[3]]],
        "far off the map": [*rows, [first[0], "99", first[2], "1e9"]],
        "blank lines": [rows[0], [], *rows[1:], [""]],
        "empty file": [],
    }


@SETTINGS
@given(track_files(), st.data())
def test_any_tracks_csv_loads_valid_or_is_refused_naming_the_file(files, data):
    """Any edit of a valid tracks.csv (a missing column, a non-number, NaN, a repeated t, a
    point off the map), garbled or not, with any `min_length` and `max_gap`, either loads as
    valid paths (8-neighbour steps through passable cells, each at least `min_length` long)
    or is refused by a `ValueError` naming the file or the option."""
    scene, spec, _, _, rows = files
    edits = _csv_edits(rows)
    which = data.draw(st.sampled_from(sorted(edits)), label="edit")
    min_length = data.draw(st.sampled_from([1, 2, 4, 0, 1.5, "2", None]), label="min_length")
    max_gap = data.draw(st.sampled_from([None, 1, 3, 0, -1, 2.0, True]), label="max_gap")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tracks.csv"
        write_csv(path, edits[which])
        if data.draw(st.booleans(), label="garble"):
            raw = bytearray(path.read_bytes())
            cut = data.draw(st.integers(0, len(raw)), label="cut")
            raw[cut : cut + 1] = data.draw(st.binary(max_size=4), label="junk")
            path.write_bytes(bytes(raw))
        try:
            got = load_tracks(path, scene, spec, min_length=min_length, max_gap=max_gap)
        except ValueError as e:
            assert any(s in str(e) for s in (str(path), "min_length", "max_gap")), str(e)
            return
    h, w = scene.shape
    passable = np.asarray(scene.passable)
    assert len(got.paths) == len(got.ids) == len(got.t0) >= 1
    assert np.isfinite(got.t0).all()
    for cells in got.paths:
        assert cells.ndim == 2 and cells.shape[1] == 2 and len(cells) >= min_length
        assert ((cells >= 0) & (cells < [h, w])).all()
        assert passable[cells[:, 0], cells[:, 1]].all()
        if len(cells) > 1:
            assert (np.abs(np.diff(cells, axis=0)).max(axis=1) == 1).all()


def test_checkpoints_refuse_a_tree_jax_cannot_flatten_by_name(tmp_path):
    """A dict whose keys cannot be sorted (1 and "a") is not a pytree: refused by name (JAX's
    own error said nothing of which argument)."""
    with pytest.raises(ValueError, match="pytree is not a JAX pytree"):
        save_checkpoint(tmp_path / "state.msgpack", {1: np.ones(2), "a": np.ones(2)})
    save_checkpoint(tmp_path / "state.msgpack", {"a": np.ones(2)})
    with pytest.raises(ValueError, match="like is not a JAX pytree"):
        load_checkpoint(tmp_path / "state.msgpack", {1: np.ones(2), "a": np.ones(2)})
