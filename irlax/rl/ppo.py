"""Proximal Policy Optimization (Schulman et al. 2017), jitted end to end in the PureJaxRL style.

One update is a rollout of `rollout_length` steps in each of `num_envs` parallel envs, the
generalized advantage estimates of that rollout (Schulman et al. 2016, eq. 16), then
`update_epochs` passes of minibatch gradient steps on the clipped surrogate objective
(Schulman et al. 2017, eq. 7) plus a value loss and an entropy bonus (eq. 9). The whole of
training is `lax.scan` over updates, so `jax.jit(jax.vmap(make_train(...)))(keys)` trains many
seeds at once.

The actor (`irlax.nets.Actor`) and the critic are separate `MLP`s. Discrete action spaces get
a categorical policy over the actor's logits (`MultiDiscrete` ones a multi-categorical);
`Box` spaces get a diagonal Gaussian whose mean is the actor's output and whose log standard
deviation is a learned vector independent of the state. The Gaussian sample is clipped to the
box only when it is sent to the env; its log-probability (and so the importance ratio) is that
of the unclipped sample, as in the reference implementations.

Episodes that end by a time limit (truncated, not terminated) are bootstrapped: the TD error of
the last step uses `discount * V(final_observation)`, the value of the observation the action led
to before the automatic reset; a terminated step bootstraps nothing.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from irlax._checks import check_callable, check_env, check_key
from irlax._pytree import float_dtype, pytree_dataclass
from irlax.config import (
    check_config,
    require_bool,
    require_choice,
    require_hidden,
    require_int,
    require_optimizer,
    require_real,
    require_rollout_budget,
)
from irlax.envs.wrappers import RunningMeanVar
from irlax.nets.mlp import MLP
from irlax.nets.policies import Actor, head_for_space
from irlax.rl._common import (
    EpisodeStats,
    Result,
    RewardFn,
    Trainer,
    Transitions,
    env_params_or_default,
    flat_obs,
    reset_envs,
    step_envs,
    train_from,
    transition_reward,
)

Activation = Literal["tanh", "relu"]
ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu}

# Normalised observations are clipped to this many standard deviations (as Gymnasium's
# NormalizeObservation + TransformObservation(clip) pair, and PureJaxRL, do).
_OBS_CLIP = 10.0


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """Options of PPO.

    The defaults are PureJaxRL's CartPole-v1 settings with a 10x larger step size and twice the
    epochs; they train CartPole-v1 to a mean episode return of 475 or more within 100k env steps
    (all of 48 seeds tried: first 475 after about 20-25k steps, at the latest after 49k).

    Attributes:
        total_steps: the env-step budget; training runs
            `total_steps // (num_envs * rollout_length)` updates (at least one).
        num_envs: parallel envs stepped together.
        rollout_length: steps taken in each env per update (the batch is
            `num_envs * rollout_length` transitions).
        update_epochs: passes over each batch.
        num_minibatches: minibatches each pass is split into; must divide the batch.
        learning_rate: Adam's step size (the initial one when `anneal_lr`).
        anneal_lr: decay the step size linearly to 0 over training.
        discount: γ, the discount of returns.
        gae_lambda: λ of generalized advantage estimation (Schulman et al. 2016): 0 is the
            one-step TD error, 1 the Monte Carlo return minus the value.
        clip_eps: ε of the clipped surrogate: the ratio of new to old policy is clipped to
            `[1 - ε, 1 + ε]` (Schulman et al. 2017, eq. 7); also the clip range of the value
            update when `clip_value_loss`.
        entropy_coef: weight c₂ of the entropy bonus (eq. 9). It plays the role of the
            temperature of maximum-entropy RL, but PPO's objective is not the soft one: the
            bonus is the entropy of the current policy at visited states, not a soft return.
        value_coef: weight c₁ of the value loss (eq. 9).
        max_grad_norm: gradients are clipped to this global norm before Adam.
        hidden: widths of the hidden layers of the actor and of the critic (each its own MLP).
        activation: "tanh" or "relu".
        normalize_advantages: standardise advantages within each minibatch.
        normalize_observations: standardise observations by a running mean and variance held
            in the train state (frozen during a rollout, updated after it) and clip them to ±10;
            `Result.params["obs_norm"]` then holds the statistics, which `act_fn` applies.
        normalize_rewards: divide the rewards learned from by the running standard deviation
            of their discounted sum (per env, restarted at each episode's end), as Gymnasium's
            `NormalizeReward` and Stable-Baselines3's `VecNormalize(norm_reward=True)` do; the
            statistics are held in the train state and updated after each rollout, before the
            rollout's rewards are scaled. A positive scale leaves the optimal policy unchanged
            and keeps the value targets near unit scale, so that a reward of large magnitude
            (a learned one, e.g. AIRL's `f − log π`) cannot swamp the policy's gradient in the
            clipped global norm with the value loss's. `mean_reward` stays unscaled.
        clip_value_loss: clip the value update to `clip_eps` around the rollout's values and
            take the larger of the clipped and unclipped squared errors (as PPO2 and PureJaxRL
            do); otherwise plain squared error.
        init_log_std: initial log standard deviation of the Gaussian policy (Box actions only).
    """

    total_steps: int = 100_000
    num_envs: int = 4
    rollout_length: int = 128
    update_epochs: int = 8
    num_minibatches: int = 4
    learning_rate: float = 2.5e-3
    anneal_lr: bool = True
    discount: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    entropy_coef: float = 0.01
    value_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden: tuple[int, ...] = (64, 64)
    activation: Activation = "tanh"
    normalize_advantages: bool = True
    normalize_observations: bool = False
    normalize_rewards: bool = False
    clip_value_loss: bool = True
    init_log_std: float = 0.0

    def __post_init__(self) -> None:
        require_rollout_budget(self)
        for name in ("update_epochs", "num_minibatches"):
            require_int(self, name, minimum=1)
        batch = self.num_envs * self.rollout_length
        if batch % self.num_minibatches:
            raise ValueError(
                f"num_minibatches must divide num_envs * rollout_length = {batch}, got "
                f"{self.num_minibatches}"
            )
        for name in (
            "anneal_lr",
            "normalize_advantages",
            "normalize_observations",
            "normalize_rewards",
            "clip_value_loss",
        ):
            require_bool(self, name)
        require_optimizer(self)
        require_real(self, "discount", lambda x: 0 <= x <= 1, "in [0, 1]")
        require_real(self, "gae_lambda", lambda x: 0 <= x <= 1, "in [0, 1]")
        require_real(self, "clip_eps", lambda x: x > 0, "> 0")
        require_real(self, "entropy_coef", lambda x: x >= 0, ">= 0")
        require_real(self, "value_coef", lambda x: x >= 0, ">= 0")
        require_real(self, "max_grad_norm", lambda x: x > 0, "> 0")
        require_real(self, "init_log_std")
        require_hidden(self)
        require_choice(self, "activation", ACTIVATIONS)

    @property
    def batch_size(self) -> int:
        """Transitions per update: `num_envs * rollout_length`."""
        return self.num_envs * self.rollout_length

    @property
    def n_updates(self) -> int:
        """Updates `make_train` runs: `total_steps // batch_size`."""
        return self.total_steps // self.batch_size


# ---------------------------------------------------------------------------------------------
# The mathematics, as standalone functions.


def generalized_advantages(
    rewards: jnp.ndarray,
    values: jnp.ndarray,
    next_values: jnp.ndarray,
    terminated: jnp.ndarray,
    truncated: jnp.ndarray,
    discount: float,
    gae_lambda: float,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Generalized advantage estimates of a rollout with automatic resets.

    Schulman et al. 2016 (eq. 16), `Â_t = Σ_l (γλ)^l δ_{t+l}` summed within an episode, with
    `δ_t = r_t + γ (1 − terminated_t) V(s'_t) − V(s_t)`. `s'_t` is the observation action `t`
    led to, before any reset: for a step that did not end the episode it is `s_{t+1}`; for a
    truncated one it is the final observation (so a time limit bootstraps its value); for a
    terminated one its value is dropped. The sum stops where an episode ends (terminated or
    truncated), and at the end of the rollout, where `V(s'_{T-1})` bootstraps it.

    Args:
        rewards: `[T, ...]` rewards.
        values: `[T, ...]` `V(s_t)`.
        next_values: `[T, ...]` `V(s'_t)`.
        terminated: `[T, ...]` bool, the episode ended in a terminal state at step t.
        truncated: `[T, ...]` bool, the episode was cut off (time limit) at step t.
        discount: γ.
        gae_lambda: λ.

    Returns:
        `(advantages, returns)`, each `[T, ...]`; `returns = advantages + values` are the
        critic's λ-return targets.
    """
    terminated = terminated.astype(rewards.dtype)
    done = jnp.logical_or(terminated > 0, truncated).astype(rewards.dtype)
    deltas = rewards + discount * (1.0 - terminated) * next_values - values

    def backward(carry, x):
        delta, not_done = x
        advantage = delta + discount * gae_lambda * not_done * carry
        return advantage, advantage

    _, advantages = jax.lax.scan(
        backward, jnp.zeros_like(deltas[0]), (deltas, 1.0 - done), reverse=True
    )
    return advantages, advantages + values


def scale_rewards(
    statistics: RunningMeanVar,
    discounted: jnp.ndarray,
    rewards: jnp.ndarray,
    done: jnp.ndarray,
    discount: float,
) -> tuple[RunningMeanVar, jnp.ndarray, jnp.ndarray]:
    """Rewards divided by the running standard deviation of their discounted sums.

    The reward scaling of Gymnasium's `NormalizeReward` and Stable-Baselines3's `VecNormalize`
    (Engstrom et al. 2020, "Implementation matters in deep policy gradients", §3): each env
    keeps `G ← γ G + r_t`, restarted at 0 after a step that ends its episode; the running
    variance of every `G` of the rollout is updated, and each reward is divided by
    `√(var + 1e-8)`. The mean is not subtracted: a shift of the rewards would change which
    episode lengths the policy prefers, a positive scale changes nothing optimal.

    Args:
        statistics: the running statistics (shape `()`) of the sums so far.
        discounted: `[...]` each env's sum before the rollout.
        rewards: `[T, ...]` the rollout's rewards.
        done: `[T, ...]` bool, the episode ended (terminated or truncated) at step t.
        discount: γ.

    Returns:
        `(statistics, discounted, scaled_rewards)`: the updated statistics, each env's sum
        after the rollout, and `rewards / √(var + 1e-8)` under the updated variance.
    """

    def step(total, x):
        reward, ended = x
        total = discount * total + reward
        return jnp.where(ended, jnp.zeros_like(total), total), total

    discounted, sums = jax.lax.scan(step, discounted, (rewards, done))
    statistics = statistics.update(sums.reshape(-1))
    return statistics, discounted, rewards / jnp.sqrt(statistics.var + 1e-8)


def clipped_surrogate_loss(
    log_prob: jnp.ndarray,
    old_log_prob: jnp.ndarray,
    advantages: jnp.ndarray,
    clip_eps: float,
) -> jnp.ndarray:
    """The negated clipped surrogate objective, a loss to minimise.

    Schulman et al. 2017 (eq. 7): `L^CLIP = E_t[min(ρ_t Â_t, clip(ρ_t, 1−ε, 1+ε) Â_t)]`,
    `ρ_t = π(a_t|s_t) / π_old(a_t|s_t)`; returns `−L^CLIP`.

    Args:
        log_prob: `[B]` log-probabilities of the actions under the current policy.
        old_log_prob: `[B]` their log-probabilities under the policy that collected them.
        advantages: `[B]` advantage estimates.
        clip_eps: ε.

    Returns:
        A scalar.
    """
    ratio = jnp.exp(log_prob - old_log_prob)
    unclipped = ratio * advantages
    clipped = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantages
    return -jnp.mean(jnp.minimum(unclipped, clipped))


# ---------------------------------------------------------------------------------------------
# The trainer.


@pytree_dataclass
class PPOState:
    """Everything PPO carries from one update to the next.

    Attributes:
        params: `{"actor", "critic"}`: the `Actor`'s parameters (for Box actions
            `{"mean", "log_std"}`) and the critic MLP's.
        opt_state: the optax state of `params`.
        env_state: the envs' states.
        obs: `[num_envs, ...]` current observations (raw, not normalised).
        obs_norm: running observation statistics (unchanged when not normalising).
        reward_norm: running statistics of the discounted reward sums (unchanged when not
            normalising rewards).
        discounted_reward: `[num_envs]` each env's discounted reward sum of its current
            episode so far (zeros when not normalising rewards).
        stats: episode statistics of the env reward.
        env_steps: env steps taken so far.
        key: the PRNG key of what comes next.
    """

    params: Any
    opt_state: Any
    env_state: Any
    obs: jnp.ndarray
    obs_norm: RunningMeanVar
    reward_norm: RunningMeanVar
    discounted_reward: jnp.ndarray
    stats: EpisodeStats
    env_steps: jnp.ndarray
    key: jax.Array


def make_trainer(
    config: PPOConfig,
    env,
    env_params=None,
    reward_fn: RewardFn | None = None,
    terminal_reward_fn: RewardFn | None = None,
) -> Trainer:
    """PPO in pieces (see `irlax.rl._common.Trainer`).

    Args:
        config: a `PPOConfig`.
        env: a gymnax-style env (or a host vector env holding `config.num_envs` copies) with a
            `Discrete`, `MultiDiscrete` or `Box` action space.
        env_params: the env's parameters; None for its defaults.
        reward_fn: `reward_fn(reward_params, obs, action, next_obs) -> reward` replacing the env's
            reward for learning (the action is the one the env received, clipped to the box);
            `metrics["episode_return"]` still reports the env's reward.

        terminal_reward_fn: optional, with `reward_fn`: the reward of a transition that ends
            the episode in a terminal state, in place of `reward_fn`'s (see `irlax.rl._common`).
    Returns:
        A `Trainer`, whose `update` returns the rollout's `Transitions` (`[rollout_length,
        num_envs]`; their `log_prob` is the Gaussian density of the clipped action the env
        received). Metrics per update: `episode_return`, `env_steps`, `mean_reward` (the mean
        per-step reward learned from), `policy_loss` (`−L^CLIP`), `value_loss`, `entropy`,
        `approx_kl` (the `E[(ρ − 1) − log ρ]` estimator) and `clip_fraction` (of samples whose
        ratio left `[1 − ε, 1 + ε]`), the last five averaged over the update's minibatches.
    """
    check_config(config, PPOConfig)
    check_env(env)
    check_callable(reward_fn, "reward_fn")
    check_callable(terminal_reward_fn, "terminal_reward_fn")
    env_params = env_params_or_default(env, env_params)
    head = head_for_space(env.action_space(env_params))
    activation = ACTIVATIONS[config.activation]
    actor = Actor(head, config.hidden, activation, 0.01, config.init_log_std)
    critic = MLP(hidden=config.hidden, out=1, activation=activation, out_scale=1.0)
    n_envs, length = config.num_envs, config.rollout_length
    grad_steps = config.update_epochs * config.num_minibatches
    if config.anneal_lr:
        lr = optax.linear_schedule(config.learning_rate, 0.0, config.n_updates * grad_steps)
    else:
        lr = config.learning_rate
    optimizer = optax.chain(
        optax.clip_by_global_norm(config.max_grad_norm), optax.adam(lr, eps=1e-5)
    )

    def normalise(obs_norm: RunningMeanVar, obs: jnp.ndarray, batch_ndim: int) -> jnp.ndarray:
        x = flat_obs(obs, batch_ndim)
        if config.normalize_observations:
            return obs_norm.normalize(x, clip=_OBS_CLIP)
        return x

    def value(params, x):
        return critic.apply(params["critic"], x)[..., 0]

    def init(key: jax.Array) -> PPOState:
        check_key(key)
        key, reset_key, actor_key, critic_key = jax.random.split(key, 4)
        obs, env_state = reset_envs(env, env_params, reset_key, n_envs)
        x = flat_obs(obs, 1)
        params = {"actor": actor.init(actor_key, x[:1]), "critic": critic.init(critic_key, x[:1])}
        return PPOState(
            params=params,
            opt_state=optimizer.init(params),
            env_state=env_state,
            obs=obs,
            obs_norm=RunningMeanVar.zeros((x.shape[-1],), x.dtype),
            reward_norm=RunningMeanVar.zeros(()),
            discounted_reward=jnp.zeros((n_envs,), float_dtype()),
            stats=EpisodeStats.zeros(n_envs),
            env_steps=jnp.zeros((), jnp.int32),
            key=key,
        )

    def loss_fn(params, batch):
        x, raw, old_logp, old_value, advantages, returns = batch
        dist = actor.dist(params["actor"], x)
        logp, entropy = head.log_prob(dist, raw), head.entropy(dist)
        v = value(params, x)
        if config.normalize_advantages:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        policy_loss = clipped_surrogate_loss(logp, old_logp, advantages, config.clip_eps)
        if config.clip_value_loss:
            v_clipped = old_value + jnp.clip(v - old_value, -config.clip_eps, config.clip_eps)
            value_loss = 0.5 * jnp.mean(jnp.maximum((v - returns) ** 2, (v_clipped - returns) ** 2))
        else:
            value_loss = 0.5 * jnp.mean((v - returns) ** 2)
        entropy = jnp.mean(entropy)
        total = policy_loss + config.value_coef * value_loss - config.entropy_coef * entropy
        log_ratio = logp - old_logp
        ratio = jnp.exp(log_ratio)
        aux = {
            "policy_loss": policy_loss,
            "value_loss": value_loss,
            "entropy": entropy,
            "approx_kl": jnp.mean((ratio - 1.0) - log_ratio),
            "clip_fraction": jnp.mean((jnp.abs(ratio - 1.0) > config.clip_eps).astype(v.dtype)),
        }
        return total, aux

    def update(state: PPOState, reward_params: Any = None):
        params = state.params

        def env_step(carry, _):
            env_state, obs, stats, key = carry
            key, act_key, step_key = jax.random.split(key, 3)
            dist = actor.dist(params["actor"], normalise(state.obs_norm, obs, 1))
            raw, logp = head.sample_and_log_prob(dist, act_key)
            action = head.to_env(raw)
            next_obs, env_state, env_reward, terminated, truncated, info = step_envs(
                env, env_params, step_key, env_state, action
            )
            final_obs = info["final_observation"]
            reward = transition_reward(
                reward_fn,
                reward_params,
                obs,
                action,
                final_obs,
                env_reward,
                terminated,
                terminal_reward_fn,
            )
            done = jnp.logical_or(terminated, truncated)
            stats = stats.update(env_reward, done)
            taken = Transitions(
                obs, action, final_obs, terminated, truncated, head.log_prob(dist, action)
            )
            return (env_state, next_obs, stats, key), (taken, raw, logp, reward)

        (env_state, obs, stats, key), rollout = jax.lax.scan(
            env_step, (state.env_state, state.obs, state.stats, state.key), None, length
        )
        transitions, raw, old_logp, reward = rollout
        x = normalise(state.obs_norm, transitions.obs, 2)
        # One critic pass over V(s_t) and V(s'_t) together (the policy is fixed in a rollout).
        final_x = normalise(state.obs_norm, transitions.next_obs, 2)
        both = value(params, jnp.concatenate([x, final_x]))
        old_value, next_value = both[:length], both[length:]
        reward = reward.astype(old_value.dtype)
        mean_reward = jnp.mean(reward)
        reward_norm, discounted_reward = state.reward_norm, state.discounted_reward
        if config.normalize_rewards:
            reward_norm, discounted_reward, reward = scale_rewards(
                reward_norm,
                discounted_reward,
                reward,
                jnp.logical_or(transitions.terminated, transitions.truncated),
                config.discount,
            )
        advantages, returns = generalized_advantages(
            reward,
            old_value,
            next_value,
            transitions.terminated,
            transitions.truncated,
            config.discount,
            config.gae_lambda,
        )
        data = (x, raw, old_logp, old_value, advantages, returns)
        data = jax.tree.map(lambda a: a.reshape((config.batch_size, *a.shape[2:])), data)

        def epoch(carry, _):
            params, opt_state, key = carry
            key, perm_key = jax.random.split(key)
            perm = jax.random.permutation(perm_key, config.batch_size)
            minibatches = jax.tree.map(
                lambda a: a[perm].reshape((config.num_minibatches, -1, *a.shape[1:])), data
            )

            def minibatch(carry, batch):
                params, opt_state = carry
                grads, aux = jax.grad(loss_fn, has_aux=True)(params, batch)
                updates, opt_state = optimizer.update(grads, opt_state, params)
                return (optax.apply_updates(params, updates), opt_state), aux

            (params, opt_state), aux = jax.lax.scan(minibatch, (params, opt_state), minibatches)
            return (params, opt_state, key), aux

        (params, opt_state, key), aux = jax.lax.scan(
            epoch, (params, state.opt_state, key), None, config.update_epochs
        )
        obs_norm = state.obs_norm
        if config.normalize_observations:
            obs_norm = obs_norm.update(flat_obs(transitions.obs, 2).reshape(config.batch_size, -1))
        env_steps = state.env_steps + config.batch_size
        new_state = PPOState(
            params=params,
            opt_state=opt_state,
            env_state=env_state,
            obs=obs,
            obs_norm=obs_norm,
            reward_norm=reward_norm,
            discounted_reward=discounted_reward,
            stats=stats,
            env_steps=env_steps,
            key=key,
        )
        metrics = {k: jnp.mean(v) for k, v in aux.items()}
        metrics["episode_return"] = stats.mean_return()
        metrics["env_steps"] = env_steps
        metrics["mean_reward"] = mean_reward
        return new_state, metrics, transitions

    def features(params, obs):
        x = flat_obs(obs, 0)
        return params["obs_norm"].normalize(x, clip=_OBS_CLIP) if "obs_norm" in params else x

    def act_fn(params, obs, key, deterministic=False):
        """One action for one observation: sampled, or the mode (clipped to the box)."""
        return actor.act(params["actor"], features(params, obs), key, deterministic)

    def log_prob_fn(params, obs, action):
        return actor.log_prob(params["actor"], features(params, obs), action)

    def result(state: PPOState, metrics: dict) -> Result:
        params = dict(state.params)
        if config.normalize_observations:
            params["obs_norm"] = state.obs_norm
        return Result(params=params, metrics=metrics, act_fn=act_fn, log_prob_fn=log_prob_fn)

    return Trainer(init=init, update=update, result=result, n_updates=config.n_updates)


def make_train(
    config: PPOConfig,
    env,
    env_params=None,
    reward_fn: RewardFn | None = None,
    terminal_reward_fn: RewardFn | None = None,
):
    """`train(key, reward_params=None) -> Result`: PPO for `config.n_updates` updates.

    Pure in its key: `jax.jit(train)`, or `jax.jit(jax.vmap(train))(keys)` for many seeds.
    See `make_trainer` for the arguments and the metrics.
    """
    return train_from(make_trainer(config, env, env_params, reward_fn, terminal_reward_fn))
