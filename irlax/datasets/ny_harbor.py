"""Vessel tracks in New York Harbor as cell paths on a land / water grid, for activity forecasting.

AIS position reports of vessels in New York Harbor, 1–7 December 2020, from the example data
of Sandia's Tracktable library (the PyPI package `tracktable-data` 1.7.3.1, file
`NYHarbor_2020_12_first_week.traj`; BSD-2-Clause, Copyright (c) 2014-2024 National Technology
and Engineering Solutions of Sandia, LLC). The land raster is derived from the GSHHG coastline
shipped in the same package (Wessel & Smith, Global Self-consistent Hierarchical
High-resolution Geography; LGPL-3.0-or-later with a permissive notice). See
`data/ny_harbor.md` for exactly how the tracks were turned into paths and
`data/LICENSE-tracktable-data` for the licence texts; `scripts/build_ny_harbor.py` rebuilds the
file.

The grid fits the Kitani et al. (2012) activity-forecasting setting: each cell has a semantic
class (land, or water in a band of distance to shore), vessels move between 8-neighbouring
cells, and the task is to learn per-class costs from the train paths and forecast test paths.
The data (`data/ny_harbor.npz`, plain arrays) are loaded with `importlib.resources`, so they
work from an installed wheel.
"""

from __future__ import annotations

import dataclasses
import functools
from importlib import resources

import numpy as np

_NPZ = "ny_harbor.npz"
_KEYS = (
    "labels",
    "classes",
    "impassable",
    "cell_size_m",
    "bbox",
    "cells",
    "offsets",
    "start_times",
    "vessels",
    "split",
)
TRAIN, TEST = 0, 1
"""Values of the file's `split` array."""


