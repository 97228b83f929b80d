"""Entropy-regularised (soft) policy gradient: actor-critic on the maximum-entropy objective.

The policy maximises the soft return (Levine 2018 §4.2; Schulman, Abbeel & Chen 2017)

    J(π) = E[Σ_t γ^t (r_t − τ · log π(a_t | s_t))],

whose score-function gradient is `E[Σ_t ∇ log π(a_t|s_t) · Â_t]`, where `Â_t` is the
advantage of the soft reward `r̃_t = r_t − τ log π(a_t|s_t)` (the extra `−τ` from
differentiating `log π` itself has zero mean and is dropped, like any baseline). `Â_t` is
generalised advantage estimation (Schulman et al. 2016) on `r̃` with a learned soft value
`V(s) ≈ E_π[Σ_k γ^k r̃_{t+k} | s_t = s]` as the baseline; `gae_lambda=1` gives the soft
Monte-Carlo returns (bootstrapped only where a rollout or episode is cut short).

Each update collects an on-policy rollout of `num_envs × rollout_length` steps and takes one
gradient step on the actor and the critic. For a tabular softmax policy the fixed point is
`π(a|s) ∝ exp(Q^π(s, a)/τ)`, the soft-optimal policy that `irlax.mdp.soft_value_iteration`
computes. The actor is an `irlax.nets.Actor`: a categorical policy for discrete actions
(multi-categorical for `MultiDiscrete`), a Gaussian with a learned state-independent standard
deviation for continuous ones (sampled actions are clipped to the action space's bounds before
the env sees them; the gradient uses the log-density of the unclipped sample).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from irlax._checks import check_callable, check_env, check_key
from irlax._pytree import pytree_dataclass
from irlax.config import (
    check_config,
    require_hidden,
    require_optimizer,
    require_real,
    require_rollout_budget,
)
from irlax.nets.mlp import MLP
from irlax.nets.policies import Actor, head_for_space
from irlax.rl._common import (
    EpisodeStats,
    Result,
    Trainer,
    Transitions,
    env_params_or_default,
    flat_obs,
    reset_envs,
    step_envs,
    train_from,
    transition_reward,
)
from irlax.rl.ppo import generalized_advantages


@dataclasses.dataclass(frozen=True)
class SoftPGConfig:
    """Options of the soft policy gradient (all static).

    Attributes:
        total_steps: environment steps in all, over all parallel envs; training runs
            `total_steps // (num_envs * rollout_length)` updates.
        num_envs: parallel environments.
        rollout_length: steps each env takes per update (one on-policy batch).
        learning_rate: Adam step size, shared by actor and critic.
        anneal_lr: decay the step size linearly to 0 over the updates.
        max_grad_norm: clip the joint gradient to this global norm; None for no clipping.
        discount: the discount factor γ in [0, 1].
        temperature: τ > 0, the weight of the entropy: the soft reward is
            `r − τ log π(a|s)`.
        gae_lambda: λ in [0, 1] of generalised advantage estimation on the soft reward; 1 is
            the Monte-Carlo soft return minus the baseline.
        value_coef: weight of the critic's squared error in the joint loss.
        normalize_advantages: standardise the advantages within each batch (a per-batch
            rescaling of the step; off by default so the estimator stays unbiased).
        hidden: widths of the hidden layers of actor and critic; () makes both linear in the
            observation (a tabular softmax policy on one-hot observations).
        init_log_std: the initial log standard deviation of a Gaussian policy (continuous
            actions only).
    """

    total_steps: int = 500_000
    num_envs: int = 8
    rollout_length: int = 64
    learning_rate: float = 1e-3
    anneal_lr: bool = False
    max_grad_norm: float | None = 0.5
    discount: float = 0.99
    temperature: float = 0.01
    gae_lambda: float = 0.95
    value_coef: float = 0.5
    normalize_advantages: bool = False
    hidden: tuple[int, ...] = (64, 64)
    init_log_std: float = 0.0

    def __post_init__(self):
        require_rollout_budget(self)
        require_optimizer(self)
        require_real(self, "discount", lambda x: 0 <= x <= 1, "in [0, 1]")
        require_real(self, "temperature", lambda x: x > 0, "> 0")
        require_real(self, "gae_lambda", lambda x: 0 <= x <= 1, "in [0, 1]")
        require_real(self, "value_coef", lambda x: x >= 0, ">= 0")
        require_real(self, "init_log_std")
        require_hidden(self)


def make_policy(config: SoftPGConfig, env, env_params=None) -> Actor:
    """The actor of `config` for `env`'s action space (`irlax.nets.Actor`).

    Args:
        config: a `SoftPGConfig` (its `hidden` and `init_log_std`).
        env: the gymnax-style env.
        env_params: its parameters; None for the defaults.

    Returns:
        The `Actor`: `log_prob(params["actor"], x, action)`, `sample`, `mode`, `entropy` at
        features `x [n, D]` (flattened observations).

    Raises:
        ValueError: an action space that is not `Discrete`, `MultiDiscrete` or `Box`.
    """
    check_config(config, SoftPGConfig)
    check_env(env)
    env_params = env_params_or_default(env, env_params)
    head = head_for_space(env.action_space(env_params), name="soft_pg: the env's")
    return Actor(head, config.hidden, init_log_std=config.init_log_std)


@pytree_dataclass
class SoftPGState:
    """Everything the soft policy gradient carries from one update to the next.

    Attributes:
        params: `{"actor": ..., "critic": ...}`.
        opt_state: the optimiser's state.
        env_state: the parallel envs' states.
        obs: `[num_envs, ...]` the envs' current observations.
        stats: episode statistics of the envs.
        key: the PRNG key for what follows.
        env_steps: env steps taken so far (all envs).
    """

    params: dict
    opt_state: optax.OptState
    env_state: object
    obs: jnp.ndarray
    stats: EpisodeStats
    key: jax.Array
    env_steps: jnp.ndarray


def make_trainer(
    config: SoftPGConfig, env, env_params=None, reward_fn=None, terminal_reward_fn=None
) -> Trainer:
    """The soft policy gradient in pieces (see `irlax.rl._common.Trainer`).

    Args:
        config: a `SoftPGConfig`.
        env: a gymnax-style env (discrete or Box actions).
        env_params: the env's parameters; None for `env.default_params`.
        reward_fn: optional `reward_fn(reward_params, obs, action, next_obs) -> reward`
            replacing the env's reward (`action` as the env received it).

        terminal_reward_fn: optional, with `reward_fn`: the reward of a transition that ends
            the episode in a terminal state, in place of `reward_fn`'s (see `irlax.rl._common`).
    Returns:
        The `Trainer`, whose `update` returns the rollout's `Transitions` (`[rollout_length,
        num_envs]`). Its result's `params` are `{"actor", "critic"}`; `act_fn` samples the
        policy (or takes its mode) and `log_prob_fn` scores an action.

    Raises:
        ValueError: a bad config or action space.
    """
    check_config(config, SoftPGConfig)
    check_env(env)
    check_callable(reward_fn, "reward_fn")
    check_callable(terminal_reward_fn, "terminal_reward_fn")
    env_params = env_params_or_default(env, env_params)
    policy = make_policy(config, env, env_params)
    critic = MLP(hidden=config.hidden, out=1)
    tau_t = config.temperature
    n_updates = config.total_steps // (config.num_envs * config.rollout_length)
    if config.anneal_lr:
        learning_rate = optax.linear_schedule(config.learning_rate, 0.0, n_updates)
    else:
        learning_rate = config.learning_rate
    chain = [optax.adam(learning_rate)]
    if config.max_grad_norm is not None:
        chain.insert(0, optax.clip_by_global_norm(config.max_grad_norm))
    optimizer = optax.chain(*chain)

    head = policy.head

    def value_fn(params, obs):
        return critic.apply(params, flat_obs(obs, 1))[:, 0]

    def act_fn(params, obs, key, deterministic=False):
        return policy.act(params["actor"], flat_obs(obs, 0), key, deterministic)

    def log_prob_fn(params, obs, action):
        return policy.log_prob(params["actor"], flat_obs(obs, 0), action)

    def init(key):
        check_key(key)
        key, env_key, actor_key, critic_key = jax.random.split(key, 4)
        obs, env_state = reset_envs(env, env_params, env_key, config.num_envs)
        dummy = flat_obs(obs[:1], 1)
        params = {
            "actor": policy.init(actor_key, dummy),
            "critic": critic.init(critic_key, dummy),
        }
        return SoftPGState(
            params=params,
            opt_state=optimizer.init(params),
            env_state=env_state,
            obs=obs,
            stats=EpisodeStats.zeros(config.num_envs),
            key=key,
            env_steps=jnp.zeros((), jnp.int32),
        )

    def env_step(carry, _):
        state, reward_params = carry
        key, act_key, step_key = jax.random.split(state.key, 3)
        dist = policy.dist(state.params["actor"], flat_obs(state.obs, 1))
        action = head.sample(dist, act_key)
        env_action = head.to_env(action)
        obs, env_state, env_reward, terminated, truncated, info = step_envs(
            env, env_params, step_key, state.env_state, env_action
        )
        next_obs = info["final_observation"]
        reward = transition_reward(
            reward_fn,
            reward_params,
            state.obs,
            env_action,
            next_obs,
            env_reward,
            terminated,
            terminal_reward_fn,
        )
        done = jnp.logical_or(terminated, truncated)
        log_prob = head.log_prob(dist, env_action)
        taken = Transitions(state.obs, env_action, next_obs, terminated, truncated, log_prob)
        # The gradient needs the draw itself (a Gaussian's unclipped) and the learned reward.
        learn = {"action": action, "reward": reward.astype(jnp.float32)}
        state = state.replace(
            env_state=env_state,
            obs=obs,
            stats=state.stats.update(env_reward, done),
            key=key,
            env_steps=state.env_steps + config.num_envs,
        )
        return (state, reward_params), (taken, learn)

    def loss_fn(params, batch):
        taken, learn = batch
        t, n = learn["reward"].shape

        def merge(x):
            return jnp.reshape(x, (t * n, *x.shape[2:]))

        x = flat_obs(merge(taken.obs), 1)
        log_pi = jnp.reshape(policy.log_prob(params["actor"], x, merge(learn["action"])), (t, n))
        value = jnp.reshape(value_fn(params["critic"], merge(taken.obs)), (t, n))
        next_value = jnp.reshape(value_fn(params["critic"], merge(taken.next_obs)), (t, n))
        soft_reward = learn["reward"] - tau_t * jax.lax.stop_gradient(log_pi)
        # GAE on the soft reward; an ending (terminated or truncated) cuts the sums.
        advantages, _ = generalized_advantages(
            soft_reward,
            value,
            next_value,
            taken.terminated,
            taken.truncated,
            config.discount,
            config.gae_lambda,
        )
        advantages = jax.lax.stop_gradient(advantages)
        targets = advantages + jax.lax.stop_gradient(value)
        weights = advantages
        if config.normalize_advantages:
            weights = (weights - jnp.mean(weights)) / (jnp.std(weights) + 1e-8)
        policy_loss = -jnp.mean(log_pi * weights)
        value_loss = 0.5 * jnp.mean(jnp.square(value - targets))
        total = policy_loss + config.value_coef * value_loss
        return total, {
            "policy_loss": policy_loss,
            "value_loss": value_loss,
            "soft_reward": jnp.mean(soft_reward),
            "entropy": -jnp.mean(log_pi),
        }

    def update(state: SoftPGState, reward_params=None):
        (state, _), batch = jax.lax.scan(
            env_step, (state, reward_params), None, config.rollout_length
        )
        grads, info = jax.grad(loss_fn, has_aux=True)(state.params, batch)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        state = state.replace(params=params, opt_state=opt_state)
        metrics = {
            "episode_return": state.stats.mean_return(),
            "env_steps": state.env_steps,
            **info,
        }
        return state, metrics, batch[0]

    def result(state: SoftPGState, metrics: dict) -> Result:
        return Result(params=state.params, metrics=metrics, act_fn=act_fn, log_prob_fn=log_prob_fn)

    return Trainer(init=init, update=update, result=result, n_updates=n_updates)


def make_train(
    config: SoftPGConfig, env, env_params=None, reward_fn=None, terminal_reward_fn=None
) -> Callable:
    """`train(key, reward_params=None) -> Result`: the soft policy gradient from scratch.

    Jit it, or `jax.vmap` it over keys to train several seeds at once. Arguments as in
    `make_trainer`.
    """
    return train_from(make_trainer(config, env, env_params, reward_fn, terminal_reward_fn))
