"""Reading user data: classes.json, the labelled map PNG and tracks.csv."""

import json

import matplotlib.image
import numpy as np
import pytest
from PIL import Image

from irlax.forecast import io
from irlax.forecast.scene import Scene
from irlax.forecast.tracks import to_trajectories

SIDEWALK, ROAD, BUILDING = (128, 128, 128), (40, 40, 40), (200, 0, 0)
SPEC = {
    "classes": [
        {"name": "sidewalk", "color": "#808080"},
        {"name": "road", "color": [40, 40, 40]},
        {"name": "building", "color": "#c80000", "passable": False},
    ]
}


def write_json(path, data):
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def write_png(path, rgb):
    Image.fromarray(np.asarray(rgb, np.uint8)).save(path)
    return path


def write_csv(path, text):
    path.write_text(text)
    return path


def spec(tmp_path, **top):
    return io.load_classes(write_json(tmp_path / "classes.json", {**SPEC, **top}))


def sidewalk_map(h=10, w=12):
    """All sidewalk, with a building in rows 6–8, columns 6–8."""
    rgb = np.empty((h, w, 3), np.uint8)
    rgb[:] = SIDEWALK
    rgb[6:9, 6:9] = BUILDING
    return rgb


@pytest.fixture
def small(tmp_path):
    """A 10×12 one-pixel-per-cell scene and its spec."""
    s = spec(tmp_path)
    scene = io.load_labels(write_png(tmp_path / "map.png", sidewalk_map()), s)
    return scene, s


def tracks(tmp_path, small, text, **kw):
    scene, s = small
    return io.load_tracks(write_csv(tmp_path / "tracks.csv", text), scene, s, **kw)


def rows(track_id, points, t0=0.0):
    """CSV rows at the centres of the (row, col) cells `points`, one per second."""
    return "".join(f"{track_id},{t0 + i},{c + 0.5},{r + 0.5}\n" for i, (r, c) in enumerate(points))


HEADER = "track_id,t,x,y\n"


# ------------------------------------------------------------------ the example


def test_example_round_trip(tmp_path):
    files = io.write_example(tmp_path / "ex")
    assert {p.name for p in (tmp_path / "ex").iterdir()} == {
        "map.png",
        "classes.json",
        "tracks.csv",
    }
    s = io.load_classes(files.classes)
    assert s.names == ("sidewalk", "road", "grass", "building")
    assert s.impassable == ("building",)
    assert (s.cell_size, s.pixels_per_cell) == (0.5, 1)
    assert io.load_classes(write_json(tmp_path / "again.json", s.to_json())).colors == s.colors

    scene = io.load_labels(files.labels, s)
    assert scene.shape == (30, 40) and scene.cell_size == 0.5
    labels = io.example_map()
    np.testing.assert_array_equal(scene.labels, labels)
    np.testing.assert_array_equal(np.asarray(scene.passable), labels != 3)
    ref = Scene.from_labels(labels, s.names, cell_size=0.5, impassable=s.impassable)
    np.testing.assert_array_equal(np.asarray(scene.probs), np.asarray(ref.probs))

    tr = io.load_tracks(files.tracks, scene, s)
    assert len(tr) == 20 and len(tr.ids) == 20 and tr.t0.shape == (20,)
    assert (tr.dropped, tr.splits, tr.resorted, tr.blocked) == (0, 0, 0, 0)
    assert tr.ids[0] == "walker01" and len(set(tr.ids)) == 20
    for p in tr.paths:
        assert p.dtype == np.int64 and p.shape[1] == 2 and len(p) >= 5
        assert np.abs(np.diff(p, axis=0)).max() == 1
        assert labels[p[:, 0], p[:, 1]].tolist().count(3) == 0
    traj = to_trajectories(tr.paths, scene.shape)
    assert traj.n_trajectories == 20
    assert "20 paths" in tr.summary()


def test_example_is_deterministic(tmp_path):
    a, b = io.write_example(tmp_path / "a"), io.write_example(tmp_path / "b")
    assert a.tracks.read_text() == b.tracks.read_text()
    assert a.labels.read_bytes() == b.labels.read_bytes()


