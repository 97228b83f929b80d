"""MaxEnt IRL: recovery of expert statistics, the feature-matching gradient, deep = linear, Rust."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from irlax.algorithms import maxent
from irlax.data import Trajectories
from irlax.datasets import rust_bus
from irlax.envs import gridworld
from irlax.mdp import (
    empirical_occupancy,
    feature_expectations,
    log_likelihood,
    occupancy,
    posterior_marginals,
    sample_trajectories,
    soft_value_iteration,
    value_iteration,
)
from irlax.nets import MLPReward

KEY = jax.random.key(0)


def _expert(mdp, theta, **kwargs):
    plan = soft_value_iteration(mdp, mdp.features @ theta, **kwargs)
    return plan, occupancy(mdp, plan.log_policy)


@pytest.mark.parametrize(
    "horizon,discount,backup",
    [(15, 0.9, "expected"), (15, 1.0, "optimistic"), (None, 0.9, "expected")],
)
def test_exact_expert_occupancy_is_matched_and_reward_recovered(horizon, discount, backup):
    mdp = gridworld(5, 5, slip=0.2, horizon=horizon, discount=discount, features="coordinates")
    theta = jnp.array([0.8, -0.6])
    _, expert = _expert(mdp, theta, backup=backup)
    if backup == "optimistic":
        # Ziebart 08's path model p(ζ) ∝ exp(Σ r) Π P: its visitation is the posterior's.
        expert = posterior_marginals(mdp, mdp.features @ theta)
    result = maxent.fit(
        mdp,
        expert,
        key=KEY,
        optimizer="lbfgs",
        learning_rate=None,
        steps=100,
        tol=1e-9,
        backup=backup,
    )
    assert bool(result.info["converged"])
    if backup == "optimistic":
        learned = posterior_marginals(mdp, result.reward)
    else:
        learned = occupancy(mdp, result.plan.log_policy)
    gap = feature_expectations(mdp, learned) - feature_expectations(mdp, expert)
    assert np.max(np.abs(gap)) < 1e-4
    # Coordinates tell every linear reward apart, so θ itself comes back.
    np.testing.assert_allclose(result.info["theta"], theta, atol=1e-5)
    n = int(result.info["n_steps"])
    assert np.all(np.isnan(result.metrics["loss"][n:]))
    assert result.metrics["feature_gap"][n - 1] < 1e-4


def test_gradient_is_the_feature_gap_and_a_finite_difference_of_the_likelihood():
    # Deterministic moves: the per-path identity holds exactly, for sampled demos.
    mdp = gridworld(4, 4, horizon=6, features="coordinates")
    plan, _ = _expert(mdp, jnp.array([1.0, 0.5]))
    demos = sample_trajectories(mdp, plan.log_policy, 7, KEY, length=6)
    theta = jnp.array([0.3, -0.2])

    def nll(theta):
        log_pi = soft_value_iteration(mdp, mdp.features @ theta, temperature=0.5).log_policy
        return -jnp.mean(log_likelihood(mdp, log_pi, demos))

    eps = 1e-6
    fd = np.array([(nll(theta + e) - nll(theta - e)) / (2 * eps) for e in np.eye(2) * eps])
    log_pi = soft_value_iteration(mdp, mdp.features @ theta, temperature=0.5).log_policy
    starts = np.bincount(np.asarray(demos.observations[:, 0]), minlength=16) / 7
    model = feature_expectations(mdp, occupancy(mdp, log_pi, init=starts))
    data = feature_expectations(mdp, empirical_occupancy(mdp, demos))
    np.testing.assert_allclose(fd, (model - data) / 0.5, atol=1e-7)
    # fit's objective and the feature gap it records at its first step.
    # On a deterministic MDP the dual is exactly the NLL of the demos' paths (no action prior).
    got = maxent.objective(mdp, mdp.features @ theta, demos, temperature=0.5)
    np.testing.assert_allclose(got, nll(theta), atol=1e-12)
    got = maxent.objective(
        mdp, mdp.features @ theta, demos, temperature=0.5, objective="likelihood"
    )
    np.testing.assert_allclose(got, nll(theta), atol=1e-12)
    zero = maxent.fit(mdp, demos, key=KEY, steps=1, temperature=0.5)
    log_pi0 = soft_value_iteration(mdp, jnp.zeros(16), temperature=0.5).log_policy
    gap0 = feature_expectations(mdp, occupancy(mdp, log_pi0, init=starts)) - data
    np.testing.assert_allclose(zero.metrics["feature_gap"][0], np.linalg.norm(gap0), atol=1e-10)


def test_deep_maxent_with_a_linear_network_is_ziebarts_loop_step_for_step():
    mdp = gridworld(5, 5, slip=0.1, horizon=10, features="coordinates")
    _, expert = _expert(mdp, jnp.array([1.0, -1.0]))
    model = MLPReward(hidden=())  # one Dense layer: θ·φ + b, randomly initialised
    steps, lr = 12, 0.05
    deep = maxent.fit(mdp, expert, key=KEY, reward_model=model, steps=steps, learning_rate=lr)

    # Ziebart 08 Alg. 1 by hand: gradient = expected − demo feature counts, Adam steps.
    params = jax.tree.map(lambda p: p.astype(jnp.float64), model.init(KEY, mdp.features))
    theta, bias = params["params"]["Dense_0"]["kernel"][:, 0], params["params"]["Dense_0"]["bias"]
    start = jnp.sum(expert[0], axis=-1)
    demo_counts = feature_expectations(mdp, expert)
    optimizer = optax.adam(lr)
    state = optimizer.init(theta)
    for _ in range(steps):
        log_pi = soft_value_iteration(mdp, mdp.features @ theta + bias).log_policy
        grad = feature_expectations(mdp, occupancy(mdp, log_pi, init=start)) - demo_counts
        updates, state = optimizer.update(grad, state)
        theta = optax.apply_updates(theta, updates)
    learned = deep.params["params"]["Dense_0"]
    np.testing.assert_allclose(learned["kernel"][:, 0], theta, atol=1e-9)
    # A constant reward changes no policy on a fixed horizon: the bias's gradient is round-off
    # (which Adam's normalisation magnifies to ~1e-8, still nothing).
    np.testing.assert_allclose(learned["bias"], bias, atol=1e-6)


def test_learned_reward_reaches_the_goal():
    mdp = gridworld(5, 5, horizon=12, goal=(4, 4), start=(0, 0), features="onehot")
    true_reward = -jnp.ones(mdp.n_states)  # a cost per step: hurry to the goal
    plan = soft_value_iteration(mdp, true_reward, temperature=0.3)
    demos = sample_trajectories(mdp, plan.log_policy, 50, KEY, length=12)
    result = maxent.fit(mdp, demos, key=KEY, steps=150, temperature=0.3, learning_rate=0.2)
    greedy = value_iteration(mdp, result.reward)
    still_running = occupancy(mdp, greedy.log_policy)[-1].sum()
    assert still_running < 1e-9


def test_progress_sees_every_step_and_a_new_callable_does_not_recompile():
    mdp = gridworld(3, 3, horizon=4, features="coordinates")
    _, expert = _expert(mdp, jnp.array([1.0, -1.0]))
    seen = []
    result = maxent.fit(
        mdp, expert, key=KEY, steps=6, progress=lambda step, m: seen.append((step, m["loss"]))
    )
    assert [step for step, _ in seen] == list(range(6))
    np.testing.assert_allclose([loss for _, loss in seen], result.metrics["loss"], rtol=1e-12)
    compiled = maxent._fit._cache_size()
    maxent.fit(mdp, expert, key=KEY, steps=6, progress=lambda step, m: None)
    assert maxent._fit._cache_size() == compiled


def test_vmap_over_seeds_equals_a_loop():
    mdp = gridworld(4, 4, slip=0.1, horizon=5, features="coordinates")
    _, expert = _expert(mdp, jnp.array([1.0, -1.0]))
    model = MLPReward(hidden=(8,))

    def run(key):
        return maxent.fit(mdp, expert, key=key, reward_model=model, steps=5).reward

    keys = jax.random.split(KEY, 3)
    batched = jax.vmap(run)(keys)
    for i, key in enumerate(keys):
        np.testing.assert_allclose(batched[i], run(key), atol=1e-7)  # batched matmul round-off
    assert not np.allclose(batched[0], batched[1])


def test_vmap_over_demo_sets():
    mdp = gridworld(4, 4, slip=0.1, horizon=5, features="coordinates")
    plan, _ = _expert(mdp, jnp.array([1.0, -1.0]))
    sets = [
        sample_trajectories(mdp, plan.log_policy, 6, k, length=5) for k in jax.random.split(KEY, 2)
    ]
    stacked = Trajectories.stack(sets)
    batched = jax.vmap(lambda d: maxent.fit(mdp, d, key=KEY, steps=4).info["theta"])(stacked)
    for i, demos in enumerate(sets):
        np.testing.assert_allclose(
            batched[i], maxent.fit(mdp, demos, key=KEY, steps=4).info["theta"], atol=1e-10
        )


def test_rust_bus_matches_table_ix_within_two_percent():
    # Rust (1987) Table IX: (θ11, RC) at β = 0.9999 and β = 0, logit shocks = temperature 1.
    table = {
        ((1, 2, 3, 4), 0.9999): (2.6275, 9.7558),
        ((1, 2, 3, 4), 0.0): (70.2769, 7.3055),
        ((4,), 0.9999): (2.2930, 10.0750),
        ((4,), 0.0): (71.5133, 7.6358),
    }
    for (groups, discount), published in table.items():
        data = rust_bus(groups)
        result = maxent.fit(
            data.mdp(discount=discount),
            data.trajectories,
            key=KEY,
            optimizer="lbfgs",
            learning_rate=None,
            steps=200,
            tol=1e-8,
            objective="likelihood",
            step_weights="uniform",
            standard_errors=True,
        )
        assert bool(result.info["converged"])
        np.testing.assert_allclose(result.info["theta"], published, rtol=0.02)
        assert np.all(result.info["standard_errors"] > 0)


def test_standard_errors_are_the_inverse_hessian_of_the_total_nll():
    mdp = gridworld(4, 4, slip=0.2, horizon=None, discount=0.8, features="coordinates")
    plan, _ = _expert(mdp, jnp.array([1.0, -0.5]))
    demos = sample_trajectories(mdp, plan.log_policy, 40, KEY, length=10)
    result = maxent.fit(
        mdp,
        demos,
        key=KEY,
        optimizer="lbfgs",
        learning_rate=None,
        tol=1e-10,
        objective="likelihood",
        step_weights="uniform",
        standard_errors=True,
    )
    theta = result.info["theta"]

    def total_nll(theta):
        log_pi = soft_value_iteration(mdp, mdp.features @ theta, tol=1e-13).log_policy
        return -jnp.sum(log_likelihood(mdp, log_pi, demos))

    grad = jax.grad(total_nll)
    eps = 1e-5
    hessian = np.stack([(grad(theta + e) - grad(theta - e)) / (2 * eps) for e in np.eye(2) * eps])
    np.testing.assert_allclose(
        result.info["standard_errors"], np.sqrt(np.diag(np.linalg.inv(hessian))), rtol=1e-5
    )


def test_float32_by_default():
    with jax.enable_x64(False):
        mdp = gridworld(4, 4, slip=0.1, horizon=5, features="coordinates")
        _, expert = _expert(mdp, jnp.array([1.0, -1.0]))
        result = maxent.fit(mdp, expert, key=KEY, steps=3)
        assert result.reward.dtype == jnp.float32
        assert result.metrics["loss"].dtype == jnp.float32


MDP = gridworld(3, 3, horizon=4, features="coordinates")


def _demos(observations, actions):
    return Trajectories(
        observations=np.asarray(observations),
        actions=np.asarray(actions),
        lengths=np.full(len(actions), np.shape(actions)[1]),
    )


@pytest.mark.parametrize(
    "demos,options,match",
    [
        (_demos([[0, 9]], [[0]]), {}, "observations must lie"),
        (_demos([[0, 1]], [[7]]), {}, "actions must lie"),
        (np.zeros((3, 9, 5)), {}, "shape"),
        (_demos(np.zeros((0, 2), int), np.zeros((0, 1), int)), {}, "empty"),
        (_demos([[0, 1]], [[0]]), {"speed": 2}, "unknown option"),
        (_demos([[0, 1]], [[0]]), {"optimizer": "newton"}, "optimizer"),
        (_demos([[0, 1]], [[0]]), {"temperature": 0.0}, "temperature"),
        (_demos([[0, 1]], [[0]]), {"step_weights": "uniform"}, "applies to objective"),
        (_demos([[0, 1]], [[0]]), {"steps": True}, "steps must be an integer"),
        (_demos([[0, 1]], [[0]]), {"learning_rate": -1.0}, "learning_rate"),
        (_demos([[0, 1]], [[0]]), {"learning_rate": None}, "only for optimizer='lbfgs'"),
        (_demos([[0, 1]], [[0]]), {"l2": float("nan")}, "l2 must be a finite number"),
        (_demos([[0, 1]], [[0]]), {"standard_errors": "yes"}, "standard_errors must be a bool"),
        (_demos([[0, 1]], [[0]]), {"reward_model": "mlp"}, "reward_model must be a Flax module"),
    ],
)
def test_bad_input_is_named(demos, options, match):
    with pytest.raises(ValueError, match=match):
        maxent.fit(MDP, demos, key=KEY, **options)


def test_nan_features_and_missing_features_are_named():
    demos = _demos([[0, 1]], [[3]])
    with pytest.raises(ValueError, match="features"):
        maxent.fit(gridworld(3, 3, horizon=4), demos, key=KEY)
    with pytest.raises(ValueError, match="features must be finite"):
        maxent.fit(MDP.replace(features=MDP.features.at[0, 0].set(np.nan)), demos, key=KEY)


@pytest.mark.parametrize("horizon,discount", [(8, 0.95), (None, 0.9)])
def test_dual_matches_sampled_demo_feature_counts_over_their_windows(horizon, discount):
    # Stochastic moves and few demos: the optimum of the dual matches the demos' discounted
    # feature counts exactly, the learner's counted over each demo's own window (from its
    # first state, minus what would follow its last one).
    mdp = gridworld(5, 5, slip=0.3, horizon=horizon, discount=discount, features="coordinates")
    plan, _ = _expert(mdp, jnp.array([0.7, -0.4]))
    demos = sample_trajectories(mdp, plan.log_policy, 9, KEY, length=8)
    result = maxent.fit(
        mdp, demos, key=KEY, optimizer="lbfgs", learning_rate=None, tol=1e-10, objective="dual"
    )
    assert bool(result.info["converged"])
    log_pi = result.plan.log_policy
    starts = np.bincount(np.asarray(demos.observations[:, 0]), minlength=25) / 9
    ends = np.bincount(np.asarray(demos.observations[:, 8]), minlength=25) / 9
    model = feature_expectations(mdp, occupancy(mdp, log_pi, init=starts, tol=1e-14))
    if horizon is None:  # subtract the discounted future beyond the window, γ^8 from the ends
        beyond = occupancy(mdp, log_pi, init=ends, tol=1e-14)
        model -= discount**8 * feature_expectations(mdp, beyond)
    data = feature_expectations(mdp, empirical_occupancy(mdp, demos))
    np.testing.assert_allclose(model, data, atol=1e-7)


def test_an_integer_key_is_refused_by_name():
    with pytest.raises(ValueError, match="key must be a JAX PRNG key"):
        maxent.fit(MDP, _demos([[0, 1]], [[0]]), key=1)
