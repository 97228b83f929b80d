"""Activity forecasting at scale: fit and forecast times, memory, and metrics with baselines.

Cases: the built-in street scene at 64×64, 128×128 and 256×256 cells with 50 destinations,
200 train and 50 test tracks; and the New York Harbor AIS tracks. Each case runs in its own
process (so peak memory is its own), float32, on the CPU:

- fit: `fit` from θ = 0 to convergence, first call (compilation included) and again (warm,
  inside `experiment.run`, which then fits the baselines and evaluates);
- forecast: one `forecast` from a test prefix (heatmap until arrival over the 8 most
  probable destinations, 16 sampled continuations), warm, the median of 5 calls;
- values solver: the soft values of all 50 destinations under the true cost, by irlax's
  Gauss–Seidel sweeps and by plain value iteration (Jacobi sweeps of the same backup, as in
  Kitani et al.'s backward pass), to the same relative tolerance, compiled ahead, one call
  each; their time ratio;
- metrics of the model and every baseline (`evaluate`), plus the hidden cost's own.

    python benchmarks/forecast.py [--sizes 64 128 256] [--no-harbor]

writes the measurements to benchmarks/results/forecast.json and renders forecast.md from
them (`--render-only` re-renders the report without running).
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _report  # noqa: E402
from _report import cpu_name, source_state, sources_line  # noqa: E402

JACOBI_CAP = 4000


def _jacobi_values(cost, goals, passable, tol):
    """Plain soft value iteration on all cells at once until the relative change < tol."""
    import jax
    import jax.numpy as jnp

    from irlax.forecast.planning import LOG_ZERO, MOVE_LENGTHS, MOVES

    h, w = cost.shape
    free = passable[None] & ~goals
    fixed = jnp.where(goals & passable[None], 0.0, LOG_ZERO).astype(cost.dtype)

    def backup(v):
        padded = jnp.pad(v, ((0, 0), (1, 1), (1, 1)), constant_values=LOG_ZERO)
        terms = [
            padded[:, 1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w] - length * cost[None]
            for (dr, dc), length in zip(MOVES.tolist(), MOVE_LENGTHS, strict=True)
        ]
        new = jax.nn.logsumexp(jnp.stack(terms), axis=0)
        return jnp.where(free, jnp.maximum(new, LOG_ZERO), fixed)

    def cond(state):
        _, change, n = state
        return (change > tol) & (n < JACOBI_CAP)

    def body(state):
        v, _, n = state
        new = backup(v)
        live = new > LOG_ZERO / 2
        change = jnp.max(jnp.where(live, jnp.abs(new - v) / jnp.maximum(jnp.abs(new), 1), 0))
        return new, change, n + 1

    v, _, n = jax.lax.while_loop(cond, body, (fixed, jnp.asarray(jnp.inf, cost.dtype), 0))
    return v, n


def _fit_record(model, name: str) -> dict:
    """Iterations, solves per stage of the goal ladder, and the final loss of a fit."""
    import numpy as np

    h = {k: np.asarray(v) for k, v in model.metrics.items()}
    done = np.isfinite(h["loss"])
    goals, solves = h["goals"][done].astype(int), h["evaluations"][done].astype(int)
    stages = list(dict.fromkeys(goals.tolist()))
    return {
        f"{name}_iterations": int(done.sum()),
        f"{name}_solves": int(solves.sum()),
        f"{name}_solves_by_stage": {str(g): int(solves[goals == g].sum()) for g in stages},
        f"{name}_loss": float(h["loss"][done][-1]),
    }


def _timed(fn, *args):
    """Compile `fn` for `args` ahead of time, then time one call."""
    import jax

    compiled = jax.jit(fn).lower(*args).compile()
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    return out, time.perf_counter() - start


def run_case(case: str) -> dict:
    """One case in this process; returns its numbers."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from irlax.forecast import experiment, fit
    from irlax.forecast.planning import _solve_values, default_tolerance

    if case == "harbor":
        data = experiment.harbor()
    else:
        data = experiment.street(seed=0, size=int(case), n_goals=50, n_train=200, n_test=50)
    out = {"case": case, "shape": list(data.scene.shape), "destinations": len(data.goals)}
    out["train_tracks"], out["test_tracks"] = len(data.train), len(data.test)
    out["median_train_length"] = float(np.median([len(p) - 1 for p in data.train]))
    start = time.perf_counter()
    jax.block_until_ready(fit(data.scene, data.train, data.goals))
    out["fit_first_s"] = time.perf_counter() - start
    outcome = experiment.run(data, seed=0)  # fits again, warm, and evaluates
    model = outcome.model
    out["fit_warm_s"] = outcome.timings["fit_s"]
    out.update(_fit_record(model, "fit"))
    # The same objective without the ladder of goal sets: every solve over all destinations.
    start = time.perf_counter()
    direct = jax.block_until_ready(fit(data.scene, data.train, data.goals, first_goals=0))
    out["direct_fit_first_s"] = time.perf_counter() - start
    out.update(_fit_record(direct, "direct_fit"))
    out["forecast_s"] = outcome.timings["forecast_s"]
    out["metrics"] = outcome.metrics
    out["theta"] = dict(zip(model.feature_names, np.asarray(model.theta).tolist(), strict=True))
    cost = data.true_cost if data.true_cost is not None else np.asarray(model.cost)
    cost, goals = jnp.asarray(cost, jnp.float32), jnp.asarray(data.goals)
    tol = default_tolerance(jnp.float32)
    sweeps = functools.partial(_solve_values, tol=tol, max_rounds=400)
    jacobi = functools.partial(_jacobi_values, tol=tol)
    args = (cost, goals, data.scene.passable)
    (v_gs, _, rounds), t_gs = _timed(sweeps, *args)
    (v_j, iterations), t_j = _timed(jacobi, *args)
    live = np.asarray(v_gs) > -1e29
    out["values"] = {
        "sweeps_s": t_gs,
        "rounds": int(rounds),
        "jacobi_s": t_j,
        "jacobi_iterations": int(iterations),
        "jacobi_converged": int(iterations) < JACOBI_CAP,
        "max_abs_difference": float(np.abs(np.asarray(v_gs) - np.asarray(v_j))[live].max()),
    }
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


