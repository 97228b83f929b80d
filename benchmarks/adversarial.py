"""Adversarial imitation (GAIL, AIRL) against the published experiments that introduced them.

1. **Ho & Ermon (2016), classic control** (their Fig. 1: CartPole, Acrobot, MountainCar):
   GAIL and AIRL with their default configs (`gail.GAILConfig()`, `airl.AIRLConfig()`; only
   the generator's `total_steps` is raised per env, the same for both methods, and AIRL's
   reward reads the action and its discriminator samples the last 8 updates' policy
   transitions, as in Fu et al.'s experiments, and on MountainCar its generator steps at
   learning rate 1e-3, see `CLASSIC_AIRL_LEARNING_RATE`), and BC, learn from 1,
   4, 7 and 10 expert trajectories, 5 seeds in one `jax.vmap`-ed call per cell. Each seed's
   final policy is evaluated on 10 fresh episodes (stochastic policy, true env reward);
   reported: mean ± std over seeds of that return and of the normalised score
   `(score − random) / (expert − random)`, with `random` a uniformly random policy's mean return
   and `expert` the expert's (100 episodes each). Experts: CartPole the scripted linear
   controller, Acrobot a PPO policy trained here (`irlax.rl.ppo`, the best of a few seeds),
   MountainCar a planner (value iteration on a fine grid of the known, deterministic
   dynamics; it scores as Ho & Ermon's TRPO expert does, where the energy-pumping rule is 30
   steps slower). The
   N-trajectory demos are the first N of one set of expert episodes.
2. **Fu, Luo & Levine (2018)**:
   (a) Pendulum-v1 (one of their imitation benchmarks): GAIL and AIRL with a state-action
   reward against a SAC expert trained here; generator SAC (`GAILConfig(generator=SACConfig)`;
   AIRL's at a fixed temperature of 1, its objective), with a discriminator step every
   `discriminator_every` env steps on batches from a buffer of recent policy transitions, and
   PPO as a second, reduced try.
   (b) The shifting maze (their reward-transfer experiment, `irlax.envs.PointMaze`): a PPO
   expert in the maze whose wall gap is on the left, demos from it, AIRL with a state-only
   reward and GAIL trained there; then PPO, and SAC, from scratch in the maze whose gap is on
   the right with (i) the true reward, (ii) AIRL's learned reward, (iii) GAIL's discriminator
   reward, and the policies trained on the left maze run directly on the right one; reach rate
   (`PointMaze.reached_goal` of the episode's last position) and mean true return, their
   Table 1 layout; and each learned reward mapped over the maze beside the true one.

Every trained configuration is compiled by `jax.jit(train).lower(keys).compile()` and then
called, the two timed apart; the seconds are in the JSON.

    nice -n 10 .venv/bin/python benchmarks/adversarial.py [--quick] [--parts classic,pendulum,maze]

writes benchmarks/results/adversarial.json, renders adversarial.md from it (`--render-only
[JSON]` re-renders without running) and plots adversarial.png. `--quick` is a smoke test of
the pipeline (tiny budgets, 2 seeds), written to the git-ignored benchmarks/.cache/.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import _report
import numpy as np
from _report import source_state, sources_line

HERE = Path(__file__).resolve().parent

# --------------------------------------------------------------------------- the settings

# Ho & Ermon (2016), 1 trajectory, from the authors' released results (their CartPole is v0,
# capped at 200 steps; ours is v1, capped at 500). irlax's BC runs beside them.
HO_ERMON = {
    "CartPole-v1": {"expert": 200.0, "bc": 72.0, "gail": 200.0},
    "Acrobot-v1": {"expert": -75.3, "bc": -130.6, "gail": -77.3},
    "MountainCar-v0": {"expert": -98.8, "bc": -136.8, "gail": -101.6},
}

# Generator budgets (env steps per seed). The default, 100k, suffices on CartPole; Acrobot and
# MountainCar get more (the same for GAIL and AIRL). Against the planner, GAIL's MountainCar
# return is still at the energy-pumping rule's (~−135) after 300k and reaches the expert's
# after ~600k (probe, 5 seeds, 1 demo: 0.96 normalised at 1M).
CLASSIC_STEPS = {"CartPole-v1": 100_000, "Acrobot-v1": 200_000, "MountainCar-v0": 1_000_000}
CLASSIC_EXPERT = {
    "CartPole-v1": "scripted",
    "Acrobot-v1": "ppo",
    "MountainCar-v0": "value_iteration",
}
MOUNTAIN_CAR_GRID = 301  # cells per axis of the planner's value grid
CARTPOLE_GAINS = (0.1, 0.5, 10.0, 2.0)
# AIRL imitates here, nothing is transferred, so its reward is g(s, a), as in Fu et al.'s
# imitation experiments (and Pendulum below). With the state-only default g(s) the action
# reaches f = g(s) + γh(s') − h(s) only through s', which one step of Acrobot or MountainCar
# barely moves. Probes at N = 1, 5 seeds, with the default generator (normalize_rewards):
# state-action 0.93 / 1.00 / 0.77 on CartPole / Acrobot / MountainCar (1M steps; four seeds
# at 0.94-0.97, the fifth stops reaching the goal early on and never recovers), and
# state-only 1.00 / 0.91 / 0.88 (no seed collapses, still rising at 1M). Without
# normalize_rewards (the run before), state-action scored 0.85 / 1.01 / 0.51.
CLASSIC_AIRL_REWARD = "state_action"
# AIRL's discriminator samples the last 8 generator updates' transitions (Fu et al.'s "fusion",
# as in the maze below), not the last update's alone. Probes at N = 1, 5 seeds: MountainCar
# 0.77 -> 0.95, Acrobot 1.00 -> 1.01, CartPole 0.93 -> 0.92. On 20 seeds
# (adversarial_seeds.md) MountainCar still loses 4 seeds of 20 (3 of 20 with 32 updates'
# worth), so fusion made the 5-seed table lucky rather than AIRL stable. What a lost seed
# does (the `absorbing_reward` metric, 20 seeds): it reaches the goal for ~450-600 updates
# with the absorbing reward at +0.1 to +0.4, then its policy's entropy climbs from ~0.1 to
# ~0.6 within ~30 updates, it stops reaching the goal, and never does again; the absorbing
# reward then climbs to +10 and more, fed by the expert's terminations alone (the +14 seen
# before is this aftermath, not the cause). The entropy comes from the −log π in AIRL's
# generator reward: entropy_weight 0.5 lost 3 seeds of 20, 0.1 lost 6 (5 never found the
# goal); a state-only g lost 1 but scored 0.87. Without absorbing states MountainCar scored
# 0.96 on 5 seeds but CartPole 0.59 (a survival bias); PPO's entropy bonus 0.01 on top gave
# CartPole 1.00 but MountainCar 0.58.
CLASSIC_AIRL_FUSION = 8
# On MountainCar, AIRL's PPO generator steps at learning rate 1e-3, not PPO's default 2.5e-3
# (CleanRL's CartPole setting, for 100k-step runs; annealed over MountainCar's 1M steps it is
# still 1.8e-3 when seeds are lost). GAIL keeps the default. The MountainCar seeds that AIRL
# lost (above) were lost at 2.5e-3: probes on adversarial_seeds.py's 20 seeds at N = 1 lost
# none at 1e-3 (mean 0.967) and none at 3e-4, which is too slow for the budget (0.79). On
# CartPole's 100k steps 1e-3 is too slow (2 seeds of 20 not learning), so it stays there.
# Chosen on those 20 seeds: the 5-seed table here (other seeds) is the check that does not
# select on its own outcome.
CLASSIC_AIRL_LEARNING_RATE = {"MountainCar-v0": 1e-3}
PPO_DEFAULT_LEARNING_RATE = 2.5e-3  # the PPOConfig default, for the report's wording
TARGET_SCORE = 0.95  # normalised, one trajectory
BC_GAP = 0.05  # "BC visibly below" GAIL and AIRL at one trajectory: by this much, normalised

EVAL_EPISODES = 10  # per seed
REFERENCE_EPISODES = 100  # expert and random policy


def settings(quick: bool) -> dict:
    """The run's sizes; `--quick` shrinks every budget to a smoke test."""
    if quick:
        return {
            "seeds": 2,
            "trajectories": [1, 4],
            "classic_steps": dict.fromkeys(CLASSIC_STEPS, 4096),
            "bc_epochs": 5,
            "acrobot_expert_steps": 20_000,
            "expert_seeds": 2,
            "pendulum_expert_steps": 1000,
            "pendulum_demos": 2,
            "pendulum_sac_steps": 1500,
            "pendulum_ppo_steps": 16_384,
            "pendulum_ppo_seeds": 2,
            "maze_expert_steps": 65_536,
            "maze_demos": 4,
            "maze_irl_steps": 32_768,
            "maze_transfer_steps": 65_536,
            "maze_sac_transfer_steps": 8192,
            "maze_seeds": 2,
        }
    return {
        "seeds": 5,
        "trajectories": [1, 4, 7, 10],
        "classic_steps": CLASSIC_STEPS,
        "bc_epochs": 50,
        "acrobot_expert_steps": 200_000,
        "expert_seeds": 2,
        "pendulum_expert_steps": 8000,
        "pendulum_demos": 10,
        "pendulum_sac_steps": 10_000,
        "pendulum_ppo_steps": 500_000,
        "pendulum_ppo_seeds": 2,
        "maze_expert_steps": 1_000_000,
        "maze_demos": 10,
        "maze_irl_steps": 500_000,
        "maze_transfer_steps": 1_000_000,
        "maze_sac_transfer_steps": 200_000,
        "maze_seeds": 3,
    }


