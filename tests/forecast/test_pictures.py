"""Forecast pictures: what each drawing shows (size, a heatmap that is not blank, the legends
the README names, class colours where the map is), edge cases too; the text report's table.

Each PNG is read back with matplotlib's `imread`. The `drawn` fixture records, as
`plots.save` writes a figure, its legends' entries, its other texts, the size the PNG must
have (the figure's tight bounding box at `plots.save`'s resolution) and where each axes lies
in it, so that map cells can be found among the pixels.
"""

import dataclasses
import re
from pathlib import Path

import jax.numpy as jnp
import matplotlib.colors as mcolors
import numpy as np
import pytest
from matplotlib.image import imread
from matplotlib.text import Text

from irlax import plots
from irlax.forecast import pictures
from irlax.forecast.model import Forecast
from irlax.forecast.scene import Scene

DPI = 120  # plots.save's resolution
README = Path(__file__).resolve().parents[2] / "README.md"


@dataclasses.dataclass
class Drawn:
    """A saved figure: what it says, and where its axes are in the PNG."""

    path: Path
    size: tuple[int, int]  # (rows, cols) the PNG must have
    legends: list[str]
    texts: list[str]
    boxes: list[tuple[float, float, float, float]]  # (row0, row1, col0, col1) of each axes

    @property
    def image(self) -> np.ndarray:
        return imread(self.path)[..., :3]

    def cell(self, axes: int, shape, row: int, col: int) -> np.ndarray:
        """RGB at the centre of map cell (row, col) drawn on `axes` (the whole map shown)."""
        r0, r1, c0, c1 = self.boxes[axes]
        y = int(r0 + (row + 0.5) / shape[0] * (r1 - r0))
        x = int(c0 + (col + 0.5) / shape[1] * (c1 - c0))
        return self.image[y, x]

    def spread(self, axes: int) -> float:
        """The largest per-channel standard deviation of the pixels inside `axes` (0: blank)."""
        return float(self.area(axes).std(axis=(0, 1)).max())

    def area(self, axes: int) -> np.ndarray:
        """The pixels inside `axes`, a few pixels in from its frame."""
        r0, r1, c0, c1 = self.boxes[axes]
        return self.image[int(r0) + 3 : int(r1) - 3, int(c0) + 3 : int(c1) - 3]


@pytest.fixture
def drawn(monkeypatch):
    """The list of `Drawn` records, one per figure saved during the test."""
    records = []
    save = plots.save

    def capture(fig, path):
        # Lay out at the saved resolution (text extents depend on it; equal-aspect axes
        # shrink to their box) as savefig will.
        fig.set_dpi(DPI)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        tight = fig.get_tightbbox(renderer).padded(pictures.plt.rcParams["savefig.pad_inches"])
        boxes = []
        for ax in fig.axes:
            e = ax.get_window_extent(renderer)
            boxes.append(
                (
                    (tight.y1 - e.y1 / fig.dpi) * DPI,
                    (tight.y1 - e.y0 / fig.dpi) * DPI,
                    (e.x0 / fig.dpi - tight.x0) * DPI,
                    (e.x1 / fig.dpi - tight.x0) * DPI,
                )
            )
        legends = [
            t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()
        ]
        texts = [t.get_text() for t in fig.findobj(Text) if t.get_text()]
        size = (round(tight.height * DPI), round(tight.width * DPI))
        save(fig, path)
        records.append(Drawn(Path(path), size, legends, texts, boxes))

    monkeypatch.setattr(plots, "save", capture)
    return records


def _check_png(d: Drawn) -> None:
    """A PNG of the figure's size (to a pixel of rounding)."""
    rows, cols, _ = imread(d.path).shape
    assert abs(rows - d.size[0]) <= 2 and abs(cols - d.size[1]) <= 2, ((rows, cols), d.size)
    assert min(rows, cols) > 200


def _rgb(colour) -> np.ndarray:
    return np.asarray(mcolors.to_rgb(colour))


def _readme_items(picture: str) -> list[str]:
    """The README's parenthesised list of what `picture` shows."""
    match = re.search(rf"`{re.escape(picture)}` \(([^)]*)\)", README.read_text())
    assert match, f"the README no longer describes {picture}"
    items = re.split(r",|\bbeside\b", match.group(1))
    return [" ".join(item.split()) for item in items if item.strip()]


