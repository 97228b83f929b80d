"""Planning with known dynamics: soft (maximum-entropy) and hard value iteration.

Soft value iteration is the backward pass of control as inference (Levine 2018, "Reinforcement
Learning and Control as Probabilistic Inference", eqs. 6–8 and §4): with optimality variables
`p(O_t | s_t, a_t) = exp(r(s_t, a_t) / τ)` the backward messages are
`β_t(s, a) = exp(Q_t(s, a) / τ)` and `β_t(s) = exp(V_t(s) / τ)`, where

    V_t(s)    = τ · log Σ_a exp(Q_t(s, a) / τ)
    Q_t(s, a) = r(s, a) + γ · E_{s'}[V_{t+1}(s')]               (backup="expected")
    Q_t(s, a) = r(s, a) + γ · τ · log E_{s'}[exp(V_{t+1}(s') / τ)]   (backup="optimistic")

and the policy is `π_t(a | s) = exp((Q_t(s, a) − V_t(s)) / τ)`: the plain soft maximum of the
seed notes (`004_*`, `V = log ∫ exp Q da`) and of Ziebart's `p(τ) ∝ exp R(τ)`. An action prior
`p(a | s)` is an option: it enters as `+ log p(a | s)` inside the logsumexp and multiplies the
policy. It is never the default, because a uniform prior's `−τ·log A` per step is a living cost
that changes the policy wherever episodes can end early (terminal states). The optimistic backup
is exact posterior inference `p(a_t | s_t, O_{1:H})`, which lets the agent believe it controls
its own luck; the expected backup is the variational answer with the true dynamics, the
maximum causal entropy policy of Ziebart et al. (2010). Both agree on deterministic MDPs.
"""

from __future__ import annotations

import warnings
from functools import partial
from typing import Literal, get_args

import jax
import jax.numpy as jnp
import numpy as np

from irlax._checks import array_module, check_real_scalar, check_values
from irlax._pytree import is_concrete, pytree_dataclass
from irlax.config import is_int
from irlax.mdp.checks import SUM_TOLERANCE, check_finite
from irlax.mdp.core import (
    TabularMDP,
    expected_next,
    small_max,
    small_sum,
    successor_values,
)

Backup = Literal["expected", "optimistic"]
BACKUPS = get_args(Backup)


class NotConvergedWarning(RuntimeWarning):
    """An infinite-horizon plan stopped at `max_iterations` before meeting its tolerance.

    Its values are within `residual / (1 − γ)` of the fixed point, not within the tolerance
    asked for. Turn it into an error for unattended runs with
    `warnings.simplefilter("error", NotConvergedWarning)`.
    """


@pytree_dataclass
class Plan:
    """The result of (soft) value iteration.

    Finite horizon H: `q [H, S, A]`, `v [H, S]`, `log_policy [H, S, A]`, indexed by the step t
    at which the action is taken (the value after the last step is 0). Infinite horizon:
    stationary `q [S, A]`, `v [S]`, `log_policy [S, A]`. Terminal states have value 0 and take
    no action (their `log_policy` row, never used, is the action prior, or uniform without one).

    Attributes:
        q: action values.
        v: state values.
        log_policy: log π(a | s), normalised over actions.
        residual: for an infinite horizon, the Bellman residual `max |T(V) − V|` of the
            answer, which is within `residual/(1−γ)` of the fixed point. 0 for a finite horizon.
        converged: bool, whether the infinite-horizon solve met its tolerance, i.e.
            `residual ≤ max(tol, 64 ulps)·max(1, max |V|)`, rather than stopping at
            `max_iterations` (always True for a finite horizon, which is solved exactly). An eager
            call that returns an unconverged plan also warns (`NotConvergedWarning`); under
            `jax.jit` or `jax.vmap` this flag is the way to tell.
    """

    q: jnp.ndarray
    v: jnp.ndarray
    log_policy: jnp.ndarray
    residual: jnp.ndarray
    converged: jnp.ndarray | bool = True

    @property
    def policy(self) -> jnp.ndarray:
        """π(a | s), the exponent of `log_policy`."""
        return jnp.exp(self.log_policy)


