"""Apprenticeship learning (Abbeel & Ng 2004): the mixture matches the expert's features."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.algorithms import apprenticeship
from irlax.algorithms.apprenticeship import ApprenticeshipConfig, min_norm_mixture
from irlax.envs import gridworld
from irlax.mdp import feature_expectations, occupancy, sample_trajectories, value_iteration
from tests.algorithms.helpers import reach_probability, trajectories

METHODS = ["max_margin", "projection"]
EPSILON = 1e-3
# `occupancy` stops once the discounted mass still in flight is below 1e-7 of the total, so
# feature expectations (of size ~10 here) agree to about 1e-5 between two ways of computing.
OCC_TOL = 1e-5


# Features (row, col, 1) of a 4×4 grid whose corner (3, 3) ends the episode. With the bias
# feature a reward can charge for every step, so reaching the goal is expressible. Every test
# on this world shares one compilation per method.
def _world():
    grid = gridworld(4, 4, horizon=None, discount=0.9, goal=(3, 3), features="coordinates")
    return grid.replace(features=np.concatenate([np.asarray(grid.features), np.ones((16, 1))], 1))


WORLD = _world()
# The expert of this hidden reward settles at the bottom-left cell: matched in a few steps.
HIDDEN_W = np.array([0.6, -0.8, 0.5])


def _expert_occupancy(mdp, w):
    plan = value_iteration(mdp, np.asarray(mdp.features) @ w)
    return occupancy(mdp, plan.log_policy)


EXPERT = _expert_occupancy(WORLD, HIDDEN_W)
KEY = jax.random.key(0)


def _fit(method, demos=EXPERT, key=0, **options):
    return apprenticeship.fit(
        WORLD, demos, key=jax.random.key(key), method=method, max_iterations=20, **options
    )


@pytest.mark.parametrize("method", METHODS)
def test_mixture_matches_expert_feature_expectations(method):
    """t ≤ ε at the end, and Σ λ_j μ_j is within ε of μ_E, with λ on the simplex."""
    res = _fit(method)
    info = res.info
    n = int(info["n_policies"])
    assert bool(info["converged"])
    assert int(info["n_iterations"]) == n
    margins = np.asarray(res.metrics["margin"])
    assert margins[n - 1] <= EPSILON
    assert np.isnan(margins[n:]).all()
    # The hull grows (max-margin) or the projection never moves away: t never increases.
    assert np.all(np.diff(margins[:n]) <= 1e-9)

    lam = np.asarray(info["mixture_weights"])
    assert lam.min() >= 0.0
    np.testing.assert_allclose(lam.sum(), 1.0, atol=1e-12)
    assert np.all(lam[n:] == 0.0)

    # μ_j are the feature expectations of the returned policies, recomputed from scratch.
    mus = np.stack(
        [
            feature_expectations(WORLD, occupancy(WORLD, lp))
            for lp in np.asarray(info["policies"])[:n]
        ]
    )
    np.testing.assert_allclose(np.asarray(info["feature_expectations"])[:n], mus, atol=OCC_TOL)
    expert = np.asarray(feature_expectations(WORLD, EXPERT))
    np.testing.assert_allclose(info["expert_feature_expectations"], expert, atol=1e-12)
    gap = np.linalg.norm(lam[:n] @ mus - expert)
    assert gap <= EPSILON
    np.testing.assert_allclose(gap, margins[n - 1], atol=2 * OCC_TOL)


@pytest.mark.parametrize("method", METHODS)
def test_each_step_plans_optimally_and_max_margin_weights_certify_the_margin(method):
    """π_i is optimal for w_i, so w_i·μ_i ≥ w_i·μ_E; max-margin: w_i·(μ_E − μ_j) ≥ t_i, j < i.

    The second inequality, with equality on the QP's support, is the minimax duality that
    turns Abbeel & Ng's eq. 6 into the min-norm QP.
    """
    res = _fit(method)
    n = int(res.info["n_policies"])
    mus = np.asarray(res.info["feature_expectations"])
    expert = np.asarray(res.info["expert_feature_expectations"])
    weights = np.asarray(res.metrics["weights"])
    margins = np.asarray(res.metrics["margin"])
    assert n >= 2
    for i in range(1, n):  # step i computed w_i from π_0 … π_{i−1} and planned π_i
        w = weights[i - 1]
        np.testing.assert_allclose(np.linalg.norm(w), 1.0, atol=1e-12)
        assert w @ mus[i] >= w @ expert - OCC_TOL
        if method == "max_margin":
            assert np.min((expert - mus[:i]) @ w) >= margins[i - 1] - 1e-6


def test_min_norm_mixture_is_the_projection_onto_the_hull():
    """x* = Σ λ_j p_j is the projection of y iff (p_j − x*)·(y − x*) ≤ 0 for every j."""
    solve = jax.jit(min_norm_mixture)
    p = jnp.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [1.0, 0.0]])
    lam = np.asarray(solve(p, jnp.zeros(2)))
    np.testing.assert_allclose(lam, [0.5, 0.5, 0.0, 0.0], atol=1e-9)  # duplicates gathered
    inside = np.asarray(solve(p, jnp.array([0.9, 0.9])))
    assert np.linalg.norm(inside @ np.asarray(p) - [0.9, 0.9]) < 1e-9

    rng = np.random.default_rng(0)
    for _ in range(4):
        points = rng.normal(size=(4, 2)) + 2.0
        target = rng.normal(size=2)
        lam = np.asarray(solve(jnp.asarray(points), jnp.asarray(target)))
        assert lam.min() >= 0.0
        np.testing.assert_allclose(lam.sum(), 1.0, atol=1e-12)
        x = lam @ points
        assert np.max((points - x) @ (target - x)) <= 1e-9 * np.linalg.norm(target - x)


@pytest.mark.parametrize("method", METHODS)
def test_learned_reward_reaches_the_goal(method):
    """From sampled demos of a shortest-path expert, the learned reward's plan reaches the goal.

    The expert pays 1 per step (ties between shortest paths split evenly). Its mixture
    reaches the goal too: its feature counts approach the expert's.
    """
    mdp = WORLD
    expert = value_iteration(mdp, -np.ones(mdp.n_states))
    demos = sample_trajectories(mdp, expert.log_policy, 64, jax.random.key(1), length=12)
    res = _fit(method, demos)
    assert res.reward.shape == (mdp.n_states,)
    np.testing.assert_allclose(res.reward, np.asarray(mdp.features) @ res.params, atol=1e-12)
    best = int(res.info["best_policy"])
    np.testing.assert_allclose(res.plan.log_policy, res.info["policies"][best], atol=1e-12)
    live = ~np.asarray(mdp.terminal)
    assert reach_probability(mdp, res.plan.log_policy, 12)[live].min() > 0.99
    lam = np.asarray(res.info["mixture_weights"])
    mixture = sum(
        w * reach_probability(mdp, p, 12) for w, p in zip(lam, res.info["policies"], strict=True)
    )
    assert mixture[live].min() > 0.8


def test_vmap_over_keys_and_demos_equals_a_loop():
    keys = jax.random.split(jax.random.key(3), 2)
    occs = jnp.stack([EXPERT, _expert_occupancy(WORLD, np.array([-0.6, 0.8, 0.3]))])
    batched = jax.vmap(lambda k, d: apprenticeship.fit(WORLD, d, key=k, max_iterations=20))(
        keys, occs
    )
    for i in range(2):
        one = apprenticeship.fit(WORLD, occs[i], key=keys[i], max_iterations=20)
        for name in ("reward", "params"):
            np.testing.assert_allclose(getattr(batched, name)[i], getattr(one, name), atol=1e-9)
        for name in ("mixture_weights", "feature_expectations", "n_policies", "policies"):
            np.testing.assert_allclose(batched.info[name][i], one.info[name], atol=1e-9)
        np.testing.assert_allclose(batched.metrics["margin"][i], one.metrics["margin"], atol=1e-9)
    # Different keys, different random π_0.
    assert not np.allclose(batched.info["policies"][0, 0], batched.info["policies"][1, 0])


def test_same_key_same_result_and_config_equals_options():
    a = _fit("max_margin", key=5)
    config = ApprenticeshipConfig(method="max_margin", max_iterations=20)
    b = apprenticeship.fit(WORLD, EXPERT, key=jax.random.key(5), config=config)
    np.testing.assert_array_equal(a.reward, b.reward)
    np.testing.assert_array_equal(a.info["policies"], b.info["policies"])


def test_float32_by_default():
    with jax.enable_x64(False):
        world = _world()
        expert = _expert_occupancy(world, HIDDEN_W)
        res = apprenticeship.fit(world, expert, key=jax.random.key(0), max_iterations=10)
        assert res.reward.dtype == jnp.float32
        assert res.info["mixture_weights"].dtype == jnp.float32
        assert bool(res.info["converged"])
        assert float(np.nanmin(res.metrics["margin"])) <= EPSILON


@pytest.mark.parametrize(
    ("demos", "match"),
    [
        (trajectories([[0, 1, 99]], [[0, 1]]), "observations"),
        (trajectories([[0, 1, 2]], [[0, 7]]), "actions"),
        (trajectories([[-1, 1, 2]], [[0, 1]]), "observations"),
        (trajectories(np.zeros((0, 3)), np.zeros((0, 2))), "empty"),
        (trajectories([[0]], np.zeros((1, 0))), "empty"),
        (jnp.ones((16, 4)), "shape"),
        (jnp.full((16, 5), jnp.nan), "finite"),
        (-jnp.ones((16, 5)), "non-negative"),
    ],
)
def test_bad_demos_raise(demos, match):
    with pytest.raises(ValueError, match=match):
        apprenticeship.fit(WORLD, demos, key=jax.random.key(0))


def test_bad_mdp_options_and_config_raise():
    with pytest.raises(ValueError, match="features"):
        apprenticeship.fit(gridworld(2, 2, horizon=None, discount=0.9), EXPERT[:4], key=KEY)
    with pytest.raises(ValueError, match="key"):
        apprenticeship.fit(WORLD, EXPERT, key=None)
    nan_features = dataclasses.replace(WORLD, features=WORLD.features.at[0, 0].set(jnp.nan))
    with pytest.raises(ValueError, match="finite"):
        apprenticeship.fit(nan_features, EXPERT, key=jax.random.key(0))
    with pytest.raises(ValueError, match="unknown option"):
        apprenticeship.fit(WORLD, EXPERT, key=jax.random.key(0), learning_rate=0.1)
    with pytest.raises(ValueError, match="method"):
        apprenticeship.fit(WORLD, EXPERT, key=jax.random.key(0), method="svm")
    with pytest.raises(ValueError, match="max_iterations"):
        ApprenticeshipConfig(max_iterations=0)
    with pytest.raises(ValueError, match="epsilon"):
        ApprenticeshipConfig(epsilon=-1.0)
