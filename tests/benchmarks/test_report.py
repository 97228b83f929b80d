"""The benchmark reports are rendered from their JSON, and their conclusions follow the numbers."""

import copy
import json
import math
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import _report  # noqa: E402
import irl_speed  # noqa: E402
import numpy as np  # noqa: E402
import render as render_all  # noqa: E402
import rust_bus  # noqa: E402
import tabular_planning  # noqa: E402


def test_agreement_says_agrees_below_the_tolerance_and_differs_above():
    assert _report.agreement(2.3e-15, 1e-10) == "agrees to 1e-14"
    assert _report.agreement(0.0, 1e-10) == "agrees to 0"
    assert _report.agreement(1e-13, 1e-10) == "agrees to 1e-13"
    assert "differs by 3e-03" in _report.agreement(3e-3, 1e-10)


def test_speed_picks_faster_or_slower_from_the_times():
    assert _report.speed(1.0, 13.0, "SB3") == "13× faster than SB3"
    assert _report.speed(2.0, 1.0, "SB3") == "2× slower than SB3"
    assert _report.speed(1.0, 1.001) == "as fast"


def test_one_format_per_kind_of_number():
    assert _report.ratio(555.4) == "555×"
    assert _report.ratio(2.8234) == "2.82×"
    assert _report.ratio(None) == "—"
    assert _report.percent(9.8412, 9.7558) == "+0.88%"
    assert _report.verdict(True) == "met"
    assert _report.verdict(False) == "**missed**"
    assert _report.table(["a", "b"], [[1, "x"]]) == ["| a | b |", "|---|---|", "| 1 | x |"]


def _planning_record(errors=(5e-14, 4e-15, 2e-13), offset=0.0):
    policy, occupancy, value = errors
    return {
        "benchmark": "tabular_planning",
        "machine": {"platform": "x86_64", "cpu": "cpu", "jax": "0", "jax_backend": "cpu"},
        "slip": 0.1,
        "value_offset_per_step": offset,
        "side_by_side": [
            {
                "size": 32,
                "peer": {"seconds": 0.2, "peak_rss_gb": 0.4},
                "irlax64": {"seconds": 0.004, "first_call_seconds": 0.3, "peak_rss_gb": 0.3},
                "irlax32": {"seconds": 0.002},
                "errors": {"policy": policy, "occupancy": occupancy, "value": value},
            }
        ],
        "alone": [],
    }


def test_the_planning_report_is_a_table_of_the_json_with_computed_conclusions():
    text = tabular_planning.render(_planning_record())
    assert "| 32×32 | 1024 | 0.200 | 0.0040 | 50× | 0.0020 | 100× | 0.30 " in text
    assert "5.0e-14 / 4.0e-15 / 2.0e-13" in text
    assert "irlax agrees to 1e-12 with imitation" in text
    assert "is 50× to 50× faster" in text
    assert "values, policies and occupancies compare as they are" in text


def test_the_planning_conclusions_flip_when_the_numbers_do():
    text = tabular_planning.render(_planning_record(errors=(5e-14, 0.02, 2e-13)))
    assert "agrees" not in text
    assert "differs by 2e-02" in text
    text = tabular_planning.render(_planning_record(offset=math.log(5)))
    assert "uniform action prior" in text
    assert "compared after adding (H − t)·log A" in text


def test_the_rust_bus_target_verdict_follows_the_measurements():
    record = json.loads((BENCHMARKS / "results" / "rust_bus.json").read_text())
    assert "1 s a fit): met.**" in rust_bus.render(record)
    slow = copy.deepcopy(record)
    slow["irlax"]["cases"][0]["seconds"]["warm"] = 1.5
    assert "1 s a fit): **missed**.**" in rust_bus.render(slow)
    far = copy.deepcopy(record)
    far["irlax"]["cases"][0]["RC"] *= 1.05
    assert "1 s a fit): **missed**.**" in rust_bus.render(far)
    apart = copy.deepcopy(record)
    static = next(c for c in apart["irlax"]["cases"] if c["key"] == "g4:0")
    static["variants"]["rust_theta3"]["RC"] *= 1.01
    assert "**differ by up to 1%**" in rust_bus.render(apart)


