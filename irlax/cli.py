"""The `irlax` command."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib
import json
import re
import sys
import time
import typing
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from irlax._files import atomic_write_json, atomic_write_text


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `irlax` command."""
    parser = argparse.ArgumentParser(prog="irlax", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="solve a built-in gridworld with soft value iteration and draw it"
    )
    demo.add_argument("--out", default="results/demo", help="folder for the pictures and summary")
    demo.add_argument("--seed", type=int, default=0, help="picks the lakes of the gridworld")
    demo.add_argument("--height", type=int, default=20)
    demo.add_argument("--width", type=int, default=30)
    demo.add_argument("--temperature", type=float, default=0.2)
    _add_irl_command(commands)
    _add_forecast_command(commands)
    _add_expert_command(commands)
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            return _demo(args)
        if args.command == "irl":
            return _irl(args)
        if args.command == "forecast":
            return _forecast(args)
        if args.command == "expert":
            return _expert(args)
    except ValueError as e:
        print(f"irlax {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 1


IRL_METHODS = ("maxent", "apprenticeship", "mmp", "bc")
WORLDS = ("objectworld", "binaryworld", "gridworld")


def _config_class(method: str) -> type:
    """The `*Config` dataclass of an `irlax.algorithms` module."""
    module = importlib.import_module(f"irlax.algorithms.{method}")
    (cls,) = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and dataclasses.is_dataclass(v) and v.__name__.endswith("Config")
    ]
    return cls


def _field_docs(cls: type) -> dict[str, str]:
    """Field descriptions from the `Attributes:` section of a Google-style docstring."""
    docs, name = {}, None
    lines = (cls.__doc__ or "").split("Attributes:", 1)[-1].splitlines()
    for line in lines:
        match = re.match(r"^\s{8}(\w+): (.*)", line)
        if match:
            name = match.group(1)
            docs[name] = match.group(2)
        elif name and line.startswith(" " * 12):
            docs[name] += " " + line.strip()
    return docs


def _add_config_options(parser, cls: type) -> list[str]:
    """One `--option` per simple field of a config dataclass; returns the field names."""
    hints = typing.get_type_hints(cls)
    docs = _field_docs(cls)
    added = []
    for field in dataclasses.fields(cls):
        kind = hints[field.name]
        flag = "--" + field.name.replace("_", "-")
        help_text = docs.get(field.name, "") + f" (default: {field.default})"
        help_text = help_text.replace("%", "%%")
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, help=help_text)
        elif kind in (int, float, str):
            parser.add_argument(flag, type=kind, help=help_text)
        elif kind == float | None:
            parser.add_argument(flag, type=_float_or_none, help=help_text)
        else:
            continue  # e.g. a Flax module: the command offers --hidden instead
        added.append(field.name)
    return added


def _float_or_none(text: str) -> float | None:
    return None if text.lower() == "none" else float(text)


def _add_irl_command(commands) -> None:
    irl = commands.add_parser(
        "irl",
        help="learn a reward from demos in a benchmark world, evaluate it and draw it",
        description="Learn a reward from demonstrations in a benchmark world, evaluate it "
        "against the hidden true reward and write config, metrics and pictures.",
    )
    methods = irl.add_subparsers(dest="irl_method", required=True)
    for method in IRL_METHODS:
        cls = _config_class(method)
        sub = methods.add_parser(method, help=(cls.__doc__ or "").splitlines()[0])
        world = sub.add_argument_group("world and demonstrations")
        world.add_argument("--world", choices=WORLDS, default="objectworld")
        world.add_argument("--size", type=int, default=32, help="grid side (default: 32)")
        world.add_argument(
            "--features",
            choices=("continuous", "discrete"),
            default="continuous",
            help="objectworld's features (default: continuous)",
        )
        world.add_argument("--demos", type=int, default=64, help="demonstrations (default: 64)")
        world.add_argument(
            "--length", type=int, default=None, help="steps per demo (default: size)"
        )
        world.add_argument("--seed", type=int, default=0, help="world, demos and model seed")
        world.add_argument("--out", default=None, help="results folder (default: results/irl/...)")
        options = sub.add_argument_group(f"{cls.__name__} options")
        fields = _add_config_options(options, cls)
        if method == "maxent":
            options.add_argument(
                "--hidden",
                default=None,
                help="deep MaxEnt: hidden widths of an MLP reward, e.g. 64,64 (default: linear)",
            )
        sub.set_defaults(config_fields=fields)