BASELINES = ("shortest_path", "behaviour_cloning", "constant_velocity", "random_walk")


def render(record: dict) -> str:
    """The report of a saved run (`record` as `main` writes it)."""
    results = record["results"]
    lines = [
        "# Activity forecasting (Kitani et al. 2012): speed, memory and quality",
        "",
        "Written by `benchmarks/forecast.py`. "
        + record["sources"]
        + f" CPU: {record['cpu']}, {record['cores']} cores; load average at the start "
        f"{record['load']}. float32.",
        "",
        *_report.provenance(record),
        "Street scene: 50 destinations, 200 train and 50 test soft-optimal walkers under the "
        "hidden cost (`irlax.forecast.street`). Harbor: `irlax.datasets.ny_harbor` (train "
        "1–5 December 2020, test 6–7 December), 50 destinations found where the train tracks "
        "end (2-cell disks).",
        "",
        "## Time and memory",
        "",
        "*Iterations*: L-BFGS iterations of the warm fit; *solves*: its evaluations of the NLL "
        "and its gradient (each a solve of the soft values and one of the occupancies of the "
        "destinations in play), per stage of the ladder of goal sets (`ForecastConfig."
        "first_goals`), as destinations × solves. *Direct*: the same fit without the ladder "
        "(`first_goals=0`), every solve over all destinations; its time includes compilation, "
        "as the ladder's first call does. *Loss*: the training NLL per step + L2 term where "
        "each fit stopped (same objective).",
        "",
        "| case | cells | iterations | solves | fit, first call (s) | fit, warm (s) "
        "| direct: solves | direct: first call (s) | loss: ladder / direct "
        "| one forecast, median of 5 (ms) | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def by_stage(r, name):
        return " + ".join(f"{n}×{g}" for g, n in r[f"{name}_solves_by_stage"].items())

    for r in results:
        h, w = r["shape"]
        lines.append(
            f"| {r['case']} | {h}×{w} | {r['fit_iterations']} | {by_stage(r, 'fit')} "
            f"| {r['fit_first_s']:.1f} | {r['fit_warm_s']:.1f} "
            f"| {by_stage(r, 'direct_fit')} | {r['direct_fit_first_s']:.1f} "
            f"| {r['fit_loss']:.4f} / {r['direct_fit_loss']:.4f} "
            f"| {r['forecast_s'] * 1000:.0f} | {r['peak_rss_mb']:.0f} |"
        )
    lines += [
        "",
        "## Soft values of all 50 destinations: Gauss–Seidel sweeps against value iteration",
        "",
        "Same backup, same tolerance (64 float32 ulps, relative), warm. Value iteration is "
        f"capped at {JACOBI_CAP} iterations.",
        "",
        "| case | sweeps: rounds of 4 | sweeps (s) | value iteration: iterations "
        "| value iteration (s) | speed-up | max |ΔV| |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        v = r["values"]
        its = f"{v['jacobi_iterations']}" + ("" if v["jacobi_converged"] else " (cap)")
        lines.append(
            f"| {r['case']} | {v['rounds']} | {v['sweeps_s']:.2f} | {its} | {v['jacobi_s']:.2f} "
            f"| {_report.ratio(v['jacobi_s'] / v['sweeps_s'])} | {v['max_abs_difference']:.2g} |"
        )
    lines += ["", "## Held-out metrics (first half of each test track observed)", ""]
    for r in results:
        lines += [
            f"### {r['case']}",
            "",
            "| predictor | NLL per step | MHD (m) | destination accuracy |",
            "|---|---|---|---|",
        ]
        for name, m in r["metrics"].items():
            lines.append(
                f"| {name} | {m['nll_per_step']:.3f} | {m['mhd']:.2f} "
                f"| {m['destination_accuracy']:.2f} |"
            )
        lines += ["", _verdict(r["metrics"]), ""]
    return "\n".join(lines)


def _verdict(metrics: dict) -> str:
    """How the model compares with the best baseline on each metric, from the numbers."""
    model = metrics["model"]
    parts = []
    for key, what, digits, lower_is_better in (
        ("nll_per_step", "NLL per step", 3, True),
        ("mhd", "MHD", 2, True),
        ("destination_accuracy", "destination accuracy", 2, False),
    ):
        values = {name: metrics[name][key] for name in BASELINES if name in metrics}
        best = (min if lower_is_better else max)(values, key=values.get)
        word = _report.comparison(
            model[key], values[best], smaller="lower than", larger="higher than"
        )
        parts.append(
            f"{what} {model[key]:.{digits}f}, {word} the best baseline's "
            f"({best}, {values[best]:.{digits}f})"
        )
    text = "The model: " + "; ".join(parts) + "."
    if "true_cost" in metrics:
        truth = metrics["true_cost"]["nll_per_step"]
        text += (
            f" The hidden cost's own NLL per step is {truth:.3f}: the model's is "
            f"{abs(model['nll_per_step'] - truth):.3f} "
            + ("higher." if model["nll_per_step"] > truth else "lower.")
        )
    return text


def main() -> None:
    if _report.render_only_main("forecast", render):
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[64, 128, 256])
    parser.add_argument("--no-harbor", action="store_true")
    parser.add_argument("--render-only", nargs="?", help="re-render the report from a JSON")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case), default=float))
        return
    import os

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    start_sources = source_state()
    cases = [str(s) for s in args.sizes] + ([] if args.no_harbor else ["harbor"])
    results = []
    for case in cases:
        print(f"forecast benchmark: {case} ...", flush=True)
        done = subprocess.run(
            [sys.executable, __file__, "--case", case], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SystemExit(f"case {case} failed:\n{done.stderr[-4000:]}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps({k: v for k, v in results[-1].items() if k != "metrics"}), flush=True)
    record = {
        "benchmark": "forecast",
        "sources": sources_line((start_sources, source_state())),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "load": load,
        "results": results,
    }
    _report.save(record, render, HERE / "results" / "forecast.json")
    print(f"wrote {HERE / 'results' / 'forecast.md'}")


if __name__ == "__main__":
    main()
