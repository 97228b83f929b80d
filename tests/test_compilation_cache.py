"""The persistent compilation cache: loaded programs give the same bits as compiled ones; a
corrupt cache, one of another JAX version or one that cannot be written never breaks a run;
a second `irlax` command loads its programs instead of compiling them."""

import os
from pathlib import Path

import jax
import jax._src.cache_key
import numpy as np
import pytest

from irlax import compilation_cache
from irlax.cli import main
from irlax.envs import gridworld
from irlax.mdp import soft_value_iteration


@pytest.fixture
def counted(monkeypatch):
    """`count(name)` of the cache hits and misses since the last `jax.clear_caches()` in this
    test, with every program written however fast it compiles; restores the suite's cache."""
    from jax import monitoring

    before = jax.config.jax_compilation_cache_dir
    min_seconds = jax.config.jax_persistent_cache_min_compile_time_secs
    monkeypatch.setattr(compilation_cache, "MIN_COMPILE_SECONDS", 0.0)
    counts = {"hits": 0, "misses": 0}

    def listen(event, **kwargs):
        for name in counts:
            counts[name] += event == f"/jax/compilation_cache/cache_{name}"

    def fresh():
        jax.clear_caches()  # a new process would start with no program in memory
        counts.update(hits=0, misses=0)
        return counts

    monitoring.register_event_listener(listen)
    yield fresh
    monitoring.unregister_event_listener(listen)
    jax.clear_caches()
    compilation_cache.enable(before or "off")
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_seconds)


def _plan_bits(folder, counted) -> tuple[dict, bytes]:
    """Soft value iteration on a gridworld with the cache in `folder` (or off): the cache's
    hits and misses, and the bits of the plan."""
    counts = counted()
    compilation_cache.enable(folder)
    mdp = gridworld(4, 5, slip=0.1, horizon=None, discount=0.9)
    plan = soft_value_iteration(mdp, -np.arange(mdp.n_states) / 10.0, temperature=0.5)
    return dict(counts), np.asarray(plan.log_policy).tobytes()


def test_loaded_programs_equal_compiled_ones_and_a_bad_cache_falls_back(
    tmp_path, counted, monkeypatch
):
    folder = tmp_path / "cache"
    _, uncached = _plan_bits("off", counted)
    cold, cold_bits = _plan_bits(folder, counted)
    warm, warm_bits = _plan_bits(folder, counted)
    assert cold["hits"] == 0 and cold["misses"] > 0
    assert warm == {"hits": cold["misses"], "misses": 0}
    assert uncached == cold_bits == warm_bits

    # Corrupt every entry: JAX reports each and compiles it afresh, to the same answer.
    entries = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    assert entries
    for entry in entries:
        data = entry.read_bytes()
        entry.write_bytes(bytes(b ^ 0xFF for b in data[: len(data) // 2]))
    with pytest.warns(UserWarning, match="Error reading persistent compilation cache entry"):
        corrupt, corrupt_bits = _plan_bits(folder, counted)
    assert corrupt["hits"] == 0 and corrupt_bits == uncached

    # Another JAX version's keys differ: it finds nothing here, compiles, same answer.
    monkeypatch.setattr(jax._src.cache_key, "jaxlib_version_str", "0.0.0+another")
    other, other_bits = _plan_bits(folder, counted)
    assert other["hits"] == 0 and other["misses"] > 0 and other_bits == uncached


def test_a_folder_that_cannot_be_written_leaves_the_cache_off(tmp_path):
    before = jax.config.jax_compilation_cache_dir
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.warns(RuntimeWarning, match="compilation cache off: cannot write to"):
        assert compilation_cache.enable(blocker / "cache") is None
    if os.geteuid() != 0:  # root writes into read-only folders
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        with pytest.warns(RuntimeWarning, match="cannot write"):
            assert compilation_cache.enable(locked) is None
    assert jax.config.jax_compilation_cache_dir == before  # the earlier cache is kept


def test_the_default_folder_and_the_variable_that_overrides_it(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compilation_cache.default_folder() == tmp_path / "irlax" / "jax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert compilation_cache.default_folder() == Path.home() / ".cache" / "irlax" / "jax"


def test_a_second_command_loads_its_programs_instead_of_compiling(tmp_path, counted):
    argv = ["expert", "ppo", "--env", "CartPole-v1", "--total-steps", "128", "--num-envs", "2"]
    argv += ["--rollout-length", "16", "--update-epochs", "1", "--hidden", "8", "--episodes", "1"]
    cache = ["--jax-cache", str(tmp_path / "cache")]
    runs = {}
    with jax.enable_x64(False):
        for run in ("first", "second"):
            counts = counted()
            assert main([*cache, *argv, "--out", str(tmp_path / run)]) == 0
            runs[run] = dict(counts)
    assert runs["first"]["misses"] > 0
    assert runs["second"]["misses"] == 0 and runs["second"]["hits"] >= runs["first"]["misses"]
    params = [(tmp_path / run / "params.msgpack").read_bytes() for run in runs]
    assert params[0] == params[1]
