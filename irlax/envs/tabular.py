"""Builders of tabular worlds: grids and random MDPs."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np

from irlax._checks import check_key
from irlax.config import is_int
from irlax.mdp.core import TabularMDP

GRID_ACTIONS = ("up", "down", "left", "right", "stay")
"""Action names of `gridworld`, in index order. "up" decreases the row."""

GRID_MOVES = np.array([(-1, 0), (1, 0), (0, -1), (0, 1), (0, 0)], dtype=np.int32)
"""`[5, 2]` (row, column) offset of each of `GRID_ACTIONS`, in index order."""


def grid_successors(
    height: int, width: int, walls: tuple[int, int] | Sequence[tuple[int, int]] | None = None
) -> np.ndarray:
    """The cell each of `GRID_ACTIONS` leads to from every cell of a `height × width` grid.

    Cells are numbered `row * width + col`; a move into the border or into a wall leaves the
    agent where it is (`gridworld`, `objectworld`). A wall cell leads to itself under every
    action: it is never entered, so its row only keeps the MDP well formed.

    Args:
        height: number of rows.
        width: number of columns.
        walls: a cell `(row, col)` or a sequence of cells that cannot be entered; None for none.

    Returns:
        int32 `[height * width, 5]` successor cells, actions in the order of `GRID_ACTIONS`.

    Raises:
        ValueError: a height or width that is not a positive integer, or a wall that is not a
            cell of the grid.
    """
    _check_sizes(height=height, width=width)
    wall = None if walls is None else _cell_mask(height, width, walls, "walls")
    return _successors(height, width, wall)


def _successors(height: int, width: int, wall: np.ndarray | None) -> np.ndarray:
    """`grid_successors` with the walls as a bool `[height * width]` mask (or None)."""
    rows, cols = np.divmod(np.arange(height * width), width)
    succ_r = np.clip(rows[:, None] + GRID_MOVES[None, :, 0], 0, height - 1)
    succ_c = np.clip(cols[:, None] + GRID_MOVES[None, :, 1], 0, width - 1)
    succ = succ_r * width + succ_c
    if wall is not None:
        # Bumping into a wall stays put, like the border; a wall cell (never entered) loops.
        succ = np.where(wall[succ] | wall[:, None], np.arange(height * width)[:, None], succ)
    return succ.astype(np.int32)


def gridworld(
    height: int,
    width: int,
    *,
    slip: float = 0.0,
    horizon: int | None,
    discount: float = 1.0,
    goal: tuple[int, int] | Sequence[tuple[int, int]] | None = None,
    start: tuple[int, int] | None = None,
    features: str | None = None,
    walls: tuple[int, int] | Sequence[tuple[int, int]] | None = None,
) -> TabularMDP:
    """A grid of cells with 5 actions: up, down, left, right and stay (`GRID_ACTIONS`).

    State `row * width + col`. A move into the border or into a wall leaves the agent where it
    is. With probability `slip` the agent instead moves to one of its 4 neighbours chosen
    uniformly (again staying put at a border or a wall). With slip, all actions of a cell share
    one successor list (the cell and its 4 neighbours), so the MDP uses the compact
    `next_states [S, 1, 5]` layout; without, each action has its single successor (`[S, 5, 1]`).

    Walls change the dynamics only: a wall cell stays a state of the MDP (S is always
    `height * width`, numbered as without walls), so one reward vector or feature map applies
    to every maze of the same size — the reward-transfer experiment of AIRL (Fu et al. 2018,
    "Learning Robust Rewards with Adversarial Inverse Reinforcement Learning", the shifting
    maze), where the walls change between training and test and the reward does not. A wall
    cell has zero start probability, is not terminal, and leads to itself under every action;
    since no move enters it, it is never visited and its occupancy is zero under every policy
    (its values in a plan are those of a cell the agent never reaches, and mean nothing).

    Args:
        height: number of rows.
        width: number of columns.
        slip: probability in [0, 1] of a random move instead of the chosen one.
        horizon: steps per episode, or None for an infinite horizon (then discount < 1).
        discount: γ.
        goal: a cell `(row, col)` or a sequence of cells that are terminal (the episode ends on
            entering).
        start: the start cell; None starts uniformly at random among the cells that are
            neither terminal nor walls.
        features: None; "onehot" for `[S, S]` indicator features; "coordinates" for `[S, 2]`
            (row, col) scaled to [0, 1]. Wall cells keep their features, unchanged by `walls`.
        walls: a cell `(row, col)` or a sequence of cells that cannot be entered; None (or an
            empty sequence) for none. Walls may not cover the start cell, a goal cell, or every
            cell.

    Returns:
        The `TabularMDP`.

    Raises:
        ValueError: naming the argument that is invalid (a wall outside the grid, a wall on the
            start or a goal cell, ...).
    """
    _check_sizes(height=height, width=width)
    real = isinstance(slip, int | float | np.integer | np.floating) and not isinstance(slip, bool)
    if not real or not 0.0 <= slip <= 1.0:
        raise ValueError(f"slip must lie in [0, 1], got {slip}")
    n = height * width
    wall = np.zeros(n, bool) if walls is None else _cell_mask(height, width, walls, "walls")
    if wall.all():
        raise ValueError(
            f"walls must leave a cell free, got every cell of the {height}x{width} grid"
        )
    succ = _successors(height, width, wall)  # [S, 5]: the cell after each move
    if slip == 0.0:  # deterministic: one successor per action is smallest
        next_states = succ[:, :, None]
        probs = np.ones((n, 5, 1), np.float32)
    else:
        next_states = succ[:, None, :]
        row = (1.0 - slip) * np.eye(5) + slip * np.array([0.25, 0.25, 0.25, 0.25, 0.0])
        probs = np.broadcast_to(row.astype(np.float32), (n, 5, 5))
    terminal = np.zeros(n, bool)
    if goal is not None:
        terminal = _cell_mask(height, width, goal, "goal")
        if (terminal & wall).any():
            raise ValueError(
                f"walls must not cover a goal cell, got a wall on {_name(terminal & wall, width)}"
            )
    if start is None:
        free = ~terminal & ~wall
        if not free.any():
            what = "goal and walls cover" if wall.any() else "goal covers"
            raise ValueError(f"{what} every cell; there is nowhere to start")
        init = free / free.sum()
    else:
        init = _cell_mask(height, width, start, "start", single=True).astype(np.float64)
        if (init.astype(bool) & wall).any():
            raise ValueError(
                f"walls must not cover the start cell {_name(init.astype(bool), width)}"
            )
    feats = None
    if features == "onehot":
        feats = np.eye(n, dtype=np.float32)
    elif features == "coordinates":
        rows, cols = np.divmod(np.arange(n), width)
        feats = np.stack([rows / max(height - 1, 1), cols / max(width - 1, 1)], -1)
    elif features is not None:
        raise ValueError(f"features must be None, 'onehot' or 'coordinates', got {features!r}")
    return TabularMDP.from_successors(
        next_states,
        probs,
        init,
        features=feats,
        horizon=horizon,
        discount=discount,
        terminal=terminal,
    )


def _check_sizes(minimum: int = 1, **sizes) -> None:
    """Refuse a size that is not an integer (a bool, a float, NaN) >= `minimum`, by name."""
    for name, v in sizes.items():
        if not is_int(v) or v < minimum:
            kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            raise ValueError(f"{name} must be {kind}, got {v!r}")


def _cell_mask(height: int, width: int, cells, name: str, single: bool = False) -> np.ndarray:
    """bool `[height * width]`, True on `cells`: a cell `(row, col)` or a sequence of cells
    (only one cell when `single`), refused by `name` unless every one is a whole-number cell
    of the grid."""
    shape = "a cell (row, col)" if single else "a cell (row, col) or a sequence of cells"
    try:
        arr = np.asarray(cells)
    except ValueError:  # ragged
        arr = None
    if arr is not None and arr.size == 0 and not single:
        arr = np.zeros((0, 2), np.int64)
    numeric = arr is not None and (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    )
    if not numeric or arr.shape[-1:] != (2,) or arr.ndim not in ((1,) if single else (1, 2)):
        raise ValueError(f"{name} must be {shape}, got {cells!r}")
    arr = arr.reshape(-1, 2)
    for r, c in arr:
        if not (np.isfinite(r) and np.isfinite(c) and r == int(r) and c == int(c)):
            raise ValueError(f"{name} cell ({r}, {c}) must have whole-number row and column")
        if not (0 <= r < height and 0 <= c < width):
            raise ValueError(
                f"{name} cell ({int(r)}, {int(c)}) is outside the {height}x{width} grid"
            )
    mask = np.zeros(height * width, bool)
    mask[arr[:, 0].astype(np.int64) * width + arr[:, 1].astype(np.int64)] = True
    return mask


def _name(mask: np.ndarray, width: int) -> str:
    """The first True cell of a `[S]` mask, as `(row, col)`."""
    r, c = divmod(int(np.argmax(mask)), width)
    return f"({r}, {c})"


def random_mdp(
    key: jax.Array,
    n_states: int,
    n_actions: int,
    n_successors: int,
    *,
    horizon: int | None = None,
    discount: float = 1.0,
    n_features: int | None = None,
    n_terminal: int = 0,
    state_action_features: bool = False,
) -> TabularMDP:
    """A random MDP: each (state, action) moves to `n_successors` random states.

    Successors are drawn uniformly with replacement (a repeat adds its probabilities) and
    weighted by a flat Dirichlet; the start distribution is a flat Dirichlet over the
    non-terminal states; features, if asked for, are standard normal.

    Args:
        key: a `jax.random` key.
        n_states: S.
        n_actions: A.
        n_successors: K, successors per (state, action).
        horizon: H, or None for an infinite horizon (then `discount` < 1).
        discount: γ.
        n_features: F, to add features; None for none.
        n_terminal: how many states (chosen at random) are terminal.
        state_action_features: features `[S, A, F]` rather than `[S, F]`.

    Returns:
        The `TabularMDP`.

    Raises:
        ValueError: a `key` that is not a PRNG key, or a size that is not a positive integer
            (`n_terminal` an integer in `[0, n_states)`), naming the argument.
    """
    check_key(key)
    _check_sizes(n_states=n_states, n_actions=n_actions, n_successors=n_successors)
    if n_features is not None:
        _check_sizes(n_features=n_features)
    _check_sizes(minimum=0, n_terminal=n_terminal)
    if not 0 <= n_terminal < n_states:
        raise ValueError(f"n_terminal must lie in [0, n_states), got {n_terminal}")
    if not isinstance(state_action_features, bool):
        raise ValueError(f"state_action_features must be a bool, got {state_action_features!r}")
    seed = np.asarray(jax.random.key_data(key)).ravel()
    rng = np.random.default_rng(seed.astype(np.uint64))
    s, a, k = n_states, n_actions, n_successors
    next_states = rng.integers(0, s, size=(s, a, k))
    probs = rng.dirichlet(np.ones(k), size=(s, a))
    terminal = np.zeros(s, bool)
    terminal[rng.permutation(s)[:n_terminal]] = True
    init = np.zeros(s)
    init[~terminal] = rng.dirichlet(np.ones((~terminal).sum()))
    feats = None
    if n_features is not None:
        shape = (s, a, n_features) if state_action_features else (s, n_features)
        feats = rng.standard_normal(shape)
    return TabularMDP.from_successors(
        next_states,
        probs,
        init,
        features=feats,
        horizon=horizon,
        discount=discount,
        terminal=terminal,
    )
