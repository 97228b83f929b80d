"""Forward reinforcement learning: PPO, SAC, soft Q-learning, soft policy gradient.

One module per method (`irlax.rl.ppo`, `sac`, `soft_q`, `soft_pg`), each with a frozen
`*Config`, `make_trainer(config, env, env_params=None, reward_fn=None) -> Trainer` and
`make_train(...) -> train(key, reward_params=None) -> Result` (see `irlax.rl._common`).
`Trainer.update(state, reward_params) -> (state, metrics, Transitions)`; `Result.log_prob(obs,
action)` scores an action under the trained policy. The policy heads are `irlax.nets.policies`.
`irlax.rl.run.run` trains a `Trainer` in chunks with atomic checkpoints and resume;
`train_seeds(train, keys)` trains many seeds at once, sharded over the local devices, and
`vmap_trainer(trainer)` is a trainer of many seeds at once (for `run`'s checkpointed chunks).
"""

from irlax.rl._common import (
    EpisodeStats,
    Result,
    Trainer,
    Transitions,
    train_from,
    train_seeds,
    vmap_trainer,
)
from irlax.rl.replay import ReplayBuffer

__all__ = [
    "EpisodeStats",
    "ReplayBuffer",
    "Result",
    "Trainer",
    "Transitions",
    "train_from",
    "train_seeds",
    "vmap_trainer",
]
