"""`imitation` 1.0.1 GAIL / AIRL on CartPole-v1 until a return target: the peer side of the
adversarial-imitation benchmark.

Runs in the peer virtualenv (`.venv-peers`, see `requirements-imitation.txt`) and never imports
irlax. One process trains the given seeds one after the other and writes one JSON file:

    .venv-peers/bin/python benchmarks/peers/imitation_adversarial.py --algo gail|airl \
        --demos DEMOS.npz --seeds 0 1 2 --target 475 --max-steps 1000000 --out OUT.json

**Demonstrations.** `DEMOS.npz` is irlax's `Trajectories.save` format, read with numpy
(`allow_pickle=False`): `observations [N, T+1, obs_dim]`, `actions [N, T]` (int), `lengths [N]`;
trajectory i is `observations[i, :lengths[i] + 1]`, `actions[i, :lengths[i]]`. Optional
`rewards [N, T]` (unused: adversarial imitation does not see rewards), `terminated [N]` (bool),
`format` (checked when present). Each becomes an `imitation.data.types.Trajectory` with
`terminal=True` only where `terminated` says so; an episode cut by the time limit, or any
episode when `terminated` is absent, gets `terminal=False`. This matters for AIRL, whose
shaping term drops the next-state potential on terminal transitions.

**Setup: imitation's documented CartPole tutorials** (github.com/HumanCompatibleAI/imitation,
`docs/tutorials/3_train_gail.ipynb` at commit 4c62f6cd, "Train an Agent using Generative
Adversarial Imitation Learning", and `docs/tutorials/4_train_airl.ipynb` at 07b300b3, "Train an
Agent using Adversarial Inverse Reinforcement Learning"; the same code is on
imitation.readthedocs.io). Both use 8 `DummyVecEnv` envs from `imitation.util.util.make_vec_env`
(each in a `Monitor`, then `RolloutInfoWrapper`); an SB3 `PPO` generator with `MlpPolicy`,
`batch_size=64`, `ent_coef=0.0`, `gamma=0.95`, `n_epochs=5`, `n_steps` and every other PPO
argument at SB3's default (`n_steps=2048`, `gae_lambda=0.95`, `max_grad_norm=0.5`, ...), seeded
with the run's seed; a `RunningNorm`-normalised reward net; `gen_replay_buffer_capacity=512`;
`gen_train_timesteps` at its default, `n_envs * n_steps = 16384` env steps per round. Per
algorithm the notebooks set:

| argument | GAIL notebook | AIRL notebook | `--preset common` (default) |
|---|---|---|---|
| reward net | `BasicRewardNet` | `BasicShapedRewardNet` | as in the notebook |
| PPO `learning_rate` | 0.0004 | 0.0005 | as in the notebook |
| PPO `clip_range` | not set (0.2) | 0.1 | 0.1 |
| PPO `vf_coef` | not set (0.5) | 0.1 | 0.1 |
| `demo_batch_size` | 1024 | 2048 | 1024 |
| `n_disc_updates_per_round` | 8 | 16 | 8 |

`--preset tutorial` uses each notebook's own column verbatim. The default, `common`, is one
setting for both algorithms, the one the benchmark specifies for both libraries: GAIL's
discriminator settings and AIRL's PPO settings. The AIRL notebook's `demo_batch_size=2048`
also needs at least 2048 demonstration transitions (imitation refuses a smaller dataset), which
4 demonstrations of 500 steps do not have. Each value can be overridden with its own flag. The
JSON records the values used.

Deliberate departures from the notebooks: the env is Gymnasium's `CartPole-v1` (terminates when
the pole falls, truncated at 500 steps), not `seals/CartPole-v0` (fixed horizon), so the trainer
gets `allow_variable_horizon=True`. imitation's logger is built with no output formats
(`imitation.util.logger.configure(format_strs=[])`): the default prints a table to stdout after
every discriminator update and writes log/csv files. The statistics are still computed and
recorded, only not written. tqdm's bar is off (`TQDM_DISABLE=1`).

**Reaching the target** (the training-episode criterion). Training goes one round at a time,
through imitation's own loop: `trainer.train(trainer.gen_train_timesteps)` is exactly one round
of `AdversarialTrainer.train` (the generator collects and trains on 16384 env steps, then
`n_disc_updates_per_round` discriminator updates). After every round, R = the mean over the 8
envs of the true (CartPole) return of the last episode each env has finished, read from the
`Monitor` wrappers that `make_vec_env` puts around each env (inside imitation's reward
wrapper, so they see the environment's own reward). Envs that have not finished an episode yet
do not count; R is NaN while none has. The run stops after the first round with R >= `--target`,
or when another round would exceed `--max-steps` env steps (imitation's own `train` rule).
`env_steps_to_target` = the generator's env steps at that round (`gen_algo.num_timesteps`; the
discriminator takes none); `rounds` = the rounds run.

**Timing** (`time.perf_counter`): `setup_seconds` = building the vector env, PPO (policy
network), the reward net and the trainer (which flattens the demonstrations into its data
loader). `seconds_to_target` = from just before the first round to the end of the crossing
round (the R check included, negligible); `train_seconds` is the same up to the last round run.
Importing torch / SB3 / imitation and reading the demos file are not timed. torch's thread
count is left at its default unless `--torch-threads N` is given, and is recorded
(`torch_num_threads`). On a loaded 2-core machine the default (2 threads) made every small torch
op 25-80x slower than one thread (a 4-64-64-2 MLP on 8 rows: 3.3-5.2 ms vs 0.06-0.12 ms per
call at load average 8; one round took 220 s instead of 15-20 s), so compare with
`--torch-threads 1` there (what the recorded runs used; see README.md).
"""

