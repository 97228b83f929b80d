"""Rebuild `irlax/datasets/data/ny_harbor.npz`: AIS vessel tracks in New York Harbor on a grid.

The source is the PyPI package `tracktable-data` (BSD-2-Clause, Sandia): the AIS tracks
`python_example_data/NYHarbor_2020_12_first_week.traj` and the GSHHG coastline
`python_info_data/GSHHS_shp/h/GSHHS_h_L1.shp` (high resolution, level 1 = land/ocean). The
wheel is read in place (it is a zip file); nothing is installed and it is not a dependency of
irlax. Usage::

    python scripts/build_ny_harbor.py                      # pip-downloads the wheel to a tmp dir
    python scripts/build_ny_harbor.py --wheel tracktable_data-1.7.3.1-py3-none-any.whl

It writes `ny_harbor.npz`, `ny_harbor.md` and `LICENSE-tracktable-data` into
`irlax/datasets/data/` (or `--out DIR`). Only numpy, matplotlib (its `Path` for clipping and
point-in-polygon tests) and irlax itself are used; see `ny_harbor.md` for what each step does.
The build is deterministic (the subsample is seeded; the npz is byte-for-byte reproducible).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import io
import itertools
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path as FsPath

import numpy as np
from matplotlib.path import Path
from matplotlib.transforms import Bbox

REPO = FsPath(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from irlax.forecast.tracks import cell_path  # noqa: E402

TRAJ_MEMBER = "tracktable_data/python_example_data/NYHarbor_2020_12_first_week.traj"
SHP_MEMBER = "tracktable_data/python_info_data/GSHHS_shp/h/GSHHS_h_L1.shp"
LICENSE_SUFFIX = ".dist-info/licenses/LICENSE.txt"

EARTH_RADIUS = 6_371_008.8  # metres, mean Earth radius (IUGG)
# Requested extent (lon_min, lat_min, lon_max, lat_max); the grid's extent is this box's
# south-west corner plus a whole number of cells.
BBOX = (-74.20, 40.50, -73.90, 40.78)
CELL_SIZE = 200.0  # metres
SUBSAMPLES = 5  # s x s point-in-polygon samples per cell
MIN_WATER_FRACTION = 0.25  # a cell is water when at least this fraction of its samples is
PAD_CELLS = 6  # land is rasterised this far outside the grid, for distances at its edges
BANDS = (250.0, 750.0)  # distance-to-shore band edges, metres
CLASSES = ("land", "water_0_250m", "water_250_750m", "water_750m_plus")
IMPASSABLE = ("land",)

MAX_GAP_S = 15 * 60  # split a vessel's track where fixes are further apart in time
MAX_SPEED_KN = 40.0  # split where consecutive fixes imply a faster speed (position glitches)
STOP_SPEED_KN = 1.0  # a vessel slower than this for STOP_MIN_S is stopped (berth, anchor)
STOP_MIN_S = 3 * 60
LAND_POLICY = "drop"  # trips crossing land between water cells: "drop" them or "cut" them
MIN_CELLS = 10  # drop segments of fewer cells
MIN_EXTENT_M = 1000.0  # drop segments whose cells' bounding box has a shorter diagonal
SPLIT_TIME = dt.datetime(2020, 12, 6, tzinfo=dt.UTC)  # train: start before; test: after
MAX_TRAIN, MAX_TEST = 400, 150
SEED = 0


# ----------------------------------------------------------------------------- sources


def fetch_wheel(dest: FsPath) -> FsPath:
    """`pip download tracktable-data --no-deps` into `dest`; returns the wheel's path."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "tracktable-data", "--no-deps", "-d", str(dest)],
        check=True,
    )
    wheels = sorted(dest.glob("tracktable_data-*.whl"))
    if not wheels:
        raise FileNotFoundError(f"pip download left no tracktable_data wheel in {dest}")
    return wheels[-1]


