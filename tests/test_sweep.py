"""Sweeps on a local Ray: every run ends done or reported failed, a worker that dies is
retried, a rerun does no work, and the summary's intervals are the t-intervals over seeds."""

import json
import os

import numpy as np
import pytest
from scipy import stats

from irlax.cli import main
from irlax.sweep import load_spec, run, run_command

ray = pytest.importorskip("ray")

OPTIONS = {"world": "gridworld", "size": 4, "steps": 3, "length": 4}


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _spec(out, **changes):
    spec = {
        "commands": ["irl maxent"],
        "seeds": [0, 1],
        "out": str(out),
        "retries": 1,
        "options": OPTIONS,
        "grid": {"demos": [3]},
    }
    return {**spec, **changes}


def test_a_sweep_runs_every_point_and_seed_and_a_rerun_does_no_work(local_ray, tmp_path, capsys):
    out = tmp_path / "sweep"
    lines = ['commands = ["irl maxent"]', "seeds = [0, 1]", f'out = "{out}"', "retries = 1"]
    lines += ["[options]"] + [f"{k} = {json.dumps(v)}" for k, v in OPTIONS.items()]
    lines += ["[grid]", "demos = [3]"]
    (tmp_path / "spec.toml").write_text("\n".join(lines))
    assert main(["sweep", str(tmp_path / "spec.toml")]) == 0
    assert "summary: " in capsys.readouterr().out

    result = json.loads((out / "sweep.json").read_text())
    names = [r["name"] for r in result["runs"]]
    assert names == ["irl-maxent_demos=3_seed=0", "irl-maxent_demos=3_seed=1"]
    assert all(r["status"] == "done" for r in result["runs"])
    assert not (out / ".partial").exists()
    runs = [json.loads((out / name / "metrics.json").read_text()) for name in names]
    config = json.loads((out / names[0] / "config.json").read_text())
    assert config["world"]["demos"] == 3 and config["world"]["seed"] == 0
    evd = [m["expected_value_difference"] for m in runs]
    summary = result["summary"]["irl-maxent_demos=3"]["expected_value_difference"]
    half = stats.t.ppf(0.975, 1) * np.std(evd, ddof=1) / np.sqrt(2)
    assert summary == pytest.approx({"mean": np.mean(evd), "ci95": half, "n": 2})
    assert "irl-maxent_demos=3" in (out / "summary.md").read_text()
    assert (out / "summary.png").stat().st_size > 1000

    def must_not_run(r, folder):
        raise AssertionError("a finished run ran again")

    again = run(_spec(out), task=must_not_run)
    assert [r["status"] for r in again["runs"]] == ["skipped"] * 2
    assert again["summary"] == result["summary"]


def test_the_seeds_of_a_deep_command_train_vmapped_in_one_task(local_ray, tmp_path):
    out = tmp_path / "sweep"
    ppo = {"total_steps": 256, "num_envs": 2, "rollout_length": 32, "update_epochs": 1}
    options = {"env": "CartPole-v1", "episodes": 2, "num_minibatches": 1, "hidden": "8", **ppo}
    spec = {"commands": ["expert ppo"], "seeds": [3, 5], "out": str(out), "options": options}
    result = run(spec)
    assert [r["status"] for r in result["runs"]] == ["done", "done"]
    assert not (out / ".partial").exists()
    for seed in (3, 5):
        folder = out / f"expert-ppo_seed={seed}"
        assert {p.name for p in folder.iterdir()} == {
            "params.msgpack",
            "demos.npz",
            "summary.json",
            "run.log",
        }
        assert json.loads((folder / "summary.json").read_text())["seed"] == seed
        # One command trained both seeds at once.
        log = (folder / "run.log").read_text()
        assert "seed 3: expert return" in log and "seed 5: expert return" in log
    assert result["summary"]["expert-ppo"]["demo_return_mean"]["n"] == 2


def test_a_dead_worker_is_retried_and_a_failing_run_is_reported(local_ray, tmp_path):
    out = tmp_path / "sweep"

    def dies_once(r, folder):
        marker = folder.parent / f"{r.name}.died"
        if not marker.exists():
            marker.touch()
            os._exit(1)  # the worker process dies, as on a lost node
        run_command(r, folder)

    options = {k: v for k, v in OPTIONS.items() if k != "size"}
    spec = _spec(out, seeds=[0], grid={"size": [4, 1]}, options=options)
    result = run(spec, task=dies_once)
    status = {r["name"]: (r["status"], r["error"]) for r in result["runs"]}
    assert status["irl-maxent_size=4_seed=0"] == ("done", None)
    state, error = status["irl-maxent_size=1_seed=0"]
    assert state == "failed" and "size must be an integer >= 4, got 1" in error
    assert (out / "irl-maxent_size=4_seed=0" / "metrics.json").exists()
    assert not (out / "irl-maxent_size=1_seed=0").exists()  # unfinished runs stay partial
    assert "size must be an integer >= 4" in (out / "summary.md").read_text()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, "unknown keys ['colour']"),
        ({"commands": []}, "commands must be a list of irlax commands"),
        ({"seeds": []}, "seeds must be a non-empty list of integers"),
        ({"retries": -1}, "retries must be an integer >= 0"),
        ({"options": {"demos": [1, 2]}}, "option demos must be one value"),
        ({"grid": {"demos": []}}, "grid demos must be a non-empty list"),
        ({"grid": {"seed": [1, 2]}}, "seed is set by the sweep"),
        ({"seeds": [1, 1]}, "two runs have the same name"),
    ],
)
def test_a_bad_spec_is_refused_by_name(change, message, tmp_path):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_spec(_spec(tmp_path, **change))


def test_a_missing_or_unreadable_spec_file_is_named(tmp_path, capsys):
    with pytest.raises(ValueError, match="no such sweep spec"):
        load_spec(tmp_path / "none.toml")
    (tmp_path / "bad.toml").write_text("commands = [")
    assert main(["sweep", str(tmp_path / "bad.toml")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.toml: not a readable sweep spec" in err
    (tmp_path / "odd.toml").write_text(f'commands = ["fly away"]\nout = "{tmp_path / "o"}"')
    assert main(["sweep", str(tmp_path / "odd.toml")]) == 2
    err = capsys.readouterr()
    assert err.out == "" and "odd.toml: 'fly away' is not an irlax command" in err.err
    assert not (tmp_path / "o").exists()
