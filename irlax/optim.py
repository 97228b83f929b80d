"""One optimisation loop for every method that minimises an objective by gradient steps.

`minimize` runs an Optax optimiser under `lax.while_loop` until a step budget, a gradient
tolerance or a relative-improvement tolerance stops it. It is a pure function: call it inside
the method's `jax.jit`, and `jax.vmap` it over seeds or data. Its per-step arrays come back under
one name, `metrics`, the convention of every result in irlax.

Progress reports do not recompile: the traced program calls one fixed host function, which
hands `(step, metrics)` to whatever callable `reporting` installed around the call. A method
therefore only needs a static `report: bool` in its jitted function (two compilations at most,
with and without reports), never the callable itself.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from irlax._pytree import pytree_dataclass

ValueAndGrad = Callable[[Any, Any], tuple[jnp.ndarray, Any, dict]]
Progress = Callable[[int, dict], None]

_REPORTERS: list[Progress] = []
_LOCK = threading.Lock()


@pytree_dataclass
class Minimized:
    """What `minimize` returns.

    Attributes:
        params: the parameters where it stopped: the gradient was measured there and, once
            converged, no update was applied (with `keep_best`, the iterate of lowest loss).
        metrics: per-step arrays, each `[steps]`, NaN after the step it stopped at: `loss`,
            `grad_norm` and whatever the objective reported.
        n_steps: the steps taken (gradient evaluations at the iterates).
        converged: whether a tolerance stopped it before the budget ran out.
        best_step: the step whose iterate `params` is (iterate t is the one measured at step t;
            `n_steps` for the iterate after the last update).
        opt_state: the optimiser's state where it stopped (after the last update applied), e.g.
            to read what its last line search cost (`optax.tree.get(opt_state,
            "num_linesearch_steps")`: an update made after the last recorded step).
    """

    params: Any
    metrics: dict
    n_steps: jnp.ndarray
    converged: jnp.ndarray
    best_step: jnp.ndarray
    opt_state: Any = None


def value_and_grad_of(loss_fn: Callable, *, has_aux: bool = False) -> ValueAndGrad:
    """The `value_and_grad(params, opt_state)` that `minimize` takes, from a scalar loss.

    Args:
        loss_fn: `loss_fn(params) -> loss`, or `-> (loss, metrics)` with `has_aux`, `metrics`
            a dict of scalars recorded every step.
        has_aux: whether `loss_fn` returns metrics beside the loss.

    Returns:
        `value_and_grad(params, opt_state) -> (loss, grad, metrics)`.
    """
    grad_fn = jax.value_and_grad(loss_fn, has_aux=has_aux)

    def value_and_grad(params, _):
        if has_aux:
            (loss, metrics), grad = grad_fn(params)
            return loss, grad, metrics
        loss, grad = grad_fn(params)
        return loss, grad, {}

    return value_and_grad


def minimize(
    value_and_grad: ValueAndGrad,
    params: Any,
    optimizer: optax.GradientTransformation,
    *,
    steps: int,
    tol: float = 0.0,
    ftol: float = 0.0,
    value_fn: Callable | None = None,
    keep_best: bool = False,
    report: bool = False,
) -> Minimized:
    """Minimise an objective with an Optax optimiser: jittable, vmappable, one stopping rule.

    Each step evaluates the loss and gradient at the current parameters, records them, tests
    for convergence, and only then updates: so a converged run returns the parameters its
    final gradient was measured at, and skips the update (under `lax.cond`), whose line search
    (L-BFGS: several full objective evaluations) could only chase rounding noise.

    Args:
        value_and_grad: `value_and_grad(params, opt_state) -> (loss, grad, metrics)`, metrics a
            dict of scalars recorded every step (see `value_and_grad_of`). It receives the
            optimiser state so that it may reuse a line search's last evaluation
            (`optax.value_and_grad_from_state`).
        params: the starting parameters (a pytree).
        optimizer: any Optax transformation; one that takes `value`, `grad` and `value_fn`
            (`optax.lbfgs`) gets them.
        steps: the most steps (a Python int: it fixes the shape of `metrics`).
        tol: stop once the gradient norm is at most `tol`.
        ftol: stop once a step improves the loss by at most `ftol·|loss|` (0: never).
        value_fn: `value_fn(params) -> loss` for a line search; needed by `optax.lbfgs`.
        keep_best: return the iterate of lowest loss seen (subgradient methods, whose steps
            do not decrease the loss monotonically), scoring the final iterate too.
        report: call the host callable installed by `reporting` with `(step, metrics)` after
            every step (through `jax.debug.callback`).

    Returns:
        A `Minimized`.

    Raises:
        ValueError: `steps` not a positive int, or a negative `tol` or `ftol`.
    """
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    for name, value in (("tol", tol), ("ftol", ftol)):
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")
    steps = int(steps)
    opt_state = optimizer.init(params)
    loss0, _, extra0 = jax.eval_shape(value_and_grad, params, opt_state)
    dtype = loss0.dtype
    names = ["loss", "grad_norm", *sorted(extra0)]
    metrics = {name: jnp.full(steps, jnp.nan, dtype) for name in names}
    update_kwargs = {} if value_fn is None else {"value_fn": value_fn}

    def cond(carry):
        i, done = carry[3], carry[4]
        return (i < steps) & ~done

    def body(carry):
        params, opt_state, metrics, i, _, best = carry
        loss, grad, extra = value_and_grad(params, opt_state)
        grad_norm = optax.tree.norm(grad)
        row = {"loss": loss, "grad_norm": grad_norm, **extra}
        metrics = {k: metrics[k].at[i].set(jnp.asarray(row[k], dtype)) for k in names}
        previous = metrics["loss"][jnp.maximum(i - 1, 0)]
        stalled = (ftol > 0) & (i > 0) & (previous - loss <= ftol * jnp.abs(loss))
        done = (grad_norm <= tol) | stalled
        if keep_best:
            best_params, best_loss = best
            better = loss < best_loss
            best = (
                jax.tree.map(lambda new, old: jnp.where(better, new, old), params, best_params),
                jnp.where(better, loss, best_loss),
            )

        def step(params, opt_state):
            updates, opt_state = optimizer.update(
                grad, opt_state, params, value=loss, grad=grad, **update_kwargs
            )
            return optax.apply_updates(params, updates), opt_state

        params, opt_state = jax.lax.cond(done, lambda p, s: (p, s), step, params, opt_state)
        if report:
            jax.debug.callback(_report, i, row)
        return params, opt_state, metrics, i + 1, done, best

    best = (params, jnp.asarray(jnp.inf, dtype)) if keep_best else None
    start = (params, opt_state, metrics, jnp.asarray(0), jnp.asarray(False), best)
    params, opt_state, metrics, n_steps, converged, best = jax.lax.while_loop(cond, body, start)
    # Converged: params are those measured at the last step; else the update after it.
    best_step = jnp.where(converged, n_steps - 1, n_steps)
    if keep_best:
        # The last update is never scored inside the loop: score it here.
        best_params, best_loss = best
        final_is_best = value_and_grad(params, opt_state)[0] < best_loss
        params = jax.tree.map(
            lambda last, old: jnp.where(final_is_best, last, old), params, best_params
        )
        best_step = jnp.where(final_is_best, best_step, jnp.nanargmin(metrics["loss"]))
    return Minimized(
        params=params,
        metrics=metrics,
        n_steps=n_steps,
        converged=converged,
        best_step=best_step,
        opt_state=opt_state,
    )


def _report(step, metrics) -> None:
    """The one host function traced programs call; hands the step to the installed callable."""
    with _LOCK:
        progress = _REPORTERS[-1] if _REPORTERS else None
    if progress is None:
        return
    # Under jax.vmap every member reports the same step (the loop runs until all are done).
    step = int(np.asarray(step).reshape(-1)[0])
    progress(step, {k: np.asarray(v) for k, v in metrics.items()})


@contextlib.contextmanager
def reporting(progress: Progress | None) -> Iterator[bool]:
    """Install `progress(step, metrics)` for the `minimize(report=True)` calls run inside.

    Yields whether a callable is installed: pass it as the jitted method's static `report`.
    The caller must wait for the result (`jax.block_until_ready`) inside the block, since
    callbacks run as the computation does.

    Args:
        progress: a host callable, or None for no reports.
    """
    if progress is None:
        yield False
        return
    with _LOCK:
        _REPORTERS.append(progress)
    try:
        yield True
    finally:
        with _LOCK:
            _REPORTERS.remove(progress)