def parse_traj(text: str):
    """Parse tracktable's trajectory text format (`.traj`) into flat point arrays.

    Each line is one trajectory::

        *T*, uuid, domain, n_points, n_traj_props, [props...],
        *P*, domain, dimension, has_object_id, has_timestamp, n_point_props,
        then n_points x (object_id, "YYYY-mm-dd HH:MM:SS", lon, lat, [point props...])

    Returns:
        (object_id int64, unix seconds int64, lon float64, lat float64), one entry per point,
        in file order. Timestamps are read as UTC (AIS time stamps are UTC).
    """
    ids, times, lons, lats = [], [], [], []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        f = line.split(",")
        if f[0] != "*T*":
            raise ValueError(f"line {lineno}: expected '*T*', got {f[0]!r}")
        n_points, n_tprops = int(f[3]), int(f[4])
        p = 5 + 2 * n_tprops  # trajectory properties are (name, value) pairs... if any
        if n_tprops:
            raise ValueError(f"line {lineno}: trajectory properties are not supported")
        if f[p] != "*P*":
            raise ValueError(f"line {lineno}: expected '*P*' at field {p}, got {f[p]!r}")
        dim, has_id, has_time, n_pprops = (int(v) for v in f[p + 2 : p + 6])
        if (dim, has_id, has_time, n_pprops) != (2, 1, 1, 0):
            raise ValueError(
                f"line {lineno}: expected 2-D points with object id and timestamp and no "
                f"properties, got {(dim, has_id, has_time, n_pprops)}"
            )
        body = f[p + 6 :]
        if len(body) != 4 * n_points:
            raise ValueError(f"line {lineno}: {len(body)} fields for {n_points} points")
        pts = np.asarray(body, dtype=object).reshape(n_points, 4)
        ids.append(pts[:, 0].astype(np.int64))
        times.extend(pts[:, 1])
        lons.append(pts[:, 2].astype(np.float64))
        lats.append(pts[:, 3].astype(np.float64))
    utc = [dt.datetime.fromisoformat(s).replace(tzinfo=dt.UTC) for s in times]
    seconds = np.asarray([int(u.timestamp()) for u in utc], dtype=np.int64)
    return np.concatenate(ids), seconds, np.concatenate(lons), np.concatenate(lats)


def read_polygon_shapefile(data: bytes, bbox) -> list[list[np.ndarray]]:
    """The polygons of an ESRI polygon shapefile (`.shp`) whose bounding box meets `bbox`.

    Format (ESRI Shapefile Technical Description, 1998): a 100-byte header (file code 9994
    big-endian at 0, shape type little-endian at 32), then records of an 8-byte big-endian
    header (record number, content length in 16-bit words) and content: shape type (5 =
    polygon), bounding box (4 doubles), number of parts, number of points, the part start
    indices and the (x, y) doubles. Null shapes (type 0) are skipped.

    Returns:
        One list of rings (float64 `[n, 2]` lon/lat arrays) per polygon.
    """
    code, shape_type = struct.unpack(">i", data[:4])[0], struct.unpack("<i", data[32:36])[0]
    if code != 9994 or shape_type != 5:
        raise ValueError(f"not a polygon shapefile (file code {code}, shape type {shape_type})")
    x0, y0, x1, y1 = bbox
    out, off = [], 100
    while off < len(data):
        _, length = struct.unpack(">2i", data[off : off + 8])
        c, off = off + 8, off + 8 + 2 * length
        (rtype,) = struct.unpack("<i", data[c : c + 4])
        if rtype == 0:
            continue
        if rtype != 5:
            raise ValueError(f"record at byte {c - 8} has shape type {rtype}, not polygon")
        bx0, by0, bx1, by1 = struct.unpack("<4d", data[c + 4 : c + 36])
        if bx1 < x0 or bx0 > x1 or by1 < y0 or by0 > y1:
            continue
        n_parts, n_points = struct.unpack("<2i", data[c + 36 : c + 44])
        parts = [*np.frombuffer(data, "<i4", n_parts, c + 44).tolist(), n_points]
        xy = np.frombuffer(data, "<f8", 2 * n_points, c + 44 + 4 * n_parts).reshape(-1, 2)
        out.append([xy[a:b].copy() for a, b in itertools.pairwise(parts)])
    return out


# ----------------------------------------------------------------------------- grid


