"""Forward passes checked by enumerating every path of tiny MDPs."""

import collections

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.envs import gridworld, random_mdp
from irlax.mdp import (
    TabularMDP,
    empirical_occupancy,
    feature_expectations,
    occupancy,
    posterior_marginals,
    soft_occupancy,
    soft_value_iteration,
)
from tests.mdp import reference


def _tiny(seed, n_states, horizon, n_terminal=1):
    return random_mdp(
        jax.random.key(seed),
        n_states,
        2,
        2,
        horizon=horizon,
        n_terminal=n_terminal,
        n_features=3,
    )


TINY = [_tiny(0, 2, 3, 0), _tiny(1, 3, 4), _tiny(2, 4, 3), _tiny(3, 4, 4)]


@pytest.mark.parametrize("mdp", TINY, ids=lambda m: f"S={m.n_states},H={m.horizon}")
@pytest.mark.parametrize("tau", [1.0, 0.4])
@pytest.mark.parametrize("uniform_prior", [False, True])
def test_posterior_marginals_equal_enumerated_posterior(mdp, tau, uniform_prior):
    """p(τ | O_{1:H}) ∝ p(τ) exp(Σ r / τ): p(τ) the dynamics, times Π p(a|s) with a prior."""
    rng = np.random.default_rng(mdp.n_states)
    reward = rng.normal(size=(mdp.n_states, 2))
    T = np.asarray(mdp.dense_transitions())
    marg = np.zeros((mdp.horizon, mdp.n_states, 2))
    total = 0.0
    for states, actions, p_dyn in reference.paths(
        T, np.asarray(mdp.init), np.asarray(mdp.terminal), mdp.horizon
    ):
        w = (
            p_dyn
            * (0.5 ** len(actions) if uniform_prior else 1.0)
            * np.exp(sum(reward[s, a] for s, a in zip(states, actions, strict=False)) / tau)
        )
        total += w
        for t, (s, a) in enumerate(zip(states, actions, strict=False)):
            marg[t, s, a] += w
    expected = marg / total
    prior = np.full(2, 0.5) if uniform_prior else None
    got = posterior_marginals(mdp, reward, temperature=tau, action_prior=prior)
    np.testing.assert_allclose(got, expected, atol=1e-12)


@pytest.mark.parametrize("backup", ["expected", "optimistic"])
def test_deterministic_path_distribution(backup):
    """On a deterministic MDP the default plan's path law given s_0 is exp(Σ r/τ) / Z(s_0).

    Ziebart 08's MaxEnt model. The goal is terminal, so paths have different lengths: any
    per-step constant in the soft maximum (a uniform prior's −τ log A) tilts the law towards
    short paths and fails this test.
    """
    mdp = gridworld(2, 2, horizon=3, goal=(1, 1))
    tau = 0.6
    reward = np.random.default_rng(0).normal(size=(4, 5))
    plan = soft_value_iteration(mdp, reward, temperature=tau, backup=backup)
    log_pi = np.asarray(plan.log_policy)
    T = np.asarray(mdp.dense_transitions())
    by_start = collections.defaultdict(list)
    for states, actions, _ in reference.paths(T, np.asarray(mdp.init), np.asarray(mdp.terminal), 3):
        ret = sum(reward[s, a] for s, a in zip(states, actions, strict=False))
        model = sum(log_pi[t, s, a] for t, (s, a) in enumerate(zip(states, actions, strict=False)))
        by_start[states[0]].append((ret, model, len(actions)))
    assert len({n for items in by_start.values() for _, _, n in items}) > 1
    for s0, items in by_start.items():
        # Z(s_0) = Σ_paths exp(Σ r/τ) = exp(V_0(s_0)/τ).
        logw = np.array([r for r, _, _ in items]) / tau
        log_z = np.logaddexp.reduce(logw)
        np.testing.assert_allclose([m for _, m, _ in items], logw - log_z, atol=1e-10)
        np.testing.assert_allclose(plan.v[0, s0] / tau, log_z, atol=1e-10)


