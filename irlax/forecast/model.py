"""Goal-conditioned MaxEnt IRL for activity forecasting (Kitani et al. ECCV 2012).

Every training track walks from its first cell to a destination (a goal region) and stops
there. Its probability under costs `c_θ` is (seed 000; Ziebart et al. 2008, eq. 4; Kitani §3)

    p(track | g) = exp(−Σ_t len(a_t) c_θ(s_t)) / Z_g(s_0),

because the moves are deterministic. The cost of a cell is a function of its features
`f(s)` (class probabilities, the user's extras, a bias):

    c_θ(s) = c₀ + softplus(θ · f(s)),     c₀ = MIN_COST + COST_MARGIN,

positive and above the bound that keeps every partition function finite. `fit` minimises
the negative log-likelihood per step plus `l2/2 ‖θ‖²` with L-BFGS; its gradient is the
expected minus the observed length-weighted visits, pushed through `c_θ` (Kitani eq. 9, in
the chain rule's form). All destinations are solved at once (a `[G, H, W]` batch).

Forecasting from an observed prefix `s_0 … s_t` (Kitani §4):

- the destination posterior `p(g | prefix) ∝ p(g) exp(V_g(s_t) − V_g(s_0))` (the prefix's
  own cost cancels), with the prior `p(g)` counted from the training tracks;
- the heatmap: expected visits to each cell until arrival (or over the next T steps),
  mixed over destinations by the posterior;
- K sampled continuations: a destination from the posterior, then moves from `π_g`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from irlax._checks import check_key
from irlax._pytree import pytree_dataclass, static_field
from irlax.config import is_int, is_real, make_config, require_int, require_real
from irlax.data import Trajectories
from irlax.forecast.planning import (
    LOG_ZERO,
    MIN_COST,
    MOVE_LENGTHS,
    MOVES,
    check_inputs,
    expected_visits,
    goal_values,
    move_probabilities,
)
from irlax.forecast.scene import Scene
from irlax.forecast.tracks import check_paths, check_track, to_paths
from irlax.optim import minimize, reporting

#: Margin above MIN_COST for the cheapest learnable cost (keeps the sweeps contracting).
COST_MARGIN = 0.1


@dataclasses.dataclass(frozen=True)
class ForecastConfig:
    """Options of `fit`.

    Attributes:
        steps: most L-BFGS iterations in each stage of the ladder of goal sets
            (`first_goals`).
        tol: stop when the gradient norm falls to this.
        ftol: or when a step improves the NLL per step by at most this, relatively (0: never;
            `irlax.optim.minimize`'s rule).
            The default is far below the NLL's sampling error (about 1/√(moves), 0.5% for
            40 000 moves), and above float32 rounding (soft values carry relative errors near
            1e-5, where line searches chase noise: at 256×256, 1e-5 cost 4 extra solves of 10 s
            each).
        max_linesearch_steps: most function evaluations in one L-BFGS line search (each is a
            full solve).
        l2: weight of `l2/2 ‖θ‖²` added to the NLL per step.
        prior_pseudocount: pseudo-count added to each destination's count in the prior `p(g)`.
        solver_tol: relative tolerance of the soft-value sweeps; None is 64 ulps of the float
            type.
        first_goals: the fit climbs a ladder of goal sets: first the tracks of the
            `first_goals` most travelled destinations, then of three times as many, and so on,
            and last all of them, each stage starting from the θ where the last one stopped. A
            solve costs in proportion to its destinations, so the early stages are cheap and
            leave the full objective few iterations to go. 0: fit all destinations from the
            start. The optimum is the same.
    """

    steps: int = 100
    tol: float = 1e-4
    ftol: float = 1e-4
    max_linesearch_steps: int = 8
    l2: float = 1e-3
    prior_pseudocount: float = 1.0
    solver_tol: float | None = None
    first_goals: int = 5

    def __post_init__(self) -> None:
        for name in ("steps", "max_linesearch_steps"):
            require_int(self, name, minimum=1)
        require_int(self, "first_goals", minimum=0)
        for name in ("tol", "ftol", "l2", "prior_pseudocount"):
            require_real(self, name, lambda x: x >= 0, ">= 0")
        if self.solver_tol is not None:
            require_real(self, "solver_tol", lambda x: 0 < x < 1, "in (0, 1) (or None)")


@pytree_dataclass
class ForecastModel:
    """A fitted forecaster: the learned cost map and every destination's soft values.

    Attributes:
        theta: `[F]` cost weights, one per feature of the scene (`feature_names`).
        cost: `[H, W]` learned cost per unit move.
        values: `[G, H, W]` soft values `V_g = log Z_g` of each destination.
        log_prior: `[G]` log destination prior from the training tracks.
        goals: bool `[G, H, W]` destination regions.
        passable: bool `[H, W]`.
        metrics: per-step arrays of the fit, `[steps · stages]`, the steps of every stage of
            the ladder (`ForecastConfig.first_goals`) one after another, NaN past the last:
            `loss` (of that stage's objective, at the step's θ), `grad_norm`, `goals` (the
            destinations the stage fits) and `evaluations`, the solves of values and gradient
            the step cost: one where its loss and gradient were not taken from the line search
            that found its θ (a stage's first step), plus its own update's line search (none
            once converged: the update is skipped). Their sum is every solve of the fit but
            the final one of all destinations' values. Empty for `from_cost`.
        feature_names: names of θ's entries.
        cell_size: metres per cell.
    """

    theta: jnp.ndarray
    cost: jnp.ndarray
    values: jnp.ndarray
    log_prior: jnp.ndarray
    goals: jnp.ndarray
    passable: jnp.ndarray
    metrics: dict
    feature_names: tuple[str, ...] = static_field(default=())
    cell_size: float = static_field(default=1.0)

    @classmethod
    def from_cost(cls, cost, goals, passable, *, log_prior=None) -> ForecastModel:
        """The forecaster of a given cost map (e.g. the hidden one), with no learned θ.

        Args:
            cost: `[H, W]` cost per unit move.
            goals: bool `[G, H, W]` destination regions.
            passable: bool `[H, W]`.
            log_prior: `[G]` log destination prior (default uniform).
        """
        cost, goals = jnp.asarray(cost), jnp.asarray(goals, bool)
        n_goals = goals.shape[0]
        if log_prior is None:
            log_prior = jnp.full(n_goals, -jnp.log(n_goals), cost.dtype)
        return cls(
            theta=jnp.zeros(0, cost.dtype),
            cost=cost,
            values=goal_values(cost, goals, passable),
            log_prior=jnp.asarray(log_prior, cost.dtype),
            goals=goals,
            passable=jnp.asarray(passable, bool),
            metrics={},
        )

    @property
    def shape(self) -> tuple[int, int]:
        """`(H, W)`."""
        return tuple(self.cost.shape)

    @property
    def n_goals(self) -> int:
        """G, the number of destinations."""
        return self.goals.shape[0]


def cost_map(theta, features):
    """`c_θ(s) = c₀ + softplus(θ · f(s))`: `[F]` weights and `[H, W, F]` features → `[H, W]`."""
    return MIN_COST + COST_MARGIN + jax.nn.softplus(features @ theta)


# ----------------------------------------------------------------------------------------
# Tracks and destinations
# ----------------------------------------------------------------------------------------


def assign_goals(paths: Sequence[np.ndarray], goals) -> tuple[list[np.ndarray], np.ndarray]:
    """Each track's destination, and the track cut where it first enters it.

    A track's destination is the goal region that holds its last cell; the track ends at
    its first entry into that region (a walker stops on arrival). Tracks whose last cell is
    in no region get destination −1 and are kept whole.

    Args:
        paths: int `[n_i, 2]` (row, col) cell paths.
        goals: bool `[G, H, W]`.

    Returns:
        (the cut paths, int `[N]` destination indices)

    Raises:
        ValueError: `goals` that are not `[G, H, W]`, or tracks that are not a non-empty
            sequence of `[n_i, 2]` cells inside the grid (`tracks.check_paths`).
    """
    goals = np.asarray(goals, bool)
    if goals.ndim != 3:
        raise ValueError(f"goals must be a bool [G, H, W] array, got shape {goals.shape}")
    paths = check_paths(paths, goals.shape[1:])
    index = np.full(goals.shape[1:], -1, np.int64)
    for g in range(goals.shape[0]):
        index[goals[g] & (index < 0)] = g
    cut, dest = [], []
    for p in paths:
        g = int(index[p[-1, 0], p[-1, 1]])
        if g >= 0:
            first = int(np.argmax(goals[g][p[:, 0], p[:, 1]]))
            p = p[: first + 1]
        cut.append(p)
        dest.append(g)
    return cut, np.asarray(dest, np.int64)


def destinations_from_endpoints(
    paths: Sequence[np.ndarray], passable, *, radius: float = 2.0, max_goals: int = 50
) -> np.ndarray:
    """Destination regions where tracks end: greedy disks that cover the end points.

    Repeatedly takes the end point with the most other end points within `radius` cells,
    makes the passable cells within `radius` of it a destination, and removes the end
    points it covers; stops when all are covered or there are `max_goals` destinations.

    Args:
        paths: int `[n_i, 2]` cell paths (their last cells are the end points).
        passable: bool `[H, W]`.
        radius: disk radius in cells.
        max_goals: most destinations.

    Returns:
        bool `[G, H, W]`, disjoint regions (a later disk loses cells an earlier one has).
    """
    passable = np.asarray(passable, bool)
    if passable.ndim != 2:
        raise ValueError(f"passable must be a bool [H, W] array, got shape {passable.shape}")
    if not (is_real(radius) and math.isfinite(radius) and radius >= 0):
        raise ValueError(f"radius must be a finite number >= 0, got {radius!r}")
    if not is_int(max_goals) or max_goals < 1:
        raise ValueError(f"max_goals must be an integer >= 1, got {max_goals!r}")
    paths = check_paths(paths, passable.shape)
    ends = np.asarray([p[-1] for p in paths], np.float64).reshape(-1, 2)
    rows, cols = np.indices(passable.shape)
    taken = np.zeros(passable.shape, bool)
    left = np.ones(len(ends), bool)
    regions = []
    while left.any() and len(regions) < max_goals:
        pts = ends[left]
        near = np.linalg.norm(pts[:, None] - pts[None], axis=-1) <= radius
        centre = pts[np.argmax(near.sum(1))]
        disk = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2
        region = disk & passable & ~taken
        if not region.any():  # everything nearby is taken: the end point is covered
            region = np.zeros_like(disk)
        else:
            regions.append(region)
            taken |= region
        covered = np.linalg.norm(ends - centre, axis=-1) <= radius
        covered |= taken[ends[:, 0].astype(int), ends[:, 1].astype(int)]
        left &= ~covered
    return np.stack(regions)


# ----------------------------------------------------------------------------------------
# Fitting
# ----------------------------------------------------------------------------------------


@pytree_dataclass
class _Statistics:
    """What the NLL needs from the training tracks."""

    step_lengths: jnp.ndarray  # [H, W] Σ over tracks of len(a_t) at each cell
    starts: jnp.ndarray  # [G, H, W] tracks per destination and start cell
    n_steps: jnp.ndarray  # total moves


def _statistics(paths, dest, n_goals, shape, dtype) -> _Statistics:
    step_lengths = np.zeros(shape)
    starts = np.zeros((n_goals, *shape))
    n_steps = 0
    lengths = {tuple(m): length for m, length in zip(MOVES.tolist(), MOVE_LENGTHS, strict=True)}
    for p, g in zip(paths, dest, strict=True):
        starts[g, p[0, 0], p[0, 1]] += 1
        d = np.diff(p, axis=0)
        np.add.at(step_lengths, (p[:-1, 0], p[:-1, 1]), [lengths[tuple(x)] for x in d.tolist()])
        n_steps += len(d)
    return _Statistics(
        jnp.asarray(step_lengths, dtype), jnp.asarray(starts, dtype), jnp.asarray(n_steps, dtype)
    )


def track_nll(cost, goals, passable, stats: _Statistics, *, solver_tol=None):
    """Negative log-likelihood per move of tracks with known destinations (differentiable)."""
    values = goal_values(cost, goals, passable, tol=solver_tol)
    total = jnp.sum(stats.step_lengths * cost) + jnp.sum(stats.starts * values)
    return total / stats.n_steps


def fit(
    scene: Scene,
    paths: Sequence[np.ndarray] | Trajectories,
    goals,
    *,
    config: ForecastConfig | None = None,
    features=None,
    progress: Callable[[int, dict], None] | None = None,
    **options,
) -> ForecastModel:
    """Learn a cost map from tracks that end at known destinations.

    Args:
        scene: the semantic map.
        paths: training tracks, int `[n_i, 2]` (row, col) cells, each step one of the 9
            moves (see `tracks.cell_path`), ending inside a destination region; or the same
            tracks as `Trajectories` on the scene's grid MDP (`grid.grid_mdp`): observations
            the flat cells `row * W + col`, actions indices into `MOVES`
            (`tracks.to_trajectories` writes them).
        goals: bool `[G, H, W]` destination regions (e.g. `destinations_from_endpoints`).
        config: a `ForecastConfig`; `**options` replace its fields.
        features: `[H, W, F]` features in place of `scene.features` (e.g. a bias alone).
        progress: called as `progress(step, metrics)` after each L-BFGS step, `step` its entry
            in `ForecastModel.metrics` (counted across the ladder's stages) and `metrics` its
            `loss`, `grad_norm` and `goals`. Any callable: a new one does not recompile.

    Returns:
        the fitted `ForecastModel`.

    Raises:
        ValueError: bad shapes, no tracks, a track that is not an `[n, 2]` array of cells,
            tracks that end outside every destination, start inside their destination,
            leave the grid or step onto impassable cells; `Trajectories` whose actions are
            not the moves between their cells.
    """
    config = make_config(ForecastConfig, config, options)
    names = scene.feature_names if features is None else ()
    features = scene.features if features is None else jnp.asarray(features)
    shape = scene.shape
    if features.ndim != 3 or features.shape[:2] != shape:
        raise ValueError(
            f"features must be [H, W, F] = [{shape[0]}, {shape[1]}, F], got {features.shape}"
        )
    goals = _check_goals(goals, scene)
    if isinstance(paths, Trajectories):
        paths = to_paths(paths, shape)
    paths, dest = _training_tracks(paths, goals, scene)
    dtype = jnp.result_type(float)
    counts = np.bincount(dest, minlength=goals.shape[0])
    prior = counts + config.prior_pseudocount
    log_prior = jnp.asarray(np.log(prior / prior.sum()), dtype)
    # Most-travelled goals first; goals no track heads for add nothing to the NLL.
    order = np.argsort(-counts, kind="stable")[: np.count_nonzero(counts)]
    rank = np.full(goals.shape[0], goals.shape[0])
    rank[order] = np.arange(len(order))
    ranked = rank[dest]  # each track's destination in that order
    stages = tuple(
        _statistics(
            [p for p, r in zip(paths, ranked, strict=True) if r < k],
            ranked[ranked < k],
            k,
            shape,
            dtype,
        )
        for k in _ladder(len(order), config.first_goals)
    )
    with reporting(None if progress is None else _GlobalSteps(progress)) as report:
        theta, metrics = jax.block_until_ready(
            _fit(
                features.astype(dtype),
                jnp.asarray(goals[order]),
                scene.passable,
                stages,
                config,
                report,
            )
        )
    cost = cost_map(theta, features.astype(dtype))
    values = goal_values(cost, goals, scene.passable, tol=config.solver_tol)
    return ForecastModel(
        theta=theta,
        cost=cost,
        values=values,
        log_prior=log_prior,
        goals=jnp.asarray(goals),
        passable=scene.passable,
        metrics=metrics,
        feature_names=names,
        cell_size=scene.cell_size,
    )


def _ladder(n_goals: int, first: int) -> list[int]:
    """Goal counts of the fit's stages: `first`, three times as many, … and all, each stage
    at least three times the one before."""
    sizes = []
    while 0 < first and 3 * first <= n_goals:
        sizes.append(first)
        first *= 3
    return [*sizes, n_goals]


def _check_goals(goals, scene: Scene) -> np.ndarray:
    goals = np.asarray(goals)
    if goals.dtype != bool:
        raise ValueError(f"goals must be a bool [G, H, W] array, got dtype {goals.dtype}")
    check_inputs(jnp.zeros(scene.shape) + MIN_COST + 1, jnp.asarray(goals), scene.passable)
    return goals


def _training_tracks(paths, goals, scene: Scene):
    h, w = scene.shape
    passable = np.asarray(scene.passable)
    paths, dest = assign_goals(paths, goals)
    for i, (p, g) in enumerate(zip(paths, dest, strict=True)):
        outside = (p[:, 0] < 0) | (p[:, 0] >= h) | (p[:, 1] < 0) | (p[:, 1] >= w)
        if outside.any():
            raise ValueError(
                f"track {i} leaves the {h}x{w} grid at {p[np.argmax(outside)].tolist()}"
            )
        if len(p) > 1 and np.abs(np.diff(p, axis=0)).max() > 1:
            raise ValueError(f"track {i} jumps between cells; join it with tracks.cell_path")
        blocked = ~passable[p[:, 0], p[:, 1]]
        if blocked.any():
            raise ValueError(
                f"track {i} enters the impassable cell {p[np.argmax(blocked)].tolist()}"
            )
        if g < 0:
            raise ValueError(
                f"track {i} ends at {p[-1].tolist()}, in no destination region; add a region "
                "there (destinations_from_endpoints) or drop the track"
            )
        if len(p) < 2:
            raise ValueError(f"track {i} starts inside its destination {g}: it has no move")
    return paths, dest


@functools.partial(jax.jit, static_argnames=("config", "report"))
def _fit(features, goals, passable, stages: tuple[_Statistics, ...], config, report: bool):
    """L-BFGS up a ladder of growing goal sets; returns θ and the metrics of all stages.

    Stage `k` minimises the NLL of the tracks to the first `G_k` goals (`stages[k]` holds
    their statistics; goals come most travelled first) from the θ where the stage before
    stopped, by one `irlax.optim.minimize`. The last stage is the whole objective, so the
    optimum is unchanged; the early ones cost a fraction of a full solve per step and leave
    it a short way to go. The stages' metrics are packed one after another (see
    `ForecastModel.metrics`); with `report`, each step goes to the callable that
    `optim.reporting` installed, with the entry it will have in them (`offset`).
    """
    size = config.steps * len(stages)
    metrics = {k: jnp.full(size, jnp.nan, features.dtype) for k in _METRICS}
    theta, first = jnp.zeros(features.shape[-1], features.dtype), jnp.asarray(0)
    for stats in stages:
        theta, stage, n_steps = _lbfgs(
            features, goals, passable, stats, config, theta, first, report
        )
        # A stage's NaN tail is overwritten by the next stage's entries.
        metrics = {k: jax.lax.dynamic_update_slice(metrics[k], stage[k], (first,)) for k in metrics}
        first = first + n_steps
    return theta, metrics


#: The per-step arrays of a fit (`ForecastModel.metrics`).
_METRICS = ("loss", "grad_norm", "evaluations", "goals")


def _lbfgs(features, goals, passable, stats, config, theta, first, report):
    """One stage: L-BFGS on the tracks of the first `G` goals (`stats`) from θ.

    Returns θ where it stopped, the stage's `[steps]` metrics (`_METRICS`, NaN after its last
    step) and its number of steps. `first`, the entry its first step takes in the packed
    metrics, is only reported.
    """
    goals = goals[: stats.starts.shape[0]]
    n_goals = stats.starts.shape[0]

    def loss_fn(theta):
        cost = cost_map(theta, features)
        nll = track_nll(cost, goals, passable, stats, solver_tol=config.solver_tol)
        return nll + 0.5 * config.l2 * jnp.sum(theta**2)

    from_state = optax.value_and_grad_from_state(loss_fn)

    def value_and_grad(theta, state):
        # The line search that found θ solved there last: its value and gradient are reused
        # unless the state holds none (a stage's first step), when a fresh solve is made.
        fresh = ~jnp.isfinite(optax.tree.get(state, "value"))
        loss, grad = from_state(theta, state=state)
        row = {
            "goals": n_goals,
            "fresh": fresh,
            "linesearch": optax.tree.get(state, "num_linesearch_steps"),
            "offset": first,
        }
        return loss, grad, row

    optimizer = optax.lbfgs(
        linesearch=optax.scale_by_zoom_linesearch(
            max_linesearch_steps=config.max_linesearch_steps, initial_guess_strategy="one"
        )
    )
    out = minimize(
        value_and_grad,
        theta,
        optimizer,
        steps=config.steps,
        tol=config.tol,
        ftol=config.ftol,
        value_fn=loss_fn,
        report=report,
    )
    m = out.metrics
    # Step t's solves: its fresh solve, if any, and its update's line search, which the
    # state of step t + 1 reports; after the last step, the final state does, unless the
    # stage converged there and skipped its update.
    last = jnp.where(out.converged, 0, optax.tree.get(out.opt_state, "num_linesearch_steps"))
    following = jnp.concatenate([m["linesearch"][1:], jnp.zeros(1, m["linesearch"].dtype)])
    following = following.at[out.n_steps - 1].set(last)
    evaluations = m["fresh"] + following
    metrics = {
        "loss": m["loss"],
        "grad_norm": m["grad_norm"],
        "evaluations": jnp.where(jnp.isfinite(m["loss"]), evaluations, jnp.nan),
        "goals": m["goals"],
    }
    return out.params, metrics, out.n_steps


class _GlobalSteps:
    """Hands `progress` each step's entry in the packed metrics and its loss, gradient norm
    and goals (the fit's stages each count their steps from 0)."""

    def __init__(self, progress: Callable[[int, dict], None]):
        self.progress = progress

    def __call__(self, step: int, row: dict) -> None:
        offset = int(np.asarray(row["offset"]).reshape(-1)[0])
        self.progress(offset + step, {k: row[k] for k in ("loss", "grad_norm", "goals")})


# ----------------------------------------------------------------------------------------
# Prediction
# ----------------------------------------------------------------------------------------


def _flat(x):
    return x.reshape(x.shape[0], -1) if x.ndim == 3 else x.reshape(-1)


@jax.jit
def goal_log_posteriors(model: ForecastModel, cells, length):
    """The destination posterior after every prefix of a path, `log p(g | s_0 … s_t)`.

    `p(g | s_0 … s_t) ∝ p(g) exp(V_g(s_t) − V_g(s_0))` (Kitani et al. 2012, §4), with the
    destinations the prefix has entered, or cannot reach, ruled out (−inf). Jit-compiled; the
    padded cells let paths of nearby lengths share one compilation (`goal_posterior` pads).

    Args:
        model: a fitted `ForecastModel`.
        cells: int `[T+1]` flat cells `row * W + col`, the path padded to any length.
        length: the number of moves of the path (≤ T).

    Returns:
        `[T+1, G]` log-posteriors for t = 0 … T; rows past `length` repeat row `length`; a row
        is all −inf when no destination is left.
    """
    t = jnp.minimum(jnp.arange(cells.shape[0]), length)
    cells = cells[t]
    v = _flat(model.values)[:, cells].T  # [T+1, G]
    inside = _flat(model.goals)[:, cells].T
    ruled_out = jnp.cumsum(inside, axis=0) > 0
    ruled_out |= (v[:1] < LOG_ZERO / 2) | (v < LOG_ZERO / 2)
    logits = model.log_prior[None] + v - v[:1]
    logits = jnp.where(ruled_out, -jnp.inf, logits)
    norm = jax.nn.logsumexp(logits, axis=1, keepdims=True)
    return jnp.where(jnp.isfinite(norm), logits - norm, -jnp.inf)


def goal_posterior(model: ForecastModel, prefix) -> jnp.ndarray:
    """`[G]` destination posterior `p(g | prefix) ∝ p(g) exp(V_g(s_t) − V_g(s_0))`.

    Destinations that the prefix has entered (a walker would have stopped) or that cannot
    be reached from its start get 0. All zeros when none is left.

    Args:
        model: a fitted `ForecastModel`.
        prefix: int `[n, 2]` (row, col) cells observed so far.
    """
    cells, length = _prefix_cells(model, prefix)
    return jnp.exp(goal_log_posteriors(model, cells, length)[-1])


def _prefix_cells(model: ForecastModel, prefix) -> tuple[jnp.ndarray, int]:
    """Checked flat cells of a prefix, padded, and its number of moves.

    The cells are padded with the last one to a power of two (at least 8): the jitted
    posterior reads rows up to `length` only, and prefixes of nearby lengths then share one
    compilation instead of compiling one each.
    """
    w = model.shape[1]
    p = check_track(prefix, model.shape, "the prefix")
    if len(p) > 1 and np.abs(np.diff(p, axis=0)).max() > 1:
        raise ValueError("the prefix jumps between cells; join it with tracks.cell_path")
    if not np.asarray(model.passable)[p[:, 0], p[:, 1]].all():
        raise ValueError("the prefix enters an impassable cell")
    flat = p[:, 0] * w + p[:, 1]
    size = max(8, 1 << (len(flat) - 1).bit_length())
    flat = np.concatenate([flat, np.full(size - len(flat), flat[-1])])
    return jnp.asarray(flat, jnp.int32), len(p) - 1


def _neighbour_logits(model: ForecastModel, cell, goal=None):
    """log π_g(a | cell): `[G, 9]`, or `[9]` for one `goal` (−inf for impossible moves)."""
    h, w = model.shape
    r, c = cell // w, cell % w
    rr, cc = r + MOVES[:, 0], c + MOVES[:, 1]
    inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
    target = jnp.clip(rr, 0, h - 1) * w + jnp.clip(cc, 0, w - 1)
    v = _flat(model.values)
    # Gather only the 9 neighbours' values (one goal's row would copy the whole map).
    here, there = (v[:, cell], v[:, target]) if goal is None else (v[goal, cell], v[goal, target])
    ok = inside & model.passable.reshape(-1)[target] & (there > LOG_ZERO / 2)
    step = -jnp.asarray(MOVE_LENGTHS, v.dtype) * model.cost.reshape(-1)[cell]
    logits = step + there - here[..., None]
    return jnp.where(ok, jnp.minimum(logits, 0.0), -jnp.inf)


@jax.jit
def move_log_probs(model: ForecastModel, cells, length) -> jnp.ndarray:
    """`[T]` log p(a_t | s_0 … s_t) of each move of a path, destinations marginalised.

    `p(a_t | s_0 … s_t) = Σ_g p(g | s_0 … s_t) π_g(a_t | s_t)`; the sum over t is the log
    probability of the whole path. Entries past `length` are 0.

    Args:
        model: a fitted `ForecastModel`.
        cells: int `[T+1]` flat cells of the path.
        length: the number of moves (≤ T).
    """
    log_post = goal_log_posteriors(model, cells, length)[:-1]  # [T, G]
    w = model.shape[1]
    d = jnp.stack([cells[1:] // w - cells[:-1] // w, cells[1:] % w - cells[:-1] % w], -1)
    move = jnp.argmax(jnp.all(d[:, None] == jnp.asarray(MOVES)[None], -1), axis=-1)
    logits = jax.vmap(lambda c: _neighbour_logits(model, c))(cells[:-1])  # [T, G, 9]
    taken = jnp.take_along_axis(logits, move[:, None, None], axis=2)[..., 0]  # [T, G]
    out = jax.nn.logsumexp(log_post + taken, axis=1)
    return jnp.where(jnp.arange(cells.shape[0] - 1) < length, out, 0.0)


@pytree_dataclass
class Forecast:
    """Where a walker will go after an observed prefix.

    Attributes:
        heatmap: `[H, W]` expected visits to each cell (until arrival, or over the horizon),
            a mixture over destinations weighted by the posterior.
        goal_posterior: `[G]` p(g | prefix).
        samples: int `[K, T+1, 2]` sampled continuations (row, col), from the prefix's last
            cell; a sample that arrives stays in its arrival cell.
        sample_lengths: int `[K]` moves before arrival (T if it had not arrived).
        sample_goals: int `[K]` the destination each sample walked to.
        mass_left_out: posterior mass of destinations left out of the heatmap.
    """

    heatmap: jnp.ndarray
    goal_posterior: jnp.ndarray
    samples: jnp.ndarray
    sample_lengths: jnp.ndarray
    sample_goals: jnp.ndarray
    mass_left_out: jnp.ndarray


def forecast(
    model: ForecastModel,
    prefix,
    *,
    key: jax.Array,
    n_samples: int = 16,
    sample_steps: int | None = None,
    horizon: int | None = None,
    top_goals: int = 8,
) -> Forecast:
    """Forecast from an observed prefix: destination posterior, heatmap, sampled paths.

    Args:
        model: a fitted `ForecastModel`.
        prefix: int `[n, 2]` (row, col) cells observed so far (n ≥ 1).
        key: PRNG key for the samples.
        n_samples: K sampled continuations.
        sample_steps: most moves per sample (default: 2 (H + W)).
        horizon: heatmap over the next `horizon` moves; None: until arrival.
        top_goals: the heatmap mixes the most probable `top_goals` destinations (the rest's
            mass is reported in `mass_left_out`); ≥ G makes it exact.

    Raises:
        ValueError: the prefix leaves the grid, or no destination is left for it.
    """
    check_key(key)
    for name, value in (
        ("n_samples", n_samples),
        ("sample_steps", sample_steps),
        ("horizon", horizon),
        ("top_goals", top_goals),
    ):
        optional = name in ("sample_steps", "horizon")
        if not (optional and value is None) and (not is_int(value) or value < 1):
            none = " or None" if optional else ""
            raise ValueError(f"{name} must be an integer >= 1{none}, got {value!r}")
    cells, length = _prefix_cells(model, prefix)
    h, w = model.shape
    steps = 2 * (h + w) if sample_steps is None else int(sample_steps)
    log_post = goal_log_posteriors(model, cells, length)[-1]
    if not bool(jnp.isfinite(log_post).any()):
        raise ValueError(
            "no destination is left for this prefix: it has entered or cannot reach them all"
        )
    k = min(top_goals, model.n_goals)
    return _forecast(model, cells[length], log_post, key, n_samples, steps, horizon, k)


@functools.partial(jax.jit, static_argnums=(4, 5, 6, 7))
def _forecast(model, cell, log_post, key, n_samples, steps, horizon, k):
    post = jnp.exp(log_post)
    weight, top = jax.lax.top_k(post, k)
    goals = model.goals[top]
    probs = move_probabilities(model.cost, model.values[top], goals, model.passable)
    source = jnp.zeros((k, model.cost.size), post.dtype).at[:, cell].set(weight)
    source = source.reshape(k, *model.shape)
    source = jnp.where(goals, 0.0, source)  # a walker standing in a goal has arrived
    if horizon is None:
        visits = expected_visits(probs, source)
    else:
        visits = _propagate(probs, source, horizon)
    visits = jnp.where(goals, 0.0, visits).sum(0)
    key_goal, key_walk = jax.random.split(key)
    sample_goals = jax.random.categorical(key_goal, log_post, shape=(n_samples,))
    walks = jax.vmap(lambda g, kk: sample_walk(model, g, cell, kk, steps))(
        sample_goals, jax.random.split(key_walk, n_samples)
    )
    cells, lengths = walks
    w = model.shape[1]
    samples = jnp.stack([cells // w, cells % w], axis=-1)
    return Forecast(visits, post, samples, lengths, sample_goals, 1 - weight.sum())


def _propagate(probs, source, horizon):
    """Σ_{t=1..T} d_t with `d_{t+1} = P_πᵀ d_t` from `d_0 = source` (goals absorb)."""
    _, _, h, w = probs.shape

    def step(d, _):
        nxt = jnp.zeros_like(d)
        for k, (dr, dc) in enumerate(MOVES.tolist()):
            flow = jnp.pad(d * probs[:, k], ((0, 0), (1, 1), (1, 1)))
            nxt = nxt + flow[:, 1 - dr : 1 - dr + h, 1 - dc : 1 - dc + w]
        return nxt, nxt

    _, ds = jax.lax.scan(step, source, None, length=horizon)
    return ds.sum(0)


def sample_walk(model: ForecastModel, goal, cell, key, steps):
    """A walk sampled from the soft policy `π_goal`, until arrival or `steps` moves.

    Jit- and vmap-friendly (`forecast`, `simulate` and `evaluate` vmap it over goals and keys).

    Args:
        model: a `ForecastModel`.
        goal: int scalar, the destination walked to.
        cell: int scalar, the flat start cell `row * W + col`.
        key: PRNG key.
        steps: most moves (static).

    Returns:
        (int `[steps+1]` flat cells from `cell` on, repeating the arrival cell after arrival;
        the number of moves made).
    """
    w = model.shape[1]
    goal_cells = model.goals[goal].reshape(-1)

    def step(carry, k):
        cell, arrived, n = carry
        logits = _neighbour_logits(model, cell, goal)
        move = jax.random.categorical(k, logits)
        offset = jnp.asarray(MOVES)[move]
        nxt = cell + offset[0] * w + offset[1]
        stuck = arrived | ~jnp.isfinite(logits).any()
        nxt = jnp.where(stuck, cell, nxt).astype(cell.dtype)
        n = n + (~stuck).astype(n.dtype)
        return (nxt, arrived | goal_cells[nxt], n), nxt

    start = (cell, goal_cells[cell], jnp.asarray(0))
    (_, _, n), cells = jax.lax.scan(step, start, jax.random.split(key, steps))
    return jnp.concatenate([cell[None], cells]), n


def simulate(
    cost, goals, passable, n_tracks: int, key: jax.Array, *, prior=None, max_steps=None
) -> tuple[list[np.ndarray], np.ndarray]:
    """Soft-optimal walkers between destinations: the generator of synthetic tracks.

    Each walker draws a destination `g` from `prior`, starts in a uniformly drawn passable
    cell of another destination region (entrances are exits too), and moves by `π_g` until
    it arrives. Walkers that have not arrived after `max_steps` moves are dropped.

    Args:
        cost: `[H, W]` true cost per unit move.
        goals: bool `[G, H, W]` destination regions (G ≥ 2).
        passable: bool `[H, W]`.
        n_tracks: how many tracks.
        key: PRNG key.
        prior: `[G]` destination probabilities (default uniform).
        max_steps: cap on moves (default: 4 (H + W)).

    Returns:
        (list of int `[n_i, 2]` cell paths, int `[N]` destinations).
    """
    check_key(key)
    if not is_int(n_tracks) or n_tracks < 1:
        raise ValueError(f"n_tracks must be an integer >= 1, got {n_tracks!r}")
    if max_steps is not None and (not is_int(max_steps) or max_steps < 1):
        raise ValueError(f"max_steps must be an integer >= 1 or None, got {max_steps!r}")
    goals = jnp.asarray(goals, bool)
    passable = jnp.asarray(passable, bool)
    n_goals = goals.shape[0]
    if n_goals < 2:
        raise ValueError("simulate needs at least two destination regions")
    h, w = cost.shape
    model = ForecastModel.from_cost(cost, goals, passable)
    steps = 4 * (h + w) if max_steps is None else int(max_steps)
    prior = jnp.full(n_goals, 1 / n_goals) if prior is None else jnp.asarray(prior)
    key_goal, key_from, key_cell, key_walk = jax.random.split(key, 4)
    dest = jax.random.choice(key_goal, n_goals, (n_tracks,), p=prior)
    # The start region: any destination but the walker's own.
    origin = (dest + jax.random.randint(key_from, (n_tracks,), 1, n_goals)) % n_goals
    cell_logits = jnp.where(_flat(goals & passable[None]), 0.0, -jnp.inf)
    start = jax.random.categorical(key_cell, cell_logits[origin])
    cells, lengths = jax.jit(jax.vmap(lambda g, c, k: sample_walk(model, g, c, k, steps)))(
        dest, start, jax.random.split(key_walk, n_tracks)
    )
    cells, lengths, dest = np.asarray(cells), np.asarray(lengths), np.asarray(dest)
    arrived = np.asarray(_flat(goals))[dest, cells[np.arange(n_tracks), lengths]]
    paths = [
        np.stack(np.divmod(c[: n + 1], w), axis=1) for c, n in zip(cells, lengths, strict=True)
    ]
    keep = np.flatnonzero(arrived & (lengths > 0))
    return [paths[i] for i in keep], dest[keep]