def soft_value_iteration(
    mdp: TabularMDP,
    reward,
    *,
    temperature: float = 1.0,
    backup: str = "expected",
    action_prior=None,
    solver: str = "auto",
    tol: float = 1e-6,
    max_iterations: int = 10_000,
) -> Plan:
    """Soft value iteration: the maximum-entropy (soft-optimal) policy for a reward.

    Levine (2018) eqs. 6–8 with temperature and discount (§4.2); Ziebart et al. (2010) for the
    expected backup. The answer maximises `E[Σ_t γ^t (r(s_t, a_t) + τ·H(π(·|s_t)))]` (expected
    backup, no prior), or is the exact posterior policy `p(a_t | s_t, O_{1:H})`
    (optimistic backup). Jit-compiled; vmaps over `reward`.

    Args:
        mdp: the MDP; its `horizon` and `discount` choose the finite or infinite case.
        reward: `[S]` (state) or `[S, A]` (state-action) reward.
        temperature: τ > 0; as τ → 0 the answer approaches `value_iteration`.
        backup: "expected" (max causal entropy) or "optimistic" (exact posterior inference).
        action_prior: optional `p(a | s)` as `[A]` or `[S, A]`, rows summing to 1, added as
            `τ·log p(a | s)` inside the soft maximum; None (the default) is no prior: the
            plain soft maximum `V = τ·logsumexp(Q/τ)`. A zero entry forbids that action.
        solver: infinite horizon only: "iteration" (plain sweeps), "newton" (Newton–Kantorovich,
            i.e. soft policy iteration: a linear solve per step, quadratic convergence) or
            "auto": Newton from γ ≥ 0.99 on. Linear systems are dense up to 4096 states and
            GMRES on the successor lists beyond, so large sparse MDPs stay sparse.
        tol: infinite horizon only: stop when a sweep changes V by at most `tol·max(1, |V|)`.
        max_iterations: infinite horizon only: the most sweeps (or Newton steps) to run. A
            plan that reaches it before `tol` has `converged` False and, from an eager call,
            comes with a `NotConvergedWarning`.

    Returns:
        A `Plan` (see its shapes). Differentiable in the reward, prior and temperature: through
        the backward scan for a finite horizon, and by the implicit function theorem at the
        fixed point for an infinite one (one adjoint linear solve; Hessians work too).

    Raises:
        ValueError: a bad `reward`, `temperature` (it must be one finite number > 0: as τ → ∞
            the soft policy tends to uniform but its values diverge, so ∞ has no plan; batch
            over temperatures with `jax.vmap`), `backup`, `solver`, `tol`, `max_iterations`
            or `action_prior`.

    Warns:
        NotConvergedWarning: an infinite-horizon solve stopped at `max_iterations`.
    """
    if backup not in BACKUPS:
        raise ValueError(f"backup must be one of {BACKUPS}, got {backup!r}")
    _check_solver(solver, tol, max_iterations)
    check_temperature(temperature)
    r = state_action_reward(mdp, reward)
    log_prior = log_action_prior(mdp, action_prior)
    plan = _plan(mdp, r, log_prior, temperature, backup, False, solver, tol, max_iterations)
    return _warn_unconverged(plan, mdp, "soft_value_iteration")


def value_iteration(
    mdp: TabularMDP,
    reward,
    *,
    solver: str = "auto",
    tol: float = 1e-6,
    max_iterations: int = 10_000,
) -> Plan:
    """Hard value iteration: `V(s) = max_a Q(s, a)`, `Q = r + γ E[V']` (Bellman 1957).

    The greedy policy splits ties evenly between the maximising actions (to within a few ulps),
    so it is the limit of the soft policy as the temperature goes to 0.

    Args:
        mdp: the MDP.
        reward: `[S]` or `[S, A]` reward.
        solver: infinite horizon only, as in `soft_value_iteration` ("newton" is policy
            iteration here).
        tol: infinite horizon only, as in `soft_value_iteration`.
        max_iterations: infinite horizon only.

    Returns:
        A `Plan` with the shapes of `soft_value_iteration`.

    Raises:
        ValueError: a bad `reward`, `solver`, `tol` or `max_iterations`.

    Warns:
        NotConvergedWarning: an infinite-horizon solve stopped at `max_iterations`.
    """
    _check_solver(solver, tol, max_iterations)
    r = state_action_reward(mdp, reward)
    log_prior = log_action_prior(mdp, None)
    plan = _plan(mdp, r, log_prior, 1.0, "expected", True, solver, tol, max_iterations)
    return _warn_unconverged(plan, mdp, "value_iteration")


