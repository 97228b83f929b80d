"""The `irlax` command: options generated from config dataclasses, each documented; bad
arguments get one line and exit code 2; every subcommand writes what it promises."""

import argparse
import dataclasses
import importlib
import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path
from typing import Literal

import numpy as np
import pytest

import irlax
from irlax import cli
from irlax._cli_options import _dest, _show, add_options, build, field_docs
from irlax.cli import main, parser
from irlax.commands import EXPERTS, IMITATION_METHODS, IRL_METHODS

# --- option generation --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Toy:
    """A config of every kind of field the command line reads.

    Attributes:
        count: an int; its description runs on
            over a continuation line.
        rate: a float.
        cap: a float or None.
        on: a bool that is on by default.
        hidden: layer widths.
        kind: one of two choices.
        path: a file.
        name (str): an entry with its type in brackets, as Google style allows.
    """

    path: Path
    count: int = 3
    rate: float = 0.5
    cap: float | None = 1.0
    on: bool = True
    hidden: tuple[int, ...] = (64, 64)
    kind: Literal["left", "right"] = "left"
    name: str = "toy"

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError(f"count must be >= 0, got {self.count}")


class _Refused(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _Refused(message)


def _toy(*argv):
    p = _Parser(prog="toy")
    add_options(p, _Toy)
    return build(_Toy, p.parse_args(["--path", "x.csv", *argv])), p


def test_field_docs_read_google_attributes_with_continuations_and_types():
    docs = field_docs(_Toy)
    assert docs["count"] == "an int; its description runs on over a continuation line."
    assert docs["name"] == "an entry with its type in brackets, as Google style allows."
    assert set(docs) == {f.name for f in dataclasses.fields(_Toy)}


def test_options_not_given_keep_the_config_defaults():
    toy, _ = _toy()
    assert toy == _Toy(path=Path("x.csv"))


@pytest.mark.parametrize(
    ("argv", "field", "value"),
    [
        (["--count", "7"], "count", 7),
        (["--rate", "1e-3"], "rate", 1e-3),
        (["--cap", "2.5"], "cap", 2.5),
        (["--cap", "none"], "cap", None),
        (["--cap", "None"], "cap", None),
        (["--no-on"], "on", False),
        (["--no-on", "--on"], "on", True),
        (["--hidden", "32,16,8"], "hidden", (32, 16, 8)),
        (["--hidden", ""], "hidden", ()),
        (["--kind", "right"], "kind", "right"),
        (["--name", "other"], "name", "other"),
    ],
)
def test_each_type_is_read_from_the_command_line(argv, field, value):
    toy, _ = _toy(*argv)
    assert getattr(toy, field) == value and type(getattr(toy, field)) is type(value)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--count", "2.5"], "invalid int value: '2.5'"),
        (["--rate", "fast"], "invalid float value: 'fast'"),
        (["--cap", "big"], "invalid float value: 'big'"),
        (["--hidden", "64,x"], "comma-separated ints such as 64,64, got '64,x'"),
        (["--kind", "up"], "invalid choice: 'up'"),
        (["--on", "yes"], "unrecognized arguments: yes"),
    ],
)
def test_values_of_the_wrong_type_are_refused_by_the_parser(argv, message):
    with pytest.raises(_Refused, match=re.escape(message)):
        _toy(*argv)


def test_a_value_the_config_refuses_raises_its_value_error():
    with pytest.raises(ValueError, match="count must be >= 0, got -1"):
        _toy("--count", "-1")


def test_help_shows_descriptions_defaults_types_and_choices():
    _, p = _toy()
    text = " ".join(p.format_help().split())
    assert (
        "--count INT an int; its description runs on over a continuation line. (default: 3)" in text
    )
    assert "--cap FLOAT|none a float or None. (default: 1.0)" in text
    assert "--on, --no-on a bool that is on by default. (default: on)" in text
    assert "--hidden INT,... layer widths. (default: 64,64)" in text
    assert "--kind {left,right} one of two choices. (default: left)" in text
    assert "--path PATH a file. --count" in text  # no default: required
    with pytest.raises(_Refused, match="the following arguments are required: --path"):
        p.parse_args([])


