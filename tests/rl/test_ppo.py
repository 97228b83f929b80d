"""PPO: GAE and the clipped surrogate by hand, learning CartPole, hygiene (the Gaussian head's
densities are tested in tests/nets/test_policies.py)."""

import dataclasses

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct
from gymnax.environments import environment, spaces

from irlax.rl import ppo
from irlax.rl.ppo import PPOConfig

# The acceptance run: the default config (tuned for CartPole-v1) with a fixed seed.
CARTPOLE_SEED = 0


def _returns(result):
    return np.asarray(result.metrics["episode_return"])


# ---------------------------------------------------------------------------------------------
# The mathematics.


def test_gae_equals_a_python_loop_with_terminations_and_truncations():
    rng = np.random.default_rng(0)
    t_len, n = 12, 3
    rewards = rng.normal(size=(t_len, n))
    values = rng.normal(size=(t_len, n))
    next_values = rng.normal(size=(t_len, n))
    terminated = rng.random((t_len, n)) < 0.2
    truncated = ~terminated & (rng.random((t_len, n)) < 0.2)
    terminated[-1, 0] = True  # the last step of each kind of ending, too
    truncated[-1, 1] = True
    assert terminated.any() and truncated.any()
    gamma, lam = 0.9, 0.8
    advantages, returns = ppo.generalized_advantages(
        jnp.asarray(rewards),
        jnp.asarray(values),
        jnp.asarray(next_values),
        jnp.asarray(terminated),
        jnp.asarray(truncated),
        gamma,
        lam,
    )
    expected = np.zeros((t_len, n))
    for i in range(n):
        following = 0.0
        for t in reversed(range(t_len)):
            if terminated[t, i]:
                delta = rewards[t, i] - values[t, i]  # no bootstrap from a terminal state
                following = 0.0
            elif truncated[t, i]:
                delta = rewards[t, i] + gamma * next_values[t, i] - values[t, i]
                following = 0.0  # the next step belongs to a new episode
            else:
                delta = rewards[t, i] + gamma * next_values[t, i] - values[t, i]
            expected[t, i] = delta + gamma * lam * following
            following = expected[t, i]
    np.testing.assert_allclose(advantages, expected, rtol=1e-12)
    np.testing.assert_allclose(returns, expected + values, rtol=1e-12)


def test_gae_with_lambda_one_is_the_discounted_return_minus_the_value():
    """λ = 1 in one episode that terminates: Â_t = Σ_k γ^k r_{t+k} − V(s_t)."""
    rewards = jnp.asarray([1.0, 2.0, 3.0, 4.0])
    values = jnp.asarray([0.5, -1.0, 2.0, 0.0])
    next_values = jnp.asarray([-1.0, 2.0, 0.0, 9.0])  # the last is dropped: terminal
    terminated = jnp.asarray([False, False, False, True])
    advantages, _ = ppo.generalized_advantages(
        rewards, values, next_values, terminated, jnp.zeros(4, bool), 0.5, 1.0
    )
    mc = [1 + 0.5 * 2 + 0.25 * 3 + 0.125 * 4, 2 + 0.5 * 3 + 0.25 * 4, 3 + 0.5 * 4, 4.0]
    np.testing.assert_allclose(advantages, np.asarray(mc) - values, rtol=1e-12)


def test_reward_scaling_equals_a_python_loop():
    """Each env's discounted sum `G ← γG + r`, restarted after an episode ends, carried across
    rollouts; the rewards divided by the standard deviation of every sum seen so far."""
    rng = np.random.default_rng(3)
    gamma, shape = 0.9, (6, 3)
    statistics = ppo.RunningMeanVar.zeros(())
    carried = jnp.zeros(3)
    sums_seen, total = [], np.zeros(3)
    for _ in range(2):  # two rollouts: the sums and the statistics carry over
        rewards = rng.normal(2.0, 3.0, shape)
        done = rng.random(shape) < 0.3
        statistics, carried, scaled = ppo.scale_rewards(
            statistics, carried, jnp.asarray(rewards), jnp.asarray(done), gamma
        )
        for t in range(shape[0]):
            total = gamma * total + rewards[t]
            sums_seen.extend(total)
            total = np.where(done[t], 0.0, total)
        np.testing.assert_allclose(carried, total, rtol=1e-12)
        np.testing.assert_allclose(statistics.var, np.var(sums_seen), rtol=1e-12)
        np.testing.assert_allclose(scaled, rewards / np.sqrt(np.var(sums_seen) + 1e-8), rtol=1e-12)