def check_temperature(temperature) -> None:
    """Refuse a temperature that is not one finite number > 0 (traced scalars are checked as
    `irlax._checks` describes).

    Raises:
        ValueError: a string, bool, array of several values, NaN, ∞, zero or negative.
    """
    check_real_scalar(temperature, "temperature")
    xp = array_module(temperature)
    check_values(
        (temperature > 0) & xp.isfinite(temperature),
        "temperature must be finite and > 0, got {}",
        temperature,
    )


def _warn_unconverged(plan: Plan, mdp: TabularMDP, name: str) -> Plan:
    """Warn (`NotConvergedWarning`) when an eager infinite-horizon solve did not converge."""
    if mdp.horizon is None and is_concrete(plan.converged) and not bool(np.all(plan.converged)):
        warnings.warn(not_converged_message(name, plan, mdp), NotConvergedWarning, stacklevel=3)
    return plan


def not_converged_message(what: str, plan: Plan, mdp: TabularMDP) -> str:
    """What to say when `plan` (from `what`) stopped at `max_iterations`."""
    residual = float(np.max(np.asarray(plan.residual)))
    error = residual / (1 - mdp.discount)
    return (
        f"{what}: the infinite-horizon plan did not converge (Bellman residual {residual:.3g} "
        f"after max_iterations; its values may be off by up to {error:.3g}); "
        'raise max_iterations, use solver="newton", or enable float64 '
        '(jax.config.update("jax_enable_x64", True))'
    )


def _check_solver(solver: str, tol, max_iterations) -> None:
    """The infinite-horizon solver's options: a plan that silently never converged (no
    iterations, a NaN tolerance) is worse than an error."""
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if not is_int(max_iterations) or max_iterations < 1:
        raise ValueError(f"max_iterations must be an integer >= 1, got {max_iterations!r}")
    xp = array_module(tol)
    check_values(xp.isfinite(tol) & (tol >= 0), "tol must be a finite number >= 0, got {}", tol)


def state_action_reward(mdp: TabularMDP, reward) -> jnp.ndarray:
    """Validate a `[S]` or `[S, A]` reward and broadcast it to `[S, A]`."""
    r = jnp.asarray(reward)
    s, a = mdp.n_states, mdp.n_actions
    if r.shape not in ((s,), (s, a)):
        raise ValueError(
            f"reward must have shape [S] = ({s},) or [S, A] = ({s}, {a}), got {r.shape}"
        )
    # The MDP's dtype governs: a float32 reward on a float64 MDP would otherwise break the
    # solvers' loop carries deep inside JAX.
    r = r.astype(mdp.probs.dtype)
    check_finite("reward", r)
    return jnp.broadcast_to(r[:, None] if r.ndim == 1 else r, (s, a))


def log_action_prior(mdp: TabularMDP, action_prior) -> jnp.ndarray:
    """The validated log action prior, `[1, A]` or `[S, A]`, added to `Q/τ` in the soft maximum.

    Args:
        mdp: the MDP (for its sizes and float type).
        action_prior: None (no prior: zeros, the plain soft maximum), or `p(a | s)` as `[A]` or
            `[S, A]` with rows summing to 1.

    Returns:
        `log p(a | s)`, or zeros for no prior.

    Raises:
        ValueError: a prior of the wrong shape, negative, not finite, or rows not summing to 1.
    """
    if action_prior is None:
        return jnp.zeros((1, mdp.n_actions), mdp.probs.dtype)
    p = jnp.asarray(action_prior, mdp.probs.dtype)
    if p.shape not in ((mdp.n_actions,), (mdp.n_states, mdp.n_actions)):
        raise ValueError(
            f"action_prior must have shape [A] = ({mdp.n_actions},) or [S, A] = "
            f"({mdp.n_states}, {mdp.n_actions}), got {p.shape}"
        )
    p = jnp.atleast_2d(p)
    xp = array_module(p)
    q = np.asarray(p) if xp is np else p
    check_values(xp.all(xp.isfinite(q) & (q >= 0)), "action_prior must be finite and non-negative")
    check_values(
        xp.all(xp.abs(q.sum(-1) - 1.0) <= SUM_TOLERANCE),
        "action_prior rows must sum to 1 over actions",
    )
    return jnp.log(p)


