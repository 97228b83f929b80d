"""The `irlax` command's subcommands: their options, and what each one runs (`irlax.cli` parses).

Every option of every subcommand is a field of a dataclass: the method's config (`MaxEntConfig`,
`PPOConfig`, `ForecastConfig`, ...) or one of the small option classes below (what world, which
files, where to write). `irlax._cli_options` turns each field into one `--option` documented by
the class docstring's `Attributes:` entry; this module parses, calls the library, and prints.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import hashlib
import inspect
import io
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from irlax import demo
from irlax._cli_options import add_options, given
from irlax._files import atomic_write_json
from irlax.algorithms import (
    airl,
    apprenticeship,
    bc,
    dagger,
    gail,
    gcl,
    iqlearn,
    mail,
    maxent,
    maxent_sampled,
    mmp,
)
from irlax.cli import COMMANDS, UsageError, top_parser
from irlax.config import require_int, require_real
from irlax.forecast import ForecastConfig
from irlax.forecast.street import MIN_SIZE
from irlax.rl import ppo, sac

# Subcommand: (config class, entry point, whether the entry point learns a reward; behaviour
# cloning's `reward` is a log-policy, so it is scored and drawn as a policy).
IRL_METHODS = {
    "maxent": (maxent.MaxEntConfig, maxent.fit, True),
    "apprenticeship": (apprenticeship.ApprenticeshipConfig, apprenticeship.fit, True),
    "mmp": (mmp.MMPConfig, mmp.fit, True),
    "bc": (bc.BCConfig, bc.fit, False),
}
# Subcommand: (config class, trainer factory).
EXPERTS = {
    "ppo": (ppo.PPOConfig, ppo.make_trainer),
    "sac": (sac.SACConfig, sac.make_trainer),
}


@dataclasses.dataclass(frozen=True)
class Imitator:
    """How `irlax imitate METHOD` runs a deep method.

    Attributes:
        config: its config class.
        make_trainer: `make_trainer(config, env, env_params, demos) -> Trainer` (and
            `expert=` for a method that asks an expert).
        shown: progress-bar label: metric, shown for each chunk's last update.
        nested: the config field holding a nested config (the generator's, DAgger's BC), whose
            options are those of its default's class, beside the method's own; None for none.
        skip: config fields that are not options (networks given as Flax modules).
        asks_expert: the method queries an expert policy (`--expert`, a saved policy).
    """

    config: type
    make_trainer: Callable
    shown: dict
    nested: str | None = None
    skip: tuple[str, ...] = ()
    asks_expert: bool = False

    @property
    def nested_class(self) -> type | None:
        """The class of the nested config's default, None without one."""
        return None if self.nested is None else type(getattr(self.config(), self.nested))


@dataclasses.dataclass(frozen=True)
class ExpertPolicy:
    """The expert a method asks for actions (DAgger).

    Attributes:
        expert: a saved policy for the env: the params.msgpack `irlax expert` writes (or
            `irlax.rl.run.save_policy`).
    """

    expert: Path


_RETURN = {"ret": "episode_return"}
_ADVERSARIAL = {**_RETURN, "disc": "discriminator_loss"}
IMITATION_METHODS = {
    "bc": Imitator(bc.NeuralBCConfig, bc.make_trainer, {**_RETURN, "loss": "train_loss"}),
    "gail": Imitator(
        gail.GAILConfig, gail.make_trainer, _ADVERSARIAL, "generator", ("reward_network",)
    ),
    "airl": Imitator(
        airl.AIRLConfig, airl.make_trainer, _ADVERSARIAL, "generator", ("reward_network",)
    ),
    "maxent-sampled": Imitator(
        maxent_sampled.MaxEntSampledConfig,
        maxent_sampled.make_trainer,
        {**_RETURN, "grad": "grad_norm"},
        "generator",
        ("reward_network",),
    ),
    "dagger": Imitator(
        dagger.DAggerConfig,
        dagger.make_trainer,
        {**_RETURN, "labels": "expert_labels"},
        "bc",
        asks_expert=True,
    ),
    "iqlearn": Imitator(iqlearn.IQLearnConfig, iqlearn.make_trainer, {**_RETURN, "loss": "loss"}),
    "gcl": Imitator(
        gcl.GCLConfig,
        gcl.make_trainer,
        {**_RETURN, "ess": "effective_sample_size"},
        "generator",
        ("reward_network",),
    ),
    "mail": Imitator(mail.MAILConfig, mail.make_trainer, {**_RETURN, "td": "td_loss"}),
}


@dataclasses.dataclass(frozen=True)
class DemoFiles:
    """Where `irlax demo` writes.

    Attributes:
        out: folder for the picture and the summary.
    """

    out: Path = Path("results/demo")


