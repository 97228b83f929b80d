"""Guided cost learning (Finn, Levine & Abbeel 2016): sample-based MaxEnt IRL with a policy.

MaxEnt IRL models demonstrations as drawn from `p_ψ(τ) = p(τ) exp(R_ψ(τ)) / Z_ψ`, where
`p(τ) = μ(s_0) Π_t P(s_{t+1} | s_t, a_t)` holds the dynamics, `R_ψ(τ) = Σ_t r_ψ(s_t, a_t,
s_{t+1})` is the trajectory's learned return (irlax learns rewards; Finn's cost is `−r_ψ`) and
`Z_ψ = ∫ p(τ) exp(R_ψ(τ)) dτ` (seed notes 001–003). The negative log-likelihood of N demos
and its gradient are

    L(ψ) = −(1/N) Σ_i R_ψ(τ_i) + log Z_ψ,
    ∇L   = −(1/N) Σ_i ∇R_ψ(τ_i) + E_{τ ~ p_ψ}[∇R_ψ(τ)].

When the dynamics can only be sampled, `log Z_ψ` is estimated by importance sampling from a
background set of M trajectories `τ_j ~ q` (Finn et al. 2016, eq. 2–3):

    log Ẑ_ψ = log (1/M) Σ_j exp(R_ψ(τ_j)) / q(τ_j),
    ∇ log Ẑ_ψ = Σ_j w_j ∇R_ψ(τ_j),   w_j = exp(R_ψ(τ_j) − log q(τ_j)) / Σ_k (same),

the self-normalised importance estimate of the partition gradient, computed in log space
(`log_partition`, `importance_weights`). The dynamics cancel in the ratio `p(τ) exp(R) / q(τ)`
when `q(τ) = p(τ) Π_t π(a_t | s_t)`, so `log q(τ)` needs only the sampling policies' exact
action log-probabilities. The reward loss minimised through Optax is
`−(1/N) Σ_i R_ψ(τ_i) + log Ẑ_ψ` (+ the regularisers below), whose autodiff gradient is exactly
the estimate above.

The algorithm (Finn et al. 2016, Alg. 1): one `Trainer.update` is one reward update:

1. `generator_updates` updates of the policy (an `irlax.rl` trainer: PPO by default, or the
   soft policy gradient or SAC) on the current reward `r_ψ` — a little policy improvement, not
   a full max-ent RL solve;
2. `background_trajectories` whole episodes (from the env's reset, cut at `horizon` steps) of
   the current policy, with each action's exact log-probability; they replace the oldest batch
   of a buffer of `background_batches` batches, and the policy that drew them is kept with
   them;
3. `reward_steps` Adam steps on the reward loss, over the whole buffer and the demos.

**The background density** is the mixture of every distribution the background set was drawn
from, each weighted by its number of samples (Finn et al. 2016, §4.1):
`q(τ) = (Σ_k n_k q_k(τ) + N q_demo(τ)) / (Σ_k n_k + N)`, with `q_k(τ) = p(τ) Π_t π_k(a_t|s_t)`
for the policy `π_k` of buffer batch k (every stored trajectory is scored under every stored
policy: the log-probabilities `[batch, trajectory, policy]` are kept and updated one batch row
and one policy column per reward update), and, when the demos join the background set
(`include_demos`, the default: Finn's remedy for the variance of weights when no sample comes
near the demos), `q_demo` their density. That density is, by `demo_density`:

- `"fitted"` (the default): a policy fitted to the demos by maximum likelihood (behaviour
  cloning, `demo_fit_steps` Adam steps before training), `q_demo(τ) = p(τ) Π_t π_BC(a_t|s_t)`:
  a density that is high on the demos, so that their weights stay moderate;
- `"policy"`: the current sampling policy's.

**Returns and termination.** `R_ψ(τ)` sums the learned reward over a whole episode: from reset
to termination, or to `horizon` steps (a fixed time limit, the same for demos, which are cut
to it, and background episodes). A terminated episode has no reward after its terminal
transition, which the MaxEnt model over variable-length trajectories takes as it is (the
termination is part of the dynamics, which cancel). The policy learns from the same reward on
every transition (no absorbing-state term).

**Regularisers** (Finn et al. 2016, §4.2), in reward form (`c = −r`), each a sum over the
steps of a trajectory averaged over trajectories, both off by default:

- monotonicity along the demos (`mono_weight`): `g_mono(τ) = Σ_t max(0, r_{t−1} − r_t − 1)²`
  (the paper's `max(0, c_t − c_{t−1} − 1)²`): a demo's reward should not fall by more than 1
  from one step to the next (demos make progress toward a goal);
- local constancy of the reward's rate of change (`lcr_weight`), over demos and background
  trajectories: `g_lcr(τ) = Σ_t ((r_{t+1} − r_t) − (r_t − r_{t−1}))²`.

The background episodes are collected by stepping the env directly (the generator's own
rollouts are segments of episodes drawn by a policy that changes between updates, whose density
is not one of the mixture's), so the env must be a JAX env (no host vector env). Their env
steps count in `env_steps` beside the generator's.

Usage:

    from irlax.algorithms import gcl
    train = gcl.make_train(gcl.GCLConfig(), env, env_params, demos)
    result = jax.jit(train)(key)            # or jax.jit(jax.vmap(train))(keys)
    result.policy.policy(obs, key)           # the policy trained on the learned reward
    result.reward(obs, action, next_obs)     # the learned reward r_ψ (the cost is −r_ψ)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from irlax._pytree import pytree_dataclass
from irlax.algorithms._deep import (
    ExpertTransitions,
    ImitationResult,
    check_reward_network,
    expert_argument,
    expert_transitions,
    make_generator,
    require_reward_network,
    train_from_demos,
)
from irlax.config import (
    check_config,
    require_bool,
    require_choice,
    require_hidden,
    require_int,
    require_real,
)
from irlax.nets.policies import Actor, action_features, head_for_space
from irlax.nets.reward import TRANSITION_INPUTS, TransitionReward
from irlax.rl import Trainer, ppo, sac, soft_pg
from irlax.rl._common import env_params_or_default, flat_obs

DemoDensity = Literal["fitted", "policy"]
DEMO_DENSITIES = ("fitted", "policy")


@dataclasses.dataclass(frozen=True)
class GCLConfig:
    """Options of guided cost learning.

    Attributes:
        generator: the policy's trainer and its options: an `irlax.rl.ppo.PPOConfig` (the
            default), `irlax.rl.soft_pg.SoftPGConfig` (the max-ent policy gradient) or
            `irlax.rl.sac.SACConfig`. Its step budget sets the number of reward updates:
            `generator.n_updates // generator_updates`.
        generator_updates: policy updates on the current reward before each reward update (a
            few: the policy is improved a little, not solved).
        reward_network: the reward `r_ψ` (Finn's cost is `−r_ψ`): any Flax module called as
            `network(obs, action, next_obs)` on feature vectors `[..., D]`, `[..., A]`,
            `[..., D]` (flattened observations; actions as `irlax.nets.action_features`
            encodes them), returning `[...]`; None for a `TransitionReward` MLP of
            `reward_inputs` and `reward_hidden` whose output layer starts at zero (`r_ψ ≡ 0`).
        reward_inputs: what the default reward network reads: "state_action" `r(s, a)`,
            "state" `r(s)`, "state_next_state" or "state_action_next_state".
        reward_hidden: widths of the default reward network's hidden layers (ReLU).
        reward_learning_rate: Adam's step size for the reward.
        reward_steps: Adam steps on the reward loss per reward update.
        background_trajectories: episodes sampled from the current policy per reward update.
        background_batches: reward updates whose samples (and sampling policies) the
            background buffer keeps: it holds `background_batches * background_trajectories`
            episodes, and `q` is the mixture of those policies (and of the demos).
        horizon: the most steps of a trajectory (demos are cut to it, background episodes end
            there); None for the longest demo's length.
        include_demos: add the demos to the background set (Finn's remedy for high variance),
            with density `demo_density`.
        demo_density: the density of the demos in the background mixture: "fitted" (a policy
            fitted to the demos by maximum likelihood) or "policy" (the current policy's).
        demo_fit_steps: Adam steps (step size 3e-3, full batch) of the maximum-likelihood fit
            of the "fitted" demo density; it should fit the demos closely, since a per-step
            misfit ε lowers their log-density by ε per step.
        demo_fit_hidden: widths of the hidden layers of that fitted policy (tanh).
        mono_weight: weight of Finn's monotonicity regulariser along the demos, `g_mono`; 0
            for none.
        lcr_weight: weight of Finn's local-constant-rate regulariser, `g_lcr`; 0 for none.
    """

    generator: Any = dataclasses.field(default_factory=lambda: ppo.PPOConfig())
    generator_updates: int = 2
    reward_network: nn.Module | None = None
    reward_inputs: str = "state_action"
    reward_hidden: tuple[int, ...] = (32, 32)
    reward_learning_rate: float = 1e-3
    reward_steps: int = 1
    background_trajectories: int = 8
    background_batches: int = 8
    horizon: int | None = None
    include_demos: bool = True
    demo_density: DemoDensity = "fitted"
    demo_fit_steps: int = 500
    demo_fit_hidden: tuple[int, ...] = (64, 64)
    mono_weight: float = 0.0
    lcr_weight: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.generator, ppo.PPOConfig | soft_pg.SoftPGConfig | sac.SACConfig):
            raise ValueError(
                "generator must be an irlax.rl.ppo.PPOConfig, soft_pg.SoftPGConfig or "
                f"sac.SACConfig, got {type(self.generator).__name__}"
            )
        require_choice(self, "reward_inputs", TRANSITION_INPUTS)
        require_hidden(self, "reward_hidden")
        require_reward_network(self, ("reward_inputs", "reward_hidden"))
        require_hidden(self, "demo_fit_hidden")
        require_real(self, "reward_learning_rate", lambda x: x > 0, "> 0")
        for name in (
            "generator_updates",
            "reward_steps",
            "background_trajectories",
            "background_batches",
        ):
            require_int(self, name, minimum=1)
        require_int(self, "demo_fit_steps", minimum=0)
        if self.horizon is not None:
            require_int(self, "horizon", minimum=1)
        require_bool(self, "include_demos")
        require_choice(self, "demo_density", DEMO_DENSITIES)
        require_real(self, "mono_weight", lambda x: x >= 0, ">= 0")
        require_real(self, "lcr_weight", lambda x: x >= 0, ">= 0")
        if _policy_updates(self.generator) < self.generator_updates:
            raise ValueError(
                f"the generator's budget holds {_policy_updates(self.generator)} updates, fewer "
                f"than generator_updates={self.generator_updates} (one reward update); raise "
                "generator.total_steps or lower generator_updates"
            )

    @property
    def n_updates(self) -> int:
        """Reward updates `make_train` runs: `generator.n_updates // generator_updates`."""
        return _policy_updates(self.generator) // self.generator_updates


def _policy_updates(generator) -> int:
    """The updates an `irlax.rl` config's step budget runs (SAC steps its envs once per update)."""
    per_update = generator.num_envs * getattr(generator, "rollout_length", 1)
    return generator.total_steps // per_update


# ---------------------------------------------------------------------------------------------
# The estimator, as standalone functions.


def log_mixture_density(log_probs: jnp.ndarray, counts: jnp.ndarray) -> jnp.ndarray:
    """`log q(τ)` of a mixture of sampling distributions, weighted by their sample counts.

    `q(τ) = Σ_k n_k q_k(τ) / Σ_k n_k` (Finn et al. 2016, §4.1; the balance heuristic of
    multiple importance sampling); components with `n_k = 0` take no part.

    Args:
        log_probs: `[..., K]` `log q_k(τ)` of each trajectory under each component (for a
            policy, `Σ_t log π_k(a_t | s_t)`: the dynamics cancel in the weights).
        counts: `[K]` the number of samples drawn from each component (0 for none).

    Returns:
        `[...]` `log q(τ)`.
    """
    counts = jnp.asarray(counts, log_probs.dtype)
    log_n = jnp.where(counts > 0, jnp.log(jnp.maximum(counts, 1)), -jnp.inf)
    terms = jnp.where(counts > 0, log_probs + log_n, -jnp.inf)
    return jax.nn.logsumexp(terms, axis=-1) - jnp.log(jnp.sum(counts))


def _log_ratios(returns, log_q, valid):
    ratios = returns - jax.lax.stop_gradient(log_q)
    if valid is None:
        return ratios, ratios.shape[-1]
    return jnp.where(valid, ratios, -jnp.inf), jnp.sum(valid, axis=-1)


def log_partition(returns: jnp.ndarray, log_q: jnp.ndarray, valid=None) -> jnp.ndarray:
    """The importance estimate of `log Z_ψ` from background samples, in log space.

    `log Ẑ = log (1/M) Σ_j exp(R_ψ(τ_j) − log q(τ_j))` (Finn et al. 2016, eq. 3). Its gradient
    with respect to the reward's parameters is the self-normalised estimate of the partition
    gradient, `Σ_j w_j ∇R_ψ(τ_j)` (`importance_weights`); `log_q` is held constant.

    Args:
        returns: `[M]` `R_ψ(τ_j)`, the learned returns of the background trajectories.
        log_q: `[M]` `log q(τ_j)`, their log-density under the sampling distribution (action
            terms only; `log_mixture_density`).
        valid: optional bool `[M]`, the samples that count (None: all).

    Returns:
        A scalar.
    """
    ratios, m = _log_ratios(returns, log_q, valid)
    return jax.nn.logsumexp(ratios, axis=-1) - jnp.log(m)


def importance_weights(returns: jnp.ndarray, log_q: jnp.ndarray, valid=None) -> jnp.ndarray:
    """The self-normalised importance weights `w_j ∝ exp(R_ψ(τ_j)) / q(τ_j)`, summing to 1.

    Args:
        returns: `[M]` learned returns `R_ψ(τ_j)`.
        log_q: `[M]` `log q(τ_j)`.
        valid: optional bool `[M]`; invalid samples get weight 0.

    Returns:
        `[M]` weights (a softmax of `R − log q` over the valid samples).
    """
    ratios, _ = _log_ratios(returns, log_q, valid)
    return jax.nn.softmax(ratios, axis=-1)


def effective_sample_size(weights: jnp.ndarray) -> jnp.ndarray:
    """Kish's effective sample size of normalised weights, `1 / Σ_j w_j²` (1 to M)."""
    return 1.0 / jnp.sum(weights**2, axis=-1)


def _masked_sum(x, lengths):
    steps = jnp.arange(x.shape[-1])
    return jnp.sum(jnp.where(steps < lengths[..., None], x, 0.0), axis=-1)


def monotonicity_penalty(step_rewards: jnp.ndarray, lengths: jnp.ndarray) -> jnp.ndarray:
    """Finn et al. 2016's `g_mono` in reward form: `Σ_t max(0, r_{t−1} − r_t − 1)²`.

    Args:
        step_rewards: `[..., H]` per-step learned rewards of trajectories (padding ignored).
        lengths: `[...]` their lengths.

    Returns:
        `[...]` the penalty of each trajectory.
    """
    drops = jnp.maximum(0.0, step_rewards[..., :-1] - step_rewards[..., 1:] - 1.0) ** 2
    return _masked_sum(drops, lengths - 1)


def local_constant_rate_penalty(step_rewards: jnp.ndarray, lengths: jnp.ndarray) -> jnp.ndarray:
    """Finn et al. 2016's `g_lcr`: `Σ_t ((r_{t+1} − r_t) − (r_t − r_{t−1}))²`.

    Args:
        step_rewards: `[..., H]` per-step learned rewards of trajectories (padding ignored).
        lengths: `[...]` their lengths.

    Returns:
        `[...]` the penalty of each trajectory.
    """
    second = step_rewards[..., 2:] - 2.0 * step_rewards[..., 1:-1] + step_rewards[..., :-2]
    return _masked_sum(second**2, lengths - 2)


# ---------------------------------------------------------------------------------------------
# The trainer.


@pytree_dataclass
class Episodes:
    """Whole episodes, padded to a horizon `H`.

    Attributes:
        obs: `[..., H + 1, *obs_shape]` observations (after the last step, padding).
        action: `[..., H, *action_shape]` actions (padding after `length`).
        length: int `[...]` steps taken.
    """

    obs: jnp.ndarray
    action: jnp.ndarray
    length: jnp.ndarray


@pytree_dataclass
class GCLState:
    """Everything guided cost learning carries from one reward update to the next.

    Attributes:
        generator: the policy trainer's state.
        reward_params: the reward network's parameters ψ.
        opt_state: the reward optimiser's state.
        background: `Episodes` `[B, P, ...]`: batch b holds the P episodes of one reward update.
        policies: the parameters of the policy that drew each batch, stacked `[B, ...]`.
        log_probs: `[B, P, B]` `Σ_t log π_k(a_t|s_t)` of episode (b, p) under policy k.
        demo_log_probs: `[N, B]` the same for the demos.
        fitted_log_probs: `[B, P]` the episodes' log-probability under the fitted demo policy.
        fitted_demo_log_probs: `[N]` the demos' under it.
        fitted_params: the fitted demo policy's parameters.
        filled: bool `[B]`, the batches that hold episodes.
        slot: the batch the next episodes replace.
        background_steps: env steps taken collecting background episodes.
        key: the PRNG key of what comes next.
    """

    generator: Any
    reward_params: Any
    opt_state: Any
    background: Episodes
    policies: Any
    log_probs: jnp.ndarray
    demo_log_probs: jnp.ndarray
    fitted_log_probs: jnp.ndarray
    fitted_demo_log_probs: jnp.ndarray
    fitted_params: Any
    filled: jnp.ndarray
    slot: jnp.ndarray
    background_steps: jnp.ndarray
    key: jax.Array


def _demo_episodes(expert: ExpertTransitions, n_demos: int, horizon: int) -> Episodes:
    """The demos (their `ExpertTransitions`, traceable) as `Episodes` cut or padded to
    `horizon` steps; zeros after each episode's end (where every use masks them)."""
    rows, steps = expert.episode, expert.step
    obs = jnp.zeros((n_demos, horizon + 1, *expert.obs.shape[1:]), expert.obs.dtype)
    obs = obs.at[rows, steps].set(expert.obs, mode="drop")
    obs = obs.at[rows, steps + 1].set(expert.next_obs, mode="drop")
    action = jnp.zeros((n_demos, horizon, *expert.action.shape[1:]), expert.action.dtype)
    action = action.at[rows, steps].set(expert.action, mode="drop")
    lengths = jnp.zeros(n_demos, jnp.int32).at[rows].add(1)
    return Episodes(obs=obs, action=action, length=jnp.minimum(lengths, horizon))


def make_trainer(config: GCLConfig, env, env_params, demos) -> Trainer:
    """Guided cost learning in pieces (see `irlax.rl.Trainer`): `init(key, expert=None)`,
    `update(state, expert=None)`, `result`; `expert` the demos' `ExpertTransitions` as data
    (None: `demos`, baked into the program; see `irlax.algorithms._deep`).

    Args:
        config: a `GCLConfig`.
        env: a gymnax-style JAX env (not a host vector env: background episodes are stepped
            inside the compiled update).
        env_params: its parameters; None for the defaults.
        demos: expert `Trajectories` of this env's observations and actions.

    Returns:
        A `Trainer` of `config.n_updates` reward updates, whose `update` returns, in place of
        transitions, the background `Episodes` it sampled (`[background_trajectories, ...]`), and
        whose `result` is an `ImitationResult`: the policy, the reward parameters ψ, `reward_fn` the
        learned reward `r_ψ(obs, action, next_obs)`. Metrics per reward update: the generator's
        after its last update (`episode_return` under the env's reward, ...), `env_steps` (the
        generator's and the background episodes' together), `background_return` (the env's mean
        return of the new background episodes), `reward_loss` (`−E_demos[R_ψ] + log Ẑ` plus the
        regularisers, before the reward steps), `log_partition` (`log Ẑ`), `effective_sample_size`
        (`1/Σw²` of the importance weights over the background set), `demo_weight` (the weights'
        total on the demos), `demo_learned_return` and `background_learned_return` (mean `R_ψ` of
        the demos and of the new episodes).

    Raises:
        ValueError: a bad config, a host vector env, demos that do not fit the env or hold no
            transition, or a reward network that cannot be called as documented.
    """
    check_config(config, GCLConfig)
    if getattr(env, "is_vector", False):
        raise ValueError(
            "gcl needs a JAX env (it samples whole background episodes inside the compiled "
            "update); a host vector env (Gymnasium) is not supported"
        )
    env_params = env_params_or_default(env, env_params)
    given = expert_transitions(env, env_params, demos)  # checked against the env
    head = head_for_space(env.action_space(env_params))
    horizon = config.horizon if config.horizon is not None else int(demos.max_length)
    n_demos = demos.n_trajectories
    demo_shapes = jax.eval_shape(lambda e: _demo_episodes(e, n_demos, horizon), given)
    n_batches, per_batch = config.background_batches, config.background_trajectories
    network = config.reward_network
    if network is None:
        # r_ψ ≡ 0 at the start: the first importance weights are 1/q, and no trajectory is
        # favoured for its length (a constant reward c would weigh each by exp(c·L)).
        network = TransitionReward(config.reward_inputs, config.reward_hidden, zero_output=True)
    check_reward_network(network, math.prod(demo_shapes.obs.shape[2:]), head.n)

    obs_ndim = demo_shapes.obs.ndim - 2  # the rank of one observation

    def learned_reward(params, obs, action, next_obs):
        """`r_ψ(s, a, s')` of one transition, or of a batch (any leading axes)."""
        x = flat_obs(obs, obs.ndim - obs_ndim)
        nx = flat_obs(next_obs, next_obs.ndim - obs_ndim)
        return network.apply(params, x, action_features(head, action), nx)

    generator = make_generator(config.generator, env, env_params, learned_reward)

    def current_policy(gen_state):
        return generator.result(gen_state, {})

    probe = jax.eval_shape(current_policy, jax.eval_shape(generator.init, jax.random.key(0)))
    act_fn, policy_log_prob = probe.act_fn, probe.log_prob_fn
    reward_opt = optax.adam(config.reward_learning_rate)
    fitted = Actor(head, config.demo_fit_hidden)
    use_fitted = config.include_demos and config.demo_density == "fitted"

    def step_rewards(params, eps: Episodes):
        """`[..., H]` learned rewards of each step (0 after an episode's end)."""
        lead = eps.length.ndim
        now = jax.lax.slice_in_dim(eps.obs, 0, horizon, axis=lead)
        after = jax.lax.slice_in_dim(eps.obs, 1, horizon + 1, axis=lead)
        r = learned_reward(params, now, eps.action, after)
        steps = jnp.arange(horizon)
        return jnp.where(steps < eps.length[..., None], r, 0.0)

    def episode_log_prob(log_prob_of_step, eps: Episodes):
        """`[...]` `Σ_t log π(a_t|s_t)` over each episode's steps."""
        lead = eps.length.shape
        now = jax.lax.slice_in_dim(eps.obs, 0, horizon, axis=len(lead))
        obs = now.reshape((-1, *now.shape[len(lead) + 1 :]))
        act = eps.action.reshape((-1, *eps.action.shape[len(lead) + 1 :]))
        lp = jax.vmap(log_prob_of_step)(obs, act).reshape((*lead, horizon))
        return _masked_sum(lp, eps.length)

    def under_policy(params, eps):
        return episode_log_prob(lambda o, a: policy_log_prob(params, o, a), eps)

    def under_fitted(params, eps):
        return episode_log_prob(lambda o, a: fitted.log_prob(params, flat_obs(o, 0), a), eps)

    def fit_demo_policy(key, demo_eps: Episodes):
        """Maximum likelihood of the demos' actions (behaviour cloning), full batch."""
        steps = jnp.arange(horizon)[None, :] < demo_eps.length[:, None]
        x = flat_obs(demo_eps.obs[:, :-1], 2)
        params = fitted.init(key, x[0, :1])
        opt = optax.adam(3e-3)

        def nll(params):
            lp = fitted.log_prob(params, x, demo_eps.action)
            return -jnp.sum(jnp.where(steps, lp, 0.0)) / jnp.sum(steps)

        def step(carry, _):
            params, opt_state = carry
            grads = jax.grad(nll)(params)
            updates, opt_state = opt.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), None

        (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, config.demo_fit_steps)
        return params

    def collect(policy_params, key):
        """`per_batch` episodes of the policy from reset, at most `horizon` steps each; also
        their env returns."""

        def episode(key):
            keys = jax.random.split(key, horizon + 1)
            obs0, state0 = env.reset(keys[0], env_params)

            def step(carry, step_key):
                obs, state, active = carry
                act_key, env_key = jax.random.split(step_key)
                action = act_fn(policy_params, obs, act_key, False)
                next_obs, state, reward, terminated, truncated, info = env.step(
                    env_key, state, action, env_params
                )
                final = info["final_observation"].astype(obs0.dtype)
                done = jnp.logical_or(terminated, truncated)
                record = (final, action, active, jnp.where(active, reward, 0.0))
                return (next_obs.astype(obs0.dtype), state, active & ~done), record

            carry = (obs0, state0, jnp.array(True))
            _, (nexts, actions, active, rewards) = jax.lax.scan(step, carry, keys[1:])
            obs = jnp.concatenate([obs0[None], nexts])
            return Episodes(obs, actions, jnp.sum(active).astype(jnp.int32)), jnp.sum(rewards)

        return jax.vmap(episode)(jax.random.split(key, per_batch))

    def init(key: jax.Array, expert: ExpertTransitions | None = None) -> GCLState:
        demo_eps = _demo_episodes(expert_argument(expert, given), n_demos, horizon)
        key, gen_key, reward_key, fit_key = jax.random.split(key, 4)
        gen_state = generator.init(gen_key)
        x = flat_obs(demo_eps.obs[:1, 0], 1)
        a = action_features(head, demo_eps.action[:1, 0])
        reward_params = network.init(reward_key, x, a, x)
        policy_params = current_policy(gen_state).params
        stacked = jax.tree.map(lambda p: jnp.broadcast_to(p, (n_batches, *p.shape)), policy_params)
        background = jax.tree.map(
            lambda d: jnp.zeros((n_batches, per_batch, *d.shape[1:]), d.dtype), demo_eps
        )
        fitted_params = (
            fit_demo_policy(fit_key, demo_eps) if use_fitted else fitted.init(fit_key, x)
        )
        dtype = jnp.zeros(()).dtype
        fitted_demo = under_fitted(fitted_params, demo_eps) if use_fitted else None
        return GCLState(
            generator=gen_state,
            reward_params=reward_params,
            opt_state=reward_opt.init(reward_params),
            background=background,
            policies=stacked,
            log_probs=jnp.zeros((n_batches, per_batch, n_batches), dtype),
            demo_log_probs=jnp.zeros((n_demos, n_batches), dtype),
            fitted_log_probs=jnp.zeros((n_batches, per_batch), dtype),
            fitted_demo_log_probs=(
                jnp.zeros(n_demos, dtype) if fitted_demo is None else fitted_demo.astype(dtype)
            ),
            fitted_params=fitted_params,
            filled=jnp.zeros(n_batches, bool),
            slot=jnp.zeros((), jnp.int32),
            background_steps=jnp.zeros((), jnp.int32),
            key=key,
        )

    def add_batch(state: GCLState, eps: Episodes, policy_params, demo_eps) -> GCLState:
        """Put a batch of episodes and its policy in the oldest slot; score what changed."""
        b = state.slot
        background = jax.tree.map(lambda buf, x: buf.at[b].set(x), state.background, eps)
        policies = jax.tree.map(lambda buf, x: buf.at[b].set(x), state.policies, policy_params)
        log_probs = state.log_probs
        # Every stored episode under the new policy (column b) ...
        column = under_policy(policy_params, background).astype(log_probs.dtype)
        log_probs = log_probs.at[:, :, b].set(column)
        # ... and the new episodes under every stored policy (row b).
        row = jax.vmap(under_policy, in_axes=(0, None))(policies, eps)  # [B, P]
        log_probs = log_probs.at[b].set(row.T.astype(log_probs.dtype))
        demo_column = under_policy(policy_params, demo_eps).astype(log_probs.dtype)
        demo_log_probs = state.demo_log_probs.at[:, b].set(demo_column)
        fitted_log_probs = state.fitted_log_probs
        if use_fitted:
            new = under_fitted(state.fitted_params, eps).astype(fitted_log_probs.dtype)
            fitted_log_probs = fitted_log_probs.at[b].set(new)
        return state.replace(
            background=background,
            policies=policies,
            log_probs=log_probs,
            demo_log_probs=demo_log_probs,
            fitted_log_probs=fitted_log_probs,
            filled=state.filled.at[b].set(True),
            slot=(b + 1) % n_batches,
        )

    def background_density(state: GCLState, newest):
        """`log q` `[B·P + N]` of the background episodes and the demos, and which count."""
        counts = jnp.where(state.filled, per_batch, 0)
        all_lp = jnp.concatenate(
            [state.log_probs.reshape(n_batches * per_batch, n_batches), state.demo_log_probs]
        )
        if config.include_demos:
            if use_fitted:
                demo_lp = jnp.concatenate(
                    [state.fitted_log_probs.reshape(-1), state.fitted_demo_log_probs]
                )
            else:
                demo_lp = all_lp[:, newest]
            all_lp = jnp.concatenate([all_lp, demo_lp[:, None]], axis=1)
            counts = jnp.concatenate([counts, jnp.full(1, n_demos)])
        log_q = log_mixture_density(all_lp, counts)
        valid = jnp.concatenate(
            [
                jnp.repeat(state.filled, per_batch),
                jnp.full(n_demos, config.include_demos),
            ]
        )
        return log_q, valid

    def reward_loss(params, state: GCLState, log_q, valid, demo_eps):
        bg_r = step_rewards(params, state.background)  # [B, P, H]
        demo_r = step_rewards(params, demo_eps)  # [N, H]
        bg_returns = jnp.sum(bg_r, axis=-1).reshape(-1)
        demo_returns = jnp.sum(demo_r, axis=-1)
        returns = jnp.concatenate([bg_returns, demo_returns])
        log_z = log_partition(returns, log_q, valid)
        loss = -jnp.mean(demo_returns) + log_z
        if config.mono_weight > 0:
            mono = jnp.mean(monotonicity_penalty(demo_r, demo_eps.length))
            loss = loss + config.mono_weight * mono
        if config.lcr_weight > 0:
            bg_lcr = local_constant_rate_penalty(bg_r, state.background.length).reshape(-1)
            lcr = jnp.concatenate([bg_lcr, local_constant_rate_penalty(demo_r, demo_eps.length)])
            seen = jnp.concatenate([jnp.repeat(state.filled, per_batch), jnp.ones(n_demos, bool)])
            lcr = jnp.sum(jnp.where(seen, lcr, 0.0)) / jnp.sum(seen)
            loss = loss + config.lcr_weight * lcr
        weights = importance_weights(returns, log_q, valid)
        aux = {
            "log_partition": log_z,
            "effective_sample_size": effective_sample_size(weights),
            "demo_weight": jnp.sum(weights[-n_demos:]),
            "demo_learned_return": jnp.mean(demo_returns),
        }
        return loss, aux

    def update(state: GCLState, expert: ExpertTransitions | None = None):
        demo_eps = _demo_episodes(expert_argument(expert, given), n_demos, horizon)
        key, collect_key = jax.random.split(state.key)

        def policy_step(gen_state, _):
            gen_state, metrics, _ = generator.update(gen_state, state.reward_params)
            return gen_state, metrics

        gen_state, gen_metrics = jax.lax.scan(
            policy_step, state.generator, None, config.generator_updates
        )
        gen_metrics = jax.tree.map(lambda m: m[-1], gen_metrics)
        policy_params = current_policy(gen_state).params
        eps, env_returns = collect(policy_params, collect_key)
        newest = state.slot
        state = state.replace(generator=gen_state, key=key)
        state = add_batch(state, eps, policy_params, demo_eps)
        state = state.replace(background_steps=state.background_steps + jnp.sum(eps.length))
        log_q, valid = background_density(state, newest)

        def reward_step(carry, _):
            params, opt_state = carry
            (loss, aux), grads = jax.value_and_grad(reward_loss, has_aux=True)(
                params, state, log_q, valid, demo_eps
            )
            updates, opt_state = reward_opt.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), (loss, aux)

        (params, opt_state), (losses, aux) = jax.lax.scan(
            reward_step, (state.reward_params, state.opt_state), None, config.reward_steps
        )
        new_returns = jnp.sum(step_rewards(state.reward_params, eps), axis=-1)
        state = state.replace(reward_params=params, opt_state=opt_state)
        metrics = {
            **gen_metrics,
            "env_steps": gen_metrics["env_steps"] + state.background_steps,
            "background_return": jnp.mean(env_returns),
            "reward_loss": losses[0],
            "background_learned_return": jnp.mean(new_returns),
            **jax.tree.map(lambda m: m[0], aux),
        }
        metrics = {k: v.astype(jnp.float32) if k != "env_steps" else v for k, v in metrics.items()}
        return state, metrics, eps

    def result(state: GCLState, metrics: dict) -> ImitationResult:
        return ImitationResult(
            policy=generator.result(state.generator, metrics),
            reward_params=state.reward_params,
            metrics=metrics,
            reward_fn=learned_reward,
        )

    return Trainer(init=init, update=update, result=result, n_updates=config.n_updates)


def make_train(config: GCLConfig, env, env_params, demos):
    """`train(key, expert=None) -> ImitationResult`: guided cost learning for
    `config.n_updates` reward updates.

    Pure in its key: `jax.jit(train)`, or `jax.jit(jax.vmap(train, in_axes=(0, None)))(keys,
    expert)` for many seeds, `expert = expert_transitions(env, env_params, demos)` (compiled once
    for every demo set of its shape; None bakes `demos` into the program). See `make_trainer`
    for the arguments and the metrics.
    """
    return train_from_demos(make_trainer(config, env, env_params, demos))
