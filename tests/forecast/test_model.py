"""The Kitani forecaster: exact against brute force on tiny scenes; recovers a hidden cost."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.forecast import baselines
from irlax.forecast.evaluate import evaluate, nearest_goal
from irlax.forecast.model import (
    ForecastConfig,
    ForecastModel,
    _fit,
    _ladder,
    assign_goals,
    cost_map,
    destinations_from_endpoints,
    fit,
    forecast,
    goal_log_posteriors,
    goal_posterior,
    move_log_probs,
    simulate,
)
from irlax.forecast.planning import MIN_COST, MOVE_LENGTHS, MOVES, goal_values
from irlax.forecast.scene import Scene
from irlax.forecast.street import street_scene

CLASSES = ("sidewalk", "road", "crosswalk", "grass", "building")
TRUE = {"sidewalk": 3.0, "road": 8.0, "crosswalk": 3.6, "grass": 4.6, "building": 12.0}


def block_scene():
    """32×32: a road with a crosswalk, a lawn, a building; six exits."""
    h = w = 32
    labels = np.zeros((h, w), int)
    labels[10:16, :] = 1
    labels[10:16, 14:17] = 2
    labels[20:28, 5:20] = 3
    labels[2:7, 20:30] = 4
    scene = Scene.from_labels(labels, CLASSES, impassable=("building",))
    cost = np.vectorize(lambda k: TRUE[CLASSES[k]])(labels).astype(np.float32)
    goals = np.zeros((6, h, w), bool)
    goals[0, 0, 3:6] = goals[1, 0, 25:28] = goals[2, -1, 3:6] = True
    goals[3, -1, 25:28] = goals[4, 12:14, 0] = goals[5, 7, 24:26] = True
    return scene, cost, goals


@pytest.fixture(scope="module")
def fitted():
    scene, cost, goals = block_scene()
    paths, dest = simulate(cost, goals, scene.passable, 300, jax.random.key(0))
    train, test = paths[:240], paths[240:]
    model = fit(scene, train, goals)
    truth = ForecastModel.from_cost(cost, goals, scene.passable, log_prior=model.log_prior)
    predictors = {
        "model": model,
        "true_cost": truth,
        "shortest_path": baselines.shortest_path(scene, train, goals),
        "behaviour_cloning": baselines.behaviour_cloning(scene, train),
        "constant_velocity": baselines.constant_velocity(scene, train),
        "random_walk": baselines.random_walk(scene, train),
    }
    metrics = evaluate(predictors, test, goals, key=jax.random.key(1))
    return {
        "scene": scene,
        "goals": goals,
        "model": model,
        "truth": truth,
        "test": test,
        "test_dest": dest[240:],
        "metrics": metrics,
    }


def test_learned_costs_order_the_classes_as_the_hidden_cost(fitted):
    scene, model = fitted["scene"], fitted["model"]
    learned = {
        c: float(np.asarray(model.cost)[scene.labels == k].mean())
        for k, c in enumerate(CLASSES)
        if c != "building"
    }
    assert sorted(learned, key=learned.get) == sorted(learned, key=TRUE.get)
    for c, value in learned.items():  # and come close to it
        assert abs(value - TRUE[c]) < 0.25 * TRUE[c], (c, value)


def test_held_out_nll_is_near_the_truth_and_below_every_baseline(fitted):
    m = fitted["metrics"]
    # Margin: 2% of the true cost's held-out NLL per step.
    assert m["model"]["nll_per_step"] <= 1.02 * m["true_cost"]["nll_per_step"]
    for name in ("shortest_path", "behaviour_cloning", "constant_velocity", "random_walk"):
        assert m["model"]["nll_per_step"] < m[name]["nll_per_step"], name
        assert m["model"]["mhd"] < m[name]["mhd"], name


def test_posterior_favours_the_true_destination_after_half_a_track(fitted):
    model, test, dest = fitted["model"], fitted["test"], fitted["test_dest"]
    mass, hits = [], []
    for path, g in zip(test, dest, strict=True):
        post = np.asarray(goal_posterior(model, path[: len(path) // 2 + 1]))
        mass.append(post[g])
        hits.append(np.argmax(post) == g)
    assert np.mean(mass) > 0.6
    assert np.mean(hits) > 0.7
    assert fitted["metrics"]["model"]["destination_accuracy"] > 0.7


def test_the_fit_records_its_metrics(fitted):
    model = fitted["model"]
    loss = np.asarray(model.metrics["loss"])
    done = loss[np.isfinite(loss)]
    assert 2 <= len(done) < ForecastConfig().steps
    assert done[-1] <= done[0]
    np.testing.assert_allclose(model.cost, cost_map(model.theta, fitted["scene"].features))
    # Solves per iteration: at least one in every iteration but the last, which converged
    # and skipped its line search; the first also made the solve before its line search.
    evaluations = np.asarray(model.metrics["evaluations"])[: len(done)]
    assert (evaluations[:-1] >= 1).all() and evaluations[-1] == 0 and evaluations[0] >= 2


def test_ladder_sizes():
    assert _ladder(50, 5) == [5, 15, 50]
    assert _ladder(45, 5) == [5, 15, 45]
    assert _ladder(44, 5) == [5, 44]
    assert _ladder(14, 5) == [14]
    assert _ladder(50, 0) == [50]
    assert _ladder(3, 1) == [1, 3]


@pytest.fixture(scope="module")
def many_goals():
    """A 32×32 street scene with 20 destinations, most of them with a handful of tracks."""
    st = street_scene(1, 32, 20)
    paths, _ = simulate(st.true_cost, st.goals, st.scene.passable, 160, jax.random.key(3))
    return st, paths


def _iterations(model):
    """(loss, goals, evaluations) of the fit's iterations."""
    h = {k: np.asarray(v) for k, v in model.metrics.items()}
    done = np.isfinite(h["loss"])
    return h["loss"][done], h["goals"][done].astype(int), h["evaluations"][done]


