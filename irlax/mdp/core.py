"""`TabularMDP`: a finite Markov decision process stored as sparse successor lists."""

from __future__ import annotations

import dataclasses
import functools

import jax.numpy as jnp
import numpy as np

from irlax._pytree import float_dtype, pytree_dataclass, static_field
from irlax.config import is_int, is_real
from irlax.mdp.checks import SUM_TOLERANCE, check_distribution, check_finite, numeric_array


@pytree_dataclass
class TabularMDP:
    """A finite MDP with known dynamics, a frozen pytree.

    The dynamics are successor lists: taking action `a` in state `s` moves to
    `next_states[s, a, k]` with probability `probs[s, a, k]`. With `K` successors per pair the
    MDP costs `O(S·A·K)` memory, so a million-state gridworld fits where a dense `[S, A, S]`
    matrix never would. Duplicate successors are allowed; their probabilities add up.

    When every action of a state draws from one list of successors (moves on a grid, say),
    `next_states` may be `[S, 1, K]`, shared by all actions, with `probs` still `[S, A, K]`.
    Planning then gathers values once per state rather than once per action, which is A
    times less memory traffic; `from_dense` chooses this layout whenever it is smaller.

    Terminal states end an episode: no action is taken there, their value is 0 and they carry
    no occupancy. A reward for reaching one is paid by the action that enters it.

    Build one with `from_dense` or `from_successors`, which validate their input; the plain
    constructor does not (JAX uses it to rebuild the pytree).

    Attributes:
        next_states: int32 `[S, A, K]` successor indices, or `[S, 1, K]` shared by all actions.
        probs: float `[S, A, K]` successor probabilities; each non-terminal row sums to 1.
        init: float `[S]` distribution of the first state.
        terminal: bool `[S]`, True where an episode ends.
        features: optional float `[S, F]` or `[S, A, F]` features for linear rewards.
        horizon: number of actions per episode H, or None for an infinite horizon.
        discount: the discount factor γ; must be < 1 for an infinite horizon.
    """

    next_states: jnp.ndarray
    probs: jnp.ndarray
    init: jnp.ndarray
    terminal: jnp.ndarray
    features: jnp.ndarray | None = None
    horizon: int | None = static_field(default=None)
    discount: float = static_field(default=1.0)

    @property
    def n_states(self) -> int:
        """S, the number of states."""
        return self.next_states.shape[0]

    @property
    def n_actions(self) -> int:
        """A, the number of actions."""
        return self.probs.shape[1]

    @property
    def n_successors(self) -> int:
        """K, the length of each successor list."""
        return self.next_states.shape[2]

    @property
    def n_features(self) -> int:
        """F, the number of features (0 when the MDP has none)."""
        return 0 if self.features is None else self.features.shape[-1]

    def replace(self, **changes) -> TabularMDP:
        """A copy with some fields changed, validated like the constructors."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields.update(changes)
        next_states, probs, init = (fields.pop(k) for k in ("next_states", "probs", "init"))
        return TabularMDP.from_successors(next_states, probs, init, **fields)

    def dense_transitions(self) -> jnp.ndarray:
        """The dense `[S, A, S]` transition matrix (for small MDPs and tests)."""
        s, a, _ = self.probs.shape
        one_hot = jnp.zeros((s, a, s), self.probs.dtype)
        rows = jnp.arange(s)[:, None, None]
        cols = jnp.arange(a)[None, :, None]
        next_states = jnp.broadcast_to(self.next_states, self.probs.shape)
        return one_hot.at[rows, cols, next_states].add(self.probs)

    @classmethod
    def from_dense(
        cls,
        transitions,
        init,
        *,
        features=None,
        horizon: int | None = None,
        discount: float = 1.0,
        terminal=None,
    ) -> TabularMDP:
        """Build from a dense transition tensor.

        Args:
            transitions: `[S, A, S]` with `transitions[s, a, s'] = P(s' | s, a)`.
            init: `[S]` initial state distribution.
            features: optional `[S, F]` or `[S, A, F]`.
            horizon: H, or None for an infinite (discounted) horizon.
            discount: γ in [0, 1]; must be < 1 when `horizon` is None.
            terminal: optional bool `[S]`; rows of terminal states may be all zero.

        Returns:
            The MDP with successor lists as long as the densest row, shared by all actions
            (`next_states [S, 1, K]`) when a state's successors over all its actions number at
            most twice the densest row.

        Raises:
            ValueError: naming the field that is invalid.
        """
        t = numeric_array("transitions", transitions)
        if t.ndim != 3 or t.shape[0] != t.shape[2]:
            raise ValueError(f"transitions must have shape [S, A, S], got {t.shape}")
        if 0 in t.shape:
            raise ValueError(
                f"transitions must have at least one state and one action, got shape {t.shape}"
            )
        check_finite("transitions", t)
        k = max(int((t != 0).sum(axis=-1).max()), 1)
        support = (t != 0).any(axis=1)  # [S, S']: reachable from s by some action
        m = max(int(support.sum(axis=-1).max()), 1)
        if m <= 2 * k:
            # Successors in index order, the union over actions first, then padding.
            order = np.argsort(~support, axis=-1, kind="stable")[:, None, :m]
            probs = np.take_along_axis(t, np.broadcast_to(order, (*t.shape[:2], m)), axis=-1)
        else:
            # The K largest entries of each row, largest first: exactly the non-zeros, padded.
            order = np.argsort(-t, axis=-1, kind="stable")[..., :k]
            probs = np.take_along_axis(t, order, axis=-1)
        return _from_successors(
            cls,
            order,
            probs,
            init,
            features=features,
            horizon=horizon,
            discount=discount,
            terminal=terminal,
            probs_name="transitions",  # the rows are the user's: name their argument
        )

    @classmethod
    def from_successors(
        cls,
        next_states,
        probs,
        init,
        *,
        features=None,
        horizon: int | None = None,
        discount: float = 1.0,
        terminal=None,
    ) -> TabularMDP:
        """Build from successor lists, validating every field.

        Args:
            next_states: int `[S, A, K]` successor indices in `[0, S)`, or `[S, 1, K]` when
                all actions share one successor list.
            probs: `[S, A, K]` probabilities, non-negative, each non-terminal row summing to 1
                (to within 1e-4, then renormalised).
            init: `[S]` initial state distribution.
            features: optional `[S, F]` or `[S, A, F]`.
            horizon: H ≥ 1, or None for an infinite (discounted) horizon.
            discount: γ in [0, 1]; must be < 1 when `horizon` is None.
            terminal: optional bool `[S]`; rows of terminal states may be all zero.

        Raises:
            ValueError: naming the field that is invalid.
        """
        return _from_successors(
            cls,
            next_states,
            probs,
            init,
            features=features,
            horizon=horizon,
            discount=discount,
            terminal=terminal,
        )


def _from_successors(
    cls,
    next_states,
    probs,
    init,
    *,
    features,
    horizon,
    discount,
    terminal,
    probs_name: str = "probs",
) -> TabularMDP:
    """`TabularMDP.from_successors`, naming the probabilities `probs_name` in its errors
    (`from_dense` passes the rows of its `transitions`)."""
    dtype = float_dtype()
    ns = numeric_array("next_states", next_states)
    if ns.ndim != 3:
        raise ValueError(f"next_states must have shape [S, A, K], got {ns.shape}")
    if not np.issubdtype(ns.dtype, np.integer):
        raise ValueError(f"next_states must be integers, got dtype {ns.dtype}")
    n_states = ns.shape[0]
    if 0 in ns.shape:
        raise ValueError(f"next_states must be non-empty [S, A, K], got {ns.shape}")
    if ns.min() < 0 or ns.max() >= n_states:
        raise ValueError(
            f"next_states must lie in [0, S={n_states}), got values in [{ns.min()}, {ns.max()}]"
        )

    p = numeric_array("probs", probs).astype(np.float64)
    if (
        p.ndim != 3
        or p.shape[0] != n_states
        or p.shape[2] != ns.shape[2]
        or (ns.shape[1] not in (1, p.shape[1]))
    ):
        raise ValueError(
            f"probs must have shape [S, A, K] matching next_states {ns.shape} "
            f"(whose action axis is A or 1), got {p.shape}"
        )
    check_finite(probs_name, p)
    if (p < 0).any():
        raise ValueError(f"{probs_name} must be non-negative, got minimum {p.min()}")

    if terminal is None:
        term = np.zeros(n_states, bool)
    else:
        term = numeric_array("terminal", terminal)
        if term.shape != (n_states,):
            raise ValueError(f"terminal must have shape [S] = ({n_states},), got {term.shape}")
        if term.dtype != bool and not np.isin(term, (0, 1)).all():
            raise ValueError("terminal must be boolean")
        term = term.astype(bool)

    sums = p.sum(axis=-1)
    zero_rows = sums == 0
    bad = ~np.isclose(sums, 1.0, rtol=0, atol=SUM_TOLERANCE) & ~(zero_rows & term[:, None])
    if bad.any():
        s, a = np.argwhere(bad)[0]
        raise ValueError(
            f"{probs_name} must sum to 1 over successors for every non-terminal "
            "(state, action); "
            f"row (state={s}, action={a}) sums to {sums[s, a]}"
        )
    p = np.where(zero_rows[..., None], 0.0, p / np.where(zero_rows, 1.0, sums)[..., None])

    mu = check_distribution("init", init, n_states)

    feats = None
    if features is not None:
        feats = numeric_array("features", features).astype(np.float64)
        if (
            feats.ndim not in (2, 3)
            or feats.shape[0] != n_states
            or (feats.ndim == 3 and feats.shape[1] != p.shape[1])
        ):
            raise ValueError(
                f"features must have shape [S, F] or [S, A, F] with S={n_states}, "
                f"A={p.shape[1]}, got {feats.shape}"
            )
        check_finite("features", feats)
        feats = jnp.asarray(feats, dtype)

    if horizon is not None:
        whole = is_int(horizon) or (
            isinstance(horizon, float | np.floating)
            and np.isfinite(horizon)
            and horizon == int(horizon)
        )
        if not whole or horizon < 1:
            raise ValueError(f"horizon must be a positive integer or None, got {horizon!r}")
        horizon = int(horizon)
    if not is_real(discount) or not 0.0 <= discount <= 1.0:
        raise ValueError(f"discount must lie in [0, 1], got {discount!r}")
    discount = float(discount)
    if horizon is None and discount >= 1.0:
        raise ValueError(
            "discount must be < 1 for an infinite horizon (horizon=None), got "
            f"{discount}; give a finite horizon or a discount below 1"
        )

    return cls(
        next_states=jnp.asarray(ns, jnp.int32),
        probs=jnp.asarray(p, dtype),
        init=jnp.asarray(mu, dtype),
        terminal=jnp.asarray(term),
        features=feats,
        horizon=horizon,
        discount=discount,
    )


# Kernels over successor lists, shared by planning, occupancy and sampling. Indices were
# validated at construction, so gathers skip bounds checks ("promise_in_bounds"), which
# halves their cost on the CPU. XLA:CPU reduces tiny trailing axes (K and A are often 5)
# 10–20× slower than an unrolled sum of slices, so short axes are unrolled.

_UNROLL = 16


def small_sum(x: jnp.ndarray, axis: int = -1) -> jnp.ndarray:
    """`jnp.sum(x, axis)`, unrolled over short axes."""
    n = x.shape[axis]
    if n > _UNROLL:
        return jnp.sum(x, axis=axis)
    return functools.reduce(jnp.add, (jnp.take(x, i, axis=axis) for i in range(n)))


def small_max(x: jnp.ndarray, axis: int = -1) -> jnp.ndarray:
    """`jnp.max(x, axis)`, unrolled over short axes."""
    n = x.shape[axis]
    if n > _UNROLL:
        return jnp.max(x, axis=axis)
    return functools.reduce(jnp.maximum, (jnp.take(x, i, axis=axis) for i in range(n)))


def successor_values(mdp: TabularMDP, values: jnp.ndarray) -> jnp.ndarray:
    """`values[next_states]`: `[S, A, K]` or `[S, 1, K]` (broadcastable against `probs`)."""
    return values.at[mdp.next_states].get(mode="promise_in_bounds")


def expected_next(mdp: TabularMDP, values: jnp.ndarray) -> jnp.ndarray:
    """`E[V(s') | s, a]` as `[S, A]`."""
    succ = successor_values(mdp, values)
    if mdp.next_states.shape[1] == 1:
        return jnp.einsum("sak,sk->sa", mdp.probs, succ[:, 0])
    return small_sum(mdp.probs * succ)


def push_forward(mdp: TabularMDP, weights: jnp.ndarray) -> jnp.ndarray:
    """`Σ_{s,a} weights[s, a] P(s' | s, a)` as `[S]`: one step of the forward pass."""
    if mdp.next_states.shape[1] == 1:
        flow = small_sum(weights[:, :, None] * mdp.probs, axis=1)  # [S, K]
    else:
        flow = weights[..., None] * mdp.probs  # [S, A, K]
    return (
        jnp.zeros(mdp.n_states, flow.dtype)
        .at[mdp.next_states.reshape(-1)]
        .add(flow.reshape(-1), mode="promise_in_bounds")
    )


def transition_prob(mdp: TabularMDP, s, a, s_next) -> jnp.ndarray:
    """`P(s_next | s, a)` for integer arrays of one shape (duplicates in a list add up)."""
    a_list = a if mdp.next_states.shape[1] > 1 else jnp.zeros_like(a)
    hits = mdp.next_states[s, a_list] == jnp.asarray(s_next)[..., None]
    return jnp.sum(jnp.where(hits, mdp.probs[s, a], 0.0), axis=-1)