def weighted_logsumexp(x: jnp.ndarray, axis: int, weights=None) -> jnp.ndarray:
    """`log Σ w·exp(x)` along `axis`, stable; -inf where every weight is 0 (no NaN gradients),
    NaN where `x` holds NaN.

    The shift is the max over entries that count (finite, positive weight): a zero-weight
    entry far above the others would otherwise underflow every term that matters.
    """
    counts = jnp.isfinite(x) if weights is None else jnp.isfinite(x) & (weights > 0)
    m = jax.lax.stop_gradient(small_max(jnp.where(counts, x, -jnp.inf), axis=axis))
    m = jnp.where(jnp.isfinite(m), m, 0.0)
    # Excluded entries are set to the shift before exp, so they neither overflow (0·inf) nor
    # send NaN gradients back, then dropped.
    e = jnp.where(
        counts,
        jnp.exp(jnp.where(counts, x, jnp.expand_dims(m, axis)) - jnp.expand_dims(m, axis)),
        0.0,
    )
    total = small_sum(e if weights is None else weights * e, axis=axis)
    safe = jnp.where(total > 0, total, 1.0)
    out = jnp.where(total > 0, m + jnp.log(safe), -jnp.inf)
    # NaN propagates (a staged input check that is off must not turn NaN into a finite answer).
    return jnp.where(jnp.any(jnp.isnan(x), axis=axis), jnp.nan, out)


def _continuation(mdp, v_next, temperature, backup):
    """`E[V(s')]` or `τ log E[exp(V(s')/τ)]` as `[S, A]`."""
    if backup == "expected":
        return expected_next(mdp, v_next)
    values = successor_values(mdp, v_next) / temperature
    out = temperature * weighted_logsumexp(values, axis=-1, weights=mdp.probs)
    # Only terminal rows may have no successors (validated); their Q is replaced by 0.
    return jnp.where(jnp.isfinite(out), out, 0.0)


def backup_step(mdp, r, log_prior, temperature, backup, hard, v_next):
    """One Bellman backup: `(q, v, log_policy)` at a step from the values `v_next` of the next.

    Args:
        mdp: the MDP.
        r: `[S, A]` reward.
        log_prior: `[1, A]` or `[S, A]` from `log_action_prior`.
        temperature: τ > 0.
        backup: "expected" or "optimistic".
        hard: the hard maximum (value iteration) instead of the soft one.
        v_next: `[S]` values of the next step.

    Returns:
        `q [S, A]`, `v [S]` and `log_policy [S, A]` (terminal states: value 0, and the prior
        normalised over actions as their never-used policy row).
    """
    term = mdp.terminal[:, None]
    q = jnp.where(term, 0.0, r + mdp.discount * _continuation(mdp, v_next, temperature, backup))
    if hard:
        v = small_max(q)
        tie_tol = 16 * jnp.finfo(q.dtype).eps * (1.0 + jnp.abs(v))
        best = q >= (v - tie_tol)[:, None]
        log_policy = jnp.log(best / small_sum(best.astype(q.dtype))[:, None])
    else:
        z = q / temperature + log_prior
        # Shift before normalising: `z − v/τ` would subtract two large numbers (rewards of 1e6,
        # or a small τ) and leave float32 rows that do not sum to 1. The shift is a constant
        # of each row, so its gradient is stopped without changing any derivative.
        shift = jax.lax.stop_gradient(small_max(jnp.where(jnp.isfinite(z), z, -jnp.inf)))
        shift = jnp.where(jnp.isfinite(shift), shift, 0.0)[:, None]
        log_norm = weighted_logsumexp(z - shift, axis=-1)
        log_policy = (z - shift) - log_norm[:, None]
        v = temperature * (shift[:, 0] + log_norm)
    # A terminal state takes no action; its row is the prior normalised (uniform for no prior),
    # so that every row of log_policy is a distribution.
    log_rest = log_prior - weighted_logsumexp(log_prior, axis=-1)[:, None]
    log_policy = jnp.where(term, jnp.broadcast_to(log_rest, q.shape), log_policy)
    v = jnp.where(mdp.terminal, 0.0, v)
    return q, v, log_policy


