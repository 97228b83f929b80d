"""Objectworld, binaryworld and noisy experts: features and rewards against brute force."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.envs import (
    GRID_ACTIONS,
    binaryworld,
    gridworld,
    noisy_expert_demos,
    objectworld,
    objectworld_layout,
)
from irlax.mdp.planning import value_iteration

# Tiny layouts without an object of the first inner colour are worlds of the tests here.
pytestmark = pytest.mark.filterwarnings("ignore:this objectworld's true reward is 0")

SIZE = 8


def _brute_nearest(size, cells, colors, color):
    """Distance from every cell to the nearest object of `color`, by plain loops."""
    out = []
    for r, c in itertools.product(range(size), range(size)):
        ds = [
            math.hypot(r - orow, c - ocol)
            for (orow, ocol), k in zip(cells, colors, strict=True)
            if k == color
        ]
        out.append(min(ds) if ds else size * math.sqrt(2))
    return np.array(out)


@pytest.mark.parametrize("n_colors,n_objects", [(2, None), (3, 6), (2, 1)])
def test_objectworld_features_and_reward_match_brute_force(n_colors, n_objects):
    key = jax.random.key(3)
    mdp, reward = objectworld(key, SIZE, n_colors, n_objects=n_objects)
    layout = objectworld_layout(key, SIZE, n_colors, n_objects=n_objects)
    cells = [tuple(map(int, rc)) for rc in layout.cells]
    assert len(set(cells)) == len(cells)  # distinct cells
    assert all(0 <= r < SIZE and 0 <= c < SIZE for r, c in cells)
    assert layout.inner_colors.max() < n_colors and layout.outer_colors.max() < n_colors

    inner = [_brute_nearest(SIZE, cells, layout.inner_colors, k) for k in range(n_colors)]
    outer = [_brute_nearest(SIZE, cells, layout.outer_colors, k) for k in range(n_colors)]
    expected = np.stack(inner + outer, axis=-1)
    np.testing.assert_allclose(mdp.features, expected, rtol=0, atol=1e-12)
    for r, c in cells:  # an object's own cell is at distance 0 from its colours
        assert min(mdp.features[r * SIZE + c]) == 0.0

    # The reward rule by hand, straight from the objects (Euclidean, inclusive, inner colour).
    want = np.zeros(SIZE * SIZE)
    for r, c in itertools.product(range(SIZE), range(SIZE)):
        near = {
            k: any(
                math.hypot(r - orow, c - ocol) <= radius
                for (orow, ocol), kk in zip(cells, layout.inner_colors, strict=True)
                if kk == k
            )
            for k, radius in ((0, 3.0), (1, 2.0))
        }
        if near[0]:
            want[r * SIZE + c] = 1.0 if near[1] else -1.0
    np.testing.assert_array_equal(reward, want)


def test_objectworld_reward_takes_every_value_on_a_dense_world():
    _, reward = objectworld(jax.random.key(0), 10, n_objects=12)
    assert set(np.unique(np.asarray(reward)).tolist()) == {-1.0, 0.0, 1.0}


def test_a_world_whose_reward_is_0_everywhere_says_so():
    # Key 0 on 16×16 places 6 objects, none of the first inner colour.
    with pytest.warns(UserWarning, match="true reward is 0 in every state"):
        _, reward = objectworld(jax.random.key(0), 16)
    assert not np.any(np.asarray(reward))


def test_objectworld_shapes_dtypes_and_default_count():
    mdp, reward = objectworld(jax.random.key(0), SIZE, 3)
    s = SIZE * SIZE
    assert mdp.features.shape == (s, 6) and mdp.features.dtype == jnp.float64
    assert reward.shape == (s,) and reward.dtype == jnp.float64
    assert mdp.next_states.shape == (s, 1, 5) and mdp.probs.shape == (s, 5, 5)
    assert mdp.horizon is None and mdp.discount == 0.9
    np.testing.assert_allclose(mdp.init, np.full(s, 1 / s))
    disc, _ = objectworld(jax.random.key(0), SIZE, 3, features="discrete", horizon=7)
    assert disc.features.shape == (s, 6 * SIZE) and disc.horizon == 7
    assert len(objectworld_layout(jax.random.key(0)).cells) == 25  # Levine's ~25 on 32×32
    assert len(objectworld_layout(jax.random.key(0), 64).cells) == 100  # scales with size²
    with jax.enable_x64(False):
        mdp32, reward32 = objectworld(jax.random.key(0), SIZE)
        assert mdp32.features.dtype == jnp.float32 and reward32.dtype == jnp.float32


def test_discrete_features_threshold_the_continuous_ones():
    key = jax.random.key(5)
    cont, r1 = objectworld(key, SIZE, 2, n_objects=5)
    disc, r2 = objectworld(key, SIZE, 2, n_objects=5, features="discrete")
    d = np.asarray(cont.features)  # [S, 4]
    got = np.asarray(disc.features).reshape(SIZE * SIZE, 4, SIZE)
    for j in range(4):
        for t in range(1, SIZE + 1):
            np.testing.assert_array_equal(got[:, j, t - 1], (d[:, j] <= t).astype(float))
    assert set(np.unique(got).tolist()) <= {0.0, 1.0}
    np.testing.assert_array_equal(r1, r2)


def test_worlds_are_determined_by_their_key():
    a, ra = objectworld(jax.random.key(7), SIZE)
    b, rb = objectworld(jax.random.key(7), SIZE)
    c, _ = objectworld(jax.random.key(8), SIZE)
    np.testing.assert_array_equal(a.features, b.features)
    np.testing.assert_array_equal(ra, rb)
    assert not np.array_equal(a.features, c.features)
    x, rx = binaryworld(jax.random.key(7), SIZE)
    y, ry = binaryworld(jax.random.key(7), SIZE)
    z, _ = binaryworld(jax.random.key(8), SIZE)
    np.testing.assert_array_equal(x.features, y.features)
    np.testing.assert_array_equal(rx, ry)
    assert not np.array_equal(x.features, z.features)


@pytest.mark.parametrize("build", [objectworld, binaryworld])
def test_dynamics(build):
    mdp, _ = build(jax.random.key(0), 5, determinism=0.7)
    T = np.asarray(mdp.dense_transitions())
    np.testing.assert_allclose(T.sum(-1), 1.0, atol=1e-12)
    up, down, right, stay = (GRID_ACTIONS.index(a) for a in ("up", "down", "right", "stay"))
    centre = 2 * 5 + 2
    around = [7, 17, 11, 13, 12]  # the cells up, down, left, right of the centre, and itself
    # Chosen move w.p. 0.7 + 0.3/5, each other of the 5 moves (stay included) w.p. 0.06.
    np.testing.assert_allclose(T[centre, right, around], [0.06, 0.06, 0.06, 0.76, 0.06])
    np.testing.assert_allclose(T[centre, stay, around], [0.06, 0.06, 0.06, 0.06, 0.76])
    # Corner (0, 0): up, left and stay all stay put.
    np.testing.assert_allclose(T[0, up, [0, 5, 1]], [0.88, 0.06, 0.06])
    np.testing.assert_allclose(T[0, down, [0, 5, 1]], [0.18, 0.76, 0.06])
    exact, _ = build(jax.random.key(0), 5, determinism=1.0)
    np.testing.assert_array_equal(
        exact.dense_transitions(), gridworld(5, 5, horizon=1).dense_transitions()
    )
    uniform, _ = build(jax.random.key(0), 5, determinism=0.0)
    Tu = np.asarray(uniform.dense_transitions())
    np.testing.assert_allclose(Tu, np.broadcast_to(Tu[:, :1], Tu.shape))  # action is ignored


def test_binaryworld_counts_blue_neighbours():
    size = 6
    mdp, reward = binaryworld(jax.random.key(2), size)
    feats = np.asarray(mdp.features)
    assert feats.shape == (size * size, 9) and feats.dtype == np.float64
    assert set(np.unique(feats).tolist()) <= {0.0, 1.0}
    blue = feats[:, 4].reshape(size, size)  # feature 4 is the cell's own colour
    for r, c in [(0, 0), (0, 3), (2, 2), (3, 4), (5, 5), (5, 0)]:
        hood = [
            blue[r + dr, c + dc] if 0 <= r + dr < size and 0 <= c + dc < size else 0.0
            for dr in (-1, 0, 1)
            for dc in (-1, 0, 1)
        ]
        np.testing.assert_array_equal(feats[r * size + c], hood)
        n_blue = sum(hood)
        assert reward[r * size + c] == {4: 1.0, 5: -1.0}.get(n_blue, 0.0)
    # Over the whole grid the rule holds, and both non-zero rewards occur on this key.
    counts = feats.sum(-1)
    np.testing.assert_array_equal(reward, np.select([counts == 4, counts == 5], [1.0, -1.0], 0.0))
    assert (reward == 1).any() and (reward == -1).any()
    all_red, _ = binaryworld(jax.random.key(2), size, p_blue=0.0)
    all_blue, r_blue = binaryworld(jax.random.key(2), size, p_blue=1.0)
    assert float(all_red.features.sum()) == 0.0
    # All blue: interior cells see 9, edges 6, corners 4 (so corners earn +1).
    assert float(all_blue.features[0].sum()) == 4 and float(all_blue.features[1].sum()) == 6
    assert r_blue[0] == 1.0 and r_blue[size + 1] == 0.0


def _action_counts(mdp, demos):
    obs = np.asarray(demos.observations)[:, :-1]
    act = np.asarray(demos.actions)
    counts = np.zeros((mdp.n_states, mdp.n_actions))
    np.add.at(counts, (obs.ravel(), act.ravel()), 1)
    return counts, obs, act


def test_noisy_expert_demos_follow_the_mixture():
    mdp, reward = objectworld(jax.random.key(1), SIZE, n_objects=8)
    assert (reward == 1).any() and (reward == -1).any()  # a world worth planning in
    plan = value_iteration(mdp, reward)
    optimal = np.asarray(plan.log_policy) > -np.inf  # [S, A]

    # One (n, length) throughout, so the sampler compiles once.
    greedy = noisy_expert_demos(mdp, reward, 200, jax.random.key(1), length=50, epsilon=0.0)
    counts, _, _ = _action_counts(mdp, greedy)
    assert counts.sum() == 200 * 50
    assert counts[~optimal].sum() == 0  # ε = 0 takes only optimal actions

    random = noisy_expert_demos(mdp, reward, 200, jax.random.key(2), length=50, epsilon=1.0)
    counts, _, _ = _action_counts(mdp, random)
    freq = counts.sum(0) / counts.sum()
    np.testing.assert_allclose(freq, 0.2, atol=0.02)  # ε = 1 is uniform (sd ≈ 0.004)

    noisy = noisy_expert_demos(mdp, reward, 200, jax.random.key(3), length=50)
    counts, _, _ = _action_counts(mdp, noisy)
    unique = optimal.sum(1) == 1
    hit = counts[unique][optimal[unique]].sum() / counts[unique].sum()
    assert abs(hit - (0.7 + 0.3 / 5)) < 0.02  # ε = 0.3: the optimum w.p. 0.76 (sd ≈ 0.005)
    assert counts[~optimal].sum() > 0


def test_noisy_expert_demos_finite_horizon_uses_per_step_policy():
    mdp, reward = objectworld(jax.random.key(1), SIZE, n_objects=8, horizon=6)
    plan = value_iteration(mdp, reward)
    optimal = np.asarray(plan.log_policy) > -np.inf  # [H, S, A]
    demos = noisy_expert_demos(mdp, reward, 40, jax.random.key(1), length=None, epsilon=0.0)
    obs, act = np.asarray(demos.observations), np.asarray(demos.actions)
    assert obs.shape == (40, 7) and act.shape == (40, 6) and obs.dtype == np.int32
    t = np.broadcast_to(np.arange(6), act.shape)
    assert optimal[t, obs[:, :-1], act].all()
    # The per-step policy matters: at some visited (t, s) the optimal set changes with t.
    assert (optimal != optimal[-1:]).any()
    again = noisy_expert_demos(mdp, reward, 40, jax.random.key(1), length=None, epsilon=0.0)
    np.testing.assert_array_equal(again.actions, demos.actions)


@pytest.mark.parametrize(
    "fn,kwargs,match",
    [
        (objectworld, {"size": 1}, "size must be"),
        (objectworld, {"size": 2.5}, "size must be"),
        (objectworld, {"n_colors": 1}, "n_colors must be"),
        (objectworld, {"determinism": 1.2}, "determinism must lie"),
        (objectworld, {"determinism": -0.1}, "determinism must lie"),
        (objectworld, {"features": "onehot"}, "features must be"),
        (objectworld, {"size": 4, "n_objects": 17}, "n_objects must lie"),
        (objectworld, {"n_objects": 0}, "n_objects must lie"),
        (objectworld, {"discount": 1.0}, "discount must be < 1"),
        (objectworld_layout, {"size": 0}, "size must be"),
        (binaryworld, {"size": 1}, "size must be"),
        (binaryworld, {"determinism": 2.0}, "determinism must lie"),
        (binaryworld, {"p_blue": -0.5}, "p_blue must lie"),
    ],
)
def test_bad_arguments_raise(fn, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fn(jax.random.key(0), **kwargs)


def test_noisy_expert_demos_bad_arguments():
    mdp, reward = objectworld(jax.random.key(1), SIZE, n_objects=8)  # planner already compiled
    with pytest.raises(ValueError, match="epsilon must lie"):
        noisy_expert_demos(mdp, reward, 2, jax.random.key(0), length=3, epsilon=1.5)
    with pytest.raises(ValueError, match="length is required"):
        noisy_expert_demos(mdp, reward, 2, jax.random.key(0), length=None)
    with pytest.raises(ValueError, match="reward must have shape"):
        noisy_expert_demos(mdp, reward[:3], 2, jax.random.key(0), length=3)
