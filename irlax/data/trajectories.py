"""A batch of variable-length trajectories as one padded pytree."""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from irlax._files import atomic_write
from irlax._pytree import is_concrete, pytree_dataclass

_FORMAT = "irlax.Trajectories/2"
_FORMAT_WITHOUT_DIGEST = "irlax.Trajectories/1"  # read, never written


@pytree_dataclass
class Trajectories:
    """N trajectories padded to a common length T.

    Trajectory i is `observations[i, :lengths[i] + 1]` and `actions[i, :lengths[i]]`: it
    visits `lengths[i] + 1` observations and takes `lengths[i]` actions. Entries past the
    length are padding and are ignored by every function in irlax (see `mask`).

    `Trajectories.stack` puts several sets of one shape on a leading axis, which `jax.vmap`
    maps over (every field then has that extra leading axis).

    Attributes:
        observations: `[N, T+1, ...]` observations; for tabular MDPs, int state indices `[N, T+1]`.
        actions: `[N, T, ...]` actions; for tabular MDPs, int action indices `[N, T]`.
        lengths: int `[N]`, the number of actions taken in each trajectory, in `[0, T]`.
        rewards: optional `[N, T]` rewards received after each action.
        terminated: optional bool `[N]`: True where trajectory i ended in a terminal state
            (its last observation is terminal), False where it was cut by a time limit or a
            `max_steps` (truncation: the episode would have gone on). Adversarial imitation
            treats the two apart: a termination leads into an absorbing state whose reward
            is learned, a truncation is bootstrapped past (Kostrikov et al. 2019,
            "Discriminator-Actor-Critic", absorbing states). None means unknown (files
            written before the field existed, hand-built trajectories).
    """

    observations: jnp.ndarray
    actions: jnp.ndarray
    lengths: jnp.ndarray
    rewards: jnp.ndarray | None = None
    terminated: jnp.ndarray | None = None

    def __post_init__(self) -> None:
        # Pytree machinery rebuilds this class with placeholders (vmap axis specs, None) and
        # with tracers whose shapes lose the batch axis under vmap, on every flatten: check
        # real arrays only. Traced trajectories are checked where they are consumed, against
        # the MDP or env (irlax.mdp.checks.check_tabular_trajectories, check_demos).
        leaves = (self.observations, self.actions, self.lengths)
        optional = (self.rewards, self.terminated)
        if all(hasattr(x, "shape") for x in leaves) and is_concrete(*leaves, *optional):
            _validate(self)

    @property
    def n_trajectories(self) -> int:
        """N, the number of trajectories."""
        return self.actions.shape[0]

    @property
    def max_length(self) -> int:
        """T, the padded number of actions."""
        return self.actions.shape[1]

    @classmethod
    def stack(cls, sets: list[Trajectories]) -> Trajectories:
        """Stack trajectory sets of equal shapes along a new leading axis, for `jax.vmap`.

        Each set was validated when it was built; here the sets are checked against each
        other (before any tracing), so a mismatch is named rather than lost inside a vmapped
        computation. Whether the indices fit an MDP is for
        `irlax.mdp.checks.check_tabular_trajectories`, which takes the stack too.

        Args:
            sets: `Trajectories` of one shape and dtype each, all with or all without
                rewards, and all with or all without `terminated`.

        Returns:
            `Trajectories` whose every field has a leading axis of length `len(sets)`.

        Raises:
            ValueError: no sets, a set that is not `Trajectories` or is itself invalid, or
                sets whose fields differ in shape, dtype or presence (naming the set).
        """
        sets = list(sets)
        if not sets:
            raise ValueError("stack needs at least one set of trajectories")
        for i, s in enumerate(sets):
            if not isinstance(s, Trajectories):
                raise ValueError(f"sets[{i}] must be Trajectories, got {type(s).__name__}")
            for name in ("observations", "actions", "lengths", "rewards", "terminated"):
                first, this = getattr(sets[0], name), getattr(s, name)
                if (first is None) != (this is None):
                    raise ValueError(
                        f"sets[{i}].{name} is {'None' if this is None else 'given'} but "
                        f"sets[0].{name} is {'None' if first is None else 'given'}: stack "
                        f"needs every set with {name} or every set without"
                    )
                if this is None:
                    continue
                want = (jnp.shape(first), jnp.result_type(first))
                got = (jnp.shape(this), jnp.result_type(this))
                if got != want:
                    raise ValueError(
                        f"stack needs trajectory sets of one shape and dtype: sets[{i}].{name} "
                        f"is {got[1]} {got[0]}, sets[0].{name} is {want[1]} {want[0]}"
                    )
        return jax.tree.map(lambda *x: jnp.stack(x), *sets)

    @property
    def mask(self) -> jnp.ndarray:
        """Bool `[N, T]`: True where `actions[i, t]` was really taken (t < lengths[i])."""
        return jnp.arange(self.max_length)[None, :] < jnp.asarray(self.lengths)[:, None]

    def save(self, path: str | os.PathLike) -> None:
        """Write to an `.npz` file atomically (a temporary file renamed into place).

        The format (tag `irlax.Trajectories/2`) holds `observations`, `actions`, `lengths`
        and, when present, `rewards` and `terminated`, and `sha256`, a checksum of them all:
        a file changed by a single bit is refused on loading rather than giving other
        trajectories. Files without the optional arrays (from before `terminated` existed),
        and files of the first format (`/1`, without a checksum), still load.

        Args:
            path: destination; an existing file is replaced only once the new one is complete.

        Raises:
            ValueError: a `path` that is not a str or path, or an array that is not numeric
                (saving never pickles: such a file could not be loaded, and a good file
                would be replaced by it).
        """
        path = _check_path(path)
        arrays = {"format": np.asarray(_FORMAT), **self._arrays()}
        # Checked again here, before the file is touched, because `np.savez` pickles object
        # arrays silently (its `allow_pickle` option only exists from NumPy 2.1 on).
        for name, x in arrays.items():
            if name != "format":
                _check_numeric(name, x)
        arrays["sha256"] = np.asarray(_digest(arrays))
        atomic_write(path, lambda f: np.savez(f, **arrays))

    def digest(self) -> str:
        """The sha256 of the trajectories' arrays (each one's name, dtype, shape and bytes):
        equal for equal trajectories, wherever they were loaded from."""
        return _digest(self._arrays())

    def _arrays(self) -> dict:
        """The arrays as NumPy, by their file names; the optional ones only when present."""
        arrays = {
            "observations": np.asarray(self.observations),
            "actions": np.asarray(self.actions),
            "lengths": np.asarray(self.lengths),
        }
        for name in ("rewards", "terminated"):
            if getattr(self, name) is not None:
                arrays[name] = np.asarray(getattr(self, name))
        return arrays

    @classmethod
    def load(cls, path: str | os.PathLike) -> Trajectories:
        """Read trajectories written by `save` (never unpickles).

        Returns:
            `Trajectories`; `rewards` and `terminated` are None where the file has no such
            array (e.g. `terminated` in files written before it existed).

        Raises:
            ValueError: the file is not an irlax trajectories file or its arrays are
                inconsistent (naming the path and the array).
        """
        path = _check_path(path)
        # np.load reads a file that is not a zip archive as .npy or, failing that, as a pickle,
        # and refuses it with advice to unpickle it: never what a damaged .npz needs.
        if path.is_file() and not zipfile.is_zipfile(path):
            raise ValueError(
                f"{path}: not a readable .npz trajectories file (not a zip archive: damaged, or "
                "not written by Trajectories.save or irlax expert)"
            )
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
        except FileNotFoundError:
            raise
        # A truncated or corrupted file fails inside zipfile, zlib or numpy with their own
        # errors (a flipped flag bit even claims encryption: RuntimeError, NotImplementedError).
        except Exception as e:
            raise ValueError(f"{path}: not a readable .npz trajectories file ({e})") from e
        tag = str(arrays.get("format", ""))
        if tag not in (_FORMAT, _FORMAT_WITHOUT_DIGEST):
            raise ValueError(f"{path}: not an irlax trajectories file (format tag {_FORMAT!r})")
        if tag == _FORMAT and str(arrays.pop("sha256", "")) != _digest(arrays):
            raise ValueError(
                f"{path}: corrupt trajectories file (its arrays do not match their sha256 checksum)"
            )
        missing = {"observations", "actions", "lengths"} - arrays.keys()
        if missing:
            raise ValueError(f"{path}: missing arrays {sorted(missing)}")
        try:
            return cls(
                observations=jnp.asarray(arrays["observations"]),
                actions=jnp.asarray(arrays["actions"]),
                lengths=jnp.asarray(arrays["lengths"]),
                rewards=jnp.asarray(arrays["rewards"]) if "rewards" in arrays else None,
                terminated=jnp.asarray(arrays["terminated"]) if "terminated" in arrays else None,
            )
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from e