from __future__ import annotations

import os

os.environ.setdefault("TQDM_DISABLE", "1")  # before imitation imports tqdm

import argparse
import inspect
import json
import math
import platform
import sys
import tempfile
import time
from importlib import metadata

import gymnasium
import numpy as np
import stable_baselines3
import torch
from imitation.algorithms.adversarial.airl import AIRL
from imitation.algorithms.adversarial.gail import GAIL
from imitation.data import types
from imitation.data.wrappers import RolloutInfoWrapper
from imitation.rewards.reward_nets import BasicRewardNet, BasicShapedRewardNet
from imitation.util import logger as imit_logger
from imitation.util.networks import RunningNorm
from imitation.util.util import make_vec_env
from stable_baselines3 import PPO
from stable_baselines3.ppo import MlpPolicy

FORMAT_TAGS = ("irlax.Trajectories/1", "irlax.Trajectories/2")  # /2 adds a checksum
PPO_N_STEPS = inspect.signature(PPO).parameters["n_steps"].default  # 2048 in SB3 2.2.1

# Per algorithm: the tutorial notebook's values (see the module docstring).
TUTORIAL = {
    "gail": {
        "learning_rate": 0.0004,
        "clip_range": 0.2,  # not set in the notebook: SB3's default
        "vf_coef": 0.5,  # not set in the notebook: SB3's default
        "demo_batch_size": 1024,
        "n_disc_updates_per_round": 8,
    },
    "airl": {
        "learning_rate": 0.0005,
        "clip_range": 0.1,
        "vf_coef": 0.1,
        "demo_batch_size": 2048,
        "n_disc_updates_per_round": 16,
    },
}
COMMON = {
    "gail": {**TUTORIAL["gail"], "clip_range": 0.1, "vf_coef": 0.1},
    "airl": {**TUTORIAL["airl"], "demo_batch_size": 1024, "n_disc_updates_per_round": 8},
}
SHARED = {  # identical in both notebooks
    "batch_size": 64,
    "ent_coef": 0.0,
    "gamma": 0.95,
    "n_epochs": 5,
    "gen_replay_buffer_capacity": 512,
}


def load_demos(path: str, obs_dim: int, n_actions: int) -> list[types.Trajectory]:
    """Read irlax's `Trajectories.save` .npz into imitation `Trajectory` objects."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ValueError(f"--demos {path!r}: cannot read it as an .npz ({err})") from err
    with data:
        files = set(data.files)
        missing = {"observations", "actions", "lengths"} - files
        if missing:
            raise ValueError(f"--demos {path!r}: missing array(s) {sorted(missing)}")
        if "format" in files and str(data["format"]) not in FORMAT_TAGS:
            raise ValueError(
                f"--demos {path!r}: format tag {str(data['format'])!r}, expected {FORMAT_TAGS}"
            )
        try:
            obs = np.asarray(data["observations"])
            acts = np.asarray(data["actions"])
            lengths = np.asarray(data["lengths"])
            terminated = np.asarray(data["terminated"]) if "terminated" in files else None
        except ValueError as err:  # e.g. an object array, refused with allow_pickle=False
            raise ValueError(f"--demos {path!r}: unreadable array ({err})") from err
    if obs.ndim != 3 or acts.ndim != 2 or lengths.ndim != 1:
        raise ValueError(
            f"--demos {path!r}: expected observations [N, T+1, D], actions [N, T], lengths [N]; "
            f"got {obs.shape}, {acts.shape}, {lengths.shape}"
        )
    n, t = acts.shape
    if n == 0 or obs.shape[:2] != (n, t + 1) or lengths.shape != (n,):
        raise ValueError(
            f"--demos {path!r}: inconsistent shapes observations {obs.shape}, "
            f"actions {acts.shape}, lengths {lengths.shape}"
        )
    if obs.shape[2] != obs_dim:
        raise ValueError(f"--demos {path!r}: observation size {obs.shape[2]}, env has {obs_dim}")
    if not np.issubdtype(acts.dtype, np.integer) or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"--demos {path!r}: actions and lengths must be integer arrays")
    if not np.issubdtype(obs.dtype, np.floating):
        raise ValueError(f"--demos {path!r}: observations must be floating point")
    if lengths.min() < 1 or lengths.max() > t:
        raise ValueError(f"--demos {path!r}: lengths must lie in [1, {t}], got {lengths}")
    if terminated is not None and (terminated.shape != (n,) or terminated.dtype != np.bool_):
        raise ValueError(f"--demos {path!r}: terminated must be bool [N], got {terminated.dtype}")
    trajs = []
    for i in range(n):
        length = int(lengths[i])
        o = obs[i, : length + 1].astype(np.float32)
        a = acts[i, :length].astype(np.int64)
        if not np.all(np.isfinite(o)):
            raise ValueError(f"--demos {path!r}: trajectory {i} has non-finite observations")
        if a.min() < 0 or a.max() >= n_actions:
            raise ValueError(
                f"--demos {path!r}: trajectory {i} has actions outside [0, {n_actions})"
            )
        terminal = bool(terminated[i]) if terminated is not None else False
        trajs.append(types.Trajectory(obs=o, acts=a, infos=None, terminal=terminal))
    return trajs


def last_episode_mean(monitors: list) -> float:
    """R: mean over envs of the return of each env's last finished episode (NaN if none)."""
    last = [m.get_episode_rewards()[-1] for m in monitors if m.get_episode_rewards()]
    return float(np.mean(last)) if last else float("nan")


