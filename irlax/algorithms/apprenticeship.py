"""Apprenticeship learning via inverse RL (Abbeel & Ng 2004): feature-expectation matching.

The reward is linear in the MDP's features, `r(s, a) = w·φ(s, a)`, so a policy's value is
`w·μ(π)` with `μ(π) = E[Σ_t γ^t φ(s_t, a_t) | π]` its discounted feature expectations
(Abbeel & Ng 2004, §2), started here from the demos' own start distribution. A policy
whose `μ` is within `ε` of the expert's `μ_E` is within `ε` of the expert's value for every
reward with `|w|₂ ≤ 1`, so the method looks for such a policy, or a mixture of policies:

    i = 0: π_0 a random policy;
    step i ≥ 1: w_i, t_i from π_0 … π_{i−1} (below); stop if t_i ≤ ε;
                otherwise π_i = the optimal policy of w_i·φ (value iteration, the "RL step").

(§3, steps 1–6.) `method="max_margin"` (§3, step 2):
`t_i = max_{|w|₂ ≤ 1} min_{j < i} w·(μ_E − μ_j)`. By minimax duality (when μ_E is outside
the hull of the `μ_j`; inside it the margin is ≤ 0 and the algorithm stops) this equals the
distance from μ_E to the convex hull,

    t_i = min_λ |μ_E − Σ_j λ_j μ_j|₂   s.t.  λ ≥ 0, Σ_j λ_j = 1,

with `w_i = (μ_E − Σ_j λ_j μ_j) / t_i`: a quadratic programme, solved by `qpax`'s
primal–dual interior-point method (Tracy & Manchester 2024). The same `λ` are the mixture
weights of the QP that §3 solves after termination to mix the policies, so one QP serves
both.

`method="projection"` (§3.1): `μ̄_{i−1}` is the orthogonal projection of μ_E onto the line
through `μ̄_{i−2}` and `μ_{i−1}` (clipped to the segment, so that `μ̄` stays a mixture),
`w_i = μ_E − μ̄_{i−1}` (here scaled to unit norm, which changes no optimal policy) and
`t_i = |μ_E − μ̄_{i−1}|₂`; the convex-combination weights of `μ̄` are tracked along the way.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any, Literal, get_args

import jax
import jax.numpy as jnp
import qpax

from irlax._checks import check_key
from irlax.algorithms._common import (
    IRLResult,
    check_features,
    demo_occupancy,
    start_distribution,
    warn_if_unconverged,
)
from irlax.config import make_config, require_choice, require_int, require_real
from irlax.mdp import TabularMDP, feature_expectations, occupancy, value_iteration

Method = Literal["max_margin", "projection"]
METHODS = get_args(Method)


@dataclasses.dataclass(frozen=True)
class ApprenticeshipConfig:
    """Options of `apprenticeship.fit`.

    Attributes:
        method: "max_margin" (a QP over all policies found so far, Abbeel & Ng 2004 §3) or
            "projection" (the cheaper orthogonal-projection update, §3.1).
        epsilon: stop once the margin `t_i = |μ_E − Σ_j λ_j μ_j|₂` is at most this (in the
            units of the discounted feature expectations).
        max_iterations: the most margin computations (steps), hence at most this many
            policies π_0 … π_{max_iterations−1}; it fixes the size of every buffer.
        qp_tolerance: max-margin only: the interior-point solver's tolerance on the KKT
            residual of the scaled QP (whose differences have norm ≤ 1); None is 1e-10 in
            float64 and 1e-6 in float32. In float32 the solver seldom certifies its tolerance
            and runs `qp_max_iterations` steps, which is harmless (see `min_norm_mixture`).
        qp_max_iterations: max-margin only: the most interior-point iterations per QP.
    """

    method: Method = "max_margin"
    epsilon: float = 1e-3
    max_iterations: int = 50
    qp_tolerance: float | None = None
    qp_max_iterations: int = 30

    def __post_init__(self) -> None:
        require_choice(self, "method", METHODS)
        require_int(self, "max_iterations", minimum=1)
        require_int(self, "qp_max_iterations", minimum=1)
        require_real(self, "epsilon", lambda x: x >= 0, ">= 0")
        if self.qp_tolerance is not None:
            require_real(self, "qp_tolerance", lambda x: x >= 0, ">= 0 (or None)")


def fit(
    mdp: TabularMDP,
    demos,
    *,
    key: jax.Array,
    config: ApprenticeshipConfig | None = None,
    **options: Any,
) -> IRLResult:
    """Apprenticeship learning: find policies whose mixture matches the expert's features.

    Abbeel & Ng (2004), "Apprenticeship learning via inverse reinforcement learning",
    §3 (the max-margin algorithm, steps 1–6, and the mixture QP after it) and §3.1 (the
    projection algorithm).
    Jit-compiled; vmaps over `key` and over `demos`.

    Args:
        mdp: the MDP, with `features` `[S, F]` or `[S, A, F]` (the reward is `w·φ`).
        demos: `Trajectories` of state and action indices, or an exact expert occupancy
            (`[H, S, A]`, or `[S, A]` for an infinite horizon). μ_E is their discounted
            feature expectations; every μ(π) starts from the demos' start distribution. With
            an infinite horizon, trajectories should end in a terminal state or run until
            γ^T is negligible: a truncated demo counts fewer features than any policy does,
            and the margin then cannot reach 0.
        key: PRNG key for the random initial policy π_0 (standard-normal logits per state).
        config: an `ApprenticeshipConfig`; `options` override its fields.

    Returns:
        An `IRLResult`:

        - `reward`: `w_j·φ`, `[S]` for state features, `[S, A]` for state-action ones, for
          the step j whose policy π_j came closest to the expert (`|μ_E − μ_j|₂` least): the
          reward whose optimal policy is the best single match (Abbeel & Ng §3 leave the
          choice among the π_j to the user). The last `w` is in `info["last_weights"]`; it
          is the max-margin direction of the final residual `μ_E − Σ λ_j μ_j`, tiny at
          convergence, and its optimal policy need not resemble the expert's. If π_0 already
          matched μ_E (no RL step ran), the last `w` is used.
        - `params`: that `w_j` (unit norm), `[F]`.
        - `plan`: `value_iteration` of that reward (its log-policy is π_j's).
        - `metrics` (`[max_iterations]`, entry i−1 for step i, NaN after the last step):
          `margin` (t_i), `feature_gap` (`|μ_E − μ_{i−1}|₂`, the newest policy's own gap)
          and `weights` (`[max_iterations, F]`, the w_i).
        - `info`: `policies` (log-policies of π_0 … π_{K−1}, `[K, S, A]` or `[K, H, S, A]`,
          K = max_iterations; slots past `n_policies` repeat π_0), `feature_expectations`
          (μ_j, `[K, F]`), `expert_feature_expectations` (μ_E, `[F]`), `mixture_weights`
          (λ, `[K]`, on the simplex, 0 past `n_policies`; the mixture "pick π_j with
          probability λ_j at the start of an episode" has feature expectations `Σ λ_j μ_j`),
          `best_policy` (j), `last_weights`, `n_iterations` (steps run), `n_policies`
          (policies found, π_0 included; equal to `n_iterations`, as the last step plans
          nothing) and `converged` (t ≤ ε reached).

    Raises:
        ValueError: bad demos, features, options, config or `key`.

    Warns:
        NotConvergedWarning: the final plan (infinite horizon) did not reach its fixed point.
    """
    config = make_config(ApprenticeshipConfig, config, options)
    check_key(key)  # it draws the random policy π_0
    check_features(mdp, "apprenticeship")
    expert_occupancy = demo_occupancy(mdp, demos)
    start = start_distribution(mdp, demos, expert_occupancy)
    result = _fit(mdp, expert_occupancy, start, key, config)
    return warn_if_unconverged(result, mdp, "apprenticeship")


def _feature_expectations(mdp: TabularMDP, log_policy: jnp.ndarray) -> jnp.ndarray:
    """μ(π) `[F]` from `mdp.init` (already the demos' start distribution)."""
    return feature_expectations(mdp, occupancy(mdp, log_policy))


def _reward(mdp: TabularMDP, w: jnp.ndarray) -> jnp.ndarray:
    return mdp.features @ w


def min_norm_mixture(points: jnp.ndarray, target: jnp.ndarray, *, tol=None, max_iterations=30):
    """The point of the convex hull of `points` closest to `target`, as mixture weights.

    Solves `min_λ |target − Σ_j λ_j points_j|²` s.t. `λ ≥ 0`, `Σ λ = 1` with `qpax.solve_qp`
    (a primal–dual interior-point method; jit- and vmap-compatible) on the differences scaled
    to norm ≤ 1, so that `tol` means the same at every scale. Two cheap steps follow:

    - duplicates: the weights of identical points are gathered on the first of them;
    - polishing: an interior-point answer is only `√tol`-accurate where the hull passes
      within `√tol` of `target` (exactly when apprenticeship learning converges), so the
      affine least-squares problem on the points the QP chose (λ_j ≥ 1% or 0.01% of the
      largest weight) is solved directly on the differences and kept where it is a mixture
      (all weights ≥ 0) that comes closer.

    Args:
        points: `[K, F]`.
        target: `[F]`.
        tol: the solver's tolerance on the KKT residual of the scaled problem; None is 1e-10
            in float64 and 1e-6 in float32.
        max_iterations: the most interior-point iterations.

    Returns:
        `[K]` weights on the simplex.
    """
    k = points.shape[0]
    dtype = points.dtype
    if tol is None:
        tol = 1e-10 if dtype == jnp.float64 else 1e-6
    diff = points - target
    scale = jnp.max(jnp.linalg.norm(diff, axis=-1))
    scaled = diff / jnp.where(scale > 0, scale, 1.0)
    x = qpax.solve_qp(
        scaled @ scaled.T,
        jnp.zeros(k, dtype),
        jnp.ones((1, k), dtype),
        jnp.ones(1, dtype),
        -jnp.eye(k, dtype=dtype),
        jnp.zeros(k, dtype),
        solver_tol=tol,
        max_iter=max_iterations,
    )[0]
    lam = jnp.clip(x, 0.0, None)
    total = jnp.sum(lam)
    # A failed solve (NaN) or an all-zero answer falls back to the uniform mixture.
    ok = jnp.isfinite(total) & (total > 0)
    lam = jnp.where(ok, lam / jnp.where(ok, total, 1.0), 1.0 / k)

    same = jnp.all(points[:, None, :] == points[None, :, :], axis=-1)  # [K, K]
    first = ~jnp.any(jnp.tril(same, -1), axis=1)
    lam = jnp.where(first, same.astype(dtype) @ lam, 0.0)

    def distance(weights):
        return jnp.linalg.norm(weights @ diff)

    best, best_distance = lam, distance(lam)
    for threshold in (1e-2, 1e-4):
        candidate = _affine_min_norm(diff, lam >= threshold * jnp.max(lam), jnp.argmax(lam))
        d = distance(candidate)
        better = jnp.all(candidate >= 0) & (d < best_distance)
        best = jnp.where(better, candidate, best)
        best_distance = jnp.where(better, d, best_distance)
    return best


def _affine_min_norm(diff: jnp.ndarray, support: jnp.ndarray, ref) -> jnp.ndarray:
    """argmin |Σ_j λ_j diff_j| over λ with Σ λ = 1 and λ = 0 off `support` (ref in it).

    With `λ_ref = 1 − Σ_{j≠ref} β_j` this is least squares in β,
    `min |diff_ref + Σ_j β_j (diff_j − diff_ref)|`; the minimum-norm solution gives zero
    weight to columns that are zero (points off the support, duplicates of `ref`).
    """
    columns = jnp.where(support[:, None], diff - diff[ref], 0.0).T  # [F, K]
    beta = jnp.linalg.lstsq(columns, -diff[ref])[0]
    beta = jnp.where(support, beta, 0.0).at[ref].set(0.0)
    return beta.at[ref].set(1.0 - jnp.sum(beta))


@partial(jax.jit, static_argnames=("config",))
def _fit(mdp, expert_occupancy, start, key, config: ApprenticeshipConfig):
    dtype = mdp.probs.dtype
    # Every μ(π) starts where the demos start; dataclasses.replace skips the host-side
    # validation of TabularMDP.replace, which cannot run on traced values.
    mdp = dataclasses.replace(mdp, init=start.astype(dtype))
    expert = feature_expectations(mdp, expert_occupancy).astype(dtype)
    k = config.max_iterations
    s, a = mdp.n_states, mdp.n_actions

    logits = jax.random.normal(key, (s, a), dtype)
    log_pi0 = jax.nn.log_softmax(logits, axis=-1)
    if mdp.horizon is not None:
        log_pi0 = jnp.broadcast_to(log_pi0, (mdp.horizon, s, a))
    mu0 = _feature_expectations(mdp, log_pi0)
    # Unfilled slots hold copies of π_0: duplicates change neither the hull nor the QP.
    policies = jnp.broadcast_to(log_pi0, (k, *log_pi0.shape))
    mus = jnp.broadcast_to(mu0, (k, mu0.shape[0]))
    slots = jnp.arange(k)

    def mixture(mus, n, lam):
        """λ over the first n policies (a QP, or the projection update of λ)."""
        if config.method == "max_margin":
            # Unfilled slots are copies of μ_0: their weight is gathered on slot 0.
            return min_norm_mixture(
                mus, expert, tol=config.qp_tolerance, max_iterations=config.qp_max_iterations
            )
        # Projection (§3.1): μ̄ ← μ̄ + α (μ_{n−1} − μ̄), α the projection of μ_E.
        bar = lam @ mus
        step = mus[n - 1] - bar
        denom = step @ step
        alpha = jnp.where(denom > 0, step @ (expert - bar) / jnp.where(denom > 0, denom, 1.0), 0.0)
        alpha = jnp.clip(alpha, 0.0, 1.0)
        return (1.0 - alpha) * lam + alpha * (slots == n - 1)

    nan = jnp.full(k, jnp.nan, dtype)
    metrics = {
        "margin": nan,
        "feature_gap": nan,
        "weights": jnp.full((k, expert.shape[0]), jnp.nan, dtype),
    }
    lam0 = (slots == 0).astype(dtype)
    w0 = jnp.zeros_like(expert)

    def cond(carry):
        return ~carry["done"]

    def body(carry):
        n = carry["n"]
        lam = mixture(carry["mus"], n, carry["lam"])
        gap = expert - lam @ carry["mus"]
        t = jnp.linalg.norm(gap)
        w = gap / jnp.where(t > 0, t, 1.0)
        hist = carry["metrics"]
        hist = {
            "margin": hist["margin"].at[n - 1].set(t),
            "feature_gap": hist["feature_gap"]
            .at[n - 1]
            .set(jnp.linalg.norm(expert - carry["mus"][n - 1])),
            "weights": hist["weights"].at[n - 1].set(w),
        }
        converged = t <= config.epsilon
        more = ~converged & (n < k)

        def rl_step(state):
            policies, mus = state
            log_pi = value_iteration(mdp, _reward(mdp, w)).log_policy
            mu = _feature_expectations(mdp, log_pi)
            return policies.at[n].set(log_pi), mus.at[n].set(mu)

        policies, mus = jax.lax.cond(
            more, rl_step, lambda state: state, (carry["policies"], carry["mus"])
        )
        # The newest policy's reward becomes the answer if its μ is the closest yet.
        better = more & (jnp.linalg.norm(expert - mus[n]) < carry["best_gap"])
        return {
            "policies": policies,
            "mus": mus,
            "lam": lam,
            "w": w,
            "best_w": jnp.where(better, w, carry["best_w"]),
            "best_gap": jnp.where(better, jnp.linalg.norm(expert - mus[n]), carry["best_gap"]),
            "best_policy": jnp.where(better, n, carry["best_policy"]),
            "n": n + more,
            "steps": carry["steps"] + 1,
            "done": ~more,
            "converged": converged,
            "metrics": hist,
        }

    init = {
        "policies": policies,
        "mus": mus,
        "lam": lam0,
        "w": w0,
        "best_w": w0,
        "best_gap": jnp.asarray(jnp.inf, dtype),
        "best_policy": jnp.asarray(0),
        "n": jnp.asarray(1),
        "steps": jnp.asarray(0),
        "done": jnp.asarray(False),
        "converged": jnp.asarray(False),
        "metrics": metrics,
    }
    out = jax.lax.while_loop(cond, body, init)
    # No RL step (π_0 already matched μ_E): the last w is all there is.
    w = jnp.where(out["best_policy"] > 0, out["best_w"], out["w"])
    reward = _reward(mdp, w)
    plan = value_iteration(mdp, reward)
    info = {
        "policies": out["policies"],
        "feature_expectations": out["mus"],
        "expert_feature_expectations": expert,
        "mixture_weights": out["lam"],
        "best_policy": out["best_policy"],
        "last_weights": out["w"],
        "n_iterations": out["steps"],
        "n_policies": out["n"],
        "converged": out["converged"],
    }
    return IRLResult(reward=reward, params=w, plan=plan, metrics=out["metrics"], info=info)