# ------------------------------------------------------------------ classes.json


def test_classes_defaults_and_colour_forms(tmp_path):
    data = {
        "classes": [
            {"name": "a", "color": "#0a0B0c"},
            {"name": "b", "color": "fff"},
            {"name": "c", "color": [1, 2, 3], "passable": False},
        ]
    }
    s = io.load_classes(write_json(tmp_path / "c.json", data))
    assert s.colors == ((10, 11, 12), (255, 255, 255), (1, 2, 3))
    assert s.passable == (True, True, False)
    assert (s.cell_size, s.pixels_per_cell) == (1.0, 1)
    assert s.hex_colors == ("#0a0b0c", "#ffffff", "#010203")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"classes": [', "not valid JSON"),
        ("[1, 2]", "top level must be an object"),
        ({"cell_size": 1}, "missing the 'classes' list"),
        ({"classes": []}, "non-empty list"),
        ({"classes": ["sidewalk"]}, "classes[0] must be an object"),
        ({"classes": [{"color": "#000000"}]}, "classes[0]: missing 'name'"),
        ({"classes": [{"name": "a"}]}, "classes[0] ('a'): missing 'color'"),
        ({"classes": [{"name": "", "color": "#000000"}]}, "'name' must be a non-empty string"),
        ({"classes": [{"name": "a", "color": "#12345g"}]}, "'#12345g' is not a colour"),
        ({"classes": [{"name": "a", "color": "red"}]}, "'red' is not a colour"),
        ({"classes": [{"name": "a", "color": [256, 0, 0]}]}, "classes[0] ('a').color"),
        ({"classes": [{"name": "a", "color": [0.5, 0, 0]}]}, "3 integers in 0-255"),
        ({"classes": [{"name": "a", "color": [1, 2]}]}, "3 integers in 0-255"),
        ({"classes": [{"name": "a", "color": 7}]}, "7 is not a colour"),
        (
            {"classes": [{"name": "a", "color": "#ff0000"}, {"name": "a", "color": "#00ff00"}]},
            "classes[1].name 'a' repeats classes[0]",
        ),
        (
            {"classes": [{"name": "a", "color": "#ff0000"}, {"name": "b", "color": [255, 0, 0]}]},
            "classes[1].color #ff0000 ('b') repeats classes[0] ('a')",
        ),
        (
            {"classes": [{"name": "a", "color": "#ff0000", "passable": "no"}]},
            "passable must be true or false",
        ),
        (
            {"classes": [{"name": "a", "color": "#ff0000", "passable": False}]},
            "no class is passable",
        ),
        ({"classes": [{"name": "a", "colour": "#ff0000"}]}, "unknown key(s) ['colour']"),
        ({**SPEC, "cellsize": 2}, "unknown key(s) ['cellsize']"),
        ({**SPEC, "cell_size": 0}, "cell_size must be a positive number"),
        ({**SPEC, "cell_size": -0.5}, "cell_size must be a positive number"),
        ({**SPEC, "cell_size": "1"}, "cell_size must be a number"),
        ({**SPEC, "pixels_per_cell": 0}, "pixels_per_cell must be a positive whole number"),
        ({**SPEC, "pixels_per_cell": 1.5}, "pixels_per_cell must be a positive whole number"),
    ],
)
def test_bad_classes(tmp_path, content, needle):
    path = write_json(tmp_path / "bad.json", content)
    with pytest.raises(ValueError) as e:
        io.load_classes(path)
    assert needle in str(e.value)
    assert str(path) in str(e.value)


def test_missing_classes_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read the class list"):
        io.load_classes(tmp_path / "nope.json")


def test_bad_json_names_line(tmp_path):
    path = write_json(tmp_path / "c.json", '{\n  "classes": [\n    {"name": "a",}\n  ]\n}')
    with pytest.raises(ValueError, match=r"not valid JSON: .* at line 3"):
        io.load_classes(path)


# ------------------------------------------------------------------ map.png