def _irl_world(args):
    """(mdp, true_reward) of the chosen world."""
    from irlax.envs import binaryworld, gridworld, objectworld

    if args.size < 4:
        raise ValueError(f"--size must be at least 4, got {args.size}")
    key = jax.random.key(args.seed)
    if args.world == "objectworld":
        return objectworld(key, args.size, features=args.features)
    if args.world == "binaryworld":
        return binaryworld(key, args.size)
    n = args.size
    mdp = gridworld(
        n, n, slip=0.1, horizon=None, discount=0.9, goal=(n - 1, n - 1), features="onehot"
    )
    return mdp, jnp.where(mdp.terminal, 0.0, -1.0).astype(mdp.probs.dtype)  # hurry to the goal


def _irl(args) -> int:
    from tqdm import tqdm

    from irlax import metrics, plots
    from irlax.envs import noisy_expert_demos
    from irlax.nets import MLPReward

    if args.demos < 1:
        raise ValueError(f"--demos must be at least 1, got {args.demos}")
    length = args.size if args.length is None else args.length
    if length < 1:
        raise ValueError(f"--length must be at least 1, got {length}")
    method = importlib.import_module(f"irlax.algorithms.{args.irl_method}")
    options = {k: getattr(args, k) for k in args.config_fields if getattr(args, k) is not None}
    if getattr(args, "hidden", None):
        try:
            hidden = tuple(int(w) for w in args.hidden.split(","))
        except ValueError:
            raise ValueError(f"--hidden must be widths like 64,64, got {args.hidden!r}") from None
        options["reward_model"] = MLPReward(hidden=hidden)
    config = _config_class(args.irl_method)(**options)
    out = Path(args.out or f"results/irl/{args.irl_method}-{args.world}")
    out.mkdir(parents=True, exist_ok=True)

    mdp, true_reward = _irl_world(args)
    key_demos, key_test, key_fit = jax.random.split(jax.random.key(args.seed), 3)
    demos = noisy_expert_demos(mdp, true_reward, args.demos, key_demos, length=length)
    held_out = noisy_expert_demos(mdp, true_reward, args.demos, key_test, length=length)

    total = getattr(config, "steps", None) or getattr(config, "max_iterations", None)
    start = time.perf_counter()
    with tqdm(total=total, desc=f"{args.irl_method} on {args.world}", unit="step") as bar:
        kwargs = {"progress": lambda _: bar.update(1)} if args.irl_method == "maxent" else {}
        result = method.fit(mdp, demos, key=key_fit, config=config, **kwargs)
        jax.block_until_ready(result.reward)
        bar.update(bar.total - bar.n if bar.total else 0)
    seconds = time.perf_counter() - start

    is_reward = args.irl_method != "bc"  # BC's "reward" is its log-policy
    evd = (
        metrics.expected_value_difference(mdp, true_reward, result.reward)
        if is_reward
        else metrics.expected_value_difference(mdp, true_reward, log_policy=result.plan.log_policy)
    )
    try:
        correlation = float(metrics.reward_correlation(mdp, true_reward, result.reward))
    except ValueError:  # a constant learned reward has no correlation
        correlation = None
    report = {
        "method": args.irl_method,
        "world": args.world,
        "states": mdp.n_states,
        "demos": args.demos,
        "length": length,
        "expected_value_difference": float(evd),
        "expected_value_difference_of_uniform_policy": float(
            metrics.expected_value_difference(
                mdp,
                true_reward,
                log_policy=jnp.full(result.plan.log_policy.shape[-2:], -np.log(mdp.n_actions)),
            )
        ),
        "reward_correlation_epic": correlation,
        "held_out_nll_per_step": float(
            metrics.demo_nll(mdp, result.plan.log_policy, held_out, per_step=True)
        ),
        "feature_expectation_gap": float(
            metrics.feature_expectation_gap(mdp, demos, result.plan.log_policy)
        ),
        "seconds_fit_with_compilation": seconds,
    }
    config_record = {
        "world": {k: getattr(args, k) for k in ("world", "size", "features", "demos", "seed")},
        "length": length,
        "method": args.irl_method,
        "config": {f.name: _jsonable(getattr(config, f.name)) for f in dataclasses.fields(config)},
    }
    atomic_write_json(out / "config.json", config_record)
    atomic_write_json(out / "metrics.json", report)
    _irl_pictures(plots, mdp, args, true_reward, result, out)
    print(json.dumps(report, indent=2))
    print(f"results: {out}/ (config.json, metrics.json, reward.png, learning_curve.png)")
    return 0


