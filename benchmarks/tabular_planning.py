"""Soft value iteration + occupancy on stochastic gridworlds: irlax beside imitation.

Each measurement runs in its own process (for a clean peak-memory reading): irlax in this
virtualenv, imitation's `mce_partition_fh` + `mce_occupancy_measures` in the peers' one
(`make bench` creates it). Both solve the same MDP, saved to a file: an N×N gridworld with
slip 0.1, a random state reward, uniform start, horizon 50, discount 1. The comparison runs
irlax in float64, as imitation does; the large runs use irlax's float32 default.

    python benchmarks/tabular_planning.py --peer-python .venv-peers/bin/python

writes the measurements to benchmarks/results/tabular_planning.json and renders
tabular_planning.md from them (`--render-only` re-renders the report without running).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _report
import numpy as np

HERE = Path(__file__).resolve().parent
SLIP = 0.1


def worker(size: int, horizon: int, x64: bool, repeats: int, out: str | None, fused: bool) -> dict:
    """Time irlax in this process; optionally save its answer and the MDP for the peer."""
    import jax

    jax.config.update("jax_enable_x64", x64)
    import jax.numpy as jnp

    from irlax.envs import gridworld
    from irlax.mdp import occupancy, soft_occupancy, soft_value_iteration

    start = time.perf_counter()
    mdp = gridworld(size, size, slip=SLIP, horizon=horizon)
    build = time.perf_counter() - start
    reward = jnp.asarray(np.random.default_rng(size).normal(size=mdp.n_states), mdp.probs.dtype)

    @jax.jit
    def solve(mdp, reward):
        if fused:  # the occupancy alone, the policy recomputed step by step
            return soft_occupancy(mdp, reward)
        plan = soft_value_iteration(mdp, reward)
        return plan.v, plan.log_policy, occupancy(mdp, plan.log_policy)

    start = time.perf_counter()
    jax.block_until_ready(solve(mdp, reward))
    first = time.perf_counter() - start
    times, result = [], None
    for _ in range(repeats):
        result = None  # free the last answer first: peak memory is one answer's worth
        start = time.perf_counter()
        result = jax.block_until_ready(solve(mdp, reward))
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    if out is not None:
        v, log_policy, d = (np.asarray(x) for x in result)
        np.savez(
            out,
            next_states=np.broadcast_to(mdp.next_states, mdp.probs.shape),
            probs=np.asarray(mdp.probs),
            init=np.asarray(mdp.init),
            reward=np.asarray(reward),
            horizon=horizon,
            discount=1.0,
            irlax_v=v,
            irlax_policy=np.exp(log_policy),
            irlax_occupancy=d.sum(-1),
        )
    return {
        "seconds": seconds,
        "first_call_seconds": first,
        "build_seconds": build,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
        "dtype": str(mdp.probs.dtype),
    }


def run_worker(size, horizon, x64, repeats, out=None, fused=False) -> dict:
    cmd = [sys.executable, __file__, "--worker", str(size), str(horizon), str(int(x64))]
    cmd += [str(repeats), out or "-", str(int(fused))]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# Two float64 solvers of the same finite-horizon recursion agree to rounding: beyond this, the
# report says they differ.
AGREEMENT = 1e-10


def value_offset_per_step(x64: bool = True) -> float:
    """How much lower irlax's default soft value is than the plain soft maximum, per step.

    Measured, not assumed: one state, 5 actions, zero reward, horizon 1, where the plain soft
    maximum is `log 5` (imitation's V). 0 for the plain soft maximum, `log A` for a uniform
    action prior.
    """
    import jax

    jax.config.update("jax_enable_x64", x64)
    from irlax.mdp import TabularMDP, soft_value_iteration

    n_actions = 5
    mdp = TabularMDP.from_successors(
        np.zeros((1, n_actions, 1), np.int64), np.ones((1, n_actions, 1)), np.ones(1), horizon=1
    )
    v = float(soft_value_iteration(mdp, np.zeros(1)).v[0, 0])
    return float(np.log(n_actions)) - v


def compare(size: int, peer_python: str, repeats: int, offset: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        mdp_file, peer_file = f"{tmp}/mdp.npz", f"{tmp}/peer.npz"
        ours = run_worker(size, 50, True, repeats, mdp_file)
        ours32 = run_worker(size, 50, False, repeats)
        peer_script = str(HERE / "peers" / "imitation_mce.py")
        subprocess.run([peer_python, peer_script, mdp_file, peer_file], check=True)
        with np.load(mdp_file) as a, np.load(peer_file) as b:
            h = int(a["horizon"])
            # imitation's V is the plain soft maximum; irlax's default is `offset` lower per
            # remaining step (0 unless it has an action prior). Policies compare as they are.
            shift = (h - np.arange(h))[:, None] * offset
            errors = {
                "policy": float(np.abs(a["irlax_policy"] - b["policy"]).max()),
                "occupancy": float(np.abs(a["irlax_occupancy"] - b["D"][:h]).max()),
                "value": float(np.abs(a["irlax_v"] + shift - b["v"]).max()),
            }
            peer = {
                "seconds": float(b["seconds_total"]),
                "peak_rss_gb": float(b["peak_rss_mb"]) / 1024,
            }
    return {"size": size, "irlax64": ours, "irlax32": ours32, "peer": peer, "errors": errors}


def main() -> None:
    if _report.render_only_main("tabular_planning", render):
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer-python", default=".venv-peers/bin/python")
    parser.add_argument("--sizes", type=int, nargs="*", default=[32, 64, 128])
    parser.add_argument("--big", type=int, nargs="*", default=[512, 1000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(HERE / "results" / "tabular_planning.json"))
    parser.add_argument("--render-only", nargs="?", help="re-render the report from a JSON")
    parser.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        size, horizon, x64, repeats, out, fused = args.worker
        out = None if out == "-" else out
        result = worker(int(size), int(horizon), bool(int(x64)), int(repeats), out, fused == "1")
        print(json.dumps(result))
        return

    import jax

    offset = value_offset_per_step()
    rows = []
    for size in args.sizes:
        print(f"comparing at {size}x{size} ...", flush=True)
        rows.append(compare(size, args.peer_python, args.repeats if size < 128 else 2, offset))
    big = []
    for size in args.big:
        print(f"irlax alone at {size}x{size} ...", flush=True)
        plan, fused = run_worker(size, 100, False, 3), run_worker(size, 100, False, 3, None, True)
        big.append({"size": size, "plan": plan, "fused": fused})
    record = {
        "benchmark": "tabular_planning",
        "machine": {
            "platform": platform.machine(),
            "cpu": platform.processor() or "cpu",
            "jax": jax.__version__,
            "jax_backend": jax.default_backend(),
        },
        "slip": SLIP,
        "value_offset_per_step": offset,
        "side_by_side": rows,
        "alone": big,
    }
    json_path = Path(args.out).with_suffix(".json")
    print(_report.save(record, render, json_path))


def render(record: dict) -> str:
    """The report of a saved run (`record` as `main` writes it)."""
    m, rows = record["machine"], record["side_by_side"]
    lines = [
        "# Tabular planning: soft value iteration + occupancy",
        "",
        "Written by `benchmarks/tabular_planning.py` (`make bench`). Stochastic N×N gridworld "
        f"(5 actions, slip {record['slip']}), random state reward, uniform start, discount 1. "
        "Times are the median of repeated runs after compilation; irlax's first call, "
        "compilation included, is given separately. Each "
        "measurement in its own process. imitation 1.0.1 (`mce_partition_fh` + "
        "`mce_occupancy_measures`, dense numpy, float64) in its own virtualenv.",
        "",
        f"Machine: {m['platform']}, {m['cpu']}, JAX {m['jax']} on {m['jax_backend']}.",
        "",
    ]
    lines += _report.provenance(record)
    lines += ["## Side by side, horizon 50", ""]
    table = []
    for r in rows:
        p, o, o32, e = r["peer"], r["irlax64"], r["irlax32"], r["errors"]
        table.append(
            [
                f"{r['size']}×{r['size']}",
                r["size"] ** 2,
                _report.fixed(p["seconds"], 3),
                _report.fixed(o["seconds"], 4),
                _report.ratio(p["seconds"] / o["seconds"]),
                _report.fixed(o32["seconds"], 4),
                _report.ratio(p["seconds"] / o32["seconds"]),
                _report.fixed(o["first_call_seconds"]),
                " / ".join(_report.error(e[k]) for k in ("policy", "occupancy", "value")),
                f"{p['peak_rss_gb']:.2f} / {o['peak_rss_gb']:.2f}",
            ]
        )
    lines += _report.table(
        [
            "grid",
            "states",
            "imitation s",
            "irlax f64 s",
            "speed-up f64",
            "irlax f32 s",
            "speed-up f32",
            "irlax first call s",
            "max abs diff policy / occupancy / value",
            "peak GB imitation / irlax f64",
        ],
        table,
    )
    worst = max(max(r["errors"].values()) for r in rows)
    slowest = min(r["peer"]["seconds"] / r["irlax64"]["seconds"] for r in rows)
    fastest = max(r["peer"]["seconds"] / r["irlax64"]["seconds"] for r in rows)
    offset = record["value_offset_per_step"]
    lines += [
        "",
        f"In float64 irlax {_report.agreement(worst, AGREEMENT)} with imitation (largest "
        f"difference of policy, occupancy and value over every grid) and is "
        f"{_report.ratio(slowest)} to {_report.ratio(fastest)} faster.",
        "",
        (
            "imitation's V is a plain log-sum-exp over actions; irlax's default has a uniform "
            f"action prior ({offset:.4g} = log A lower per step), so values are compared after "
            "adding (H − t)·log A. Policies and occupancies compare as they are."
            if abs(offset) > AGREEMENT
            else "Both libraries' V is the plain log-sum-exp over actions: values, policies and "
            "occupancies compare as they are."
        ),
        "",
        "## irlax alone, horizon 100, float32",
        "",
    ]
    table = []
    for r in record["alone"]:
        size = r["size"]
        for name, o in (("plan + occupancy", r["plan"]), ("soft_occupancy", r["fused"])):
            table.append(
                [
                    f"{size}×{size}",
                    f"{size**2:,}",
                    name,
                    _report.fixed(o["seconds"]),
                    _report.fixed(o["first_call_seconds"]),
                    _report.fixed(o["build_seconds"]),
                    _report.fixed(o["peak_rss_gb"]),
                ]
            )
    lines += _report.table(
        [
            "grid",
            "states",
            "pipeline",
            "seconds",
            "first call s",
            "building the MDP s",
            "peak memory GB",
        ],
        table,
    )
    lines += [
        "",
        "`plan + occupancy` returns the whole answer: `v [H,S]`, `log_policy [H,S,A]` and the "
        "occupancy `[H,S,A]` (2 GB each at a million states). `soft_occupancy` returns only "
        "the occupancy, keeping `V [H,S]` between the passes and recomputing each step's "
        "policy. Peak memory is the process's peak resident set, JAX runtime and the MDP "
        "included.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
