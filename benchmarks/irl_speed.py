"""MaxEnt IRL speed: irlax's `maxent.fit` beside imitation's `MCEIRL` (and econirl's MCE IRL).

Both learners get the same MDP, the same linear state-feature reward model, the same sampled
demonstrations and the same number of Adam steps (100, learning rate per world), horizon 50,
discount 1 (imitation ignores γ when it trains):

- `grid`: a 64×64 gridworld with slip 0.1 (as in `tabular_planning.py`), 16 objectworld-like
  radial state features (`exp(−4·distance to object f / 64)`, as `peers/make_mce_test_mdp.py`
  makes them), demonstrations of the soft-optimal policy of `features @ w`, w ~ N(0, 1);
- `objectworld`: `irlax.envs.objectworld(key, 32, horizon=50, discount=1.0)` with its 4
  continuous distance features, demonstrations of the soft-optimal policy of its true
  (nonlinear) reward; econirl's MCE IRL runs here too (its default root finder, and Adam).

Demonstrations come from `irlax.mdp.sample_trajectories` and are written, with the MDP, to the
peers' `.npz` input format (`benchmarks/peers/README.md`). Every learner starts its model
occupancy from the demonstrations' own start states, so the file's `init` is their empirical
distribution (irlax does so by construction; imitation and econirl read `init`).

Each measurement runs in its own process (for a clean peak-memory reading): irlax in this
virtualenv in float64 (as imitation), in float32, and in float64 on one thread; imitation
with its default BLAS threads and with one; the peers with their own virtualenv's python.
irlax is timed on a first fit (compilation included) and then on warm fits (median). The
float64 irlax worker also times `maxent.fit` run to convergence and with its other objective
(the actions' likelihood), and runs reference C, imitation's loop on irlax's planner (Adam on
Ziebart's feature-matching gradient with H+1 rows of occupancy), which splits the difference
between irlax and imitation into its causes. That irlax's default fit is Adam on the H-row
gradient (reference B), that its converged fit is the feature-matching optimum, and that both
objectives coincide on exact demonstrations are proven by
`tests/algorithms/test_maxent_references.py`, not measured here.

    python benchmarks/irl_speed.py --peer-python .venv-peers/bin/python \\
        --econirl-python .venv-econirl/bin/python [--imitation-steps 100]

writes the measurements to benchmarks/results/irl_speed.json and renders irl_speed.md from
them (`--render-only` re-renders the report without running). imitation's dense MCEIRL takes
seconds per step on the 64×64 grid; `--imitation-steps K` runs only K of its steps (the report
then extrapolates its time per step to the full count and compares occupancies after K steps
of both).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _report
import numpy as np
from _report import source_state, sources_line

HERE = Path(__file__).resolve().parent
HORIZON = 50
SLIP = 0.1
# One thread everywhere: OpenBLAS (numpy, under imitation), torch's OpenMP and XLA's CPU pool.
ONE_THREAD = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
}
WORLDS = {
    # name: (description, learning rate, number of demonstrations)
    "grid": ("64×64 gridworld, slip 0.1, 16 radial features", 0.05, 64),
    "objectworld": ("32×32 objectworld, 4 continuous features", 0.01, 64),
}


# --------------------------------------------------------------------------- workers


def prepare(world: str, out: str, n_demos: int, seed: int) -> dict:
    """Build a world, sample demonstrations, write the peers' npz (float64 throughout)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    from irlax.envs import gridworld, objectworld
    from irlax.mdp import sample_trajectories, soft_value_iteration

    key_world, key_demos = jax.random.split(jax.random.key(seed))
    if world == "grid":
        size, n_features = 64, 16
        mdp = gridworld(size, size, slip=SLIP, horizon=HORIZON)
        rng = np.random.default_rng(seed)
        rows, cols = np.divmod(np.arange(size * size), size)
        obj_r, obj_c = np.divmod(rng.choice(size * size, n_features, replace=False), size)
        dist = np.hypot(rows[:, None] - obj_r, cols[:, None] - obj_c)
        features = np.exp(-dist / size * 4.0)
        true_weights = rng.standard_normal(n_features)
        reward = features @ true_weights
        mdp = mdp.replace(features=features)
    else:
        mdp, true_reward = objectworld(key_world, 32, horizon=HORIZON, discount=1.0)
        features, reward, true_weights = np.asarray(mdp.features), np.asarray(true_reward), None
    plan = soft_value_iteration(mdp, jnp.asarray(reward))
    demos = sample_trajectories(mdp, plan.log_policy, n_demos, key_demos)
    states, actions = np.asarray(demos.observations), np.asarray(demos.actions)
    n_states = mdp.n_states
    starts = np.bincount(states[:, 0], minlength=n_states) / n_demos
    # Empirical state occupancy, row t = law of s_t for t = 0..H (imitation's H+1 rows).
    demo_occupancy = np.zeros((HORIZON + 1, n_states))
    np.add.at(demo_occupancy, (np.arange(HORIZON + 1)[None, :], states), 1.0 / n_demos)
    arrays = {
        "next_states": np.broadcast_to(np.asarray(mdp.next_states), mdp.probs.shape).astype(
            np.int64
        ),
        "probs": np.asarray(mdp.probs, np.float64),
        "init": starts,
        "true_init": np.asarray(mdp.init, np.float64),
        "reward": np.asarray(reward, np.float64),
        "horizon": np.int64(HORIZON),
        "discount": np.float64(1.0),
        "features": np.asarray(features, np.float64),
        "init_weights": np.zeros(features.shape[1]),
        "demo_states": states.astype(np.int64),
        "demo_actions": actions.astype(np.int64),
        "demo_occupancy": demo_occupancy,
    }
    if true_weights is not None:
        arrays["true_weights"] = true_weights
    np.savez(out, **arrays)
    return {
        "S": n_states,
        "A": mdp.n_actions,
        "K": mdp.n_successors,
        "F": int(features.shape[1]),
        "n_demos": n_demos,
        "n_start_states": int((starts > 0).sum()),
        "n_terminal": int(np.asarray(mdp.terminal).sum()),
    }


