"""Checks on what the exact machinery is given: distributions, log-policies and trajectories.

Shared by `TabularMDP`'s constructors, `occupancy`, `sampling` and the tabular IRL methods,
and public so that a caller can validate before tracing: `check_tabular_trajectories` takes a
stack of demo sets (`Trajectories.stack`) and names the set at fault, which is the way to check
demos before `jax.jit(jax.vmap(...))`. Every check inspects concrete values now, and traced
ones through `irlax._checks.check_values`: raised at once under an eager `jax.vmap`, switched
on under `jax.jit` by `jax.experimental.checkify.checkify` (see that module for why).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jax.numpy as jnp
import numpy as np

from irlax._checks import array_module, check_values, is_concrete
from irlax.data import Trajectories

if TYPE_CHECKING:  # core imports this module to validate its fields
    from irlax.mdp.core import TabularMDP

# Rows of probabilities may be off by this much before they are renormalised; more is an error.
SUM_TOLERANCE = 1e-4

# A log-policy row whose exponent sums this far (in log space) from 1 is not a distribution.
_LOG_POLICY_TOLERANCE = 1e-3


def check_finite(name: str, x: Any) -> None:
    """Refuse NaN or infinity in `x`.

    Args:
        name: what `x` is, for the message.
        x: an array of any shape, concrete or traced.

    Raises:
        ValueError: `x` holds NaN or infinity.
    """
    xp = array_module(x)
    check_values(xp.all(xp.isfinite(x)), f"{name} must be finite, found NaN or infinity")


def numeric_array(name: str, x: Any) -> np.ndarray:
    """`x` as a NumPy array, refused unless its dtype is boolean, integer or floating.

    `np.asarray(x, float)` would turn strings such as "0.5" into numbers and fail on others
    deep inside NumPy; a field of an MDP is numbers or nothing.

    Raises:
        ValueError: naming `name`, for strings, objects, complex numbers or ragged lists.
    """
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as e:  # ragged nested lists
        raise ValueError(f"{name} must be a numeric array, got {type(x).__name__} ({e})") from e
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    return arr


def check_distribution(name: str, x: Any, n: int) -> Any:
    """Validate a probability vector of length `n` (to within 1e-4) and renormalise it.

    Args:
        name: what `x` is, for the message (e.g. "init").
        x: `[n]` probabilities, concrete or traced.
        n: the number of outcomes (states).

    Returns:
        `x / Σ x`: float64 numpy `[n]` for concrete input, a JAX array of `x`'s dtype for a
        traced one.

    Raises:
        ValueError: a shape other than `[n]`, NaN or infinity, a negative entry, or a sum
            further than 1e-4 from 1.
    """
    if is_concrete(x):
        x = numeric_array(name, x)
    if np.shape(x) != (n,):
        raise ValueError(f"{name} must have shape [S] = ({n},), got {np.shape(x)}")
    if not is_concrete(x):
        x = jnp.asarray(x)
        total = jnp.sum(x)
        ok = jnp.all(jnp.isfinite(x)) & jnp.all(x >= 0) & (jnp.abs(total - 1) <= SUM_TOLERANCE)
        check_values(
            ok,
            f"{name} must be a probability distribution (finite, non-negative, summing to 1), "
            "got minimum {} and sum {}",
            jnp.min(x),
            total,
        )
        return x / total
    x = x.astype(np.float64)
    check_finite(name, x)
    if (x < 0).any():
        raise ValueError(f"{name} must be non-negative, got minimum {x.min()}")
    if abs(x.sum() - 1.0) > SUM_TOLERANCE:
        raise ValueError(f"{name} must be a probability distribution summing to 1, got {x.sum()}")
    return x / x.sum()


def check_log_policy(mdp: TabularMDP, log_policy: Any) -> jnp.ndarray:
    """Validate log-probabilities of actions: their shape, and that each row exponentiates to 1.

    Catches probabilities passed for log-probabilities, and NaN (whose error is NaN).

    Args:
        mdp: the MDP the policy acts in.
        log_policy: `[S, A]` stationary, or `[H, S, A]` time-indexed (finite horizon only).

    Returns:
        `log_policy` as a JAX array.

    Raises:
        ValueError: another shape, or a row whose log-sum-exp is further than 1e-3 from 0.
    """
    lp = jnp.asarray(log_policy)
    s, a = mdp.n_states, mdp.n_actions
    ok = lp.shape == (s, a) or (
        lp.ndim == 3
        and lp.shape[1:] == (s, a)
        and mdp.horizon is not None
        and lp.shape[0] == mdp.horizon
    )
    if not ok:
        expect = f"[S, A] = ({s}, {a})"
        if mdp.horizon is not None:
            expect = f"[H, S, A] = ({mdp.horizon}, {s}, {a}) or " + expect
        raise ValueError(f"log_policy must have shape {expect}, got {lp.shape}")
    xp = array_module(lp)
    values = np.asarray(lp) if xp is np else lp  # numpy: checks run eagerly, off the device
    error = xp.max(xp.abs(_row_logsumexp(xp, values)))
    check_values(
        error < _LOG_POLICY_TOLERANCE,  # False for NaN
        "log_policy must hold log-probabilities, each row's exponent summing to 1 over "
        "actions; the worst row's log-sum-exp is {:.3g} away from 0",
        error,
    )
    return lp


def _row_logsumexp(xp: Any, x: Any) -> Any:
    """Log-sum-exp over the last axis, in numpy or jax.numpy (`xp`)."""
    m = xp.max(x, axis=-1, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return xp.log(xp.sum(xp.exp(x - m), axis=-1)) + m[..., 0]


def check_tabular_trajectories(
    mdp: TabularMDP, trajectories: Trajectories, *, allow_stack: bool = True
) -> None:
    """Validate trajectories of state and action indices for a tabular MDP.

    Accepts one set `[N, T+1]` / `[N, T]` or a stack of sets with leading batch axes
    (`Trajectories.stack`), so a batch of demo sets can be checked, naming the set at fault,
    before `jax.vmap` maps over it. Padding (past each trajectory's length) is not checked.

    Args:
        mdp: the MDP the trajectories come from.
        trajectories: integer `observations [..., N, T+1]`, `actions [..., N, T]`,
            `lengths [..., N]`.
        allow_stack: False for a function of one set: leading batch axes are then an error
            that says to map over them with `jax.vmap`.

    Raises:
        ValueError: not `Trajectories`; observations or actions that are not integer index
            arrays of those shapes; more steps T than the horizon H; a length outside
            `[0, T]`, a visited state outside `[0, S)` or a taken action outside `[0, A)`
            (naming the demo set, trajectory and step of the first).
    """
    if not isinstance(trajectories, Trajectories):
        raise ValueError(f"trajectories must be Trajectories, got {type(trajectories).__name__}")
    obs, act, lengths = trajectories.observations, trajectories.actions, trajectories.lengths
    batch = jnp.ndim(lengths) - 1
    if batch and not allow_stack:
        raise ValueError(
            f"trajectories must be one set (lengths [N]), got a stack of sets with lengths "
            f"{jnp.shape(lengths)}; map over the stack with jax.vmap"
        )
    if jnp.ndim(obs) != batch + 2 or jnp.ndim(act) != batch + 2:
        raise ValueError(
            "trajectories of a tabular MDP need integer observations [N, T+1] and actions "
            f"[N, T] (after any leading batch axes of lengths {jnp.shape(lengths)}), got "
            f"{jnp.shape(obs)} and {jnp.shape(act)}"
        )
    for name, x in (("observations", obs), ("actions", act)):
        if not jnp.issubdtype(x.dtype, jnp.integer):
            raise ValueError(f"trajectories.{name} must be integer indices, got {x.dtype}")
    horizon = jnp.shape(act)[-1]
    if mdp.horizon is not None and horizon > mdp.horizon:
        raise ValueError(
            f"trajectories have {horizon} steps, more than the horizon H={mdp.horizon}"
        )
    xp = array_module(obs, act, lengths)
    if xp is np:
        obs, act, lengths = np.asarray(obs), np.asarray(act), np.asarray(lengths)
    where = ("demo set " + ", ".join(["{}"] * batch) + ", " if batch else "") + "trajectory {}"
    _check_indices(
        xp,
        lengths,
        (lengths >= 0) & (lengths <= horizon),
        where,
        f"trajectories.lengths must lie in [0, T={horizon}]",
    )
    steps = xp.arange(horizon + 1)
    visited = steps <= lengths[..., None]
    taken = steps[:-1] < lengths[..., None]
    _check_indices(
        xp,
        obs,
        ~visited | ((obs >= 0) & (obs < mdp.n_states)),
        where + ", step {}",
        f"trajectories.observations must lie in [0, S={mdp.n_states})",
    )
    _check_indices(
        xp,
        act,
        ~taken | ((act >= 0) & (act < mdp.n_actions)),
        where + ", step {}",
        f"trajectories.actions must lie in [0, A={mdp.n_actions})",
    )


def _check_indices(xp: Any, values: Any, ok: Any, where: str, expected: str) -> None:
    """`check_values(ok)`, naming the first offending value and its index (`where`)."""
    if ok.size == 0:
        return
    first = xp.argmax(~ok.reshape(-1))
    index = xp.unravel_index(first, ok.shape)
    check_values(ok, expected + ", got {} at " + where, values.reshape(-1)[first], *index)
