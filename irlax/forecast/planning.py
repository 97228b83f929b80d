"""Goal-conditioned soft planning on a grid of 8-neighbour moves and stay (Kitani et al. 2012).

A walker in cell `s` moves to one of its 8 neighbours or stays. Each move costs the cell's
cost `c(s)` times the move's length: 1 for stay and straight moves, √2 for diagonals. The
reward is `r(s, a) = −len(a) c(s)`. A walker heading for goal `g` (a set of cells) stops
on entering it. Because the moves are deterministic, the maximum-entropy path distribution
(seed 000; Ziebart et al. 2008, eq. 4) is exactly

    p(path | g) = exp(−Σ_t len(a_t) c(s_t)) / Z_g(s_0),   Z_g(s) = Σ_{paths s→g} exp(−cost),

and the soft value `V_g = log Z_g` solves the soft Bellman equation

    V_g(s) = log Σ_a exp(r(s, a) + V_g(s')),   V_g = 0 on the goal,

whose policy `π_g(a | s) = exp(r(s, a) + V_g(s') − V_g(s))` generates that path distribution
step by step (the products of `π_g` telescope to the formula above). The infinite sum `Z_g`
is finite when `Σ_a exp(−len(a) c(s)) < 1` in every cell, i.e. `c(s) > MIN_COST` ≈ 1.92.

Solver: nonlinear Gauss–Seidel ("fast sweeping"). A sweep updates the grid row by row,
each row from the freshly updated row before it, so information crosses the whole grid in
one sweep. A round is four sweeps (down, up, right, left); a handful of rounds reach
float precision where plain value iteration needs hundreds of Jacobi steps. The stay
self-loop is solved in closed form: `V = log S − log(1 − e^{−c})`, with S the other moves.

Gradients: `goal_values` is a `jax.custom_vjp`. By the implicit function theorem its
vector–Jacobian product is a forward occupancy solve with the adjoint as the source: the
gradient of `Σ_i V_{g_i}(s_i)` with respect to `c` is minus the expected number of
length-weighted moves made from each cell by walkers starting at `s_i` (Ziebart's
"expected state visitation"), solved by the same sweeps.

Arrays are `[H, W]` for a map and `[G, H, W]` for one map per goal; row 0 is the top.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from irlax._pytree import is_concrete

#: Moves as (row, column) offsets; index 0 is stay, then the compass from north, clockwise.
MOVES = np.array(
    [(0, 0), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)], dtype=np.int32
)
#: Length of each move in cells: stay costs one step of time, diagonals their length √2.
MOVE_LENGTHS = np.where(np.abs(MOVES).sum(axis=1) == 2, math.sqrt(2.0), 1.0)
MOVE_NAMES = ("stay", "N", "NE", "E", "SE", "S", "SW", "W", "NW")
N_MOVES = len(MOVES)


def _min_cost() -> float:
    """The cost at which `Σ_a exp(−len(a) c) = 1` (bisection); above it Z is finite."""
    lo, hi = 0.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if np.sum(np.exp(-MOVE_LENGTHS * mid)) > 1:
            lo = mid
        else:
            hi = mid
    return hi


#: Costs above this in every passable cell make every goal's partition function finite.
MIN_COST = _min_cost()

#: The finite stand-in for log 0 that unreachable cells hold as their value (and that
#: `grid.move_rewards` gives impossible moves): finite keeps the sweeps free of NaN. Test
#: `value > LOG_ZERO / 2` for "reachable".
LOG_ZERO = -1e30
_SQRT2 = math.sqrt(2.0)


def default_tolerance(dtype) -> float:
    """Convergence tolerance of the sweeps: 64 units in the last place of `dtype`."""
    return 64 * float(jnp.finfo(dtype).eps)


def _shift(x, offset, fill=0.0):
    """`y[..., j] = x[..., j + offset]` (offset ±1) along the last axis; `fill` past the edge."""
    pad = jnp.full_like(x[..., :1], fill)
    if offset == 1:
        return jnp.concatenate([x[..., 1:], pad], axis=-1)
    return jnp.concatenate([pad, x[..., :-1]], axis=-1)


def _shift_neg(x, offset):
    """`_shift` where the cell beyond the edge is unreachable (value `LOG_ZERO`)."""
    return _shift(x, offset, LOG_ZERO)


def _next_rows(x, reverse, fill):
    """Each row's neighbour that a sweep visits after it: the row below (above if `reverse`)."""
    pad = jnp.full_like(x[:1], fill)
    return jnp.concatenate([pad, x[:-1]]) if reverse else jnp.concatenate([x[1:], pad])