def load_problem(path: str):
    """The npz as irlax's `TabularMDP` (shared successor lists where they are) and demos."""
    import jax.numpy as jnp

    from irlax.data import Trajectories
    from irlax.mdp import TabularMDP

    with np.load(path) as f:
        a = {k: f[k] for k in f.files}
    next_states = a["next_states"]
    if (next_states == next_states[:, :1]).all():  # one list for all actions: irlax's layout
        next_states = next_states[:, :1]
    mdp = TabularMDP.from_successors(
        next_states,
        a["probs"],
        a["init"],
        features=a["features"],
        horizon=int(a["horizon"]),
        discount=float(a["discount"]),
    )
    states, actions = a["demo_states"], a["demo_actions"]
    demos = Trajectories(
        observations=jnp.asarray(states, jnp.int32),
        actions=jnp.asarray(actions, jnp.int32),
        lengths=jnp.full(states.shape[0], actions.shape[1], jnp.int32),
    )
    return mdp, demos, a


def fit_worker(spec: dict) -> dict:
    """Time `maxent.fit` in this process; write the final occupancy (and reference C's)."""
    import jax

    jax.config.update("jax_enable_x64", spec["x64"])
    import jax.numpy as jnp

    from irlax.algorithms import maxent
    from irlax.mdp import occupancy

    mdp, demos, arrays = load_problem(spec["problem"])

    def fit(steps, optimizer="adam", **options):
        # tol=0: exactly `steps` Adam steps, as imitation runs (its early stops are off too).
        if optimizer == "adam":
            options.update(learning_rate=spec["lr"], tol=0.0)
        else:  # L-BFGS to convergence
            options.update(learning_rate=None, tol=1e-7)
        result = maxent.fit(
            mdp, demos, key=jax.random.key(0), optimizer=optimizer, steps=steps, **options
        )
        return jax.block_until_ready(result)

    def timed(repeats, *args, **options):
        """(result, first seconds, warm seconds: the median of `repeats` more)."""
        start = time.perf_counter()
        result = fit(*args, **options)
        first, times = time.perf_counter() - start, []
        for _ in range(repeats):
            result = None  # free the last answer first: peak memory is one answer's worth
            start = time.perf_counter()
            result = fit(*args, **options)
            times.append(time.perf_counter() - start)
        return result, first, statistics.median(times)

    def state_occupancy(result):
        return np.asarray(occupancy(mdp, result.plan.log_policy).sum(axis=(0, 2)), np.float64)

    result, first, warm = timed(spec["repeats"], spec["steps"])
    option = maxent.MaxEntConfig().objective
    # The objective the default resolves to ("auto": the dual for a finite horizon).
    default = option if option != "auto" else "dual" if mdp.horizon is not None else "likelihood"
    out = {
        "first_seconds": first,
        "warm_seconds": warm,
        "n_steps": int(result.info["n_steps"]),
        "dtype": str(mdp.probs.dtype),
        "objective_option": option,
        "objective": default,
    }
    if spec["compare_steps"] != spec["steps"]:
        result = fit(spec["compare_steps"])
    d = occupancy(mdp, result.plan.log_policy)
    saved = {
        "theta": np.asarray(result.info["theta"], np.float64),
        "occupancy": np.asarray(d.sum(axis=(0, 2)), np.float64),
        "occupancy_with_final": np.asarray(d.sum(axis=(0, 2)) + _last_state(mdp, d), np.float64),
    }
    if spec["references"]:
        n = spec["compare_steps"]
        features = jnp.asarray(arrays["features"], mdp.probs.dtype)
        demo_occ = jnp.asarray(arrays["demo_occupancy"], mdp.probs.dtype)
        theta = _mceirl_loop(mdp, features, demo_occ.sum(0), n, spec["lr"])
        saved["c_theta"] = np.asarray(theta, np.float64)
        saved["c_occupancy"] = np.asarray(_state_occupancy(mdp, features @ theta), np.float64)
        # maxent.fit run to convergence by L-BFGS, and with its other objective (all timed).
        other = "likelihood" if default == "dual" else "dual"
        for objective in (default, other):
            options = {} if objective == default else {"objective": objective}
            if objective == other:  # Adam, as many steps as imitation ran
                fitted, first, warm = timed(1, n, **options)
                out[f"{objective}_seconds"] = {"first": first, "warm": warm}
                saved[f"{objective}_occupancy"] = state_occupancy(fitted)
                saved[f"{objective}_theta"] = np.asarray(fitted.info["theta"], np.float64)
            converged, first, warm = timed(1, 500, optimizer="lbfgs", **options)
            out[f"{objective}_converged_seconds"] = {"first": first, "warm": warm}
            out[f"{objective}_converged_steps"] = int(converged.info["n_steps"])
            saved[f"{objective}_converged_occupancy"] = state_occupancy(converged)
            saved[f"{objective}_converged_theta"] = np.asarray(converged.info["theta"], np.float64)
        from tabular_planning import value_offset_per_step

        out["value_offset_per_step"] = value_offset_per_step(x64=True)
    np.savez(spec["out"], **saved)
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return out


def _last_state(mdp, d):
    """`[S]` law of s_H, the state after the last action, from the occupancy `[H, S, A]`."""
    from irlax.mdp.core import push_forward

    return push_forward(mdp, d[-1])


