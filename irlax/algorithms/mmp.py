"""Maximum margin planning (Ratliff, Bagnell & Zinkevich 2006), in rewards.

The reward is linear, `r = w·F` with `F` the MDP's features, and the expert's path should
beat every other path by a margin that grows with how different that path is: its loss
`l_i·μ`, with `l_i(s, a) = loss_scale · (1 − [demo i visits (s, a)])` (Ratliff's choice: the
discounted number of steps off the demonstrated path). With slack for what cannot be
separated, the problem is the regularised structured hinge loss (Ratliff et al. 2006, §3;
maximisation of reward where the paper minimises cost, and the paper's per-example
normalisers β_i all 1/N):

    c(w) = λ/2 |w|² + (1/N) Σ_i [ max_{μ ∈ G_i} (w·F + l_i)·μ − w·F·μ_i ],

where `G_i` is the set of (discounted) occupancies of policies started where demo i starts
and `μ_i` is demo i's own occupancy. The inner max is loss-augmented planning: value
iteration on the reward `w·F + l_i`. `c` is convex; a subgradient is (Danskin)

    g = λ w + (1/N) Σ_i F (μ*_i − μ_i),   μ*_i the loss-augmented optimum,

and the paper descends it with decaying steps (§4, "subgradient method"), here an Optax
optimiser: "sgd" with `α_t = learning_rate / √(t + 1)` (the paper's), or "adam" (the
default). The objective is not monotone along subgradient steps, so the best iterate wins.

Per demo or averaged (`per_demo`): the optimal policy of a reward does not depend on where an
episode starts and occupancy is linear in the start distribution, so when every demo has the
same loss map the N loss-augmented plans collapse into one, from the demos' start
distribution, against their average occupancy. `per_demo=False` (the default) uses that one
plan with the shared loss map `l = loss_scale · (1 − [some demo visits (s, a)])`: exactly
the objective above with every `l_i` replaced by `l`, and N times cheaper. `per_demo=True` is
the paper verbatim: one loss-augmented plan per trajectory (vmapped), each from its own start
state with its own loss map. An exact expert occupancy is one "demo" either way.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any, Literal, get_args

import jax
import jax.numpy as jnp
import optax

from irlax._checks import check_key
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
from irlax.mdp import TabularMDP, occupancy, value_iteration
from irlax.optim import minimize

Optimizer = Literal["sgd", "adam"]
OPTIMIZERS = get_args(Optimizer)


@dataclasses.dataclass(frozen=True)
class MMPConfig:
    """Options of `mmp.fit`.

    Attributes:
        steps: the number of subgradient steps (the loop has no other stopping rule; the
            subgradient does not vanish at a kink, so its norm is no test of convergence).
        learning_rate: the step size; for "sgd" the first of `learning_rate / √(t + 1)`.
        optimizer: "adam" (the default: its steps do not depend on the scale of the
            features) or "sgd" (the paper's subgradient method, steps decaying as 1/√t).
        l2: λ, the weight of the regulariser `λ/2 |w|²` (the paper's trade-off between margin
            and slack, as `1/C` of a structured SVM); must be > 0 for a bounded answer.
        loss_scale: the loss of each step off the demonstrated path (the margin unit).
        per_demo: plan once per trajectory with its own start state and loss map (exact to
            the paper), rather than once with the shared loss map from the demos' start
            distribution (see the module docstring). It costs N plans and N forward passes
            per step, vmapped; on a CPU a vmapped forward pass is several times slower per
            demo than a single one (its scatter is batched), so expect well over N times the
            time of the default.
    """

    steps: int = 200
    learning_rate: float = 0.1
    optimizer: Optimizer = "adam"
    l2: float = 1e-2
    loss_scale: float = 1.0
    per_demo: bool = False

    def __post_init__(self) -> None:
        require_choice(self, "optimizer", OPTIMIZERS)
        require_int(self, "steps", minimum=1)
        require_real(self, "learning_rate", lambda x: x > 0, "> 0")
        require_real(self, "l2", lambda x: x > 0, "> 0")
        require_real(self, "loss_scale", lambda x: x >= 0, ">= 0")
        require_bool(self, "per_demo")


def fit(
    mdp: TabularMDP,
    demos,
    *,
    key: jax.Array,
    config: MMPConfig | None = None,
    **options: Any,
) -> IRLResult:
    """Maximum margin planning: a linear reward under which the demos win by a margin.

    Ratliff, Bagnell & Zinkevich (2006), "Maximum margin planning", §3 (the regularised
    structured hinge objective) and §4 (its subgradient, by loss-augmented planning).
    Jit-compiled; vmaps over `key` and over `demos`.

    Args:
        mdp: the MDP, with `features` `[S, F]` or `[S, A, F]`.
        demos: `Trajectories` of state and action indices, or an exact expert occupancy
            (`[H, S, A]`, or `[S, A]` for an infinite horizon); a pair (s, a) counts as
            visited where the occupancy is positive.
        key: PRNG key; unused (the method is deterministic, w starts at 0), accepted for the
            common signature (None is accepted too; anything else must be a key).
        config: an `MMPConfig`; `options` override its fields.

    Returns:
        An `IRLResult`: `reward` `w·F` (`[S]` for state features, `[S, A]` otherwise) for the
        iterate with the lowest objective (subgradient steps are not monotone); `params` that
        `w` `[F]`; `plan` the `value_iteration` plan of that reward (without the loss);
        `metrics` with per-step `loss` (c(w_t), w_0 = 0), `hinge` (its slack part) and
        `grad_norm` (`|g_t|`), each `[steps]`; `info` with `best_step` (t of the returned w;
        `steps` if it is the iterate after the last step) and
        `loss_maps` (`[N, S, A]`: one shared map, N = 1, unless `per_demo`).

    Raises:
        ValueError: bad demos, features, options, config or `key`.

    Warns:
        NotConvergedWarning: the final plan (infinite horizon) did not reach its fixed point.
    """
    config = make_config(MMPConfig, config, options)
    if key is not None:  # unused; None is fine, but an integer is a mix-up of arguments
        check_key(key)
    starts, occupancies = _statistics(mdp, demos, config)
    return warn_if_unconverged(_fit(mdp, starts, occupancies, config), mdp, "mmp")


def objective(
    mdp: TabularMDP, demos, params, *, config: MMPConfig | None = None, **options: Any
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The objective `c(w)` that `fit` minimises, and a subgradient of it.

    `c(w) = λ/2 |w|² + (1/N) Σ_i [max_μ (w·F + l_i)·μ − w·F·μ_i]` and
    `g = λ w + (1/N) Σ_i F (μ*_i − μ_i)` (Ratliff et al. 2006, §3–4), with the
    demos, loss maps and `per_demo` choice of `fit`.

    Args:
        mdp: the MDP, with features.
        demos: as for `fit`.
        params: `w`, `[F]`.
        config: an `MMPConfig` (only `l2`, `loss_scale` and `per_demo` matter here);
            `options` override its fields.

    Returns:
        `(c(w), g)`: a scalar and `[F]`.

    Raises:
        ValueError: bad demos, features, params, options or config.
    """
    config = make_config(MMPConfig, config, options)
    starts, occupancies = _statistics(mdp, demos, config)
    w = jnp.asarray(params)
    if w.shape != (mdp.n_features,):
        raise ValueError(f"params must have shape [F] = ({mdp.n_features},), got {w.shape}")
    value, _, grad = _objective_jit(mdp, starts, occupancies, w.astype(starts.dtype), config)
    return value, grad


def _statistics(mdp: TabularMDP, demos, config: MMPConfig):
    """Validated demos as starts `[N, S]` and discounted occupancies `[N, S, A]`."""
    check_features(mdp, "mmp")
    expert_occupancy = demo_occupancy(mdp, demos)
    if config.per_demo and isinstance(demos, Trajectories):
        return _per_demo_statistics(mdp, demos, expert_occupancy.dtype)
    starts = start_distribution(mdp, demos, expert_occupancy)[None]
    return starts, _discounted(mdp, expert_occupancy)[None]


def _discounted(mdp: TabularMDP, occ: jnp.ndarray) -> jnp.ndarray:
    """`Σ_t γ^t d_t` as `[S, A]` (an infinite horizon's occupancy is already discounted)."""
    if occ.ndim == 2:
        return occ
    return jnp.tensordot(mdp.discount ** jnp.arange(occ.shape[0], dtype=occ.dtype), occ, axes=1)


def _per_demo_statistics(mdp: TabularMDP, demos: Trajectories, dtype):
    """Each trajectory's start `[N, S]` and discounted occupancy `[N, S, A]`."""
    n, t = demos.actions.shape
    obs = jnp.asarray(demos.observations)
    weight = demos.mask.astype(dtype) * mdp.discount ** jnp.arange(t, dtype=dtype)
    rows = jnp.broadcast_to(jnp.arange(n)[:, None], (n, t))
    occ = (
        jnp.zeros((n, mdp.n_states, mdp.n_actions), dtype)
        .at[rows, obs[:, :-1], jnp.asarray(demos.actions)]
        .add(weight)
    )
    starts = jax.nn.one_hot(obs[:, 0], mdp.n_states, dtype=dtype)
    return starts, occ


def _optimizer(config: MMPConfig) -> optax.GradientTransformation:
    if config.optimizer == "adam":
        return optax.adam(config.learning_rate)
    return optax.sgd(lambda t: config.learning_rate / jnp.sqrt(t + 1.0))


def _objective(mdp: TabularMDP, starts, occupancies, w, config: MMPConfig):
    """(c(w), its hinge part, a subgradient); see `objective`."""
    features = check_features(mdp, "mmp")  # [S, A, F]
    dtype = mdp.probs.dtype
    starts = starts.astype(dtype)
    occupancies = occupancies.astype(dtype)
    loss_maps = _loss_maps(occupancies, config)
    expert_features = jnp.einsum("nsa,saf->f", occupancies, features) / occupancies.shape[0]

    def augmented(reward, start, loss_map):
        """max_μ (r + l)·μ over occupancies from `start`, and its feature counts."""
        augmented_mdp = dataclasses.replace(mdp, init=start)
        log_pi = value_iteration(augmented_mdp, reward + loss_map).log_policy
        occ = _discounted(mdp, occupancy(augmented_mdp, log_pi))
        return jnp.sum((reward + loss_map) * occ), jnp.einsum("sa,saf->f", occ, features)

    reward = features @ w  # [S, A]
    best, best_features = jax.vmap(augmented, in_axes=(None, 0, 0))(reward, starts, loss_maps)
    hinge = jnp.mean(best) - w @ expert_features
    grad = jnp.mean(best_features, axis=0) - expert_features + config.l2 * w
    return hinge + 0.5 * config.l2 * (w @ w), hinge, grad


_objective_jit = jax.jit(_objective, static_argnames=("config",))


def _loss_maps(occupancies: jnp.ndarray, config: MMPConfig) -> jnp.ndarray:
    """`l_i(s, a) = loss_scale · (1 − [demo i visits (s, a)])`, `[N, S, A]`."""
    return config.loss_scale * (occupancies <= 0).astype(occupancies.dtype)


@partial(jax.jit, static_argnames=("config",))
def _fit(mdp: TabularMDP, starts, occupancies, config: MMPConfig):
    dtype = mdp.probs.dtype

    def value_and_grad(w, _):
        value, hinge, grad = _objective(mdp, starts, occupancies, w, config)
        return value, grad, {"hinge": hinge}

    # Subgradient steps do not decrease c(w) monotonically: keep the best iterate, and run
    # the whole budget (the subgradient need not vanish at the optimum, a kink, so only an
    # exactly zero one stops early).
    out = minimize(
        value_and_grad,
        jnp.zeros(mdp.n_features, dtype),
        _optimizer(config),
        steps=config.steps,
        tol=0.0,
        keep_best=True,
    )
    best_w = out.params
    reward = mdp.features @ best_w
    plan = value_iteration(mdp, reward)
    info = {
        "best_step": out.best_step,
        "loss_maps": _loss_maps(occupancies.astype(dtype), config),
    }
    return IRLResult(reward=reward, params=best_w, plan=plan, metrics=out.metrics, info=info)