def test_an_undocumented_field_or_an_unreadable_type_is_refused_when_the_parser_is_built():
    @dataclasses.dataclass
    class Undocumented:
        """One field documented, one not.

        Attributes:
            known: documented.
        """

        known: int = 0
        unknown: int = 0

    @dataclasses.dataclass
    class Unreadable:
        """A field of a type the command line cannot read.

        Attributes:
            table: a dict.
        """

        table: dict = dataclasses.field(default_factory=dict)

    with pytest.raises(TypeError, match=r"Undocumented\.unknown has no entry under Attributes"):
        add_options(argparse.ArgumentParser(), Undocumented)
    with pytest.raises(TypeError, match=r"Unreadable\.table: the command line cannot read"):
        add_options(argparse.ArgumentParser(), Unreadable)


def test_every_public_config_documents_every_field_in_the_attributes_section():
    configs = set()
    for info in pkgutil.walk_packages(irlax.__path__, "irlax."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                name.endswith("Config")
                and not name.startswith("_")
                and dataclasses.is_dataclass(value)
                and value.__module__ == module.__name__
            ):
                configs.add(value)
    assert len(configs) >= 9  # ForecastConfig, the four RL and the four tabular IRL configs
    for cls in configs:
        missing = {f.name for f in dataclasses.fields(cls)} - set(field_docs(cls))
        assert not missing, f"{cls.__module__}.{cls.__name__} leaves {missing} undocumented"


# --- every subcommand's --help ------------------------------------------------------------


def _leaves(p: argparse.ArgumentParser, path=()):
    """(path, parser) of every command and subcommand."""
    yield path, p
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _leaves(sub, (*path, name))


COMMANDS = [path for path, _ in _leaves(parser())]


def test_the_commands_are_the_tables_entries():
    assert {p[1] for p in COMMANDS if len(p) == 2 and p[0] == "irl"} == set(IRL_METHODS)
    assert {p[1] for p in COMMANDS if len(p) == 2 and p[0] == "expert"} == set(EXPERTS)
    assert {p[1] for p in COMMANDS if len(p) == 2 and p[0] == "imitate"} == set(IMITATION_METHODS)
    assert (
        {p[0] for p in COMMANDS if p}
        == set(cli.COMMANDS)
        == {
            "demo",
            "irl",
            "forecast",
            "expert",
            "imitate",
            "sweep",
        }
    )


def test_the_list_of_commands_imports_neither_jax_nor_the_methods():
    # `irlax --help` answers at once: only naming a subcommand loads JAX and the methods.
    probe = (
        "import sys; from irlax.cli import main\n"
        "try:\n    main(['--jax-cache', 'off', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'jax', 'numpy', 'flax'}"
        " or m.startswith('irlax.')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "COMMAND" in done.stdout
    assert done.stdout.strip().endswith("['irlax.cli']"), done.stdout


@pytest.mark.parametrize("name", sorted(n for n, m in IMITATION_METHODS.items() if m.nested))
def test_help_shows_the_nested_configs_defaults_of_the_method(name):
    """A nested config's options show the values the method's default sets (AIRL's PPO has no
    entropy bonus and scales its rewards), not the nested class's own defaults."""
    method = IMITATION_METHODS[name]
    nested = getattr(method.config(), method.nested)
    sub = dict(_leaves(parser()))[("imitate", name)]
    shown = {a.dest: a.help for a in sub._actions}
    for field in dataclasses.fields(nested):
        text = shown[_dest(type(nested), field.name)]
        value = _show(getattr(nested, field.name))
        assert text.endswith(f"(default: {value})"), (field.name, text[-40:])


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "irlax")
def test_help_describes_every_option(path, capsys):
    with pytest.raises(SystemExit) as exit:
        main([*path, "--help"])
    assert exit.value.code == 0
    text = capsys.readouterr().out
    sub = dict(_leaves(parser()))[path]
    options = [a for a in sub._actions if a.option_strings and a.dest != "help"]
    for action in options:
        description = (action.help or "").split(" (default: ")[0].strip()
        assert description, f"irlax {' '.join(path)} {action.option_strings[0]} has no help"
        assert action.option_strings[0] in text
        # The description is printed, not only stored (argparse wraps lines, also at hyphens).
        printed = "".join(description.replace("%%", "%").split())
        assert printed in "".join(text.split()), action.option_strings[0]
    if path in (("forecast",), ("irl", "maxent"), ("expert", "ppo")):
        assert len(options) > 10  # the config's fields are there


# --- bad arguments: one line on stderr, exit code 2 ---------------------------------------