def _state_occupancy(mdp, reward, with_final=False):
    """`Σ_t D_t` of the soft-optimal policy: t < H, or t ≤ H with `with_final`."""
    from irlax.mdp import occupancy, soft_value_iteration

    d = occupancy(mdp, soft_value_iteration(mdp, reward).log_policy)
    total = d.sum(axis=(0, 2))
    return total + _last_state(mdp, d) if with_final else total


def _mceirl_loop(mdp, features, target, steps, lr):
    """Reference C: imitation's `MCEIRL` loop on irlax's planner, θ from 0.

    Adam on `φᵀ(Σ_{t≤H} D_t − target)`, the feature gap counting s_H, the state after the last
    action, which imitation's occupancy counts although its policy earns nothing there. That
    step is no objective's gradient, so the `loss` that `minimize` records is the gap's norm.

    Args:
        mdp: the `TabularMDP` (finite horizon H).
        features: `[S, F]` state features.
        target: `[S]` the demonstrations' state counts over s_0..s_H.
        steps: Adam steps (all taken: no tolerance).
        lr: Adam's learning rate.

    Returns:
        θ `[F]` after `steps` steps.
    """
    import jax
    import jax.numpy as jnp
    import optax

    from irlax.optim import minimize

    def value_and_grad(theta, _):
        gap = features.T @ (_state_occupancy(mdp, features @ theta, with_final=True) - target)
        return jnp.linalg.norm(gap), gap, {}

    run = jax.jit(lambda theta: minimize(value_and_grad, theta, optax.adam(lr), steps=steps))
    return run(jnp.zeros(features.shape[1], features.dtype)).params


# --------------------------------------------------------------------------- driver


def run_measured(cmd: list[str], env: dict | None = None) -> tuple[str, float, float]:
    """Run a command; return its stdout, its peak RSS in GB (wait4) and its wall time."""
    start = time.perf_counter()
    env = None if env is None else {**os.environ, **env}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd, out)
    return out, usage.ru_maxrss / 1024**2, time.perf_counter() - start


def run_worker(spec: dict, env: dict | None = None) -> dict:
    out, rss, _ = run_measured([sys.executable, __file__, "--worker", json.dumps(spec)], env)
    result = json.loads(out.strip().splitlines()[-1])
    result.setdefault("peak_rss_gb", rss)
    return result


def run_peer(cmd: list[str], out_json: str, env: dict | None = None) -> dict:
    prefix = "".join(f"{k}={v} " for k, v in (env or {}).items())
    print(f"  $ {prefix}" + " ".join(cmd), flush=True)
    _, rss, wall = run_measured(cmd, env)
    result = json.loads(Path(out_json).read_text())
    result["peak_rss_gb"], result["wall_seconds"] = rss, wall
    return result


def compare_world(world: str, args, tmp: str) -> dict:
    """Run every learner on one world; returns its measurements (`world_record`)."""
    description, lr, n_demos = WORLDS[world]
    problem = f"{tmp}/{world}.npz"
    print(f"[{world}] preparing the problem ...", flush=True)
    info = run_worker({"mode": "prepare", "world": world, "out": problem, "n_demos": n_demos})
    imitation_steps = args.imitation_steps if world == "grid" else args.steps
    runs: dict = {"world": world, "info": info, "description": description, "lr": lr}
    for name, x64, env in (
        ("irlax64", True, None),
        ("irlax32", False, None),
        ("irlax64_1t", True, ONE_THREAD),
    ):
        print(f"[{world}] {name} ...", flush=True)
        runs[name] = run_worker(
            {
                "mode": "fit",
                "problem": problem,
                "x64": x64,
                "steps": args.steps,
                "compare_steps": imitation_steps,
                "lr": lr,
                "repeats": args.repeats,
                "references": name == "irlax64",
                "out": f"{tmp}/{world}_{name}.npz",
            },
            env,
        )
        with np.load(f"{tmp}/{world}_{name}.npz") as f:
            runs[name]["arrays"] = {k: f[k] for k in f.files}
    for name, env in (("imitation", None), ("imitation_1t", ONE_THREAD)):
        print(f"[{world}] {name} MCEIRL, {imitation_steps} steps ...", flush=True)
        out = f"{tmp}/{world}_{name}.json"
        cmd = [args.peer_python, str(HERE / "peers" / "imitation_mceirl.py"), problem]
        cmd += ["--steps", str(imitation_steps), "--lr", str(lr), "--demo", "occupancy"]
        runs[name] = run_peer([*cmd, "--out", out], out, env)
    if world == "objectworld" and args.econirl_python:
        econirl = [args.econirl_python, str(HERE / "peers" / "econirl_mce.py"), problem]
        for name, extra in (
            ("econirl_default", []),
            ("econirl_adam", ["--optimizer", "adam", "--steps", str(args.steps), "--lr", str(lr)]),
        ):
            print(f"[{world}] {name} ...", flush=True)
            out = f"{tmp}/{world}_{name}.json"
            try:
                runs[name] = run_peer(
                    ["timeout", str(args.econirl_timeout), *econirl, *extra, "--out", out], out
                )
            except subprocess.CalledProcessError as error:
                runs[name] = {"failed": f"exit status {error.returncode} (timeout 124)"}
    with np.load(problem) as f:
        runs["demo_occupancy"] = f["demo_occupancy"]
        runs["features"] = f["features"]
        runs["true_weights"] = f["true_weights"] if "true_weights" in f.files else None
    return world_record(runs)


