"""Sample-based MaxEnt IRL and guided cost learning: what not knowing the dynamics costs.

1. **Tabular worlds** (objectworld 16×16 of Levine et al. 2011, and a slippery 5×5 gridworld),
   each as a one-hot `irlax.envs.TabularEnv` cut at `T` steps, with demos of the soft-optimal
   (MaxEnt-model) expert of the true reward. Exact MaxEnt (`algorithms.maxent.fit`, a reward
   table, through the known dynamics) and, from the same demos but the dynamics only sampled,
   `maxent_sampled` (soft Q-learning inner loop, tabular reward), `gcl` (soft policy gradient,
   tabular reward), AIRL (state-only reward `g(s)`) and IQ-Learn (offline, its implied reward
   `Q(s, a) − γV(s')`). Reported per method, mean ± std over seeds (one `jax.vmap`-ed call):
   the expected value difference (Levine et al. 2011) under the true reward of the policy
   optimal for the learned reward; the EPIC distance (Gleave et al. 2021) of the learned reward
   to exact MaxEnt's and to the true one; env steps; wall time (compile, run).
2. **Classic control** (Pendulum-v1, CartPole-v1): GCL and `maxent_sampled` beside GAIL and
   AIRL, seeds in one `jax.jit(jax.vmap(train))(keys)`: env steps and wall time until the
   training return first reaches 95% of the way from a random policy's return to the
   expert's (the normalised score `(R − random) / (expert − random)` ≥ 0.95), and the final
   policies' normalised score on fresh episodes. Experts: CartPole the scripted linear
   controller of `benchmarks/adversarial.py`; Pendulum a scripted energy-pumping swing-up with
   a PD balance near the top (return ≈ −133 over 200 steps, like the SAC expert of
   `adversarial.py`, −142).

    nice -n 10 .venv/bin/python benchmarks/sampled_maxent.py [--quick] [--parts tabular,control]

writes benchmarks/results/sampled_maxent.json after every run (a partial run is kept), renders
sampled_maxent.md from it (`--render-only [JSON]` re-renders without running) and plots
sampled_maxent.png. `--quick` is a smoke test written to the git-ignored benchmarks/.cache/.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import _report
import numpy as np
from _report import source_state, sources_line
from adversarial import (
    REFERENCE_EPISODES,
    config_dict,
    fixed_expert,
    log,
    random_policy,
    returns_of,
    seed_keys,
    take,
)

HERE = Path(__file__).resolve().parent
NAME = "sampled_maxent"
TARGET = 0.95  # normalised score
EVAL_EPISODES = 10
TEMPERATURE, DISCOUNT = 1.0, 0.9
TABULAR_METHODS = {
    "maxent": "exact MaxEnt (known dynamics)",
    "maxent_sampled": "maxent_sampled",
    "gcl": "GCL",
    "airl": "AIRL",
    "iqlearn": "IQ-Learn (offline)",
}
CONTROL_METHODS = {"gcl": "GCL", "maxent_sampled": "maxent_sampled", "gail": "GAIL", "airl": "AIRL"}


def settings(quick: bool) -> dict:
    """The run's sizes; `--quick` shrinks every budget to a smoke test."""
    if quick:
        return {
            "tabular_seeds": 2,
            "control_seeds": 2,
            "T": 20,
            "demos": {"objectworld": 20, "gridworld": 20},
            "outer": 10,
            "iq_updates": 50,
            "airl_updates": 4,
            "control_demos": {"CartPole-v1": 2, "Pendulum-v1": 2},
            "steps": {
                "CartPole-v1": {"gcl": 4096, "maxent_sampled": 2000, "gail": 4096, "airl": 4096},
                "Pendulum-v1": {"gcl": 1000, "maxent_sampled": 1000, "gail": 1000, "airl": 1000},
            },
        }
    return {
        "tabular_seeds": 3,
        "control_seeds": 5,
        "T": 50,
        "demos": {"objectworld": 200, "gridworld": 100},
        "outer": 300,
        "iq_updates": 2000,
        "airl_updates": 200,
        "control_demos": {"CartPole-v1": 4, "Pendulum-v1": 10},
        "steps": {
            "CartPole-v1": {
                "gcl": 100_000,
                "maxent_sampled": 60_000,
                "gail": 100_000,
                "airl": 100_000,
            },
            "Pendulum-v1": {
                "gcl": 10_000,
                "maxent_sampled": 10_000,
                "gail": 10_000,
                "airl": 10_000,
            },
        },
    }


