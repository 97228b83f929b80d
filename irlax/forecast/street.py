"""A procedurally generated street scene with a hidden walking cost (Kitani et al. 2012).

`street_scene(seed, size)` draws a top-down semantic map of a city street: two-lane roads
(an avenue with four lanes from size 128 up) with sidewalks along both sides, zebra
crosswalks around every intersection and at some mid-block points, and between the roads
blocks of lots: rows of buildings (impassable) fronting the sidewalk with doors on the
street side and footpaths between them, parks of grass crossed by paths, and parking lots
behind a hedge with a store at the back. Pedestrians enter and leave where sidewalks or
paths meet the map's border and at building doors: those are the goals.

Scale: the scene covers `max(size, 64)` metres a side. From size 64 up a cell is 1 m and a
bigger map shows more of the city (about one road per 64 m in each direction: one
intersection at 64, four at 128, sixteen at 256), so a walker's behaviour per cell is the
same at every size. Below 64 the same 64 m scene is drawn at coarser cells
(`cell_size = 64 / size` metres: 2 m at size 32, 4 m at size 16).

`TRUE_COST` is the hidden per-class cost per unit move used to generate tracks: sidewalks
are cheapest, crosswalks nearly as cheap, grass a shortcut worth taking sometimes, parking
lots worse and roads far worse, so walkers cross roads mostly at crosswalks. The costs are
well above `MIN_COST`, so walkers are purposeful (and the soft-value sweeps converge fast).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from irlax.forecast.planning import MIN_COST
from irlax.forecast.scene import Scene

CLASSES = ("road", "sidewalk", "crosswalk", "grass", "parking", "building")
ROAD, SIDEWALK, CROSSWALK, GRASS, PARKING, BUILDING = range(len(CLASSES))

#: Hidden cost per unit move of each class, used to generate tracks. Buildings are
#: impassable; their entry only keeps the cost map finite and above `MIN_COST`.
TRUE_COST = MappingProxyType(
    {
        "road": 9.0,
        "sidewalk": 3.0,
        "crosswalk": 3.2,
        "grass": 4.0,
        "parking": 4.6,
        "building": 12.0,
    }
)
if min(v for k, v in TRUE_COST.items() if k != "building") < MIN_COST + 0.25:
    raise AssertionError("TRUE_COST must stay at least 0.25 above MIN_COST in passable cells")

#: Smallest map side, in cells.
MIN_SIZE = 16
#: Side in metres of the smallest scene; smaller maps draw it at coarser cells.
_BASE_METRES = 64

_NORTH, _EAST, _SOUTH, _WEST = "north", "east", "south", "west"
_SIDES = (_NORTH, _EAST, _SOUTH, _WEST)
_OPPOSITE = {_NORTH: _SOUTH, _SOUTH: _NORTH, _EAST: _WEST, _WEST: _EAST}
# The two ends of a row of buildings along a side: (where u = 0, where u = along).
_ENDS = {_NORTH: (_WEST, _EAST), _SOUTH: (_WEST, _EAST), _WEST: (_NORTH, _SOUTH)}
_ENDS[_EAST] = _ENDS[_WEST]

# Goal granularities, coarsest first: (largest edge goal in cells, door length, door pitch,
# whether side walls on footpaths have doors too).
_GOAL_LEVELS = (
    (3, 2, 10, False),
    (3, 2, 6, False),
    (2, 1, 4, False),
    (2, 1, 4, True),
    (1, 1, 2, True),
    (1, 1, 1, True),
)


@dataclass(frozen=True, eq=False)
class StreetScene:
    """A generated street scene and the hidden cost that walkers in it follow.

    Attributes:
        scene: the semantic map over `CLASSES`, buildings impassable.
        goals: bool `[G, H, W]`, disjoint sets of passable cells where walks start and end:
            sidewalk or path cells on the map border, and cells in front of building doors.
            Every goal can be reached from every other one.
        goal_names: a name per goal, e.g. `"north edge 2"` (counted along that edge, west to
            east or north to south) or `"door 5"`.
        true_cost: float `[H, W]`, `TRUE_COST` of each cell's class.
    """

    scene: Scene
    goals: np.ndarray
    goal_names: tuple[str, ...]
    true_cost: np.ndarray

    @property
    def labels(self) -> np.ndarray:
        """int `[H, W]` class index of each cell (into `CLASSES`)."""
        return self.scene.labels


def default_n_goals(size: int) -> int:
    """Default number of goals: 12 at size 64, proportional to the map side (at least 4)."""
    return max(4, round(12 * size / 64))


def street_scene(seed: int = 0, size: int = 64, n_goals: int | None = None) -> StreetScene:
    """Generate a street scene.

    Args:
        seed: seed of `np.random.default_rng`; the same seed and size give the same scene.
        size: map side in cells (at least 16); see the module docstring for the scale.
        n_goals: number of goals (at least 2); default `default_n_goals(size)`. Goals are
            spread over the map by farthest-point sampling among the map's entrances and
            doors; when many are asked for they shrink to single cells packed closer.

    Returns:
        The `StreetScene`.

    Raises:
        ValueError: `size` below 16, `n_goals` below 2, or more goals than the map has
            distinct entrance and door cells for.
    """
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < MIN_SIZE:
        raise ValueError(f"size must be an integer of at least {MIN_SIZE} cells, got {size!r}")
    size = int(size)
    if n_goals is None:
        n_goals = default_n_goals(size)
    if isinstance(n_goals, bool) or not isinstance(n_goals, int | np.integer) or n_goals < 2:
        raise ValueError(f"n_goals must be an integer of at least 2, got {n_goals!r}")
    n_goals = int(n_goals)

    rng = np.random.default_rng(seed)
    cell_size = max(1.0, _BASE_METRES / size)
    painter = _Painter(size, cell_size, rng)
    _draw_streets(painter)
    # A random symmetry of the square, so single roads and lot layouts take any orientation.
    turns, mirror = int(rng.integers(4)), bool(rng.integers(2))
    maps = []
    for x in (painter.labels, painter.facades, painter.side_facades):
        x = np.rot90(x, turns)
        maps.append(np.ascontiguousarray(x[:, ::-1] if mirror else x))
    labels, facades = maps[0].astype(np.int32), maps[1:]

    passable = labels != BUILDING
    # Roads are passable and cross the whole map, so whatever connects to them is one piece.
    network = _flood(passable, labels == ROAD)
    goals, names = _place_goals(labels, facades, network, n_goals, rng, seed, size)
    if not _flood(passable, goals[0])[goals.any(axis=0)].all():  # holds by construction
        raise RuntimeError(f"street_scene(seed={seed!r}, size={size}): goals not connected")

    costs = np.array([TRUE_COST[c] for c in CLASSES], np.float64)
    true_cost = costs[labels]
    scene = Scene.from_labels(labels, CLASSES, cell_size=cell_size, impassable=("building",))
    goals.setflags(write=False)
    true_cost.setflags(write=False)
    return StreetScene(scene=scene, goals=goals, goal_names=names, true_cost=true_cost)


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class _Lot:
    """A rectangle of a block, `[r0, r1) × [c0, c1)`, and its sides that face a street."""

    r0: int
    r1: int
    c0: int
    c1: int
    streets: frozenset[str]

    def along(self, side: str) -> int:
        """Length of the lot along `side`."""
        return self.c1 - self.c0 if side in (_NORTH, _SOUTH) else self.r1 - self.r0

    def depth(self, side: str) -> int:
        """Extent of the lot away from `side`."""
        return self.r1 - self.r0 if side in (_NORTH, _SOUTH) else self.c1 - self.c0

    def rect(self, side: str, u0: int, u1: int, v0: int, v1: int) -> tuple[slice, slice]:
        """Cells `u0 ≤ u < u1` along `side` and `v0 ≤ v < v1` in from it (v < 0: outside)."""
        if side == _NORTH:
            rows, cols = (self.r0 + v0, self.r0 + v1), (self.c0 + u0, self.c0 + u1)
        elif side == _SOUTH:
            rows, cols = (self.r1 - v1, self.r1 - v0), (self.c0 + u0, self.c0 + u1)
        elif side == _WEST:
            rows, cols = (self.r0 + u0, self.r0 + u1), (self.c0 + v0, self.c0 + v1)
        else:
            rows, cols = (self.r0 + u0, self.r0 + u1), (self.c1 - v1, self.c1 - v0)
        return slice(max(rows[0], 0), max(rows[1], 0)), slice(max(cols[0], 0), max(cols[1], 0))


class _Painter:
    """The label map being drawn, the door lines of buildings, and metre-to-cell sizes."""

    def __init__(self, size: int, cell_size: float, rng: np.random.Generator):
        self.size = size
        self.cell_size = cell_size
        self.rng = rng
        self.labels = np.full((size, size), GRASS, np.int8)
        # Cells in front of a building's street wall (or, in `side_facades`, of a side wall
        # on a footpath): the wall's id, else -1.
        self.facades = np.full((size, size), -1, np.int32)
        self.side_facades = np.full((size, size), -1, np.int32)
        self.n_facades = 0

    def cells(self, metres: float, minimum: int = 1) -> int:
        """A length in metres as a whole number of cells (at least `minimum`)."""
        return max(minimum, math.floor(metres / self.cell_size + 0.5))

    def draw(self, lo: float, hi: float, minimum: int = 1) -> int:
        """A random length between `lo` and `hi` metres, in cells."""
        return self.cells(self.rng.uniform(lo, hi), minimum)

    def facade(self, where: tuple[slice, slice], *, side: bool = False) -> None:
        """Mark the cells `where` as one door line (of a side wall if `side`)."""
        (self.side_facades if side else self.facades)[where] = self.n_facades
        self.n_facades += 1


def _draw_streets(p: _Painter) -> None:
    """Roads, sidewalks, crosswalks, then the blocks between them."""
    size, rng = p.size, p.rng
    metres = size * p.cell_size
    n_rows = max(1, round(metres / 64))
    if size < 32:
        n_cols = 0
    elif n_rows == 1:
        n_cols = int(rng.random() < 0.75)
    else:
        n_cols = n_rows
    avenue = int(rng.integers(n_rows + n_cols)) if metres >= 128 else -1
    horizontal = _place_roads(p, n_rows, avenue)
    vertical = _place_roads(p, n_cols, avenue - n_rows)
    labels = p.labels

    for a, b, walk in horizontal:
        labels[a - walk : a] = labels[b : b + walk] = SIDEWALK
    for a, b, walk in vertical:
        labels[:, a - walk : a] = labels[:, b : b + walk] = SIDEWALK
    for a, b, _ in horizontal:
        labels[a:b] = ROAD
    for a, b, _ in vertical:
        labels[:, a:b] = ROAD
    # Zebra crossings around each intersection, in line with the sidewalks.
    zebra = p.cells(3)
    for ha, hb, hwalk in horizontal:
        for va, vb, vwalk in vertical:
            w = max(zebra, hwalk)
            labels[ha - w : ha, va:vb] = labels[hb : hb + w, va:vb] = CROSSWALK
            w = max(zebra, vwalk)
            labels[ha:hb, va - w : va] = labels[ha:hb, vb : vb + w] = CROSSWALK
    _mid_block_crossings(p, horizontal, vertical, zebra)

    row_spans = _gaps(size, [(a - w, b + w) for a, b, w in horizontal])
    col_spans = _gaps(size, [(a - w, b + w) for a, b, w in vertical])
    lots = []
    for r0, r1 in row_spans:
        for c0, c1 in col_spans:
            streets = {_NORTH: r0 > 0, _SOUTH: r1 < size, _WEST: c0 > 0, _EAST: c1 < size}
            lots += _split_block(p, r0, r1, c0, c1, frozenset(s for s, x in streets.items() if x))
    for lot, kind in zip(lots, _lot_kinds(rng, len(lots)), strict=True):
        if min(lot.r1 - lot.r0, lot.c1 - lot.c0) < 3:
            continue
        {"buildings": _buildings, "park": _park, "parking": _parking}[kind](p, lot)


def _place_roads(p: _Painter, n: int, avenue: int) -> list[tuple[int, int, int]]:
    """`n` parallel roads spread over the map: (first cell, end cell, sidewalk width)."""
    spacing = p.size / max(n, 1)
    roads = []
    for i in range(n):
        if i == avenue:  # four lanes
            width, walk = p.draw(11, 13.5, 3), p.draw(3, 4.5)
        else:  # two lanes
            width, walk = p.draw(6, 8.5, 2), p.draw(2, 3.5)
        centre = (i + 0.5) * spacing + p.rng.uniform(-1, 1) * spacing / 8
        a = math.floor(centre - width / 2 + 0.5)
        roads.append((a, a + width, walk))
    return roads


def _gaps(size: int, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The intervals of `[0, size)` outside all `spans`."""
    out, start = [], 0
    for a, b in sorted(spans):
        if a > start:
            out.append((start, a))
        start = max(start, b)
    if start < size:
        out.append((start, size))
    return out


