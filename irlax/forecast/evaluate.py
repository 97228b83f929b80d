"""Held-out evaluation of forecasters: NLL per step, modified Hausdorff distance, destinations.

Protocol (Kitani et al. 2012, §5), the same for the learned model and every baseline:

- **NLL per step**: `−Σ_t log p(a_t | s_0 … s_t)` over all moves of the held-out tracks,
  divided by the number of moves. For goal-conditioned models the destination is unknown
  and marginalised by its posterior at every step.
- **MHD**: observe the first `observe` fraction of a track's moves, sample `n_samples`
  continuations as long as the true one, and take the modified Hausdorff distance
  (Dubuisson & Jain 1994: the larger of the two mean nearest-point distances) between each
  sample and the true continuation, in metres; averaged over samples and tracks.
- **Destination accuracy**: after the same prefix, the predicted destination is the
  posterior's mode for goal-conditioned models; for goal-free baselines it is the majority
  over their samples of the first destination entered (or, failing that, the one nearest
  to where the sample ends). Truth: the region the track ends in, or the nearest one.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from irlax._checks import check_key
from irlax.config import is_int, is_real
from irlax.forecast.baselines import NO_MOVE, sequence_log_probs
from irlax.forecast.model import (
    ForecastModel,
    assign_goals,
    goal_log_posteriors,
    move_log_probs,
    sample_walk,
)
from irlax.forecast.planning import MOVES
from irlax.forecast.tracks import to_trajectories


def nearest_goal(goals) -> np.ndarray:
    """int `[H*W]`: for each cell, the destination region with the nearest cell."""
    goals = np.asarray(goals, bool)
    g, h, w = goals.shape
    rows, cols = np.divmod(np.arange(h * w), w)
    best = np.full(h * w, np.inf)
    out = np.zeros(h * w, np.int64)
    for k in range(g):
        gr, gc = np.nonzero(goals[k])
        for start in range(0, len(gr), 256):
            d = np.min(
                (rows[:, None] - gr[None, start : start + 256]) ** 2
                + (cols[:, None] - gc[None, start : start + 256]) ** 2,
                axis=1,
            )
            better = d < best
            best[better], out[better] = d[better], k
    return out


def evaluate(
    predictors: dict,
    paths,
    goals,
    *,
    key: jax.Array,
    cell_size: float = 1.0,
    observe: float = 0.5,
    n_samples: int = 16,
) -> dict[str, dict[str, float]]:
    """Score forecasters on held-out tracks.

    Args:
        predictors: name → a `ForecastModel` or a goal-free baseline (`baselines`).
        paths: held-out int `[n_i, 2]` (row, col) cell paths.
        goals: bool `[G, H, W]` destination regions (the models').
        key: PRNG key for the sampled continuations (the same for every predictor).
        cell_size: metres per cell, for the MHD.
        observe: the fraction of each track's moves observed before forecasting.
        n_samples: continuations sampled per track.

    Returns:
        name → {"nll_per_step", "mhd", "destination_accuracy", "n_tracks"}.

    Raises:
        ValueError: no held-out track has at least two moves, a bad track (`tracks.check_paths`),
            a `key` that is not a PRNG key, or `observe` not in (0, 1).
    """
    check_key(key)
    if not is_real(observe) or not 0 < observe < 1:
        raise ValueError(f"observe must be a number in (0, 1), got {observe!r}")
    if not is_int(n_samples) or n_samples < 1:
        raise ValueError(f"n_samples must be an integer >= 1, got {n_samples!r}")
    if not (is_real(cell_size) and math.isfinite(cell_size) and cell_size > 0):
        raise ValueError(f"cell_size must be a finite number > 0, got {cell_size!r}")
    goals = np.asarray(goals, bool)
    w = goals.shape[2]
    paths, dest = assign_goals(paths, goals)
    keep = [i for i, p in enumerate(paths) if len(p) >= 3]
    if not keep:
        raise ValueError("no held-out track has at least two moves")
    paths = [paths[i] for i in keep]
    nearest = nearest_goal(goals)
    truth = np.asarray(
        [
            d if d >= 0 else nearest[p[-1, 0] * w + p[-1, 1]]
            for p, d in zip(paths, dest[keep], strict=True)
        ]
    )
    tracks = to_trajectories(paths, goals.shape[1:])
    cells, moves, lengths = tracks.observations, tracks.actions, tracks.lengths
    observed = jnp.clip(jnp.ceil(lengths * observe).astype(jnp.int32), 1, lengths - 1)
    keys = jax.random.split(key, len(paths))
    results = {}
    for name, model in predictors.items():
        goal_aware = isinstance(model, ForecastModel)
        if goal_aware:
            log_probs = jax.vmap(move_log_probs, (None, 0, 0))(model, cells, lengths)
            guess, samples = _goal_model_forecasts(model, cells, observed, keys, n_samples)
        else:
            log_probs = sequence_log_probs(model, cells, moves, lengths)
            samples = _free_model_forecasts(model, cells, moves, observed, keys, n_samples, w)
            guess = _vote(np.asarray(samples), np.asarray(lengths - observed), goals, nearest)
        mhd = np.asarray(_mhd(samples, cells, observed, lengths, w)) * cell_size
        results[name] = {
            "nll_per_step": float(-log_probs.sum() / lengths.sum()),
            "mhd": float(mhd.mean()),
            "destination_accuracy": float(np.mean(np.asarray(guess) == truth)),
            "n_tracks": len(paths),
        }
    return results


@functools.partial(jax.jit, static_argnums=(4,))
def _goal_model_forecasts(model, cells, observed, keys, n_samples):
    """Posterior modes `[N]` and sampled continuations `[N, K, T+1]` (flat cells)."""
    steps = cells.shape[1] - 1

    def one(cells, m, key):
        log_post = goal_log_posteriors(model, cells, m)[-1]
        key_goal, key_walk = jax.random.split(key)
        goal = jax.random.categorical(key_goal, log_post, shape=(n_samples,))
        walks, _ = jax.vmap(lambda g, k: sample_walk(model, g, cells[m], k, steps))(
            goal, jax.random.split(key_walk, n_samples)
        )
        return jnp.argmax(log_post), walks

    return jax.vmap(one)(cells, observed, keys)


@functools.partial(jax.jit, static_argnums=(5, 6))
def _free_model_forecasts(model, cells, moves, observed, keys, n_samples, width):
    """Sampled continuations `[N, K, T+1]` (flat cells) of a goal-free baseline."""
    steps = cells.shape[1] - 1
    offsets = jnp.asarray(MOVES[:, 0] * width + MOVES[:, 1])

    def walk(cell, prev, key):
        def step(carry, k):
            cell, prev = carry
            logits = model.logits(cell, prev)
            move = jax.random.categorical(k, logits)
            stuck = ~jnp.isfinite(logits).any()
            cell = jnp.where(stuck, cell, cell + offsets[move]).astype(cell.dtype)
            return (cell, jnp.where(stuck, prev, move).astype(prev.dtype)), cell

        _, path = jax.lax.scan(step, (cell, prev), jax.random.split(key, steps))
        return jnp.concatenate([cell[None], path])

    def one(cells, moves, m, key):
        prev = jnp.where(m > 0, moves[m - 1], NO_MOVE)
        return jax.vmap(lambda k: walk(cells[m], prev, k))(jax.random.split(key, n_samples))

    return jax.vmap(one)(cells, moves, observed, keys)


def _vote(samples, remaining, goals, nearest) -> np.ndarray:
    """Majority destination of each track's samples (first entered, else nearest the end)."""
    g = goals.shape[0]
    flat_goals = goals.reshape(g, -1)
    region = np.where(flat_goals.any(0), np.argmax(flat_goals, axis=0), -1)  # cell → goal
    guesses = []
    for walks, r in zip(samples, remaining, strict=True):
        votes = np.zeros(g, np.int64)
        for path in walks[:, : r + 1]:
            entered = region[path]
            hit = entered[entered >= 0]
            votes[hit[0] if hit.size else nearest[path[-1]]] += 1
        guesses.append(int(np.argmax(votes)))
    return np.asarray(guesses)


@functools.partial(jax.jit, static_argnums=(4,))
def _mhd(samples, cells, observed, lengths, width):
    """`[N]` mean over samples of the modified Hausdorff distance to the true continuation."""
    t = jnp.arange(cells.shape[1])

    def one(walks, cells, m, n):
        # True continuation: cells m … n; sample: its first n − m moves (cells 0 … n − m).
        truth = jnp.roll(cells, -m)
        in_truth = t <= n - m
        xy = lambda c: jnp.stack([c // width, c % width], -1).astype(jnp.float32)  # noqa: E731

        def mhd(walk):
            d = jnp.linalg.norm(xy(walk)[:, None] - xy(truth)[None], axis=-1)
            d = jnp.where(in_truth[:, None] & in_truth[None], d, jnp.inf)
            a = jnp.where(in_truth, jnp.min(d, axis=1), 0).sum() / in_truth.sum()
            b = jnp.where(in_truth, jnp.min(d, axis=0), 0).sum() / in_truth.sum()
            return jnp.maximum(a, b)

        return jax.vmap(mhd)(walks).mean()

    return jax.lax.map(lambda x: one(*x), (samples, cells, observed, lengths))
