"""Maximum margin planning (Ratliff et al. 2006): the demos win by their loss."""

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.algorithms import mmp
from irlax.algorithms.mmp import MMPConfig
from irlax.envs import gridworld, random_mdp
from irlax.mdp import occupancy, sample_trajectories, value_iteration
from tests.algorithms.helpers import reach_probability, trajectories

# A deterministic 3×4 grid from (0, 0) to the goal (2, 3), one indicator feature per cell.
# Every fit on it shares one compilation.
WORLD = gridworld(3, 4, horizon=None, discount=0.9, goal=(2, 3), start=(0, 0), features="onehot")
CONFIG = MMPConfig(steps=300, l2=1e-3)
START = 0


def _expert(mdp, reward):
    return occupancy(mdp, value_iteration(mdp, reward).log_policy)


# A random cost per cell: a unique best path, which a reward on cells can single out.
HIDDEN = -np.random.default_rng(0).uniform(0.5, 1.5, WORLD.n_states)
EXPERT = _expert(WORLD, HIDDEN)


def test_margin_is_satisfied_on_a_separable_problem():
    """w·F·μ_E ≥ max_μ (w·F + l)·μ: the expert beats every path by that path's loss."""
    res = mmp.fit(WORLD, EXPERT, key=jax.random.key(0), config=CONFIG)
    reward = np.asarray(res.reward)[:, None]
    loss = np.asarray(res.info["loss_maps"][0])
    np.testing.assert_array_equal(loss, (np.asarray(EXPERT) <= 0).astype(float))
    expert_value = np.sum(reward * np.asarray(EXPERT))
    rival = _expert(WORLD, reward + loss)  # loss-augmented planning, recomputed here
    rival_value = np.sum((reward + loss) * np.asarray(rival))
    assert expert_value >= rival_value - 1e-6
    # So the learned reward alone makes the expert's path the optimal one.
    np.testing.assert_allclose(occupancy(WORLD, res.plan.log_policy), EXPERT, atol=1e-6)
    # The history is the paper's objective: c(0) = max_μ l·μ, and c at the returned w.
    history = np.asarray(res.metrics["loss"])
    np.testing.assert_allclose(history[0], np.sum(loss * np.asarray(_expert(WORLD, loss))))
    w = np.asarray(res.params)
    c = 0.5 * CONFIG.l2 * w @ w + rival_value - expert_value
    best = int(res.info["best_step"])
    np.testing.assert_allclose(c, history[best] if best < CONFIG.steps else c, rtol=1e-6)
    assert c <= history.min() + 1e-12
    assert c < 0.1 * history[0]


def test_learned_reward_reaches_the_goal():
    """From sampled demos of a shortest-path expert, the learned reward's plan reaches the goal."""
    expert = value_iteration(WORLD, -np.ones(WORLD.n_states))
    demos = sample_trajectories(WORLD, expert.log_policy, 32, jax.random.key(1), length=8)
    res = mmp.fit(WORLD, demos, key=jax.random.key(0), config=CONFIG)
    assert res.reward.shape == (WORLD.n_states,)
    np.testing.assert_allclose(res.reward, np.asarray(WORLD.features) @ res.params, atol=1e-12)
    assert reach_probability(WORLD, res.plan.log_policy, 8)[START] > 0.99


@pytest.mark.parametrize("horizon", [2, None])
def test_objective_and_subgradient_by_brute_force(horizon):
    """c(w) with the max over every deterministic policy, and g·(w' − w) ≤ c(w') − c(w).

    Finite horizon: time-indexed policies, each step weighted by γ^t.
    """
    mdp = random_mdp(
        jax.random.key(7), 3, 2, 2, horizon=horizon, discount=0.8, n_features=2, n_terminal=0
    )
    s, a = mdp.n_states, mdp.n_actions
    expert_policy = np.log(np.eye(a)[[0, 1, 1]] + 1e-300)
    demos = occupancy(mdp, expert_policy)
    steps = 1 if horizon is None else horizon
    discount = mdp.discount ** np.arange(steps)
    feats = np.asarray(mdp.features)
    rng = np.random.default_rng(1)
    for _ in range(3):
        w = rng.normal(size=2)
        value, grad = mmp.objective(mdp, demos, w, l2=0.3, loss_scale=0.7)
        d = np.asarray(demos).reshape(steps, s, a) if horizon else np.asarray(demos)[None]
        visited = (np.tensordot(discount, d, axes=1) > 0).astype(float)
        r = (feats @ w)[:, None] + 0.7 * (1.0 - visited)
        best = -np.inf
        for choice in itertools.product(range(a), repeat=s * steps):
            pol = np.log(np.eye(a)[list(choice)].reshape(steps, s, a) + 1e-300)
            occ = occupancy(mdp, pol if horizon else pol[0])
            occ = np.asarray(occ).reshape(steps, s, a) if horizon else np.asarray(occ)[None]
            best = max(best, np.sum(r * np.tensordot(discount, occ, axes=1)))
        expert_reward = np.sum((feats @ w)[:, None] * np.tensordot(discount, d, axes=1))
        # An infinite horizon's start distribution is recovered from the (truncated) demo
        # occupancy, to about `occupancy`'s 1e-7 relative truncation.
        rtol = 1e-9 if horizon else 1e-5
        np.testing.assert_allclose(value, 0.15 * w @ w + best - expert_reward, rtol=rtol)
        w2 = rng.normal(size=2)
        value2, _ = mmp.objective(mdp, demos, w2, l2=0.3, loss_scale=0.7)
        assert value2 >= value + grad @ (w2 - w) - 1e-9