def acrobot_expert_config(steps: int):
    from irlax.rl import ppo

    return ppo.PPOConfig(total_steps=steps)


def pendulum_expert_config(steps: int):
    from irlax.rl import sac

    # rl-baselines3-zoo's Pendulum-v1 step size and warm-up; above −200 after ~5k steps.
    return sac.SACConfig(total_steps=steps, learning_rate=1e-3, learning_starts=100)


def pendulum_sac_generator(steps: int):
    """SAC as the generator on Pendulum: smaller networks than the expert's (256×256), which
    are ~10× cheaper on CPU and learn Pendulum as well."""
    from irlax.rl import sac

    return sac.SACConfig(
        total_steps=steps,
        learning_rate=1e-3,
        learning_starts=500,
        hidden=(64, 64),
        batch_size=128,
    )


def pendulum_airl_sac_generator(steps: int):
    """`pendulum_sac_generator` at a fixed temperature of 1, AIRL's objective exactly
    (`AIRLConfig` refuses a SAC generator that tunes its temperature: at the tuned one AIRL
    reached 0.34 normalised here, at 1 0.95; probe, 5 seeds)."""
    return dataclasses.replace(
        pendulum_sac_generator(steps), learn_temperature=False, temperature=1.0
    )


def pendulum_sac_discriminator(steps: int) -> dict:
    """A SAC generator takes one env step per update: the discriminator takes one step of 256
    expert and 256 policy transitions every 10 env steps, drawn from all policy transitions
    so far (Kostrikov et al. 2019 draw from the whole replay buffer)."""
    return {
        "discriminator_every": 10,
        "discriminator_steps": 1,
        "discriminator_batch_size": 256,
        "policy_buffer_size": steps,
    }


def pendulum_ppo_generator(steps: int):
    from irlax.rl import ppo

    return ppo.PPOConfig(
        total_steps=steps,
        num_envs=16,
        rollout_length=128,
        update_epochs=10,
        num_minibatches=4,
        learning_rate=3e-4,
        discount=0.95,
        entropy_coef=0.0,
        normalize_observations=True,
        init_log_std=-0.5,
    )


def maze_ppo_config(steps: int):
    """PPO for the maze, the settings that reach the goal with the true reward (PointMaze's
    author: ~1M steps); used for the expert, as the generator of GAIL and AIRL, and for the
    transfer runs."""
    from irlax.rl import ppo

    return ppo.PPOConfig(
        total_steps=steps,
        num_envs=16,
        rollout_length=128,
        normalize_observations=True,
        init_log_std=-1.0,
        discount=0.98,
        entropy_coef=0.0,
        learning_rate=3e-4,
    )


def maze_discriminator(generator) -> dict:
    """The discriminator of GAIL and AIRL in the maze: 10 steps per generator update on
    transitions drawn from the last 8 updates' policy samples, as Fu et al.'s code trains
    AIRL (`max_itrs=10`, and "fusion" with past policies' samples). With the on-policy
    default (4 steps, the last update's samples) AIRL's policy reached the goal in 45% of
    left-maze episodes; with these, 90-100% (probe, 3 seeds)."""
    per_update = generator.num_envs * generator.rollout_length
    return {"discriminator_steps": 10, "policy_buffer_size": 8 * per_update}


def maze_transfer_config(steps: int):
    """PPO for the transfer runs: the expert's, exploring more (initial log std 0, not −1,
    and an entropy bonus of 0.01). The true reward's local optimum, straight up against the
    wall under the goal, held 1 of 3 seeds with the expert's settings (67% reach); with these
    all 3 reach the goal (probe). The same for every reward."""
    return dataclasses.replace(maze_ppo_config(steps), init_log_std=0.0, entropy_coef=0.01)


def maze_sac_transfer_config(steps: int):
    """SAC for a second set of transfer runs: a maximum-entropy learner, the kind AIRL's reward
    is defined for (Fu et al. re-optimise with entropy-regularised TRPO), off-policy, with
    its own exploration (automatic temperature), at the expert's discount; small networks
    and 8 envs, as for Pendulum's generator. On the true reward it reaches the goal in all
    3 seeds in 200,000 steps (probe). If a learned reward fails with both PPO and SAC, the
    failure is the reward's shape, not one learner's exploration."""
    from irlax.rl import sac

    return sac.SACConfig(
        total_steps=steps,
        num_envs=8,
        hidden=(64, 64),
        learning_rate=1e-3,
        learning_starts=2000,
        discount=maze_ppo_config(steps).discount,
    )


def config_dict(config) -> dict:
    """A config as JSON: nested configs as dicts with their type."""
    out = {"type": type(config).__name__}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        out[field.name] = config_dict(value) if dataclasses.is_dataclass(value) else value
    return out


# --------------------------------------------------------------------------- helpers


def timed_train(train, keys, *args) -> tuple:
    """Compile `train` for these arguments, then run it: `(result, compile_s, run_s)`."""
    import jax

    start = time.perf_counter()
    compiled = jax.jit(train).lower(keys, *args).compile()
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    result = jax.block_until_ready(compiled(keys, *args))
    return result, compile_seconds, time.perf_counter() - start


def seed_keys(base: int, n: int):
    import jax

    return jax.random.split(jax.random.key(base), n)


def take(tree, i: int):
    """Seed `i` of a vmapped result."""
    import jax

    return jax.tree.map(lambda x: x[i], tree)


def returns_of(env, policy, n: int, key, params) -> np.ndarray:
    """True returns of `n` fresh episodes of `policy`."""
    from irlax.data import rollout
    from irlax.data.rollout import episode_returns

    return np.asarray(episode_returns(rollout(env, policy, n, key, params)), np.float64)


def random_policy(env, params):
    """A uniformly random policy over the env's action space."""
    import jax
    import jax.numpy as jnp

    space = env.action_space(params)
    if hasattr(space, "n"):
        n = int(space.n)

        def act(obs, key):
            return jax.random.randint(key, (), 0, n).astype(jnp.int32)

    else:
        shape = tuple(space.shape)
        low = np.broadcast_to(np.asarray(space.low, np.float32), shape)
        high = np.broadcast_to(np.asarray(space.high, np.float32), shape)

        def act(obs, key):
            return jax.random.uniform(key, shape, obs.dtype, low, high)

    return act


def curve(metrics_return, points: int = 40) -> list:
    """The per-update training return, mean over seeds, at `points` evenly spaced updates."""
    r = np.asarray(metrics_return, np.float64)
    r = r.reshape(-1, r.shape[-1])
    idx = np.unique(np.linspace(0, r.shape[-1] - 1, points).round().astype(int))
    finite = np.isfinite(r)
    count = finite.sum(axis=0)
    mean = np.where(finite, r, 0.0).sum(axis=0) / np.maximum(count, 1)
    mean = np.where(count > 0, mean, np.nan)
    return [[int(i), None if not np.isfinite(mean[i]) else float(mean[i])] for i in idx]


def log(*parts) -> None:
    print(*parts, flush=True)


# --------------------------------------------------------------------------- 1. classic control


def fixed_expert(name: str, params):
    """The expert that is not learned: CartPole's linear controller, MountainCar's planner."""
    import jax.numpy as jnp

    if name == "MountainCar-v0":
        return mountain_car_planner(params)
    if name != "CartPole-v1":
        raise ValueError(f"no fixed expert for {name!r}: CartPole-v1 and MountainCar-v0 have one")
    gains = jnp.asarray(CARTPOLE_GAINS)

    def act(obs, key):
        return (obs @ gains.astype(obs.dtype) > 0).astype(jnp.int32)

    return act


