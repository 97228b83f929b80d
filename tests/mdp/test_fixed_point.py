"""The infinite-horizon solvers: Newton equals plain iteration, and implicit derivatives are right.

Newton's method (soft policy iteration) and plain sweeps must find the same fixed point as the
loop reference; derivatives at the fixed point (implicit function theorem, one adjoint linear
solve) must equal finite differences, to second order.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.envs import gridworld, random_mdp
from irlax.mdp import TabularMDP, planning, soft_value_iteration, value_iteration
from tests.mdp import reference

MDP = random_mdp(jax.random.key(3), 6, 3, 3, horizon=None, discount=0.95, n_terminal=1)
SHARED = TabularMDP.from_dense(
    MDP.dense_transitions(), MDP.init, discount=0.95, terminal=MDP.terminal
)
REWARD = jnp.asarray(np.random.default_rng(0).normal(size=(6, 3)))


@pytest.mark.parametrize("mdp", [MDP, SHARED], ids=["lists", "shared"])
@pytest.mark.parametrize("backup", ["expected", "optimistic"])
@pytest.mark.parametrize("solver", ["iteration", "newton"])
def test_solvers_match_loop_reference(mdp, backup, solver):
    plan = soft_value_iteration(
        mdp, REWARD, temperature=0.5, backup=backup, solver=solver, tol=1e-13
    )
    t = np.asarray(mdp.dense_transitions())
    terminal = np.asarray(mdp.terminal)
    _, v, pi = reference.soft_vi(t, np.asarray(REWARD), terminal, None, 0.95, 0.5, backup)
    np.testing.assert_allclose(plan.v, v, atol=1e-9)
    np.testing.assert_allclose(plan.policy, pi, atol=1e-9)
    assert plan.residual < 1e-10


def test_policy_iteration_equals_value_iteration():
    newton = value_iteration(MDP, REWARD, solver="newton")
    sweeps = value_iteration(MDP, REWARD, solver="iteration", tol=1e-14)
    np.testing.assert_allclose(newton.v, sweeps.v, atol=1e-10)
    np.testing.assert_allclose(newton.policy, sweeps.policy, atol=1e-12)


def test_newton_converges_at_discount_near_one():
    mdp = gridworld(6, 6, slip=0.2, horizon=None, discount=0.9999)
    reward = jnp.asarray(np.random.default_rng(1).normal(size=mdp.n_states))
    plan = soft_value_iteration(mdp, reward, tol=1e-12)  # "auto" picks Newton here
    # A fixed point of the soft Bellman operator, to a few ulps of |V| ≈ 10⁴.
    q = np.asarray(reward)[:, None] + 0.9999 * (np.asarray(mdp.dense_transitions()) @ plan.v)
    v = np.log(np.sum(np.exp(q - q.max(1, keepdims=True)), axis=1)) + q.max(1)
    np.testing.assert_allclose(plan.v, v, rtol=1e-12, atol=1e-8)


def _objective(backup, solver):
    def f(reward):
        plan = soft_value_iteration(
            MDP, reward, temperature=0.7, backup=backup, solver=solver, tol=1e-14
        )
        return plan.log_policy[1, 2] - plan.log_policy[4, 0] + 0.1 * plan.v.sum()

    return f


def _finite_difference(f, x, eps):
    grad = np.zeros(x.shape)
    for index in np.ndindex(*x.shape):
        e = np.zeros(x.shape)
        e[index] = eps
        grad[index] = (f(x + e) - f(x - e)) / (2 * eps)
    return grad


@pytest.mark.parametrize("backup", ["expected", "optimistic"])
@pytest.mark.parametrize("solver", ["iteration", "newton"])
def test_implicit_gradient_equals_finite_differences(backup, solver):
    f = _objective(backup, solver)
    # Central differences err by O(eps²) and by the solver's rounding, tol·|V|/eps: with |V| of
    # order 20 here, eps = 1e-5 balances the two far below the tolerance.
    np.testing.assert_allclose(
        jax.grad(f)(REWARD), _finite_difference(f, np.asarray(REWARD), 1e-5), atol=1e-8
    )


@pytest.mark.parametrize("backup", ["expected", "optimistic"])
def test_hessian_equals_finite_differences_of_the_gradient(backup):
    f = _objective(backup, "newton")
    direction = jnp.asarray(np.random.default_rng(2).normal(size=REWARD.shape))

    def g(theta):  # two parameters, so the Hessian is small
        return f(theta[0] * REWARD + theta[1] * direction)

    theta = jnp.array([1.0, 0.3])
    hessian = jax.hessian(g)(theta)
    gradient = jax.grad(g)
    fd = np.stack([(gradient(theta + e) - gradient(theta - e)) / 2e-5 for e in np.eye(2) * 1e-5])
    np.testing.assert_allclose(hessian, fd, atol=1e-6)
    np.testing.assert_allclose(hessian, hessian.T, atol=1e-10)


def test_gradient_with_respect_to_temperature_and_prior():
    def f(temperature, prior):
        plan = soft_value_iteration(
            MDP, REWARD, temperature=temperature, action_prior=prior, tol=1e-14, solver="newton"
        )
        return plan.v.sum()

    prior = jnp.array([0.2, 0.3, 0.5])
    d_tau, d_prior = jax.grad(f, argnums=(0, 1))(0.7, prior)
    fd_tau = (f(0.7 + 1e-6, prior) - f(0.7 - 1e-6, prior)) / 2e-6
    np.testing.assert_allclose(d_tau, fd_tau, rtol=1e-6)
    shift = jnp.array([1e-6, -1e-6, 0.0])  # stays a distribution
    fd_prior = (f(0.7, prior + shift) - f(0.7, prior - shift)) / 2e-6
    np.testing.assert_allclose(d_prior[0] - d_prior[1], fd_prior, rtol=1e-6)


def test_sparse_gmres_solve_matches_dense(monkeypatch):
    mdp = gridworld(5, 5, slip=0.1, horizon=None, discount=0.999)
    reward = jnp.asarray(np.random.default_rng(4).normal(size=mdp.n_states))
    plan = soft_value_iteration(mdp, reward, solver="newton", tol=1e-12)
    w = planning._jacobian_weights(mdp, plan.v, plan.log_policy, 1.0, "expected")
    b = jnp.asarray(np.random.default_rng(5).normal(size=mdp.n_states))
    dense = planning._linear_solve(mdp, w, b, "newton", 1e-12, 100)
    monkeypatch.setattr(planning, "DENSE_STATES", 4)
    sparse = planning._linear_solve(mdp, w, b, "newton", 1e-12, 100)
    np.testing.assert_allclose(sparse, dense, rtol=1e-8, atol=1e-8)
    # The transpose solve, as reverse mode uses it.
    vjp_dense = jax.vjp(lambda b: planning._linear_solve(mdp, w, b, "iteration", 1e-13, 10**5), b)
    vjp_sparse = jax.vjp(lambda b: planning._linear_solve(mdp, w, b, "newton", 1e-12, 100), b)
    np.testing.assert_allclose(vjp_sparse[1](b)[0], vjp_dense[1](b)[0], rtol=1e-6, atol=1e-6)


def test_bad_solver_is_named():
    with pytest.raises(ValueError, match="solver"):
        soft_value_iteration(MDP, REWARD, solver="magic")


def test_float32_near_discount_one_warns_to_use_float64():
    with jax.enable_x64(False):
        mdp = gridworld(3, 3, horizon=None, discount=0.9999)
        with pytest.warns(UserWarning, match="jax_enable_x64"):
            soft_value_iteration(mdp, jnp.zeros(9))
