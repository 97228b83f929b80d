"""DAgger, dataset aggregation (Ross, Gordon & Bagnell 2011).

Behaviour cloning learns only the states the expert visits; the learner's first mistake takes
it where it was never taught, and its mistakes compound: a per-step error ε costs up to `T²ε`
over `T` steps (Ross & Bagnell 2010, Theorem 2.1). DAgger lets the expert label the states the
learner itself visits (Ross et al. 2011, Algorithm 3.1):

    D ← the demos; π̂_1 ← behaviour cloning on D
    for i = 1 … N:
        π_i = β_i π* + (1 − β_i) π̂_i            (per step, the expert acts with probability β_i)
        roll out π_i; label every visited state s with the expert's action π*(s): D_i
        D ← D ∪ D_i;  π̂_{i+1} ← behaviour cloning on D

whose cost is within `O(uTε_N)` of the expert's, linear in `T` (Theorem 3.2, `u` the cost of
recovering from one mistake). Here one update is one round (`i`, counted from 0 in the
metrics): a rollout of `rollout_length` steps in each of `num_envs` envs (episodes run on
across rounds), its labels appended to a dataset of fixed capacity (demos + rounds × steps per
round, so everything jits and vmaps), and `bc.epochs` epochs of neural behaviour cloning
(`irlax.algorithms.bc`) on everything so far, from the previous round's parameters
(`warm_start`) or from fresh ones. `init` clones the demos (π̂_1).

β schedules: "constant" `β_i = beta`; "linear" `β_i = max(0, 1 − i / beta_rampdown_rounds)`
(the reference library `imitation`'s); "exponential" `β_i = beta^i` (Ross et al.'s
`β_i = p^{i−1}` with rounds counted from 1). The decaying two start with a round of the
expert alone (`β_0 = 1`).

The expert is any `expert(obs, key) -> action` of one observation that JAX can trace (an
`irlax.rl.Result.policy`, a tabular policy, a scripted controller), or, with
`expert_on_host=True`, any Python callable `expert(obs) -> action` of one NumPy observation
(a script, a person answering at the keyboard), called through an ordered `io_callback` at
every step (which rules out `jax.vmap`). An expert's action outside the env's action space is
refused: at `make_trainer` on a demo observation, and, on the host, at every call.

Usage:

    from irlax.algorithms import dagger
    train = dagger.make_train(dagger.DAggerConfig(), env, env_params, demos, expert)
    result = jax.jit(train)(key)            # or jax.jit(jax.vmap(train))(keys)
    result.policy.policy(obs, key)           # the learner
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import io_callback

from irlax._pytree import float_dtype, pytree_dataclass
from irlax.algorithms._deep import (
    ExpertTransitions,
    ImitationResult,
    expert_argument,
    expert_transitions,
    train_from_demos,
)
from irlax.algorithms.bc import NeuralBCConfig, make_cloner
from irlax.config import (
    check_config,
    require_bool,
    require_choice,
    require_int,
    require_real,
)
from irlax.data.rollout import check_against_space, space_info
from irlax.rl import EpisodeStats, Result, Trainer
from irlax.rl._common import env_params_or_default, reset_envs, step_envs

BetaSchedule = Literal["constant", "linear", "exponential"]


@dataclasses.dataclass(frozen=True)
class DAggerConfig:
    """Options of DAgger.

    Attributes:
        bc: the behaviour cloning of every round (an `irlax.algorithms.bc.NeuralBCConfig`):
            its `epochs` are the epochs of each round's fit (and of the initial fit on the
            demos), its `heldout_fraction` holds out that fraction of the demos, and its
            evaluation settings give `episode_return`.
        rounds: N, the rounds of rollout, labelling and retraining (the updates).
        num_envs: parallel envs rolled out in each round.
        rollout_length: steps taken in each env per round; a round labels
            `num_envs * rollout_length` states.
        beta_schedule: how the probability β_i that the expert acts falls over rounds:
            "constant" (β_i = beta), "linear" (β_i = max(0, 1 − i / beta_rampdown_rounds)) or
            "exponential" (β_i = beta^i), rounds i counted from 0.
        beta: the constant β, or the base p of the exponential schedule, in [0, 1].
        beta_rampdown_rounds: the rounds over which the linear schedule falls from 1 to 0;
            None for `rounds`.
        warm_start: start each round's fit from the previous round's parameters (with a
            fresh optimiser state); otherwise from freshly initialised parameters.
    """

    bc: NeuralBCConfig = dataclasses.field(default_factory=lambda: NeuralBCConfig(epochs=4))
    rounds: int = 10
    num_envs: int = 4
    rollout_length: int = 128
    beta_schedule: BetaSchedule = "exponential"
    beta: float = 0.5
    beta_rampdown_rounds: int | None = None
    warm_start: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.bc, NeuralBCConfig):
            raise ValueError(
                f"bc must be an irlax.algorithms.bc.NeuralBCConfig, got {type(self.bc).__name__}"
            )
        for name in ("rounds", "num_envs", "rollout_length"):
            require_int(self, name, minimum=1)
        require_choice(self, "beta_schedule", BetaSchedule.__args__)
        require_real(self, "beta", lambda x: 0 <= x <= 1, "in [0, 1]")
        if self.beta_rampdown_rounds is not None:
            require_int(self, "beta_rampdown_rounds", minimum=1)
        require_bool(self, "warm_start")

    @property
    def steps_per_round(self) -> int:
        """States labelled per round: `num_envs * rollout_length`."""
        return self.num_envs * self.rollout_length


def beta_at(config: DAggerConfig, round_index) -> jnp.ndarray:
    """β_i, the probability that the expert acts in round `round_index` (from 0)."""
    i = jnp.asarray(round_index, float_dtype())
    if config.beta_schedule == "constant":
        return jnp.full_like(i, config.beta)
    if config.beta_schedule == "linear":
        rampdown = config.beta_rampdown_rounds or config.rounds
        return jnp.clip(1.0 - i / rampdown, 0.0, 1.0)
    return jnp.asarray(config.beta, i.dtype) ** i


@pytree_dataclass
class DAggerState:
    """Everything DAgger carries from one round to the next.

    Attributes:
        params: the learner's parameters.
        opt_state: its optimiser's state.
        obs: `[num_envs, ...]` the envs' current observations.
        env_state: the envs' states.
        stats: episode statistics of the rollouts (the mixture's, under the env's reward).
        data_obs: `[C, ...]` the aggregated observations (demos first), C the capacity.
        data_action: `[C, ...]` their expert actions.
        train: bool `[C]`, the rows trained on (filled, and not held out).
        heldout: bool `[C]`, the demo rows held out.
        rounds_done: int32 rounds taken.
        env_steps: int32 env steps taken (rollouts and evaluations).
        key: the PRNG key of what comes next.
    """

    params: Any
    opt_state: Any
    obs: jnp.ndarray
    env_state: Any
    stats: EpisodeStats
    data_obs: jnp.ndarray
    data_action: jnp.ndarray
    train: jnp.ndarray
    heldout: jnp.ndarray
    rounds_done: jnp.ndarray
    env_steps: jnp.ndarray
    key: jax.Array


def make_trainer(
    config: DAggerConfig,
    env,
    env_params,
    demos,
    expert: Callable,
    *,
    expert_on_host: bool = False,
) -> Trainer:
    """DAgger in pieces (see `irlax.rl.Trainer`); one update is one round.

    `init(key, demo_data=None)` takes the demos' `ExpertTransitions` as data (None: `demos`,
    baked into the program; see `irlax.algorithms._deep`); `update(state, demo_data=None)`
    reads them from the state's dataset.

    Args:
        config: a `DAggerConfig`.
        env: a gymnax-style env, or a host vector env (`gymnasium:`) holding `num_envs`
            copies (then without evaluation: `episode_return` is NaN).
        env_params: its parameters; None for the defaults.
        demos: expert `Trajectories` of this env's observations and actions, the initial
            dataset.
        expert: the expert that labels states: `expert(obs, key) -> action` for one
            observation, traceable by JAX; or, with `expert_on_host`, `expert(obs) -> action`
            of one NumPy observation, called on the host.
        expert_on_host: call `expert` on the host (an ordered `io_callback`; no `jax.vmap`).

    Returns:
        A `Trainer` (`n_updates = rounds`; `update` returns no transitions) whose
        `result` is an `ImitationResult` with `reward_params` and `reward_fn` None. Metrics per
        round, after its fit: `train_loss`, `heldout_loss`, `entropy` (as neural BC's, over
        the aggregated data), `beta` (β_i of the round's rollout), `expert_labels` (states
        the expert has labelled in the rounds so far), `rollout_return` (mean env return of
        the latest finished rollout episode of each env, the mixture's; NaN until one
        finishes), `episode_return` (mean env return of `bc.eval_episodes` episodes of the
        learner; NaN without evaluation) and `env_steps` (rollout and evaluation steps so far).

    Raises:
        ValueError: a bad config; demos that do not fit the env or hold no transition; an
            expert that is not callable, cannot be called (or traced) as described, or
            returns an action outside the env's action space on a demo observation.
    """
    check_config(config, DAggerConfig)
    if not isinstance(expert_on_host, bool):
        raise ValueError(f"expert_on_host must be a bool, got {expert_on_host!r}")
    if not callable(expert):
        raise ValueError(f"expert must be a callable policy, got {type(expert).__name__}")
    env_params = env_params_or_default(env, env_params)
    given = expert_transitions(env, env_params, demos)
    m = given.size
    n_heldout = int(config.bc.heldout_fraction * m)
    if config.bc.heldout_fraction > 0 and not 1 <= n_heldout < m:
        raise ValueError(
            f"bc.heldout_fraction={config.bc.heldout_fraction} of the demos' {m} transitions "
            f"holds out {n_heldout}; it must leave at least one to hold out and one to train on"
        )
    n_envs, length = config.num_envs, config.rollout_length
    per_round = config.steps_per_round
    capacity = m + config.rounds * per_round
    cloner = make_cloner(config.bc, env, env_params, given.obs, capacity)
    info = space_info(env.action_space(env_params), "the env's action space")
    label_dtype = given.action.dtype
    label_shape = tuple(given.action.shape[1:])
    expert_actions = _expert_labeller(
        expert, expert_on_host, info, given.obs[0], label_dtype, label_shape
    )

    def fit(params, opt_state, key, data_obs, data_action, train):
        def epoch(carry, key):
            params, opt_state = carry
            return cloner.fit_epoch(params, opt_state, key, data_obs, data_action, train), None

        keys = jax.random.split(key, config.bc.epochs)
        (params, opt_state), _ = jax.lax.scan(epoch, (params, opt_state), keys)
        return params, opt_state

    def init(key, demo_data: ExpertTransitions | None = None):
        demo = expert_argument(demo_data, given)
        key, init_key, split_key, fit_key, reset_key = jax.random.split(key, 5)
        params = cloner.init(init_key, demo.obs)
        # The n_heldout demo rows of smallest uniform draw: a uniformly random subset.
        rank = jnp.argsort(jnp.argsort(jax.random.uniform(split_key, (m,))))
        rows = jnp.arange(capacity)
        heldout = jnp.zeros(capacity, bool).at[:m].set(rank < n_heldout)
        train = (rows < m) & ~heldout
        pad = capacity - m
        data_obs = jnp.concatenate(
            [demo.obs, jnp.zeros((pad, *demo.obs.shape[1:]), demo.obs.dtype)]
        )
        data_action = jnp.concatenate([demo.action, jnp.zeros((pad, *label_shape), label_dtype)])
        params, opt_state = fit(
            params, cloner.optimizer.init(params), fit_key, data_obs, data_action, train
        )
        obs, env_state = reset_envs(env, env_params, reset_key, n_envs)
        return DAggerState(
            params=params,
            opt_state=opt_state,
            obs=obs,
            env_state=env_state,
            stats=EpisodeStats.zeros(n_envs),
            data_obs=data_obs,
            data_action=data_action,
            train=train,
            heldout=heldout,
            rounds_done=jnp.zeros((), jnp.int32),
            env_steps=jnp.zeros((), jnp.int32),
            key=key,
        )

    act = jax.vmap(cloner.act_fn, in_axes=(None, 0, 0, None))

    def update(state: DAggerState, demo_data: ExpertTransitions | None = None):
        expert_argument(demo_data, given)  # only checked: the demos are in `state.data_obs`
        key, fit_key, init_key, loss_key, eval_key = jax.random.split(state.key, 5)
        beta = beta_at(config, state.rounds_done)
        params = state.params

        def env_step(carry, _):
            env_state, obs, stats, key = carry
            key, learner_key, expert_key, coin_key, env_key = jax.random.split(key, 5)
            learner = act(params, obs, jax.random.split(learner_key, n_envs), False)
            label = expert_actions(obs, expert_key)
            by_expert = jax.random.uniform(coin_key, (n_envs,)) < beta
            chosen = jnp.where(
                by_expert.reshape((n_envs,) + (1,) * len(label_shape)),
                label.astype(learner.dtype),
                learner,
            )
            next_obs, env_state, reward, terminated, truncated, _ = step_envs(
                env, env_params, env_key, env_state, chosen
            )
            stats = stats.update(reward, jnp.logical_or(terminated, truncated))
            return (env_state, next_obs, stats, key), (obs, label)

        (env_state, obs, stats, key), (visited, labels) = jax.lax.scan(
            env_step, (state.env_state, state.obs, state.stats, key), None, length
        )
        offset = m + state.rounds_done * per_round
        flat_obs = visited.reshape((per_round, *visited.shape[2:])).astype(state.data_obs.dtype)
        flat_labels = labels.reshape((per_round, *label_shape))
        zero = jnp.zeros((), offset.dtype)
        start = (offset,) + (zero,) * (state.data_obs.ndim - 1)
        data_obs = jax.lax.dynamic_update_slice(state.data_obs, flat_obs, start)
        data_action = jax.lax.dynamic_update_slice(
            state.data_action, flat_labels, (offset,) + (zero,) * len(label_shape)
        )
        rows = jnp.arange(capacity)
        train = state.train | ((rows >= offset) & (rows < offset + per_round))

        if config.warm_start:
            start_params = params
        else:
            start_params = cloner.init(init_key, state.data_obs[:m])
        params, opt_state = fit(
            start_params,
            cloner.optimizer.init(start_params),
            fit_key,
            data_obs,
            data_action,
            train,
        )
        metrics = cloner.losses(params, loss_key, data_obs, data_action, train, state.heldout)
        episode_return, eval_steps = cloner.evaluate(params, eval_key)
        rounds_done = state.rounds_done + 1
        env_steps = state.env_steps + per_round + eval_steps
        metrics.update(
            beta=beta,
            expert_labels=rounds_done * per_round,
            rollout_return=stats.mean_return(),
            episode_return=episode_return,
            env_steps=env_steps,
        )
        state = state.replace(
            params=params,
            opt_state=opt_state,
            obs=obs,
            env_state=env_state,
            stats=stats,
            data_obs=data_obs,
            data_action=data_action,
            train=train,
            rounds_done=rounds_done,
            env_steps=env_steps,
            key=key,
        )
        return state, metrics, None

    def result(state: DAggerState, metrics: dict) -> ImitationResult:
        policy = Result(
            params=state.params,
            metrics=metrics,
            act_fn=cloner.act_fn,
            log_prob_fn=cloner.log_prob_fn,
        )
        return ImitationResult(policy=policy, reward_params=None, metrics=metrics)

    return Trainer(init=init, update=update, result=result, n_updates=config.rounds)


def make_train(
    config: DAggerConfig,
    env,
    env_params,
    demos,
    expert: Callable,
    *,
    expert_on_host: bool = False,
):
    """`train(key, expert=None) -> ImitationResult`: DAgger for `config.rounds` rounds.

    `train`'s `expert` is the demos' data, not the expert policy: pure in its key,
    `jax.jit(train)`, or `jax.jit(jax.vmap(train, in_axes=(0, None)))(keys, demo_data)` for many
    seeds (a JAX env and expert), `demo_data = expert_transitions(env, env_params, demos)`
    (compiled once for every demo set of its shape; None bakes `demos` into the program). See
    `make_trainer` for the arguments and the metrics.
    """
    return train_from_demos(
        make_trainer(config, env, env_params, demos, expert, expert_on_host=expert_on_host)
    )


def _expert_labeller(expert, on_host, info, probe_obs, dtype, shape):
    """`labels(obs [n, ...], key) -> [n, *shape]` the expert's actions, after checking the
    expert on one demo observation (`probe_obs`)."""

    def checked(actions, where):
        actions = np.asarray(actions)
        try:
            check_against_space("expert actions", actions, info, 1, True, True)
        except ValueError as e:
            raise ValueError(
                f"the expert must return actions in the env's action space ({where}): {e}"
            ) from e
        return actions.astype(dtype)

    if on_host:

        def host_labels(obs):
            return checked(np.stack([np.asarray(expert(o)) for o in np.asarray(obs)]), "on host")

        try:
            probe = np.asarray(expert(np.asarray(probe_obs)))
        except Exception as e:  # any failure of the user's callable, named
            raise ValueError(
                f"expert cannot be called as expert(obs) on a demo observation: {e}"
            ) from e
        checked(probe[None], "on a demo observation")

        def labels(obs, key):
            struct = jax.ShapeDtypeStruct((obs.shape[0], *shape), dtype)
            return io_callback(host_labels, struct, obs, ordered=True)

        return labels

    try:
        jax.eval_shape(expert, probe_obs, jax.random.key(0))
        probe = expert(probe_obs, jax.random.key(0))
    except Exception as e:  # any failure of the user's callable, named
        raise ValueError(
            "expert cannot be called and traced as expert(obs, key) on a demo observation "
            f"(a Python callable that JAX cannot trace needs expert_on_host=True): {e}"
        ) from e
    checked(np.asarray(probe)[None], "on a demo observation")

    def labels(obs, key):
        keys = jax.random.split(key, obs.shape[0])
        return jax.vmap(expert)(obs, keys).astype(dtype).reshape((obs.shape[0], *shape))

    return labels