def _value_sweep(v, cost, free, fixed, reverse=False):
    """One Gauss–Seidel sweep of the soft backup, downward (upward if `reverse`), arrays
    `[rows, G, cols]`: each row from the fresh row before it and the old row after it."""
    below = _next_rows(v, reverse, LOG_ZERO)
    straight_weight = jnp.exp(-cost)[:, None]
    diagonal_weight = jnp.exp(-_SQRT2 * cost)[:, None]
    stay = jnp.log1p(-straight_weight)  # log(1 - e^{-c}): the stay loop in closed form

    def row(above, xs):
        same, down, e1, e2, s, f, is_free = xs
        straight = (above, down, _shift_neg(same, 1), _shift_neg(same, -1))
        diagonal = (_shift_neg(above, 1), _shift_neg(above, -1))
        diagonal += (_shift_neg(down, 1), _shift_neg(down, -1))
        # log Σ_a e^{−len(a) c} e^{V(s')}, with the costs factored out of the exponentials.
        m = functools.reduce(jnp.maximum, straight + diagonal)
        total = e1 * sum(jnp.exp(x - m) for x in straight)
        total = total + e2 * sum(jnp.exp(x - m) for x in diagonal)
        new = jnp.where(is_free, jnp.maximum(m + jnp.log(total) - s, LOG_ZERO), f)
        return new, new

    first = jnp.full_like(v[0], LOG_ZERO)
    xs = (v, below, straight_weight, diagonal_weight, stay, fixed, free)
    _, rows = jax.lax.scan(row, first, xs, reverse=reverse)
    return rows


def _occupancy_sweep(d, source, weights, stay, reverse=False):
    """One Gauss–Seidel sweep of `d = source + P_πᵀ d`, downward (upward if `reverse`); arrays
    are `[rows, G, cols]`.

    `weights[:, i, j]` is the probability of the move into each cell from its neighbour at
    offset `(i − 1, j − 1)`, read at the receiving cell (`[rows, 3, 3, G, cols]`, rows first
    so that the scan slices it without a copy); `stay` is the stay probability, whose loop
    is solved in closed form.

    Each row is updated twice: from the fresh row swept before it, the old row after it and
    its own old values, then once more with its left and right neighbours' fresh values, so
    that walkers who step sideways are carried along in the same sweep. Both are exact at
    the fixed point; the second halves the rounds (34 → 16 at 256×256) for a few
    multiply-adds per cell. (The value sweep does not do this: XLA fuses the exp-heavy row
    update into each shifted read of it, which triples its cost.)
    """
    below = _next_rows(d, reverse, 0.0)
    # Offsets (i − 1) of the row swept before (the carry) and of the old row after it.
    before, after = (2, 0) if reverse else (0, 2)

    def row(above, xs):
        same, down, src, w, p_stay = xs
        inflow = src
        for j, col in ((0, -1), (1, 0), (2, 1)):
            for i, line in ((before, above), (after, down)):
                inflow = inflow + w[i, j] * (line if col == 0 else _shift(line, col))

        def update(line):  # the row from `inflow` and its left and right neighbours in `line`
            side = w[1, 0] * _shift(line, -1) + w[1, 2] * _shift(line, 1)
            return (inflow + side) / (1 - p_stay)

        new = update(update(same))
        return new, new

    first = jnp.zeros_like(d[0])
    xs = (d, below, source, weights, stay)
    _, rows = jax.lax.scan(row, first, xs, reverse=reverse)
    return rows


def _transpose(x):
    return jnp.swapaxes(x, 0, 2)


def _transpose_weights(w):
    return jnp.transpose(w, (4, 2, 1, 3, 0))


def _rounds(sweep, x, args, transpose_args, tol, max_rounds, relative):
    """Rounds of down/up/right/left sweeps until the largest relative change is below `tol`.

    `x` and `args` are in the `[rows, G, cols]` layout; `transpose_args` reorients the
    arguments for the sideways sweeps. Upward sweeps scan the rows in reverse (no copies).
    """
    args_t = transpose_args(args)

    def one_round(x):
        x = sweep(sweep(x, *args), *args, reverse=True)
        x = _transpose(x)
        x = sweep(sweep(x, *args_t), *args_t, reverse=True)
        return _transpose(x)

    def cond(state):
        _, change, n = state
        return (change > tol) & (n < max_rounds)

    def body(state):
        x, _, n = state
        new = one_round(x)
        live = new > LOG_ZERO / 2
        if relative:  # to the largest entry (occupancies, at whatever scale the source has)
            largest = jnp.max(jnp.abs(jnp.where(live, new, 0)))
            scale = jnp.where(largest > 0, largest, 1)
        else:  # to each entry (values, which grow with the distance to the goal)
            scale = jnp.maximum(jnp.abs(new), 1)
        return new, jnp.max(jnp.where(live, jnp.abs(new - x) / scale, 0)), n + 1

    x, change, n = jax.lax.while_loop(cond, body, (x, jnp.asarray(jnp.inf, x.dtype), 0))
    return x, change, n


