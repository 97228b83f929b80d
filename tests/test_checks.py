"""Value checks stay on: concrete now, under an eager vmap at once, under jit through checkify."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify

from irlax._checks import array_module, check_key, check_values


def _positive(x):
    """Check that every entry of x is positive, naming the smallest; return 2x."""
    xp = array_module(x)
    check_values(xp.all(x > 0), "x must be positive, got minimum {}", xp.min(x))
    return 2 * x


def test_concrete_values_are_checked_at_once():
    np.testing.assert_array_equal(_positive(np.array([1.0, 2.0])), [2.0, 4.0])
    with pytest.raises(ValueError, match=r"x must be positive, got minimum -3.0$"):
        _positive(np.array([1.0, -3.0]))
    assert array_module(np.ones(2), jnp.ones(2)) is np


def test_eager_vmap_raises_a_value_error_for_the_failing_member():
    xs = jnp.array([[1.0, 2.0], [4.0, -5.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match=r"x must be positive, got minimum -5\.0"):
        jax.vmap(_positive)(xs)
    with pytest.raises(ValueError, match=r"got minimum -5\.0"):
        jax.vmap(jax.vmap(_positive))(xs[None])  # nested vmaps are eager too
    np.testing.assert_array_equal(jax.vmap(_positive)(jnp.abs(xs)), 2 * jnp.abs(xs))


def test_staged_check_is_switched_on_by_checkify():
    xs = jnp.array([[1.0, 2.0], [4.0, -5.0]])
    # Without checkify a staged check is dropped: the compiled function still runs.
    np.testing.assert_array_equal(jax.jit(_positive)(xs[1]), [8.0, -10.0])
    err, _ = jax.jit(checkify.checkify(_positive))(xs[1])
    with pytest.raises(ValueError, match=r"got minimum -5\.0"):
        err.throw()
    err, out = jax.jit(checkify.checkify(_positive))(xs[0])
    err.throw()  # passes
    np.testing.assert_array_equal(out, [2.0, 4.0])
    err, _ = jax.jit(jax.vmap(checkify.checkify(_positive)))(xs)
    with pytest.raises(ValueError, match=r"got minimum -5\.0"):
        err.throw()


def test_staged_checks_compose_with_scan_grad_and_while():
    """A dropped check changes nothing: scan, grad and while_loop over checked code still run."""
    x = jnp.array([1.0, 2.0])
    assert float(jax.grad(lambda v: _positive(v).sum())(x)[0]) == 2.0
    ys = jax.lax.scan(lambda c, v: (c, _positive(v)), 0.0, jnp.stack([x, -x]))[1]
    np.testing.assert_array_equal(ys, [[2.0, 4.0], [-2.0, -4.0]])
    out = jax.lax.while_loop(lambda c: c[0] < 2, lambda c: (c[0] + 1, _positive(c[1])), (0, -x))
    np.testing.assert_array_equal(out[1], -4 * x)


@pytest.mark.parametrize("bad", [0, 1.5, np.zeros(2, np.float32), np.zeros(3, np.uint32), "k"])
def test_check_key_refuses_what_is_not_a_prng_key(bad):
    with pytest.raises(ValueError, match="key must be a JAX PRNG key"):
        check_key(bad)


def test_check_key_takes_typed_raw_and_batched_keys():
    check_key(jax.random.key(0))
    check_key(jax.random.PRNGKey(0))
    check_key(jax.random.split(jax.random.key(0), 3))
    jax.vmap(check_key)(jax.random.split(jax.random.key(0), 3))