def _mid_block_crossings(p: _Painter, horizontal, vertical, zebra: int) -> None:
    """Crosswalks across road stretches between intersections (at least one per map)."""
    size, rng = p.size, p.rng
    near_corner, near_edge = p.cells(8), p.cells(4)
    options = []  # (road index, orientation, lowest start, highest start)
    for roads, crossing, orient in ((horizontal, vertical, 0), (vertical, horizontal, 1)):
        blocked = [(a - max(w, zebra), b + max(w, zebra)) for a, b, w in crossing]
        for i in range(len(roads)):
            for s0, s1 in _gaps(size, blocked):
                lo = s0 + (near_edge if s0 == 0 else near_corner)
                hi = s1 - (near_edge if s1 == size else near_corner) - zebra
                if hi >= lo:
                    options.append((i, orient, lo, hi, (s1 - s0) * p.cell_size))
    chosen = [o for o in options if rng.random() < np.clip(o[4] / 70, 0.25, 0.8)]
    if not chosen and options and p.cell_size <= 2:
        chosen = [options[int(rng.integers(len(options)))]]
    for i, orient, lo, hi, _ in chosen:
        x = int(rng.integers(lo, hi + 1))
        a, b, _ = (horizontal, vertical)[orient][i]
        if orient == 0:
            p.labels[a:b, x : x + zebra] = CROSSWALK
        else:
            p.labels[x : x + zebra, a:b] = CROSSWALK


