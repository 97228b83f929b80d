"""Independent references for the tabular core: plain numpy loops and path enumeration.

Written from the equations, not from irlax's code: dense `[S, A, S]` transitions, explicit
Python loops, no JAX. Slow, and only for MDPs of a handful of states.
"""

from __future__ import annotations

import itertools

import numpy as np


def soft_vi(T, R, terminal, horizon, discount, tau, backup, prior=None, hard=False, sweeps=4000):
    """Soft (or hard) value iteration by loops. Returns (Q, V, pi) like irlax's Plan."""
    S, A, _ = T.shape
    # No prior is the plain soft maximum V = τ log Σ_a exp(Q/τ): every action weighs 1.
    weights = np.ones((S, A)) if prior is None else np.broadcast_to(prior, (S, A))

    def backup_step(v_next):
        q = np.zeros((S, A))
        v = np.zeros(S)
        pi = np.zeros((S, A))
        for s in range(S):
            if terminal[s]:
                pi[s] = weights[s] / weights[s].sum()
                continue
            for a in range(A):
                if backup == "expected":
                    cont = sum(T[s, a, s2] * v_next[s2] for s2 in range(S))
                else:
                    cont = tau * np.log(
                        sum(T[s, a, s2] * np.exp(v_next[s2] / tau) for s2 in range(S))
                    )
                q[s, a] = R[s, a] + discount * cont
            if hard:
                v[s] = q[s].max()
                best = np.isclose(q[s], v[s], rtol=0, atol=1e-12)
                pi[s] = best / best.sum()
            else:
                v[s] = tau * np.log(sum(weights[s, a] * np.exp(q[s, a] / tau) for a in range(A)))
                pi[s] = weights[s] * np.exp((q[s] - v[s]) / tau)
        return q, v, pi

    if horizon is None:
        v = np.zeros(S)
        for _ in range(sweeps):
            v = backup_step(v)[1]
        return backup_step(v)
    qs, vs, pis = [], [], []
    v = np.zeros(S)
    for _ in range(horizon):
        q, v, pi = backup_step(v)
        qs.append(q)
        vs.append(v)
        pis.append(pi)
    return np.array(qs[::-1]), np.array(vs[::-1]), np.array(pis[::-1])


def occupancy(T, init, terminal, pi, horizon, discount, sweeps=4000):
    """Finite: [H, S, A] of P(s_t, a_t); infinite: [S, A] of Σ γ^t P(s_t, a_t)."""
    S, A, _ = T.shape
    d = np.where(terminal, 0.0, init)
    steps = horizon if horizon is not None else sweeps
    out = []
    for t in range(steps):
        p = pi[t] if pi.ndim == 3 else pi
        d_sa = np.zeros((S, A))
        for s in range(S):
            for a in range(A):
                d_sa[s, a] = d[s] * p[s, a]
        out.append(d_sa)
        nxt = np.zeros(S)
        for s in range(S):
            for a in range(A):
                for s2 in range(S):
                    nxt[s2] += d_sa[s, a] * T[s, a, s2]
        d = np.where(terminal, 0.0, nxt)
    if horizon is not None:
        return np.array(out)
    return sum(discount**t * x for t, x in enumerate(out))


def paths(T, init, terminal, horizon):
    """Every possible path: (states, actions, probability of the dynamics).

    A path stops early when it enters a terminal state; its dynamics probability is
    μ(s_0) Π P(s_{t+1} | s_t, a_t) (no action probabilities).
    """
    S, A, _ = T.shape

    def extend(states, actions, prob):
        s = states[-1]
        if terminal[s] or len(actions) == horizon:
            yield tuple(states), tuple(actions), prob
            return
        for a, s2 in itertools.product(range(A), range(S)):
            if T[s, a, s2] > 0:
                yield from extend([*states, s2], [*actions, a], prob * T[s, a, s2])

    for s0 in range(S):
        if init[s0] > 0:
            yield from extend([s0], [], init[s0])