def timed(fn, *args) -> tuple:
    """Compile `jax.jit(fn)` for these arguments, then run it: `(result, compile_s, run_s)`."""
    import jax

    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    result = jax.block_until_ready(compiled(*args))
    return result, compile_seconds, time.perf_counter() - start


# --------------------------------------------------------------------------- 1. tabular


def tabular_world(kind: str):
    """`(mdp, true reward [S])`: objectworld 16×16 (2 colours) or a slippery 5×5 gridworld
    whose reward is +1 in the far corner and −1 on the centre cross; both γ = 0.9, infinite
    horizon (episodes are cut at T steps by the env)."""
    import jax
    import jax.numpy as jnp

    from irlax.envs import gridworld, objectworld

    if kind == "objectworld":
        mdp, reward = objectworld(jax.random.key(2), 16, discount=DISCOUNT)
        return mdp, jnp.asarray(reward, jnp.float32)
    mdp = gridworld(5, 5, horizon=None, discount=DISCOUNT, slip=0.2)
    reward = np.zeros(25, np.float32)
    reward[24] = 1.0
    reward[[7, 11, 12, 13, 17]] = -1.0
    return mdp, jnp.asarray(reward)


def tabular_configs(s: dict) -> dict:
    """The sampled methods' configs on a one-hot world (tabular rewards and policies)."""
    import flax.linen as nn

    from irlax.algorithms import airl, gcl, iqlearn, maxent_sampled
    from irlax.rl import ppo, soft_pg, soft_q

    outer, T = s["outer"], s["T"]

    class StateTable(nn.Module):
        """`r(s) = θ·onehot(s)`, θ = 0 at the start (no bias: the fixed horizon leaves a
        constant unidentified)."""

        @nn.compact
        def __call__(self, obs, action, next_obs):
            return nn.Dense(1, use_bias=False, kernel_init=nn.initializers.zeros)(obs)[..., 0]

    soft_q_config = soft_q.SoftQConfig(
        total_steps=4 * 8 * 10 * outer,
        num_envs=4,
        rollout_length=8,
        gradient_steps=8,
        batch_size=64,
        buffer_size=4096,
        learning_starts=256,
        learning_rate=0.1,
        discount=DISCOUNT,
        temperature=TEMPERATURE,
        target_update="polyak",
        tau=0.1,
        hidden=(),
        max_grad_norm=None,
    )
    pg = soft_pg.SoftPGConfig(
        total_steps=16 * T * outer,
        num_envs=16,
        rollout_length=T,
        learning_rate=0.1,
        max_grad_norm=None,
        discount=DISCOUNT,
        temperature=TEMPERATURE,
        gae_lambda=1.0,
        hidden=(),
    )
    airl_generator = ppo.PPOConfig(
        total_steps=8 * 64 * s["airl_updates"],
        num_envs=8,
        rollout_length=64,
        update_epochs=4,
        learning_rate=1e-3,
        entropy_coef=0.0,
        discount=DISCOUNT,
        hidden=(32,),
    )
    return {
        "maxent_sampled": maxent_sampled.MaxEntSampledConfig(
            generator=soft_q_config,
            inner_updates=10,
            samples=16,
            reward_inputs="state",
            reward_hidden=(),
            learning_rate=0.1,
            anneal_lr=True,
            l2=0.01,
        ),
        "gcl": gcl.GCLConfig(
            generator=pg,
            generator_updates=1,
            reward_network=StateTable(),
            reward_learning_rate=0.1,
            reward_steps=2,
            background_trajectories=16,
            background_batches=4,
            demo_fit_steps=300,
            demo_fit_hidden=(),
        ),
        "airl": airl.AIRLConfig(
            generator=airl_generator,
            discriminator_hidden=(32,),
            potential_hidden=(32,),
            discriminator_steps=10,
            discriminator_learning_rate=1e-3,
            discriminator_normalize_observations=False,
            absorbing=False,
        ),
        "iqlearn": iqlearn.IQLearnConfig(
            updates=s["iq_updates"],
            hidden=(),
            temperature=TEMPERATURE,
            discount=DISCOUNT,
            chi2_alpha=10.0,
            batch_size=256,
            learning_rate=3e-2,
            target_update="none",
            eval_episodes=0,
        ),
    }


def reward_table(result, n_states: int, n_actions: int, full: bool):
    """The learned reward as a table: `[S]` of `r(s, ·, s)` for a state reward, or (`full`)
    `[S, A, S]` of `r(s, a, s')`."""
    import jax
    import jax.numpy as jnp

    onehot = jnp.eye(n_states, dtype=jnp.float32)
    if not full:
        return jax.vmap(lambda s: result.reward(s, 0, s))(onehot)
    actions = jnp.arange(n_actions)
    return jax.vmap(
        lambda s: jax.vmap(lambda a: jax.vmap(lambda n: result.reward(s, a, n))(onehot))(actions)
    )(onehot)