# A value each leaf's config (or its own options) refuses, and words of the refusal.
REFUSED = {
    ("demo",): (["--temperature", "0"], ["temperature must be", "> 0"]),
    ("irl", "maxent"): (["--temperature", "-1"], ["temperature must be", "-1"]),
    ("irl", "apprenticeship"): (["--epsilon", "-1"], ["epsilon must be", "-1"]),
    ("irl", "mmp"): (["--l2", "0"], ["l2 must be", "> 0"]),
    ("irl", "bc"): (["--smoothing", "-1"], ["smoothing must be", "-1"]),
    ("forecast",): (["--steps", "0"], ["steps must be", "0"]),
    ("expert", "ppo"): (["--num-envs", "0"], ["num_envs must be an integer >= 1, got 0"]),
    ("expert", "sac"): (["--tau", "0"], ["tau must be a finite number in (0, 1], got 0"]),
    ("imitate", "gail"): (["--discriminator-steps", "0"], ["discriminator_steps must be", "0"]),
    ("imitate", "bc"): (["--epochs", "0"], ["epochs must be an integer >= 1, got 0"]),
    ("imitate", "dagger"): (["--rounds", "0"], ["rounds must be an integer >= 1, got 0"]),
    ("imitate", "gcl"): (["--reward-steps", "0"], ["reward_steps must be", "0"]),
    ("imitate", "iqlearn"): (["--updates", "0"], ["updates must be an integer >= 1, got 0"]),
    ("imitate", "mail"): (["--td-weight", "-1"], ["td_weight must be a finite number >= 0"]),
    ("imitate", "maxent-sampled"): (["--inner-updates", "0"], ["inner_updates must be", "0"]),
    ("imitate", "airl"): (["--discount", "1.0"], ["absorbing=True needs", "discount < 1"]),
}
# `irlax sweep` reads a spec file, not options: its bad input is tests/test_sweep.py's.
LEAVES = [p for p in COMMANDS if p and p not in (("irl",), ("expert",), ("imitate",), ("sweep",))]


def test_every_leaf_has_a_refused_value():
    assert set(REFUSED) == set(LEAVES)


def _one_line(capsys, *words):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err
    return err


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_bad_arguments_give_one_line_and_exit_code_2(path, tmp_path, capsys):
    out = tmp_path / "out"
    base = [*path, "--out", str(out)]
    if path[0] in ("expert", "imitate"):
        base += ["--env", "CartPole-v1"]
    if path[0] == "imitate":
        base += ["--demos", str(tmp_path / "demos.npz")]
    if path == ("imitate", "dagger"):
        base += ["--expert", str(tmp_path / "params.msgpack")]
    assert main([*base, "--speed", "3"]) == 2
    prog = " ".join(("irlax", *path))  # the subcommand's help lists its options
    _one_line(capsys, f"{prog}: error: unrecognized arguments: --speed 3", f"(see {prog} --help)")
    assert main([*base, "--seed", "x"]) == 2
    _one_line(capsys, f"irlax {' '.join(path)}: error: ", "--seed", "invalid int value: 'x'")
    argv, words = REFUSED[path]
    assert main([*base, *argv]) == 2
    _one_line(capsys, f"irlax {' '.join(path)}: error: ", *words)
    assert not out.exists()  # refused before anything was written


def test_an_objectworld_without_reward_is_refused_before_anything_is_written(tmp_path, capsys):
    # Its layout has no object of the first inner colour (its true reward is 0 everywhere).
    out = tmp_path / "out"
    assert main(["irl", "maxent", "--size", "16", "--seed", "0", "--out", str(out)]) == 2
    _one_line(capsys, "--seed 0 and --size 16 has a true reward of 0 in every state")
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--env", "CartPole-v1", "--seeds", "1,1"], ["--seeds must be distinct", "1,1"]),
        (["--env", "CartPole-v1", "--seeds", "2,-1"], ["--seeds must be distinct", "2,-1"]),
        (["--env", "gymnasium:CartPole-v1", "--seeds", "0,1"], ["host-stepped env"]),
    ],
)
def test_seeds_trained_at_once_are_distinct_and_on_a_jax_env(argv, words, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["expert", "ppo", *argv, "--out", str(out)]) == 2
    _one_line(capsys, "irlax expert ppo: error: ", *words)
    assert not out.exists()


def test_missing_command_or_missing_required_option(capsys):
    assert main([]) == 2
    _one_line(capsys, "irlax: error: the following arguments are required: COMMAND")
    assert main(["irl"]) == 2
    _one_line(capsys, "irlax irl: error: the following arguments are required: METHOD")
    assert main(["expert", "ppo", "--env", "CartPole-v1"]) == 2
    _one_line(capsys, "irlax expert ppo: error: the following arguments are required: --out")


# --- what each command does ---------------------------------------------------------------