def _irl_speed_record():
    return json.loads((BENCHMARKS / "results" / "irl_speed.json").read_text())


def _difference(world, key):
    return next(d for d in world["differences"] if d["key"] == key)


def test_the_irl_speed_checks_and_the_s_h_conclusion_follow_the_numbers():
    record = _irl_speed_record()
    text = irl_speed.render(record)
    assert "irlax planner vs imitation: agrees to 1e-14 (a check)" in text
    assert text.count("so counting s_H is the whole difference") == 2
    assert "econirl's float32 and its root finder's tolerance: agrees to 1e-7" in text
    apart = copy.deepcopy(record)
    _difference(apart["worlds"][0], "c_vs_imitation")["max"] = 3e-3
    _difference(apart["worlds"][1], "econirl_default_vs_b_star")["max"] = 2e-5
    text = irl_speed.render(apart)
    assert "irlax planner vs imitation: **differs by 3e-03" in text
    assert (
        "**Counting s_H is not the whole difference between irlax and imitation: C does not" in text
    )
    assert text.count("so counting s_H is the whole difference") == 1
    assert "root finder's tolerance: **differs by 2e-05" in text


def test_the_irl_speed_values_note_follows_the_measured_prior_and_terminal_states():
    record = _irl_speed_record()
    assert "its occupancies and weights do not" in irl_speed.render(record)
    plain = copy.deepcopy(record)
    plain["value_offset_per_step"] = 0.0
    assert "values, policies and occupancies compare as they are" in irl_speed.render(plain)
    ending = copy.deepcopy(record)
    ending["worlds"][0]["info"]["n_terminal"] = 3
    assert "3 terminal states, where the prior's −log A per step is a living cost" in (
        irl_speed.render(ending)
    )


def _irl_speed_runs(seed=0, n_states=6, n_features=2, horizon=irl_speed.HORIZON):
    """What `compare_world` collects, with made-up numbers and arrays."""
    rng = np.random.default_rng(seed)

    def occ():
        return rng.dirichlet(np.ones(n_states)) * horizon

    def irlax_run(references):
        run = {
            "first_seconds": 3.0,
            "warm_seconds": 0.3,
            "n_steps": 100,
            "dtype": "float64",
            "objective_option": "auto",
            "objective": "dual",
            "peak_rss_gb": 0.5,
            "arrays": {"theta": rng.normal(size=n_features), "occupancy": occ()},
        }
        run["arrays"]["occupancy_with_final"] = run["arrays"]["occupancy"] + occ() / horizon
        if references:
            for name in ("c", "likelihood", "likelihood_converged", "dual_converged"):
                run["arrays"][f"{name}_occupancy"] = occ()
                run["arrays"][f"{name}_theta"] = rng.normal(size=n_features)
            for name in ("likelihood", "likelihood_converged", "dual_converged"):
                run[f"{name}_seconds"] = {"first": 2.0, "warm": 0.5}
            run["likelihood_converged_steps"] = run["dual_converged_steps"] = 12
            run["value_offset_per_step"] = 0.0
        return run

    imitation = {
        "steps": 100,
        "seconds": {"total": 20.0, "per_step_median": 0.2},
        "peak_rss_gb": 0.4,
        "bias": 1e-6,
        "occupancy_first_h": occ(),
        "occupancy": occ() * (horizon + 1) / horizon,
        "weights": rng.normal(size=n_features).tolist(),
    }
    econirl = {
        "iterations": 17,
        "seconds": {"first": 10.0, "warm": 6.0},
        "peak_rss_gb": 0.5,
        "occupancy": occ().tolist(),
        "occupancy_with_final": occ().tolist(),
        "weights": rng.normal(size=n_features).tolist(),
    }
    demo = rng.dirichlet(np.ones(n_states), size=horizon + 1)
    return {
        "world": "objectworld",
        "info": {
            "S": n_states,
            "A": 5,
            "K": 5,
            "F": n_features,
            "n_demos": 8,
            "n_start_states": 4,
            "n_terminal": 0,
        },
        "description": "made up",
        "lr": 0.01,
        "irlax64": irlax_run(True),
        "irlax32": irlax_run(False),
        "irlax64_1t": irlax_run(False),
        "imitation": imitation,
        "imitation_1t": copy.deepcopy(imitation),
        "econirl_default": econirl,
        "econirl_adam": {"failed": "exit status 124 (timeout 124)"},
        "demo_occupancy": demo,
        "features": rng.normal(size=(n_states, n_features)),
        "true_weights": None,
    }