@dataclasses.dataclass(frozen=True)
class IRLWorld:
    """The benchmark world, its demonstrations and where `irlax irl` writes.

    Attributes:
        world: objectworld (Levine 2011), binaryworld (Wulfmeier 2016) or gridworld (a cost
            of 1 per step before a goal in the far corner).
        size: grid side, at least 4.
        features: objectworld's features.
        demos: demonstrations to learn from (as many again are held out).
        length: steps per demonstration; None is `size`.
        seed: seed of the world, the demos and the model.
        out: results folder; None is results/irl/METHOD-WORLD.
    """

    world: Literal["objectworld", "binaryworld", "gridworld"] = "objectworld"
    size: int = 32
    features: Literal["continuous", "discrete"] = "continuous"
    demos: int = 64
    length: int | None = None
    seed: int = 0
    out: Path | None = None

    def __post_init__(self) -> None:
        require_int(self, "size", 4)
        require_int(self, "demos", 1)
        if self.length is not None:
            require_int(self, "length", 1)
        require_int(self, "seed", 0)


@dataclasses.dataclass(frozen=True)
class ForecastData:
    """The scene and tracks `irlax forecast` learns from (default: the built-in street scene).

    Attributes:
        scene: street: the generated street scene with hidden costs; harbor: New York Harbor
            AIS tracks, December 2020 (train days 1-5, test days 6-7).
        size: street scene side in cells.
        goals: street scene destinations; None is the scene's own number.
        n_train: street scene train tracks.
        n_test: street scene test tracks.
        labels: your map: a PNG of class colours (give all three of labels, classes, tracks).
        classes: your class list (JSON; see irlax.forecast.io).
        tracks: your tracks: CSV of track_id,t,x,y (pixels).
        radius: radius in cells of destinations found from where tracks end (harbor, your
            data).
    """

    scene: Literal["street", "harbor"] = "street"
    size: int = 64
    goals: int | None = None
    n_train: int = 200
    n_test: int = 50
    labels: Path | None = None
    classes: Path | None = None
    tracks: Path | None = None
    radius: float = 2.0

    def __post_init__(self) -> None:
        own = [self.labels, self.classes, self.tracks]
        if any(x is not None for x in own) and not all(x is not None for x in own):
            raise ValueError("your own data needs all three of --labels, --classes and --tracks")
        for name in ("labels", "classes", "tracks"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"--{name} must be a file, got {str(path)!r}: no such file")
        require_real(self, "radius", lambda x: x > 0, "> 0")
        require_int(self, "size", MIN_SIZE)
        require_int(self, "n_train", 1)
        require_int(self, "n_test", 1)
        if self.goals is not None:
            require_int(self, "goals", 2)


@dataclasses.dataclass(frozen=True)
class ForecastRun:
    """How `irlax forecast` evaluates, and where it writes.

    Attributes:
        seed: seed of the scene, the tracks and the samples.
        observe: fraction of a test track observed before forecasting the rest.
        samples: sampled continuations per test track.
        out: results folder.
    """

    seed: int = 0
    observe: float = 0.5
    samples: int = 16
    out: Path = Path("results/forecast")

    def __post_init__(self) -> None:
        require_int(self, "seed", 0)
        require_real(self, "observe", lambda x: 0 < x < 1, "in (0, 1)")
        require_int(self, "samples", 1)


@dataclasses.dataclass(frozen=True)
class ExpertRun:
    """The environment `irlax expert` trains on, the demonstrations it records, its files.

    Attributes:
        env: e.g. CartPole-v1, Pendulum-v1 (gymnax), or gymnasium:ID.
        out: folder for the checkpoint, the parameters, the demos and the summary.
        seed: seed of the training run (the demos use seed + 1).
        seeds: train these seeds at once instead of --seed, vmapped in one program (native
            envs only), e.g. 0,1,2,3,4; each seed's files go to OUT/seed=K/.
        episodes: demonstration episodes to record.
        stochastic: record demos with the sampling policy rather than its mode.
        chunk: updates between checkpoints; None is a twentieth of the run.
    """

    env: str
    out: Path
    seed: int = 0
    seeds: tuple[int, ...] = ()
    episodes: int = 20
    stochastic: bool = False
    chunk: int | None = None

    def __post_init__(self) -> None:
        _check_training_run(self)


