"""Maximum entropy IRL: MaxEnt (Ziebart 08), max causal entropy (Ziebart 10), deep MaxEnt.

The model: the expert follows the soft-optimal policy of an unknown reward `r_θ`,
`π_θ(a | s) = exp((Q_θ(s, a) − V_θ(s)) / τ)` (soft value iteration, seed notes 003–004). MaxEnt
IRL is maximum likelihood of the demonstrated actions,

    NLL(θ) = −Σ_{t, s, a} w_t(s, a) · log π_θ,t(a | s),

with `w_t(s, a) = (1/N) Σ_i γ^t [s^i_t = s, a^i_t = a]`, the demos' discounted occupancy. Its
gradient with respect to the reward table is `(D_θ − D_demo) / τ`: the learner's expected
visitation, started from the demos' own start states, minus the demos' (Ziebart et al. 2008,
eq. 6; Ziebart et al. 2010, Thm. 3). For a linear reward `θ·φ` that is the gap of feature
counts. The identity is exact in expectation over the dynamics and on every path of a
deterministic MDP; with `backup="optimistic"` (Ziebart 08's path distribution
`p(ζ) ∝ exp(Σ r/τ) Π P`) it holds path by path.

Any Flax module mapping features to rewards can stand in for `θ·φ` (deep MaxEnt, Wulfmeier et
al. 2016, Alg. 1): the gradient reaches its weights through the reward table by `jax.vjp`,
`∂NLL/∂θ = (∂r/∂θ)ᵀ (D_θ − D_demo)/τ`.

Infinite horizons: the stationary policy's values are differentiated at the fixed point
(implicit function theorem, `soft_value_iteration`), so the same code fits dynamic discrete
choice models (Rust 1987) at γ = 0.9999, where `step_weights="uniform"` gives the
econometricians' conditional likelihood `Σ_t log π(a_t | s_t)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from typing import Any

import flax.linen as nn
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import optax

from irlax._pytree import is_concrete
from irlax.algorithms._common import IRLResult, check_features, demo_occupancy, make_config
from irlax.data import Trajectories
from irlax.mdp import TabularMDP
from irlax.mdp.planning import BACKUPS, SOLVERS, _log_action_prior, _plan
from irlax.nets import LinearReward

OPTIMIZERS = ("adam", "sgd", "lbfgs")
STEP_WEIGHTS = ("discounted", "uniform")


@dataclasses.dataclass(frozen=True)
class MaxEntConfig:
    """Options of `maxent.fit`.

    Attributes:
        steps: the most optimiser steps.
        learning_rate: the optimiser's step size (L-BFGS: the initial one of its line search;
            None there lets the line search choose).
        optimizer: "adam" (default; Wulfmeier 16), "sgd" (Ziebart 08's exponentiated/plain
            gradient) or "lbfgs" (quasi-Newton with a zoom line search; fastest on small linear
            models such as Rust's).
        l2: L2 penalty `l2/2·|θ|²` on the parameters (a Gaussian prior; Ziebart 08 §4).
        tol: stop once the gradient norm falls below this.
        temperature: τ of the soft policy; 1 for logit choice models.
        backup: "expected" (max causal entropy, the default) or "optimistic" (Ziebart 08's
            path distribution).
        step_weights: "discounted" weights step t by γ^t (the max causal entropy dual, whose
            gradient is the discounted feature gap); "uniform" weights every step by 1 (the
            conditional choice likelihood of dynamic discrete choice, for stationary demos).
        reward_model: a Flax module from features `[..., F]` to rewards `[...]`; None is
            `LinearReward()` (θ·φ with θ starting at 0). Its parameters are initialised with
            the `key` given to `fit`.
        solver: infinite horizon only: the fixed-point solver of `soft_value_iteration`.
        standard_errors: also return standard errors from the inverse Hessian of the total
            negative log-likelihood (`info["standard_errors"]`: `[F]` beside `info["theta"]`
            for the linear model, else a pytree like the params; needs `Trajectories`, whose
            count N scales the information).
    """

    steps: int = 200
    learning_rate: float | None = 0.1
    optimizer: str = "adam"
    l2: float = 0.0
    tol: float = 1e-6
    temperature: float = 1.0
    backup: str = "expected"
    step_weights: str = "discounted"
    reward_model: nn.Module | None = None
    solver: str = "auto"
    standard_errors: bool = False

    def __post_init__(self) -> None:
        for name, allowed in (
            ("optimizer", OPTIMIZERS),
            ("backup", BACKUPS),
            ("step_weights", STEP_WEIGHTS),
            ("solver", SOLVERS),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"steps must be a positive integer, got {self.steps!r}")
        if self.learning_rate is None and self.optimizer != "lbfgs":
            raise ValueError("learning_rate may be None only for optimizer='lbfgs'")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not self.l2 >= 0:
            raise ValueError(f"l2 must be >= 0, got {self.l2}")
        if not self.tol >= 0:
            raise ValueError(f"tol must be >= 0, got {self.tol}")


def fit(
    mdp: TabularMDP,
    demos,
    *,
    key: jax.Array,
    config: MaxEntConfig | None = None,
    progress: Callable[[Any], None] | None = None,
    **options: Any,
) -> IRLResult:
    """Fit a reward by maximum (causal) entropy IRL.

    Args:
        mdp: the MDP, with `features` `[S, F]` or `[S, A, F]`.
        demos: `Trajectories` of state and action indices, or an exact expert occupancy
            (`[H, S, A]`, or `[S, A]` for an infinite horizon) standing for infinitely many
            demos; it is taken as the step weights `w` of the likelihood as it is.
        key: PRNG key (initialises a `reward_model`'s parameters).
        config: a `MaxEntConfig`; `options` override its fields.
        progress: optional host function called with the step index after every step (through
            `jax.debug.callback`; e.g. to advance a progress bar).

    Returns:
        An `IRLResult`: `reward` `[S]` or `[S, A]`; `params` (the model's parameters; for the
        default linear model `params["params"]["Dense_0"]["kernel"][:, 0]` is θ, also in
        `info["theta"]`); the soft `plan` of the learned reward; `history` with per-step
        `loss` (the NLL, plus the L2 term), `feature_gap` (|expected − demo feature counts|)
        and `grad_norm` (NaN after the step it converged); `info` with `n_steps`,
        `converged`, and `standard_errors` when asked for.

    Raises:
        ValueError: bad demos, features, options or config.
    """
    config = make_config(MaxEntConfig, config, options)
    check_features(mdp, "maxent")
    weights = _step_weights(mdp, demos, config.step_weights)
    n_demos = demos.n_trajectories if isinstance(demos, Trajectories) else None
    if config.standard_errors and n_demos is None:
        raise ValueError("standard_errors need Trajectories: an occupancy carries no sample size")
    result = _fit(mdp, weights, key, config, progress)
    if config.standard_errors:
        info = dict(result.info)
        errors = _standard_errors(mdp, weights, result.params, config, n_demos)
        info["standard_errors"] = _theta(errors) if config.reward_model is None else errors
        result = dataclasses.replace(result, info=info)
    return result


def negative_log_likelihood(
    mdp: TabularMDP, reward, demos, *, config: MaxEntConfig | None = None, **options: Any
) -> jnp.ndarray:
    """The objective of `fit` (without the L2 term) for a given reward table `[S]` or `[S, A]`."""
    config = make_config(MaxEntConfig, config, options)
    weights = _step_weights(mdp, demos, config.step_weights)
    return _nll(mdp, weights, jnp.asarray(reward, weights.dtype), config)


def _step_weights(mdp: TabularMDP, demos, step_weights: str) -> jnp.ndarray:
    """The weights `w` of the likelihood: `[H, S, A]`, or `[S, A]` for an infinite horizon."""
    weights = demo_occupancy(mdp, demos)
    if step_weights == "uniform" and isinstance(demos, Trajectories) and mdp.horizon is None:
        # empirical_occupancy discounts an infinite horizon's steps; count them plainly.
        mask = demos.mask.astype(weights.dtype) / demos.n_trajectories
        s_idx = jnp.asarray(demos.observations)[:, :-1]
        weights = jnp.zeros_like(weights).at[s_idx, jnp.asarray(demos.actions)].add(mask)
    elif step_weights == "uniform" and isinstance(demos, Trajectories) and mdp.discount != 1.0:
        weights = (
            weights / (mdp.discount ** jnp.arange(mdp.horizon, dtype=weights.dtype))[:, None, None]
        )
    return weights


def _model(config: MaxEntConfig) -> nn.Module:
    return LinearReward() if config.reward_model is None else config.reward_model


def _reward_table(mdp: TabularMDP, config: MaxEntConfig, params) -> jnp.ndarray:
    reward = _model(config).apply(params, mdp.features)
    expected = {(mdp.n_states,), (mdp.n_states, mdp.n_actions)}
    if reward.shape not in expected:
        raise ValueError(
            f"reward_model must map features {mdp.features.shape} to rewards [S] or [S, A], "
            f"got shape {reward.shape}"
        )
    return reward.astype(mdp.probs.dtype)


def _log_policy(mdp: TabularMDP, reward: jnp.ndarray, config: MaxEntConfig):
    r = jnp.broadcast_to(reward[:, None] if reward.ndim == 1 else reward, mdp.probs.shape[:2])
    log_prior = _log_action_prior(mdp, None)
    # Gradients are only as exact as the fixed point: solve it to a few ulps of the float type.
    tol = 64 * float(jnp.finfo(r.dtype).eps)
    return _plan(
        mdp, r, log_prior, config.temperature, config.backup, False, config.solver, tol, 100_000
    )


def _nll(mdp, weights, reward, config):
    log_policy = _log_policy(mdp, reward, config).log_policy
    # Terminal rows and unvisited pairs carry no weight; where(…) keeps -inf·0 out.
    return -jnp.sum(jnp.where(weights > 0, weights * log_policy, 0.0))


def _optimizer(config: MaxEntConfig) -> optax.GradientTransformation:
    if config.optimizer == "adam":
        return optax.adam(config.learning_rate)
    if config.optimizer == "sgd":
        return optax.sgd(config.learning_rate)
    return optax.lbfgs(config.learning_rate)


@partial(jax.jit, static_argnames=("config", "progress"))
def _fit(mdp: TabularMDP, weights: jnp.ndarray, key: jax.Array, config: MaxEntConfig, progress):
    features = mdp.features
    params = _model(config).init(key, features)
    # Parameters in the MDP's float type (Flax initialises in float32).
    params = jax.tree.map(lambda p: p.astype(mdp.probs.dtype), params)
    optimizer = _optimizer(config)
    dtype = mdp.probs.dtype

    def objective(params):
        """(loss, gradient, |feature gap|), the gradient pushed through the reward by vjp."""
        reward, pull_back = jax.vjp(lambda p: _reward_table(mdp, config, p), params)
        nll, grad_reward = jax.value_and_grad(lambda r: _nll(mdp, weights, r, config))(reward)
        (grad,) = pull_back(grad_reward)
        penalty = 0.5 * config.l2 * sum(jnp.sum(p**2) for p in jax.tree.leaves(params))
        grad = jax.tree.map(lambda g, p: g + config.l2 * p, grad, params)
        # τ·∂NLL/∂r = D_θ − D_demo: its features are the expected minus the demo counts.
        visits = config.temperature * grad_reward  # [S], or [S, A]
        if visits.ndim == 2 and features.ndim == 2:
            visits = jnp.sum(visits, axis=1)
        gap = jnp.tensordot(visits, features, axes=visits.ndim)
        return nll + penalty, grad, jnp.linalg.norm(gap)

    def value(params):
        penalty = 0.5 * config.l2 * sum(jnp.sum(p**2) for p in jax.tree.leaves(params))
        return _nll(mdp, weights, _reward_table(mdp, config, params), config) + penalty

    nan = jnp.full(config.steps, jnp.nan, dtype)
    history = {"loss": nan, "feature_gap": nan, "grad_norm": nan}

    def cond(carry):
        _, _, _, i, done = carry
        return (i < config.steps) & ~done

    def body(carry):
        params, opt_state, history, i, _ = carry
        loss, grad, gap = objective(params)
        grad_norm = optax.tree.norm(grad)
        history = {
            "loss": history["loss"].at[i].set(loss),
            "feature_gap": history["feature_gap"].at[i].set(gap),
            "grad_norm": history["grad_norm"].at[i].set(grad_norm),
        }
        done = grad_norm <= config.tol
        updates, new_state = optimizer.update(
            grad, opt_state, params, value=loss, grad=grad, value_fn=value
        )
        new_params = optax.apply_updates(params, updates)
        # Converged: keep the parameters the gradient was measured at.
        params, opt_state = jax.tree.map(
            lambda new, old: jnp.where(done, old, new), (new_params, new_state), (params, opt_state)
        )
        if progress is not None:
            jax.debug.callback(progress, i)
        return params, opt_state, history, i + 1, done

    start = (params, optimizer.init(params), history, jnp.asarray(0), jnp.asarray(False))
    params, _, history, n_steps, converged = jax.lax.while_loop(cond, body, start)
    reward = _reward_table(mdp, config, params)
    plan = _log_policy(mdp, reward, config)
    info = {"n_steps": n_steps, "converged": converged}
    if config.reward_model is None:
        info["theta"] = _theta(params)
    return IRLResult(reward=reward, params=params, plan=plan, history=history, info=info)


def _theta(params) -> jnp.ndarray:
    """θ `[F]` of the default `LinearReward`."""
    return params["params"]["Dense_0"]["kernel"][:, 0]


def _standard_errors(mdp, weights, params, config, n_demos):
    """Standard errors from the inverse Hessian of the total NLL (N times the mean's)."""
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    if flat.size > 2000:
        raise ValueError(f"standard_errors need a small model; this one has {flat.size} params")

    def total(flat_params):
        reward = _reward_table(mdp, config, unravel(flat_params))
        penalty = 0.5 * config.l2 * jnp.sum(flat_params**2)
        return n_demos * (_nll(mdp, weights, reward, config) + penalty)

    variances = jnp.diag(jnp.linalg.inv(jax.hessian(total)(flat)))
    if is_concrete(variances) and not bool(np.all(np.isfinite(variances) & (variances > 0))):
        raise ValueError(
            "the Hessian of the log-likelihood is singular at the estimate: some parameters "
            "are not identified by these demos, so they have no standard error"
        )
    return unravel(jnp.sqrt(variances))
