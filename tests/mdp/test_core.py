"""`TabularMDP` construction: layouts, round trips, pytree behaviour and every bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.envs import random_mdp
from irlax.mdp import TabularMDP, soft_value_iteration

T = np.zeros((3, 2, 3))
T[0, 0, 1] = T[0, 1, 2] = 1.0
T[1, :, 2] = 1.0
T[2, 0, 0] = T[2, 1, 1] = 0.5
T[2, 0, 2] = T[2, 1, 2] = 0.5
INIT = np.array([1.0, 0.0, 0.0])


def test_from_dense_round_trips_and_picks_a_layout():
    m = TabularMDP.from_dense(T, INIT, horizon=3)
    np.testing.assert_allclose(m.dense_transitions(), T)
    assert (m.n_states, m.n_actions) == (3, 2)
    assert m.next_states.shape[1] == 1  # 3 successors over both actions ≤ 2·K = 4
    random = random_mdp(jax.random.key(0), 20, 4, 2, horizon=2)
    again = TabularMDP.from_dense(random.dense_transitions(), random.init, horizon=2)
    assert again.next_states.shape[1] == 4  # successor unions too large to share
    np.testing.assert_allclose(again.dense_transitions(), random.dense_transitions())


def test_is_a_pytree_with_static_horizon_and_discount():
    m = TabularMDP.from_dense(T, INIT, horizon=3, discount=0.5)
    leaves, treedef = jax.tree.flatten(m)
    assert len(leaves) == 4  # next_states, probs, init, terminal (features None)
    rebuilt = jax.tree.unflatten(treedef, leaves)
    assert rebuilt.horizon == 3 and rebuilt.discount == 0.5
    out = jax.jit(lambda mdp: soft_value_iteration(mdp, jnp.ones(3)).v)(m)
    assert out.shape == (3, 3)


def test_terminal_rows_may_be_empty():
    t = T.copy()
    t[2] = 0.0
    m = TabularMDP.from_dense(t, INIT, horizon=3, terminal=[False, False, True])
    assert bool(m.terminal[2])
    with pytest.raises(ValueError, match=r"row \(state=2, action=0\) sums to 0"):
        TabularMDP.from_dense(t, INIT, horizon=3)


def test_probabilities_are_renormalised_within_tolerance():
    m = TabularMDP.from_dense(T * (1 + 5e-5), INIT * (1 - 5e-5), horizon=3)
    np.testing.assert_allclose(m.probs.sum(-1), 1.0, atol=1e-15)
    assert float(m.init.sum()) == pytest.approx(1.0, abs=1e-15)


def _bad(**changes):
    kwargs = {"next_states": np.zeros((3, 2, 1), int), "probs": np.ones((3, 2, 1)), "init": INIT}
    kwargs.update(changes)
    return kwargs


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (_bad(probs=-np.ones((3, 2, 1))), "probs must be non-negative"),
        (_bad(probs=np.full((3, 2, 1), np.nan)), "probs must be finite"),
        (_bad(probs=np.full((3, 2, 1), 0.7)), "probs must sum to 1"),
        (_bad(probs=np.ones((3, 2, 2))), "probs must have shape"),
        (_bad(next_states=np.full((3, 2, 1), 3)), "next_states must lie in"),
        (_bad(next_states=np.full((3, 2, 1), -1)), "next_states must lie in"),
        (_bad(next_states=np.zeros((3, 2, 1))), "next_states must be integers"),
        (_bad(next_states=np.zeros((3, 2), int)), "next_states must have shape"),
        (_bad(init=np.ones(2) / 2), "init must have shape"),
        (_bad(init=np.ones(3)), "init must be a probability distribution"),
        (_bad(init=np.array([1.5, -0.5, 0.0])), "init must be non-negative"),
        (_bad(init=np.array([np.nan, 0, 1])), "init must be finite"),
        (_bad(horizon=0), "horizon must be a positive integer"),
        (_bad(horizon=2.5), "horizon must be a positive integer"),
        (_bad(horizon=None), "discount must be < 1 for an infinite horizon"),
        (_bad(horizon=3, discount=1.5), "discount must lie in"),
        (_bad(horizon=3, terminal=np.zeros(2, bool)), "terminal must have shape"),
        (_bad(horizon=3, features=np.ones((2, 4))), "features must have shape"),
        (_bad(horizon=3, features=np.ones((3, 3, 4))), "features must have shape"),
        (_bad(horizon=3, features=np.full((3, 4), np.inf)), "features must be finite"),
    ],
)
def test_bad_mdp_input_names_the_field(kwargs, match):
    kwargs.setdefault("horizon", 3)
    ns, p, init = kwargs.pop("next_states"), kwargs.pop("probs"), kwargs.pop("init")
    with pytest.raises(ValueError, match=match):
        TabularMDP.from_successors(ns, p, init, **kwargs)


def test_bad_dense_input():
    with pytest.raises(ValueError, match=r"transitions must have shape \[S, A, S\]"):
        TabularMDP.from_dense(np.ones((3, 2, 4)), INIT, horizon=2)
    with pytest.raises(ValueError, match="transitions must be finite"):
        TabularMDP.from_dense(np.full((3, 2, 3), np.nan), INIT, horizon=2)
