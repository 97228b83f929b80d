"""Maximum entropy IRL: MaxEnt (Ziebart 08), max causal entropy (Ziebart 10), deep MaxEnt.

The model: the expert follows the soft-optimal policy of an unknown reward `r_θ`,
`π_θ(a | s) = exp((Q_θ(s, a) − V_θ(s)) / τ)` (soft value iteration, seed notes 003–004).
Two objectives, one per tradition:

`objective="dual"` (the default for a finite horizon; Ziebart et al. 2008 eq. 6, 2010
Thm. 3): the dual of the maximum (causal) entropy problem,

    L(θ) = (1/τ)·[(1/N) Σ_i (V_0(s^i_0) − γ^{T_i} V_{T_i}(s^i_{T_i}))
                  − Σ_{t,s,a} γ^t w_t(s, a) r(s, a)],

with `w_t(s, a)` the demos' visit frequencies. Its gradient with respect to the reward table
is exactly `(D_θ − D_demo)/τ`: the learner's expected (discounted) visitation over each demo's
own window, from its first state to its last, minus the demos'. For a linear reward `θ·φ`
that is the gap of feature counts, so at the optimum the learner matches the demos' feature
counts. `L` is the negative log-likelihood of the demos' paths: exactly so with
`backup="optimistic"` (Ziebart 08's `p(ζ) ∝ exp(Σ r/τ) Π P`, whose visitation is the posterior
marginals) and on deterministic MDPs, and in expectation over the dynamics with the default
`backup="expected"`.

`objective="likelihood"` (the default for an infinite horizon, where with few short demos the
dual's end terms `γ^T V(s_T)` pull reward towards the states where the demos happen to stop):
the causal negative log-likelihood of the demonstrated actions,
`−Σ_{t,s,a} w_t(s, a) log π_t(a | s)`, steps weighted by γ^t or uniformly (`step_weights`).
With uniform weights and an infinite horizon this is the conditional choice likelihood of
dynamic discrete choice (Rust 1987), which MaxEnt IRL at temperature 1 is.

Any Flax module mapping features to rewards can stand in for `θ·φ` (deep MaxEnt, Wulfmeier et
al. 2016, Alg. 1): the gradient reaches its weights through the reward table by `jax.vjp`,
`∂L/∂θ = (∂r/∂θ)ᵀ ∂L/∂r`. Infinite horizons differentiate the stationary values at the fixed
point (implicit function theorem, `soft_value_iteration`), so γ = 0.9999 costs a few linear
solves.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any, Literal, get_args

import flax.linen as nn
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import optax

from irlax._checks import check_key
from irlax._pytree import is_concrete, pytree_dataclass
from irlax.algorithms._common import (
    IRLResult,
    check_features,
    demo_occupancy,
    start_distribution,
    warn_if_unconverged,
)
from irlax.config import (
    make_config,
    require_bool,
    require_choice,
    require_int,
    require_real,
)
from irlax.data import Trajectories
from irlax.mdp import TabularMDP
from irlax.mdp.planning import BACKUPS, SOLVERS, Backup, Solver, soft_value_iteration
from irlax.nets import LinearReward
from irlax.optim import Progress, minimize, reporting

Optimizer = Literal["adam", "sgd", "lbfgs"]
Objective = Literal["auto", "dual", "likelihood"]
StepWeights = Literal["discounted", "uniform"]
OPTIMIZERS, OBJECTIVES, STEP_WEIGHTS = (
    get_args(Optimizer),
    get_args(Objective),
    get_args(StepWeights),
)


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
        objective: "dual" (feature matching, Ziebart's gradient), "likelihood" (the causal
            log-likelihood of the actions) or "auto" (the default): the dual for a finite
            horizon, the likelihood for an infinite one, where demos are windows of a
            stationary process and the dual's `γ^T V(s_T)` terms reward the states where
            the windows happen to end (see the module docstring).
        step_weights: "likelihood" only: "discounted" weights step t by γ^t; "uniform" weights
            every step by 1 (the conditional choice likelihood of dynamic discrete choice).
        reward_model: a Flax module from features `[..., F]` to rewards `[...]`; None is
            `LinearReward()` (θ·φ with θ starting at 0). Its parameters are initialised with
            the `key` given to `fit`.
        solver: infinite horizon only: the fixed-point solver of `soft_value_iteration`.
        standard_errors: also return standard errors from the inverse Hessian of the total
            objective, N times the mean (with objective="likelihood", the maximum likelihood
            standard errors; `info["standard_errors"]`: `[F]` beside `info["theta"]`
            for the linear model, else a pytree like the params; needs `Trajectories`, whose
            count N scales the information).
    """

    steps: int = 200
    learning_rate: float | None = 0.1
    optimizer: Optimizer = "adam"
    l2: float = 0.0
    tol: float = 1e-6
    temperature: float = 1.0
    backup: Backup = "expected"
    objective: Objective = "auto"
    step_weights: StepWeights = "discounted"
    reward_model: nn.Module | None = None
    solver: Solver = "auto"
    standard_errors: bool = False

    def __post_init__(self) -> None:
        require_choice(self, "optimizer", OPTIMIZERS)
        require_choice(self, "backup", BACKUPS)
        require_choice(self, "objective", OBJECTIVES)
        require_choice(self, "step_weights", STEP_WEIGHTS)
        require_choice(self, "solver", SOLVERS)
        require_int(self, "steps", minimum=1)
        if self.learning_rate is None:
            if self.optimizer != "lbfgs":
                raise ValueError("learning_rate may be None only for optimizer='lbfgs'")
        else:
            require_real(self, "learning_rate", lambda x: x > 0, "> 0")
        require_real(self, "temperature", lambda x: x > 0, "> 0")
        require_real(self, "l2", lambda x: x >= 0, ">= 0")
        require_real(self, "tol", lambda x: x >= 0, ">= 0")
        require_bool(self, "standard_errors")
        if self.reward_model is not None and not isinstance(self.reward_model, nn.Module):
            raise ValueError(
                "reward_model must be a Flax module mapping features to rewards (e.g. "
                f"irlax.nets.MLPReward()) or None, got {self.reward_model!r}"
            )


