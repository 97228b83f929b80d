"""Adversarial imitation: irlax's GAIL and AIRL beside `imitation` 1.0.1, timed to a return target.

GAIL (Ho & Ermon 2016) and AIRL (Fu et al. 2018) on CartPole-v1 from the same demonstrations
(4 episodes of 500 steps of an irlax PPO expert), each library trained until its mean training
return reaches 475: wall time and env steps to get there, seeds 0, 1, 2 one at a time, and irlax
also with 8 seeds in one `jax.vmap`-ed call. Every irlax timing is the median of 3 repetitions,
each in a fresh process; imitation (much slower: minutes per seed) runs once per seed by default.

**Settings: each library's own documented CartPole set-up, not one shared set of numbers.**
irlax: `GAILConfig()` / `AIRLConfig()` with their defaults (a PPO generator of 4 envs × 128
steps = 512 env steps per update, 100k env steps, absorbing states, ...). imitation: its
CartPole tutorials as the peer runner `peers/imitation_adversarial.py` sets them up (`--preset
common`: 8 envs × 2048 steps = 16,384 env steps per round, 5 epochs of minibatch 64, ...; see
that file). So the two do not do the same work per env step, and need different numbers of env
steps: the report gives both, and the difference in env steps (sample efficiency) is part of the
result. An extra row runs irlax configured like imitation's PPO and discriminator
(`MATCHED`), for the time per env step on (nearly) equal work.

"Reaching 475", the same criterion for both: R = the mean over the generator's parallel envs of
the true (CartPole) return of the last episode each env has finished (envs with none finished
do not count), checked after every generator update (irlax: every 512 env steps,
`metrics["episode_return"]`; imitation: every round of 16,384 env steps, from its `Monitor`s).
The first update with R ≥ 475 ends the run; its env steps are the env steps to target.

irlax, as in `benchmarks/rl.py`: a search run (the trainer for the full budget, one jitted
`lax.scan`) finds each seed's crossing update u. The timed run is
`irlax.rl.train_from(trainer._replace(n_updates=u))`, the full budget's trainer stopped after
exactly u updates, compiled by `jax.jit(train).lower(key).compile()` (*compile s*: tracing,
lowering, XLA) and called to `block_until_ready` (*run s*), each repetition in a fresh process
(JAX's persistent compilation cache off); its per-update returns are checked against the
search run's. 8 seeds: `jax.jit(jax.vmap(train))` over keys 0..7 for the slowest seed's u.

imitation (`peers/imitation_adversarial.py`, in its own virtualenv, torch on CPU with
`--torch-threads 1`): one process per algorithm and repetition trains seeds 0, 1, 2 in turn;
*setup s* = building the vector env, PPO, the reward net and the trainer; *run s* = from the
first round to the end of the crossing round. A seed that does not reach the target within
`--peer-max-steps` counts with its whole run's time as a lower bound ("≥").

    .venv/bin/python benchmarks/adversarial_speed.py --peer-python .venv-peers/bin/python [--quick]

writes benchmarks/results/adversarial_speed.json and .md (`--quick`: a smoke test of the
pipeline with a low target, small budgets and 1 repetition, written to the git-ignored
benchmarks/.cache/). `--render-only [JSON]` re-renders the report from saved numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
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
ROOT = HERE.parent
CACHE = HERE / ".cache" / "adversarial_speed"
DEMOS = CACHE / "cartpole_demos.npz"
# How the demonstrations are made when `--demos` does not exist yet (4 episodes of the
# deterministic policy of a PPO expert trained for 200k steps; demos use seed + 1).
EXPERT_ARGS = [
    "expert",
    "ppo",
    "--env",
    "CartPole-v1",
    "--episodes",
    "4",
    "--total-steps",
    "200000",
    "--seed",
    "0",
]
ENV = "CartPole-v1"
TARGET = 475.0
NAMES = {"gail": "GAIL", "airl": "AIRL"}
QUICK = {"target": 60.0, "irlax_steps": 20_480, "peer_max_steps": 32_768, "matched_rounds": 1}

# imitation's tutorial set-up (`peers/imitation_adversarial.py`, `--preset common`), as the
# peer runner records it; `MATCHED` maps it onto irlax's fields.
IMITATION = {
    "n_envs": 8,
    "n_steps": 2048,
    "batch_size": 64,
    "n_epochs": 5,
    "gamma": 0.95,
    "gae_lambda": 0.95,
    "clip_range": 0.1,
    "vf_coef": 0.1,
    "ent_coef": 0.0,
    "max_grad_norm": 0.5,
    "learning_rate": {"gail": 4e-4, "airl": 5e-4},
    "demo_batch_size": 1024,
    "n_disc_updates_per_round": 8,
    "gen_replay_buffer_capacity": 512,
    "disc_learning_rate": 1e-3,  # torch Adam's default; imitation passes no lr
    "reward_hidden": (32, 32),  # BasicRewardNet's default hid_sizes
}

MATCHED_ROWS = [
    ("parallel envs", "8 (DummyVecEnv)", "num_envs=8"),
    ("steps per env per round", "n_steps=2048", "rollout_length=2048"),
    ("minibatch, epochs", "batch_size=64, n_epochs=5", "num_minibatches=256, update_epochs=5"),
    ("learning rate", "4e-4 (GAIL) / 5e-4 (AIRL), constant", "same, anneal_lr=False"),
    ("discount, GAE λ", "gamma=0.95, gae_lambda=0.95", "discount=0.95, gae_lambda=0.95"),
    ("policy clip, value clip", "clip_range=0.1, clip_range_vf=None", "clip_eps=0.1, no"),
    ("value loss weight", "vf_coef=0.1 × MSE", "value_coef=0.2 × ½·MSE"),
    ("entropy, gradient clip", "ent_coef=0, max_grad_norm=0.5", "entropy_coef=0, 0.5"),
    ("policy network", "MlpPolicy: pi/vf [64, 64] tanh", "hidden=(64, 64), tanh"),
    (
        "discriminator steps per round, batch",
        "n_disc_updates_per_round=8, demo_batch_size=1024",
        "discriminator_steps=8, discriminator_batch_size=1024",
    ),
    (
        "policy samples kept",
        "gen_replay_buffer_capacity=512",
        "policy_buffer_size=16384 (one round's)",
    ),
    ("discriminator Adam", "lr 1e-3 (torch default)", "discriminator_learning_rate=1e-3"),
    (
        "reward network",
        "[32, 32] ReLU, RunningNorm inputs; AIRL: g(s, a) [32], h(s) [32, 32]",
        "discriminator_hidden=(32, 32), normalised inputs; AIRL: reward_inputs='state_action', "
        "potential_hidden=(32, 32)",
    ),
    ("absorbing states", "none", "absorbing=False"),
]
MATCHED_DIFFERENCES = (
    "Not the same: imitation's AIRL reward g(s, a) has one hidden layer of 32 (irlax's two, "
    "`discriminator_hidden`), and its shaping term uses γ = 0.99 (`BasicShapedRewardNet`'s "
    "default) where irlax uses the generator's 0.95; imitation's RunningNorm updates on each "
    "batch the discriminator sees, irlax's on the expert and policy observations it is trained "
    "on. imitation's discriminator samples the last 512 of a round's 16,384 policy transitions; "
    "irlax refuses a buffer smaller than one generator update (a ring buffer would drop part "
    "of the update it is given at once), so its discriminator samples the whole round's. "
    "The matched row is for time per env step; its learning is not a claim."
)


# --------------------------------------------------------------------------- irlax configs


def irlax_config(algo: str, variant: str, total_steps: int | None = None):
    """irlax's config: "default" (`GAILConfig()` / `AIRLConfig()`) or "matched" (imitation's
    tutorial PPO and discriminator in irlax's fields), `total_steps` overriding the budget."""
    from irlax.algorithms import airl, gail
    from irlax.rl.ppo import PPOConfig

    cls = gail.GAILConfig if algo == "gail" else airl.AIRLConfig
    if variant == "default":
        config = cls()
        if total_steps is not None:
            gen = dataclasses.replace(config.generator, total_steps=total_steps)
            config = dataclasses.replace(config, generator=gen)
        return config
    z = IMITATION
    generator = PPOConfig(
        total_steps=total_steps or 10 * z["n_envs"] * z["n_steps"],
        num_envs=z["n_envs"],
        rollout_length=z["n_steps"],
        update_epochs=z["n_epochs"],
        num_minibatches=z["n_envs"] * z["n_steps"] // z["batch_size"],
        learning_rate=z["learning_rate"][algo],
        anneal_lr=False,
        discount=z["gamma"],
        gae_lambda=z["gae_lambda"],
        clip_eps=z["clip_range"],
        entropy_coef=z["ent_coef"],
        value_coef=2 * z["vf_coef"],
        max_grad_norm=z["max_grad_norm"],
        hidden=(64, 64),
        activation="tanh",
        normalize_advantages=True,
        normalize_observations=False,
        clip_value_loss=False,
    )
    common = {
        "generator": generator,
        "discriminator_hidden": z["reward_hidden"],
        "discriminator_learning_rate": z["disc_learning_rate"],
        "discriminator_steps": z["n_disc_updates_per_round"],
        "discriminator_batch_size": z["demo_batch_size"],
        # imitation keeps the last 512; irlax's buffer holds at least one update (see above).
        "policy_buffer_size": max(z["gen_replay_buffer_capacity"], z["n_envs"] * z["n_steps"]),
        "discriminator_normalize_observations": True,
        "absorbing": False,
    }
    if algo == "gail":
        return cls(**common)
    return cls(**common, reward_inputs="state_action", potential_hidden=z["reward_hidden"])


