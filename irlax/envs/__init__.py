"""Worlds to learn in: tabular world builders and the sampled-dynamics Env API.

`make(name)` builds a gymnax-API env (`Env`): a pure-JAX classic-control env, one of irlax's own
(`KeyDoor-v0`, concurrent actions; `PointMaze-v0`, AIRL's shifting maze), or any Gymnasium env
through the host-stepped `GymnasiumEnv` adapter. `TabularEnv` samples a `TabularMDP`.
"""

from irlax.envs.core import (
    IRLAX_ENVS,
    NATIVE_ENVS,
    CheckedEnv,
    Env,
    EnvParams,
    EnvState,
    Wrapper,
    check_action,
    make,
    multi_discrete,
    spaces,
)
from irlax.envs.gymnasium import GymnasiumEnv, GymnasiumParams, GymnasiumState
from irlax.envs.key_door import KeyDoor, KeyDoorParams, KeyDoorState
from irlax.envs.objectworld import (
    OBJECT_DENSITY,
    OBJECTWORLD_FEATURES,
    ObjectworldLayout,
    binaryworld,
    noisy_expert_demos,
    objectworld,
    objectworld_layout,
)
from irlax.envs.point_maze import PointMaze, PointMazeParams, PointMazeState
from irlax.envs.tabular import GRID_ACTIONS, gridworld, random_mdp
from irlax.envs.tabular_env import TabularEnv, TabularEnvParams, TabularEnvState
from irlax.envs.wrappers import (
    ClipAction,
    EpisodeStatistics,
    EpisodeStatisticsState,
    NormalizeObservation,
    NormalizeObservationState,
    RunningMeanVar,
    TimeLimit,
    TimeLimitState,
)

__all__ = [
    "GRID_ACTIONS",
    "IRLAX_ENVS",
    "NATIVE_ENVS",
    "OBJECTWORLD_FEATURES",
    "OBJECT_DENSITY",
    "CheckedEnv",
    "ClipAction",
    "Env",
    "EnvParams",
    "EnvState",
    "EpisodeStatistics",
    "EpisodeStatisticsState",
    "GymnasiumEnv",
    "GymnasiumParams",
    "GymnasiumState",
    "KeyDoor",
    "KeyDoorParams",
    "KeyDoorState",
    "NormalizeObservation",
    "NormalizeObservationState",
    "ObjectworldLayout",
    "PointMaze",
    "PointMazeParams",
    "PointMazeState",
    "RunningMeanVar",
    "TabularEnv",
    "TabularEnvParams",
    "TabularEnvState",
    "TimeLimit",
    "TimeLimitState",
    "Wrapper",
    "binaryworld",
    "check_action",
    "gridworld",
    "make",
    "multi_discrete",
    "noisy_expert_demos",
    "objectworld",
    "objectworld_layout",
    "random_mdp",
    "spaces",
]