class Grid:
    """Square cells on a local equirectangular projection anchored at the box's SW corner.

    x = R·cos(φ0)·(λ − λ_min), y = R·(φ − φ_min) in metres with φ0 the mid latitude of the
    grid's own extent (so the stored bbox alone defines the projection); row 0 is the northern
    edge, column 0 the western edge. Since the projection is linear in lon/lat, cell (r, c)
    covers lon ∈ λ_min + [c, c+1)·Δλ and lat ∈ φ_max − [r+1, r)·Δφ exactly. The requested
    box is rounded to whole cells from its SW corner.
    """

    def __init__(self, bbox, cell_size: float):
        lon_min, lat_min, lon_max, lat_max = bbox
        self.cell = float(cell_size)
        self.lon_min, self.lat_min = lon_min, lat_min
        m_per_deg_lat = EARTH_RADIUS * np.pi / 180
        self.dlat = self.cell / m_per_deg_lat
        self.h = int(np.rint((lat_max - lat_min) / self.dlat))
        self.lat_max = lat_min + self.h * self.dlat
        self.lat0 = np.radians((self.lat_min + self.lat_max) / 2)
        m_per_deg_lon = m_per_deg_lat * np.cos(self.lat0)
        self.dlon = self.cell / m_per_deg_lon
        self.w = int(np.rint((lon_max - lon_min) / self.dlon))
        self.lon_max = lon_min + self.w * self.dlon

    @property
    def bbox(self):
        return (self.lon_min, self.lat_min, self.lon_max, self.lat_max)

    def cells(self, lon, lat):
        """(row, col) float positions in cell units (floor them for the cell index)."""
        return (self.lat_max - lat) / self.dlat, (lon - self.lon_min) / self.dlon

    def metres(self, lon, lat):
        """(x, y) metres east and north of the SW corner."""
        return (lon - self.lon_min) / self.dlon * self.cell, (
            lat - self.lat_min
        ) / self.dlat * self.cell


def water_fraction(polygons, grid: Grid, pad: int, sub: int) -> np.ndarray:
    """Fraction of `sub`² sample points per cell outside every land polygon, on the grid
    padded by `pad` cells each side: float `[H + 2·pad, W + 2·pad]`.

    Rings are clipped to the padded box first (matplotlib's Sutherland–Hodgman
    `Path.clip_to_bbox`); a point is on land when it lies inside an odd number of a polygon's
    rings (GSHHS level-1 polygons are single rings, so this is plain containment).
    """
    hp, wp = grid.h + 2 * pad, grid.w + 2 * pad
    offs = (np.arange(sub) + 0.5) / sub
    rows = (np.arange(hp)[:, None] + offs[None, :]).ravel() - pad  # [hp*sub] in cell units
    cols = (np.arange(wp)[:, None] + offs[None, :]).ravel() - pad
    lat = grid.lat_max - rows * grid.dlat
    lon = grid.lon_min + cols * grid.dlon
    lon_g, lat_g = np.meshgrid(lon, lat)
    pts = np.stack([lon_g.ravel(), lat_g.ravel()], axis=1)
    margin = 0.01  # degrees; the clip box encloses every sample point
    clip = Bbox.from_extents(
        lon.min() - margin, lat.min() - margin, lon.max() + margin, lat.max() + margin
    )
    land = np.zeros(len(pts), dtype=bool)
    for polygon in polygons:
        inside = np.zeros(len(pts), dtype=bool)
        for ring in polygon:
            clipped = Path(ring, closed=False).clip_to_bbox(clip, inside=True)
            if len(clipped.vertices) < 3:
                continue
            inside ^= Path(clipped.vertices).contains_points(pts)
        land |= inside
    water = ~land.reshape(hp, sub, wp, sub)
    return water.mean(axis=(1, 3))


def distance_to_land(land: np.ndarray, cell: float) -> np.ndarray:
    """Exact Euclidean distance (metres) from each cell centre to the nearest land cell centre.

    Brute force over the coast cells only (land cells with a 4-neighbour in water), in chunks;
    land cells get 0. Infinite where the array has no land.
    """
    h, w = land.shape
    padded = np.pad(land, 1, constant_values=True)
    water_nb = ~(padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:])
    coast = np.argwhere(land & water_nb).astype(np.float64)
    dist = np.zeros((h, w))
    water = np.argwhere(~land)
    if len(coast) == 0:
        dist[~land] = np.inf
        return dist
    for start in range(0, len(water), 2048):
        chunk = water[start : start + 2048].astype(np.float64)
        d2 = ((chunk[:, None, :] - coast[None, :, :]) ** 2).sum(-1).min(axis=1)
        dist[water[start : start + 2048, 0], water[start : start + 2048, 1]] = np.sqrt(d2)
    return dist * cell


def label_grid(polygons, grid: Grid):
    """Classes per cell: 0 land, then water by distance to shore (see `BANDS`).

    Distance to shore of a water cell = distance from its centre to the nearest land cell's
    centre minus half a cell (≈ the distance to the nearest land cell's edge), computed on a
    grid padded by `PAD_CELLS` so that land just outside the box counts.

    Returns:
        (labels int8 [H, W], water fraction [H, W], distance to shore [H, W] metres).
    """
    frac = water_fraction(polygons, grid, PAD_CELLS, SUBSAMPLES)
    land = frac < MIN_WATER_FRACTION
    shore = distance_to_land(land, grid.cell) - grid.cell / 2
    crop = (slice(PAD_CELLS, PAD_CELLS + grid.h), slice(PAD_CELLS, PAD_CELLS + grid.w))
    land, shore, frac = land[crop], shore[crop], frac[crop]
    labels = np.where(land, 0, 1 + np.searchsorted(np.asarray(BANDS), shore, side="right"))
    return labels.astype(np.int8), frac, np.where(land, 0.0, shore)