def fit(
    mdp: TabularMDP,
    demos,
    *,
    key: jax.Array,
    config: MaxEntConfig | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> IRLResult:
    """Fit a reward by maximum (causal) entropy IRL.

    Args:
        mdp: the MDP, with `features` `[S, F]` or `[S, A, F]`.
        demos: `Trajectories` of state and action indices, or an exact expert occupancy
            (`[H, S, A]`, or `[S, A]` for an infinite horizon) standing for infinitely many
            demos.
        key: PRNG key (initialises a `reward_model`'s parameters).
        config: a `MaxEntConfig`; `options` override its fields.
        progress: optional host function called as `progress(step, metrics)` after every step
            (`irlax.optim.reporting`; e.g. to advance a progress bar); changing it does not
            recompile.

    Returns:
        An `IRLResult`: `reward` `[S]` or `[S, A]`; `params` (the model's parameters; for the
        default linear model `params["params"]["Dense_0"]["kernel"][:, 0]` is θ, also in
        `info["theta"]`); the soft `plan` of the learned reward; `metrics` with per-step
        `loss` (the objective, plus the L2 term), `feature_gap` (|expected − demo feature counts|)
        and `grad_norm` (NaN after the step it converged); `info` with `n_steps`,
        `converged`, and `standard_errors` when asked for.

    Raises:
        ValueError: bad demos, features, options, config or `key`.

    Warns:
        NotConvergedWarning: the plan of the learned reward (infinite horizon) did not reach
            its fixed point within the solver's iterations (`result.plan.converged` False).
    """
    config = make_config(MaxEntConfig, config, options)
    check_key(key)
    check_features(mdp, "maxent")
    stats = _statistics(mdp, demos, config)
    n_demos = demos.n_trajectories if isinstance(demos, Trajectories) else None
    if config.standard_errors and n_demos is None:
        raise ValueError("standard_errors need Trajectories: an occupancy carries no sample size")
    with reporting(progress) as report:
        result = jax.block_until_ready(_fit(mdp, stats, key, config, report))
    if config.standard_errors:
        info = dict(result.info)
        errors = _standard_errors(mdp, stats, result.params, config, n_demos)
        info["standard_errors"] = _theta(errors) if config.reward_model is None else errors
        result = dataclasses.replace(result, info=info)
    return warn_if_unconverged(result, mdp, "maxent")


def objective(
    mdp: TabularMDP, reward, demos, *, config: MaxEntConfig | None = None, **options: Any
) -> jnp.ndarray:
    """The objective `fit` minimises (without the L2 term), for a reward table `[S]`/`[S, A]`."""
    config = make_config(MaxEntConfig, config, options)
    stats = _statistics(mdp, demos, config)
    return _objective(mdp, stats, jnp.asarray(reward, stats.visits.dtype), config)


@pytree_dataclass
class _Statistics:
    """What the objectives need of the demos.

    Attributes:
        visits: `[H, S, A]` per-step visit frequencies (finite horizon) or `[S, A]`
            discounted ones (infinite), averaged over demos.
        weights: the steps' weights in the objective, shaped like `visits`.
        start: `[S]` distribution of the demos' first states.
        end_states: `[N]` each demo's last state.
        end_times: `[N]` its step index (the demo's length).
        end_weights: `[N]` `γ^T / N`: the dual subtracts the value where a demo's window ends.
    """

    visits: jnp.ndarray
    weights: jnp.ndarray
    start: jnp.ndarray
    end_states: jnp.ndarray
    end_times: jnp.ndarray
    end_weights: jnp.ndarray


def _objective_kind(mdp: TabularMDP, config: MaxEntConfig) -> str:
    """ "dual" or "likelihood": what `objective="auto"` means for this MDP."""
    if config.objective != "auto":
        return config.objective
    return "dual" if mdp.horizon is not None else "likelihood"


def _statistics(mdp: TabularMDP, demos, config: MaxEntConfig) -> _Statistics:
    if config.step_weights == "uniform" and _objective_kind(mdp, config) == "dual":
        raise ValueError(
            "step_weights='uniform' applies to objective='likelihood'; the dual weights step t "
            "by γ^t (for this MDP objective='auto' means 'dual')"
        )
    visits = demo_occupancy(mdp, demos)
    dtype = visits.dtype
    weights = visits
    if mdp.horizon is not None and config.step_weights == "discounted":
        weights = visits * (mdp.discount ** jnp.arange(mdp.horizon, dtype=dtype))[:, None, None]
    start = start_distribution(mdp, demos, visits)
    if not isinstance(demos, Trajectories):
        if config.step_weights == "uniform" and mdp.horizon is None:
            raise ValueError("step_weights='uniform' needs Trajectories, not an occupancy")
        none = jnp.zeros(0, jnp.int32)
        return _Statistics(visits, weights, start, none, none, jnp.zeros(0, dtype))
    if mdp.horizon is None and config.step_weights == "uniform":
        # The empirical occupancy of an infinite horizon is discounted: count plainly.
        mask = demos.mask.astype(dtype) / demos.n_trajectories
        s_idx = jnp.asarray(demos.observations)[:, :-1]
        weights = jnp.zeros_like(visits).at[s_idx, jnp.asarray(demos.actions)].add(mask)
    lengths = jnp.asarray(demos.lengths)
    ends = jnp.take_along_axis(jnp.asarray(demos.observations), lengths[:, None], axis=1)[:, 0]
    end_weights = mdp.discount ** lengths.astype(dtype) / demos.n_trajectories
    return _Statistics(visits, weights, start, ends, lengths, end_weights)


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
    # Gradients are only as exact as the fixed point: solve it to a few ulps of the float type.
    tol = 64 * float(jnp.finfo(reward.dtype).eps)
    return soft_value_iteration(
        mdp,
        reward,
        temperature=config.temperature,
        backup=config.backup,
        solver=config.solver,
        tol=tol,
        max_iterations=100_000,
    )


def _objective(mdp, stats: _Statistics, reward, config):
    plan = _log_policy(mdp, reward, config)
    if _objective_kind(mdp, config) == "likelihood":
        # Terminal rows and unvisited pairs carry no weight; where(…) keeps -inf·0 out.
        return -jnp.sum(jnp.where(stats.weights > 0, stats.weights * plan.log_policy, 0.0))
    r = jnp.broadcast_to(reward[:, None] if reward.ndim == 1 else reward, mdp.probs.shape[:2])
    if mdp.horizon is None:
        v_start, end_values = plan.v, plan.v[stats.end_states]
    else:
        v_start = plan.v[0]
        v_after = jnp.concatenate([plan.v, jnp.zeros_like(plan.v[:1])])  # V_H = 0
        end_values = v_after[stats.end_times, stats.end_states]
    value = jnp.dot(stats.start, v_start) - jnp.dot(stats.end_weights, end_values)
    demo_reward = jnp.sum(stats.weights * r)  # broadcasts over steps for a finite horizon
    return (value - demo_reward) / config.temperature


def _optimizer(config: MaxEntConfig) -> optax.GradientTransformation:
    if config.optimizer == "adam":
        return optax.adam(config.learning_rate)
    if config.optimizer == "sgd":
        return optax.sgd(config.learning_rate)
    return optax.lbfgs(config.learning_rate)


@partial(jax.jit, static_argnames=("config", "report"))
def _fit(mdp: TabularMDP, stats: _Statistics, key: jax.Array, config: MaxEntConfig, report):
    features = mdp.features
    params = _model(config).init(key, features)
    # Parameters in the MDP's float type (Flax initialises in float32).
    params = jax.tree.map(lambda p: p.astype(mdp.probs.dtype), params)

    def penalty(params):
        return 0.5 * config.l2 * sum(jnp.sum(p**2) for p in jax.tree.leaves(params))

    def value_and_grad(params, _):
        """(loss, gradient, |feature gap|), the gradient pushed through the reward by vjp."""
        reward, pull_back = jax.vjp(lambda p: _reward_table(mdp, config, p), params)
        loss, grad_reward = jax.value_and_grad(lambda r: _objective(mdp, stats, r, config))(reward)
        (grad,) = pull_back(grad_reward)
        grad = jax.tree.map(lambda g, p: g + config.l2 * p, grad, params)
        # τ·∂NLL/∂r = D_θ − D_demo: its features are the expected minus the demo counts.
        visits = config.temperature * grad_reward  # [S], or [S, A]
        if visits.ndim == 2 and features.ndim == 2:
            visits = jnp.sum(visits, axis=1)
        gap = jnp.tensordot(visits, features, axes=visits.ndim)
        return loss + penalty(params), grad, {"feature_gap": jnp.linalg.norm(gap)}

    def value(params):
        return _objective(mdp, stats, _reward_table(mdp, config, params), config) + penalty(params)

    out = minimize(
        value_and_grad,
        params,
        _optimizer(config),
        steps=config.steps,
        tol=config.tol,
        value_fn=value,
        report=report,
    )
    reward = _reward_table(mdp, config, out.params)
    plan = _log_policy(mdp, reward, config)
    info = {"n_steps": out.n_steps, "converged": out.converged}
    if config.reward_model is None:
        info["theta"] = _theta(out.params)
    return IRLResult(reward=reward, params=out.params, plan=plan, metrics=out.metrics, info=info)


def _theta(params) -> jnp.ndarray:
    """θ `[F]` of the default `LinearReward`."""
    return params["params"]["Dense_0"]["kernel"][:, 0]


def _standard_errors(mdp, stats, params, config, n_demos):
    """Standard errors from the inverse Hessian of the total objective (N times the mean's)."""
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    if flat.size > 2000:
        raise ValueError(f"standard_errors need a small model; this one has {flat.size} params")

    def total(flat_params):
        reward = _reward_table(mdp, config, unravel(flat_params))
        penalty = 0.5 * config.l2 * jnp.sum(flat_params**2)
        return n_demos * (_objective(mdp, stats, reward, config) + penalty)

    variances = jnp.diag(jnp.linalg.inv(jax.hessian(total)(flat)))
    if is_concrete(variances) and not bool(np.all(np.isfinite(variances) & (variances > 0))):
        raise ValueError(
            "the Hessian of the log-likelihood is singular at the estimate: some parameters "
            "are not identified by these demos, so they have no standard error"
        )
    return unravel(jnp.sqrt(variances))
