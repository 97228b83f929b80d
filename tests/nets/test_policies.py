"""Policy heads: each log-density against its closed form or the frequencies of its samples,
the tanh-squashed Gaussian's change of variables, entropies, modes, and action-space parsing.

These run in float64 (the suite's default) so that densities and integrals are exact to
rounding.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnax.environments import spaces
from jax.scipy.stats import norm

from irlax.nets.policies import (
    Categorical,
    DiagonalGaussian,
    MultiCategorical,
    TanhGaussian,
    head_for_space,
)

N_DRAWS = 200_000


def _frequencies(actions, n):
    return np.bincount(np.asarray(actions).ravel(), minlength=n) / np.asarray(actions).size


# ---------------------------------------------------------------------------------------------
# Categorical


def test_categorical_log_prob_is_log_softmax_and_the_samples_frequency():
    logits = jnp.asarray([[0.3, -1.0, 2.0, 0.0], [1.0, 1.0, 1.0, -5.0]])
    head = Categorical(4)
    actions = jnp.arange(4)
    log_prob = jax.vmap(lambda a: head.log_prob(logits, jnp.full(2, a)))(actions).T  # [2, 4]
    expected = np.asarray(logits) - np.log(np.exp(np.asarray(logits)).sum(-1, keepdims=True))
    np.testing.assert_allclose(log_prob, expected, rtol=1e-12)
    np.testing.assert_allclose(head.log_probs(logits), expected, rtol=1e-12)
    # Frequencies of N draws: the standard error of each is at most 0.0012.
    keys = jax.random.split(jax.random.key(0), N_DRAWS)
    draws = jax.vmap(lambda k: head.sample(logits, k))(keys)  # [N, 2]
    for row in range(2):
        np.testing.assert_allclose(
            _frequencies(draws[:, row], 4), np.exp(expected[row]), atol=0.006
        )
    # sample_and_log_prob reports the log-probability of its own draw.
    action, log_prob = head.sample_and_log_prob(logits, jax.random.key(1))
    np.testing.assert_allclose(log_prob, head.log_prob(logits, action), rtol=1e-12)
    np.testing.assert_array_equal(head.mode(logits), [2, 0])
    p = np.exp(expected)
    np.testing.assert_allclose(head.entropy(logits), -(p * expected).sum(-1), rtol=1e-12)
    # A uniform distribution has the largest entropy, log n.
    assert float(head.entropy(jnp.zeros(4))) == pytest.approx(math.log(4), rel=1e-12)


def test_multi_categorical_is_the_product_of_its_groups():
    head = MultiCategorical((3, 2))
    logits = jnp.asarray([0.5, -1.0, 1.5, 2.0, -0.5])  # group 0: 3 logits, group 1: 2
    first, second = Categorical(3), Categorical(2)
    all_actions = jnp.asarray([(i, j) for i in range(3) for j in range(2)])
    joint = jax.vmap(lambda a: head.log_prob(logits, a))(all_actions)
    by_group = jax.vmap(
        lambda a: first.log_prob(logits[:3], a[0]) + second.log_prob(logits[3:], a[1])
    )(all_actions)
    np.testing.assert_allclose(joint, by_group, rtol=1e-12)
    np.testing.assert_allclose(jnp.sum(jnp.exp(joint)), 1.0, rtol=1e-12)
    # The joint frequencies of the draws are the product probabilities.
    keys = jax.random.split(jax.random.key(0), N_DRAWS)
    draws = np.asarray(jax.vmap(lambda k: head.sample(logits, k))(keys))
    assert draws.shape == (N_DRAWS, 2)
    np.testing.assert_allclose(
        _frequencies(draws[:, 0] * 2 + draws[:, 1], 6), np.exp(joint), atol=0.006
    )
    action, log_prob = head.sample_and_log_prob(logits, jax.random.key(1))
    np.testing.assert_allclose(log_prob, head.log_prob(logits, action), rtol=1e-12)
    np.testing.assert_array_equal(head.mode(logits), [2, 0])
    np.testing.assert_allclose(
        head.entropy(logits), first.entropy(logits[:3]) + second.entropy(logits[3:]), rtol=1e-12
    )
    # Batched: logits [4, 5], actions [4, 2].
    batch = jnp.tile(logits, (4, 1))
    np.testing.assert_allclose(head.log_prob(batch, all_actions[:4]), joint[:4], rtol=1e-12)


def test_uniform_actions_and_their_log_probability():
    key = jax.random.key(3)
    for head in (Categorical(5), MultiCategorical((3, 4))):
        action, log_prob = head.uniform(key, (N_DRAWS,))
        flat = action if action.ndim == 1 else action[:, 0] * 4 + action[:, 1]
        size = 5 if action.ndim == 1 else 12
        np.testing.assert_allclose(_frequencies(flat, size), 1 / size, atol=0.005)
        np.testing.assert_allclose(log_prob, -math.log(size), rtol=1e-12)
        # The uniform log-probability is the head's own at zero logits.
        logits = jnp.zeros((N_DRAWS, head.n))
        np.testing.assert_allclose(head.log_prob(logits, action), log_prob, rtol=1e-12)
    box = DiagonalGaussian.for_box((2,), [-1.0, 0.0], [1.0, 4.0])
    action, log_prob = box.uniform(key, (1000,), jnp.float64)
    assert action.shape == (1000, 2)
    assert (np.asarray(action) >= [-1, 0]).all() and (np.asarray(action) <= [1, 4]).all()
    np.testing.assert_allclose(log_prob, -math.log(2 * 4), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Diagonal Gaussian


def test_gaussian_log_prob_entropy_and_sample_match_the_closed_form():
    rng = np.random.default_rng(1)
    mean, log_std, x = rng.normal(size=(3, 5, 2))
    std = np.exp(log_std)
    head = DiagonalGaussian.for_box((2,), [-0.1, -0.2], [0.1, 0.2])
    dist = (jnp.asarray(mean), jnp.asarray(log_std))
    logp = head.log_prob(dist, jnp.asarray(x))
    closed = (-0.5 * ((x - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)).sum(-1)
    np.testing.assert_allclose(logp, closed, rtol=1e-12)
    entropy = head.entropy(dist)
    np.testing.assert_allclose(entropy, (0.5 * np.log(2 * np.pi * np.e * std**2)).sum(-1))
    # A draw is clipped for the env, but its log-probability is that of the unclipped draw.
    raw, logp = head.sample_and_log_prob(dist, jax.random.key(0))
    raw = np.asarray(raw)
    low, high = np.asarray([-0.1, -0.2]), np.asarray([0.1, 0.2])
    assert np.any((raw < low) | (raw > high))  # some draws really were clipped
    np.testing.assert_allclose(head.to_env(jnp.asarray(raw)), np.clip(raw, low, high))
    closed = (-0.5 * ((raw - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)).sum(-1)
    np.testing.assert_allclose(logp, closed, rtol=1e-12)
    np.testing.assert_array_equal(head.sample(dist, jax.random.key(0)), raw)
    np.testing.assert_array_equal(head.mode(dist), mean)


def test_gaussian_moments_entropy_and_action_shape():
    """Draws have the mean and standard deviation asked for; the entropy is `−E[log π]`; a
    `[2, 2]` action box reads and writes actions of that shape."""
    head = DiagonalGaussian.for_box((2, 2))
    mean = jnp.asarray([0.5, -1.0, 2.0, 0.0])
    log_std = jnp.asarray([0.0, -1.0, 0.3, -2.0])
    keys = jax.random.split(jax.random.key(0), N_DRAWS)
    draws, logp = jax.vmap(lambda k: head.sample_and_log_prob((mean, log_std), k))(keys)
    assert draws.shape == (N_DRAWS, 2, 2) and logp.shape == (N_DRAWS,)
    flat = np.asarray(draws).reshape(N_DRAWS, 4)
    np.testing.assert_allclose(flat.mean(0), mean, atol=0.02)
    np.testing.assert_allclose(flat.std(0), np.exp(log_std), rtol=0.01)
    # Monte Carlo: −mean log π is within 4 standard errors of the closed-form entropy.
    entropy = float(head.entropy((mean, log_std)))
    sem = float(np.std(logp)) / math.sqrt(N_DRAWS)
    assert abs(-float(np.mean(logp)) - entropy) < 4 * sem
    assert head.mode((mean, log_std)).shape == (2, 2)


# ---------------------------------------------------------------------------------------------
# The tanh-squashed Gaussian (Haarnoja et al. 2018, Appendix C)


LOW, HIGH = jnp.array([-2.0, 0.5]), jnp.array([3.0, 1.0])
MEAN, LOG_STD = jnp.array([0.3, -0.5]), jnp.array([-0.4, -0.2])
TANH = TanhGaussian.for_box((2,), LOW, HIGH)


def _tanh_1d(i):
    """The head and distribution of dimension `i` alone."""
    head = TanhGaussian.for_box((1,), LOW[i], HIGH[i])
    return head, (MEAN[i, None], LOG_STD[i, None])


def test_tanh_gaussian_log_prob_is_the_change_of_variables():
    """Its density is the derivative of the exact CDF `Φ((atanh((a − c)/s) − μ)/σ)` (central
    differences), integrates to 1 over the box, and the sampler's log-prob agrees."""
    center, scale = (HIGH + LOW) / 2, (HIGH - LOW) / 2

    for i in range(2):
        head, dist = _tanh_1d(i)

        def cdf(a, i=i):
            u = jnp.arctanh((a - center[i]) / scale[i])
            return norm.cdf((u - MEAN[i]) / jnp.exp(LOG_STD[i]))

        def density(a, head=head, dist=dist):
            return jnp.exp(head.log_prob(dist, a[None]))

        h = 1e-6
        points = LOW[i] + (HIGH[i] - LOW[i]) * jnp.array([0.05, 0.3, 0.5, 0.77, 0.97])
        numeric = jax.vmap(lambda a, cdf=cdf, h=h: (cdf(a + h) - cdf(a - h)) / (2 * h))(points)
        np.testing.assert_allclose(jax.vmap(density)(points), numeric, rtol=1e-5)
        grid = jnp.linspace(LOW[i], HIGH[i], 20_001)[1:-1]
        mass = jnp.trapezoid(jax.vmap(density)(grid), grid)
        np.testing.assert_allclose(mass, 1.0, atol=1e-6)

    # Independent dimensions: the joint log-density is the sum; the sampler reports it.
    batch = (jnp.broadcast_to(MEAN, (5, 2)), jnp.broadcast_to(LOG_STD, (5, 2)))
    actions, log_probs = TANH.sample_and_log_prob(batch, jax.random.key(0))
    assert ((actions > LOW) & (actions < HIGH)).all()
    direct = TANH.log_prob((MEAN, LOG_STD), actions)
    per_dim = sum(_tanh_1d(i)[0].log_prob(_tanh_1d(i)[1], actions[:, i, None]) for i in range(2))
    np.testing.assert_allclose(log_probs, direct, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(direct, per_dim, rtol=1e-9)
    np.testing.assert_array_equal(TANH.sample(batch, jax.random.key(0)), actions)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_tanh_gaussian_scores_a_boundary_action_finitely(dtype):
    # A clipped env or a saturating expert gives actions on the boundary: scored as the point
    # 8·eps inside it (finite, far below any interior action), not as −inf or NaN.
    head, dist = _tanh_1d(0)
    dist = tuple(jnp.asarray(x, dtype) for x in dist)
    edges = jnp.asarray([[LOW[0]], [HIGH[0]]], dtype)
    at_edges = head.log_prob(dist, edges)
    assert np.isfinite(at_edges).all()
    inside = 1.0 - 8 * jnp.finfo(dtype).eps
    centre, scale = (HIGH[0] + LOW[0]) / 2, (HIGH[0] - LOW[0]) / 2
    nearby = jnp.asarray([[centre - inside * scale], [centre + inside * scale]], dtype)
    np.testing.assert_allclose(at_edges, head.log_prob(dist, nearby), rtol=1e-6)
    assert (at_edges < head.log_prob(dist, jnp.asarray([[centre]], dtype)) - 5).all()


def test_tanh_gaussian_entropy_estimate_mode_and_key():
    """The one-sample entropy estimate averages to `−∫ π log π` (a 1-D grid integral per
    dimension; the dimensions are independent, so the entropies add); the mode is the squashed
    mean; the estimate refuses to run without a key."""
    exact = 0.0
    for i in range(2):
        head, dist = _tanh_1d(i)
        grid = jnp.linspace(LOW[i], HIGH[i], 200_001)[1:-1]
        log_p = jax.vmap(lambda a, head=head, dist=dist: head.log_prob(dist, a[None]))(grid)
        exact += float(jnp.trapezoid(-jnp.exp(log_p) * log_p, grid))
    keys = jax.random.split(jax.random.key(0), N_DRAWS)
    estimates = np.asarray(jax.vmap(lambda k: TANH.entropy((MEAN, LOG_STD), k))(keys))
    sem = estimates.std() / math.sqrt(N_DRAWS)
    assert abs(estimates.mean() - exact) < 4 * sem, (estimates.mean(), exact, sem)
    center, scale = (HIGH + LOW) / 2, (HIGH - LOW) / 2
    np.testing.assert_allclose(TANH.mode((MEAN, LOG_STD)), center + scale * jnp.tanh(MEAN))
    with pytest.raises(ValueError, match="key"):
        TANH.entropy((MEAN, LOG_STD))
    action, log_prob = TANH.uniform(jax.random.key(1), (3,), jnp.float64)
    np.testing.assert_allclose(log_prob, -np.log(np.prod(HIGH - LOW)), rtol=1e-12)
    assert action.shape == (3, 2)


# ---------------------------------------------------------------------------------------------
# Parsing action spaces


class _MultiDiscrete:
    """A Gymnasium-style MultiDiscrete space (gymnax has none)."""

    nvec = np.asarray([3, 2])
    shape = (2,)


def test_head_for_space():
    assert head_for_space(spaces.Discrete(4)) == Categorical(4)
    assert head_for_space(_MultiDiscrete()) == MultiCategorical((3, 2))
    box = spaces.Box(-2.0, 2.0, (3,), jnp.float32)
    assert head_for_space(box) == DiagonalGaussian((3,), (-2.0,) * 3, (2.0,) * 3)
    assert head_for_space(box, box="tanh") == TanhGaussian((3,), (-2.0,) * 3, (2.0,) * 3)
    assert head_for_space(spaces.Box(0.0, 1.0, ())).n == 1
    with pytest.raises(ValueError, match="action space must be Discrete"):
        head_for_space(object())
    with pytest.raises(ValueError, match="low < high"):
        head_for_space(spaces.Box(-np.inf, np.inf, (2,)), box="tanh")
    with pytest.raises(ValueError, match="box must be"):
        head_for_space(box, box="beta")
    with pytest.raises(ValueError, match="n >= 1"):
        head_for_space(spaces.Discrete(0))


@pytest.mark.parametrize("bad", [0, 2.5, True, "3"])
def test_categorical_heads_refuse_a_bad_number_of_actions(bad):
    with pytest.raises(ValueError, match="integer >= 1"):
        Categorical(bad)
    with pytest.raises(ValueError, match="integer >= 1"):
        MultiCategorical((3, bad))


def test_multi_categorical_stores_its_groups_as_a_tuple():
    head = MultiCategorical([2, np.int64(3)])
    assert head.nvec == (2, 3) and hash(head) == hash(MultiCategorical((2, 3)))
