"""Policy heads: the action distributions every trainer in `irlax.rl` acts with and learns.

A head is a small frozen description of an action space (how many actions, the box's bounds)
with pure methods over the *distribution parameters* a network outputs:

- `Categorical(n)`: `dist` = logits `[..., n]`; action int `[...]`.
- `MultiCategorical(nvec)`: `dist` = the logits of every group concatenated, `[..., sum(nvec)]`;
  action int `[..., G]`.
- `DiagonalGaussian(shape, low, high)`: `dist = (mean, log_std)`, each `[..., d]` with
  `d = prod(shape)`; action `[..., *shape]`.
- `TanhGaussian(shape, low, high)`: `dist = (mean, log_std)` of the Gaussian before the
  squashing; action `[..., *shape]`.

Every head has `log_prob(dist, action)`, `sample(dist, key)`, `sample_and_log_prob(dist,
key)`, `mode(dist)`, `entropy(dist, key=None)`, `to_env(action)` (what the env is sent) and
`uniform(key, batch_shape)` (a uniformly random action and its log-probability, for
exploration). `head_for_space(space)` parses an action space into its head, the one place
irlax does so. `Actor` puts a head on an `MLP`: the policy network of PPO and soft_pg.

Entropy: closed form for the categorical heads and the Gaussian; the tanh-squashed Gaussian
has none, and its `entropy` is an unbiased one-sample estimate (it needs a key).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from irlax.config import is_int
from irlax.nets.mlp import MLP

__all__ = [
    "Actor",
    "Categorical",
    "DiagonalGaussian",
    "Head",
    "MultiCategorical",
    "TanhGaussian",
    "head_for_space",
]


def _gaussian_log_density(z_source, mean, log_std):
    """`Σ_i log N(x_i; μ_i, σ_i²)` over the last axis."""
    z = (z_source - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - 0.5 * jnp.log(2.0 * jnp.pi), axis=-1)


def _gaussian_entropy(log_std):
    """`Σ_i (½ log(2πe) + log σ_i)` over the last axis."""
    return jnp.sum(0.5 * (1.0 + jnp.log(2.0 * jnp.pi)) + log_std, axis=-1)


def _log_one_minus_tanh_sq(pre_tanh):
    """`log(1 − tanh(u)²) = 2·(log 2 − u − softplus(−2u))`, exact where tanh(u)² rounds to 1."""
    return 2.0 * (jnp.log(2.0) - pre_tanh - jax.nn.softplus(-2.0 * pre_tanh))


def _gaussian_draw(dist, key):
    """`u = μ + σ·ε`, `ε ~ N(0, I)` (reparameterised)."""
    mean, log_std = dist
    return mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)


@dataclasses.dataclass(frozen=True)
class Categorical:
    """A categorical distribution over `n` actions, `π(a) = softmax(logits)_a`.

    Attributes:
        n: the number of actions.
    """

    n: int

    def __post_init__(self) -> None:
        if not is_int(self.n) or self.n < 1:
            raise ValueError(f"the number of actions must be an integer >= 1, got {self.n!r}")

    def log_probs(self, logits: jnp.ndarray) -> jnp.ndarray:
        """`log π(·)`, `[..., n]`."""
        return jax.nn.log_softmax(logits, axis=-1)

    def log_prob(self, logits: jnp.ndarray, action: jnp.ndarray) -> jnp.ndarray:
        """`log π(action)`, `[...]`, for logits `[..., n]` and int actions `[...]`."""
        chosen = jnp.asarray(action).astype(jnp.int32)[..., None]
        return jnp.take_along_axis(self.log_probs(logits), chosen, axis=-1)[..., 0]

    def sample(self, logits: jnp.ndarray, key: jax.Array) -> jnp.ndarray:
        """An action `[...]` drawn from `π`."""
        return jax.random.categorical(key, logits, axis=-1)

    def sample_and_log_prob(self, logits, key):
        """`(action [...], log π(action) [...])`."""
        action = self.sample(logits, key)
        return action, self.log_prob(logits, action)

    def mode(self, logits: jnp.ndarray) -> jnp.ndarray:
        """The most probable action `[...]`."""
        return jnp.argmax(logits, axis=-1)

    def entropy(self, logits: jnp.ndarray, key: jax.Array | None = None) -> jnp.ndarray:
        """`H(π) = −Σ_a π(a) log π(a)`, `[...]` (exact; `key` is ignored)."""
        log_pi = self.log_probs(logits)
        return -jnp.sum(jnp.exp(log_pi) * log_pi, axis=-1)

    def to_env(self, action: jnp.ndarray) -> jnp.ndarray:
        """The action as the env takes it (unchanged)."""
        return action

    def uniform(self, key: jax.Array, batch_shape: tuple[int, ...], dtype: Any = jnp.int32):
        """`(action [*batch_shape], log_prob)`: uniformly random actions, log-probability
        `−log n`."""
        action = jax.random.randint(key, batch_shape, 0, self.n).astype(dtype)
        return action, jnp.full(batch_shape, -math.log(self.n), jnp.result_type(float))


@dataclasses.dataclass(frozen=True)
class MultiCategorical:
    """Independent categorical choices in `G` groups made at once (a `MultiDiscrete` space,
    or concurrent actions): `π(a) = Π_g softmax(logits_g)_{a_g}`.

    Attributes:
        nvec: the number of choices of each group, `(n_1, ..., n_G)`.
    """

    nvec: tuple[int, ...]

    def __post_init__(self) -> None:
        # A tuple keeps the head hashable (a static argument of jax.jit).
        if not hasattr(self.nvec, "__len__") or len(self.nvec) == 0:
            raise ValueError(
                f"nvec must be a non-empty sequence of integers >= 1, got {self.nvec!r}"
            )
        for n in self.nvec:
            Categorical(n)
        object.__setattr__(self, "nvec", tuple(int(n) for n in self.nvec))

    @property
    def n(self) -> int:
        """Width of the logits, `Σ_g n_g`."""
        return sum(self.nvec)

    def _groups(self, logits: jnp.ndarray) -> list[jnp.ndarray]:
        bounds = np.cumsum(self.nvec)[:-1].tolist()
        return jnp.split(logits, bounds, axis=-1)

    def log_prob(self, logits: jnp.ndarray, action: jnp.ndarray) -> jnp.ndarray:
        """`Σ_g log π_g(a_g)`, `[...]`, for logits `[..., Σ n_g]` and int actions `[..., G]`."""
        parts = [
            Categorical(n).log_prob(group, jnp.asarray(action)[..., g])
            for g, (n, group) in enumerate(zip(self.nvec, self._groups(logits), strict=True))
        ]
        return sum(parts[1:], parts[0])

    def sample(self, logits: jnp.ndarray, key: jax.Array) -> jnp.ndarray:
        """Actions `[..., G]`, each group drawn independently."""
        keys = jax.random.split(key, len(self.nvec))
        draws = [
            Categorical(n).sample(group, k)
            for n, k, group in zip(self.nvec, keys, self._groups(logits), strict=True)
        ]
        return jnp.stack(draws, axis=-1)

    def sample_and_log_prob(self, logits, key):
        """`(action [..., G], log π(action) [...])`."""
        action = self.sample(logits, key)
        return action, self.log_prob(logits, action)

    def mode(self, logits: jnp.ndarray) -> jnp.ndarray:
        """The most probable choice of each group, `[..., G]`."""
        return jnp.stack([jnp.argmax(group, axis=-1) for group in self._groups(logits)], axis=-1)

    def entropy(self, logits: jnp.ndarray, key: jax.Array | None = None) -> jnp.ndarray:
        """`Σ_g H(π_g)`, `[...]` (exact: the groups are independent)."""
        parts = [
            Categorical(n).entropy(g) for n, g in zip(self.nvec, self._groups(logits), strict=True)
        ]
        return sum(parts[1:], parts[0])

    def to_env(self, action: jnp.ndarray) -> jnp.ndarray:
        """The action as the env takes it (unchanged)."""
        return action

    def uniform(self, key: jax.Array, batch_shape: tuple[int, ...], dtype: Any = jnp.int32):
        """`(action [*batch_shape, G], log_prob)`: uniform in every group."""
        high = jnp.asarray(self.nvec)
        action = jax.random.randint(key, (*batch_shape, len(self.nvec)), 0, high).astype(dtype)
        log_prob = -float(np.sum(np.log(self.nvec)))
        return action, jnp.full(batch_shape, log_prob, jnp.result_type(float))


def _box(shape, low, high) -> tuple[tuple[int, ...], tuple[float, ...], tuple[float, ...]]:
    """The shape and the flat `[d]` bounds (as hashable tuples) of a box."""
    shape = tuple(int(s) for s in shape)
    d = math.prod(shape)
    low = np.broadcast_to(np.asarray(low, np.float64), shape).reshape(d)
    high = np.broadcast_to(np.asarray(high, np.float64), shape).reshape(d)
    return shape, tuple(low.tolist()), tuple(high.tolist())


@dataclasses.dataclass(frozen=True)
class DiagonalGaussian:
    """A Gaussian with diagonal covariance, `N(μ, diag(σ²))`, on a `Box` action space.

    Samples are unbounded; `to_env` clips them into the box before the env sees them (as the
    reference PPO implementations do), and `log_prob` is the Gaussian density of whatever
    action it is given: of the draw for a learner's importance ratios, of the clipped action
    for scoring what the env received (the two agree wherever the draw fell inside the box).

    Attributes:
        shape: the env's action shape; the distribution has `d = prod(shape)` dimensions.
        low: `[d]` lower bounds of the box (flat), used by `to_env` and `uniform`.
        high: `[d]` upper bounds.
    """

    shape: tuple[int, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]

    @classmethod
    def for_box(cls, shape, low=-np.inf, high=np.inf) -> DiagonalGaussian:
        """The head of a box of `shape` with bounds broadcastable to it."""
        return cls(*_box(shape, low, high))

    @property
    def n(self) -> int:
        """`d`, the width of the mean (and of the log standard deviation)."""
        return math.prod(self.shape)

    def _flat(self, action, mean):
        return _flat_action(self, action).astype(mean.dtype)

    def _unflat(self, flat):
        return jnp.reshape(flat, (*flat.shape[:-1], *self.shape))

    def bounds(self, dtype) -> tuple[jnp.ndarray, jnp.ndarray]:
        """`(low [d], high [d])` as arrays of `dtype`."""
        return jnp.asarray(self.low, dtype), jnp.asarray(self.high, dtype)

    def log_prob(self, dist, action: jnp.ndarray) -> jnp.ndarray:
        """`Σ_i log N(a_i; μ_i, σ_i²)`, `[...]`, for `dist = (mean, log_std)` `[..., d]`."""
        mean, log_std = dist
        return _gaussian_log_density(self._flat(action, mean), mean, log_std)

    def sample(self, dist, key: jax.Array) -> jnp.ndarray:
        """An unclipped draw `μ + σ·ε`, `[..., *shape]`."""
        return self._unflat(_gaussian_draw(dist, key))

    def sample_and_log_prob(self, dist, key):
        """`(unclipped draw [..., *shape], its log-density [...])`."""
        mean, log_std = dist
        flat = _gaussian_draw(dist, key)
        return self._unflat(flat), _gaussian_log_density(flat, mean, log_std)

    def mode(self, dist) -> jnp.ndarray:
        """The mean, `[..., *shape]` (unclipped; `to_env` clips it)."""
        return self._unflat(dist[0])

    def entropy(self, dist, key: jax.Array | None = None) -> jnp.ndarray:
        """`Σ_i (½ log(2πe) + log σ_i)`, `[...]` (exact; `key` is ignored)."""
        return _gaussian_entropy(dist[1])

    def to_env(self, action: jnp.ndarray) -> jnp.ndarray:
        """The action clipped into the box."""
        low, high = self.bounds(action.dtype)
        return jnp.clip(action, low.reshape(self.shape), high.reshape(self.shape))

    def uniform(self, key: jax.Array, batch_shape: tuple[int, ...], dtype: Any = jnp.float32):
        """`(action [*batch_shape, *shape], log_prob)`: uniform on the (finite) box, log-density
        `−Σ_i log(high_i − low_i)`."""
        return _uniform_box(self, key, batch_shape, dtype)


@dataclasses.dataclass(frozen=True)
class TanhGaussian:
    """A Gaussian squashed into a bounded box: `a = c + s·tanh(u)`, `u ~ N(μ, diag(σ²))`, with
    `c = (high + low)/2`, `s = (high − low)/2` (Haarnoja et al. 2018, Appendix C).

    Its log-density by the change of variables, with the affine map onto the box folded in:

        log π(a) = Σ_i [log N(u_i; μ_i, σ_i²) − log(1 − tanh(u_i)²) − log s_i].

    `mode` is the squashed mean `c + s·tanh(μ)` (the image of the Gaussian's mode, SAC's
    deterministic action; not the mode of π itself, which has no closed form). The entropy has
    no closed form either: `entropy` is the one-sample estimate
    `H(N(μ, σ²)) + Σ_i [log s_i + log(1 − tanh(u_i)²)]`, `u ~ N(μ, σ²)`, unbiased for
    `H(π) = H(u) + E[log |da/du|]`.

    Attributes:
        shape: the env's action shape; `d = prod(shape)`.
        low: `[d]` finite lower bounds of the box (flat).
        high: `[d]` finite upper bounds, each above `low`.
    """

    shape: tuple[int, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]

    def __post_init__(self):
        low, high = np.asarray(self.low), np.asarray(self.high)
        if not (np.isfinite(low).all() and np.isfinite(high).all() and (low < high).all()):
            raise ValueError(
                "a tanh-squashed Gaussian squashes actions into the action box, so its bounds "
                f"must be finite with low < high; got low={self.low}, high={self.high}"
            )

    @classmethod
    def for_box(cls, shape, low, high) -> TanhGaussian:
        """The head of a box of `shape` with bounds broadcastable to it."""
        return cls(*_box(shape, low, high))

    @property
    def n(self) -> int:
        """`d`, the width of the mean (and of the log standard deviation)."""
        return math.prod(self.shape)

    def bounds(self, dtype) -> tuple[jnp.ndarray, jnp.ndarray]:
        """`(low [d], high [d])` as arrays of `dtype`."""
        return jnp.asarray(self.low, dtype), jnp.asarray(self.high, dtype)

    def _unflat(self, flat):
        return jnp.reshape(flat, (*flat.shape[:-1], *self.shape))

    def _squash(self, pre_tanh):
        low, high = self.bounds(pre_tanh.dtype)
        return (high + low) / 2 + (high - low) / 2 * jnp.tanh(pre_tanh)

    def log_prob_of_pre_tanh(self, dist, pre_tanh: jnp.ndarray) -> jnp.ndarray:
        """`log π(a)` at `a = c + s·tanh(u)`, given `u` `[..., d]`: exact even where `a`
        rounds onto the boundary (the form a sampler uses)."""
        mean, log_std = dist
        low, high = self.bounds(mean.dtype)
        jacobian = _log_one_minus_tanh_sq(pre_tanh) + jnp.log((high - low) / 2)
        return _gaussian_log_density(pre_tanh, mean, log_std) - jnp.sum(jacobian, axis=-1)

    def log_prob(self, dist, action: jnp.ndarray) -> jnp.ndarray:
        """`log π(action)`, `[...]`, for an action in the box, `[..., *shape]`.

        Inverts the squashing (`u = atanh((a − c)/s)`). An action on the boundary has density 0
        (log −inf) in exact arithmetic, yet it is what a clipped env or a saturating expert
        produces: it is scored as the point `8·eps` (of the dtype) inside the boundary, where
        the squashing of a float draw lands it anyway, so that it is finite and very unlikely.
        """
        mean = dist[0]
        low, high = self.bounds(mean.dtype)
        a = _flat_action(self, action).astype(mean.dtype)
        inside = 1.0 - 8 * jnp.finfo(mean.dtype).eps
        z = jnp.clip((a - (high + low) / 2) / ((high - low) / 2), -inside, inside)
        pre_tanh = jnp.arctanh(z)
        return self.log_prob_of_pre_tanh(dist, pre_tanh)

    def sample_and_log_prob(self, dist, key):
        """A reparameterised draw `[..., *shape]` and its log-density `[...]`, both
        differentiable in `(mean, log_std)`."""
        pre_tanh = _gaussian_draw(dist, key)
        return self._unflat(self._squash(pre_tanh)), self.log_prob_of_pre_tanh(dist, pre_tanh)

    def sample(self, dist, key: jax.Array) -> jnp.ndarray:
        """A reparameterised draw `[..., *shape]`, inside the box."""
        return self._unflat(self._squash(_gaussian_draw(dist, key)))

    def mode(self, dist) -> jnp.ndarray:
        """The squashed mean `c + s·tanh(μ)`, `[..., *shape]`."""
        return self._unflat(self._squash(dist[0]))

    def entropy(self, dist, key: jax.Array | None = None) -> jnp.ndarray:
        """A one-sample unbiased estimate of `H(π)`, `[...]` (see the class); needs `key`."""
        if key is None:
            raise ValueError(
                "key must be a PRNG key: the tanh-squashed Gaussian has no closed-form "
                "entropy, so entropy() estimates it from a sample"
            )
        mean, log_std = dist
        pre_tanh = _gaussian_draw(dist, key)
        low, high = self.bounds(mean.dtype)
        log_jacobian = _log_one_minus_tanh_sq(pre_tanh) + jnp.log((high - low) / 2)
        return _gaussian_entropy(log_std) + jnp.sum(log_jacobian, axis=-1)

    def to_env(self, action: jnp.ndarray) -> jnp.ndarray:
        """The action as the env takes it (unchanged: it is inside the box)."""
        return action

    def uniform(self, key: jax.Array, batch_shape: tuple[int, ...], dtype: Any = jnp.float32):
        """`(action [*batch_shape, *shape], log_prob)`: uniform on the box, log-density
        `−Σ_i log(high_i − low_i)`."""
        return _uniform_box(self, key, batch_shape, dtype)


def _flat_action(head, action):
    """A box action `[..., *shape]` as `[..., d]` (batch axes broadcast against the mean's)."""
    action = jnp.asarray(action)
    batch = action.shape[: action.ndim - len(head.shape)]
    return jnp.reshape(action, (*batch, head.n))


def _uniform_box(head, key, batch_shape, dtype):
    low, high = head.bounds(dtype)
    u = jax.random.uniform(key, (*batch_shape, head.n), dtype)
    action = jnp.reshape(low + u * (high - low), (*batch_shape, *head.shape))
    log_prob = -jnp.sum(jnp.log(high - low))
    return action, jnp.full(batch_shape, log_prob)


Head = Categorical | MultiCategorical | DiagonalGaussian | TanhGaussian
"""Any policy head."""


def action_features(head: Head, action: jnp.ndarray) -> jnp.ndarray:
    """An action as the float vector a network reads (a discriminator's or a Q-function's
    input): `[..., head.n]`.

    Categorical actions become one-hot vectors (a `MultiCategorical`'s one per group,
    concatenated); Box actions are flattened.

    Args:
        head: the action space's head.
        action: `[..., *action_shape]` actions as the env takes them.
    """
    action = jnp.asarray(action)
    if isinstance(head, Categorical):
        return jax.nn.one_hot(action, head.n)
    if isinstance(head, MultiCategorical):
        groups = [jax.nn.one_hot(action[..., g], n) for g, n in enumerate(head.nvec)]
        return jnp.concatenate(groups, axis=-1)
    flat = _flat_action(head, action)
    return flat if jnp.issubdtype(flat.dtype, jnp.floating) else flat.astype(jnp.float32)


def head_for_space(space: Any, *, box: str = "gaussian", name: str = "the env's") -> Head:
    """The policy head of an action space: the one place irlax parses action spaces.

    Args:
        space: a `Discrete` space (`.n`), a `MultiDiscrete` one (`.nvec`, e.g. Gymnasium's),
            or a `Box` (`.shape`, `.low`, `.high`).
        box: the head of a `Box`: `"gaussian"` (a `DiagonalGaussian`, clipped into the box
            for the env) or `"tanh"` (a `TanhGaussian`, which needs finite bounds).
        name: whose action space it is, for error messages.

    Returns:
        `Categorical`, `MultiCategorical`, `DiagonalGaussian` or `TanhGaussian`.

    Raises:
        ValueError: any other space, fewer than 1 action, a bad `box`, or a `"tanh"` box with
            infinite or empty bounds.
    """
    if box not in ("gaussian", "tanh"):
        raise ValueError(f"box must be 'gaussian' or 'tanh', got {box!r}")
    nvec = getattr(space, "nvec", None)
    if nvec is not None:
        nvec = tuple(int(n) for n in np.ravel(np.asarray(nvec)))
        if not nvec or min(nvec) < 1:
            raise ValueError(f"{name} MultiDiscrete action space needs nvec >= 1, got {nvec}")
        return MultiCategorical(nvec)
    n = getattr(space, "n", None)
    if n is not None:
        if int(n) < 1:
            raise ValueError(f"{name} Discrete action space needs n >= 1, got {n}")
        return Categorical(int(n))
    if all(hasattr(space, attr) for attr in ("shape", "low", "high")):
        if box == "tanh":
            return TanhGaussian.for_box(space.shape, space.low, space.high)
        return DiagonalGaussian.for_box(space.shape, space.low, space.high)
    raise ValueError(
        f"{name} action space must be Discrete (.n), MultiDiscrete (.nvec) or Box (.shape, "
        f".low, .high), got {type(space).__name__}"
    )


@dataclasses.dataclass(frozen=True)
class Actor:
    """A policy network: an `MLP` from observation features to a head's distribution
    parameters; a `DiagonalGaussian`'s log standard deviation is a learned vector independent
    of the state (as in PPO), its mean the network's output.

    Parameters: the MLP's for the categorical heads; `{"mean": MLP's, "log_std": [d]}` for
    the Gaussian. Every method takes features `x [..., D]` (flattened, normalised
    observations).

    Attributes:
        head: the policy head (`Categorical`, `MultiCategorical` or `DiagonalGaussian`).
        hidden: widths of the hidden layers; () makes the logits or mean linear in `x`.
        activation: the nonlinearity between layers.
        out_scale: scale of the output layer's initialiser (small: a near-uniform start).
        init_log_std: the Gaussian's initial log standard deviation.
    """

    head: Head
    hidden: tuple[int, ...] = (64, 64)
    activation: Any = nn.tanh
    out_scale: float = 0.01
    init_log_std: float = 0.0

    def __post_init__(self):
        if isinstance(self.head, TanhGaussian):
            raise ValueError(
                "Actor's head must be Categorical, MultiCategorical or DiagonalGaussian (a "
                "state-independent standard deviation); got a TanhGaussian"
            )

    @property
    def network(self) -> MLP:
        """The MLP whose output is the logits or the mean."""
        return MLP(self.hidden, self.head.n, self.activation, self.out_scale)

    @property
    def gaussian(self) -> bool:
        """Whether the head is a Gaussian (parameters `{"mean", "log_std"}`)."""
        return isinstance(self.head, DiagonalGaussian)

    def init(self, key: jax.Array, x: jnp.ndarray) -> Any:
        """Initial parameters, from features `x [1, D]`."""
        params = self.network.init(key, x)
        if self.gaussian:
            log_std = jnp.full(self.head.n, self.init_log_std, jnp.float32)
            return {"mean": params, "log_std": log_std}
        return params

    def dist(self, params: Any, x: jnp.ndarray):
        """The head's distribution parameters at features `x [..., D]`."""
        if self.gaussian:
            mean = self.network.apply(params["mean"], x)
            return mean, jnp.broadcast_to(params["log_std"], mean.shape)
        return self.network.apply(params, x)

    def log_prob(self, params, x, action):
        """`log π(action | x)`, `[...]`."""
        return self.head.log_prob(self.dist(params, x), action)

    def sample(self, params, x, key):
        """A draw `[..., *action_shape]` (a Gaussian's unclipped; see `head.to_env`)."""
        return self.head.sample(self.dist(params, x), key)

    def mode(self, params, x):
        """The most probable action (the Gaussian's mean, unclipped)."""
        return self.head.mode(self.dist(params, x))

    def entropy(self, params, x):
        """`H(π(·|x))`, `[...]` (exact for these heads)."""
        return self.head.entropy(self.dist(params, x))

    def act(self, params, x, key, deterministic):
        """An action as the env takes it: a draw, or the mode when `deterministic`."""
        d = self.dist(params, x)
        action = jnp.where(deterministic, self.head.mode(d), self.head.sample(d, key))
        return self.head.to_env(action)


LOG_STD_MIN = -5.0
"""Smallest log standard deviation of `TanhGaussianActor`'s Gaussian (as in SAC's reference
code)."""
LOG_STD_MAX = 2.0
"""Largest log standard deviation of `TanhGaussianActor`'s Gaussian."""


class TanhGaussianActor(nn.Module):
    """The network of a `TanhGaussian` head (SAC's actor, Haarnoja et al. 2018): an MLP with
    ReLUs from the observation to the mean and log standard deviation `[d]` each of the
    Gaussian before the tanh.

    Attributes:
        hidden: hidden layer widths.
        action_dim: `d`, the action's size.
    """

    hidden: tuple[int, ...]
    action_dim: int

    @nn.compact
    def __call__(self, obs: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
        out = MLP(self.hidden, 2 * self.action_dim, nn.relu)(obs)
        mean, raw = jnp.split(out, 2, axis=-1)
        # A smooth squash of log σ into [LOG_STD_MIN, LOG_STD_MAX] keeps gradients alive at
        # the bounds, where clipping would zero them.
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (jnp.tanh(raw) + 1.0)
        return mean, log_std


class ContinuousCritic(nn.Module):
    """`Q(s, a)` of a `Box` action (SAC's critic): an MLP with ReLUs of the observation and
    the action (as the `TanhGaussian` head gives it, rescaled to [−1, 1]) side by side.

    Attributes:
        hidden: hidden layer widths.
    """

    hidden: tuple[int, ...]

    @nn.compact
    def __call__(self, obs: jnp.ndarray, action: jnp.ndarray) -> jnp.ndarray:
        return MLP(self.hidden, 1, nn.relu)(jnp.concatenate([obs, action], axis=-1))[..., 0]