def test_the_goal_ladder_reaches_the_optimum_of_the_whole_objective(many_goals):
    st, paths = many_goals
    direct_loss, direct_goals, direct_solves = _iterations(
        direct := fit(st.scene, paths, st.goals, first_goals=0)
    )
    ladder_loss, ladder_goals, ladder_solves = _iterations(
        ladder := fit(st.scene, paths, st.goals, first_goals=2)
    )
    n = len(set(assign_goals(paths, st.goals)[1].tolist()))  # destinations with tracks
    assert set(direct_goals) == {n}
    assert list(dict.fromkeys(ladder_goals)) == _ladder(n, 2) == [2, 6, n]
    # Both minimise the same NLL: their final losses agree to the stopping tolerance, and
    # the ladder made fewer solves of all destinations.
    assert abs(ladder_loss[-1] - direct_loss[-1]) <= 2e-3 * direct_loss[-1]
    np.testing.assert_allclose(ladder.cost, direct.cost, rtol=0.05)
    assert ladder_solves[ladder_goals == n].sum() < direct_solves.sum()
    # Every destination gets its values, also those no training track heads for.
    assert ladder.values.shape == direct.values.shape == st.goals.shape
    # The first stage's objective is the NLL of the tracks to the 2 most travelled goals
    # alone: at θ = 0 it equals a fit of just those tracks and goals.
    _, dest = assign_goals(paths, st.goals)
    top = np.argsort(-np.bincount(dest), kind="stable")[:2]
    subset = [p for p, d in zip(paths, dest, strict=True) if d in top]
    alone, _, _ = _iterations(fit(st.scene, subset, st.goals[top], first_goals=0, steps=1))
    np.testing.assert_allclose(ladder_loss[0], alone[0], rtol=1e-6)
    # `steps` bounds each stage, so a short budget still reaches the whole objective.
    _, short_goals, _ = _iterations(fit(st.scene, paths, st.goals, first_goals=2, steps=2))
    assert list(short_goals) == [2, 2, 6, 6, n, n]