@partial(jax.jit, static_argnames=("backup", "hard", "solver", "max_iterations"))
def _plan(mdp, r, log_prior, temperature, backup, hard, solver, tol, max_iterations):
    step = partial(backup_step, mdp, r, log_prior, temperature, backup, hard)
    if mdp.horizon is not None:

        def body(v_next, _):
            q, v, log_policy = step(v_next)
            return v, (q, v, log_policy)

        v_final = jnp.zeros(mdp.n_states, r.dtype)
        _, (q, v, log_policy) = jax.lax.scan(body, v_final, None, length=mdp.horizon, reverse=True)
        zero = jnp.zeros((), r.dtype)
        return Plan(q=q, v=v, log_policy=log_policy, residual=zero, converged=jnp.asarray(True))

    if r.dtype == jnp.float32 and mdp.discount >= PRECISION_DISCOUNT:
        warnings.warn(
            f"soft value iteration at discount {mdp.discount} in float32: values of order "
            "1/(1−γ) leave too few digits for the policy (Q − V); enable float64 with "
            'jax.config.update("jax_enable_x64", True)',
            stacklevel=3,
        )
    if solver == "auto":
        solver = "newton" if mdp.discount >= NEWTON_DISCOUNT else "iteration"
    v = _stationary_values(
        (backup, hard, solver, max_iterations), mdp, r, log_prior, temperature, tol
    )
    q, v_next, log_policy = step(v)
    residual = jnp.max(jnp.abs(v_next - v))
    # One more sweep than the loop's last is measured, and float rounding leaves T(V) − V of a
    # few ulps of |V| at the fixed point: below 64 ulps a tighter `tol` is met as well as the
    # float type can meet it.
    floor = 64 * jnp.finfo(r.dtype).eps
    scale = jnp.maximum(1.0, jnp.max(jnp.abs(v_next)))
    converged = residual <= jnp.maximum(tol, floor) * scale
    return Plan(q=q, v=v_next, log_policy=log_policy, residual=residual, converged=converged)


Solver = Literal["auto", "iteration", "newton"]

# Infinite horizon: V is the fixed point of the Bellman operator T. Plain iteration needs about
# log(tol)/log(γ) sweeps, 10⁵ at γ = 0.9999, so from this discount on the default is Newton's
# method on V − T(V) = 0 (Newton–Kantorovich; Rust 1987 §4 uses it for the same model).
NEWTON_DISCOUNT = 0.99
# Largest S for which linear systems are solved densely (an S×S LU); beyond it GMRES runs on
# the sparse successor lists.
DENSE_STATES = 4096
# From this discount on, float32 values (of order 1/(1−γ)) are too coarse for the policy.
PRECISION_DISCOUNT = 0.999
SOLVERS = get_args(Solver)


@partial(jax.custom_jvp, nondiff_argnums=(0,))
def _stationary_values(static, mdp, r, log_prior, temperature, tol):
    """The fixed point `V = T(V)`, differentiable by the implicit function theorem."""
    backup, hard, solver, max_iterations = static
    step = partial(backup_step, mdp, r, log_prior, temperature, backup, hard)
    # Newton converges quadratically: if it has not in this many steps, more will not help
    # (float32 near γ = 1 cannot reach a tight tolerance).
    limit = max_iterations if solver == "iteration" else min(max_iterations, 100)

    def cond(carry):
        v, residual, i = carry
        return (residual > tol * jnp.maximum(1.0, jnp.max(jnp.abs(v)))) & (i < limit)

    if solver == "iteration":

        def body(carry):
            v, _, i = carry
            v_new = step(v)[1]
            return v_new, jnp.max(jnp.abs(v_new - v)), i + 1

    else:
        # Newton: V ← V + (I − J)⁻¹(T(V) − V) with J = ∂T/∂V = γ·W(V). For the expected
        # backup this is soft policy iteration (evaluate the policy of V exactly); T is convex
        # and monotone for both backups, so from any start the iterates rise monotonically to
        # the fixed point after the first step, and converge quadratically.
        def body(carry):
            v, _, i = carry
            _, tv, log_policy = step(v)
            w = _jacobian_weights(mdp, v, log_policy, temperature, backup)
            v_new = v + _linear_solve(mdp, w, tv - v, solver, tol, max_iterations)
            return v_new, jnp.max(jnp.abs(tv - v)), i + 1

    v0 = jnp.zeros(mdp.n_states, r.dtype)
    init = (v0, jnp.asarray(jnp.inf, r.dtype), jnp.asarray(0))
    return jax.lax.while_loop(cond, body, init)[0]


@_stationary_values.defjvp
def _stationary_values_jvp(static, primals, tangents):
    # V = T(V, θ) ⇒ dV = (I − ∂T/∂V)⁻¹ (∂T/∂θ · dθ): one linear solve, no loop to unroll.
    # The solve is a custom_linear_solve, so reverse mode transposes it into the adjoint
    # system (I − J)ᵀ u = v̄ and second derivatives (Hessians) work too.
    backup, hard, solver, max_iterations = static
    mdp, r, log_prior, temperature, tol = primals
    v = _stationary_values(static, *primals)

    def t_of(mdp, r, log_prior, temperature):
        return backup_step(mdp, r, log_prior, temperature, backup, hard, v)[1]

    _, dt = jax.jvp(t_of, primals[:4], tangents[:4])
    log_policy = backup_step(mdp, r, log_prior, temperature, backup, hard, v)[2]
    w = _jacobian_weights(mdp, v, log_policy, temperature, backup)
    return v, _linear_solve(mdp, w, dt, solver, tol, max_iterations)


