"""Behaviour cloning: tabular (`fit`, smoothed counting) and neural (`make_train`).

**Tabular.** Behaviour cloning fits a policy to the demonstrated (state, action) pairs by maximum
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

**Neural** (`NeuralBCConfig`, `make_trainer`, `make_train`). The same maximum-likelihood
objective over a network's policy, `min_θ −(1/M) Σ_{(s, a) ∈ D} log π_θ(a | s)`, with the
policy head the env's action space gives (`irlax.nets.policies.head_for_space`: categorical,
multi-categorical, diagonal Gaussian or tanh-squashed Gaussian), an entropy bonus and an L2
penalty (as the reference library `imitation` has them):

    L(θ) = −(1/|B|) Σ_{(s, a) ∈ B} [log π_θ(a | s) + λ_H · H(π_θ(· | s))] + λ_2 · Σ_W ‖W‖²,

over minibatches `B` of the demos, `W` the network's weight matrices. One update is one
epoch: the training transitions shuffled with the update's key and cut into minibatches, one
Adam step each, under `lax.scan`. With one-hot observations and no hidden layer the policy is
a free table of logits and the minimiser (λ_H = λ_2 = 0) is the tabular `fit` with
`smoothing=0` at every demonstrated state (a test says so). Behaviour cloning learns only
where the expert went: its errors compound over an episode (Ross & Bagnell 2010; seed notes
003), which `irlax.algorithms.dagger` corrects.

Usage:

    from irlax.algorithms import bc
    train = bc.make_train(bc.NeuralBCConfig(epochs=20), env, env_params, demos)
    result = jax.jit(train)(key)            # or jax.jit(jax.vmap(train))(keys)
    result.policy.policy(obs, key)           # the cloned policy
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from irlax._pytree import float_dtype, pytree_dataclass
from irlax.algorithms._common import IRLResult, demo_occupancy
from irlax.algorithms._deep import (
    ExpertTransitions,
    ImitationResult,
    expert_argument,
    expert_transitions,
    train_from_demos,
)
from irlax.config import (
    check_config,
    make_config,
    require_bool,
    require_choice,
    require_hidden,
    require_int,
    require_real,
)
from irlax.data import Trajectories
from irlax.mdp import Plan, TabularMDP
from irlax.nets.mlp import MLP
from irlax.nets.policies import DiagonalGaussian, Head, TanhGaussian, head_for_space
from irlax.rl import Result, Trainer
from irlax.rl._common import env_params_or_default, flat_obs


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
        # Finite: an infinite pseudo-count made every probability inf/inf = NaN.
        require_real(self, "smoothing", lambda x: x >= 0, ">= 0")


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


# ---------------------------------------------------------------------------------------------
# Neural behaviour cloning.

Activation = Literal["tanh", "relu"]
BoxHead = Literal["gaussian", "tanh"]
ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu}

# A Gaussian head's log standard deviation is squashed smoothly into this range (as SAC's).
LOG_STD_MIN = -5.0
LOG_STD_MAX = 2.0


@dataclasses.dataclass(frozen=True)
class NeuralBCConfig:
    """Options of neural behaviour cloning (`make_trainer`, `make_train`).

    The defaults are those of the reference library `imitation` (1.0.1): a (32, 32) MLP, Adam
    at 1e-3, minibatches of 32, entropy weight 1e-3, no L2 penalty.

    Attributes:
        hidden: widths of the policy network's hidden layers; () makes the logits (or the
            Gaussian's mean and log standard deviation) linear in the observation.
        activation: "tanh" or "relu".
        learning_rate: Adam's step size (the initial one when `anneal_lr`).
        anneal_lr: decay the step size linearly to 0 over the `epochs` of a fit (which
            converges where a constant step keeps circling the optimum).
        epochs: passes over the training demos; one update (one row of the metrics) is one
            epoch.
        batch_size: transitions per minibatch (a gradient step); None for the whole training
            set in one batch. The last minibatch of an epoch holds the remainder.
        l2_weight: λ_2 ≥ 0, the weight of the L2 penalty `Σ_W ‖W‖²` on the network's weight
            matrices (biases are not penalised).
        entropy_weight: λ_H ≥ 0, the weight of the policy's entropy, a bonus added to the
            log-likelihood of every transition (the tanh-squashed Gaussian's is a one-sample
            estimate).
        heldout_fraction: the fraction of the demos' transitions held out of training (drawn
            with the training key), whose loss is reported every epoch; 0 for none.
        box: the head of a Box action space: "gaussian" (a diagonal Gaussian, clipped into the
            box for the env) or "tanh" (a tanh-squashed Gaussian inside the box, which needs
            finite bounds). Both have a state-dependent standard deviation.
        normalize_observations: standardise every observation feature by the mean and
            standard deviation of the demos' observations (fixed before training; a feature
            with no spread is only centred).
        eval_episodes: episodes of the current policy run after every epoch to report
            `episode_return` (JAX envs only); 0 for no evaluation.
        eval_max_steps: the most steps of an evaluation episode; None for the env's time limit
            (`max_steps_in_episode`).
        eval_deterministic: evaluate the policy's most probable action instead of a sample.
    """

    hidden: tuple[int, ...] = (32, 32)
    activation: Activation = "tanh"
    learning_rate: float = 1e-3
    anneal_lr: bool = False
    epochs: int = 20
    batch_size: int | None = 32
    l2_weight: float = 0.0
    entropy_weight: float = 1e-3
    heldout_fraction: float = 0.0
    box: BoxHead = "gaussian"
    normalize_observations: bool = True
    eval_episodes: int = 4
    eval_max_steps: int | None = None
    eval_deterministic: bool = False

    def __post_init__(self) -> None:
        require_hidden(self)
        require_choice(self, "activation", ACTIVATIONS)
        require_real(self, "learning_rate", lambda x: x > 0, "> 0")
        require_bool(self, "anneal_lr")
        require_int(self, "epochs", minimum=1)
        if self.batch_size is not None:
            require_int(self, "batch_size", minimum=1)
        require_real(self, "l2_weight", lambda x: x >= 0, ">= 0")
        require_real(self, "entropy_weight", lambda x: x >= 0, ">= 0")
        require_real(self, "heldout_fraction", lambda x: 0 <= x < 1, "in [0, 1)")
        require_choice(self, "box", BoxHead.__args__)
        require_int(self, "eval_episodes", minimum=0)
        if self.eval_max_steps is not None:
            require_int(self, "eval_max_steps", minimum=1)
        require_bool(self, "normalize_observations")
        require_bool(self, "eval_deterministic")


class Cloner(NamedTuple):
    """The pieces of a behaviour-cloned policy that `make_trainer` and DAgger share.

    Attributes:
        head: the policy head of the env's action space.
        init: `init(key, demo_obs [M, ...]) -> params`, the network's initial parameters and,
            with `normalize_observations`, under `"normalizer"` the mean and standard
            deviation of `demo_obs` that standardise its inputs (fixed, not trained).
        dist: `dist(params, x [..., D]) -> ` the head's distribution parameters.
        optimizer: the optax optimiser of the parameters (its schedule spans one fit of
            `epochs` epochs).
        fit_epoch: `fit_epoch(params, opt_state, key, obs [N, ...], action [N, ...], valid [N])
            -> (params, opt_state)`: one epoch of minibatch steps over the rows where `valid`.
        losses: `losses(params, key, obs, action, train [N], heldout [N]) -> dict` of
            `train_loss`, `heldout_loss` (mean −log π of the rows in each set; NaN for an
            empty set) and `entropy` (mean over the training rows).
        evaluate: `evaluate(params, key) -> (mean_return, steps)`: `eval_episodes` episodes
            of the policy in the env (NaN and 0 without evaluation).
        act_fn: `act_fn(params, obs, key, deterministic) -> action` for one observation.
        log_prob_fn: `log_prob_fn(params, obs, action) -> log π(action | obs)`.
        evaluates: whether `evaluate` runs episodes (a JAX env and `eval_episodes > 0`).
    """

    head: Head
    init: Callable
    dist: Callable
    optimizer: Any
    fit_epoch: Callable
    losses: Callable
    evaluate: Callable
    act_fn: Callable
    log_prob_fn: Callable
    evaluates: bool


def make_cloner(config: NeuralBCConfig, env, env_params, demo_obs, n_rows: int) -> Cloner:
    """The network, loss, optimiser and evaluation of neural behaviour cloning.

    Args:
        config: a `NeuralBCConfig`.
        env: the env whose action space fixes the head (and which evaluation runs).
        env_params: its parameters (not None).
        demo_obs: `[M, ...]` the demos' observations (their shape fixes the network's input
            width; their values are read by `init`, not here).
        n_rows: the most rows `fit_epoch` is given (static: it fixes the minibatches per
            epoch, `ceil(n_rows / batch_size)`).

    Raises:
        ValueError: an action space without a head (or a "tanh" box with infinite bounds),
            or evaluation without a time limit.
    """
    head = head_for_space(env.action_space(env_params), box=config.box)
    gaussian = isinstance(head, DiagonalGaussian | TanhGaussian)
    network = MLP(
        config.hidden,
        2 * head.n if gaussian else head.n,
        ACTIVATIONS[config.activation],
        0.01,
    )
    batch_size = n_rows if config.batch_size is None else min(config.batch_size, n_rows)
    n_batches = math.ceil(n_rows / batch_size)
    lr = config.learning_rate
    if config.anneal_lr:
        lr = optax.linear_schedule(lr, 0.0, config.epochs * n_batches)
    optimizer = optax.adam(lr)
    dtype = float_dtype()
    width = math.prod(demo_obs.shape[1:])

    # The input statistics are parameters, not constants of the program: a program compiled
    # for one demo set serves every other of its shape (see `irlax.algorithms._deep`).
    def init(key, demo_obs):
        params = network.init(key, jnp.zeros((1, width), dtype))
        if config.normalize_observations:
            demo_x = flat_obs(demo_obs, 1).astype(dtype)
            std = jnp.std(demo_x, axis=0)
            params = {
                **params,
                "normalizer": {
                    "shift": jnp.mean(demo_x, axis=0),
                    "scale": jnp.where(std > 1e-8, std, 1.0),
                },
            }
        return jax.tree.map(lambda p: p.astype(dtype), params)

    def features(params, x):
        if not config.normalize_observations:
            return x
        norm = jax.lax.stop_gradient(params["normalizer"])
        return (x - norm["shift"].astype(x.dtype)) / norm["scale"].astype(x.dtype)

    def dist(params, x):
        out = network.apply({"params": params["params"]}, features(params, x))
        if not gaussian:
            return out
        mean, raw = jnp.split(out, 2, axis=-1)
        # A smooth squash keeps gradients alive at the bounds, where clipping would zero them.
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (jnp.tanh(raw) + 1.0)
        return mean, log_std

    def per_row(params, key, obs, action):
        """`(−log π(a | s), H(π(· | s)))` of every row."""
        d = dist(params, flat_obs(obs, 1))
        return -head.log_prob(d, action), head.entropy(d, key)

    def l2(params):
        return sum(jnp.sum(w**2) for w in jax.tree.leaves(params) if w.ndim >= 2)

    def loss(params, key, obs, action, weights):
        nll, entropy = per_row(params, key, obs, action)
        total = jnp.sum(weights * (nll - config.entropy_weight * entropy))
        return total / jnp.maximum(jnp.sum(weights), 1.0) + config.l2_weight * l2(params)

    # Only the tanh-squashed Gaussian's entropy (a one-sample estimate) needs a key per step.
    keyed = isinstance(head, TanhGaussian) and config.entropy_weight > 0

    def fit_epoch(params, opt_state, key, obs, action, valid):
        perm_key, key = jax.random.split(key)
        # The valid rows first, in random order; then the rest, which weigh nothing.
        order = jnp.argsort(jnp.where(valid, jax.random.uniform(perm_key, valid.shape), 2.0))
        size = n_batches * batch_size
        n = order.shape[0]
        if size > n:
            order = jnp.concatenate([order, jnp.zeros(size - n, order.dtype)])
        idx = order[:size].reshape(n_batches, batch_size)
        w = (valid[idx] & (jnp.arange(size) < n).reshape(n_batches, batch_size)).astype(dtype)
        keys = jax.random.split(key, n_batches) if keyed else jnp.zeros(n_batches)

        def step(carry, batch):
            rows, w, k = batch

            def take(carry):
                params, opt_state = carry
                grads = jax.grad(loss)(params, k if keyed else None, obs[rows], action[rows], w)
                updates, opt_state = optimizer.update(grads, opt_state, params)
                return optax.apply_updates(params, updates), opt_state

            # A batch of padding only (DAgger's dataset before it fills) takes no step.
            return jax.lax.cond(jnp.any(w > 0), take, lambda c: c, carry), None

        (params, opt_state), _ = jax.lax.scan(step, (params, opt_state), (idx, w, keys))
        return params, opt_state

    def losses(params, key, obs, action, train, heldout):
        nll, entropy = per_row(params, key, obs, action)

        def mean(x, where):
            n = jnp.sum(where)
            return jnp.where(n > 0, jnp.sum(jnp.where(where, x, 0.0)) / jnp.maximum(n, 1), jnp.nan)

        return {
            "train_loss": mean(nll, train),
            "heldout_loss": mean(nll, heldout),
            "entropy": mean(entropy, train),
        }

    def act_fn(params, obs, key, deterministic=False):
        d = dist(params, flat_obs(obs, 0))
        action = jnp.where(deterministic, head.mode(d), head.sample(d, key))
        return head.to_env(action)

    def log_prob_fn(params, obs, action):
        return head.log_prob(dist(params, flat_obs(obs, 0)), action)

    evaluates = config.eval_episodes > 0 and not getattr(env, "is_vector", False)
    max_steps = config.eval_max_steps
    if evaluates and max_steps is None:
        max_steps = getattr(env_params, "max_steps_in_episode", None)
        if max_steps is None:
            max_steps = getattr(env, "max_steps_in_episode", None)
        if max_steps is None:
            raise ValueError(
                "eval_max_steps is required: the env has no time limit (max_steps_in_episode) "
                "to end evaluation episodes; or set eval_episodes=0"
            )
        max_steps = int(max_steps)

    def evaluate(params, key):
        if not evaluates:
            return jnp.full((), jnp.nan, dtype), jnp.zeros((), jnp.int32)

        def episode(key):
            reset_key, key = jax.random.split(key)
            obs, state = env.reset(reset_key, env_params)

            def step(carry, key):
                obs, state, active, ret, steps = carry
                act_key, env_key = jax.random.split(key)
                action = act_fn(params, obs, act_key, config.eval_deterministic)
                obs, state, reward, terminated, truncated, _ = env.step(
                    env_key, state, action, env_params
                )
                ret = ret + jnp.where(active, reward, 0.0).astype(dtype)
                steps = steps + active.astype(jnp.int32)
                active = active & ~(terminated | truncated)
                return (obs, state, active, ret, steps), None

            carry = (obs, state, jnp.array(True), jnp.zeros((), dtype), jnp.zeros((), jnp.int32))
            (_, _, _, ret, steps), _ = jax.lax.scan(step, carry, jax.random.split(key, max_steps))
            return ret, steps

        returns, steps = jax.vmap(episode)(jax.random.split(key, config.eval_episodes))
        return jnp.mean(returns), jnp.sum(steps)

    return Cloner(
        head=head,
        init=init,
        dist=dist,
        optimizer=optimizer,
        fit_epoch=fit_epoch,
        losses=losses,
        evaluate=evaluate,
        act_fn=act_fn,
        log_prob_fn=log_prob_fn,
        evaluates=evaluates,
    )


@pytree_dataclass
class NeuralBCState:
    """Everything neural BC carries from one epoch to the next.

    Attributes:
        params: the policy network's parameters.
        opt_state: Adam's state.
        train: bool `[M]`, the demo transitions trained on (the others are held out).
        env_steps: evaluation steps taken so far.
        key: the PRNG key of what comes next.
    """

    params: Any
    opt_state: Any
    train: jnp.ndarray
    env_steps: jnp.ndarray
    key: jax.Array


def make_trainer(config: NeuralBCConfig, env, env_params, demos) -> Trainer:
    """Neural behaviour cloning in pieces (see `irlax.rl.Trainer`); one update is one epoch.

    `init(key, expert=None)` and `update(state, expert=None)` take the demos' `ExpertTransitions`
    as data (None: `demos`, baked into the program; see `irlax.algorithms._deep`).

    Args:
        config: a `NeuralBCConfig`.
        env: a gymnax-style env (a host-stepped `gymnasium:` env trains too, without
            evaluation).
        env_params: its parameters; None for the defaults.
        demos: expert `Trajectories` of this env's observations and actions.

    Returns:
        A `Trainer` (`n_updates = epochs`; `update` returns no transitions)
        whose `result` is an `ImitationResult` with `reward_params` and `reward_fn` None.
        Metrics per epoch: `train_loss` and `heldout_loss` (mean −log π of the demo actions
        in each split after the epoch; `heldout_loss` NaN without a held-out split),
        `entropy` (mean policy entropy at the training observations), `episode_return` (mean
        env return of `eval_episodes` episodes of the policy; NaN without evaluation) and
        `env_steps` (evaluation steps so far).

    Raises:
        ValueError: a bad config; demos that do not fit the env's spaces (an action outside
            the action space, of the wrong shape or dtype), hold no transition, or leave no
            transition to train on or none to hold out.
    """
    check_config(config, NeuralBCConfig)
    env_params = env_params_or_default(env, env_params)
    given = expert_transitions(env, env_params, demos)
    m = given.size
    n_heldout = int(config.heldout_fraction * m)
    if config.heldout_fraction > 0 and not 1 <= n_heldout < m:
        raise ValueError(
            f"heldout_fraction={config.heldout_fraction} of the demos' {m} transitions holds "
            f"out {n_heldout}; it must leave at least one to hold out and one to train on"
        )
    cloner = make_cloner(config, env, env_params, given.obs, m - n_heldout)

    def init(key, expert: ExpertTransitions | None = None):
        expert = expert_argument(expert, given)
        key, init_key, split_key = jax.random.split(key, 3)
        params = cloner.init(init_key, expert.obs)
        # The n_heldout rows of smallest uniform draw: a uniformly random subset.
        rank = jnp.argsort(jnp.argsort(jax.random.uniform(split_key, (m,))))
        heldout = rank < n_heldout
        return NeuralBCState(
            params=params,
            opt_state=cloner.optimizer.init(params),
            train=~heldout,
            env_steps=jnp.zeros((), jnp.int32),
            key=key,
        )

    def update(state: NeuralBCState, expert: ExpertTransitions | None = None):
        expert = expert_argument(expert, given)
        key, fit_key, loss_key, eval_key = jax.random.split(state.key, 4)
        params, opt_state = cloner.fit_epoch(
            state.params, state.opt_state, fit_key, expert.obs, expert.action, state.train
        )
        metrics = cloner.losses(
            params, loss_key, expert.obs, expert.action, state.train, ~state.train
        )
        episode_return, steps = cloner.evaluate(params, eval_key)
        env_steps = state.env_steps + steps
        metrics["episode_return"] = episode_return
        metrics["env_steps"] = env_steps
        state = state.replace(params=params, opt_state=opt_state, env_steps=env_steps, key=key)
        return state, metrics, None

    def result(state: NeuralBCState, metrics: dict) -> ImitationResult:
        policy = Result(
            params=state.params,
            metrics=metrics,
            act_fn=cloner.act_fn,
            log_prob_fn=cloner.log_prob_fn,
        )
        return ImitationResult(policy=policy, reward_params=None, metrics=metrics)

    return Trainer(init=init, update=update, result=result, n_updates=config.epochs)


def make_train(config: NeuralBCConfig, env, env_params, demos):
    """`train(key, expert=None) -> ImitationResult`: neural BC for `config.epochs` epochs.

    Pure in its key: `jax.jit(train)`, or `jax.jit(jax.vmap(train, in_axes=(0, None)))(keys,
    expert)` for many seeds, `expert = expert_transitions(env, env_params, demos)` (compiled once
    for every demo set of its shape; None bakes `demos` into the program). See `make_trainer`
    for the arguments and the metrics.
    """
    return train_from_demos(make_trainer(config, env, env_params, demos))