def tabular(s: dict, record: dict, write) -> None:
    import jax
    import jax.numpy as jnp

    from irlax.algorithms import airl, gcl, iqlearn, maxent, maxent_sampled
    from irlax.data import Trajectories, rollout
    from irlax.envs import TabularEnv
    from irlax.mdp import soft_value_iteration
    from irlax.metrics import epic_distance, expected_value_difference

    modules = {"maxent_sampled": maxent_sampled, "gcl": gcl, "airl": airl, "iqlearn": iqlearn}
    configs = tabular_configs(s)
    out = record.setdefault("tabular", {})
    for w, kind in enumerate(("objectworld", "gridworld")):
        mdp, truth = tabular_world(kind)
        S, A = mdp.n_states, mdp.n_actions
        env = TabularEnv(mdp, truth, "onehot", time_limit=s["T"])
        expert = soft_value_iteration(mdp, truth, temperature=TEMPERATURE).log_policy

        def act(obs, key, expert=expert):
            return jax.random.categorical(key, expert[jnp.argmax(obs)])

        demos = rollout(env, act, s["demos"][kind], jax.random.key(10 + w), env.default_params)
        states = jnp.argmax(demos.observations, -1).astype(jnp.int32)
        indexed = Trajectories(states, demos.actions, demos.lengths)
        onehot_mdp = mdp.replace(features=jnp.eye(S, dtype=jnp.float32))
        entry = {
            "states": S,
            "actions": A,
            "demos": s["demos"][kind],
            "T": s["T"],
            "demo_steps": int(np.sum(demos.lengths)),
            "methods": {},
        }
        out[kind] = entry

        def fit_exact(key, onehot_mdp=onehot_mdp, indexed=indexed):
            return maxent.fit(
                onehot_mdp,
                indexed,
                key=key,
                objective="dual",
                temperature=TEMPERATURE,
                l2=0.01,
                steps=1000,
                learning_rate=0.05,
            ).reward

        exact, c, r = timed(fit_exact, jax.random.key(0))
        cell = {
            "evd": [float(expected_value_difference(mdp, truth, exact))],
            "epic_exact": [0.0],
            "epic_true": [float(epic_distance(mdp, exact, truth))],
            "env_steps": [0],
            "compile_seconds": c,
            "run_seconds": r,
            "seeds": 1,
        }
        entry["methods"]["maxent"] = cell
        entry["true_evd_uniform"] = float(
            expected_value_difference(mdp, truth, log_policy=jnp.full((S, A), -np.log(A)))
        )
        entry["expert_evd"] = float(expected_value_difference(mdp, truth, log_policy=expert))
        log(f"{kind}: exact maxent EVD {cell['evd'][0]:.3f} EPIC(true) {cell['epic_true'][0]:.3f}")
        write()
        for m, module in modules.items():
            keys = seed_keys(100 * (w + 1) + len(entry["methods"]), s["tabular_seeds"])
            train = jax.vmap(module.make_train(configs[m], env, None, demos))
            result, c, r = timed(train, keys)
            cell = {
                "evd": [],
                "epic_exact": [],
                "epic_true": [],
                "compile_seconds": c,
                "run_seconds": r,
                "seeds": s["tabular_seeds"],
                "env_steps": np.asarray(result.metrics["env_steps"])[:, -1].tolist(),
                "config": config_dict(configs[m]),
            }
            for i in range(s["tabular_seeds"]):
                table = reward_table(take(result, i), S, A, full=m == "iqlearn")
                cell["evd"].append(float(expected_value_difference(mdp, truth, table)))
                cell["epic_exact"].append(float(epic_distance(mdp, table, exact)))
                cell["epic_true"].append(float(epic_distance(mdp, table, truth)))
            if m == "gcl":
                ess = np.asarray(result.metrics["effective_sample_size"])
                cell["ess_median"] = float(np.median(ess))
            entry["methods"][m] = cell
            log(
                f"  {kind} {m}: EVD {np.round(cell['evd'], 3)} EPIC(exact) "
                f"{np.round(cell['epic_exact'], 3)} compile {c:.0f}s run {r:.0f}s"
            )
            write()


# --------------------------------------------------------------------------- 2. classic control


