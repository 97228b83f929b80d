"""The one optimisation loop: it finds minima, stops by its rules, vmaps, and reports cheaply."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from irlax.optim import minimize, reporting, value_and_grad_of

# A convex quadratic with a known minimiser: ½ (x − c)ᵀ H (x − c).
H = jnp.array([[3.0, 1.0], [1.0, 2.0]])
C = jnp.array([1.0, -2.0])


def quadratic(x):
    d = x - C
    return 0.5 * d @ H @ d


def test_lbfgs_reaches_the_minimiser_and_stops_at_the_tolerance():
    out = minimize(
        value_and_grad_of(quadratic),
        jnp.zeros(2),
        optax.lbfgs(),
        steps=50,
        tol=1e-10,
        value_fn=quadratic,
    )
    np.testing.assert_allclose(out.params, C, atol=1e-9)
    n = int(out.n_steps)
    assert bool(out.converged) and n < 50
    assert out.metrics["grad_norm"][n - 1] <= 1e-10
    assert np.all(np.isnan(out.metrics["loss"][n:]))
    # The returned iterate is the one whose gradient met the tolerance.
    assert int(out.best_step) == n - 1


def test_the_budget_and_the_metrics_are_those_of_a_python_loop():
    optimizer = optax.sgd(0.1)
    out = minimize(value_and_grad_of(quadratic), jnp.zeros(2), optimizer, steps=7)
    x, state, losses = jnp.zeros(2), optimizer.init(jnp.zeros(2)), []
    for _ in range(7):
        loss, grad = jax.value_and_grad(quadratic)(x)
        losses.append(loss)
        updates, state = optimizer.update(grad, state, x)
        x = optax.apply_updates(x, updates)
    np.testing.assert_allclose(out.metrics["loss"], losses, rtol=1e-12)
    np.testing.assert_allclose(out.params, x, rtol=1e-12)
    assert int(out.n_steps) == 7 and not bool(out.converged) and int(out.best_step) == 7


def test_the_returned_optimiser_state_is_the_one_after_the_last_update_applied():
    optimizer = optax.adam(0.1)
    budget = minimize(value_and_grad_of(quadratic), jnp.zeros(2), optimizer, steps=7)
    x, state = jnp.zeros(2), optimizer.init(jnp.zeros(2))
    for _ in range(7):
        updates, state = optimizer.update(jax.grad(quadratic)(x), state, x)
        x = optax.apply_updates(x, updates)
    for got, want in zip(jax.tree.leaves(budget.opt_state), jax.tree.leaves(state), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # Converged at step n: its update was skipped, so the state counts n − 1 updates.
    done = minimize(value_and_grad_of(quadratic), jnp.zeros(2), optimizer, steps=200, tol=1e-2)
    assert bool(done.converged)
    assert int(optax.tree.get(done.opt_state, "count")) == int(done.n_steps) - 1


def test_ftol_stops_when_the_loss_stops_improving_and_zero_never_does():
    # A step size far too small: the loss improves by about 1e-7 relative per step.
    slow = minimize(
        value_and_grad_of(quadratic), jnp.zeros(2), optax.sgd(1e-8), steps=20, ftol=1e-6
    )
    assert bool(slow.converged) and int(slow.n_steps) == 2
    never = minimize(value_and_grad_of(quadratic), jnp.zeros(2), optax.sgd(1e-8), steps=20)
    assert not bool(never.converged) and int(never.n_steps) == 20


def test_keep_best_returns_the_lowest_iterate_of_a_subgradient_method():
    # |x| with a constant step overshoots and oscillates around 0; the best iterate is the
    # closest to 0 among those visited.
    out = minimize(
        value_and_grad_of(lambda x: jnp.sum(jnp.abs(x))),
        jnp.array([1.25]),
        optax.sgd(0.5),
        steps=30,
        keep_best=True,
    )
    # 1.25, 0.75, 0.25, −0.25, 0.25, … (exact in binary): the first iterate at 0.25 is step 2.
    np.testing.assert_allclose(out.params, [0.25])
    assert int(out.best_step) == 2
    np.testing.assert_allclose(np.min(out.metrics["loss"]), 0.25)


def test_aux_metrics_are_recorded_under_their_names():
    def loss(x):
        return quadratic(x), {"distance": jnp.linalg.norm(x - C)}

    out = minimize(value_and_grad_of(loss, has_aux=True), jnp.zeros(2), optax.sgd(0.1), steps=3)
    assert set(out.metrics) == {"loss", "grad_norm", "distance"}
    np.testing.assert_allclose(out.metrics["distance"][0], np.linalg.norm(C), rtol=1e-12)


def test_vmap_over_starting_points_equals_a_loop():
    starts = jnp.array([[0.0, 0.0], [5.0, 5.0], [-3.0, 1.0]])

    def run(x0):
        return minimize(value_and_grad_of(quadratic), x0, optax.adam(0.1), steps=40, tol=1e-3)

    batched = jax.jit(jax.vmap(run))(starts)
    for i, x0 in enumerate(starts):
        one = run(x0)
        np.testing.assert_allclose(batched.params[i], one.params, rtol=1e-6)
        assert int(batched.n_steps[i]) == int(one.n_steps)


def test_progress_reports_every_step_and_a_new_callable_does_not_recompile():
    @jax.jit
    def fit(x0):
        return minimize(value_and_grad_of(quadratic), x0, optax.sgd(0.1), steps=5, report=True)

    seen = []
    with reporting(lambda step, metrics: seen.append((step, float(metrics["loss"])))):
        out = jax.block_until_ready(fit(jnp.zeros(2)))
    assert [s for s, _ in seen] == list(range(5))
    np.testing.assert_allclose([v for _, v in seen], out.metrics["loss"], rtol=1e-6)
    other = []
    with reporting(lambda step, metrics: other.append(step)):
        jax.block_until_ready(fit(jnp.ones(2)))
    assert other == list(range(5))
    assert fit._cache_size() == 1
    # Outside a reporting block the callback finds no callable and does nothing.
    jax.block_until_ready(fit(jnp.zeros(2)))
    assert len(other) == 5


@pytest.mark.parametrize("kwargs", [{"steps": 0}, {"steps": 2.5}, {"steps": True}, {"tol": -1.0}])
def test_bad_arguments_are_refused(kwargs):
    options = {"steps": 3, **kwargs}
    with pytest.raises(ValueError, match=r"steps|tol"):
        minimize(value_and_grad_of(quadratic), jnp.zeros(2), optax.sgd(0.1), **options)
