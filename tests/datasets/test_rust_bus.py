"""Rust (1987) bus data: the file's counts, the first stage, and the MDP of Rust's model."""

import dataclasses
from importlib import resources

import numpy as np
import pytest

from irlax.datasets import RustBus, rust_bus
from irlax.datasets.rust_bus import _load_table

# Rust (1987) and the data README: group -> (buses, months per bus, replacements).
GROUP_COUNTS = {1: (15, 25, 0), 2: (4, 49, 0), 3: (48, 70, 27), 4: (37, 117, 33)}


def _as_numpy(data: RustBus):
    t = data.trajectories
    return np.asarray(t.observations), np.asarray(t.actions), np.asarray(t.lengths)


def _reference_increments(data: RustBus) -> np.ndarray:
    """The first stage by a plain loop: keep x -> x' gives x' - x, replace gives x' - 0."""
    obs, act, lengths = _as_numpy(data)
    increments = []
    for i, length in enumerate(lengths):
        for t in range(length):
            start = 0 if act[i, t] == 1 else obs[i, t]
            increments.append(obs[i, t + 1] - start)
    return np.asarray(increments)


@pytest.mark.parametrize("group", [1, 2, 3, 4])
def test_group_counts_match_rust(group):
    buses, months, replacements = GROUP_COUNTS[group]
    data = rust_bus((group,))
    obs, act, lengths = _as_numpy(data)
    assert data.groups == (group,)
    assert obs.shape == (buses, months) and act.shape == (buses, months - 1)
    np.testing.assert_array_equal(lengths, months - 1)
    np.testing.assert_array_equal(data.bus_groups, group)
    # No bus is replaced in its last month, so dropping that month loses no replacement.
    assert int(act.sum()) == replacements
    assert obs.dtype == np.int32 and act.dtype == np.int32
    assert set(np.unique(act)) <= {0, 1}


def test_all_groups_give_rusts_sample_sizes():
    data = rust_bus()
    obs, _, lengths = _as_numpy(data)
    assert data.groups == (1, 2, 3, 4)
    assert obs.shape[0] == 104 and int((lengths + 1).sum()) == 8260
    assert data.n_transitions == 8156
    assert rust_bus(4).n_transitions == 4292
    np.testing.assert_array_equal(data.bus_ids, np.arange(1, 105))


def test_states_reproduce_the_files_mileage_bins():
    table = _load_table()
    obs, _, lengths = _as_numpy(rust_bus())
    states = np.concatenate([obs[i, : n + 1] for i, n in enumerate(lengths)])
    np.testing.assert_array_equal(states, table["mileage_bin"])
    assert states.max() == 77


