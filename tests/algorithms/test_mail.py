"""MAIL (Harmer et al. 2018): the loss equals a hand computation, the joint Q's maximum
decomposes over the action groups (brute force), the imitation gradient is softmax minus the
expert's one-hot, imitation makes TD learning on KeyDoor faster, vmap equals a loop, same
key same result, and bad input is refused by name."""

import dataclasses
import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.algorithms import mail
from irlax.algorithms._deep import ExpertTransitions
from irlax.data import Trajectories, episode_returns, rollout
from irlax.envs import KeyDoor, PointMaze, make
from irlax.envs.key_door import expert
from irlax.nets.policies import MultiCategorical
from irlax.rl.replay import ReplayBuffer

ENV = KeyDoor()
PARAMS = ENV.default_params


@functools.cache
def _demos():
    """The expert's episodes (the program of test_key_door's rollout: compiled once)."""
    return rollout(ENV, expert, 300, jax.random.key(1), PARAMS)


def _as_float32(demos):
    return Trajectories(
        demos.observations.astype(jnp.float32),
        demos.actions,
        demos.lengths,
        demos.rewards.astype(jnp.float32),
        demos.terminated,
    )


def _linear_heads(nvec):
    return mail.QHeads(MultiCategorical(nvec), False, ())


def _log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


@pytest.mark.parametrize("loss", ["mse", "huber"])
def test_the_loss_equals_a_hand_computation(loss):
    nvec, dim = (3, 2), 4
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(dim, 5)), rng.normal(size=5)
    w_bar, b_bar = rng.normal(size=(dim, 5)), rng.normal(size=5)
    params = {"params": {"Dense_0": {"kernel": jnp.asarray(w), "bias": jnp.asarray(b)}}}
    target = {"params": {"Dense_0": {"kernel": jnp.asarray(w_bar), "bias": jnp.asarray(b_bar)}}}
    obs, next_obs = rng.normal(size=(3, dim)), rng.normal(size=(3, dim))
    action = np.array([[0, 1], [2, 0], [1, 1]])
    reward, terminated = np.array([0.5, -1.0, 2.0]), np.array([False, True, False])
    agent = ReplayBuffer(
        jnp.asarray(obs),
        jnp.asarray(action),
        jnp.asarray(reward),
        jnp.asarray(next_obs),
        jnp.asarray(terminated),
        jnp.int32(0),
        jnp.int32(3),
    )
    e_obs, e_action = rng.normal(size=(2, dim)), np.array([[2, 1], [0, 0]])
    experts = ExpertTransitions(
        jnp.asarray(e_obs), jnp.asarray(e_action), jnp.asarray(e_obs), jnp.zeros(2, bool)
    )
    heads = _linear_heads(nvec)
    q, q_next = obs @ w + b, next_obs @ w_bar + b_bar
    q_taken = q[np.arange(3), action[:, 0]] + q[np.arange(3), 3 + action[:, 1]]
    # the double-Q target: the next action of each group chosen by θ, valued by θ̄
    q_online_next = next_obs @ w + b
    best_move, best_act = q_online_next[:, :3].argmax(1), q_online_next[:, 3:].argmax(1)
    double = q_next[np.arange(3), best_move] + q_next[np.arange(3), 3 + best_act]
    assert not np.allclose(double, q_next[:, :3].max(1) + q_next[:, 3:].max(1))
    for double_q, v_next in [
        (True, double),
        (False, q_next[:, :3].max(1) + q_next[:, 3:].max(1)),
    ]:
        config = mail.MAILConfig(
            discount=0.9, loss=loss, td_weight=0.7, imitation_weight=1.3, double_q=double_q
        )
        total, (td, imitation) = mail.mail_loss(config, heads, params, target, agent, experts)
        error = q_taken - (reward + 0.9 * (1 - terminated) * v_next)
        if loss == "mse":
            td_hand = 0.5 * np.mean(error**2)
        else:
            td_hand = np.mean(np.where(abs(error) <= 1, 0.5 * error**2, abs(error) - 0.5))
        np.testing.assert_allclose(td, td_hand, rtol=1e-12)
    qe = e_obs @ w + b
    log_move, log_act = _log_softmax(qe[:, :3]), _log_softmax(qe[:, 3:])
    il_hand = -np.mean(log_move[[0, 1], e_action[:, 0]] + log_act[[0, 1], e_action[:, 1]])
    np.testing.assert_allclose(imitation, il_hand, rtol=1e-12)
    np.testing.assert_allclose(total, 0.7 * td_hand + 1.3 * il_hand, rtol=1e-12)
    # while the buffer fills, only imitation counts
    idle, _ = mail.mail_loss(config, heads, params, target, agent, experts, td_active=False)
    np.testing.assert_allclose(idle, 1.3 * il_hand, rtol=1e-12)
    # the imitation temperature divides the logits; the decay scales the imitation weight
    warm = mail.MAILConfig(discount=0.9, loss=loss, double_q=False, imitation_temperature=0.25)
    scaled, (_, il_warm) = mail.mail_loss(
        warm, heads, params, target, agent, experts, imitation_scale=0.4
    )
    log_move, log_act = _log_softmax(qe[:, :3] / 0.25), _log_softmax(qe[:, 3:] / 0.25)
    il_warm_hand = -np.mean(log_move[[0, 1], e_action[:, 0]] + log_act[[0, 1], e_action[:, 1]])
    np.testing.assert_allclose(il_warm, il_warm_hand, rtol=1e-12)
    np.testing.assert_allclose(scaled, td_hand + 0.4 * il_warm_hand, rtol=1e-12)
    log_move, log_act = _log_softmax(qe[:, :3]), _log_softmax(qe[:, 3:])

    # the imitation gradient in the heads' biases is mean(softmax(Q_g) - onehot(a_g))
    bc = mail.MAILConfig(td_weight=0.0, imitation_weight=1.0)
    grads = jax.grad(lambda p: mail.mail_loss(bc, heads, p, target, agent, experts)[0])(params)
    expected = np.concatenate(
        [
            np.exp(log_move) - np.eye(3)[e_action[:, 0]],
            np.exp(log_act) - np.eye(2)[e_action[:, 1]],
        ],
        axis=1,
    ).mean(0)
    np.testing.assert_allclose(grads["params"]["Dense_0"]["bias"], expected, rtol=1e-10)