@dataclasses.dataclass(frozen=True, eq=False)
class NYHarbor:
    """Vessel paths on a grid of New York Harbor, split in time into train and test.

    Attributes:
        labels: int `[H, W]`, the class index of each cell (into `classes`); row 0 is the
            northern edge, column 0 the western edge.
        classes: class names in index order: `"land"`, then water by distance to shore,
            `"water_0_250m"`, `"water_250_750m"`, `"water_750m_plus"`.
        impassable: names of the classes no vessel enters (`("land",)`); no path visits them.
        cell_size: side of a (square) cell in metres.
        bbox: `(lon_min, lat_min, lon_max, lat_max)` of the grid, WGS84 degrees. Cell (r, c)
            covers lon ∈ lon_min + [c, c + 1)·(lon_max − lon_min)/W and
            lat ∈ lat_max − [r + 1, r)·(lat_max − lat_min)/H (see `lonlat_to_cell`).
        train: paths that start in the first five days (1–5 December 2020, UTC), each int
            `[n, 2]` (row, col) cells, every step one of the 9 moves (no stays in practice:
            repeated cells were dropped), sorted by start time.
        test: paths that start on 6–7 December 2020, likewise.
        train_start_times: int64 `[len(train)]`, unix seconds at which each train path entered
            its first cell.
        test_start_times: int64 `[len(test)]`, likewise for `test`.
        train_vessels: int `[len(train)]`, the vessel of each train path (0…V−1, a renumbering
            shared with `test_vessels`; not the MMSI).
        test_vessels: int `[len(test)]`, likewise.
    """

    labels: np.ndarray
    classes: tuple[str, ...]
    impassable: tuple[str, ...]
    cell_size: float
    bbox: tuple[float, float, float, float]
    train: list[np.ndarray]
    test: list[np.ndarray]
    train_start_times: np.ndarray
    test_start_times: np.ndarray
    train_vessels: np.ndarray
    test_vessels: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """`(H, W)` of the grid."""
        return self.labels.shape

    @property
    def passable(self) -> np.ndarray:
        """bool `[H, W]`, True where the cell's class is not impassable."""
        bad = [self.classes.index(name) for name in self.impassable]
        return ~np.isin(self.labels, bad)

    def lonlat_to_cell(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) int arrays of the cells containing the given positions (as the build did).

        Args:
            lon, lat: longitudes and latitudes in degrees (WGS84), broadcastable arrays.

        Raises:
            ValueError: a position lies outside `bbox` or is not finite.
        """
        lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
        lon_min, lat_min, lon_max, lat_max = self.bbox
        outside = (lon < lon_min) | (lon > lon_max) | (lat < lat_min) | (lat > lat_max)
        if np.any(outside | ~np.isfinite(lon) | ~np.isfinite(lat)):
            raise ValueError(f"positions outside the grid's bbox {self.bbox}")
        h, w = self.shape
        rows = np.floor((lat_max - lat) / (lat_max - lat_min) * h).astype(np.int64)
        cols = np.floor((lon - lon_min) / (lon_max - lon_min) * w).astype(np.int64)
        # Points on the southern or eastern edge belong to the last row or column.
        return np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)


def ny_harbor() -> NYHarbor:
    """Load the New York Harbor vessel paths (AIS, 1–7 December 2020) and their grid.

    The data are AIS tracks from the `tracktable-data` package (Sandia National Laboratories,
    BSD-2-Clause) on a 200 m grid whose land mask comes from the GSHHG coastline; the
    processing (trips split at gaps, stops and box exits, joined into 8-neighbour cell paths,
    paths crossing land dropped, short and stationary ones dropped, at most 400 train and
    150 test paths kept) is described in `irlax/datasets/data/ny_harbor.md`.

    Returns:
        A `NYHarbor`. The arrays are read-only and shared between calls.

    Raises:
        RuntimeError: the shipped file is missing keys or inconsistent (a broken install).
    """
    d = _load()
    classes = tuple(str(c) for c in d["classes"])
    split = d["split"]
    paths = [d["cells"][a:b] for a, b in zip(d["offsets"][:-1], d["offsets"][1:], strict=True)]
    train = np.flatnonzero(split == TRAIN)
    test = np.flatnonzero(split == TEST)
    return NYHarbor(
        labels=d["labels"],
        classes=classes,
        impassable=tuple(str(c) for c in d["impassable"]),
        cell_size=float(d["cell_size_m"]),
        bbox=tuple(float(v) for v in d["bbox"]),
        train=[paths[i] for i in train],
        test=[paths[i] for i in test],
        train_start_times=d["start_times"][train],
        test_start_times=d["start_times"][test],
        train_vessels=d["vessels"][train],
        test_vessels=d["vessels"][test],
    )


@functools.cache
def _load() -> dict[str, np.ndarray]:
    """The npz's arrays, checked and read-only (paths as int64 for safe arithmetic)."""
    ref = resources.files("irlax.datasets").joinpath("data", _NPZ)
    with ref.open("rb") as f, np.load(f, allow_pickle=False) as npz:
        missing = [k for k in _KEYS if k not in npz.files]
        if missing:
            raise RuntimeError(f"{_NPZ}: missing arrays {missing}")
        d = {k: npz[k] for k in _KEYS}
    d["labels"] = d["labels"].astype(np.int64)
    d["cells"] = d["cells"].astype(np.int64)
    d["vessels"] = d["vessels"].astype(np.int64)
    n = len(d["start_times"])
    offsets = d["offsets"]
    if (
        d["labels"].ndim != 2
        or d["cells"].ndim != 2
        or d["cells"].shape[1] != 2
        or offsets.shape != (n + 1,)
        or offsets[0] != 0
        or offsets[-1] != len(d["cells"])
        or np.any(np.diff(offsets) < 1)
        or d["vessels"].shape != (n,)
        or d["split"].shape != (n,)
        or not np.isin(d["split"], (TRAIN, TEST)).all()
        or d["bbox"].shape != (4,)
    ):
        raise RuntimeError(f"{_NPZ}: inconsistent array shapes; rebuild it")
    for v in d.values():
        v.flags.writeable = False
    return d