def test_clipped_surrogate_by_hand():
    # ratios 1.5, 0.5, 1.1, 0.7 with advantages +2, +1, -1, -3 and ε = 0.2:
    #   +2: min(3.0, 1.2·2 = 2.4) = 2.4      +1: min(0.5, 0.8·1 = 0.8) = 0.5
    #   −1: min(−1.1, 1.1·−1) = −1.1         −3: min(−2.1, 0.8·−3 = −2.4) = −2.4
    ratio = np.asarray([1.5, 0.5, 1.1, 0.7])
    old = np.asarray([-0.3, -1.2, -2.0, -0.1])
    advantages = np.asarray([2.0, 1.0, -1.0, -3.0])
    loss = ppo.clipped_surrogate_loss(
        jnp.asarray(old + np.log(ratio)), jnp.asarray(old), jnp.asarray(advantages), 0.2
    )
    np.testing.assert_allclose(loss, -(2.4 + 0.5 - 1.1 - 2.4) / 4, rtol=1e-12)
    # Only the unclipped side carries gradient: d loss / d log π for the four samples.
    grad = jax.grad(ppo.clipped_surrogate_loss)(
        jnp.asarray(old + np.log(ratio)), jnp.asarray(old), jnp.asarray(advantages), 0.2
    )
    np.testing.assert_allclose(grad, -np.asarray([0.0, 0.5, -1.1, 0.0]) / 4, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Learning.


@pytest.fixture(scope="module")
def cartpole():
    return gymnax.make("CartPole-v1")


@pytest.fixture(scope="module")
def cartpole_run(cartpole):
    env, params = cartpole
    with jax.enable_x64(False):
        result = jax.jit(ppo.make_train(PPOConfig(), env, params))(jax.random.key(CARTPOLE_SEED))
        jax.block_until_ready(result)
    return result


def test_solves_cartpole(cartpole, cartpole_run):
    """The acceptance criterion: a mean episode return of at least 475 on CartPole-v1."""
    returns = _returns(cartpole_run)
    assert returns.shape == (PPOConfig().n_updates,)
    assert np.all(returns[-5:] >= 475), returns[-10:]
    assert np.nanmean(returns[:5]) < 100  # it learned this: a random policy lasts ~20 steps
    steps = np.asarray(cartpole_run.metrics["env_steps"])
    np.testing.assert_array_equal(steps, PPOConfig().batch_size * np.arange(1, len(steps) + 1))
    for name in ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction"):
        assert np.isfinite(np.asarray(cartpole_run.metrics[name])).all(), name
    # The learned deterministic policy balances the pole for the whole 500-step episode.
    env, params = cartpole
    with jax.enable_x64(False):
        total = _episode_return(env, params, cartpole_run, jax.random.key(7))
    assert total == 500.0


def _episode_return(env, params, result, key):
    def step(carry, key):
        obs, state, alive, total = carry
        k1, k2 = jax.random.split(key)
        action = result.policy(obs, k1, deterministic=True)
        obs, state, reward, terminated, truncated, _ = env.step(k2, state, action, params)
        total = total + alive * reward
        return (obs, state, alive * (1.0 - jnp.logical_or(terminated, truncated)), total), None

    obs, state = env.reset(key, params)
    keys = jax.random.split(key, params.max_steps_in_episode)
    (_, _, _, total), _ = jax.lax.scan(step, (obs, state, 1.0, 0.0), keys)
    return float(total)


def test_reward_fn_replaces_the_env_reward_and_its_params_are_traced(cartpole):
    """A constant reward `p` per step through the hook. CartPole pays +1 per step, so p = +1
    is the env's own reward and the agent learns to balance; with p = −1 it learns to fall as
    fast as it can, which the env's (+1 per step) episode return reports. Both runs go through
    one compiled function: `reward_params` is an argument, not a constant."""
    env, params = cartpole
    config = PPOConfig(total_steps=20_480)
    train = jax.jit(ppo.make_train(config, env, params, reward_fn=lambda p, o, a, n: p))
    with jax.enable_x64(False):
        rewarded = train(jax.random.key(0), jnp.float32(1.0))
        punished = train(jax.random.key(0), jnp.float32(-1.0))
    assert train._cache_size() == 1
    np.testing.assert_array_equal(rewarded.metrics["mean_reward"], 1.0)
    np.testing.assert_array_equal(punished.metrics["mean_reward"], -1.0)
    rewarded, punished = _returns(rewarded), _returns(punished)
    # Both start from the same random policy (same key): episodes of about 22 steps.
    np.testing.assert_array_equal(rewarded[0], punished[0])
    assert 10 < rewarded[0] < 60, rewarded[0]
    assert np.all(rewarded[-3:] > 100), rewarded[-3:]
    # CartPole cannot end much before 8 steps.
    assert np.all(punished[-5:] < 12), punished[-5:]


def test_normalized_rewards_make_training_blind_to_the_reward_scale(cartpole):
    """With `normalize_rewards`, the env's reward and 1000 times it train the same policy (the
    scale divides out of every reward the learner sees, up to the 1e-8 under the square root,
    whose trace 256 Adam steps grow to ~1e-5 relative); without it they do not."""
    env, params = cartpole
    scaled = lambda c, o, a, n: c  # noqa: E731  CartPole's +1 per step, times c
    finals = {}
    for normalize in (True, False):
        config = PPOConfig(total_steps=4096, normalize_rewards=normalize)
        train = jax.jit(ppo.make_train(config, env, params, reward_fn=scaled))
        finals[normalize] = [train(jax.random.key(1), jnp.asarray(c)) for c in (1.0, 1000.0)]
    one, thousand = finals[True]
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-6),
        one.params,
        thousand.params,
    )
    np.testing.assert_array_equal(thousand.metrics["mean_reward"], 1000.0)  # unscaled
    one, thousand = finals[False]
    differences = jax.tree.map(lambda a, b: np.max(np.abs(a - b)), one.params, thousand.params)
    assert max(jax.tree.leaves(differences)) > 0.1, differences