@pytest.mark.parametrize("mdp", TINY, ids=lambda m: f"S={m.n_states},H={m.horizon}")
def test_occupancy_equals_enumeration(mdp):
    plan = soft_value_iteration(mdp, np.arange(mdp.n_states, dtype=float))
    pi = np.asarray(plan.policy)
    T = np.asarray(mdp.dense_transitions())
    expected = np.zeros((mdp.horizon, mdp.n_states, 2))
    for states, actions, p_dyn in reference.paths(
        T, np.asarray(mdp.init), np.asarray(mdp.terminal), mdp.horizon
    ):
        p = p_dyn * np.prod(
            [pi[t, s, a] for t, (s, a) in enumerate(zip(states, actions, strict=False))]
        )
        for t, (s, a) in enumerate(zip(states, actions, strict=False)):
            expected[t, s, a] += p
    np.testing.assert_allclose(occupancy(mdp, plan.log_policy), expected, atol=1e-12)


def test_occupancy_sums_to_survival_probability():
    mdp = random_mdp(jax.random.key(5), 8, 3, 3, horizon=10, n_terminal=2)
    plan = soft_value_iteration(mdp, np.zeros(8))
    d = np.asarray(occupancy(mdp, plan.log_policy))
    pi = np.asarray(plan.policy)
    T = np.asarray(mdp.dense_transitions())
    alive = ~np.asarray(mdp.terminal)
    # Survival: probability of not yet having entered a terminal state before step t.
    dist = np.asarray(mdp.init) * alive
    for t in range(10):
        np.testing.assert_allclose(d[t].sum(), dist.sum(), atol=1e-12)
        dist = np.einsum("s,sa,sat->t", dist, pi[t], T) * alive
    assert d[0].sum() == pytest.approx(1.0) and d[-1].sum() < 1.0


@pytest.mark.parametrize("shared", [False, True])
def test_discounted_occupancy_solves_the_flow_equation(shared):
    mdp = random_mdp(jax.random.key(6), 6, 3, 2, discount=0.9, n_terminal=1)
    if shared:  # every state listed as a successor of every action: the [S, 1, S] layout
        mdp = TabularMDP.from_successors(
            np.arange(6)[None, None, :].repeat(6, 0),
            mdp.dense_transitions(),
            mdp.init,
            discount=0.9,
            terminal=mdp.terminal,
        )
    plan = soft_value_iteration(mdp, np.arange(6.0), tol=1e-12)
    d = np.asarray(occupancy(mdp, plan.log_policy, tol=1e-14))
    pi = np.asarray(plan.policy)
    alive = ~np.asarray(mdp.terminal)
    P = np.einsum("sa,sat->st", pi, np.asarray(mdp.dense_transitions())) * alive[None, :]
    # d_s = μ + γ P_π^T d_s on live states: (I − γ P_π^T) d_s = μ.
    d_s = np.linalg.solve(np.eye(6) - 0.9 * P.T, np.asarray(mdp.init) * alive) * alive
    np.testing.assert_allclose(d, d_s[:, None] * pi, atol=1e-10)
    ref = reference.occupancy(
        np.asarray(mdp.dense_transitions()), np.asarray(mdp.init), ~alive, pi, None, 0.9, sweeps=400
    )
    np.testing.assert_allclose(d, ref, atol=1e-10)


def test_occupancy_from_other_start():
    mdp = TINY[3]
    plan = soft_value_iteration(mdp, np.zeros(4))
    init = np.zeros(4)
    init[np.flatnonzero(~np.asarray(mdp.terminal))[0]] = 1.0
    other = mdp.replace(init=init)
    np.testing.assert_allclose(
        occupancy(mdp, plan.log_policy, init=init), occupancy(other, plan.log_policy), atol=1e-15
    )


