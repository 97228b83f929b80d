"""`KeyDoor`: a small grid with concurrent actions (a move and an interaction at every step).

The world of MAIL's benchmark (Harmer et al. 2018, "Imitation Learning with Concurrent
Actions in 3D Games", the seed notes' `003_*`): a game whose controller is pressed in several
places at once, shrunk to a grid that a CPU learns in minutes. At every step the agent chooses
a move and, independently, whether to act on what is in front of it: picking up a key, and
then opening a door with it. A single-action agent has to spend separate steps on moving and
on acting; a concurrent one does both at once.

The world (all sizes are parameters; defaults in brackets):

- **Grid**: `size × size` cells [5], rows numbered from the top, `(row, col)`. Its border is a
  wall: a move off the grid leaves the agent where it was.
- **Layout**: every `reset` draws the agent's cell, the key's and the door's uniformly, all
  three distinct, and the agent's facing uniformly; so a policy must generalise across layouts
  rather than memorise one path.
- **Objects**: the key and the door each fill a cell that cannot be entered; a move into one
  leaves the agent in place (facing it). A collected key leaves its cell empty.
- **Action**: int32 `[2]`, two concurrent groups, both chosen at every step:
  `action[0]` the move in `MOVES` (`0` none, `1` up, `2` right, `3` down, `4` left) and
  `action[1]` whether to act (`0` no, `1` yes). The action space is `multi_discrete((5, 2))`:
  a `MultiDiscrete` space (`.nvec`, which `irlax.nets.policies.head_for_space` reads as a
  `MultiCategorical` head).
- **Step**: first the move: the agent turns to face the move's direction (even when the move
  is blocked) and enters the cell in front unless it is outside the grid or holds the key or
  the door. Then, if it acts, it acts on the cell it now faces: a key there is collected; the
  door there opens if the key has been collected (acting on anything else does nothing). So a
  move into an adjacent object together with acting turns to it and uses it in one step.
- **Reward** (sparse): `1 − 0.9 · t / max_steps_in_episode` on the step that opens the door,
  where `t` is the number of steps taken including that one (MiniGrid's time-discounted
  success reward); 0 on every other step. Opening the door terminates the episode; episodes
  that have not opened it are truncated after `max_steps_in_episode` steps [40] (gymnax's
  `step` then resets automatically).
- **Observation**: float `[12]` (float32, or float64 with `jax_enable_x64`), all in `[−1, 1]`,
  with `s = size − 1`: the key's offset from the agent `((key_row − row)/s, (key_col −
  col)/s)` (0 once it is collected), the door's offset `((door_row − row)/s, (door_col −
  col)/s)`, the agent's cell `(row/s, col/s)`, its facing one-hot `[4]` (up, right, down,
  left), whether it holds the key (0 or 1), and the fraction of the episode used,
  `time / max_steps_in_episode`. Together they are the whole state, so the observation is
  Markov.

The scripted expert (`expert`) plays like a one-button-at-a-time player: it walks a shortest
path (breadth-first over the free cells) to a cell beside its target (the key, then the door),
turns to face it by moving into it, and acts on a separate step, never moving and acting at
once. It always opens the door (every layout is solvable: the key and the door block at most
one corner cell from the rest of the grid, and an agent there is beside both), in
`d + 2` steps for a walk of `d` moves, where a concurrent player needs `d`. A learner that
moves and acts together can therefore pass it, which is the paper's finding to reproduce.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from irlax._pytree import float_dtype, is_concrete, pytree_dataclass, static_field
from irlax.config import is_int
from irlax.envs.core import Env, multi_discrete, spaces

__all__ = [
    "MOVES",
    "OBS_SIZE",
    "KeyDoor",
    "KeyDoorParams",
    "KeyDoorState",
    "expert",
]

MOVES = ("none", "up", "right", "down", "left")
"""The choices of the move group, in order: `action[0] = MOVES.index(name)`."""

# (row, col) steps of the four facings: up, right, down, left (move m faces m − 1).
_DELTAS = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]], np.int32)

OBS_SIZE = 12
"""The length of an observation (see the module docstring)."""

_NVEC = (len(MOVES), 2)


@pytree_dataclass
class KeyDoorState:
    """The state of a `KeyDoor`.

    Attributes:
        position: int32 `[2]`, the agent's `(row, col)`.
        facing: int32 `[]`, 0 up, 1 right, 2 down, 3 left.
        key: int32 `[2]`, the key's cell (kept after it is collected, but then empty).
        door: int32 `[2]`, the door's cell.
        has_key: bool `[]`, whether the key has been collected.
        time: int32 `[]`, steps taken in this episode.
    """

    position: jnp.ndarray
    facing: jnp.ndarray
    key: jnp.ndarray
    door: jnp.ndarray
    has_key: jnp.ndarray
    time: jnp.ndarray


@pytree_dataclass
class KeyDoorParams:
    """The parameters of a `KeyDoor` (both fix shapes or loop lengths, so both are static).

    Attributes:
        size: the grid's side, an integer >= 3.
        max_steps_in_episode: steps before an episode is truncated, an integer >= 1.
    """

    size: int = static_field(default=5)
    max_steps_in_episode: int = static_field(default=40)


class KeyDoor(Env):
    """Pick up a key and open a door on a random grid, moving and acting concurrently.

    See the module docstring for the layout, dynamics, reward and observation. The action is
    int32 `[2]`: `(move, act)`, `move` in `MOVES`, `act` in {0, 1}.

    Attributes:
        default_params: the `KeyDoorParams` given to the constructor.
    """

    def __init__(self, size: int = 5, max_steps_in_episode: int = 40):
        """Build the env.

        Args:
            size: the grid's side (>= 3).
            max_steps_in_episode: steps before truncation (>= 1).

        Raises:
            ValueError: a size or step limit that is not an integer in range, named.
        """
        super().__init__()
        self._default_params = KeyDoorParams(size, max_steps_in_episode)
        KeyDoor.check_params(self._default_params)

    @staticmethod
    def check_params(params: KeyDoorParams) -> None:
        """Raise a ValueError naming the field if `params` describe no valid world."""
        if not isinstance(params, KeyDoorParams):
            raise ValueError(f"params must be KeyDoorParams, got {type(params).__name__}")
        if not is_int(params.size) or params.size < 3:
            raise ValueError(f"size must be an integer >= 3, got {params.size!r}")
        steps = params.max_steps_in_episode
        if not is_int(steps) or steps < 1:
            raise ValueError(f"max_steps_in_episode must be an integer >= 1, got {steps!r}")

    @property
    def default_params(self) -> KeyDoorParams:
        return self._default_params

    @property
    def name(self) -> str:
        return "KeyDoor"

    @property
    def num_actions(self) -> int:
        """The number of action groups (2: the move and the act)."""
        return len(_NVEC)

    def action_space(self, params: KeyDoorParams | None = None) -> spaces.Box:
        """`multi_discrete((5, 2))`: the move and whether to act."""
        return multi_discrete(_NVEC)

    def observation_space(self, params: KeyDoorParams | None = None) -> spaces.Box:
        """`Box(−1, 1, [12])` (see the module docstring for its entries)."""
        return spaces.Box(-1.0, 1.0, (OBS_SIZE,), float_dtype())

    def reset(self, key, params=None):
        """gymnax `reset`, refusing params that describe no valid world."""
        params = self._resolve(params)
        return super().reset(key, params)

    def step(self, key, state, action, params=None):
        """gymnax `step` (automatic reset), refusing a concrete action outside the space."""
        params = self._resolve(params)
        _check_action(action)
        return super().step(key, state, jnp.asarray(action, jnp.int32), params)

    def reset_env(self, key: jax.Array, params: KeyDoorParams):
        n = params.size
        cells_key, facing_key = jax.random.split(key)
        # Three distinct cells: a uniformly random ordering of all cells, first three.
        cells = jax.random.permutation(cells_key, n * n)[:3]
        rows_cols = jnp.stack([cells // n, cells % n], axis=-1).astype(jnp.int32)
        state = KeyDoorState(
            position=rows_cols[0],
            facing=jax.random.randint(facing_key, (), 0, 4, jnp.int32),
            key=rows_cols[1],
            door=rows_cols[2],
            has_key=jnp.bool_(False),
            time=jnp.int32(0),
        )
        return self.get_obs(state, params), state

    def step_env(self, key: jax.Array, state: KeyDoorState, action, params: KeyDoorParams):
        action = jnp.asarray(action, jnp.int32)
        move, act = action[0], action[1] > 0
        moving = move > 0
        facing = jnp.where(moving, move - 1, state.facing)
        deltas = jnp.asarray(_DELTAS)
        ahead = state.position + deltas[facing]
        enter = moving & _inside(ahead, params.size) & ~_holds_object(state, ahead)
        position = jnp.where(enter, ahead, state.position)
        front = position + deltas[facing]
        collect = act & ~state.has_key & jnp.all(front == state.key)
        opened = act & state.has_key & jnp.all(front == state.door)
        time = state.time + 1
        reward = jnp.where(opened, 1.0 - 0.9 * time / params.max_steps_in_episode, 0.0)
        new_state = KeyDoorState(
            position=position,
            facing=facing,
            key=state.key,
            door=state.door,
            has_key=state.has_key | collect,
            time=time,
        )
        return (
            self.get_obs(new_state, params),
            new_state,
            reward.astype(float_dtype()),
            opened,
            {},
        )

    def get_obs(self, state: KeyDoorState, params: KeyDoorParams | None = None, key=None):
        """The observation `[12]` of a state (see the module docstring)."""
        params = self.default_params if params is None else params
        dtype = float_dtype()
        scale = 1.0 / (params.size - 1)
        here = state.position.astype(dtype)
        key_offset = jnp.where(state.has_key, 0.0, state.key.astype(dtype) - here)
        return jnp.concatenate(
            [
                key_offset * scale,
                (state.door.astype(dtype) - here) * scale,
                here * scale,
                jax.nn.one_hot(state.facing, 4, dtype=dtype),
                state.has_key.astype(dtype)[None],
                jnp.asarray(state.time / params.max_steps_in_episode, dtype)[None],
            ]
        ).astype(dtype)

    def is_terminated(self, state: KeyDoorState, params: KeyDoorParams) -> jnp.ndarray:
        """Whether the door is open cannot be read from the state (opening ends the episode
        at once, in `step`), so no state is terminal by itself."""
        return jnp.bool_(False)

    def is_truncated(self, state: KeyDoorState, params: KeyDoorParams) -> jnp.ndarray:
        return state.time >= params.max_steps_in_episode

    def _resolve(self, params: KeyDoorParams | None) -> KeyDoorParams:
        if params is None:
            return self._default_params
        KeyDoor.check_params(params)
        return params


def _check_action(action: Any) -> None:
    """Raise a ValueError if a concrete action is not an int `[2]` in `[0, 5) × [0, 2)`.

    Traced actions (inside `jax.jit`, `jax.vmap`, `lax.scan`) pass unchecked.
    """
    if not is_concrete(action):
        return
    a = np.asarray(action)
    space = f"MultiDiscrete(nvec={_NVEC})"
    if a.shape != (len(_NVEC),) or a.dtype.kind not in "iu":
        raise ValueError(
            f"action {a.tolist()!r} is outside the action space {space}: expected integers of "
            f"shape ({len(_NVEC)},), got dtype {a.dtype} and shape {a.shape}"
        )
    if (a < 0).any() or (a >= np.asarray(_NVEC)).any():
        raise ValueError(
            f"action {a.tolist()!r} is outside the action space {space}: expected a move in "
            f"[0, {_NVEC[0]}) and an act in [0, {_NVEC[1]})"
        )


def _inside(cell: jnp.ndarray, size: int) -> jnp.ndarray:
    return jnp.all((cell >= 0) & (cell < size))


def _holds_object(state: KeyDoorState, cell: jnp.ndarray) -> jnp.ndarray:
    """Whether `cell` holds the door or the (uncollected) key: cells that cannot be entered."""
    return jnp.all(cell == state.door) | (~state.has_key & jnp.all(cell == state.key))


def _state_of_obs(obs: jnp.ndarray, size: int) -> tuple:
    """`(position, facing, key, door, has_key)` recovered from an observation (exact: the
    offsets are multiples of `1/(size − 1)`)."""
    s = size - 1
    position = jnp.round(obs[4:6] * s).astype(jnp.int32)
    key = position + jnp.round(obs[0:2] * s).astype(jnp.int32)
    door = position + jnp.round(obs[2:4] * s).astype(jnp.int32)
    facing = jnp.argmax(obs[6:10]).astype(jnp.int32)
    has_key = obs[10] > 0.5
    return position, facing, key, door, has_key


def expert(obs: jnp.ndarray, key: jax.Array | None = None, *, size: int = 5) -> jnp.ndarray:
    """The scripted one-button-at-a-time expert's action for one `KeyDoor` observation.

    Its target is the key until it holds it, then the door. Beside the target and facing it,
    it acts (and does not move); beside it but facing away, it moves into it (which turns it
    to face it); elsewhere it takes the first move of a shortest path, over the cells it may
    enter, to a cell beside the target (breadth-first distances, ties broken in `MOVES`
    order), and does not act. Deterministic: `key` is ignored (it is there so that `expert`
    is a `policy(obs, key)` for `irlax.data.rollout`).

    Args:
        obs: float `[12]`, one observation.
        key: unused.
        size: the grid's side (the env's `params.size`).

    Returns:
        int32 `[2]`, `(move, act)`.
    """
    del key
    position, facing, key_cell, door, has_key = _state_of_obs(jnp.asarray(obs), size)
    target = jnp.where(has_key, door, key_cell)
    deltas = jnp.asarray(_DELTAS)
    rows, cols = jnp.meshgrid(jnp.arange(size), jnp.arange(size), indexing="ij")
    cells = jnp.stack([rows, cols], axis=-1)
    is_door = jnp.all(cells == door, axis=-1)
    is_key = ~has_key & jnp.all(cells == key_cell, axis=-1)
    free = ~(is_door | is_key)
    beside = jnp.sum(jnp.abs(cells - target), axis=-1) == 1
    big = jnp.int32(size * size + 1)
    # Breadth-first distances to a cell beside the target, by relaxation over free cells.
    distance = jnp.where(free & beside, 0, big)

    def relax(d, _):
        padded = jnp.pad(d, 1, constant_values=big)
        neighbours = jnp.stack(
            [padded[:-2, 1:-1], padded[1:-1, 2:], padded[2:, 1:-1], padded[1:-1, :-2]]
        )
        return jnp.where(free, jnp.minimum(d, jnp.min(neighbours, axis=0) + 1), big), None

    distance, _ = jax.lax.scan(relax, distance, None, size * size)
    neighbour = position + deltas
    inside = jnp.all((neighbour >= 0) & (neighbour < size), axis=-1)
    clipped = jnp.clip(neighbour, 0, size - 1)
    step_distance = jnp.where(inside, distance[clipped[:, 0], clipped[:, 1]], big)
    walk = jnp.argmin(step_distance).astype(jnp.int32) + 1
    toward = jnp.all(neighbour == target, axis=-1)
    at_target = jnp.any(toward)
    facing_target = jnp.all(position + deltas[facing] == target)
    move = jnp.where(
        at_target,
        jnp.where(facing_target, 0, jnp.argmax(toward).astype(jnp.int32) + 1),
        walk,
    )
    act = at_target & facing_target
    return jnp.stack([move, act.astype(jnp.int32)]).astype(jnp.int32)