@struct.dataclass
class _TrackState:
    target: jnp.ndarray
    time: jnp.ndarray


class Track(environment.Environment):
    """Track a target: observe `x ~ U(−½, ½)²` (shifted by (5, −2)), a constant 3 and the time;
    act `a ∈ [−1, 1]²`, earn `−|a − x|²`; a new target every step, a time limit after 10 steps.
    The optimal policy is `a = x`, with return 0."""

    @property
    def default_params(self):
        return environment.EnvParams(max_steps_in_episode=10)

    def step_env(self, key, state, action, params):
        reward = -jnp.sum((action - state.target) ** 2)
        new = _TrackState(jax.random.uniform(key, (2,), minval=-0.5, maxval=0.5), state.time + 1)
        return self.get_obs(new), new, reward, jnp.array(False), {}

    def reset_env(self, key, params):
        state = _TrackState(jax.random.uniform(key, (2,), minval=-0.5, maxval=0.5), jnp.array(0))
        return self.get_obs(state), state

    def get_obs(self, state, params=None, key=None):
        extra = jnp.stack([jnp.asarray(3.0), state.time.astype(jnp.float32)])
        return jnp.concatenate([state.target + jnp.asarray([5.0, -2.0]), extra])

    def is_terminated(self, state, params):
        return jnp.array(False)

    def action_space(self, params=None):
        return spaces.Box(-1.0, 1.0, (2,))


