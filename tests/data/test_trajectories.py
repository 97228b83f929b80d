"""`Trajectories`: validation, masks, and an atomic, pickle-free file format."""

import os

import jax
import numpy as np
import pytest

from irlax.data import Trajectories

OBS = np.array([[0, 1, 2], [3, 3, 3]])
ACT = np.array([[1, 0], [2, 0]])


def test_mask_and_shapes():
    t = Trajectories(OBS, ACT, np.array([2, 0]))
    np.testing.assert_array_equal(t.mask, [[True, True], [False, False]])
    assert (t.n_trajectories, t.max_length) == (2, 2)


def test_save_load_round_trip(tmp_path):
    t = Trajectories(OBS, ACT, np.array([2, 1]), rewards=np.array([[0.5, 1.0], [2.0, 0.0]]))
    path = tmp_path / "demos.npz"
    t.save(path)
    back = Trajectories.load(path)
    for name in ("observations", "actions", "lengths", "rewards"):
        np.testing.assert_array_equal(getattr(back, name), getattr(t, name))
    continuous = Trajectories(np.zeros((2, 3, 4)), np.zeros((2, 2, 1)), np.array([2, 2]))
    continuous.save(path)
    assert Trajectories.load(path).observations.shape == (2, 3, 4)
    assert Trajectories.load(path).rewards is None
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_digest_names_the_contents_not_the_file(tmp_path):
    # `irlax imitate` resumes a run only from demos of the same digest.
    t = Trajectories(OBS, ACT, np.array([2, 1]), rewards=np.array([[0.5, 1.0], [2.0, 0.0]]))
    t.save(tmp_path / "demos.npz")
    assert Trajectories.load(tmp_path / "demos.npz").digest() == t.digest()
    changed = [
        Trajectories(OBS, ACT, np.array([2, 0]), rewards=t.rewards),  # a length
        Trajectories(OBS, ACT, t.lengths),  # no rewards
        Trajectories(OBS, ACT, t.lengths, rewards=t.rewards, terminated=np.array([True, False])),
        Trajectories(OBS.astype(np.float64), ACT, t.lengths, rewards=t.rewards),  # a dtype
    ]
    digests = {t.digest(), *(x.digest() for x in changed)}
    assert len(digests) == 1 + len(changed)


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "demos.npz"
    Trajectories(OBS, ACT, np.array([2, 1])).save(path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        Trajectories(OBS, ACT, np.array([1, 1])).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["demos.npz"]  # no temporary left behind


def test_load_rejects_foreign_files(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not an irlax trajectories file"):
        Trajectories.load(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"not a readable.*not a zip archive") as error:
        Trajectories.load(tmp_path / "junk.npz")
    # numpy's own message advised loading the file unsafely (allow_pickle, pickle.load).
    assert "pickle" not in str(error.value)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="not a zip archive"):
        Trajectories.load(tmp_path / "obj.npy")


def test_truncated_or_corrupted_files_are_refused_naming_the_path(tmp_path):
    path = tmp_path / "demos.npz"
    Trajectories(OBS, ACT, np.array([2, 1]), rewards=np.ones((2, 2))).save(path)
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 40):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=f"{bad.name}.*not a readable"):
            Trajectories.load(bad)
    # A flipped byte inside an array's data fails the zip member's CRC.
    offset = data.index(np.ones((2, 2)).tobytes())
    flipped = tmp_path / "flipped.npz"
    flipped.write_bytes(data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1 :])
    with pytest.raises(ValueError, match=r"flipped\.npz.*not a readable"):
        Trajectories.load(flipped)


def test_non_numeric_arrays_are_refused_and_never_pickled(tmp_path):
    rewards = np.array([[None, 1.0], [2.0, 0.0]], dtype=object)
    with pytest.raises(ValueError, match="rewards must be a numeric array, got dtype object"):
        Trajectories(OBS, ACT, np.array([2, 1]), rewards=rewards)
    with pytest.raises(ValueError, match="observations must be a numeric array"):
        Trajectories(OBS.astype(str), ACT, np.array([2, 1]))


def test_pytree_operations_skip_validation():
    t = Trajectories(OBS, ACT, np.array([2, 1]))
    doubled = jax.tree.map(lambda x: x, t)
    np.testing.assert_array_equal(doubled.lengths, t.lengths)
    lengths = jax.vmap(lambda tr: tr.lengths)(t)
    np.testing.assert_array_equal(lengths, [2, 1])