def mountain_car_planner(params, cells: int = MOUNTAIN_CAR_GRID, sweeps: int = 400):
    """A near-optimal MountainCar-v0 policy: value iteration on a (position, velocity) grid.

    The dynamics are deterministic and known (the env's own `step_env`, with `params`), and the
    reward is −1 per step until the goal, so the value is minus the steps to go. `sweeps`
    finite-horizon backups of `V(s) = max_a −1 + [s' not terminal] V(s')`, with `V(s')`
    interpolated bilinearly between the grid's `cells × cells` points, give the value; the
    policy acts greedily on the one-step lookahead from the exact continuous state. On 200
    episodes it returns −98 (Ho & Ermon's TRPO expert: −98.8), where the energy-pumping rule
    `action = 2 if velocity > 0 else 0` returns −131.
    """
    import jax
    import jax.numpy as jnp

    from irlax.envs import make

    env, _ = make("MountainCar-v0")
    p = params
    low = jnp.asarray([p.min_position, -p.max_speed])
    high = jnp.asarray([p.max_position, p.max_speed])
    start = env.reset_env(jax.random.key(0), p)[1]  # a state to fill in (the step is not random)

    def step(x, v, a):
        """The env's transition from (x, v) under action `a`, elementwise over any shape."""

        def one(x, v):
            _, state, _, done, _ = env.step_env(
                jax.random.key(0), start.replace(position=x, velocity=v, time=0), a, p
            )
            return state.position, state.velocity, done

        return jnp.vectorize(one)(x, v)

    def lookahead(value, x, v):
        def one(a):
            x2, v2, done = step(x, v, a)
            fx = (x2 - low[0]) / (high[0] - low[0]) * (cells - 1)
            fv = (v2 - low[1]) / (high[1] - low[1]) * (cells - 1)
            i = jnp.clip(jnp.floor(fx).astype(jnp.int32), 0, cells - 2)
            j = jnp.clip(jnp.floor(fv).astype(jnp.int32), 0, cells - 2)
            tx, tv = fx - i, fv - j
            inside = (
                (1 - tx) * (1 - tv) * value[i, j]
                + tx * (1 - tv) * value[i + 1, j]
                + (1 - tx) * tv * value[i, j + 1]
                + tx * tv * value[i + 1, j + 1]
            )
            return -1.0 + jnp.where(done, 0.0, inside)

        return jnp.stack([one(a) for a in range(3)], -1)

    grid = jnp.meshgrid(
        jnp.linspace(low[0], high[0], cells), jnp.linspace(low[1], high[1], cells), indexing="ij"
    )

    @jax.jit
    def solve():
        def sweep(value, _):
            return lookahead(value, *grid).max(-1), None

        return jax.lax.scan(sweep, jnp.zeros((cells, cells)), None, length=sweeps)[0]

    value = solve()

    def act(obs, key):
        return jnp.argmax(lookahead(value, obs[0], obs[1])).astype(jnp.int32)

    return act


def train_ppo_expert(env, params, config, n_seeds: int, key_base: int, select_episodes: int):
    """PPO experts on `n_seeds` seeds; the one with the best mean return over fresh episodes."""
    import jax

    from irlax.rl import ppo

    keys = seed_keys(key_base, n_seeds)
    result, c, r = timed_train(jax.vmap(ppo.make_train(config, env, params)), keys)
    scores = [
        float(
            returns_of(
                env, take(result, i).policy, select_episodes, jax.random.key(77), params
            ).mean()
        )
        for i in range(n_seeds)
    ]
    best = int(np.argmax(scores))
    info = {
        "config": config_dict(config),
        "seeds": n_seeds,
        "selection_returns": scores,
        "chosen_seed": best,
        "compile_seconds": c,
        "run_seconds": r,
    }
    return take(result, best), info


def classic_expert(name: str, s: dict) -> tuple:
    """The expert of a classic-control env and its demonstrations: `(env, params, act, entry,
    demos_all)`: `act(obs, key)` the expert's policy, `entry` the expert's and a random
    policy's returns (the normalisation) and the demos' statistics, `demos_all` the
    `max(s["trajectories"])` demos (the first N are the N-trajectory set). Keys are fixed per
    env, so every run (and `imitation.py`) sees the same expert and demos."""
    import jax

    from irlax.data import rollout
    from irlax.data.rollout import episode_returns
    from irlax.envs import make

    e = list(CLASSIC_STEPS).index(name)
    env, params = make(name)
    entry = {"expert_kind": CLASSIC_EXPERT[name]}
    start = time.perf_counter()
    if CLASSIC_EXPERT[name] == "ppo":
        expert, info = train_ppo_expert(
            env,
            params,
            acrobot_expert_config(s["acrobot_expert_steps"]),
            s["expert_seeds"],
            100 + e,
            20,
        )
        entry["expert_training"] = info
        act = expert.policy
    else:
        act = fixed_expert(name, params)
    expert_returns = returns_of(env, act, REFERENCE_EPISODES, jax.random.key(200 + e), params)
    random_returns = returns_of(
        env, random_policy(env, params), REFERENCE_EPISODES, jax.random.key(300 + e), params
    )
    demos_all = rollout(env, act, max(s["trajectories"]), jax.random.key(400 + e), params)
    entry.update(
        expert_return=float(expert_returns.mean()),
        expert_return_std=float(expert_returns.std()),
        random_return=float(random_returns.mean()),
        random_return_std=float(random_returns.std()),
        demo_returns=np.asarray(episode_returns(demos_all)).tolist(),
        demo_lengths=np.asarray(demos_all.lengths).tolist(),
        demo_terminated=np.asarray(demos_all.terminated).tolist(),
        experts_seconds=time.perf_counter() - start,
    )
    if CLASSIC_EXPERT[name] == "value_iteration":
        entry["planner_grid"] = MOUNTAIN_CAR_GRID
    log(name, f"expert {entry['expert_return']:.1f} random {entry['random_return']:.1f}")
    return env, params, act, entry, demos_all


def classic_configs(name: str, s: dict) -> dict:
    """The configs of GAIL, AIRL and BC on a classic-control env (see the constants above)."""
    from irlax.algorithms import airl, bc, gail
    from irlax.rl import ppo

    steps = s["classic_steps"][name]
    airl_generator = dataclasses.replace(airl.AIRLConfig().generator, total_steps=steps)
    if name in CLASSIC_AIRL_LEARNING_RATE:
        airl_generator = dataclasses.replace(
            airl_generator, learning_rate=CLASSIC_AIRL_LEARNING_RATE[name]
        )
    airl_options = {
        "reward_inputs": CLASSIC_AIRL_REWARD,
        "policy_buffer_size": CLASSIC_AIRL_FUSION
        * airl_generator.num_envs
        * airl_generator.rollout_length,
    }
    return {
        "gail": gail.GAILConfig(generator=ppo.PPOConfig(total_steps=steps)),
        "airl": airl.AIRLConfig(generator=airl_generator, **airl_options),
        "bc": bc.NeuralBCConfig(epochs=s["bc_epochs"]),
    }


def classic_cell(method: str, env, params, config, demos, keys) -> dict:
    """Train `method` ("gail", "airl" or "bc") on `demos`, one seed per key in one vmapped
    call, and evaluate each seed's final policy on `EVAL_EPISODES` fresh episodes."""
    import importlib

    import jax

    module = importlib.import_module(f"irlax.algorithms.{method}")
    train = jax.vmap(module.make_train(config, env, params, demos))
    result, c, r = timed_train(train, keys)
    start = time.perf_counter()
    evals = [
        returns_of(
            env, take(result.policy, i).policy, EVAL_EPISODES, jax.random.key(5000 + i), params
        ).tolist()
        for i in range(len(keys))
    ]
    cell = {
        "eval_returns": evals,
        "compile_seconds": c,
        "run_seconds": r,
        "eval_seconds": time.perf_counter() - start,
    }
    if method != "bc":  # BC has no env steps and no discriminator
        cell["curve"] = curve(result.metrics["episode_return"])
        cell["final_discriminator_accuracy"] = [
            float(np.nanmean(np.asarray(result.metrics[k])[:, -10:]))
            for k in ("discriminator_accuracy_expert", "discriminator_accuracy_policy")
        ]
    means = [float(np.mean(x)) for x in evals]
    log(f"  {method} N={len(demos.lengths)}: {np.round(means, 1)} compile {c:.0f}s run {r:.0f}s")
    return cell


def classic_control(s: dict) -> dict:
    import jax

    out = {}
    for e, name in enumerate(CLASSIC_STEPS):
        env, params, _, entry, demos_all = classic_expert(name, s)
        entry.update(total_steps=s["classic_steps"][name], paper=HO_ERMON[name])
        configs = classic_configs(name, s)
        entry["configs"] = {m: config_dict(c) for m, c in configs.items()}
        cells = {m: {} for m in configs}
        for n in s["trajectories"]:
            demos = jax.tree.map(lambda x, n=n: x[:n], demos_all)
            for m, config in configs.items():
                keys = seed_keys(1000 * (e + 1) + n, s["seeds"])
                cells[m][str(n)] = classic_cell(m, env, params, config, demos, keys)
        entry["cells"] = cells
        out[name] = entry
    return out


def normalised(score, random, expert):
    return (score - random) / (expert - random)


def seed_scores(cell: dict) -> np.ndarray:
    """Each seed's mean evaluation return."""
    return np.asarray([np.mean(x) for x in cell["eval_returns"]])


# --------------------------------------------------------------------------- 2a. Pendulum