def _jacobian_weights(mdp, v, log_policy, temperature, backup):
    """`W[s, a, k]` with `∂T(V)(s)/∂V = γ Σ_{a,k} W[s, a, k] e_{next[s, a, k]}`.

    Expected backup: `π(a|s) P(k|s,a)`. Optimistic backup: the same, tilted towards lucky
    successors, `π(a|s) P(k|s,a) exp(V_k/τ) / E[exp(V'/τ)]`. Rows are distributions (zero
    on terminal states), so `I − γW` is an M-matrix.
    """
    pi = jnp.where(mdp.terminal[:, None], 0.0, jnp.exp(log_policy))
    w = pi[..., None] * mdp.probs
    if backup == "optimistic":
        values = successor_values(mdp, v) / temperature
        log_norm = weighted_logsumexp(values, axis=-1, weights=mdp.probs)
        tilt = jnp.exp(values - jnp.where(jnp.isfinite(log_norm), log_norm, 0.0)[..., None])
        w = w * jnp.where(mdp.probs > 0, tilt, 0.0)
    return w


def _linear_solve(mdp, w, b, solver, tol, max_iterations):
    """Solve `(I − γW) x = b`; transposable (reverse mode) and differentiable in `w`.

    `solver="iteration"`: the Neumann series `x ← b + γWx`, as cheap per sweep as value
    iteration and as fast to converge. Otherwise a dense LU for up to `DENSE_STATES` states
    and restarted GMRES on the sparse lists beyond.
    """
    gamma = mdp.discount
    succ = mdp.next_states
    if succ.shape[1] == 1:  # shared successor lists: fold the actions first
        weights, index = small_sum(w, axis=1), succ[:, 0, :]
    else:
        weights = w.reshape(mdp.n_states, -1)
        index = succ.reshape(mdp.n_states, -1)

    def apply_w(x):  # W x
        return small_sum(weights * x.at[index].get(mode="promise_in_bounds"))

    def apply_wt(y):  # Wᵀ y
        flow = (weights * y[:, None]).reshape(-1)
        return jnp.zeros_like(y).at[index.reshape(-1)].add(flow, mode="promise_in_bounds")

    def matvec(x):
        return x - gamma * apply_w(x)

    def rmatvec(y):
        return y - gamma * apply_wt(y)

    if solver == "iteration":

        def neumann(apply_w):
            def run(_, rhs):
                def cond(carry):
                    x, change, i = carry
                    return (change > tol * jnp.maximum(1.0, jnp.max(jnp.abs(x)))) & (
                        i < max_iterations
                    )

                def body(carry):
                    x, _, i = carry
                    x_new = rhs + gamma * apply_w(x)
                    return x_new, jnp.max(jnp.abs(x_new - x)), i + 1

                start = (rhs, jnp.asarray(jnp.inf, rhs.dtype), jnp.asarray(0))
                return jax.lax.while_loop(cond, body, start)[0]

            return run

        solve, transpose_solve = neumann(apply_w), neumann(apply_wt)

    elif mdp.n_states <= DENSE_STATES:
        rows = jnp.broadcast_to(jnp.arange(mdp.n_states)[:, None], index.shape)
        dense = jnp.zeros((mdp.n_states, mdp.n_states), weights.dtype)
        dense = jnp.eye(mdp.n_states, dtype=weights.dtype) - gamma * dense.at[rows, index].add(
            weights
        )
        lu = jax.scipy.linalg.lu_factor(dense)

        def solve(_, rhs):
            return jax.scipy.linalg.lu_solve(lu, rhs)

        def transpose_solve(_, rhs):
            return jax.scipy.linalg.lu_solve(lu, rhs, trans=1)

    else:

        def solve(_, rhs):
            return jax.scipy.sparse.linalg.gmres(matvec, rhs, tol=tol, restart=50, maxiter=100)[0]

        def transpose_solve(_, rhs):
            return jax.scipy.sparse.linalg.gmres(rmatvec, rhs, tol=tol, restart=50, maxiter=100)[0]

    return jax.lax.custom_linear_solve(matvec, b, solve, transpose_solve)
