"""Three times per trainer and fitter: compile (cold cache), run, and total with a warm cache.

For each program below, on a small config (the point is compile against run, not learning),
float32, one seed, each measurement in a fresh process with JAX's persistent compilation cache
on (`irlax.compilation_cache.enable(folder)`, before anything compiles):

- *cold*: a process on an empty cache folder calls the program twice, as a user does:
  `jax.jit(train)(key)` for a trainer (the demos' `ExpertTransitions` as its second argument
  where `train` takes one), `maxent.fit(...)` / `forecast.fit(...)` for a fitter. The first
  call compiles (and writes the cache) and runs; the second only runs. *run s* = the second
  call, *compile s* = first − second, *total s* = the first call.
- *warm*: a second process on the folder the cold one filled, timed the same way; its first
  call loads XLA's compiled programs instead of compiling them (tracing and lowering still
  run): *total s, warm cache* = that first call.

Building the env, the demos and the data (their own small programs) comes before the timed
calls and is not timed; the parent also times each process from launch to exit (Python, JAX
start-up and that setup included). Every time is the median over `--repeats` repetitions
(3 by default), cold and warm interleaved per program, each repetition on a new empty folder;
the results are saved after every repetition (`repeats` says how many were done).

    nice -n 10 .venv/bin/python benchmarks/three_times.py [--repeats 3] [--only ppo,bc]

writes benchmarks/results/three_times.json and .md (`--render-only` re-renders).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _report
from _report import source_state, sources_line

HERE = Path(__file__).resolve().parent

# What each program is, in the report's words (the configs are in `build` below).
PROGRAMS = {
    "ppo": "PPO on CartPole-v1: 8 envs × 32 steps, 10 updates of 4 epochs × 4 minibatches, "
    "MLP (64, 64)",
    "sac": "SAC on Pendulum-v1: 300 env steps, gradient steps from step 100, batch 256, "
    "MLP (256, 256)",
    "soft_q": "soft Q-learning on CartPole-v1: 4 envs, 2000 env steps, learning from step 500, "
    "batch 64, MLP (64, 64)",
    "maxent": "MaxEnt IRL `maxent.fit` on an 8×8 gridworld (horizon 20, coordinate features), "
    "50 uniform-policy demos, 100 Adam steps",
    "forecast": "activity-forecast `fit` on the built-in street scene at 32×32 cells, "
    "40 tracks, L-BFGS to convergence",
    "bc": "behaviour cloning on CartPole-v1 from 4 expert episodes (2000 transitions), "
    "10 epochs, MLP (32, 32), 2 evaluation episodes",
    "dagger": "DAgger on CartPole-v1: 4 rounds of 4 envs × 64 steps, BC 4 epochs per round",
    "iqlearn": "IQ-Learn (offline) on CartPole-v1 from 4 expert episodes, 500 updates, "
    "MLP (64, 64)",
    "gail": "GAIL on CartPole-v1 from 4 expert episodes, its PPO generator as above",
    "airl": "AIRL on CartPole-v1 from 4 expert episodes, its PPO generator as above",
}


# --------------------------------------------------------------------------- the programs


def _cartpole_expert(obs, key=None):
    """A linear controller that balances CartPole-v1 for all 500 steps."""
    import jax.numpy as jnp

    w = jnp.asarray([0.1, 0.5, 10.0, 2.0], obs.dtype)
    return (jnp.dot(obs, w) > 0).astype(jnp.int32)


def _small_ppo():
    from irlax.rl.ppo import PPOConfig

    return PPOConfig(
        total_steps=10 * 8 * 32,
        num_envs=8,
        rollout_length=32,
        update_epochs=4,
        num_minibatches=4,
        hidden=(64, 64),
    )


def build(name: str):
    """`(call, info)`: `call()` runs the program once and blocks until it is done."""
    import jax

    from irlax.envs import make

    key = jax.random.key(0)
    if name in ("ppo", "sac", "soft_q"):
        from irlax.rl import ppo, sac, soft_q

        if name == "ppo":
            env, params = make("CartPole-v1")
            train = ppo.make_train(_small_ppo(), env, params)
        elif name == "sac":
            env, params = make("Pendulum-v1")
            config = sac.SACConfig(total_steps=300, learning_starts=100, batch_size=256)
            train = sac.make_train(config, env, params)
        else:
            env, params = make("CartPole-v1")
            config = soft_q.SoftQConfig(total_steps=2000, learning_starts=500)
            train = soft_q.make_train(config, env, params)
        fn = jax.jit(train)
        return lambda: jax.block_until_ready(fn(key))
    if name == "maxent":
        import jax.numpy as jnp

        from irlax.algorithms import maxent
        from irlax.envs import gridworld
        from irlax.mdp import sample_trajectories

        mdp = gridworld(8, 8, slip=0.1, horizon=20, features="coordinates")
        uniform = jnp.full((mdp.n_states, mdp.n_actions), -jnp.log(mdp.n_actions))
        demos = jax.block_until_ready(sample_trajectories(mdp, uniform, 50, jax.random.key(1)))
        return lambda: jax.block_until_ready(maxent.fit(mdp, demos, key=key, steps=100))
    if name == "forecast":
        from irlax.forecast import experiment
        from irlax.forecast.model import fit

        data = experiment.street(seed=0, size=32, n_train=40, n_test=1)
        return lambda: jax.block_until_ready(fit(data.scene, data.train, data.goals))
    # The deep imitation / IRL methods, from 4 episodes of the linear expert.
    import inspect

    from irlax.algorithms import airl, bc, dagger, gail, iqlearn
    from irlax.algorithms._deep import expert_transitions
    from irlax.data.rollout import rollout

    env, params = make("CartPole-v1")
    demos = jax.block_until_ready(rollout(env, _cartpole_expert, 4, jax.random.key(1), params))
    small_bc = bc.NeuralBCConfig(epochs=10, eval_episodes=2)
    if name == "bc":
        train = bc.make_train(small_bc, env, params, demos)
    elif name == "dagger":
        config = dagger.DAggerConfig(
            bc=bc.NeuralBCConfig(epochs=4, eval_episodes=2),
            rounds=4,
            num_envs=4,
            rollout_length=64,
        )
        train = dagger.make_train(config, env, params, demos, _cartpole_expert)
    elif name == "iqlearn":
        config = iqlearn.IQLearnConfig(updates=500, eval_every=250, eval_episodes=2)
        train = iqlearn.make_train(config, env, params, demos)
    elif name == "gail":
        train = gail.make_train(gail.GAILConfig(generator=_small_ppo()), env, params, demos)
    else:
        train = airl.make_train(airl.AIRLConfig(generator=_small_ppo()), env, params, demos)
    fn = jax.jit(train)
    if len(inspect.signature(train).parameters) > 1:  # train(key, expert): demos as data
        expert = jax.block_until_ready(expert_transitions(env, params, demos))
        return lambda: jax.block_until_ready(fn(key, expert))
    return lambda: jax.block_until_ready(fn(key))


def worker(name: str, cache: str) -> dict:
    """In this fresh process: the cache on in `cache`, the program built, called twice."""
    from jax import monitoring

    import irlax.compilation_cache

    if irlax.compilation_cache.enable(cache) is None:
        raise RuntimeError(f"the compilation cache could not be enabled in {cache}")
    counts = {"/jax/compilation_cache/cache_hits": 0, "/jax/compilation_cache/cache_misses": 0}

    def count(event: str, **_) -> None:
        if event in counts:
            counts[event] += 1

    monitoring.register_event_listener(count)
    start = time.perf_counter()
    call = build(name)
    setup = time.perf_counter() - start
    before = dict(counts)
    start = time.perf_counter()
    call()
    first = time.perf_counter() - start
    start = time.perf_counter()
    call()
    second = time.perf_counter() - start
    hits, misses = (counts[k] - before[k] for k in counts)
    return {
        "setup_seconds": setup,
        "first_seconds": first,
        "second_seconds": second,
        "cache_hits": hits,  # during the first call
        "cache_misses": misses,
    }


# --------------------------------------------------------------------------- driver


def run_worker(name: str, cache: Path) -> dict:
    """One measurement in a fresh process, timed from launch to exit."""
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    cmd = [sys.executable, __file__, "--worker", name, str(cache)]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    process = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{name} worker failed:\n{done.stderr[-4000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["process_seconds"] = process
    return out


def main(argv=None) -> None:
    if _report.render_only_main("three_times", render, argv):
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated programs (default: all)")
    parser.add_argument("--out", default=None, help="JSON path (default results/three_times)")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    names = [n for n in PROGRAMS if not args.only or n in args.only.split(",")]
    load_before, source_before = os.getloadavg()[0], source_state()
    start = time.perf_counter()
    runs = {name: [] for name in names}
    out = Path(args.out) if args.out else _report.results_path("three_times")
    out.parent.mkdir(parents=True, exist_ok=True)
    for rep in range(args.repeats):
        for name in names:
            with tempfile.TemporaryDirectory() as folder:
                cold = run_worker(name, Path(folder))
                entries = sum(1 for p in Path(folder).iterdir() if not p.name.startswith("."))
                warm = run_worker(name, Path(folder))
            runs[name].append({"cold": cold, "warm": warm, "cache_entries": entries})
            print(
                f"rep {rep} {name}: cold {cold['first_seconds']:.2f} s (run "
                f"{cold['second_seconds']:.3f} s), warm {warm['first_seconds']:.2f} s "
                f"({warm['cache_hits']} hits, {warm['cache_misses']} misses; {entries} "
                f"programs cached); processes {cold['process_seconds']:.1f} / "
                f"{warm['process_seconds']:.1f} s",
                flush=True,
            )
        # Saved after every repetition: a run stopped early keeps the repetitions it finished.
        save(out, runs, rep + 1, names, load_before, source_before, start)
        print(f"wrote {out}, {out.with_suffix('.md')} ({rep + 1} repetitions)", flush=True)


def save(out, runs, repeats, names, load_before, source_before, start) -> None:
    record = {
        "benchmark": "three_times",
        "command": "python benchmarks/three_times.py " + " ".join(sys.argv[1:]),
        "repeats": repeats,
        "programs": {name: PROGRAMS[name] for name in names},
        "runs": runs,
        "machine": _report.jax_machine(load_before, time.perf_counter() - start),
        "sources": sources_line((source_before, source_state())),
    }
    _report.save(record, render, out)


# --------------------------------------------------------------------------- report


def summarise(runs: list[dict]) -> dict:
    """Medians over repetitions of one program's times."""
    med = _report.median
    return {
        "compile": med([r["cold"]["first_seconds"] - r["cold"]["second_seconds"] for r in runs]),
        "run": med([r["cold"]["second_seconds"] for r in runs]),
        "total_cold": med([r["cold"]["first_seconds"] for r in runs]),
        "total_warm": med([r["warm"]["first_seconds"] for r in runs]),
        "run_warm": med([r["warm"]["second_seconds"] for r in runs]),
        "process_cold": med([r["cold"]["process_seconds"] for r in runs]),
        "process_warm": med([r["warm"]["process_seconds"] for r in runs]),
        "hits": med([r["warm"]["cache_hits"] for r in runs]),
        "misses": med([r["warm"]["cache_misses"] for r in runs]),
        "entries": med([r["cache_entries"] for r in runs]),
    }