@pytest.mark.parametrize(
    "args,match",
    [
        ((OBS[:, :2], ACT, np.array([2, 1])), "observations must be"),
        ((OBS, ACT, np.array([2])), "lengths must have shape"),
        ((OBS, ACT, np.array([3, 1])), r"lengths must lie in \[0, T=2\]"),
        ((OBS, ACT, np.array([-1, 1])), "lengths must lie in"),
        ((OBS, ACT, np.array([1.0, 1.0])), "lengths must be integers"),
        ((OBS[0], ACT, np.array([2, 1])), "observations must be"),
    ],
)
def test_bad_trajectories(args, match):
    with pytest.raises(ValueError, match=match):
        Trajectories(*args)
    with pytest.raises(ValueError, match="rewards must have shape"):
        Trajectories(OBS, ACT, np.array([2, 1]), rewards=np.zeros((2, 3)))


def test_stack_of_sets_validates_and_vmaps():
    sets = [
        Trajectories(np.full((2, 4), i), np.zeros((2, 3), int), np.array([3, i])) for i in range(3)
    ]
    stacked = Trajectories.stack(sets)
    assert stacked.lengths.shape == (3, 2)
    np.testing.assert_array_equal(jax.vmap(lambda t: t.mask.sum())(stacked), [3, 4, 5])
    with pytest.raises(ValueError, match="one shape"):
        Trajectories.stack(
            [sets[0], Trajectories(np.zeros((1, 4), int), np.zeros((1, 3), int), np.array([3]))]
        )
    with pytest.raises(ValueError, match="lengths must lie"):
        Trajectories(np.zeros((2, 1, 4), int), np.zeros((2, 1, 3), int), np.array([[3], [4]]))


def test_stack_names_the_set_that_differs():
    one = Trajectories(OBS, ACT, np.array([2, 1]))
    with pytest.raises(
        ValueError, match=r"sets\[1\].rewards is given but sets\[0\].rewards is None"
    ):
        Trajectories.stack(
            [one, Trajectories(OBS, ACT, np.array([2, 1]), rewards=np.zeros((2, 2)))]
        )
    with pytest.raises(ValueError, match=r"sets\[2\].observations is float"):
        Trajectories.stack([one, one, Trajectories(OBS.astype(float), ACT, np.array([2, 1]))])
    with pytest.raises(ValueError, match=r"sets\[1\] must be Trajectories, got tuple"):
        Trajectories.stack([one, (OBS, ACT, np.array([2, 1]))])
    # A stacked set with a bad length is named by its index in the stack.
    with pytest.raises(ValueError, match=r"the first bad one at set \(1,\), trajectory 0"):
        Trajectories(np.stack([OBS, OBS]), np.stack([ACT, ACT]), np.array([[2, 1], [3, 1]]))


# terminated: how each trajectory ended (a terminal state, or a time-limit cut)

TERMINATED = np.array([True, False])


def test_terminated_round_trips_and_old_files_load_without_it(tmp_path):
    path = tmp_path / "demos.npz"
    rewards = np.array([[0.5, 1.0], [2.0, 0.0]])
    with_flags = Trajectories(OBS, ACT, np.array([2, 1]), rewards, TERMINATED)
    with_flags.save(path)
    back = Trajectories.load(path)
    assert back.terminated.dtype == np.bool_
    np.testing.assert_array_equal(back.terminated, TERMINATED)
    np.testing.assert_array_equal(back.rewards, rewards)
    # Without it (and without rewards): both stay None, and the file holds no such array.
    Trajectories(OBS, ACT, np.array([2, 1])).save(path)
    with np.load(path) as f:
        assert sorted(f.files) == ["actions", "format", "lengths", "observations", "sha256"]
    back = Trajectories.load(path)
    assert back.terminated is None and back.rewards is None
    # A file written before the field existed (same format tag, no "terminated" array).
    old = tmp_path / "old.npz"
    np.savez(
        old,
        format=np.asarray("irlax.Trajectories/1"),
        observations=OBS,
        actions=ACT,
        lengths=np.array([2, 1]),
        rewards=rewards,
    )
    back = Trajectories.load(old)
    assert back.terminated is None
    np.testing.assert_array_equal(back.rewards, rewards)
    # A stacked set keeps its stack axis through the file.
    stacked = Trajectories.stack([with_flags, with_flags.replace(terminated=~TERMINATED)])
    stacked.save(path)
    np.testing.assert_array_equal(Trajectories.load(path).terminated, [[1, 0], [0, 1]])