def test_bins_from_cumulative_mileage_restart_at_each_replacement():
    """Brute force from the odometer column, at a bin size other than the file's."""
    table = _load_table()
    data = rust_bus(bin_size=2500, n_bins=200)
    obs, _, lengths = _as_numpy(data)
    expected, base, previous_bus = [], 0, None
    columns = (table["bus_id"], table["miles"], table["replaced"])
    for bus, miles, replaced in zip(*columns, strict=True):
        if bus != previous_bus:
            base, previous_bus = 0, bus
        expected.append((miles - base) // 2500)
        if replaced:
            base = miles  # the next month counts from the replacement month's reading
    states = np.concatenate([obs[i, : n + 1] for i, n in enumerate(lengths)])
    np.testing.assert_array_equal(states, expected)
    np.testing.assert_array_equal(data.mileage_increments, np.bincount(_reference_increments(data)))


@pytest.mark.parametrize("groups", [(1, 2, 3, 4), (4,), (3,), (1, 2)])
def test_first_stage_counts_every_transition(groups):
    data = rust_bus(groups)
    reference = _reference_increments(data)
    assert reference.min() >= 0 and reference.size == data.n_transitions
    np.testing.assert_array_equal(data.mileage_increments, np.bincount(reference))
    assert data.mileage_increments.sum() == data.n_transitions
    np.testing.assert_allclose(data.transition_probs.sum(), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(
        data.transition_probs, data.mileage_increments / data.n_transitions, rtol=1e-15
    )


def test_first_stage_is_close_to_table_ix():
    """Pinned counts; within 0.01 of Table IX's θ30, θ31 (the file's post-replacement bins
    differ from Rust's; see the `rust_bus` docstring)."""
    all_groups, group_4 = rust_bus(), rust_bus(4)
    np.testing.assert_array_equal(all_groups.mileage_increments, [2892, 5171, 93])
    np.testing.assert_array_equal(group_4.mileage_increments, [1710, 2527, 55])
    np.testing.assert_allclose(all_groups.transition_probs[:2], [0.3489, 0.6394], atol=0.01)
    np.testing.assert_allclose(group_4.transition_probs[:2], [0.3919, 0.5953], atol=0.01)
    # Rust's θ32 = 0.0128 for group 4 comes from the same 55 two-bin increments.
    assert round(float(group_4.transition_probs[2]), 4) == 0.0128


def test_mdp_is_rusts_regenerative_model():
    data = rust_bus(4)
    theta3 = data.transition_probs
    mdp = data.mdp()
    assert (mdp.n_states, mdp.n_actions, mdp.n_successors) == (90, 2, 3)
    assert mdp.horizon is None and mdp.discount == 0.9999

    dense = np.asarray(mdp.dense_transitions())
    expected = np.zeros((90, 2, 90))
    for x in range(90):
        for j, p in enumerate(theta3):
            expected[x, 0, min(x + j, 89)] += p
            expected[x, 1, min(j, 89)] += p
    np.testing.assert_allclose(dense, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dense.sum(-1), 1.0, rtol=0, atol=1e-12)
    # Replacing regenerates: every state then has the distribution of keeping from bin 0.
    np.testing.assert_allclose(dense[:, 1], np.broadcast_to(dense[0, 0], (90, 90)), atol=0)

    obs, _, _ = _as_numpy(data)
    np.testing.assert_allclose(
        np.asarray(mdp.init), np.bincount(obs[:, 0], minlength=90) / obs.shape[0], atol=1e-15
    )


def test_features_give_rusts_utility():
    """features @ (θ11, RC): keep -> -0.001·θ11·x, replace -> -RC (Table IX's linear cost)."""
    mdp = rust_bus().mdp()
    features = np.asarray(mdp.features)
    assert features.shape == (90, 2, 2)
    theta11, rc = 2.6275, 9.7558
    reward = features @ np.array([theta11, rc])
    x = np.arange(90)
    np.testing.assert_allclose(reward[:, 0], -0.001 * theta11 * x, rtol=1e-15, atol=0)
    np.testing.assert_allclose(reward[:, 1], -rc, rtol=1e-15)


def test_mdp_accepts_published_transition_probs_and_discount():
    data = rust_bus(4)
    mdp = data.mdp(discount=0.0, transition_probs=(0.3919, 0.5953, 0.0128))
    assert mdp.discount == 0.0
    np.testing.assert_allclose(np.asarray(mdp.probs)[5, 0], [0.3919, 0.5953, 0.0128])
    # A longer distribution is fine; mass past the last bin stays there.
    four = data.mdp(transition_probs=[0.25] * 4)
    dense = np.asarray(four.dense_transitions())
    np.testing.assert_allclose(dense[88, 0, 88:], [0.25, 0.75])


@pytest.mark.parametrize("bad", [[0.5, 0.6], [[0.5, 0.5]], [], [1.2, -0.2], [np.nan, 1.0]], ids=str)
def test_mdp_rejects_bad_transition_probs(bad):
    with pytest.raises(ValueError, match="transition_probs"):
        rust_bus(4).mdp(transition_probs=bad)


def test_mdp_rejects_undiscounted_infinite_horizon():
    with pytest.raises(ValueError, match="discount"):
        rust_bus(4).mdp(discount=1.0)


def test_groups_are_normalised():
    assert rust_bus(4).groups == (4,)
    assert rust_bus([3, 1, 3]).groups == (1, 3)
    assert rust_bus(np.array([4, 2])).groups == (2, 4)
    np.testing.assert_array_equal(rust_bus((4, 3)).bus_ids, rust_bus((3, 4)).bus_ids)


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ((), "at least one"),
        ((0,), "unknown group"),
        ((1, 5), r"unknown group\(s\) \[5\]"),
        (("1",), "integers"),
        ("1234", "string"),
        ((1.0,), "integers"),
        ((True,), "integers"),
        (None, "collection"),
    ],
    ids=str,
)
def test_bad_groups_raise(groups, message):
    with pytest.raises(ValueError, match=f"groups.*{message}"):
        rust_bus(groups)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bin_size": 0}, "bin_size"),
        ({"bin_size": 5000.0}, "bin_size"),
        ({"n_bins": 1}, "n_bins"),
        ({"n_bins": 77}, r"n_bins=77 is too small.*n_bins >= 78"),
        ({"bin_size": 2500}, r"n_bins >= 156"),
    ],
    ids=str,
)
def test_bad_binning_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rust_bus(**kwargs)


def test_smallest_sufficient_n_bins_works():
    mdp = rust_bus(n_bins=78).mdp()
    assert mdp.n_states == 78


def test_dataset_is_frozen_and_ships_its_attribution():
    data = rust_bus(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.groups = (2,)
    folder = resources.files("irlax.datasets").joinpath("data")
    assert "Pranjal Rawat" in folder.joinpath("LICENSE-econirl").read_text(encoding="utf-8")
    readme = folder.joinpath("README.md").read_text(encoding="utf-8")
    assert "Econometrica" in readme and "econirl" in readme and "9.7558" in readme
