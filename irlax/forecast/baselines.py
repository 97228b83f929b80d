"""Baseline forecasters, each a probability model over the 9 moves with fitted noise.

Every baseline gives `log p(a_t | s_0 … s_t)` for each move of a track, so its held-out
NLL is defined, and samples continuations the same way the learned model does:

- `constant_velocity`: the next move is near the last one: `p(a) ∝ exp(−|δ_a − δ_prev|² / 2σ²)`
  over the valid moves (a discretised Gaussian around the current velocity); σ fitted.
- `random_walk`: stay with a fitted probability, otherwise a uniform valid move.
- `behaviour_cloning`: `p(a | s) ∝ count(s, a) + α` over the valid moves: the tabular
  behaviour cloning of `irlax.algorithms.bc` on the scene's grid MDP (`grid.grid_mdp`),
  conditioned on the moves that are possible; α fitted on a held-out fifth of the tracks.
- `shortest_path`: the goal-conditioned model with one uniform cost (a bias feature alone),
  fitted by maximum likelihood: soft shortest paths to each destination.

Moves into impassable cells or off the grid have probability 0 under every model.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from irlax._pytree import pytree_dataclass
from irlax.algorithms import bc
from irlax.forecast.grid import grid_mdp, valid_moves
from irlax.forecast.model import ForecastModel, fit
from irlax.forecast.planning import MOVES
from irlax.forecast.scene import Scene
from irlax.forecast.tracks import to_trajectories

#: The "previous move" before a track's first move (`sequence_log_probs`, `ConstantVelocity`).
NO_MOVE = -1


@pytree_dataclass
class MoveTable:
    """`log p(a | s)`, one row of 9 per cell (behaviour cloning, random walk)."""

    log_probs: jnp.ndarray  # [H*W, 9]

    def logits(self, cell, prev):
        del prev
        return self.log_probs[cell]


@pytree_dataclass
class ConstantVelocity:
    """The next move is a discretised Gaussian around the last one."""

    valid: jnp.ndarray  # bool [H*W, 9]
    sigma: jnp.ndarray  # scalar, in cells per move

    def logits(self, cell, prev):
        moves = jnp.asarray(MOVES, self.sigma.dtype)
        last = moves[jnp.maximum(prev, 0)]
        logits = -jnp.sum((moves - last) ** 2, axis=1) / (2 * self.sigma**2)
        logits = jnp.where(prev == NO_MOVE, 0.0, logits)
        logits = jnp.where(self.valid[cell], logits, -jnp.inf)
        return logits - jax.scipy.special.logsumexp(logits)


def _conditioned(weights, valid) -> MoveTable:
    """`p(a | s) ∝ weights[s, a]` over the valid moves (−inf log-probability elsewhere)."""
    weights = np.where(valid, weights, 0.0)
    total = weights.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_probs = np.where(total > 0, np.log(weights / np.where(total > 0, total, 1)), -np.inf)
    return MoveTable(jnp.asarray(log_probs, jnp.result_type(float)))


def _nll(model, paths, shape) -> float:
    t = to_trajectories(paths, shape)
    log_probs = sequence_log_probs(model, t.observations, t.actions, t.lengths)
    return float(-log_probs.sum() / t.lengths.sum())


@jax.jit
def sequence_log_probs(model, cells, moves, lengths) -> jnp.ndarray:
    """`[N, T]` log p(a_t | s_t, a_{t−1}) of each move under a goal-free baseline.

    Args:
        model: a `MoveTable` or `ConstantVelocity`.
        cells: int `[N, T+1]` flat cells; moves: int `[N, T]` move indices; lengths: `[N]`.

    Returns:
        the log-probabilities, 0 past each track's length.
    """

    def one(cells, moves, n):
        prev = jnp.concatenate([jnp.asarray([NO_MOVE]), moves[:-1]])
        logits = jax.vmap(model.logits)(cells[:-1], prev)
        out = jnp.take_along_axis(logits, moves[:, None], axis=1)[:, 0]
        return jnp.where(jnp.arange(moves.shape[0]) < n, out, 0.0)

    return jax.vmap(one)(cells, moves, lengths)


def random_walk(scene: Scene, paths: Sequence[np.ndarray]) -> MoveTable:
    """Stay with the training tracks' stay frequency (add-one), else a uniform valid move."""
    t = to_trajectories(paths, scene.shape)
    moves = np.asarray(t.actions)[np.asarray(t.mask)]
    p_stay = (np.sum(moves == 0) + 1) / (len(moves) + 2)
    valid = valid_moves(scene.passable)
    per_move = np.concatenate([[p_stay], np.full(8, (1 - p_stay) / 8)])
    return _conditioned(np.broadcast_to(per_move, valid.shape), valid)


def behaviour_cloning(scene: Scene, paths: Sequence[np.ndarray], *, seed: int = 0) -> MoveTable:
    """Tabular behaviour cloning on the scene's grid, α chosen on a held-out fifth of the tracks.

    `irlax.algorithms.bc` fits `π(a | s) = (n(s, a) + α) / (n(s) + 9α)` from the cell–move
    counts; conditioned on the valid moves (whose counts are the only non-zero ones) that is
    `p(a | s) ∝ n(s, a) + α` over them.

    Args:
        scene: the semantic map (its passable cells decide the valid moves).
        paths: training tracks, int `[n_i, 2]` (row, col) cells one move apart.
        seed: seed of the held-out split that chooses α among 0.01 … 3.

    Returns:
        a `MoveTable` of `log p(a | s)`, `[H*W, 9]`.
    """
    valid = valid_moves(scene.passable)
    # bc reads only the MDP's sizes; the infinite horizon keeps its occupancy check [S, A].
    mdp = grid_mdp(scene.passable, horizon=None, discount=0.5)

    def cloned(tracks, alpha) -> MoveTable:
        demos = to_trajectories(tracks, scene.shape)
        result = bc.fit(mdp, demos, key=jax.random.key(0), smoothing=alpha)
        return _conditioned(np.exp(np.asarray(result.params, np.float64)), valid)

    order = np.random.default_rng(seed).permutation(len(paths))
    n_val = max(1, len(paths) // 5) if len(paths) > 1 else 0
    val, train = [paths[i] for i in order[:n_val]], [paths[i] for i in order[n_val:]]
    alpha = 1.0
    if val:
        alphas = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
        alpha = min(alphas, key=lambda a: _nll(cloned(train, a), val, scene.shape))
    return cloned(paths, alpha)


def constant_velocity(scene: Scene, paths: Sequence[np.ndarray]) -> ConstantVelocity:
    """σ of the discretised Gaussian around the last move, by maximum likelihood on a grid."""
    valid = jnp.asarray(valid_moves(scene.passable))
    dtype = jnp.result_type(float)
    sigmas = np.geomspace(0.2, 5.0, 15)
    nlls = [
        _nll(ConstantVelocity(valid, jnp.asarray(s, dtype)), paths, scene.shape) for s in sigmas
    ]
    return ConstantVelocity(valid, jnp.asarray(sigmas[int(np.argmin(nlls))], dtype))


def shortest_path(scene: Scene, paths: Sequence[np.ndarray], goals, **options) -> ForecastModel:
    """The goal-conditioned model with a uniform cost (a bias feature alone), fitted."""
    ones = jnp.ones((*scene.shape, 1), jnp.result_type(float))
    return fit(scene, paths, goals, features=ones, **options)