def test_progress_sees_every_step_of_every_stage_and_a_new_callable_does_not_recompile(
    many_goals,
):
    st, paths = many_goals
    seen, other = [], []
    first = fit(
        st.scene,
        paths,
        st.goals,
        first_goals=2,
        steps=3,
        progress=lambda step, m: seen.append((step, float(m["loss"]), int(m["goals"]))),
    )
    compiled = _fit._cache_size()
    second = fit(
        st.scene, paths, st.goals, first_goals=2, steps=3, progress=lambda s, m: other.append(s)
    )
    assert _fit._cache_size() == compiled
    loss, goals, _ = _iterations(first)
    # The steps count on across the stages: step i is entry i of the packed metrics.
    assert [s for s, _, _ in seen] == other == list(range(len(loss)))
    assert [g for _, _, g in seen] == goals.tolist() and len(set(goals.tolist())) == 3
    np.testing.assert_allclose([v for _, v, _ in seen], loss, rtol=1e-6)
    # The same fit twice gives the same numbers, whoever watches it.
    np.testing.assert_array_equal(first.theta, second.theta)
    for k in first.metrics:
        np.testing.assert_array_equal(first.metrics[k], second.metrics[k])


def test_prefixes_of_nearby_lengths_share_one_compilation(fitted):
    model = fitted["model"]
    path = max(fitted["test"], key=len)
    assert len(path) >= 17
    goal_posterior(model, path[:9])  # 9 cells: padded to 16
    compiled = goal_log_posteriors._cache_size()
    posts = [np.asarray(goal_posterior(model, path[:n])) for n in range(10, 17)]
    assert goal_log_posteriors._cache_size() == compiled
    # The padding changes nothing: the last prefix's posterior from its cells alone.
    w = model.shape[1]
    cells = jnp.asarray(path[:16, 0] * w + path[:16, 1], jnp.int32)
    np.testing.assert_allclose(posts[-1], np.exp(goal_log_posteriors(model, cells, 15)[-1]))


# ---------------------------------------------------------------------------------------
# Exactness on a tiny scene (float64)
# ---------------------------------------------------------------------------------------


@pytest.fixture
def tiny():
    with jax.enable_x64(True):
        labels = np.array([[0, 0, 1], [0, 2, 1], [0, 0, 1]])
        scene = Scene.from_labels(labels, ("a", "b", "wall"), impassable=("wall",))
        goals = np.zeros((2, 3, 3), bool)
        goals[0, 0, 1] = True
        goals[1, 2, 1] = True
        cost = jnp.asarray([[8.0, 9.0, 12.0], [8.5, 10.0, 12.0], [9.5, 8.2, 12.0]])
        model = ForecastModel.from_cost(
            cost, goals, scene.passable, log_prior=jnp.log(jnp.asarray([0.3, 0.7]))
        )
        yield model


def _moves_from(model, cell):
    h, w = model.shape
    passable = np.asarray(model.passable)
    for (dr, dc), length in zip(MOVES, MOVE_LENGTHS, strict=True):
        r, c = cell[0] + dr, cell[1] + dc
        if 0 <= r < h and 0 <= c < w and passable[r, c]:
            yield (r, c), length * float(model.cost[cell])


def _enumerate(model, start, g, max_cost=50.0):
    """All paths from `start` to goal g with their exp(−cost), cut where exp(−cost) < e^-50.

    Each further move multiplies a path's weight by at most e^-8 and there are at most 6
    moves, so the paths cut off hold less than 1e-18 of the total.
    """
    goals = np.asarray(model.goals)
    out = []
    stack = [(start, [start], 0.0)]
    while stack:
        cell, path, cost = stack.pop()
        if goals[g][cell] and len(path) > 1:
            out.append((path, np.exp(-cost)))
            continue
        if cost > max_cost:
            continue
        for nxt, step in _moves_from(model, cell):
            stack.append((nxt, [*path, nxt], cost + step))
    return out