def _jsonable(value):
    return value if isinstance(value, (bool, int, float, str, type(None))) else repr(value)


def _irl_pictures(plots, mdp, args, true_reward, result, out: Path) -> None:
    n = args.size
    learned = np.asarray(result.reward)
    learned = learned.mean(axis=1) if learned.ndim == 2 else learned
    fig, axes = plots.plt.subplots(1, 2, figsize=(10, 4.2))
    plots.grid_heatmap(axes[0], np.asarray(true_reward).reshape(n, n), "true reward")
    title = (
        "learned log-policy (mean over actions)" if args.irl_method == "bc" else "learned reward"
    )
    plots.grid_heatmap(axes[1], learned.reshape(n, n), title)
    fig.suptitle(f"{args.irl_method} on {args.world} {n}×{n}, {args.demos} demos")
    plots.save(fig, out / "reward.png")

    curves = {k: np.asarray(v) for k, v in result.history.items() if np.ndim(v) == 1}
    fig, axes = plots.plt.subplots(1, max(len(curves), 1), figsize=(4.2 * max(len(curves), 1), 3.4))
    for ax, (name, values) in zip(np.atleast_1d(axes), curves.items(), strict=False):
        values = values[np.isfinite(values)]
        ax.plot(np.arange(len(values)), values)
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("step")
        if values.size and np.all(values > 0):
            ax.set_yscale("log")
    fig.suptitle(f"{args.irl_method}: learning curve")
    plots.save(fig, out / "learning_curve.png")