def _scene(size=12, classes=("road", "sidewalk", "grass", "building")):
    labels = np.zeros((size, size), np.int32)
    labels[:, size // 2 - 1 : size // 2 + 1] = 1  # a sidewalk down the middle
    labels[: size // 3, : size // 3] = 2
    labels[-3:, -3:] = len(classes) - 1  # a building in a corner
    impassable = (classes[-1],) if classes[-1] == "building" else ()
    return Scene.from_labels(labels, classes, cell_size=2.0, impassable=impassable)


def _goals(size=12):
    goals = np.zeros((3, size, size), bool)
    goals[0, 0, 5:7] = True
    goals[1, -1, 5:7] = True
    goals[2, 5:7, 0] = True
    return goals


def _forecast(size=12, k=3, g=3):
    heat = np.zeros((size, size), np.float32)
    heat[1:-1, 5] = np.linspace(1.0, 0.01, size - 2)
    heat[4, 1:5] = 1e-6  # far below the colour scale: transparent
    samples = np.zeros((k, 8, 2), np.int32)
    samples[..., 0] = np.arange(8)
    samples[..., 1] = 5
    return Forecast(
        heatmap=jnp.asarray(heat),
        goal_posterior=jnp.full(g, 1.0 / g),
        samples=jnp.asarray(samples),
        sample_lengths=jnp.asarray(np.arange(k) % 8, jnp.int32),
        sample_goals=jnp.zeros(k, jnp.int32),
        mass_left_out=jnp.asarray(0.0),
    )


def _track(start_row=0, n=6, col=5):
    return np.stack([np.arange(start_row, start_row + n), np.full(n, col)], -1)


@pytest.fixture(autouse=True)
def _no_open_figures():
    pictures.plt.close("all")
    yield
    assert pictures.plt.get_fignums() == [], "a drawing left a figure open"


def test_class_colours_known_and_fallback():
    colours = pictures.class_colors(("road", "water_0_250m", "lava", "mud"))
    assert colours[0] == pictures.CLASS_COLORS["road"]
    assert colours[1] == pictures.CLASS_COLORS["water_0_250m"]
    assert colours[2] != colours[3]  # unknown classes get distinct fallback colours
    cmap = pictures.class_colormap(("road", "lava"))
    assert cmap.N == 2


def test_draw_scene(tmp_path, drawn):
    scene = _scene()
    paths = [_track(0, 6), _track(3, 9)] * 40  # more than are drawn
    out = tmp_path / "scene.png"
    pictures.draw_scene(
        out, scene, jnp.asarray(_goals()), goal_names=["n", "s", "w"], paths=paths, title="t"
    )
    (d,) = drawn
    _check_png(d)
    for name in ("road", "sidewalk", "grass", "building (impassable)"):
        assert name in d.legends
    assert "tracks (60 of 80)" in d.legends and "destinations (3)" in d.legends
    assert {"n", "s", "w"} <= set(d.texts)  # the goal labels
    # The map is drawn where its axes are: class colours at cell centres.
    np.testing.assert_allclose(d.cell(0, scene.shape, 1, 1), _rgb("#8cc66b"), atol=0.03)
    building = 0.85 * _rgb(pictures.CLASS_COLORS["building"])  # impassable: darkened
    np.testing.assert_allclose(d.cell(0, scene.shape, 10, 10), building, atol=0.03)
    np.testing.assert_allclose(d.cell(0, scene.shape, 8, 1), _rgb("#5f6368"), atol=0.03)


def test_draw_scene_single_goal_no_paths_unknown_classes(tmp_path, drawn):
    scene = _scene(classes=("lava", "mud", "ice", "rock"))
    out = tmp_path / "scene.png"
    pictures.draw_scene(out, scene, _goals()[0])  # one [H, W] region
    (d,) = drawn
    _check_png(d)
    assert {"lava", "mud", "ice", "rock", "destinations (1)"} <= set(d.legends)
    assert not any(text.startswith("tracks") for text in d.legends)
    # Unknown classes get distinct fallback colours, and they are what is drawn.
    colours = pictures.class_colors(scene.classes)
    np.testing.assert_allclose(d.cell(0, scene.shape, 1, 1), _rgb(colours[2]), atol=0.03)
    np.testing.assert_allclose(d.cell(0, scene.shape, 8, 1), _rgb(colours[0]), atol=0.03)


def test_draw_costs(tmp_path, drawn):
    scene = _scene()
    learned = jnp.asarray(np.random.default_rng(0).uniform(1, 3, scene.shape))
    for true in (None, np.full(scene.shape, 2.0)):
        out = tmp_path / f"costs_{true is None}.png"
        pictures.draw_costs(out, scene, learned, true_cost=true, title="costs")
    alone, beside = drawn
    for d in (alone, beside):
        _check_png(d)
        assert {"learned cost", "cost per move", "costs"} <= set(d.texts)
        assert "impassable" in d.legends
        assert d.spread(0) > 0.05  # random learned costs: a map that is not blank
    assert "true cost" not in alone.texts and "true cost" in beside.texts
    assert {"learned", "true"} <= set(beside.legends)
    # The README: cost.png shows the learned costs beside the true ones.
    assert _readme_items("cost.png") == ["learned", "true"]
    # The true cost is one value: its map has one colour where cells are passable.
    passable = [beside.cell(1, scene.shape, r, c) for r, c in ((0, 0), (4, 8), (7, 2))]
    np.testing.assert_allclose(passable, [passable[0]] * 3, atol=0.02)
    assert beside.spread(1) > 0.01  # and grey where the building is
    np.testing.assert_allclose(
        beside.cell(1, scene.shape, 10, 10), _rgb(pictures.IMPASSABLE_COLOR), atol=0.03
    )


def test_draw_costs_constant_and_fully_passable(tmp_path, drawn):
    scene = _scene(classes=("road", "sidewalk", "grass", "parking"))
    out = tmp_path / "costs.png"
    pictures.draw_costs(out, scene, np.ones(scene.shape), true_cost=np.ones(scene.shape))
    (d,) = drawn
    _check_png(d)
    assert "impassable" not in d.legends
    assert {"learned", "true"} <= set(d.legends)
    assert d.spread(0) < 0.02  # one cost everywhere: one colour


def _heat_forecast(size=12, heat=1.0):
    """A forecast whose heat lies in the block of rows 8–10, columns 1–3, away from the paths."""
    fc = _forecast(size)
    grid = np.zeros((size, size), np.float32)
    grid[8:11, 1:4] = heat * np.array([[1.0, 0.5, 0.2]])
    return dataclasses.replace(fc, heatmap=jnp.asarray(grid))


def test_draw_forecast(tmp_path, drawn):
    scene = _scene()
    for heat in (1.0, 0.0):
        out = tmp_path / f"forecast_{heat}.png"
        fc = _heat_forecast(heat=heat)
        pictures.draw_forecast(out, scene, fc, _track(0, 4), _track(3, 8), title="f")
    hot, cold = drawn
    for d in (hot, cold):
        _check_png(d)
        assert {"observed (3 moves)", "true continuation", "sampled paths (2)"} <= set(d.legends)
        assert {"start", "now", "true end"} <= set(d.legends)
    # The README: forecast.png shows the heatmap (its colour bar), the observed prefix, the
    # true continuation and the sampled paths.
    readme = {
        "heatmap": "expected visits (log scale)",
        "observed prefix": "observed (3 moves)",
        "true continuation": "true continuation",
        "sampled paths": "sampled paths (2)",
    }
    assert _readme_items("forecast.png") == list(readme)
    assert set(readme.values()) <= set(hot.legends + hot.texts)
    assert "expected visits (log scale)" not in cold.texts and "empty heatmap" in cold.texts
    # Not blank: the hot cells are red-orange over the faded map, each one differently.
    shape = scene.shape
    heat = np.stack([hot.cell(0, shape, 9, c) for c in (1, 2, 3)])
    faded = np.stack([cold.cell(0, shape, 9, c) for c in (1, 2, 3)])
    assert np.all(np.abs(heat - faded).max(axis=1) > 0.15), (heat, faded)
    assert np.all(heat[:, 0] - heat[:, 2] > 0.3)  # red over blue: YlOrRd
    assert np.abs(np.diff(heat, axis=0)).max() > 0.05  # the scale varies with the visits
    # Cells without heat look the same in both.
    for r, c in ((1, 1), (10, 8)):
        np.testing.assert_allclose(hot.cell(0, shape, r, c), cold.cell(0, shape, r, c), atol=0.02)


def test_draw_forecast_hides_visits_below_the_colour_scale(tmp_path, drawn):
    scene = _scene()
    out = tmp_path / "forecast.png"
    pictures.draw_forecast(out, scene, _forecast(), _track(0, 4), None)
    (d,) = drawn
    _check_png(d)
    assert "true continuation" not in d.legends and "true end" not in d.legends
    # Row 4, columns 1–4 hold 1e-6 visits, far below the scale (top·1e-3): the faded map shows.
    faded = 0.4 * _rgb(pictures.CLASS_COLORS["road"]) + 0.6
    for c in (2, 3):
        np.testing.assert_allclose(d.cell(0, scene.shape, 4, c), faded, atol=0.03)


def test_draw_forecast_empty_heatmap_samples_and_continuation(tmp_path, drawn):
    scene = _scene()
    empty = Forecast(
        heatmap=jnp.zeros(scene.shape),
        goal_posterior=jnp.ones(1),
        samples=jnp.zeros((0, 5, 2), jnp.int32),
        sample_lengths=jnp.zeros(0, jnp.int32),
        sample_goals=jnp.zeros(0, jnp.int32),
        mass_left_out=jnp.asarray(0.0),
    )
    out = tmp_path / "forecast.png"
    pictures.draw_forecast(out, scene, empty, np.array([[3, 5]]), None)
    (d,) = drawn
    _check_png(d)
    assert "empty heatmap" in d.texts
    assert {"observed (0 moves)", "sampled paths (0)"} <= set(d.legends)


def test_draw_forecast_zooms_on_a_big_map(tmp_path, drawn):
    scene = _scene(size=120)
    heat = np.zeros(scene.shape)
    heat[10:30, 60] = 1.0
    fc = Forecast(
        heatmap=heat,
        goal_posterior=np.ones(1),
        samples=np.tile(np.array([10, 60]), (2, 3, 1)),
        sample_lengths=np.array([2, 0]),
        sample_goals=np.zeros(2, np.int64),
        mass_left_out=np.asarray(0.0),
    )
    for zoom in (None, False, True):
        out = tmp_path / f"forecast_{zoom}.png"
        pictures.draw_forecast(out, scene, fc, _track(5, 6, 60), _track(10, 20, 60), zoom=zoom)
    for d in drawn:
        _check_png(d)
        assert "expected visits (log scale)" in d.texts
    assert pictures._window(scene, heat > 0, [_track(5, 6, 60)], None) != (0, 120, 0, 120)
    assert pictures._window(scene, heat > 0, [], False) == (0, 120, 0, 120)
    # Zoomed, the 1-cell-wide heat line covers many more pixels than on the whole map.
    zoomed, whole, _ = drawn

    def reddish(d):
        area = d.area(0)
        return np.mean(area[..., 0] - area[..., 2] > 0.3)

    assert reddish(zoomed) > 2 * reddish(whole) > 0


def test_draw_destinations(tmp_path, drawn):
    scene = _scene()
    out = tmp_path / "dest.png"
    post = jnp.asarray([0.7, 0.3, 0.0])
    pictures.draw_destinations(
        out, scene, _goals(), post, prefix=_track(2, 4), true_goal=1, goal_names=["a", "b", "c"]
    )
    (d,) = drawn
    _check_png(d)
    assert {"observed", "now", "true: b", "posterior (area)"} <= set(d.legends)
    # The README: destinations.png shows the posterior over destinations.
    assert _readme_items("destinations.png") == ["posterior over destinations"]
    assert {"p(destination | observed)", "most probable destinations (all 3)"} <= set(d.texts)
    assert {"a", "b (true)", "c", "0.70", "0.30"} <= set(d.texts)
    assert d.spread(0) > 0.05 and d.spread(2) > 0.05  # the map and the bars


@pytest.mark.parametrize("posterior", [[0.0], [1.0]])
def test_draw_destinations_single_goal_zero_posterior(tmp_path, drawn, posterior):
    scene = _scene()
    out = tmp_path / "dest.png"
    pictures.draw_destinations(out, scene, _goals()[:1], np.asarray(posterior))
    (d,) = drawn
    _check_png(d)
    assert d.legends == ["posterior (area)"]
    assert f"{posterior[0]:.2f}" in d.texts


def test_draw_destinations_many_goals(tmp_path, drawn):
    scene = _scene(size=20)
    goals = np.zeros((30, 20, 20), bool)
    for k in range(30):
        goals[k, k % 20, (3 * k) % 17] = True
    post = np.random.default_rng(1).dirichlet(np.ones(30))
    out = tmp_path / "dest.png"
    pictures.draw_destinations(out, scene, goals, post, true_goal=29)
    (d,) = drawn
    _check_png(d)
    assert "most probable destinations (top 10 of 30)" in d.texts
    assert "true: goal 29" in d.legends


def test_draw_learning_curve(tmp_path, drawn):
    metrics = {
        "loss": jnp.asarray([3.0, 2.0, 1.5, np.nan]),
        "grad_norm": jnp.asarray([1.0, 0.1, 0.01, np.nan]),
    }
    pictures.draw_learning_curve(tmp_path / "curve.png", metrics)
    pictures.draw_learning_curve(tmp_path / "empty.png", {"loss": np.full(3, np.nan)})
    staged = {**metrics, "goals": jnp.asarray([5.0, 5.0, 15.0, np.nan])}  # the goal ladder
    pictures.draw_learning_curve(tmp_path / "staged.png", staged)
    curve, empty, ladder = drawn
    for d in drawn:
        _check_png(d)
        assert {"L-BFGS iteration", "training loss", "learning curve"} <= set(d.texts)
    assert curve.legends == ["loss (final 1.5)", "gradient norm"]
    assert "no iterations recorded" in empty.texts and empty.legends == []
    assert {"5 dest.", "15 dest."} <= set(ladder.texts)
    assert not any(t.endswith("dest.") for t in curve.texts)

    # The loss line is drawn: dark blue pixels inside the axes, none in the empty one.
    def blue(d):
        area = d.area(0)
        return np.sum((area[..., 2] - area[..., 0] > 0.3) & (area.sum(-1) < 1.5))

    assert blue(curve) > 50 and blue(empty) == 0


def test_bad_shapes_are_refused(tmp_path):
    scene = _scene()
    with pytest.raises(ValueError, match="goals"):
        pictures.draw_scene(tmp_path / "x.png", scene, np.zeros((1, 5, 5), bool))
    with pytest.raises(ValueError, match="posterior"):
        pictures.draw_destinations(tmp_path / "x.png", scene, _goals(), np.ones(2))


METRICS = {
    "learned": {"nll_per_step": 1.56, "mhd": 4.34, "destination_accuracy": 0.45, "n_tracks": 40},
    "shortest_path": {
        "nll_per_step": 1.80,
        "mhd": 5.46,
        "destination_accuracy": 0.45,
        "n_tracks": 40,
    },
    "random_walk": {
        "nll_per_step": 2.15,
        "mhd": 3.10,
        "destination_accuracy": float("nan"),
        "n_tracks": 40,
    },
}


def _row(report, name):
    return next(line for line in report.splitlines() if line.startswith(name + " "))


def test_text_report_names_and_best_marks():
    report = pictures.text_report(
        METRICS, title="street 64", details={"scene": (64, 64), "fit time [s]": 12.3456}
    )
    assert report.startswith("street 64\n")
    for name in METRICS:
        assert name in report
    for header in ("nll_per_step", "mhd [m]", "destination_accuracy"):
        assert header in report
    learned, shortest, walk = (_row(report, n) for n in METRICS)
    assert "1.560 *" in learned  # lowest NLL
    assert "3.10 *" in walk and "4.34 *" not in learned  # lowest MHD
    assert "0.450 *" in learned and "0.450 *" in shortest  # a tie: both starred
    assert "nan" in walk and "nan *" not in walk  # NaN is never best
    assert shortest.count("*") == 1
    assert "scene" in report and "64 × 64" in report and "12.35" in report


def test_text_report_missing_metric_and_no_details():
    report = pictures.text_report({"only": {"nll_per_step": 2.0}}, title="t")
    assert "only" in report and "2.000 *" in report and "—" in report


def test_a_failed_drawing_closes_its_figure(tmp_path):
    with pytest.raises(OSError):
        pictures.draw_scene(tmp_path / "missing" / "scene.png", _scene(), _goals())
    assert pictures.plt.get_fignums() == []
