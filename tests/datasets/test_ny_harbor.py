"""New York Harbor vessel paths: the shipped fixture's consistency with its grid and its README."""

import dataclasses
import re
from importlib import resources

import numpy as np
import pytest

from irlax.datasets import NYHarbor, ny_harbor

CLASSES = ("land", "water_0_250m", "water_250_750m", "water_750m_plus")
DATA = resources.files("irlax.datasets").joinpath("data")


@pytest.fixture(scope="module")
def data() -> NYHarbor:
    return ny_harbor()


def _stated_counts() -> dict[str, str]:
    """The `| quantity | value |` rows of the "Counts" section of ny_harbor.md."""
    text = DATA.joinpath("ny_harbor.md").read_text(encoding="utf-8")
    section = text.split("## Counts", 1)[1]
    return dict(re.findall(r"^\| ([a-z ()]+?) \| ([0-9.]+) \|$", section, flags=re.MULTILINE))


def _components(mask: np.ndarray) -> np.ndarray:
    """8-connected component labels of `mask` (0 outside it), by breadth-first search."""
    h, w = mask.shape
    comp = np.zeros((h, w), np.int64)
    n = 0
    for r0, c0 in np.argwhere(mask):
        if comp[r0, c0]:
            continue
        n += 1
        comp[r0, c0] = n
        stack = [(r0, c0)]
        while stack:
            r, c = stack.pop()
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    if 0 <= rr < h and 0 <= cc < w and mask[rr, cc] and not comp[rr, cc]:
                        comp[rr, cc] = n
                        stack.append((rr, cc))
    return comp


def test_loads_with_consistent_shapes_and_classes(data):
    assert isinstance(data, NYHarbor)
    assert dataclasses.is_dataclass(data)
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.cell_size = 1.0
    h, w = data.labels.shape
    assert data.shape == (h, w) and h <= 160 and w <= 160
    assert np.issubdtype(data.labels.dtype, np.integer)
    assert data.classes == CLASSES
    assert data.impassable == ("land",)
    assert set(np.unique(data.labels)) == set(range(len(CLASSES)))
    assert 100.0 <= data.cell_size <= 250.0
    lon_min, lat_min, lon_max, lat_max = data.bbox
    assert -74.5 < lon_min < lon_max < -73.5 and 40.3 < lat_min < lat_max < 41.0
    # Square cells: the box's sides in metres (local equirectangular) are whole cells.
    metres_per_deg = 6_371_008.8 * np.pi / 180
    width = (lon_max - lon_min) * metres_per_deg * np.cos(np.radians((lat_min + lat_max) / 2))
    height = (lat_max - lat_min) * metres_per_deg
    np.testing.assert_allclose([width / w, height / h], data.cell_size, rtol=1e-9)

    for paths, times, vessels in (
        (data.train, data.train_start_times, data.train_vessels),
        (data.test, data.test_start_times, data.test_vessels),
    ):
        assert len(paths) == len(times) == len(vessels) > 0
        assert times.dtype == np.int64 and np.all(np.diff(times) >= 0)
        assert np.issubdtype(vessels.dtype, np.integer) and vessels.min() >= 0
        for p in paths:
            assert p.ndim == 2 and p.shape[1] == 2 and np.issubdtype(p.dtype, np.integer)


def test_paths_are_moves_inside_the_grid_on_water(data):
    h, w = data.shape
    passable = data.passable
    np.testing.assert_array_equal(passable, data.labels != CLASSES.index("land"))
    for p in data.train + data.test:
        assert len(p) >= 10
        assert p[:, 0].min() >= 0 and p[:, 0].max() < h
        assert p[:, 1].min() >= 0 and p[:, 1].max() < w
        steps = np.abs(np.diff(p, axis=0)).max(axis=1)
        assert steps.max() <= 1
        assert steps.min() == 1  # repeated cells were dropped
        assert passable[p[:, 0], p[:, 1]].all()


def test_train_precedes_test(data):
    assert data.train_start_times.max() < data.test_start_times.min()
    # Train: 1–5 December 2020 (UTC); test: 6–7 December.
    split = 1607212800  # 2020-12-06T00:00:00Z
    assert data.train_start_times.min() >= split - 5 * 86400
    assert data.train_start_times.max() < split <= data.test_start_times.min()
    assert data.test_start_times.max() < split + 2 * 86400


def test_counts_match_the_readme(data):
    stated = _stated_counts()
    h, w = data.shape
    assert int(stated["grid rows"]) == h and int(stated["grid columns"]) == w
    assert float(stated["cell size (m)"]) == data.cell_size
    assert int(stated["train segments"]) == len(data.train) == 400
    assert int(stated["test segments"]) == len(data.test) == 150
    assert int(stated["train cells"]) == sum(len(p) for p in data.train)
    assert int(stated["test cells"]) == sum(len(p) for p in data.test)
    vessels = np.concatenate([data.train_vessels, data.test_vessels])
    assert int(stated["vessels"]) == len(np.unique(vessels)) == vessels.max() + 1
    assert int(stated["train vessels"]) == len(np.unique(data.train_vessels))
    assert int(stated["test vessels"]) == len(np.unique(data.test_vessels))


def test_land_water_raster_is_plausible(data):
    land = data.labels == CLASSES.index("land")
    assert 0.3 < land.mean() < 0.9  # a harbour: both plenty of land and of water
    comp = _components(~land)
    sizes = np.bincount(comp.ravel())[1:]
    main = 1 + int(np.argmax(sizes))
    assert sizes.max() >= 0.9 * (~land).sum()
    cells = np.concatenate(data.train + data.test)
    assert np.mean(comp[cells[:, 0], cells[:, 1]] == main) > 0.95
    # Bands grow away from the shore: every cell of the nearest band touches land
    # (8-neighbourhood, or lies on the grid's edge with land just outside), none farther out.
    padded = np.pad(land, 1, constant_values=False)
    near_land = np.zeros_like(land)
    for dr in (0, 1, 2):
        for dc in (0, 1, 2):
            near_land |= padded[dr : dr + land.shape[0], dc : dc + land.shape[1]]
    edge = np.zeros_like(land)
    edge[[0, -1], :] = edge[:, [0, -1]] = True
    band0 = data.labels == CLASSES.index("water_0_250m")
    assert np.all(near_land[band0] | edge[band0])
    assert not np.any(near_land[data.labels >= CLASSES.index("water_250_750m")])


def test_lonlat_to_cell_inverts_cell_centres(data):
    h, w = data.shape
    lon_min, lat_min, lon_max, lat_max = data.bbox
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    lon = lon_min + (cols + 0.5) * (lon_max - lon_min) / w
    lat = lat_max - (rows + 0.5) * (lat_max - lat_min) / h
    r, c = data.lonlat_to_cell(lon, lat)
    np.testing.assert_array_equal(r, rows)
    np.testing.assert_array_equal(c, cols)
    with pytest.raises(ValueError, match="outside"):
        data.lonlat_to_cell(lon_min - 0.01, lat_min + 0.01)


def test_fixture_is_small_plain_arrays_with_licence():
    with DATA.joinpath("ny_harbor.npz").open("rb") as f:
        raw = f.read()
    assert len(raw) < 1_000_000
    with DATA.joinpath("ny_harbor.npz").open("rb") as f, np.load(f, allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)
    licence = DATA.joinpath("LICENSE-tracktable-data").read_text(encoding="utf-8")
    assert "National Technology and Engineering Solutions" in licence
    assert "Redistribution and use in source and binary forms" in licence
    assert "--GSHHS--" in licence
