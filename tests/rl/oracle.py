"""The oracle every tabular RL test checks its learner against: a six-state random MDP whose
exact soft Q-values, policy and value come from `irlax.mdp.soft_value_iteration` in float64.

6 states (state 5 terminal), 3 actions, 2 random successors per pair, discount 0.9,
temperature 0.5. The learners (soft Q-learning, discrete SAC, the soft policy gradient) all
maximise `E[Σ_t γ^t (r_t + τ·H(π(·|s_t)))]`, whose soft-optimal Q is soft value iteration's
with its default plain soft maximum `V = τ logsumexp(Q/τ)` and expected backup.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from irlax.envs import random_mdp
from irlax.mdp import soft_value_iteration
from irlax.mdp.core import expected_next

N_STATES, N_ACTIONS, DISCOUNT, TEMPERATURE = 6, 3, 0.9, 0.5


def oracle_mdp(x64: bool):
    """The MDP, built in float64 (`x64=True`, for exact answers) or float32 (for an env); the
    two differ only by rounding."""
    with jax.enable_x64(x64):
        return random_mdp(
            jax.random.PRNGKey(3), N_STATES, N_ACTIONS, 2, discount=DISCOUNT, n_terminal=1
        )


def oracle_reward(seed: int = 4) -> np.ndarray:
    """A standard-normal reward table `[S, A]` (float32 values, whatever the caller's
    precision, held as float64)."""
    with jax.enable_x64(False):
        draw = jax.random.normal(jax.random.PRNGKey(seed), (N_STATES, N_ACTIONS))
    return np.asarray(draw, np.float64)


def next_state_bonus(mdp) -> np.ndarray:
    """A reward `[S]` for the state an action leads to, largest (2) on the terminal state, so a
    learner that read the observation after the automatic reset would miss it."""
    bonus = np.zeros(N_STATES)
    terminal = np.asarray(mdp.terminal)
    bonus[terminal] = 2.0
    bonus[~terminal] = np.linspace(-0.5, 0.5, N_STATES - 1)
    return bonus


def hooked_reward(reward_params, obs, action, next_obs):
    """A `reward_fn` on one-hot observations: `table[s, a] + bonus[s']`, with `s'` the state
    the action led to (before any reset)."""
    return (
        reward_params["table"][jnp.argmax(obs), action]
        + reward_params["bonus"][jnp.argmax(next_obs)]
    )


def lookup_reward(table, obs, action, next_obs):
    """A `reward_fn` on one-hot observations: `table[s, a]`."""
    return table[jnp.argmax(obs), action]


def expected_hooked_reward(mdp, table, bonus) -> np.ndarray:
    """`r̄(s, a) = table[s, a] + E[bonus(s') | s, a]`, `[S, A]`: what `hooked_reward` pays in
    expectation."""
    return np.asarray(table) + np.asarray(expected_next(mdp, jnp.asarray(bonus)))


def soft_optimal(reward):
    """`soft_value_iteration` of the float64 MDP with `reward [S, A]` at the oracle's
    temperature (default arguments otherwise: plain soft maximum, expected backup)."""
    mdp = oracle_mdp(True)
    return soft_value_iteration(
        mdp, jnp.asarray(reward, jnp.float64), temperature=TEMPERATURE, tol=1e-10
    )