def _split_block(p: _Painter, r0: int, r1: int, c0: int, c1: int, streets) -> list[_Lot]:
    """Cut a block into lots of 20–32 m across its long axis."""
    wide = c1 - c0 >= r1 - r0
    lo, hi = (c0, c1) if wide else (r0, r1)
    n = max(1, round((hi - lo) * p.cell_size / p.rng.uniform(20, 32)))
    step = (hi - lo) / n
    jitter = p.rng.uniform(-0.15, 0.15, n - 1) * step
    cuts = [lo, *(round(lo + (i + 1) * step + j) for i, j in enumerate(jitter)), hi]
    lots = []
    first, last = (_WEST, _EAST) if wide else (_NORTH, _SOUTH)
    for i, (a, b) in enumerate(itertools.pairwise(cuts)):
        s = set(streets)
        if i > 0:
            s.discard(first)
        if i < n - 1:
            s.discard(last)
        lots.append(_Lot(r0, r1, a, b, frozenset(s)) if wide else _Lot(a, b, c0, c1, frozenset(s)))
    return lots


def _lot_kinds(rng: np.random.Generator, n: int) -> list[str]:
    """Lot uses: at least one park and one parking lot, and buildings on half or more."""
    guaranteed = ["buildings", "park", "parking", "buildings", "buildings"][:n]
    rest = rng.choice(["buildings", "park", "parking"], n - len(guaranteed), p=[0.55, 0.2, 0.25])
    kinds = guaranteed + [str(k) for k in rest]
    return [kinds[i] for i in rng.permutation(n)]