def test_labels_one_pixel_per_cell(tmp_path):
    s = spec(tmp_path, cell_size=0.25)
    scene = io.load_labels(write_png(tmp_path / "m.png", sidewalk_map()), s)
    assert scene.shape == (10, 12) and scene.cell_size == 0.25
    assert scene.classes == ("sidewalk", "road", "building")
    expected = np.zeros((10, 12), np.int64)
    expected[6:9, 6:9] = 2
    np.testing.assert_array_equal(scene.labels, expected)
    np.testing.assert_array_equal(np.asarray(scene.passable), expected != 2)


def test_labels_rgba_palette_and_float(tmp_path):
    s = spec(tmp_path)
    rgb = sidewalk_map()
    ref = io.load_labels(write_png(tmp_path / "rgb.png", rgb), s)
    rgba = np.concatenate([rgb, np.full((*rgb.shape[:2], 1), 255, np.uint8)], axis=-1)
    pal = Image.fromarray(rgb).quantize(colors=4)
    pal.save(tmp_path / "pal.png")
    assert Image.open(tmp_path / "pal.png").mode == "P"
    for scene in (
        io.load_labels(write_png(tmp_path / "rgba.png", rgba), s),
        io.load_labels(tmp_path / "pal.png", s),
        io.scene_from_image(matplotlib.image.imread(tmp_path / "rgba.png"), s),
        io.scene_from_image(rgb.astype(np.float32) / 255, s),
    ):
        np.testing.assert_array_equal(np.asarray(scene.probs), np.asarray(ref.probs))
        np.testing.assert_array_equal(np.asarray(scene.passable), np.asarray(ref.passable))


def test_transparent_pixels_refused(tmp_path):
    rgba = np.concatenate([sidewalk_map(), np.full((10, 12, 1), 255, np.uint8)], axis=-1)
    rgba[4, 7, 3] = 0
    with pytest.raises(ValueError, match=r"1 pixels are not fully opaque .* x=7, y=4"):
        io.load_labels(write_png(tmp_path / "m.png", rgba), spec(tmp_path))


def test_unknown_colour(tmp_path):
    rgb = sidewalk_map()
    rgb[2, 3:6] = (255, 0, 255)  # 3 pixels, first at x=3, y=2
    rgb[9, 11] = (130, 128, 128)  # an antialiased sidewalk pixel
    path = write_png(tmp_path / "m.png", rgb)
    with pytest.raises(ValueError) as e:
        io.load_labels(path, spec(tmp_path))
    msg = str(e.value)
    assert str(path) in msg and "classes.json" in msg
    assert "4 of 120 pixels have 2 colour(s)" in msg
    assert "#ff00ff (3 pixels, e.g. x=3, y=2;" in msg
    assert "#828080 (1 pixels, e.g. x=11, y=9; nearest class 'sidewalk' #808080)" in msg
    assert "sidewalk #808080" in msg


def test_many_unknown_colours_are_summarised(tmp_path):
    rgb = sidewalk_map()
    for i in range(8):
        rgb[0, i] = (10 * i, 250, 3)
    with pytest.raises(ValueError) as e:
        io.load_labels(write_png(tmp_path / "m.png", rgb), spec(tmp_path))
    msg = str(e.value)
    assert "8 colour(s)" in msg and "and 3 more colours" in msg
    assert msg.count("pixels, e.g.") == 5


def test_unreadable_map(tmp_path):
    s = spec(tmp_path)
    with pytest.raises(ValueError, match="no such file"):
        io.load_labels(tmp_path / "nope.png", s)
    (tmp_path / "text.png").write_text("not a png")
    with pytest.raises(ValueError, match="not an image file"):
        io.load_labels(tmp_path / "text.png", s)