@dataclasses.dataclass(frozen=True)
class ImitateRun:
    """The environment and demonstrations `irlax imitate` learns from, and its files.

    Attributes:
        env: e.g. CartPole-v1, Pendulum-v1 (gymnax), or gymnasium:ID.
        demos: the demonstrations: an .npz written by `irlax expert` (or
            `Trajectories.save`), or a local Minari dataset (its id or directory).
        out: folder for the checkpoint, the parameters, metrics.json and learning_curve.png.
        seed: seed of the training run (the evaluation episodes use seed + 1).
        seeds: train these seeds at once instead of --seed, vmapped in one program (native
            envs only), e.g. 0,1,2,3,4; each seed's files go to OUT/seed=K/.
        episodes: episodes of the trained and of a random policy to evaluate.
        chunk: updates between checkpoints; None is a twentieth of the run.
    """

    env: str
    demos: str
    out: Path
    seed: int = 0
    seeds: tuple[int, ...] = ()
    episodes: int = 20
    chunk: int | None = None

    def __post_init__(self) -> None:
        _check_training_run(self)


def _check_training_run(options) -> None:
    """The checks `ExpertRun` and `ImitateRun` share: the env first, then seeds, episodes,
    chunk and the output folder."""
    _check_env_name(options.env)
    require_int(options, "seed", 0)
    _check_seeds(options.seeds, options.env)
    require_int(options, "episodes", 1)
    if options.chunk is not None:
        require_int(options, "chunk", 1)
    _check_out_folder(options.out)


def _check_env_name(name: str) -> None:
    """Refuse an env `irlax.envs.make` does not know, before any other option is checked
    (a Gymnasium id is only known once made)."""
    from irlax.envs import IRLAX_ENVS, NATIVE_ENVS, make
    from irlax.envs.core import GYMNASIUM_PREFIX

    if name not in NATIVE_ENVS and name not in IRLAX_ENVS and not name.startswith(GYMNASIUM_PREFIX):
        make(name)  # raises, listing the names there are


def _check_seeds(seeds: tuple[int, ...], env: str) -> None:
    from irlax.envs.core import GYMNASIUM_PREFIX

    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds must be distinct integers >= 0, got {','.join(map(str, seeds))}")
    if seeds and env.startswith(GYMNASIUM_PREFIX):
        raise ValueError(
            f"--seeds trains seeds vmapped in one program, which a host-stepped env ({env}) "
            "cannot be: run one --seed at a time"
        )


def _per_seed(result, options):
    """(seed, its result, its folder): the run's own, or each of `--seeds`' (OUT/seed=K)."""
    if not options.seeds:
        yield options.seed, result, options.out
        return
    for i, seed in enumerate(options.seeds):
        folder = options.out / f"seed={seed}"
        folder.mkdir(exist_ok=True)
        yield seed, jax.tree.map(lambda x, i=i: x[i], result), folder


def _check_out_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out must be a folder, got {str(out)!r}: it is a file")


@dataclasses.dataclass(frozen=True)
class SweepOptions:
    """Where `irlax sweep` runs.

    Attributes:
        address: a Ray cluster's address (ray://HOST:10001, or auto for the local cluster's);
            None starts Ray on this machine for the sweep.
    """

    address: str | None = None


