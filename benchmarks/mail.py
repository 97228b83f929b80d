"""MAIL against TD alone and behaviour cloning alone on KeyDoor-v0 (Harmer et al. 2018).

The paper's finding to reproduce: imitation-regularised TD learning (MAIL) learns several
times faster than TD learning alone, and can pass the expert. On `KeyDoor-v0` (a random
layout per episode; a move and an act at every step; reward `1 − 0.9·t/40` for opening the
door with the key) the scripted expert presses one button at a time, so a learner that moves
and acts at once can beat it by two steps an episode.

Four methods, one network and one set of hyper-parameters, `irlax.algorithms.mail` with:

- MAIL: `td_weight = 1`, `imitation_weight = 1` decaying linearly to 0 (`imitation_decay_steps`),
  so that TD learning, guided early by the expert, can then pass it;
- MAIL with the imitation weight kept at 1 throughout;
- TD alone: `imitation_weight = 0` (Q-learning with the same heads, replay and exploration);
- BC alone: `td_weight = 0` (the same Q-network trained only on the cross-entropy of the
  expert's actions; neural BC of `irlax.algorithms.bc` was not committed when this was
  written). It still acts ε-greedily in the env, which is where its curve comes from, but
  learns nothing from it.

Each runs 5 seeds in one `jax.vmap`-ed call on the same demos. Reported: the training return
against env steps (`metrics['episode_return']`, the ε-greedy behaviour's), the env steps at
which it first reaches fractions of the expert's return, and the return of the final greedy
policy over fresh layouts. Writes benchmarks/results/mail.json, renders mail.md from it
(`--render-only [JSON]` re-renders) and plots mail.png; `--quick` is a smoke test.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from pathlib import Path

import _report
import numpy as np
from _report import source_state, sources_line

HERE = Path(__file__).resolve().parent
METHODS = {
    "mail": ("MAIL", {"td_weight": 1.0, "imitation_weight": 1.0}),
    "mail_constant": ("MAIL, imitation not decayed", {"td_weight": 1.0, "imitation_weight": 1.0}),
    "td": ("TD alone", {"td_weight": 1.0, "imitation_weight": 0.0}),
    "bc": ("BC alone", {"td_weight": 0.0, "imitation_weight": 1.0}),
}
DECAYED = ("mail",)
"""The methods whose imitation weight decays to 0 over `settings()["imitation_decay_steps"]`."""
FRACTIONS = (0.5, 0.9, 1.0)
"""Fractions of the expert's return whose first crossing is reported."""
SMOOTH = 25
"""Updates in the moving average of the training return before thresholds are read."""


def settings(quick: bool) -> dict:
    return {
        "env": "KeyDoor-v0",
        "demo_episodes": 100,
        "seeds": 2 if quick else 5,
        "eval_episodes": 200 if quick else 500,
        "expert_episodes": 2000,
        "imitation_decay_steps": 2_400 if quick else 60_000,
        "config": {
            "total_steps": 4_000 if quick else 200_000,
            "num_envs": 16,
            "rollout_length": 1,
            "gradient_steps": 4,
            "buffer_size": 50_000,
            "batch_size": 64,
            "expert_batch_size": 64,
            "learning_starts": 1_000,
            "learning_rate": 1e-3,
            "discount": 0.9,
            "imitation_temperature": 0.1,
            "epsilon_start": 1.0,
            "epsilon_end": 0.05,
            "epsilon_decay_steps": 2_000 if quick else 40_000,
            "target_period": 250,
            "loss": "huber",
            "hidden": (64, 64),
        },
    }


def log(*parts) -> None:
    print(time.strftime("%H:%M:%S"), *parts, flush=True)


