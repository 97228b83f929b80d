"""The forecasting experiment end to end: data, fit, baselines, evaluation, one forecast.

`street`, `harbor` and `files` prepare a `Dataset` (scene, destinations, train and test
tracks); `run` fits the model and every baseline on the train tracks and scores them on the
test tracks (`evaluate`); `write` draws the pictures and writes `metrics.json` and
`report.txt`. The `irlax forecast` command and the benchmark call these.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np

from irlax._files import atomic_write_json, atomic_write_text
from irlax.forecast import baselines
from irlax.forecast.evaluate import evaluate
from irlax.forecast.model import (
    ForecastConfig,
    ForecastModel,
    assign_goals,
    destinations_from_endpoints,
    fit,
    forecast,
    simulate,
)
from irlax.forecast.scene import Scene


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A scene with destinations and tracks split into train and test.

    Attributes:
        name: what it is, for titles.
        scene: the semantic map.
        goals: bool `[G, H, W]` destination regions.
        goal_names: a name per destination.
        train, test: int `[n, 2]` (row, col) cell paths.
        true_cost: `[H, W]` hidden cost that generated the tracks, when known.
        notes: facts about the preparation (counts of dropped tracks, sources).
    """

    name: str
    scene: Scene
    goals: np.ndarray
    goal_names: tuple[str, ...]
    train: list
    test: list
    true_cost: np.ndarray | None = None
    notes: dict = dataclasses.field(default_factory=dict)


def street(
    seed: int = 0, size: int = 64, n_goals: int | None = None, n_train: int = 200, n_test: int = 50
) -> Dataset:
    """The built-in street scene with soft-optimal walkers under its hidden cost."""
    from irlax.forecast.street import street_scene

    if n_train < 1 or n_test < 1:
        raise ValueError(f"need at least one train and one test track, got {n_train}, {n_test}")
    st = street_scene(seed, size, n_goals)
    cost = np.asarray(st.true_cost, np.float32)
    paths, _ = simulate(cost, st.goals, st.scene.passable, n_train + n_test, jax.random.key(seed))
    return Dataset(
        name=f"street scene {size}×{size} (seed {seed})",
        scene=st.scene,
        goals=np.asarray(st.goals),
        goal_names=tuple(st.goal_names),
        train=paths[:n_train],
        test=paths[n_train:],
        true_cost=cost,
        notes={"walkers that did not arrive (dropped)": n_train + n_test - len(paths)},
    )


def harbor(radius: float = 2.0, max_goals: int = 50) -> Dataset:
    """New York Harbor AIS tracks (December 2020): train on days 1–5, test on days 6–7.

    Destinations are disks of `radius` cells around where the train tracks end
    (`destinations_from_endpoints`); train tracks that end in none of them are dropped.
    """
    from irlax.datasets import ny_harbor

    data = ny_harbor()
    scene = Scene.from_labels(
        data.labels, data.classes, cell_size=data.cell_size, impassable=data.impassable
    )
    return _with_destinations(
        "New York Harbor AIS, December 2020", scene, data.train, data.test, radius, max_goals
    )


def files(
    labels, classes, tracks, *, test_fraction: float = 0.25, radius: float = 2.0, max_goals=50
) -> Dataset:
    """A user's map, class list and tracks; the latest `test_fraction` of tracks are the test.

    See `irlax.forecast.io` for the file formats and how bad input is reported or fixed.
    """
    from irlax.forecast import io

    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    spec = io.load_classes(classes)
    scene = io.load_labels(labels, spec)
    loaded = io.load_tracks(tracks, scene, spec)
    order = np.argsort(loaded.t0, kind="stable")
    n_test = max(1, round(len(order) * test_fraction))
    if len(order) - n_test < 1:
        raise ValueError(
            f"{tracks}: {len(order)} track(s) are too few to split into train and test"
        )
    train = [loaded.paths[i] for i in order[:-n_test]]
    test = [loaded.paths[i] for i in order[-n_test:]]
    data = _with_destinations(Path(labels).stem, scene, train, test, radius, max_goals)
    data.notes["loaded"] = loaded.summary()
    return data