# ----------------------------------------------------------------------------- tracks


def split_points(vessel, t, lon, lat, grid: Grid):
    """Trips: per vessel, time-sorted runs of fixes, split at time gaps > `MAX_GAP_S`, at
    implied speeds > `MAX_SPEED_KN`, wherever the vessel is outside the grid (fixes outside
    are dropped, and a track leaving and re-entering the box becomes two runs) and at stops
    (`_moving_spans`).

    Returns:
        list of index arrays into the (vessel, t, lon, lat) arrays, in order of (vessel, time).
    """
    order = np.lexsort((t, vessel))
    vessel, t, lon, lat = vessel[order], t[order], lon[order], lat[order]
    x, y = grid.metres(lon, lat)
    inside = (
        (lon >= grid.lon_min) & (lon < grid.lon_max) & (lat >= grid.lat_min) & (lat < grid.lat_max)
    )
    dt_s = np.diff(t)
    speed_kn = np.hypot(np.diff(x), np.diff(y)) / np.maximum(dt_s, 1) / (1852 / 3600)
    brk = (
        (vessel[1:] != vessel[:-1])
        | (dt_s > MAX_GAP_S)
        | (dt_s <= 0)
        | (speed_kn > MAX_SPEED_KN)
        | ~inside[1:]
        | ~inside[:-1]
    )
    starts = np.concatenate([[0], np.flatnonzero(brk) + 1])
    ends = np.concatenate([starts[1:], [len(t)]])
    trips = []
    for a, b in zip(starts, ends, strict=True):
        if not inside[a]:
            continue
        trips.extend(order[a + i : a + j] for i, j in _moving_spans(t[a:b], speed_kn[a : b - 1]))
    return trips


def _moving_spans(t, speed_kn):
    """Split one run of fixes at its stops: maximal spans of steps slower than
    `STOP_SPEED_KN` lasting at least `STOP_MIN_S`. Returns (start, end) fix index pairs of the
    parts between stops (end exclusive), each including the fixes where it leaves and reaches a
    stop."""
    n = len(t)
    slow = np.concatenate([[False], speed_kn < STOP_SPEED_KN, [False]])
    edges = np.flatnonzero(np.diff(slow.astype(np.int8)))
    spans, cur = [], 0
    for s0, s1 in zip(edges[::2], edges[1::2], strict=True):
        # steps s0 .. s1-1 are slow: fixes s0 .. s1 are stopped
        if t[s1] - t[s0] >= STOP_MIN_S:
            spans.append((cur, s0 + 1))
            cur = s1
    spans.append((cur, n))
    return [(i, j) for i, j in spans if j - i >= 2]


def join_fixes(rows, cols, times):
    """Cells of consecutive fixes joined with `irlax.forecast.tracks.cell_path` (8-neighbour
    moves along the straightest line, repeats dropped), with a time per cell interpolated
    linearly between the fixes. Joining pair by pair gives exactly `cell_path(rows, cols)`.

    Returns:
        (int64 `[n, 2]` cells, float64 `[n]` unix seconds).
    """
    cells, stamps = [np.array([[rows[0], cols[0]]])], [np.array([float(times[0])])]
    for i in range(1, len(rows)):
        prev = cells[-1][-1]
        step = cell_path([prev[0], rows[i]], [prev[1], cols[i]])[1:]
        if len(step):
            frac = np.arange(1, len(step) + 1) / len(step)
            cells.append(step)
            stamps.append(times[i - 1] + frac * (times[i] - times[i - 1]))
    return np.concatenate(cells), np.concatenate(stamps)


def remove_reversals(cells: np.ndarray, times: np.ndarray):
    """Drop back-and-forth jitter: whenever a path returns to the cell it was in two steps
    before (A → B → A), the excursion to B is removed and the first visit to A kept. Real
    loops (≥ 3 cells) are kept. Returns the filtered (cells, times)."""
    out: list[int] = []
    for k, cell in enumerate(map(tuple, cells.tolist())):
        if len(out) >= 2 and tuple(cells[out[-2]]) == cell:
            out.pop()
        elif not out or tuple(cells[out[-1]]) != cell:
            out.append(k)
    return cells[out], times[out]