def pendulum(s: dict) -> dict:
    import jax

    from irlax.algorithms import airl, gail
    from irlax.data import rollout
    from irlax.data.rollout import episode_returns
    from irlax.envs import make
    from irlax.rl import sac

    env, params = make("Pendulum-v1")
    config = pendulum_expert_config(s["pendulum_expert_steps"])
    expert, c, r = timed_train(sac.make_train(config, env, params), jax.random.key(11))
    expert_returns = returns_of(env, expert.policy, REFERENCE_EPISODES, jax.random.key(12), params)
    random_returns = returns_of(
        env, random_policy(env, params), REFERENCE_EPISODES, jax.random.key(13), params
    )
    demos = rollout(env, expert.policy, s["pendulum_demos"], jax.random.key(14), params)
    out = {
        "expert": {
            "config": config_dict(config),
            "compile_seconds": c,
            "run_seconds": r,
            "return": float(expert_returns.mean()),
            "return_std": float(expert_returns.std()),
        },
        "random_return": float(random_returns.mean()),
        "demos": s["pendulum_demos"],
        "demo_returns": np.asarray(episode_returns(demos)).tolist(),
        "runs": {},
    }
    log(f"Pendulum expert {out['expert']['return']:.1f} random {out['random_return']:.1f}")
    sac_steps, ppo_steps = s["pendulum_sac_steps"], s["pendulum_ppo_steps"]
    disc = pendulum_sac_discriminator(sac_steps)
    runs = {
        "gail_sac": (gail, gail.GAILConfig(generator=pendulum_sac_generator(sac_steps), **disc)),
        "airl_sac": (
            airl,
            airl.AIRLConfig(
                generator=pendulum_airl_sac_generator(sac_steps),
                reward_inputs="state_action",
                **disc,
            ),
        ),
        "gail_ppo": (gail, gail.GAILConfig(generator=pendulum_ppo_generator(ppo_steps))),
        "airl_ppo": (
            airl,
            airl.AIRLConfig(
                generator=pendulum_ppo_generator(ppo_steps), reward_inputs="state_action"
            ),
        ),
    }
    for i, (label, (module, config)) in enumerate(runs.items()):
        n_seeds = s["seeds"] if label.endswith("sac") else s["pendulum_ppo_seeds"]
        keys = seed_keys(600 + i, n_seeds)
        result, c, r = timed_train(jax.vmap(module.make_train(config, env, params, demos)), keys)
        evals = [
            returns_of(
                env, take(result.policy, k).policy, EVAL_EPISODES, jax.random.key(5000 + k), params
            ).tolist()
            for k in range(n_seeds)
        ]
        out["runs"][label] = {
            "config": config_dict(config),
            "seeds": n_seeds,
            "eval_returns": evals,
            "compile_seconds": c,
            "run_seconds": r,
            "curve": curve(result.metrics["episode_return"]),
        }
        log(
            f"  Pendulum {label}: {np.round([np.mean(x) for x in evals], 1)} "
            f"compile {c:.0f}s run {r:.0f}s"
        )
    return out


# --------------------------------------------------------------------------- 2b. the maze


def maze_eval(env, policy, params, key, n: int) -> dict:
    """Reach rate and mean true return of `n` fresh episodes."""
    import jax.numpy as jnp

    from irlax.data import rollout
    from irlax.data.rollout import episode_returns

    trajs = rollout(env, policy, n, key, params)
    last = trajs.observations[jnp.arange(n), trajs.lengths]
    return {
        "reach": float(np.mean(np.asarray(env.reached_goal(last, params)))),
        "return": float(np.mean(np.asarray(episode_returns(trajs)))),
    }


MAP_POINTS = 20  # the learned rewards are mapped on a MAP_POINTS × MAP_POINTS grid


def map_axis() -> np.ndarray:
    """The coordinates of the reward maps' cell centres, along x and along y."""
    return (np.arange(MAP_POINTS) + 0.5) / MAP_POINTS


def plan_on_grid(reward, params, discount: float) -> bool:
    """Does the optimal policy for a state reward reach the goal of the maze `params`?
    Finite-horizon value iteration on the `MAP_POINTS`² grid of `reward_map` (`reward[i, j]`
    at row i = y, column j = x), moving at most one cell per axis per step (a cell is
    `max_speed` wide by default),
    the wall between the rows below and above `wall_y` except where both columns lie in the
    gap; the reward of the final position is counted too, so the last move is not a tie.
    From the cell nearest the start, it acts greedily for `max_steps_in_episode` steps and
    reports whether it ends within `goal_radius` of the goal: an exact check of the reward,
    apart from the learner trained on it (up to the grid)."""
    if reward.shape != (MAP_POINTS, MAP_POINTS):
        raise ValueError(f"reward must be a {MAP_POINTS}x{MAP_POINTS} map, got {reward.shape}")
    n, xs = MAP_POINTS, map_axis()
    width = float(params.gap_width)
    in_gap = xs <= width if float(params.gap_side) < 0 else xs >= 1 - width
    below = xs < float(params.wall_y)
    rows, cols = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    moves = []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            r, c = np.clip(rows + dy, 0, n - 1), np.clip(cols + dx, 0, n - 1)
            blocked = (below[rows] != below[r]) & ~(in_gap[cols] & in_gap[c])
            moves.append((np.where(blocked, rows, r), c))
    horizon = params.max_steps_in_episode
    values = [np.asarray(reward, np.float64)]  # values[k]: k steps left
    for _ in range(horizon):
        values.append(reward + discount * np.max([values[-1][r, c] for r, c in moves], axis=0))
    start, goal = np.asarray(params.start), np.asarray(params.goal)
    r, c = int(np.argmin(np.abs(xs - start[1]))), int(np.argmin(np.abs(xs - start[0])))
    for t in range(horizon):
        left = values[horizon - t - 1]
        r, c = max(((rr[r, c], cc[r, c]) for rr, cc in moves), key=lambda x: left[x])
    return bool(np.hypot(xs[c] - goal[0], xs[r] - goal[1]) < float(params.goal_radius))


def reward_map(result, seeds: int, mazes: dict, discount: float) -> dict:
    """A learned maze reward on a grid of positions (averaged over the 9 actions of
    {−1, 0, 1}²; AIRL's state-only `g` ignores them) and, per seed, its Pearson correlation with
    the true state reward `−‖p − goal‖` over the grid and whether its optimal policy reaches
    the goal in each of `mazes` (params by gap side; `plan_on_grid`, discounted by `discount`);
    the map of seed 0."""
    import jax
    import jax.numpy as jnp

    xs = map_axis()
    gx, gy = np.meshgrid(xs, xs)  # row i: y = xs[i]
    points = jnp.asarray(np.stack([gx, gy], -1).reshape(-1, 2), jnp.float32)
    moves = jnp.asarray([[a, b] for a in (-1, 0, 1) for b in (-1, 0, 1)], jnp.float32)

    @jax.jit
    def grid(one):
        def at(p):
            return jnp.mean(jax.vmap(lambda a: one.reward(p, a, p))(moves))

        return jax.vmap(at)(points)

    truth = _true_map(np.asarray(mazes["left"].goal)).ravel()
    maps = [np.asarray(grid(take(result, k)), np.float64) for k in range(seeds)]
    grids = [m.reshape(MAP_POINTS, MAP_POINTS) for m in maps]
    return {
        "reward_correlation": [float(np.corrcoef(m, truth)[0, 1]) for m in maps],
        "reward_map_seed0": grids[0].tolist(),
        "planner_reach": {
            gap: [plan_on_grid(g, maze, discount) for g in grids] for gap, maze in mazes.items()
        },
    }


