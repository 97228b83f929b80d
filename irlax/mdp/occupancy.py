"""Forward passes: state-action occupancy, posterior marginals and feature expectations."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from irlax.data import Trajectories
from irlax.mdp.checks import check_distribution, check_log_policy, check_tabular_trajectories
from irlax.mdp.core import TabularMDP, push_forward
from irlax.mdp.planning import (
    backup_step,
    log_action_prior,
    soft_value_iteration,
    state_action_reward,
    weighted_logsumexp,
)


def occupancy(
    mdp: TabularMDP,
    log_policy,
    *,
    init=None,
    tol: float = 1e-7,
    max_iterations: int = 10_000,
) -> jnp.ndarray:
    """State-action occupancy of a policy, by the forward recursion.

    `d_0(s) = μ(s)`, `d_t(s, a) = d_t(s) π_t(a | s)` and
    `d_{t+1}(s') = Σ_{s,a} d_t(s, a) P(s' | s, a)`, with terminal states removed from `d`
    (the episode has ended there). This is the forward message of control as inference
    (Levine 2018, §2.4) and the expected state visitation of MaxEnt IRL (Ziebart et al. 2008,
    Algorithm 1).

    Args:
        mdp: the MDP.
        log_policy: `[H, S, A]` (finite horizon) or stationary `[S, A]`.
        init: optional `[S]` start distribution replacing `mdp.init` (e.g. the demos' own).
        tol: infinite horizon only: stop when the remaining mass to propagate is below `tol`
            relative to the total.
        max_iterations: infinite horizon only.

    Returns:
        Finite horizon: `[H, S, A]` with entry `P(s_t = s, a_t = a)`; each step sums to the
        probability that the episode is still running. Infinite horizon: `[S, A]` with entry
        `Σ_t γ^t P(s_t = s, a_t = a)`.
    """
    log_pi = check_log_policy(mdp, log_policy)
    mu = _start(mdp, init)
    return _occupancy(mdp, log_pi, mu.astype(mdp.probs.dtype), tol, max_iterations)


def _start(mdp: TabularMDP, init) -> jnp.ndarray:
    """`init` validated and renormalised (`check_distribution`), or `mdp.init`."""
    if init is None:
        return mdp.init
    return jnp.asarray(check_distribution("init", init, mdp.n_states))


@partial(jax.jit, static_argnames=("max_iterations",))
def _occupancy(mdp, log_pi, mu, tol, max_iterations):
    alive = ~mdp.terminal
    d0 = jnp.where(alive, mu, 0.0)
    if mdp.horizon is not None:
        if log_pi.ndim == 2:
            log_pi = jnp.broadcast_to(log_pi, (mdp.horizon, *log_pi.shape))

        def body(d, log_pi_t):
            d_sa = d[:, None] * jnp.exp(log_pi_t)
            return jnp.where(alive, push_forward(mdp, d_sa), 0.0), d_sa

        return jax.lax.scan(body, d0, log_pi)[1]

    # Σ_t γ^t d_t, accumulated until the mass still in flight, γ^t Σ d_t, is negligible.
    pi = jnp.exp(log_pi)

    def cond(carry):
        total, d, i = carry
        return (jnp.sum(d) > tol * jnp.sum(total)) & (i < max_iterations)

    def body(carry):
        total, d, i = carry
        d_next = mdp.discount * jnp.where(alive, push_forward(mdp, d[:, None] * pi), 0.0)
        return total + d_next, d_next, i + 1

    total, _, _ = jax.lax.while_loop(cond, body, (d0, d0, jnp.asarray(0)))
    return total[:, None] * pi


def soft_occupancy(
    mdp: TabularMDP,
    reward,
    *,
    temperature: float = 1.0,
    backup: str = "expected",
    action_prior=None,
    init=None,
) -> jnp.ndarray:
    """Occupancy of the soft-optimal policy for a reward, in O(H·S) memory between passes.

    Equal to `occupancy(mdp, soft_value_iteration(mdp, reward, ...).log_policy, init=init)`
    (Ziebart et al. 2008, Algorithm 1: backward pass, then forward pass), but only the values
    `V [H, S]` are kept from the backward pass; each step's policy is recomputed from
    `V_{t+1}` in the forward pass. That costs one more backup per step and saves the
    `[H, S, A]` policy, which is what bounds memory on large worlds (2 GB for a million
    states, 5 actions, horizon 100 in float32).

    Args:
        mdp: a finite-horizon MDP (for an infinite horizon the stationary policy is small:
            use `soft_value_iteration` and `occupancy`).
        reward: `[S]` or `[S, A]`.
        temperature, backup, action_prior: as in `soft_value_iteration`.
        init: optional `[S]` start distribution replacing `mdp.init`.

    Returns:
        `[H, S, A]` occupancy, `P(s_t = s, a_t = a)`.
    """
    if mdp.horizon is None:
        raise ValueError(
            "soft_occupancy needs a finite horizon; for an infinite one use "
            "occupancy(mdp, soft_value_iteration(mdp, reward).log_policy)"
        )
    plan_v = soft_value_iteration(
        mdp, reward, temperature=temperature, backup=backup, action_prior=action_prior
    ).v
    mu = _start(mdp, init)
    r = state_action_reward(mdp, reward)
    log_prior = log_action_prior(mdp, action_prior)
    return _soft_occupancy(mdp, r, log_prior, temperature, backup, plan_v, mu.astype(r.dtype))


@partial(jax.jit, static_argnames=("backup",))
def _soft_occupancy(mdp, r, log_prior, temperature, backup, v, mu):
    alive = ~mdp.terminal
    v_next = jnp.concatenate([v[1:], jnp.zeros_like(v[:1])])

    def body(d, v_next_t):
        log_pi = backup_step(mdp, r, log_prior, temperature, backup, False, v_next_t)[2]
        d_sa = d[:, None] * jnp.exp(log_pi)
        return jnp.where(alive, push_forward(mdp, d_sa), 0.0), d_sa

    return jax.lax.scan(body, jnp.where(alive, mu, 0.0), v_next)[1]


def posterior_marginals(mdp: TabularMDP, reward, *, temperature: float = 1.0, action_prior=None):
    """Exact posterior marginals `p(s_t, a_t | O_{1:H})` of control as inference.

    With `p(O_t | s_t, a_t) = exp(r(s_t, a_t) / τ)` (Levine 2018, §2.3–2.4), the forward
    messages `α_t(s) = p(s_t | O_{1:t−1})` and backward messages `β_t(s, a) = p(O_{t:H} | s, a)`
    give `p(s_t, a_t | O_{1:H}) ∝ α_t(s) p(a | s) β_t(s, a)`. β comes from the optimistic soft
    backup (`log β_t(s, a) = Q_t(s, a) / τ`), α from the forward recursion
    `α_{t+1}(s') = Σ_{s,a} P(s' | s, a) p(s, a | O_{1:t})`. The start state is reweighted too:
    `p(s_0 | O_{1:H}) ∝ μ(s_0) β_0(s_0)`. An episode that reaches a terminal state observes
    nothing more (`β = 1` there), so each step's marginals sum to the posterior probability
    that the episode is still running.

    Args:
        mdp: a finite-horizon MDP with discount 1 (the graphical model has no discount).
        reward: `[S]` or `[S, A]`.
        temperature: τ > 0.
        action_prior: optional `p(a | s)`, `[A]` or `[S, A]`.

    Returns:
        `[H, S, A]` posterior marginals.

    Raises:
        ValueError: an infinite horizon, a discount other than 1, or bad arguments.
    """
    if mdp.horizon is None or mdp.discount != 1.0:
        raise ValueError(
            "posterior_marginals needs a finite horizon and discount 1 (the inference model "
            f"has no discount), got horizon={mdp.horizon}, discount={mdp.discount}"
        )
    plan = soft_value_iteration(
        mdp, reward, temperature=temperature, backup="optimistic", action_prior=action_prior
    )
    r = state_action_reward(mdp, reward)
    return _posterior(mdp, r, plan.q, log_action_prior(mdp, action_prior), temperature)


@jax.jit
def _posterior(mdp, r, q, log_prior, temperature):
    alive = ~mdp.terminal
    log_mu = jnp.log(mdp.init)
    # log p(O_t | s, a) + log p(a | s), and log β_t(s, a) + log p(a | s), at live states.
    log_obs = jnp.where(alive[:, None], r / temperature + log_prior, -jnp.inf)

    def forward(log_alpha, log_obs_t):
        # p(s_t, a_t | O_{1:t}) ∝ α_t(s) p(a|s) p(O_t|s,a); an ended episode keeps its mass.
        log_joint = log_alpha[:, None] + log_obs_t
        log_ended = jnp.where(alive, -jnp.inf, log_alpha)
        log_z = jnp.logaddexp(
            weighted_logsumexp(log_joint.reshape(-1), 0), weighted_logsumexp(log_ended, 0)
        )
        flow = jnp.exp(log_joint - log_z)
        alpha_next = push_forward(mdp, flow) + jnp.where(alive, 0.0, jnp.exp(log_ended - log_z))
        log_alpha_next = jnp.log(alpha_next)
        return log_alpha_next, log_alpha_next

    _, log_alphas = jax.lax.scan(forward, log_mu, jnp.broadcast_to(log_obs, q.shape)[:-1])
    log_alphas = jnp.concatenate([log_mu[None], log_alphas])  # α_0 … α_{H-1}

    log_beta = jnp.where(alive[:, None], q / temperature + log_prior, -jnp.inf)
    log_m = log_alphas[:, :, None] + log_beta  # [H, S, A], β of a terminal state is 1
    log_ended = jnp.where(alive, -jnp.inf, log_alphas)
    log_z = jnp.logaddexp(
        weighted_logsumexp(log_m.reshape(q.shape[0], -1), 1), weighted_logsumexp(log_ended, 1)
    )
    return jnp.exp(log_m - log_z[:, None, None])


def feature_expectations(mdp: TabularMDP, occupancy) -> jnp.ndarray:
    """Expected discounted feature counts `Σ_t γ^t E[φ(s_t, a_t)]` under an occupancy.

    Args:
        mdp: an MDP with `features` `[S, F]` or `[S, A, F]`.
        occupancy: `[H, S, A]` (weighted by γ^t here) or `[S, A]` (already discounted), as
            returned by `occupancy` or `empirical_occupancy`.

    Returns:
        `[F]` feature expectations.
    """
    if mdp.features is None:
        raise ValueError("feature_expectations needs an MDP with features")
    d = jnp.asarray(occupancy)
    s, a = mdp.n_states, mdp.n_actions
    if d.ndim == 3 and d.shape[1:] == (s, a):
        d = jnp.tensordot(mdp.discount ** jnp.arange(d.shape[0], dtype=d.dtype), d, axes=1)
    elif d.shape != (s, a):
        raise ValueError(
            f"occupancy must have shape [H, S, A] or [S, A] = ({s}, {a}), got {d.shape}"
        )
    if mdp.features.ndim == 2:
        return jnp.sum(d, axis=1) @ mdp.features
    return jnp.einsum("sa,saf->f", d, mdp.features)


def empirical_occupancy(mdp: TabularMDP, trajectories: Trajectories) -> jnp.ndarray:
    """The demonstrations' occupancy, averaged over trajectories.

    Traced trajectories are checked as `irlax._checks` describes: at once under an eager
    `jax.vmap`, through `checkify` under `jax.jit`. Where a staged check is off, a visited
    state or taken action out of range makes the occupancy NaN instead of being counted
    silently in another entry.

    Args:
        mdp: the MDP the trajectories come from (state and action indices).
        trajectories: one set: integer observations `[N, T+1]` and actions `[N, T]` (map a
            stack of sets with `jax.vmap`).

    Returns:
        Finite horizon: `[H, S, A]` with entry `(1/N) Σ_i [s^i_t = s, a^i_t = a]` (T ≤ H).
        Infinite horizon: `[S, A]` with entry `(1/N) Σ_i Σ_t γ^t [s^i_t = s, a^i_t = a]`.

    Raises:
        ValueError: trajectories that do not fit the MDP (`check_tabular_trajectories`).
    """
    check_tabular_trajectories(mdp, trajectories, allow_stack=False)
    return _empirical_occupancy(
        mdp,
        jnp.asarray(trajectories.observations),
        jnp.asarray(trajectories.actions),
        jnp.asarray(trajectories.lengths),
    )


@jax.jit
def _empirical_occupancy(mdp: TabularMDP, obs, a_idx, lengths) -> jnp.ndarray:
    """`empirical_occupancy` of checked trajectories' arrays, as one program."""
    n, t_max = a_idx.shape
    s_idx = obs[:, :-1]
    mask = jnp.arange(t_max)[None, :] < lengths[:, None]
    weight = mask.astype(mdp.probs.dtype) / max(n, 1)
    # A scatter wraps negative indices and drops large ones: a trajectory with a bad index
    # (its last state included, which the demo statistics of the IRL methods read) poisons
    # the result instead.
    visited = jnp.arange(t_max + 1) <= lengths[:, None]
    bad_state = visited & ((obs < 0) | (obs >= mdp.n_states))
    bad_action = mask & ((a_idx < 0) | (a_idx >= mdp.n_actions))
    bad = jnp.any(bad_state, axis=1) | jnp.any(bad_action, axis=1)
    weight = jnp.where(bad[:, None], jnp.nan, weight)
    s_idx = jnp.clip(s_idx, 0, mdp.n_states - 1)
    a_idx = jnp.clip(a_idx, 0, mdp.n_actions - 1)
    if mdp.horizon is not None:
        t_idx = jnp.broadcast_to(jnp.arange(t_max), (n, t_max))
        shape = (mdp.horizon, mdp.n_states, mdp.n_actions)
        return jnp.zeros(shape, weight.dtype).at[t_idx, s_idx, a_idx].add(weight)
    weight = weight * mdp.discount ** jnp.arange(t_max, dtype=weight.dtype)
    shape = (mdp.n_states, mdp.n_actions)
    return jnp.zeros(shape, weight.dtype).at[s_idx, a_idx].add(weight)