def pendulum_expert(obs, key):
    """Swing-up by energy pumping, PD balance near the top (Pendulum-v1, m = l = 1, g = 10).

    The energy relative to upright, `E = θ̇²/6 + 5(cos θ − 1)`, changes as `dE/dt = θ̇·u`, so
    `u = −k θ̇ E` drives it to 0; once `cos θ > 0.9`, `u = −(10θ + 2θ̇)`; torques clipped to 2.
    """
    import jax.numpy as jnp

    c, s, w = obs[0], obs[1], obs[2]
    theta = jnp.arctan2(s, c)
    energy = w**2 / 6 + 5 * (c - 1)
    swing = jnp.clip(-10.0 * w * energy, -2, 2)
    balance = jnp.clip(-(10 * theta + 2 * w), -2, 2)
    return jnp.where(c > 0.9, balance, swing)[None].astype(obs.dtype)


def control_configs(name: str, s: dict) -> dict:
    """Each method's config on `name`, at the step budgets of `s`."""
    from adversarial import (
        pendulum_airl_sac_generator,
        pendulum_sac_discriminator,
        pendulum_sac_generator,
    )

    from irlax.algorithms import airl, gail, gcl, maxent_sampled
    from irlax.rl import ppo, sac, soft_q

    steps = s["steps"][name]
    if name == "CartPole-v1":
        return {
            "gcl": gcl.GCLConfig(generator=ppo.PPOConfig(total_steps=steps["gcl"]), horizon=200),
            "maxent_sampled": maxent_sampled.MaxEntSampledConfig(
                generator=soft_q.SoftQConfig(
                    total_steps=steps["maxent_sampled"],
                    temperature=0.05,
                    learning_starts=min(1000, steps["maxent_sampled"] // 2),
                ),
                inner_updates=10,
                samples=4,
                reward_hidden=(32,),
                learning_rate=3e-3,
            ),
            "gail": gail.GAILConfig(generator=ppo.PPOConfig(total_steps=steps["gail"])),
            "airl": airl.AIRLConfig(
                generator=ppo.PPOConfig(total_steps=steps["airl"], entropy_coef=0.0)
            ),
        }
    gen = pendulum_sac_generator
    return {
        "gcl": gcl.GCLConfig(
            generator=gen(steps["gcl"]),
            generator_updates=50,
            reward_inputs="state_action",
            reward_learning_rate=3e-3,
            reward_steps=5,
            horizon=100,
        ),
        "maxent_sampled": maxent_sampled.MaxEntSampledConfig(
            generator=sac.SACConfig(
                total_steps=steps["maxent_sampled"],
                learning_rate=1e-3,
                learning_starts=500,
                hidden=(64, 64),
                batch_size=128,
                learn_temperature=False,
                temperature=0.2,
            ),
            inner_updates=50,
            samples=4,
            reward_inputs="state",
            reward_hidden=(32, 32),
            learning_rate=3e-3,
        ),
        "gail": gail.GAILConfig(
            generator=gen(steps["gail"]), **pendulum_sac_discriminator(steps["gail"])
        ),
        "airl": airl.AIRLConfig(
            generator=pendulum_airl_sac_generator(steps["airl"]),
            reward_inputs="state_action",
            **pendulum_sac_discriminator(steps["airl"]),
        ),
    }


BUDGET_MINUTES = 40
SMOOTHING = 0.1  # the trailing window of the training return, as a share of the updates


def first_reach(returns, threshold: float, window: int = 1):
    """The update index at which each seed's training return, averaged over a trailing window
    of `window` updates (NaNs, before any episode ends, skipped), first reaches `threshold`, or
    None; `returns` `[seeds, updates]`."""
    hits = []
    for r in np.asarray(returns, np.float64):
        finite = np.isfinite(r)
        total = np.cumsum(np.where(finite, r, 0.0))
        count = np.cumsum(finite)
        lag = np.concatenate([np.zeros(window), total[:-window]])
        lag_count = np.concatenate([np.zeros(window), count[:-window]])
        n = count - lag_count
        mean = np.where(n > 0, (total - lag) / np.maximum(n, 1), -np.inf)
        idx = np.flatnonzero(mean >= threshold)
        hits.append(int(idx[0]) if idx.size else None)
    return hits


def control(s: dict, record: dict, write) -> None:
    import jax

    from irlax.algorithms import airl, gail, gcl, maxent_sampled
    from irlax.data import rollout
    from irlax.data.rollout import episode_returns
    from irlax.envs import make

    modules = {"gcl": gcl, "maxent_sampled": maxent_sampled, "gail": gail, "airl": airl}
    out = record.setdefault("control", {})
    for e, name in enumerate(("Pendulum-v1", "CartPole-v1")):
        env, params = make(name)
        act = pendulum_expert if name == "Pendulum-v1" else fixed_expert(name, params)
        expert_returns = returns_of(env, act, REFERENCE_EPISODES, jax.random.key(20 + e), params)
        random_returns = returns_of(
            env, random_policy(env, params), REFERENCE_EPISODES, jax.random.key(30 + e), params
        )
        demos = rollout(env, act, s["control_demos"][name], jax.random.key(40 + e), params)
        entry = {
            "expert_return": float(expert_returns.mean()),
            "expert_return_std": float(expert_returns.std()),
            "random_return": float(random_returns.mean()),
            "demo_returns": np.asarray(episode_returns(demos)).tolist(),
            "methods": {},
        }
        out[name] = entry
        log(f"{name}: expert {entry['expert_return']:.1f} random {entry['random_return']:.1f}")
        threshold = entry["random_return"] + TARGET * (
            entry["expert_return"] - entry["random_return"]
        )
        configs = control_configs(name, s)
        for m, module in modules.items():
            keys = seed_keys(1000 * (e + 1) + len(entry["methods"]), s["control_seeds"])
            train = jax.vmap(module.make_train(configs[m], env, params, demos))
            result, c, r = timed(train, keys)
            returns = np.asarray(result.metrics["episode_return"], np.float64)
            steps = np.asarray(result.metrics["env_steps"], np.float64)
            n_updates = returns.shape[1]
            window = max(1, round(SMOOTHING * n_updates))
            hits = first_reach(returns, threshold, window)
            touches = first_reach(returns, threshold)
            evals = [
                returns_of(
                    env,
                    take(result.policy, i).policy,
                    EVAL_EPISODES,
                    jax.random.key(5000 + i),
                    params,
                ).tolist()
                for i in range(s["control_seeds"])
            ]
            cell = {
                "config": config_dict(configs[m]),
                "seeds": s["control_seeds"],
                "compile_seconds": c,
                "run_seconds": r,
                "updates": n_updates,
                "total_env_steps": steps[:, -1].tolist(),
                "steps_to_target": [
                    None if h is None else float(steps[i, h]) for i, h in enumerate(hits)
                ],
                # The updates cost alike, so the run's time to update h is its share.
                "seconds_to_target": [None if h is None else r * (h + 1) / n_updates for h in hits],
                "window": window,
                "steps_to_first_touch": [
                    None if h is None else float(steps[i, h]) for i, h in enumerate(touches)
                ],
                "eval_returns": evals,
                "curve": _curve(returns, steps),
            }
            if m == "gcl":
                ess = np.asarray(result.metrics["effective_sample_size"])
                cell["ess_median"] = float(np.median(ess))
            entry["methods"][m] = cell
            scores = normalised(cell, entry)
            log(
                f"  {name} {m}: normalised {np.round(scores, 2)}, reached {TARGET} on "
                f"{sum(h is not None for h in hits)}/{len(hits)} seeds, "
                f"compile {c:.0f}s run {r:.0f}s"
            )
            write()


def _curve(returns, steps, points: int = 40) -> list:
    """`[[env steps, mean training return over seeds]]` at `points` evenly spaced updates."""
    idx = np.unique(np.linspace(0, returns.shape[1] - 1, points).round().astype(int))
    out = []
    for i in idx:
        col = returns[:, i]
        finite = col[np.isfinite(col)]
        out.append([float(steps[:, i].mean()), float(finite.mean()) if finite.size else None])
    return out


def normalised(cell: dict, entry: dict) -> np.ndarray:
    """Each seed's final normalised score (mean over its evaluation episodes)."""
    means = np.asarray([np.mean(x) for x in cell["eval_returns"]])
    return (means - entry["random_return"]) / (entry["expert_return"] - entry["random_return"])


# --------------------------------------------------------------------------- main


def main(argv=None) -> None:
    if _report.render_only_main(NAME, render, argv):
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke test, to benchmarks/.cache")
    parser.add_argument("--parts", default="tabular,control")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="start from the JSON already written: keep its finished parts, run only --parts",
    )
    parser.add_argument("--out", help="the JSON to write")
    parser.add_argument("--render-only", nargs="?", help="re-render the report from a JSON")
    args = parser.parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", False)
    s = settings(args.quick)
    default = HERE / ".cache" / f"{NAME}_quick.json" if args.quick else _report.results_path(NAME)
    out = Path(args.out or default)
    out.parent.mkdir(parents=True, exist_ok=True)
    load_before, source_before = os.getloadavg()[0], source_state()
    start = time.perf_counter()
    parts = args.parts.split(",")
    command = f"python benchmarks/{NAME}.py " + " ".join(sys.argv[1:] if argv is None else argv)
    record = {"benchmark": NAME, "quick": args.quick, "settings": s, "parts_done": []}
    if args.keep and out.exists():
        record = _report.load(out)
        record["parts_done"] = [p for p in record.get("parts_done", []) if p not in parts]
        # Which irlax each kept part ran: the run that wrote it (its record's last line).
        earlier = record.get("sources_by_part", {})
        record["sources_by_part"] = {
            p: earlier.get(p, record.get("sources", "")) for p in record["parts_done"]
        }
        for part in parts:
            record.pop(part, None)
        command = f"{record['command']}; then {command}"
    record["command"] = command

    def write():
        elapsed = time.perf_counter() - start
        record["machine"] = _report.jax_machine(load_before, elapsed)
        record["sources"] = sources_line((source_before, source_state()))
        for part in parts:
            if part in record["parts_done"]:
                record.setdefault("sources_by_part", {})[part] = record["sources"]
        _report.save(record, render, out)

    for part, fn in (("tabular", tabular), ("control", control)):
        if part in parts:
            t0 = time.perf_counter()
            fn(s, record, write)
            record.setdefault("part_minutes", {})[part] = (time.perf_counter() - t0) / 60
            record["parts_done"].append(part)
            write()
    plot(record, out.with_suffix(".png"))
    log(f"wrote {out}, {out.with_suffix('.md')} ({(time.perf_counter() - start) / 60:.1f} min)")


