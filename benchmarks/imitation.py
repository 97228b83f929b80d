"""Imitation without adversaries (BC, DAgger, IQ-Learn) on Ho & Ermon's classic-control table.

Ho & Ermon (2016, Fig. 1) learn CartPole, Acrobot and MountainCar from 1, 4, 7 and 10 expert
trajectories. Here neural behaviour cloning (`bc.NeuralBCConfig`), DAgger (`dagger`, the
expert labelling every state its learner visits) and IQ-Learn (`iqlearn`, offline from the
demos alone, and online with the learner's own transitions) learn from the same demos and
experts as `benchmarks/adversarial.py` (CartPole: the scripted linear controller; Acrobot: a
PPO expert trained here, the best of a few seeds; MountainCar: value iteration on a fine grid
of its known dynamics), 5 seeds per cell in one `jax.vmap`-ed call. Each seed's final policy
is evaluated on 10 fresh episodes (true reward); reported: mean ± std over seeds of that return
and of the normalised score `(score − random) / (expert − random)`, beside GAIL and AIRL from
`results/adversarial.json` where that run exists.

Targets (the issue's): IQ-Learn offline ≥ 0.95 normalised from one CartPole trajectory;
DAgger at the expert with at most 4 trajectories' worth of expert labels (its labels are
counted per round, and the report gives the labels it had, the demos' included, when its
evaluation first passed 0.95).

    nice -n 10 .venv/bin/python benchmarks/imitation.py [--quick] [--envs CartPole-v1,...]

writes benchmarks/results/imitation.json and renders imitation.md from it (`--render-only
[JSON]` re-renders). `--quick` is a smoke test written to the git-ignored benchmarks/.cache/.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import _report
import numpy as np
from _report import source_state, sources_line
from adversarial import (
    EVAL_EPISODES,
    REFERENCE_EPISODES,
    TARGET_SCORE,
    classic_expert,
    config_dict,
    log,
    normalised,
    returns_of,
    seed_keys,
    take,
    timed_train,
)

HERE = Path(__file__).resolve().parent
ENVS = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0")
METHODS = {
    "bc": "BC",
    "dagger": "DAgger",
    "iq_offline": "IQ-Learn offline",
    "iq_online": "IQ-Learn online",
}
ADVERSARIAL = {"gail": "GAIL", "airl": "AIRL"}


def settings(quick: bool) -> dict:
    if quick:
        return {
            "seeds": 2,
            "trajectories": [1, 4],
            "acrobot_expert_steps": 20_000,
            "expert_seeds": 2,
            "bc_epochs": 5,
            "dagger_rounds": 3,
            "iq_updates": 200,
            "iq_online_updates": 200,
        }
    return {
        "seeds": 5,
        "trajectories": [1, 4, 7, 10],
        "acrobot_expert_steps": 200_000,
        "expert_seeds": 2,
        "bc_epochs": 50,
        "dagger_rounds": 10,
        "iq_updates": 3000,
        "iq_online_updates": 5000,
    }


def method_configs(s: dict) -> dict:
    from irlax.algorithms import bc, dagger, iqlearn

    return {
        "bc": bc.NeuralBCConfig(epochs=s["bc_epochs"]),
        "dagger": dagger.DAggerConfig(rounds=s["dagger_rounds"]),
        "iq_offline": iqlearn.IQLearnConfig(updates=s["iq_updates"]),
        "iq_online": iqlearn.IQLearnConfig(online=True, updates=s["iq_online_updates"]),
    }


def make_train(method: str, config, env, params, demos, expert):
    from irlax.algorithms import bc, dagger, iqlearn

    if method == "bc":
        return bc.make_train(config, env, params, demos)
    if method == "dagger":
        return dagger.make_train(config, env, params, demos, expert)
    return iqlearn.make_train(config, env, params, demos)


def classic_control(s: dict, envs) -> dict:
    import jax

    configs = method_configs(s)
    out = {}
    for e, name in enumerate(ENVS):
        if name not in envs:
            continue
        env, params, act, entry, demos_all = classic_expert(name, s)
        entry["configs"] = {m: config_dict(c) for m, c in configs.items()}
        cells = {m: {} for m in configs}
        for n in s["trajectories"]:
            demos = jax.tree.map(lambda x, n=n: x[:n], demos_all)
            for m, config in configs.items():
                keys = seed_keys(1000 * (e + 1) + n, s["seeds"])
                train = jax.vmap(make_train(m, config, env, params, demos, act))
                result, c, r = timed_train(train, keys)
                evals = [
                    returns_of(
                        env,
                        take(result.policy, i).policy,
                        EVAL_EPISODES,
                        jax.random.key(5000 + i),
                        params,
                    ).tolist()
                    for i in range(s["seeds"])
                ]
                cell = {"eval_returns": evals, "compile_seconds": c, "run_seconds": r}
                metrics = result.metrics
                cell["env_steps"] = np.asarray(metrics["env_steps"])[:, -1].tolist()
                if m == "dagger":
                    cell["expert_labels"] = np.asarray(metrics["expert_labels"]).tolist()
                    cell["round_returns"] = np.asarray(metrics["episode_return"]).tolist()
                cells[m][str(n)] = cell
                means = [float(np.mean(x)) for x in evals]
                log(f"  {name} {m} N={n}: {np.round(means, 1)} compile {c:.0f}s run {r:.0f}s")
        entry["cells"] = cells
        out[name] = entry
    return out


def main(argv=None) -> None:
    if _report.render_only_main("imitation", render, argv):
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke test, to benchmarks/.cache")
    parser.add_argument("--envs", default=",".join(ENVS))
    parser.add_argument("--out", help="the JSON to write")
    parser.add_argument("--render-only", nargs="?", help="re-render the report from a JSON")
    args = parser.parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", False)
    s = settings(args.quick)
    out = Path(
        args.out
        or (
            HERE / ".cache" / "imitation_quick.json"
            if args.quick
            else _report.results_path("imitation")
        )
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    load_before, source_before = os.getloadavg()[0], source_state()
    start = time.perf_counter()
    record = {
        "benchmark": "imitation",
        "quick": args.quick,
        "command": "python benchmarks/imitation.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "settings": s,
        "classic": classic_control(s, args.envs.split(",")),
    }
    adversarial = _report.results_path("adversarial")
    if adversarial.exists():
        record["adversarial"] = _adversarial_scores(_report.load(adversarial))
    elapsed = time.perf_counter() - start
    record["machine"] = _report.jax_machine(load_before, elapsed)
    record["sources"] = sources_line((source_before, source_state()))
    _report.save(record, render, out)
    plot(record, out.with_suffix(".png"))
    log(f"wrote {out}, {out.with_suffix('.md')} and .png ({elapsed / 60:.1f} min)")


def _adversarial_scores(record: dict) -> dict:
    """GAIL's and AIRL's normalised scores per env and N, from the adversarial run."""
    scores = {}
    for name, e in record.get("classic", {}).items():
        scores[name] = {
            m: {
                n: normalised(seed_scores(cell), e["random_return"], e["expert_return"]).tolist()
                for n, cell in e["cells"][m].items()
            }
            for m in ADVERSARIAL
        }
    return scores


# --------------------------------------------------------------------------- report

_f = _report.fixed


def seed_scores(cell: dict) -> np.ndarray:
    return np.asarray([np.mean(x) for x in cell["eval_returns"]])


def _pm(values, digits: int = 2) -> str:
    values = np.asarray(values, np.float64)
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def labels_to_expert(cell: dict, e: dict, n: int) -> list:
    """Per seed: the expert labels DAgger held when its evaluation first reached
    `TARGET_SCORE` normalised, the N demos' transitions included (None when it never did)."""
    demo_labels = int(np.sum(e["demo_lengths"][:n]))
    out = []
    for labels, returns in zip(cell["expert_labels"], cell["round_returns"], strict=True):
        score = normalised(np.asarray(returns, np.float64), e["random_return"], e["expert_return"])
        reached = np.flatnonzero(np.nan_to_num(score, nan=-np.inf) >= TARGET_SCORE)
        out.append(demo_labels + int(labels[reached[0]]) if reached.size else None)
    return out