def smoothed(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average over the last axis, NaN-aware (NaN until an episode ends)."""
    out = np.full_like(x, np.nan, dtype=np.float64)
    for t in range(x.shape[-1]):
        chunk = x[..., max(0, t - window + 1) : t + 1]
        with np.errstate(all="ignore"):
            out[..., t] = np.nanmean(chunk, axis=-1)
    return out


def first_crossing(curve: np.ndarray, steps: np.ndarray, level: float, warmup: int):
    """The env steps at the first update from `warmup` env steps on whose smoothed return is
    >= level; None if never. Before every env has finished an episode the mean return is
    over the few that have, which are the lucky fast ones, so it is not read."""
    valid = np.nan_to_num(curve, nan=-np.inf) >= level
    hit = np.flatnonzero(valid & (steps >= warmup))
    return int(steps[hit[0]]) if hit.size else None


def run(s: dict) -> dict:
    import jax

    from irlax.algorithms import mail
    from irlax.data import rollout
    from irlax.envs import make
    from irlax.envs.key_door import expert

    env, params = make(s["env"])
    demos = rollout(env, expert, s["demo_episodes"], jax.random.key(0), params)
    expert_runs = rollout(env, expert, s["expert_episodes"], jax.random.key(1), params)
    expert_returns = np.asarray(expert_runs.rewards).sum(1)
    expert_return = float(expert_returns.mean())
    log(f"expert return {expert_return:.4f} over {s['expert_episodes']} layouts")
    keys = jax.random.split(jax.random.key(2), s["seeds"])
    out = {
        "expert_return": expert_return,
        "expert_length": float(np.asarray(expert_runs.lengths).mean()),
        "demo_transitions": int(np.asarray(demos.lengths).sum()),
        "methods": {},
    }
    for name, (label, weights) in METHODS.items():
        decay = s["imitation_decay_steps"] if name in DECAYED else None
        config = mail.MAILConfig(**s["config"], **weights, imitation_decay_steps=decay)
        train = jax.jit(jax.vmap(mail.make_train(config, env, params, demos)))
        t = time.perf_counter()
        compiled = train.lower(keys).compile()
        compile_s = time.perf_counter() - t
        t = time.perf_counter()
        result = jax.block_until_ready(compiled(keys))
        run_s = time.perf_counter() - t
        metrics = {k: np.asarray(v) for k, v in result.metrics.items()}
        steps = metrics["env_steps"][0]
        # Every env has ended an episode once each has taken an episode's worth of steps.
        warmup = config.num_envs * params.max_steps_in_episode
        returns = np.where(steps >= warmup, metrics["episode_return"], np.nan)
        curve = smoothed(returns, SMOOTH)
        greedy, success = [], []
        for i in range(s["seeds"]):
            policy = jax.tree.map(lambda x, i=i: x[i], result.policy)
            act = functools.partial(policy.policy, deterministic=True)
            ev = rollout(env, act, s["eval_episodes"], jax.random.key(100 + i), params)
            greedy.append(float(np.asarray(ev.rewards).sum(1).mean()))
            success.append(float(np.asarray(ev.terminated).mean()))
        points = np.unique(np.linspace(0, len(steps) - 1, 60).astype(int))
        out["methods"][name] = {
            "label": label,
            "weights": weights,
            "imitation_decay_steps": decay,
            "compile_s": compile_s,
            "run_s": run_s,
            "steps": steps[points].tolist(),
            "curve": curve[:, points].tolist(),
            "expert_accuracy": smoothed(metrics["expert_accuracy"], SMOOTH)[:, points].tolist(),
            "final_training_return": np.nanmean(returns[:, -SMOOTH:], 1).tolist(),
            "warmup_steps": warmup,
            "greedy_return": greedy,
            "greedy_success": success,
            "crossings": {
                str(f): [first_crossing(c, steps, f * expert_return, warmup) for c in curve]
                for f in FRACTIONS
            },
        }
        log(
            f"{label}: compile {compile_s:.1f} s, run {run_s:.1f} s, greedy return "
            f"{np.mean(greedy):.3f} (success {np.mean(success):.2f})"
        )
    return out


def main(argv=None) -> None:
    if _report.render_only_main("mail", render, argv):
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke test, to benchmarks/.cache")
    parser.add_argument("--out", help="the JSON to write")
    parser.add_argument("--render-only", nargs="?", help="re-render the report from a JSON")
    args = parser.parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", False)
    s = settings(args.quick)
    out = Path(
        args.out
        or (HERE / ".cache" / "mail_quick.json" if args.quick else _report.results_path("mail"))
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    load_before, source_before = os.getloadavg()[0], source_state()
    start = time.perf_counter()
    record = {
        "benchmark": "mail",
        "quick": args.quick,
        "command": "python benchmarks/mail.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "settings": s,
        "keydoor": run(s),
    }
    elapsed = time.perf_counter() - start
    record["machine"] = _report.jax_machine(load_before, elapsed)
    record["sources"] = sources_line((source_before, source_state()))
    _report.save(record, render, out)
    plot(record, out.with_suffix(".png"))
    log(f"wrote {out} and its .md and .png ({elapsed / 60:.1f} min)")


# --------------------------------------------------------------------------- report

_f = _report.fixed


def _median_steps(values):
    reached = [v for v in values if v is not None]
    if len(reached) * 2 <= len(values):  # fewer than half the seeds: no median
        return None
    ordered = sorted(v if v is not None else float("inf") for v in values)
    mid = len(ordered) // 2
    value = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return None if value == float("inf") else value


def _steps_text(values) -> str:
    n = sum(v is not None for v in values)
    median = _median_steps(values)
    text = f"{median:,.0f}" if median is not None else "not reached"
    return f"{text} ({n}/{len(values)} seeds)"


def render(record: dict) -> str:
    s, k = record["settings"], record["keydoor"]
    c = s["config"]
    m = record["machine"]
    expert = k["expert_return"]
    budget = c["total_steps"]
    lines = [
        "# MAIL: imitation-regularised TD with concurrent actions (KeyDoor-v0)",
        "",
        f"Written by `benchmarks/mail.py`; command: `{record['command']}`.",
        "",
        *_report.provenance(record),
        f"Machine: {m['platform']}, {m['cpu']}, {m['cores']} cores (load average "
        f"{m['load_before']:.1f} before, {m['load_after']:.1f} after the "
        f"{m['minutes']:.1f}-minute run), Python {m['python']}, JAX {m['jax']} on "
        f"{m['jax_backend']} (float32).",
        "",
        record["sources"],
        "",
        *(
            [
                f"**Other jobs shared the {m['cores']} cores during this run (load average "
                f"{m['load_before']:.1f} before): its times are noisy.** Returns and env steps "
                "do not depend on the load (each run is a pure function of its keys).",
                "",
            ]
            if m["load_before"] > 0.5 * m["cores"]
            else []
        ),
        "**What is measured.** Harmer et al. (2018) report that imitation-regularised TD "
        "learning (MAIL) learns several times faster than TD learning alone and goes on to "
        "pass its expert. Here on `KeyDoor-v0` (5×5 grid, a fresh random layout every "
        "episode, a move and an act at every step, reward `1 − 0.9·t/40` for opening the "
        "door with the key), from "
        f"{s['demo_episodes']} episodes of the scripted one-button-at-a-time expert "
        f"({k['demo_transitions']} transitions). Its return over {s['expert_episodes']} "
        f"layouts is **{expert:.3f}** ({k['expert_length']:.2f} steps an episode). "
        f"{len(k['methods'])} methods share one network and every setting but their loss "
        "weights (MAIL's imitation weight decays linearly to 0 over "
        f"{s['imitation_decay_steps']:,} env steps, after which it is TD learning alone); "
        f"{s['seeds']} seeds each, one "
        "`jax.vmap`-ed call. *Training return*: `metrics['episode_return']` (the last "
        "finished episode of each of the 16 envs under the ε-greedy behaviour, averaged), "
        f"smoothed over {SMOOTH} updates and read from the update at which every env has "
        f"finished an episode ({k['methods']['mail']['warmup_steps']:,} env steps) on; "
        "*env steps to x·expert*: the first update at which "
        "that reaches x times the expert's return (median over the seeds, when at least half "
        "reach it); *greedy return*: the final policy, greedy in every group, over "
        f"{s['eval_episodes']} fresh layouts per seed.",
        "",
    ]
    header = ["method", "weights (TD, imitation)"]
    header += [f"env steps to {f:g}·expert" for f in FRACTIONS]
    header += ["final training return", "greedy return", "greedy success", "run s"]
    rows = []
    for r in k["methods"].values():
        w = r["weights"]
        weights = f"{w['td_weight']:g}, {w['imitation_weight']:g}"
        if r.get("imitation_decay_steps"):
            weights += f" → 0 over {r['imitation_decay_steps']:,} steps"
        rows.append(
            [
                r["label"],
                weights,
                *[_steps_text(r["crossings"][str(f)]) for f in FRACTIONS],
                f"{np.mean(r['final_training_return']):.3f} ± "
                f"{np.std(r['final_training_return']):.3f}",
                f"{np.mean(r['greedy_return']):.3f} ± {np.std(r['greedy_return']):.3f}",
                f"{np.mean(r['greedy_success']):.2f}",
                _f(r["run_s"], 1),
            ]
        )
    lines += [f"## Return against env steps (budget {budget:,} env steps)", ""]
    lines += _report.table(header, rows)
    lines += ["", "![MAIL, TD alone and BC alone on KeyDoor-v0](mail.png)", ""]
    lines += ["## Conclusions", ""]
    mail_r, td_r = k["methods"]["mail"], k["methods"]["td"]
    for f in FRACTIONS:
        ours = _median_steps(mail_r["crossings"][str(f)])
        theirs = _median_steps(td_r["crossings"][str(f)])
        if ours is None:
            lines.append(f"- {f:g}·expert: MAIL does not reach it within {budget:,} steps.")
        elif theirs is None:
            lines.append(
                f"- {f:g}·expert: MAIL reaches it in {ours:,.0f} env steps (median); TD alone "
                f"does not within {budget:,}, so MAIL is at least "
                f"**{_report.ratio(budget / ours)} faster** here."
            )
        else:
            lines.append(
                f"- {f:g}·expert: MAIL {ours:,.0f}, TD alone {theirs:,.0f} env steps: MAIL "
                f"is **{_report.ratio(theirs / ours)}** as fast."
            )
    passed = [c is not None for c in mail_r["crossings"]["1.0"]]
    final = np.mean(mail_r["final_training_return"])
    lines.append(
        f"- Passing the expert: MAIL's training return passes the expert's {expert:.3f} in "
        f"{sum(passed)} of {len(passed)} seeds and ends at {final:.3f}; its final greedy "
        f"policy scores {np.mean(mail_r['greedy_return']):.3f} (it opens the door on "
        f"{np.mean(mail_r['greedy_success']):.0%} of the layouts)."
    )
    mean_curve = np.nanmean(np.asarray(mail_r["curve"], float), 0)
    peak = int(np.nanargmax(mean_curve))
    lines.append(
        f"- MAIL's training return (mean over seeds) peaks at {mean_curve[peak]:.3f} at "
        f"{mail_r['steps'][peak]:,} env steps and ends at {mean_curve[-1]:.3f}."
    )
    constant = k["methods"].get("mail_constant")
    if constant is not None:
        decayed, kept = np.mean(mail_r["greedy_return"]), np.mean(constant["greedy_return"])
        word = _report.comparison(decayed, kept, smaller="below", larger="above")
        trained = np.mean(mail_r["final_training_return"])
        kept_trained = np.mean(constant["final_training_return"])
        lines.append(
            f"- Decaying the imitation weight: MAIL's final training return {trained:.3f} "
            f"against {kept_trained:.3f} with the weight kept constant; its final greedy "
            f"return {decayed:.3f}, {word} {kept:.3f}."
        )
    bc_r = k["methods"]["bc"]
    word = _report.comparison(
        np.mean(mail_r["greedy_return"]),
        np.mean(bc_r["greedy_return"]),
        smaller="below",
        larger="above",
    )
    lines.append(f"- MAIL's final greedy return is {word} BC alone's.")
    for r in k["methods"].values():
        g = np.mean(r["greedy_return"])
        word = _report.comparison(g, expert, smaller="below", larger="above")
        lines.append(
            f"- {r['label']}: final greedy return {g:.3f}, {word} the expert's {expert:.3f} "
            f"({_report.percent(g, expert)})."
        )
    lines += [
        "",
        "Settings (`MAILConfig`): "
        + ", ".join(f"{key}={value}" for key, value in c.items())
        + "; every other field at its default (`double_q=True`: the double Q-learning "
        "target; exploration ε-greedy per action group). The discount 0.9 and the imitation "
        "temperature 0.1 keep the cross-entropy from inflating the Q-values that TD "
        "bootstraps from (see `irlax.algorithms.mail`): with the paper-like 0.99 and 1, on "
        "48k env steps, MAIL's Q-values rose to 4 (true values at most 1) and its return "
        "fell from 0.71 to 0.54.",
        "",
    ]
    return "\n".join(lines)


def plot(record: dict, path: Path) -> None:
    """Training return (mean ± std over seeds) against env steps; expert-action agreement."""
    from irlax import plots

    plt = plots.plt
    k = record["keydoor"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for r in k["methods"].values():
        steps = np.asarray(r["steps"])
        curve = np.asarray(r["curve"], float)
        mean, std = np.nanmean(curve, 0), np.nanstd(curve, 0)
        axes[0].plot(steps, mean, label=r["label"])
        axes[0].fill_between(steps, mean - std, mean + std, alpha=0.2)
        accuracy = np.asarray(r["expert_accuracy"], float)
        axes[1].plot(steps, np.nanmean(accuracy, 0), label=r["label"])
    axes[0].axhline(k["expert_return"], color="k", ls="--", lw=0.8, label="scripted expert")
    axes[0].set_xlabel("env steps")
    axes[0].set_ylabel(f"training return (smoothed over {SMOOTH} updates)")
    axes[0].set_title("KeyDoor-v0: return against env steps")
    axes[0].legend()
    axes[1].set_xlabel("env steps")
    axes[1].set_ylabel("greedy joint action = expert's (expert batches)")
    axes[1].set_title("agreement with the expert")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
