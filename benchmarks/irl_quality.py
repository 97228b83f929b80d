"""Quality of the tabular IRL methods as in Wulfmeier et al. (2016), Fig. 5.

Objectworld 32×32 with 2 colours (continuous and discrete features) and binaryworld 32×32;
N ∈ {8, 16, 32, 64, 128} demonstrations of the optimal policy with 30% random actions, of
`--length` steps each. For every N and seed a fresh world is drawn; the seeds of one N are
fitted in a single `jax.vmap`-ed call. Reported: the expected value difference (Levine 11) on
the training world and, for the methods whose reward is a function of features, on 5 fresh
transfer worlds, mean ± std over seeds; and the wall time per fit (the vmapped call's time
divided by the seeds, compilation excluded, then included).

    python benchmarks/irl_quality.py [--seeds 5] [--quick]

writes the measurements to benchmarks/results/irl_quality.json and renders irl_quality.md
(`--render-only` re-renders it without running) and irl_quality.png from them.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import _report
import numpy as np

HERE = Path(__file__).resolve().parent


def methods() -> dict:
    """Every method with the options it is run with, and whether its reward is a function of
    the features (and so transfers to a new world). Imported here, so that rendering a saved
    report needs no irlax."""
    from irlax.algorithms import apprenticeship, bc, maxent, mmp
    from irlax.nets import MLPReward

    deep = MLPReward(hidden=(32, 32))
    return {
        "maxent (linear)": (maxent, {"steps": 200, "learning_rate": 0.05}, True),
        "deep maxent": (
            maxent,
            {"steps": 200, "learning_rate": 0.01, "l2": 1e-3, "reward_model": deep},
            True,
        ),
        "apprenticeship": (apprenticeship, {}, True),
        "mmp": (mmp, {}, True),
        "bc": (bc, {}, False),
    }


def world(kind: str, key, size: int):
    from irlax.envs import binaryworld, objectworld

    if kind == "binaryworld":
        return binaryworld(key, size)
    return objectworld(key, size, features=kind.split("-")[1])


def stack(trees):
    """Stack pytrees of one structure on a new leading axis (MDPs rebuilt without checks)."""
    import jax
    import jax.numpy as jnp

    from irlax.data import Trajectories

    if isinstance(trees[0], Trajectories):
        return Trajectories.stack(trees)
    return jax.tree.map(lambda *x: jnp.stack(x), *trees)


def reward_in(result, module, options, mdp):
    """The learned reward of a feature-based model evaluated on another world's features."""
    from irlax.algorithms import maxent
    from irlax.nets import LinearReward

    if module is maxent:
        model = options.get("reward_model") or LinearReward()
        return model.apply(result.params, mdp.features)
    return mdp.features @ result.params


def run_cell(kind, n_demos, seeds, size, length, transfer_worlds):
    """All methods for one world kind and demo count, vmapped over seeds."""
    import jax
    import jax.numpy as jnp

    from irlax import metrics
    from irlax.algorithms import bc
    from irlax.envs import noisy_expert_demos

    keys = [jax.random.key(1000 * seed + n_demos) for seed in range(seeds)]
    worlds = [world(kind, k, size) for k in keys]
    mdps = [m for m, _ in worlds]
    truths = [r for _, r in worlds]
    demos = [
        noisy_expert_demos(m, r, n_demos, jax.random.fold_in(k, 1), length=length)
        for (m, r), k in zip(worlds, keys, strict=True)
    ]
    batch = (stack(mdps), stack(demos), jnp.stack([jax.random.fold_in(k, 2) for k in keys]))
    rows = {}
    for name, (module, options, transfers) in methods().items():

        def fit(mdp, demos, key, module=module, options=options):
            return module.fit(mdp, demos, key=key, **options)

        fit_all = jax.jit(jax.vmap(fit))
        start = time.perf_counter()
        results = jax.block_until_ready(fit_all(*batch))
        first = time.perf_counter() - start
        start = time.perf_counter()
        results = jax.block_until_ready(fit_all(*batch))
        warm = time.perf_counter() - start
        evd, evd_transfer = [], []
        for i, (mdp, truth) in enumerate(zip(mdps, truths, strict=True)):
            result = jax.tree.map(lambda x, i=i: x[i], results)
            if module is bc:
                evd.append(
                    metrics.expected_value_difference(mdp, truth, log_policy=result.plan.log_policy)
                )
            else:
                evd.append(metrics.expected_value_difference(mdp, truth, result.reward))
            if transfers:
                for other, other_truth in transfer_worlds:
                    learned = reward_in(result, module, options, other)
                    evd_transfer.append(
                        metrics.expected_value_difference(other, other_truth, learned)
                    )
        rows[name] = {
            "evd": [float(x) for x in evd],
            "evd_transfer": [float(x) for x in evd_transfer] or None,
            "seconds_per_fit_warm": warm / seeds,
            "seconds_per_fit_first": first / seeds,
        }
        print(kind, n_demos, name, f"EVD {np.mean(evd):.3f}", f"{warm / seeds:.3f} s/fit")
    return rows


