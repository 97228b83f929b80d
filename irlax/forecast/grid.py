"""The forecasting grid as a `TabularMDP` of the core: cells are states, the 9 moves actions.

State `row * W + col` (`Scene.cell`), action an index into `MOVES`, as `tracks.to_trajectories`
writes them. The moves are deterministic. `TabularMDP` gives every state all 9 actions, so a
move off the grid or into an impassable cell leaves the walker where it is, and
`move_rewards` makes it impossible instead: its reward is `LOG_ZERO`, whose exponential is 0.
With those rewards, `irlax.mdp.soft_value_iteration` and `irlax.mdp.occupancy` compute what
`goal_values` and `expected_visits` compute by their sweeps (the tests compare them).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from irlax.forecast.planning import LOG_ZERO, MOVE_LENGTHS, MOVES
from irlax.mdp import TabularMDP


def valid_moves(passable) -> np.ndarray:
    """bool `[H*W, 9]`: the move from a passable cell stays on the grid and lands on a passable
    cell (all False in impassable cells)."""
    passable = np.asarray(passable, bool)
    h, w = passable.shape
    rows, cols = np.divmod(np.arange(h * w), w)
    rr, cc = rows[:, None] + MOVES[None, :, 0], cols[:, None] + MOVES[None, :, 1]
    inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
    ok = np.zeros_like(inside)
    ok[inside] = passable[rr[inside], cc[inside]]
    return ok & passable.reshape(-1)[:, None]


def grid_mdp(
    passable, goal=None, *, horizon: int | None, discount: float = 1.0, init=None
) -> TabularMDP:
    """The grid of 8-neighbour moves and stay as a deterministic `TabularMDP`.

    Args:
        passable: bool `[H, W]`; moves into the other cells (and off the grid) leave the walker
            where it is (give them the reward `LOG_ZERO`, as `move_rewards` does). Impassable
            cells are terminal: no move enters them, and a terminal state takes no action
            (with all 9 impossible, their soft values would be `LOG_ZERO`, at whose magnitude
            float rounding leaves the policy rows unnormalised).
        goal: optional bool `[H, W]`, one destination region: its cells are terminal (the
            walker stops on entering it, and the move that enters is the last one paid).
        horizon: moves per episode, or None for an infinite horizon (then `discount` < 1).
            A finite horizon cuts off the walks that have not arrived by then; with costs
            above `MIN_COST` their share shrinks geometrically with the horizon, and the soft
            values approach `goal_values`.
        discount: γ.
        init: optional `[H, W]` start distribution (default: uniform over the passable cells
            outside `goal`).

    Returns:
        The MDP: `H*W` states, 9 actions (`MOVES`), `next_states [H*W, 9, 1]`, terminal in the
        goal's and the impassable cells.

    Raises:
        ValueError: bad shapes, a goal with no passable cell, or no cell to start from.
    """
    passable = np.asarray(passable, bool)
    if passable.ndim != 2 or passable.size == 0:
        raise ValueError(f"passable must be a non-empty bool [H, W] map, got {passable.shape}")
    h, w = passable.shape
    terminal = np.zeros((h, w), bool)
    if goal is not None:
        terminal = np.asarray(goal, bool)
        if terminal.shape != (h, w):
            raise ValueError(f"goal must be a bool [H, W] = {(h, w)} region, got {terminal.shape}")
        if not (terminal & passable).any():
            raise ValueError("goal has no passable cell")
    if init is None:
        start = passable & ~terminal
        if not start.any():
            raise ValueError("no passable cell outside the goal to start from")
        init = start / start.sum()
    elif np.shape(init) != (h, w):
        raise ValueError(f"init must be [H, W] = {(h, w)}, got {np.shape(init)}")
    rows, cols = np.divmod(np.arange(h * w), w)
    rr, cc = rows[:, None] + MOVES[None, :, 0], cols[:, None] + MOVES[None, :, 1]
    target = rr * w + cc
    here = np.broadcast_to(np.arange(h * w)[:, None], target.shape)
    next_states = np.where(valid_moves(passable), target, here)[..., None]
    return TabularMDP.from_successors(
        next_states,
        np.ones((h * w, len(MOVES), 1)),
        np.asarray(init, np.float64).reshape(-1),
        terminal=(terminal | ~passable).reshape(-1),
        horizon=horizon,
        discount=discount,
    )


def move_rewards(cost, passable) -> jnp.ndarray:
    """The rewards of `grid_mdp`: `r(s, a) = −len(a)·c(s)`, and `LOG_ZERO` for impossible moves.

    Args:
        cost: `[H, W]` cost per unit move.
        passable: bool `[H, W]`.

    Returns:
        `[H*W, 9]` rewards in the order of `MOVES`, of the cost's dtype.
    """
    cost = jnp.asarray(cost)
    valid = jnp.asarray(valid_moves(passable))
    step = -jnp.asarray(MOVE_LENGTHS, cost.dtype)[None] * cost.reshape(-1, 1)
    return jnp.where(valid, step, jnp.asarray(LOG_ZERO, cost.dtype))