# --------------------------------------------------------------------------- report

_f = _report.fixed


def _pm(values, digits: int = 3) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    if len(values) == 1:
        return _f(values[0], digits)
    return f"{_f(float(np.mean(values)), digits)} ± {_f(float(np.std(values)), digits)}"


def _thousands(x) -> str:
    return "—" if x is None else f"{x:,.0f}"


def render(record: dict) -> str:
    s = record["settings"]
    m = record.get("machine", {})
    lines = [
        "# Sample-based MaxEnt IRL and guided cost learning",
        "",
        f"Written by `benchmarks/{NAME}.py`; command: `{record['command'].strip()}`.",
        "",
    ]
    if m:
        lines += [
            f"Machine: {m['platform']}, {m['cpu']}, {m['cores']} cores (load average "
            f"{m['load_before']:.1f} before, {m['load_after']:.1f} at the last write), Python "
            f"{m['python']}, JAX {m['jax']} on {m['jax_backend']}, float32. " + _minutes(record),
            "",
            record.get("sources", ""),
            "",
        ]
    by_part = record.get("sources_by_part", {})
    if len(set(by_part.values())) > 1:
        lines += [
            "The parts come from different runs (`--keep`); the irlax each ran:",
            "",
            *[f"- {part}: {line}" for part, line in by_part.items()],
            "",
        ]
    done = record.get("parts_done", [])
    if record.get("quick"):
        lines += ["**A `--quick` smoke test: tiny budgets, the numbers mean nothing.**", ""]
    missing = [p for p in ("tabular", "control") if p not in done]
    if missing:
        lines += [f"**Partial run: not finished: {', '.join(missing)}.**", ""]
    lines += _reductions(s)
    if record.get("notes"):
        lines += ["## Notes (written beside the numbers, after the run)", ""]
        lines += [f"- {note}" for note in record["notes"]] + [""]
    if "tabular" in record:
        lines += _tabular_section(record["tabular"], s)
    if "control" in record:
        lines += _control_section(record["control"], s)
    return "\n".join(lines) + "\n"


