"""Metrics checked against brute force: path enumeration, linear solves over every
deterministic policy, and EPIC's definition enumerated over every (s, a, s') triple."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.data import Trajectories
from irlax.envs import gridworld, random_mdp
from irlax.mdp import (
    empirical_occupancy,
    feature_expectations,
    occupancy,
    soft_value_iteration,
    value_iteration,
)
from irlax.metrics import (
    demo_nll,
    epic_distance,
    expected_value_difference,
    feature_expectation_gap,
    policy_value,
    reward_correlation,
)
from tests.mdp import reference


def _log_softmax(x):
    x = np.asarray(x)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _dense(mdp):
    return (
        np.asarray(mdp.dense_transitions()),
        np.asarray(mdp.init),
        np.asarray(mdp.terminal),
    )


def _linear_value(T, terminal, pi, r_sa, gamma):
    """V^π = (I − γ P_π)^{-1} r_π, with terminal states absorbing at value 0."""
    alive = ~terminal
    p_pi = np.einsum("sa,sat->st", pi, T) * alive[:, None]
    r_pi = (pi * r_sa).sum(-1) * alive
    return np.linalg.solve(np.eye(len(r_pi)) - gamma * p_pi, r_pi)


# A few shared worlds; those of equal shapes share every compiled kernel.
def _small(seed, horizon, n_terminal):
    return random_mdp(
        jax.random.key(seed),
        4,
        2,
        2,
        horizon=horizon,
        discount=0.9 if horizon else 0.8,
        n_terminal=n_terminal,
        n_features=3,
        state_action_features=horizon is not None,
    )


FINITE, FINITE_NO_TERMINAL = _small(1, 3, 1), _small(5, 3, 0)
INFINITE, INFINITE_NO_TERMINAL = _small(2, None, 1), _small(6, None, 0)
GRID = gridworld(4, 4, horizon=6, features="coordinates")  # deterministic
GRID_GOAL = gridworld(4, 4, slip=0.2, horizon=6, goal=(3, 3), features="coordinates")
EPIC_MDP = random_mdp(jax.random.key(7), 8, 3, 3, discount=0.9)  # only S, A, γ matter


# --- policy_value ----------------------------------------------------------------------------


def test_policy_value_equals_path_enumeration_finite_horizon():
    mdp, gamma = FINITE, FINITE.discount
    rng = np.random.default_rng(0)
    reward = rng.normal(size=(4, 2, 4))  # R(s, a, s')
    log_pi = _log_softmax(rng.normal(size=(3, 4, 2)))
    T, mu, term = _dense(mdp)
    expected = 0.0
    for states, actions, p_dyn in reference.paths(T, mu, term, 3):
        steps = enumerate(zip(states, actions, strict=False))
        p = p_dyn * np.prod([np.exp(log_pi[t, s, a]) for t, (s, a) in steps])
        ret = sum(gamma**t * reward[states[t], a, states[t + 1]] for t, a in enumerate(actions))
        expected += p * ret
    np.testing.assert_allclose(policy_value(mdp, reward, log_pi), expected, rtol=1e-12)
    # An [S, A] reward is the [S, A, S] one averaged over the dynamics.
    r_sa = np.einsum("sat,sat->sa", T, reward)
    np.testing.assert_allclose(policy_value(mdp, r_sa, log_pi), expected, rtol=1e-12)


def test_policy_value_equals_linear_solve_infinite_horizon():
    mdp = INFINITE
    rng = np.random.default_rng(1)
    reward = rng.normal(size=4)
    log_pi = _log_softmax(rng.normal(size=(4, 2)))
    init = rng.dirichlet(np.ones(4))
    T, mu, term = _dense(mdp)
    r_sa = np.broadcast_to(reward[:, None], (4, 2))
    v = _linear_value(T, term, np.exp(log_pi), r_sa, mdp.discount)
    np.testing.assert_allclose(policy_value(mdp, reward, log_pi), mu @ v, rtol=1e-6)
    np.testing.assert_allclose(policy_value(mdp, reward, log_pi, init=init), init @ v, rtol=1e-6)


# --- expected value difference ---------------------------------------------------------------


def test_evd_equals_brute_force_over_all_deterministic_policies():
    """Infinite horizon: V* is the best of all A^S deterministic policies (linear solves)."""
    mdp, gamma = INFINITE, INFINITE.discount
    T, mu, term = _dense(mdp)
    policies = [np.eye(2)[list(acts)] for acts in itertools.product(range(2), repeat=4)]
    rng = np.random.default_rng(2)
    evds = []
    for _ in range(4):
        r_true, r_learned = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
        v_true = [_linear_value(T, term, pi, r_true, gamma) for pi in policies]
        v_learned = [_linear_value(T, term, pi, r_learned, gamma) for pi in policies]
        v_star = np.max(v_true, axis=0)
        # The learned reward's optimal policy is optimal in every state at once.
        best = int(np.argmax([v.sum() for v in v_learned]))
        assert np.all(v_learned[best] >= np.max(v_learned, axis=0) - 1e-12)
        evds.append(mu @ v_star - mu @ v_true[best])
        got = expected_value_difference(mdp, r_true, r_learned)
        np.testing.assert_allclose(got, evds[-1], rtol=1e-5, atol=1e-6)
    assert max(evds) > 1e-2  # some learned rewards really are worse


def test_evd_equals_reference_value_iteration_and_path_enumeration_finite_horizon():
    mdp, gamma = FINITE, FINITE.discount
    T, mu, term = _dense(mdp)
    rng = np.random.default_rng(3)
    r_true, r_learned = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    _, v_star, _ = reference.soft_vi(T, r_true, term, 3, gamma, 1.0, "expected", hard=True)
    _, _, pi_hat = reference.soft_vi(T, r_learned, term, 3, gamma, 1.0, "expected", hard=True)
    value_hat = 0.0
    for states, actions, p_dyn in reference.paths(T, mu, term, 3):
        steps = enumerate(zip(states, actions, strict=False))
        p = p_dyn * np.prod([pi_hat[t, s, a] for t, (s, a) in steps])
        value_hat += p * sum(gamma**t * r_true[states[t], a] for t, a in enumerate(actions))
    expected = mu @ v_star[0] - value_hat
    assert expected > 1e-3  # the learned reward really is worse
    got = expected_value_difference(mdp, r_true, r_learned)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


EQUIVALENCE_MDPS = {
    "random-finite": FINITE_NO_TERMINAL,
    "random-infinite": INFINITE_NO_TERMINAL,
    "grid": GRID,
}


@pytest.mark.parametrize("name", EQUIVALENCE_MDPS)
def test_evd_is_zero_for_the_true_reward_and_its_positive_affine_maps(name):
    """No terminal states, so every episode has the same length and a constant is harmless."""
    mdp = EQUIVALENCE_MDPS[name]
    reward = np.random.default_rng(4).normal(size=mdp.n_states)
    scale = abs(float(policy_value(mdp, reward, value_iteration(mdp, reward).log_policy)))
    assert expected_value_difference(mdp, reward, reward) == 0.0
    for learned in (3.0 * reward, reward + 2.0, 0.5 * reward - 7.0):
        evd = float(expected_value_difference(mdp, reward, learned))
        assert abs(evd) <= 1e-6 * max(scale, 1.0), evd
    # A negated reward is not equivalent.
    assert float(expected_value_difference(mdp, reward, -reward)) > 1e-2


def test_evd_rescaled_reward_with_terminal_goal():
    """With a terminal goal only scaling is harmless: a constant per step changes the goal's
    worth against wandering, so it may change the optimal policy."""
    mdp = GRID_GOAL
    reward = np.full(16, -1.0)
    reward[5] = -3.0
    assert abs(float(expected_value_difference(mdp, reward, 4.0 * reward))) <= 1e-12
    # Shifting a step cost of −1 to a reward of +9 makes the agent avoid the goal.
    assert float(expected_value_difference(mdp, reward, reward + 10.0)) > 1.0


@pytest.mark.parametrize("mdp", [FINITE, INFINITE], ids=["finite", "infinite"])
def test_evd_is_non_negative_on_random_mdps(mdp):
    rng = np.random.default_rng(5)
    true_reward = rng.normal(size=(4, 2))
    evd = np.array(
        [
            float(expected_value_difference(mdp, true_reward, rng.normal(size=(4, 2))))
            for _ in range(12)
        ]
    )
    assert np.all(evd >= -1e-6)
    assert np.mean(evd > 1e-3) > 0.5  # not trivially zero


def test_evd_jits_and_vmaps_over_learned_rewards():
    mdp = FINITE
    rng = np.random.default_rng(6)
    true_reward, learned = rng.normal(size=(4, 2)), rng.normal(size=(4, 4, 2))
    evd = jax.jit(jax.vmap(lambda r: expected_value_difference(mdp, true_reward, r)))(learned)
    for i in range(4):
        np.testing.assert_allclose(
            evd[i], expected_value_difference(mdp, true_reward, learned[i]), rtol=1e-9, atol=1e-12
        )


def test_evd_of_a_given_policy():
    mdp = GRID_GOAL
    reward = np.random.default_rng(7).normal(size=16)
    plan = value_iteration(mdp, reward)
    optimal_value = float(np.asarray(mdp.init) @ np.asarray(plan.v[0]))
    uniform = np.full((6, 16, 5), -np.log(5.0))
    expected = optimal_value - float(policy_value(mdp, reward, uniform))
    assert expected > 0.1
    got = expected_value_difference(mdp, reward, log_policy=uniform)
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    assert expected_value_difference(mdp, reward, log_policy=plan.log_policy) == 0.0
    # Softer policies never beat the optimal one.
    for tau in (1.0, 0.3, 0.05):
        soft = soft_value_iteration(mdp, reward, temperature=tau).log_policy
        assert float(expected_value_difference(mdp, reward, log_policy=soft)) >= -1e-12
    # From another start distribution.
    init = np.zeros(16)
    init[0] = 1.0
    np.testing.assert_allclose(
        expected_value_difference(mdp, reward, log_policy=uniform, init=init),
        plan.v[0, 0] - policy_value(mdp, reward, uniform, init=init),
        rtol=1e-10,
    )


def test_evd_argument_errors():
    mdp = FINITE
    r = np.zeros(4)
    with pytest.raises(ValueError, match="exactly one of learned_reward and log_policy"):
        expected_value_difference(mdp, r)
    with pytest.raises(ValueError, match="exactly one of learned_reward and log_policy"):
        expected_value_difference(mdp, r, r, log_policy=np.full((4, 2), -np.log(2)))
    with pytest.raises(ValueError, match=r"true_reward must have shape .*got \(5,\)"):
        expected_value_difference(mdp, np.zeros(5), r)
    with pytest.raises(ValueError, match=r"learned_reward must have shape .*got \(2, 4\)"):
        expected_value_difference(mdp, r, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="learned_reward must be finite"):
        expected_value_difference(mdp, r, np.full(4, np.nan))
    with pytest.raises(ValueError, match="log_policy must have shape"):
        expected_value_difference(mdp, r, log_policy=np.zeros((4, 2, 3)))
    with pytest.raises(ValueError, match="init must have shape"):
        expected_value_difference(mdp, r, r, init=np.ones(3) / 3)
    with pytest.raises(ValueError, match=r"reward must have shape .*got \(4, 3\)"):
        policy_value(mdp, np.zeros((4, 3)), np.full((4, 2), -np.log(2)))


# --- feature expectation gap -----------------------------------------------------------------


def test_feature_gap_is_zero_for_the_policy_that_made_an_exact_occupancy():
    mdp = FINITE  # state-action features [S, A, F]
    rng = np.random.default_rng(8)
    log_pi, other = _log_softmax(rng.normal(size=(2, 3, 4, 2)))
    # A start distribution other than mdp.init, with mass on the terminal state too: the
    # occupancy's first step then sums to less than 1, and the gap must still be 0.
    init = rng.dirichlet(np.ones(4))
    assert init[np.asarray(mdp.terminal)].sum() > 0.01
    d = occupancy(mdp, log_pi, init=init)
    assert float(feature_expectation_gap(mdp, d, log_pi)) <= 1e-12
    # Another policy leaves a gap, the norm of the difference of feature expectations.
    d_other = np.asarray(occupancy(mdp, other, init=init))
    discounts = mdp.discount ** np.arange(3)
    diff = np.einsum("t,tsa,saf->f", discounts, np.asarray(d) - d_other, np.asarray(mdp.features))
    for order, norm in (
        (2, np.linalg.norm(diff)),
        (1, np.abs(diff).sum()),
        (np.inf, np.abs(diff).max()),
    ):
        np.testing.assert_allclose(
            feature_expectation_gap(mdp, d, other, ord=order), norm, rtol=1e-12
        )
        assert norm > 1e-3


def test_feature_gap_infinite_horizon():
    mdp = INFINITE
    rng = np.random.default_rng(10)
    log_pi = _log_softmax(rng.normal(size=(4, 2)))
    d = occupancy(mdp, log_pi)
    assert float(feature_expectation_gap(mdp, d, log_pi)) <= 1e-5
    init = rng.dirichlet(np.ones(4))
    d_init = occupancy(mdp, log_pi, init=init)
    assert float(feature_expectation_gap(mdp, d_init, log_pi, init=init)) <= 1e-5
    assert float(feature_expectation_gap(mdp, d_init, log_pi)) > 1e-3  # wrong start


def test_feature_gap_of_demonstrations_starts_where_the_demos_start():
    """Deterministic grid, deterministic policy, one start: the demos' empirical occupancy is
    exact, so the gap is 0 from the demos' start and not from the MDP's uniform start."""
    mdp = GRID  # 4x4, horizon 6, features [S, 2]
    right = np.full((6, 16, 5), -np.inf)
    right[..., 3] = 0.0
    # From cell (1, 0), "right" walks to the wall and stays: states 4, 5, 6, 7, 7, 7, 7.
    demos = Trajectories(
        observations=jnp.tile(jnp.array([4, 5, 6, 7, 7, 7, 7]), (3, 1)),
        actions=jnp.full((3, 6), 3),
        lengths=jnp.full(3, 6),
    )
    assert float(feature_expectation_gap(mdp, demos, right)) <= 1e-12
    assert float(feature_expectation_gap(mdp, demos, right, init=mdp.init)) > 0.1


@pytest.fixture(scope="module")
def finite_demos():
    """20 episodes of FINITE under a random time-indexed policy, sampled with numpy."""
    rng = np.random.default_rng(11)
    pi = np.exp(_log_softmax(rng.normal(size=(3, 4, 2))))
    T, mu, term = _dense(FINITE)
    obs, act, lengths = np.zeros((20, 4), int), np.zeros((20, 3), int), np.zeros(20, int)
    for i in range(20):
        obs[i, 0] = rng.choice(4, p=mu)
        for t in range(3):
            if term[obs[i, t]]:
                obs[i, t + 1 :] = obs[i, t]
                break
            act[i, t] = rng.choice(2, p=pi[t, obs[i, t]])
            obs[i, t + 1] = rng.choice(4, p=T[obs[i, t], act[i, t]])
            lengths[i] += 1
    return Trajectories(
        observations=jnp.asarray(obs), actions=jnp.asarray(act), lengths=jnp.asarray(lengths)
    )


def test_feature_gap_of_sampled_demonstrations_equals_its_definition(finite_demos):
    mdp, demos = FINITE, finite_demos
    learner = _log_softmax(np.random.default_rng(12).normal(size=(3, 4, 2)))
    starts = np.bincount(np.asarray(demos.observations[:, 0]), minlength=4) / 20
    expected = np.linalg.norm(
        feature_expectations(mdp, empirical_occupancy(mdp, demos))
        - feature_expectations(mdp, occupancy(mdp, learner, init=starts))
    )
    assert expected > 1e-3
    np.testing.assert_allclose(feature_expectation_gap(mdp, demos, learner), expected, rtol=1e-12)


def test_feature_gap_errors():
    mdp = FINITE
    log_pi = np.full((3, 4, 2), -np.log(2))
    with pytest.raises(ValueError, match=r"demos_or_occupancy must be .*\[H, S, A\]"):
        feature_expectation_gap(mdp, np.zeros((4, 2)), log_pi)
    with pytest.raises(ValueError, match="demos_or_occupancy must be finite and non-negative"):
        feature_expectation_gap(mdp, -np.ones((3, 4, 2)), log_pi)
    with pytest.raises(ValueError, match="demos_or_occupancy's first step"):
        feature_expectation_gap(mdp, np.zeros((3, 4, 2)), log_pi)
    with pytest.raises(ValueError, match="features"):
        feature_expectation_gap(EPIC_MDP, np.zeros((6, 8, 3)), np.zeros((8, 3)))
    with pytest.raises(ValueError, match="log_policy"):
        feature_expectation_gap(mdp, occupancy(mdp, log_pi), np.zeros((4, 3)))


# --- demo NLL --------------------------------------------------------------------------------


@pytest.mark.parametrize("time_indexed", [False, True])
def test_demo_nll_equals_manual_sum(finite_demos, time_indexed):
    mdp, demos = FINITE, finite_demos
    rng = np.random.default_rng(13)
    log_pi = _log_softmax(rng.normal(size=(3, 4, 2) if time_indexed else (4, 2)))
    lengths = np.asarray(demos.lengths)
    assert lengths.min() < 3  # some episodes end early at the terminal state
    obs, act = np.asarray(demos.observations), np.asarray(demos.actions)
    totals = []
    for i in range(20):
        policy = [log_pi[t] if time_indexed else log_pi for t in range(lengths[i])]
        totals.append(sum(policy[t][obs[i, t], act[i, t]] for t in range(lengths[i])))
    np.testing.assert_allclose(demo_nll(mdp, log_pi, demos), -np.mean(totals), rtol=1e-12)
    np.testing.assert_allclose(
        demo_nll(mdp, log_pi, demos, per_step=True), -np.sum(totals) / lengths.sum(), rtol=1e-12
    )


def test_demo_nll_errors():
    mdp = FINITE
    log_pi = np.full((4, 2), -np.log(2))
    empty = Trajectories(
        observations=jnp.zeros((2, 4), jnp.int32),
        actions=jnp.zeros((2, 3), jnp.int32),
        lengths=jnp.zeros(2, jnp.int32),
    )
    assert float(demo_nll(mdp, log_pi, empty)) == 0.0
    with pytest.raises(ValueError, match="per_step"):
        demo_nll(mdp, log_pi, empty, per_step=True)
    with pytest.raises(ValueError, match="trajectories must be Trajectories"):
        demo_nll(mdp, log_pi, np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="log_policy"):
        demo_nll(mdp, np.zeros((4, 3)), empty)


# --- EPIC ------------------------------------------------------------------------------------

S, A, GAMMA = 8, 3, 0.9


def _epic_by_enumeration(r_a, r_b, p, q, gamma):
    """Defs. 4.1–4.2 of Gleave et al. (2021) over every (s, a, s') triple, by loops."""

    def as_sas(r):
        r = np.asarray(r, float)
        if r.ndim == 1:
            r = r[:, None]
        if r.ndim == 2:
            r = np.broadcast_to(r[:, :, None], (S, A, S))
        return r

    def expect(r, s):  # E[R(s, A, S')]
        return sum(q[a] * p[t] * r[s, a, t] for a in range(A) for t in range(S))

    def canonical(r):
        r = as_sas(r)
        mean_all = sum(p[s] * expect(r, s) for s in range(S))
        c = np.zeros((S, A, S))
        for s, a, t in itertools.product(range(S), range(A), range(S)):
            c[s, a, t] = r[s, a, t] + gamma * expect(r, t) - expect(r, s) - gamma * mean_all
        return c

    w = p[:, None, None] * q[None, :, None] * p[None, None, :]
    ca, cb = canonical(r_a), canonical(r_b)
    ma, mb = (w * ca).sum(), (w * cb).sum()
    cov = (w * (ca - ma) * (cb - mb)).sum()
    return cov / np.sqrt((w * (ca - ma) ** 2).sum() * (w * (cb - mb) ** 2).sum())


@pytest.mark.parametrize(
    "shapes",
    [((S,), (S,)), ((S,), (S, A)), ((S, A), (S, A)), ((S, A), (S, A, S)), ((S, A, S),) * 2],
)
def test_reward_correlation_equals_enumeration_of_the_definition(shapes):
    rng = np.random.default_rng(len(shapes[0]) + 3 * len(shapes[1]))
    r_a, r_b = rng.normal(size=shapes[0]), rng.normal(size=shapes[1])
    p, q = rng.dirichlet(np.ones(S)), rng.dirichlet(np.ones(A))
    expected = _epic_by_enumeration(r_a, r_b, p, q, GAMMA)
    got = reward_correlation(EPIC_MDP, r_a, r_b, state_distribution=p, action_distribution=q)
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    # Uniform distributions by default; symmetric.
    uniform = _epic_by_enumeration(r_a, r_b, np.ones(S) / S, np.ones(A) / A, GAMMA)
    np.testing.assert_allclose(reward_correlation(EPIC_MDP, r_b, r_a), uniform, rtol=1e-10)
    np.testing.assert_allclose(
        epic_distance(EPIC_MDP, r_a, r_b), np.sqrt((1 - uniform) / 2), rtol=1e-10
    )


def test_moments_agree_with_dense_path():
    """`[S, A]` rewards take the O(S·A) moment formula; broadcast to `[S, A, S]` the dense one."""
    rng = np.random.default_rng(10)
    r_a, r_b = rng.normal(size=(S, A)), rng.normal(size=(S, A))
    p, q = rng.dirichlet(np.ones(S)), rng.dirichlet(np.ones(A))
    kw = {"state_distribution": p, "action_distribution": q}
    dense_b = np.broadcast_to(r_b[:, :, None], (S, A, S))
    np.testing.assert_allclose(
        reward_correlation(EPIC_MDP, r_a, r_b, **kw),
        reward_correlation(EPIC_MDP, r_a, dense_b, **kw),
        rtol=1e-12,
    )


def test_epic_invariances():
    rng = np.random.default_rng(11)
    p, q = rng.dirichlet(np.ones(S)), rng.dirichlet(np.ones(A))
    kw = {"state_distribution": p, "action_distribution": q}
    r = rng.normal(size=(S, A))
    for same in (3.0 * r, r + 5.0, 0.2 * r - 1.0):
        np.testing.assert_allclose(reward_correlation(EPIC_MDP, r, same, **kw), 1.0, atol=1e-12)
        assert float(epic_distance(EPIC_MDP, r, same, **kw)) <= 1e-6
    for opposite in (-r, -4.0 * r + 2.0):
        np.testing.assert_allclose(
            reward_correlation(EPIC_MDP, r, opposite, **kw), -1.0, atol=1e-12
        )
        np.testing.assert_allclose(epic_distance(EPIC_MDP, r, opposite, **kw), 1.0, atol=1e-12)
    # Potential shaping R(s, a, s') + γΦ(s') − Φ(s), of an [S, A] and of an [S, A, S] reward.
    phi = 10.0 * rng.normal(size=S)
    shaping = GAMMA * phi[None, None, :] - phi[:, None, None]
    r3 = rng.normal(size=(S, A, S))
    for base in (r, r3):
        base3 = np.broadcast_to(base[:, :, None], (S, A, S)) if base.ndim == 2 else base
        shaped = 2.0 * (base3 + shaping) + 3.0
        np.testing.assert_allclose(
            reward_correlation(EPIC_MDP, base, shaped, **kw), 1.0, atol=1e-12
        )
    # Shaping by the expectation over the MDP's dynamics is not potential shaping in EPIC's
    # sense (which canonicalises over D_S, not P): an [S, A] reward cannot express γΦ(s').
    T = np.asarray(EPIC_MDP.dense_transitions())
    expected_shaping = GAMMA * T @ phi - phi[:, None]
    assert float(reward_correlation(EPIC_MDP, r, r + expected_shaping, **kw)) < 0.99


def test_epic_constant_canonical_rewards_raise():
    rng = np.random.default_rng(12)
    r = rng.normal(size=(S, A))
    with pytest.raises(ValueError, match="reward_b is constant after EPIC canonicalisation"):
        reward_correlation(EPIC_MDP, r, np.full((S, A), 2.5))
    # A pure potential-shaping reward is equivalent to 0.
    phi = rng.normal(size=S)
    shaping = GAMMA * phi[None, None, :] - phi[:, None, None]
    with pytest.raises(ValueError, match="reward_a is constant"):
        reward_correlation(EPIC_MDP, np.broadcast_to(shaping, (S, A, S)) + 1.0, r)
    # Differences only where the distributions put no mass do not count.
    p = np.ones(S) / (S - 1)
    p[0] = 0.0
    off_support = np.ones((S, A))
    off_support[0] = 7.0
    with pytest.raises(ValueError, match="reward_b is constant"):
        reward_correlation(EPIC_MDP, r, off_support, state_distribution=p)
    # With γ = 0, a state reward r(s) = −Φ(s) is pure shaping.
    myopic = random_mdp(jax.random.key(20), S, A, 2, horizon=2, discount=0.0)
    with pytest.raises(ValueError, match="reward_a is constant"):
        reward_correlation(myopic, rng.normal(size=S), r)


def test_epic_argument_errors():
    r = np.zeros((S, A))
    r[0, 0] = 1.0
    with pytest.raises(ValueError, match=r"reward_b must have shape .*got \(3, 8\)"):
        reward_correlation(EPIC_MDP, r, np.zeros((A, S)))
    with pytest.raises(ValueError, match=r"reward_a must have shape .*got \(8, 3, 7\)"):
        epic_distance(EPIC_MDP, np.zeros((S, A, S - 1)), r)
    with pytest.raises(ValueError, match=r"state_distribution must have shape \(8,\)"):
        reward_correlation(EPIC_MDP, r, r, state_distribution=np.ones(A) / A)
    with pytest.raises(ValueError, match="action_distribution must be finite and non-negative"):
        reward_correlation(EPIC_MDP, r, r, action_distribution=np.array([1.5, -0.5, 0.0]))
    with pytest.raises(ValueError, match="state_distribution must sum to 1"):
        reward_correlation(EPIC_MDP, r, r, state_distribution=np.ones(S))


def _largest_intermediate(f, *args):
    """The most elements of any array in f's jaxpr, nested jaxprs included."""
    sizes = []

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            sizes.extend(int(np.prod(v.aval.shape)) for v in eqn.outvars)
            for param in eqn.params.values():
                for sub in param if isinstance(param, tuple | list) else (param,):
                    if hasattr(sub, "jaxpr") and hasattr(sub, "consts"):
                        walk(sub.jaxpr)
                    elif hasattr(sub, "eqns"):
                        walk(sub)

    walk(jax.make_jaxpr(f)(*args).jaxpr)
    return max(sizes)


def test_epic_scales_to_1024_states_without_quadratic_arrays():
    mdp = gridworld(32, 32, horizon=None, discount=0.95)
    rng = np.random.default_rng(13)
    r_a = rng.normal(size=(1024, 5))
    r_b = r_a + 0.5 * rng.normal(size=(1024, 5))
    p = rng.dirichlet(np.ones(1024))

    def rho(a, b, p):
        return reward_correlation(mdp, a, b, state_distribution=p)

    assert _largest_intermediate(rho, r_a, r_b, p) <= 1024 * 5
    got = float(rho(r_a, r_b, p))
    assert 0.5 < got < 1.0
    np.testing.assert_allclose(jax.jit(rho)(r_a, r_b, p), got, rtol=1e-12)
