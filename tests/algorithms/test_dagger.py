"""DAgger: BC's cost gap grows like T², DAgger's like T (exact values on a chain with traps);
a host expert on a Gymnasium env; vmap, determinism, β schedules, bad experts and demos.
(CartPole from one demo and three rounds of labels is measured in
benchmarks/imitation_speed.py, beyond the test budget.)"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.algorithms import bc, dagger
from irlax.data import Trajectories
from irlax.envs import TabularEnv, make
from irlax.mdp import TabularMDP, occupancy
from tests.algorithms.deep import (
    CARTPOLE_EXPERT,
    assert_close,
    cartpole_demos,
    cartpole_expert,
    policy_table,
)

# A chain with traps. State 0 is the expert's: action 0 stays there, action 1 (a mistake)
# falls into trap 1. From trap k, action 1 climbs to trap k + 1 (from the last, back to 0)
# and action 0 falls back to trap 1: recovering takes TRAPS right actions in a row. Every
# step in a trap costs 1. The expert never leaves state 0, so its demos show nothing of
# the traps.
TRAPS = 3
N_STATES = TRAPS + 1
COST = np.r_[0.0, np.ones(TRAPS)]
EXPERT_ACTIONS = jnp.asarray([0] + [1] * TRAPS)
HORIZONS = (8, 16, 32, 64)


def chain(horizon):
    t = np.zeros((N_STATES, 2, N_STATES))
    t[0, 0, 0] = t[0, 1, 1] = 1.0
    for k in range(1, N_STATES):
        t[k, 0, 1] = 1.0
        t[k, 1, (k + 1) % N_STATES] = 1.0
    return TabularMDP.from_dense(t, np.eye(N_STATES)[0], horizon=horizon)


def chain_expert(obs, key):
    return EXPERT_ACTIONS[jnp.argmax(obs)]


def cost_gaps(log_policy):
    """The exact expected cost over each of `HORIZONS` steps of a stationary policy (the
    expert's is 0): the per-step state occupancy over the longest horizon, summed over the
    first T steps (an episode cut at T is the longer one's first T steps)."""
    longest = max(HORIZONS)
    occ = occupancy(chain(longest), jnp.broadcast_to(log_policy, (longest, N_STATES, 2)))
    per_step = np.asarray(jnp.sum(occ, axis=-1)) @ COST
    return np.cumsum(per_step)[np.asarray(HORIZONS) - 1]


# The entropy bonus makes every learned row err with the same probability ε ≈ e^(−1/λ) at
# every state it was taught (the per-sample optimum of log π(a*) + λH(π)), which is Ross et
# al.'s learner with error ε on its own distribution.
CHAIN_BC = bc.NeuralBCConfig(
    hidden=(),
    batch_size=None,
    learning_rate=0.05,
    epochs=150,
    entropy_weight=0.2,
    normalize_observations=False,
    eval_episodes=0,
)
CHAIN_DAGGER = dagger.DAggerConfig(
    bc=CHAIN_BC,
    rounds=2,
    num_envs=16,
    rollout_length=32,
    beta_schedule="constant",
    beta=0.0,
)


@functools.cache
def _chain_world():
    """The env (32 steps an episode) and two expert episodes: state 0, action 0 throughout
    (the chain is deterministic)."""
    env = TabularEnv(chain(32), -jnp.asarray(COST), "onehot")
    observations = jnp.zeros((2, 33, N_STATES)).at[..., 0].set(1.0)
    demos = Trajectories(observations, jnp.zeros((2, 32), jnp.int32), jnp.asarray([32, 32]))
    return env, demos


CHAIN_KEYS = (1, 2)


@functools.cache
def _chain_run(seed):
    """`(state after init, state after the rounds, last metrics)`, from jitted pieces."""
    env, demos = _chain_world()
    trainer = dagger.make_trainer(CHAIN_DAGGER, env, None, demos, chain_expert)
    cloned = jax.jit(trainer.init)(jax.random.key(seed))
    update = jax.jit(trainer.update)
    state = cloned
    for _ in range(CHAIN_DAGGER.rounds):
        state, metrics, _ = update(state, None)
    return trainer, cloned, state, metrics


def test_bc_cost_gap_grows_like_t_squared_and_daggers_like_t():
    # Ross et al. 2011: behaviour cloning's cost is within T²ε of the expert's (its first
    # mistake leads where it was never taught, here into a trap it cannot climb out of);
    # DAgger's within O(uTε) (it was taught to climb out, u = TRAPS steps). The exponent of
    # each gap, fitted on a log-log scale over horizons 8 to 64, is asserted, not a number.
    for seed in CHAIN_KEYS:
        trainer, cloned, state, metrics = _chain_run(seed)
        assert int(metrics["expert_labels"]) == 2 * 16 * 32
        policies = {
            "bc": trainer.result(cloned, {}).policy,  # π̂_1, behaviour cloning on the demos
            "dagger": trainer.result(state, {}).policy,
        }
        slopes, gaps = {}, {}
        for name, policy in policies.items():
            log_pi = policy_table(policy, N_STATES, 2)
            gaps[name] = cost_gaps(log_pi)
            slopes[name] = np.polyfit(np.log(HORIZONS), np.log(gaps[name]), 1)[0]
            # Both err at the expert's state with the probability the entropy bonus sets.
            error = float(jnp.exp(policy.log_prob(jnp.eye(N_STATES)[0], 1)))
            assert 1e-3 < error < 2e-2
        assert 1.8 < slopes["bc"] < 2.2, (slopes, gaps)
        assert 0.9 < slopes["dagger"] < 1.3, (slopes, gaps)
        assert (gaps["dagger"] < gaps["bc"]).all()
        assert gaps["dagger"][-1] < gaps["bc"][-1] / 5


def test_vmap_equals_a_loop_and_the_same_key_gives_the_same_result():
    trainer, cloned, _, _ = _chain_run(CHAIN_KEYS[0])
    again = jax.jit(trainer.init)(jax.random.key(CHAIN_KEYS[0]))
    assert_close(again.replace(key=None), cloned.replace(key=None), rtol=0, atol=0)
    # The rounds of both seeds at once, from their initial states.
    both = jax.tree.map(lambda *xs: jnp.stack(xs), *[_chain_run(s)[1] for s in CHAIN_KEYS])
    update = jax.jit(jax.vmap(trainer.update, in_axes=(0, None)))
    for _ in range(CHAIN_DAGGER.rounds):
        both, metrics, _ = update(both, None)
    for i, seed in enumerate(CHAIN_KEYS):
        _, _, one, last = _chain_run(seed)
        ith = jax.tree.map(lambda x, i=i: x[i], both)
        assert_close(ith.params, one.params, rtol=1e-9, atol=1e-12)
        assert_close(ith.data_obs, one.data_obs, rtol=0, atol=0)
        assert_close({k: v[i] for k, v in metrics.items()}, last, rtol=1e-9, atol=1e-12)
    assert not np.array_equal(both.data_obs[0], both.data_obs[1])  # the seeds differ


def test_beta_schedules():
    def betas(**options):
        config = dagger.DAggerConfig(rounds=4, **options)
        return np.asarray([float(dagger.beta_at(config, i)) for i in range(4)])

    np.testing.assert_allclose(betas(beta_schedule="constant", beta=0.3), 0.3)
    np.testing.assert_allclose(betas(beta_schedule="linear"), [1, 0.75, 0.5, 0.25])
    np.testing.assert_allclose(
        betas(beta_schedule="linear", beta_rampdown_rounds=2), [1, 0.5, 0, 0]
    )
    np.testing.assert_allclose(betas(beta_schedule="exponential", beta=0.5), 0.5 ** np.arange(4))


def _numpy_expert(obs):
    """The scripted CartPole expert as a host callable (NumPy in, NumPy out)."""
    return np.int64(np.dot(obs, np.asarray(CARTPOLE_EXPERT)) > 0)


def test_a_host_expert_labels_every_state_on_a_gymnasium_env():
    _, _, demos = cartpole_demos()
    one = jax.tree.map(lambda x: x[:1], demos)
    config = dagger.DAggerConfig(
        bc=bc.NeuralBCConfig(hidden=(8,), epochs=1),
        rounds=3,
        num_envs=2,
        rollout_length=16,
        beta_schedule="constant",
        beta=0.5,
    )
    answers = {"bad": False}

    def expert(obs):
        # Well-behaved until told otherwise; then an action CartPole does not have.
        return 7 if answers["bad"] else _numpy_expert(obs)

    with jax.enable_x64(False):
        env, params = make("gymnasium:CartPole-v1", num_envs=2)
        trainer = dagger.make_trainer(config, env, params, one, expert, expert_on_host=True)
        state = jax.jit(trainer.init)(jax.random.key(0))
        update = jax.jit(trainer.update)
        for _ in range(2):
            state, metrics, _ = update(state, None)
        labelled = slice(500, 500 + 2 * 32)
        obs = np.asarray(state.data_obs[labelled])
        np.testing.assert_array_equal(state.data_action[labelled], [_numpy_expert(o) for o in obs])
        assert np.asarray(state.train).sum() == 500 + 64
        assert np.isnan(metrics["episode_return"])  # no evaluation on a host env
        assert int(metrics["env_steps"]) == int(metrics["expert_labels"]) == 64
        # Every answer is checked: a bad one stops the round that asked for it.
        answers["bad"] = True
        with pytest.raises(Exception, match="expert must return actions in the env's action"):
            jax.block_until_ready(update(state, None))
        env.close()


def test_bad_experts_and_demos_are_refused_by_name():
    env, params, demos = cartpole_demos()
    config = dagger.DAggerConfig(bc=bc.NeuralBCConfig(hidden=(4,)), rounds=1, num_envs=1)
    bad_experts = {
        "action space": lambda obs, key: jnp.int32(2),
        "element shape": lambda obs, key: jnp.zeros(2, jnp.int32),
        "integer dtype": lambda obs, key: jnp.float32(0.0),
        "expert_on_host=True": _numpy_expert_with_key,
        "callable": "expert",
    }
    for match, expert in bad_experts.items():
        with pytest.raises(ValueError, match=match):
            dagger.make_trainer(config, env, params, demos, expert)
    with pytest.raises(ValueError, match="action space"):
        dagger.make_trainer(config, env, params, demos, lambda obs: 5, expert_on_host=True)
    with pytest.raises(ValueError, match="expert_on_host must be a bool"):
        dagger.make_trainer(config, env, params, demos, cartpole_expert, expert_on_host=1)
    shifted = Trajectories(demos.observations, demos.actions + 1, demos.lengths)
    with pytest.raises(ValueError, match="demo actions"):
        dagger.make_trainer(config, env, params, shifted, cartpole_expert)
    with pytest.raises(ValueError, match="Trajectories"):
        dagger.make_trainer(config, env, params, {"observations": 0}, cartpole_expert)
    with pytest.raises(ValueError, match="config must be a DAggerConfig"):
        dagger.make_trainer(config.bc, env, params, demos, cartpole_expert)
    bad_options = {
        "bc": {"bc": bc.BCConfig()},
        "rounds": {"rounds": 0},
        "num_envs": {"num_envs": 1.5},
        "rollout_length": {"rollout_length": 0},
        "beta_schedule": {"beta_schedule": "cosine"},
        "beta": {"beta": 1.5},
        "beta_rampdown_rounds": {"beta_rampdown_rounds": 0},
        "warm_start": {"warm_start": "no"},
    }
    for name, options in bad_options.items():
        with pytest.raises(ValueError, match=name):
            dagger.DAggerConfig(**options)


def _numpy_expert_with_key(obs, key):
    """A Python expert JAX cannot trace (it reads the observation's value)."""
    return _numpy_expert(np.asarray(obs))
