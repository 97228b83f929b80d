"""Harold Zurcher's bus-engine replacements: the data of Rust (1987) as demonstrations and an MDP.

J. Rust (1987), "Optimal Replacement of GMC Bus Engines: An Empirical Model of Harold Zurcher",
Econometrica 55(5), 999–1033. Each month Zurcher, maintenance manager of the Madison
Metropolitan Bus Company, either keeps a bus's engine or replaces it. The state is the mileage
since the last replacement in bins of 5,000 miles; keeping costs c(x) = 0.001·θ11·x a month,
replacing costs RC and returns the engine to mileage 0, and the mileage then grows by 0, 1 or 2
bins with probabilities θ3 = (θ30, θ31, θ32).

The data (`data/rust_bus_original.csv`, from the MIT-licensed `econirl` package; see
`data/README.md`) are loaded with `importlib.resources`, so they work from an installed wheel.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import numbers
from importlib import resources

import jax.numpy as jnp
import numpy as np

from irlax.data.trajectories import Trajectories
from irlax.mdp.core import TabularMDP

GROUPS = (1, 2, 3, 4)
"""Rust's bus groups in the file."""

_CSV = "rust_bus_original.csv"
_COLUMNS = ("bus_id", "period", "mileage", "mileage_bin", "replaced", "group")
# Table IX's cost scale: c(x) = 0.001·θ11·x with x the bin index.
_COST_SCALE = 0.001
KEEP, REPLACE = 0, 1
"""Action indices."""


@dataclasses.dataclass(frozen=True, eq=False)
class RustBus:
    """Zurcher's decisions for some of Rust's bus groups, with the first-stage mileage process.

    Attributes:
        trajectories: one per bus, in order of `bus_ids`. `observations` int32 `[N, T+1]` are
            mileage bins (state indices), `actions` int32 `[N, T]` are 0 = keep, 1 = replace,
            and a bus seen for M months has `lengths` M − 1 (its last month's decision is
            dropped: the state that follows it was never observed). Padding is 0.
        mileage_increments: int64 `[K]`, `mileage_increments[j]` = number of monthly
            transitions whose mileage grew by j bins (the first-stage counts; see `rust_bus`).
        transition_probs: float64 `[K]`, the first-stage maximum-likelihood estimate of
            θ3 = (θ30, θ31, …): `mileage_increments / mileage_increments.sum()`.
        bus_ids: int64 `[N]`, the file's bus number of each trajectory.
        bus_groups: int64 `[N]`, Rust's group (1–4) of each trajectory.
        groups: the groups loaded, sorted.
        n_bins: S, the number of mileage bins (states) of the MDP; Rust's fixed point
            dimension (90 in Table IX).
        bin_size: miles per bin (5,000 in Rust).
    """

    trajectories: Trajectories
    mileage_increments: np.ndarray
    transition_probs: np.ndarray
    bus_ids: np.ndarray
    bus_groups: np.ndarray
    groups: tuple[int, ...]
    n_bins: int
    bin_size: int

    @property
    def n_transitions(self) -> int:
        """The number of (state, decision, next state) transitions, Σ lengths."""
        return int(np.sum(np.asarray(self.trajectories.lengths)))

    def mdp(self, discount: float = 0.9999, transition_probs=None) -> TabularMDP:
        """Rust's regenerative optimal-stopping model as a `TabularMDP` with linear features.

        States are the `n_bins` mileage bins x, actions 0 = keep and 1 = replace. With mileage
        increment j drawn with probability θ3j (Rust 1987, the discretised mileage process):

        - keep:    x → min(x + j, n_bins − 1);
        - replace: x → min(j, n_bins − 1) (the engine returns to mileage 0 and the month's
          increment applies).

        Mass that would pass the last bin stays there, as in Rust's fixed point of dimension
        90. Successor lists are `[S, A, K]` with `probs[s, a, j] = θ3j`.

        Features are `[S, A, 2]` so that `features @ (θ11, RC)` is Rust's one-period utility
        u(x, i, θ1) (with the linear cost of Table IX, as a reward = −cost):

        - keep:    (−0.001·x, 0) → reward −c(x) = −0.001·θ11·x;
        - replace: (0, −1)       → reward −RC − c(0) = −RC.

        The initial distribution is the empirical distribution of the first observed bin of
        the loaded buses (not every bus enters the sample new). It does not enter Rust's
        likelihood, which conditions on the first observation. The horizon is infinite.

        Args:
            discount: β; Table IX uses 0.9999 (and 0 for the myopic model). Must be < 1.
            transition_probs: optional `[K']` mileage-increment distribution to use instead
                of the first-stage estimate `self.transition_probs` (e.g. Rust's published
                (0.3919, 0.5953, 0.0128)).

        Returns:
            The MDP: `n_bins` states, 2 actions, `K` successors, features `[S, 2, 2]`.

        Raises:
            ValueError: `transition_probs` is not a probability vector, or `discount` is
                outside [0, 1).
        """
        theta3 = self.transition_probs if transition_probs is None else transition_probs
        theta3 = np.asarray(theta3, dtype=np.float64)
        if theta3.ndim != 1 or theta3.size == 0:
            raise ValueError(
                f"transition_probs must be a non-empty 1-D vector [K] of increment "
                f"probabilities, got shape {theta3.shape}"
            )
        if not np.isfinite(theta3).all() or (theta3 < 0).any():
            raise ValueError(f"transition_probs must be finite and non-negative, got {theta3}")
        if abs(theta3.sum() - 1.0) > 1e-4:
            raise ValueError(f"transition_probs must sum to 1, got {theta3.sum()}")

        n, k = self.n_bins, theta3.size
        bins = np.arange(n)
        increments = np.arange(k)
        next_states = np.empty((n, 2, k), np.int32)
        next_states[:, KEEP] = np.minimum(bins[:, None] + increments[None, :], n - 1)
        next_states[:, REPLACE] = np.minimum(increments, n - 1)[None, :]
        probs = np.broadcast_to(theta3, (n, 2, k))

        features = np.zeros((n, 2, 2))
        features[:, KEEP, 0] = -_COST_SCALE * bins
        features[:, REPLACE, 1] = -1.0

        first = np.asarray(self.trajectories.observations)[:, 0]
        init = np.bincount(first, minlength=n) / first.size
        return TabularMDP.from_successors(
            next_states, probs, init, features=features, horizon=None, discount=discount
        )


