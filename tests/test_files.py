"""Atomic writes: a file is either complete or untouched, and no temporary file is left."""

import json
import math

import pytest

from irlax._files import atomic_write, atomic_write_json, atomic_write_text


def test_text_and_json_round_trip_and_replace(tmp_path):
    path = tmp_path / "a.json"
    atomic_write_json(path, {"x": 1.5, "name": "é"})
    atomic_write_json(path, {"x": float("nan")}, allow_nan=True)
    assert math.isnan(json.loads(path.read_text())["x"])  # replaced, NaN as written
    atomic_write_text(tmp_path / "b.txt", "ligne é\n")
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == "ligne é\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.txt"]


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path):
    path = tmp_path / "report.txt"
    atomic_write_text(path, "old\n")

    def half_then_fail(f):
        f.write(b"new, half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half_then_fail)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]
