"""Tabular behaviour cloning: the maximum-likelihood stationary policy, smoothed.

Behaviour cloning fits a policy to the demonstrated (state, action) pairs by maximum
likelihood, `max_π Σ_{(s, a) ∈ D} log π(a | s)` (Pomerleau 1989; seed notes 002–003). For a
table the maximiser is counting, `π(a | s) = n(s, a) / n(s)`. With a symmetric Dirichlet(α)
prior on each row the posterior mean is additive (Laplace/Lidstone) smoothing,

    π(a | s) = (n(s, a) + α) / (n(s) + α·A),

which is uniform at states no demo visits and tends to uniform everywhere as α → ∞.

The default α = 0.1 is a sparse prior, because experts mostly act deterministically: a
single visit gives the demonstrated action probability (1 + α)/(1 + αA), 0.73 with 5 actions
(add-one smoothing, α = 1, would give 0.33, diluting the demonstration more than one
sample warrants), while every action keeps a positive probability, so held-out demos have
a finite likelihood.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from irlax.algorithms._common import IRLResult, demo_occupancy
from irlax.config import make_config
from irlax.data import Trajectories
from irlax.mdp import Plan, TabularMDP


@dataclasses.dataclass(frozen=True)
class BCConfig:
    """Options of `bc.fit`.

    Attributes:
        smoothing: α ≥ 0, the pseudo-count added to every (state, action) count (a
            symmetric Dirichlet(α) prior; 0 is the plain maximum-likelihood estimate, with
            zero probability for undemonstrated actions). Ignored for an exact expert
            occupancy, which stands for infinitely many demos.
    """

    smoothing: float = 0.1

    def __post_init__(self) -> None:
        s = self.smoothing
        if isinstance(s, bool) or not isinstance(s, int | float) or not s >= 0:
            raise ValueError(f"smoothing must be a number >= 0, got {s!r}")


def fit(
    mdp: TabularMDP,
    demos,
    *,
    key: jax.Array,
    config: BCConfig | None = None,
    **options: Any,
) -> IRLResult:
    """Clone the demonstrator's policy by (smoothed) maximum likelihood.

    `π(a | s) = (n(s, a) + α) / (n(s) + α·A)` with `n` the demos' (undiscounted) counts of
    each action in each state (Pomerleau 1989; the Dirichlet-posterior mean). Jit-compiled;
    vmaps over `key` and over `demos`.

    Args:
        mdp: the MDP (its dynamics are not used; its sizes and horizon are).
        demos: `Trajectories` of state and action indices, or an exact expert occupancy
            (`[H, S, A]`, or `[S, A]` for an infinite horizon), whose per-state action
            frequencies (summed over time) are the policy exactly; states it does not reach
            get the uniform policy.
        key: PRNG key; unused (counting is deterministic), accepted for the common signature.
        config: a `BCConfig`; `options` override its fields.

    Returns:
        An `IRLResult`:

        - `reward`: `log π(a | s)`, `[S, A]`. Not a reward in the IRL sense: it is the reward
          under which π is the soft-optimal policy (temperature 1) of a myopic, γ = 0 agent.
        - `params`: the same log-policy table `[S, A]`.
        - `plan`: a `Plan` with `log_policy` π (stationary, `[S, A]`, or broadcast to
          `[H, S, A]` for a finite horizon), `q = log π` and `v = 0`, which is
          `logsumexp_a q`: the soft values of that myopic agent.
        - `metrics`: `nll` `[1]`, the mean negative log-likelihood per demonstrated step.
        - `info`: `counts` `[S, A]` (the n(s, a); occupancy mass for an exact occupancy) and
          `visited` `[S]` (n(s) > 0).

    Raises:
        ValueError: bad demos, options or config.
    """
    config = make_config(BCConfig, config, options)
    occ = demo_occupancy(mdp, demos)
    if isinstance(demos, Trajectories):
        counts = _counts(mdp, demos, occ.dtype)
        smoothing = config.smoothing
    else:
        counts = occ if occ.ndim == 2 else jnp.sum(occ, axis=0)
        smoothing = 0.0
    return _fit(mdp, counts, smoothing)


def _counts(mdp: TabularMDP, demos: Trajectories, dtype) -> jnp.ndarray:
    """n(s, a): how often each action was demonstrated in each state, `[S, A]`."""
    states = jnp.asarray(demos.observations)[:, :-1]
    return (
        jnp.zeros((mdp.n_states, mdp.n_actions), dtype)
        .at[states, jnp.asarray(demos.actions)]
        .add(demos.mask.astype(dtype))
    )


@jax.jit
def _fit(mdp: TabularMDP, counts: jnp.ndarray, smoothing) -> IRLResult:
    dtype = mdp.probs.dtype
    counts = counts.astype(dtype)
    smoothing = jnp.asarray(smoothing, dtype)
    n_actions = mdp.n_actions
    smoothed = counts + smoothing
    total = jnp.sum(smoothed, axis=-1, keepdims=True)
    visited = jnp.sum(counts, axis=-1) > 0
    # n(s) + αA = 0 only where a state was never visited and α = 0: uniform there.
    policy = jnp.where(total > 0, smoothed / jnp.where(total > 0, total, 1.0), 1.0 / n_actions)
    log_policy = jnp.log(policy)
    # Demonstrated pairs have positive probability, so the where(…) only keeps 0·(−inf) out.
    nll = -jnp.sum(jnp.where(counts > 0, counts * log_policy, 0.0)) / jnp.sum(counts)

    q, v = log_policy, jnp.zeros(mdp.n_states, dtype)
    plan_log_policy = log_policy
    if mdp.horizon is not None:
        shape = (mdp.horizon, mdp.n_states, n_actions)
        q = plan_log_policy = jnp.broadcast_to(log_policy, shape)
        v = jnp.zeros(shape[:2], dtype)
    plan = Plan(q=q, v=v, log_policy=plan_log_policy, residual=jnp.zeros((), dtype))
    return IRLResult(
        reward=log_policy,
        params=log_policy,
        plan=plan,
        metrics={"nll": nll[None]},
        info={"counts": counts, "visited": visited},
    )
