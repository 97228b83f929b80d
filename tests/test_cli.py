"""The `irlax demo` command writes its pictures and an honest summary."""

import json

import pytest

from irlax.cli import main


def test_demo_writes_pictures_and_summary(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--height", "6", "--width", "8"]) == 0
    assert (tmp_path / "gridworld.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["states"] == 48
    assert 0.9 < summary["probability_goal_reached"] <= 1.0 + 1e-6
    assert summary["expected_episode_length"] < summary["horizon"]
    assert "probability of reaching the goal" in capsys.readouterr().out


def test_demo_rejects_bad_arguments(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--temperature", "0"]) == 2
    assert "--temperature must be > 0" in capsys.readouterr().err
    assert main(["demo", "--out", str(tmp_path), "--height", "2"]) == 2
    assert "at least 4x4" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["maxent", "apprenticeship", "mmp", "bc"])
def test_irl_writes_config_metrics_and_pictures(method, tmp_path, capsys):
    argv = ["irl", method, "--world", "gridworld", "--size", "5", "--demos", "20"]
    argv += ["--length", "12", "--out", str(tmp_path)]
    if method in ("maxent", "mmp"):
        argv += ["--steps", "60"]
    assert main(argv) == 0
    report = json.loads((tmp_path / "metrics.json").read_text())
    config = json.loads((tmp_path / "config.json").read_text())
    assert report["method"] == method and config["world"]["size"] == 5
    # The hidden reward is a cost per step before a goal: every method learns to hurry there
    # (BC copies the demos' 30% random actions too, so it loses more than the others).
    random_walk = report["expected_value_difference_of_uniform_policy"]
    assert report["expected_value_difference"] < (0.4 if method == "bc" else 0.1) * random_walk
    for picture in ("reward.png", "learning_curve.png"):
        assert (tmp_path / picture).stat().st_size > 5_000
    assert "expected_value_difference" in capsys.readouterr().out


def test_irl_options_come_from_the_config_and_are_checked(tmp_path, capsys):
    argv = ["irl", "maxent", "--size", "5", "--out", str(tmp_path)]
    assert main([*argv, "--temperature", "-1"]) == 2
    assert "temperature must be > 0" in capsys.readouterr().err
    assert main([*argv, "--hidden", "a,b"]) == 2
    assert "--hidden" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: an option no config has
        main([*argv, "--speed", "3"])


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


def test_forecast_refuses_incomplete_or_bad_files(tmp_path, capsys):
    from irlax.forecast import io

    files = io.write_example(tmp_path)
    assert main(["forecast", "--labels", str(files.labels), "--out", str(tmp_path / "o")]) == 2
    assert "needs all three" in capsys.readouterr().err
    files.classes.write_text('{"classes": [')
    argv = ["forecast", "--labels", str(files.labels), "--classes", str(files.classes)]
    assert main([*argv, "--tracks", str(files.tracks), "--out", str(tmp_path / "o")]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["forecast", "--steps", "0", "--size", "32", "--out", str(tmp_path / "o")]) == 2
    assert "steps must be a positive integer" in capsys.readouterr().err


def test_expert_trains_saves_demos_and_resumes(tmp_path, capsys):
    import jax

    from irlax.checkpoint import read_checkpoint_metadata
    from irlax.data import Trajectories, check_demos
    from irlax.envs import make

    argv = ["expert", "--env", "CartPole-v1", "--algo", "ppo", "--steps", "384"]
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
        summary = json.loads((tmp_path / "summary.json").read_text())
        assert summary["demo_episodes"] == 3 == demos.n_trajectories
        assert summary["demo_return_mean"] == pytest.approx(float(demos.lengths.mean()))
        # Run again: the finished checkpoint is resumed, nothing is trained twice.
        assert main(argv) == 0
        # Another setting cannot resume this run's checkpoint.
        assert main([*argv[:7], "--num-envs", "8", *argv[9:]]) == 2
    assert "belongs to another run" in capsys.readouterr().err
    assert main([*argv, "--tau", "0.1"]) == 2
    assert "--tau do(es) not apply to --algo ppo" in capsys.readouterr().err