def test_soft_downsampling_two_pixels_per_cell(tmp_path):
    s = spec(tmp_path, pixels_per_cell=2, cell_size=0.5)
    rgb = np.empty((4, 5, 3), np.uint8)  # 4x5 pixels: 2x3 cells, the last column half-wide
    rgb[:] = SIDEWALK
    rgb[0, 0] = BUILDING  # cell (0, 0): 1/4 building → passable
    rgb[0:2, 2] = BUILDING  # cell (0, 1): 2/4 building → impassable
    rgb[2:4, 2:4] = ROAD  # cell (1, 1): all road
    rgb[2, 4] = BUILDING  # cell (1, 2): 1 of its 2 pixels → impassable
    rgb[0, 4] = ROAD  # cell (0, 2): half road, half sidewalk
    scene = io.load_labels(write_png(tmp_path / "m.png", rgb), s)
    assert scene.shape == (2, 3) and scene.cell_size == 0.5
    expected = np.array(
        [
            [[0.75, 0, 0.25], [0.5, 0, 0.5], [0.5, 0.5, 0]],
            [[1, 0, 0], [0, 1, 0], [0.5, 0, 0.5]],
        ]
    )
    np.testing.assert_allclose(np.asarray(scene.probs), expected)
    np.testing.assert_array_equal(
        np.asarray(scene.passable), [[True, False, True], [True, True, False]]
    )


def test_tracks_with_two_pixels_per_cell(tmp_path):
    s = spec(tmp_path, pixels_per_cell=2)
    scene = io.load_labels(write_png(tmp_path / "m.png", sidewalk_map()), s)
    assert scene.shape == (5, 6)
    text = HEADER + "".join(f"a,{i},{2 * i + 0.3},1.9\n" for i in range(6))  # cells (0, 0..5)
    tr = io.load_tracks(write_csv(tmp_path / "t.csv", text), scene, s)
    np.testing.assert_array_equal(tr.paths[0], [[0, c] for c in range(6)])
    with pytest.raises(ValueError, match=r"leaves the map .* outside the 12x10-pixel map"):
        io.load_tracks(write_csv(tmp_path / "t.csv", HEADER + "a,0,12.0,3\n"), scene, s)


# ------------------------------------------------------------------ tracks.csv


def test_tracks_basic(tmp_path, small):
    text = HEADER + rows("a", [(1, c) for c in range(8)], t0=10) + rows("b", [(0, 0)] * 2)
    text += rows("c", [(3, 0), (3, 1), (3, 3), (3, 5), (4, 7), (4, 9)])  # gaps ≤ 2: interpolated
    tr = tracks(tmp_path, small, text, min_length=5)
    assert tr.ids == ["a", "c"] and tr.dropped == 1 and tr.splits == 0
    np.testing.assert_array_equal(tr.paths[0], [[1, c] for c in range(8)])
    assert tr.paths[1][:, 1].tolist() == list(range(10))
    assert np.abs(np.diff(tr.paths[1], axis=0)).max() == 1
    np.testing.assert_array_equal(tr.t0, [10.0, 0.0])


def test_extra_columns_any_order_and_blank_lines(tmp_path, small):
    text = "y, x ,label,t,track_id\n" + "".join(f"1.5,{c + 0.5},walk,{c},a\n\n" for c in range(6))
    tr = tracks(tmp_path, small, text)
    np.testing.assert_array_equal(tr.paths[0], [[1, c] for c in range(6)])


def test_unsorted_rows_are_sorted(tmp_path, small):
    pts = [(2, c) for c in range(7)]
    body = rows("a", pts).splitlines(keepends=True)
    text = HEADER + "".join(body[::-1]) + rows("b", pts)
    tr = tracks(tmp_path, small, text)
    assert tr.resorted == 1
    for p in tr.paths:
        np.testing.assert_array_equal(p, pts)
    np.testing.assert_array_equal(tr.t0, [0.0, 0.0])


def test_repeat_refused(tmp_path, small):
    text = HEADER + rows("a", [(1, c) for c in range(6)]) + "a,3,0.5,0.5\n"
    with pytest.raises(ValueError) as e:
        tracks(tmp_path, small, text)
    assert "track 'a' repeats t=3.0 (lines 5 and 8)" in str(e.value)


