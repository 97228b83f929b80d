"""MAIL: imitation-regularised TD learning with concurrent actions (Harmer et al. 2018).

Harmer et al., "Imitation Learning with Concurrent Actions in 3D Games" (CIG 2018; the seed
notes' `003_*`, §4.2): an agent that presses several buttons at once has one output head per
action group, and it learns from mixed batches: every update both predicts the expert's
actions on a batch of expert data (imitation) and learns, by temporal differences, a policy
that maximises the discounted return of the live agent's own stream. Imitation runs at the
same time as TD learning, not as pre-training, so the network stays a valid TD learner
throughout, and the imitation term gives useful feedback from the first step, when the
sparse reward gives TD almost none.

The exact formulation here (the seed gives the scheme; the choices below are irlax's):

- **Network**: an MLP torso with one linear head per action group `g = 1..G`, `Q_g(s, ·)` of
  `n_g` values (a `Discrete` space is one group). The joint action-value decomposes
  additively over the groups:

      Q(s, a) = Σ_g Q_g(s, a_g),

  so its maximum over the `Π_g n_g` joint actions is `Σ_g max Q_g(s, ·)`, reached by the
  per-group argmaxes: choosing every group greedily is choosing the joint action greedily,
  with `Σ_g n_g` outputs instead of `Π_g n_g`.
- **TD loss** (one-step Q-learning on the joint value, on a batch `B` drawn uniformly from a
  replay buffer of the agent's own transitions, with a target network `θ̄` copied from `θ`
  every `target_period` gradient steps):

      y = r + γ (1 − terminated) Σ_g Q_g(s', a*_g; θ̄),   a*_g = argmax_a' Q_g(s', a'; θ),
      L_TD = mean_B ℓ(Σ_g Q_g(s, a_g; θ) − y),

  the double-Q target (van Hasselt et al. 2016; `double_q=False` takes `a*_g` from θ̄,
  plain Q-learning's `Σ_g max Q_g(s', ·; θ̄)`: on a 3×3 KeyDoor, TD alone with it drove the
  Q-values, whose true values are at most 1, past 2 within 20k env steps while its return
  fell to 0; with the double-Q target it learned the task, to a return of 0.42),
  `ℓ` half the square (`loss="mse"`) or Huber with δ = 1 (`loss="huber"`); a truncated
  episode is bootstrapped through.
- **Imitation loss** (on a batch `E` of expert transitions drawn uniformly from the demos):
  the cross-entropy of the expert's action in every group, with each head's Q-values over a
  temperature `κ` (`imitation_temperature`, 1 by default) as the logits of a softmax,

      L_IL = mean_E Σ_g −log softmax(Q_g(s, ·; θ) / κ)_{a^E_g} = −mean_E log π_Q(a^E | s),

  `π_Q(a | s) = Π_g softmax(Q_g(s, ·) / κ)_{a_g}` (the `MultiCategorical` head over the
  Q-values). Why `κ` matters: the cross-entropy only falls as the expert's action pulls
  ahead, so on the expert's states it keeps raising the greedy action's value while the TD
  loss pulls it back; the maximum settles a little above its TD target, and the TD target
  bootstraps from that maximum, so the bias compounds over the horizon, up to `b / (1 − γ)`
  for a bias `b` per step. On `KeyDoor` (true values at most 1) with `κ = 1`, `γ = 0.99`, the
  mean Q of the agent's actions reached 4 after 48k env steps (15 with 4× the gradient
  steps), and the return fell from its peak. A small `κ` (0.1) lets the cross-entropy
  saturate once the expert's action leads by a few `κ`, and a smaller `γ` shortens the
  compounding (with both, it stayed at 0.6).
- **Objective**: `L = td_weight · L_TD + w_t · imitation_weight · L_IL`, one Adam step on
  each mixed batch, `w_t = 1`, or with `imitation_decay_steps = D`, `w_t = max(0, 1 − t/D)`
  after `t` env steps: imitation guides the early, sparse-reward phase and then hands over
  to TD learning, which alone can pass the expert (the imitation term keeps pulling the
  greedy policy back to the expert's choices). `imitation_weight = 0` is TD learning alone
  (the paper's baseline); `td_weight = 0` is behaviour cloning of the demos by the same
  network (softmax of its Q-values, still collecting but not learning from the agent's
  stream).
- **Acting** while training: per group, ε-greedy (each group independently uniform with
  probability ε, ε decaying linearly from `epsilon_start` to `epsilon_end` over
  `epsilon_decay_steps` env steps) or Boltzmann (`softmax(Q_g / temperature)`). The trained
  policy is greedy per group when deterministic, Boltzmann otherwise.

Usage:

    from irlax.algorithms import mail
    from irlax.envs import make
    from irlax.envs.key_door import expert
    from irlax.data import rollout
    env, params = make("KeyDoor-v0")
    demos = rollout(env, expert, 20, key, params)
    train = mail.make_train(mail.MAILConfig(total_steps=30_000), env, params, demos)
    result = jax.jit(train)(key)               # or jax.jit(jax.vmap(train))(keys)
    result.policy.policy(obs, key, deterministic=True)   # greedy in every group
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Literal, get_args

import jax
import jax.numpy as jnp
import numpy as np
import optax

from irlax._pytree import pytree_dataclass
from irlax.algorithms._deep import (
    ExpertTransitions,
    ImitationResult,
    expert_argument,
    expert_transitions,
    train_from_demos,
)
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
from irlax.nets.mlp import MLP
from irlax.nets.policies import Categorical, MultiCategorical, head_for_space
from irlax.rl import Result, Trainer
from irlax.rl._common import (
    EpisodeStats,
    Transitions,
    env_params_or_default,
    flat_obs,
    reset_envs,
    step_envs,
)
from irlax.rl.replay import ReplayBuffer

Exploration = Literal["epsilon", "boltzmann"]
Loss = Literal["huber", "mse"]
EXPLORATIONS, LOSSES = get_args(Exploration), get_args(Loss)

__all__ = ["MAILConfig", "MAILState", "QHeads", "mail_loss", "make_train", "make_trainer"]


@dataclasses.dataclass(frozen=True)
class MAILConfig:
    """Options of MAIL (every field fixes shapes or the program, so all are static).

    Attributes:
        total_steps: environment steps in all, over all parallel envs; training runs
            `total_steps // (num_envs * rollout_length)` updates.
        num_envs: parallel environments.
        rollout_length: steps each env takes per update, before the update's gradient steps.
        gradient_steps: gradient steps per update, each on a fresh mixed batch.
        buffer_size: capacity of the replay buffer of the agent's transitions (circular).
        batch_size: agent transitions per mixed batch (the TD part), drawn uniformly.
        expert_batch_size: expert transitions per mixed batch (the imitation part), drawn
            uniformly from the demos.
        learning_starts: agent transitions the buffer must hold before the TD term is used
            (the imitation term is used from the first update), at most `buffer_size`.
        learning_rate: Adam step size.
        max_grad_norm: clip gradients to this global norm; None for no clipping.
        discount: the discount factor γ in [0, 1].
        td_weight: weight (>= 0) of the TD loss; 0 is behaviour cloning alone.
        imitation_weight: weight (>= 0) of the cross-entropy to the expert's actions; 0 is
            TD learning alone.
        imitation_temperature: κ > 0, the temperature of the softmax whose cross-entropy is
            the imitation loss, `softmax(Q_g / κ)` (see the module docstring: a small κ keeps
            the imitation from inflating the Q-values that TD bootstraps from).
        imitation_decay_steps: None for a constant imitation weight; else the env steps (all
            envs) over which it decays linearly to 0, after which MAIL is TD learning alone.
        exploration: how the agent acts while training, per action group: "epsilon"
            (ε-greedy) or "boltzmann" (`softmax(Q_g / temperature)`).
        epsilon_start: ε at the first env step (exploration="epsilon"), in [0, 1].
        epsilon_end: ε after `epsilon_decay_steps` env steps, in [0, 1].
        epsilon_decay_steps: env steps (all envs) over which ε decays linearly.
        temperature: τ > 0 of the Boltzmann policy `softmax(Q_g / τ)`: the exploration of
            exploration="boltzmann", and the trained policy's when sampled.
        target_period: gradient steps between copies of the online network into the target
            network.
        double_q: double Q-learning (van Hasselt et al. 2016): the target's next action is
            chosen per group by the online network and valued by the target network,
            `y = r + γ (1 − terminated) Σ_g Q_g(s', argmax Q_g(s', ·; θ); θ̄)`, which curbs
            the overestimation of a maximum taken over every group at once; False takes
            `Σ_g max Q_g(s', ·; θ̄)`.
        loss: the TD loss `ℓ`: "huber" (δ = 1) or "mse" (half the squared error).
        hidden: widths of the Q-network's hidden layers (the torso shared by the heads).
    """

    total_steps: int = 100_000
    num_envs: int = 8
    rollout_length: int = 1
    gradient_steps: int = 1
    buffer_size: int = 50_000
    batch_size: int = 64
    expert_batch_size: int = 64
    learning_starts: int = 1_000
    learning_rate: float = 1e-3
    max_grad_norm: float | None = 10.0
    discount: float = 0.99
    td_weight: float = 1.0
    imitation_weight: float = 1.0
    imitation_temperature: float = 1.0
    imitation_decay_steps: int | None = None
    exploration: Exploration = "epsilon"
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    epsilon_decay_steps: int = 20_000
    temperature: float = 0.1
    target_period: int = 500
    double_q: bool = True
    loss: Loss = "huber"
    hidden: tuple[int, ...] = (64, 64)

    def __post_init__(self):
        require_rollout_budget(self)
        for name in (
            "gradient_steps",
            "buffer_size",
            "batch_size",
            "expert_batch_size",
            "epsilon_decay_steps",
            "target_period",
        ):
            require_int(self, name, minimum=1)
        require_int(self, "learning_starts", minimum=0)
        if self.learning_starts > self.buffer_size:
            raise ValueError(
                f"learning_starts must be at most buffer_size={self.buffer_size} (the buffer "
                f"could never hold that many), got {self.learning_starts}"
            )
        require_optimizer(self)
        require_real(self, "discount", lambda x: 0 <= x <= 1, "in [0, 1]")
        require_real(self, "td_weight", lambda x: x >= 0, ">= 0")
        require_real(self, "imitation_weight", lambda x: x >= 0, ">= 0")
        require_real(self, "imitation_temperature", lambda x: x > 0, "> 0")
        if self.imitation_decay_steps is not None:
            require_int(self, "imitation_decay_steps", minimum=1)
            if self.td_weight == 0:
                raise ValueError(
                    "imitation_decay_steps with td_weight=0 would stop learning once the "
                    "imitation weight reaches 0; give td_weight a positive value, or leave "
                    "imitation_decay_steps None"
                )
        if self.td_weight == 0 and self.imitation_weight == 0:
            raise ValueError(
                "td_weight and imitation_weight are both 0, so nothing would be learned; give "
                "one of them a positive weight"
            )
        require_choice(self, "exploration", EXPLORATIONS)
        require_real(self, "epsilon_start", lambda x: 0 <= x <= 1, "in [0, 1]")
        require_real(self, "epsilon_end", lambda x: 0 <= x <= 1, "in [0, 1]")
        require_real(self, "temperature", lambda x: x > 0, "> 0")
        require_bool(self, "double_q")
        require_choice(self, "loss", LOSSES)
        require_hidden(self)


@dataclasses.dataclass(frozen=True)
class QHeads:
    """A Q-network with one head per concurrent action group: `Q_g(s, ·)`, `g = 1..G`.

    The network's output `[..., Σ_g n_g]` is the heads' values side by side (an MLP torso and
    one linear head per group), read as the logits of a `MultiCategorical` head. Actions are
    always handled as `[..., G]` group indices; `to_groups`/`from_groups` convert a `Discrete`
    space's `[...]` actions (one group).

    Attributes:
        head: the `MultiCategorical` over the groups (the action space's).
        discrete: whether the env's space is `Discrete` (actions `[...]`, not `[..., 1]`).
        hidden: widths of the torso's hidden layers.
    """

    head: MultiCategorical
    discrete: bool
    hidden: tuple[int, ...]

    @property
    def network(self) -> MLP:
        """The MLP whose output is every head's values, concatenated."""
        return MLP(hidden=self.hidden, out=self.head.n)

    def values(self, params, obs: jnp.ndarray) -> jnp.ndarray:
        """`[n, Σ n_g]`: the heads' Q-values of a batch of observations `[n, ...]`."""
        return self.network.apply(params, flat_obs(obs, 1))

    def groups(self, q: jnp.ndarray) -> list[jnp.ndarray]:
        """The heads' values `[..., n_g]`, one array per group."""
        bounds = np.cumsum(self.head.nvec)[:-1].tolist()
        return jnp.split(q, bounds, axis=-1) if bounds else [q]

    def joint(self, q: jnp.ndarray, action: jnp.ndarray) -> jnp.ndarray:
        """`Q(s, a) = Σ_g Q_g(s, a_g)`, `[...]`, for values `[..., Σ n_g]`, actions `[..., G]`."""
        chosen = [
            jnp.take_along_axis(q_g, action[..., g, None].astype(jnp.int32), axis=-1)[..., 0]
            for g, q_g in enumerate(self.groups(q))
        ]
        return sum(chosen[1:], chosen[0])

    def max(self, q: jnp.ndarray) -> jnp.ndarray:
        """`max_a Q(s, a) = Σ_g max Q_g(s, ·)`, `[...]`."""
        parts = [jnp.max(q_g, axis=-1) for q_g in self.groups(q)]
        return sum(parts[1:], parts[0])

    def to_groups(self, action: jnp.ndarray) -> jnp.ndarray:
        """Env actions as `[..., G]` group indices."""
        action = jnp.asarray(action)
        return action[..., None] if self.discrete else action

    def from_groups(self, action: jnp.ndarray) -> jnp.ndarray:
        """`[..., G]` group indices as the env takes them (int32)."""
        action = action.astype(jnp.int32)
        return action[..., 0] if self.discrete else action


def q_heads(space, hidden: tuple[int, ...]) -> QHeads:
    """The `QHeads` of an action space.

    Raises:
        ValueError: a space that is neither `Discrete` nor `MultiDiscrete`.
    """
    head = head_for_space(space, name="mail: the env's")
    if isinstance(head, Categorical):
        return QHeads(MultiCategorical((head.n,)), True, hidden)
    if isinstance(head, MultiCategorical):
        return QHeads(head, False, hidden)
    raise ValueError(
        "mail needs a Discrete or MultiDiscrete action space (one categorical choice per "
        f"action group), got {type(space).__name__} with a {type(head).__name__} head"
    )


def mail_loss(
    config: MAILConfig,
    heads: QHeads,
    params,
    target_params,
    agent: ReplayBuffer,
    expert: ExpertTransitions,
    td_active: jnp.ndarray | bool = True,
    imitation_scale: jnp.ndarray | float = 1.0,
):
    """MAIL's loss on one mixed batch (see the module docstring for the formulas).

    Args:
        config: the config (`discount`, `loss`, `td_weight`, `imitation_weight`).
        heads: the Q-network.
        params: its parameters θ.
        target_params: the target network's θ̄.
        agent: `[B]` agent transitions (a `ReplayBuffer` sample; actions as the env takes
            them).
        expert: `[E]` expert transitions.
        td_active: whether the TD term counts (False while the buffer is filling).
        imitation_scale: `w_t`, the factor on `imitation_weight` at this step (its decay).

    Returns:
        `(L, (L_TD, L_IL))` with `L = td_weight · L_TD · td_active + imitation_scale ·
        imitation_weight · L_IL`.
    """
    q = heads.values(params, agent.obs)
    q_taken = heads.joint(q, heads.to_groups(agent.action))
    q_next = heads.values(target_params, agent.next_obs)
    if config.double_q:
        # Double Q-learning: each group's next action chosen by θ, valued by θ̄.
        best = heads.head.mode(heads.values(params, agent.next_obs))
        v_next = heads.joint(q_next, jax.lax.stop_gradient(best))
    else:
        v_next = heads.max(q_next)
    continues = 1.0 - agent.terminated.astype(v_next.dtype)
    reward = agent.reward.astype(v_next.dtype)
    target = jax.lax.stop_gradient(reward + config.discount * continues * v_next)
    error = q_taken - target
    if config.loss == "huber":
        td = jnp.mean(optax.huber_loss(error, delta=1.0))
    else:
        td = 0.5 * jnp.mean(jnp.square(error))
    q_expert = heads.values(params, expert.obs)
    logits = q_expert / config.imitation_temperature
    imitation = -jnp.mean(heads.head.log_prob(logits, heads.to_groups(expert.action)))
    td_scale = config.td_weight * jnp.asarray(td_active, td.dtype)
    il_scale = config.imitation_weight * jnp.asarray(imitation_scale, td.dtype)
    return td_scale * td + il_scale * imitation, (td, imitation)


@pytree_dataclass
class MAILState:
    """Everything MAIL carries from one update to the next.

    Attributes:
        params: the Q-network's parameters.
        target_params: the target network's parameters.
        opt_state: the optimiser's state.
        env_state: the parallel envs' states.
        obs: `[num_envs, ...]` the envs' current observations.
        buffer: the replay buffer of the agent's transitions.
        stats: episode statistics of the envs (true env reward).
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


def make_trainer(config: MAILConfig, env, env_params, demos) -> Trainer:
    """MAIL in pieces (see `irlax.rl.Trainer`): `init(key, expert=None)`, `update(state,
    expert=None)`, `result`; `expert` the demos' `ExpertTransitions` as data (None: `demos`,
    baked into the program; see `irlax.algorithms._deep`).

    Args:
        config: a `MAILConfig`.
        env: a gymnax-style JAX env with a `Discrete` or `MultiDiscrete` action space.
        env_params: its parameters; None for the defaults.
        demos: expert `Trajectories` of this env's observations and actions (`[N, T, G]` for
            `G` action groups, `[N, T]` for a `Discrete` space).

    Returns:
        A `Trainer` whose `result` is an `ImitationResult` with `reward_params` and
        `reward_fn` None (MAIL learns no reward) and `policy` a `Result` whose `q_fn(params,
        obs)` gives the heads' values `[Σ n_g]`, `act_fn` the greedy (deterministic) or
        Boltzmann action, and `log_prob_fn` the Boltzmann policy's log-probability. Metrics per
        update: `episode_return` (true env reward of the most recent episodes, NaN until one
        ends), `env_steps`, `td_loss` and `imitation_loss` (means over the update's gradient
        steps; NaN before the first), `loss`, `epsilon` (the exploration rate of the update's
        steps), `imitation_weight` (its value, decayed, in the update's gradient steps),
        `expert_accuracy` (the fraction of an expert batch on which the greedy joint action
        equals the expert's) and `q_mean` (mean Q of the taken agent actions).

    Raises:
        ValueError: a bad config, an action space with no categorical groups, or demos that do
            not fit the env (their action shape must be the space's `[G]`) or hold no
            transition.
    """
    check_config(config, MAILConfig)
    env_params = env_params_or_default(env, env_params)
    heads = q_heads(env.action_space(env_params), config.hidden)
    given = expert_transitions(env, env_params, demos)
    nvec = heads.head.nvec
    tau_t = config.temperature

    def q_fn(params, obs):
        return heads.values(params, obs[None])[0]

    def act_fn(params, obs, key, deterministic=False):
        q = q_fn(params, obs)
        greedy = heads.head.mode(q)
        sampled = heads.head.sample(q / tau_t, key)
        return heads.from_groups(jnp.where(deterministic, greedy, sampled))

    def log_prob_fn(params, obs, action):
        """log of the Boltzmann policy `Π_g softmax(Q_g(s, ·)/τ)` at `action`."""
        return heads.head.log_prob(q_fn(params, obs) / tau_t, heads.to_groups(action))

    batch_per_update = config.num_envs * config.rollout_length
    n_updates = config.total_steps // batch_per_update
    chain = [optax.adam(config.learning_rate)]
    if config.max_grad_norm is not None:
        chain.insert(0, optax.clip_by_global_norm(config.max_grad_norm))
    optimizer = optax.chain(*chain)

    def epsilon_at(env_steps):
        fraction = jnp.minimum(env_steps / config.epsilon_decay_steps, 1.0)
        return config.epsilon_start + fraction * (config.epsilon_end - config.epsilon_start)

    def imitation_at(env_steps):
        """`w_t`: the factor on the imitation weight after `env_steps` env steps."""
        if config.imitation_decay_steps is None:
            return jnp.ones((), jnp.float32)
        return jnp.maximum(1.0 - env_steps / config.imitation_decay_steps, 0.0)

    def behaviour(params, obs, key, epsilon):
        """Per-group actions `[n, G]` and their log-probabilities `[n]` under the behaviour
        policy (ε-greedy: `Σ_g log((1 − ε)·1[a_g = argmax] + ε/n_g)`; or Boltzmann)."""
        q = heads.values(params, obs)
        sample_key, uniform_key, coin_key = jax.random.split(key, 3)
        if config.exploration == "boltzmann":
            action = heads.head.sample(q / tau_t, sample_key)
            return action, heads.head.log_prob(q / tau_t, action)
        greedy = heads.head.mode(q)
        uniform, _ = heads.head.uniform(uniform_key, (obs.shape[0],))
        explore = jax.random.uniform(coin_key, greedy.shape) < epsilon
        action = jnp.where(explore, uniform, greedy)
        sizes = jnp.asarray(nvec, q.dtype)
        probability = (1.0 - epsilon) * (action == greedy) + epsilon / sizes
        return action, jnp.sum(jnp.log(probability), axis=-1)

    def init(key, expert: ExpertTransitions | None = None):
        expert_argument(expert, given)  # only checked: the demos are read by `update`
        key, env_key, net_key = jax.random.split(key, 3)
        obs, env_state = reset_envs(env, env_params, env_key, config.num_envs)
        params = heads.network.init(net_key, flat_obs(obs[:1], 1))
        example_action = jnp.zeros(() if heads.discrete else (len(nvec),), jnp.int32)
        return MAILState(
            params=params,
            target_params=params,
            opt_state=optimizer.init(params),
            env_state=env_state,
            obs=obs,
            buffer=ReplayBuffer.empty(config.buffer_size, obs[0], example_action, jnp.float32(0)),
            stats=EpisodeStats.zeros(config.num_envs),
            key=key,
            env_steps=jnp.zeros((), jnp.int32),
            grad_steps=jnp.zeros((), jnp.int32),
        )

    def env_step(state: MAILState, _):
        key, act_key, step_key = jax.random.split(state.key, 3)
        epsilon = epsilon_at(state.env_steps)
        groups, log_prob = behaviour(state.params, state.obs, act_key, epsilon)
        action = heads.from_groups(groups)
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

    def gradient_step(experts: ExpertTransitions, imitation_scale, carry, key):
        params, target_params, opt_state, grad_steps, buffer = carry
        agent_key, expert_key = jax.random.split(key)
        agent = buffer.sample(agent_key, config.batch_size)
        expert = experts.sample(expert_key, config.expert_batch_size)
        td_active = buffer.size >= max(config.learning_starts, 1)
        (loss, (td, imitation)), grads = jax.value_and_grad(
            lambda p: mail_loss(
                config, heads, p, target_params, agent, expert, td_active, imitation_scale
            ),
            has_aux=True,
        )(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        grad_steps = grad_steps + 1
        refresh = grad_steps % config.target_period == 0
        target_params = jax.tree.map(
            lambda new, old: jnp.where(refresh, new, old), params, target_params
        )
        q_mean = jnp.mean(
            heads.joint(heads.values(params, agent.obs), heads.to_groups(agent.action))
        )
        greedy = heads.head.mode(heads.values(params, expert.obs))
        accuracy = jnp.mean(jnp.all(greedy == heads.to_groups(expert.action), axis=-1))
        nan = jnp.full((), jnp.nan, td.dtype)
        td = jnp.where(td_active, td, nan)
        carry = (params, target_params, opt_state, grad_steps, buffer)
        return carry, (loss, td, imitation, accuracy, q_mean)

    def update(state: MAILState, expert: ExpertTransitions | None = None):
        experts = expert_argument(expert, given)
        epsilon = epsilon_at(state.env_steps)
        imitation_scale = imitation_at(state.env_steps)
        state, transitions = jax.lax.scan(env_step, state, None, config.rollout_length)
        key, learn_key = jax.random.split(state.key)
        keys = jax.random.split(learn_key, config.gradient_steps)
        carry = (
            state.params,
            state.target_params,
            state.opt_state,
            state.grad_steps,
            state.buffer,
        )

        def learn(carry):
            step = functools.partial(gradient_step, experts, imitation_scale)
            carry, values = jax.lax.scan(step, carry, keys)
            return carry, tuple(jnp.mean(v).astype(jnp.float32) for v in values)

        def wait(carry):
            return carry, (jnp.full((), jnp.nan, jnp.float32),) * 5

        if config.imitation_weight > 0:
            ready = jnp.bool_(True)  # imitation needs no agent data: learn from the start
        else:
            ready = state.buffer.size >= max(config.learning_starts, 1)
        carry, (loss, td, imitation, accuracy, q_mean) = jax.lax.cond(ready, learn, wait, carry)
        params, target_params, opt_state, grad_steps, _ = carry
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
            "td_loss": td,
            "imitation_loss": imitation,
            "expert_accuracy": accuracy,
            "q_mean": q_mean,
            "epsilon": jnp.asarray(epsilon, jnp.float32),
            "imitation_weight": config.imitation_weight * imitation_scale.astype(jnp.float32),
        }
        return state, metrics, transitions

    def result(state: MAILState, metrics: dict) -> ImitationResult:
        policy = Result(
            params=state.params,
            metrics=metrics,
            act_fn=act_fn,
            q_fn=q_fn,
            log_prob_fn=log_prob_fn,
        )
        return ImitationResult(policy=policy, reward_params=None, metrics=metrics)

    return Trainer(init=init, update=update, result=result, n_updates=n_updates)


def make_train(config: MAILConfig, env, env_params, demos) -> Callable:
    """`train(key, expert=None) -> ImitationResult`: MAIL for `config.total_steps` env steps.

    Pure in its key: `jax.jit(train)`, or `jax.jit(jax.vmap(train, in_axes=(0, None)))(keys,
    expert)` for many seeds, `expert = expert_transitions(env, env_params, demos)` (compiled once
    for every demo set of its shape; None bakes `demos` into the program). See `make_trainer`
    for the arguments.
    """
    return train_from_demos(make_trainer(config, env, env_params, demos))
