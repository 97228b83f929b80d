"""The many-seed report's verdict on the one-trajectory target follows the numbers: met, missed
or undecided by where the mean's t interval lies, and a record renders from its JSON alone."""

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import adversarial_seeds as seeds


def test_the_interval_is_students_t_over_the_seeds():
    x = np.array([0.90, 0.95, 1.00, 0.97])
    mean, se, half = seeds.interval(x)
    assert mean == pytest.approx(0.955)
    assert se == pytest.approx(np.std(x, ddof=1) / 2)
    assert half == pytest.approx(stats.t.ppf(0.975, 3) * se)
    assert np.isnan(seeds.interval(np.array([1.0]))[2])


@pytest.mark.parametrize(
    ("x", "verdict"),
    [
        (np.full(20, 0.97) + np.linspace(-0.01, 0.01, 20), "met"),
        (np.full(20, 0.93) + np.linspace(-0.01, 0.01, 20), "missed"),
        (np.full(20, 0.95) + np.linspace(-0.1, 0.1, 20), "not decided by these seeds"),
        (np.array([1.0]), "one seed: not decided"),
    ],
)
def test_the_target_verdict_follows_the_interval(x, verdict):
    assert seeds.decision(x) == verdict


def test_a_record_renders_its_scores_normalised():
    entry = {
        "expert_return": 100.0,
        "random_return": 0.0,
        "demo_returns": [96.0],
        "cells": {
            "gail": {"eval_returns": [[99.0, 97.0], [98.0, 98.0], [97.0, 99.0]]},
            "airl": {"eval_returns": [[10.0], [20.0], [30.0]]},
            "bc": {"eval_returns": [[50.0], [50.0], [50.0]]},
        },
    }
    record = {
        "settings": {"seeds": 3},
        "machine": {
            "platform": "x86_64",
            "cpu": "cpu",
            "cores": 2,
            "load_before": 0.0,
            "load_after": 0.0,
            "minutes": 1.0,
            "python": "3.11",
            "jax": "0",
            "jax_backend": "cpu",
        },
        "command": "python benchmarks/adversarial_seeds.py",
        "sources": "irlax: made up.",
        "classic": {"CartPole-v1": entry},
    }
    np.testing.assert_allclose(seeds.scores(entry, "gail"), [0.98, 0.98, 0.98])
    text = seeds.render(record)
    assert "| CartPole-v1 | GAIL | 0.980 ± 0.000 |" in text
    assert "| CartPole-v1 | AIRL | 0.200 ± 0.058 |" in text
    assert "| met |" in text and "| missed |" in text
    assert "the demo 96.0 (0.96 normalised)" in text


def test_the_report_names_airls_learning_rate_only_where_it_is_not_ppos_default():
    import adversarial

    from irlax.rl import ppo

    def classic(rates):
        return {
            name: {"configs": {"airl": {"generator": {"learning_rate": rate}}}}
            for name, rate in rates.items()
        }

    assert adversarial.PPO_DEFAULT_LEARNING_RATE == ppo.PPOConfig().learning_rate
    assert adversarial._airl_rate_text(classic({"CartPole-v1": 2.5e-3})) == ""
    text = adversarial._airl_rate_text(classic({"CartPole-v1": 2.5e-3, "MountainCar-v0": 1e-3}))
    assert "0.001 on MountainCar-v0" in text and "CartPole" not in text
    s = adversarial.settings(False)
    for name in adversarial.CLASSIC_STEPS:
        configs = adversarial.classic_configs(name, s)
        expected = adversarial.CLASSIC_AIRL_LEARNING_RATE.get(name, ppo.PPOConfig().learning_rate)
        assert configs["airl"].generator.learning_rate == expected
        assert configs["gail"].generator.learning_rate == ppo.PPOConfig().learning_rate


@pytest.mark.parametrize("count", ["1", "0", "-3"])
def test_fewer_than_two_seeds_are_refused_before_anything_runs(count, capsys):
    with pytest.raises(SystemExit):
        seeds.main(["--seeds", count])
    assert f"--seeds must be at least 2 (the interval needs a spread), got {count}" in (
        capsys.readouterr().err
    )


def test_jax_machine_is_the_machine_with_jax_and_the_load_now():
    import _report
    import jax

    record = _report.jax_machine(0.5, 90.0)
    assert record["jax"] == jax.__version__ and record["jax_backend"] == jax.default_backend()
    assert record["load_before"] == 0.5 and record["minutes"] == 1.5
    assert set(_report.machine(0.5, 0.0, 90.0)) | {"jax", "jax_backend"} == set(record)