def _jsonable_config(config) -> dict:
    out = {}
    for k, v in dataclasses.asdict(config).items():
        out[k] = _jsonable_config_value(v)
    return out


def _jsonable_config_value(v):
    if isinstance(v, dict):
        return {k: _jsonable_config_value(x) for k, x in v.items()}
    return list(v) if isinstance(v, tuple) else v


# --------------------------------------------------------------------------- irlax workers


def _setup(spec: dict):
    import jax

    jax.config.update("jax_enable_compilation_cache", False)
    from irlax.algorithms import airl, gail
    from irlax.data import Trajectories
    from irlax.envs import make

    env, env_params = make(ENV)
    demos = Trajectories.load(spec["demos"])
    config = irlax_config(spec["algo"], spec["variant"], spec.get("total_steps"))
    module = gail if spec["algo"] == "gail" else airl
    trainer = module.make_trainer(config, env, env_params, demos)
    return jax, trainer, config


def _keys(jax, seeds, single):
    import jax.numpy as jnp

    return jax.random.key(seeds[0]) if single else jax.vmap(jax.random.key)(jnp.asarray(seeds))


def search_worker(spec: dict) -> dict:
    """The full-budget trainer (`make_train`'s program), recording every update's return: where
    each seed reaches the target.

    The same form as the timed run (`train_from`: init, then one `lax.scan` over the updates),
    so that the timed run of u updates repeats this trajectory (checked). With `single`, one
    program compiled once and called on each seed's key in turn; otherwise one `vmap`-ed call
    over all the seeds. (A leaner scan that keeps only the two metrics needed deadlocks in XLA's
    CPU runtime when vmapped, under irlax's `XLA_WORKAROUND` scheduler flag, jaxlib 0.10.2.)
    """
    from irlax.rl import train_from

    jax, trainer, _ = _setup(spec)
    train = train_from(trainer)

    def metrics(result):
        m = result.metrics
        return np.asarray(m["env_steps"]), np.asarray(m["episode_return"])

    start = time.perf_counter()
    if spec["single"]:
        fn = jax.jit(train)
        outs = [metrics(jax.block_until_ready(fn(_keys(jax, [s], True)))) for s in spec["seeds"]]
        steps = np.stack([o[0] for o in outs])
        metric = np.stack([o[1] for o in outs])
    else:
        result = jax.jit(jax.vmap(train))(_keys(jax, spec["seeds"], False))
        steps, metric = metrics(jax.block_until_ready(result))
    seconds = time.perf_counter() - start
    out = {"seeds": [], "budget_updates": trainer.n_updates, "seconds": seconds}
    for i, seed in enumerate(spec["seeds"]):
        crossed = np.flatnonzero(metric[i] >= spec["target"])  # NaN compares False
        u = int(crossed[0]) if crossed.size else None
        stride = max(1, trainer.n_updates // 100)
        out["seeds"].append(
            {
                "seed": seed,
                "reached": u is not None,
                "updates": u + 1 if u is not None else trainer.n_updates,
                "steps": int(steps[i, u]) if u is not None else None,
                "steps_run": int(steps[i, -1]),
                "final_return": _float(metric[i, -1]),
                "curve": [
                    (int(steps[i, t]), _float(metric[i, t]))
                    for t in range(0, trainer.n_updates, stride)
                ],
            }
        )
    np.save(spec["trace"], metric)
    return out


def time_worker(spec: dict) -> dict:
    """Compile and time `train` for exactly `spec["updates"]` updates, in this fresh process."""
    from irlax.rl import train_from

    jax, trainer, _ = _setup(spec)
    train = train_from(trainer._replace(n_updates=spec["updates"]))
    fn = jax.jit(train if spec["single"] else jax.vmap(train))
    keys = _keys(jax, spec["seeds"], spec["single"])
    start = time.perf_counter()
    compiled = fn.lower(keys).compile()
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    result = jax.block_until_ready(compiled(keys))
    run_seconds = time.perf_counter() - start
    metric = np.asarray(result.metrics["episode_return"])
    steps = np.asarray(result.metrics["env_steps"])
    if spec["single"]:
        metric, steps = metric[None], steps[None]
    np.save(spec["trace"], metric)
    return {
        "compile_seconds": compile_seconds,
        "run_seconds": run_seconds,
        "env_steps": [int(x) for x in steps[:, -1]],
        "final_return": [_float(x) for x in metric[:, -1]],
        "backend": jax.default_backend(),
        "jax": jax.__version__,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }


def _float(x):
    x = float(x)
    return None if np.isnan(x) else x


def run_worker(spec: dict, timeout: float = 1200) -> dict:
    """One irlax measurement in a fresh process (this script with `--worker`)."""
    cmd = [sys.executable, __file__, "--worker", json.dumps(spec)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        raise SystemExit(
            f"irlax worker ({spec['mode']}, {spec['algo']}) did not finish in {timeout} s "
            "(an XLA CPU deadlock leaves every thread asleep)"
        ) from err
    if done.returncode != 0:
        raise SystemExit(f"irlax worker failed ({spec['mode']}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_peer(args, algo: str, seeds: list[int], target: float, out: str) -> dict:
    """imitation's GAIL / AIRL on `seeds` in turn, in its own virtualenv."""
    cmd = [
        args.peer_python,
        str(HERE / "peers" / "imitation_adversarial.py"),
        "--algo",
        algo,
        "--demos",
        str(args.demos),
        "--seeds",
        *map(str, seeds),
        "--target",
        str(target),
        "--max-steps",
        str(args.peer_max_steps),
        "--torch-threads",
        str(args.torch_threads),
        "--out",
        out,
    ]
    if not args.verbose_peer:
        cmd.append("--quiet")
    subprocess.run(cmd, check=True)
    data = json.loads(Path(out).read_text())
    for run in data["runs"]:
        run.pop("curve", None)
    return data


# --------------------------------------------------------------------------- driver


def ensure_demos(path: Path) -> None:
    """Make the demonstrations with `irlax expert` when `path` does not exist."""
    if path.exists():
        return
    out = CACHE / "expert"
    print(f"making demonstrations: irlax {' '.join(EXPERT_ARGS)} --out {out}", flush=True)
    irlax_cli = Path(sys.executable).with_name("irlax")
    subprocess.run([str(irlax_cli), *EXPERT_ARGS, "--out", str(out)], check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out / "demos.npz", path)


def describe_demos(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as d:
        lengths = d["lengths"].tolist()
        info = {
            "path": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:16],
            "episodes": len(lengths),
            "lengths": lengths,
            "terminated": d["terminated"].tolist() if "terminated" in d.files else None,
        }
        if "rewards" in d.files:
            r = d["rewards"]
            info["returns"] = [float(r[i, :n].sum()) for i, n in enumerate(lengths)]
    return info


def bench_algo(args, algo: str, tmp: str) -> dict:
    target = args.target
    seeds = list(range(args.seeds))
    vseeds = list(range(args.vmap_seeds))
    base = {"algo": algo, "demos": str(args.demos), "target": target}
    if args.quick:
        base["total_steps"] = QUICK["irlax_steps"]
    default = {**base, "variant": "default"}

    print(f"[{algo}] irlax search runs ...", flush=True)
    search = {}
    for label, single, ss in (("1", True, seeds), ("n", False, vseeds)):
        trace = f"{tmp}/{algo}_search_{label}.npy"
        search[label] = run_worker(
            {**default, "mode": "search", "single": single, "seeds": ss, "trace": trace}
        )
        search[label]["trace"] = trace
        print(
            f"  {'one at a time' if single else 'vmapped'}: steps to target "
            f"{[s['steps'] for s in search[label]['seeds']]} ({search[label]['seconds']:.1f} s)",
            flush=True,
        )
    updates = {
        "1": [s["updates"] for s in search["1"]["seeds"]],
        "n": max(s["updates"] for s in search["n"]["seeds"]),
    }

    timings = {"1": [[] for _ in seeds], "n": [], "matched": []}
    reproduces = {"1": [], "n": [], "matched": []}
    peer = []
    matched_spec = None
    if args.matched_rounds:
        per_round = IMITATION["n_envs"] * IMITATION["n_steps"]
        matched_spec = {
            **base,
            "variant": "matched",
            "total_steps": args.matched_rounds * per_round,
            "single": True,
            "seeds": [0],
            "updates": args.matched_rounds,
        }

    def timed(spec, searched):
        t = run_worker(spec)
        trace = np.load(spec["trace"])
        diff = None
        if searched is not None:
            ok = np.array_equal(np.isnan(trace), np.isnan(searched))
            diff = float(np.nanmax(np.abs(trace - searched))) if ok else float("inf")
            if not np.isfinite(trace).any():
                diff = 0.0 if ok else float("inf")
        t["trace"] = [_float(x) for x in trace[0]] if spec["variant"] == "matched" else None
        return t, diff

    for rep in range(max(args.repeats, args.peer_repeats)):
        if rep < args.repeats:
            for i, seed in enumerate(seeds):
                spec = {**default, "mode": "time", "single": True, "seeds": [seed]}
                spec["updates"] = updates["1"][i]
                spec["trace"] = f"{tmp}/{algo}_time_1_{seed}_{rep}.npy"
                searched = np.load(search["1"]["trace"])[i : i + 1, : updates["1"][i]]
                t, diff = timed(spec, searched)
                timings["1"][i].append(t)
                reproduces["1"].append(diff)
                print(
                    f"  rep {rep}: irlax seed {seed}, {spec['updates']} updates: compile "
                    f"{t['compile_seconds']:.2f} s, run {t['run_seconds']:.2f} s "
                    f"(max |Δ return| vs search {diff:.2g})",
                    flush=True,
                )
            spec = {**default, "mode": "time", "single": False, "seeds": vseeds}
            spec["updates"] = updates["n"]
            spec["trace"] = f"{tmp}/{algo}_time_n_{rep}.npy"
            t, diff = timed(spec, np.load(search["n"]["trace"])[:, : updates["n"]])
            timings["n"].append(t)
            reproduces["n"].append(diff)
            print(
                f"  rep {rep}: irlax {len(vseeds)} seeds vmapped, {updates['n']} updates: "
                f"compile {t['compile_seconds']:.2f} s, run {t['run_seconds']:.2f} s "
                f"(max |Δ return| vs search {diff:.2g})",
                flush=True,
            )
            if matched_spec:
                spec = {**matched_spec, "mode": "time"}
                spec["trace"] = f"{tmp}/{algo}_time_matched_{rep}.npy"
                first = timings["matched"][0]["trace"] if timings["matched"] else None
                t, _ = timed(spec, None)
                if first is not None:
                    a, b = np.asarray(t["trace"], float), np.asarray(first, float)
                    same = np.array_equal(np.isnan(a), np.isnan(b))
                    reproduces["matched"].append(
                        float(np.nanmax(np.abs(a - b))) if same and np.isfinite(a).any() else 0.0
                    )
                timings["matched"].append(t)
                print(
                    f"  rep {rep}: irlax like imitation, {spec['updates']} rounds: compile "
                    f"{t['compile_seconds']:.2f} s, run {t['run_seconds']:.2f} s",
                    flush=True,
                )
        if rep < args.peer_repeats:
            print(f"  rep {rep}: imitation {algo}, seeds {seeds} in turn ...", flush=True)
            start = time.perf_counter()
            peer.append(run_peer(args, algo, seeds, target, f"{tmp}/peer_{algo}_{rep}.json"))
            print(
                "  imitation: steps to target "
                f"{[r['env_steps_to_target'] for r in peer[-1]['runs']]} "
                f"({time.perf_counter() - start:.0f} s)",
                flush=True,
            )
    for t in timings["matched"]:
        t["crossed"] = _crossing(t["trace"], target)
    return {
        "target": target,
        "env": ENV,
        "seeds": seeds,
        "vmap_seeds": vseeds,
        "search": search,
        "updates": updates,
        "irlax": timings,
        "reproduces": reproduces,
        "imitation": peer,
        "irlax_config": _jsonable_config(irlax_config(algo, "default", base.get("total_steps"))),
        "matched_config": (
            _jsonable_config(irlax_config(algo, "matched", matched_spec["total_steps"]))
            if matched_spec
            else None
        ),
    }


def _crossing(trace, target):
    """(update, env steps) of the first update with return ≥ target in a matched run, or None."""
    per_round = IMITATION["n_envs"] * IMITATION["n_steps"]
    for i, x in enumerate(trace):
        if x is not None and x >= target:
            return {"updates": i + 1, "steps": (i + 1) * per_round}
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer-python", default=".venv-peers/bin/python")
    parser.add_argument("--demos", type=Path, default=DEMOS, help="irlax Trajectories .npz")
    parser.add_argument("--algos", nargs="*", default=["gail", "airl"], choices=list(NAMES))
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1, one at a time")
    parser.add_argument("--vmap-seeds", type=int, default=8, help="irlax seeds in one call")
    parser.add_argument("--repeats", type=int, default=3, help="irlax repetitions")
    parser.add_argument("--peer-repeats", type=int, default=1, help="imitation repetitions")
    parser.add_argument("--target", type=float, default=TARGET)
    parser.add_argument("--peer-max-steps", type=int, default=1_000_000)
    parser.add_argument(
        "--matched-rounds",
        type=int,
        default=30,
        help="rounds of irlax configured like imitation (0: no such row)",
    )
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--verbose-peer", action="store_true", help="imitation's per-round lines")
    parser.add_argument("--quick", action="store_true", help="smoke run of the pipeline")
    parser.add_argument("--out", default=None, help="report path (default results/...md)")
    parser.add_argument("--render-only", metavar="JSON", nargs="?", const=None, default=False)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        spec = json.loads(args.worker)
        worker = search_worker if spec["mode"] == "search" else time_worker
        print(json.dumps(worker(spec)))
        return
    if args.render_only is not False:
        json_path = Path(args.render_only or HERE / "results" / "adversarial_speed.json")
        _report.render_file(render, json_path, args.out)
        print(f"wrote {args.out or json_path.with_suffix('.md')}")
        return
    if args.quick:
        args.seeds, args.vmap_seeds = min(args.seeds, 1), min(args.vmap_seeds, 2)
        args.repeats, args.peer_repeats = 1, 1
        args.target = QUICK["target"]
        args.peer_max_steps = QUICK["peer_max_steps"]
        args.matched_rounds = min(args.matched_rounds, QUICK["matched_rounds"])
    if args.out is None:
        name = ".cache/adversarial_speed_quick.md" if args.quick else "results/adversarial_speed.md"
        args.out = str(HERE / name)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    args.demos = args.demos.resolve()
    ensure_demos(args.demos)

    load_before, source_before = os.getloadavg(), source_state()
    start = time.perf_counter()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for algo in args.algos:
            results[algo] = bench_algo(args, algo, tmp)
            for label in ("1", "n"):
                results[algo]["search"][label].pop("trace", None)
    elapsed = time.perf_counter() - start
    record = {
        "benchmark": "adversarial_speed",
        "machine": describe_machine(load_before, os.getloadavg(), elapsed, results),
        "sources": sources_line((source_before, source_state())),
        "demos": describe_demos(args.demos),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "command": "python benchmarks/adversarial_speed.py " + " ".join(sys.argv[1:]),
        "results": results,
    }
    # Derived, kept for readers of the JSON; the report recomputes it from `results`.
    record["summary"] = {algo: summarise(r) for algo, r in results.items()}
    print(_report.save(record, render, Path(args.out).with_suffix(".json"), args.out))


def describe_machine(load_before, load_after, elapsed, results) -> dict:
    import jax

    peer = next((r["imitation"][0] for r in results.values() if r["imitation"]), {})
    return {
        **_report.machine(load_before[0], load_after[0], elapsed),
        "jax": jax.__version__,
        "jax_backend": jax.default_backend(),
        "imitation_versions": peer.get("versions", {}),
        "torch_threads": peer.get("torch_num_threads"),
        "nice": os.nice(0),
    }


# --------------------------------------------------------------------------- summary


def _censored_median(values: list[float], exact: list[bool]):
    """The median of values some of which are only lower bounds (`exact` False): (median,
    is_exact). The median is exact when every lower bound lies above the (upper) middle."""
    if not values:
        return None, True
    order = sorted(range(len(values)), key=lambda i: values[i])
    median = statistics.median(values)
    middle = len(values) // 2  # the upper middle's rank
    is_exact = all(exact[i] for i in order[: middle + 1])
    return median, is_exact


def _ratio(num, num_exact, den, den_exact):
    """num / den, and whether it is exact, a lower bound ("≥") or an upper bound ("≤")."""
    if not num or not den:
        return None, None
    if num_exact and den_exact:
        return num / den, "="
    if not num_exact and den_exact:
        return num / den, "≥"
    if num_exact and not den_exact:
        return num / den, "≤"
    return None, None


def summarise(r: dict) -> dict:
    """Medians over repetitions and seeds, ratios, and the issue's targets, from `results`."""
    med = _report.median
    seeds = r["seeds"]
    irlax_seeds = []
    for i, seed in enumerate(seeds):
        s = r["search"]["1"]["seeds"][i]
        t = r["irlax"]["1"][i]
        irlax_seeds.append(
            {
                "seed": seed,
                "reached": s["reached"],
                "steps": s["steps"] if s["reached"] else s["steps_run"],
                "updates": s["updates"],
                "compile_seconds": med([x["compile_seconds"] for x in t]),
                "run_seconds": med([x["run_seconds"] for x in t]),
                "total_seconds": med([x["compile_seconds"] + x["run_seconds"] for x in t]),
            }
        )
    peer_seeds = []
    for i, seed in enumerate(seeds):
        runs = [rep["runs"][i] for rep in r["imitation"]]
        if not runs:
            continue
        reached = all(x["reached"] for x in runs)

        def secs(x):
            return x["seconds_to_target"] if x["reached"] else x["train_seconds"]

        peer_seeds.append(
            {
                "seed": seed,
                "reached": reached,
                "reached_reps": sum(x["reached"] for x in runs),
                "steps": med(
                    [x["env_steps_to_target"] if x["reached"] else x["env_steps_run"] for x in runs]
                ),
                "rounds": med([x["rounds"] for x in runs]),
                "final_R": med([x["final_R"] for x in runs]),
                "setup_seconds": med([x["setup_seconds"] for x in runs]),
                "run_seconds": med([secs(x) for x in runs]),
                "total_seconds": med([x["setup_seconds"] + secs(x) for x in runs]),
                "ms_per_1k_steps": med(
                    [1e6 * x["train_seconds"] / x["env_steps_run"] for x in runs]
                ),
            }
        )

    def over_seeds(rows, key):
        return _censored_median([x[key] for x in rows], [x["reached"] for x in rows])

    out = {"irlax_seeds": irlax_seeds, "imitation_seeds": peer_seeds}
    for name, rows in (("irlax", irlax_seeds), ("imitation", peer_seeds)):
        keys = ["steps", "run_seconds", "total_seconds"]
        keys += ["compile_seconds"] if name == "irlax" else ["setup_seconds"]
        out[name] = {k: over_seeds(rows, k) for k in keys} if rows else None
        if rows:
            out[name]["reached"] = sum(x["reached"] for x in rows)
            out[name]["of"] = len(rows)
            # All seeds one after another: the sums (a lower bound where one was not reached).
            out[name]["sum_run_seconds"] = (
                sum(x["run_seconds"] for x in rows),
                all(x["reached"] for x in rows),
            )
            out[name]["sum_total_seconds"] = (
                sum(x["total_seconds"] for x in rows),
                all(x["reached"] for x in rows),
            )
    n = r["irlax"]["n"]
    vsearch = r["search"]["n"]["seeds"]
    out["irlax_n"] = {
        "seeds": len(vsearch),
        "reached": sum(s["reached"] for s in vsearch),
        "updates": r["updates"]["n"],
        "steps": [s["steps"] for s in vsearch],
        "compile_seconds": med([x["compile_seconds"] for x in n]),
        "run_seconds": med([x["run_seconds"] for x in n]),
        "total_seconds": med([x["compile_seconds"] + x["run_seconds"] for x in n]),
    }
    # irlax's time per 1000 env steps, one seed at a time (median over seeds).
    out["irlax"]["ms_per_1k_steps"] = statistics.median(
        1e6 * x["run_seconds"] / (x["updates"] * _batch(r["irlax_config"])) for x in irlax_seeds
    )
    if peer_seeds:
        out["imitation"]["ms_per_1k_steps"] = statistics.median(
            x["ms_per_1k_steps"] for x in peer_seeds
        )
        i, p = out["irlax"], out["imitation"]
        out["ratio_run"] = _ratio(*p["run_seconds"], *i["run_seconds"])
        out["ratio_total"] = _ratio(*p["total_seconds"], *i["total_seconds"])
        out["ratio_steps"] = _ratio(*p["steps"], *i["steps"])
        out["ratio_per_step"] = _ratio(p["ms_per_1k_steps"], True, i["ms_per_1k_steps"], True)
        all_n = out["irlax_n"]["reached"] == out["irlax_n"]["seeds"]
        # Counting only the imitation seeds that reached the target (a figure that favours it).
        got = [x for x in peer_seeds if x["reached"]]
        if got and len(got) < len(peer_seeds):
            run = statistics.median(x["run_seconds"] for x in got)
            total = statistics.median(x["total_seconds"] for x in got)
            out["imitation_reached_only"] = {
                "seeds": [x["seed"] for x in got],
                "run_seconds": run,
                "total_seconds": total,
                "ratio_run": _ratio(run, True, *i["run_seconds"]),
                "ratio_total": _ratio(total, True, *i["total_seconds"]),
            }
        out["ratio_run_n"] = _ratio(*p["sum_run_seconds"], out["irlax_n"]["run_seconds"], all_n)
        out["ratio_total_n"] = _ratio(
            *p["sum_total_seconds"], out["irlax_n"]["total_seconds"], all_n
        )
    out["irlax_n_over_1_per_update"] = (
        (out["irlax_n"]["run_seconds"] / out["irlax_n"]["updates"])
        / statistics.median(x["run_seconds"] / x["updates"] for x in irlax_seeds)
        if out["irlax_n"]["run_seconds"]
        else None
    )
    m = r["irlax"]["matched"]
    if m:
        steps = m[0]["env_steps"][0]
        out["matched"] = {
            "rounds": len(m[0]["trace"]),
            "steps": steps,
            "compile_seconds": med([x["compile_seconds"] for x in m]),
            "run_seconds": med([x["run_seconds"] for x in m]),
            "ms_per_1k_steps": med([1e6 * x["run_seconds"] / steps for x in m]),
            "final_return": m[0]["final_return"][0],
            "crossed": m[0]["crossed"],
        }
        if peer_seeds:
            out["ratio_per_step_matched"] = _ratio(
                out["imitation"]["ms_per_1k_steps"], True, out["matched"]["ms_per_1k_steps"], True
            )
    rep = [x for v in r["reproduces"].values() for x in v if x is not None]
    out["reproduces"] = max(rep) if rep else None
    return out


def _batch(config: dict) -> int:
    g = config["generator"]
    return g["num_envs"] * g["rollout_length"]


# --------------------------------------------------------------------------- report

_f = _report.fixed


def _x(pair) -> str:
    """A ratio with its bound: `13×`, `≥ 4.2×`, or '—'."""
    value, kind = pair if isinstance(pair, tuple) else (pair, "=")
    if value is None:
        return "—"
    return ("" if kind == "=" else f"{kind} ") + _report.ratio(value)


def _b(pair, digits=1) -> str:
    """A (value, exact) pair: `12.3` or `≥ 12.3`."""
    value, exact = pair
    if value is None:
        return "—"
    return ("" if exact else "≥ ") + (
        f"{value:,.0f}" if digits is None else _report.fixed(value, digits)
    )


def _steps(x, reached=True) -> str:
    if x is None:
        return "—"
    return f"{x:,.0f}" if reached else f"not reached ({x:,.0f} run)"


def render(record: dict) -> str:
    """The report of a saved run (`record` as `main` writes it); figures from `results` alone."""
    args = argparse.Namespace(**record["args"])
    summary = {algo: summarise(r) for algo, r in record["results"].items()}
    m = record["machine"]
    v = m.get("imitation_versions", {})
    d = record["demos"]
    lines = ["# Adversarial imitation: irlax's GAIL and AIRL beside imitation", ""]
    if args.quick:
        lines += [
            "**Smoke run (`--quick`): low target, small budgets, 1 seed, 1 repetition. "
            "Not a benchmark.**",
            "",
        ]
    lines += [
        f"Written by `benchmarks/adversarial_speed.py` (`make bench`); command: "
        f"`{record['command'].strip()}`.",
        "",
        f"Machine: {m['platform']}, {m['cpu']}, {m['cores']} cores (load average "
        f"{m['load_before']:.1f} before, {m['load_after']:.1f} after the {m['minutes']:.0f}-minute "
        f"run), Python {m['python']}, JAX {m['jax']} on {m['jax_backend']} (float32, XLA's CPU "
        f"client with its default thread pool); imitation {v.get('imitation', '?')}, "
        f"Stable-Baselines3 {v.get('stable_baselines3', '?')}, torch {v.get('torch', '?')} on "
        f"CPU with `torch.set_num_threads({m.get('torch_threads')})`, Gymnasium "
        f"{v.get('gymnasium', '?')}. Run at niceness {m.get('nice', '?')}.",
        "",
        *_busy_note(m),
        record["sources"],
        "",
        *_report.provenance(record),
        f"Demonstrations, the same file for both: `{d['path']}` (sha256 {d['sha256']}…), "
        f"{d['episodes']} episodes of lengths {d['lengths']}"
        + (f", returns {d['returns']}" if d.get("returns") else "")
        + (
            ", none terminated (all cut by the 500-step limit)"
            if d.get("terminated") is not None and not any(d["terminated"])
            else ""
        )
        + f"; made by `irlax {' '.join(EXPERT_ARGS)}` when absent.",
        "",
        "**What is measured.** Each library trains until its training return reaches "
        f"{args.target:g}: after every generator update, R = the mean over the generator's "
        "parallel envs of the true return of the last episode each env has finished; the first "
        "update with R ≥ target ends the run and its env steps are the *env steps to target*. "
        "irlax checks R every update of 512 env steps (4 envs × 128), imitation every round of "
        "16,384 (8 × 2048), so imitation's figure can overshoot its crossing by up to one "
        "round. irlax: a search run finds the crossing update u of each seed; the timed run is "
        "the full budget's trainer stopped after exactly u updates "
        "(`train_from(trainer._replace(n_updates=u))`), compiled by "
        "`jax.jit(train).lower(key).compile()` (*compile s*) then called (*run s*, to "
        "`block_until_ready`), each repetition in a fresh process with JAX's persistent "
        "compilation cache off; its per-update returns are checked against the search run's. "
        f"Every irlax time is the median of {args.repeats} repetition"
        f"{'s' if args.repeats != 1 else ''} (fresh processes). imitation "
        "(`benchmarks/peers/imitation_adversarial.py`): one process trains seeds "
        f"{', '.join(map(str, range(args.seeds)))} in turn ({args.peer_repeats} "
        f"repetition{'s' if args.peer_repeats != 1 else ''}); *setup s* = building the vector "
        "env, PPO, the reward net and the trainer (the first seed of a process also pays "
        "torch's one-time initialisation), *run s* = training up to the end of the crossing "
        f"round. A seed that does not reach the target within {args.peer_max_steps:,} env "
        "steps counts with its whole run as a lower bound (≥), and so does a median or ratio "
        "that depends on it. *1 seed* figures are medians over the seeds; the seeds of the two "
        "libraries are unrelated random streams. Importing the libraries and loading the "
        "demonstrations are not timed.",
        "",
        "**Settings: each library's own documented CartPole set-up.** irlax: `GAILConfig()` and "
        "`AIRLConfig()` with their defaults (PPO generator: 4 envs × 128 steps, 8 epochs of 4 "
        "minibatches, learning rate 2.5e-3 annealed over 100k env steps, γ 0.99; discriminator "
        "(64, 64), 4 Adam steps per update on that update's 512 transitions, observation "
        "normalisation, absorbing states). imitation: its CartPole tutorial notebooks as the "
        "peer runner's `--preset common` sets them (PPO: 8 envs × 2048 steps, 5 epochs of "
        "minibatch 64, γ 0.95, clip 0.1; discriminator: 8 steps of 1024 per round, see "
        "`peers/imitation_adversarial.py`). The libraries therefore do different work per env "
        "step and need different numbers of env steps; **the difference in env steps (sample "
        "efficiency) is part of the result**, and the time per env step is given separately. "
        "The last row of each table runs irlax configured like imitation (below), for the time "
        "per env step on nearly equal work.",
        "",
    ]
    for algo, r in record["results"].items():
        lines += _algo_section(algo, r, summary[algo], args)
    if any("matched" in s for s in summary.values()):
        lines += [
            "### irlax configured like imitation (the *like imitation* rows)",
            "",
            *_report.table(
                ["what", "imitation (tutorial, `--preset common`)", "irlax"],
                [list(row) for row in MATCHED_ROWS],
            ),
            "",
            MATCHED_DIFFERENCES,
            "",
        ]
    lines += _targets(summary, args.target)
    return "\n".join(lines) + "\n"


def _busy_note(m: dict) -> list[str]:
    if max(m["load_before"], m["load_after"]) <= m["cores"] / 3:
        return []
    return [
        f"**Other jobs shared the {m['cores']} cores during this run (load average "
        f"{m['load_before']:.1f} before, {m['load_after']:.1f} after); both libraries' times "
        "are noisy. Re-run on a quiet machine for the figures to quote.**",
        "",
    ]


def _algo_section(algo: str, r: dict, s: dict, args) -> list[str]:
    name = NAMES[algo]
    i, p, n = s["irlax"], s.get("imitation"), s["irlax_n"]
    lines = [f"## {name} on {r['env']} to a return of {r['target']:g}", ""]
    rows = []
    for x in s["irlax_seeds"]:
        rows.append(
            [
                f"irlax, seed {x['seed']}",
                _steps(x["steps"], x["reached"]),
                f"{x['updates']} × 512",
                _f(x["compile_seconds"]),
                _f(x["run_seconds"]),
                _f(x["total_seconds"]),
            ]
        )
    for x in s["imitation_seeds"]:
        bound = "" if x["reached"] else "≥ "
        rows.append(
            [
                f"imitation, seed {x['seed']}",
                _steps(x["steps"], x["reached"]),
                f"{x['rounds']:.0f} × 16,384",
                _f(x["setup_seconds"]),
                bound + _f(x["run_seconds"], 1),
                bound + _f(x["total_seconds"], 1),
            ]
        )
    lines += _report.table(
        ["run", "env steps to target", "updates", "compile / setup s", "run s", "total s"], rows
    )
    lines += ["", "Medians over the seeds, and all seeds:", ""]
    rows = [
        [
            f"irlax, 1 seed (median of {i['of']}; {i['reached']} of {i['of']} reached)",
            _b(i["steps"], None),
            _f(i["compile_seconds"][0]),
            _b(i["run_seconds"], 2),
            _b(i["total_seconds"], 2),
            "",
            "",
        ]
    ]
    if p:
        rows.append(
            [
                f"imitation, 1 seed (median of {p['of']}; {p['reached']} of {p['of']} reached)",
                _b(p["steps"], None),
                _f(p["setup_seconds"][0]),
                _b(p["run_seconds"]),
                _b(p["total_seconds"]),
                f"**{_x(s['ratio_run'])}**",
                f"**{_x(s['ratio_total'])}**",
            ]
        )
    rows.append(
        [
            f"irlax, {n['seeds']} seeds in one vmapped call ({n['updates']} updates; "
            f"{n['reached']} of {n['seeds']} reached)",
            _steps_list(n["steps"]),
            _f(n["compile_seconds"]),
            _f(n["run_seconds"], 2),
            _f(n["total_seconds"], 2),
            "",
            "",
        ]
    )
    if p:
        rows.append(
            [
                f"imitation, {p['of']} seed{'s' if p['of'] != 1 else ''} in turn (sum; ratios "
                f"against irlax's "
                f"{n['seeds']} in one call)",
                "",
                "",
                _b(p["sum_run_seconds"]),
                _b(p["sum_total_seconds"]),
                f"{_x(s['ratio_run_n'])}",
                f"{_x(s['ratio_total_n'])}",
            ]
        )
    if "matched" in s:
        mt = s["matched"]
        crossed = (
            f"reached at {mt['crossed']['steps']:,}"
            if mt["crossed"]
            else f"not reached; R {_f(mt['final_return'], 1)} at the end"
        )
        rows.append(
            [
                f"irlax like imitation, seed 0, {mt['rounds']} rounds of 16,384 (fixed)",
                f"{mt['steps']:,} run ({crossed})",
                _f(mt["compile_seconds"]),
                _f(mt["run_seconds"], 2),
                _f(mt["compile_seconds"] + mt["run_seconds"], 2),
                "",
                "",
            ]
        )
    lines += _report.table(
        [
            "run",
            "env steps to target",
            "compile / setup s",
            "run s",
            "total s",
            "imitation ÷ irlax, run",
            "imitation ÷ irlax, total",
        ],
        rows,
    )
    lines.append("")
    text = (
        f"Time per 1000 env steps, one seed (median over seeds): irlax "
        f"{_f(i['ms_per_1k_steps'], 1)} ms"
    )
    if p:
        text += (
            f", imitation {_f(p['ms_per_1k_steps'], 1)} ms (imitation ÷ irlax "
            f"{_x(s['ratio_per_step'])})"
        )
        if "matched" in s:
            text += (
                f"; irlax configured like imitation {_f(s['matched']['ms_per_1k_steps'], 1)} ms "
                f"({_x(s['ratio_per_step_matched'])})"
            )
        text += (
            f". Env steps to target, medians: imitation ÷ irlax {_x(s['ratio_steps'])} (the "
            "speed-up to the target is about the product of the two ratios: time per env step "
            "× env steps needed)."
        )
    else:
        text += "."
    text += (
        f" irlax, {n['seeds']} seeds in one call ÷ 1 seed, per update: "
        f"{_x(s['irlax_n_over_1_per_update'])}. Timed irlax runs reproduce the search runs' "
        f"returns to {_repro(s['reproduces'])} (max abs difference)."
    )
    if s.get("imitation_reached_only"):
        g = s["imitation_reached_only"]
        text += (
            f" Counting only the imitation seeds that reached the target (seed"
            f"{'s' if len(g['seeds']) != 1 else ''} {', '.join(map(str, g['seeds']))}; this "
            f"favours imitation): median run {_f(g['run_seconds'], 1)} s, total "
            f"{_f(g['total_seconds'], 1)} s, imitation ÷ irlax {_x(g['ratio_run'])} run, "
            f"{_x(g['ratio_total'])} total. The others ended their "
            f"{args.peer_max_steps:,} env steps at R = "
            + ", ".join(_f(x["final_R"], 1) for x in s["imitation_seeds"] if not x["reached"])
            + " (see `benchmarks/peers/README.md`: on CartPole-v1's variable horizon)."
        )
    lines += [text, ""]
    if p and any(x["reached_reps"] not in (0, len(r["imitation"])) for x in s["imitation_seeds"]):
        lines += ["Some imitation seeds reached the target in some repetitions only.", ""]
    return lines


def _repro(x):
    return "—" if x is None else f"{x:.2g}"


def _steps_list(xs) -> str:
    got = sorted(x for x in xs if x is not None)
    if not got:
        return f"none of {len(xs)} reached"
    text = f"median {statistics.median(got):,.0f} ({got[0]:,}–{got[-1]:,})"
    missed = len(xs) - len(got)
    return text + (f", {missed} not reached" if missed else "")


def _targets(summary: dict, target: float) -> list[str]:
    rows = []
    for algo, s in summary.items():
        for key, what, goal in (
            ("ratio_run", "compilation excluded", 10),
            ("ratio_total", "compilation included", 3),
        ):
            value, kind = s.get(key) or (None, None)
            # A lower bound (≥) settles "met" only, an upper bound (≤) "missed" only.
            if value is None:
                ok = None
            elif value >= goal:
                ok = True if kind in ("=", "≥") else None
            else:
                ok = False if kind in ("=", "≤") else None
            rows.append(
                [
                    f"{NAMES[algo]}, imitation ÷ irlax to {target:g}, {what} (1 seed, medians)",
                    f"≥ {goal}×",
                    _x((value, kind)),
                    _report.verdict(ok),
                ]
            )
    return [
        "## The issue's targets",
        "",
        "Both libraries with their own settings, so each ratio is the speed-up to the same "
        "return (env steps and time per env step together). A ratio marked ≥ rests on an "
        "imitation seed that never reached the target (its whole run is a lower bound); — "
        "where it cannot be decided.",
        "",
        *_report.table(["target", "goal", "measured", ""], rows),
        "",
    ]


if __name__ == "__main__":
    main()