def test_heatmap_and_posterior_equal_brute_force_enumeration(tiny):
    model = tiny
    prefix = np.array([[1, 0], [2, 0]])
    with jax.enable_x64(True):
        # Posterior by Bayes' rule over enumerated paths: p(prefix | g) = Σ_{paths through
        # the prefix} p(path | g) = exp(−prefix cost) Z_g(now) / Z_g(start).
        start, now = (1, 0), (2, 0)
        weights = []
        visits = np.zeros((3, 3))
        for g in range(2):
            z_start = sum(p for _, p in _enumerate(model, start, g))
            paths_now = _enumerate(model, now, g)
            z_now = sum(p for _, p in paths_now)
            prefix_cost = float(model.cost[start])
            weights.append(np.exp(model.log_prior[g]) * np.exp(-prefix_cost) * z_now / z_start)
        weights = np.asarray(weights) / np.sum(weights)
        for g in range(2):
            paths_now = _enumerate(model, now, g)
            z_now = sum(p for _, p in paths_now)
            for path, p in paths_now:
                for cell in path[:-1]:  # time steps spent in cells before arrival
                    visits[cell] += weights[g] * p / z_now
        np.testing.assert_allclose(goal_posterior(model, prefix), weights, atol=1e-12)
        fc = forecast(model, prefix, key=jax.random.key(0), top_goals=2)
        np.testing.assert_allclose(fc.heatmap, visits, atol=1e-10)
        assert float(fc.mass_left_out) == pytest.approx(0.0, abs=1e-15)


def test_horizon_heatmap_equals_enumeration_of_move_sequences(tiny):
    model = tiny
    prefix = np.array([[1, 0]])
    horizon = 4
    with jax.enable_x64(True):
        post = np.asarray(goal_posterior(model, prefix))
        goals = np.asarray(model.goals)
        visits = np.zeros((3, 3))
        for g in range(2):
            values = np.asarray(model.values[g])

            def walk(cell, prob, t, g=g, values=values):
                if t == horizon or goals[g][cell]:
                    return
                for nxt, step in _moves_from(model, cell):
                    p = np.exp(-step + values[nxt] - values[cell])
                    if not goals[g][nxt]:
                        visits[nxt] += post[g] * prob * p
                    walk(nxt, prob * p, t + 1)

            walk((1, 0), 1.0, 0)
        fc = forecast(model, prefix, key=jax.random.key(0), horizon=horizon, top_goals=2)
        np.testing.assert_allclose(fc.heatmap, visits, atol=1e-12)


def test_move_log_probs_add_up_to_the_marginal_path_likelihood(tiny):
    model = tiny
    path = np.array([[1, 0], [2, 0], [2, 1]])
    with jax.enable_x64(True):
        cells = jnp.asarray(path[:, 0] * 3 + path[:, 1])
        total = float(move_log_probs(model, cells, 2).sum())
        cost = float(model.cost[1, 0] + model.cost[2, 0])
        v = np.asarray(model.values)
        # Goal 1 is entered at the end (allowed); goal 0 is not: both stay possible.
        expected = np.log(
            sum(
                np.exp(model.log_prior[g]) * np.exp(-cost + v[g][2, 1] - v[g][1, 0])
                for g in range(2)
            )
        )
        assert total == pytest.approx(expected, abs=1e-12)


def test_samples_are_valid_paths_that_stop_on_arrival(tiny):
    model = tiny
    fc = forecast(model, np.array([[1, 0]]), key=jax.random.key(3), n_samples=32)
    again = forecast(model, np.array([[1, 0]]), key=jax.random.key(3), n_samples=32)
    np.testing.assert_array_equal(fc.samples, again.samples)
    passable = np.asarray(model.passable)
    goals = np.asarray(model.goals)
    for walk, n, g in zip(
        np.asarray(fc.samples),
        np.asarray(fc.sample_lengths),
        np.asarray(fc.sample_goals),
        strict=True,
    ):
        assert np.abs(np.diff(walk, axis=0)).max() <= 1
        assert passable[walk[:, 0], walk[:, 1]].all()
        assert goals[g][tuple(walk[n])]
        assert (walk[n:] == walk[n]).all()