def build_segments(vessel, t, lon, lat, labels, grid: Grid, stats: dict):
    """Turn fixes into cell paths in water; counts of what was dropped go to `stats`.

    Trips (`split_points`) are joined into cell paths (`join_fixes`), cleaned of A → B → A
    jitter (`remove_reversals`) and cut at land cells: every maximal run of water cells is a
    candidate segment (land at the ends is where berths lie beyond the coarse coastline; land
    inside is a pier, basin or creek GSHHS does not resolve, or a gap interpolated across a
    bend). Candidates shorter than `MIN_CELLS` cells or spanning less than `MIN_EXTENT_M`
    (anchored, manoeuvring at a berth) are dropped.

    Returns:
        A list of dicts: `mmsi`, `start` (unix seconds, the time the first cell was entered,
        interpolated between fixes and rounded down) and `path` (int `[n, 2]`).
    """
    trips = split_points(vessel, t, lon, lat, grid)
    stats["trips"] = len(trips)
    land = labels == 0
    segments = []
    for idx in trips:
        r, c = grid.cells(lon[idx], lat[idx])
        r = np.clip(np.floor(r).astype(np.int64), 0, grid.h - 1)
        c = np.clip(np.floor(c).astype(np.int64), 0, grid.w - 1)
        cells, times = remove_reversals(*join_fixes(r, c, t[idx]))
        wet = ~land[cells[:, 0], cells[:, 1]]
        edges = np.flatnonzero(np.diff(np.concatenate([[0], wet.astype(np.int8), [0]])))
        pieces = list(zip(edges[::2], edges[1::2], strict=True))
        if not pieces:
            stats["trips_all_on_land"] += 1
            continue
        if not wet[0] or not wet[-1]:
            stats["trips_land_at_ends"] += 1
        if len(pieces) > 1:
            if LAND_POLICY == "drop":
                stats["trips_dropped_land_inside"] += 1
                continue
            stats["trips_cut_at_land"] += 1
            stats["land_cuts"] += len(pieces) - 1
        for a, b in pieces:
            path = cells[a:b]
            extent = grid.cell * np.hypot(*np.ptp(path, axis=0))
            if len(path) < MIN_CELLS:
                stats["pieces_too_short"] += 1
            elif extent < MIN_EXTENT_M:
                stats["pieces_stationary"] += 1
            else:
                mmsi = int(vessel[idx[0]])
                segments.append({"mmsi": mmsi, "start": int(np.floor(times[a])), "path": path})
    stats["segments"] = len(segments)
    return segments


# ----------------------------------------------------------------------------- output


def subsample(segments, limit: int, rng: np.random.Generator):
    """At most `limit` segments drawn uniformly without replacement, in order of start time."""
    if len(segments) > limit:
        keep = rng.choice(len(segments), size=limit, replace=False)
        segments = [segments[i] for i in keep]
    return sorted(segments, key=lambda s: (s["start"], s["mmsi"]))


def write_npz(path: FsPath, arrays: dict) -> None:
    """Like `np.savez_compressed`, but byte-for-byte reproducible (fixed zip time stamps)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, value in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())


def license_text(full: str, version: str) -> str:
    """The tracktable licence (BSD-2-Clause) and the GSHHS section, verbatim from the wheel."""
    bsd = full[: full.index("\n----\nNOTE\n----")].rstrip()
    a = full.index("---------\n--GSHHS--\n---------")
    b = full.index("(end of GSHHS license)") + len("(end of GSHHS license)")
    return (
        f"The two passages below are copied verbatim from the licence file of the PyPI package\n"
        f"tracktable-data {version} (tracktable_data-{version}.dist-info/licenses/LICENSE.txt):\n"
        f"the licence of tracktable-data itself, which covers the AIS tracks, and the section on\n"
        f"the GSHHS shapefiles, from which the land raster of ny_harbor.npz is derived.\n"
        f"\n{'=' * 72}\n\n{bsd}\n\n{'=' * 72}\n\n{full[a:b]}\n"
    )


def _pct(lengths) -> str:
    q = np.percentile(lengths, [0, 50, 100])
    return f"{int(q[0])} / {q[1]:g} / {int(q[2])}"


def describe(
    version, grid, labels, stats, n_points, n_vessels_raw, t_range, train, test, vessels, on_land
):
    """The text of `ny_harbor.md`."""
    counts = np.bincount(labels.ravel(), minlength=len(CLASSES))
    fmt = "%Y-%m-%d %H:%M:%S UTC"
    t0, t1 = (dt.datetime.fromtimestamp(v, dt.UTC).strftime(fmt) for v in t_range)
    max_per_vessel = max(collections.Counter(s["mmsi"] for s in train + test).values())
    tr_len = [len(s["path"]) for s in train]
    te_len = [len(s["path"]) for s in test]
    lon_min, lat_min, lon_max, lat_max = grid.bbox
    class_rows = "\n".join(f"| {i} | `{name}` | {counts[i]} |" for i, name in enumerate(CLASSES))
    land_action = "dropped" if LAND_POLICY == "drop" else "cut there into its water pieces"
    stat_rows = "\n".join(f"| {k} | {v} |" for k, v in stats.items())
    return f"""# New York Harbor vessel tracks (`ny_harbor.npz`)

