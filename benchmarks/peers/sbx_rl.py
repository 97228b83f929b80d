"""Stable-Baselines-Jax (SBX) PPO / SAC trained until a return target, for `benchmarks/rl.py`.

The JAX peer: SBX 0.28 keeps SB3's host-side loop (Gymnasium vector env stepped in Python,
SB3's rollout / replay buffers) and jits the networks' forward passes and each gradient
update. Runs in its own virtualenv (`.venv-sbx`, see `requirements-sbx.txt`; CPU jax, the same
jax / jaxlib / flax / optax versions as irlax's venv); this script never imports irlax.

    .venv-sbx/bin/python benchmarks/peers/sbx_rl.py SPEC.json OUT.json

SPEC is the one `benchmarks/rl.py` writes for `sb3_rl.py` (same keys, same SB3 constructor
arguments, which SBX's PPO and SAC accept under the same names); the mapping below differs
only where SBX's policies take other types: `policy_kwargs.activation` "tanh" | "relu" becomes
`flax.linen.tanh` | `flax.linen.relu`, and PPO's `ortho_init` is passed through (in SBX it
initialises only the policy head orthogonally, with gain 0.01; SB3 also initialises the hidden
layers, gain √2, and the value head, gain 1).

The target and the stopping rule are `sb3_rl.py`'s (its `StopAtTarget` callback, imported: SBX
runs SB3's `learn` loop and calls SB3 callbacks at the same points).

Timing (`time.perf_counter`): `setup_seconds` = building the vector env and the model
(SBX builds its networks and optimisers there: flax `init`, a few small programs compiled);
`learn_seconds` = `model.learn(...)` until it returns. SBX compiles lazily, inside `learn`, the
first time each jitted function meets its shapes (its warm-up: SBX has no separate warm-up
step, and keeps no persistent compilation cache by default, so every fresh process pays it).
That compilation is measured from JAX's own monitoring events: `jit_seconds` (setup and learn
separately) is the sum of every top-level trace, lowering to MLIR and XLA compile
(`/jax/core/compile/*_duration`), `programs` the number of XLA compilations. Importing jax, SBX
and torch is not timed. Within one process the jitted update functions are compiled once: the
later seeds reuse them (as SB3's later seeds reuse torch's warm state), so the 8-seed totals
hold one warm-up.
"""

from __future__ import annotations

import json
import os
import sys
import time

import flax.linen as nn
import jax
import sbx
import stable_baselines3
import torch
from jax import monitoring
from sb3_rl import StopAtTarget  # the same target rule as the SB3 runner
from sbx import PPO, SAC
from stable_baselines3.common.env_util import make_vec_env

ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu}
COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)


class CompileClock:
    """Seconds spent tracing, lowering and compiling, and XLA compilations, since start."""

    def __init__(self):
        self.seconds = 0.0
        self.programs = 0
        monitoring.register_event_duration_secs_listener(self._listen)

    def _listen(self, event: str, duration: float, **_) -> None:
        if event in COMPILE_EVENTS:
            self.seconds += duration
            self.programs += event == COMPILE_EVENTS[-1]

    def read(self) -> tuple[float, int]:
        return self.seconds, self.programs


def run_seed(spec: dict, seed: int, clock: CompileClock) -> dict:
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
    if spec["algo"] == "sac":
        policy_kwargs.pop("ortho_init", None)  # SBX's SAC policy has no such option

    jit0, n0 = clock.read()
    start = time.perf_counter()
    env = make_vec_env(spec["env"], n_envs=spec["n_envs"], seed=seed)
    model = algo("MlpPolicy", env, policy_kwargs=policy_kwargs, seed=seed, verbose=0, **kwargs)
    setup = time.perf_counter() - start
    jit1, n1 = clock.read()
    callback = StopAtTarget(spec["n_envs"], spec["window"], spec["target"])
    start = time.perf_counter()
    callback.start = start
    model.learn(total_timesteps=spec["budget"], callback=callback)
    learn = time.perf_counter() - start
    jit2, n2 = clock.read()
    env.close()
    return {
        "seed": seed,
        "reached": callback.reached_steps is not None,
        "steps": callback.reached_steps,
        "steps_run": int(model.num_timesteps),
        "setup_seconds": setup,
        "learn_seconds": learn,
        "setup_jit_seconds": jit1 - jit0,
        "learn_jit_seconds": jit2 - jit1,
        "setup_programs": n1 - n0,
        "learn_programs": n2 - n1,
        "seconds_at_crossing": callback.reached_seconds,
        "final_mean_return": callback.mean_return(),
        "episodes": callback.episodes,
        "curve": callback.curve[:: max(1, len(callback.curve) // 200)],
    }


def main() -> None:
    spec = json.loads(open(sys.argv[1]).read())
    if jax.config.jax_compilation_cache_dir or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        raise SystemExit("sbx_rl.py measures SBX as it runs by default: no compilation cache")
    torch.set_num_threads(int(spec["threads"]))  # SB3's buffers, which SBX uses, are torch
    clock = CompileClock()
    runs = []
    for seed in spec["seeds"]:
        runs.append(run_seed(spec, seed, clock))
        r = runs[-1]
        print(
            f"    sbx {spec['algo']} seed {seed}: steps {r['steps']} learn "
            f"{r['learn_seconds']:.2f} s (jit {r['setup_jit_seconds'] + r['learn_jit_seconds']:.2f}"
            f" s, {r['setup_programs'] + r['learn_programs']} programs)",
            file=sys.stderr,
            flush=True,
        )
    versions = {
        "sbx": sbx.__version__,
        "jax": jax.__version__,
        "jax_backend": jax.default_backend(),
        "stable_baselines3": stable_baselines3.__version__,
        "torch_threads": torch.get_num_threads(),
    }
    with open(sys.argv[2], "w") as f:
        json.dump({"runs": runs, "versions": versions}, f)


if __name__ == "__main__":
    main()