def parser() -> argparse.ArgumentParser:
    """The whole `irlax` command line: one subcommand per entry point, options from dataclasses
    (`irlax.cli.top_parser` with every command's options)."""
    top, commands = top_parser()
    _command(
        commands,
        "demo",
        _demo,
        (demo.DemoConfig, DemoFiles),
        help=COMMANDS["demo"],
        description=demo.__doc__.split("\n\n")[1],
    )
    irl = commands.add_parser(
        "irl",
        help=COMMANDS["irl"],
        description="Learn a reward from demonstrations in a benchmark world, evaluate it "
        "against the hidden true reward and write config, metrics and pictures.",
    )
    methods = irl.add_subparsers(dest="method", required=True, metavar="METHOD")
    for name, (cls, fit, learns_reward) in IRL_METHODS.items():
        run = functools.partial(_irl, name, fit, learns_reward)
        _command(methods, name, run, (IRLWorld, cls), help=cls.__doc__.splitlines()[0])
    _command(
        commands,
        "forecast",
        _forecast,
        (ForecastData, ForecastRun, ForecastConfig),
        help=COMMANDS["forecast"],
        description="Activity forecasting (Kitani et al. 2012): learn per-class walking costs "
        "from tracks by goal-conditioned MaxEnt IRL, forecast held-out tracks from their first "
        "half, and compare with baselines. Writes scene.png, cost.png, forecast.png, "
        "destinations.png, learning_curve.png, metrics.json and report.txt.",
    )
    expert = commands.add_parser(
        "expert",
        help=COMMANDS["expert"],
        description="Train an expert on an environment (irlax.envs.make: gymnax classic control "
        "natively, or gymnasium:ID), save its parameters and demos.npz, and print its return. "
        "The run checkpoints atomically to OUT/checkpoint.msgpack; run the same command again "
        "to resume an interrupted run.",
    )
    algos = expert.add_subparsers(dest="algo", required=True, metavar="ALGO")
    for name, (cls, make_trainer) in EXPERTS.items():
        run = functools.partial(_expert, name, make_trainer)
        _command(algos, name, run, (ExpertRun, cls), help=cls.__doc__.splitlines()[0])
    imitate = commands.add_parser(
        "imitate",
        help=COMMANDS["imitate"],
        description="Imitate demonstrations on an environment (irlax.envs.make) with a deep "
        "imitation or IRL method: writes metrics.json, learning_curve.png, policy.msgpack and, "
        "for a method that learns one, reward.msgpack. The run checkpoints atomically to "
        "OUT/checkpoint.msgpack; run the same command again to resume an interrupted run.",
    )
    sweep = commands.add_parser(
        "sweep",
        help=COMMANDS["sweep"],
        description="Run every command of a sweep spec (a TOML or JSON file: commands, seeds, "
        "out, retries, [options], [grid]; see irlax.sweep) as Ray tasks, on this machine or a "
        "Ray cluster; each run writes OUT/NAME once finished, a rerun skips finished runs, and "
        "the sweep ends with OUT/summary.md (mean ± 95%% interval over seeds) and summary.png.",
    )
    sweep.add_argument("spec", type=Path, help="the sweep spec (.toml or .json)")
    add_options(sweep, SweepOptions)
    sweep.set_defaults(run=_sweep, classes=(_sweep_spec, SweepOptions), prog=sweep.prog)
    methods = imitate.add_subparsers(dest="method", required=True, metavar="METHOD")
    for name, method in IMITATION_METHODS.items():
        sub = methods.add_parser(name, help=method.config.__doc__.splitlines()[0])
        add_options(sub, ImitateRun)
        classes = (ImitateRun,)
        if method.asks_expert:
            add_options(sub, ExpertPolicy)
            classes += (ExpertPolicy,)
        add_options(sub, method.config, skip=(method.nested, *method.skip))  # library options
        inner = method.nested_class
        if inner is not None:
            # A nested field the method (or the run) has too is --NESTED-NAME.
            taken = {f.name for c in (*classes, method.config) for f in dataclasses.fields(c)}
            shared = tuple(f.name for f in dataclasses.fields(inner) if f.name in taken)
            title = f"the {method.nested} ({inner.__module__}.{inner.__name__})"
            add_options(
                sub,
                inner,
                title=title,
                prefix=f"{method.nested}_",
                prefixed=shared,
                defaults=getattr(method.config(), method.nested),
            )
        config = functools.partial(_imitation_config, method)
        run = functools.partial(_imitate, name, method)
        sub.set_defaults(run=run, classes=(*classes, config), prog=sub.prog)
    return top


def _imitation_config(method: Imitator, args: argparse.Namespace):
    """The method's config from its options; its nested config (if any) the method's default
    one with the nested options given on the command line."""
    cls, inner = method.config, method.nested_class
    if inner is None:
        return cls(**given(cls, args))
    nested = dataclasses.replace(getattr(cls(), method.nested), **given(inner, args))
    return cls(**given(cls, args), **{method.nested: nested})


def _command(subparsers, name: str, run, classes: tuple[type, ...], **kwargs) -> None:
    """A subcommand whose options are the fields of `classes`, calling `run(*instances)`."""
    sub = subparsers.add_parser(name, **kwargs)
    for cls in classes:
        add_options(sub, cls)
    sub.set_defaults(run=run, classes=classes, prog=sub.prog)


def _demo(config: demo.DemoConfig, files: DemoFiles) -> int:
    outcome = demo.run(config)
    written = demo.write(outcome, files.out)
    print(demo.report(outcome))
    print(f"pictures: {written[0]}\nsummary:  {written[1]}")
    return 0


def _irl_world(world: IRLWorld):
    """(mdp, true_reward) of the chosen world."""
    from irlax.envs import binaryworld, gridworld, objectworld

    key = jax.random.key(world.seed)
    if world.world == "objectworld":
        with warnings.catch_warnings(action="ignore"):  # refused below, by its options
            mdp, reward = objectworld(key, world.size, features=world.features)
        if not np.any(np.asarray(reward)):
            raise ValueError(
                f"the objectworld of --seed {world.seed} and --size {world.size} has a true "
                "reward of 0 in every state (no object of the first inner colour): nothing to "
                "learn or to score; choose another --seed"
            )
        return mdp, reward
    if world.world == "binaryworld":
        return binaryworld(key, world.size)
    n = world.size
    mdp = gridworld(
        n, n, slip=0.1, horizon=None, discount=0.9, goal=(n - 1, n - 1), features="onehot"
    )
    return mdp, jnp.where(mdp.terminal, 0.0, -1.0).astype(mdp.probs.dtype)  # hurry to the goal


