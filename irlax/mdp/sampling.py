"""Sampling trajectories from a policy and scoring trajectories under one."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from irlax._checks import check_key
from irlax.data import Trajectories
from irlax.mdp.checks import check_log_policy, check_tabular_trajectories
from irlax.mdp.core import TabularMDP, transition_prob


def sample_trajectories(
    mdp: TabularMDP, log_policy, n: int, key: jax.Array, *, length: int | None = None
) -> Trajectories:
    """Sample `n` episodes: `s_0 ~ μ`, `a_t ~ π_t(·|s_t)`, `s_{t+1} ~ P(·|s_t, a_t)`.

    An episode stops early when it enters a terminal state; its `lengths` entry is then the
    number of actions taken, and the padding repeats the terminal state with action 0.

    Args:
        mdp: the MDP.
        log_policy: `[H, S, A]` or stationary `[S, A]`.
        n: number of trajectories.
        key: a `jax.random` key; the same key gives the same trajectories.
        length: number of steps T; defaults to the horizon, required for an infinite one,
            at most H for a time-indexed policy.

    Returns:
        `Trajectories` with int32 observations `[n, T+1]` and actions `[n, T]`.
    """
    log_pi = check_log_policy(mdp, log_policy)
    if length is None:
        if mdp.horizon is None:
            raise ValueError("length is required to sample from an infinite-horizon MDP")
        length = mdp.horizon
    if isinstance(length, bool) or int(length) != length or length < 0:
        raise ValueError(f"length must be a non-negative integer, got {length!r}")
    if log_pi.ndim == 3 and length > log_pi.shape[0]:
        raise ValueError(
            f"length={length} exceeds the {log_pi.shape[0]} steps of a time-indexed log_policy"
        )
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    check_key(key)
    obs, act, lengths = _sample(mdp, log_pi, key, int(n), int(length))
    return Trajectories(observations=obs, actions=act, lengths=lengths)


@partial(jax.jit, static_argnames=("n", "length"))
def _sample(mdp, log_pi, key, n, length):
    key_init, key_steps = jax.random.split(key)
    s0 = jax.random.categorical(key_init, jnp.log(mdp.init), shape=(n,))
    shared = mdp.next_states.shape[1] == 1

    def step(carry, xs):
        s, done, count = carry
        t, k = xs
        done = done | mdp.terminal[s]
        k_act, k_next = jax.random.split(k)
        logits = log_pi[t, s] if log_pi.ndim == 3 else log_pi[s]
        a = jax.random.categorical(k_act, logits)
        succ = jax.random.categorical(k_next, jnp.log(mdp.probs[s, a]))
        s_next = mdp.next_states[s, 0 if shared else a, succ]
        a = jnp.where(done, 0, a)
        s_next = jnp.where(done, s, s_next)
        return (s_next, done, count + (~done)), (s_next, a)

    keys = jax.random.split(key_steps, length)
    init = (s0, jnp.zeros(n, bool), jnp.zeros(n, jnp.int32))
    (_, _, lengths), (states, actions) = jax.lax.scan(step, init, (jnp.arange(length), keys))
    obs = jnp.concatenate([s0[None], states]).T.astype(jnp.int32)
    return obs, actions.T.astype(jnp.int32), lengths


def log_likelihood(
    mdp: TabularMDP, log_policy, trajectories: Trajectories, *, include_dynamics: bool = False
) -> jnp.ndarray:
    """Log-probability of each trajectory under a policy.

    `Σ_{t < T_i} log π_t(a_t | s_t)`, plus `log μ(s_0) + Σ_{t < T_i} log P(s_{t+1} | s_t, a_t)`
    with `include_dynamics=True` (the full path probability, seed 000's `ln ρ^π(τ)`).

    Args:
        mdp: the MDP.
        log_policy: `[H, S, A]` or stationary `[S, A]`.
        trajectories: integer observations `[N, T+1]`, actions `[N, T]`.
        include_dynamics: add the log-probabilities of the start state and transitions.

    Returns:
        `[N]` log-likelihoods. Traced trajectories are checked as `irlax._checks` describes;
        where a staged check is off, a trajectory with a state or action out of range gets
        a NaN log-likelihood rather than that of a clamped index.

    Raises:
        ValueError: a bad `log_policy` or trajectories that do not fit the MDP.
    """
    log_pi = check_log_policy(mdp, log_policy)
    check_tabular_trajectories(mdp, trajectories, allow_stack=False)
    if log_pi.ndim == 3 and trajectories.max_length > log_pi.shape[0]:
        raise ValueError(
            f"trajectories have {trajectories.max_length} steps, more than the "
            f"{log_pi.shape[0]} of a time-indexed log_policy"
        )
    return _log_likelihood(mdp, log_pi, trajectories, include_dynamics)


@partial(jax.jit, static_argnames=("include_dynamics",))
def _log_likelihood(mdp, log_pi, trajectories, include_dynamics):
    obs = jnp.asarray(trajectories.observations)
    s, a, s_next = obs[:, :-1], jnp.asarray(trajectories.actions), obs[:, 1:]
    mask = trajectories.mask
    # A gather clamps indices out of range: make a bad one poison its trajectory instead.
    state_ok = (obs >= 0) & (obs < mdp.n_states)
    valid = state_ok[:, :-1] & state_ok[:, 1:] & (a >= 0) & (a < mdp.n_actions)
    if log_pi.ndim == 3:
        terms = log_pi[jnp.arange(s.shape[1])[None, :], s, a]
    else:
        terms = log_pi[s, a]
    if include_dynamics:
        terms = terms + jnp.log(transition_prob(mdp, s, a, s_next))
    terms = jnp.where(valid, terms, jnp.nan)
    total = jnp.sum(jnp.where(mask, terms, 0.0), axis=1)
    if include_dynamics:
        total = total + jnp.log(mdp.init[obs[:, 0]])
    return total