# ---------------------------------------------------------------------------------------
# Tracks, destinations and bad input
# ---------------------------------------------------------------------------------------


def test_assign_goals_cuts_tracks_at_their_first_entry():
    goals = np.zeros((2, 4, 4), bool)
    goals[0, 0, 0] = goals[0, 0, 1] = True
    goals[1, 3, 3] = True
    path = np.array([[2, 2], [1, 1], [0, 1], [0, 0], [1, 0]])
    cut, dest = assign_goals([path, np.array([[1, 1], [2, 2], [3, 3]])], goals)
    assert dest.tolist() == [-1, 1]
    np.testing.assert_array_equal(cut[0], path)
    path[-1] = [0, 0]
    cut, dest = assign_goals([path], goals)
    assert dest.tolist() == [0]
    np.testing.assert_array_equal(cut[0], path[:3])


def test_destinations_cover_the_end_points():
    passable = np.ones((10, 10), bool)
    ends = [np.array([[5, 5], [r, c]]) for r, c in ((0, 0), (0, 1), (1, 0), (9, 9), (8, 9))]
    goals = destinations_from_endpoints(ends, passable, radius=1.5)
    assert goals.shape[0] == 2
    assert not (goals[0] & goals[1]).any()
    for p in ends:
        assert goals[:, p[-1, 0], p[-1, 1]].any()
    near = nearest_goal(goals)
    assert near[0] == np.argmax(goals[:, 0, 0]) and near[99] == np.argmax(goals[:, 9, 9])


def test_bad_inputs_get_clear_errors():
    scene, cost, goals = block_scene()
    good = np.array([[20, 10], [20, 11]])
    good = np.concatenate([good, [[r, 11] for r in range(21, 32)]])
    with pytest.raises(ValueError, match="in no destination region"):
        fit(scene, [np.array([[20, 10], [20, 11]])], goals)
    with pytest.raises(ValueError, match="jumps"):
        fit(scene, [np.array([[29, 4], [31, 4]])], goals)
    with pytest.raises(ValueError, match="impassable"):
        fit(scene, [np.concatenate([[[r, 22] for r in range(8)]])], goals)
    with pytest.raises(ValueError, match="leaves"):
        fit(scene, [np.array([[-1, 4], [0, 4]])], goals)
    with pytest.raises(ValueError, match="unknown option"):
        fit(scene, [good], goals, stepz=3)
    with pytest.raises(ValueError, match="steps"):
        ForecastConfig(steps=0)
    with pytest.raises(ValueError, match="first_goals"):
        ForecastConfig(first_goals=-1)
    with pytest.raises(ValueError, match="bool"):
        fit(scene, [good], goals.astype(int))
    model = ForecastModel.from_cost(cost, goals, scene.passable)
    with pytest.raises(ValueError, match="leaves the 32x32 grid"):
        forecast(model, np.array([[40, 3]]), key=jax.random.key(0))
    with pytest.raises(ValueError, match="jumps"):
        goal_posterior(model, np.array([[20, 3], [22, 3]]))
    with pytest.raises(ValueError, match="impassable"):
        goal_posterior(model, np.array([[3, 22]]))
    with pytest.raises(ValueError, match="no cell"):
        goal_posterior(model, np.zeros((0, 2), int))
    with pytest.raises(ValueError, match="MIN_COST"):
        goal_values(np.full((4, 4), MIN_COST), goals[:, :4, :4] | True, np.ones((4, 4), bool))


def test_the_nine_moves_are_every_neighbour_and_stay():
    # Every pair of neighbouring cells is one of the 9 moves.
    offsets = set(itertools.product((-1, 0, 1), repeat=2))
    assert offsets == {tuple(m) for m in MOVES.tolist()}