def _value_args_transpose(args):
    cost, free, fixed = args
    return (cost.T, _transpose(free), _transpose(fixed))


def _occupancy_args_transpose(args):
    source, weights, stay = args
    return (_transpose(source), _transpose_weights(weights), _transpose(stay))


def _layout(x):
    """`[G, H, W]` → the sweeps' `[H, G, W]`."""
    return jnp.swapaxes(x, 0, 1)


def _solve_values(cost, goals, passable, tol, max_rounds):
    free = _layout(passable[None] & ~goals)
    fixed = _layout(jnp.where(goals & passable[None], 0.0, LOG_ZERO).astype(cost.dtype))
    v0 = jnp.broadcast_to(fixed, free.shape)
    v, change, n = _rounds(
        _value_sweep,
        v0,
        (cost, free, fixed),
        _value_args_transpose,
        tol,
        max_rounds,
        relative=False,
    )
    return _layout(v), change, n


def move_probabilities(cost, values, goals, passable):
    """The goal-conditioned soft policy `π_g(a | s)` for every goal, cell and move.

    Args:
        cost: `[H, W]` cost per unit move.
        values: `[G, H, W]` soft values from `goal_values`.
        goals: bool `[G, H, W]`, the cells of each goal.
        passable: bool `[H, W]`.

    Returns:
        `[G, 9, H, W]` move probabilities in the order of `MOVES`. They sum to 1 in every
        reachable non-goal cell, and are 0 in goal and unreachable cells.
    """
    _, h, w = values.shape
    padded = jnp.pad(values, ((0, 0), (1, 1), (1, 1)), constant_values=LOG_ZERO)
    live = (values > LOG_ZERO / 2) & passable[None] & ~goals
    logits, valid = [], []
    for (dr, dc), length in zip(MOVES, MOVE_LENGTHS, strict=True):
        target = padded[:, 1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w]
        logits.append(target - length * cost[None])
        valid.append(live & (target > LOG_ZERO / 2))
    logits, valid = jnp.stack(logits, axis=1), jnp.stack(valid, axis=1)
    # Normalised by the backup of these values, not by `values` itself: at the fixed point the
    # two agree, but a float32 solve leaves rows off 1 by ~1e-4, and the occupancy solve of the
    # gradient amplifies that by the expected path length (hundreds of moves at 256x256).
    logits = jnp.where(valid, logits, LOG_ZERO)
    top = jnp.max(logits, axis=1, keepdims=True)
    weights = jnp.where(valid, jnp.exp(logits - top), 0.0)
    total = jnp.sum(weights, axis=1, keepdims=True)
    return weights / jnp.where(total > 0, total, 1.0)


def _inflow_weights(probs):
    """`[G, 9, H, W]` outgoing move probabilities → `[H, 3, 3, G, W]` inflow weights.

    `weights[:, i, j]` at a cell is the probability that the walker in the neighbour at
    offset `(i − 1, j − 1)` moves into the cell.
    """
    _, _, h, w = probs.shape
    index = {(int(dr), int(dc)): k for k, (dr, dc) in enumerate(MOVES)}
    padded = jnp.pad(jnp.transpose(probs, (2, 1, 0, 3)), ((1, 1), (0, 0), (0, 0), (1, 1)))
    rows = []
    for i in range(3):
        cols = []
        for j in range(3):
            # The neighbour at offset (i − 1, j − 1) moves by (1 − i, 1 − j) into the cell.
            k = index[(1 - i, 1 - j)]
            inflow = padded[i : i + h, k, :, j : j + w]  # [H, G, W]
            cols.append(jnp.zeros_like(inflow) if (i, j) == (1, 1) else inflow)
        rows.append(jnp.stack(cols, axis=1))
    return jnp.stack(rows, axis=1)


def expected_visits(probs, source, *, tol=None, max_rounds=500):
    """Expected visits to every cell before reaching the goal, from a source of walkers.

    Solves `d = source + P_πᵀ d` with the goal cells absorbing: `d[g, s]` is the expected
    number of time steps that the walkers released by `source[g]` spend in `s` (stays
    included) before entering goal `g`. Rows of `P_π` that do not sum to 1 (goal cells)
    leak their mass, which is how arrival is counted.

    Args:
        probs: `[G, 9, H, W]` move probabilities (`move_probabilities`).
        source: `[G, H, W]` walkers released in each cell (any sign; the solve is linear).
        tol: convergence tolerance on the relative change (default: 64 ulps of the dtype).
        max_rounds: cap on rounds of four sweeps.

    Returns:
        `[G, H, W]` expected visits.
    """
    tol = default_tolerance(probs.dtype) if tol is None else float(tol)
    return _expected_visits(probs, source, tol, int(max_rounds))


