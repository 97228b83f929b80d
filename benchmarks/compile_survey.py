"""How large each trainer's and fitter's compiled program is, and what it costs to compile.

For every forward-RL trainer (PPO, SAC, soft Q, soft PG), the tabular MaxEnt IRL fit and
every deep imitation / IRL method (BC, DAgger, IQ-Learn, GAIL, AIRL, sample-based MaxEnt,
GCL, MAIL), on a tiny config (compile time is what is measured, not learning), one seed:

- the lowered program (`jax.jit(train).lower(...)`): its StableHLO text in characters, its
  operations (SSA assignments) and the bytes of array constants baked into it;
- trace-and-lower, compile and run seconds (run: the best of two calls of the compiled
  program);
- for the methods that learn from demonstrations, whether a second demo set of the same
  shape (other episodes of the same expert) lowers to the *same* program: the condition
  for JAX's persistent compilation cache (`irlax.compilation_cache`) to load it instead of
  compiling it again. A deep method whose `train` takes the demos as its second argument
  (`train(key, expert)`, `expert` from `irlax.algorithms._deep.expert_transitions`) is
  lowered that way.

    nice -n 10 .venv/bin/python benchmarks/compile_survey.py [--label after] [--only gail,bc]

merges its rows under `--label` into benchmarks/results/compile_survey.json (so a run
before a change and one after sit side by side) and renders compile_survey.md
(`--render-only` re-renders).
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
import time

import _report
import jax
import jax.numpy as jnp
from _report import source_state, sources_line

import irlax
from irlax.algorithms import (
    airl,
    bc,
    dagger,
    gail,
    gcl,
    iqlearn,
    mail,
    maxent,
    maxent_sampled,
)
from irlax.algorithms._deep import expert_transitions
from irlax.data.rollout import rollout
from irlax.envs import KeyDoor, gridworld, make
from irlax.envs.key_door import expert as key_door_expert
from irlax.rl import ppo, sac, soft_pg, soft_q

# A linear controller that balances CartPole-v1 for all 500 steps (tests/algorithms/deep.py).
_CARTPOLE_EXPERT = jnp.asarray([0.1, 0.5, 10.0, 2.0])


def cartpole_expert(obs, key=None):
    return (jnp.dot(obs, _CARTPOLE_EXPERT.astype(obs.dtype)) > 0).astype(jnp.int32)


def cartpole_demos(seed: int, n: int = 2):
    env, params = make("CartPole-v1")
    return env, params, rollout(env, cartpole_expert, n, jax.random.key(seed), params)


def key_door_demos(seed: int, n: int = 20):
    # KeyDoor's episodes vary in length; the keys 0 and 3 give 150 transitions each (the
    # demos' shape, which fixes the program).
    env = KeyDoor()
    key = jax.random.key((0, 3)[seed])
    return env, env.default_params, rollout(env, key_door_expert, n, key)


TINY_PPO = ppo.PPOConfig(
    total_steps=2 * 4 * 16, num_envs=2, rollout_length=16, update_epochs=2, hidden=(16,)
)
TINY_SAC = sac.SACConfig(
    total_steps=32, buffer_size=64, batch_size=8, learning_starts=8, hidden=(16,)
)
TINY_SOFT_Q = soft_q.SoftQConfig(
    total_steps=32, num_envs=2, buffer_size=64, batch_size=8, learning_starts=8, hidden=(16,)
)
TINY_SOFT_PG = soft_pg.SoftPGConfig(total_steps=64, num_envs=2, rollout_length=16, hidden=(16,))


def rl_case(module, config, env_name):
    def build(seed):
        env, params = make(env_name)
        return module.make_train(config, env, params), ()

    return build


def deep_case(make_train, config, demos_of, *extra):
    def build(seed):
        env, params, demos = demos_of(seed)
        train = make_train(config, env, params, demos, *extra)
        takes_demos = "expert" in inspect.signature(train).parameters
        args = (expert_transitions(env, params, demos),) if takes_demos else ()
        return train, args

    return build


def maxent_case(seed):
    """MaxEnt IRL's fit on a 5x5 gridworld from 20 uniform-policy demos, inside one jit."""
    mdp = gridworld(5, 5, slip=0.1, horizon=8, features="coordinates")
    uniform = jnp.full((mdp.n_states, mdp.n_actions), -jnp.log(mdp.n_actions))
    demos = irlax.mdp.sample_trajectories(mdp, uniform, 20, jax.random.key(seed))

    def train(key):
        return maxent.fit(mdp, demos, key=key, steps=20).reward

    return train, ()


