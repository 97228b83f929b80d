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
