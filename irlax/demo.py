"""The built-in demo: soft value iteration on a gridworld with lakes, drawn and summarised.

A walker crosses a slippery grid from the middle of its left edge to a goal near its right
edge. Lakes cost 1 per step spent in them, every step costs 0.5 and entering the goal pays 5.
A step must cost more than the most entropy it can earn, `τ·log A` (0.32 at τ = 0.2 with 5
actions): under the plain soft maximum a cheaper step is a living reward, and the walker
would rather wander than arrive.
`run` plans with soft value iteration, computes the exact expected visits and samples a few
paths; `write` draws them (`gridworld.png`) and writes `summary.txt` and `summary.json`. The
`irlax demo` command calls these two.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from irlax._files import atomic_write_json, atomic_write_text
from irlax.config import require_int, require_real
from irlax.data import Trajectories
from irlax.envs import gridworld
from irlax.mdp import Plan, TabularMDP, occupancy, sample_trajectories, soft_value_iteration
from irlax.mdp.core import expected_next, push_forward

SLIP = 0.1
STEP_REWARD = -0.5
LAKE_REWARD = -1.0
GOAL_REWARD = 5.0
N_PATHS = 12


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """The demo's world and planner.

    Attributes:
        height: rows of the grid, at least 4.
        width: columns of the grid, at least 4.
        seed: picks the lakes of the gridworld and the sampled paths.
        temperature: τ > 0 of soft value iteration, `V = τ·logsumexp(Q/τ)`.
    """

    height: int = 20
    width: int = 30
    seed: int = 0
    temperature: float = 0.2

    def __post_init__(self) -> None:
        require_int(self, "height", 4)
        require_int(self, "width", 4)
        require_int(self, "seed", 0)
        require_real(self, "temperature", lambda x: x > 0, "> 0")


@dataclasses.dataclass(frozen=True)
class LakeWorld:
    """A gridworld with lakes and a goal.

    Attributes:
        mdp: the `height × width` gridworld (slip 0.1, horizon `3·(height + width)`), starting
            in the middle of the left edge; the goal cell is terminal.
        reward: `[S, A]` reward of each action: the state's cost, plus the goal's pay on
            entering it.
        lakes: bool `[height, width]` lake cells.
        goal: (row, col) of the goal.
    """

    mdp: TabularMDP
    reward: jnp.ndarray
    lakes: np.ndarray
    goal: tuple[int, int]


def lake_gridworld(height: int, width: int, seed: int) -> LakeWorld:
    """A slippery gridworld with elliptic lakes placed by `seed` and a goal near the right edge.

    Args:
        height: rows, at least 4.
        width: columns, at least 4.
        seed: seed of the lakes' placement (NumPy's generator: a world builder, not a JAX key).

    Returns:
        The `LakeWorld`.
    """
    h, w = height, width
    goal = (h // 2, w - 2)
    mdp = gridworld(h, w, slip=SLIP, horizon=3 * (h + w), goal=goal, start=(h // 2, 1))
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:h, :w]
    # Lakes keep three columns clear at either end where the grid is wide enough for that.
    low, high = (3, w - 3) if w >= 7 else (1, w - 1)
    lakes = np.zeros((h, w), bool)
    for _ in range(max(3, h * w // 120)):
        r, c = rng.integers(0, h), rng.integers(low, high)
        lakes |= (rows - r) ** 2 / rng.uniform(2, 9) + (cols - c) ** 2 / rng.uniform(2, 9) < 1
    lakes[goal] = False
    state_reward = jnp.asarray(STEP_REWARD + LAKE_REWARD * lakes.ravel())
    bonus = jnp.zeros(h * w).at[goal[0] * w + goal[1]].set(GOAL_REWARD)
    reward = state_reward[:, None] + expected_next(mdp, bonus)  # paid by the entering action
    return LakeWorld(mdp, reward, lakes, goal)


@dataclasses.dataclass(frozen=True)
class DemoOutcome:
    """What `run` found.

    Attributes:
        config: the demo's config.
        world: the gridworld with lakes.
        plan: soft value iteration's plan.
        visits: `[H, S, A]` expected visits of the plan's policy.
        paths: `N_PATHS` sampled episodes.
        summary: the numbers `summary.json` holds (see `run`).
    """

    config: DemoConfig
    world: LakeWorld
    plan: Plan
    visits: jnp.ndarray
    paths: Trajectories
    summary: dict


def run(config: DemoConfig | None = None) -> DemoOutcome:
    """Plan on the lake gridworld with soft value iteration and measure the plan exactly.

    Args:
        config: the demo's config (default `DemoConfig()`).

    Returns:
        The `DemoOutcome`, whose summary holds the grid, the number of states, the horizon,
        the temperature, the soft value at the start, the expected reward per episode, the
        probability of reaching the goal, the expected episode length and steps spent in lakes
        (all exact, from the occupancy), and the seconds soft value iteration and the
        occupancy took, compilation included.
    """
    config = DemoConfig() if config is None else config
    world = lake_gridworld(config.height, config.width, config.seed)
    mdp = world.mdp
    start = time.perf_counter()
    plan = soft_value_iteration(mdp, world.reward, temperature=config.temperature)
    visits = occupancy(mdp, plan.log_policy)
    jax.block_until_ready(visits)
    seconds = time.perf_counter() - start
    paths = sample_trajectories(mdp, plan.log_policy, N_PATHS, jax.random.key(config.seed))

    d = np.asarray(visits)
    state_visits = d.sum(axis=(0, 2)).reshape(config.height, config.width)
    summary = {
        "grid": [config.height, config.width],
        "states": mdp.n_states,
        "horizon": mdp.horizon,
        "temperature": config.temperature,
        "soft_value_at_start": float(plan.v[0, mdp.init.argmax()]),
        "expected_reward": float(np.sum(d * np.asarray(world.reward))),
        "probability_goal_reached": float(
            1.0 - jnp.sum(jnp.where(mdp.terminal, 0.0, push_forward(mdp, visits[-1])))
        ),
        "expected_episode_length": float(d.sum()),
        "expected_steps_in_lakes": float(state_visits[world.lakes].sum()),
        "seconds_soft_vi_and_occupancy": seconds,
    }
    return DemoOutcome(config, world, plan, visits, paths, summary)


def report(outcome: DemoOutcome) -> str:
    """The summary in words, as `summary.txt` holds it."""
    c, s = outcome.config, outcome.summary
    return "\n".join(
        [
            f"irlax demo: soft value iteration on a {c.height}x{c.width} gridworld "
            f"({s['states']} states, horizon {s['horizon']}, slip {SLIP}, "
            f"temperature {c.temperature})",
            f"  soft value at the start:          {s['soft_value_at_start']:.3f}",
            f"  expected reward per episode:      {s['expected_reward']:.3f}",
            f"  probability of reaching the goal: {s['probability_goal_reached']:.3f}",
            f"  expected episode length:          {s['expected_episode_length']:.1f} steps",
            f"  expected steps spent in lakes:    {s['expected_steps_in_lakes']:.3f}",
            f"  soft VI + occupancy took {s['seconds_soft_vi_and_occupancy']:.3f} s "
            "(including compilation)",
        ]
    )


def write(outcome: DemoOutcome, out) -> list[Path]:
    """Draw `gridworld.png` and write `summary.txt` and `summary.json` into the folder `out`.

    Args:
        outcome: what `run` returned.
        out: the folder (created if missing).

    Returns:
        The paths written.
    """
    from irlax import plots

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    c, world, plan = outcome.config, outcome.world, outcome.plan
    h, w = c.height, c.width
    state_visits = np.asarray(outcome.visits).sum(axis=(0, 2)).reshape(h, w)
    fig, axes = plots.plt.subplots(1, 2, figsize=(13, 4.5))
    plots.grid_heatmap(
        axes[0], np.asarray(plan.v[0]).reshape(h, w), "soft value V₀(s)", label="value"
    )
    axes[0].contour(world.lakes, levels=[0.5], colors="white", linewidths=1)
    plots.grid_heatmap(
        axes[1], state_visits, "expected visits per episode", cmap="magma", log=True, label="visits"
    )
    paths = outcome.paths
    plots.draw_paths(axes[1], paths.observations, paths.lengths, w, color="cyan", alpha=0.6)
    for ax in axes:
        ax.plot(world.goal[1], world.goal[0], "*", color="gold", markersize=14)
    fig.suptitle(
        f"Soft value iteration on a {h}×{w} gridworld with slip {SLIP} (τ = {c.temperature}): "
        f"lakes cost {-LAKE_REWARD:g} per step, every step {-STEP_REWARD:g}, "
        f"the goal ★ pays {GOAL_REWARD:g}"
    )
    written = [out / "gridworld.png", out / "summary.txt", out / "summary.json"]
    plots.save(fig, written[0])
    atomic_write_text(written[1], report(outcome) + "\n")
    atomic_write_json(written[2], outcome.summary)
    return written
