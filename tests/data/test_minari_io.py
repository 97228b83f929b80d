"""Minari I/O: round trips, datasets written by Minari's own DataCollector, clear errors."""

import gymnasium
import gymnax
import minari
import numpy as np
import pytest
from minari.data_collector import EpisodeBuffer
from minari.dataset._storages.hdf5_storage import HDF5Storage

from irlax.data import Trajectories, load_minari, save_minari


@pytest.fixture(autouse=True)
def datasets_root(tmp_path, monkeypatch):
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


def padded(episodes, obs_dtype, act_dtype):
    """Trajectories from `[(obs [L+1, ...], actions [L, ...], rewards [L])]`, padded as irlax
    pads: the last observation repeated, zero actions and rewards."""
    horizon = max(len(a) for _, a, _ in episodes)
    n = len(episodes)
    obs_shape, act_shape = np.shape(episodes[0][0])[1:], np.shape(episodes[0][1])[1:]
    obs = np.zeros((n, horizon + 1, *obs_shape), obs_dtype)
    act = np.zeros((n, horizon, *act_shape), act_dtype)
    rew = np.zeros((n, horizon))
    for i, (o, a, r) in enumerate(episodes):
        obs[i, : len(o)], obs[i, len(o) :] = o, o[-1]
        act[i, : len(a)], rew[i, : len(r)] = a, r
    lengths = np.array([len(a) for _, a, _ in episodes], np.int32)
    return Trajectories(obs, act, lengths, rew)


def random_episodes(rng, lengths, obs_shape, discrete_n=None, act_shape=(1,)):
    episodes = []
    for length in lengths:
        obs = rng.normal(size=(length + 1, *obs_shape)).astype(np.float32)
        if discrete_n:
            act = rng.integers(0, discrete_n, size=length)
        else:
            act = rng.uniform(-2, 2, size=(length, *act_shape)).astype(np.float32)
        episodes.append((obs, act, rng.normal(size=length)))
    return episodes


