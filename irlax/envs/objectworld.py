"""Benchmark worlds of nonlinear IRL: objectworld and binaryworld, and noisy experts in them.

Objectworld is from Levine, Popović & Koltun (2011), "Nonlinear Inverse Reinforcement Learning
with Gaussian Processes", §6; binaryworld and the noisy experts are from Wulfmeier, Ondrúška &
Posner (2016), "Maximum Entropy Deep Inverse Reinforcement Learning", §5. In both worlds the
true reward is a nonlinear function of the features, so a linear reward cannot represent it.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from irlax._checks import check_key
from irlax._pytree import float_dtype
from irlax.data import Trajectories
from irlax.envs.tabular import GRID_MOVES, grid_successors
from irlax.mdp.core import TabularMDP
from irlax.mdp.planning import value_iteration
from irlax.mdp.sampling import sample_trajectories

OBJECTWORLD_FEATURES = ("continuous", "discrete")
"""Feature kinds of `objectworld`."""

OBJECT_DENSITY = 25 / 1024
"""Default objects per cell of `objectworld`: Levine et al. (2011) used about 25 on 32×32."""

# Radii of the true objectworld reward (Levine et al. 2011, §6): near colour 0 within this...
_NEAR_FIRST = 3.0
# ...and colour 1 within this gives +1.
_NEAR_SECOND = 2.0
# Objects per chunk when computing nearest distances: bounds memory at S × this.
_CHUNK = 256


class ObjectworldLayout(NamedTuple):
    """Where the objects of an objectworld lie and what colours they have.

    Attributes:
        cells: int `[N, 2]` (row, col) of each object, all distinct.
        inner_colors: int `[N]` inner colour of each object, in `[0, n_colors)`.
        outer_colors: int `[N]` outer colour of each object, in `[0, n_colors)`.
    """

    cells: np.ndarray
    inner_colors: np.ndarray
    outer_colors: np.ndarray


def objectworld_layout(
    key: jax.Array, size: int = 32, n_colors: int = 2, *, n_objects: int | None = None
) -> ObjectworldLayout:
    """The objects that `objectworld` with the same key, size, colours and count places.

    Objects sit at distinct cells drawn uniformly; inner and outer colours are drawn
    independently and uniformly from `n_colors`.

    Args:
        key: a `jax.random` key; the same key gives the same layout.
        size: the grid is `size × size`, at least 2.
        n_colors: number of colours C, at least 2.
        n_objects: number of objects N in `[1, size²]`; None for
            `max(1, round(OBJECT_DENSITY · size²))` (25 on 32×32, as in Levine et al. 2011).

    Returns:
        An `ObjectworldLayout` (`cells [N, 2]`, `inner_colors [N]`, `outer_colors [N]`).

    Raises:
        ValueError: naming `size`, `n_colors` or `n_objects`.
    """
    check_key(key)
    _check_size(size)
    if isinstance(n_colors, bool) or int(n_colors) != n_colors or n_colors < 2:
        raise ValueError(f"n_colors must be an integer >= 2, got {n_colors!r}")
    size, n_colors = int(size), int(n_colors)
    if n_objects is None:
        n_objects = max(1, round(OBJECT_DENSITY * size * size))
    if isinstance(n_objects, bool) or int(n_objects) != n_objects:
        raise ValueError(f"n_objects must be an integer, got {n_objects!r}")
    if not 1 <= n_objects <= size * size:
        raise ValueError(
            f"n_objects must lie in [1, size² = {size * size}] (one object per cell at most), "
            f"got {n_objects}"
        )
    rng = _rng(key)
    flat = rng.choice(size * size, size=int(n_objects), replace=False)
    cells = np.stack(np.divmod(flat, size), axis=-1).astype(np.int32)
    inner = rng.integers(0, n_colors, size=int(n_objects)).astype(np.int32)
    outer = rng.integers(0, n_colors, size=int(n_objects)).astype(np.int32)
    return ObjectworldLayout(cells=cells, inner_colors=inner, outer_colors=outer)


def objectworld(
    key: jax.Array,
    size: int = 32,
    n_colors: int = 2,
    *,
    n_objects: int | None = None,
    determinism: float = 0.7,
    discount: float = 0.9,
    horizon: int | None = None,
    features: str = "continuous",
) -> tuple[TabularMDP, jnp.ndarray]:
    """Objectworld (Levine et al. 2011, §6): a grid of coloured objects and a nonlinear reward.

    A `size × size` grid, state `row * size + col`, with the 5 actions of `GRID_ACTIONS` (up,
    down, left, right, stay). With probability `determinism` the chosen move happens, otherwise
    one of the 5 moves chosen uniformly (the chosen one included); a move into the border stays
    in place. All actions share one successor list, so `next_states` is `[S, 1, 5]`. Starts are
    uniform over cells. Objects are placed as by `objectworld_layout` with the same arguments.

    Features, with `d_in[c](s)` (`d_out[c](s)`) the Euclidean distance from cell s to the
    nearest object whose inner (outer) colour is c — `size·√2`, beyond any distance on the grid,
    when no object has that colour:

    - "continuous": `[S, 2C]`, the distances `d_in[0..C-1]` then `d_out[0..C-1]`.
    - "discrete": `[S, 2C·size]`, feature `j·size + (d−1)` is the indicator `dist_j ≤ d` for
      the j-th continuous distance and `d = 1..size` (Levine's binary features).

    True state reward, from inner colours as in Levine et al.: +1 where `d_in[0] ≤ 3` and
    `d_in[1] ≤ 2`; −1 where `d_in[0] ≤ 3` only; 0 elsewhere (distances inclusive, Euclidean, so
    the discrete features represent the reward exactly as a logical function of two of them).

    Args:
        key: a `jax.random` key; the same key gives the same world.
        size: grid side, at least 2.
        n_colors: number of colours C, at least 2.
        n_objects: number of objects; None for `max(1, round(OBJECT_DENSITY · size²))` (25 on
            32×32).
        determinism: probability in [0, 1] that the chosen move happens.
        discount: γ; must be < 1 when `horizon` is None.
        horizon: steps per episode, or None for an infinite horizon.
        features: "continuous" or "discrete".

    Returns:
        `(mdp, true_reward)`: the `TabularMDP` with float features in the default dtype, and
        the true reward `[S]` in that dtype. A layout without an object of the first inner
        colour has a reward of 0 everywhere (a warning says so): 2 keys in 64 on 16×16.

    Raises:
        ValueError: naming the bad argument.
    """
    check_key(key)
    if features not in OBJECTWORLD_FEATURES:
        raise ValueError(f"features must be one of {OBJECTWORLD_FEATURES}, got {features!r}")
    _check_determinism(determinism)
    layout = objectworld_layout(key, size, n_colors, n_objects=n_objects)
    size = int(size)
    distances = np.concatenate(
        [
            _nearest_distances(size, layout.cells, layout.inner_colors, int(n_colors)),
            _nearest_distances(size, layout.cells, layout.outer_colors, int(n_colors)),
        ],
        axis=-1,
    )  # [S, 2C]
    if features == "continuous":
        feats = distances
    else:
        thresholds = np.arange(1, size + 1)
        feats = (distances[:, :, None] <= thresholds).reshape(size * size, -1)
    near_first = distances[:, 0] <= _NEAR_FIRST
    near_second = distances[:, 1] <= _NEAR_SECOND
    reward = np.where(near_first, np.where(near_second, 1.0, -1.0), 0.0)
    if not reward.any():
        warnings.warn(
            f"this objectworld's true reward is 0 in every state (none of its "
            f"{len(layout.cells)} objects has the first inner colour): there is nothing to "
            "learn from it; draw another key or place more objects (n_objects)",
            stacklevel=2,
        )
    mdp = _noisy_grid(size, determinism, discount, horizon, feats.astype(np.float64))
    return mdp, jnp.asarray(reward, float_dtype())


def binaryworld(
    key: jax.Array,
    size: int = 32,
    *,
    determinism: float = 0.7,
    discount: float = 0.9,
    horizon: int | None = None,
    p_blue: float = 0.5,
) -> tuple[TabularMDP, jnp.ndarray]:
    """Binaryworld (Wulfmeier et al. 2016, §5): reward from the pattern of a 3×3 neighbourhood.

    Each cell is blue with probability `p_blue`, else red. The features of a cell are the
    colours (1 blue, 0 red) of the 9 cells of its 3×3 neighbourhood in row-major order, offsets
    `(dr, dc)` in `(-1, 0, 1)²`, so feature 4 is the cell's own colour; cells outside the grid
    count as red. The true state reward is +1 where exactly 4 of the 9 are blue, −1 where
    exactly 5 are, 0 elsewhere. Dynamics and starts are those of `objectworld`.

    Args:
        key: a `jax.random` key; the same key gives the same world.
        size: grid side, at least 2.
        determinism: probability in [0, 1] that the chosen move happens.
        discount: γ; must be < 1 when `horizon` is None.
        horizon: steps per episode, or None for an infinite horizon.
        p_blue: probability in [0, 1] that a cell is blue.

    Returns:
        `(mdp, true_reward)`: the `TabularMDP` with binary features `[S, 9]` in the default
        float dtype, and the true reward `[S]` in that dtype.

    Raises:
        ValueError: naming the bad argument.
    """
    check_key(key)
    _check_size(size)
    _check_determinism(determinism)
    if not 0.0 <= p_blue <= 1.0:
        raise ValueError(f"p_blue must lie in [0, 1], got {p_blue}")
    size = int(size)
    blue = _rng(key).random((size, size)) < p_blue
    padded = np.pad(blue, 1, constant_values=False)  # outside the grid is red
    feats = np.stack(
        [
            padded[1 + dr : 1 + dr + size, 1 + dc : 1 + dc + size].reshape(-1)
            for dr in (-1, 0, 1)
            for dc in (-1, 0, 1)
        ],
        axis=-1,
    ).astype(np.float64)
    n_blue = feats.sum(axis=-1)
    reward = np.where(n_blue == 4, 1.0, np.where(n_blue == 5, -1.0, 0.0))
    mdp = _noisy_grid(size, determinism, discount, horizon, feats)
    return mdp, jnp.asarray(reward, float_dtype())


def noisy_expert_demos(
    mdp: TabularMDP,
    reward,
    n: int,
    key: jax.Array,
    *,
    length: int | None,
    epsilon: float = 0.3,
) -> Trajectories:
    """Demonstrations of an optimal policy that takes a random action a fraction of the time.

    Wulfmeier et al. (2016), §5: "the optimal policy with 30% random actions". The policy is
    `π = (1 − ε)·π* + ε/A`, with `π*` the greedy policy of `value_iteration(mdp, reward)` (ties
    split evenly); stationary `[S, A]` for an infinite horizon, per step `[H, S, A]` for a
    finite one. Episodes are drawn by `sample_trajectories`.

    Args:
        mdp: the MDP.
        reward: `[S]` or `[S, A]` reward the expert maximises.
        n: number of trajectories.
        key: a `jax.random` key; the same key gives the same demonstrations.
        length: steps T per trajectory; None for the MDP's horizon (finite horizons only).
        epsilon: ε in [0, 1], the probability of a uniformly random action.

    Returns:
        `Trajectories` with int32 observations `[n, T+1]` and actions `[n, T]`.

    Raises:
        ValueError: a bad `epsilon`, or as `value_iteration` and `sample_trajectories`.
    """
    check_key(key)
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must lie in [0, 1], got {epsilon}")
    plan = value_iteration(mdp, reward)
    policy = (1.0 - epsilon) * jnp.exp(plan.log_policy) + epsilon / mdp.n_actions
    return sample_trajectories(mdp, jnp.log(policy), n, key, length=length)


def _rng(key: jax.Array) -> np.random.Generator:
    """A numpy generator determined by the key, as `random_mdp` makes one."""
    seed = np.asarray(jax.random.key_data(key)).ravel()
    return np.random.default_rng(seed.astype(np.uint64))


def _check_size(size) -> None:
    if isinstance(size, bool) or int(size) != size or size < 2:
        raise ValueError(f"size must be an integer >= 2, got {size!r}")


def _check_determinism(determinism) -> None:
    if not 0.0 <= determinism <= 1.0:
        raise ValueError(f"determinism must lie in [0, 1], got {determinism}")


def _nearest_distances(
    size: int, cells: np.ndarray, colors: np.ndarray, n_colors: int
) -> np.ndarray:
    """`[S, C]` Euclidean distance from each cell to the nearest object of each colour."""
    rows, cols = np.divmod(np.arange(size * size), size)
    out = np.full((size * size, n_colors), size * np.sqrt(2.0))
    for c in range(n_colors):
        own = cells[colors == c]
        best = np.full(size * size, np.inf)
        for start in range(0, len(own), _CHUNK):
            r, q = own[start : start + _CHUNK].T
            sq = (rows[:, None] - r) ** 2 + (cols[:, None] - q) ** 2
            best = np.minimum(best, sq.min(axis=1))
        if len(own):
            out[:, c] = np.sqrt(best)
    return out


def _noisy_grid(size: int, determinism: float, discount: float, horizon, feats) -> TabularMDP:
    """The `size × size` grid whose chosen move happens w.p. `determinism`, else a random one."""
    n = size * size
    next_states = grid_successors(size, size)[:, None, :]  # [S, 1, 5]
    n_moves = len(GRID_MOVES)
    row = determinism * np.eye(n_moves) + (1.0 - determinism) / n_moves
    probs = np.broadcast_to(row, (n, n_moves, n_moves))
    return TabularMDP.from_successors(
        next_states,
        probs,
        np.full(n, 1.0 / n),
        features=feats,
        horizon=horizon,
        discount=discount,
    )