def rust_bus(groups=GROUPS, *, n_bins: int = 90, bin_size: int = 5000) -> RustBus:
    """Load Rust's (1987) bus data as trajectories, with the first-stage mileage estimate.

    States are bins of `bin_size` miles of mileage since the last engine replacement,
    recomputed from the cumulative odometer column: for month t of a bus,
    x_t = ⌊(odometer_t − odometer_r) / bin_size⌋, where r is the month of the latest
    replacement before t (0 before any). With `bin_size=5000` this reproduces the file's
    `mileage_bin` column exactly. Note that the month in which the engine is replaced still
    shows the old engine's bin (the decision is taken there), and the next month's bin counts
    from that month's odometer reading.

    **The first stage** (Rust's first-stage estimate of θ3) counts one mileage increment per
    transition (t → t+1) of the same bus, for every month t but the bus's last:

    - decision keep at t:    j = x_{t+1} − x_t;
    - decision replace at t: j = x_{t+1} − 0 = x_{t+1} (the engine restarts from mileage 0).

    Every observed transition is counted, both after keep and after replace decisions; the
    last month of each bus has no successor and is not counted. This gives exactly Rust's
    sample sizes: 8,156 transitions for groups 1–4 and 4,292 for group 4. The estimate is the
    multinomial maximum-likelihood θ3j = count_j / Σ counts, over j = 0, …, K − 1 with
    K = largest observed increment + 1 and no cap. With 5,000-mile bins no increment exceeds
    2 in any group, so K = 3, Rust's three values; other bin sizes give other K.

    Against Rust's Table IX, (θ30, θ31) = (0.3489, 0.6394) for groups 1–4 and
    (0.3919, 0.5953) for group 4, this file gives (0.3546, 0.6340) and (0.3984, 0.5888).
    The sample sizes are Rust's and the two-bin counts agree (55 in group 4, Rust's
    θ32 = 0.0128), but the file has 28 (group 4) and about 46 (groups 1–4) more zero
    increments than Rust's sample, and correspondingly fewer one-bin increments. Compared
    with Rust's original files (as processed by the `ruspy` package, whose group-4 counts
    1682 / 2555 / 55 reproduce Table IX), the bins of buses 68–70 agree until the replacement
    and differ after it: this file counts a new engine's mileage from the odometer reading of
    the month flagged as the replacement, whereas Rust's original files record the odometer
    at replacement, which falls between monthly readings, so later bin boundaries shift; and
    where a bus stood idle around its replacement (months without mileage) this file flags the
    last idle month and Rust's processing the first (bus 70: two months apart). The decision
    months therefore differ slightly from Rust's too.

    Args:
        groups: which of Rust's bus groups to load, a non-empty collection of integers in
            1–4 (a single integer is accepted too). Rust's Table IX uses (1, 2, 3, 4) and (4,).
        n_bins: S, the number of mileage bins of the MDP (Rust's fixed point dimension, 90);
            must exceed every observed bin (77 with 5,000-mile bins).
        bin_size: miles per bin, a positive integer (5,000 in Rust).

    Returns:
        A `RustBus` with one trajectory per bus of the chosen groups, ordered by bus number.

    Raises:
        ValueError: `groups` is empty, not integers, or outside 1–4; `bin_size` is not a
            positive integer; `n_bins` is too small for the observed mileage.
    """
    groups = _check_groups(groups)
    if isinstance(bin_size, bool) or not isinstance(bin_size, numbers.Integral) or bin_size < 1:
        raise ValueError(f"bin_size must be a positive integer number of miles, got {bin_size!r}")
    if isinstance(n_bins, bool) or not isinstance(n_bins, numbers.Integral) or n_bins < 2:
        raise ValueError(f"n_bins must be an integer >= 2, got {n_bins!r}")
    bin_size, n_bins = int(bin_size), int(n_bins)

    table = _load_table()
    rows = np.isin(table["group"], groups)
    bus = table["bus_id"][rows]
    miles = table["miles"][rows]
    replaced = table["replaced"][rows]
    bins, increments = _bins_and_increments(bus, miles, replaced, bin_size)
    if bins.max() >= n_bins:
        raise ValueError(
            f"n_bins={n_bins} is too small for bin_size={bin_size}: the data reach bin "
            f"{bins.max()}; use n_bins >= {bins.max() + 1}"
        )

    bus_ids, starts, months = np.unique(bus, return_index=True, return_counts=True)
    n_buses, horizon = bus_ids.size, int(months.max()) - 1
    observations = np.zeros((n_buses, horizon + 1), np.int32)
    actions = np.zeros((n_buses, horizon), np.int32)
    for i, (start, m) in enumerate(zip(starts, months, strict=True)):
        observations[i, :m] = bins[start : start + m]
        actions[i, : m - 1] = replaced[start : start + m - 1]
    trajectories = Trajectories(
        observations=jnp.asarray(observations),
        actions=jnp.asarray(actions),
        lengths=jnp.asarray(months - 1, jnp.int32),
    )

    counts = np.bincount(increments).astype(np.int64)
    return RustBus(
        trajectories=trajectories,
        mileage_increments=counts,
        transition_probs=counts / counts.sum(),
        bus_ids=bus_ids.astype(np.int64),
        bus_groups=table["group"][rows][starts].astype(np.int64),
        groups=groups,
        n_bins=n_bins,
        bin_size=bin_size,
    )


