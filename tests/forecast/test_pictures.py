"""Forecast pictures: each drawing writes a PNG (edge cases too); the text report's table."""

import jax.numpy as jnp
import numpy as np
import pytest

from irlax.forecast import pictures
from irlax.forecast.model import Forecast
from irlax.forecast.scene import Scene

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


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


def _is_png(path):
    data = path.read_bytes()
    return len(data) > 1000 and data.startswith(PNG_MAGIC)


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


def test_draw_scene(tmp_path):
    scene = _scene()
    paths = [_track(0, 6), _track(3, 9)] * 40  # more than are drawn
    out = tmp_path / "scene.png"
    pictures.draw_scene(
        out, scene, jnp.asarray(_goals()), goal_names=["n", "s", "w"], paths=paths, title="t"
    )
    assert _is_png(out)


def test_draw_scene_single_goal_no_paths_unknown_classes(tmp_path):
    scene = _scene(classes=("lava", "mud", "ice", "rock"))
    out = tmp_path / "scene.png"
    pictures.draw_scene(out, scene, _goals()[0])  # one [H, W] region
    assert _is_png(out)


def test_draw_costs(tmp_path):
    scene = _scene()
    learned = jnp.asarray(np.random.default_rng(0).uniform(1, 3, scene.shape))
    for true in (None, np.full(scene.shape, 2.0)):
        out = tmp_path / f"costs_{true is None}.png"
        pictures.draw_costs(out, scene, learned, true_cost=true, title="costs")
        assert _is_png(out)


def test_draw_costs_constant_and_fully_passable(tmp_path):
    scene = _scene(classes=("road", "sidewalk", "grass", "parking"))
    out = tmp_path / "costs.png"
    pictures.draw_costs(out, scene, np.ones(scene.shape), true_cost=np.ones(scene.shape))
    assert _is_png(out)


def test_draw_forecast(tmp_path):
    scene = _scene()
    out = tmp_path / "forecast.png"
    pictures.draw_forecast(out, scene, _forecast(), _track(0, 4), _track(3, 8), title="f")
    assert _is_png(out)


def test_draw_forecast_empty_heatmap_samples_and_continuation(tmp_path):
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
    assert _is_png(out)


def test_draw_forecast_zooms_on_a_big_map(tmp_path):
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
        assert _is_png(out)
    assert pictures._window(scene, heat > 0, [_track(5, 6, 60)], None) != (0, 120, 0, 120)
    assert pictures._window(scene, heat > 0, [], False) == (0, 120, 0, 120)


def test_draw_destinations(tmp_path):
    scene = _scene()
    out = tmp_path / "dest.png"
    post = jnp.asarray([0.7, 0.3, 0.0])
    pictures.draw_destinations(
        out, scene, _goals(), post, prefix=_track(2, 4), true_goal=1, goal_names=["a", "b", "c"]
    )
    assert _is_png(out)


@pytest.mark.parametrize("posterior", [[0.0], [1.0]])
def test_draw_destinations_single_goal_zero_posterior(tmp_path, posterior):
    scene = _scene()
    out = tmp_path / "dest.png"
    pictures.draw_destinations(out, scene, _goals()[:1], np.asarray(posterior))
    assert _is_png(out)


def test_draw_destinations_many_goals(tmp_path):
    scene = _scene(size=20)
    goals = np.zeros((30, 20, 20), bool)
    for k in range(30):
        goals[k, k % 20, (3 * k) % 17] = True
    post = np.random.default_rng(1).dirichlet(np.ones(30))
    out = tmp_path / "dest.png"
    pictures.draw_destinations(out, scene, goals, post, true_goal=29)
    assert _is_png(out)


def test_draw_learning_curve(tmp_path):
    history = {
        "loss": jnp.asarray([3.0, 2.0, 1.5, np.nan]),
        "grad_norm": jnp.asarray([1.0, 0.1, 0.01, np.nan]),
    }
    out = tmp_path / "curve.png"
    pictures.draw_learning_curve(out, history)
    assert _is_png(out)
    out = tmp_path / "empty.png"
    pictures.draw_learning_curve(out, {"loss": np.full(3, np.nan)})
    assert _is_png(out)
    staged = {**history, "goals": jnp.asarray([5.0, 5.0, 15.0, np.nan])}  # the goal ladder
    out = tmp_path / "staged.png"
    pictures.draw_learning_curve(out, staged)
    assert _is_png(out)


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