def test_per_demo_planning_averages_the_demos_and_agrees_when_losses_agree():
    """per_demo: c = mean of each demo's own c. Shared loss maps: it equals the averaged plan."""
    grid = gridworld(2, 2, horizon=None, discount=0.9, features="onehot")
    # Round the loop 0 → 1 → 3 → 2 → 0 (right, down, left, up) from two different cells:
    # the same visited pairs, so the same loss map.
    loop = trajectories([[0, 1, 3, 2, 0], [1, 3, 2, 0, 1]], [[3, 1, 2, 0], [1, 2, 0, 3]])
    w = np.array([0.3, -0.2, 0.5, 0.1])
    per_demo, g_per_demo = mmp.objective(grid, loop, w, per_demo=True)
    averaged, g_averaged = mmp.objective(grid, loop, w)
    np.testing.assert_allclose(per_demo, averaged, rtol=1e-10)
    np.testing.assert_allclose(g_per_demo, g_averaged, atol=1e-10)

    # Different paths: the per-demo objective is the mean of the single-demo objectives.
    paths = trajectories([[0, 1, 3], [2, 2, 3]], [[3, 1], [4, 3]])
    both, g_both = mmp.objective(grid, paths, w, per_demo=True)
    singles = [
        mmp.objective(grid, trajectories(o[None], a[None]), w, per_demo=True)
        for o, a in zip(np.asarray(paths.observations), np.asarray(paths.actions), strict=True)
    ]
    np.testing.assert_allclose(both, np.mean([c for c, _ in singles]), rtol=1e-10)
    np.testing.assert_allclose(g_both, np.mean([g for _, g in singles], axis=0), atol=1e-10)
    # One demo: per demo and averaged are the same problem.
    one = trajectories(np.asarray(paths.observations)[:1], np.asarray(paths.actions)[:1])
    np.testing.assert_allclose(
        mmp.objective(grid, one, w, per_demo=True)[0], mmp.objective(grid, one, w)[0]
    )


def test_vmap_over_keys_and_demos_equals_a_loop():
    keys = jax.random.split(jax.random.key(3), 2)
    occs = jnp.stack([EXPERT, _expert(WORLD, -np.ones(WORLD.n_states))])
    batched = jax.vmap(lambda k, d: mmp.fit(WORLD, d, key=k, config=CONFIG))(keys, occs)
    for i in range(2):
        one = mmp.fit(WORLD, occs[i], key=keys[i], config=CONFIG)
        np.testing.assert_allclose(batched.reward[i], one.reward, atol=1e-9)
        np.testing.assert_allclose(batched.metrics["loss"][i], one.metrics["loss"])
        np.testing.assert_allclose(batched.plan.log_policy[i], one.plan.log_policy, atol=1e-9)


def test_options_override_config_and_float32_by_default():
    a = mmp.fit(WORLD, EXPERT, key=jax.random.key(0), steps=300, l2=1e-3)
    b = mmp.fit(WORLD, EXPERT, key=jax.random.key(1), config=CONFIG)
    np.testing.assert_array_equal(a.reward, b.reward)
    with jax.enable_x64(False):
        world = gridworld(3, 4, horizon=None, discount=0.9, goal=(2, 3), features="onehot")
        res = mmp.fit(world, _expert(world, HIDDEN), key=jax.random.key(0), steps=50)
        assert res.reward.dtype == jnp.float32
        assert res.metrics["loss"].dtype == jnp.float32
        assert np.all(np.isfinite(res.metrics["loss"]))
        assert float(res.metrics["loss"].min()) < float(res.metrics["loss"][0])


@pytest.mark.parametrize(
    ("demos", "match"),
    [
        (trajectories([[0, 1, 99]], [[0, 1]]), "observations"),
        (trajectories([[0, 1, 2]], [[0, 7]]), "actions"),
        (trajectories(np.zeros((0, 3)), np.zeros((0, 2))), "empty"),
        (trajectories([[0, 1]], [[3]], lengths=[0]), "empty"),
        (jnp.ones((12, 4)), "shape"),
        (jnp.full((12, 5), jnp.nan), "finite"),
    ],
)
@pytest.mark.parametrize("per_demo", [False, True])
def test_bad_demos_raise(demos, match, per_demo):
    with pytest.raises(ValueError, match=match):
        mmp.fit(WORLD, demos, key=jax.random.key(0), per_demo=per_demo)


def test_bad_mdp_options_params_and_config_raise():
    with pytest.raises(ValueError, match="features"):
        mmp.fit(gridworld(2, 2, horizon=None, discount=0.9), jnp.ones((4, 5)), key=None)
    nan_features = dataclasses.replace(WORLD, features=WORLD.features.at[0, 0].set(jnp.nan))
    with pytest.raises(ValueError, match="finite"):
        mmp.fit(nan_features, EXPERT, key=jax.random.key(0))
    with pytest.raises(ValueError, match="unknown option"):
        mmp.fit(WORLD, EXPERT, key=jax.random.key(0), epsilon=0.1)
    with pytest.raises(ValueError, match="params"):
        mmp.objective(WORLD, EXPERT, np.zeros(3))
    for bad in (
        {"optimizer": "lbfgs"},
        {"l2": 0.0},
        {"steps": 0},
        {"steps": 2.0},
        {"loss_scale": -1.0},
        {"learning_rate": float("inf")},
        {"per_demo": 1},
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            MMPConfig(**bad)
