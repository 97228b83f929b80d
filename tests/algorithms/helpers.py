"""Shared by the tests of the tabular IRL methods."""

import jax.numpy as jnp
import numpy as np

from irlax.data import Trajectories


def trajectories(obs, act, lengths=None) -> Trajectories:
    """Trajectories from nested lists; every trajectory full length unless `lengths` says."""
    obs, act = np.asarray(obs), np.asarray(act)
    if lengths is None:
        lengths = np.full(obs.shape[0], act.shape[1])
    return Trajectories(
        observations=jnp.asarray(obs, jnp.int32),
        actions=jnp.asarray(act, jnp.int32),
        lengths=jnp.asarray(lengths, jnp.int32),
    )


def reach_probability(mdp, log_policy, steps):
    """P(a terminal state is reached within `steps` steps), from every start state."""
    t = np.asarray(mdp.dense_transitions())
    move = np.einsum("sa,sat->st", np.exp(np.asarray(log_policy)), t)
    term = np.asarray(mdp.terminal)
    move[term] = np.eye(mdp.n_states)[term]  # absorbing
    return np.linalg.matrix_power(move, steps)[:, term].sum(axis=1)