def _difference(key: str, a, b) -> dict:
    """max_s |a − b| and Σ_s |a − b| / H (the step-averaged L1 gap of the state laws)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    error = np.abs(a - b)
    return {"key": key, "max": float(error.max()), "l1_per_step": float(error.sum() / HORIZON)}


# What the record keeps of an econirl run (its arrays are reduced to distances and gaps).
ECONIRL_KEPT = ("failed", "iterations", "seconds", "peak_rss_gb", "converged", "log_likelihood")


def world_record(runs: dict) -> dict:
    """One world's measurements as JSON: times, and the occupancies reduced to their distances.

    Occupancies are `[S]` state counts over t < H (`*_with_final`: t ≤ H); a comparison keeps
    max_s |a − b| and Σ_s |a − b| / H, a learner its feature gaps and θ.
    """
    features = runs["features"]
    demo = runs["demo_occupancy"]
    demo_h, demo_h1 = demo[:-1].sum(0), demo.sum(0)

    def gap(occ, target):
        return None if occ is None else float(np.linalg.norm(features.T @ (occ - target)))

    i64, i32, one = runs["irlax64"], runs["irlax32"], runs["irlax64_1t"]
    a64, a32 = i64.pop("arrays"), i32.pop("arrays")
    one.pop("arrays")
    default = i64["objective"]
    other = "likelihood" if default == "dual" else "dual"
    imitation = {"default": runs["imitation"], "one_thread": runs["imitation_1t"]}
    # Both imitation runs compute the same numbers; compare with the faster, as the ratios do.
    imi = min(imitation.values(), key=lambda r: r["seconds"]["total"])
    imi_h, imi_h1 = np.asarray(imi["occupancy_first_h"]), np.asarray(imi["occupancy"])
    converged = a64[f"{default}_converged_occupancy"]
    differences = [
        _difference("irlax_vs_imitation", a64["occupancy"], imi_h),
        _difference("c_vs_imitation", a64["c_occupancy"], imi_h),
        _difference("irlax_vs_c", a64["occupancy"], a64["c_occupancy"]),
        _difference("f32_vs_f64", a32["occupancy"], a64["occupancy"]),
        _difference("after_vs_converged", a64["occupancy"], converged),
        _difference("other_vs_irlax", a64[f"{other}_occupancy"], a64["occupancy"]),
        _difference("other_vs_irlax_converged", a64[f"{other}_converged_occupancy"], converged),
        _difference("converged_vs_demos", converged, demo_h),
    ]
    learners = [
        ("irlax", a64["occupancy"], a64["occupancy_with_final"], a64["theta"]),
        ("imitation", imi_h, imi_h1, imi["weights"]),
        ("c", a64["c_occupancy"], None, a64["c_theta"]),
        ("irlax_converged", converged, None, a64[f"{default}_converged_theta"]),
        ("other", a64[f"{other}_occupancy"], None, a64[f"{other}_theta"]),
        (
            "other_converged",
            a64[f"{other}_converged_occupancy"],
            None,
            a64[f"{other}_converged_theta"],
        ),
    ]
    econirl = {}
    for name in ("econirl_adam", "econirl_default"):
        e = runs.get(name)
        if e is None:
            continue
        econirl[name.split("_")[1]] = {k: e[k] for k in ECONIRL_KEPT if k in e}
        if "failed" in e:
            continue
        differences.append(_difference(f"{name}_vs_irlax", e["occupancy"], a64["occupancy"]))
        if name == "econirl_default":  # the feature-matching optimum, as irlax's converged fit
            differences.append(_difference(f"{name}_vs_irlax_converged", e["occupancy"], converged))
        learners.append((name, e["occupancy"], e["occupancy_with_final"], e["weights"]))
    if runs["true_weights"] is not None:
        learners.append(("true", None, None, runs["true_weights"]))
    return {
        "world": runs["world"],
        "description": runs["description"],
        "lr": runs["lr"],
        "info": runs["info"],
        "imitation_steps": int(imi["steps"]),
        "references": {"C": {}},
        "irlax": {"float64": i64, "float32": i32, "float64_one_thread": one},
        "imitation": {
            name: {k: r[k] for k in ("steps", "seconds", "peak_rss_gb", "bias")}
            for name, r in imitation.items()
        },
        "econirl": econirl,
        "differences": differences,
        "learners": [
            {
                "key": key,
                "gap_h": gap(None if h is None else np.asarray(h), demo_h),
                "gap_h1": gap(None if h1 is None else np.asarray(h1), demo_h1),
                "theta": np.asarray(theta, np.float64).tolist(),
            }
            for key, h, h1, theta in learners
        ],
        "theta_differences": {
            "irlax_vs_imitation": float(np.abs(a64["theta"] - np.asarray(imi["weights"])).max()),
            "c_vs_imitation": float(np.abs(a64["c_theta"] - np.asarray(imi["weights"])).max()),
        },
    }


def main() -> None:
    if _report.render_only_main("irl_speed", render):
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer-python", default=".venv-peers/bin/python")
    parser.add_argument("--econirl-python", default=".venv-econirl/bin/python")
    parser.add_argument("--steps", type=int, default=100, help="Adam steps of every learner")
    parser.add_argument(
        "--imitation-steps",
        type=int,
        default=None,
        help="imitation's steps on the 64×64 grid (default --steps; fewer are extrapolated)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="warm irlax fits (median)")
    parser.add_argument(
        "--econirl-timeout", type=int, default=600, help="seconds before an econirl run is cut"
    )
    parser.add_argument("--worlds", nargs="*", default=list(WORLDS), choices=list(WORLDS))
    parser.add_argument("--out", default=str(HERE / "results" / "irl_speed.json"))
    parser.add_argument("--render-only", nargs="?", help="re-render the report from a JSON")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        spec = json.loads(args.worker)
        if spec["mode"] == "prepare":
            result = prepare(spec["world"], spec["out"], spec["n_demos"], spec.get("seed", 0))
        else:
            result = fit_worker(spec)
        print(json.dumps(result))
        return
    if args.imitation_steps is None:
        args.imitation_steps = args.steps

    load_before, source_before = os.getloadavg(), source_state()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        worlds = [compare_world(world, args, tmp) for world in args.worlds]
    elapsed = time.perf_counter() - start
    offsets = {w["irlax"]["float64"].pop("value_offset_per_step") for w in worlds}
    record = {
        "benchmark": "irl_speed",
        "command": "python benchmarks/irl_speed.py " + " ".join(sys.argv[1:]),
        "machine": _report.jax_machine(load_before[0], elapsed),
        "sources": sources_line((source_before, source_state())),
        "steps": args.steps,
        "repeats": args.repeats,
        "horizon": HORIZON,
        "value_offset_per_step": max(offsets),
        "worlds": worlds,
    }
    print(_report.save(record, render, Path(args.out).with_suffix(".json")))


# --------------------------------------------------------------------------- report


# Two float64 computations of the same quantity agree to rounding; econirl's float32 iterates
# and its root finder's tolerance to about this.
CHECK, CHECK_FLOAT32 = 1e-10, 1e-6
TESTS = "`tests/algorithms/test_maxent_references.py`"
# The references a run built from irlax's planner (runs before the tests took over B and B*
# built all three).
REFERENCES = {
    "B": "**B** = Adam on Ziebart's feature-matching gradient φᵀ(Σ_{t<H} D_t − demo) (H rows)",
    "C": "**C** = Adam on the feature-matching gradient with H+1 rows, φᵀ(Σ_{t≤H} D_t − demo), "
    "s_0..s_H (imitation's `MCEIRL` loop)",
    "B*": "**B\\*** = the feature-matching optimum (L-BFGS on the max-entropy dual, "
    "{iterations} iterations; econirl's root finder's target)",
}


def render(record: dict) -> str:
    """The report of a saved run (`record` as `main` writes it)."""
    m = record["machine"]
    lines = [
        "# MaxEnt IRL speed: irlax beside imitation's MCEIRL and econirl's MCE IRL",
        "",
        f"Written by `benchmarks/irl_speed.py` (`make bench`); command: "
        f"`{record['command'].strip()}`.",
        "",
        f"Machine: {m['platform']}, {m['cpu']}, {m['cores']} cores (shared: load "
        f"average {m['load_before']:.1f} before, {m['load_after']:.1f} after the "
        f"{m['minutes']:.0f}-minute run), Python {m['python']}, "
        f"JAX {m['jax']} on {m['jax_backend']}.",
        "",
        *([record["sources"], ""] if record.get("sources") else []),
        *_report.provenance(record),
        "Every learner gets the same MDP (horizon "
        f"{record['horizon']}, discount 1), the same linear state-feature "
        f"reward, starting at θ = 0, the same sampled demonstrations and {record['steps']} Adam "
        "steps (β = (0.9, 0.999), eps 1e-8, the learning rate below); early stopping is off "
        "everywhere (irlax `tol=0`; imitation's `linf_eps`/`grad_l2_eps` = −1). Demonstrations: "
        "`irlax.mdp.sample_trajectories` from the soft-optimal policy of a known reward, written "
        "with the MDP to the peers' npz format. The MDP's `init` given to every learner is the "
        "demonstrations' empirical start distribution (irlax's model occupancy starts there by "
        "construction; imitation and econirl read `init`). Each measurement runs in its own "
        "process; peak memory is that process's `ru_maxrss` (from `wait4`), interpreter, "
        "libraries and dense matrices included.",
        "",
        "Timing: irlax's *first* fit includes tracing and XLA compilation; *warm* is the "
        f"median of {record['repeats']} further fits of the same shapes (everything in "
        "`maxent.fit`: empirical occupancy, the jitted Adam loop, the final plan). imitation: "
        "`MCEIRL.train()` (steps × (dense soft VI + dense occupancy + torch Adam) + one final "
        "`mce_partition_fh`), plain numpy/torch with nothing to compile; building its dense "
        "`[S, A, S]` transition matrix and the env is not timed. econirl: the whole "
        "`MCEIRLEstimator.estimate` call, first and second (warm) fit in one process.",
        "",
    ]
    for world in record["worlds"]:
        lines += _world_section(world, record)
    lines += _notes(record)
    return "\n".join(lines)


def _diff(d: dict) -> str:
    """'max / L1÷H' of one comparison."""
    return f"{d['max']:.1e} / {d['l1_per_step']:.1e}"


def _check(d: dict, why: str, tolerance: float) -> str:
    """'why: agrees to 1e-15 (a check)', or that the check failed, from max |a − b|."""
    return f"{why}: {_report.agreement(d['max'], tolerance)} (a check)"


def _theta(v, n_features: int) -> str:
    """The first six weights (a record transcribed from a report keeps only those)."""
    return "(" + ", ".join(f"{x:.3f}" for x in v[:6]) + (", …)" if n_features > 6 else ")")


def _world_section(w: dict, record: dict) -> list[str]:
    info, steps = w["info"], record["steps"]
    irlax = w["irlax"]
    i64 = irlax["float64"]
    default = i64["objective"]
    other = "likelihood" if default == "dual" else "dual"
    dual = default == "dual"
    option = (
        f" {i64['objective_option']!r} →" if i64["objective_option"] not in (None, default) else ""
    )
    # imitation's faster configuration is the one every ratio is taken against.
    imitation = w["imitation"]
    fastest = min(imitation, key=lambda k: imitation[k]["seconds"]["total"])
    imi = imitation[fastest]
    n = imi_steps = w["imitation_steps"]
    imi_total = imi["seconds"]["total"] / imi_steps * steps  # measured when it ran every step
    extrapolated = imi_steps != steps
    ratio = _report.ratio
    rows = []
    for label, r in (
        (f"irlax `maxent.fit` (default objective{option} {default!r}), float64", i64),
        ("irlax, float32", irlax["float32"]),
        ("irlax, float64, one thread", irlax["float64_one_thread"]),
    ):
        rows.append(
            [
                label,
                r["n_steps"],
                _report.fixed(r["first_seconds"]),
                _report.fixed(r["warm_seconds"], 3),
                _report.fixed(1000 * r["warm_seconds"] / r["n_steps"], 1),
                f"**{ratio(imi_total / r['warm_seconds'])}**",
                ratio(imi_total / r["first_seconds"]),
                _report.fixed(r["peak_rss_gb"]),
            ]
        )
    for label, key, converged in (
        ("irlax, float64, L-BFGS to convergence (tol 1e-7)", f"{default}_converged", True),
        (f"irlax, float64, `objective={other!r}`", other, False),
        (
            f"irlax, float64, `objective={other!r}`, L-BFGS to convergence",
            f"{other}_converged",
            True,
        ),
    ):
        if f"{key}_seconds" not in i64:
            continue
        seconds = i64[f"{key}_seconds"]
        count = i64[f"{key}_steps"] if converged else imi_steps
        speed = "" if converged else ratio(imi_total * count / steps / seconds["warm"])
        rows.append(
            [
                label,
                count,
                _report.fixed(seconds["first"]),
                _report.fixed(seconds["warm"], 3),
                _report.fixed(1000 * seconds["warm"] / count, 1),
                speed,
                "",
                "",
            ]
        )
    for name, label in (
        ("default", "imitation `MCEIRL`, float64, default BLAS threads"),
        ("one_thread", "imitation `MCEIRL`, float64, one BLAS thread"),
    ):
        r = imitation[name]
        per_step = r["seconds"]["total"] / imi_steps
        total = f"{r['seconds']['total']:.1f}"
        if extrapolated:
            total += f" ({per_step * steps:.0f} for {steps}, extrapolated)"
        rows.append(
            [
                label,
                imi_steps,
                total,
                "(nothing to compile)",
                f"{1000 * per_step:.0f} (median step {1000 * r['seconds']['per_step_median']:.0f})",
                ratio(imi_total / (per_step * steps)),
                "",
                _report.fixed(r["peak_rss_gb"]),
            ]
        )
    for name, label in (
        ("default", "econirl, default optimiser (root finding, hybr)"),
        ("adam", f"econirl, Adam (at most {steps} steps, best iterate)"),
    ):
        e = w["econirl"].get(name)
        if e is None:
            continue
        if "failed" in e:
            rows.append([label, "—", e["failed"], "", "", "", "", ""])
            continue
        warm = e["seconds"]["warm"] or e["seconds"]["first"]
        rows.append(
            [
                label,
                e["iterations"],
                _report.fixed(e["seconds"]["first"], 1),
                _report.fixed(warm, 1),
                f"{1000 * warm / max(e['iterations'], 1):.0f}",
                ratio(imi_total / warm),
                ratio(imi_total / e["seconds"]["first"]),
                _report.fixed(e["peak_rss_gb"]),
            ]
        )
    lines = [
        f"## {w['description']} (S = {info['S']}, A = {info['A']}, F = {info['F']}, "
        f"{info['n_demos']} demonstrations from {info['n_start_states']} start states, "
        f"learning rate {w['lr']})",
        "",
        *_report.table(
            [
                "learner",
                "steps run",
                "first fit s",
                "warm fit s",
                "per step ms (warm)",
                "imitation ÷ this, warm",
                "imitation ÷ this, first",
                "peak RSS GB",
            ],
            rows,
        ),
        "",
        "irlax's compilation (first fit − warm fit, float64) is "
        f"{i64['first_seconds'] - i64['warm_seconds']:.1f} s. Ratios are taken against "
        "imitation's faster configuration "
        f"({'one BLAS thread' if fastest == 'one_thread' else 'default BLAS threads'}, "
        f"{imi_total:.1f} s for {steps} steps); rows without a ratio do other work. 'One "
        "thread' runs set OPENBLAS/OMP/MKL to 1 thread and XLA's CPU pool to 1 thread "
        "(`ONE_THREAD` in the script). The rows after the first three are timed in the "
        "float64 worker beside the references below (first = with compilation, warm = one "
        "more fit).",
        "",
    ]
    if extrapolated:
        lines += [
            f"imitation ran {imi_steps} of the {steps} steps (`--imitation-steps`); its time for "
            f"{steps} is {imi_steps}-step time × {steps}/{imi_steps}, and every speed ratio above "
            "uses that extrapolation. The occupancies below compare both libraries after "
            f"{imi_steps} steps (irlax fitted again for that many).",
            "",
        ]
    references = [
        REFERENCES[name].replace("{iterations}", str(params.get("iterations")))
        for name, params in sorted(
            w["references"].items(), key=lambda kv: list(REFERENCES).index(kv[0])
        )
    ]
    proven = (
        " irlax's default fit is B, Adam on the H-row gradient, and its converged fit is the "
        f"feature-matching optimum that econirl's root finder seeks: {TESTS} proves both."
        if dual and "B" not in w["references"]
        else ""
    )
    lines += [
        "Final state occupancies, `Σ_t P(s_t = s)` over t < H of the learned reward's "
        "soft-optimal policy from the same start law (irlax: `occupancy(mdp, "
        "result.plan.log_policy)` summed over time and actions; imitation: "
        "`occupancy_first_h`, its D_0..D_{H−1}; econirl: its time-indexed policy's forward "
        f"pass). Each sums to H = {record['horizon']}; 'max / L1÷H' = max_s |a − b| and "
        "Σ_s |a − b| / H (the step-averaged L1 distance between the state laws, at most 2). "
        "References, built in the float64 worker from irlax's planner: "
        + ", ".join(references)
        + "."
        + proven,
        "",
    ]
    explain = _explanations(w, default, other, n)
    differences = {d["key"]: d for d in w["differences"]}
    rows = []
    for d in w["differences"]:
        label, tolerance, why = explain[d["key"]]
        cell = f"**{_diff(d)}**" if d["key"] == "irlax_vs_imitation" else _diff(d)
        rows.append([label, cell, why if tolerance is None else _check(d, why, tolerance)])
    lines += _report.table(["compared", "max / L1÷H", "what differs"], rows)
    lines += ["", *_s_h_conclusion(differences, dual), ""]
    lines += [
        "Feature gaps ‖φᵀ(D_model − D_demo)‖ (the gradient each method follows, up to scale) "
        "and the weights:",
        "",
    ]
    rows = []
    econirl_iterations = {f"econirl_{k}": e.get("iterations") for k, e in w["econirl"].items()}
    labels = {
        "irlax": f"irlax f64, {n} steps",
        "imitation": f"imitation, {n} steps",
        "b": f"B, {n} steps",
        "c": f"C, {n} steps",
        "irlax_converged": "irlax converged",
        "b_star": "B\\* (feature matching converged)",
        "other": f"`objective={other!r}`, {n} steps",
        "other_converged": f"`objective={other!r}`, converged",
        **{
            key: f"{key.replace('_', ' ')}, {count} iterations"
            for key, count in econirl_iterations.items()
        },
        "true": "true reward of the demonstrator",
    }
    for learner in w["learners"]:
        rows.append(
            [
                labels[learner["key"]],
                "" if learner["gap_h"] is None else f"{learner['gap_h']:.3f}",
                "" if learner["gap_h1"] is None else f"{learner['gap_h1']:.3f}",
                _theta(learner["theta"], info["F"]),
            ]
        )
    lines += _report.table(
        ["learner", "gap, H rows (irlax's, econirl's)", "gap, H+1 rows (imitation's)", "θ"], rows
    )
    theta = w["theta_differences"]
    lines += [
        "",
        f"imitation's bias (not in irlax's model) ended at {imi['bias']:.1e}; "
        f"max |θ_irlax − θ_imitation| = {theta['irlax_vs_imitation']:.2e}, "
        f"max |θ_C − θ_imitation| = {theta['c_vs_imitation']:.1e}.",
        "",
    ]
    return lines


def _explanations(w: dict, default: str, other: str, n: int) -> dict:
    """Per comparison: (label, tolerance of a check or None, what differs)."""
    dual = default == "dual"
    s_h = "counting s_H (the state after the last action) or not"

    def when_dual(check: str, otherwise: str, tolerance: float = CHECK) -> tuple:
        """A check where irlax's objective is the dual; else what differs, unchecked."""
        return (tolerance, check) if dual else (None, otherwise)

    return {
        "irlax_vs_imitation": (
            f"irlax f64 vs imitation, {n} steps",
            None,
            "the headline: the rows below split it",
        ),
        "c_vs_imitation": ("C vs imitation", CHECK, "same maths, irlax planner vs imitation"),
        "irlax_vs_b": (
            "irlax vs B",
            *when_dual(
                "the dual's gradient is feature matching",
                "likelihood vs feature-matching gradient (sampled transitions)",
            ),
        ),
        "b_vs_c": ("B vs C", None, s_h),
        "irlax_vs_c": ("irlax vs C", None, s_h + (" (irlax is B)" if dual else "")),
        "f32_vs_f64": ("irlax f32 vs irlax f64", None, "float precision"),
        "converged_vs_b_star": (
            "irlax converged vs B\\*",
            *when_dual(
                "both the optimum of the dual", "likelihood vs feature matching, at the optima"
            ),
        ),
        "after_vs_converged": (
            f"irlax after {n} steps vs converged",
            None,
            "distance from convergence",
        ),
        "other_vs_irlax": (
            f"`objective={other!r}` vs irlax, {n} steps",
            None,
            f"{other} vs {default} along the way: their gradients differ by terms of the "
            "sampled transitions",
        ),
        "other_vs_irlax_converged": (
            f"`objective={other!r}` vs irlax, converged",
            None,
            "the same at the optima",
        ),
        "other_vs_irlax_exact": (
            f"`objective={other!r}` vs irlax, exact demonstrations, {n} steps",
            CHECK,
            "with the demonstrator's exact occupancy as `demos` both gradients are feature "
            "matching",
        ),
        "irlax_vs_b_exact": (f"irlax vs B, exact demonstrations, {n} steps", CHECK, "same"),
        "converged_vs_demos": (
            "irlax converged vs demonstrations",
            None,
            f"{w['info']['n_demos']} sampled demonstrations; a linear reward matches features only",
        ),
        "econirl_adam_vs_b": ("econirl adam vs B", None, "best iterate of 0..N−1 vs the N-th"),
        "econirl_adam_vs_irlax": (
            "econirl adam vs irlax f64",
            None,
            ""
            if not dual or "econirl_adam_vs_b" in {d["key"] for d in w["differences"]}
            else "best iterate of 0..N−1 vs the N-th (irlax is B)",
        ),
        "econirl_default_vs_b_star": (
            "econirl default vs B\\*",
            CHECK_FLOAT32,
            "econirl's float32 and its root finder's tolerance",
        ),
        "econirl_default_vs_irlax_converged": (
            "econirl default vs irlax converged",
            *when_dual(
                "econirl's float32 and its root finder's tolerance",
                "feature matching vs likelihood, at the optima",
                CHECK_FLOAT32,
            ),
        ),
        "econirl_default_vs_irlax": ("econirl default vs irlax f64", None, ""),
    }