def _digest(arrays: dict) -> str:
    """The checksum of a file's arrays: each one's name, dtype, shape and bytes."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        x = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{x.dtype.str}:{x.shape}".encode())
        digest.update(x.tobytes())
    return digest.hexdigest()


def _check_path(path) -> Path:
    """`path` as a `Path`, refused by name unless it is a str or an `os.PathLike`."""
    if not isinstance(path, str | os.PathLike):
        raise ValueError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    return Path(path)


def _check_numeric(name: str, x) -> None:
    """Refuse an array whose dtype is not boolean, integer or floating (e.g. object, str)."""
    dtype = np.dtype(getattr(x, "dtype", None) or np.asarray(x).dtype)
    if dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a numeric array, got dtype {dtype}")


def _check_terminated(terminated, lengths_shape: tuple) -> None:
    """Refuse a `terminated` that is not a bool array shaped like `lengths` ([N] or stacked)."""
    dtype = getattr(terminated, "dtype", None)
    if dtype is None or not hasattr(terminated, "shape"):
        raise ValueError(
            f"terminated must be a bool array of shape {lengths_shape} (that of lengths), got "
            f"{type(terminated).__name__}"
        )
    # Strict: an int 0/1 or float array is more likely a mix-up (e.g. with lengths or
    # rewards) than a flag, and would not survive `stack` next to a bool one.
    if not jnp.issubdtype(dtype, jnp.bool_):
        raise ValueError(
            f"terminated must be a bool array, got dtype {dtype}; "
            "convert flags with `.astype(bool)`"
        )
    if tuple(terminated.shape) != tuple(lengths_shape):
        raise ValueError(
            f"terminated must have the shape {tuple(lengths_shape)} of lengths ([N], after "
            f"any stack axes), got {tuple(terminated.shape)}"
        )


def _validate(t: Trajectories) -> None:
    obs, act, lengths = t.observations, t.actions, t.lengths
    # Only numbers: an object array would be pickled into the .npz by `save` (and refused by
    # `load`, which never unpickles), and has no meaning to JAX.
    for name, x in (("observations", obs), ("actions", act), ("lengths", lengths)):
        _check_numeric(name, x)
    if t.rewards is not None:
        _check_numeric("rewards", t.rewards)
    # A stack of trajectory sets (for jax.vmap) has leading batch axes; check one set's shapes.
    batch = lengths.shape[: max(lengths.ndim - 1, 0)]
    for name, x in (("observations", obs), ("actions", act)):
        if x.shape[: len(batch)] != batch:
            raise ValueError(
                f"{name} must have the leading batch axes {batch} of lengths, got {x.shape}"
            )
    # One set's shapes (shapes, not arrays: a stack may have zero sets).
    obs_shape, act_shape = obs.shape[len(batch) :], act.shape[len(batch) :]
    # Lengths of 2 or more axes make a stack; when the shapes then fail, say so.
    stack = (
        f" (lengths {lengths.shape} has {len(batch)} leading axes, so these are read as a "
        "stack of sets; one set's lengths are [N])"
        if batch
        else ""
    )
    if len(obs_shape) < 2:
        raise ValueError(f"observations must be [N, T+1, ...], got shape {obs.shape}{stack}")
    if len(act_shape) < 2:
        raise ValueError(f"actions must be [N, T, ...], got shape {act.shape}{stack}")
    n, horizon = act_shape[:2]
    if obs_shape[0] != n or obs_shape[1] != horizon + 1:
        raise ValueError(
            f"observations must be [N, T+1, ...] = [{n}, {horizon + 1}, ...] to match "
            f"actions {act.shape}, got {obs.shape}{stack}"
        )
    if lengths.shape[len(batch) :] != (n,):
        raise ValueError(f"lengths must have shape [N] = ({n},), got {lengths.shape}")
    if not jnp.issubdtype(lengths.dtype, jnp.integer):
        raise ValueError(f"lengths must be integers, got dtype {lengths.dtype}")
    rewards_shape = getattr(t.rewards, "shape", (*batch, n, horizon))
    if t.rewards is not None and rewards_shape != (*batch, n, horizon):
        raise ValueError(
            f"rewards must have shape [N, T] = ({n}, {horizon}), got {t.rewards.shape}"
        )
    if t.terminated is not None:
        _check_terminated(t.terminated, (*batch, n))
    lengths = np.asarray(t.lengths)
    bad = (lengths < 0) | (lengths > horizon)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        which = f"set {where[:-1]}, " if batch else ""
        raise ValueError(
            f"lengths must lie in [0, T={horizon}], got values in [{lengths.min()}, "
            f"{lengths.max()}] (the first bad one at {which}trajectory {where[-1]})"
        )