def test_the_joint_q_and_its_maximum_decompose_over_the_groups():
    heads = _linear_heads((3, 2, 4))
    q = jax.random.normal(jax.random.key(0), (5, 9))
    joints = np.asarray(list(itertools.product(range(3), range(2), range(4))))  # [24, 3]
    every = jax.vmap(lambda a: heads.joint(q, jnp.broadcast_to(a, (5, 3))))(joints)  # [24, 5]
    np.testing.assert_allclose(every.max(0), heads.max(q), rtol=1e-12)
    # the greedy joint action is the per-group argmax
    np.testing.assert_array_equal(joints[np.argmax(every, 0)], heads.head.mode(q))
    # the imitation policy softmax(Q_g) is a distribution over the 24 joint actions
    log_pi = jax.vmap(lambda a: heads.head.log_prob(q, jnp.broadcast_to(a, (5, 3))))(joints)
    np.testing.assert_allclose(np.exp(log_pi).sum(0), 1.0, rtol=1e-12)


TINY = mail.MAILConfig(
    total_steps=96,
    num_envs=4,
    buffer_size=128,
    batch_size=8,
    expert_batch_size=8,
    learning_starts=16,
    target_period=4,
    epsilon_decay_steps=64,
    hidden=(8,),
)


def test_vmap_equals_a_loop_and_the_same_key_gives_the_same_result():
    demos = _demos()
    train = mail.make_train(TINY, ENV, PARAMS, demos)
    keys = jax.random.split(jax.random.key(3), 2)
    batched = jax.jit(jax.vmap(train))(keys)
    single = jax.jit(train)
    for i in range(2):
        one = single(keys[i])
        for name in ("episode_return", "td_loss", "imitation_loss", "env_steps"):
            np.testing.assert_allclose(batched.metrics[name][i], one.metrics[name], rtol=1e-6)
        jax.tree.map(
            lambda a, b, i=i: np.testing.assert_allclose(a[i], b, rtol=1e-5, atol=1e-7),
            batched.policy.params,
            one.policy.params,
        )
    again = single(keys[0])
    jax.tree.map(np.testing.assert_array_equal, again.policy.params, single(keys[0]).policy.params)
    assert batched.reward_params is None and batched.metrics["td_loss"].shape == (2, 24)
    # the td loss waits for learning_starts (16 transitions, 4 per update), imitation does not
    td = np.asarray(batched.metrics["td_loss"][0])
    assert np.isnan(td[:3]).all() and np.isfinite(td[3:]).all()
    assert np.isfinite(np.asarray(batched.metrics["imitation_loss"])).all()
    action = one.policy.policy(ENV.reset(keys[0], PARAMS)[0], keys[1], deterministic=True)
    assert action.shape == (2,) and action.dtype == jnp.int32


