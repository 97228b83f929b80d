"""What the tabular IRL methods share: the result type, options, and the demos as statistics.

Every method in `irlax.algorithms` that assumes known dynamics exposes
`fit(mdp, demos, *, key, config=None, **options) -> IRLResult`. `demos` are `Trajectories` of
state and action indices, or, standing for infinitely many demonstrations, an exact expert
occupancy (`[H, S, A]` for a finite horizon, `[S, A]` for an infinite one) as `occupancy`
returns it.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from irlax._checks import array_module, check_values
from irlax._pytree import is_concrete, pytree_dataclass
from irlax.data import Trajectories
from irlax.mdp import Plan, TabularMDP, empirical_occupancy
from irlax.mdp.checks import check_finite, check_tabular_trajectories
from irlax.mdp.core import push_forward
from irlax.mdp.planning import NotConvergedWarning, not_converged_message


@pytree_dataclass
class IRLResult:
    """What an IRL method learned.

    Attributes:
        reward: the learned reward table, `[S]` or `[S, A]`.
        params: the learned parameters (linear weights `[F]`, or a Flax parameter pytree).
        plan: the (soft or hard) plan of the learned reward: the policy the method believes
            the expert follows.
        metrics: per-step arrays, each `[steps]`, e.g. `loss`, `feature_gap`, `grad_norm` (the
            name every result in irlax uses for them).
        info: method-specific results (e.g. standard errors, mixture weights).
    """

    reward: jnp.ndarray
    params: Any
    plan: Plan
    metrics: dict
    info: dict = dataclasses.field(default_factory=dict)


def check_features(mdp: TabularMDP, method: str) -> jnp.ndarray:
    """The MDP's features as `[S, A, F]`, or a clear error when there are none or they are bad.

    Traced features (a `jax.vmap` over MDPs) are checked as `irlax._checks` describes; where
    a staged check is off, NaN features make the learned reward NaN.

    Raises:
        ValueError: the MDP has no features, or they hold NaN or infinity.
    """
    if mdp.features is None:
        raise ValueError(
            f"{method} learns a reward linear in mdp.features, but the MDP has none; build it "
            "with features=... (or give a reward_model where the method takes one)"
        )
    f = mdp.features
    check_finite("mdp.features", f)
    if f.ndim == 2:
        f = jnp.broadcast_to(f[:, None, :], (mdp.n_states, mdp.n_actions, f.shape[-1]))
    return f


def demo_occupancy(mdp: TabularMDP, demos) -> jnp.ndarray:
    """The demos' (discounted) occupancy: `[H, S, A]` for a finite horizon, else `[S, A]`.

    For `Trajectories` this is `empirical_occupancy`; an array is taken as an exact expert
    occupancy and validated (shape, finite, non-negative, not all zero). Traced demos (a
    `jax.vmap` over a `Trajectories.stack` of demo sets) are checked as `irlax._checks`
    describes: at once under an eager vmap, through `checkify` under `jax.jit`; where a staged
    check is off, an index out of range makes the occupancy NaN (`empirical_occupancy`).

    Raises:
        ValueError: bad or empty demos, or a stack of demo sets (map over it with `jax.vmap`).
    """
    if isinstance(demos, Trajectories):
        check_tabular_trajectories(mdp, demos, allow_stack=False)
        if demos.n_trajectories == 0:
            raise ValueError("demos are empty: at least one trajectory is needed")
        xp = array_module(demos.lengths)
        check_values(xp.max(demos.lengths) > 0, "demos are empty: every trajectory has length 0")
        return empirical_occupancy(mdp, demos)
    d = jnp.asarray(demos)
    s, a = mdp.n_states, mdp.n_actions
    shape = (s, a) if mdp.horizon is None else (mdp.horizon, s, a)
    if d.shape != shape:
        raise ValueError(
            f"demos must be Trajectories or an expert occupancy of shape {shape}, got {d.shape}"
        )
    if not jnp.issubdtype(d.dtype, jnp.floating):
        raise ValueError(f"an expert occupancy must be floating point, got {d.dtype}")
    xp = array_module(d)
    values = np.asarray(d) if xp is np else d
    check_finite("the expert occupancy", values)
    check_values(xp.all(values >= 0), "the expert occupancy must be non-negative")
    check_values(xp.sum(values) > 0, "the expert occupancy is all zero")
    return d


@functools.partial(jax.jit, static_argnums=(1, 2))
def _first_states(first: jnp.ndarray, n_states: int, dtype) -> jnp.ndarray:
    """The empirical distribution `[S]` of the first states `first`, as one program."""
    return jnp.zeros(n_states, dtype).at[first].add(1.0) / first.shape[0]


def start_distribution(mdp: TabularMDP, demos, occupancy: jnp.ndarray) -> jnp.ndarray:
    """Where the demos start, `[S]`: the learner's expectations start from the same states.

    From `Trajectories`, the empirical distribution of first states; from an exact occupancy
    `d`, its first slice (finite horizon) or `μ = Σ_a d − γ·Pᵀd` (discounted, since the
    discounted occupancy solves `Σ_a d = μ + γ Pᵀ d`).
    """
    if isinstance(demos, Trajectories):
        return _first_states(jnp.asarray(demos.observations)[:, 0], mdp.n_states, occupancy.dtype)
    if mdp.horizon is not None:
        return jnp.sum(occupancy[0], axis=-1)
    mu = jnp.sum(occupancy, axis=-1) - mdp.discount * push_forward(mdp, occupancy)
    return jnp.clip(mu, 0.0, None)


def warn_if_unconverged(result: IRLResult, mdp: TabularMDP, method: str) -> IRLResult:
    """Warn (`NotConvergedWarning`) when a fit's final plan stopped at its iteration limit.

    The fits plan inside `jax.jit`, where nothing can be raised from a value; the final
    plan's `converged` flag comes back with the result, and an eager fit says so here rather
    than return a reward whose plan (and gradient) did not reach the fixed point. Under
    `jax.vmap` the flag `result.plan.converged` is the way to tell.
    """
    converged = result.plan.converged
    if mdp.horizon is None and is_concrete(converged) and not bool(np.all(converged)):
        warnings.warn(
            not_converged_message(f"{method}.fit", result.plan, mdp),
            NotConvergedWarning,
            stacklevel=3,
        )
    return result
