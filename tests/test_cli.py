"""The `irlax demo` command writes its pictures and an honest summary."""

import json

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