def _minutes(record: dict) -> str:
    parts = record.get("part_minutes", {})
    if not parts:
        return f"The run took {record['machine']['minutes']:.1f} minutes to its last write."
    by_part = ", ".join(f"{p} {v:.1f}" for p, v in parts.items())
    total = sum(parts.values())
    return (
        f"The parts took {total:.1f} minutes ({by_part}); the aim was ~{BUDGET_MINUTES} minutes "
        "for the whole run on this loaded machine."
    )


def _reductions(s: dict) -> list[str]:
    return [
        "## What was reduced, and why",
        "",
        f"- Tabular: {s['tabular_seeds']} seeds per method (one vmapped call), episodes of "
        f"{s['T']} steps, {s['outer']} reward updates for `maxent_sampled` and GCL; exact "
        "MaxEnt is deterministic (one fit).",
        f"- Classic control: {s['control_seeds']} seeds per method; generator budgets (env "
        "steps per seed) "
        + "; ".join(
            f"{env}: " + ", ".join(f"{CONTROL_METHODS[k]} {v:,}" for k, v in b.items())
            for env, b in s["steps"].items()
        )
        + ". Pendulum's generators are the 64×64 SAC of `benchmarks/adversarial.py` (the "
        "256×256 networks cost ~10× more per step on this CPU). Most of the time is XLA "
        "compiling each method's program once (the compile column), which fewer seeds or steps "
        "would not shorten.",
        "",
    ]


