"""Forward reinforcement learning: PPO, SAC, soft Q-learning, soft policy gradient."""