def maze(s: dict) -> dict:
    import jax

    from irlax.algorithms import airl, gail
    from irlax.data import rollout
    from irlax.data.rollout import episode_returns
    from irlax.envs import PointMaze
    from irlax.rl import ppo, sac

    env = PointMaze()
    left, right = PointMaze.params("left"), PointMaze.params("right")
    n_eval = 20
    seeds = s["maze_seeds"]
    out = {
        "seeds": seeds,
        "eval_episodes": n_eval,
        "geometry": {
            "wall_y": float(left.wall_y),
            "gap_width": float(left.gap_width),
            "goal": np.asarray(left.goal).tolist(),
            "goal_radius": float(left.goal_radius),
        },
    }

    # The expert, on the left maze: the best of a few PPO seeds.
    expert_config = maze_ppo_config(s["maze_expert_steps"])
    keys = seed_keys(700, s["expert_seeds"])
    experts, c, r = timed_train(jax.vmap(ppo.make_train(expert_config, env, left)), keys)
    expert_evals = [
        maze_eval(env, take(experts, i).policy, left, jax.random.key(701), n_eval)
        for i in range(s["expert_seeds"])
    ]
    best = int(np.argmax([x["reach"] + 1e-3 * x["return"] for x in expert_evals]))
    expert = take(experts, best)
    demos = rollout(env, expert.policy, s["maze_demos"], jax.random.key(702), left)
    demo_last = demos.observations[np.arange(s["maze_demos"]), demos.lengths]
    out["expert"] = {
        "config": config_dict(expert_config),
        "seeds": s["expert_seeds"],
        "evals_left": expert_evals,
        "chosen_seed": best,
        "compile_seconds": c,
        "run_seconds": r,
        "right": maze_eval(env, expert.policy, right, jax.random.key(703), n_eval),
    }
    out["demos"] = {
        "n": s["maze_demos"],
        "returns": np.asarray(episode_returns(demos)).tolist(),
        "reached": np.asarray(env.reached_goal(demo_last, left)).tolist(),
    }
    log(f"maze expert seeds {expert_evals}, chosen {best}")

    # The planner's check of the true reward, at the transfer runs' discount.
    transfer_config = maze_transfer_config(s["maze_transfer_steps"])
    truth = _true_map(out["geometry"]["goal"])
    mazes = {"left": left, "right": right}
    out["true_planner_reach"] = {
        gap: plan_on_grid(truth, maze, transfer_config.discount) for gap, maze in mazes.items()
    }

    # GAIL and AIRL (state-only reward) on the left maze, the expert's PPO as generator.
    gen = maze_ppo_config(s["maze_irl_steps"])
    disc = maze_discriminator(gen)
    configs = {
        "airl": (airl, airl.AIRLConfig(generator=gen, reward_inputs="state", **disc)),
        "gail": (gail, gail.GAILConfig(generator=gen, **disc)),
    }
    learned, out["irl"] = {}, {}
    for i, (m, (module, config)) in enumerate(configs.items()):
        keys = seed_keys(710 + i, seeds)
        result, c, r = timed_train(jax.vmap(module.make_train(config, env, left, demos)), keys)
        learned[m] = result
        out["irl"][m] = {
            "config": config_dict(config),
            "compile_seconds": c,
            "run_seconds": r,
            "curve": curve(result.metrics["episode_return"]),
            "left": [
                maze_eval(env, take(result.policy, k).policy, left, jax.random.key(720 + k), n_eval)
                for k in range(seeds)
            ],
            "right": [
                maze_eval(
                    env, take(result.policy, k).policy, right, jax.random.key(730 + k), n_eval
                )
                for k in range(seeds)
            ],
            **reward_map(result, seeds, mazes, transfer_config.discount),
        }
        log(
            f"  maze {m} left {out['irl'][m]['left']} right {out['irl'][m]['right']} "
            f"reward correlation {np.round(out['irl'][m]['reward_correlation'], 2)} "
            f"compile {c:.0f}s run {r:.0f}s"
        )

    # PPO (and SAC) from scratch on the right maze, on the true and on the learned rewards;
    # seed k of a learned reward is seed k of its method.
    sac_config = maze_sac_transfer_config(s["maze_sac_transfer_steps"])
    out["transfer_config"] = config_dict(transfer_config)
    out["transfer_sac_config"] = config_dict(sac_config)
    rewards = {
        "true": (None, None),
        "airl": (learned["airl"].reward_fn, learned["airl"].reward_params),
        "gail": (learned["gail"].reward_fn, learned["gail"].reward_params),
    }
    learners = {"transfer": (ppo, transfer_config, 740), "transfer_sac": (sac, sac_config, 760)}
    for field, (module, config, key_base) in learners.items():
        out[field] = {}
        for i, (label, (reward_fn, reward_params)) in enumerate(rewards.items()):
            make = jax.vmap(module.make_train(config, env, right, reward_fn))
            extra = () if reward_fn is None else (reward_params,)
            result, c, r = timed_train(make, seed_keys(key_base + i, seeds), *extra)
            out[field][label] = {
                "compile_seconds": c,
                "run_seconds": r,
                "curve": curve(result.metrics["episode_return"]),
                "right": [
                    maze_eval(
                        env,
                        take(result, k).policy,
                        right,
                        jax.random.key(key_base + 10 + k),
                        n_eval,
                    )
                    for k in range(seeds)
                ],
            }
            log(f"  maze {field} {label}: {out[field][label]['right']} ({c:.0f}s + {r:.0f}s)")
    return out


# --------------------------------------------------------------------------- main