@pytest.mark.parametrize(("height", "width"), [(6, 8), (4, 4)])
def test_demo_writes_pictures_and_summary(height, width, tmp_path, capsys):
    argv = ["demo", "--out", str(tmp_path), "--height", str(height), "--width", str(width)]
    assert main(argv) == 0
    assert (tmp_path / "gridworld.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["states"] == height * width
    assert 0.9 < summary["probability_goal_reached"] <= 1.0 + 1e-6
    assert summary["expected_episode_length"] < summary["horizon"]
    out = capsys.readouterr().out
    assert "probability of reaching the goal" in out
    assert out.startswith((tmp_path / "summary.txt").read_text())


def test_demo_refuses_a_small_grid(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--height", "2"]) == 2
    _one_line(capsys, "height must be an integer >= 4, got 2")


@pytest.mark.parametrize("method", list(IRL_METHODS))
def test_irl_writes_config_metrics_and_pictures(method, tmp_path, capsys):
    argv = ["irl", method, "--world", "gridworld", "--size", "5", "--demos", "20"]
    argv += ["--length", "12", "--out", str(tmp_path)]
    if method in ("maxent", "mmp"):
        argv += ["--steps", "60"]
    assert main(argv) == 0
    report = json.loads((tmp_path / "metrics.json").read_text())
    config = json.loads((tmp_path / "config.json").read_text())
    assert report["method"] == method and config["world"]["size"] == 5
    if method in ("maxent", "mmp"):
        assert config["config"]["steps"] == 60
    # The hidden reward is a cost per step before a goal: every method learns to hurry there
    # (BC copies the demos' 30% random actions too, so it loses more than the others).
    random_walk = report["expected_value_difference_of_uniform_policy"]
    assert report["expected_value_difference"] < (0.4 if method == "bc" else 0.1) * random_walk
    for picture in ("reward.png", "learning_curve.png"):
        assert (tmp_path / picture).stat().st_size > 5_000
    assert "expected_value_difference" in capsys.readouterr().out


def test_irl_reward_model_option_makes_maxent_deep(tmp_path, capsys):
    from irlax.nets import LinearReward, MLPReward

    argv = ["irl", "maxent", "--out", str(tmp_path)]
    config_class = IRL_METHODS["maxent"][0]
    deep = build(config_class, parser().parse_args([*argv, "--reward-model", "8,8"]))
    assert deep.reward_model == MLPReward(hidden=(8, 8))
    linear = build(config_class, parser().parse_args([*argv, "--reward-model", "linear"]))
    assert linear.reward_model == LinearReward()
    assert build(config_class, parser().parse_args(argv)).reward_model is None
    assert main([*argv, "--reward-model", "a,b"]) == 2
    _one_line(capsys, "argument --reward-model", "'a,b'")


FORECAST_FILES = (
    "scene.png",
    "cost.png",
    "forecast.png",
    "destinations.png",
    "learning_curve.png",
    "metrics.json",
    "report.txt",
)
PREDICTORS = ("model", "shortest_path", "behaviour_cloning", "constant_velocity", "random_walk")


def test_forecast_on_the_street_scene_writes_pictures_metrics_and_report(tmp_path, capsys):
    out = tmp_path / "street"
    argv = ["forecast", "--size", "32", "--n-train", "40", "--n-test", "8", "--steps", "8"]
    assert main([*argv, "--out", str(out)]) == 0
    for name in FORECAST_FILES:
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    for name in (*PREDICTORS, "true_cost"):
        assert set(metrics[name]) >= {"nll_per_step", "mhd", "destination_accuracy"}, name
    report = capsys.readouterr().out
    assert all(name in report for name in PREDICTORS)
    assert str(out) in report


def test_forecast_on_your_own_files(tmp_path, capsys):
    from irlax.forecast import io

    files = io.write_example(tmp_path / "in")
    out = tmp_path / "out"
    argv = ["forecast", "--labels", str(files.labels), "--classes", str(files.classes)]
    argv += ["--tracks", str(files.tracks), "--steps", "5", "--out", str(out)]
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(PREDICTORS) <= set(metrics)
    assert "true_cost" not in metrics


def test_forecast_refuses_incomplete_missing_or_bad_files(tmp_path, capsys):
    from irlax.forecast import io

    files = io.write_example(tmp_path)
    out = ["--out", str(tmp_path / "o")]
    assert main(["forecast", "--labels", str(files.labels), *out]) == 2
    _one_line(capsys, "irlax forecast: error: ", "needs all three")
    argv = ["forecast", "--labels", str(files.labels), "--classes", str(files.classes)]
    assert main([*argv, "--tracks", str(tmp_path / "missing.csv"), *out]) == 2
    _one_line(capsys, "--tracks must be a file", "missing.csv", "no such file")
    files.classes.write_text('{"classes": [')
    assert main([*argv, "--tracks", str(files.tracks), *out]) == 2
    _one_line(capsys, "not valid JSON")
    assert not (tmp_path / "o").exists()


def test_expert_trains_saves_demos_and_resumes(tmp_path, capsys):
    import jax

    from irlax.checkpoint import read_checkpoint_metadata
    from irlax.data import Trajectories, check_demos
    from irlax.envs import make
    from irlax.rl.run import load_policy

    argv = ["expert", "ppo", "--env", "CartPole-v1", "--total-steps", "384"]
    argv += ["--num-envs", "4", "--rollout-length", "16", "--update-epochs", "1"]
    argv += ["--episodes", "3", "--chunk", "2", "--out", str(tmp_path)]
    with jax.enable_x64(False):
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert "expert return over 3 demo episodes" in out
        meta = read_checkpoint_metadata(tmp_path / "checkpoint.msgpack")
        assert meta["updates_done"] == meta["n_updates"] == 6
        demos = Trajectories.load(tmp_path / "demos.npz")
        env, params = make("CartPole-v1")
        check_demos(env, params, demos)
        # The saved policy rebuilds the expert that recorded the demos (its mode).
        expert = load_policy(tmp_path / "params.msgpack", env, params)
        first = demos.observations[:, :-1][demos.mask]
        acted = jax.vmap(lambda o: expert.policy(o, jax.random.key(0), True))(first)
        np.testing.assert_array_equal(acted, demos.actions[demos.mask])
        summary = json.loads((tmp_path / "summary.json").read_text())
        assert summary["demo_episodes"] == 3 == demos.n_trajectories
        assert summary["demo_return_mean"] == pytest.approx(float(demos.lengths.mean()))
        # Run again: the finished checkpoint is resumed, nothing is trained twice.
        assert main(argv) == 0
        capsys.readouterr()
        # Another setting cannot resume this run's checkpoint (refused once the progress bar
        # has started, so the error is the last line).
        assert main([*argv[:6], "--num-envs", "8", *argv[8:]]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("irlax expert ppo: error: ")
    assert "belongs to another run" in err.strip().splitlines()[-1]
    assert main([*argv, "--tau", "0.1"]) == 2  # a SAC option
    # The subcommand's options: its help, not the top command's, lists them.
    _one_line(
        capsys,
        "irlax expert ppo: error: unrecognized arguments: --tau 0.1",
        "(see irlax expert ppo --help)",
    )

    # The saved expert teaches DAgger from the command line.
    dagger = ["imitate", "dagger", "--env", "CartPole-v1", "--demos", str(tmp_path / "demos.npz")]
    dagger += ["--expert", str(tmp_path / "params.msgpack"), "--rounds", "2", "--num-envs", "2"]
    dagger += ["--rollout-length", "8", "--epochs", "1", "--hidden", "8", "--eval-episodes", "1"]
    dagger += ["--eval-max-steps", "10", "--episodes", "1", "--out", str(tmp_path / "dagger")]
    with jax.enable_x64(False):
        assert main(dagger) == 0
    summary = json.loads((tmp_path / "dagger" / "metrics.json").read_text())
    labels = summary["per_update"]["expert_labels"]
    assert labels == [16, 32]  # 2 envs x 8 steps labelled per round


def test_ctrl_c_leaves_a_checkpoint_that_resumes_to_the_uninterrupted_run(
    tmp_path, capsys, monkeypatch
):
    import jax

    import irlax.rl.run

    argv = ["expert", "ppo", "--env", "CartPole-v1", "--total-steps", "192", "--num-envs", "2"]
    argv += ["--rollout-length", "16", "--update-epochs", "1", "--hidden", "8", "--chunk", "2"]
    argv += ["--episodes", "1"]
    save = irlax.rl.run.save_checkpoint
    saved = []

    def save_then_interrupt(*args, **kwargs):  # Ctrl-C after the second checkpoint
        save(*args, **kwargs)
        saved.append(1)
        if len(saved) == 2:
            raise KeyboardInterrupt

    with jax.enable_x64(False):
        assert main([*argv, "--out", str(tmp_path / "whole")]) == 0
        monkeypatch.setattr(irlax.rl.run, "save_checkpoint", save_then_interrupt)
        assert main([*argv, "--out", str(tmp_path / "cut")]) == 130
        err = capsys.readouterr().err
        assert "Traceback" not in err
        last = err.strip().splitlines()[-1]  # after the progress bar
        assert last.startswith("irlax expert ppo: interrupted (run the same command again")
        monkeypatch.undo()
        assert main([*argv, "--out", str(tmp_path / "cut")]) == 0
    assert "resuming from" in capsys.readouterr().out.replace("\n", " ")
    for name in ("params.msgpack", "demos.npz"):
        assert (tmp_path / "cut" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["forecast", "--size", "4"], "size must be an integer >= 16, got 4"),
        (["forecast", "--goals", "1"], "goals must be an integer >= 2, got 1"),
        (["forecast", "--n-test", "0"], "n_test must be an integer >= 1, got 0"),
        (["irl", "maxent", "--seed", "-1"], "seed must be an integer >= 0, got -1"),
        (["irl", "maxent", "--size", "1"], "size must be an integer >= 4, got 1"),
        # The env is named before a config option that depends on it is checked.
        (["expert", "ppo", "--env", "NoSuch", "--total-steps", "10"], "unknown env name"),
        (["imitate", "gail", "--env", "NoSuch", "--demos", "d.npz"], "unknown env name"),
    ],
)
def test_world_options_are_refused_before_any_work(argv, message, tmp_path, capsys):
    out = tmp_path / "o"
    assert main([*argv, "--out", str(out)]) == 2
    _one_line(capsys, message)
    assert not out.exists()


@pytest.mark.parametrize("command", [["expert", "ppo"], ["imitate", "gail", "--demos", "d.npz"]])
def test_an_output_folder_that_is_a_file_is_refused(command, tmp_path, capsys):
    (tmp_path / "taken").write_text("a user's file")
    argv = [*command, "--env", "CartPole-v1", "--out", str(tmp_path / "taken")]
    assert main(argv) == 2
    _one_line(capsys, "--out must be a folder", "it is a file")
    assert (tmp_path / "taken").read_text() == "a user's file"


@pytest.mark.parametrize(
    "command",
    [
        ["demo"],
        ["expert", "ppo", "--env", "CartPole-v1"],
        ["imitate", "gail", "--env", "CartPole-v1", "--demos", "d.npz"],
    ],
)
def test_an_empty_output_path_is_refused(command, tmp_path, capsys, monkeypatch):
    # `--out ""` (an unset shell variable) was Path(""), the current folder: the command wrote
    # its checkpoint and results among whatever was there.
    monkeypatch.chdir(tmp_path)
    assert main([*command, "--out", ""]) == 2
    _one_line(capsys, "argument --out: expected a path, got ''", "current folder")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("results", ["metrics.json", "seed=3/metrics.json", "demos.npz"])
def test_results_without_a_checkpoint_are_not_overwritten(results, tmp_path, capsys):
    # A folder holding another command's results, or a run's whose checkpoint was deleted,
    # was trained into and its metrics.json, policy and pictures silently replaced.
    from tests.algorithms.deep import cartpole_demos

    out = tmp_path / "out"
    (out / results).parent.mkdir(parents=True)
    (out / results).write_text("a previous run's results")
    _, _, demos = cartpole_demos(2)
    demos.save(tmp_path / "demos.npz")
    argv = ["imitate", "gail", "--env", "CartPole-v1", "--demos", str(tmp_path / "demos.npz")]
    argv += ["--total-steps", "64", "--num-envs", "2", "--rollout-length", "32"]
    assert main([*argv, "--out", str(out)]) == 2
    _one_line(capsys, "holds the results of another run", results, "no checkpoint")
    assert (out / results).read_text() == "a previous run's results"
    assert not (out / "checkpoint.msgpack").exists()


def test_imitate_gail_on_a_gymnasium_env_with_several_envs(tmp_path, capsys):
    # The command made a Gymnasium env of one copy, and the trainer refused it for any
    # --num-envs but 1 (PPO's default is 4), advising to "build it with num_envs=4", which
    # no option could.
    import jax

    from tests.algorithms.deep import cartpole_demos

    _, _, demos = cartpole_demos(2)
    demos.save(tmp_path / "demos.npz")
    out = tmp_path / "out"
    argv = ["imitate", "gail", "--env", "gymnasium:CartPole-v1", "--demos"]
    argv += [str(tmp_path / "demos.npz"), "--out", str(out), "--total-steps", "64"]
    argv += ["--num-envs", "2", "--rollout-length", "16", "--update-epochs", "1", "--hidden", "8"]
    argv += ["--discriminator-hidden", "8", "--episodes", "1"]
    with jax.enable_x64(False):
        assert main(argv) == 0
    assert "policy return over 1 episodes" in capsys.readouterr().out
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["steps"] == 64 and len(summary["per_update"]["discriminator_loss"]) == 2


GYMNASIUM_RUNS = {
    "mail": ["--total-steps", "48", "--rollout-length", "8", "--hidden", "8"],
    "iqlearn": ["--online", "--updates", "2", "--rollout-length", "8", "--hidden", "8"],
    "dagger": ["--rounds", "2", "--rollout-length", "8", "--epochs", "1", "--hidden", "8"],
}


@pytest.mark.parametrize("method", GYMNASIUM_RUNS)
def test_imitate_methods_without_a_generator_on_a_gymnasium_env_with_several_envs(
    method, tmp_path, capsys
):
    # The env was made with the generator's copies only: DAgger, MAIL and online IQ-Learn
    # step their own num_envs and were refused for any but 1; DAgger's expert, a PPO policy
    # saved with 2 envs, was refused by an env of 3 copies although its networks fit.
    import jax

    expert = ["expert", "ppo", "--env", "CartPole-v1", "--total-steps", "64", "--num-envs"]
    expert += ["2", "--rollout-length", "16", "--update-epochs", "1", "--hidden", "8"]
    expert += ["--episodes", "2", "--out", str(tmp_path / "expert")]
    argv = ["imitate", method, "--env", "gymnasium:CartPole-v1", "--num-envs", "3"]
    argv += ["--demos", str(tmp_path / "expert" / "demos.npz"), "--episodes", "1"]
    argv += ["--out", str(tmp_path / "out"), *GYMNASIUM_RUNS[method]]
    if method == "dagger":
        argv += ["--expert", str(tmp_path / "expert" / "params.msgpack")]
    with jax.enable_x64(False):
        assert main(expert) == 0
        assert main(argv) == 0
    assert "policy return over 1 episodes" in capsys.readouterr().out


def test_dagger_does_not_resume_with_another_expert_at_the_same_path(tmp_path, capsys):
    # The fingerprint named the expert by path only, as it once did the demos: a policy
    # rewritten there would have been "resumed" as the teacher of a run it never taught.
    import shutil

    import jax

    def expert(seed: int, out: str) -> list:
        argv = ["expert", "ppo", "--env", "CartPole-v1", "--total-steps", "64", "--num-envs"]
        argv += ["2", "--rollout-length", "16", "--update-epochs", "1", "--hidden", "8"]
        return [*argv, "--episodes", "2", "--seed", str(seed), "--out", str(tmp_path / out)]

    dagger = ["imitate", "dagger", "--env", "CartPole-v1", "--rounds", "2", "--num-envs", "2"]
    dagger += ["--rollout-length", "8", "--epochs", "1", "--hidden", "8", "--episodes", "1"]
    dagger += ["--demos", str(tmp_path / "a" / "demos.npz"), "--out", str(tmp_path / "out")]
    dagger += ["--expert", str(tmp_path / "a" / "params.msgpack")]
    with jax.enable_x64(False):
        assert main(expert(0, "a")) == 0 and main(expert(1, "b")) == 0
        assert main(dagger) == 0
        assert main(dagger) == 0  # finished: resumed, not retrained
        shutil.copy(tmp_path / "b" / "params.msgpack", tmp_path / "a" / "params.msgpack")
        capsys.readouterr()
        assert main(dagger) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "belongs to another run" in err and "expert_sha256" in err


def test_a_run_whose_training_diverged_writes_no_results(tmp_path, capsys):
    # A step size that blows the parameters up to NaN once gave a NaN policy, demos of it and a
    # NaN return in the results, with exit status 0.
    import jax

    from tests.algorithms.deep import cartpole_demos

    _, _, demos = cartpole_demos(2)
    demos.save(tmp_path / "demos.npz")
    small = ["--total-steps", "128", "--num-envs", "2", "--rollout-length", "32", "--hidden", "8"]
    small += ["--update-epochs", "1", "--learning-rate", "1e30", "--episodes", "1"]
    runs = {
        "expert": ["expert", "ppo", "--env", "CartPole-v1"],
        "imitate": ["imitate", "gail", "--env", "CartPole-v1", "--discriminator-hidden", "8"],
    }
    for name, argv in runs.items():
        out = tmp_path / name
        if name == "imitate":
            argv = [*argv, "--demos", str(tmp_path / "demos.npz")]
        with jax.enable_x64(False):
            assert main([*argv, *small, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert "training diverged (seed 0): the trained policy parameters hold NaN" in err
        assert not (out / "metrics.json").exists() and not (out / "summary.json").exists()
        assert not any(out.glob("*.npz")) and (out / "checkpoint.msgpack").exists()


def test_imitate_bc_writes_a_policy_and_no_reward(tmp_path, capsys):
    import jax

    from tests.algorithms.deep import cartpole_demos

    _, _, demos = cartpole_demos(2)
    demos.save(tmp_path / "demos.npz")
    out = tmp_path / "out"
    argv = ["imitate", "bc", "--env", "CartPole-v1", "--demos", str(tmp_path / "demos.npz")]
    argv += ["--epochs", "3", "--hidden", "8", "--eval-episodes", "1", "--eval-max-steps", "20"]
    argv += ["--episodes", "1", "--out", str(out)]
    with jax.enable_x64(False):
        assert main(argv) == 0
    assert "results: " in capsys.readouterr().out
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["method"] == "bc" and len(summary["per_update"]["train_loss"]) == 3
    assert (out / "policy.msgpack").exists() and not (out / "reward.msgpack").exists()


def test_imitate_trains_writes_and_resumes(tmp_path, capsys):
    import jax

    from irlax.checkpoint import read_checkpoint_metadata
    from irlax.envs import make
    from irlax.rl.run import load_policy
    from tests.algorithms.deep import cartpole_demos

    _, _, demos = cartpole_demos(2)
    demos.save(tmp_path / "demos.npz")
    out = tmp_path / "out"
    argv = ["imitate", "airl", "--env", "CartPole-v1", "--demos", str(tmp_path / "demos.npz")]
    argv += ["--total-steps", "256", "--num-envs", "2", "--rollout-length", "32"]
    argv += ["--update-epochs", "1", "--hidden", "8", "--discriminator-hidden", "8"]
    argv += ["--episodes", "2", "--chunk", "2", "--out", str(out)]
    with jax.enable_x64(False):
        # Demos of another env are refused before anything is written.
        assert main([*argv[:3], "Acrobot-v1", *argv[4:]]) == 2
        _one_line(capsys, "demo observations")
        assert not out.exists()
        assert main(argv) == 0
        text = capsys.readouterr().out
        assert "policy return over 2 episodes" in text and "expert 500.0" in text
        meta = read_checkpoint_metadata(out / "checkpoint.msgpack")
        assert meta["updates_done"] == meta["n_updates"] == 4
        summary = json.loads((out / "metrics.json").read_text())
        assert summary["expert_return_mean"] == 500.0 and summary["steps"] == 256
        # The policy is a saved PPO policy (its generator's) that load_policy rebuilds.
        env, params = make("CartPole-v1")
        policy = load_policy(out / "policy.msgpack", env, params)
        assert -1.0 < policy.log_prob(demos.observations[0, 0], demos.actions[0, 0]) < 0.0
        assert len(summary["per_update"]["discriminator_loss"]) == 4
        for name in ("learning_curve.png", "policy.msgpack", "reward.msgpack"):
            assert (out / name).stat().st_size > 100
        # Run again: the finished checkpoint is resumed, nothing is trained twice.
        assert main(argv) == 0
    assert json.loads((out / "metrics.json").read_text())["per_update"] == summary["per_update"]


def test_imitate_does_not_resume_a_run_of_other_demos_at_the_same_path(tmp_path, capsys):
    # The checkpoint's fingerprint named the demos by path only: demos rewritten there were
    # "resumed" with the policy and reward learned from the old ones, and reported as theirs.
    import jax

    from irlax.data import Trajectories
    from tests.algorithms.deep import cartpole_demos

    _, _, demos = cartpole_demos(2)
    path = tmp_path / "demos.npz"
    demos.save(path)
    out = tmp_path / "out"
    argv = ["imitate", "gail", "--env", "CartPole-v1", "--demos", str(path), "--out", str(out)]
    argv += ["--total-steps", "128", "--num-envs", "2", "--rollout-length", "32"]
    argv += ["--update-epochs", "1", "--hidden", "8", "--discriminator-hidden", "8"]
    argv += ["--episodes", "1"]
    with jax.enable_x64(False):
        assert main(argv) == 0
        capsys.readouterr()
        written = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
        fewer = Trajectories(
            demos.observations, demos.actions, demos.lengths // 2, terminated=demos.terminated
        )
        fewer.save(path)
        assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("irlax imitate gail: error: ") and "Traceback" not in err
    assert "belongs to another run" in err and "demos_sha256" in err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == written
