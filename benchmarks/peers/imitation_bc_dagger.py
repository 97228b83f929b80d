"""`imitation` 1.0.1 BC / DAgger on CartPole-v1 until a return target: the peer side of
`benchmarks/imitation_speed.py`.

Runs in the peer virtualenv (`.venv-peers`) and never imports irlax. One process trains the
given seeds one after the other and writes one JSON file:

    .venv-peers/bin/python benchmarks/peers/imitation_bc_dagger.py --algo bc|dagger \
        --demos DEMOS.npz --seeds 0 1 2 --target 475 --max-updates 20 --out OUT.json

**Demonstrations**: irlax's `Trajectories.save` .npz (`observations [N, T+1, 4]`, `actions
[N, T]`, `lengths [N]`), read with numpy (`allow_pickle=False`); `--n-demos` keeps the first n.

**Set-up: imitation's defaults.** BC: `imitation.algorithms.bc.BC` with its default policy (a
[32, 32] `FeedForward32Policy`), Adam at 1e-3, `batch_size=32`, `ent_weight=1e-3`,
`l2_weight=0`; one update is `bc.train(n_epochs=1)`. DAgger: `SimpleDAggerTrainer` on one
`DummyVecEnv` CartPole-v1 with its default `LinearBetaSchedule(15)`, the demos as its round-0
data, the same BC trainer; one update is one round driven as `SimpleDAggerTrainer.train` drives
it (`create_trajectory_collector`, `generate_trajectories` of the expert through the collector
until `--round-steps` steps and one episode, `extend_and_update(n_epochs=4)`, imitation's
`DEFAULT_N_EPOCHS`). The expert is irlax's scripted CartPole controller (push right when
`obs · (0.1, 0.5, 10, 2) > 0`), as an SB3 `BasePolicy`.

**Reaching the target**: after every update, R = the mean true return of `--eval-episodes`
episodes of the learner (sampled actions, `deterministic_policy=False`) on a separate env;
the run stops at the first update with R >= `--target` or after `--max-updates`.
**Timing** (`time.perf_counter`): `setup_seconds` (trainer, envs, policy), `seconds_to_target`
from the first update to the end of the crossing update's evaluation (evaluation included,
as irlax's is inside its update). torch threads: `--torch-threads` (1 recommended on a loaded
machine; see README.md).
"""

from __future__ import annotations

import os

os.environ.setdefault("TQDM_DISABLE", "1")

import argparse
import json
import tempfile
import time

import gymnasium
import numpy as np
import torch
from imitation.algorithms import bc as imitation_bc
from imitation.algorithms import dagger as imitation_dagger
from imitation.data import rollout, types
from imitation.util import logger as imit_logger
from stable_baselines3.common import policies
from stable_baselines3.common.vec_env import DummyVecEnv

EXPERT = np.asarray([0.1, 0.5, 10.0, 2.0], np.float32)


class ScriptedExpert(policies.BasePolicy):
    """irlax's scripted CartPole expert as an SB3 policy."""

    def _predict(self, observation, deterministic=False):
        weights = torch.as_tensor(EXPERT, dtype=observation.dtype, device=observation.device)
        return (observation @ weights > 0).long()


def load_demos(path: str, n: int | None) -> list[types.Trajectory]:
    with np.load(path, allow_pickle=False) as data:
        obs, acts, lengths = (np.asarray(data[k]) for k in ("observations", "actions", "lengths"))
    count = len(lengths) if n is None else n
    return [
        types.Trajectory(
            obs=obs[i, : lengths[i] + 1].astype(np.float32),
            acts=acts[i, : lengths[i]].astype(np.int64),
            infos=None,
            terminal=False,
        )
        for i in range(count)
    ]


def make_env(seed: int):
    venv = DummyVecEnv([lambda: gymnasium.make("CartPole-v1")])
    venv.seed(seed)
    return venv


def evaluate(policy, venv, episodes: int, rng) -> float:
    trajs = rollout.generate_trajectories(
        policy,
        venv,
        rollout.make_sample_until(min_episodes=episodes),
        rng=rng,
        deterministic_policy=False,
    )
    return float(np.mean([np.sum(t.rews) for t in trajs[:episodes]]))


def run_seed(args, seed: int) -> dict:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    demos = load_demos(args.demos, args.n_demos)
    t0 = time.perf_counter()
    venv = make_env(seed)
    eval_env = make_env(seed + 1000)
    logger = imit_logger.configure(format_strs=[])
    trainer = imitation_bc.BC(
        observation_space=venv.observation_space,
        action_space=venv.action_space,
        demonstrations=rollout.flatten_trajectories(demos) if args.algo == "bc" else None,
        rng=rng,
        custom_logger=logger,
    )
    if args.algo == "dagger":
        scratch = tempfile.mkdtemp(prefix="dagger_")
        expert = ScriptedExpert(venv.observation_space, venv.action_space)
        dagger = imitation_dagger.SimpleDAggerTrainer(
            venv=venv,
            scratch_dir=scratch,
            expert_policy=expert,
            bc_trainer=trainer,
            rng=rng,
            expert_trajs=demos,
            custom_logger=logger,
        )
    setup = time.perf_counter() - t0
    returns, labels = [], []
    total_labels = sum(len(d) for d in demos)
    start = time.perf_counter()
    crossed = None
    for update in range(1, args.max_updates + 1):
        if args.algo == "bc":
            trainer.train(n_epochs=1, progress_bar=False)
        else:
            collector = dagger.create_trajectory_collector()
            trajs = rollout.generate_trajectories(
                policy=expert,
                venv=collector,
                sample_until=rollout.make_sample_until(
                    min_timesteps=args.round_steps, min_episodes=1
                ),
                deterministic_policy=True,
                rng=collector.rng,
            )
            total_labels += sum(len(t) for t in trajs)
            dagger.extend_and_update(dict(n_epochs=4, progress_bar=False))
        returns.append(evaluate(trainer.policy, eval_env, args.eval_episodes, rng))
        labels.append(total_labels)
        if returns[-1] >= args.target:
            crossed = update
            break
    seconds = time.perf_counter() - start
    return {
        "seed": seed,
        "setup_seconds": setup,
        "seconds_to_target": seconds if crossed else None,
        "train_seconds": seconds,
        "updates_to_target": crossed,
        "expert_labels_to_target": labels[-1] if crossed else None,
        "returns": returns,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--algo", choices=("bc", "dagger"), required=True)
    parser.add_argument("--demos", required=True)
    parser.add_argument("--n-demos", type=int, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--target", type=float, default=475.0)
    parser.add_argument("--max-updates", type=int, default=20)
    parser.add_argument("--eval-episodes", type=int, default=4)
    parser.add_argument("--round-steps", type=int, default=500)
    parser.add_argument("--torch-threads", type=int, default=None)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    runs = [run_seed(args, seed) for seed in args.seeds]
    record = {
        "library": "imitation",
        "algo": args.algo,
        "torch_num_threads": torch.get_num_threads(),
        "settings": vars(args),
        "runs": runs,
    }
    with open(args.out, "w") as f:
        json.dump(record, f, indent=1)


if __name__ == "__main__":
    main()
