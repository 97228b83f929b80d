"""Forward RL: irlax's PPO and SAC beside Stable-Baselines3 and SBX, timed to a return target.

PPO on CartPole-v1 to a return of 475 and SAC on Pendulum-v1 to −200, one seed and 8 seeds
(irlax: one `jax.vmap`-ed call over 8 keys; SB3: 8 runs one after the other), every timing the
median of 3 repetitions. Both libraries get the same hyper-parameters, those of
rl-baselines3-zoo (`hyperparams/ppo.yml` CartPole-v1, `hyperparams/sac.yml` Pendulum-v1, SB3's
defaults for the rest), mapped field by field onto irlax's configs (`HYPERPARAMETERS` below; the
report prints the mapping and what does not correspond).

"Reaching X", identical for both: after every update (PPO: a rollout of `n_envs * n_steps` env
steps and its epochs; SAC: one step of every env and its gradient step), R = the mean over the
parallel envs of the mean return of the last K episodes each env has finished, an env counting
once it has finished K (K = 1 for PPO's 8 envs: irlax's `metrics["episode_return"]`; K = 10
for SAC's single env: the mean of its last 10 episodes). The target is
reached at the first update with R ≥ X; "env steps to target" are the env steps taken by then.

irlax: a search run (the trainer for the full step budget, recording every update's episode
statistics) finds the crossing update u of each seed. The timed
run is `train_from(trainer._replace(n_updates=u))`: training with the full budget's schedules
(PPO anneals its learning rate over the budget, as SB3's `learn(total_timesteps)` does) stopped
after exactly u updates (u = the slowest seed's for 8 seeds). It is compiled with
`jax.jit(train).lower(keys).compile()` (tracing + lowering + XLA: "compile s") and the compiled
call is timed to `block_until_ready` ("run s"); each repetition in a fresh process. The timed
run's per-update returns are compared with the search run's (they must be the same trajectory).

irlax's three times, per repetition and run (1 seed, 8 seeds), each in a fresh process with
`irlax.compilation_cache.enable(folder)` before anything compiles: *cold*, on an empty folder
("setup s" = env, trainer and keys; "compile s" = `lower().compile()`, which also writes the
programs to the cache; "run s" = the compiled call), then *warm*, on the folder the cold
process filled ("setup s" and "compile s" again: tracing and lowering still run, XLA's
compilation is loaded from the cache; then "run s"); "total" = setup + compile + run of each.
The parent also times each process from launch to exit (Python, imports and JAX start-up
included) and the warm process counts its cache hits and misses.

SB3 (`peers/sb3_rl.py`, in its own virtualenv, torch on CPU): `learn(total_timesteps=budget)`
with a callback that computes R the same way and stops right after the crossing update's
training; "setup s" = vector env + model construction, "run s" = `learn`. One process per
repetition runs seeds 0..7 in turn; SB3's one-seed figures are seed 0's (the first run of each
process), its 8-seed time the sum over the 8 runs.

SBX (Stable-Baselines-Jax, `peers/sbx_rl.py`, in its own virtualenv, CPU jax of irlax's
version): the same SB3 arguments, callback and processes as SB3. SBX compiles lazily inside
`learn` and its model construction; JAX's monitoring events give the seconds spent tracing,
lowering and compiling ("compile s", SBX's warm-up), so its setup s and run s are those of SB3
less that compilation, and its total is setup + learn as measured. SBX keeps no persistent
cache by default: every run is cold.

    .venv/bin/python benchmarks/rl.py --peer-python .venv-sb3/bin/python \
        --sbx-python .venv-sbx/bin/python [--quick]

writes benchmarks/results/rl.md and rl.json (`--quick`: a smoke test of the pipeline, with low
targets, 2 seeds and 1 repetition, written to the git-ignored benchmarks/.cache/rl_quick.md).
The measurements go to the JSON and the report is rendered from it: `--render-only
[benchmarks/results/rl_sac.json]` re-renders a report without running.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

import _report
import numpy as np
from _report import cpu_name, source_state, sources_line

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# --------------------------------------------------------------------------- the settings

# One table per algorithm: (what, SB3 argument = value, irlax field = value). The irlax and
# SB3 settings below are built from these same numbers.
PPO_ZOO = {  # rl-baselines3-zoo hyperparams/ppo.yml, CartPole-v1
    "n_envs": 8,
    "n_steps": 32,
    "batch_size": 256,
    "n_epochs": 20,
    "learning_rate": 1e-3,  # lin_0.001: decays linearly to 0 over the budget
    "gamma": 0.98,
    "gae_lambda": 0.8,
    "clip_range": 0.2,  # zoo: lin_0.2; constant here (irlax has no clip schedule)
    "ent_coef": 0.0,
    "vf_coef": 0.5,  # SB3 default; SB3's value loss is MSE, irlax's ½·MSE: value_coef = 1.0
    "max_grad_norm": 0.5,  # SB3 default
    "net_arch": [64, 64],  # SB3 MlpPolicy default: separate pi and vf MLPs, tanh
}
SAC_ZOO = {  # rl-baselines3-zoo hyperparams/sac.yml, Pendulum-v1 (lr 1e-3), SB3 defaults else
    "n_envs": 1,
    "learning_rate": 1e-3,
    "buffer_size": 1_000_000,
    "learning_starts": 100,
    "batch_size": 256,
    "tau": 0.005,
    "gamma": 0.99,
    "train_freq": 1,
    "gradient_steps": 1,
    "ent_coef_init": 1.0,  # ent_coef="auto": learned, starting at 1
    "net_arch": [256, 256],  # relu
}

# XLA's CPU runtime (jaxlib 0.10.2) can deadlock on a program that runs two independent
# batched QR decompositions whose R factor is used, e.g. the orthogonal initialisers of SAC's
# actor and twin critics vmapped over 5 or more seeds. irlax turns the scheduler that exposes
# it off when imported (irlax.XLA_WORKAROUND); the workers also pass it explicitly.
XLA_WORKAROUND = "--xla_cpu_enable_concurrency_optimized_scheduler=false"

ALGOS = {
    "ppo": {
        "name": "PPO",
        "env": "CartPole-v1",
        "target": 475.0,
        "window": 1,
        "budget": 100_000,
    },
    "sac": {
        "name": "SAC",
        "env": "Pendulum-v1",
        "target": -200.0,
        "window": 10,
        "budget": 20_000,
    },
}
QUICK_TARGETS = {"ppo": 150.0, "sac": -1000.0}
QUICK_BUDGETS = {"sac": 3_000}  # SAC's learning rate is constant: the budget only caps it


def irlax_config(algo: str, budget: int):
    """The irlax config of `algo`: the zoo's numbers in irlax's fields, every field given."""
    if algo == "ppo":
        from irlax.rl.ppo import PPOConfig

        z = PPO_ZOO
        return PPOConfig(
            total_steps=budget,
            num_envs=z["n_envs"],
            rollout_length=z["n_steps"],
            update_epochs=z["n_epochs"],
            num_minibatches=z["n_envs"] * z["n_steps"] // z["batch_size"],
            learning_rate=z["learning_rate"],
            anneal_lr=True,
            discount=z["gamma"],
            gae_lambda=z["gae_lambda"],
            clip_eps=z["clip_range"],
            entropy_coef=z["ent_coef"],
            value_coef=2 * z["vf_coef"],
            max_grad_norm=z["max_grad_norm"],
            hidden=tuple(z["net_arch"]),
            activation="tanh",
            normalize_advantages=True,
            normalize_observations=False,
            clip_value_loss=False,
        )
    from irlax.rl.sac import SACConfig

    z = SAC_ZOO
    return SACConfig(
        total_steps=budget,
        num_envs=z["n_envs"],
        buffer_size=z["buffer_size"],
        batch_size=z["batch_size"],
        learning_starts=z["learning_starts"],
        updates_per_step=z["gradient_steps"],
        learning_rate=z["learning_rate"],
        discount=z["gamma"],
        tau=z["tau"],
        temperature=z["ent_coef_init"],
        learn_temperature=True,
        target_entropy=None,  # −dim(A), as SB3's "auto"
        hidden=tuple(z["net_arch"]),
    )


def sb3_kwargs(algo: str) -> dict:
    """SB3 constructor arguments from the same numbers (`peers/sb3_rl.py` reads them)."""
    if algo == "ppo":
        z = PPO_ZOO
        return {
            "n_steps": z["n_steps"],
            "batch_size": z["batch_size"],
            "n_epochs": z["n_epochs"],
            "learning_rate": z["learning_rate"],
            "learning_rate_schedule": "linear",
            "gamma": z["gamma"],
            "gae_lambda": z["gae_lambda"],
            "clip_range": z["clip_range"],
            "clip_range_vf": None,
            "normalize_advantage": True,
            "ent_coef": z["ent_coef"],
            "vf_coef": z["vf_coef"],
            "max_grad_norm": z["max_grad_norm"],
            "policy_kwargs": {
                "net_arch": {"pi": z["net_arch"], "vf": z["net_arch"]},
                "activation": "tanh",
                "ortho_init": True,
            },
        }
    z = SAC_ZOO
    return {
        "learning_rate": z["learning_rate"],
        "learning_rate_schedule": "constant",
        "buffer_size": z["buffer_size"],
        "learning_starts": z["learning_starts"],
        "batch_size": z["batch_size"],
        "tau": z["tau"],
        "gamma": z["gamma"],
        "train_freq": z["train_freq"],
        "gradient_steps": z["gradient_steps"],
        "ent_coef": "auto",
        "target_entropy": "auto",
        "policy_kwargs": {"net_arch": z["net_arch"], "activation": "relu"},
    }


MAPPING = {
    "ppo": [
        ("parallel envs", "n_envs=8 (DummyVecEnv)", "num_envs=8 (vmapped)"),
        ("steps per env per update", "n_steps=32", "rollout_length=32"),
        ("minibatch", "batch_size=256", "num_minibatches=1 (256 / 256)"),
        ("epochs", "n_epochs=20", "update_epochs=20"),
        (
            "learning rate",
            "lr·progress_remaining, lr=1e-3",
            "learning_rate=1e-3, anneal_lr=True",
        ),
        ("discount", "gamma=0.98", "discount=0.98"),
        ("GAE λ", "gae_lambda=0.8", "gae_lambda=0.8"),
        ("policy clip", "clip_range=0.2 (zoo: lin_0.2)", "clip_eps=0.2"),
        ("value clip", "clip_range_vf=None", "clip_value_loss=False"),
        ("entropy", "ent_coef=0.0", "entropy_coef=0.0"),
        ("value loss weight", "vf_coef=0.5 × MSE", "value_coef=1.0 × ½·MSE"),
        ("gradient clip", "max_grad_norm=0.5", "max_grad_norm=0.5"),
        ("Adam", "eps=1e-5 (SB3's PPO default)", "eps=1e-5"),
        (
            "networks",
            "pi [64, 64] / vf [64, 64], tanh, orthogonal init (gains √2, 0.01, 1)",
            "hidden=(64, 64), activation='tanh', same init",
        ),
        ("advantages", "normalize_advantage=True", "normalize_advantages=True"),
        ("observations", "not normalised", "normalize_observations=False"),
        ("step budget", "learn(total_timesteps=100_000)", "total_steps=100_000"),
    ],
    "sac": [
        ("parallel envs", "1", "num_envs=1"),
        ("learning rate", "learning_rate=1e-3 (zoo)", "learning_rate=1e-3"),
        ("replay buffer", "buffer_size=1_000_000", "buffer_size=1_000_000"),
        ("random steps first", "learning_starts=100", "learning_starts=100"),
        ("batch", "batch_size=256", "batch_size=256"),
        ("Polyak rate", "tau=0.005", "tau=0.005"),
        ("discount", "gamma=0.99", "discount=0.99"),
        (
            "gradient steps per env step",
            "train_freq=1, gradient_steps=1",
            "updates_per_step=1",
        ),
        (
            "temperature",
            "ent_coef='auto' (starts at 1), target_entropy='auto' (−1)",
            "temperature=1.0, learn_temperature=True, target_entropy=None (−1)",
        ),
        ("networks", "net_arch=[256, 256], ReLU, 2 critics", "hidden=(256, 256), ReLU, twin Q"),
        ("step budget", "learn(total_timesteps=20_000)", "total_steps=20_000"),
    ],
}

DIFFERENCES = {
    "ppo": [
        "The zoo anneals PPO's clip range (lin_0.2); irlax has no clip schedule, so both use a "
        "constant 0.2.",
        "Learning-rate decay: SB3 sets lr·(1 − steps/budget) once per update; irlax decays it "
        "linearly per gradient step over the budget (the same line, sampled more finely).",
        "SB3 normalises advantages with torch's unbiased std, irlax with the population std "
        "(a factor √(256/255) on 256 samples).",
    ],
    "sac": [
        "Log-std bounds of the Gaussian: SB3 clamps to [−20, 2]; irlax squashes smoothly "
        "into [−5, 2] with a tanh.",
        "Temperature loss: SB3 minimises −log α·(log π + H̄) (gradient in log α: H − H̄); "
        "irlax minimises α·(H − H̄) (gradient α·(H − H̄)), Haarnoja et al. 2018 eq. 18.",
        "Order in a gradient step: SB3 updates α, then the critics, then the actor; irlax the "
        "critics, the actor, then α.",
        "Gradient steps start when the buffer holds more than 100 transitions in SB3, at 100 "
        "in irlax (one gradient step apart).",
    ],
}


SBX_DIFFERENCES = {
    "ppo": [
        "SBX's `ortho_init` initialises only the policy head orthogonally (gain 0.01); its "
        "hidden layers and value head keep flax's default (LeCun normal) initialisers.",
        "SBX steps the actor and the critic with two Adam optimisers, each with its own "
        "gradient-norm clip at 0.5 (SB3 and irlax: one clip over both).",
    ],
    "sac": [
        "SBX's networks keep flax's default initialisers (SB3: torch's); its actor clamps "
        "the log-std to [−20, 2] as SB3's does, and its temperature loss is SB3's.",
    ],
}


# --------------------------------------------------------------------------- the target


class Tracker:
    """R after every update: the mean over envs of the mean of each env's last K returns."""

    def __init__(self, n_envs: int, window: int, target: float):
        self.returns = [deque(maxlen=window) for _ in range(n_envs)]
        self.window, self.target = window, target
        self.finished = np.zeros(n_envs, np.int64)
        self.crossed: int | None = None  # index of the crossing update
        self.ambiguous = 0  # updates where an env finished >1 episode and K > 1
        self.values: list[float] = []

    def add(self, last_return: np.ndarray, finished: np.ndarray) -> None:
        """One update's end: each env's last finished return and its finished count."""
        new = finished - self.finished
        if self.window > 1 and (new > 1).any():
            self.ambiguous += 1  # only the last of those episodes is seen
        for i in np.flatnonzero(new > 0):
            self.returns[i].append(float(last_return[i]))
        self.finished = finished.copy()
        seen = [np.mean(d) for d in self.returns if len(d) == self.window]
        r = float(np.mean(seen)) if seen else float("nan")
        if self.crossed is None and r >= self.target:
            self.crossed = len(self.values)
        self.values.append(r)


