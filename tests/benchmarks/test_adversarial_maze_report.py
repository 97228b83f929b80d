"""The maze section of `adversarial.md`: one set of transfer rows per learner (PPO, and SAC
where the record has it), each with its own targets; records written before SAC render as
before."""

import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import adversarial


def _runs(reach: float, seeds: int = 2) -> dict:
    evals = [{"reach": reach, "return": -10.0}] * seeds
    return {"compile_seconds": 1.0, "run_seconds": 2.0, "curve": [], "right": evals}


def _record() -> dict:
    transfer = {"true": _runs(1.0), "airl": _runs(0.0), "gail": _runs(0.0)}
    irl = {
        m: {"planner_reach": {"left": [True, True], "right": [m == "airl", False]}}
        for m in ("airl", "gail")
    }
    maze = {
        "expert": {"right": {"reach": 0.0, "return": -45.0}},
        "irl": {m: {**irl[m], "right": _runs(0.0)["right"]} for m in irl},
        "transfer": transfer,
        "transfer_sac": {**copy.deepcopy(transfer), "airl": _runs(0.75)},
    }
    return {"maze": maze}


def _target_rows(record: dict) -> dict:
    rows = {}
    for line in adversarial._targets(record):
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and "maze" in cells[0]:
            rows[cells[0]] = (cells[2], cells[3])
    return rows


def test_each_learner_has_its_own_maze_targets():
    rows = _target_rows(_record())
    ppo = "PPO on AIRL's state-only reward reaches the goal in the right maze (reach rate)"
    sac = "SAC on AIRL's state-only reward reaches the goal in the right maze (reach rate)"
    assert rows[ppo] == ("0%", "**missed**")
    assert rows[sac] == ("75%", "met")
    assert rows["(reference) SAC on the true reward reaches the goal in the right maze"] == (
        "100%",
        "met",
    )


def test_table_rows_name_the_learner_and_a_record_without_sac_has_none():
    record = _record()
    learners = [row[0] for row in adversarial._maze_rows(record["maze"])]
    assert learners.count("PPO from scratch") == 3
    assert learners.count("SAC from scratch") == 3
    del record["maze"]["transfer_sac"]
    assert "SAC from scratch" not in [row[0] for row in adversarial._maze_rows(record["maze"])]
    assert not any(k.startswith("SAC") for k in _target_rows(record))