def _irl(name: str, fit, learns_reward: bool, world: IRLWorld, config) -> int:
    from tqdm import tqdm

    from irlax import metrics
    from irlax.envs import noisy_expert_demos

    length = world.size if world.length is None else world.length
    out = world.out or Path(f"results/irl/{name}-{world.world}")
    out.mkdir(parents=True, exist_ok=True)
    mdp, true_reward = _irl_world(world)
    key_demos, key_test, key_fit = jax.random.split(jax.random.key(world.seed), 3)
    demos = noisy_expert_demos(mdp, true_reward, world.demos, key_demos, length=length)
    held_out = noisy_expert_demos(mdp, true_reward, world.demos, key_test, length=length)

    total = getattr(config, "steps", None) or getattr(config, "max_iterations", None)
    start = time.perf_counter()
    with tqdm(total=total, desc=f"{name} on {world.world}", unit="step") as bar:
        takes_progress = "progress" in inspect.signature(fit).parameters
        kwargs = {"progress": lambda *_: bar.update(1)} if takes_progress else {}
        result = fit(mdp, demos, key=key_fit, config=config, **kwargs)
        jax.block_until_ready(result.reward)
        bar.update(bar.total - bar.n if bar.total else 0)
    seconds = time.perf_counter() - start

    if learns_reward:
        evd = metrics.expected_value_difference(mdp, true_reward, result.reward)
    else:
        evd = metrics.expected_value_difference(mdp, true_reward, log_policy=result.plan.log_policy)
    try:
        correlation = float(metrics.reward_correlation(mdp, true_reward, result.reward))
    except ValueError:  # a constant learned reward has no correlation
        correlation = None
    uniform = jnp.full(result.plan.log_policy.shape[-2:], -np.log(mdp.n_actions))
    report = {
        "method": name,
        "world": world.world,
        "states": mdp.n_states,
        "demos": world.demos,
        "length": length,
        "expected_value_difference": float(evd),
        "expected_value_difference_of_uniform_policy": float(
            metrics.expected_value_difference(mdp, true_reward, log_policy=uniform)
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
        "world": {k: getattr(world, k) for k in ("world", "size", "features", "demos", "seed")},
        "length": length,
        "method": name,
        "config": {f.name: _jsonable(getattr(config, f.name)) for f in dataclasses.fields(config)},
    }
    atomic_write_json(out / "config.json", config_record)
    atomic_write_json(out / "metrics.json", report)
    _irl_pictures(name, world, learns_reward, true_reward, result, out)
    print(json.dumps(report, indent=2))
    print(f"results: {out}/ (config.json, metrics.json, reward.png, learning_curve.png)")
    return 0


def _jsonable(value):
    return value if isinstance(value, (bool, int, float, str, type(None))) else repr(value)


def _irl_pictures(name, world: IRLWorld, learns_reward: bool, true_reward, result, out: Path):
    from irlax import plots

    n = world.size
    learned = np.asarray(result.reward)
    learned = learned.mean(axis=1) if learned.ndim == 2 else learned
    fig, axes = plots.plt.subplots(1, 2, figsize=(10, 4.2))
    plots.grid_heatmap(axes[0], np.asarray(true_reward).reshape(n, n), "true reward")
    title = "learned reward" if learns_reward else "learned log-policy (mean over actions)"
    plots.grid_heatmap(axes[1], learned.reshape(n, n), title)
    fig.suptitle(f"{name} on {world.world} {n}×{n}, {world.demos} demos")
    plots.save(fig, out / "reward.png")

    steps = result.metrics
    curves = {k: np.asarray(v) for k, v in steps.items() if np.ndim(v) == 1}
    fig, axes = plots.plt.subplots(1, max(len(curves), 1), figsize=(4.2 * max(len(curves), 1), 3.4))
    for ax, (label, values) in zip(np.atleast_1d(axes), curves.items(), strict=False):
        values = values[np.isfinite(values)]
        ax.plot(np.arange(len(values)), values)
        ax.set_title(label.replace("_", " "))
        ax.set_xlabel("step")
        if values.size and np.all(values > 0):
            ax.set_yscale("log")
    fig.suptitle(f"{name}: learning curve")
    plots.save(fig, out / "learning_curve.png")


def _forecast(data_options: ForecastData, run: ForecastRun, config: ForecastConfig) -> int:
    from tqdm import tqdm

    from irlax.forecast import experiment

    d = data_options
    if d.labels is not None:
        data = experiment.files(d.labels, d.classes, d.tracks, radius=d.radius)
    elif d.scene == "harbor":
        data = experiment.harbor(radius=d.radius)
    else:
        data = experiment.street(run.seed, d.size, d.goals, d.n_train, d.n_test)
    print(
        f"irlax forecast: {data.name}: {data.scene.shape[0]}x{data.scene.shape[1]} cells, "
        f"{len(data.goals)} destinations, {len(data.train)} train / {len(data.test)} test tracks"
    )
    with tqdm(total=config.steps, desc="fitting costs (L-BFGS)", unit="it", leave=False) as bar:

        def progress(step, metrics):
            bar.update(1)
            bar.set_postfix(nll=f"{float(metrics['loss']):.4f}")

        outcome = experiment.run(
            data,
            seed=run.seed,
            config=config,
            progress=progress,
            n_samples=run.samples,
            observe=run.observe,
        )
    written = experiment.write(outcome, run.out)
    print((run.out / "report.txt").read_text(), end="")
    print(f"pictures and metrics in {run.out}/: " + ", ".join(p.name for p in written))
    return 0


def _expert(algo: str, make_trainer, options: ExpertRun, config) -> int:
    from irlax.data import episode_returns, rollout
    from irlax.rl.run import save_policy

    env, env_params = _make_env(options.env, config.num_envs)
    trainer = make_trainer(config, env, env_params)
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    fingerprint = {"env": options.env, "algo": algo, "seed": options.seed, "config": repr(config)}
    print(
        f"irlax expert: {algo} on {options.env}, {config.total_steps} steps "
        f"({trainer.n_updates} updates)"
    )
    start = time.perf_counter()
    trained = _train_in_chunks(trainer, options, fingerprint, algo, {"ret": "episode_return"})
    train_s = time.perf_counter() - start
    for seed, result, folder in _per_seed(trained, options):
        _refuse_diverged(seed, policy=result.params)
        save_policy(folder / "params.msgpack", result, config, {"env": options.env, "algo": algo})
        policy = (
            result.policy
            if options.stochastic
            else functools.partial(result.policy, deterministic=True)
        )
        demos = rollout(env, policy, options.episodes, jax.random.key(seed + 1), env_params)
        demos.save(folder / "demos.npz")
        returns = np.asarray(episode_returns(demos))
        curve = np.asarray(result.metrics["episode_return"])
        summary = {
            "env": options.env,
            "algo": algo,
            "seed": seed,
            "steps": config.total_steps,
            "train_seconds": train_s,
            "demo_episodes": options.episodes,
            "demo_return_mean": float(returns.mean()),
            "demo_return_std": float(returns.std()),
            "final_training_return": float(curve[np.isfinite(curve)][-1])
            if np.isfinite(curve).any()
            else None,
            "config": repr(config),
        }
        atomic_write_json(folder / "summary.json", summary)
        print(
            ("" if not options.seeds else f"seed {seed}: ")
            + f"expert return over {options.episodes} demo episodes: "
            f"{returns.mean():.1f} ± {returns.std():.1f}"
        )
        print(f"params: {folder / 'params.msgpack'}\ndemos:  {folder / 'demos.npz'}")
    return 0


def _make_env(name: str, num_envs: int):
    """`irlax.envs.make(name)`; a Gymnasium env (host-stepped, one vector env) holding the
    `num_envs` copies the trainer steps together, which the command line cannot give it
    otherwise (`make` builds one copy by default, and the trainer refuses a mismatch)."""
    from irlax.envs import make
    from irlax.envs.core import GYMNASIUM_PREFIX

    if name.startswith(GYMNASIUM_PREFIX):
        return make(name, num_envs=num_envs)
    return make(name)


def _env_copies(config) -> int:
    """The env copies a deep method's trainer steps together: its generator's `num_envs`, or
    its own (DAgger, MAIL, online IQ-Learn); one for a method that steps none of a host env
    (BC, offline IQ-Learn)."""
    if getattr(config, "online", True) is False:
        return 1
    return getattr(getattr(config, "generator", config), "num_envs", 1)


def _train_in_chunks(trainer, options, fingerprint: dict, name: str, shown: dict, data=None):
    """`irlax.rl.run.run` into `options.out/checkpoint.msgpack` (resuming it), with a progress
    bar showing the metrics `shown` (label: metric) of each chunk's last update; `data` is
    every update's second argument (a deep method's demos)."""
    from tqdm import tqdm

    from irlax.rl import vmap_trainer
    from irlax.rl.run import run

    key = jax.random.key(options.seed)
    if options.seeds:  # every seed at once; the bar shows their mean
        trainer = vmap_trainer(trainer)
        key = jax.vmap(jax.random.key)(jnp.asarray(options.seeds))
        fingerprint = {**fingerprint, "seeds": list(options.seeds)}
    chunk = options.chunk or max(1, trainer.n_updates // 20)
    checkpoint = options.out / "checkpoint.msgpack"
    if not checkpoint.exists():
        _refuse_other_results(options.out)
    done = _updates_done(checkpoint, fingerprint)
    if done:
        print(f"resuming from {checkpoint}: {done} of {trainer.n_updates} updates done")
    bar = tqdm(total=trainer.n_updates, initial=done, desc=f"training {name}", unit="update")
    with bar:

        def progress(done, last):
            bar.update(done - bar.n)
            bar.set_postfix({label: f"{np.nanmean(last[m]):.3g}" for label, m in shown.items()})

        return run(
            trainer,
            key,
            reward_params=data,
            checkpoint=checkpoint,
            chunk=chunk,
            fingerprint=fingerprint,
            progress=progress,
        )


def _sweep_spec(args: argparse.Namespace):
    """The sweep of the spec file, every command of it one this parser has."""
    from irlax.sweep import load_spec

    sweep = load_spec(args.spec)
    commands = parser()
    for command in {run.command for run in sweep.runs}:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                commands.parse_args([*command, "--help"])
        except UsageError:
            name = " ".join(command)
            raise ValueError(f"{args.spec}: {name!r} is not an irlax command") from None
        except SystemExit:  # the --help of a command there is
            pass
    return sweep


def _sweep(sweep, options: SweepOptions) -> int:
    from irlax.sweep import run

    print(f"irlax sweep: {len(sweep.runs)} runs into {sweep.out}/")
    result = run(sweep, address=options.address, progress=lambda name, s: print(f"{s}: {name}"))
    failed = [r for r in result["runs"] if r["status"] == "failed"]
    print(f"summary: {sweep.out / 'summary.md'} (sweep.json, summary.png)")
    if failed:
        print(f"irlax sweep: {len(failed)} runs failed (see summary.md)", file=sys.stderr)
        return 1
    return 0


def _refuse_other_results(out: Path) -> None:
    """Refuse to start a run in a folder holding results (`metrics.json` of `irlax imitate`,
    `summary.json` and `demos.npz` of `irlax expert`, also in `--seeds`' OUT/seed=K) but no
    checkpoint: another command's, or a run whose checkpoint was deleted. This run would
    overwrite them, and a checkpoint, the only proof of whose they are, is not there to
    compare."""
    names = ("metrics.json", "summary.json", "demos.npz")
    found = [out / name for name in names]
    found += sorted(path for name in names for path in out.glob(f"seed=*/{name}"))
    found = [str(path.relative_to(out)) for path in found if path.exists()]
    if found:
        raise ValueError(
            f"--out {out} holds the results of another run ({', '.join(found)}) and no "
            "checkpoint to resume; use another output folder, or move them away to start afresh"
        )


def _updates_done(checkpoint: Path, fingerprint: dict) -> int:
    """Updates a resumable checkpoint of this run holds (0 when there is none, or when it is
    another run's, which `irlax.rl.run.run` then refuses)."""
    from irlax.checkpoint import read_checkpoint_metadata

    if not checkpoint.exists():
        return 0
    meta = read_checkpoint_metadata(checkpoint)
    same = meta.get("fingerprint") == json.loads(json.dumps(fingerprint))
    return int(meta.get("updates_done", 0)) if same else 0


def _imitate(name: str, method: Imitator, options: ImitateRun, *more) -> int:
    from irlax.algorithms import expert_transitions
    from irlax.checkpoint import save_checkpoint
    from irlax.data import Trajectories, episode_returns, load_minari, rollout
    from irlax.rl.run import load_policy, save_policy

    *asked, config = more  # (ExpertPolicy,) for a method that asks an expert
    env, env_params = _make_env(options.env, _env_copies(config))
    if options.demos.endswith(".npz"):
        demos = Trajectories.load(options.demos)
    else:
        demos = load_minari(options.demos)
    extra = {}
    if asked:
        extra["expert"] = load_policy(asked[0].expert, env, env_params).policy
    trainer = method.make_trainer(config, env, env_params, demos, **extra)  # checks the demos
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    fingerprint = {
        "env": options.env,
        "method": name,
        "demos": str(options.demos),
        # The path names the file, not what is in it: demos rewritten at the same path (a new
        # `irlax expert` run) would otherwise resume a run that learned from the old ones.
        "demos_sha256": demos.digest(),
        "seed": options.seed,
        "config": repr(config),
        # The expert too by content: a policy rewritten at the same path is another teacher.
        **(
            {"expert": str(asked[0].expert), "expert_sha256": _file_digest(asked[0].expert)}
            if asked
            else {}
        ),
    }
    print(
        f"irlax imitate: {name} on {options.env} from {demos.n_trajectories} demos, "
        f"{trainer.n_updates} updates"
    )
    start = time.perf_counter()
    # The demos as data, not constants of the compiled program: one program for every demo
    # set of this shape (the compilation cache loads it for the next one).
    data = expert_transitions(env, env_params, demos)
    trained = _train_in_chunks(trainer, options, fingerprint, name, method.shown, data)
    train_s = time.perf_counter() - start
    expert = None if demos.rewards is None else np.asarray(episode_returns(demos))
    space = env.action_space(env_params)
    for seed, result, folder in _per_seed(trained, options):
        _refuse_diverged(seed, policy=result.policy.params, reward=result.reward_params)
        steps = int(result.metrics["env_steps"][-1])
        meta = {"env": options.env, "method": name}
        written = ["metrics.json", "learning_curve.png", "policy.msgpack"]
        if method.nested == "generator":  # an irlax.rl policy, which load_policy reads
            save_policy(folder / "policy.msgpack", result.policy, config.generator, meta)
        else:
            save_checkpoint(folder / "policy.msgpack", result.policy.params, meta)
        if result.reward_fn is not None:
            save_checkpoint(folder / "reward.msgpack", result.reward_params, meta)
            written.append("reward.msgpack")

        key_policy, key_random = jax.random.split(jax.random.key(seed + 1))
        learned = episode_returns(
            rollout(env, result.policy.policy, options.episodes, key_policy, env_params)
        )
        random = episode_returns(
            rollout(
                env, lambda obs, key: space.sample(key), options.episodes, key_random, env_params
            )
        )
        curve = {k: np.asarray(v).tolist() for k, v in result.metrics.items() if np.ndim(v) == 1}
        summary = {
            "env": options.env,
            "method": name,
            "seed": seed,
            "demos": demos.n_trajectories,
            "steps": steps,
            "train_seconds": train_s,
            "policy_return_mean": float(np.mean(learned)),
            "policy_return_std": float(np.std(learned)),
            "random_return_mean": float(np.mean(random)),
            "expert_return_mean": None if expert is None else float(expert.mean()),
            "config": repr(config),
            "per_update": curve,
        }
        atomic_write_json(folder / "metrics.json", summary)
        _imitation_curve(name, options, summary, folder / "learning_curve.png")
        print(
            ("" if not options.seeds else f"seed {seed}: ")
            + f"policy return over {options.episodes} episodes: {np.mean(learned):.1f} ± "
            f"{np.std(learned):.1f} (random {np.mean(random):.1f}"
            + ("" if expert is None else f", expert {expert.mean():.1f}")
            + ")"
        )
        print(f"results: {folder}/ ({', '.join(written)})")
    return 0


def _refuse_diverged(seed: int, **params) -> None:
    """Refuse to write the results of a run whose training diverged (NaN or infinite values in
    any of `params`, named trees of parameters): they would be a policy that acts at random or
    not at all, and NaN returns."""
    for what, tree in params.items():
        leaves = jax.tree_util.tree_leaves_with_path(tree)
        bad = [
            jax.tree_util.keystr(path)
            for path, leaf in leaves
            if jnp.issubdtype(jnp.result_type(leaf), jnp.inexact)
            and not np.all(np.isfinite(np.asarray(leaf)))
        ]
        if bad:
            raise ValueError(
                f"training diverged (seed {seed}): the trained {what} parameters hold NaN or "
                f"infinite values ({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}); no "
                "results were written (the checkpoint is kept); lower the learning rates, or "
                "check the reward's scale"
            )


def _file_digest(path: Path) -> str:
    """The sha256 of a file's bytes."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _imitation_curve(name: str, options: ImitateRun, summary: dict, path: Path) -> None:
    from irlax import plots

    steps = np.asarray(summary["per_update"]["env_steps"])
    returns = np.asarray(summary["per_update"]["episode_return"])
    offline = not steps.any()  # BC, offline IQ-Learn: no env steps to plot against
    if offline:
        steps = np.arange(1, len(returns) + 1)
    fig, ax = plots.plt.subplots(figsize=(6, 4))
    ax.plot(steps, returns, ".-" if offline else "-", label=f"{name} policy")
    if summary["expert_return_mean"] is not None:
        ax.axhline(summary["expert_return_mean"], color="k", ls="--", label="expert")
    ax.axhline(summary["random_return_mean"], color="gray", ls=":", label="random policy")
    ax.set_xlabel("update (offline: no env steps)" if offline else "env steps")
    ax.set_ylabel("episode return (true reward)")
    ax.set_title(f"{name} on {options.env}")
    ax.legend()
    plots.save(fig, path)
