"""MaxEnt's fits against independent references: Ziebart's loop, a Newton root, exact demos.

These are the correctness checks `benchmarks/irl_speed.py` used to run beside its timings
(references B and B* there), on a small world: a stochastic gridworld with radial state
features and sampled demonstrations, finite horizon, discount 1. Float64 (conftest).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from irlax.algorithms import maxent
from irlax.envs import gridworld
from irlax.mdp import occupancy, sample_trajectories, soft_value_iteration

KEY = jax.random.key(0)
SIZE, HORIZON, N_DEMOS, STEPS, LR = 6, 12, 16, 25, 0.05


def _world():
    """A 6×6 gridworld, slip 0.1, 4 radial features (`exp(−4·distance / size)`), true θ."""
    mdp = gridworld(SIZE, SIZE, slip=0.1, horizon=HORIZON)
    rng = np.random.default_rng(0)
    rows, cols = np.divmod(np.arange(SIZE * SIZE), SIZE)
    obj_r, obj_c = np.divmod(rng.choice(SIZE * SIZE, 4, replace=False), SIZE)
    features = np.exp(-np.hypot(rows[:, None] - obj_r, cols[:, None] - obj_c) / SIZE * 4.0)
    return mdp.replace(features=jnp.asarray(features)), jnp.array([1.5, -1.0, 0.5, 2.0])


def _state_counts(mdp, theta, init):
    """`Σ_{t<H} P(s_t = s)` `[S]` of the soft-optimal policy of `φθ`, started from `init`."""
    log_pi = soft_value_iteration(mdp, mdp.features @ theta).log_policy
    return occupancy(mdp, log_pi, init=init).sum(axis=(0, 2))


def _ziebart(mdp, start, demo_counts, steps=STEPS, lr=LR):
    """Reference B: Adam on Ziebart's gradient `φᵀ(Σ_{t<H} D_t − demo counts)`, θ from 0."""
    optimizer = optax.adam(lr)
    theta = jnp.zeros(mdp.features.shape[1])
    state = optimizer.init(theta)
    gap = jax.jit(lambda theta: mdp.features.T @ (_state_counts(mdp, theta, start) - demo_counts))
    for _ in range(steps):
        updates, state = optimizer.update(gap(theta), state)
        theta = optax.apply_updates(theta, updates)
    return theta


def _sampled(mdp, true_theta):
    """Sampled demos, and their start law and state counts over t < H, counted by hand."""
    plan = soft_value_iteration(mdp, mdp.features @ true_theta)
    demos = sample_trajectories(mdp, plan.log_policy, N_DEMOS, KEY)
    states = np.asarray(demos.observations)[:, :HORIZON]
    start = np.bincount(states[:, 0], minlength=mdp.n_states) / N_DEMOS
    counts = np.bincount(states.ravel(), minlength=mdp.n_states) / N_DEMOS
    return demos, jnp.asarray(start), jnp.asarray(counts)


def test_the_default_fit_is_ziebarts_adam_loop_on_sampled_demos():
    # Stochastic moves, 16 sampled demos: the dual's gradient is still exactly the feature gap
    # from the demos' own start states, so every Adam step is the same.
    mdp, true_theta = _world()
    demos, start, counts = _sampled(mdp, true_theta)
    fit = maxent.fit(mdp, demos, key=KEY, steps=STEPS, learning_rate=LR, tol=0.0)
    assert int(fit.info["n_steps"]) == STEPS
    reference = _ziebart(mdp, start, counts)
    np.testing.assert_allclose(fit.info["theta"], reference, rtol=0, atol=1e-10)
    learned = occupancy(mdp, fit.plan.log_policy, init=start).sum(axis=(0, 2))
    np.testing.assert_allclose(learned, _state_counts(mdp, reference, start), rtol=0, atol=1e-10)


def test_the_converged_fit_is_the_newton_root_of_the_feature_gap():
    # The feature-matching optimum (econirl's root finder's target), found independently by
    # Newton's method on φᵀ(D_θ − D_demo) = 0 with autodiff's Jacobian.
    mdp, true_theta = _world()
    demos, start, counts = _sampled(mdp, true_theta)

    def gap(theta):
        return mdp.features.T @ (_state_counts(mdp, theta, start) - counts)

    jacobian = jax.jit(jax.jacfwd(gap))
    theta = jnp.zeros(mdp.features.shape[1])
    for _ in range(30):
        g = gap(theta)
        if np.linalg.norm(g) < 1e-13:
            break
        theta = theta - jnp.linalg.solve(jacobian(theta), g)
    assert np.linalg.norm(gap(theta)) < 1e-12
    fit = maxent.fit(
        mdp, demos, key=KEY, optimizer="lbfgs", learning_rate=None, steps=200, tol=1e-10
    )
    assert bool(fit.info["converged"])
    np.testing.assert_allclose(fit.info["theta"], theta, rtol=0, atol=1e-7)
    learned = occupancy(mdp, fit.plan.log_policy, init=start).sum(axis=(0, 2))
    np.testing.assert_allclose(learned, _state_counts(mdp, theta, start), rtol=0, atol=1e-8)


def test_with_the_exact_occupancy_both_objectives_are_ziebarts_loop():
    # Infinitely many demos: the likelihood's gradient, feature matching only in expectation
    # over the sampled transitions, is then exactly feature matching, as the dual's is.
    mdp, true_theta = _world()
    exact = occupancy(mdp, soft_value_iteration(mdp, mdp.features @ true_theta).log_policy)
    start, counts = exact[0].sum(axis=-1), exact.sum(axis=(0, 2))
    reference = _ziebart(mdp, start, counts)
    for objective in ("dual", "likelihood"):
        fit = maxent.fit(
            mdp, exact, key=KEY, steps=STEPS, learning_rate=LR, tol=0.0, objective=objective
        )
        np.testing.assert_allclose(fit.info["theta"], reference, rtol=0, atol=1e-10)
    # With sampled demos the two objectives part: the identity needs the exact occupancy.
    demos, _, _ = _sampled(mdp, true_theta)
    dual, likelihood = (
        maxent.fit(mdp, demos, key=KEY, steps=STEPS, learning_rate=LR, tol=0.0, objective=o)
        for o in ("dual", "likelihood")
    )
    assert np.abs(np.asarray(dual.info["theta"] - likelihood.info["theta"])).max() > 1e-3
