"""What the deep imitation and IRL methods share: the result type, the generator, the demos.

Every method that learns from sampled dynamics (`gail`, `airl`, and those to come) exposes
`make_trainer(config, env, env_params, demos) -> Trainer` and `make_train(...) -> train`, with
`train(key) -> ImitationResult`. They train a forward-RL policy (the *generator*, an
`irlax.rl` trainer chosen by the type of `config.generator`) through its `reward_fn` hook, and
read the policy's samples from the `Transitions` its `update` returns; they never step the env
themselves. `irlax.rl.run.run` drives their `Trainer` in checkpointed chunks like any other.

The demonstrations are data, not part of the program: `train(key, expert)`,
`Trainer.init(key, expert)` and `Trainer.update(state, expert)` take them as an argument, the
`ExpertTransitions` of `expert_transitions(env, env_params, demos)`. Passed so, every demo set
of the same shape runs the same compiled program (JAX's persistent compilation cache loads
it; a jitted `train` called again with new demos does not compile), and the program does not
grow with the number of demonstrations. `expert=None` stands for the demos given to
`make_trainer`, which are then baked into the compiled program as constants (one program per
demo set):

    expert = expert_transitions(env, env_params, demos)
    train = gail.make_train(config, env, env_params, demos)
    results = jax.jit(jax.vmap(train, in_axes=(0, None)))(keys, expert)

Under `jax.vmap` over seeds the demos are given once (`in_axes=None`), not copied per seed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from irlax._checks import check_key
from irlax._pytree import pytree_dataclass, static_field
from irlax.data import Trajectories
from irlax.data.rollout import check_demos
from irlax.envs.core import check_in_space
from irlax.rl import Result, Trainer, ppo, sac, soft_pg, soft_q

GENERATORS = {
    ppo.PPOConfig: ppo.make_trainer,
    sac.SACConfig: sac.make_trainer,
    soft_q.SoftQConfig: soft_q.make_trainer,
    soft_pg.SoftPGConfig: soft_pg.make_trainer,
}
"""The forward-RL trainers a deep method can train its policy with, by config type (each
method's config says which of them it accepts)."""


@pytree_dataclass
class ImitationResult:
    """What a deep imitation or IRL method learned.

    Attributes:
        policy: the trained policy, an `irlax.rl.Result` (`.policy(obs, key)`, `.log_prob(obs,
            action)`, its own per-update `metrics`).
        reward_params: the learned reward's parameters (None for a method without a reward).
        metrics: per-update arrays, each `[n_updates]` (with a leading seed axis under
            `jax.vmap`): at least `episode_return` (under the env's true reward) and
            `env_steps`, and the method's own (e.g. discriminator loss and accuracy).
        reward_fn: `reward_fn(reward_params, obs, action, next_obs) -> reward` of one
            transition (raw observations and actions as the env gives and takes them), static;
            usable as any `irlax.rl` trainer's `reward_fn`. None without a learned reward.
    """

    policy: Result
    reward_params: Any
    metrics: dict
    reward_fn: Callable | None = static_field(default=None)

    def reward(self, obs: jnp.ndarray, action: jnp.ndarray, next_obs: jnp.ndarray):
        """The learned reward of one transition, a scalar (`jax.vmap` it for a batch)."""
        if self.reward_fn is None:
            raise ValueError("this result has no learned reward (reward_fn is None)")
        return self.reward_fn(self.reward_params, obs, action, next_obs)


def make_generator(
    generator_config: Any, env, env_params, reward_fn, terminal_reward_fn=None
) -> Trainer:
    """The forward-RL trainer of `generator_config`'s type, on the learned reward.

    Raises:
        ValueError: a config of no generator type (naming the ones there are).
    """
    make = GENERATORS.get(type(generator_config))
    if make is None:
        names = ", ".join(cls.__name__ for cls in GENERATORS)
        raise ValueError(f"generator must be one of {names}, got {type(generator_config).__name__}")
    return make(generator_config, env, env_params, reward_fn, terminal_reward_fn)


@pytree_dataclass
class ExpertTransitions:
    """The demonstrations as a flat set of `M` transitions `(s, a, s')`, padding dropped.

    Attributes:
        obs: `[M, ...]` observations acted on.
        action: `[M, ...]` the actions taken.
        next_obs: `[M, ...]` the observations they led to.
        terminated: bool `[M]`, True for the last transition of a trajectory that ended in a
            terminal state (`Trajectories.terminated`; False throughout when unknown).
        episode: int32 `[M]` the trajectory each transition belongs to (its row in the
            demos), or None.
        step: int32 `[M]` its step within that trajectory (0 for the first), or None.
    """

    obs: jnp.ndarray
    action: jnp.ndarray
    next_obs: jnp.ndarray
    terminated: jnp.ndarray
    episode: jnp.ndarray | None = None
    step: jnp.ndarray | None = None

    @property
    def size(self) -> int:
        """M, the number of transitions."""
        return self.terminated.shape[0]

    def sample(self, key: jax.Array, batch_size: int) -> ExpertTransitions:
        """`batch_size` transitions drawn uniformly with replacement."""
        idx = jax.random.randint(key, (batch_size,), 0, self.size)
        return jax.tree.map(lambda x: x[idx], self)


def expert_transitions(env, env_params, demos: Trajectories) -> ExpertTransitions:
    """Check demonstrations against an env and flatten them into transitions.

    Args:
        env: the env the demos are for (its spaces are checked against the demos).
        env_params: its parameters, or None for the defaults.
        demos: `Trajectories` of observations and actions as the env gives and takes them.

    Returns:
        Their `ExpertTransitions` (built on the host, once, before training).

    Raises:
        ValueError: demos that are not `Trajectories`, that do not fit the env's spaces
            (shape, dtype, range; NaN or infinite observations), or that hold no transition.
    """
    check_demos(env, env_params, demos)
    mask = np.asarray(demos.mask)
    if not mask.any():
        n = demos.n_trajectories
        what = "no trajectories" if n == 0 else f"{n} trajectories, each of length 0"
        raise ValueError(f"demos hold no transitions ({what}); imitation needs at least one action")
    obs = np.asarray(demos.observations)
    lengths = np.asarray(demos.lengths)
    unknown = demos.terminated is None  # taken as truncated (time limits)
    ended = np.zeros(len(lengths), bool) if unknown else np.asarray(demos.terminated)
    last = np.arange(demos.max_length)[None, :] == (lengths[:, None] - 1)
    episode, step = np.nonzero(mask)  # row-major: step t of demo i follows step t - 1
    return ExpertTransitions(
        obs=jnp.asarray(obs[:, :-1][mask]),
        action=jnp.asarray(np.asarray(demos.actions)[mask]),
        next_obs=jnp.asarray(obs[:, 1:][mask]),
        terminated=jnp.asarray((last & ended[:, None])[mask]),
        episode=jnp.asarray(episode, jnp.int32),
        step=jnp.asarray(step, jnp.int32),
    )


def expert_argument(expert: ExpertTransitions | None, default: ExpertTransitions):
    """The demos a trainer's `init`, `update` or `train` was given: `expert`, checked to be
    laid out like the demos given to `make_trainer` (`default`), or `default` when None.

    Raises:
        ValueError: naming `expert`, when it is not `ExpertTransitions` or any of its arrays
            differs in shape or dtype from `default`'s (the compiled program is fixed by them).
    """
    if expert is None:
        return default
    if not isinstance(expert, ExpertTransitions):
        raise ValueError(
            "expert must be the ExpertTransitions of expert_transitions(env, env_params, "
            f"demos), or None for the demos given to make_trainer; got {type(expert).__name__}"
        )
    for name in ("obs", "action", "next_obs", "terminated", "episode", "step"):
        given, expected = getattr(expert, name), getattr(default, name)
        if expected is None:
            continue
        if given is None or given.shape != expected.shape or given.dtype != expected.dtype:
            described = "None" if given is None else f"{given.dtype}{list(given.shape)}"
            raise ValueError(
                f"expert.{name} must be laid out like the demos given to make_trainer, "
                f"{expected.dtype}{list(expected.shape)}, got {described} (demos with another "
                "number of transitions need their own make_trainer)"
            )
    return expert


def train_from_demos(trainer: Trainer) -> Callable:
    """`train(key, expert=None) -> ImitationResult` of a deep method's `Trainer`: `init`,
    `n_updates` updates under `lax.scan`, `result`, the demos (`ExpertTransitions`, None for
    those given to `make_trainer`) an argument of each (see the module docstring)."""

    def train(key: jax.Array, expert: ExpertTransitions | None = None) -> ImitationResult:
        check_key(key)
        state = trainer.init(key, expert)
        state, metrics = jax.lax.scan(
            lambda s, _: trainer.update(s, expert)[:2], state, None, trainer.n_updates
        )
        return trainer.result(state, metrics)

    return train


def require_reward_network(config: Any, default_fields: Sequence[str]) -> None:
    """`config.reward_network` is a Flax module or None; given one, the fields that only build
    the default network (`default_fields`: its inputs, its widths) stay at their defaults, for
    the module replaces that network and they would be ignored without a word."""
    network = config.reward_network
    if network is None:
        return
    if not isinstance(network, nn.Module):
        raise ValueError(
            f"reward_network must be a Flax module or None, got {type(network).__name__}"
        )
    fields = {f.name: f for f in dataclasses.fields(config)}
    for name in default_fields:
        field = fields[name]
        default = (
            field.default if field.default is not dataclasses.MISSING else field.default_factory()
        )
        if getattr(config, name) != default:
            raise ValueError(
                f"{name}={getattr(config, name)!r} would be ignored: it builds the default "
                f"reward network, which reward_network replaces; leave it at {default!r} (and "
                "build what it says into the module)"
            )


def require_fixed_temperature(generator: Any, objective: str) -> None:
    """Refuse a SAC generator that tunes its temperature where the method's objective is
    entropy-regularised RL at a given temperature (`objective` says which and why): tuning it
    towards a target entropy optimises another objective at every step."""
    if isinstance(generator, sac.SACConfig) and generator.learn_temperature:
        raise ValueError(
            f"generator: {objective} needs a fixed temperature; a SAC generator that tunes it "
            "optimises another objective: give the SACConfig learn_temperature=False"
        )


def check_reward_network(network, obs_dim: int, action_dim: int) -> None:
    """Refuse a reward network that cannot be called as `network(obs, action, next_obs)` on
    feature batches `[B, obs_dim]`, `[B, action_dim]`, `[B, obs_dim]` or does not return one
    floating-point value per transition, before anything is traced (Flax would fail deep
    inside `init`).

    Raises:
        ValueError: naming the module and the shapes it was called with.
    """
    x = jax.ShapeDtypeStruct((2, obs_dim), jnp.float32)
    a = jax.ShapeDtypeStruct((2, action_dim), jnp.float32)
    try:
        params = jax.eval_shape(network.init, jax.random.key(0), x, a, x)
        out = jax.eval_shape(network.apply, params, x, a, x)
    except Exception as e:  # any failure of a user's module, named
        raise ValueError(
            f"reward_network {type(network).__name__} cannot be called as network(obs, action, "
            f"next_obs) on features [B, {obs_dim}], [B, {action_dim}], [B, {obs_dim}]: {e}"
        ) from e
    if getattr(out, "shape", None) != (2,):
        raise ValueError(
            f"reward_network must return one value per transition, shape [B]; for B = 2 it "
            f"returned {getattr(out, 'shape', type(out).__name__)}"
        )
    # An integer or bool output has no gradient: the network would never learn.
    if not jnp.issubdtype(out.dtype, jnp.floating):
        raise ValueError(
            f"reward_network must return floating-point values (an integer or bool output has "
            f"no gradient and never learns), got dtype {out.dtype}"
        )


@dataclasses.dataclass(frozen=True)
class TransitionCheck:
    """Refuses arguments of a learned `reward_fn` that are not one transition of the env the
    demos are for: observations and an action of another shape (a batch among them: the
    reward is of one transition, `jax.vmap` it), or, where the action is concrete, one outside
    the action space (a discrete index out of range would be one-hot encoded as no action, or
    gather NaN). Shapes are checked under `jax.jit` and `jax.vmap` too. Build it with
    `TransitionCheck.of`; it compares by the shapes (a gymnax space compares by identity), so
    a reward holding it stays equal across trainers of one env.

    Attributes:
        obs_shape: the shape of one observation.
        action_shape: the shape of one action.
        action_space: the env's action space.
    """

    obs_shape: tuple[int, ...]
    action_shape: tuple[int, ...]
    action_space: Any = dataclasses.field(compare=False)

    @classmethod
    def of(cls, env, env_params, expert: ExpertTransitions) -> TransitionCheck:
        """The check for the transitions of `expert` in `env`."""
        return cls(expert.obs.shape[1:], expert.action.shape[1:], env.action_space(env_params))

    def __call__(self, obs, action, next_obs) -> None:
        """Raises:
        ValueError: naming the argument, the shape expected and the one given."""
        given = (
            ("obs", obs, "observation", self.obs_shape),
            ("action", action, "action", self.action_shape),
            ("next_obs", next_obs, "observation", self.obs_shape),
        )
        for name, value, what, shape in given:
            if value is None or jnp.shape(value) != shape:
                got = "None" if value is None else f"shape {jnp.shape(value)}"
                raise ValueError(
                    f"reward_fn's {name} must be one {what} of shape {shape} (the reward is of "
                    f"one transition; jax.vmap it for a batch), got {got}"
                )
        check_in_space(self.action_space, action, name="action")
