"""Tracks as paths of grid cells, and their conversion to `Trajectories` of moves."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from irlax.data import Trajectories
from irlax.forecast.planning import MOVES

_MOVE_INDEX = {(int(dr), int(dc)): k for k, (dr, dc) in enumerate(MOVES)}


def check_track(track, shape: tuple[int, int], name: str = "track") -> np.ndarray:
    """One track as int64 `[n, 2]` (row, col) cells, refused by `name` unless it is a
    non-empty `[n, 2]` array of whole numbers inside the `H × W` grid.

    A 1-D array is refused rather than reshaped (`[r0, c0, r1, c1]` and a list of rows would
    otherwise be told apart only by luck), and so is a cell off the map, which would index
    the map from its other side.

    Raises:
        ValueError: naming `name`, the shape, or the first cell off the grid and its step.
    """
    h, w = shape
    try:
        arr = np.asarray(track)
    except (ValueError, TypeError) as e:  # ragged
        raise ValueError(f"{name} must be an [n, 2] array of (row, col) cells ({e})") from e
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be an [n, 2] array of (row, col) cells, got {arr.dtype}")
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(
            f"{name} must be an [n, 2] array of (row, col) cells, got shape {arr.shape}"
        )
    if len(arr) == 0:
        raise ValueError(f"{name} has no cell")
    if arr.dtype.kind == "f":
        if not (np.isfinite(arr).all() and (arr == np.round(arr)).all()):
            raise ValueError(f"{name} must hold whole-number (row, col) cells, got {arr[:4]}")
    arr = arr.astype(np.int64)
    outside = (arr[:, 0] < 0) | (arr[:, 0] >= h) | (arr[:, 1] < 0) | (arr[:, 1] >= w)
    if outside.any():
        t = int(np.argmax(outside))
        raise ValueError(f"{name} leaves the {h}x{w} grid at step {t}: cell {arr[t].tolist()}")
    return arr


def check_paths(paths, shape: tuple[int, int], name: str = "paths") -> list[np.ndarray]:
    """Tracks as a list of int64 `[n_i, 2]` cell arrays (see `check_track`), at least one.

    Raises:
        ValueError: `paths` is not a sequence of tracks (a single `[n, 2]` array must be
            wrapped in a list), holds none, or a track is bad (named by its index).
    """
    if isinstance(paths, str | bytes) or not hasattr(paths, "__iter__"):
        raise ValueError(
            f"{name} must be a sequence of [n_i, 2] (row, col) tracks, got {type(paths).__name__}"
        )
    if isinstance(paths, np.ndarray | jnp.ndarray) and paths.ndim == 2:
        raise ValueError(
            f"{name} must be a sequence of [n_i, 2] tracks, got one {paths.shape} array; "
            "wrap a single track in a list"
        )
    out = [check_track(p, shape, name=f"track {i}") for i, p in enumerate(paths)]
    if not out:
        raise ValueError(f"{name} holds no track: at least one is needed")
    return out


def cell_path(rows, cols, *, keep_stays: bool = False) -> np.ndarray:
    """Join a sequence of cells into a path of 8-neighbour moves.

    Consecutive cells further apart than one move are joined by the straightest chain of
    moves (diagonal steps spread evenly along the way, as Bresenham's line does): this is how
    gaps in a sampled track are interpolated. Repeated cells are dropped unless `keep_stays`.

    Args:
        rows, cols: int sequences of equal length, the cells visited in order.
        keep_stays: keep consecutive repeats as stay moves (when time steps are meaningful).

    Returns:
        int `[n, 2]` (row, col) cells, each one move from the one before.
    """
    rows = np.asarray(rows, dtype=np.int64).ravel()
    cols = np.asarray(cols, dtype=np.int64).ravel()
    if rows.shape != cols.shape or rows.size == 0:
        raise ValueError(
            f"rows and cols must be equal-length and non-empty, got {rows.shape}, {cols.shape}"
        )
    out = [(rows[0], cols[0])]
    for r1, c1 in zip(rows[1:], cols[1:], strict=True):
        r0, c0 = out[-1]
        n = max(abs(r1 - r0), abs(c1 - c0))
        if n == 0:
            if keep_stays:
                out.append((r1, c1))
            continue
        steps = np.arange(1, n + 1)
        out.extend(
            zip(
                r0 + np.round((r1 - r0) * steps / n).astype(np.int64),
                c0 + np.round((c1 - c0) * steps / n).astype(np.int64),
                strict=True,
            )
        )
    return np.asarray(out, dtype=np.int64).reshape(-1, 2)


def to_trajectories(paths, shape: tuple[int, int]) -> Trajectories:
    """Cell paths → `Trajectories` of flat cell indices and move indices (into `MOVES`).

    Args:
        paths: sequence of int `[n_i, 2]` (row, col) paths, each step one of the 9 moves.
        shape: `(H, W)` of the grid.

    Raises:
        ValueError: no path, a path that is not `[n, 2]`, leaves the grid, skips cells, or has
            no cell.
    """
    w = shape[1]
    paths = check_paths(paths, shape)
    for i, p in enumerate(paths):
        step = np.abs(np.diff(p, axis=0)).max(axis=1) if len(p) > 1 else np.zeros(0)
        if (step > 1).any():
            t = int(np.argmax(step > 1))
            raise ValueError(
                f"track {i} jumps from {p[t].tolist()} to {p[t + 1].tolist()}; join gaps with "
                "cell_path first"
            )
    n_steps = max(len(p) - 1 for p in paths)
    obs = np.zeros((len(paths), n_steps + 1), np.int32)
    act = np.zeros((len(paths), n_steps), np.int32)
    for i, p in enumerate(paths):
        flat = p[:, 0] * w + p[:, 1]
        obs[i, : len(p)] = flat
        obs[i, len(p) :] = flat[-1]
        d = np.diff(p, axis=0)
        act[i, : len(p) - 1] = [_MOVE_INDEX[(int(a), int(b))] for a, b in d]
    lengths = np.asarray([len(p) - 1 for p in paths], np.int32)
    return Trajectories(jnp.asarray(obs), jnp.asarray(act), jnp.asarray(lengths))


def to_paths(trajectories: Trajectories, shape: tuple[int, int]) -> list[np.ndarray]:
    """`Trajectories` on the grid MDP → list of int `[n_i, 2]` (row, col) cell paths.

    The inverse of `to_trajectories`: observations are flat cells `row * W + col`, actions
    indices into `MOVES` (the states and actions of `grid.grid_mdp`).

    Args:
        trajectories: integer observations `[N, T+1]`, actions `[N, T]`, lengths `[N]`.
        shape: `(H, W)` of the grid.

    Raises:
        ValueError: non-integer or badly shaped arrays, a cell off the grid, or an action that
            is not the move from one cell to the next.
    """
    h, w = shape
    obs = np.asarray(trajectories.observations)
    act = np.asarray(trajectories.actions)
    lengths = np.asarray(trajectories.lengths)
    if obs.ndim != 2 or act.ndim != 2 or act.shape[0] != obs.shape[0]:
        raise ValueError(
            "trajectories on the grid need observations [N, T+1] (flat cells) and actions "
            f"[N, T] (moves), got {obs.shape} and {act.shape}"
        )
    for name, x in (("observations", obs), ("actions", act)):
        if not np.issubdtype(x.dtype, np.integer):
            raise ValueError(f"trajectories.{name} must be integer indices, got {x.dtype}")
    paths = []
    for i, (o, a, n) in enumerate(zip(obs, act, lengths, strict=True)):
        cells, moves = o[: n + 1], a[:n]
        if cells.min() < 0 or cells.max() >= h * w:
            raise ValueError(
                f"trajectory {i} has cells outside [0, {h * w}), the flat cells of the {h}x{w} grid"
            )
        if moves.size and (moves.min() < 0 or moves.max() >= len(MOVES)):
            raise ValueError(f"trajectory {i} has actions outside [0, {len(MOVES)}), the moves")
        path = np.stack(np.divmod(cells.astype(np.int64), w), axis=1)
        wrong = np.flatnonzero((np.diff(path, axis=0) != MOVES[moves]).any(axis=1))
        if wrong.size:
            t = int(wrong[0])
            raise ValueError(
                f"trajectory {i}, step {t}: action {int(moves[t])} is the move "
                f"{MOVES[moves[t]].tolist()}, but the cells go from {path[t].tolist()} to "
                f"{path[t + 1].tolist()}"
            )
        paths.append(path)
    return paths
