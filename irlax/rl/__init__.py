"""Forward reinforcement learning: PPO, SAC, soft Q-learning, soft policy gradient.

One module per method (`irlax.rl.ppo`, `sac`, `soft_q`, `soft_pg`), each with a frozen
`*Config`, `make_trainer(config, env, env_params=None, reward_fn=None) -> Trainer` and
`make_train(...) -> train(key, reward_params=None) -> Result` (see `irlax.rl._common`).
`irlax.rl.run.run` trains a `Trainer` in chunks with atomic checkpoints and resume.
"""

from irlax.rl._common import EpisodeStats, Result, Trainer, train_from
from irlax.rl.replay import ReplayBuffer

__all__ = ["EpisodeStats", "ReplayBuffer", "Result", "Trainer", "train_from"]