def render(record: dict) -> str:
    """The report of a saved run, from its JSON alone."""
    m = record["machine"]
    f = _report.fixed
    rows, speedups = [], {}
    for name, runs in record["runs"].items():
        s = summarise(runs)
        speedups[name] = s["total_cold"] / s["total_warm"] if s["total_warm"] else None
        rows.append(
            [
                name,
                f(s["compile"]),
                f(s["run"], 3),
                f(s["total_cold"]),
                f"**{f(s['total_warm'])}**",
                _report.ratio(speedups[name]),
                f"{f(s['process_cold'], 1)} / {f(s['process_warm'], 1)}",
                f"{s['hits']:.0f} / {s['misses']:.0f} ({s['entries']:.0f})",
            ]
        )
    got = [v for v in speedups.values() if v is not None]
    best = max(speedups, key=lambda k: speedups[k] or 0) if got else None
    worst = min(speedups, key=lambda k: speedups[k] or float("inf")) if got else None
    lines = [
        "# Three times per trainer and fitter: compile (cold cache), run, total (warm cache)",
        "",
        f"Written by `benchmarks/three_times.py`; command: `{record['command'].strip()}`.",
        "",
        f"Machine: {m['platform']}, {m['cpu']}, {m['cores']} cores (load average "
        f"{m['load_before']:.1f} before, {m['load_after']:.1f} after the "
        f"{m['minutes']:.0f}-minute run), Python {m['python']}, JAX {m['jax']} on "
        f"{m['jax_backend']}, float32.",
        "",
    ]
    if max(m["load_before"], m["load_after"]) > m["cores"] / 3:
        lines += [
            f"**Preliminary: other jobs shared the {m['cores']} cores during this run (load "
            f"average {m['load_before']:.1f} before, {m['load_after']:.1f} after); the times "
            "are noisy. Re-run on a quiet machine for the figures to quote.**",
            "",
        ]
    lines += [
        record["sources"],
        "",
        "**What is measured.** Each program in fresh processes with JAX's persistent "
        "compilation cache on (`irlax.compilation_cache.enable(folder)`). *Cold*: on an empty "
        "folder, the program is called twice as a user calls it (`jax.jit(train)(key[, "
        "expert])` for a trainer, `fit(...)` for a fitter); *run s* = the second call, "
        "*compile s* = the first call less the second, *total s, cold* = the first call. "
        "*Warm*: a fresh process on the folder the cold one filled; *total s, warm* = its first "
        "call (tracing and lowering run, XLA's programs are loaded). Building the env, demos "
        "and data is not timed; *process s* is each process from launch to exit (Python, "
        "imports, JAX start-up and that setup included). *Cache hits / misses* are the warm "
        "first call's (JAX's monitoring events), *programs cached* the entries the cold "
        "process wrote. "
        + (
            f"Medians of {record['repeats']} repetitions, cold and warm interleaved."
            if record["repeats"] > 1
            else "One repetition (no median)."
        ),
        "",
        *_report.table(
            [
                "program",
                "compile s",
                "run s",
                "total s, cold",
                "total s, warm cache",
                "cold ÷ warm",
                "process s, cold / warm",
                "cache hits / misses (programs cached)",
            ],
            rows,
        ),
        "",
    ]
    if got:
        lines += [
            f"A warm cache shortens the first call by {_report.ratio(speedups[worst])} "
            f"({worst}) to {_report.ratio(speedups[best])} ({best}).",
            "",
        ]
    lines += ["Configurations:", ""]
    lines += [f"- **{name}**: {text}." for name, text in record["programs"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