@pytest.mark.parametrize(
    ("terminated", "match"),
    [
        (np.array([1, 0]), "terminated must be a bool array, got dtype int64"),
        (np.array([1.0, 0.0]), "terminated must be a bool array, got dtype float64"),
        (np.array([True, None], dtype=object), "terminated must be a bool array, got dtype object"),
        ([True, False], "terminated must be a bool array of shape \\(2,\\).*got list"),
        (np.array([True]), r"terminated must have the shape \(2,\) of lengths.*got \(1,\)"),
        (np.array([[True, False]]), r"terminated must have the shape \(2,\).*got \(1, 2\)"),
        (np.bool_(True), r"terminated must have the shape \(2,\).*got \(\)"),
    ],
)
def test_bad_terminated_is_refused_by_name(terminated, match):
    with pytest.raises(ValueError, match=match):
        Trajectories(OBS, ACT, np.array([2, 1]), terminated=terminated)


def test_a_file_with_bad_terminated_is_refused_naming_the_path(tmp_path):
    path = tmp_path / "ints.npz"
    arrays = {"observations": OBS, "actions": ACT, "lengths": np.array([2, 1])}
    np.savez(path, format=np.asarray("irlax.Trajectories/1"), terminated=np.array([1, 0]), **arrays)
    with pytest.raises(ValueError, match=r"ints\.npz: terminated must be a bool array"):
        Trajectories.load(path)


def test_stack_with_and_without_terminated():
    with_flags = [Trajectories(OBS, ACT, np.array([2, i]), terminated=TERMINATED) for i in (0, 1)]
    stacked = Trajectories.stack(with_flags)
    assert stacked.terminated.shape == (2, 2) and stacked.terminated.dtype == np.bool_
    assert Trajectories.stack([Trajectories(OBS, ACT, np.array([2, 1]))] * 2).terminated is None
    # The stack is checked against the lengths' stack axes.
    with pytest.raises(ValueError, match=r"terminated must have the shape \(2, 2\)"):
        stacked.replace(terminated=TERMINATED)
    with pytest.raises(
        ValueError, match=r"sets\[1\].terminated is None but sets\[0\].terminated is given"
    ):
        Trajectories.stack([with_flags[0], Trajectories(OBS, ACT, np.array([2, 1]))])


@pytest.mark.parametrize("terminated", [None, TERMINATED])
def test_pytree_operations_keep_terminated(terminated):
    t = Trajectories(OBS, ACT, np.array([2, 1]), terminated=terminated)
    same = jax.tree.map(lambda x: x, t)
    assert (same.terminated is None) == (terminated is None)
    assert len(jax.tree.leaves(t)) == 3 + (terminated is not None)
    first = jax.tree.map(lambda x: x[:1], t)  # e.g. picking demos: [N] and [N, T] alike
    jitted = jax.jit(lambda tr: tr)(t)
    # vmap over trajectories (each a scalar flag) and over a stack of sets ([N] flags).
    ended = jax.vmap(lambda tr: tr.lengths if tr.terminated is None else tr.terminated)(t)
    stack = Trajectories.stack([t, t])
    per_set = jax.vmap(lambda tr: tr.mask.sum() if tr.terminated is None else tr.terminated)(stack)
    if terminated is None:
        assert first.terminated is None and jitted.terminated is None
        np.testing.assert_array_equal(ended, [2, 1])
        np.testing.assert_array_equal(per_set, [3, 3])
    else:
        np.testing.assert_array_equal(first.terminated, [True])
        np.testing.assert_array_equal(jitted.terminated, TERMINATED)
        np.testing.assert_array_equal(ended, TERMINATED)
        np.testing.assert_array_equal(per_set, [TERMINATED, TERMINATED])
    # Positional construction: the new field is last, the old four keep their places.
    positional = Trajectories(OBS, ACT, np.array([2, 1]), np.zeros((2, 2)), terminated)
    assert positional.rewards.shape == (2, 2)