AIS tracks of vessels in New York Harbor, 1–7 December 2020, as cell paths on a
{grid.h} × {grid.w} grid of {grid.cell:g} m cells labelled land / water by distance to shore, for
activity forecasting (Kitani et al. 2012: learn per-cell costs from observed paths, forecast
where a vessel goes). Load it with `irlax.datasets.ny_harbor()`.

## Source and licence

- **Package**: [`tracktable-data`](https://pypi.org/project/tracktable-data/) {version} from
  PyPI (<https://github.com/sandialabs/tracktable-data>), the example data of Sandia's
  Tracktable library. Licence: BSD-2-Clause, Copyright (c) 2014-2024 National Technology and
  Engineering Solutions of Sandia, LLC; see `LICENSE-tracktable-data`.
- **Tracks**: `tracktable_data/python_example_data/NYHarbor_2020_12_first_week.traj`,
  {n_points} AIS position reports of {n_vessels_raw} vessels (MMSIs) from {t0} to {t1}. The
  package does not name the upstream AIS provider. Time stamps carry no zone; they are read as
  UTC (the AIS convention), which the data support: traffic is lowest at 04–09 h, i.e. at local
  night (EST = UTC − 5).
- **Coastline**: `tracktable_data/python_info_data/GSHHS_shp/h/GSHHS_h_L1.shp`, level 1
  (land/ocean boundary) of GSHHG (Wessel & Smith, Global Self-consistent Hierarchical
  High-resolution Geography), high resolution, as shipped in the same package. GSHHG is
  distributed under the LGPL (version 3 or later) with the permission notice reproduced in
  `LICENSE-tracktable-data`; the land raster here is derived from it.

Only derived data are stored: cell indices, start times, renumbered vessels (no MMSIs, no raw
positions).

## Contents

Plain arrays (`np.load(..., allow_pickle=False)`):

| key | dtype, shape | meaning |
|---|---|---|
| `labels` | int8 `[{grid.h}, {grid.w}]` | class index per cell; row 0 north, column 0 west |
| `classes` | unicode `[{len(CLASSES)}]` | class names, in index order |
| `impassable` | unicode `[{len(IMPASSABLE)}]` | classes no vessel enters |
| `cell_size_m` | float64 | cell side, metres |
| `bbox` | float64 `[4]` | lon_min, lat_min, lon_max, lat_max of the grid (WGS84 degrees) |
| `cells` | int16 `[M, 2]` | (row, col) of all paths, concatenated |
| `offsets` | int64 `[N + 1]` | path i is `cells[offsets[i]:offsets[i + 1]]` |
| `start_times` | int64 `[N]` | unix seconds at which the path's first cell was entered |
| `vessels` | int16 `[N]` | vessel of each path, renumbered 0…V−1 in MMSI order |
| `split` | int8 `[N]` | 0 = train, 1 = test |

Cell (r, c) covers lon ∈ lon_min + [c, c + 1)·Δlon and lat ∈ lat_max − [r + 1, r)·Δlat with
Δlon = (lon_max − lon_min) / {grid.w} and Δlat = (lat_max − lat_min) / {grid.h}, a local
equirectangular projection (x = R·cos φ0·Δλ, y = R·Δφ, R = {EARTH_RADIUS:,.1f} m, φ0 = the grid's
mid latitude) in which the cells are {grid.cell:g} m squares.
Bounding box: ({lon_min:.5f}, {lat_min:.5f}, {lon_max:.5f}, {lat_max:.5f}), requested as
{BBOX} and extended to whole cells: the Upper Bay, the Hudson to about
79th Street, the East River to Hell Gate, Newark Bay, the Kill van Kull and the northern
Lower Bay.

| index | class | cells |
|---|---|---|
{class_rows}

## Processing (`scripts/build_ny_harbor.py`)

1. **Land raster.** The GSHHS polygons meeting the box are clipped to it (matplotlib's
   `Path.clip_to_bbox`) and {SUBSAMPLES} × {SUBSAMPLES} points per cell tested for containment
   (`Path.contains_points`). A cell is **water** when at least {MIN_WATER_FRACTION:g} of its
   points are, else **land** (impassable); the low threshold keeps the narrow channels (Kill van
   Kull, East River) open at this resolution. Lakes (GSHHS level 2) are ignored (they count as
   land).
2. **Distance to shore** of a water cell = Euclidean distance from its centre to the nearest
   land cell's centre minus half a cell (≈ distance to that cell's edge), exact (brute force
   over coast cells, numpy only), computed on the grid padded by {PAD_CELLS} cells so that land
   just outside the box counts. Bands: < {BANDS[0]:g} m, {BANDS[0]:g}–{BANDS[1]:g} m,
   ≥ {BANDS[1]:g} m. With {grid.cell:g} m cells the first band is the water cells 8-adjacent to
   land.
3. **Trips.** All fixes of a vessel (MMSI) are pooled across the file's trajectories and
   sorted by time. The track is split where consecutive fixes are more than
   {MAX_GAP_S // 60} minutes apart, where they imply more than {MAX_SPEED_KN:g} knots (position
   glitches), and where the vessel leaves the box (fixes outside are dropped; leaving and
   re-entering gives two trips). It is also split at **stops**: spans of steps slower than
   {STOP_SPEED_KN:g} knot lasting at least {STOP_MIN_S // 60} minutes (berths, anchorages); the
   fixes of a stop are dropped except where the vessel reaches and leaves it.
4. **Cell paths.** Each fix is mapped to its cell and consecutive cells are joined with
   `irlax.forecast.tracks.cell_path` (the straightest chain of 8-neighbour moves; repeats
   dropped). A → B → A back-and-forth (position jitter on a cell boundary) is removed,
   keeping the first visit to A. Each path cell gets a time interpolated between its fixes.
5. **Land.** Land cells at the ends of a path are trimmed (berths lie beyond the coarse
   coastline). A path that still has a land cell between water cells (a pier, basin or creek
   GSHHS does not resolve, or a gap interpolated across a bend) is **{land_action}**.
6. **Filters.** Paths of fewer than {MIN_CELLS} cells, or whose cells' bounding box has a
   diagonal under {MIN_EXTENT_M:g} m (anchored or manoeuvring in place), are dropped.
7. **Split.** A path is **train** if it starts before {SPLIT_TIME.strftime(fmt)} (the first five
   days, 1–5 December) and **test** otherwise (6–7 December). At most {MAX_TRAIN} train and
   {MAX_TEST} test paths are kept, drawn uniformly without replacement
   (`numpy.random.default_rng({SEED})`), and sorted by start time.

Pipeline counts (before the subsample):

| step | count |
|---|---|
{stat_rows}

## Counts

| quantity | value |
|---|---|
| grid rows | {grid.h} |
| grid columns | {grid.w} |
| cell size (m) | {grid.cell:g} |
| train segments | {len(train)} |
| test segments | {len(test)} |
| train cells | {sum(tr_len)} |
| test cells | {sum(te_len)} |
| vessels | {len(vessels)} |
| train vessels | {len({s["mmsi"] for s in train})} |
| test vessels | {len({s["mmsi"] for s in test})} |

Path lengths in cells (min / median / max): train {_pct(tr_len)}, test {_pct(te_len)}.
Paths per vessel: at most {max_per_vessel} (a few busy vessels make many trips).

## Caveats

- The GSHHS high-resolution coastline is coarse at harbour scale (about 200 m): piers, the
  Brooklyn Navy Yard basin and creeks such as Newtown Creek are land in it, and it closes the
  Hudson near 40.775° N, just inside the grid's northern edge (northbound Hudson trips end
  there, their remainder being trimmed as land). {on_land:.0%} of the fixes inside the box fall
  on land cells, mostly vessels moored at piers.
- The file carries positions only: no vessel type, speed over ground, heading or navigational
  status, so "stopped" is inferred from positions and vessel classes are unknown.
- The test days are a Sunday and a Monday; their paths are shorter on average than the train
  paths.
"""


def build(wheel: FsPath, out: FsPath) -> dict:
    """Build the fixture from the wheel into `out`; returns the pipeline counts."""
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        lic = next(n for n in names if n.endswith(LICENSE_SUFFIX))
        version = lic.split("/")[0].removeprefix("tracktable_data-").removesuffix(".dist-info")
        traj_text = zf.read(TRAJ_MEMBER).decode("ascii")
        shp = zf.read(SHP_MEMBER)
        license_full = zf.read(lic).decode("utf-8")

    vessel, t, lon, lat = parse_traj(traj_text)
    grid = Grid(BBOX, CELL_SIZE)
    margin = (PAD_CELLS + 1) * max(grid.dlon, grid.dlat)
    polygons = read_polygon_shapefile(
        shp,
        (
            grid.lon_min - margin,
            grid.lat_min - margin,
            grid.lon_max + margin,
            grid.lat_max + margin,
        ),
    )
    labels, _, _ = label_grid(polygons, grid)

    r, c = grid.cells(lon, lat)
    box = (r >= 0) & (r < grid.h) & (c >= 0) & (c < grid.w)
    on_land = float(np.mean(labels[r[box].astype(np.int64), c[box].astype(np.int64)] == 0))

    stats = collections.Counter()
    segments = build_segments(vessel, t, lon, lat, labels, grid, stats)
    split_s = int(SPLIT_TIME.timestamp())
    train_all = [s for s in segments if s["start"] < split_s]
    test_all = [s for s in segments if s["start"] >= split_s]
    stats["train candidates"] = len(train_all)
    stats["test candidates"] = len(test_all)
    rng = np.random.default_rng(SEED)
    train = subsample(train_all, MAX_TRAIN, rng)
    test = subsample(test_all, MAX_TEST, rng)
    kept = train + test
    mmsis = sorted({s["mmsi"] for s in kept})
    vessel_id = {m: i for i, m in enumerate(mmsis)}

    paths = [s["path"] for s in kept]
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in paths])]).astype(np.int64)
    arrays = {
        "labels": labels.astype(np.int8),
        "classes": np.asarray(CLASSES, dtype="<U16"),
        "impassable": np.asarray(IMPASSABLE, dtype="<U16"),
        "cell_size_m": np.float64(grid.cell),
        "bbox": np.asarray(grid.bbox, dtype=np.float64),
        "cells": np.concatenate(paths).astype(np.int16),
        "offsets": offsets,
        "start_times": np.asarray([s["start"] for s in kept], dtype=np.int64),
        "vessels": np.asarray([vessel_id[s["mmsi"]] for s in kept], dtype=np.int16),
        "split": np.asarray([0] * len(train) + [1] * len(test), dtype=np.int8),
    }
    out.mkdir(parents=True, exist_ok=True)
    write_npz(out / "ny_harbor.npz", arrays)
    order = [
        "trips",
        "trips_all_on_land",
        "trips_land_at_ends",
        "trips_dropped_land_inside",
        "trips_cut_at_land",
        "land_cuts",
        "pieces_too_short",
        "pieces_stationary",
        "segments",
        "train candidates",
        "test candidates",
    ]
    readable = {
        "trips": "trips (step 3)",
        "trips_all_on_land": "trips entirely on land cells (dropped)",
        "trips_land_at_ends": "trips with land cells trimmed at an end",
        "trips_dropped_land_inside": "trips dropped for land between water cells",
        "trips_cut_at_land": "trips cut at land between water cells",
        "land_cuts": "cuts at land",
        "pieces_too_short": f"paths dropped as shorter than {MIN_CELLS} cells",
        "pieces_stationary": f"paths dropped as spanning under {MIN_EXTENT_M:g} m",
        "segments": "paths kept",
        "train candidates": "of which start in the train period",
        "test candidates": "of which start in the test period",
    }
    table = {readable[k]: stats[k] for k in order if k in stats}
    (out / "ny_harbor.md").write_text(
        describe(
            version,
            grid,
            labels,
            table,
            len(t),
            len(np.unique(vessel)),
            (int(t.min()), int(t.max())),
            train,
            test,
            mmsis,
            on_land,
        ),
        encoding="utf-8",
    )
    (out / "LICENSE-tracktable-data").write_text(license_text(license_full, version), "utf-8")
    return {"grid": (grid.h, grid.w), **stats, "train": len(train), "test": len(test)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--wheel", type=FsPath, help="tracktable_data-*.whl (default: pip download)"
    )
    parser.add_argument(
        "--out", type=FsPath, default=REPO / "irlax" / "datasets" / "data", help="output folder"
    )
    args = parser.parse_args(argv)
    if args.wheel is not None:
        print(build(args.wheel, args.out))
        return
    with tempfile.TemporaryDirectory() as tmp:
        print(build(fetch_wheel(FsPath(tmp)), args.out))


if __name__ == "__main__":
    main()