def _s_h_conclusion(differences: dict, dual: bool) -> list[str]:
    """Whether counting s_H is the whole difference between irlax and imitation, measured."""
    if not dual:
        return []
    s_h = differences.get("irlax_vs_c") or differences["b_vs_c"]
    planner = differences["c_vs_imitation"]["max"] <= CHECK
    is_b = differences.get("irlax_vs_b", {"max": 0.0})["max"] <= CHECK
    if planner and is_b:
        return [
            "C reproduces imitation and irlax follows B, so counting s_H is the whole "
            f"difference between irlax and imitation: {_diff(s_h)} against "
            f"{_diff(differences['irlax_vs_imitation'])}.",
        ]
    return [
        "**Counting s_H is not the whole difference between irlax and imitation: "
        + ("C does not reproduce imitation" if not planner else "irlax does not follow B")
        + ".**",
    ]


def _notes(record: dict) -> list[str]:
    return [
        "## Conventions, and why the occupancies differ",
        "",
        '- **Objective.** `maxent.fit`\'s default objective (`"auto"`) is, for a finite '
        "horizon, the max-entropy dual, V_0(s_0) − Σ_t r(s_t) averaged over the "
        "demonstrations: its gradient with respect to "
        "the reward is exactly `D_θ − D_demo`, Ziebart's feature-matching gradient, the one "
        f"imitation and econirl follow (irlax = B; {TESTS}). "
        '`objective="likelihood"`, the '
        "demonstrated actions' log-likelihood Σ_t log π_t(a_t | s_t), has that gradient only "
        "in expectation over the sampled transitions: every sampled transition that differs "
        "from the model's average adds a term, so with sampled demonstrations its path and "
        "optimum differ from feature matching (the rows with `objective='likelihood'`); with "
        f"exact (infinite) demonstrations the two coincide ({TESTS}).",
        "- **The state after the last action.** imitation's occupancy `Dcum` has H+1 rows, "
        "s_0..s_H, although its policy gets no reward for s_H; irlax counts s_0..s_{H−1}, the "
        "states where an action is taken. imitation is given its own convention here: the "
        "demonstrations' `[H+1, S]` state laws (what it computes from trajectories), so its "
        "demonstration and model sides both count s_H and have equal mass. Handing it irlax's "
        "`[H, S]` instead would not give it irlax's objective: its model side would still "
        "count s_H (its gradient would gain φᵀD_H, its bias a constant push). No input makes "
        "imitation drop s_H, so the libraries are compared as they are; C is imitation's loop "
        "on irlax's planner, so 'C vs imitation' checks the planners and the step, and C "
        "against irlax (B) is the effect of s_H alone.",
        "- **Start states.** irlax starts the model occupancy at the demonstrations' first "
        "states, imitation at `env.initial_state_dist`: the file's `init` is therefore the "
        "demonstrations' empirical start law (with a uniform `init`, imitation would match "
        "occupancies started elsewhere, a third difference).",
        "- **Scale.** imitation's gradient is on the H+1 scale (unnormalised, per "
        "demonstration), irlax's on the H scale, econirl's normalised to averages; Adam is "
        "invariant to the scale (up to eps), so one learning rate is one step size for all.",
        _values_note(record),
        "- **econirl** matches features on the H-row, normalised scale from the file's `init`: "
        "its default optimiser solves μ_π = μ_D by root finding (hybr), i.e. it lands on the "
        "feature-matching optimum, irlax's converged fit; its Adam stops after 20 steps "
        "without a smaller ‖μ_D − μ_π‖ and returns the best iterate seen (of those after "
        "0..N−1 updates), not the last. It recompiles its JAX loops on every fit, so its warm "
        "fit is not much faster than its first.",
        "- **Threads.** imitation's dense `D[t] * pi @ T[:, a, :]` products go to OpenBLAS, "
        "which by default splits each over both cores. When another process keeps the second "
        "core busy, each of the 250 matrix-vector products of an occupancy pass can wait for "
        "it: while writing this benchmark, imitation's 32×32 steps took 1.8–2.2 s with "
        "default threads against 0.23–0.3 s with one (8 MB matrices, cache-resident), and in "
        "other runs the two were alike; at 64×64 (128 MB, memory-bound) they stay within "
        "~15%. So both are measured, and the ratios use the faster. irlax is shown with "
        "XLA's default thread pool and with one thread.",
        "",
    ]


