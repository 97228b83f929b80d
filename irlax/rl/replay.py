"""A replay buffer of transitions for the off-policy trainers (SAC, soft Q-learning)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from irlax._pytree import pytree_dataclass


@pytree_dataclass
class ReplayBuffer:
    """A fixed-size circular buffer of transitions (a pytree: it lives in the train state).

    Attributes:
        obs: `[N, ...]` observations.
        action: `[N, ...]` actions, in the env's format.
        reward: `[N]` the env's rewards.
        next_obs: `[N, ...]` the observations the actions led to (before any reset).
        terminated: bool `[N]`, True where the episode ended in a terminal state (not where
            it was truncated by a time limit).
        position: int, where the next transition is written.
        size: int, how many slots hold a transition (at most N).
    """

    obs: jnp.ndarray
    action: jnp.ndarray
    reward: jnp.ndarray
    next_obs: jnp.ndarray
    terminated: jnp.ndarray
    position: jnp.ndarray
    size: jnp.ndarray

    @classmethod
    def empty(cls, capacity: int, obs: jnp.ndarray, action: jnp.ndarray, reward) -> ReplayBuffer:
        """A buffer of `capacity` slots shaped like one `obs`, `action` and `reward`."""

        def slots(x):
            x = jnp.asarray(x)
            return jnp.zeros((capacity, *x.shape), x.dtype)

        zero = jnp.zeros((), jnp.int32)
        return cls(
            slots(obs),
            slots(action),
            slots(reward),
            slots(obs),
            jnp.zeros(capacity, bool),
            zero,
            zero,
        )

    @property
    def capacity(self) -> int:
        """N, the number of slots."""
        return self.reward.shape[0]

    def add(self, obs, action, reward, next_obs, terminated) -> ReplayBuffer:
        """Write `n` transitions (leading axis `n` ≤ N), overwriting the oldest."""
        n = reward.shape[0]
        idx = (self.position + jnp.arange(n)) % self.capacity

        def put(buf, x):
            return buf.at[idx].set(jnp.asarray(x).astype(buf.dtype))

        return ReplayBuffer(
            put(self.obs, obs),
            put(self.action, action),
            put(self.reward, reward),
            put(self.next_obs, next_obs),
            put(self.terminated, terminated),
            (self.position + n) % self.capacity,
            jnp.minimum(self.size + n, self.capacity),
        )

    def sample(self, key: jax.Array, batch_size: int) -> ReplayBuffer:
        """`batch_size` stored transitions drawn uniformly with replacement (as a buffer whose
        arrays have leading axis `batch_size`)."""
        idx = jax.random.randint(key, (batch_size,), 0, jnp.maximum(self.size, 1))
        take = lambda x: x[idx]  # noqa: E731
        return ReplayBuffer(
            take(self.obs),
            take(self.action),
            take(self.reward),
            take(self.next_obs),
            take(self.terminated),
            self.position,
            self.size,
        )