def test_gaussian_policy_learns_to_track_and_acts_within_bounds():
    env = Track()
    config = PPOConfig(
        total_steps=32_768, init_log_std=0.0, entropy_coef=0.0, normalize_observations=True
    )
    with jax.enable_x64(False):
        result = jax.jit(ppo.make_train(config, env))(jax.random.key(0))
        for name, value in result.metrics.items():
            assert np.isfinite(np.asarray(value)).all(), name
        returns = _returns(result)
        # σ = 1 at the start: about −2 × (1 + 1/12) × 10 ≈ −20 per episode (less, clipped).
        assert returns[0] < -8, returns[:2]
        assert np.all(returns[-3:] > -1), returns[-3:]  # σ ≈ 0.13 ⇒ about −0.35
        log_std = np.asarray(result.params["actor"]["log_std"])
        assert log_std.shape == (2,) and np.all(log_std < -1.5)
        # The running statistics are the observations': each env's clock runs 0, 1, ..., 9, 0, ...
        clock = np.arange(config.total_steps // config.num_envs) % 10
        norm = result.params["obs_norm"]
        np.testing.assert_allclose(norm.count, config.total_steps, atol=1e-3)
        np.testing.assert_allclose(norm.mean, [5.0, -2.0, 3.0, clock.mean()], atol=0.02)
        np.testing.assert_allclose(norm.var, [1 / 12, 1 / 12, 0.0, clock.var()], atol=0.01)
        # The mode tracks the target.
        targets = jax.random.uniform(jax.random.key(1), (64, 2), minval=-0.5, maxval=0.5)
        clocks = jnp.arange(64.0)[:, None] % 10
        obs = jnp.concatenate(
            [targets + jnp.asarray([5.0, -2.0]), jnp.full((64, 1), 3.0), clocks], 1
        )
        modes = jax.vmap(lambda o: result.policy(o, jax.random.key(0), deterministic=True))(obs)
        assert modes.shape == (64, 2)
        np.testing.assert_allclose(modes, targets, atol=0.1)
        # A wide policy's samples leave the box; the actions it returns do not.
        wide = dict(result.params, actor=dict(result.params["actor"], log_std=jnp.full(2, 1.0)))
        keys = jax.random.split(jax.random.key(2), 256)
        actions = np.asarray(jax.vmap(lambda k: result.act_fn(wide, obs[0], k, False))(keys))
        assert actions.shape == (256, 2)
        assert np.all(np.abs(actions) <= 1.0) and np.any(np.abs(actions) == 1.0)


def test_reward_fn_sees_the_final_observation_and_the_clipped_action():
    """`next_obs` is the observation before the automatic reset (its clock is one past
    `obs`'s, never 0 after 9) and `action` is the one the env got (inside the box, although a
    policy with σ = e draws outside it half the time): the hook then returns 1 at every step."""
    env = Track()
    config = PPOConfig(total_steps=512, num_envs=4, rollout_length=64, init_log_std=1.0)

    def reward_fn(p, obs, action, next_obs):
        return p * (next_obs[3] - obs[3]) * jnp.all(jnp.abs(action) <= 1.0)

    with jax.enable_x64(False):
        result = jax.jit(ppo.make_train(config, env, reward_fn=reward_fn))(
            jax.random.key(0), jnp.float32(1.0)
        )
    np.testing.assert_array_equal(result.metrics["mean_reward"], 1.0)
    # The env's own return is reported: 10 steps of −|a − x|², clearly negative.
    assert np.all(np.asarray(result.metrics["episode_return"]) < -5)


# ---------------------------------------------------------------------------------------------
# Hygiene.

SMALL = PPOConfig(
    total_steps=512, num_envs=4, rollout_length=64, update_epochs=2, num_minibatches=2
)
SMALL_KEYS = jax.random.split(jax.random.key(3), 2)


@pytest.fixture(scope="module")
def small_runs(cartpole):
    """Two single-seed runs of a 2-update config, from one jitted function that counts traces."""
    env, params = cartpole
    traces = []

    def counted(key):
        traces.append(None)
        return ppo.make_train(SMALL, env, params)(key)

    with jax.enable_x64(False):
        single = jax.jit(counted)
        runs = [single(k) for k in SMALL_KEYS]
        again = single(SMALL_KEYS[0])
    return {"counted": counted, "traces": traces, "runs": runs, "again": again}


def test_same_key_same_result_and_no_recompilation(small_runs):
    assert len(small_runs["traces"]) == 1  # three calls, one trace
    first, again = small_runs["runs"][0], small_runs["again"]
    jax.tree.map(np.testing.assert_array_equal, again.params, first.params)
    for name in first.metrics:
        np.testing.assert_array_equal(again.metrics[name], first.metrics[name])
    # Different seeds learn differently.
    second = small_runs["runs"][1]
    assert not np.allclose(first.metrics["policy_loss"], second.metrics["policy_loss"])


def test_vmap_over_seeds_equals_a_loop(small_runs):
    with jax.enable_x64(False):
        batched = jax.jit(jax.vmap(small_runs["counted"]))(SMALL_KEYS)
    for i, res in enumerate(small_runs["runs"]):
        for name, value in res.metrics.items():
            np.testing.assert_allclose(batched.metrics[name][i], value, rtol=1e-4, atol=1e-5)
        jax.tree.map(
            lambda b, s, i=i: np.testing.assert_allclose(b[i], s, rtol=1e-4, atol=1e-5),
            batched.params,
            res.params,
        )


def test_trainer_pieces_driven_from_a_host_loop_equal_train(cartpole, small_runs):
    """`init`, then `update` from a Python loop (as a checkpointing driver does), then `result`,
    equal the scanned `train` of the same key."""
    env, params = cartpole
    trainer = ppo.make_trainer(SMALL, env, params)
    assert trainer.n_updates == 2
    with jax.enable_x64(False):
        state = jax.jit(trainer.init)(SMALL_KEYS[0])
        update = jax.jit(trainer.update)
        history = []
        for _ in range(trainer.n_updates):
            state, metrics, _ = update(state, None)
            history.append(metrics)
        assert update._cache_size() == 1
        result = trainer.result(state, jax.tree.map(lambda *m: jnp.stack(m), *history))
    scanned = small_runs["runs"][0]
    for name, value in scanned.metrics.items():
        np.testing.assert_allclose(result.metrics[name], value, rtol=1e-4, atol=1e-5)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5),
        result.params,
        scanned.params,
    )
    assert int(state.env_steps) == SMALL.total_steps


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("total_steps", 0),
        ("total_steps", 100),  # less than one batch of 4 x 128
        ("num_envs", 0),
        ("num_envs", 2.0),
        ("rollout_length", -1),
        ("update_epochs", 0),
        ("num_minibatches", 3),  # does not divide 512
        ("num_minibatches", True),
        ("learning_rate", 0.0),
        ("learning_rate", float("nan")),
        ("anneal_lr", 1),
        ("discount", 1.5),
        ("gae_lambda", -0.1),
        ("clip_eps", 0.0),
        ("entropy_coef", -0.01),
        ("value_coef", float("inf")),
        ("max_grad_norm", 0),
        ("hidden", (64, 0)),
        ("hidden", 64),
        ("activation", "gelu"),
        ("normalize_advantages", "yes"),
        ("normalize_observations", None),
        ("normalize_rewards", "no"),
        ("clip_value_loss", 0),
        ("init_log_std", float("nan")),
    ],
)
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        PPOConfig(**{field: value})


def test_bad_config_type_and_action_space(cartpole):
    env, params = cartpole
    with pytest.raises(ValueError, match="PPOConfig"):
        ppo.make_trainer(dataclasses.replace, env, params)

    class NoSpace:  # an env in every way but its action space
        default_params = None
        reset = step = env.reset

        def observation_space(self, params):
            return env.observation_space(params)

        def action_space(self, params):
            return object()

    with pytest.raises(ValueError, match="action space"):
        ppo.make_trainer(PPOConfig(), NoSpace())
    with pytest.raises(ValueError, match="env must be a gymnax-style env"):
        ppo.make_trainer(PPOConfig(), object())


def test_config_accepts_a_list_of_widths_and_counts_updates():
    config = PPOConfig(hidden=[32, 16], total_steps=1000, num_envs=2, rollout_length=100)
    assert config.hidden == (32, 16)
    hash(config)
    assert config.n_updates == 5 and config.batch_size == 200
