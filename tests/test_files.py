"""Atomic writes: a file is either complete or untouched, and no temporary file is left; a
results folder has one writer at a time."""

import json
import math

import pytest

from irlax._files import atomic_write, atomic_write_json, atomic_write_text, exclusive_folder


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


def test_a_folder_is_held_by_one_writer_at_a_time(tmp_path):
    folder = tmp_path / "results"
    with exclusive_folder(folder) as held:
        assert held == folder and folder.is_dir()
        with pytest.raises(ValueError, match=r"results is in use by another irlax run"):
            with exclusive_folder(folder):
                pass
    with exclusive_folder(folder):  # released when the holder is done
        pass


def test_a_command_refuses_a_results_folder_another_run_holds(tmp_path, capsys):
    from irlax.cli import main

    with exclusive_folder(tmp_path / "run"):
        argv = ["expert", "ppo", "--env", "CartPole-v1", "--out", str(tmp_path / "run")]
        assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("irlax expert ppo: error: ") and "in use by another irlax run" in err
    assert not (tmp_path / "run").exists()  # the holder made it and wrote nothing


def test_a_folder_made_for_a_refused_run_is_removed_and_others_are_kept(tmp_path):
    with pytest.raises(RuntimeError):
        with exclusive_folder(tmp_path / "new"):
            raise RuntimeError("refused before writing")
    assert not (tmp_path / "new").exists()
    (tmp_path / "old").mkdir()
    with exclusive_folder(tmp_path / "old"):
        pass
    with exclusive_folder(tmp_path / "used") as folder:
        (folder / "result.json").write_text("{}")
    assert (tmp_path / "old").is_dir() and (tmp_path / "used" / "result.json").exists()