def test_feature_expectations_discount_by_step():
    mdp = random_mdp(jax.random.key(7), 5, 2, 2, horizon=4, discount=0.5, n_features=2)
    plan = soft_value_iteration(mdp, np.zeros(5))
    d = np.asarray(occupancy(mdp, plan.log_policy))
    phi = np.asarray(mdp.features)
    expected = sum(0.5**t * d[t].sum(-1) @ phi for t in range(4))
    np.testing.assert_allclose(feature_expectations(mdp, d), expected, atol=1e-12)
    sa = random_mdp(jax.random.key(7), 5, 2, 2, horizon=4, n_features=2, state_action_features=True)
    d = np.asarray(occupancy(sa, plan.log_policy))
    expected = np.einsum("tsa,saf->f", d, np.asarray(sa.features))
    np.testing.assert_allclose(feature_expectations(sa, d), expected, atol=1e-12)


def test_empirical_occupancy_counts_demos():
    from irlax.data import Trajectories

    mdp = TINY[2]
    demos = Trajectories(
        observations=np.array([[0, 1, 2, 3], [1, 1, 0, 0]]),
        actions=np.array([[1, 0, 1], [0, 1, 0]]),
        lengths=np.array([3, 1]),
    )
    d = np.asarray(empirical_occupancy(mdp, demos))
    expected = np.zeros((3, 4, 2))
    for t, (s, a) in enumerate([(0, 1), (1, 0), (2, 1)]):
        expected[t, s, a] += 0.5
    expected[0, 1, 0] += 0.5
    np.testing.assert_allclose(d, expected)
    disc = random_mdp(jax.random.key(0), 4, 2, 2, discount=0.5)
    d = np.asarray(empirical_occupancy(disc, demos))
    np.testing.assert_allclose(d[2, 1], 0.5 * 0.25)


def test_bad_occupancy_input():
    mdp = TINY[1]
    with pytest.raises(ValueError, match="log_policy must have shape"):
        occupancy(mdp, jnp.zeros((3, 3, 2)))
    plan = soft_value_iteration(mdp, np.zeros(3))
    with pytest.raises(ValueError, match="log_policy must hold log-probabilities"):
        occupancy(mdp, plan.policy)  # probabilities, not their logarithms
    with pytest.raises(ValueError, match="log_policy must hold log-probabilities"):
        occupancy(mdp, plan.log_policy.at[0, 0, 0].set(jnp.nan))
    with pytest.raises(ValueError, match="init must"):
        occupancy(mdp, jnp.full((3, 2), -np.log(2)), init=np.ones(3))
    with pytest.raises(ValueError, match="finite horizon and discount 1"):
        posterior_marginals(random_mdp(jax.random.key(0), 3, 2, 2, discount=0.9), np.zeros(3))
    with pytest.raises(ValueError, match="features"):
        feature_expectations(gridworld(2, 2, horizon=2), jnp.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match="occupancy must have shape"):
        feature_expectations(mdp, jnp.zeros((3, 3)))


@pytest.mark.parametrize("backup", ["expected", "optimistic"])
def test_soft_occupancy_equals_occupancy_of_the_plan(backup):
    mdp = random_mdp(jax.random.key(8), 7, 3, 3, horizon=6, n_terminal=1)
    rng = np.random.default_rng(8)
    reward, prior = rng.normal(size=(7, 3)), rng.dirichlet(np.ones(3), size=7)
    init = rng.dirichlet(np.ones(7))
    kwargs = {"temperature": 0.7, "backup": backup, "action_prior": prior}
    plan = soft_value_iteration(mdp, reward, **kwargs)
    np.testing.assert_allclose(
        soft_occupancy(mdp, reward, init=init, **kwargs),
        occupancy(mdp, plan.log_policy, init=init),
        atol=1e-14,
    )
    with pytest.raises(ValueError, match="needs a finite horizon"):
        soft_occupancy(random_mdp(jax.random.key(0), 3, 2, 2, discount=0.9), np.zeros(3))