def test_leaving_the_map_refused(tmp_path, small):
    text = HEADER + rows("a", [(1, c) for c in range(6)]) + "a,6,12.5,1.5\n"
    with pytest.raises(ValueError) as e:
        tracks(tmp_path, small, text)
    msg = str(e.value)
    assert "line 8: track 'a' leaves the map at t=6" in msg
    assert "(x=12.5, y=1.5) is outside the 12x10-pixel map" in msg
    with pytest.raises(ValueError, match=r"leaves the map at t=0: point \(x=-0.1, y=1\)"):
        tracks(tmp_path, small, HEADER + "b,0,-0.1,1\n")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "the file is empty"),
        ("track_id,t,x,y\n", "no track point follows"),
        ("track_id,t,x\na,0,1\n", "line 1: missing column(s) y in the header"),
        ("a,0,1,2\na,1,2,2\n", "missing column(s) track_id, t, x, y"),
        ("track_id,t,x,y,x\na,0,1,2,3\n", "repeated column(s) ['x']"),
        (HEADER + "a,0,1,2\na,1,two,2\n", "line 3: x = 'two' is not a number"),
        (HEADER + "a,0,1,2\na,1,2,nan\n", "line 3: y = 'nan' is not finite"),
        (HEADER + "a,0,1,2\na,inf,2,2\n", "line 3: t = 'inf' is not finite"),
        (HEADER + "a,0,1,2\na,1,2\n", "line 3: 3 fields, but the header has 4"),
        (HEADER + "a,0,1,2\n ,1,2,2\n", "line 3: empty track_id"),
    ],
)
def test_bad_tracks(tmp_path, small, text, needle):
    with pytest.raises(ValueError) as e:
        tracks(tmp_path, small, text)
    assert needle in str(e.value)
    assert "tracks.csv" in str(e.value)


def test_gap_splits_track(tmp_path, small):
    pts = [(0, c) for c in range(5)] + [(5, c) for c in range(5)]  # a 5-row jump
    text = HEADER + rows("a", pts, t0=100)
    tr = tracks(tmp_path, small, text, max_gap=4)
    assert tr.splits == 1 and tr.ids == ["a#1", "a#2"]
    np.testing.assert_array_equal(tr.paths[1], pts[5:])
    np.testing.assert_array_equal(tr.t0, [100.0, 105.0])

    joined = tracks(tmp_path, small, text)  # default max_gap = 5 cells: interpolated
    assert joined.splits == 0 and joined.ids == ["a"]
    assert len(joined.paths[0]) == 5 + 4 + 5  # 4 cells interpolated on the way back up
    assert np.abs(np.diff(joined.paths[0], axis=0)).max() == 1


def test_too_short_dropped_and_nothing_left(tmp_path, small):
    text = HEADER + rows("a", [(1, c) for c in range(3)]) + rows("b", [(2, c) for c in range(9)])
    tr = tracks(tmp_path, small, text, min_length=4)
    assert tr.ids == ["b"] and tr.dropped == 1
    with pytest.raises(ValueError, match=r"no track is left: all 2 pieces .* min_length=10"):
        tracks(tmp_path, small, text, min_length=10)


def test_impassable_cells_cut_the_track(tmp_path, small):
    pts = [(7, c) for c in range(12)]  # crosses the building in columns 6–8
    tr = tracks(tmp_path, small, HEADER + rows("a", pts), min_length=3)
    assert tr.blocked == 3 and tr.ids == ["a#1", "a#2"]
    np.testing.assert_array_equal(tr.paths[0], pts[:6])
    np.testing.assert_array_equal(tr.paths[1], pts[9:])
    np.testing.assert_array_equal(tr.t0, [0.0, 9.0])


def test_tracks_mostly_in_buildings_refused(tmp_path, small):
    pts = [(r, c) for r in (6, 7, 8) for c in (6, 7, 8)] + [(0, 0), (0, 1)]
    with pytest.raises(ValueError, match="9 of 11 track points lie in impassable cells"):
        tracks(tmp_path, small, HEADER + rows("a", pts))


def test_bad_arguments(tmp_path, small):
    text = HEADER + rows("a", [(1, c) for c in range(6)])
    with pytest.raises(ValueError, match="min_length"):
        tracks(tmp_path, small, text, min_length=0)
    with pytest.raises(ValueError, match="max_gap"):
        tracks(tmp_path, small, text, max_gap=0)
    scene, _ = small
    other = io.load_classes(write_json(tmp_path / "o.json", {"classes": SPEC["classes"][:2]}))
    with pytest.raises(ValueError, match="are not those of"):
        io.load_tracks(write_csv(tmp_path / "t.csv", text), scene, other)