def summarise(values):
    if not values:
        return "—"
    return f"{np.mean(values):.2f} ± {np.std(values):.2f}"


def main() -> None:
    if _report.render_only_main("irl_quality", render):
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--length", type=int, default=32, help="steps per demonstration")
    parser.add_argument("--demos", default="8,16,32,64,128")
    parser.add_argument(
        "--kinds", default="objectworld-continuous,objectworld-discrete,binaryworld"
    )
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--render-only", nargs="?", help="re-render the report from a JSON")
    args = parser.parse_args()
    import jax

    counts = [int(n) for n in args.demos.split(",")]
    kinds = args.kinds.split(",")
    results = {}
    for kind in kinds:
        transfer = [world(kind, jax.random.key(10**6 + i), args.size) for i in range(5)]
        results[kind] = {
            str(n): run_cell(kind, n, args.seeds, args.size, args.length, transfer) for n in counts
        }
    record = {
        "benchmark": "irl_quality",
        "machine": {
            "platform": platform.machine(),
            "system": platform.system(),
            "jax": jax.__version__,
            "device": jax.devices()[0].platform,
        },
        "seeds": args.seeds,
        "size": args.size,
        "length": args.length,
        "counts": counts,
        "kinds": kinds,
        "methods": list(methods()),
        "results": results,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _report.save(record, render, out / "irl_quality.json")
    plot(record, out / "irl_quality.png")


def render(record: dict) -> str:
    """The report of a saved run (`record` as `main` writes it)."""
    m, counts, results = record["machine"], record["counts"], record["results"]
    size = record["size"]
    lines = [
        "# IRL quality: expected value difference on objectworld and binaryworld",
        "",
        "Written by `benchmarks/irl_quality.py` (Wulfmeier et al. 2016, Fig. 5 protocol): "
        f"{size}×{size} worlds, demos of {record['length']} steps from the optimal policy "
        f"with 30% random actions, {record['seeds']} seeds per cell (a fresh world per seed, all "
        "seeds fitted in one vmapped call), mean ± std. Transfer: the learned reward applied to "
        "5 fresh worlds' features (BC learns a policy, which does not transfer). Lower is better.",
        "",
        f"Machine: {m['platform']}, {m['system']}, JAX {m['jax']} on {m['device']}; float32.",
        "",
        *_report.provenance(record),
    ]
    header = ["method", *(f"N = {n}" for n in counts)]
    for kind in record["kinds"]:
        cells = results[kind]
        for label, key in (("training world", "evd"), ("transfer worlds", "evd_transfer")):
            lines += [f"## {kind}: EVD on the {label}", ""]
            rows = [
                [name, *(summarise(cells[str(n)][name][key]) for n in counts)]
                for name in record["methods"]
            ]
            lines += [*_report.table(header, rows), ""]
            if key == "evd":
                lines += [_best(cells, record["methods"], counts), ""]
        lines += [f"## {kind}: seconds per fit (warm; first call with compilation)", ""]
        rows = [
            [
                name,
                *(
                    f"{cells[str(n)][name]['seconds_per_fit_warm']:.2f} "
                    f"({cells[str(n)][name]['seconds_per_fit_first']:.1f})"
                    for n in counts
                ),
            ]
            for name in record["methods"]
        ]
        lines += [*_report.table(header, rows), ""]
    return "\n".join(lines)


def _best(cells: dict, methods: list[str], counts: list[int]) -> str:
    """Which method has the lowest mean EVD on the training world at each N, from the numbers."""
    best = []
    for n in counts:
        means = {name: float(np.mean(cells[str(n)][name]["evd"])) for name in methods}
        winner = min(means, key=means.get)
        best.append(f"N = {n}: {winner} ({means[winner]:.2f})")
    return "Lowest mean EVD: " + ", ".join(best) + "."


def plot(record: dict, path) -> None:
    """Mean ± std of the training-world EVD against N, one panel per world kind."""
    from irlax import plots

    counts, kinds, results = record["counts"], record["kinds"], record["results"]
    fig, axes = plots.plt.subplots(1, len(kinds), figsize=(5.2 * len(kinds), 4), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        for name in record["methods"]:
            means = [np.mean(results[kind][str(n)][name]["evd"]) for n in counts]
            stds = [np.std(results[kind][str(n)][name]["evd"]) for n in counts]
            ax.errorbar(counts, means, yerr=stds, label=name, marker="o", capsize=3)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("demonstrations N")
        ax.set_ylabel("expected value difference")
        ax.set_title(kind)
    axes[0][0].legend()
    plots.save(fig, path)


if __name__ == "__main__":
    main()
