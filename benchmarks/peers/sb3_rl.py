"""Stable-Baselines3 PPO / SAC trained until a return target, for `benchmarks/rl.py`.

Runs in the peers' own virtualenv (`.venv-sb3`, see `requirements-sb3.txt`); irlax is never
imported here, and this script never imports irlax. One process trains the given seeds one
after the other (the sequential baseline for "8 seeds") and writes a JSON list, one entry per
seed:

    .venv-sb3/bin/python benchmarks/peers/sb3_rl.py SPEC.json OUT.json

SPEC (written by `benchmarks/rl.py`): `algo` ("ppo" | "sac"), `env` (a Gymnasium id),
`n_envs`, `seeds`, `budget` (the `total_timesteps` given to `learn`, which also sets the
learning-rate schedule), `target`, `window` (K below), `threads` (torch.set_num_threads), and
`kwargs`: SB3 constructor arguments, with `learning_rate_schedule` "linear" (the rate decays as
`lr * progress_remaining`) or "constant", and `policy_kwargs.activation` "tanh" | "relu".

The target, identical to irlax's side: after every update (PPO: one rollout of
`n_envs * n_steps` steps and its training; SAC: one step of every env and its gradient steps),
R = the mean over the parallel envs of the mean return of the last K episodes each env has
finished (an env counts once it has finished K episodes; none yet: R is NaN). The target is
reached at the first update whose R >= target; `steps` are the env steps taken by then. SB3
checks R at `_on_rollout_end` (after the rollout, before its training) and stops at the next
`_on_step`, so the timed run has done the crossing update's training too, plus one env step (of
each env) of the next rollout: the run costs what a run with exactly that budget costs.
Episode returns come from SB3's `Monitor` wrapper (`info["episode"]["r"]`, which
`make_vec_env` adds).

Timing (`time.perf_counter`): `setup_seconds` = building the vector env and the model (torch
network construction); `learn_seconds` = `model.learn(...)` until it returns (stopped at the
target, or at the budget). Importing torch and SB3 is not timed.
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque

import numpy as np
import stable_baselines3
import torch
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

ACTIVATIONS = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}


class StopAtTarget(BaseCallback):
    """Track each env's last K episode returns; stop after the update that reaches the target."""

    def __init__(self, n_envs: int, window: int, target: float):
        super().__init__()
        self.returns = [deque(maxlen=window) for _ in range(n_envs)]
        self.window, self.target = window, target
        self.reached_steps: int | None = None
        self.reached_seconds: float | None = None
        self.start = time.perf_counter()
        self.episodes = 0
        self.curve: list[tuple[int, float]] = []  # (steps, R) whenever R changes

    def mean_return(self) -> float:
        seen = [np.mean(d) for d in self.returns if len(d) == self.window]
        return float(np.mean(seen)) if seen else float("nan")

    def _on_step(self) -> bool:
        if self.reached_steps is not None:  # the crossing update has trained: stop here
            return False
        for i, info in enumerate(self.locals["infos"]):
            episode = info.get("episode")  # set by the Monitor wrapper when an episode ends
            if episode is not None:
                self.returns[i].append(float(episode["r"]))
                self.episodes += 1
        return True

    def _on_rollout_end(self) -> None:
        r = self.mean_return()
        if not self.curve or r != self.curve[-1][1]:
            self.curve.append((int(self.num_timesteps), r))
        if self.reached_steps is None and r >= self.target:
            self.reached_steps = int(self.num_timesteps)
            self.reached_seconds = time.perf_counter() - self.start


def run_seed(spec: dict, seed: int) -> dict:
    kwargs = dict(spec["kwargs"])
    schedule = kwargs.pop("learning_rate_schedule", "constant")
    lr = float(kwargs.pop("learning_rate"))
    if schedule == "linear":
        kwargs["learning_rate"] = lambda progress_remaining: lr * progress_remaining
    else:
        kwargs["learning_rate"] = lr
    policy_kwargs = dict(kwargs.pop("policy_kwargs", {}))
    policy_kwargs["activation_fn"] = ACTIVATIONS[policy_kwargs.pop("activation")]
    algo = {"ppo": PPO, "sac": SAC}[spec["algo"]]

    start = time.perf_counter()
    env = make_vec_env(spec["env"], n_envs=spec["n_envs"], seed=seed)
    model = algo(
        "MlpPolicy",
        env,
        policy_kwargs=policy_kwargs,
        seed=seed,
        device="cpu",
        verbose=0,
        **kwargs,
    )
    setup = time.perf_counter() - start
    callback = StopAtTarget(spec["n_envs"], spec["window"], spec["target"])
    start = time.perf_counter()
    callback.start = start
    model.learn(total_timesteps=spec["budget"], callback=callback)
    learn = time.perf_counter() - start
    env.close()
    return {
        "seed": seed,
        "reached": callback.reached_steps is not None,
        "steps": callback.reached_steps,
        "steps_run": int(model.num_timesteps),
        "setup_seconds": setup,
        "learn_seconds": learn,
        "seconds_at_crossing": callback.reached_seconds,
        "final_mean_return": callback.mean_return(),
        "episodes": callback.episodes,
        "curve": callback.curve[:: max(1, len(callback.curve) // 200)],
    }


def main() -> None:
    spec = json.loads(open(sys.argv[1]).read())
    torch.set_num_threads(int(spec["threads"]))
    runs = []
    for seed in spec["seeds"]:
        runs.append(run_seed(spec, seed))
        print(
            f"    sb3 {spec['algo']} seed {seed}: steps {runs[-1]['steps']} "
            f"learn {runs[-1]['learn_seconds']:.2f} s",
            file=sys.stderr,
            flush=True,
        )
    versions = {
        "stable_baselines3": stable_baselines3.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }
    try:
        import gymnasium

        versions["gymnasium"] = gymnasium.__version__
    except ImportError:
        pass
    with open(sys.argv[2], "w") as f:
        json.dump({"runs": runs, "versions": versions}, f)


if __name__ == "__main__":
    main()