def _with_destinations(name, scene, train, test, radius, max_goals) -> Dataset:
    goals = destinations_from_endpoints(train, scene.passable, radius=radius, max_goals=max_goals)
    cut, dest = assign_goals(train, goals)
    keep = [p for p, d in zip(cut, dest, strict=True) if d >= 0 and len(p) >= 2]
    if not keep:
        raise ValueError("no train track ends in a destination region")
    names = tuple(f"destination {g}" for g in range(len(goals)))
    notes = {"train tracks ending outside every destination (dropped)": len(train) - len(keep)}
    return Dataset(name, scene, goals, names, keep, list(test), notes=notes)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What `run` produced."""

    data: Dataset
    model: ForecastModel
    predictors: dict
    metrics: dict
    timings: dict
    example: dict


def run(
    data: Dataset,
    *,
    seed: int = 0,
    config: ForecastConfig | None = None,
    progress: Callable[[int, dict], None] | None = None,
    n_samples: int = 16,
    observe: float = 0.5,
) -> Outcome:
    """Fit the model and the baselines on `data.train`, evaluate on `data.test`, forecast one.

    With a known `true_cost`, the hidden model itself is scored too, as `true_cost`.

    Args:
        data: the scene, destinations and train / test tracks.
        seed: seeds the baselines, the evaluation's samples and the example forecast.
        config: the fit's `ForecastConfig`.
        progress: `progress(step, metrics)` after each step of the fit (see `model.fit`).
        n_samples: sampled continuations per forecast.
        observe: the fraction of each test track observed before forecasting.
    """
    timings = {}
    start = time.perf_counter()
    model = fit(data.scene, data.train, data.goals, config=config, progress=progress)
    jax.block_until_ready(model)  # the values too, not only the cost
    timings["fit_s"] = time.perf_counter() - start
    start = time.perf_counter()
    predictors = {
        "model": model,
        "shortest_path": baselines.shortest_path(data.scene, data.train, data.goals),
        "behaviour_cloning": baselines.behaviour_cloning(data.scene, data.train, seed=seed),
        "constant_velocity": baselines.constant_velocity(data.scene, data.train),
        "random_walk": baselines.random_walk(data.scene, data.train),
    }
    if data.true_cost is not None:
        true_cost = data.true_cost.astype(model.cost.dtype)
        predictors["true_cost"] = ForecastModel.from_cost(
            true_cost, data.goals, data.scene.passable, log_prior=model.log_prior
        )
    timings["baselines_s"] = time.perf_counter() - start
    key_eval, key_example = jax.random.split(jax.random.key(seed))
    start = time.perf_counter()
    metrics = evaluate(
        predictors,
        data.test,
        data.goals,
        key=key_eval,
        cell_size=data.scene.cell_size,
        observe=observe,
        n_samples=n_samples,
    )
    timings["evaluate_s"] = time.perf_counter() - start
    example = _example(model, data, key_example, n_samples, observe)
    timings["forecast_s"] = example.pop("seconds")
    return Outcome(data, model, predictors, metrics, timings, example)


def _example(model, data: Dataset, key, n_samples, observe) -> dict:
    """Forecast the longest of the first 20 test tracks from its first `observe` part."""
    cut, dest = assign_goals(data.test, data.goals)
    candidates = [i for i, p in enumerate(cut[:20]) if len(p) >= 3] or [
        i for i, p in enumerate(cut) if len(p) >= 3
    ]
    if not candidates:
        raise ValueError("no test track has two moves to forecast from")
    i = max(candidates, key=lambda j: len(cut[j]))
    path = cut[i]
    m = min(max(1, int(np.ceil((len(path) - 1) * observe))), len(path) - 2)
    prefix, continuation = path[: m + 1], path[m:]
    # The first call compiles; wait for it, or the timed calls would queue behind it. The
    # time is the median of 5 calls, as one call on a shared machine can take twice as long.
    jax.block_until_ready(forecast(model, prefix, key=key, n_samples=n_samples))
    times = []
    for _ in range(5):
        start = time.perf_counter()
        fc = jax.block_until_ready(forecast(model, prefix, key=key, n_samples=n_samples))
        times.append(time.perf_counter() - start)
    seconds = float(np.median(times))
    return {
        "track": i,
        "prefix": prefix,
        "continuation": continuation,
        "forecast": fc,
        "true_goal": int(dest[i]),
        "seconds": seconds,
    }


def write(outcome: Outcome, out) -> list[Path]:
    """Pictures, `metrics.json` and `report.txt` in the folder `out` (created if needed).

    Returns:
        the files written.
    """
    from irlax.forecast import pictures

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data, model, ex = outcome.data, outcome.model, outcome.example
    written = [out / n for n in ("scene.png", "cost.png", "forecast.png", "destinations.png")]
    written.append(out / "learning_curve.png")
    pictures.draw_scene(
        written[0],
        data.scene,
        data.goals,
        goal_names=data.goal_names,
        paths=data.train,
        title=f"{data.name}: {len(data.train)} train tracks, {len(data.goals)} destinations",
    )
    pictures.draw_costs(written[1], data.scene, model.cost, true_cost=data.true_cost)
    pictures.draw_forecast(
        written[2],
        data.scene,
        ex["forecast"],
        ex["prefix"],
        ex["continuation"],
        title=f"forecast for test track {ex['track']} after {len(ex['prefix']) - 1} moves",
    )
    pictures.draw_destinations(
        written[3],
        data.scene,
        data.goals,
        ex["forecast"].goal_posterior,
        prefix=ex["prefix"],
        true_goal=ex["true_goal"] if ex["true_goal"] >= 0 else None,
        goal_names=data.goal_names,
    )
    pictures.draw_learning_curve(written[4], model.metrics)
    summary = {
        "dataset": data.name,
        "scene_shape": list(data.scene.shape),
        "cell_size_m": data.scene.cell_size,
        "destinations": len(data.goals),
        "train_tracks": len(data.train),
        "test_tracks": len(data.test),
        "learned_theta": dict(
            zip(model.feature_names, np.asarray(model.theta).tolist(), strict=True)
        ),
        "timings_s": outcome.timings,
        "notes": data.notes,
    }
    metrics = {**outcome.metrics, "run": summary}
    atomic_write_json(out / "metrics.json", metrics, default=float)
    details = {
        "scene": f"{data.scene.shape[0]}×{data.scene.shape[1]} cells of {data.scene.cell_size:g} m",
        "destinations": len(data.goals),
        "tracks": f"{len(data.train)} train, {len(data.test)} test",
        "fit": f"{outcome.timings['fit_s']:.1f} s",
        "one forecast": f"{outcome.timings['forecast_s'] * 1000:.0f} ms",
        **{k: v for k, v in data.notes.items()},
    }
    report = pictures.text_report(outcome.metrics, title=data.name, details=details)
    atomic_write_text(out / "report.txt", report)
    return [*written, out / "metrics.json", out / "report.txt"]