def assert_same(a, b):
    for name in ("observations", "actions", "lengths", "rewards"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_round_trip_discrete_actions_with_gymnax_spaces(datasets_root):
    env, params = gymnax.make("CartPole-v1")
    rng = np.random.default_rng(0)
    trajs = padded(random_episodes(rng, [3, 1, 5], (4,), discrete_n=2), np.float32, np.int32)
    terminated = np.array([True, False, True])
    spaces = {
        "observation_space": env.observation_space(params),
        "action_space": env.action_space(params),
    }
    path = save_minari(trajs, "irlax/cartpole-v0", terminated=terminated, **spaces)
    assert path == datasets_root / "irlax" / "cartpole-v0"
    back, back_terminated = load_minari("irlax/cartpole-v0", return_terminated=True)
    assert_same(back, trajs)
    np.testing.assert_array_equal(back_terminated, terminated)
    assert back.terminated is back_terminated  # the field holds the same array
    # Trajectories that carry their flags are exported with them, no argument needed.
    save_minari(back, "irlax/cartpole-v1", **spaces)
    again = load_minari("irlax/cartpole-v1")
    assert_same(again, trajs)
    np.testing.assert_array_equal(again.terminated, terminated)
    assert back.observations.dtype == np.float32
    # What Minari itself reads: per-step flags, totals and spaces.
    dataset = minari.load_dataset("irlax/cartpole-v0")
    assert (dataset.total_episodes, dataset.total_steps) == (3, 9)
    assert dataset.action_space == gymnasium.spaces.Discrete(2)
    episode = dataset[1]
    np.testing.assert_array_equal(episode.terminations, [False])
    np.testing.assert_array_equal(episode.truncations, [True])
    np.testing.assert_array_equal(dataset[2].terminations, [False] * 4 + [True])
    np.testing.assert_array_equal(dataset[2].truncations, [False] * 5)
    # The directory (or its data/ folder) loads as well as the id.
    assert_same(load_minari(path), trajs)
    assert_same(load_minari(path / "data"), trajs)


def test_round_trip_box_actions_with_a_gymnasium_env_id():
    rng = np.random.default_rng(1)
    trajs = padded(random_episodes(rng, [4, 2], (3,)), np.float32, np.float32)
    save_minari(trajs, "pendulum-v2", env_id="Pendulum-v1", description="random")
    back, terminated = load_minari("pendulum-v2", return_terminated=True)
    assert_same(back, trajs)
    assert not np.any(np.asarray(terminated))  # terminated=None: every episode truncated
    dataset = minari.load_dataset("pendulum-v2")
    assert dataset.env_spec.id == "Pendulum-v1"
    assert dataset.storage.metadata["description"] == "random"


@pytest.mark.filterwarnings("ignore:`eval_env` is set to None")
def test_load_a_dataset_written_by_minaris_data_collector():
    env = minari.DataCollector(gymnasium.make("CartPole-v1"))
    env.action_space.seed(0)
    recorded = []
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        observations, actions, rewards = [obs], [], []
        while True:
            action = env.action_space.sample()
            obs, reward, terminated, truncated, _ = env.step(action)
            observations.append(obs)
            actions.append(action)
            rewards.append(reward)
            if terminated or truncated:
                break
        recorded.append((np.array(observations), np.array(actions), np.array(rewards), terminated))
    env.create_dataset(
        dataset_id="cartpole/random-v0",
        algorithm_name="random",
        author="irlax tests",
        author_email="tests@example.org",
        code_permalink="https://example.org",
        description="random CartPole",
    )
    env.close()
    trajs, terminated = load_minari("cartpole/random-v0", return_terminated=True)
    assert trajs.n_trajectories == 3
    for i, (obs, actions, rewards, term) in enumerate(recorded):
        length = len(actions)
        assert int(trajs.lengths[i]) == length
        np.testing.assert_array_equal(trajs.observations[i, : length + 1], obs)
        np.testing.assert_array_equal(trajs.actions[i, :length], actions)
        np.testing.assert_array_equal(trajs.rewards[i, :length], rewards)
        assert bool(terminated[i]) == term == bool(trajs.terminated[i])
    assert len({len(r[1]) for r in recorded}) > 1  # variable lengths, padded


def test_save_errors(datasets_root):
    env, params = gymnax.make("CartPole-v1")
    spaces = {
        "observation_space": env.observation_space(params),
        "action_space": env.action_space(params),
    }
    rng = np.random.default_rng(2)
    trajs = padded(random_episodes(rng, [2, 3], (4,), discrete_n=2), np.float32, np.int32)
    with pytest.raises(ValueError, match="dataset_id must look like"):
        save_minari(trajs, "no-version", **spaces)
    with pytest.raises(ValueError, match="not a registered Gymnasium environment"):
        save_minari(trajs, "x-v0", env_id="NoSuchEnv-v9")
    with pytest.raises(ValueError, match="needs env_id, or both"):
        save_minari(trajs, "x-v0", observation_space=spaces["observation_space"])
    no_rewards = Trajectories(trajs.observations, trajs.actions, trajs.lengths)
    with pytest.raises(ValueError, match="rewards is None"):
        save_minari(no_rewards, "x-v0", **spaces)
    empty = Trajectories(trajs.observations, trajs.actions, np.array([2, 0]), trajs.rewards)
    with pytest.raises(ValueError, match="trajectory 1 has length 0"):
        save_minari(empty, "x-v0", **spaces)
    bad_actions = np.asarray(trajs.actions).copy()
    bad_actions[1, 2] = 5
    bad = Trajectories(trajs.observations, bad_actions, trajs.lengths, trajs.rewards)
    with pytest.raises(ValueError, match=r"actions must be in \[0, 2\).*index \(1, 2\)"):
        save_minari(bad, "x-v0", **spaces)
    with pytest.raises(ValueError, match=r"observations must have element shape \(3,\)"):
        save_minari(trajs, "x-v0", env_id="Pendulum-v1")
    with pytest.raises(ValueError, match="terminated must be bool"):
        save_minari(trajs, "x-v0", terminated=[1, 0], **spaces)
    flagged = trajs.replace(terminated=np.array([True, False]))
    with pytest.raises(ValueError, match=r"disagrees with trajs.terminated.*trajectory 1"):
        save_minari(flagged, "x-v0", terminated=np.array([True, True]), **spaces)
    assert not (datasets_root / "x-v0").exists()  # nothing written by a refused save
    save_minari(trajs, "x-v0", **spaces)
    with pytest.raises(ValueError, match="already exists"):
        save_minari(trajs, "x-v0", **spaces)
    assert_same(load_minari("x-v0"), trajs)  # the refused overwrite left it intact


def test_a_failed_write_leaves_no_partial_dataset(datasets_root, monkeypatch):
    env, params = gymnax.make("CartPole-v1")
    spaces = {
        "observation_space": env.observation_space(params),
        "action_space": env.action_space(params),
    }
    trajs = padded(random_episodes(np.random.default_rng(3), [2], (4,), 2), np.float32, np.int32)

    def disk_full(self, episodes):
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(HDF5Storage, "update_episodes", disk_full)
        with pytest.raises(OSError, match="disk full"):
            save_minari(trajs, "y-v0", **spaces)
    assert not (datasets_root / "y-v0").exists()
    save_minari(trajs, "y-v0", **spaces)
    assert_same(load_minari("y-v0"), trajs)


@pytest.mark.filterwarnings("ignore:`eval_env` is set to None", "ignore:env_spec is None")
def test_load_errors(datasets_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloads"):
        load_minari("D4RL/door/human-v2")
    # A dataset with a Dict observation space, written through Minari directly.
    obs_space = gymnasium.spaces.Dict({"x": gymnasium.spaces.Box(-1, 1, (2,))})
    buffer = EpisodeBuffer(
        observations={"x": np.zeros((3, 2), np.float32)},
        actions=np.zeros(2, np.int64),
        rewards=[0.0, 0.0],
        terminations=[False, True],
        truncations=[False, False],
    )
    minari.create_dataset_from_buffers(
        "dict-v0",
        [buffer],
        observation_space=obs_space,
        action_space=gymnasium.spaces.Discrete(2),
        algorithm_name="none",
        author="a",
        author_email="a@b.c",
        code_permalink="https://example.org",
        description="dict observations",
    )
    with pytest.raises(ValueError, match="observation space must be a Discrete or Box space"):
        load_minari("dict-v0")
    corrupt = tmp_path / "corrupt" / "data"
    corrupt.mkdir(parents=True)
    (corrupt / "metadata.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a readable Minari dataset"):
        load_minari(corrupt.parent)