def _buildings(p: _Painter, lot: _Lot) -> None:
    """Rows of buildings along each street side, doors facing the street, paths between."""
    rng, labels = p.rng, p.labels
    sides = [s for s in _SIDES if s in lot.streets]
    rng.shuffle(sides)
    gap, margin, narrowest = p.cells(2), p.cells(1), p.cells(5, 2)
    done: dict[str, int] = {}
    for side in sides:
        depth, along = lot.depth(side), lot.along(side)
        d = p.draw(8, 14, 2)
        if _OPPOSITE[side] in lot.streets:
            d = min(d, (depth - gap) // 2)
        else:
            d = min(d, depth - margin)
        setback = p.cells(rng.choice([0.0, 0.0, 1.0, 2.0]), 0)
        if d - setback < p.cells(4, 2):
            setback = 0
        if d < p.cells(4, 2):
            continue
        start, end = (done[e] + gap if e in done else margin for e in _ENDS[side])
        u, stop = start, along - end
        if stop - u < narrowest:
            continue
        labels[lot.rect(side, u, stop, 0, setback)] = SIDEWALK  # forecourt
        while stop - u >= narrowest:
            w = p.draw(7, 18, narrowest)
            if stop - (u + w) < narrowest + gap:
                w = stop - u
            labels[lot.rect(side, u, u + w, setback, d)] = BUILDING
            door = (u + 1, u + w - 1) if w >= 3 else (u, u + w)
            p.facade(lot.rect(side, *door, setback - 1, setback))
            u += w
            if stop - u < narrowest + gap:
                break
            path = lot.rect(side, u, u + gap, setback, depth)
            if rng.random() < 0.7:  # a footpath, with side doors onto it
                labels[path] = np.where(labels[path] == BUILDING, BUILDING, SIDEWALK)
                for v in sorted({u, u + gap - 1}):
                    p.facade(lot.rect(side, v, v + 1, setback + 1, d - 1), side=True)
            u += gap
        done[side] = d


def _park(p: _Painter, lot: _Lot) -> None:
    """Grass crossed by a diagonal path and/or a straight one from a street."""
    rng, labels = p.rng, p.labels
    h, w = lot.r1 - lot.r0, lot.c1 - lot.c0
    width = p.cells(2)
    diagonal, straight = rng.random() < 0.7, rng.random() < 0.6
    if not (diagonal or straight):
        diagonal = True
    if diagonal:
        i, j = np.mgrid[0:h, 0:w] + 0.5
        if rng.random() < 0.5:
            j = w - j
        near = np.abs(i * w - j * h) / math.hypot(h, w) <= max(width / 2, 0.75)
        labels[lot.r0 : lot.r1, lot.c0 : lot.c1][near] = SIDEWALK
    if straight:
        streets = sorted(lot.streets) or [_NORTH]
        side = streets[int(rng.integers(len(streets)))]
        along = lot.along(side)
        u = int(rng.integers(max(1, along // 4), max(2, 3 * along // 4)))
        labels[lot.rect(side, u, min(u + width, along), 0, lot.depth(side))] = SIDEWALK


def _parking(p: _Painter, lot: _Lot) -> None:
    """A parking lot behind a hedge of grass, entered from the street, a store at the back."""
    rng, labels = p.rng, p.labels
    hedge = p.cells(1)
    labels[lot.r0 : lot.r1, lot.c0 : lot.c1] = GRASS
    labels[lot.r0 + hedge : lot.r1 - hedge, lot.c0 + hedge : lot.c1 - hedge] = PARKING
    opening = p.cells(3)
    for side in sorted(lot.streets):  # a set's order changes with PYTHONHASHSEED
        along = lot.along(side)
        for _ in range(1 + int(rng.random() < 0.5)):
            if along - 2 * hedge - opening > 0:
                u = int(rng.integers(hedge, along - hedge - opening + 1))
                labels[lot.rect(side, u, u + opening, 0, hedge)] = PARKING
    streets = sorted(lot.streets)
    if not streets:
        return
    front = streets[int(rng.integers(len(streets)))]
    back, along, depth = _OPPOSITE[front], lot.along(front), lot.depth(front)
    d, walk = p.draw(6, 9, 2), p.cells(2)
    if depth < hedge + d + walk + p.cells(8) or along < p.cells(12, 4):
        return
    w = max(p.cells(6, 2), int(along * rng.uniform(0.45, 0.75)))
    u = int(rng.integers(hedge + 1, max(hedge + 2, along - hedge - w)))
    w = min(w, along - hedge - 1 - u)
    labels[lot.rect(back, u, u + w, hedge, hedge + d)] = BUILDING
    labels[lot.rect(back, u - 1, u + w + 1, hedge + d, hedge + d + walk)] = SIDEWALK
    p.facade(lot.rect(back, u + 1, u + w - 1, hedge + d, hedge + d + 1))


# --------------------------------------------------------------------------- goals


def _flood(passable: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Passable cells reachable from `start` by 8-neighbour moves through passable cells."""
    reached = start & passable
    count = reached.sum()
    while True:
        grown = reached.copy()
        grown[1:] |= reached[:-1]
        grown[:-1] |= reached[1:]
        wider = grown.copy()
        wider[:, 1:] |= grown[:, :-1]
        wider[:, :-1] |= grown[:, 1:]
        reached = wider & passable
        new_count = reached.sum()
        if new_count == count:
            return reached
        count = new_count


def _border(size: int, side: str) -> np.ndarray:
    """int `[size, 2]` cells of one border, west to east or north to south."""
    k = np.arange(size)
    fixed = np.full(size, 0 if side in (_NORTH, _WEST) else size - 1)
    return np.stack([fixed, k] if side in (_NORTH, _SOUTH) else [k, fixed], axis=1)


def _runs(mask: np.ndarray) -> list[np.ndarray]:
    """Index arrays of the runs of True in a 1-D mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [np.arange(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _candidates(labels, facades, usable, level):
    """Disjoint candidate goals at one granularity.

    Args:
        labels: int `[H, W]` class map.
        facades: the door-line maps (street walls, side walls): wall id per cell, else -1.
        usable: bool `[H, W]`, the passable cells connected to the road network.
        level: an entry of `_GOAL_LEVELS`.

    Returns:
        `[(kind, side, cells)]`: kind `"edge"` (with its border `side`) or `"door"` (side
        None), cells int `[n, 2]`; edges first, no cell in two candidates.
    """
    edge_chunk, door_len, pitch, side_doors = level
    size = labels.shape[0]
    out, used = [], np.zeros_like(usable)
    for side in _SIDES:
        border = _border(size, side)
        ok = (labels[border[:, 0], border[:, 1]] == SIDEWALK) & usable[border[:, 0], border[:, 1]]
        for run in _runs(ok):
            for chunk in np.array_split(run, math.ceil(len(run) / edge_chunk)):
                out.append(("edge", side, border[chunk]))
    for walls in facades[: 1 + side_doors]:
        cells = np.argwhere((walls >= 0) & usable)  # row-major: each wall's line in order
        ids = walls[cells[:, 0], cells[:, 1]]
        cells = cells[np.argsort(ids, kind="stable")]
        for line in np.split(cells, np.flatnonzero(np.diff(np.sort(ids))) + 1):
            n = len(line)
            if n < door_len:
                continue
            m = (n - door_len) // pitch + 1
            first = (n - ((m - 1) * pitch + door_len)) // 2
            for i in range(m):
                a = first + i * pitch
                out.append(("door", None, line[a : a + door_len]))
    kept = []
    for cand in out:
        rows, cols = cand[2][:, 0], cand[2][:, 1]
        if not used[rows, cols].any():
            used[rows, cols] = True
            kept.append(cand)
    return kept


def _place_goals(labels, facades, network, n_goals, rng, seed, size):
    """Pick `n_goals` goals spread over the map, and name them.

    Uses the coarsest granularity of `_GOAL_LEVELS` that offers enough candidates, then
    farthest-point sampling on the candidates' centres from a random first one.

    Returns:
        bool `[n_goals, H, W]` goals (edges first, by side and position; then doors by
        position) and their names.

    Raises:
        ValueError: even single cells packed side by side are fewer than `n_goals`.
    """
    usable = network & (labels != BUILDING)
    for level in _GOAL_LEVELS:
        cands = _candidates(labels, facades, usable, level)
        if len(cands) >= n_goals:
            break
    else:
        raise ValueError(
            f"n_goals={n_goals} is more than the {len(cands)} separate entrance and door cells "
            f"of street_scene(seed={seed!r}, size={size}); ask for fewer goals or a larger map"
        )
    centres = np.array([c[2].mean(axis=0) for c in cands])
    picked = [int(rng.integers(len(cands)))]
    dist = np.linalg.norm(centres - centres[picked[0]], axis=1)
    dist[picked[0]] = -np.inf
    for _ in range(n_goals - 1):
        k = int(np.argmax(dist))
        picked.append(k)
        dist = np.minimum(dist, np.linalg.norm(centres - centres[k], axis=1))
        dist[k] = -np.inf

    def order(k):
        kind, side, cells = cands[k]
        if kind == "edge":
            return (0, _SIDES.index(side), *cells[0])
        return (1, 0, *cells[0])

    goals = np.zeros((n_goals, *labels.shape), bool)
    names, per_side, doors = [], dict.fromkeys(_SIDES, 0), 0
    for g, k in enumerate(sorted(picked, key=order)):
        kind, side, cells = cands[k]
        goals[g, cells[:, 0], cells[:, 1]] = True
        if kind == "edge":
            per_side[side] += 1
            names.append(f"{side} edge {per_side[side]}")
        else:
            doors += 1
            names.append(f"door {doors}")
    return goals, tuple(names)