def test_a_fresh_irl_speed_record_renders_its_distances_and_states_what_tests_prove():
    runs = _irl_speed_runs()
    occupancy, c = runs["irlax64"]["arrays"]["occupancy"], runs["irlax64"]["arrays"]["c_occupancy"]
    world = irl_speed.world_record(runs)
    world["irlax"]["float64"].pop("value_offset_per_step")
    record = {**_irl_speed_record(), "worlds": [world], "value_offset_per_step": 0.0}
    record.pop("source")
    json.dumps(record)  # JSON-able as saved
    irlax_vs_c = _difference(world, "irlax_vs_c")
    assert irlax_vs_c["max"] == np.abs(occupancy - c).max()
    assert irlax_vs_c["l1_per_step"] == np.abs(occupancy - c).sum() / irl_speed.HORIZON
    text = irl_speed.render(record)
    assert f"| irlax vs C | {irlax_vs_c['max']:.1e} / {irlax_vs_c['l1_per_step']:.1e} |" in text
    assert "test_maxent_references.py` proves both" in text
    assert "B\\*" not in text and "| econirl, Adam (at most 100 steps, best iterate) | — |" in text
    # The made-up C is not imitation: the report says so instead of blaming s_H.
    assert "C does not reproduce imitation" in text


def test_save_writes_the_json_and_the_report_rendered_from_it(tmp_path):
    record = _planning_record()
    text = _report.save(record, tabular_planning.render, tmp_path / "x.json")
    assert json.loads((tmp_path / "x.json").read_text()) == record
    assert (tmp_path / "x.md").read_text() == text == tabular_planning.render(record)


@pytest.mark.parametrize("path", sorted((BENCHMARKS / "results").glob("*.json")), ids=str)
def test_every_committed_report_is_its_json_rendered(path, tmp_path):
    """No report is edited by hand: re-rendering each JSON gives the committed markdown."""
    copy_path = tmp_path / path.name
    copy_path.write_text(path.read_text())
    assert render_all.render_all([copy_path]) == [copy_path.with_suffix(".md")]
    assert copy_path.with_suffix(".md").read_text() == path.with_suffix(".md").read_text()


def _rl_record(irlax_compile=2.0, warm_compile=0.3):
    """A made-up `benchmarks/rl.py` record, PPO only, with SBX and irlax's warm-cache runs."""

    def irlax(compile_seconds):
        return {
            "setup_seconds": 0.5,
            "compile_seconds": compile_seconds,
            "run_seconds": 1.0,
            "process_seconds": 9.0,
            "cache_hits": 3,
            "cache_misses": 0,
        }

    def peer(learn, jit=None):
        run = {"steps": 25_600, "steps_run": 25_608, "setup_seconds": 1.5, "learn_seconds": learn}
        if jit is not None:
            run |= {"setup_jit_seconds": 1.0, "learn_jit_seconds": jit}
        return {"runs": [run]}

    seeds = {"seeds": [{"steps": 25_600}]}
    ppo = {
        "target": 475.0,
        "window": 1,
        "budget": 100_000,
        "env": "CartPole-v1",
        "search": {"1": seeds, "n": seeds},
        "updates": {"1": 100, "n": 100},
        "irlax": {"1": [irlax(irlax_compile)] * 3, "n": [irlax(irlax_compile)] * 3},
        "irlax_warm": {"1": [irlax(warm_compile)] * 3, "n": [irlax(warm_compile)] * 3},
        "reproduces": {"1": [0.0], "n": [0.0]},
        "sb3": [peer(20.0)] * 3,
        "sbx": [peer(9.0, jit=3.0)] * 3,
        "irlax_config": {"num_envs": 8, "rollout_length": 32},
    }
    return {
        "benchmark": "rl",
        "machine": {
            "platform": "x86_64",
            "cpu": "cpu",
            "cores": 2,
            "load_before": 0.1,
            "load_after": 0.2,
            "minutes": 5,
            "python": "3.11",
            "jax": "0",
            "jax_backend": "cpu",
            "torch_threads": 2,
            "xla_flags": "",
            "sbx": "0.28.0",
        },
        "sources": "irlax: made up.",
        "args": {"quick": False, "repeats": 3, "seeds": 1},
        "results": {"ppo": ppo},
    }


