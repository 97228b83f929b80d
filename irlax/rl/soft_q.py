"""Soft Q-learning for discrete actions (Haarnoja et al. 2017; Levine 2018 §4.1).

The DQN recipe with the hard max replaced by the soft one. Act with the Boltzmann policy
`π(a | s) = exp((Q(s, a) − V(s)) / τ)` (optionally mixed with uniform actions), store the
transitions in a replay buffer, and regress `Q(s, a)` on the soft target

    y = r + γ · (1 − terminated) · V_target(s'),   V(s) = τ · log Σ_a exp(Q(s, a) / τ),

with `V_target` from a target network refreshed by periodic copy or Polyak averaging. Its fixed
point is the soft Bellman equation of the maximum-entropy objective
`E[Σ_t γ^t (r_t + τ·H(π(·|s_t)))]` with the true (expected, not optimistic) dynamics, so on a
tabular world the learned Q is `irlax.mdp.soft_value_iteration(..., backup="expected")`.

Episodes cut by a time limit are bootstrapped (only `terminated` zeroes the target), and the
reward of a stored transition is recomputed from `reward_fn` at every gradient step, so an IRL
method that changes `reward_params` between updates never trains on stale rewards.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Literal, get_args

import jax
import jax.numpy as jnp
import optax

from irlax._checks import check_callable, check_env, check_key
from irlax._pytree import pytree_dataclass
from irlax.config import (
    check_config,
    require_choice,
    require_hidden,
    require_int,
    require_optimizer,
    require_real,
    require_rollout_budget,
)
from irlax.nets.mlp import MLP
from irlax.nets.policies import Categorical, head_for_space
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
from irlax.rl.replay import ReplayBuffer

TargetUpdate = Literal["copy", "polyak"]
Loss = Literal["huber", "mse"]
TARGET_UPDATES, LOSSES = get_args(TargetUpdate), get_args(Loss)


@dataclasses.dataclass(frozen=True)
class SoftQConfig:
    """Options of soft Q-learning (every field fixes shapes or the program, so all are static).

    Attributes:
        total_steps: environment steps in all, over all parallel envs; training runs
            `total_steps // (num_envs * rollout_length)` updates.
        num_envs: parallel environments.
        rollout_length: steps each env takes per update, before the update's gradient steps.
        gradient_steps: gradient steps per update, each on a fresh minibatch from the buffer.
        buffer_size: capacity of the replay buffer in transitions (a circular array; the
            oldest are overwritten).
        batch_size: transitions per minibatch, drawn uniformly with replacement.
        learning_starts: transitions the buffer must hold before gradient steps begin
            (at most `buffer_size`).
        learning_rate: Adam step size.
        anneal_lr: decay the step size linearly to 0 over the gradient steps (stochastic
            approximation needs a vanishing step to converge exactly).
        max_grad_norm: clip gradients to this global norm; None for no clipping.
        discount: the discount factor γ in [0, 1].
        temperature: τ > 0, the entropy temperature: `V = τ logsumexp(Q / τ)` and the policy
            is `softmax(Q / τ)`; as τ → 0, Q-learning.
        epsilon: probability in [0, 1] of a uniformly random action instead of a Boltzmann
            one while collecting data. Soft Q-learning is off-policy, so this changes what is
            seen, not what is learned; 1 explores uniformly.
        target_update: "copy" (the target network takes the online parameters every
            `target_period` gradient steps, Mnih et al. 2015) or "polyak" (after every step,
            `target ← (1 − tau)·target + tau·online`).
        target_period: gradient steps between copies (target_update="copy").
        tau: weight in (0, 1] of the online parameters in a Polyak step
            (target_update="polyak").
        loss: "mse" (half the squared TD error) or "huber" (Huber with δ = 1, Mnih 2015).
        hidden: widths of the Q-network's hidden layers; () makes Q linear in the
            observation (tabular on one-hot observations).
    """

    total_steps: int = 100_000
    num_envs: int = 4
    rollout_length: int = 1
    gradient_steps: int = 1
    buffer_size: int = 50_000
    batch_size: int = 64
    learning_starts: int = 1_000
    learning_rate: float = 1e-3
    anneal_lr: bool = False
    max_grad_norm: float | None = 10.0
    discount: float = 0.99
    temperature: float = 0.1
    epsilon: float = 0.0
    target_update: TargetUpdate = "copy"
    target_period: int = 500
    tau: float = 0.005
    loss: Loss = "mse"
    hidden: tuple[int, ...] = (64, 64)

    def __post_init__(self):
        for name in (
            "gradient_steps",
            "buffer_size",
            "batch_size",
            "target_period",
        ):
            require_int(self, name, minimum=1)
        require_int(self, "learning_starts", minimum=0)
        if self.learning_starts > self.buffer_size:
            raise ValueError(
                f"learning_starts must be at most buffer_size={self.buffer_size} (the buffer "
                f"could never hold that many), got {self.learning_starts}"
            )
        require_rollout_budget(self)
        require_optimizer(self)
        require_real(self, "discount", lambda x: 0 <= x <= 1, "in [0, 1]")
        require_real(self, "temperature", lambda x: x > 0, "> 0")
        require_real(self, "epsilon", lambda x: 0 <= x <= 1, "in [0, 1]")
        require_real(self, "tau", lambda x: 0 < x <= 1, "in (0, 1]")
        require_choice(self, "target_update", TARGET_UPDATES)
        require_choice(self, "loss", LOSSES)
        require_hidden(self)


@pytree_dataclass
class SoftQState:
    """Everything soft Q-learning carries from one update to the next.

    Attributes:
        params: the online Q-network's parameters.
        target_params: the target network's parameters.
        opt_state: the optimiser's state.
        env_state: the parallel envs' states.
        obs: `[num_envs, ...]` the envs' current observations.
        buffer: the replay buffer.
        stats: episode statistics of the envs.
        key: the PRNG key for what follows.
        env_steps: env steps taken so far (all envs).
        grad_steps: gradient steps taken so far.
    """

    params: dict
    target_params: dict
    opt_state: optax.OptState
    env_state: object
    obs: jnp.ndarray
    buffer: ReplayBuffer
    stats: EpisodeStats
    key: jax.Array
    env_steps: jnp.ndarray
    grad_steps: jnp.ndarray


def soft_value(q: jnp.ndarray, temperature: float) -> jnp.ndarray:
    """`V = τ logsumexp(Q / τ)` over the last axis: the plain soft maximum, that of
    `irlax.mdp.soft_value_iteration`'s default.

    Levine (2018) §4.2, "explicit temperature"; Haarnoja et al. (2017) eq. 4 for discrete
    actions.
    """
    return temperature * jax.nn.logsumexp(q / temperature, axis=-1)


def make_trainer(
    config: SoftQConfig, env, env_params=None, reward_fn=None, terminal_reward_fn=None
) -> Trainer:
    """Soft Q-learning in pieces (see `irlax.rl._common.Trainer`).

    Args:
        config: a `SoftQConfig`.
        env: a gymnax-style env with a discrete action space.
        env_params: the env's parameters; None for `env.default_params`.
        reward_fn: optional `reward_fn(reward_params, obs, action, next_obs) -> reward`
            replacing the env's reward; evaluated on each sampled minibatch with the
            `reward_params` of the current update.

        terminal_reward_fn: optional, with `reward_fn`: the reward of a transition that ends
            the episode in a terminal state, in place of `reward_fn`'s (see `irlax.rl._common`).
    Returns:
        The `Trainer`, whose `update` returns its `Transitions` (`[rollout_length, num_envs]`,
        `log_prob` that of the behaviour policy, the Boltzmann policy mixed with `epsilon`
        uniform actions); its result's `q_fn(params, obs) -> [A]` gives the soft Q-values,
        `act_fn` samples the Boltzmann policy `softmax(Q / τ)` (the mode when deterministic)
        and `log_prob_fn` scores an action under it.

    Raises:
        ValueError: a bad config, or an env whose actions are not discrete.
    """
    check_config(config, SoftQConfig)
    check_env(env)
    check_callable(reward_fn, "reward_fn")
    check_callable(terminal_reward_fn, "terminal_reward_fn")
    env_params = env_params_or_default(env, env_params)
    head = head_for_space(env.action_space(env_params), name="soft_q: the env's")
    if not isinstance(head, Categorical):
        raise ValueError(
            "soft_q needs a discrete action space (with .n), got "
            f"{type(env.action_space(env_params)).__name__}; use irlax.rl.sac for continuous "
            "actions"
        )
    n_actions = head.n
    network = MLP(hidden=config.hidden, out=n_actions)
    tau_t = config.temperature

    def q_batch(params, obs):
        """Q-values `[n, A]` of a batch of observations `[n, ...]`."""
        return network.apply(params, flat_obs(obs, 1))

    def q_fn(params, obs):
        return q_batch(params, obs[None])[0]

    def act_fn(params, obs, key, deterministic=False):
        logits = q_fn(params, obs) / tau_t
        return jnp.where(deterministic, head.mode(logits), head.sample(logits, key))

    def log_prob_fn(params, obs, action):
        """log of the Boltzmann policy `softmax(Q(s, ·)/τ)` at `action`."""
        return head.log_prob(q_fn(params, obs) / tau_t, action)

    batch_per_update = config.num_envs * config.rollout_length
    n_updates = config.total_steps // batch_per_update
    # The first update whose buffer holds `learning_starts` transitions; the step-size
    # schedule spans exactly the gradient steps that follow.
    first_learning = max(-(-config.learning_starts // batch_per_update) - 1, 0)
    total_grad_steps = max((n_updates - first_learning) * config.gradient_steps, 1)
    if config.anneal_lr:
        learning_rate = optax.linear_schedule(config.learning_rate, 0.0, total_grad_steps)
    else:
        learning_rate = config.learning_rate
    chain = [optax.adam(learning_rate)]
    if config.max_grad_norm is not None:
        chain.insert(0, optax.clip_by_global_norm(config.max_grad_norm))
    optimizer = optax.chain(*chain)

    def init(key):
        check_key(key)
        key, env_key, net_key = jax.random.split(key, 3)
        obs, env_state = reset_envs(env, env_params, env_key, config.num_envs)
        params = network.init(net_key, flat_obs(obs[:1], 1))
        return SoftQState(
            params=params,
            target_params=params,
            opt_state=optimizer.init(params),
            env_state=env_state,
            obs=obs,
            buffer=ReplayBuffer.empty(config.buffer_size, obs[0], jnp.int32(0), jnp.float32(0)),
            stats=EpisodeStats.zeros(config.num_envs),
            key=key,
            env_steps=jnp.zeros((), jnp.int32),
            grad_steps=jnp.zeros((), jnp.int32),
        )

    def behaviour(params, obs, key):
        """Boltzmann actions, each replaced by a uniform one with probability ε, and their
        log-probabilities under that mixture, `log((1 − ε)·π(a|s) + ε/A)`."""
        n = obs.shape[0]
        soft_key, uniform_key, coin_key = jax.random.split(key, 3)
        uniform, log_uniform = head.uniform(uniform_key, (n,))
        if config.epsilon == 1.0:
            return uniform, log_uniform
        logits = q_batch(params, obs) / tau_t
        boltzmann = head.sample(logits, soft_key)
        if config.epsilon == 0.0:
            return boltzmann, head.log_prob(logits, boltzmann)
        explore = jax.random.uniform(coin_key, (n,)) < config.epsilon
        action = jnp.where(explore, uniform, boltzmann)
        log_prob = jnp.logaddexp(
            math.log1p(-config.epsilon) + head.log_prob(logits, action),
            math.log(config.epsilon) + log_uniform,
        )
        return action, log_prob

    def env_step(state: SoftQState, _):
        key, act_key, step_key = jax.random.split(state.key, 3)
        action, log_prob = behaviour(state.params, state.obs, act_key)
        obs, env_state, reward, terminated, truncated, info = step_envs(
            env, env_params, step_key, state.env_state, action
        )
        final_obs = info["final_observation"]
        buffer = state.buffer.add(state.obs, action, reward, final_obs, terminated)
        stats = state.stats.update(reward, jnp.logical_or(terminated, truncated))
        taken = Transitions(state.obs, action, final_obs, terminated, truncated, log_prob)
        state = state.replace(
            env_state=env_state,
            obs=obs,
            buffer=buffer,
            stats=stats,
            key=key,
            env_steps=state.env_steps + config.num_envs,
        )
        return state, taken

    def loss_fn(params, target_params, batch, reward_params):
        reward = transition_reward(
            reward_fn,
            reward_params,
            batch.obs,
            batch.action,
            batch.next_obs,
            batch.reward,
            batch.terminated,
            terminal_reward_fn,
        )
        q_next = q_batch(target_params, batch.next_obs)
        v_next = soft_value(q_next, tau_t)
        continues = 1.0 - batch.terminated.astype(v_next.dtype)
        target = jax.lax.stop_gradient(reward + config.discount * continues * v_next)
        q = q_batch(params, batch.obs)
        q_taken = jnp.take_along_axis(q, batch.action[:, None], axis=1)[:, 0]
        error = q_taken - target
        if config.loss == "huber":
            loss = jnp.mean(optax.huber_loss(error, delta=1.0))
        else:
            loss = 0.5 * jnp.mean(jnp.square(error))
        return loss, jnp.mean(q_taken)

    def gradient_step(carry, key):
        params, target_params, opt_state, grad_steps, reward_params, buffer = carry
        batch = buffer.sample(key, config.batch_size)
        (loss, q_mean), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            params, target_params, batch, reward_params
        )
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        grad_steps = grad_steps + 1
        if config.target_update == "polyak":
            target_params = optax.incremental_update(params, target_params, config.tau)
        else:
            refresh = grad_steps % config.target_period == 0
            target_params = jax.tree.map(
                lambda new, old: jnp.where(refresh, new, old), params, target_params
            )
        carry = (params, target_params, opt_state, grad_steps, reward_params, buffer)
        return carry, (loss, q_mean)

    def update(state: SoftQState, reward_params=None):
        state, transitions = jax.lax.scan(env_step, state, None, config.rollout_length)
        key, learn_key = jax.random.split(state.key)
        keys = jax.random.split(learn_key, config.gradient_steps)
        carry = (
            state.params,
            state.target_params,
            state.opt_state,
            state.grad_steps,
            reward_params,
            state.buffer,
        )

        def learn(carry):
            carry, (loss, q_mean) = jax.lax.scan(gradient_step, carry, keys)
            return carry, jnp.mean(loss).astype(jnp.float32), jnp.mean(q_mean).astype(jnp.float32)

        def wait(carry):
            nan = jnp.full((), jnp.nan, jnp.float32)
            return carry, nan, nan

        ready = state.buffer.size >= max(config.learning_starts, 1)
        carry, loss, q_mean = jax.lax.cond(ready, learn, wait, carry)
        params, target_params, opt_state, grad_steps, _, _ = carry
        q_now = q_batch(params, state.obs)
        entropy = head.entropy(q_now / tau_t)
        state = state.replace(
            params=params,
            target_params=target_params,
            opt_state=opt_state,
            grad_steps=grad_steps,
            key=key,
        )
        metrics = {
            "episode_return": state.stats.mean_return(),
            "env_steps": state.env_steps,
            "loss": loss,
            "q_mean": q_mean,
            "entropy": jnp.mean(entropy),
        }
        return state, metrics, transitions

    def result(state: SoftQState, metrics: dict) -> Result:
        return Result(
            params=state.params,
            metrics=metrics,
            act_fn=act_fn,
            q_fn=q_fn,
            log_prob_fn=log_prob_fn,
        )

    return Trainer(init=init, update=update, result=result, n_updates=n_updates)


def make_train(
    config: SoftQConfig, env, env_params=None, reward_fn=None, terminal_reward_fn=None
) -> Callable:
    """`train(key, reward_params=None) -> Result`: soft Q-learning from scratch.

    Jit it, or `jax.vmap` it over keys to train several seeds at once. Arguments as in
    `make_trainer`.
    """
    return train_from(make_trainer(config, env, env_params, reward_fn, terminal_reward_fn))