@functools.partial(jax.jit, static_argnums=(2, 3))
def _expected_visits(probs, source, tol, max_rounds):
    weights = _inflow_weights(probs)
    stay = _layout(probs[:, 0])
    d, _, _ = _rounds(
        _occupancy_sweep,
        _layout(source),
        (_layout(source), weights, stay),
        _occupancy_args_transpose,
        tol,
        max_rounds,
        relative=True,
    )
    return _layout(d)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def _goal_values(cost, goals, passable, tol, max_rounds):
    return _solve_values(cost, goals, passable, tol, max_rounds)[0]


def _goal_values_fwd(cost, goals, passable, tol, max_rounds):
    values = _goal_values(cost, goals, passable, tol, max_rounds)
    return values, (cost, values, goals, passable)


def _goal_values_bwd(tol, max_rounds, residuals, cotangent):
    cost, values, goals, passable = residuals
    probs = move_probabilities(cost, values, goals, passable)
    live = (values > LOG_ZERO / 2) & ~goals & passable[None]
    visits = expected_visits(probs, jnp.where(live, cotangent, 0), tol=tol, max_rounds=max_rounds)
    # dV/dr(s, a) is the occupancy of (s, a); r(s, a) = −len(a) c(s).
    step_length = jnp.einsum("gahw,a->ghw", probs, jnp.asarray(MOVE_LENGTHS, probs.dtype))
    return (-(visits * step_length).sum(0), None, None)


_goal_values.defvjp(_goal_values_fwd, _goal_values_bwd)
_goal_values_jit = jax.jit(_goal_values, static_argnums=(3, 4))


def goal_values(cost, goals, passable=None, *, tol=None, max_rounds=500):
    """Soft values `V_g(s) = log Z_g(s)` of reaching each goal from each cell.

    Differentiable in `cost` (reverse mode, by the implicit function theorem).

    Args:
        cost: `[H, W]` cost per unit move, above `MIN_COST` in passable cells.
        goals: bool `[G, H, W]`, the cells of each goal (a goal may be several cells).
        passable: bool `[H, W]`; impassable cells are never entered (default: all passable).
        tol: convergence tolerance on the largest change of a value in a round.
        max_rounds: cap on rounds of four sweeps.

    Returns:
        `[G, H, W]` values: 0 on each goal, about `LOG_ZERO` (−1e30) where the goal is
        unreachable.

    Raises:
        ValueError: shapes disagree, a goal has no passable cell, or costs are at or below
            `MIN_COST` (checked when the inputs are concrete).
    """
    cost = jnp.asarray(cost)
    if not jnp.issubdtype(cost.dtype, jnp.floating):
        cost = cost.astype(jnp.result_type(float))
    goals = jnp.asarray(goals, bool)
    passable = jnp.ones(cost.shape, bool) if passable is None else jnp.asarray(passable, bool)
    check_inputs(cost, goals, passable)
    tol = default_tolerance(cost.dtype) if tol is None else float(tol)
    return _goal_values_jit(cost, goals, passable, tol, int(max_rounds))


def check_inputs(cost, goals, passable) -> None:
    """Shape checks, and value checks when the inputs are concrete (never inside jit)."""
    if cost.ndim != 2:
        raise ValueError(f"cost must be an [H, W] map, got shape {cost.shape}")
    if goals.ndim != 3 or goals.shape[1:] != cost.shape:
        raise ValueError(f"goals must be [G, H, W] = [G, {cost.shape}], got {goals.shape}")
    if passable.shape != cost.shape:
        raise ValueError(f"passable must have the cost's shape {cost.shape}, got {passable.shape}")
    if not is_concrete(cost, goals, passable):
        return
    c, g, p = np.asarray(cost), np.asarray(goals), np.asarray(passable)
    empty = np.flatnonzero(~(g & p[None]).any(axis=(1, 2)))
    if empty.size:
        raise ValueError(f"goal(s) {empty.tolist()} have no passable cell")
    low = p & ~(c > MIN_COST)
    if low.any():
        r, k = np.argwhere(low)[0]
        raise ValueError(
            f"cost must exceed MIN_COST = {MIN_COST:.4f} in every passable cell (else walks "
            f"never end and Z is infinite); cell ({r}, {k}) has {c[r, k]}"
        )
