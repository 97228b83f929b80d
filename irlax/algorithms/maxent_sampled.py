"""Sample-based maximum entropy IRL: a max-ent RL inner loop in place of the exact planner.

MaxEnt IRL is maximum likelihood under `p_ψ(τ) ∝ p(τ) exp(R_ψ(τ)/τ_H)`, with `τ_H` the
temperature (Ziebart et al. 2008; seed notes 001–003). Its log-likelihood gradient is

    ∇ψ L = (1/τ_H) · (E_demos[∇ψ R_ψ(τ)] − E_{τ ~ π_ψ}[∇ψ R_ψ(τ)]),

the expert's reward gradient minus that under the soft-optimal policy `π_ψ` of the current
reward, whose trajectories are distributed as `p_ψ(τ)` (max causal entropy; expected soft
backup). `irlax.algorithms.maxent` computes the second term exactly, by forward messages
through known dynamics. Here the dynamics can only be sampled, so (the "expensive" algorithm of
the seed notes, 001 and 003, "learn the policy with any max-ent RL algorithm, then run it to
sample {τ_j}") each outer step (one `Trainer.update`):

1. runs `inner_updates` updates of a max-ent RL trainer (`irlax.rl.soft_q`, `sac` with a fixed
   temperature, or `soft_pg`: the *generator*) on the reward `r_ψ`, warm-started from the
   previous outer step (its whole state, replay buffer included, carries over);
2. samples `samples` whole episodes from the resulting policy (from the env's reset, each run
   until it terminates, is truncated, or reaches `episode_steps`);
3. ascends the estimate (through an Optax optimiser, with an optional L2 penalty)

       ĝ = (1/τ_H) · [(1/N) Σ_i Σ_t w_t ∇ψ r_ψ(s_it, a_it, s_i,t+1)
                      − (1/M) Σ_j Σ_t w_t ∇ψ r_ψ(s_jt, a_jt, s_j,t+1)],

   over the N demos and M sampled episodes, with step weights `w_t = γ^t` (`step_weights=
   "discounted"`, γ the generator's discount) or `w_t = 1` ("uniform").

Both sums are per-trajectory sums, not per-step means: the partition function normalises over
whole trajectories, so an episode that lasts longer contributes more (per-step means would
match occupancy *distributions*, GAIL's objective, and differ when episode lengths differ).
With `w_t = γ^t` and a policy that is soft-optimal for the discounted objective the generator
maximises, `E[ĝ]` is exactly the gradient of `algorithms.maxent`'s dual objective
(`objective="dual"`, `backup="expected"`, the same temperature and discount) for an
infinite-horizon MDP, `∇ = (D_demo − D_ψ)/τ_H` with `D` the discounted visitation, up to the
end term of episodes cut at `T` steps: the dual subtracts `γ^T V(s_T)` at each demo's own last
state, the samples in effect at the policy's, a difference of at most `γ^T/(1 − γ)` in
visitation mass (the generator bootstraps through time-limit truncations, so its soft-optimal
policy is the infinite-horizon one). On a finite-horizon MDP exact MaxEnt's policy depends on
the time step, which a generator reading observations alone cannot represent: there the
sampled method fits the stationary approximation. `ĝ` is unbiased for
the policy it samples; it is biased only as far as the inner loop leaves that policy short of
soft-optimal for `r_ψ` (few inner updates), which is the price guided cost learning
(`irlax.algorithms.gcl`) pays importance weights to avoid.

The reward network reads a transition's features like the adversarial methods' networks:
`network(obs, action, next_obs)` on flattened observations and `irlax.nets.action_features`
of the action (a `TransitionReward` by default; `reward_inputs="state"` is a state-only reward).

Usage:

    from irlax.algorithms import maxent_sampled
    config = maxent_sampled.MaxEntSampledConfig(generator=soft_q.SoftQConfig(...))
    train = maxent_sampled.make_train(config, env, env_params, demos)
    result = jax.jit(train)(key)            # or jax.jit(jax.vmap(train))(keys)
    result.reward(obs, action, next_obs)     # the learned reward r_ψ
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, get_args

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from irlax._pytree import pytree_dataclass
from irlax.algorithms._deep import (
    ExpertTransitions,
    ImitationResult,
    TransitionCheck,
    check_reward_network,
    expert_argument,
    expert_transitions,
    make_generator,
    require_fixed_temperature,
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
from irlax.data import Trajectories
from irlax.nets.policies import action_features, head_for_space
from irlax.nets.reward import TRANSITION_INPUTS, TransitionReward
from irlax.rl import Trainer, Transitions, sac, soft_pg, soft_q
from irlax.rl._common import env_params_or_default, flat_obs

GENERATORS = (soft_q.SoftQConfig, sac.SACConfig, soft_pg.SoftPGConfig)
"""The configs of the max-ent RL trainers the inner loop accepts."""

RewardInputs = Literal["state", "state_action", "state_next_state", "state_action_next_state"]
StepWeights = Literal["discounted", "uniform"]
Optimizer = Literal["adam", "sgd"]
STEP_WEIGHTS, OPTIMIZERS = get_args(StepWeights), get_args(Optimizer)


@dataclasses.dataclass(frozen=True)
class MaxEntSampledConfig:
    """Options of sample-based MaxEnt IRL.

    Attributes:
        generator: the max-ent RL trainer of the inner loop and its options: an
            `irlax.rl.soft_q.SoftQConfig` (the default; discrete actions), an
            `irlax.rl.sac.SACConfig` with `learn_temperature=False`, or an
            `irlax.rl.soft_pg.SoftPGConfig`. Its temperature is the MaxEnt model's `τ` in
            `p(τ) ∝ exp(R/τ)`, its discount the γ of the step weights, and its step budget
            (`total_steps`) the inner loop's: there are `n_updates // inner_updates` outer
            steps, `n_updates` being the generator's.
        inner_updates: generator updates per outer step (per reward gradient step), each
            warm-started from the last.
        samples: whole episodes sampled from the policy after each inner loop, for the
            policy's side of the gradient (M).
        episode_steps: the most steps of a sampled episode; None for the env's
            `max_steps_in_episode`. Demos longer than this are refused.
        reward_network: any Flax module called as `network(obs, action, next_obs)` on feature
            vectors `[..., D]`, `[..., A]`, `[..., D]` (flattened observations;
            `irlax.nets.action_features` of the action) returning `[...]`; None for a
            `TransitionReward(reward_inputs, reward_hidden)`.
        reward_inputs: what the default reward network reads: "state" (a state-only reward),
            "state_action", "state_next_state" or "state_action_next_state".
        reward_hidden: widths of the default reward network's hidden layers; () for a reward
            linear in its inputs (a table on one-hot observations).
        learning_rate: the reward optimiser's step size.
        optimizer: the reward optimiser: "adam" (the default) or "sgd".
        anneal_lr: decay the reward's step size linearly to 0 over the outer steps (the sampled
            gradient is noisy: a vanishing step lets ψ settle instead of jittering about the
            maximum-likelihood reward).
        l2: weight of the L2 penalty `l2/2·|ψ|²` on the reward's parameters (a Gaussian prior).
        step_weights: "discounted" weights step t of every trajectory by γ^t (the gradient of
            the discounted objective the generator is soft-optimal for; the default);
            "uniform" weights every step by 1 (the undiscounted trajectory reward).
    """

    generator: Any = dataclasses.field(default_factory=lambda: soft_q.SoftQConfig())
    inner_updates: int = 10
    samples: int = 16
    episode_steps: int | None = None
    reward_network: nn.Module | None = None
    reward_inputs: RewardInputs = "state_action"
    reward_hidden: tuple[int, ...] = (64, 64)
    learning_rate: float = 1e-2
    optimizer: Optimizer = "adam"
    anneal_lr: bool = False
    l2: float = 0.0
    step_weights: StepWeights = "discounted"

    def __post_init__(self) -> None:
        if not isinstance(self.generator, GENERATORS):
            names = ", ".join(cls.__name__ for cls in GENERATORS)
            raise ValueError(
                f"generator must be one of {names} (a max-ent RL trainer), got "
                f"{type(self.generator).__name__}"
            )
        require_fixed_temperature(self.generator, "MaxEnt IRL (the τ of p(τ) ∝ exp(R/τ))")
        require_int(self, "inner_updates", minimum=1)
        require_int(self, "samples", minimum=1)
        if self.episode_steps is not None:
            require_int(self, "episode_steps", minimum=1)
        require_choice(self, "reward_inputs", TRANSITION_INPUTS)
        require_hidden(self, "reward_hidden")
        require_reward_network(self, ("reward_inputs", "reward_hidden"))
        require_real(self, "learning_rate", lambda x: x > 0, "> 0")
        require_choice(self, "optimizer", OPTIMIZERS)
        require_bool(self, "anneal_lr")
        require_real(self, "l2", lambda x: x >= 0, ">= 0")
        require_choice(self, "step_weights", STEP_WEIGHTS)


@pytree_dataclass
class WeightedSteps:
    """The steps of some episodes, flattened, each with its weight in a per-episode sum.

    `Σ_k weight_k f(obs_k, action_k, next_obs_k) / episodes` is the mean over the episodes of
    `Σ_t w_t f(s_t, a_t, s_t+1)`; padding steps have weight 0.

    Attributes:
        obs: `[K, ...]` observations acted on.
        action: `[K, ...]` the actions taken.
        next_obs: `[K, ...]` the observations they led to.
        weight: `[K]` `w_t` of each step (0 for padding).
        episodes: the number of episodes the steps come from (a scalar).
    """

    obs: jnp.ndarray
    action: jnp.ndarray
    next_obs: jnp.ndarray
    weight: jnp.ndarray
    episodes: jnp.ndarray


def step_weights(length: int, discount: float, kind: str, dtype=jnp.float32) -> jnp.ndarray:
    """`[length]` weights `w_t`: `γ^t` ("discounted") or 1 ("uniform")."""
    if kind == "uniform":
        return jnp.ones(length, dtype)
    return jnp.asarray(discount, dtype) ** jnp.arange(length, dtype=dtype)


def demo_steps(env, env_params, demos: Trajectories, discount: float, kind: str) -> WeightedSteps:
    """The demos as `WeightedSteps` (checked against the env; padding dropped).

    Raises:
        ValueError: demos that are not `Trajectories`, do not fit the env, or hold no step.
    """
    expert = expert_transitions(env, env_params, demos)
    return weighted_steps(expert, demos.n_trajectories, demos.max_length, discount, kind)


def weighted_steps(
    expert: ExpertTransitions, n_trajectories: int, max_length: int, discount: float, kind: str
) -> WeightedSteps:
    """`WeightedSteps` of demos' transitions (traceable: the demos may be data of a program).

    Args:
        expert: the demos' `ExpertTransitions` (from `expert_transitions`, with `step`).
        n_trajectories: N, the number of demos.
        max_length: T, their padded length.
        discount: γ of the step weights.
        kind: "discounted" or "uniform".
    """
    dtype = jnp.result_type(float)
    return WeightedSteps(
        obs=expert.obs,
        action=expert.action,
        next_obs=expert.next_obs,
        weight=step_weights(max_length, discount, kind, dtype)[expert.step],
        episodes=jnp.asarray(n_trajectories, dtype),
    )


@pytree_dataclass
class SampledEpisodes:
    """M whole episodes of a policy, sampled in lockstep for T steps (`sample_episodes`).

    Attributes:
        steps: their `[M·T]` `WeightedSteps` (steps after an episode's end weigh 0).
        transitions: every step taken, as `irlax.rl.Transitions` `[T, M]` (time-major like a
            trainer's; after an episode ends its env has reset itself and goes on, so the
            steps with weight 0 are real transitions of a next episode), with `log_prob` of
            each action under the sampling policy.
        returns: `[M]` each episode's undiscounted return under the env's own reward.
    """

    steps: WeightedSteps
    transitions: Transitions
    returns: jnp.ndarray


def sample_episodes(
    env,
    env_params,
    policy,
    log_prob,
    key: jax.Array,
    n_episodes: int,
    max_steps: int,
    discount: float,
    kind: str = "discounted",
) -> SampledEpisodes:
    """Sample whole episodes of a policy for the policy's side of the MaxEnt gradient.

    Each episode starts at `env.reset` and runs until the env says terminated or truncated,
    or for `max_steps` steps (then it is cut: `M·T` env steps are taken in all). Pure and
    jittable (a JAX env).

    Args:
        env: a gymnax-style JAX env.
        env_params: its parameters (not None).
        policy: `policy(obs, key) -> action` for one observation (e.g. `Result.policy`).
        log_prob: `log_prob(obs, action) -> log π(action | obs)` of that policy (e.g.
            `Result.log_prob`).
        key: PRNG key.
        n_episodes: M, a Python int.
        max_steps: the padded length T, a Python int.
        discount: γ of the step weights.
        kind: "discounted" (`w_t = γ^t`) or "uniform".

    Returns:
        The `SampledEpisodes`.
    """
    weights = step_weights(max_steps, discount, kind, jnp.result_type(float))

    def episode(episode_key):
        keys = jax.random.split(episode_key, max_steps + 1)
        obs0, state0 = env.reset(keys[0], env_params)

        def step(carry, step_key):
            obs, state, active = carry
            action_key, env_key = jax.random.split(step_key)
            action = policy(obs, action_key)
            next_obs, state, reward, terminated, truncated, info = env.step(
                env_key, state, action, env_params
            )
            taken = Transitions(
                obs=obs,
                action=action,
                next_obs=info["final_observation"].astype(obs.dtype),
                terminated=terminated,
                truncated=truncated,
                log_prob=log_prob(obs, action),
            )
            done = jnp.logical_or(terminated, truncated)
            return (next_obs.astype(obs.dtype), state, active & ~done), (taken, active, reward)

        _, (taken, active, reward) = jax.lax.scan(step, (obs0, state0, jnp.array(True)), keys[1:])
        return taken, active, jnp.sum(jnp.where(active, reward, 0.0))

    taken, active, returns = jax.vmap(episode)(jax.random.split(key, n_episodes))

    def flat(x):
        return jnp.reshape(x, (n_episodes * max_steps, *x.shape[2:]))

    steps = WeightedSteps(
        obs=flat(taken.obs),
        action=flat(taken.action),
        next_obs=flat(taken.next_obs),
        weight=flat(jnp.where(active, weights[None, :], 0.0)),
        episodes=jnp.asarray(n_episodes, weights.dtype),
    )
    time_major = jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), taken)
    return SampledEpisodes(steps=steps, transitions=time_major, returns=returns)


def trajectory_reward(reward_batch, reward_params, steps: WeightedSteps) -> jnp.ndarray:
    """`(1/n) Σ_j Σ_t w_t r_ψ(s_jt, a_jt, s_j,t+1)`: the mean weighted reward of the episodes.

    Args:
        reward_batch: `reward_batch(reward_params, obs [K, ...], action [K, ...], next_obs)
            -> [K]`.
        reward_params: ψ.
        steps: the episodes' `WeightedSteps`.
    """
    r = reward_batch(reward_params, steps.obs, steps.action, steps.next_obs)
    return jnp.sum(steps.weight.astype(r.dtype) * r) / steps.episodes.astype(r.dtype)


def likelihood_gradient(
    reward_batch, reward_params, demos: WeightedSteps, policy: WeightedSteps, temperature: float
):
    """The sampled MaxEnt log-likelihood gradient and its two sides.

    `ĝ = ∇ψ [(R̄_demo − R̄_policy) / τ]` with `R̄` the mean weighted trajectory reward
    (`trajectory_reward`): `(1/τ)(E_demos[∇ψ R_ψ] − E_π[∇ψ R_ψ])` (Ziebart et al. 2008; Levine's
    lecture notes, seed 001: "∇ψ L ≈ 1/N Σ_i ∇ψ r_ψ(τ_i) − 1/M Σ_j ∇ψ r_ψ(τ_j)"). The ascent
    direction of the demos' log-likelihood; unbiased when `policy` samples the soft-optimal
    policy of `r_ψ` at temperature τ.

    Returns:
        `(ĝ, R̄_demo, R̄_policy)`, ĝ a pytree like `reward_params`.
    """

    def surrogate(params):
        demo = trajectory_reward(reward_batch, params, demos)
        sampled = trajectory_reward(reward_batch, params, policy)
        return (demo - sampled) / temperature, (demo, sampled)

    grad, (demo, sampled) = jax.grad(surrogate, has_aux=True)(reward_params)
    return grad, demo, sampled


@pytree_dataclass
class MaxEntSampledState:
    """Everything sample-based MaxEnt IRL carries from one outer step to the next.

    Attributes:
        generator: the inner max-ent RL trainer's state (warm start).
        reward_params: ψ.
        opt_state: the reward optimiser's state.
        sampled_steps: env steps taken so far sampling episodes for the gradient (the
            generator counts its own).
        key: the PRNG key of what comes next.
    """

    generator: Any
    reward_params: Any
    opt_state: Any
    sampled_steps: jnp.ndarray
    key: jax.Array


def make_trainer(config: MaxEntSampledConfig, env, env_params, demos) -> Trainer:
    """Sample-based MaxEnt IRL in pieces (see `irlax.rl.Trainer`): `init(key, expert=None)`,
    `update(state, expert=None)`, `result`; `expert` the demos' `ExpertTransitions` as data
    (None: `demos`, baked into the program; see `irlax.algorithms._deep`).

    Args:
        config: a `MaxEntSampledConfig`.
        env: a gymnax-style JAX env (host vector envs are refused: the policy's episodes are
            sampled in JAX).
        env_params: its parameters; None for the defaults.
        demos: expert `Trajectories` of this env's observations and actions.

    Returns:
        A `Trainer` of `generator.n_updates // inner_updates` outer steps whose `result` is an
        `ImitationResult`: the generator's policy, `reward_params` ψ, `reward_fn` the learned
        reward `r_ψ(obs, action, next_obs)`. Metrics per outer step: `episode_return` (the
        mean true return of the sampled episodes), `env_steps` (the generator's and the
        sampled episodes', cumulative), `grad_norm` (of ĝ, before the L2 term),
        `demo_reward` and `policy_reward` (the mean weighted learned reward per trajectory of
        the demos and of the sampled episodes; their difference times 1/τ is the surrogate the
        step ascends), and the generator's last metrics prefixed `generator_`. `update`
        returns the sampled episodes' `Transitions` (`[episode_steps, samples]`; the inner
        loop's are used by the generator and dropped).

    Raises:
        ValueError: a bad config, a host vector env, no episode length, demos longer than
            `episode_steps` or that do not fit the env, or a reward network that cannot be
            called as `network(obs, action, next_obs)` returning one value per transition.
    """
    check_config(config, MaxEntSampledConfig)
    if getattr(env, "is_vector", False):
        raise ValueError(
            "env: maxent_sampled samples whole episodes in JAX, so it needs a JAX env, not a "
            "host vector env"
        )
    env_params = env_params_or_default(env, env_params)
    gen_config = config.generator
    discount = float(gen_config.discount)
    temperature = float(gen_config.temperature)
    max_steps = config.episode_steps
    if max_steps is None:
        max_steps = getattr(env_params, "max_steps_in_episode", None)
        if max_steps is None:
            raise ValueError(
                "episode_steps is required: the env's params have no max_steps_in_episode, "
                "and sampled episodes need a length"
            )
        max_steps = int(max_steps)
    if not isinstance(demos, Trajectories):
        raise ValueError(f"demos must be Trajectories, got {type(demos).__name__}")
    longest = int(np.max(np.asarray(demos.lengths), initial=0))
    if longest > max_steps:
        raise ValueError(
            f"demos last up to {longest} steps but sampled episodes at most episode_steps="
            f"{max_steps}: both sides of the gradient must cover the same steps"
        )
    given = expert_transitions(env, env_params, demos)
    n_demos, demo_length = demos.n_trajectories, demos.max_length
    head = head_for_space(env.action_space(env_params), name="maxent_sampled: the env's")
    network = config.reward_network
    if network is None:
        network = TransitionReward(config.reward_inputs, config.reward_hidden)
    check_reward_network(network, flat_obs(given.obs[:1], 1).shape[-1], head.n)

    def reward_batch(params, obs, action, next_obs):
        x, next_x = flat_obs(obs, 1), flat_obs(next_obs, 1)
        return network.apply(params, x, action_features(head, action), next_x)

    def reward_fn(params, obs, action, next_obs):
        return reward_batch(params, obs[None], jnp.asarray(action)[None], next_obs[None])[0]

    generator = make_generator(gen_config, env, env_params, reward_fn)
    n_updates = generator.n_updates // config.inner_updates
    if n_updates < 1:
        raise ValueError(
            f"inner_updates={config.inner_updates} is more than the generator's "
            f"{generator.n_updates} updates (its total_steps): no outer step would run"
        )
    learning_rate = config.learning_rate
    if config.anneal_lr:
        learning_rate = optax.linear_schedule(config.learning_rate, 0.0, n_updates)
    optimizer = (optax.adam if config.optimizer == "adam" else optax.sgd)(learning_rate)

    def policy_of(gen_state):
        return generator.result(gen_state, {})

    def init(key: jax.Array, expert: ExpertTransitions | None = None) -> MaxEntSampledState:
        expert = expert_argument(expert, given)
        key, gen_key, reward_key = jax.random.split(key, 3)
        x = flat_obs(expert.obs[:1], 1)
        params = network.init(reward_key, x, action_features(head, expert.action[:1]), x)
        return MaxEntSampledState(
            generator=generator.init(gen_key),
            reward_params=params,
            opt_state=optimizer.init(params),
            sampled_steps=jnp.zeros((), jnp.int32),
            key=key,
        )

    def update(state: MaxEntSampledState, expert: ExpertTransitions | None = None):
        expert = expert_argument(expert, given)
        demo = weighted_steps(expert, n_demos, demo_length, discount, config.step_weights)
        key, sample_key = jax.random.split(state.key)
        psi = state.reward_params

        def inner(gen_state, _):
            gen_state, metrics, _ = generator.update(gen_state, psi)
            return gen_state, metrics

        gen_state, gen_metrics = jax.lax.scan(inner, state.generator, None, config.inner_updates)
        policy = policy_of(gen_state)
        sampled = sample_episodes(
            env,
            env_params,
            policy.policy,
            policy.log_prob,
            sample_key,
            config.samples,
            max_steps,
            discount,
            config.step_weights,
        )
        grad, demo_reward, policy_reward = likelihood_gradient(
            reward_batch, psi, demo, sampled.steps, temperature
        )
        grad_norm = optax.tree.norm(grad)
        # Optax minimises: descend the negative log-likelihood plus the L2 penalty.
        loss_grad = jax.tree.map(lambda g, p: -g + config.l2 * p, grad, psi)
        updates, opt_state = optimizer.update(loss_grad, state.opt_state, psi)
        psi = optax.apply_updates(psi, updates)
        state = state.replace(
            generator=gen_state,
            reward_params=psi,
            opt_state=opt_state,
            sampled_steps=state.sampled_steps + config.samples * max_steps,
            key=key,
        )
        env_steps = gen_metrics["env_steps"][-1] + state.sampled_steps
        metrics = {
            "episode_return": jnp.mean(sampled.returns).astype(jnp.float32),
            "env_steps": env_steps,
            "grad_norm": grad_norm.astype(jnp.float32),
            "demo_reward": demo_reward.astype(jnp.float32),
            "policy_reward": policy_reward.astype(jnp.float32),
        }
        for name, values in gen_metrics.items():
            if name != "env_steps":
                metrics[f"generator_{name}"] = values[-1]
        return state, metrics, sampled.transitions

    check_transition = TransitionCheck.of(env, env_params, given)

    def learned_reward(params, obs, action, next_obs):
        check_transition(obs, action, next_obs)
        return reward_fn(params, obs, action, next_obs)

    def result(state: MaxEntSampledState, metrics: dict) -> ImitationResult:
        return ImitationResult(
            policy=generator.result(state.generator, metrics),
            reward_params=state.reward_params,
            metrics=metrics,
            reward_fn=learned_reward,
        )

    return Trainer(init=init, update=update, result=result, n_updates=n_updates)


def make_train(config: MaxEntSampledConfig, env, env_params, demos):
    """`train(key, expert=None) -> ImitationResult`: sample-based MaxEnt IRL, its full budget.

    Pure in its key: `jax.jit(train)`, or `jax.jit(jax.vmap(train, in_axes=(0, None)))(keys,
    expert)` for many seeds, `expert = expert_transitions(env, env_params, demos)` (compiled once
    for every demo set of its shape; None bakes `demos` into the program). See `make_trainer`
    for the arguments.
    """
    return train_from_demos(make_trainer(config, env, env_params, demos))