def run_seed(args: argparse.Namespace, hp: dict, demos: list, seed: int) -> dict:
    monitors: list = [None] * args.n_envs

    def keep_monitor(env, i):  # post_wrapper: `env` is the Monitor make_vec_env built
        monitors[i] = env
        return env

    start = time.perf_counter()
    venv = make_vec_env(
        args.env,
        n_envs=args.n_envs,
        rng=np.random.default_rng(seed),
        post_wrappers=[keep_monitor, lambda env, _: RolloutInfoWrapper(env)],
    )
    learner = PPO(
        env=venv,
        policy=MlpPolicy,
        batch_size=hp["batch_size"],
        ent_coef=hp["ent_coef"],
        learning_rate=hp["learning_rate"],
        gamma=hp["gamma"],
        clip_range=hp["clip_range"],
        vf_coef=hp["vf_coef"],
        n_epochs=hp["n_epochs"],
        seed=seed,
        device="cpu",
    )
    net_cls = BasicRewardNet if args.algo == "gail" else BasicShapedRewardNet
    reward_net = net_cls(
        observation_space=venv.observation_space,
        action_space=venv.action_space,
        normalize_input_layer=RunningNorm,
    )
    trainer_cls = GAIL if args.algo == "gail" else AIRL
    with tempfile.TemporaryDirectory(prefix="imitation-adv-") as log_dir:
        trainer = trainer_cls(
            demonstrations=demos,
            demo_batch_size=hp["demo_batch_size"],
            gen_replay_buffer_capacity=hp["gen_replay_buffer_capacity"],
            n_disc_updates_per_round=hp["n_disc_updates_per_round"],
            venv=venv,
            gen_algo=learner,
            reward_net=reward_net,
            allow_variable_horizon=True,
            custom_logger=imit_logger.configure(folder=log_dir, format_strs=[]),
            log_dir=log_dir,
        )
        setup = time.perf_counter() - start
        assert all(m is not None for m in monitors)
        per_round = trainer.gen_train_timesteps
        assert per_round == args.n_envs * PPO_N_STEPS
        n_rounds = args.max_steps // per_round

        curve = []
        reached_steps = reached_seconds = None
        start = time.perf_counter()
        for r in range(n_rounds):
            trainer.train(per_round)  # exactly one round of AdversarialTrainer.train
            big_r = last_episode_mean(monitors)
            elapsed = time.perf_counter() - start
            steps = int(learner.num_timesteps)
            curve.append({"round": r + 1, "env_steps": steps, "R": big_r, "seconds": elapsed})
            if not args.quiet:
                print(
                    f"  {args.algo} seed {seed} round {r + 1}/{n_rounds}: steps {steps} "
                    f"R {big_r:.1f} {elapsed:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
            if big_r >= args.target:  # NaN compares False
                reached_steps, reached_seconds = steps, elapsed
                break
        train_seconds = time.perf_counter() - start
    venv.close()
    final_r = curve[-1]["R"]
    return {
        "seed": seed,
        "reached": reached_steps is not None,
        "env_steps_to_target": reached_steps,
        "seconds_to_target": reached_seconds,
        "setup_seconds": setup,
        "final_R": None if math.isnan(final_r) else final_r,
        "rounds": len(curve),
        "env_steps_run": int(learner.num_timesteps),
        "train_seconds": train_seconds,
        "episodes_finished": int(sum(len(m.get_episode_rewards()) for m in monitors)),
        "curve": [{**c, "R": None if math.isnan(c["R"]) else c["R"]} for c in curve],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--algo", choices=["gail", "airl"], required=True)
    p.add_argument("--demos", required=True, help="irlax Trajectories .npz")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--target", type=float, default=475.0)
    p.add_argument("--max-steps", type=int, default=1_000_000, help="env-step budget per seed")
    p.add_argument("--out", required=True, help="output JSON")
    p.add_argument("--env", default="CartPole-v1", help="Gymnasium id (default CartPole-v1)")
    p.add_argument("--n-envs", type=int, default=8)
    p.add_argument(
        "--preset",
        choices=["common", "tutorial"],
        default="common",
        help="common: one setting for both algorithms (default); tutorial: each notebook's own",
    )
    for name, kind in [
        ("learning-rate", float),
        ("clip-range", float),
        ("vf-coef", float),
        ("demo-batch-size", int),
        ("n-disc-updates-per-round", int),
        ("gen-replay-buffer-capacity", int),
    ]:
        p.add_argument(f"--{name}", type=kind, default=None, help="override the preset")
    p.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch.set_num_threads(N) before anything runs (default: leave torch's default)",
    )
    p.add_argument("--quiet", action="store_true", help="no per-round line on stderr")
    args = p.parse_args(argv)
    if args.n_envs < 1:
        p.error("--n-envs must be >= 1")
    if args.max_steps < 1:
        p.error("--max-steps must be >= 1")
    if not math.isfinite(args.target):
        p.error("--target must be finite")
    if args.torch_threads is not None and args.torch_threads < 1:
        p.error("--torch-threads must be >= 1")
    return args


def hyperparameters(args: argparse.Namespace) -> dict:
    preset = (COMMON if args.preset == "common" else TUTORIAL)[args.algo]
    hp = {**SHARED, **preset}
    for key in [
        "learning_rate",
        "clip_range",
        "vf_coef",
        "demo_batch_size",
        "n_disc_updates_per_round",
        "gen_replay_buffer_capacity",
    ]:
        value = getattr(args, key)
        if value is not None:
            hp[key] = value
    return hp


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.torch_threads is not None:
        torch.set_num_threads(args.torch_threads)
    hp = hyperparameters(args)
    if args.max_steps < args.n_envs * PPO_N_STEPS:
        raise ValueError(
            f"--max-steps {args.max_steps} is less than one round "
            f"(n_envs * n_steps = {args.n_envs * PPO_N_STEPS} env steps)"
        )
    probe = gymnasium.make(args.env)
    obs_dim = int(np.prod(probe.observation_space.shape))
    n_actions = int(probe.action_space.n)
    probe.close()
    demos = load_demos(args.demos, obs_dim, n_actions)
    n_transitions = sum(len(t.acts) for t in demos)
    if hp["demo_batch_size"] > n_transitions:
        raise ValueError(
            f"demo_batch_size {hp['demo_batch_size']} exceeds the {n_transitions} demonstration "
            "transitions (imitation needs at least one full batch); pass --demo-batch-size"
        )
    runs = []
    for seed in args.seeds:
        run = run_seed(args, hp, demos, seed)
        runs.append(run)
        print(
            f"imitation {args.algo} seed {seed}: reached {run['reached']} "
            f"steps {run['env_steps_to_target']} seconds {run['seconds_to_target']} "
            f"(setup {run['setup_seconds']:.2f} s, {run['rounds']} rounds, "
            f"final R {run['final_R']})",
            file=sys.stderr,
            flush=True,
        )
    out = {
        "library": "imitation",
        "algo": args.algo,
        "env": args.env,
        "n_envs": args.n_envs,
        "demos": os.path.abspath(args.demos),
        "n_demos": len(demos),
        "demo_transitions": n_transitions,
        "demo_terminal": [bool(t.terminal) for t in demos],
        "target": args.target,
        "max_steps": args.max_steps,
        "criterion": "mean over envs of each env's last finished training-episode return, "
        "checked after every round",
        "preset": args.preset,
        "hyperparameters": hp,
        "env_steps_per_round": runs[0]["curve"][0]["env_steps"] if runs else None,
        "versions": {
            "imitation": metadata.version("imitation"),
            "torch": torch.__version__,
            "stable_baselines3": stable_baselines3.__version__,
            "gymnasium": gymnasium.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "torch_num_threads": torch.get_num_threads(),
        "torch_threads_set": args.torch_threads is not None,
        "cpu_count": os.cpu_count(),
        "runs": runs,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, indent=1)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