def test_the_rl_report_splits_sbx_warm_up_off_and_judges_the_cache_targets():
    import rl

    text = rl.render(_rl_record())
    # irlax: setup 0.5 + compile 2 + run 1 = 3.5 cold, 0.5 + 0.3 + 1 = 1.8 warm.
    assert "| irlax, 1 seed | 25,600 | 0.50 | 2.00 | 1.000 | 3.50 | 1.80 |" in text
    # SBX: setup 1.5 less its 1 s of jit, compile 1 + 3, learn 9 less 3; total 1.5 + 9 as measured.
    assert "| SBX, 1 seed | 25,600 | 0.50 | 4.00 | 6.00 | 10.50 | 10.50 |" in text
    assert "| SB3, 1 seed | 25,600 | 1.50 | — | 20.00 | 21.50 | 21.50 |" in text
    # Ratios: SB3 run 20/1, total 21.5/3.5, warm 21.5/1.8; SBX total 10.5/3.5 = 3.
    assert "| SB3, 1 seed | **20×** | **6.14×** | **12×** |" in text
    assert "| SBX, 1 seed | **6×** | **3×** | **5.83×** |" in text
    assert "| PPO, SBX ÷ irlax, compilation included, cold cache | ≥ 2× | 3× | met |" in text
    assert "irlax's cache warm | ≥ 8× | 12× | met |" in text
    slow = rl.render(_rl_record(irlax_compile=5.0, warm_compile=2.0))
    # cold total 6.5: SBX 10.5/6.5 = 1.62×; warm 3.5: SB3 21.5/3.5 = 6.14×.
    assert "| PPO, SBX ÷ irlax, compilation included, cold cache | ≥ 2× | 1.62× | **missed** |" in (
        slow
    )
    assert "irlax's cache warm | ≥ 8× | 6.14× | **missed** |" in slow


def test_an_rl_record_without_sbx_or_a_warm_cache_renders_without_their_columns():
    import rl

    record = _rl_record()
    for key in ("sbx", "irlax_warm"):
        record["results"]["ppo"].pop(key)
    text = rl.render(record)
    assert "SBX" not in text and "warm" not in text
    assert "| run | env steps to target | setup s | compile s | run s | total s |" in text


def _three_times_record(first=(5.0, 1.0), second=(0.5, 0.5)):
    def run(first_seconds, second_seconds):
        return {
            "setup_seconds": 1.0,
            "first_seconds": first_seconds,
            "second_seconds": second_seconds,
            "cache_hits": 4,
            "cache_misses": 0,
            "process_seconds": first_seconds + 6,
        }

    runs = [
        {"cold": run(first[0], second[0]), "warm": run(first[1], second[1]), "cache_entries": 4}
    ] * 3
    return {
        "benchmark": "three_times",
        "command": "python benchmarks/three_times.py",
        "repeats": 3,
        "programs": {"ppo": "made up", "bc": "made up"},
        "runs": {"ppo": runs, "bc": [{**r, "warm": run(2.5, 0.5)} for r in runs]},
        "machine": {
            "platform": "x86_64",
            "cpu": "cpu",
            "cores": 2,
            "load_before": 0.1,
            "load_after": 0.2,
            "minutes": 1,
            "python": "3.11",
            "jax": "0",
            "jax_backend": "cpu",
        },
        "sources": "irlax: made up.",
    }


def test_the_three_times_report_is_compile_run_and_warm_total_from_the_json():
    import three_times

    text = three_times.render(_three_times_record())
    # compile = first − second call of the cold process; total warm = the warm first call.
    assert "| ppo | 4.50 | 0.500 | 5.00 | **1.00** | 5× | 11.0 / 7.0 | 4 / 0 (4) |" in text
    assert "| bc | 4.50 | 0.500 | 5.00 | **2.50** | 2× | 11.0 / 8.5 | 4 / 0 (4) |" in text
    assert "by 2× (bc) to 5× (ppo)" in text
