"""Autodiff through soft value iteration equals the MaxEnt IRL feature-matching gradient.

For the expected (max causal entropy) backup with a linear reward r = φθ,
`∇_θ log π_t(a|s) = ∇Q_t(s,a) − ∇V_t(s)`, `∇V_t(s) = E_π[∇Q_t(s,·)]` and
`∇Q_t(s,a) = φ(s,a) + γ E_{s'}[∇V_{t+1}(s')]`, so `Σ_t ∇ log π_t(a_t|s_t)` telescopes to
`φ(τ) − E_π[φ | s_0]` on deterministic MDPs, and in expectation over transitions otherwise
(Ziebart et al. 2008 eq. 6; Ziebart 2010 §6).
"""

import jax
import jax.numpy as jnp
import numpy as np

from irlax.envs import gridworld, random_mdp
from irlax.mdp import (
    empirical_occupancy,
    feature_expectations,
    log_likelihood,
    occupancy,
    sample_trajectories,
    soft_value_iteration,
)


def _demo_start_distribution(mdp, demos):
    return np.bincount(np.asarray(demos.observations[:, 0]), minlength=mdp.n_states) / len(
        demos.lengths
    )


def test_gradient_equals_feature_gap_per_trajectory_on_deterministic_mdp():
    mdp = gridworld(3, 4, horizon=5, goal=(2, 3)).replace(
        features=np.random.default_rng(0).normal(size=(12, 5, 3))
    )
    theta = jnp.asarray([0.3, -0.5, 0.8])
    behaviour = soft_value_iteration(mdp, np.random.default_rng(1).normal(size=12))
    demos = sample_trajectories(mdp, behaviour.log_policy, 16, jax.random.key(0))

    def mean_log_likelihood(theta, demos):
        plan = soft_value_iteration(mdp, mdp.features @ theta, temperature=1.0)
        return jnp.mean(log_likelihood(mdp, plan.log_policy, demos))

    plan = soft_value_iteration(mdp, mdp.features @ theta)
    for i in range(4):  # exact for each single demonstration
        one = jax.tree.map(lambda x, i=i: x[i : i + 1], demos)
        grad = jax.grad(mean_log_likelihood)(theta, one)
        demo_counts = feature_expectations(mdp, empirical_occupancy(mdp, one))
        start = _demo_start_distribution(mdp, one)
        model_counts = feature_expectations(mdp, occupancy(mdp, plan.log_policy, init=start))
        np.testing.assert_allclose(grad, demo_counts - model_counts, atol=1e-10)


def test_gradient_equals_feature_gap_in_expectation_on_stochastic_mdp():
    """Demos from any policy with the true dynamics: exact expectation via their occupancy."""
    mdp = random_mdp(jax.random.key(1), 6, 3, 3, horizon=4, n_features=4, n_terminal=1)
    theta = jnp.asarray([0.5, -0.2, 0.1, 0.7])
    behaviour = soft_value_iteration(mdp, np.random.default_rng(2).normal(size=(6, 3)))
    d_demo = occupancy(mdp, behaviour.log_policy)

    def expected_log_likelihood(theta):
        plan = soft_value_iteration(mdp, mdp.features @ theta)
        return jnp.sum(d_demo * plan.log_policy)

    grad = jax.grad(expected_log_likelihood)(theta)
    plan = soft_value_iteration(mdp, mdp.features @ theta)
    gap = feature_expectations(mdp, d_demo) - feature_expectations(
        mdp, occupancy(mdp, plan.log_policy)
    )
    np.testing.assert_allclose(grad, gap, atol=1e-10)
    # A single sampled trajectory does not satisfy it (the identity needs the expectation).
    one = sample_trajectories(mdp, behaviour.log_policy, 1, jax.random.key(3))
    grad_one = jax.grad(
        lambda th: jnp.sum(
            log_likelihood(mdp, soft_value_iteration(mdp, mdp.features @ th).log_policy, one)
        )
    )(theta)
    start = _demo_start_distribution(mdp, one)
    gap_one = feature_expectations(mdp, empirical_occupancy(mdp, one)) - feature_expectations(
        mdp, occupancy(mdp, plan.log_policy, init=start)
    )
    assert not np.allclose(grad_one, gap_one, atol=1e-6)


def test_discounted_gradient_weights_steps_by_discount():
    mdp = random_mdp(jax.random.key(4), 5, 2, 2, horizon=6, discount=0.8, n_features=3)
    theta = jnp.asarray([0.2, 0.4, -0.6])
    behaviour = soft_value_iteration(mdp, np.random.default_rng(5).normal(size=5))
    d_demo = occupancy(mdp, behaviour.log_policy)
    weights = 0.8 ** jnp.arange(6)[:, None, None]

    def expected_log_likelihood(theta):
        plan = soft_value_iteration(mdp, mdp.features @ theta)
        return jnp.sum(weights * d_demo * plan.log_policy)

    plan = soft_value_iteration(mdp, mdp.features @ theta)
    gap = feature_expectations(mdp, d_demo) - feature_expectations(
        mdp, occupancy(mdp, plan.log_policy)
    )
    np.testing.assert_allclose(jax.grad(expected_log_likelihood)(theta), gap, atol=1e-10)