def main(argv=None) -> None:
    if _report.render_only_main("adversarial", render, argv):
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke test, to benchmarks/.cache")
    parser.add_argument("--parts", default="classic,pendulum,maze")
    parser.add_argument("--trajectories", help="comma-separated N (default 1,4,7,10)")
    parser.add_argument("--out", help="the JSON to write")
    parser.add_argument("--render-only", nargs="?", help="re-render the report from a JSON")
    args = parser.parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", False)
    from irlax.rl import ppo

    s = settings(args.quick)
    s["default_total_steps"] = ppo.PPOConfig().total_steps
    if args.trajectories:
        s["trajectories"] = [int(n) for n in args.trajectories.split(",")]
    out = Path(
        args.out
        or (
            HERE / ".cache" / "adversarial_quick.json"
            if args.quick
            else _report.results_path("adversarial")
        )
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    parts = args.parts.split(",")
    load_before, source_before = os.getloadavg()[0], source_state()
    start = time.perf_counter()
    record = {
        "benchmark": "adversarial",
        "quick": args.quick,
        "command": "python benchmarks/adversarial.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "settings": s,
        "part_seconds": {},
    }
    for part, run in (("classic", classic_control), ("pendulum", pendulum), ("maze", maze)):
        if part in parts:
            t = time.perf_counter()
            record[part] = run(s)
            record["part_seconds"][part] = time.perf_counter() - t
    elapsed = time.perf_counter() - start
    record["machine"] = _report.jax_machine(load_before, elapsed)
    record["sources"] = sources_line((source_before, source_state()))
    _report.save(record, render, out)
    plot(record, out.with_suffix(".png"))
    log(
        f"wrote {out}, {out.with_suffix('.md')}, {out.with_suffix('.png')} ({elapsed / 60:.1f} min)"
    )


# --------------------------------------------------------------------------- report

_f = _report.fixed
PAPER_TRAJECTORIES = [1, 4, 7, 10]
METHODS = {"gail": "GAIL", "airl": "AIRL"}


def _pm(values, digits: int = 1) -> str:
    values = np.asarray(values, np.float64)
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def _classic_methods(entry: dict) -> dict:
    """The classic-control methods an env's entry holds (BC only in runs since it landed)."""
    return {**METHODS, **({"bc": "BC"} if "bc" in entry["cells"] else {})}


def _classic_scores(entry: dict, method: str, n: str) -> np.ndarray:
    return normalised(
        seed_scores(entry["cells"][method][n]), entry["random_return"], entry["expert_return"]
    )


def quality(score: float) -> str:
    """Words for a normalised score (1 = the expert, 0 = a uniformly random policy)."""
    if score >= TARGET_SCORE:
        return "matches the expert"
    if score >= 0.5:
        return "learns, short of the expert"
    if score > 0.1:
        return "barely better than random"
    return "no better than random"


def render(record: dict) -> str:
    """The report of a saved run (`record` as `main` writes it), from its numbers alone."""
    m = record["machine"]
    s = record["settings"]
    lines = [
        "# Adversarial imitation: GAIL and AIRL beside Ho & Ermon (2016) and Fu et al. (2018)",
        "",
    ]
    if record["quick"]:
        lines += ["**Smoke run (`--quick`): tiny budgets, 2 seeds. Not a benchmark.**", ""]
    parts = ", ".join(f"{k} {v / 60:.1f}" for k, v in record["part_seconds"].items())
    lines += [
        f"Written by `benchmarks/adversarial.py`; command: `{record['command'].strip()}`.",
        "",
        f"Machine: {m['platform']}, {m['cpu']}, {m['cores']} cores (load average "
        f"{m['load_before']:.1f} before, {m['load_after']:.1f} after), Python {m['python']}, "
        f"JAX {m['jax']} on {m['jax_backend']}, float32. The whole run took "
        f"{m['minutes']:.1f} minutes (by part, minutes: {parts}).",
        "",
        record["sources"],
        "",
        *_report.provenance(record),
    ]
    lines += _targets(record)
    lines += _reductions(record)
    if "classic" in record:
        lines += _classic_section(record["classic"], s)
    if "pendulum" in record:
        lines += _pendulum_section(record["pendulum"], s)
    if "maze" in record:
        lines += _maze_section(record["maze"], s)
    lines += ["![normalised scores and maze transfer](adversarial.png)", ""]
    return "\n".join(lines) + "\n"


def _cell_seconds(record: dict) -> dict:
    """Compile and run seconds of every classic-control cell, by N."""
    out = {}
    for entry in record.get("classic", {}).values():
        for cells in entry["cells"].values():
            for n, cell in cells.items():
                out.setdefault(n, []).append((cell["compile_seconds"], cell["run_seconds"]))
    return out


def _reductions(record: dict) -> list[str]:
    """What the run leaves out of the papers' protocols, and why (sizes from the record)."""
    s = record["settings"]
    items = []
    dropped = [n for n in PAPER_TRAJECTORIES if n not in s["trajectories"]]
    by_n = _cell_seconds(record)
    if dropped:
        why = ""
        if by_n:
            cells = [x for v in by_n.values() for x in v]
            per_n = np.mean([sum(c + r for c, r in v) for v in by_n.values()])
            why = (
                f" (a cell's compilation took {np.mean([c for c, _ in cells]):.0f} s on "
                f"average here, and each N cost {per_n / 60:.1f} minutes of compiling and "
                f"training over the {len(record['classic'])} envs and "
                f"{len(next(iter(record['classic'].values()))['cells'])} methods)"
            )
        items.append(
            f"Classic control runs N = {', '.join(map(str, s['trajectories']))} trajectories, "
            f"not N = {', '.join(map(str, dropped))} of Ho & Ermon's 1, 4, 7, 10: every (env, "
            "method, N) cell compiles a program of its own, since the demonstrations are "
            f"constants in it{why}, and the whole run had to fit ~40 minutes on 2 shared cores "
            f"(it took {record['machine']['minutes']:.0f})."
        )
    default = s.get("default_total_steps")
    raised = [k for k, v in s["classic_steps"].items() if default and v > default]
    text = (
        "Generator budgets (env steps per seed): "
        + ", ".join(f"{k} {v:,}" for k, v in s["classic_steps"].items())
        + "."
    )
    if raised:
        text += (
            f" The default, {default:,}, is raised on {', '.join(raised)}, the same for GAIL "
            "and AIRL, since neither came near the expert there with it (probe runs)."
        )
    items.append(text)
    items.append(
        f"Pendulum: {s['pendulum_demos']} expert trajectories; the SAC generator has 64×64 "
        "networks and batch 128 (the expert's 256×256 cost ~10× more per step on this CPU) and "
        f"{s['pendulum_sac_steps']:,} env steps; the PPO generator gets "
        f"{s['pendulum_ppo_steps']:,} env steps and only {s['pendulum_ppo_seeds']} seeds."
    )
    items.append(
        f"Maze: {s['maze_seeds']} seeds (not 5), GAIL and AIRL {s['maze_irl_steps']:,} env "
        f"steps, the transfer runs {s['maze_transfer_steps']:,} (PPO)"
        + (f" and {s['maze_sac_transfer_steps']:,} (SAC)" if "maze_sac_transfer_steps" in s else "")
        + f"; {s['maze_demos']} demonstrations."
    )
    return ["## What was reduced, and why", "", *[f"- {x}" for x in items], ""]


def _airl_rate_text(classic: dict) -> str:
    """The clause naming AIRL's generator learning rate on the envs where it is not PPO's
    default (from the recorded configs)."""
    rates = {
        name: e["configs"]["airl"]["generator"]["learning_rate"] for name, e in classic.items()
    }
    changed = {n: r for n, r in rates.items() if r != PPO_DEFAULT_LEARNING_RATE}
    if not changed:
        return ""
    where = ", ".join(f"{r:g} on {n}" for n, r in changed.items())
    return (
        f" and, for AIRL, the generator's learning rate ({where}; PPO's default "
        f"{PPO_DEFAULT_LEARNING_RATE:g} elsewhere and for GAIL: see `adversarial_seeds.md`)"
    )


def _classic_section(classic: dict, s: dict) -> list[str]:
    seeds = s["seeds"]
    config = next(iter(classic.values()))["configs"]["airl"]
    options = {k: config[k] for k in ("reward_inputs", "policy_buffer_size")}
    airl_options = ", ".join(
        f'{k}="{v}"' if isinstance(v, str) else f"{k}={v}" for k, v in options.items()
    )
    lines = [
        "## 1. Ho & Ermon (2016): classic control",
        "",
        f"GAIL (`GAILConfig()`) and AIRL (`AIRLConfig({airl_options})`: a state-action "
        "reward, and a discriminator sampling the last "
        f"{options['policy_buffer_size']:,} policy transitions, {CLASSIC_AIRL_FUSION} generator "
        "updates' worth, Fu et al.'s fusion) with their defaults "
        f"except the generator's `total_steps`{_airl_rate_text(classic)}; {seeds} seeds per "
        "cell in one vmapped call. "
        "Each seed's "
        f"final policy is evaluated on {EVAL_EPISODES} fresh episodes (stochastic policy, true "
        "reward); the table gives mean ± std over seeds of those means, and of the normalised "
        "score (score − random) / (expert − random), beside the mean return of the N "
        "demonstrations themselves. Expert and random returns are means over "
        f"{REFERENCE_EPISODES} episodes. The paper's column is its 1-trajectory result "
        "(its CartPole is v0, capped at 200 steps; ours is v1, capped at 500). "
        + (
            f"BC is `bc.NeuralBCConfig(epochs={s['bc_epochs']})` on the same demos and seeds "
            "(as in `imitation.md`)."
            if "bc_epochs" in s
            else "Neural BC was not yet in irlax when this was run."
        ),
        "",
    ]
    for name, e in classic.items():
        if e["expert_kind"] == "ppo":
            t = e["expert_training"]
            picks = ", ".join(_f(x, 1) for x in t["selection_returns"])
            expert = (
                f"a PPO policy trained here ({t['config']['total_steps']:,} steps, the best of "
                f"{t['seeds']} seeds by a 20-episode mean: {picks})"
            )
        elif name == "CartPole-v1":
            expert = f"the scripted controller `action = obs · {list(CARTPOLE_GAINS)} > 0`"
        elif e["expert_kind"] == "value_iteration":
            expert = (
                "a planner: value iteration on a "
                f"{e['planner_grid']}² grid of (position, velocity) with "
                "the env's own dynamics, acting greedily on a one-step lookahead "
                "(`mountain_car_planner`)"
            )
        else:
            expert = "the scripted energy-pumping controller `action = 2 if velocity > 0 else 0`"
        paper = e["paper"]
        lines += [
            f"### {name} ({e['total_steps']:,} generator steps per seed)",
            "",
            f"Expert: {expert}; return {e['expert_return']:.1f} ± {e['expert_return_std']:.1f}. "
            f"Random policy: {e['random_return']:.1f} ± {e['random_return_std']:.1f}. "
            f"Demonstrations (the first N are used): returns "
            f"{', '.join(_f(x, 0) for x in e['demo_returns'])}.",
            "",
        ]
        methods = _classic_methods(e)
        header = ["N", "demos' return (normalised)"]
        for label in methods.values():
            header += [f"{label} return", f"{label} normalised"]
        rows = []
        for n in s["trajectories"]:
            demo = float(np.mean(e["demo_returns"][:n]))
            norm = normalised(demo, e["random_return"], e["expert_return"])
            n = str(n)
            row = [n, f"{demo:.1f} ({norm:.2f})"]
            for method in methods:
                row += [
                    _pm(seed_scores(e["cells"][method][n])),
                    _pm(_classic_scores(e, method, n), 2),
                ]
            rows.append(row)
        lines += _report.table(header, rows)
        n = str(min(s["trajectories"]))
        ours = (
            f"irlax at N = {n}: GAIL {float(seed_scores(e['cells']['gail'][n]).mean()):.1f}, "
            f"BC {float(seed_scores(e['cells']['bc'][n]).mean()):.1f}"
            if "bc" in e["cells"]
            else "irlax BC: not yet in irlax"
        )
        lines += [
            "",
            f"Paper (1 trajectory): expert {paper['expert']}, GAIL {paper['gail']}, BC "
            f"{paper['bc']}; {ours}.",
            "",
        ]
    lines += ["### Times (seconds; all seeds of a cell together)", ""]
    header = ["env", "method"] + [f"N={n} compile / run" for n in s["trajectories"]]
    rows = []
    for name, e in classic.items():
        for method, label in _classic_methods(e).items():
            cells = e["cells"][method]
            rows.append(
                [name, label]
                + [
                    f"{cells[str(n)]['compile_seconds']:.0f} / {cells[str(n)]['run_seconds']:.0f}"
                    for n in s["trajectories"]
                ]
            )
    lines += _report.table(header, rows)
    lines += [""]
    return lines


PENDULUM_LABELS = {
    "gail_sac": ("GAIL", "SAC"),
    "airl_sac": ("AIRL (state-action reward)", "SAC"),
    "gail_ppo": ("GAIL", "PPO"),
    "airl_ppo": ("AIRL (state-action reward)", "PPO"),
}


def _pendulum_section(p: dict, s: dict) -> list[str]:
    ex = p["expert"]
    lines = [
        "## 2a. Fu et al. (2018): Pendulum-v1",
        "",
        f"Expert: SAC trained here ({ex['config']['total_steps']:,} steps, lr "
        f"{ex['config']['learning_rate']}), return {ex['return']:.1f} ± {ex['return_std']:.1f} "
        f"over {REFERENCE_EPISODES} episodes; random policy {p['random_return']:.1f}. "
        f"{p['demos']} demonstrations (returns {_pm(p['demo_returns'])}). Evaluation as in "
        "section 1.",
        "",
    ]
    rows = []
    for label, run in p["runs"].items():
        method, generator = PENDULUM_LABELS[label]
        scores = seed_scores(run)
        norm = normalised(scores, p["random_return"], ex["return"])
        g = run["config"]["generator"]
        extra = ""
        if generator == "SAC":
            c = run["config"]
            temperature = (
                f"temperature {g['temperature']:g} fixed"
                if not g.get("learn_temperature", True)
                else "temperature tuned"
            )
            extra = (
                f", hidden {tuple(g['hidden'])}, {temperature}, disc. every "
                f"{c['discriminator_every']} steps × "
                f"{c['discriminator_steps']}, batch {c['discriminator_batch_size']}, buffer "
                f"{c['policy_buffer_size']:,}"
            )
        rows.append(
            [
                method,
                f"{generator} ({g['total_steps']:,} steps{extra})",
                str(run["seeds"]),
                _pm(scores),
                _pm(norm, 2),
                quality(float(norm.mean())),
                f"{run['compile_seconds']:.0f} / {run['run_seconds']:.0f}",
            ]
        )
    lines += _report.table(
        ["method", "generator", "seeds", "return", "normalised", "", "compile / run s"], rows
    )
    works, fails = [], []
    for label, run in p["runs"].items():
        score = normalised(seed_scores(run), p["random_return"], ex["return"]).mean()
        method, generator = PENDULUM_LABELS[label]
        (works if score >= 0.5 else fails).append(f"{method.split(' ')[0]} + {generator}")
    lines += [
        "",
        f"Learns (normalised ≥ 0.5): {', '.join(works) or 'none'}; "
        f"does not: {', '.join(fails) or 'none'}.",
        "",
    ]
    return lines


def _reach(evals: list) -> float:
    return float(np.mean([x["reach"] for x in evals]))


MAZE_LEARNERS = {"transfer": "PPO", "transfer_sac": "SAC"}  # record field: the learner


def _maze_rows(mz: dict) -> list[tuple]:
    """(what, trained on, reward, evals on the right maze, plot label) for Fu et al.'s Table 1
    layout: the policies trained on the left maze run directly, then PPO and SAC (where the
    record has it) trained anew on the right maze with each reward."""
    rows = [
        (
            "PPO expert (true reward)",
            "left maze",
            "policy run directly",
            [mz["expert"]["right"]],
            "expert\n(direct)",
        ),
    ]
    for m in ("airl", "gail"):
        if m in mz["irl"]:
            label = METHODS[m]
            rows.append(
                (
                    f"{label} policy",
                    "left maze",
                    "policy run directly",
                    mz["irl"][m]["right"],
                    f"{label}\n(direct)",
                )
            )
    names = {
        "true": ("true reward", "true r"),
        "airl": ("AIRL's state-only reward g(s)", "AIRL r"),
        "gail": ("GAIL's reward −log(1 − D(s, a))", "GAIL r"),
    }
    for field, learner in MAZE_LEARNERS.items():
        for label, t in mz.get(field, {}).items():
            rows.append(
                (
                    f"{learner} from scratch",
                    "right maze",
                    names[label][0],
                    t["right"],
                    f"{learner}\n{names[label][1]}",
                )
            )
    return rows


def _maze_discriminator_text(mz: dict) -> str:
    c = mz["irl"]["airl"]["config"]
    if c["policy_buffer_size"] is None:
        return ""
    return (
        f" and a discriminator taking {c['discriminator_steps']} steps per update on samples "
        f"of the last {c['policy_buffer_size']:,} policy transitions (Fu et al.'s `max_itrs` and "
        "fusion)"
    )


def _maze_transfer_text(mz: dict) -> str:
    t, e = mz["transfer_config"], mz["expert"]["config"]
    changed = [
        f"{k} {t[k]} (expert's: {e[k]})" for k in ("init_log_std", "entropy_coef") if t[k] != e[k]
    ]
    what = f"{t['total_steps']:,} steps"
    text = f" are PPO from scratch, {what}" + (
        f", exploring more: {', '.join(changed)}" if changed else ", the expert's settings"
    )
    if "transfer_sac" in mz:
        c = mz["transfer_sac_config"]
        text += (
            f", and SAC from scratch, {c['total_steps']:,} steps ({c['num_envs']} envs, "
            f"{'×'.join(map(str, c['hidden']))} networks, automatic temperature, discount "
            f"{c['discount']}): a maximum-entropy learner with its own exploration, so a reward "
            "that fails with both fails by its shape, not by one learner's exploration"
        )
    return text


def _maze_section(mz: dict, s: dict) -> list[str]:
    ex = mz["expert"]
    chosen = ex["evals_left"][ex["chosen_seed"]]
    n_eval = mz["eval_episodes"]
    lines = [
        "## 2b. Fu et al. (2018): the shifting maze (`PointMaze`)",
        "",
        f"Expert: PPO with the true reward on the left-gap maze ({ex['config']['total_steps']:,} "
        f"steps, observation normalisation, the best of {ex['seeds']} seeds: reach rates "
        f"{', '.join(_f(x['reach'], 2) for x in ex['evals_left'])}); the chosen one reaches the "
        f"goal in {chosen['reach']:.0%} of {n_eval} episodes, return {chosen['return']:.1f}. "
        f"{mz['demos']['n']} demonstrations from it (stochastic), "
        f"{sum(mz['demos']['reached'])} reaching the goal, returns {_pm(mz['demos']['returns'])}. "
        f"AIRL (state-only reward) and GAIL trained on the left maze with the same PPO as "
        f"generator{_maze_discriminator_text(mz)}, {mz['seeds']} seeds each; the transfer "
        f"runs{_maze_transfer_text(mz)}. Every policy is evaluated on {n_eval} fresh episodes "
        "per seed (stochastic). Reach: fraction of episodes whose last position is within "
        "`goal_radius` of the goal, over all seeds' episodes; return: mean ± std over seeds.",
        "",
        "Fu et al.'s Table 1 layout (the right-gap maze is the test):",
        "",
    ]
    rows = []
    for what, where, reward, evals, _ in _maze_rows(mz):
        returns = [x["return"] for x in evals]
        rows.append([what, where, reward, f"{_reach(evals):.0%}", _pm(returns)])
    lines += _report.table(
        ["policy", "trained on", "reward", "right maze: reach", "right maze: return"], rows
    )
    lines += ["", "On the training (left) maze, and the learned rewards:", ""]
    rows = [["PPO expert", f"{chosen['reach']:.0%}", _f(chosen["return"], 1), "", "", ""]]
    for m, label in METHODS.items():
        if m in mz["irl"]:
            r = mz["irl"][m]
            rows.append(
                [
                    label,
                    f"{_reach(r['left']):.0%}",
                    _pm([x["return"] for x in r["left"]]),
                    ", ".join(_f(x, 2) for x in r["reward_correlation"]),
                    _f(r["compile_seconds"], 0),
                    _f(r["run_seconds"], 0),
                ]
            )
    lines += _report.table(
        [
            "policy",
            "reach",
            "return",
            "reward's correlation with −‖p − goal‖, by seed",
            "compile s",
            "run s",
        ],
        rows,
    )
    lines += [
        "",
        f"The correlation is Pearson's, over a {MAP_POINTS}×{MAP_POINTS} grid of positions "
        "covering the square (GAIL's reward averaged over the 9 actions of {−1, 0, 1}²); "
        "the figure maps seed 0's rewards. A reward that transfers must rank the right-hand "
        "side of the maze, where the test maze's gap is, as the true reward does.",
    ]
    lines += _maze_reward_note(mz)
    lines += [
        "",
        "Does the reward itself transfer, apart from the learner trained on it? The optimal "
        "policy for each reward (per seed), by finite-horizon value iteration on the same grid "
        "(cells of `max_speed`, one cell per axis per step, the wall closed outside the gap, "
        f"discount {mz['transfer_config']['discount']} as in the transfer runs, "
        "`max_steps_in_episode` steps from the start; `plan_on_grid`), run to the end of an "
        "episode: does it end within `goal_radius` of the goal?",
        "",
    ]
    rows = [["true reward"] + [_yes(mz["true_planner_reach"][g]) for g in ("left", "right")]]
    for m, label in METHODS.items():
        if m in mz["irl"]:
            reach = mz["irl"][m]["planner_reach"]
            rows.append(
                [f"{label}'s learned reward"]
                + [f"{sum(reach[g])} of {len(reach[g])} seeds" for g in ("left", "right")]
            )
    lines += _report.table(["reward", "left (training) maze", "right (test) maze"], rows)
    lines += ["", "Transfer runs' times (all seeds together):", ""]
    rows = [
        [learner, k, _f(t["compile_seconds"], 0), _f(t["run_seconds"], 0)]
        for field, learner in MAZE_LEARNERS.items()
        for k, t in mz.get(field, {}).items()
    ]
    lines += _report.table(["learner", "reward", "compile s", "run s"], rows)
    lines += [""]
    return lines


def _yes(flag: bool) -> str:
    return "reaches" if flag else "does not reach"


def _maze_reward_note(mz: dict) -> list[str]:
    """Where each learned reward (seed 0's map) is high: the side of the training maze's gap,
    or the side of the test maze's, beside the true reward, which is the same on both."""
    gap = mz["geometry"]["gap_width"]
    xs = map_axis()
    left, right = xs <= gap, xs >= 1 - gap
    truth = _true_map(mz["geometry"]["goal"])

    def sides(grid):
        grid = np.asarray(grid)
        spread = grid.max() - grid.min()
        return (grid[:, left].mean() - grid[:, right].mean()) / spread if spread else 0.0

    parts = [f"true reward {sides(truth):+.2f}"]
    for m, label in METHODS.items():
        if m in mz["irl"]:
            parts.append(f"{label} {sides(mz['irl'][m]['reward_map_seed0']):+.2f}")
    lines = [
        "",
        "Mean reward over the training gap's columns (x ≤ gap width) minus that over the test "
        "gap's (x ≥ 1 − gap width), as a fraction of the reward's range over the square "
        f"(seed 0): {', '.join(parts)}.",
    ]
    airl = mz["irl"].get("airl")
    failed = [
        learner
        for field, learner in MAZE_LEARNERS.items()
        if field in mz and _reach(mz[field]["airl"]["right"]) <= 0.5
    ]
    if airl and "PPO" in failed:
        learners = " and ".join(failed)
        bias = sides(airl["reward_map_seed0"])
        lines[-1] += (
            " AIRL's reward favours the side the expert went through"
            if bias > sides(truth) + 0.1
            else " AIRL's reward does not favour the training gap's side"
        ) + (
            " and correlates with the true reward at only "
            f"{np.mean(airl['reward_correlation']):.2f} (mean over seeds), which fits "
            f"{learners} on it not reaching the goal in the test maze, whose gap is on the "
            "other side."
        )
        planned = airl["planner_reach"]["right"]
        if sum(planned) > len(planned) / 2:
            lines[-1] += (
                f" Yet the optimal policy for it in the test maze reaches the goal ({sum(planned)} "
                f"of {len(planned)} seeds, below): the reward transfers by that measure, and "
                f"{learners} from the start {'settle' if len(failed) > 1 else 'settles'} on the "
                "side where the reward rises first."
            )
    return lines


def _against_target(score: float) -> str:
    """A score to two places, or to as many more as keep the rounding from crossing the
    target."""
    digits = 2
    while digits < 6 and (round(score, digits) >= TARGET_SCORE) != (score >= TARGET_SCORE):
        digits += 1
    return _f(score, digits)


def _targets(record: dict) -> list[str]:
    rows = []
    if "classic" in record:
        n = str(min(record["settings"]["trajectories"]))
        for name, e in record["classic"].items():
            for method, label in METHODS.items():
                score = float(_classic_scores(e, method, n).mean())
                rows.append(
                    [
                        f"{label} on {name}, {n} trajectory, normalised (mean over seeds)",
                        f"≥ {TARGET_SCORE}",
                        _against_target(score),
                        _report.verdict(score >= TARGET_SCORE),
                    ]
                )
            if "bc" in e["cells"]:
                bc = float(_classic_scores(e, "bc", n).mean())
                best = max(float(_classic_scores(e, m, n).mean()) for m in METHODS)
                rows.append(
                    [
                        f"BC on {name}, {n} trajectory, below GAIL and AIRL as in Ho & "
                        "Ermon: normalised (the better one's lead)",
                        f"lead ≥ {BC_GAP}",
                        f"{bc:.2f} ({best - bc:+.2f})",
                        "reproduced" if best - bc >= BC_GAP else "**not reproduced**",
                    ]
                )
    if "maze" in record:
        for field, learner in MAZE_LEARNERS.items():
            if field not in record["maze"]:
                continue
            t = record["maze"][field]
            reach = {k: _reach(t[k]["right"]) for k in ("true", "airl", "gail")}
            if field == "transfer":
                true_reach = reach["true"]
            rows += [
                [
                    f"(reference) {learner} on the true reward reaches the goal in the right maze",
                    "> 50%",
                    f"{reach['true']:.0%}",
                    _report.verdict(reach["true"] > 0.5),
                ],
                [
                    f"{learner} on AIRL's state-only reward reaches the goal in the right maze "
                    "(reach rate)",
                    "> 50%",
                    f"{reach['airl']:.0%}",
                    _report.verdict(reach["airl"] > 0.5),
                ],
                [
                    f"{learner} on GAIL's reward does not (reach rate)",
                    "≤ 50%",
                    f"{reach['gail']:.0%}",
                    _report.verdict(reach["gail"] <= 0.5),
                ],
            ]
        for m, wanted in (("airl", True), ("gail", False)):
            planned = record["maze"]["irl"][m]["planner_reach"]["right"]
            share = sum(planned) / len(planned)
            rows.append(
                [
                    f"(the reward alone) the optimal policy for {METHODS[m]}'s reward reaches "
                    f"the goal in the right maze{'' if wanted else ': does not'} "
                    "(`plan_on_grid`; share of seeds)",
                    "> 50%" if wanted else "≤ 50%",
                    f"{sum(planned)} of {len(planned)}",
                    _report.verdict(share > 0.5 if wanted else share <= 0.5),
                ]
            )
    if not rows:
        return []
    notes = [
        "Normalised scores: each seed's mean return over its evaluation episodes, normalised, "
        "then averaged over seeds. Reach rates: over all seeds' evaluation episodes."
    ]
    if "classic" in record:
        notes.append(
            f"With {record['settings']['seeds']} seeds a mean near {TARGET_SCORE} is decided by "
            "the seeds drawn (and by the machine: XLA's CPU code differs between CPUs); "
            "`adversarial_seeds.md` judges the one-trajectory cells on 20 seeds, by the 95% "
            "interval of the mean."
        )
    if "maze" in record and not true_reach > 0.5:
        notes.append(
            "PPO did not reach the goal on the true reward either, so the maze's targets say "
            "little about the rewards."
        )
    return [
        "## Targets",
        "",
        *_report.table(["target", "goal", "measured", ""], rows),
        "",
        " ".join(notes),
        "",
    ]


def _true_map(goal) -> np.ndarray:
    """The maze's true state reward on the grid of `reward_map`."""
    xs = map_axis()
    gx, gy = np.meshgrid(xs, xs)
    return -np.hypot(gx - goal[0], gy - goal[1])


def plot(record: dict, path: Path) -> None:
    """Normalised score against N per classic env; Pendulum's scores; the maze's reach rates
    and returns; the maze's true reward beside AIRL's and GAIL's learned ones (seed 0)."""
    from irlax import plots

    plt = plots.plt
    fig, axes = plt.subplots(3, 3, figsize=(15, 13))
    s = record["settings"]
    for ax, (name, e) in zip(axes[0], record.get("classic", {}).items(), strict=False):
        counts = s["trajectories"]
        for method, label in _classic_methods(e).items():
            scores = [_classic_scores(e, method, str(n)) for n in counts]
            ax.errorbar(
                counts,
                [x.mean() for x in scores],
                yerr=[x.std() for x in scores],
                marker="o",
                capsize=3,
                label=label,
            )
        ax.axhline(1.0, color="k", lw=0.8, label="expert")
        ax.axhline(TARGET_SCORE, color="k", ls=":", lw=0.8, label=f"target {TARGET_SCORE}")
        ax.axhline(0.0, color="grey", lw=0.8, label="random")
        ax.set_xticks(counts)
        ax.set_xlabel("expert trajectories")
        ax.set_ylabel("normalised score")
        ax.set_title(f"{name} ({e['total_steps'] // 1000}k steps)")
    if "classic" in record:
        axes[0][0].legend(fontsize=8)
    ax = axes[1][0]
    if "pendulum" in record:
        p = record["pendulum"]
        labels, means, stds = [], [], []
        for label, run in p["runs"].items():
            norm = normalised(seed_scores(run), p["random_return"], p["expert"]["return"])
            method, generator = PENDULUM_LABELS[label]
            labels.append(f"{method.split(' ')[0]}\n{generator}")
            means.append(norm.mean())
            stds.append(norm.std())
        ax.bar(range(len(labels)), means, yerr=stds, capsize=3, color="C2")
        ax.set_xticks(range(len(labels)), labels)
        ax.axhline(1.0, color="k", lw=0.8)
        ax.axhline(0.0, color="grey", lw=0.8)
        ax.set_ylabel("normalised score")
        ax.set_title("Pendulum-v1 (1 = SAC expert, 0 = random)")
    if "maze" in record:
        mz = record["maze"]
        rows = _maze_rows(mz)
        short = [r[4] for r in rows]
        reach = [_reach(r[3]) for r in rows]
        ret = [np.mean([x["return"] for x in r[3]]) for r in rows]
        ret_sd = [np.std([x["return"] for x in r[3]]) for r in rows]
        colors = ["C7" if r[1] == "left maze" else "C0" for r in rows]
        axes[1][1].bar(range(len(rows)), reach, color=colors)
        axes[1][1].set_xticks(range(len(rows)), short, fontsize=8)
        axes[1][1].set_ylim(0, 1.05)
        axes[1][1].set_ylabel("reach rate")
        axes[1][1].set_title("shifting maze, right gap: reach rate")
        axes[1][2].bar(range(len(rows)), ret, yerr=ret_sd, capsize=3, color=colors)
        axes[1][2].set_xticks(range(len(rows)), short, fontsize=8)
        axes[1][2].set_ylabel("true return")
        axes[1][2].set_title("shifting maze, right gap: return")
    if "maze" in record:
        geo = mz["geometry"]
        wall, gap, goal = geo["wall_y"], geo["gap_width"], geo["goal"]
        maps = {"true reward −‖p − goal‖": _true_map(goal)}
        for m, label in METHODS.items():
            if m in mz["irl"]:
                corr = np.mean(mz["irl"][m]["reward_correlation"])
                maps[f"{label}'s learned reward, seed 0 (corr. {corr:.2f})"] = np.asarray(
                    mz["irl"][m]["reward_map_seed0"]
                )
        for ax, (title, grid) in zip(axes[2], maps.items(), strict=False):
            image = ax.imshow(grid, origin="lower", extent=(0, 1, 0, 1), cmap="viridis")
            fig.colorbar(image, ax=ax, fraction=0.046)
            ax.plot([gap, 1.0], [wall, wall], color="w", lw=3, label="wall, training maze")
            ax.plot(
                [0.0, 1 - gap], [wall, wall], color="r", lw=1.5, ls="--", label="wall, test maze"
            )
            ax.plot([goal[0]], [goal[1]], marker="*", color="r", ms=12)
            ax.set_title(title, fontsize=10)
        axes[2][0].legend(fontsize=7, loc="lower right")
    for ax in axes.flat:
        if not ax.has_data() and not ax.images:
            ax.axis("off")
    fig.tight_layout()
    plots.save(fig, path)


if __name__ == "__main__":
    main()
