"""The `irlax` command."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `irlax` command."""
    parser = argparse.ArgumentParser(prog="irlax", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="solve a built-in gridworld with soft value iteration and draw it"
    )
    demo.add_argument("--out", default="results/demo", help="folder for the pictures and summary")
    demo.add_argument("--seed", type=int, default=0, help="picks the lakes of the gridworld")
    demo.add_argument("--height", type=int, default=20)
    demo.add_argument("--width", type=int, default=30)
    demo.add_argument("--temperature", type=float, default=0.2)
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            return _demo(args)
    except ValueError as e:
        print(f"irlax {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 1


def _demo(args) -> int:
    from irlax import plots
    from irlax.envs import gridworld
    from irlax.mdp import occupancy, sample_trajectories, soft_value_iteration
    from irlax.mdp.core import expected_next, push_forward

    if args.height < 4 or args.width < 4:
        raise ValueError(f"the grid must be at least 4x4, got {args.height}x{args.width}")
    if not args.temperature > 0:
        raise ValueError(f"--temperature must be > 0, got {args.temperature}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    h, w = args.height, args.width
    horizon = 3 * (h + w)
    goal = (h // 2, w - 2)
    mdp = gridworld(h, w, slip=0.1, horizon=horizon, goal=goal, start=(h // 2, 1))

    # Lakes cost 1 per step spent in them, every step costs 0.1, entering the goal pays 5.
    rng = np.random.default_rng(args.seed)
    rows, cols = np.mgrid[:h, :w]
    lakes = np.zeros((h, w), bool)
    for _ in range(max(3, h * w // 120)):
        r, c = rng.integers(0, h), rng.integers(3, w - 3)
        lakes |= (rows - r) ** 2 / rng.uniform(2, 9) + (cols - c) ** 2 / rng.uniform(2, 9) < 1
    lakes[goal] = False
    state_reward = jnp.asarray(-0.1 - 1.0 * lakes.ravel())
    bonus = jnp.zeros(h * w).at[goal[0] * w + goal[1]].set(5.0)
    reward = state_reward[:, None] + expected_next(mdp, bonus)  # paid by the entering action

    start = time.perf_counter()
    plan = soft_value_iteration(mdp, reward, temperature=args.temperature)
    visits = occupancy(mdp, plan.log_policy)
    jax.block_until_ready(visits)
    seconds = time.perf_counter() - start
    demos = sample_trajectories(mdp, plan.log_policy, 12, jax.random.key(args.seed))

    d = np.asarray(visits)
    state_visits = d.sum(axis=(0, 2)).reshape(h, w)
    summary = {
        "grid": [h, w],
        "states": mdp.n_states,
        "horizon": horizon,
        "temperature": args.temperature,
        "soft_value_at_start": float(plan.v[0, mdp.init.argmax()]),
        "expected_reward": float(np.sum(d * np.asarray(reward))),
        "probability_goal_reached": float(
            1.0 - jnp.sum(jnp.where(mdp.terminal, 0.0, push_forward(mdp, visits[-1])))
        ),
        "expected_episode_length": float(d.sum()),
        "expected_steps_in_lakes": float(state_visits[lakes].sum()),
        "seconds_soft_vi_and_occupancy": seconds,
    }

    fig, axes = plots.plt.subplots(1, 2, figsize=(13, 4.5))
    plots.grid_heatmap(
        axes[0], np.asarray(plan.v[0]).reshape(h, w), "soft value V₀(s)", label="value"
    )
    axes[0].contour(lakes, levels=[0.5], colors="white", linewidths=1)
    plots.grid_heatmap(
        axes[1], state_visits, "expected visits per episode", cmap="magma", log=True, label="visits"
    )
    plots.draw_paths(axes[1], demos.observations, demos.lengths, w, color="cyan", alpha=0.6)
    for ax in axes:
        ax.plot(goal[1], goal[0], "*", color="gold", markersize=14)
    fig.suptitle(
        f"Soft value iteration on a {h}×{w} gridworld with slip 0.1 (τ = {args.temperature}): "
        "lakes cost 1 per step, every step 0.1, the goal ★ pays 5"
    )
    plots.save(fig, out / "gridworld.png")

    text = [
        f"irlax demo: soft value iteration on a {h}x{w} gridworld ({mdp.n_states} states, "
        f"horizon {horizon}, slip 0.1, temperature {args.temperature})",
        f"  soft value at the start:          {summary['soft_value_at_start']:.3f}",
        f"  expected reward per episode:      {summary['expected_reward']:.3f}",
        f"  probability of reaching the goal: {summary['probability_goal_reached']:.3f}",
        f"  expected episode length:          {summary['expected_episode_length']:.1f} steps",
        f"  expected steps spent in lakes:    {summary['expected_steps_in_lakes']:.3f}",
        f"  soft VI + occupancy took {seconds:.3f} s (including compilation)",
    ]
    (out / "summary.txt").write_text("\n".join(text) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\n".join(text))
    print(f"pictures: {out / 'gridworld.png'}\nsummary:  {out / 'summary.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