def test_the_imitation_weight_decays_linearly_to_zero():
    config = dataclasses.replace(TINY, imitation_weight=2.0, imitation_decay_steps=40)
    result = jax.jit(mail.make_train(config, ENV, PARAMS, _demos()))(jax.random.key(0))
    steps = np.asarray(result.metrics["env_steps"])
    before = steps - config.num_envs * config.rollout_length  # each update's gradient steps
    expected = 2.0 * np.maximum(1.0 - before / 40, 0.0)
    np.testing.assert_allclose(result.metrics["imitation_weight"], expected, rtol=1e-6)
    assert expected[0] == 2.0 and expected[-1] == 0.0
    # the decayed weight is the one the loss used: loss = td_loss + w_t · imitation_loss (means
    # over an update's gradient steps, w_t constant within it), imitation alone while the
    # buffer holds fewer than learning_starts transitions (td_loss NaN then, and only then)
    m = {
        k: np.asarray(result.metrics[k], np.float64) for k in ("loss", "td_loss", "imitation_loss")
    }
    waiting = steps < config.learning_starts
    np.testing.assert_array_equal(np.isnan(m["td_loss"]), waiting)
    assert waiting.any() and not waiting.all()
    td = np.where(waiting, 0.0, m["td_loss"])
    np.testing.assert_allclose(m["loss"], td + expected * m["imitation_loss"], rtol=1e-5)
    constant = jax.jit(mail.make_train(TINY, ENV, PARAMS, _demos()))(jax.random.key(0))
    np.testing.assert_array_equal(constant.metrics["imitation_weight"], TINY.imitation_weight)


def test_mail_reaches_nine_tenths_of_the_expert_sooner_than_td_alone_on_key_door():
    # benchmarks/mail.py's settings on a 48k-step budget: MAIL reaches 0.9 of the scripted
    # expert's return near 35-40k env steps (seeds 0-2), TD alone near 84k (benchmark median).
    demos = _demos()
    with jax.enable_x64(False):
        demos32 = _as_float32(demos)
        target = 0.9 * float(np.mean(episode_returns(demos32)))
        budget = dict(
            total_steps=48_000,
            num_envs=16,
            gradient_steps=4,
            learning_rate=1e-3,
            discount=0.9,
            imitation_temperature=0.1,
            epsilon_decay_steps=40_000,
            target_period=250,
        )
        reached = {}
        for name, weights in [
            ("mail", dict(imitation_decay_steps=60_000)),
            ("td", dict(imitation_weight=0.0)),
        ]:
            config = mail.MAILConfig(**budget, **weights)
            result = jax.jit(mail.make_train(config, ENV, PARAMS, demos32))(jax.random.key(0))
            returns = np.asarray(result.metrics["episode_return"])
            steps = np.asarray(result.metrics["env_steps"])
            # the mean over 25 updates, from when every env has ended an episode
            first = int(np.argmax(steps >= 16 * PARAMS.max_steps_in_episode))
            smooth = [np.nanmean(returns[max(0, i - 24) : i + 1]) for i in range(first, len(steps))]
            hit = np.flatnonzero(np.asarray(smooth) >= target)
            reached[name] = int(steps[first + hit[0]]) if hit.size else None
    assert reached["mail"] is not None and reached["mail"] < 45_000, reached
    assert reached["td"] is None or reached["td"] > reached["mail"], reached


def test_bad_input_is_refused_by_name():
    full = _demos()
    demos = Trajectories(full.observations[:4], full.actions[:4], full.lengths[:4])
    discrete = Trajectories(demos.observations, demos.actions[..., 0], demos.lengths)
    with pytest.raises(ValueError, match=r"demo actions must have element shape \(2,\)"):
        mail.make_trainer(TINY, ENV, PARAMS, discrete)
    wrong = Trajectories(demos.observations, demos.actions.at[0, 0, 1].set(2), demos.lengths)
    with pytest.raises(ValueError, match="demo actions"):
        mail.make_trainer(TINY, ENV, PARAMS, wrong)
    maze, maze_params = make("PointMaze-v0")
    with pytest.raises(ValueError, match="Discrete or MultiDiscrete"):
        mail.make_trainer(TINY, maze, maze_params, demos)
    assert isinstance(maze, PointMaze)
    for field, value, match in [
        ("imitation_weight", -1.0, "imitation_weight"),
        ("td_weight", float("nan"), "td_weight"),
        ("exploration", "greedy", "exploration"),
        ("epsilon_end", 1.5, "epsilon_end"),
        ("expert_batch_size", 0, "expert_batch_size"),
        ("learning_starts", 10**6, "learning_starts"),
        ("double_q", 1, "double_q"),
        ("imitation_temperature", 0.0, "imitation_temperature"),
        ("imitation_decay_steps", 0, "imitation_decay_steps"),
        ("imitation_decay_steps", 2.5, "imitation_decay_steps"),
    ]:
        with pytest.raises(ValueError, match=match):
            mail.MAILConfig(**{field: value})
    with pytest.raises(ValueError, match="both 0"):
        mail.MAILConfig(td_weight=0.0, imitation_weight=0.0)
    with pytest.raises(ValueError, match="stop learning"):
        mail.MAILConfig(td_weight=0.0, imitation_decay_steps=100)
    with pytest.raises(ValueError, match="MAILConfig"):
        mail.make_trainer(object(), ENV, PARAMS, demos)
