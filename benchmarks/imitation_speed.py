"""Behaviour cloning and DAgger: irlax beside `imitation` 1.0.1, timed to a return of 475.

CartPole-v1, the same demonstrations for both libraries (4 episodes of 500 steps of irlax's
scripted CartPole controller; DAgger starts from the first of them, and that controller is
its expert), each library's defaults: irlax's `NeuralBCConfig()` (imitation's [32, 32]
network, Adam 1e-3, minibatches of 32, entropy weight 1e-3, plus irlax's standardised
observations) and `DAggerConfig` with one env, 500 labelled steps and 4 epochs per round and
imitation's linear β schedule over 15 rounds; imitation's `BC` and `SimpleDAggerTrainer` as
`peers/imitation_bc_dagger.py` sets them up. Criterion, the same for both: after every update
(a BC epoch, a DAgger round) the mean true return of 4 evaluation episodes of the learner
(sampled actions); the first update with R ≥ 475 ends the run.

irlax: a search run (the whole budget in one jitted call) finds each seed's crossing update
u; the timed run is `train_from(trainer._replace(n_updates=u))`, compiled by
`jax.jit(train).lower(key).compile()` (*compile s*) and called to `block_until_ready` (*run
s*), evaluation included; its returns are checked against the search run's. imitation (its own
virtualenv, torch with one thread): *run s* from the first update to the end of the crossing
update's evaluation (*setup s*, building the trainer, apart). Seeds 0, 1, 2, interleaved
(irlax's seeds, then imitation's, per method); medians over seeds.

    .venv/bin/python benchmarks/imitation_speed.py --peer-python .venv-peers/bin/python

writes benchmarks/results/imitation_speed.json and .md; `--render-only [JSON]` re-renders.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import _report
import jax
import numpy as np
from _report import source_state, sources_line

from irlax.algorithms import bc, dagger
from irlax.data.rollout import rollout
from irlax.envs import make
from irlax.rl import train_from

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CACHE = HERE / ".cache" / "imitation_speed"
TARGET = 475.0
NAMES = {"bc": "BC", "dagger": "DAgger"}
EXPERT = np.asarray([0.1, 0.5, 10.0, 2.0], np.float32)
BC_CONFIG = bc.NeuralBCConfig(epochs=20, eval_episodes=4)
DAGGER_CONFIG = dagger.DAggerConfig(
    bc=bc.NeuralBCConfig(epochs=4, eval_episodes=4),
    rounds=10,
    num_envs=1,
    rollout_length=500,
    beta_schedule="linear",
    beta_rampdown_rounds=15,
)


def scripted_expert(obs, key):
    """Push right when the pole falls right (balances CartPole-v1 for 500 steps)."""
    return (obs @ EXPERT.astype(obs.dtype) > 0).astype(np.int32)


def make_demos():
    env, params = make("CartPole-v1")
    return env, params, rollout(env, scripted_expert, 4, jax.random.key(0), params)


def irlax_seed(algo: str, seed: int, env, params, demos) -> dict:
    """Search for the crossing update, then time compile and run of exactly that many."""
    if algo == "bc":
        trainer = bc.make_trainer(BC_CONFIG, env, params, demos)
        first_labels = None
    else:
        one = jax.tree.map(lambda x: x[:1], demos)
        trainer = dagger.make_trainer(DAGGER_CONFIG, env, params, one, scripted_expert)
        first_labels = int(one.lengths.sum())
    key = jax.random.key(seed)
    search = jax.jit(train_from(trainer))(key)
    returns = np.asarray(search.metrics["episode_return"])
    reached = np.flatnonzero(returns >= TARGET)
    if not len(reached):
        return {"seed": seed, "updates_to_target": None, "returns": returns.tolist()}
    u = int(reached[0]) + 1
    train = train_from(trainer._replace(n_updates=u))
    t0 = time.perf_counter()
    compiled = jax.jit(train).lower(key).compile()
    t1 = time.perf_counter()
    result = jax.block_until_ready(compiled(key))
    t2 = time.perf_counter()
    timed = np.asarray(result.metrics["episode_return"])
    labels = None
    if algo == "dagger":
        labels = first_labels + int(result.metrics["expert_labels"][-1])
    return {
        "seed": seed,
        "updates_to_target": u,
        "compile_seconds": t1 - t0,
        "run_seconds": t2 - t1,
        "returns": returns.tolist(),
        "same_as_search": bool(np.allclose(timed, returns[:u], equal_nan=True)),
        "expert_labels_to_target": labels,
    }


def peer(algo: str, python: str, seeds, demos_path: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "peer.json"
        cmd = [
            python,
            str(HERE / "peers" / "imitation_bc_dagger.py"),
            "--algo",
            algo,
            "--demos",
            str(demos_path),
            "--seeds",
            *map(str, seeds),
            "--target",
            str(TARGET),
            "--torch-threads",
            "1",
            "--out",
            str(out),
        ]
        if algo == "dagger":
            cmd += ["--n-demos", "1", "--max-updates", "10"]
        subprocess.run(cmd, check=True, env={**os.environ, "TQDM_DISABLE": "1"})
        return json.loads(out.read_text())


def summary(record: dict) -> dict:
    """Medians over seeds and the ratios, per method."""
    out = {}
    for algo, runs in record["runs"].items():
        ours = [r for r in runs["irlax"] if r["updates_to_target"]]
        theirs = [r for r in runs["imitation"]["runs"]]
        run_s = _report.median([r["run_seconds"] for r in ours])
        with_compile = _report.median([r["run_seconds"] + r["compile_seconds"] for r in ours])
        peer_s = _report.median([r["seconds_to_target"] or r["train_seconds"] for r in theirs])
        per_update = _report.median([r["run_seconds"] / r["updates_to_target"] for r in ours])
        peer_per_update = _report.median(
            [(r["seconds_to_target"] or r["train_seconds"]) / len(r["returns"]) for r in theirs]
        )
        out[algo] = {
            "irlax_seconds_per_update": per_update,
            "imitation_seconds_per_update": peer_per_update,
            "ratio_per_update": peer_per_update / per_update,
            "irlax_run_seconds": run_s,
            "irlax_compile_and_run_seconds": with_compile,
            "imitation_seconds": peer_s,
            "imitation_all_reached": all(r["seconds_to_target"] for r in theirs),
            "irlax_all_reached": len(ours) == len(runs["irlax"]),
            "ratio_run": peer_s / run_s if run_s and peer_s else None,
            "ratio_with_compile": peer_s / with_compile if with_compile and peer_s else None,
        }
    return out


def render(record: dict) -> str:
    s = summary(record)
    lines = [
        "# BC and DAgger: irlax beside imitation 1.0.1 (CartPole-v1, wall time to R ≥ 475)",
        "",
        *_report.provenance(record),
        sources_line(record["sources"]),
        f"Machine: {record['machine']['cpu']}, {record['machine']['cores']} cores, load "
        f"average {record['machine']['load_before']:.1f} before and "
        f"{record['machine']['load_after']:.1f} after "
        f"({record['machine']['minutes']:.1f} min).",
        "",
        "Same demos (4 × 500 steps of the scripted controller; DAgger: the first one), each "
        "library's defaults (see `benchmarks/imitation_speed.py`). R = mean true return of 4 "
        "evaluation episodes after every update (BC: an epoch; DAgger: a round of 500 "
        "labelled steps and 4 epochs). Medians over seeds 0, 1, 2. The speed-up per update "
        "compares the time of one update (its evaluation included) and leaves out how many "
        "updates each library needs: irlax's BC standardises observations by the demos' "
        "statistics, imitation's does not, which is most of the difference in updates.",
        "",
    ]
    rows = []
    for algo, m in s.items():
        rows.append(
            [
                NAMES[algo],
                _report.fixed(m["irlax_run_seconds"], 3),
                _report.fixed(m["irlax_compile_and_run_seconds"], 1),
                _report.fixed(m["imitation_seconds"], 1)
                + ("" if m["imitation_all_reached"] else " (≥: a seed missed)"),
                _report.ratio(m["ratio_run"]),
                _report.ratio(m["ratio_with_compile"]),
                _report.verdict(None if m["ratio_run"] is None else m["ratio_run"] >= 10),
                _report.ratio(m["ratio_per_update"]),
            ]
        )
    lines += _report.table(
        [
            "method",
            "irlax run s",
            "irlax compile + run s",
            "imitation run s",
            "speed-up (compilation excluded)",
            "speed-up (included)",
            "≥ 10× target",
            "speed-up per update",
        ],
        rows,
    )
    lines += ["", "Per seed (updates to R ≥ 475; DAgger: expert labels, demo included):", ""]
    rows = []
    for algo, runs in record["runs"].items():
        for ours, theirs in zip(runs["irlax"], runs["imitation"]["runs"], strict=True):
            rows.append(
                [
                    NAMES[algo],
                    ours["seed"],
                    ours["updates_to_target"] or "not reached",
                    _report.fixed(ours.get("compile_seconds"), 1),
                    _report.fixed(ours.get("run_seconds"), 3),
                    ours.get("expert_labels_to_target") or "—",
                    theirs["updates_to_target"] or "not reached",
                    _report.fixed(theirs["setup_seconds"], 1),
                    _report.fixed(theirs["seconds_to_target"] or theirs["train_seconds"], 1),
                    (theirs.get("expert_labels_to_target") if algo == "dagger" else None) or "—",
                ]
            )
    lines += _report.table(
        [
            "method",
            "seed",
            "irlax updates",
            "compile s",
            "run s",
            "irlax labels",
            "imitation updates",
            "setup s",
            "run s",
            "imitation labels",
        ],
        rows,
    )
    labels = [
        r["expert_labels_to_target"]
        for r in record["runs"]["dagger"]["irlax"]
        if r.get("expert_labels_to_target")
    ]
    if labels:
        within = all(n <= 4 * 500 for n in labels)
        lines += [
            "",
            f"irlax DAgger reached R ≥ 475 with {', '.join(map(str, labels))} expert labels "
            f"(target: at most 4 trajectories' worth, 2000): {_report.verdict(within)}.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    if _report.render_only_main("imitation_speed", render):
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peer-python", default=str(ROOT / ".venv-peers" / "bin" / "python"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    start, load_before = time.perf_counter(), os.getloadavg()[0]
    sources = source_state()
    CACHE.mkdir(parents=True, exist_ok=True)
    with jax.enable_x64(False):
        env, params, demos = make_demos()
        demos_path = CACHE / "demos.npz"
        demos.save(demos_path)
        runs = {}
        for algo in ("bc", "dagger"):
            ours = [irlax_seed(algo, seed, env, params, demos) for seed in args.seeds]
            theirs = peer(algo, args.peer_python, args.seeds, demos_path)
            runs[algo] = {"irlax": ours, "imitation": theirs}
            print(algo, json.dumps(summary({"runs": {algo: runs[algo]}})[algo]), flush=True)
    record = {
        "benchmark": "imitation_speed",
        "sources": [sources, source_state()],
        "machine": _report.machine(load_before, os.getloadavg()[0], time.perf_counter() - start),
        "target": TARGET,
        "runs": runs,
    }
    text = _report.save(record, render, _report.results_path("imitation_speed"))
    print(text)


if __name__ == "__main__":
    main()
