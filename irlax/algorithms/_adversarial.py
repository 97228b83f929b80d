"""Adversarial imitation, the part GAIL and AIRL share: a discriminator against a generator.

One update (Ho & Ermon 2016, Algorithm 1; Fu et al. 2018, Algorithm 1):

1. the generator (an `irlax.rl` trainer) takes one update on the reward the current
   discriminator implies, and returns the transitions it collected;
2. those transitions enter a buffer of policy samples;
3. the discriminator takes `discriminator_steps` gradient steps of logistic regression between
   expert transitions (label 1) and policy transitions (label 0):
   `L = −E_expert[log D] − E_policy[log(1 − D)]`, with `D = σ(logit)`, plus an optional
   gradient penalty `λ E[(‖∇ logit‖ − 1)²]` at random interpolates of the two (Gulrajani et
   al. 2017, as Kostrikov et al. 2019 use it).

The methods differ only in the discriminator's logit and the reward they derive from it
(`Method`).

**Absorbing states** (Kostrikov et al. 2019, §4.2). An episode that ends in a terminal state
is, for the learner, one that enters an absorbing state `s_a` and stays there forever. Without
it, a reward of fixed sign biases the policy: a positive one (GAIL's `−log(1 − D)`) rewards
surviving, a negative one (`log D`) rewards dying early, whatever the expert did. With
`absorbing=True` the discriminator reads an extra input feature that is 1 in `s_a` only, and
learns a reward for `s_a` from the terminal transitions of both sides (each terminal transition
`(s, a) → s_a` brings one absorbing transition `s_a → s_a`); the generator's reward of a
terminal transition is then `r(s, a, s_a) + γ/(1 − γ)·r(s_a, ·, s_a)`, the reward of entering
the absorbing state plus the discounted value of staying there (`terminal_reward_fn` of the
`irlax.rl` trainers). Time-limit truncations are not terminations and are left alone.
Demonstrations must say which of their episodes terminated (`Trajectories.terminated`); when
they do not, none is taken to have.

**Observation normalisation.** With `discriminator_normalize_observations`, the discriminator
reads observations standardised by running statistics of the expert and policy observations it
is trained on (as the reference library's `RunningNorm` does), clipped to ±10.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from irlax._checks import check_key
from irlax._pytree import pytree_dataclass
from irlax.algorithms._deep import (
    ExpertTransitions,
    ImitationResult,
    TransitionCheck,
    check_reward_network,
    expert_argument,
    expert_transitions,
    make_generator,
    require_reward_network,
)
from irlax.config import require_bool, require_hidden, require_int, require_real
from irlax.envs.wrappers import RunningMeanVar
from irlax.nets.policies import action_features, head_for_space
from irlax.rl import ReplayBuffer, Trainer, ppo, sac
from irlax.rl._common import env_params_or_default, flat_obs

# Standardised observations are clipped to this many standard deviations.
_OBS_CLIP = 10.0


@dataclasses.dataclass(frozen=True)
class AdversarialConfig:
    """Options every adversarial method shares (`GAILConfig`, `AIRLConfig` add their own).

    Attributes:
        generator: the policy's trainer and its options: an `irlax.rl.ppo.PPOConfig` (on-policy,
            the default) or an `irlax.rl.sac.SACConfig` (off-policy, far fewer env steps on
            continuous control). Its step budget is the method's. Its entropy bonus (PPO's
            `entropy_coef`, SAC's temperature) is the entropy bonus of the imitation objective.
        discriminator_hidden: widths of the discriminator's hidden layers (ReLU).
        reward_network: the network of the discriminator (GAIL's `d`, AIRL's reward `g`): any
            Flax module called as `network(obs, action, next_obs)` on feature vectors
            `[..., D]`, `[..., A]`, `[..., D]` (normalised observations with an absorbing flag
            appended; `irlax.nets.action_features`), returning `[...]`; None for a
            `TransitionReward` MLP of `discriminator_hidden`.
        discriminator_learning_rate: Adam's step size for the discriminator.
        discriminator_steps: discriminator gradient steps after each generator update.
        discriminator_every: train the discriminator after every this many generator updates
            (1 for PPO; larger for SAC, whose update is a single env step); at most the
            generator's number of updates.
        discriminator_batch_size: expert and policy transitions in each discriminator step
            (each side); None for the transitions of one generator update with PPO
            (`num_envs * rollout_length`), SAC's `batch_size` with SAC (one update is only
            `num_envs` transitions).
        policy_buffer_size: the most recent policy transitions the discriminator samples from;
            None for those of the latest generator update only with PPO (on-policy), as many
            as SAC's replay buffer holds with SAC (`buffer_size`; Kostrikov et al. 2019 sample
            the replay buffer).
        gradient_penalty: weight λ of the gradient penalty on the discriminator's logit; 0 for
            none.
        discriminator_normalize_observations: standardise the discriminator's observations by
            running statistics of the expert and policy observations it is trained on.
        absorbing: treat terminations as entering an absorbing state whose reward is learned
            (Kostrikov et al. 2019); needs a generator discount below 1.
    """

    generator: Any = dataclasses.field(default_factory=lambda: ppo.PPOConfig())
    discriminator_hidden: tuple[int, ...] = (64, 64)
    reward_network: nn.Module | None = None
    discriminator_learning_rate: float = 3e-4
    discriminator_steps: int = 4
    discriminator_every: int = 1
    discriminator_batch_size: int | None = None
    policy_buffer_size: int | None = None
    gradient_penalty: float = 0.0
    discriminator_normalize_observations: bool = True
    absorbing: bool = True

    # The fields that only build the default network (unused with a `reward_network`).
    _network_fields: ClassVar[tuple[str, ...]] = ("discriminator_hidden",)

    def __post_init__(self) -> None:
        if not isinstance(self.generator, ppo.PPOConfig | sac.SACConfig):
            raise ValueError(
                "generator must be an irlax.rl.ppo.PPOConfig or irlax.rl.sac.SACConfig, got "
                f"{type(self.generator).__name__}"
            )
        require_hidden(self, "discriminator_hidden")
        require_real(self, "discriminator_learning_rate", lambda x: x > 0, "> 0")
        require_int(self, "discriminator_steps", minimum=1)
        require_int(self, "discriminator_every", minimum=1)
        for name in ("discriminator_batch_size", "policy_buffer_size"):
            if getattr(self, name) is not None:
                require_int(self, name, minimum=1)
        require_reward_network(self, self._network_fields)
        require_real(self, "gradient_penalty", lambda x: x >= 0, ">= 0")
        require_bool(self, "discriminator_normalize_observations")
        require_bool(self, "absorbing")
        if self.absorbing and not self.generator.discount < 1:
            raise ValueError(
                "absorbing=True needs the generator's discount < 1 (the absorbing state's value "
                f"is r/(1 − γ)), got discount={self.generator.discount}"
            )


class Method(NamedTuple):
    """What makes an adversarial method itself.

    Attributes:
        network: the discriminator's network, called `network(x, a, x')` on features.
        uses_policy: the logit is `network − log π(a|s)` (AIRL) rather than `network` (GAIL).
        reward_of_logit: the generator's reward as a function of the logit.
        learned_reward: `learned_reward(network_params, x, a, x')`, the reward kept after
            training (on features).
        policy_weight: with `uses_policy` and a PPO generator, the weight `w` of `log π` in
            the generator's reward `network − w·log π` (the logit's is always 1).
    """

    network: nn.Module
    uses_policy: bool
    reward_of_logit: Callable[[jnp.ndarray], jnp.ndarray]
    learned_reward: Callable
    policy_weight: float = 1.0


@pytree_dataclass
class AdversarialState:
    """Everything an adversarial method carries from one update to the next.

    Attributes:
        generator: the generator trainer's state.
        discriminator: the discriminator network's parameters.
        opt_state: the discriminator optimiser's state.
        obs_norm: running statistics of the discriminator's observations.
        policy_buffer: the recent policy transitions.
        updates: generator updates taken.
        key: the PRNG key of what comes next.
    """

    generator: Any
    discriminator: Any
    opt_state: Any
    obs_norm: RunningMeanVar
    policy_buffer: ReplayBuffer
    updates: jnp.ndarray
    key: jax.Array


def make_adversarial_trainer(config: AdversarialConfig, env, env_params, demos, method: Method):
    """An adversarial method in pieces (see `irlax.rl.Trainer`), its result an
    `ImitationResult`.

    Args:
        config: the method's config (an `AdversarialConfig`).
        env: a gymnax-style env (or a host vector env holding the generator's `num_envs`).
        env_params: its parameters; None for the defaults.
        demos: expert `Trajectories` for this env.
        method: the method's discriminator and rewards.

    Returns:
        A `Trainer` whose `n_updates` is the generator's and whose `result` is an
        `ImitationResult`.
    """
    env_params = env_params_or_default(env, env_params)
    given = expert_transitions(env, env_params, demos)
    head = head_for_space(env.action_space(env_params))
    gen_config = config.generator
    discount = gen_config.discount

    def features(obs_norm, obs, batch_ndim):
        x = flat_obs(obs, batch_ndim)
        if config.discriminator_normalize_observations:
            x = obs_norm.normalize(x, clip=_OBS_CLIP)
        return jnp.concatenate([x, jnp.zeros((*x.shape[:-1], 1), x.dtype)], axis=-1)

    def absorbing_like(x):
        """The absorbing state's features, shaped like `x`: zeros, flag 1."""
        return jnp.zeros_like(x).at[..., -1].set(1.0)

    def stay_logit(network_params, x, a):
        """The network's value of `s_a → s_a` (no action there: zeros), shaped like `x[..., 0]`."""
        ax = absorbing_like(x)
        return method.network.apply(network_params, ax, jnp.zeros_like(a), ax)

    # AIRL's generator reward is `f − log π`. An on-policy generator (PPO) is given it whole,
    # with log π of the policy that acts; an off-policy one (SAC) is given `f` alone, since
    # its soft objective adds `−α log π` itself, under the policy of each gradient step rather
    # than the stale one of a replayed batch (exactly AIRL's objective at α = 1).
    subtract_log_pi = method.uses_policy and isinstance(gen_config, ppo.PPOConfig)

    # The generator's reward, from the discriminator's parameters (and, when it subtracts
    # log π, the acting policy's): `reward_params = {"discriminator", "obs_norm"[, "policy"]}`.
    def generator_reward(reward_params, obs, action, next_obs, *, terminal):
        norm = reward_params["obs_norm"]
        x, next_x = features(norm, obs, 0), features(norm, next_obs, 0)
        a = action_features(head, action)
        if terminal:
            next_x = absorbing_like(next_x)
        value = method.network.apply(reward_params["discriminator"], x, a, next_x)
        if subtract_log_pi:
            log_pi = policy_log_prob(reward_params["policy"], obs, action)
            value = value - method.policy_weight * log_pi
        reward = method.reward_of_logit(value)
        if terminal:
            stay = stay_logit(reward_params["discriminator"], x, a)
            reward = reward + discount / (1.0 - discount) * method.reward_of_logit(stay)
        return reward

    def reward_fn(reward_params, obs, action, next_obs):
        return generator_reward(reward_params, obs, action, next_obs, terminal=False)

    def terminal_reward_fn(reward_params, obs, action, next_obs):
        return generator_reward(reward_params, obs, action, next_obs, terminal=True)

    generator = make_generator(
        gen_config, env, env_params, reward_fn, terminal_reward_fn if config.absorbing else None
    )

    if config.discriminator_every > generator.n_updates:
        raise ValueError(
            f"discriminator_every must be at most the generator's {generator.n_updates} updates "
            "(its step budget), or the discriminator never trains and the reward stays its "
            f"random initialisation; got {config.discriminator_every}"
        )

    def current_policy(gen_state):
        return generator.result(gen_state, {})

    # `log_prob_fn(policy_params, obs, action)` of the generator's results (a static field,
    # so a result traced from shapes alone gives it).
    probe_state = jax.eval_shape(generator.init, jax.random.key(0))
    policy_log_prob = jax.eval_shape(current_policy, probe_state).log_prob_fn
    # Transitions per generator update: a PPO rollout, or one step of SAC's envs.
    per_update = gen_config.num_envs * getattr(gen_config, "rollout_length", 1)
    off_policy = isinstance(gen_config, sac.SACConfig)
    batch_size = config.discriminator_batch_size or (
        gen_config.batch_size if off_policy else per_update
    )
    buffer_size = config.policy_buffer_size or (
        max(gen_config.buffer_size, per_update) if off_policy else per_update
    )
    if buffer_size < per_update:
        raise ValueError(
            f"policy_buffer_size must hold one generator update's {per_update} transitions "
            f"(num_envs * rollout_length), got {buffer_size}"
        )
    obs_dim = flat_obs(given.obs[:1], 1).shape[-1] + 1  # the features and the absorbing flag
    if config.reward_network is not None and config.reward_network is not method.network:
        # AIRL's g on its own: inside f = g + γh' − h a g of the wrong shape would broadcast.
        check_reward_network(config.reward_network, obs_dim, head.n)
    check_reward_network(method.network, obs_dim, head.n)
    optimizer = optax.adam(config.discriminator_learning_rate)

    def reward_params_of(state: AdversarialState) -> dict:
        params = {"discriminator": state.discriminator, "obs_norm": state.obs_norm}
        if subtract_log_pi:
            params["policy"] = current_policy(state.generator).params
        return params

    def init(key: jax.Array, expert: ExpertTransitions | None = None) -> AdversarialState:
        check_key(key)
        expert = expert_argument(expert, given)
        key, gen_key, disc_key = jax.random.split(key, 3)
        gen_state = generator.init(gen_key)
        obs_norm = RunningMeanVar.zeros((flat_obs(expert.obs[:1], 1).shape[-1],))
        x = features(obs_norm, expert.obs[:1], 1)
        a = action_features(head, expert.action[:1])
        params = method.network.init(disc_key, x, a, x)
        buffer = ReplayBuffer.empty(
            buffer_size, expert.obs[0], expert.action[0], jnp.zeros((), jnp.float32)
        )
        return AdversarialState(
            generator=gen_state,
            discriminator=params,
            opt_state=optimizer.init(params),
            obs_norm=obs_norm,
            policy_buffer=buffer,
            updates=jnp.zeros((), jnp.int32),
            key=key,
        )

    def side_loss(params, policy_params, norm, batch, label):
        """Mean logistic loss of one side, its absorbing twins included, and the accuracy of
        its real transitions; also the inputs, for the gradient penalty."""
        x, next_x = features(norm, batch.obs, 1), features(norm, batch.next_obs, 1)
        a = action_features(head, batch.action)
        term = batch.terminated
        if config.absorbing:
            next_x = jnp.where(term[:, None], absorbing_like(next_x), next_x)
        real = method.network.apply(params, x, a, next_x)
        if method.uses_policy:
            log_pi = jax.vmap(policy_log_prob, in_axes=(None, 0, 0))
            real = real - log_pi(policy_params, batch.obs, batch.action)
        sign = 1.0 if label else -1.0
        weights = jnp.ones_like(real)
        losses = jax.nn.softplus(-sign * real)  # −log D for experts, −log(1 − D) for policy
        if config.absorbing:
            # s_a → s_a: the policy has no choice there (log π = 0).
            stay = stay_logit(params, x, a)
            losses = jnp.concatenate([losses, jax.nn.softplus(-sign * stay)])
            weights = jnp.concatenate([weights, term.astype(weights.dtype)])
        loss = jnp.sum(weights * losses) / jnp.sum(weights)
        accuracy = jnp.mean((sign * real > 0).astype(real.dtype))
        return loss, accuracy, (x, a, next_x)

    def disc_loss(params, policy_params, norm, expert_batch, policy_batch, key):
        e_loss, e_acc, e_in = side_loss(params, policy_params, norm, expert_batch, True)
        p_loss, p_acc, p_in = side_loss(params, policy_params, norm, policy_batch, False)
        loss = e_loss + p_loss
        penalty = jnp.zeros(())
        if config.gradient_penalty > 0:
            eps = jax.random.uniform(key, (e_in[0].shape[0], 1))
            mixed = [eps * e + (1 - eps) * p for e, p in zip(e_in, p_in, strict=True)]

            def net(x, a, nx):
                return method.network.apply(params, x[None], a[None], nx[None])[0]

            grads = jax.vmap(jax.grad(net, argnums=(0, 1, 2)))(*mixed)
            norms = jnp.sqrt(sum(jnp.sum(g**2, axis=-1) for g in grads) + 1e-12)
            penalty = jnp.mean((norms - 1.0) ** 2)
            loss = loss + config.gradient_penalty * penalty
        metrics = {
            "discriminator_loss": e_loss + p_loss,
            "discriminator_accuracy_expert": e_acc,
            "discriminator_accuracy_policy": p_acc,
            "gradient_penalty": penalty,
        }
        return loss, metrics

    def train_discriminator(state: AdversarialState, key, expert: ExpertTransitions):
        policy_params = current_policy(state.generator).params
        norm = state.obs_norm
        if config.discriminator_normalize_observations:
            key, k_policy, k_expert = jax.random.split(key, 3)
            policy_obs = state.policy_buffer.sample(k_policy, batch_size).obs
            seen = jnp.concatenate([policy_obs, expert.sample(k_expert, batch_size).obs])
            norm = norm.update(flat_obs(seen, 1))

        def step(carry, key):
            params, opt_state = carry
            k_e, k_p, k_gp = jax.random.split(key, 3)
            expert_batch = expert.sample(k_e, batch_size)
            policy_batch = state.policy_buffer.sample(k_p, batch_size)
            grads, metrics = jax.grad(disc_loss, has_aux=True)(
                params, policy_params, norm, expert_batch, policy_batch, k_gp
            )
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), metrics

        keys = jax.random.split(key, config.discriminator_steps)
        (params, opt_state), metrics = jax.lax.scan(
            step, (state.discriminator, state.opt_state), keys
        )
        state = state.replace(discriminator=params, opt_state=opt_state, obs_norm=norm)
        return state, jax.tree.map(lambda m: m[-1].astype(jnp.float32), metrics)

    def skip_discriminator(state: AdversarialState, key, expert: ExpertTransitions):
        nan = jnp.full((), jnp.nan, jnp.float32)
        names = (
            "discriminator_loss",
            "discriminator_accuracy_expert",
            "discriminator_accuracy_policy",
            "gradient_penalty",
        )
        return state, dict.fromkeys(names, nan)

    def update(state: AdversarialState, expert: ExpertTransitions | None = None):
        expert = expert_argument(expert, given)
        key, disc_key = jax.random.split(state.key)
        gen_state, gen_metrics, taken = generator.update(state.generator, reward_params_of(state))
        flat = jax.tree.map(lambda x: x.reshape((per_update, *x.shape[2:])), taken)
        buffer = state.policy_buffer.add(
            flat.obs,
            flat.action,
            jnp.zeros(per_update, jnp.float32),
            flat.next_obs,
            flat.terminated,
        )
        updates = state.updates + 1
        state = state.replace(generator=gen_state, policy_buffer=buffer, updates=updates, key=key)
        if config.discriminator_every == 1:
            state, disc_metrics = train_discriminator(state, disc_key, expert)
        else:
            state, disc_metrics = jax.lax.cond(
                updates % config.discriminator_every == 0,
                train_discriminator,
                skip_discriminator,
                state,
                disc_key,
                expert,
            )
        if config.absorbing:
            # The generator's per-step reward in s_a; a terminal transition gets γ/(1 − γ) of it.
            x = features(state.obs_norm, expert.obs[0], 0)
            a = action_features(head, expert.action[0])
            stay = method.reward_of_logit(stay_logit(state.discriminator, x, a))
            disc_metrics["absorbing_reward"] = stay.astype(jnp.float32)
        return state, {**gen_metrics, **disc_metrics}, taken

    check_transition = TransitionCheck.of(env, env_params, given)

    def learned_reward(reward_params, obs, action, next_obs):
        check_transition(obs, action, next_obs)
        norm = reward_params["obs_norm"]
        x, next_x = features(norm, obs, 0), features(norm, next_obs, 0)
        return method.learned_reward(
            reward_params["discriminator"], x, action_features(head, action), next_x
        )

    def result(state: AdversarialState, metrics: dict) -> ImitationResult:
        reward_params = {"discriminator": state.discriminator, "obs_norm": state.obs_norm}
        return ImitationResult(
            policy=generator.result(state.generator, metrics),
            reward_params=reward_params,
            metrics=metrics,
            reward_fn=learned_reward,
        )

    return Trainer(init=init, update=update, result=result, n_updates=generator.n_updates)
