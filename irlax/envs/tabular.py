"""Builders of tabular worlds: grids and random MDPs."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np

from irlax.mdp.core import TabularMDP

GRID_ACTIONS = ("up", "down", "left", "right", "stay")
"""Action names of `gridworld`, in index order. "up" decreases the row."""

GRID_MOVES = np.array([(-1, 0), (1, 0), (0, -1), (0, 1), (0, 0)], dtype=np.int32)
"""`[5, 2]` (row, column) offset of each of `GRID_ACTIONS`, in index order."""


def grid_successors(height: int, width: int) -> np.ndarray:
    """The cell each of `GRID_ACTIONS` leads to from every cell of a `height × width` grid.

    Cells are numbered `row * width + col`; a move into the border leaves the agent where it
    is (`gridworld`, `objectworld`).

    Returns:
        int32 `[height * width, 5]` successor cells, actions in the order of `GRID_ACTIONS`.
    """
    rows, cols = np.divmod(np.arange(height * width), width)
    succ_r = np.clip(rows[:, None] + GRID_MOVES[None, :, 0], 0, height - 1)
    succ_c = np.clip(cols[:, None] + GRID_MOVES[None, :, 1], 0, width - 1)
    return (succ_r * width + succ_c).astype(np.int32)


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
) -> TabularMDP:
    """A grid of cells with 5 actions: up, down, left, right and stay (`GRID_ACTIONS`).

    State `row * width + col`. A move into the border leaves the agent where it is. With
    probability `slip` the agent instead moves to one of its 4 neighbours chosen uniformly
    (again staying put at a border). With slip, all actions of a cell share one successor list
    (the cell and its 4 neighbours), so the MDP uses the compact `next_states [S, 1, 5]`
    layout; without, each action has its single successor (`[S, 5, 1]`).

    Args:
        height: number of rows.
        width: number of columns.
        slip: probability in [0, 1] of a random move instead of the chosen one.
        horizon: steps per episode, or None for an infinite horizon (then discount < 1).
        discount: γ.
        goal: a cell or list of cells that are terminal (the episode ends on entering).
        start: the start cell; None starts uniformly at random among non-terminal cells.
        features: None; "onehot" for `[S, S]` indicator features; "coordinates" for `[S, 2]`
            (row, col) scaled to [0, 1].

    Returns:
        The `TabularMDP`.
    """
    for name, v in (("height", height), ("width", width)):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if not 0.0 <= slip <= 1.0:
        raise ValueError(f"slip must lie in [0, 1], got {slip}")
    n = height * width
    succ = grid_successors(height, width)  # [S, 5]: the cell after each move
    if slip == 0.0:  # deterministic: one successor per action is smallest
        next_states = succ[:, :, None]
        probs = np.ones((n, 5, 1), np.float32)
    else:
        next_states = succ[:, None, :]
        row = (1.0 - slip) * np.eye(5) + slip * np.array([0.25, 0.25, 0.25, 0.25, 0.0])
        probs = np.broadcast_to(row.astype(np.float32), (n, 5, 5))
    terminal = np.zeros(n, bool)
    if goal is not None:
        cells = [goal] if np.ndim(goal) == 1 else list(goal)
        for r, c in cells:
            terminal[_cell(height, width, r, c, "goal")] = True
    if start is None:
        if terminal.all():
            raise ValueError("goal covers every cell; there is nowhere to start")
        init = (~terminal) / (~terminal).sum()
    else:
        init = np.zeros(n)
        init[_cell(height, width, *start, "start")] = 1.0
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


def _cell(height: int, width: int, r: int, c: int, name: str) -> int:
    if not (0 <= r < height and 0 <= c < width):
        raise ValueError(f"{name} cell ({r}, {c}) is outside the {height}x{width} grid")
    return int(r) * width + int(c)


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
    """
    if not 0 <= n_terminal < n_states:
        raise ValueError(f"n_terminal must lie in [0, n_states), got {n_terminal}")
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
