"""`PointMaze`: the shifting maze of AIRL's reward-transfer experiment, as a pure-JAX env.

Fu, Luo & Levine (2018), "Learning Robust Rewards with Adversarial Inverse Reinforcement
Learning", Section 7.1 ("shifting maze"): a 2D point mass must reach a goal on the far side of
a wall with a gap. A reward is learned from demonstrations in the training maze (gap on one
side) and a policy is then trained on it in the test maze (gap on the other side). The two
mazes differ only in their dynamics, so a reward that transfers must be a function of the
state (position) alone, and the true reward below is one.

The maze (all choices where the paper is silent; Fu et al.'s MuJoCo maze is a 0.6-wide square
with a wall at half height leaving a gap of a third of its width, start at the bottom centre,
goal 0.1 below the top centre, 100-step episodes; here it is scaled to the unit square):

- **Arena**: the unit square `[0, 1]²`. Its sides stop the point (a move is clipped to the
  square coordinate by coordinate, so the point slides along a side it pushes against).
- **Wall**: the horizontal segment `y = wall_y` (default 0.5) across the whole width except the
  gap, a closed interval of width `gap_width` (default 0.3) at the left side (`gap_side = -1`,
  `x ∈ [0, gap_width]`) or the right side (`gap_side = +1`, `x ∈ [1 − gap_width, 1]`). A float
  `gap_side` rather than a string keeps the params a pytree of numbers, so `jax.vmap` runs the
  training and the test maze together. `PointMaze.params(gap="left" | "right", ...)` builds
  the two standard mazes; `PointMaze(gap=...)` makes one of them the env's default.
- **Dynamics**: a first-order point, `p' = p + max_speed · clip(a, −1, 1)` (default
  `max_speed` 0.05 per step), with no velocity state, so the position is the whole state.
  The move is first clipped to the arena; then, if the segment from `p` to `p'` crosses the
  line `y = wall_y` at an `x` outside the gap, or ends on the wall (a segment test, not an
  end-point test, so no step, however large, tunnels through the wall), its vertical part is
  stopped `WALL_MARGIN` (1e-4) short of the wall on the side the point came from, and its
  horizontal part is kept: the point slides along the wall, like a point mass against a
  frictionless wall. A point exactly on the line `y = wall_y` (reachable only through the
  gap) counts as above it.
- **Start and goal**: the episode starts at `start + U(−start_noise, start_noise)²` (default
  `(0.5, 0.1)`, noise 0.02), below the wall; the goal is `goal` (default `(0.5, 0.9)`), above
  it. The goal is fixed, so the observation is the position `[x, y]` (float32, or float64
  with `jax_enable_x64`), and it is Markov.
- **Reward**: `r(p, a) = −‖p − goal‖ − control_cost · ‖clip(a, −1, 1)‖²`, where `p` is the
  position the action is taken from (the observation the agent acts on), as in Fu et al.'s
  code, which computes the distance before simulating. `control_cost` defaults to 0 (Fu et
  al. use 0.001), so by default the true reward is the state-only `−‖p − goal‖`.
- **Episodes**: never terminate; they are truncated after `max_steps_in_episode` steps
  (default 100, as in Fu et al.), and `step` resets automatically, with the observation the
  last action led to in `info["final_observation"]` (the gymnax `step` of `irlax.envs.Env`).
  With no termination, no episode ends early, so a state-only reward has no living-cost
  ambiguity and transfers cleanly. "Reached the goal" is a final distance below `goal_radius`
  (default 0.05); see `PointMaze.distance_to_goal` and `PointMaze.reached_goal`.

With the defaults, going straight up from the start hits the wall; going to the gap and then
to the goal takes about 25 steps.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from irlax._pytree import float_dtype, is_concrete, pytree_dataclass, static_field
from irlax.config import is_int
from irlax.envs.core import Env, check_action, spaces

__all__ = ["GAPS", "WALL_MARGIN", "PointMaze", "PointMazeParams", "PointMazeState"]

GAPS = {"left": -1.0, "right": 1.0}
"""The gap options of `PointMaze.params` and the `gap_side` each sets."""

WALL_MARGIN = 1e-4
"""How far short of the wall a blocked move stops (so the point stays on its side)."""

_DEFAULTS = {
    "gap_width": 0.3,
    "wall_y": 0.5,
    "start": (0.5, 0.1),
    "start_noise": 0.02,
    "goal": (0.5, 0.9),
    "goal_radius": 0.05,
    "max_speed": 0.05,
    "control_cost": 0.0,
    "max_steps_in_episode": 100,
}


@pytree_dataclass
class PointMazeState:
    """The state of a `PointMaze`.

    Attributes:
        position: float `[2]`, the point's `(x, y)` in the unit square.
        time: int32 `[]`, steps taken in this episode.
    """

    position: jnp.ndarray
    time: jnp.ndarray


@pytree_dataclass
class PointMazeParams:
    """The parameters of a `PointMaze` (a pytree of numbers: `jax.vmap` over mazes works).

    Build them with `PointMaze.params`, which validates them.

    Attributes:
        gap_side: float `[]`, −1.0 for the gap at the left side of the wall, +1.0 for the right.
        gap_width: float `[]`, the width of the gap, in (0, 1).
        wall_y: float `[]`, the height of the wall, in (0, 1).
        start: float `[2]`, the centre of the start region.
        start_noise: float `[]`, half-width of the uniform start region (a square).
        goal: float `[2]`, the goal.
        goal_radius: float `[]`, the distance to the goal below which it counts as reached.
        max_speed: float `[]`, the distance an action of 1 moves the point per step (per axis).
        control_cost: float `[]`, weight of `‖a‖²` subtracted from the reward.
        max_steps_in_episode: steps per episode before truncation (static: changing it
            recompiles).
    """

    gap_side: jnp.ndarray
    gap_width: jnp.ndarray
    wall_y: jnp.ndarray
    start: jnp.ndarray
    start_noise: jnp.ndarray
    goal: jnp.ndarray
    goal_radius: jnp.ndarray
    max_speed: jnp.ndarray
    control_cost: jnp.ndarray
    max_steps_in_episode: int = static_field(default=100)


class PointMaze(Env):
    """The shifting maze of AIRL (Fu et al. 2018, Section 7.1) as a gymnax-API env.

    See the module docstring for the geometry, dynamics, reward and episode conventions.
    One env object serves both mazes: pass `PointMaze.params(gap="left")` (training) or
    `PointMaze.params(gap="right")` (test) as its params, or a stack of both to `jax.vmap`.

    Attributes:
        default_params: the maze given to the constructor (by default the gap-left one).
    """

    def __init__(self, gap: str = "left", **overrides: Any):
        """Build the env.

        Args:
            gap: the side of the default maze's gap, "left" or "right".
            **overrides: fields of `PointMazeParams` to change from the defaults (see
                `PointMaze.params`).

        Raises:
            ValueError: a bad gap or parameter, named.
        """
        super().__init__()
        self._default_params = PointMaze.params(gap, **overrides)

    @staticmethod
    def params(gap: str = "left", **overrides: Any) -> PointMazeParams:
        """The parameters of a standard maze, validated.

        Args:
            gap: "left" (`gap_side = −1`, the training maze of Fu et al.) or "right"
                (`gap_side = +1`, the test maze).
            **overrides: other fields of `PointMazeParams` to change from the defaults:
                `gap_width` (0.3), `wall_y` (0.5), `start` ((0.5, 0.1)), `start_noise` (0.02),
                `goal` ((0.5, 0.9)), `goal_radius` (0.05), `max_speed` (0.05),
                `control_cost` (0.0), `max_steps_in_episode` (100). `gap_side` is set by `gap`.

        Returns:
            `PointMazeParams` whose numbers are arrays of the default float dtype.

        Raises:
            ValueError: an unknown gap or field, or a field out of range (named, with what
                was expected and what came).
        """
        if not isinstance(gap, str) or gap not in GAPS:
            raise ValueError(f"gap must be one of {tuple(GAPS)}, got {gap!r}")
        if "gap_side" in overrides:
            raise ValueError(
                "gap_side is set by gap ('left' is -1.0, 'right' is +1.0); pass gap instead"
            )
        fields = [f.name for f in dataclasses.fields(PointMazeParams)]
        unknown = sorted(set(overrides) - set(fields))
        if unknown:
            raise ValueError(
                f"PointMaze has no parameter(s) {', '.join(unknown)}; its params are: "
                f"{', '.join(f for f in fields if f != 'gap_side')}"
            )
        values = {**_DEFAULTS, **overrides, "gap_side": GAPS[gap]}
        steps = values.pop("max_steps_in_episode")
        _check_steps(steps)
        dtype = float_dtype()
        arrays = {}
        for name, value in values.items():
            v = np.asarray(value)
            if v.dtype.kind not in "iuf":
                raise ValueError(f"{name} must be a number (or pair of numbers), got {value!r}")
            arrays[name] = jnp.asarray(v, dtype)
        params = PointMazeParams(**arrays, max_steps_in_episode=int(steps))
        PointMaze.check_params(params)
        return params

    @staticmethod
    def check_params(params: PointMazeParams) -> None:
        """Raise a ValueError if concrete params describe no valid maze (traced ones pass).

        Args:
            params: the params of one maze (no batch axes).

        Raises:
            ValueError: naming the field: a wrong type or shape, a NaN or infinity, a
                `gap_side` other than ±1, a gap or wall outside (0, 1), a start region that
                leaves the arena or touches the wall line, a goal outside the arena, or a
                non-positive `goal_radius` or `max_speed`, a negative `start_noise` or
                `control_cost`, or a `max_steps_in_episode` that is not an integer >= 1.
        """
        if not isinstance(params, PointMazeParams):
            raise ValueError(f"params must be PointMazeParams, got {type(params).__name__}")
        _check_steps(params.max_steps_in_episode)
        leaves = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
        leaves.pop("max_steps_in_episode")
        if not is_concrete(*leaves.values()):
            return
        v = {}
        for name, value in leaves.items():
            x = np.asarray(value)
            shape = (2,) if name in ("start", "goal") else ()
            if x.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got shape {x.shape}")
            if x.dtype.kind not in "iuf" or not np.isfinite(x).all():
                raise ValueError(f"{name} must be finite, got {x.tolist()!r}")
            v[name] = x.astype(np.float64)

        def require(ok: bool, name: str, expected: str) -> None:
            if not ok:
                raise ValueError(f"{name} must be {expected}, got {v[name].tolist()!r}")

        require(float(abs(v["gap_side"])) == 1.0, "gap_side", "-1.0 (left) or +1.0 (right)")
        require(0 < v["gap_width"] < 1, "gap_width", "in (0, 1)")
        require(0 < v["wall_y"] < 1, "wall_y", "in (0, 1)")
        require(v["start_noise"] >= 0, "start_noise", ">= 0")
        require(v["goal_radius"] > 0, "goal_radius", "> 0")
        require(v["max_speed"] > 0, "max_speed", "> 0")
        require(v["control_cost"] >= 0, "control_cost", ">= 0")
        require(((v["goal"] >= 0) & (v["goal"] <= 1)).all(), "goal", "in the arena [0, 1]²")
        lo, hi = v["start"] - v["start_noise"], v["start"] + v["start_noise"]
        require(
            bool((lo >= 0).all() and (hi <= 1).all()),
            "start",
            f"at least start_noise = {float(v['start_noise'])} inside the arena [0, 1]²",
        )
        require(
            bool(hi[1] < v["wall_y"] or lo[1] > v["wall_y"]),
            "start",
            f"more than start_noise = {float(v['start_noise'])} away from the wall line "
            f"y = {float(v['wall_y'])}",
        )

    @property
    def default_params(self) -> PointMazeParams:
        return self._default_params

    @property
    def name(self) -> str:
        return "PointMaze"

    @property
    def num_actions(self) -> int:
        """The dimension of an action (gymnax's convention for continuous envs)."""
        return 2

    def action_space(self, params: PointMazeParams | None = None) -> spaces.Box:
        """`Box(−1, 1, [2])`: the move, in units of `max_speed`."""
        return spaces.Box(-1.0, 1.0, (2,), float_dtype())

    def observation_space(self, params: PointMazeParams | None = None) -> spaces.Box:
        """`Box(0, 1, [2])`: the position `[x, y]`."""
        return spaces.Box(0.0, 1.0, (2,), float_dtype())

    def reset(self, key, params=None):
        """gymnax `reset`, refusing concrete params that describe no valid maze."""
        params = self._resolve(params)
        return super().reset(key, params)

    def step(self, key, state, action, params=None):
        """gymnax `step` (automatic reset), refusing a concrete action outside `[−1, 1]²`."""
        params = self._resolve(params)
        check_action(self, params, action)
        return super().step(key, state, action, params)

    def reset_env(self, key: jax.Array, params: PointMazeParams):
        dtype = float_dtype()
        noise = jax.random.uniform(key, (2,), dtype, -1.0, 1.0)
        position = (params.start + params.start_noise * noise).astype(dtype)
        state = PointMazeState(position=position, time=jnp.int32(0))
        return self.get_obs(state, params), state

    def step_env(self, key: jax.Array, state: PointMazeState, action, params: PointMazeParams):
        p = state.position
        a = jnp.clip(jnp.asarray(action, p.dtype), -1.0, 1.0)
        position = self.move(p, a, params)
        reward = -self.distance_to_goal(p, params) - params.control_cost * jnp.sum(a**2)
        new_state = PointMazeState(position=position, time=state.time + 1)
        return (
            self.get_obs(new_state, params),
            new_state,
            reward.astype(p.dtype),
            jnp.bool_(False),
            {},
        )

    @staticmethod
    def move(position: jnp.ndarray, action: jnp.ndarray, params: PointMazeParams) -> jnp.ndarray:
        """Where an action takes the point: arena clipping, then the wall's segment test.

        Args:
            position: float `[2]`, the point `p`.
            action: float `[2]`, the action, already clipped to `[−1, 1]²`.
            params: the maze.

        Returns:
            float `[2]`, the new position (see the module docstring for the rule).
        """
        p = position
        q = jnp.clip(p + params.max_speed * action, 0.0, 1.0).astype(p.dtype)
        w = params.wall_y
        below = p[1] < w
        crosses = below != (q[1] < w)
        # The crossing parameter along p -> q; q_y != p_y whenever the sides differ.
        t = (w - p[1]) / jnp.where(crosses, q[1] - p[1], 1.0)
        x_cross = p[0] + t * (q[0] - p[0])
        # A move ending on the wall line outside the gap touches the wall too.
        blocked = (crosses & ~PointMaze.in_gap(x_cross, params)) | (
            (q[1] == w) & ~PointMaze.in_gap(q[0], params)
        )
        y = jnp.where(blocked, jnp.where(below, w - WALL_MARGIN, w + WALL_MARGIN), q[1])
        return jnp.stack([q[0], y]).astype(p.dtype)

    @staticmethod
    def in_gap(x: jnp.ndarray, params: PointMazeParams) -> jnp.ndarray:
        """Whether the wall line is open at `x`: `x ≤ gap_width` (left), `≥ 1 − gap_width` (right).

        Written as `gap_side · (x − ½) ≥ ½ − gap_width`, which is exact at the arena's sides
        (a point pushed against the side of the gap's end passes) and extends the gap past
        them.
        """
        return params.gap_side * (x - 0.5) >= 0.5 - params.gap_width

    def get_obs(self, state: PointMazeState, params: PointMazeParams | None = None, key=None):
        """The observation: the position `[x, y]`."""
        return state.position

    def is_terminated(self, state: PointMazeState, params: PointMazeParams) -> jnp.ndarray:
        """Never: episodes only truncate."""
        return jnp.bool_(False)

    def is_truncated(self, state: PointMazeState, params: PointMazeParams) -> jnp.ndarray:
        return state.time >= params.max_steps_in_episode

    def distance_to_goal(
        self, obs: jnp.ndarray, params: PointMazeParams | None = None
    ) -> jnp.ndarray:
        """`‖obs − goal‖`, the negative of the true state reward.

        Args:
            obs: float `[..., 2]` positions (observations), any batch shape.
            params: the maze (unbatched), or None for the default.

        Returns:
            float `[...]`.
        """
        params = self.default_params if params is None else params
        return jnp.linalg.norm(jnp.asarray(obs) - params.goal, axis=-1)

    def reached_goal(self, obs: jnp.ndarray, params: PointMazeParams | None = None) -> jnp.ndarray:
        """Whether positions lie within `goal_radius` of the goal (e.g. an episode's last).

        Args:
            obs: float `[..., 2]` positions, any batch shape.
            params: the maze (unbatched), or None for the default.

        Returns:
            bool `[...]`.
        """
        params = self.default_params if params is None else params
        return self.distance_to_goal(obs, params) < params.goal_radius

    def _resolve(self, params: PointMazeParams | None) -> PointMazeParams:
        if params is None or params is self._default_params:
            return self._default_params
        PointMaze.check_params(params)
        return params


def _check_steps(steps: Any) -> None:
    if not is_int(steps) or steps < 1:
        raise ValueError(f"max_steps_in_episode must be an integer >= 1, got {steps!r}")
