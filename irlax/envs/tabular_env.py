"""`TabularEnv`: a `TabularMDP` and a reward table as a sampled gymnax-API env.

It lets the sample-based learners (soft Q-learning, SAC, PPO) run on MDPs whose exact answer
`irlax.mdp.soft_value_iteration` knows, which is how their tests check them.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from irlax._pytree import float_dtype, pytree_dataclass, static_field
from irlax.envs.core import Env, check_action, spaces
from irlax.mdp.core import TabularMDP
from irlax.mdp.planning import state_action_reward

OBSERVATIONS = ("onehot", "features", "index")
"""Observation modes of `TabularEnv`."""


@pytree_dataclass
class TabularEnvState:
    """The state of a `TabularEnv`.

    Attributes:
        state: int32 `[]` index of the current MDP state.
        time: int32 `[]` actions taken in this episode (the step index t of the next action,
            which indexes a finite-horizon `Plan`).
    """

    state: jnp.ndarray
    time: jnp.ndarray


@pytree_dataclass
class TabularEnvParams:
    """The parameters of a `TabularEnv` (a pytree: `jax.vmap` over rewards works).

    Attributes:
        mdp: the `TabularMDP` (dynamics, start distribution, terminal states).
        reward: `[S]` or `[S, A]` reward table.
        max_steps_in_episode: truncation after this many actions, or None for none (static:
            changing it recompiles).
    """

    mdp: TabularMDP
    reward: jnp.ndarray
    max_steps_in_episode: int | None = static_field(default=None)


class TabularEnv(Env):
    """A tabular MDP as a gymnax-API env with sampled transitions.

    Episodes start in `s_0 ~ mdp.init`. Action `a` in state `s` pays `r(s, a)` (`reward[s]`
    for a state reward) and moves to `next_states[s, a, k]` with probability `probs[s, a, k]`
    (`next_states[s, 0, k]` in the shared `[S, 1, K]` layout). Entering a terminal state
    (`mdp.terminal`) ends the episode (`terminated`); the terminal state's own reward is never
    paid, since no action is taken there. These are the conventions of `irlax.mdp`, so the
    expected return of a policy in this env is its value under `soft_value_iteration` /
    `value_iteration`: for a finite horizon, `Σ_s init[s] v[0, s]` with the undiscounted sum.

    Episodes are truncated after `time_limit` actions, or the MDP's `horizon` when no
    `time_limit` is given. An infinite-horizon MDP without a time limit only ends episodes at
    terminal states; the discount is the learner's business (soft Q-learning and SAC take
    `discount=mdp.discount`), and the env reports undiscounted rewards. `state.time` counts
    the actions taken so far, so a time-indexed finite-horizon policy can be looked up.

    Attributes:
        mdp: the `TabularMDP`.
        reward: the reward table as given, `[S]` or `[S, A]`.
        observation: "onehot" (float `[S]`), "features" (`mdp.features[s]`, float `[F]`) or
            "index" (int32 `[]`).
        time_limit: the truncation length, or None.
        max_steps: the effective truncation length (`time_limit`, else `mdp.horizon`), or
            None for none.
    """

    def __init__(
        self,
        mdp: TabularMDP,
        reward: Any,
        observation: str = "onehot",
        time_limit: int | None = None,
    ):
        """Build the env.

        Args:
            mdp: the `TabularMDP`; its start distribution must not put mass on terminal
                states (an episode cannot end before it begins).
            reward: `[S]` or `[S, A]` finite reward table.
            observation: "onehot", "features" or "index".
            time_limit: actions per episode before truncation, a positive integer; None for
                the MDP's horizon (None too for an infinite-horizon MDP).

        Raises:
            ValueError: naming the bad argument.
        """
        super().__init__()
        if not isinstance(mdp, TabularMDP):
            raise ValueError(f"mdp must be a TabularMDP, got {type(mdp).__name__}")
        if observation not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {OBSERVATIONS}, got {observation!r}")
        if observation == "features":
            if mdp.features is None:
                raise ValueError('observation="features" needs an MDP with features, it has none')
            if mdp.features.ndim != 2:
                raise ValueError(
                    'observation="features" needs state features [S, F], the MDP has '
                    f"state-action features {tuple(mdp.features.shape)}"
                )
        if time_limit is not None and (
            isinstance(time_limit, bool) or int(time_limit) != time_limit or time_limit < 1
        ):
            raise ValueError(f"time_limit must be a positive integer or None, got {time_limit!r}")
        r = jnp.asarray(reward)
        state_action_reward(mdp, r)  # validates shape and finiteness
        if not jnp.issubdtype(r.dtype, jnp.floating):
            r = r.astype(mdp.probs.dtype)
        terminal = np.asarray(mdp.terminal)
        start_mass = float(np.asarray(mdp.init)[terminal].sum())
        if start_mass > 0:
            raise ValueError(
                f"mdp.init puts probability {start_mass} on terminal states; episodes must "
                "start in a non-terminal state"
            )
        self.mdp = mdp
        self.reward = r
        self.observation = observation
        self.time_limit = None if time_limit is None else int(time_limit)
        self.max_steps = self.time_limit if time_limit is not None else mdp.horizon
        if observation == "features":
            feats = np.asarray(mdp.features)
            self._obs_low, self._obs_high = feats.min(axis=0), feats.max(axis=0)

    @property
    def default_params(self) -> TabularEnvParams:
        return TabularEnvParams(
            mdp=self.mdp, reward=self.reward, max_steps_in_episode=self.max_steps
        )

    @property
    def name(self) -> str:
        return "TabularEnv"

    @property
    def num_actions(self) -> int:
        return self.mdp.n_actions

    def action_space(self, params: TabularEnvParams | None = None) -> spaces.Discrete:
        """`Discrete(A)`."""
        return spaces.Discrete(self.mdp.n_actions)

    def observation_space(self, params: TabularEnvParams | None = None) -> Any:
        """`Box(0, 1, [S])` (onehot), `Box(min, max, [F])` (features) or `Discrete(S)`."""
        if self.observation == "index":
            return spaces.Discrete(self.mdp.n_states)
        if self.observation == "onehot":
            return spaces.Box(0.0, 1.0, (self.mdp.n_states,), float_dtype())
        return spaces.Box(
            self._obs_low, self._obs_high, (self.mdp.n_features,), self.mdp.features.dtype
        )

    def step(self, key, state, action, params=None):
        """gymnax `step` (automatic reset), refusing a concrete out-of-range action."""
        params = self.default_params if params is None else params
        check_action(self, params, action)
        return super().step(key, state, action, params)

    def reset_env(self, key: jax.Array, params: TabularEnvParams):
        s0 = jax.random.categorical(key, jnp.log(params.mdp.init)).astype(jnp.int32)
        state = TabularEnvState(state=s0, time=jnp.int32(0))
        return self.get_obs(state, params), state

    def step_env(self, key: jax.Array, state: TabularEnvState, action, params: TabularEnvParams):
        mdp = params.mdp
        s = state.state
        a = jnp.asarray(action).astype(jnp.int32)
        k = jax.random.categorical(key, jnp.log(mdp.probs[s, a]))
        a_list = a if mdp.next_states.shape[1] > 1 else 0
        s_next = mdp.next_states[s, a_list, k]
        r = params.reward[s] if params.reward.ndim == 1 else params.reward[s, a]
        new_state = TabularEnvState(state=s_next, time=state.time + 1)
        terminated = mdp.terminal[s_next]
        return self.get_obs(new_state, params), new_state, r, terminated, {}

    def get_obs(self, state: TabularEnvState, params: TabularEnvParams | None = None, key=None):
        """The observation of a state: one-hot, features or the index."""
        if self.observation == "index":
            return state.state
        if self.observation == "onehot":
            return jax.nn.one_hot(state.state, self.mdp.n_states, dtype=float_dtype())
        mdp = self.mdp if params is None else params.mdp
        return mdp.features[state.state]

    def is_terminated(self, state: TabularEnvState, params: TabularEnvParams) -> jnp.ndarray:
        return params.mdp.terminal[state.state]

    def is_truncated(self, state: TabularEnvState, params: TabularEnvParams) -> jnp.ndarray:
        if params.max_steps_in_episode is None:
            return jnp.bool_(False)
        return state.time >= params.max_steps_in_episode