def _demo(args) -> int:
    from irlax import plots
    from irlax.envs import gridworld
    from irlax.mdp import occupancy, sample_trajectories, soft_value_iteration
    from irlax.mdp.core import expected_next, push_forward

    if args.height < 4 or args.width < 4:
        raise ValueError(f"the grid must be at least 4x4, got {args.height}x{args.width}")
    if not args.temperature > 0:
        raise ValueError(f"--temperature must be > 0, got {args.temperature}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    h, w = args.height, args.width
    horizon = 3 * (h + w)
    goal = (h // 2, w - 2)
    mdp = gridworld(h, w, slip=0.1, horizon=horizon, goal=goal, start=(h // 2, 1))

    # Lakes cost 1 per step spent in them, every step costs 0.1, entering the goal pays 5.
    rng = np.random.default_rng(args.seed)
    rows, cols = np.mgrid[:h, :w]
    lakes = np.zeros((h, w), bool)
    for _ in range(max(3, h * w // 120)):
        r, c = rng.integers(0, h), rng.integers(3, w - 3)
        lakes |= (rows - r) ** 2 / rng.uniform(2, 9) + (cols - c) ** 2 / rng.uniform(2, 9) < 1
    lakes[goal] = False
    state_reward = jnp.asarray(-0.1 - 1.0 * lakes.ravel())
    bonus = jnp.zeros(h * w).at[goal[0] * w + goal[1]].set(5.0)
    reward = state_reward[:, None] + expected_next(mdp, bonus)  # paid by the entering action

    start = time.perf_counter()
    plan = soft_value_iteration(mdp, reward, temperature=args.temperature)
    visits = occupancy(mdp, plan.log_policy)
    jax.block_until_ready(visits)
    seconds = time.perf_counter() - start
    demos = sample_trajectories(mdp, plan.log_policy, 12, jax.random.key(args.seed))

    d = np.asarray(visits)
    state_visits = d.sum(axis=(0, 2)).reshape(h, w)
    summary = {
        "grid": [h, w],
        "states": mdp.n_states,
        "horizon": horizon,
        "temperature": args.temperature,
        "soft_value_at_start": float(plan.v[0, mdp.init.argmax()]),
        "expected_reward": float(np.sum(d * np.asarray(reward))),
        "probability_goal_reached": float(
            1.0 - jnp.sum(jnp.where(mdp.terminal, 0.0, push_forward(mdp, visits[-1])))
        ),
        "expected_episode_length": float(d.sum()),
        "expected_steps_in_lakes": float(state_visits[lakes].sum()),
        "seconds_soft_vi_and_occupancy": seconds,
    }

    fig, axes = plots.plt.subplots(1, 2, figsize=(13, 4.5))
    plots.grid_heatmap(
        axes[0], np.asarray(plan.v[0]).reshape(h, w), "soft value V₀(s)", label="value"
    )
    axes[0].contour(lakes, levels=[0.5], colors="white", linewidths=1)
    plots.grid_heatmap(
        axes[1], state_visits, "expected visits per episode", cmap="magma", log=True, label="visits"
    )
    plots.draw_paths(axes[1], demos.observations, demos.lengths, w, color="cyan", alpha=0.6)
    for ax in axes:
        ax.plot(goal[1], goal[0], "*", color="gold", markersize=14)
    fig.suptitle(
        f"Soft value iteration on a {h}×{w} gridworld with slip 0.1 (τ = {args.temperature}): "
        "lakes cost 1 per step, every step 0.1, the goal ★ pays 5"
    )
    plots.save(fig, out / "gridworld.png")

    text = [
        f"irlax demo: soft value iteration on a {h}x{w} gridworld ({mdp.n_states} states, "
        f"horizon {horizon}, slip 0.1, temperature {args.temperature})",
        f"  soft value at the start:          {summary['soft_value_at_start']:.3f}",
        f"  expected reward per episode:      {summary['expected_reward']:.3f}",
        f"  probability of reaching the goal: {summary['probability_goal_reached']:.3f}",
        f"  expected episode length:          {summary['expected_episode_length']:.1f} steps",
        f"  expected steps spent in lakes:    {summary['expected_steps_in_lakes']:.3f}",
        f"  soft VI + occupancy took {seconds:.3f} s (including compilation)",
    ]
    atomic_write_text(out / "summary.txt", "\n".join(text) + "\n")
    atomic_write_json(out / "summary.json", summary)
    print("\n".join(text))
    print(f"pictures: {out / 'gridworld.png'}\nsummary:  {out / 'summary.txt'}")
    return 0


def _add_forecast_command(commands) -> None:
    from irlax.forecast import ForecastConfig

    sub = commands.add_parser(
        "forecast",
        help="learn where walkers go on a semantic map and forecast held-out tracks (Kitani 12)",
        description="Activity forecasting (Kitani et al. 2012): learn per-class walking costs "
        "from tracks by goal-conditioned MaxEnt IRL, forecast held-out tracks from their first "
        "half, and compare with baselines. Writes scene.png, cost.png, forecast.png, "
        "destinations.png, learning_curve.png, metrics.json and report.txt.",
    )
    data = sub.add_argument_group("data (default: the built-in street scene)")
    data.add_argument(
        "--scene",
        choices=("street", "harbor"),
        default="street",
        help="street: generated street scene with hidden costs; harbor: New York Harbor AIS "
        "tracks, December 2020 (train days 1-5, test days 6-7)",
    )
    data.add_argument(
        "--size", type=int, default=64, help="street scene side in cells (default: 64)"
    )
    data.add_argument("--goals", type=int, default=None, help="street scene destinations")
    data.add_argument("--n-train", type=int, default=200, help="street scene train tracks")
    data.add_argument("--n-test", type=int, default=50, help="street scene test tracks")
    data.add_argument("--labels", type=Path, help="your map: a PNG of class colours")
    data.add_argument("--classes", type=Path, help="your class list (JSON; see irlax.forecast.io)")
    data.add_argument("--tracks", type=Path, help="your tracks: CSV of track_id,t,x,y (pixels)")
    data.add_argument(
        "--radius",
        type=float,
        default=2.0,
        help="radius in cells of destinations found from where tracks end (harbor, your data)",
    )
    run = sub.add_argument_group("fit and evaluation")
    run.add_argument("--seed", type=int, default=0, help="scene, tracks and samples seed")
    run.add_argument("--observe", type=float, default=0.5, help="fraction of a test track observed")
    run.add_argument("--samples", type=int, default=16, help="sampled continuations per track")
    _add_config_options(run, ForecastConfig)
    sub.add_argument("--out", type=Path, default=Path("results/forecast"), help="results folder")


def _forecast(args) -> int:
    from tqdm import tqdm

    from irlax.forecast import ForecastConfig, experiment

    own = [args.labels, args.classes, args.tracks]
    if any(x is not None for x in own):
        if not all(x is not None for x in own):
            raise ValueError("your own data needs all three of --labels, --classes and --tracks")
        data = experiment.files(args.labels, args.classes, args.tracks, radius=args.radius)
    elif args.scene == "harbor":
        data = experiment.harbor(radius=args.radius)
    else:
        data = experiment.street(args.seed, args.size, args.goals, args.n_train, args.n_test)
    names = [f.name for f in dataclasses.fields(ForecastConfig)]
    config = ForecastConfig(**{n: getattr(args, n) for n in names if getattr(args, n) is not None})
    print(
        f"irlax forecast: {data.name}: {data.scene.shape[0]}x{data.scene.shape[1]} cells, "
        f"{len(data.goals)} destinations, {len(data.train)} train / {len(data.test)} test tracks"
    )
    with tqdm(total=config.steps, desc="fitting costs (L-BFGS)", unit="it", leave=False) as bar:

        def progress(i, loss):
            bar.update(1)
            bar.set_postfix(nll=f"{float(loss):.4f}")

        outcome = experiment.run(
            data,
            seed=args.seed,
            config=config,
            progress=progress,
            n_samples=args.samples,
            observe=args.observe,
        )
    written = experiment.write(outcome, args.out)
    print((args.out / "report.txt").read_text(), end="")
    print(f"pictures and metrics in {args.out}/: " + ", ".join(p.name for p in written))
    return 0


EXPERT_ALGOS = {"ppo": "PPOConfig", "sac": "SACConfig"}


def _add_expert_command(commands) -> None:
    sub = commands.add_parser(
        "expert",
        help="train an expert policy with PPO or SAC and record demonstrations",
        description="Train an expert on an environment (irlax.envs.make: gymnax classic control "
        "natively, or gymnasium:ID), save its parameters and demos.npz, and print its return. "
        "The run checkpoints atomically to OUT/checkpoint.msgpack; run the same command again "
        "to resume an interrupted run.",
    )
    sub.add_argument("--env", required=True, help="e.g. CartPole-v1, Pendulum-v1, gymnasium:ID")
    sub.add_argument("--algo", choices=sorted(EXPERT_ALGOS), required=True)
    sub.add_argument("--steps", type=int, required=True, help="environment steps to train for")
    sub.add_argument("--out", type=Path, required=True, help="folder for params, demos, metrics")
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--episodes", type=int, default=20, help="demonstration episodes to record")
    sub.add_argument(
        "--stochastic",
        action="store_true",
        help="record demos with the sampling policy (default: its mode, deterministic)",
    )
    sub.add_argument("--chunk", type=int, default=None, help="updates between checkpoints")
    added = set()
    for algo, name in EXPERT_ALGOS.items():
        cls = getattr(importlib.import_module(f"irlax.rl.{algo}"), name)
        group = sub.add_argument_group(f"{algo} options (see irlax.rl.{algo}.{name})")
        for field in _config_option_names(cls):
            if field not in added:  # options both algorithms have are listed once
                _add_field_option(group, cls, field)
                added.add(field)


def _config_option_names(cls: type) -> list[str]:
    """Fields of a config that `irlax expert` offers as options (simple types, not the budget)."""
    hints = typing.get_type_hints(cls)
    return [
        f.name
        for f in dataclasses.fields(cls)
        if f.name != "total_steps" and hints[f.name] in (bool, int, float, str)
    ]


def _expert_option_names() -> set[str]:
    names = set()
    for algo, name in EXPERT_ALGOS.items():
        names |= set(
            _config_option_names(getattr(importlib.import_module(f"irlax.rl.{algo}"), name))
        )
    return names


def _add_field_option(parser, cls: type, name: str) -> None:
    """One `--option` for a simple (int, float, str, bool) field of a config dataclass."""
    kind = typing.get_type_hints(cls)[name]
    flag = "--" + name.replace("_", "-")
    help_text = _field_docs(cls).get(name, "").replace("%", "%%")
    if kind is bool:
        parser.add_argument(flag, action=argparse.BooleanOptionalAction, help=help_text)
    else:
        parser.add_argument(flag, type=kind, help=help_text)


def _expert(args) -> int:
    from tqdm import tqdm

    from irlax.checkpoint import save_checkpoint
    from irlax.data import episode_returns, rollout
    from irlax.envs import make
    from irlax.rl.run import run

    module = importlib.import_module(f"irlax.rl.{args.algo}")
    cls = getattr(module, EXPERT_ALGOS[args.algo])
    if args.steps < 1 or args.episodes < 1:
        raise ValueError(f"--steps and --episodes must be >= 1, got {args.steps}, {args.episodes}")
    names = {f.name for f in dataclasses.fields(cls)}
    given = {n: getattr(args, n) for n in _expert_option_names() if getattr(args, n) is not None}
    foreign = sorted(set(given) - names)
    if foreign:
        flags = ", ".join("--" + n.replace("_", "-") for n in foreign)
        raise ValueError(f"{flags} do(es) not apply to --algo {args.algo}")
    options = given
    config = cls(**{**options, "total_steps": args.steps})
    env, env_params = make(args.env)
    trainer = module.make_trainer(config, env, env_params)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    fingerprint = {"env": args.env, "algo": args.algo, "seed": args.seed, "config": repr(config)}
    chunk = args.chunk or max(1, trainer.n_updates // 20)
    print(
        f"irlax expert: {args.algo} on {args.env}, {args.steps} steps ({trainer.n_updates} updates)"
    )
    start = time.perf_counter()
    with tqdm(total=trainer.n_updates, desc=f"training {args.algo}", unit="update") as bar:

        def progress(done, last):
            bar.update(done - bar.n)
            bar.set_postfix(ret=f"{float(last['episode_return']):.1f}")

        result = run(
            trainer,
            jax.random.key(args.seed),
            checkpoint=out / "checkpoint.msgpack",
            chunk=chunk,
            fingerprint=fingerprint,
            progress=progress,
        )
    train_s = time.perf_counter() - start
    save_checkpoint(out / "params.msgpack", result.params, {"env": args.env, "algo": args.algo})
    policy = (
        result.policy if args.stochastic else functools.partial(result.policy, deterministic=True)
    )
    demos = rollout(env, policy, args.episodes, jax.random.key(args.seed + 1), env_params)
    demos.save(out / "demos.npz")
    returns = np.asarray(episode_returns(demos))
    curve = np.asarray(result.metrics["episode_return"])
    summary = {
        "env": args.env,
        "algo": args.algo,
        "steps": args.steps,
        "train_seconds": train_s,
        "demo_episodes": args.episodes,
        "demo_return_mean": float(returns.mean()),
        "demo_return_std": float(returns.std()),
        "final_training_return": float(curve[np.isfinite(curve)][-1])
        if np.isfinite(curve).any()
        else None,
        "config": repr(config),
    }
    atomic_write_json(out / "summary.json", summary)
    print(
        f"expert return over {args.episodes} demo episodes: "
        f"{returns.mean():.1f} ± {returns.std():.1f}"
    )
    print(f"params: {out / 'params.msgpack'}\ndemos:  {out / 'demos.npz'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
