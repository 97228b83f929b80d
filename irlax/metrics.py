"""How good is a learned reward or policy: returns, expected value difference, feature gaps,
held-out likelihood and reward distances (EPIC).

Every metric is a pure function of a `TabularMDP` and arrays, built on the exact machinery of
`irlax.mdp` (value iteration, occupancy, likelihood); none samples. Rewards are `r(s, a)` as
`[S]` (a state reward, paid by every action) or `[S, A]`, or `R(s, a, s')` as `[S, A, S]`;
for returns and planning an `[S, A, S]` reward enters through its expectation over the
dynamics, `r(s, a) = E_{s' ~ P(·|s,a)}[R(s, a, s')]`.

Metrics, and the papers that define them:

- `policy_value`: the expected discounted return `E[Σ_t γ^t r(s_t, a_t)]`.
- `expected_value_difference`: Levine, Popović & Koltun (2011), "Nonlinear Inverse
  Reinforcement Learning with Gaussian Processes" (their experiments): the loss in true
  return from acting optimally for the learned reward instead of the true one.
- `feature_expectation_gap`: Abbeel & Ng (2004), "Apprenticeship Learning via Inverse
  Reinforcement Learning", `||μ_E − μ(π)||`.
- `demo_nll`: negative log-likelihood of held-out demonstrations.
- `reward_correlation`, `epic_distance`: Gleave, Dennis, Legg, Russell & Leike (2021),
  "Quantifying Differences in Reward Functions", Defs. 4.1–4.2 (EPIC).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from irlax._pytree import is_concrete
from irlax.data import Trajectories
from irlax.mdp import (
    TabularMDP,
    empirical_occupancy,
    feature_expectations,
    log_likelihood,
    occupancy,
    value_iteration,
)

__all__ = [
    "demo_nll",
    "epic_distance",
    "expected_value_difference",
    "feature_expectation_gap",
    "policy_value",
    "reward_correlation",
]

# A canonicalised reward whose standard deviation is below this many ulps of the reward's
# magnitude is constant up to rounding (a constant reward minus its mean is not exactly 0).
_CONSTANT_ULPS = 64


def policy_value(mdp: TabularMDP, reward, log_policy, *, init=None) -> jnp.ndarray:
    """Expected discounted return of a policy, `E[Σ_t γ^t r(s_t, a_t) | s_0 ~ init]`.

    Computed exactly from the occupancy (`irlax.mdp.occupancy`): with a finite horizon
    `V(π) = Σ_t γ^t Σ_{s,a} d_t(s, a) r(s, a)`, with an infinite one
    `V(π) = Σ_{s,a} d_γ(s, a) r(s, a)` where `d_γ = Σ_t γ^t d_t` (its accuracy is the
    occupancy's `tol`, 1e-7 of the total mass). Terminal states carry no occupancy, so the
    reward at them never counts. Jittable when `init` is None.

    Args:
        mdp: the MDP.
        reward: `[S]`, `[S, A]` or `[S, A, S]`.
        log_policy: `[H, S, A]` (finite horizon) or stationary `[S, A]`.
        init: optional `[S]` start distribution replacing `mdp.init`.

    Returns:
        Scalar value.

    Raises:
        ValueError: a bad `reward`, `log_policy` or `init`.
    """
    r = _expected_reward(mdp, _check_reward(mdp, reward, "reward"))
    return _occupancy_dot(mdp, occupancy(mdp, log_policy, init=init), r)


def expected_value_difference(
    mdp: TabularMDP, true_reward, learned_reward=None, *, log_policy=None, init=None
) -> jnp.ndarray:
    """Expected value difference (EVD), the IRL score of Levine, Popović & Koltun (2011).

    `EVD = V_{r*}(π*) − V_{r*}(π̂)`: the true reward's value (`policy_value` under
    `true_reward` r*) of the policy π* optimal for r* (`value_iteration`), minus its value of
    π̂, the policy optimal for `learned_reward` (greedy, ties split evenly between maximising
    actions) or a policy given directly as `log_policy` (behaviour cloning's, say). Both are
    evaluated from the same start distribution. EVD ≥ 0 because π* is optimal; it is 0 when
    π̂ is optimal for r*, in particular for any learned reward that differs from r* by a
    positive factor, or by an added constant when every episode has the same length (no
    terminal states; with terminal states a constant per step changes whether ending early
    pays, so the optimal policy changes). Both values go through the same occupancy
    computation, so EVD is exactly 0 when π̂ = π*, and ≥ 0 up to rounding (and, for an
    infinite horizon, value iteration's and the occupancy's tolerances, ~1e-6 relative).

    Jittable (and vmappable over `learned_reward`) when `init` is None.

    Args:
        mdp: the MDP.
        true_reward: `[S]`, `[S, A]` or `[S, A, S]`, the reward the values are measured in.
        learned_reward: `[S]`, `[S, A]` or `[S, A, S]`; give this or `log_policy`.
        log_policy: `[H, S, A]` or `[S, A]`, the policy to evaluate; give this or
            `learned_reward`.
        init: optional `[S]` start distribution replacing `mdp.init`.

    Returns:
        Scalar EVD.

    Raises:
        ValueError: neither or both of `learned_reward` and `log_policy`, or a bad argument.
    """
    if (learned_reward is None) == (log_policy is None):
        raise ValueError(
            "expected_value_difference needs exactly one of learned_reward and log_policy, "
            f"got {'both' if learned_reward is not None else 'neither'}"
        )
    r_true = _expected_reward(mdp, _check_reward(mdp, true_reward, "true_reward"))
    if learned_reward is not None:
        r_learned = _expected_reward(mdp, _check_reward(mdp, learned_reward, "learned_reward"))
        log_policy = value_iteration(mdp, r_learned).log_policy
    optimal = value_iteration(mdp, r_true).log_policy
    return policy_value(mdp, r_true, optimal, init=init) - policy_value(
        mdp, r_true, log_policy, init=init
    )


def feature_expectation_gap(
    mdp: TabularMDP, demos_or_occupancy, log_policy, *, init=None, ord=2
) -> jnp.ndarray:
    """`||μ_E − μ(π)||`, the gap between expert and policy feature expectations.

    Abbeel & Ng (2004), §2–3: feature expectations `μ(π) = E[Σ_t γ^t φ(s_t, a_t)]`
    (`irlax.mdp.feature_expectations`), and apprenticeship learning stops once
    `||μ_E − μ(π)|| ≤ ε`. The expert's μ_E comes from the demonstrations'
    `empirical_occupancy`, or from an occupancy given directly; the policy's from
    `occupancy(mdp, log_policy, init=...)`. So that both start from the same states, `init`
    defaults to the expert's own start distribution:

    - `Trajectories`: the empirical distribution of `observations[:, 0]`.
    - a finite-horizon occupancy `[H, S, A]`: its first step `Σ_a d_0(s, a)`; if that sums to
      `m < 1` (some starts are terminal and carry no occupancy), the policy's occupancy from
      the normalised start is scaled by `m` (occupancy is linear in the start distribution).
    - an infinite-horizon occupancy `[S, A]`: `mdp.init` (a discounted occupancy does not
      record its start distribution); pass `init` if it started elsewhere.

    With an infinite horizon, demonstrations of T steps give μ_E truncated after T steps while
    μ(π) sums all steps; the gap then includes the discounted tail, at most
    `γ^T/(1−γ)·max|φ|` per feature.

    Args:
        mdp: an MDP with `features` `[S, F]` or `[S, A, F]`.
        demos_or_occupancy: `Trajectories` (integer states `[N, T+1]`, actions `[N, T]`), or
            an occupancy, `[H, S, A]` for a finite horizon H and `[S, A]` (discounted) for an
            infinite one, as returned by `occupancy` or `empirical_occupancy`.
        log_policy: `[H, S, A]` or `[S, A]`.
        init: optional `[S]` start distribution for the policy's occupancy.
        ord: the norm, as `jnp.linalg.norm`'s `ord` for vectors (2, 1, `jnp.inf`, ...).

    Returns:
        Scalar gap.

    Raises:
        ValueError: an MDP without features, or a bad argument.
    """
    if mdp.features is None:
        raise ValueError("feature_expectation_gap needs an MDP with features, got features=None")
    scale = 1.0
    if isinstance(demos_or_occupancy, Trajectories):
        n = demos_or_occupancy.n_trajectories
        if n == 0:
            raise ValueError("demos_or_occupancy holds no trajectories")
        expert = empirical_occupancy(mdp, demos_or_occupancy)
        if init is None:
            starts = jnp.asarray(demos_or_occupancy.observations)[:, 0]
            init = jnp.zeros(mdp.n_states, expert.dtype).at[starts].add(1.0 / n)
    else:
        expert = _check_occupancy(mdp, demos_or_occupancy, "demos_or_occupancy")
        if init is None and expert.ndim == 3:
            start = jnp.sum(expert[0], axis=-1)
            scale = jnp.sum(start)
            if is_concrete(scale) and not 0.0 < float(scale) <= 1.0 + 1e-4:
                raise ValueError(
                    "demos_or_occupancy's first step must carry probability mass in (0, 1] "
                    f"(the start distribution over non-terminal states), got {float(scale):.6g}"
                )
            init = start / scale
    return _feature_gap(mdp, expert, occupancy(mdp, log_policy, init=init), scale, ord)


@partial(jax.jit, static_argnames=("ord",))
def _feature_gap(mdp, expert, policy_occupancy, scale, ord):
    gap = feature_expectations(mdp, expert) - scale * feature_expectations(mdp, policy_occupancy)
    return jnp.linalg.norm(gap, ord=ord)


def demo_nll(
    mdp: TabularMDP, log_policy, trajectories: Trajectories, *, per_step: bool = False
) -> jnp.ndarray:
    """Negative log-likelihood of held-out demonstrations' actions under a policy.

    `−(1/N) Σ_i Σ_{t < T_i} log π_t(a^i_t | s^i_t)` (`irlax.mdp.log_likelihood`), or with
    `per_step=True`, `−Σ_i Σ_{t < T_i} log π_t(a^i_t | s^i_t) / Σ_i T_i`: the mean over all
    actions taken, comparable across data sets of different lengths. The dynamics cancel
    between policies, so they are left out.

    Args:
        mdp: the MDP.
        log_policy: `[H, S, A]` or `[S, A]`.
        trajectories: integer states `[N, T+1]`, actions `[N, T]`.
        per_step: divide by the total number of actions rather than of trajectories.

    Returns:
        Scalar NLL (nats); `inf` when a demonstrated action has probability 0.

    Raises:
        ValueError: no trajectories (or, with `per_step`, no actions), or a bad argument.
    """
    if not isinstance(trajectories, Trajectories):
        raise ValueError(f"trajectories must be Trajectories, got {type(trajectories).__name__}")
    ll = log_likelihood(mdp, log_policy, trajectories)
    if ll.shape[0] == 0:
        raise ValueError("trajectories holds no trajectories")
    if not per_step:
        return -jnp.mean(ll)
    steps = jnp.sum(jnp.asarray(trajectories.lengths))
    if is_concrete(steps) and int(steps) == 0:
        raise ValueError("trajectories take no actions, so per_step NLL is undefined")
    return -jnp.sum(ll) / steps


def reward_correlation(
    mdp: TabularMDP,
    reward_a,
    reward_b,
    *,
    state_distribution=None,
    action_distribution=None,
) -> jnp.ndarray:
    """Pearson correlation of two canonically shaped rewards: EPIC's ρ (Gleave et al. 2021).

    Def. 4.1: with `S, S' ~ D_S` and `A ~ D_A` independent and γ = `mdp.discount`,

        C(R)(s, a, s') = R(s, a, s') + γ E[R(s', A, S')] − E[R(s, A, S')] − γ E[R(S, A, S')].

    C removes potential shaping exactly: `C(R + γΦ(s') − Φ(s)) = C(R)` for every Φ. Def. 4.2
    compares `C(R_a)` and `C(R_b)` by Pearson correlation over `(s, a, s') ~ D_S × D_A × D_S`,
    computed here exactly.

    Moments, without `[S, A, S]` arrays. Write `m(s) = E[R(s, A, S')]` and `c = E[m(S)]`;
    then `C(R)(s, a, s') = R(s, a, s') − m(s) + γ (m(s') − c)`, whose mean over
    `D_S × D_A × D_S` is `c − c + γ(c − c) = 0`. A reward `r(s, a)` (and `[S]` broadcast to
    it) is `R(s, a, s') = r(s, a)`: `m(s) = r̄(s) = Σ_a D_A(a) r(s, a)` and
    `C = u(s, a) + γ v(s')` with `u = r − r̄(s)`, `v = r̄ − c`. As `s ⟂ s'`, `E[u | s] = 0`
    and `E[v] = 0`, the cross terms vanish:

        E[C_a C_b] = Σ_{s,a} D_S(s) D_A(a) u_a u_b + γ² Σ_s D_S(s) v_a v_b,

    so `ρ = E[C_a C_b] / sqrt(E[C_a²] E[C_b²])` costs O(S·A) (S = 1024, A = 5 is instant).
    When either reward is `[S, A, S]`, the `[S, A, S]` canonical forms are built and weighted
    directly, O(S²·A) like the input.

    Consequences for `r(s, a)` rewards: ρ = 1 under positive scaling and added constants,
    ρ = −1 for a negation; a state reward `r(s)` has `u = 0`, so ρ is the D_S-weighted
    correlation of the two state rewards (and with γ = 0 every state reward is constant
    after canonicalisation). Shaping through the dynamics,
    `r(s, a) + γ E_{s'~P(·|s,a)}[Φ(s')] − Φ(s)`, is *not* removed: EPIC canonicalises over
    `D_S`, not over the MDP's transitions; give `R(s, a, s') + γΦ(s') − Φ(s)` as `[S, A, S]`.

    Jittable; under `jax.jit` the constant check (see Raises) is skipped, and a reward that is
    constant after canonicalisation then gives NaN.

    Args:
        mdp: supplies S, A and γ (its dynamics are not used).
        reward_a: `[S]`, `[S, A]` or `[S, A, S]`.
        reward_b: `[S]`, `[S, A]` or `[S, A, S]`.
        state_distribution: D_S as `[S]`; None is uniform.
        action_distribution: D_A as `[A]`; None is uniform.

    Returns:
        Scalar ρ in [−1, 1].

    Raises:
        ValueError: a bad argument, or a reward that is constant after canonicalisation
            (standard deviation below 64 ulps of its largest magnitude): such a reward is
            equivalent to 0 and its correlation with anything is undefined.
    """
    cov, var_a, var_b, scale_a, scale_b = _epic_moments(
        mdp, reward_a, reward_b, state_distribution, action_distribution
    )
    for name, var, scale in (("reward_a", var_a, scale_a), ("reward_b", var_b, scale_b)):
        if is_concrete(var, scale):
            eps = float(np.finfo(var.dtype).eps)
            if np.sqrt(float(var)) <= _CONSTANT_ULPS * eps * float(scale):
                raise ValueError(
                    f"{name} is constant after EPIC canonicalisation (it differs from 0 only "
                    "by potential shaping and a constant under these distributions), so its "
                    "correlation with another reward is undefined"
                )
    return jnp.clip(cov / jnp.sqrt(var_a * var_b), -1.0, 1.0)


def epic_distance(
    mdp: TabularMDP,
    reward_a,
    reward_b,
    *,
    state_distribution=None,
    action_distribution=None,
) -> jnp.ndarray:
    """EPIC pseudometric, `D = sqrt((1 − ρ) / 2)` (Gleave et al. 2021, Def. 4.2).

    ρ is `reward_correlation` (see there for the computation). D lies in [0, 1]: 0 for rewards
    equivalent up to positive scaling, constants and potential shaping, 1 for a negation.

    Args:
        mdp: supplies S, A and γ.
        reward_a: `[S]`, `[S, A]` or `[S, A, S]`.
        reward_b: `[S]`, `[S, A]` or `[S, A, S]`.
        state_distribution: D_S as `[S]`; None is uniform.
        action_distribution: D_A as `[A]`; None is uniform.

    Returns:
        Scalar distance.

    Raises:
        ValueError: as `reward_correlation`.
    """
    rho = reward_correlation(
        mdp,
        reward_a,
        reward_b,
        state_distribution=state_distribution,
        action_distribution=action_distribution,
    )
    return jnp.sqrt(jnp.maximum((1.0 - rho) / 2.0, 0.0))


# --- helpers ---------------------------------------------------------------------------------


def _check_reward(mdp: TabularMDP, reward, name: str) -> jnp.ndarray:
    """Validate a `[S]`, `[S, A]` or `[S, A, S]` reward (float, finite when concrete)."""
    r = jnp.asarray(reward)
    s, a = mdp.n_states, mdp.n_actions
    if r.shape not in ((s,), (s, a), (s, a, s)):
        raise ValueError(
            f"{name} must have shape [S] = ({s},), [S, A] = ({s}, {a}) or "
            f"[S, A, S] = ({s}, {a}, {s}), got {r.shape}"
        )
    if not jnp.issubdtype(r.dtype, jnp.floating):
        r = r.astype(mdp.probs.dtype)
    # Concrete values are inspected with numpy: under a trace, jnp ops on them give tracers.
    if is_concrete(r) and not np.isfinite(np.asarray(r)).all():
        raise ValueError(f"{name} must be finite, found NaN or infinity")
    return r


def _expected_reward(mdp: TabularMDP, r: jnp.ndarray) -> jnp.ndarray:
    """`[S]` or `[S, A]` as given (planning takes both); `[S, A, S]` averaged over dynamics."""
    return r if r.ndim < 3 else _average_over_successors(mdp, r)


@jax.jit
def _average_over_successors(mdp: TabularMDP, r: jnp.ndarray) -> jnp.ndarray:
    """`Σ_{s'} P(s' | s, a) R(s, a, s')` as `[S, A]`."""
    next_states = jnp.broadcast_to(mdp.next_states, mdp.probs.shape)
    return jnp.sum(mdp.probs * jnp.take_along_axis(r, next_states, axis=2), axis=-1)


@jax.jit
def _occupancy_dot(mdp: TabularMDP, d: jnp.ndarray, r: jnp.ndarray) -> jnp.ndarray:
    """`Σ_t γ^t Σ_{s,a} d_t r` for `[H, S, A]`, `Σ_{s,a} d r` for a discounted `[S, A]`."""
    if d.ndim == 3:
        d = jnp.tensordot(mdp.discount ** jnp.arange(d.shape[0], dtype=d.dtype), d, axes=1)
    return jnp.sum(d * (r[:, None] if r.ndim == 1 else r))


def _check_occupancy(mdp: TabularMDP, occ, name: str) -> jnp.ndarray:
    d = jnp.asarray(occ)
    s, a = mdp.n_states, mdp.n_actions
    expect = (s, a) if mdp.horizon is None else (mdp.horizon, s, a)
    if d.shape != expect:
        kind = "[S, A]" if mdp.horizon is None else "[H, S, A]"
        raise ValueError(
            f"{name} must be Trajectories or an occupancy of shape {kind} = {expect} for this "
            f"{'infinite' if mdp.horizon is None else 'finite'}-horizon MDP, got {d.shape}"
        )
    if not jnp.issubdtype(d.dtype, jnp.floating):
        d = d.astype(mdp.probs.dtype)
    if is_concrete(d) and not np.all(np.isfinite(np.asarray(d)) & (np.asarray(d) >= 0)):
        raise ValueError(f"{name} must be finite and non-negative")
    return d


def _check_distribution(dist, n: int, name: str, dtype) -> jnp.ndarray:
    """A probability vector of length n (uniform when None); the caller renormalises."""
    if dist is None:
        return jnp.full((n,), 1.0 / n, dtype)
    p = jnp.asarray(dist, dtype)
    if p.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {p.shape}")
    if is_concrete(p):
        x = np.asarray(p)
        if not np.all(np.isfinite(x) & (x >= 0)):
            raise ValueError(f"{name} must be finite and non-negative")
        if abs(x.sum() - 1.0) > 1e-4:
            raise ValueError(f"{name} must sum to 1, got {x.sum()}")
    return p


def _epic_moments(mdp, reward_a, reward_b, state_distribution, action_distribution):
    """`(E[C_a C_b], E[C_a²], E[C_b²], max|R_a|, max|R_b|)`, as in `reward_correlation`."""
    ra = _check_reward(mdp, reward_a, "reward_a")
    rb = _check_reward(mdp, reward_b, "reward_b")
    dtype = jnp.result_type(ra.dtype, rb.dtype)
    p = _check_distribution(state_distribution, mdp.n_states, "state_distribution", dtype)
    q = _check_distribution(action_distribution, mdp.n_actions, "action_distribution", dtype)
    # One common shape, so the kernel compiles once per (S, A) and path.
    s, a = mdp.n_states, mdp.n_actions
    shape = (s, a, s) if ra.ndim == 3 or rb.ndim == 3 else (s, a)
    ra, rb = (_broadcast_reward(r.astype(dtype), shape) for r in (ra, rb))
    return _epic_moments_jit(ra, rb, p, q, mdp.discount)


def _broadcast_reward(r: jnp.ndarray, shape: tuple[int, ...]) -> jnp.ndarray:
    """`[S]` or `[S, A]` as `R(s, a, s') = r(s, a)` of the given shape."""
    return jnp.broadcast_to(jnp.reshape(r, r.shape + (1,) * (len(shape) - r.ndim)), shape)


@jax.jit
def _epic_moments_jit(ra, rb, p, q, gamma):
    p, q = p / jnp.sum(p), q / jnp.sum(q)  # validated to sum to 1 within 1e-4
    if ra.ndim == 3:

        def canonical(r):
            m = jnp.einsum("sat,a,t->s", r, q, p)  # E[R(s, A, S')]
            c = p @ m
            return r - m[:, None, None] + gamma * (m - c)[None, None, :]

        ca, cb = canonical(ra), canonical(rb)
        w = p[:, None, None] * q[None, :, None] * p[None, None, :]
        cov, var_a, var_b = (jnp.sum(w * x * y) for x, y in ((ca, cb), (ca, ca), (cb, cb)))
    else:

        def parts(r):
            r_bar = r @ q  # E[R(s, A, S')]
            return r - r_bar[:, None], r_bar - p @ r_bar

        (ua, va), (ub, vb) = parts(ra), parts(rb)
        pq = p[:, None] * q[None, :]

        def second_moment(u1, v1, u2, v2):
            return jnp.sum(pq * u1 * u2) + gamma**2 * jnp.sum(p * v1 * v2)

        cov = second_moment(ua, va, ub, vb)
        var_a = second_moment(ua, va, ua, va)
        var_b = second_moment(ub, vb, ub, vb)
    return cov, var_a, var_b, jnp.max(jnp.abs(ra)), jnp.max(jnp.abs(rb))