def plot(record: dict, path: Path) -> None:
    """Normalised score against the number of demonstrations, one panel per env: every
    method's mean ± std over seeds, GAIL and AIRL from the adversarial run where present."""
    from irlax import plots

    plt = plots.plt
    s, adversarial = record["settings"], record.get("adversarial", {})
    envs = list(record["classic"].items())
    fig, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 4), squeeze=False)
    ns = np.asarray(s["trajectories"])
    for ax, (name, e) in zip(axes[0], envs, strict=True):
        for method, label in METHODS.items():
            scores = [
                normalised(
                    seed_scores(e["cells"][method][str(n)]), e["random_return"], e["expert_return"]
                )
                for n in ns
            ]
            mean, std = np.array([x.mean() for x in scores]), np.array([x.std() for x in scores])
            ax.errorbar(ns, mean, yerr=std, marker="o", capsize=3, label=label)
        for method, label in ADVERSARIAL.items() if name in adversarial else ():
            cells = adversarial[name][method]
            scores = [np.asarray(cells[str(n)]) for n in ns if str(n) in cells]
            shown = [n for n in ns if str(n) in cells]
            ax.errorbar(
                shown,
                [x.mean() for x in scores],
                yerr=[x.std() for x in scores],
                marker="s",
                ls="--",
                capsize=3,
                label=label,
            )
        ax.axhline(1.0, color="k", lw=0.8, ls=":", label="expert")
        ax.set_title(name)
        ax.set_xlabel("expert trajectories N")
        ax.set_xticks(ns)
        ax.set_ylabel("normalised score")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def render(record: dict) -> str:
    s = record["settings"]
    m = record["machine"]
    adversarial = record.get("adversarial", {})
    lines = [
        "# Imitation without adversaries: BC, DAgger, IQ-Learn on Ho & Ermon's classic control",
        "",
        f"{s['seeds']} seeds per cell (one vmapped call), N expert trajectories; each seed's "
        f"final policy evaluated on {EVAL_EPISODES} fresh episodes; normalised score "
        "(return − random) / (expert − random), mean ± std over seeds. Configs: BC "
        f"`NeuralBCConfig(epochs={s['bc_epochs']})`, DAgger `DAggerConfig(rounds="
        f"{s['dagger_rounds']})` (its BC: 4 epochs per round), IQ-Learn offline "
        f"`IQLearnConfig(updates={s['iq_updates']})` and online `IQLearnConfig(online=True, "
        f"updates={s['iq_online_updates']})`; defaults otherwise. GAIL and AIRL: "
        "`results/adversarial.md` (their own run)."
        + ("" if adversarial else " (No adversarial run was found to put beside them.)"),
        "",
        f"Machine: {m['cpu']}, JAX {m['jax']} ({m['jax_backend']}); {m['minutes']:.1f} "
        f"min in all. {record['sources']}",
        "",
    ]
    skipped = [name for name in ENVS if name not in record["classic"]]
    if skipped:
        lines += [f"Not run this time (`--envs`): {', '.join(skipped)}.", ""]
    lines += [
        "![Normalised score against the number of expert trajectories, per env](imitation.png)",
        "",
    ]
    verdicts = []
    for name, e in record["classic"].items():
        lines += [
            f"## {name}",
            "",
            f"Expert {e['expert_return']:.1f}, random {e['random_return']:.1f} (means over "
            f"{REFERENCE_EPISODES} episodes); demos' returns "
            f"{', '.join(_f(x, 0) for x in e['demo_returns'])}.",
            "",
        ]
        header = ["N", *METHODS.values(), *(ADVERSARIAL.values() if name in adversarial else ())]
        rows = []
        for n in s["trajectories"]:
            row = [str(n)]
            for method in METHODS:
                cell = e["cells"][method][str(n)]
                row.append(
                    _pm(normalised(seed_scores(cell), e["random_return"], e["expert_return"]))
                )
            for method in ADVERSARIAL if name in adversarial else ():
                scores = adversarial[name][method].get(str(n))
                row.append(_pm(scores) if scores is not None else "")
            rows.append(row)
        lines += _report.table(header, rows)
        lines.append("")
        trajectory = float(np.mean(e["demo_lengths"]))
        for n in s["trajectories"]:
            labels = labels_to_expert(e["cells"]["dagger"][str(n)], e, n)
            reached = [x for x in labels if x is not None]
            text = (
                f"median {np.median(reached):.0f} labels ({np.median(reached) / trajectory:.1f} "
                f"trajectories' worth)"
                if reached
                else "never"
            )
            lines.append(
                f"- DAgger, N={n}: reached {TARGET_SCORE} normalised in {len(reached)} of "
                f"{len(labels)} seeds; {text}."
            )
        lines.append("")
        times = ["method"] + [f"N={n} compile / run (s)" for n in s["trajectories"]]
        trow = [
            [label]
            + [
                f"{e['cells'][method][str(n)]['compile_seconds']:.0f} / "
                f"{e['cells'][method][str(n)]['run_seconds']:.0f}"
                for n in s["trajectories"]
            ]
            for method, label in METHODS.items()
        ]
        lines += _report.table(times, trow)
        lines.append("")
        if name == "CartPole-v1" and "1" in e["cells"]["iq_offline"]:
            score = normalised(
                seed_scores(e["cells"]["iq_offline"]["1"]), e["random_return"], e["expert_return"]
            ).mean()
            verdicts.append(
                f"IQ-Learn offline from one CartPole trajectory: {score:.2f} normalised "
                f"(target ≥ {TARGET_SCORE}: {'met' if score >= TARGET_SCORE else 'missed'})."
            )
        if name == "CartPole-v1":
            n = min(s["trajectories"])  # the fewest demos: the fewest labels to begin with
            labels = labels_to_expert(e["cells"]["dagger"][str(n)], e, n)
            if None in labels:
                verdicts.append(f"DAgger on CartPole from N={n}: not every seed reached it.")
            else:
                worth = np.median(labels) / trajectory
                verdicts.append(
                    f"DAgger on CartPole from N={n} reaches the expert with a median {worth:.1f} "
                    f"trajectories' worth of expert labels, the demos' included (target ≤ 4: "
                    f"{'met' if worth <= 4 else 'missed'})."
                )
    if verdicts:
        lines += ["## Targets", ""] + [f"- {v}" for v in verdicts] + [""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