# --------------------------------------------------------------------------- irlax workers


def _setup(spec: dict):
    import jax
    import jax.numpy as jnp

    from irlax.envs import make

    if spec["algo"] == "ppo":
        from irlax.rl.ppo import make_trainer
    else:
        from irlax.rl.sac import make_trainer
    env, env_params = make(ALGOS[spec["algo"]]["env"])
    config = irlax_config(spec["algo"], spec["budget"])
    trainer = make_trainer(config, env, env_params)
    seeds = spec["seeds"]
    keys = (
        jax.random.key(seeds[0]) if spec["single"] else jax.vmap(jax.random.key)(jnp.asarray(seeds))
    )
    return jax, trainer, keys, config


def search_worker(spec: dict) -> dict:
    """The full-budget trainer, recording every update's episode statistics: where each seed
    reaches the target.

    One jitted program (init, then `lax.scan` over `spec["length"]` updates, all of the budget's
    by default), the form of the timed run: in that form the first u updates do not depend on
    the scan's length, so the timed run of u updates repeats this trajectory exactly (checked).
    Cutting the search into chunks, with the state passing between separately jitted calls,
    changes the floating-point rounding of the vmapped program (XLA fuses it differently), and
    with it the trajectory.
    """
    jax, trainer, keys, config = _setup(spec)
    length = min(spec.get("length") or trainer.n_updates, trainer.n_updates)

    def search(key):
        def body(s, _):
            s, m, _ = trainer.update(s, None)
            return s, (s.stats.last_return, s.stats.finished, m["env_steps"], m["episode_return"])

        return jax.lax.scan(body, trainer.init(key), None, length)[1]

    fn = jax.jit(search if spec["single"] else jax.vmap(search))
    start = time.perf_counter()
    outs = jax.block_until_ready(fn(keys))
    seconds = time.perf_counter() - start
    last, finished, steps, metric = (np.asarray(x) for x in outs)
    if spec["single"]:
        last, finished, steps, metric = (x[None] for x in (last, finished, steps, metric))
    out = {"seeds": [], "updates_searched": length, "seconds": seconds}
    out["budget_updates"] = trainer.n_updates
    for s, seed in enumerate(spec["seeds"]):
        tracker = Tracker(config.num_envs, spec["window"], spec["target"])
        for t in range(length):
            tracker.add(last[s, t], finished[s, t])
        values = np.asarray(tracker.values)
        if spec["window"] == 1:  # R is then irlax's own metric: a check of the tracker
            if not np.allclose(values, metric[s], equal_nan=True, atol=1e-3):
                raise RuntimeError("the tracker disagrees with metrics['episode_return']")
        u = tracker.crossed
        out["seeds"].append(
            {
                "seed": seed,
                "reached": u is not None,
                "updates": (u + 1) if u is not None else trainer.n_updates,
                "steps": int(steps[s, u]) if u is not None else None,
                "ambiguous_updates": tracker.ambiguous,
                "curve": [
                    (int(steps[s, i]), float(values[i]))
                    for i in range(0, len(values), max(1, len(values) // 200))
                ],
            }
        )
    np.save(spec["trace"], metric)
    return out


def time_worker(spec: dict) -> dict:
    """Compile and time `train` for exactly `spec["updates"]` updates, in this fresh process.

    With `spec["cache"]` (a folder), JAX's persistent compilation cache is on there from the
    start (`irlax.compilation_cache.enable`): an empty folder gives the cold-cache times, one a
    previous process filled the warm-cache times. The cache's hits and misses are counted.
    """
    counts = {"/jax/compilation_cache/cache_hits": 0, "/jax/compilation_cache/cache_misses": 0}
    if spec.get("cache"):
        from jax import monitoring

        import irlax.compilation_cache

        if irlax.compilation_cache.enable(spec["cache"]) is None:
            raise RuntimeError(f"the compilation cache could not be enabled in {spec['cache']}")

        def count(event: str, **_) -> None:
            if event in counts:
                counts[event] += 1

        monitoring.register_event_listener(count)
    # Imported before the clock starts (imports are not timed, as for the peers).
    import jax.numpy

    import irlax.envs
    import irlax.rl.ppo
    import irlax.rl.sac
    from irlax.rl._common import train_from

    start = time.perf_counter()
    jax, trainer, keys, _ = _setup(spec)
    train = train_from(trainer._replace(n_updates=spec["updates"]))
    jax.block_until_ready(keys)
    setup_seconds = time.perf_counter() - start
    fn = jax.jit(train if spec["single"] else jax.vmap(train))
    start = time.perf_counter()
    compiled = fn.lower(keys).compile()
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    result = jax.block_until_ready(compiled(keys))
    run_seconds = time.perf_counter() - start
    metric = np.asarray(result.metrics["episode_return"])
    np.save(spec["trace"], metric if not spec["single"] else metric[None])
    out = {
        "setup_seconds": setup_seconds,
        "compile_seconds": compile_seconds,
        "run_seconds": run_seconds,
        "backend": jax.default_backend(),
        "jax": jax.__version__,
    }
    if spec.get("cache"):
        out["cache_hits"] = counts["/jax/compilation_cache/cache_hits"]
        out["cache_misses"] = counts["/jax/compilation_cache/cache_misses"]
    return out


def run_worker(spec: dict, xla_flags: str) -> dict:
    """One irlax measurement in a fresh process, with `xla_flags` added to XLA_FLAGS."""
    env = dict(os.environ)
    env["XLA_FLAGS"] = " ".join(x for x in (env.get("XLA_FLAGS", ""), xla_flags) if x)
    env.pop("JAX_COMPILATION_CACHE_DIR", None)  # the cache is the spec's to choose
    cmd = [sys.executable, __file__, "--worker", json.dumps(spec)]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    process_seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"irlax worker failed ({spec['mode']}):\n{done.stderr[-4000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["process_seconds"] = process_seconds  # launch to exit, as the parent saw it
    return out


PEERS = {"sb3": ("SB3", "sb3_rl.py"), "sbx": ("SBX", "sbx_rl.py")}


def run_peer(args, peer: str, algo: str, seeds, target: float, budget: int, tmp: str, rep: int):
    """One peer process (SB3 or SBX) training `seeds` in turn; its JSON."""
    a = ALGOS[algo]
    spec = {
        "algo": algo,
        "env": a["env"],
        "n_envs": PPO_ZOO["n_envs"] if algo == "ppo" else SAC_ZOO["n_envs"],
        "seeds": seeds,
        "budget": budget,
        "target": target,
        "window": a["window"],
        "threads": args.threads,
        "kwargs": sb3_kwargs(algo),
    }
    spec_file = f"{tmp}/{peer}_{algo}_{rep}.spec.json"
    out_file = f"{tmp}/{peer}_{algo}_{rep}.json"
    Path(spec_file).write_text(json.dumps(spec))
    python = args.peer_python if peer == "sb3" else args.sbx_python
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_COMPILATION_CACHE_DIR",)}
    cmd = [python, str(HERE / "peers" / PEERS[peer][1]), spec_file, out_file]
    subprocess.run(cmd, check=True, env=env)
    return json.loads(Path(out_file).read_text())


# --------------------------------------------------------------------------- driver


def bench_algo(args, algo: str, tmp: str) -> dict:
    a = ALGOS[algo]
    target = QUICK_TARGETS[algo] if args.quick else a["target"]
    seeds = list(range(args.seeds))
    budget = QUICK_BUDGETS.get(algo, a["budget"]) if args.quick else a["budget"]
    base = {"algo": algo, "budget": budget, "target": target, "window": a["window"]}

    # With one seed there is no vmapped run: its rows are the one-seed run's, and left out.
    runs = [("1", True, seeds[:1])] + ([("n", False, seeds)] if len(seeds) > 1 else [])
    print(f"[{algo}] irlax search runs (steps to target) ...", flush=True)
    search = {}
    for label, single, ss in runs:
        trace = f"{tmp}/{algo}_search_{label}.npy"
        spec = {**base, "mode": "search", "single": single, "seeds": ss, "trace": trace}
        if not single and search["1"]["seeds"][0]["reached"]:
            # Try twice seed 0's updates first; the whole budget only if a seed needs more.
            spec["length"] = 2 * search["1"]["seeds"][0]["updates"]
        search[label] = run_worker(spec, args.xla_flags)
        found = search[label]
        if found["updates_searched"] < found["budget_updates"]:
            if not all(x["reached"] for x in found["seeds"]):
                print(f"  not every seed within {found['updates_searched']} updates", flush=True)
                spec["length"] = None
                seconds = found["seconds"]
                search[label] = found = run_worker(spec, args.xla_flags)
                found["seconds"] += seconds
        search[label]["trace"] = trace
        print(
            f"  {len(ss)} seed(s): steps {[s['steps'] for s in search[label]['seeds']]} "
            f"({search[label]['seconds']:.1f} s)",
            flush=True,
        )
    search.setdefault("n", search["1"])
    updates = {
        "1": search["1"]["seeds"][0]["updates"],
        "n": max(s["updates"] for s in search["n"]["seeds"]),
    }

    timings = {"1": [], "n": []}
    warm = {"1": [], "n": []}
    peer_runs = {peer: [] for peer in peers_of(args)}
    reproduces = {"1": [], "n": []}
    for rep in range(args.repeats):
        for label, single, ss in runs:
            cache = f"{tmp}/cache_{algo}_{label}_{rep}"  # empty: the cold process fills it
            for kind, into in (("cold", timings), ("warm", warm)):
                trace = f"{tmp}/{algo}_time_{label}_{rep}_{kind}.npy"
                spec = {**base, "mode": "time", "single": single, "seeds": ss, "trace": trace}
                spec["updates"], spec["cache"] = updates[label], cache
                t = run_worker(spec, args.xla_flags)
                into[label].append(t)
                timed = np.load(trace)
                searched = np.load(search[label]["trace"])[:, : updates[label]]
                diff = np.nanmax(np.abs(timed - searched)) if np.isfinite(timed).any() else 0.0
                same_nan = np.array_equal(np.isnan(timed), np.isnan(searched))
                reproduces[label].append(float(diff) if same_nan else float("inf"))
                hits = f", {t['cache_hits']} cache hits" if kind == "warm" else ""
                print(
                    f"  rep {rep}: irlax {len(ss)} seed(s), {updates[label]} updates, {kind} "
                    f"cache: setup {t['setup_seconds']:.2f} s, compile "
                    f"{t['compile_seconds']:.2f} s, run {t['run_seconds']:.2f} s, process "
                    f"{t['process_seconds']:.1f} s{hits} "
                    f"(max |Δ return| vs search {reproduces[label][-1]:.2g})",
                    flush=True,
                )
        if len(seeds) == 1:
            timings["n"], warm["n"], reproduces["n"] = timings["1"], warm["1"], reproduces["1"]
        for peer in peer_runs:
            print(f"  rep {rep}: {PEERS[peer][0]} {len(seeds)} seed(s) in turn ...", flush=True)
            peer_runs[peer].append(run_peer(args, peer, algo, seeds, target, budget, tmp, rep))
    return {
        "target": target,
        "window": a["window"],
        "budget": budget,
        "env": a["env"],
        "search": search,
        "updates": updates,
        "irlax": timings,
        "irlax_warm": warm,
        "reproduces": reproduces,
        **peer_runs,
        "irlax_config": {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in dataclasses.asdict(irlax_config(algo, budget)).items()
        },
        "sb3_kwargs": sb3_kwargs(algo),
    }


def peers_of(args) -> list[str]:
    """The peers this run measures: SB3, and SBX unless `--sbx-python ''`."""
    return ["sb3"] + (["sbx"] if getattr(args, "sbx_python", "") else [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer-python", default=".venv-sb3/bin/python", help="SB3's python")
    parser.add_argument(
        "--sbx-python",
        default=".venv-sbx/bin/python",
        help="SBX's python ('' leaves SBX out)",
    )
    parser.add_argument("--algos", nargs="*", default=["ppo", "sac"], choices=list(ALGOS))
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count(), help="torch.set_num_threads for SB3"
    )
    parser.add_argument(
        "--xla-flags",
        default=XLA_WORKAROUND,
        help="added to XLA_FLAGS in irlax's workers (irlax adds XLA_WORKAROUND itself unless the "
        "flag is set: pass --xla_cpu_enable_concurrency_optimized_scheduler=true for XLA's own)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: low targets, 2 seeds")
    parser.add_argument("--out", default=None, help="report path (default results/rl.md)")
    parser.add_argument(
        "--render-only",
        metavar="JSON",
        nargs="?",
        const=str(HERE / "results" / "rl.json"),
        help="re-render the report from a saved JSON (default results/rl.json), without running",
    )
    parser.add_argument("--report-only", metavar="JSON", help=argparse.SUPPRESS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        spec = json.loads(args.worker)
        worker = search_worker if spec["mode"] == "search" else time_worker
        print(json.dumps(worker(spec)))
        return
    if args.report_only or args.render_only:  # --report-only: the older spelling
        json_path = Path(args.render_only or args.report_only)
        _report.render_file(render, json_path, args.out)
        print(f"wrote {args.out or json_path.with_suffix('.md')}")
        return
    if args.quick:
        args.seeds = min(args.seeds, 2)
        args.repeats = 1
    if args.out is None:
        # A smoke run's report goes to the git-ignored cache, never over the real one.
        args.out = str(HERE / (".cache/rl_quick.md" if args.quick else "results/rl.md"))
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)

    load_before, source_before = os.getloadavg(), source_state()
    start = time.perf_counter()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for algo in args.algos:
            results[algo] = bench_algo(args, algo, tmp)
            for label in ("1", "n"):
                results[algo]["search"][label].pop("trace", None)
    elapsed = time.perf_counter() - start
    machine = describe_machine(load_before, os.getloadavg(), elapsed, args)
    sources = (source_before, source_state())
    record = {"benchmark": "rl", "machine": machine, "sources": sources_line(sources)}
    record["args"] = vars(args)
    record["command"] = "python benchmarks/rl.py " + " ".join(sys.argv[1:])
    record["results"] = results
    # Derived, kept for readers of the JSON; the report recomputes it from `results`.
    record["summary"] = {algo: summarise(results[algo]) for algo in results}
    print(_report.save(record, render, Path(args.out).with_suffix(".json"), args.out))


def describe_machine(load_before, load_after, elapsed, args) -> dict:
    import jax

    versions = {}
    try:
        out = subprocess.run(
            [
                args.peer_python,
                "-c",
                "import stable_baselines3, torch, gymnasium; print(stable_baselines3.__version__,"
                " torch.__version__, gymnasium.__version__)",
            ],
            capture_output=True,
            text=True,
        ).stdout.split()
        versions = dict(zip(("stable_baselines3", "torch", "gymnasium"), out, strict=False))
    except OSError:
        pass
    if "sbx" in peers_of(args):
        try:
            out = subprocess.run(
                [
                    args.sbx_python,
                    "-c",
                    "import sbx, jax, flax, stable_baselines3; print(sbx.__version__, "
                    "jax.__version__, flax.__version__, stable_baselines3.__version__)",
                ],
                capture_output=True,
                text=True,
            ).stdout.split()
            names = ("sbx", "sbx_jax", "sbx_flax", "sbx_stable_baselines3")
            versions.update(zip(names, out, strict=False))
        except OSError:
            pass
    return {
        "platform": platform.machine(),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "load_before": load_before[0],
        "load_after": load_after[0],
        "minutes": elapsed / 60,
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jax_backend": jax.default_backend(),
        "torch_threads": args.threads,
        "xla_flags": args.xla_flags,
        **versions,
    }


# --------------------------------------------------------------------------- summary, report


def _irlax_times(runs: list[dict], updates: int) -> dict:
    """Medians over repetitions of one irlax run's times (setup where it was measured)."""
    med = _report.median
    measured_setup = all("setup_seconds" in x for x in runs)
    return {
        "updates": updates,
        "setup_seconds": med([x["setup_seconds"] for x in runs]) if measured_setup else None,
        "compile_seconds": med([x["compile_seconds"] for x in runs]),
        "run_seconds": med([x["run_seconds"] for x in runs]),
        "total_seconds": med(
            [x.get("setup_seconds", 0.0) + x["compile_seconds"] + x["run_seconds"] for x in runs]
        ),
        "process_seconds": med([x.get("process_seconds") for x in runs]),
        "cache_hits": med([x.get("cache_hits") for x in runs]),
        "cache_misses": med([x.get("cache_misses") for x in runs]),
    }


def _peer_parts(x: dict) -> dict:
    """One peer run's setup, compile (SBX's JIT; None for SB3), run and total seconds."""
    jit_setup, jit_learn = x.get("setup_jit_seconds"), x.get("learn_jit_seconds")
    jitted = jit_setup is not None
    return {
        "setup": x["setup_seconds"] - (jit_setup if jitted else 0.0),
        "compile": jit_setup + jit_learn if jitted else None,
        "run": x["learn_seconds"] - (jit_learn if jitted else 0.0),
        "total": x["setup_seconds"] + x["learn_seconds"],
    }


def _peer_times(reps: list[dict]) -> dict:
    """A peer's medians over repetitions: seed 0 (the first run of each process) and the sum
    over all seeds."""
    med = _report.median
    first = [_peer_parts(rep["runs"][0]) for rep in reps]
    every = [[_peer_parts(x) for x in rep["runs"]] for rep in reps]

    def summed(part):
        if any(p[part] is None for rep in every for p in rep):
            return None
        return med([sum(p[part] for p in rep) for rep in every])

    return {
        "1": {
            "steps": reps[0]["runs"][0]["steps"],
            "steps_all_reps": [rep["runs"][0]["steps"] for rep in reps],
            **{f"{k}_seconds": med([p[k] for p in first]) for k in first[0]},
        },
        "n": {
            "steps": [x["steps"] for x in reps[0]["runs"]],
            **{f"{k}_seconds": summed(k) for k in first[0]},
        },
        "steps_run_1": med([rep["runs"][0]["steps_run"] for rep in reps]),
    }


def summarise(r: dict) -> dict:
    """Medians over repetitions, ratios and the targets of the issues."""
    irlax = {label: _irlax_times(r["irlax"][label], r["updates"][label]) for label in ("1", "n")}
    warm = (
        {label: _irlax_times(r["irlax_warm"][label], r["updates"][label]) for label in ("1", "n")}
        if r.get("irlax_warm")
        else None
    )
    peers = {peer: _peer_times(r[peer]) for peer in PEERS if r.get(peer)}

    def ratio(a, b):
        return a / b if a and b else None

    ratios = {
        peer: {
            label: {
                "run": ratio(p[label]["run_seconds"], irlax[label]["run_seconds"]),
                "total": ratio(p[label]["total_seconds"], irlax[label]["total_seconds"]),
                "total_warm": ratio(p[label]["total_seconds"], warm[label]["total_seconds"])
                if warm
                else None,
            }
            for label in ("1", "n")
        }
        for peer, p in peers.items()
    }
    ms = {"irlax": 1e6 * irlax["1"]["run_seconds"] / (irlax["1"]["updates"] * _batch(r))}
    for peer, p in peers.items():
        ms[peer] = 1e6 * p["1"]["run_seconds"] / p["steps_run_1"] if p["steps_run_1"] else None
    return {
        "irlax": irlax,
        "irlax_warm": warm,
        "peers": peers,
        "ratios": ratios,
        "irlax_steps": {
            "1": r["search"]["1"]["seeds"][0]["steps"],
            "n": [s["steps"] for s in r["search"]["n"]["seeds"]],
        },
        "irlax_n_over_1_run": ratio(irlax["n"]["run_seconds"], irlax["1"]["run_seconds"]),
        "irlax_n_over_1_total": ratio(irlax["n"]["total_seconds"], irlax["1"]["total_seconds"]),
        # Per update: the cost of vmapping over seeds, free of how fast each seed learned.
        "irlax_n_over_1_per_update": ratio(
            irlax["n"]["run_seconds"] / irlax["n"]["updates"],
            irlax["1"]["run_seconds"] / irlax["1"]["updates"],
        ),
        # Per env step, one seed (the peers' learn includes one env step past their target).
        "ms_per_1k_steps": ms,
        "reproduces": max(max(v) for v in r["reproduces"].values()),
    }


def _batch(r: dict) -> int:
    c = r["irlax_config"]
    return c["num_envs"] * c.get("rollout_length", 1)


_f = _report.fixed
_x = _report.ratio


def _steps(xs) -> str:
    if not isinstance(xs, list):
        return "not reached" if xs is None else f"{xs:,}"
    got = sorted(x for x in xs if x is not None)
    missed = len(xs) - len(got)
    if not got:
        return f"none of {len(xs)} reached"
    text = f"median {statistics.median(got):,.0f} ({got[0]:,}–{got[-1]:,})"
    return text + (f", {missed} not reached" if missed else "")


def _measured_peers(record: dict) -> list[str]:
    """The peers every algorithm of the record ran beside irlax (SB3; SBX in newer runs)."""
    return [p for p in PEERS if all(r.get(p) for r in record["results"].values())]


def render(record: dict) -> str:
    """The report of a saved run (`record` as `main` writes it); figures from `results` alone."""
    args = argparse.Namespace(**record["args"])
    summary = {algo: summarise(r) for algo, r in record["results"].items()}
    peers = _measured_peers(record)
    warm = all(s["irlax_warm"] for s in summary.values())
    m = record["machine"]
    command = record.get("command", "python benchmarks/rl.py")
    names = " and ".join(PEERS[p][0] if p == "sbx" else "Stable-Baselines3" for p in peers)
    lines = [
        f"# Forward RL: irlax beside {names}",
        "",
    ]
    if args.quick:
        lines += [
            "**Smoke run (`--quick`): low targets, 2 seeds, 1 repetition. Not a benchmark.**",
            "",
        ]
    sbx_versions = (
        f"; SBX {m.get('sbx', '?')} (Stable-Baselines-Jax) with JAX {m.get('sbx_jax', '?')}, "
        f"flax {m.get('sbx_flax', '?')} and Stable-Baselines3 "
        f"{m.get('sbx_stable_baselines3', '?')} in its own virtualenv"
        if "sbx" in peers
        else ""
    )
    lines += [
        f"Written by `benchmarks/rl.py` (`make bench`); command: `{command.strip()}`.",
        "",
        f"Machine: {m['platform']}, {m['cpu']}, {m['cores']} cores (load average "
        f"{m['load_before']:.1f} before, {m['load_after']:.1f} after the {m['minutes']:.0f}-minute "
        f"run), Python {m['python']}, JAX {m['jax']} on {m['jax_backend']} (float32; XLA's CPU "
        f"client with its default thread pool, all {m['cores']} cores); Stable-Baselines3 "
        f"{m.get('stable_baselines3', '?')}, torch {m.get('torch', '?')} on CPU with "
        f"`torch.set_num_threads({m['torch_threads']})`, Gymnasium {m.get('gymnasium', '?')}"
        f"{sbx_versions}.",
        "",
        *_busy_note(m),
        _xla_flags_note(m.get("xla_flags", "")),
        "",
        record["sources"],
        "",
        *_report.provenance(record),
        "**What is measured.** Each library trains until its return reaches the target: after "
        "every update (PPO: a rollout of 8 envs × 32 steps and its 20 epochs; SAC: one env step "
        "and one gradient step), R = the mean over the parallel envs of the mean return of the "
        "last K episodes each env has finished, an env counting once it has finished K (PPO: "
        "K = 1 over 8 envs, 8 episodes, which is irlax's `metrics['episode_return']`; SAC: "
        "K = 10 over its single env, the mean of its last 10 episodes). The first "
        "update with R ≥ target ends the run; *env steps to target* are the env steps taken by "
        "then. irlax: a search run finds that update u; the timed run is the trainer for the "
        "full budget (so learning-rate schedules are those of the full budget, as in SB3's "
        "`learn(total_timesteps)`) stopped after exactly u updates "
        "(`train_from(trainer._replace(n_updates=u))`), compiled by "
        "`jax.jit(train).lower(keys).compile()` (*compile s*: tracing, lowering and XLA) and then "
        "called (*run s*, to `block_until_ready`), each repetition in a fresh process; its "
        "per-update returns are checked against the search run's. SB3: `learn()` with a "
        "callback computing the same R, stopping right after the crossing update's training "
        "(*run s* = `learn`; *setup s* = building the vector env and the model). One seed is "
        "seed 0 for both; 8 seeds are one `jax.vmap`-ed call over keys 0..7 run for the slowest "
        "seed's u (irlax) and seeds 0..7 one after the other, each to its own target (SB3). "
        f"Every time is the median of {args.repeats} repetitions. Imports are not timed.",
        "",
    ]
    if warm:
        lines += [
            "**Three times per trainer.** irlax's processes run with JAX's persistent "
            "compilation cache on (`irlax.compilation_cache.enable(folder)`, before anything "
            "compiles). *Cold cache*: a fresh process on an empty folder; *setup s* = the env, "
            "the trainer and the keys (their small programs compiled), *compile s* = "
            "`lower(keys).compile()` (which also writes the programs to the cache), *run s* = "
            "the compiled call. *Warm cache*: then a fresh process on the folder the cold one "
            "filled, timed the same way: tracing and lowering run again, XLA's compilation is "
            "loaded. *Total* = setup + compile + run. SB3 has nothing to compile, and neither "
            "peer keeps compiled programs between processes, so their totals are the same cold "
            "or warm.",
            "",
        ]
    if "sbx" in peers:
        lines += [
            "**SBX** (`peers/sbx_rl.py`): the same SB3 arguments, target callback and processes "
            "as SB3 (seed 0 is the first run of its process: it pays SBX's warm-up). SBX jits "
            "its networks and each gradient update and compiles them lazily, at their first "
            "call in model construction and in `learn`; JAX's monitoring events give the "
            "seconds spent tracing, lowering and compiling (*compile s*, SBX's warm-up), and "
            "SBX's *setup s* and *run s* are model construction and `learn` less that. SBX's "
            "total is setup + learn as measured.",
            "",
        ]
    for algo, r in record["results"].items():
        lines += _algo_section(algo, r, summary[algo], args, peers)
    lines += _targets(summary, args, peers)
    return "\n".join(lines) + "\n"


def _busy_note(m: dict) -> list[str]:
    """A warning when other work shared the CPU (load average above a third of the cores)."""
    if max(m["load_before"], m["load_after"]) <= m["cores"] / 3:
        return []
    return [
        f"**Preliminary: other jobs shared the {m['cores']} cores during this run (load average "
        f"{m['load_before']:.1f} before, {m['load_after']:.1f} after); both libraries' times "
        "are noisy. Re-run on a quiet machine for the figures to quote.**",
        "",
    ]


def _xla_flags_note(flags: str) -> str:
    if not flags:
        return "irlax's workers ran with XLA's default flags."
    text = f"irlax's workers ran with `XLA_FLAGS={flags}`"
    if flags == XLA_WORKAROUND:
        text += (
            ": with XLA's default (concurrency-optimised) CPU scheduler, jaxlib 0.10.2 "
            "deadlocks on SAC vmapped over 5 or more seeds (the program never returns, every "
            "thread idle; the smallest case found is two independent batched QR "
            "decompositions whose R is used, which SAC's orthogonal initialisers of actor and "
            "twin critics are)"
        )
    return text + "."


def _algo_section(algo: str, r: dict, s: dict, args, peers: list[str]) -> list[str]:
    a = ALGOS[algo]
    n = len(r["search"]["n"]["seeds"])
    warm = s["irlax_warm"]
    labels = ["1", "n"] if n > 1 else ["1"]

    def who(label, name, how=""):
        return f"{name}, 1 seed" if label == "1" else f"{name}, {n} seeds{how}"

    rows = []
    for label in labels:
        i = s["irlax"][label]
        how = f" (vmap, {i['updates']} updates)"
        row = [
            who(label, "irlax", how),
            _steps(s["irlax_steps"][label]),
            _f(i["setup_seconds"]),
            _f(i["compile_seconds"]),
            _f(i["run_seconds"], 3),
            _f(i["total_seconds"]),
        ]
        rows.append(row + ([_f(warm[label]["total_seconds"])] if warm else []))
        for peer in peers:
            p = s["peers"][peer][label]
            row = [
                who(label, PEERS[peer][0], " in turn"),
                _steps(p["steps"]),
                _f(p["setup_seconds"]),
                _f(p["compile_seconds"]),
                _f(p["run_seconds"]),
                _f(p["total_seconds"]),
            ]
            rows.append(row + ([_f(p["total_seconds"])] if warm else []))
    header = ["run", "env steps to target", "setup s", "compile s", "run s"]
    header += ["total s, cold cache", "total s, warm cache"] if warm else ["total s"]
    lines = [
        f"## {a['name']} on {r['env']} to a return of {r['target']:g} "
        f"(K = {r['window']}, budget {r['budget']:,} env steps)",
        "",
        *_report.table(header, rows),
        "",
    ]
    ratio_rows = []
    for label in labels:
        for peer in peers:
            q = s["ratios"][peer][label]
            row = [who(label, PEERS[peer][0]), f"**{_x(q['run'])}**", f"**{_x(q['total'])}**"]
            ratio_rows.append(row + ([f"**{_x(q['total_warm'])}**"] if warm else []))
    header = [
        "peer ÷ irlax",
        "run (compilation excluded)",
        "total, cold cache" if warm else "total",
    ]
    lines += _report.table(header + (["total, irlax's cache warm"] if warm else []), ratio_rows)
    lines.append("")
    if warm:
        w, c = warm["1"], s["irlax"]["1"]
        lines += [
            f"A fresh irlax process, launch to exit (Python, imports and JAX start-up included), "
            f"one seed: {_f(c['process_seconds'], 1)} s with a cold cache, "
            f"{_f(w['process_seconds'], 1)} s with a warm one, whose compile s is "
            f"{_f(w['compile_seconds'])} (cache hits {_f(w['cache_hits'], 0)}, misses "
            f"{_f(w['cache_misses'], 0)}).",
            "",
        ]
    several = (
        f"irlax, {n} seeds ÷ 1 seed: **{_x(s['irlax_n_over_1_run'])}** run time "
        f"({_x(s['irlax_n_over_1_total'])} with compilation); per update (the cost of the "
        f"vmap alone, whatever the seeds' luck): {_x(s['irlax_n_over_1_per_update'])}. "
        if n > 1
        else "One seed only (`--seeds 1`): no 8-seed rows. "
    )
    ms = s["ms_per_1k_steps"]
    per_step = ", ".join(
        f"{PEERS[p][0]} {_f(ms[p], 1)} ms ({_x(ms[p] / ms['irlax'] if ms[p] else None)})"
        for p in peers
    )
    lines += [
        several + f"Time per 1000 env steps, one seed, compilation excluded: irlax "
        f"{_f(ms['irlax'], 1)} ms, {per_step}. Timed irlax runs reproduce the search runs' "
        f"returns to {s['reproduces']:.2g} (max abs difference"
        + (", cold and warm cache)." if warm else ")."),
        "",
    ]
    for peer in peers:
        reps = s["peers"][peer]["1"]["steps_all_reps"]
        if reps and len(set(reps)) > 1:
            name = PEERS[peer][0]
            lines += [f"{name} seed 0 reached the target at {reps} in the repetitions.", ""]
    lines += [
        "Hyper-parameters (rl-baselines3-zoo's, "
        + (
            "`hyperparams/ppo.yml` CartPole-v1"
            if algo == "ppo"
            else "`hyperparams/sac.yml` Pendulum-v1, SB3's defaults for the rest"
        )
        + ("; SBX takes SB3's arguments" if "sbx" in peers else "")
        + "):",
        "",
        "| what | SB3 | irlax |",
        "|---|---|---|",
    ]
    lines += [f"| {w} | {x} | {y} |" for w, x, y in MAPPING[algo]]
    lines += ["", "Not the same in both: " + " ".join(DIFFERENCES[algo]), ""]
    if "sbx" in peers:
        lines += ["SBX beside SB3: " + " ".join(SBX_DIFFERENCES[algo]), ""]
    return lines


def _targets(s: dict, args, peers: list[str]) -> list[str]:
    rows = []

    def row(what, value, goal, least):
        ok = None if value is None else value >= least
        rows.append(f"| {what} | {goal} | {_x(value)} | {_report.verdict(ok)} |")

    if "ppo" in s:
        row(
            "PPO, SB3 ÷ irlax, compilation excluded",
            s["ppo"]["ratios"]["sb3"]["1"]["run"],
            "≥ 10×",
            10,
        )
    if "sac" in s:
        row(
            "SAC, SB3 ÷ irlax, compilation excluded",
            s["sac"]["ratios"]["sb3"]["1"]["run"],
            "≥ 3×",
            3,
        )
    for algo in s:
        row(
            f"{ALGOS[algo]['name']}, SB3 ÷ irlax, compilation included",
            s[algo]["ratios"]["sb3"]["1"]["total"],
            "≥ 3×",
            3,
        )
    if "ppo" in s and "sbx" in peers:
        row(
            "PPO, SBX ÷ irlax, compilation included, cold cache",
            s["ppo"]["ratios"]["sbx"]["1"]["total"],
            "≥ 2×",
            2,
        )
    if "ppo" in s and s["ppo"]["irlax_warm"]:
        row(
            "PPO, SB3 ÷ irlax, compilation included, irlax's cache warm",
            s["ppo"]["ratios"]["sb3"]["1"]["total_warm"],
            "≥ 8×",
            8,
        )
    for algo in s if args.seeds > 1 else ():
        v = s[algo]["irlax_n_over_1_run"]
        rows.append(
            f"| {ALGOS[algo]['name']}, irlax {args.seeds} seeds ÷ 1 seed (run, to target) | < 3× "
            f"| {_x(v)} | {_report.verdict(None if v is None else v < 3)} |"
        )
    return [
        "## The issues' targets",
        "",
        "One seed, medians as above. The reference in the issue (SB3's PPO expert: 500 after "
        "100k steps in 21.6 s) was taken elsewhere; the peers' rows here are measured in the "
        "same run as irlax's.",
        "",
        "| target | goal | measured | |",
        "|---|---|---|---|",
        *rows,
        "",
    ]


if __name__ == "__main__":
    main()