CASES = {
    "ppo": (rl_case(ppo, TINY_PPO, "CartPole-v1"), False),
    "sac": (rl_case(sac, TINY_SAC, "Pendulum-v1"), False),
    "soft_q": (rl_case(soft_q, TINY_SOFT_Q, "CartPole-v1"), False),
    "soft_pg": (rl_case(soft_pg, TINY_SOFT_PG, "CartPole-v1"), False),
    "maxent": (maxent_case, True),
    "bc": (
        deep_case(
            bc.make_train,
            bc.NeuralBCConfig(epochs=2, hidden=(16,), eval_episodes=1, eval_max_steps=16),
            cartpole_demos,
        ),
        True,
    ),
    "dagger": (
        deep_case(
            dagger.make_train,
            dagger.DAggerConfig(
                bc=bc.NeuralBCConfig(epochs=1, hidden=(16,), eval_episodes=1, eval_max_steps=16),
                rounds=2,
                num_envs=2,
                rollout_length=8,
            ),
            cartpole_demos,
            cartpole_expert,
        ),
        True,
    ),
    "iqlearn": (
        deep_case(
            iqlearn.make_train,
            iqlearn.IQLearnConfig(
                updates=4,
                hidden=(16,),
                batch_size=16,
                eval_every=2,
                eval_episodes=1,
                eval_max_steps=16,
            ),
            cartpole_demos,
        ),
        True,
    ),
    "gail": (
        deep_case(
            gail.make_train,
            gail.GAILConfig(generator=TINY_PPO, discriminator_hidden=(16,)),
            cartpole_demos,
        ),
        True,
    ),
    "airl": (
        deep_case(
            airl.make_train,
            airl.AIRLConfig(generator=TINY_PPO, discriminator_hidden=(16,)),
            cartpole_demos,
        ),
        True,
    ),
    "maxent_sampled": (
        deep_case(
            maxent_sampled.make_train,
            maxent_sampled.MaxEntSampledConfig(
                generator=TINY_SOFT_Q,
                inner_updates=2,
                samples=2,
                reward_hidden=(16,),
            ),
            cartpole_demos,
        ),
        True,
    ),
    "gcl": (
        deep_case(
            gcl.make_train,
            gcl.GCLConfig(
                generator=TINY_PPO,
                generator_updates=1,
                reward_hidden=(16,),
                background_trajectories=2,
                background_batches=2,
                horizon=16,
                demo_fit_steps=10,
                demo_fit_hidden=(16,),
            ),
            cartpole_demos,
        ),
        True,
    ),
    "mail": (
        deep_case(
            mail.make_train,
            mail.MAILConfig(
                total_steps=64,
                num_envs=2,
                buffer_size=64,
                batch_size=8,
                expert_batch_size=8,
                learning_starts=16,
                target_period=4,
                epsilon_decay_steps=32,
                hidden=(16,),
            ),
            key_door_demos,
        ),
        True,
    ),
}

_CONSTANT = re.compile(r'dense<"0x([0-9A-Fa-f]+)">')