def _tabular_section(tab: dict, s: dict) -> list[str]:
    lines = [
        "## 1. Tabular worlds: how much does not knowing the dynamics cost?",
        "",
        "Each world is a one-hot `TabularEnv` (γ = 0.9, episodes cut at "
        f"{s['T']} steps); demos from the soft-optimal expert (temperature 1) of the true "
        "reward. Exact MaxEnt fits a reward table through the known dynamics "
        "(`maxent.fit(objective='dual', l2=0.01)`); the others only sample the env. EVD: the "
        "true reward's value of its optimal policy minus that of the policy optimal for the "
        "learned reward (0 is perfect; the uniform policy's is given for scale). EPIC: the "
        "distance of the learned reward to exact MaxEnt's and to the true one (0: the same up to "
        "scale, constants and shaping; 1: opposite). IQ-Learn's reward is its implied "
        "`Q(s, a) − γV(s')`, an `[S, A, S]` table; the others' are state rewards `[S]`. Mean ± "
        "std over seeds; seconds are for all seeds of a method together.",
        "",
    ]
    for kind, entry in tab.items():
        lines += [
            f"### {kind} ({entry['states']} states, {entry['demos']} demos, "
            f"{entry['demo_steps']:,} demo steps)",
            "",
            f"EVD of the uniform policy {_f(entry['true_evd_uniform'])}; of the soft expert "
            f"itself {_f(entry['expert_evd'])}.",
            "",
        ]
        rows = []
        for m, cell in entry["methods"].items():
            rows.append(
                [
                    TABULAR_METHODS[m],
                    _pm(cell["evd"]),
                    _pm(cell["epic_exact"]),
                    _pm(cell["epic_true"]),
                    _thousands(float(np.mean(cell["env_steps"]))),
                    f"{cell['compile_seconds']:.0f} / {cell['run_seconds']:.0f}",
                ]
            )
        lines += _report.table(
            [
                "method",
                "EVD",
                "EPIC to exact MaxEnt",
                "EPIC to truth",
                "env steps / seed",
                "compile / run s",
            ],
            rows,
        )
        lines += ["", *_tabular_conclusion(entry), ""]
    return lines


def _tabular_conclusion(entry: dict) -> list[str]:
    exact = entry["methods"].get("maxent")
    if exact is None:
        return []
    out = []
    for m, cell in entry["methods"].items():
        if m == "maxent":
            continue
        evd = float(np.mean(cell["evd"]))
        gap = evd - exact["evd"][0]
        word = _report.comparison(evd, exact["evd"][0], smaller="below", larger="above")
        epic = _f(float(np.mean(cell["epic_exact"])), 3)
        steps = _thousands(float(np.mean(cell["env_steps"])))
        ess = f"; median importance ESS {_f(cell['ess_median'], 1)}" if "ess_median" in cell else ""
        out.append(
            f"- {TABULAR_METHODS[m]}: EVD {_f(evd, 3)}, {word} exact MaxEnt's "
            f"{_f(exact['evd'][0], 3)} ({gap:+.3f}); EPIC to it {epic}, after {steps} env "
            f"steps{ess}."
        )
    return out