def _values_note(record: dict) -> str:
    """What irlax's default soft maximum, measured, does to the comparison."""
    offset = record["value_offset_per_step"]
    terminal = sum(w["info"]["n_terminal"] for w in record["worlds"])
    if abs(offset) <= CHECK:
        return (
            "- **Values.** irlax's default V is the plain soft maximum, as imitation's: values, "
            "policies and occupancies compare as they are."
        )
    text = (
        "- **Values.** In this run irlax's default soft value carried a uniform action prior: "
        f"it was {offset:.4g} (= log A) lower per step than the plain soft maximum, "
        "imitation's (measured as in `tabular_planning.py`). "
    )
    if terminal == 0:
        return text + (
            "These worlds have no terminal state, so the prior lowers every V by the same "
            "(H − t)·log A: policies, and so the occupancies and weights above, are the plain "
            "soft maximum's. irlax's default is now the plain soft maximum (commit 73330b5): a "
            "rerun's values change by that constant, its occupancies and weights do not."
        )
    return text + (
        f"These worlds have {terminal} terminal states, where the prior's −log A per step is a "
        "living cost: policies differ from the plain soft maximum's, and a rerun with irlax's "
        "default today (no prior, commit 73330b5) gives different occupancies and weights."
    )


if __name__ == "__main__":
    main()