def program_stats(text: str) -> dict:
    """Characters, operations (SSA assignments) and bytes of baked array constants."""
    return {
        "chars": len(text),
        "ops": sum(1 for line in text.splitlines() if re.match(r"\s*%\S+ = ", line)),
        "constant_bytes": sum(len(m) // 2 for m in _CONSTANT.findall(text)),
    }


def measure(name: str, build, uses_demos: bool) -> dict:
    with jax.enable_x64(False):
        train, args = build(0)
        key = jax.random.key(0)
        start = time.perf_counter()
        lowered = jax.jit(train).lower(key, *args)
        lower_s = time.perf_counter() - start
        text = lowered.as_text()
        start = time.perf_counter()
        compiled = lowered.compile()
        compile_s = time.perf_counter() - start
        runs = []
        for _ in range(2):
            start = time.perf_counter()
            jax.block_until_ready(compiled(key, *args))
            runs.append(time.perf_counter() - start)
        row = {
            "method": name,
            **program_stats(text),
            "lower_seconds": lower_s,
            "compile_seconds": compile_s,
            "run_seconds": min(runs),
            "demos_as_argument": bool(args),
        }
        if uses_demos:
            other, other_args = build(1)
            other_text = jax.jit(other).lower(key, *other_args).as_text()
            row["same_program_new_demos"] = other_text == text
    print(
        f"{name}: {row['chars']} chars, {row['ops']} ops, {row['constant_bytes']} B constants, "
        f"compile {compile_s:.2f} s, run {row['run_seconds']:.3f} s"
        + (f", same program for new demos: {row['same_program_new_demos']}" if uses_demos else "")
    )
    return row


SCALING_EPISODES = (2, 40)
"""Demo sets of the scaling measurement: CartPole episodes of 500 steps."""


def scaling() -> list[dict]:
    """Neural BC's program with the demos baked in (`train(key)`, as every deep method did)
    and as data (`train(key, expert)`), for a small and a large demo set: size and seconds."""
    rows = []
    config = bc.NeuralBCConfig(epochs=2, hidden=(16,), eval_episodes=0)
    with jax.enable_x64(False):
        key = jax.random.key(0)
        for n in SCALING_EPISODES:
            env, params, demos = cartpole_demos(0, n)
            train = bc.make_train(config, env, params, demos)
            expert = expert_transitions(env, params, demos)
            row = {"episodes": n, "transitions": int(expert.size)}
            for how, args in (("baked", ()), ("data", (expert,))):
                start = time.perf_counter()
                lowered = jax.jit(train).lower(key, *args)
                lower_s = time.perf_counter() - start
                start = time.perf_counter()
                lowered.compile()
                row[how] = {
                    **program_stats(lowered.as_text()),
                    "lower_seconds": lower_s,
                    "compile_seconds": time.perf_counter() - start,
                }
            print(f"scaling, {n} episodes: {row}")
            rows.append(row)
    return rows


def main(argv=None) -> None:
    if _report.render_only_main("compile_survey", render, argv):
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--label", default="before", help="the column these rows go under")
    parser.add_argument("--only", default="", help="comma-separated methods (default: all)")
    parser.add_argument(
        "--scaling", action="store_true", help="also BC's program for 2 and 40 episodes"
    )
    args = parser.parse_args(argv)
    names = [n for n in CASES if not args.only or n in args.only.split(",")]
    load_before, source_before = os.getloadavg()[0], source_state()
    start = time.perf_counter()
    rows = [measure(name, *CASES[name]) for name in names]
    out = _report.results_path("compile_survey")
    try:
        record = _report.load(out)
    except (OSError, ValueError):
        record = {"benchmark": "compile_survey", "runs": {}}
    previous = record["runs"].get(args.label, {}).get("rows", [])
    merged = {r["method"]: r for r in previous}
    merged.update({r["method"]: r for r in rows})
    if args.scaling:
        record["scaling"] = scaling()
    record["runs"][args.label] = {
        "rows": [merged[n] for n in CASES if n in merged],
        "machine": _report.machine(load_before, os.getloadavg()[0], time.perf_counter() - start),
        "sources": sources_line((source_before, source_state())),
        "jax": jax.__version__,
    }
    _report.save(record, render, out)
    print(f"wrote {out}, {out.with_suffix('.md')}")


def render(record: dict) -> str:
    lines = [
        "# Compile survey: program size, compile and run time of every trainer and fitter",
        "",
        "Each method on a tiny config, one seed, float32: `jax.jit(train).lower(key[, "
        "expert])`; *chars* and *ops* of its StableHLO text, *const KB* the array constants "
        "baked into it, compile and run seconds (run: best of two calls). *New demos, same "
        "program*: whether another demo set of the same shape lowers to the identical program "
        "(what JAX's persistent cache needs to load it instead of compiling).",
        "",
    ]
    for label, run in record["runs"].items():
        m = run["machine"]
        lines += [
            f"## {label}",
            "",
            f"Machine: {m['cpu']}, {m['cores']} cores, load average {m['load_before']:.1f} "
            f"before and {m['load_after']:.1f} after ({m['minutes']:.1f} min); JAX "
            f"{run['jax']}. {run['sources']}",
            "",
        ]
        rows = []
        for r in run["rows"]:
            same = r.get("same_program_new_demos")
            rows.append(
                [
                    r["method"],
                    str(r["chars"]),
                    str(r["ops"]),
                    _report.fixed(r["constant_bytes"] / 1024, 1),
                    _report.fixed(r["lower_seconds"], 2),
                    _report.fixed(r["compile_seconds"], 2),
                    _report.fixed(r["run_seconds"], 3),
                    "—" if same is None else ("yes" if same else "**no**"),
                ]
            )
        lines += _report.table(
            [
                "method",
                "chars",
                "ops",
                "const KB",
                "lower s",
                "compile s",
                "run s",
                "new demos, same program",
            ],
            rows,
        )
        lines.append("")
    labels = list(record["runs"])
    if len(labels) >= 2:
        first, last = record["runs"][labels[0]], record["runs"][labels[-1]]
        before = {r["method"]: r for r in first["rows"]}
        lines += [f"## {labels[0]} → {labels[-1]}", ""]
        rows = []
        for r in last["rows"]:
            b = before.get(r["method"])
            if b is None:
                continue
            rows.append(
                [
                    r["method"],
                    _report.ratio(b["chars"] / r["chars"]),
                    _report.fixed(b["constant_bytes"] / 1024, 1)
                    + " → "
                    + _report.fixed(r["constant_bytes"] / 1024, 1),
                    _report.fixed(b["compile_seconds"], 2)
                    + " → "
                    + _report.fixed(r["compile_seconds"], 2),
                    _report.fixed(b["run_seconds"], 3) + " → " + _report.fixed(r["run_seconds"], 3),
                ]
            )
        lines += _report.table(
            ["method", "program smaller by", "const KB", "compile s", "run s"], rows
        )
        lines.append("")

        def reuse(run):
            demo_rows = [r for r in run["rows"] if "same_program_new_demos" in r]
            same = sum(r["same_program_new_demos"] for r in demo_rows)
            kb = sum(r["constant_bytes"] for r in demo_rows) / 1024
            return f"{same} of {len(demo_rows)}", kb

        (same_before, kb_before), (same_after, kb_after) = reuse(first), reuse(last)
        lines += [
            f"Methods learning from demos whose program another demo set of the same shape "
            f"reuses: {same_before} {labels[0]}, {same_after} {labels[-1]}; array constants "
            f"baked into their programs: {kb_before:.1f} KB {labels[0]}, {kb_after:.1f} KB "
            f"{labels[-1]}.",
            "",
        ]
    if record.get("scaling"):
        lines += [
            "## Baked in or data, as the demos grow",
            "",
            "Neural BC (2 epochs, no evaluation) on CartPole episodes of 500 steps: the program "
            "with the demos baked in (`train(key)`, what every deep method compiled before) and "
            "with them as data (`train(key, expert)`).",
            "",
        ]
        rows = []
        for r in record["scaling"]:
            for how in ("baked", "data"):
                m = r[how]
                rows.append(
                    [
                        str(r["episodes"]),
                        str(r["transitions"]),
                        how,
                        str(m["chars"]),
                        _report.fixed(m["constant_bytes"] / 1024, 1),
                        _report.fixed(m["lower_seconds"], 2),
                        _report.fixed(m["compile_seconds"], 2),
                    ]
                )
        lines += _report.table(
            ["episodes", "transitions", "demos", "chars", "const KB", "lower s", "compile s"],
            rows,
        )
        lines.append("")
    lines += record.get("notes", [])
    return "\n".join(lines)


if __name__ == "__main__":
    main()