def _control_section(ctl: dict, s: dict) -> list[str]:
    lines = [
        "## 2. Classic control: env steps and wall time to 95% of the expert",
        "",
        "Target: the training return (each method's `episode_return`: the true return of the "
        "generator's last finished episode in each of its envs; `maxent_sampled`'s, of its "
        "sampled episodes), averaged over a trailing window of "
        f"{SMOOTHING:.0%} of the run's updates, first at or above "
        f"`random + {TARGET}·(expert − random)`. Steps and seconds to it are medians over the "
        "seeds that reached it (the seconds are the run's share up to that update, compilation "
        "excluded). 'First touch' is the same without the window: one lucky episode (a "
        "Pendulum start near the top) can touch the line, so it flatters. The final score is "
        f"each seed's policy on {EVAL_EPISODES} fresh episodes, normalised, mean ± std over "
        "seeds: whether it stayed there.",
        "",
        "Env steps are each method's `env_steps` metric: the generator's steps and, for GCL, its "
        "background episodes (8 a reward update, counted to each episode's end), for "
        "`maxent_sampled` its sampled episodes, counted at their full padded length (`samples × "
        "episode_steps` an outer step: the env is stepped that often even after an episode "
        "ends, so on CartPole, where early episodes end after ~20 steps, its count runs ahead "
        "of the steps the samples use). GCL on Pendulum reads 100-step windows from each reset "
        "(`horizon=100`) of the 200-step episodes.",
        "",
    ]
    for name, entry in ctl.items():
        lines += [
            f"### {name}",
            "",
            f"Expert return {_f(entry['expert_return'], 1)} ± {_f(entry['expert_return_std'], 1)}"
            f", random policy {_f(entry['random_return'], 1)}; {len(entry['demo_returns'])} demos "
            f"(returns {_f(float(np.mean(entry['demo_returns'])), 1)} on average).",
            "",
        ]
        rows = []
        for m, cell in entry["methods"].items():
            reached = [x for x in cell["steps_to_target"] if x is not None]
            secs = [x for x in cell["seconds_to_target"] if x is not None]
            scores = normalised(cell, entry)
            touched = [x for x in cell.get("steps_to_first_touch", []) if x is not None]
            rows.append(
                [
                    CONTROL_METHODS[m],
                    f"{len(reached)}/{cell['seeds']}",
                    _thousands(_report.median(reached)),
                    _thousands(_report.median(touched)),
                    _f(_report.median(secs), 0) if secs else "—",
                    _pm(scores.tolist(), 2),
                    _thousands(float(np.mean(cell["total_env_steps"]))),
                    f"{cell['compile_seconds']:.0f} / {cell['run_seconds']:.0f}"
                    + (f" (ESS {_f(cell['ess_median'], 1)})" if "ess_median" in cell else ""),
                ]
            )
        lines += _report.table(
            [
                "method",
                "seeds reaching 95%",
                "env steps to 95%",
                "first touch (env steps)",
                "seconds to 95%",
                "final normalised score",
                "env steps / seed",
                "compile / run s",
            ],
            rows,
        )
        lines += [""]
        best = [
            (CONTROL_METHODS[m], _report.median([x for x in c["steps_to_target"] if x is not None]))
            for m, c in entry["methods"].items()
        ]
        reached = [(n, x) for n, x in best if x is not None]
        missed = [n for n, x in best if x is None]
        if reached:
            n, x = min(reached, key=lambda t: t[1])
            lines.append(f"Fewest env steps to 95% (median): {n}, {_thousands(x)}.")
        if missed:
            lines.append(f"No seed reached 95% within its budget: {', '.join(missed)}.")
        short = [
            f"{CONTROL_METHODS[m]} {_f(float(np.mean(normalised(c, entry))), 2)}"
            for m, c in entry["methods"].items()
            if float(np.mean(normalised(c, entry))) < TARGET
        ]
        if short:
            lines.append(f"Final policies below {TARGET} on average: {', '.join(short)}.")
        lines += [""]
    return lines


def plot(record: dict, path: Path) -> None:
    """EVD of each method on each tabular world; training return against env steps for each
    classic-control env and method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tab, ctl = record.get("tabular", {}), record.get("control", {})
    panels = (1 if tab else 0) + len(ctl)
    if not panels:
        return
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4), squeeze=False)
    axes = list(axes[0])
    if tab:
        ax = axes.pop(0)
        width = 0.8 / max(len(tab), 1)
        for k, (kind, entry) in enumerate(tab.items()):
            names = list(entry["methods"])
            means = [float(np.mean(entry["methods"][m]["evd"])) for m in names]
            spread = [float(np.std(entry["methods"][m]["evd"])) for m in names]
            xs = np.arange(len(names)) + k * width
            ax.bar(xs, means, width, yerr=spread, label=kind)
        ax.set_xticks(np.arange(len(names)) + width * (len(tab) - 1) / 2)
        ax.set_xticklabels([TABULAR_METHODS[m].split(" (")[0] for m in names], fontsize=8)
        ax.set_ylabel("EVD under the true reward (lower is better)")
        ax.set_title("tabular worlds")
        ax.legend(fontsize=8)
    for ax, (name, entry) in zip(axes, ctl.items(), strict=True):
        for m, cell in entry["methods"].items():
            pts = [(x, y) for x, y in cell["curve"] if y is not None]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.plot(xs, ys, label=CONTROL_METHODS[m])
        ax.axhline(entry["expert_return"], color="k", ls="--", lw=0.8, label="expert")
        ax.axhline(entry["random_return"], color="gray", ls=":", lw=0.8, label="random")
        ax.set_xscale("log")
        ax.set_title(name)
        ax.set_xlabel("env steps per seed (log)")
        ax.set_ylabel("training return (mean over seeds)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