def _check_groups(groups) -> tuple[int, ...]:
    """`groups` as a sorted tuple of distinct integers in 1–4, or a ValueError."""
    if isinstance(groups, numbers.Integral) and not isinstance(groups, bool):
        groups = (groups,)
    if isinstance(groups, str | bytes):
        raise ValueError(f"groups must be integers in {GROUPS}, got the string {groups!r}")
    try:
        values = list(groups)
    except TypeError:
        raise ValueError(
            f"groups must be a collection of integers in {GROUPS}, got {groups!r}"
        ) from None
    if not values:
        raise ValueError(f"groups must name at least one of Rust's groups {GROUPS}, got none")
    bad = [g for g in values if isinstance(g, bool) or not isinstance(g, numbers.Integral)]
    if bad:
        raise ValueError(f"groups must be integers in {GROUPS}, got {bad[0]!r}")
    unknown = sorted({int(g) for g in values} - set(GROUPS))
    if unknown:
        raise ValueError(f"groups must lie in {GROUPS}, got unknown group(s) {unknown}")
    return tuple(sorted({int(g) for g in values}))


@functools.cache
def _load_table() -> dict[str, np.ndarray]:
    """The CSV as read-only column arrays sorted by (bus, period), plus integer `miles`."""
    text = resources.files("irlax.datasets").joinpath("data", _CSV).read_text(encoding="utf-8")
    header, _, body = text.partition("\n")
    names = tuple(name.strip() for name in header.split(","))
    if names != _COLUMNS:
        raise RuntimeError(f"{_CSV}: expected columns {_COLUMNS}, found {names}")
    raw = np.loadtxt(io.StringIO(body), delimiter=",", dtype=np.float64, ndmin=2)
    order = np.lexsort((raw[:, 1], raw[:, 0]))
    raw = raw[order]
    table = {name: raw[:, i].astype(np.int64) for i, name in enumerate(names) if name != "mileage"}
    # Odometer in whole miles (the file has thousands with three decimals), so that binning
    # is exact integer arithmetic rather than floating-point floors at bin boundaries.
    table["miles"] = np.rint(raw[:, 2] * 1000).astype(np.int64)
    for column in table.values():
        column.flags.writeable = False
    return table


def _bins_and_increments(
    bus: np.ndarray, miles: np.ndarray, replaced: np.ndarray, bin_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mileage bins of every row and the increment of every within-bus transition.

    Rows are sorted by (bus, period). The bin of month t counts miles since the odometer
    reading of the latest replacement month before t; the increment of t → t+1 is
    x_{t+1} − x_t after keep and x_{t+1} after replace.
    """
    new_bus = np.r_[True, bus[1:] != bus[:-1]]
    # Engine index of each row: it changes in the month after a replacement (or a new bus).
    boundary = new_bus | np.r_[False, replaced[:-1] == 1]
    engine = np.cumsum(boundary) - 1
    base = np.where(new_bus, 0, np.r_[0, miles[:-1]])[boundary][engine]
    bins = (miles - base) // bin_size

    same_bus = ~new_bus[1:]
    previous = np.where(replaced[:-1] == 1, 0, bins[:-1])
    increments = (bins[1:] - previous)[same_bus]
    if (increments < 0).any():
        raise RuntimeError(f"{_CSV}: negative mileage increment; is the odometer decreasing?")
    return bins, increments
