"""What GAIL and AIRL share: determinism, vmap, resume, the host loop, absorbing states, bad
demos, and the learned reward as a trainer's `reward_fn`."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.algorithms import airl, gail
from irlax.data import Trajectories
from irlax.envs import make
from irlax.nets import TransitionReward
from irlax.rl import ppo, sac
from irlax.rl.run import run
from tests.algorithms.deep import assert_close, assert_reward_of_one_transition, cartpole_demos

TINY = ppo.PPOConfig(
    total_steps=6 * 2 * 32, num_envs=2, rollout_length=32, update_epochs=1, hidden=(8,)
)
METHODS = {
    "gail": (gail, gail.GAILConfig(generator=TINY, discriminator_hidden=(8,))),
    "airl": (airl, airl.AIRLConfig(generator=TINY, discriminator_hidden=(8,))),
}


def test_the_scripted_cartpole_expert_balances_for_500_steps():
    _, _, demos = cartpole_demos()
    assert (np.asarray(demos.lengths) == 500).all()
    assert not np.asarray(demos.terminated).any()  # all truncated by the time limit


@functools.cache
def _jitted_train(name):
    module, config = METHODS[name]
    env, params, demos = cartpole_demos()
    return jax.jit(module.make_train(config, env, params, demos))


def test_same_key_same_result_and_vmap_equals_a_loop():
    # AIRL: its logit reads the generator's log π, so it exercises every piece GAIL has.
    name = "airl"
    module, config = METHODS[name]
    env, params, demos = cartpole_demos()
    with jax.enable_x64(False):
        keys = jax.random.split(jax.random.key(0), 2)
        both = jax.jit(jax.vmap(module.make_train(config, env, params, demos)))(keys)
        one = [_jitted_train(name)(k) for k in keys]
        again = _jitted_train(name)(keys[0])
    assert_close(one[0].reward_params, again.reward_params)
    for i in range(2):
        ith = jax.tree.map(lambda x, i=i: x[i], both)
        assert_close(ith.metrics, one[i].metrics, rtol=1e-4, atol=1e-5)
        assert_close(ith.reward_params, one[i].reward_params, rtol=1e-4, atol=1e-6)
    losses = [np.asarray(r.metrics["discriminator_loss"]) for r in one]
    assert not np.allclose(*losses)  # the seeds differ


def test_an_interrupted_run_resumes_to_the_same_result(tmp_path):
    module, config = METHODS["gail"]
    env, params, demos = cartpole_demos()
    path = tmp_path / "checkpoint.msgpack"

    def interrupt(done, last):
        raise KeyboardInterrupt

    with jax.enable_x64(False):
        trainer = module.make_trainer(config, env, params, demos)
        with pytest.raises(KeyboardInterrupt):
            run(trainer, jax.random.key(1), checkpoint=path, chunk=2, progress=interrupt)
        resumed = run(trainer, jax.random.key(1), checkpoint=path, chunk=2)
        whole = run(trainer, jax.random.key(1), chunk=2)
    assert_close(resumed.reward_params, whole.reward_params)
    assert_close(resumed.policy.params, whole.policy.params)
    assert_close(resumed.metrics, whole.metrics)


def test_gail_runs_on_a_host_stepped_gymnasium_env():
    _, _, demos = cartpole_demos()
    with jax.enable_x64(False):
        env, params = make("gymnasium:CartPole-v1", num_envs=TINY.num_envs)
        trainer = gail.make_trainer(METHODS["gail"][1], env, params, demos)
        result = run(trainer, jax.random.key(0), chunk=3)
    assert np.isfinite(np.asarray(result.metrics["discriminator_loss"])).all()
    assert int(result.metrics["env_steps"][-1]) == TINY.total_steps


def test_absorbing_states_and_the_gradient_penalty_in_closed_form():
    # With absorbing states (Kostrikov et al. 2019) the generator's reward of a terminal
    # transition is d(s, a, s_a) + γ/(1 − γ) d(s_a, ·, s_a), computed here by hand from the
    # discriminator's parameters; elsewhere it is d(s, a, s'). PPO's mean_reward must agree.
    # A linear d has the gradient ‖w‖ everywhere, so the penalty of its one step is (‖w‖ − 1)².
    env, params, demos = cartpole_demos()
    net = TransitionReward("state_action", ())  # d = w · [x, a] + b
    config = gail.GAILConfig(
        generator=TINY,
        reward_network=net,
        reward="logit",
        discriminator_steps=1,
        gradient_penalty=1.0,
    )
    gamma = TINY.discount
    with jax.enable_x64(False):
        trainer = gail.make_trainer(config, env, params, demos)
        state = trainer.init(jax.random.key(0))
        reward_params = trainer.result(state, {}).reward_params
        new_state, metrics, taken = jax.jit(trainer.update)(state, None)
        norm = reward_params["obs_norm"]

        def features(obs):
            x = norm.normalize(obs, clip=10.0)
            return jnp.concatenate([x, jnp.zeros((*x.shape[:-1], 1))], axis=-1)

        absorbing = jnp.zeros(5).at[-1].set(1.0)
        d = functools.partial(net.apply, reward_params["discriminator"])
        action = jax.nn.one_hot(taken.action, 2)
        plain = d(features(taken.obs), action, features(taken.next_obs))
        stay = d(absorbing, jnp.zeros(2), absorbing)
        terminal = d(features(taken.obs), action, absorbing) + gamma / (1 - gamma) * stay
        expected = jnp.mean(jnp.where(taken.terminated, terminal, plain))
        (w,) = [x for x in jax.tree.leaves(reward_params["discriminator"]) if x.ndim == 2]
        updated = trainer.result(new_state, {}).reward_params["discriminator"]
        stay_after = net.apply(updated, absorbing, jnp.zeros(2), absorbing)
    assert np.asarray(taken.terminated).any()  # an untrained CartPole policy falls
    # The metric is the absorbing state's reward after this update's discriminator step (here
    # Adam's first step moves the bias and the flag's weight by ±lr each: it may cancel).
    np.testing.assert_allclose(metrics["absorbing_reward"], stay_after, rtol=1e-5)
    np.testing.assert_allclose(metrics["mean_reward"], expected, rtol=1e-5)
    assert abs(float(stay)) > 1e-3  # the absorbing term is not negligible here
    penalty = (float(jnp.linalg.norm(w)) - 1.0) ** 2
    np.testing.assert_allclose(metrics["gradient_penalty"], penalty, rtol=1e-5)
    assert penalty > 1e-3


def test_the_absorbing_reward_metric_follows_the_discriminator():
    # GAIL's default reward softplus(d) of the absorbing state s_a → s_a, with the
    # discriminator after each update; the metric is absent without absorbing states.
    env, params, demos = cartpole_demos()
    config = gail.GAILConfig(generator=TINY, discriminator_hidden=(8,))
    absorbing = jnp.zeros(5).at[-1].set(1.0)
    with jax.enable_x64(False):
        trainer = gail.make_trainer(config, env, params, demos)
        update = jax.jit(trainer.update)
        state = trainer.init(jax.random.key(0))
        seen = []
        for _ in range(3):
            state, metrics, _ = update(state, None)
            net = trainer.result(state, {}).reward_params["discriminator"]
            logit = TransitionReward("state_action", (8,)).apply(
                net, absorbing, jnp.zeros(2), absorbing
            )
            np.testing.assert_allclose(
                metrics["absorbing_reward"], jax.nn.softplus(logit), rtol=1e-5
            )
            seen.append(float(metrics["absorbing_reward"]))
        off = gail.make_trainer(dataclasses.replace(config, absorbing=False), env, params, demos)
        _, metrics, _ = jax.jit(off.update)(off.init(jax.random.key(0)), None)
    assert len(set(seen)) == 3
    assert "absorbing_reward" not in metrics


@pytest.mark.parametrize("weight", [1.0, 0.3])
def test_airl_rewards_its_ppo_generator_with_f_minus_w_log_pi(weight):
    # AIRL's generator learns from f(s, a, s') − w·log π(a|s), f = g(s) + γh(s') − h(s) the
    # discriminator's network and π the policy that collected the rollout (w = 1: log D −
    # log(1 − D)). Absorbing states off, so every transition is scored alike.
    env, params, demos = cartpole_demos()
    config = airl.AIRLConfig(
        generator=TINY, discriminator_hidden=(8,), absorbing=False, entropy_weight=weight
    )
    with jax.enable_x64(False):
        trainer = airl.make_trainer(config, env, params, demos)
        state = trainer.init(jax.random.key(0))
        acting = trainer.result(state, {})
        _, metrics, taken = jax.jit(trainer.update)(state, None)
        flat = jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), taken)
        norm = acting.reward_params["obs_norm"]

        def features(obs):
            x = norm.normalize(obs, clip=10.0)
            return jnp.concatenate([x, jnp.zeros((*x.shape[:-1], 1))], axis=-1)

        f = airl._method(config).network.apply(
            acting.reward_params["discriminator"],
            features(flat.obs),
            jax.nn.one_hot(flat.action, 2),
            features(flat.next_obs),
        )
        log_pi = jax.vmap(acting.policy.log_prob)(flat.obs, flat.action)
    expected = jnp.mean(f - weight * log_pi)
    np.testing.assert_allclose(metrics["mean_reward"], expected, rtol=1e-5)
    assert float(jnp.mean(log_pi)) < -0.1  # the entropy term is not negligible here


@pytest.mark.parametrize("name", METHODS)
def test_bad_demos_are_refused_by_name(name):
    module, config = METHODS[name]
    env, params, demos = cartpole_demos()
    obs = np.asarray(demos.observations)
    nan_reward = np.array(demos.rewards)
    nan_reward[1, 7] = np.nan
    bad = {
        "observation": Trajectories(obs[..., :3], demos.actions, demos.lengths),
        "action": Trajectories(demos.observations, demos.actions + 2, demos.lengths),
        "no transitions": Trajectories(
            demos.observations, demos.actions, np.zeros_like(demos.lengths)
        ),
        "finite": Trajectories(np.where(obs > 0, np.nan, obs), demos.actions, demos.lengths),
        # The expert's return (irlax imitate's "expert" and metrics.json) was NaN.
        r"demo rewards must be finite; 1 entries .* \(1, 7\): nan": Trajectories(
            demos.observations,
            demos.actions,
            demos.lengths,
            rewards=nan_reward,
        ),
    }
    for match, trajs in bad.items():
        with pytest.raises(ValueError, match=match):
            module.make_trainer(config, env, params, trajs)
    with pytest.raises(ValueError, match="Trajectories"):
        module.make_trainer(config, env, params, {"observations": obs})


def test_empty_demos_and_what_is_not_an_env_are_refused_by_name():
    # No trajectory at all (N = 0) or no step (T = 0) once failed inside numpy's reshape.
    module, config = METHODS["gail"]
    env, params, demos = cartpole_demos()
    obs, actions = np.asarray(demos.observations), np.asarray(demos.actions)
    empty = {
        "no trajectories": Trajectories(obs[:0], actions[:0], np.asarray(demos.lengths)[:0]),
        "each of length 0": Trajectories(obs[:, :1], actions[:, :0], np.zeros(4, np.int32)),
    }
    for match, trajs in empty.items():
        with pytest.raises(ValueError, match=f"demos hold no transitions .*{match}"):
            module.make_trainer(config, env, params, trajs)
    # An env id or None, not an env: refused by name, not an AttributeError in the demo check.
    with pytest.raises(ValueError, match="env must be an env object, got the string"):
        module.make_trainer(config, "CartPole-v1", params, demos)
    with pytest.raises(ValueError, match="env must be a gymnax-style env, got None"):
        module.make_trainer(config, None, params, demos)


def test_a_discriminator_that_would_never_train_is_refused():
    # discriminator_every beyond the generator's updates once trained the policy on the
    # random initial discriminator, its metrics all NaN, without a word.
    env, params, demos = cartpole_demos()
    for module, config in METHODS.values():
        n_updates = module.make_trainer(config, env, params, demos).n_updates
        module.make_trainer(
            dataclasses.replace(config, discriminator_every=n_updates), env, params, demos
        )
        with pytest.raises(ValueError, match=f"discriminator_every must be at most .*{n_updates}"):
            module.make_trainer(
                dataclasses.replace(config, discriminator_every=n_updates + 1), env, params, demos
            )


def test_an_integer_key_is_refused_by_name():
    # train(0) failed inside jax.random.split with "invalid PRNG key data".
    env, params, demos = cartpole_demos()
    for module, config in METHODS.values():
        with pytest.raises(ValueError, match=r"key must be a JAX PRNG key.*got int"):
            module.make_train(config, env, params, demos)(0)
        with pytest.raises(ValueError, match=r"key must be a JAX PRNG key.*got int"):
            module.make_trainer(config, env, params, demos).init(0)


def test_the_learned_reward_is_a_trainers_reward_fn():
    # ImitationResult.reward_fn plugs into any irlax.rl trainer: PPO's first update learns
    # from exactly the learned reward of the transitions it collected.
    env, params, _ = cartpole_demos()
    with jax.enable_x64(False):
        result = _jitted_train("airl")(jax.random.key(0))
        trainer = ppo.make_trainer(TINY, env, params, result.reward_fn)
        _, metrics, taken = jax.jit(trainer.update)(
            trainer.init(jax.random.key(1)), result.reward_params
        )
        flat = jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), taken)
        rewards = jax.vmap(result.reward)(flat.obs, flat.action, flat.next_obs)
    np.testing.assert_allclose(metrics["mean_reward"], jnp.mean(rewards), rtol=1e-5)
    assert float(jnp.std(rewards)) > 0  # a learned reward, not a constant


@pytest.mark.parametrize("name", METHODS)
def test_the_learned_reward_refuses_what_is_not_one_transition(name):
    # A batch or another env's shapes once failed deep inside JAX (a broadcasting TypeError);
    # an action index out of range was one-hot encoded as no action, a silent wrong reward.
    _, _, demos = cartpole_demos()
    with jax.enable_x64(False):
        result = _jitted_train(name)(jax.random.key(0))
    assert_reward_of_one_transition(result, demos)


@pytest.mark.parametrize("module, cls", [(gail, gail.GAILConfig), (airl, airl.AIRLConfig)])
def test_a_sac_generators_discriminator_samples_its_replay_buffer_by_default(module, cls):
    # The on-policy default (the last update's transitions) gave a SAC generator, whose update
    # is one env step, a discriminator buffer of num_envs transitions: here, of one.
    env, params = make("Pendulum-v1")
    demos = Trajectories(
        observations=jnp.zeros((2, 9, 3)).at[..., 0].set(1.0),
        actions=jnp.zeros((2, 8, 1)),
        lengths=jnp.asarray([8, 8]),
    )
    generator = sac.SACConfig(
        total_steps=24, learning_starts=8, batch_size=8, buffer_size=64, learn_temperature=False
    )
    with jax.enable_x64(False):
        state = module.make_trainer(cls(generator=generator), env, params, demos).init(
            jax.random.key(0)
        )
        assert state.policy_buffer.obs.shape == (64, 3)
        given = cls(generator=generator, policy_buffer_size=16)
        state = module.make_trainer(given, env, params, demos).init(jax.random.key(0))
        assert state.policy_buffer.obs.shape == (16, 3)


def test_a_sac_generator_with_a_sparser_discriminator():
    # Off-policy: one env step per generator update, the discriminator every 4th update on a
    # buffer of recent policy transitions; its metrics are NaN on the updates it skips.
    env, params = make("Pendulum-v1")
    with jax.enable_x64(False):
        demos = Trajectories(
            observations=jnp.zeros((2, 9, 3)).at[..., 0].set(1.0),
            actions=jnp.zeros((2, 8, 1)),
            lengths=jnp.asarray([8, 8]),
        )
        generator = sac.SACConfig(
            total_steps=24, learning_starts=8, batch_size=8, hidden=(8,), learn_temperature=False
        )
        config = airl.AIRLConfig(
            generator=generator,
            reward_network=TransitionReward("state_action", (8,)),  # any module will do
            potential_hidden=(8,),
            discriminator_every=4,
            discriminator_batch_size=16,
            policy_buffer_size=64,
            gradient_penalty=10.0,
        )
        result = jax.jit(airl.make_train(config, env, params, demos))(jax.random.key(0))
    loss = np.asarray(result.metrics["discriminator_loss"])
    trained = (np.arange(1, 25) % 4) == 0
    assert np.isfinite(loss[trained]).all() and np.isnan(loss[~trained]).all()
    assert np.isfinite(np.asarray(result.metrics["q_loss"])[-1])
    with pytest.raises(ValueError, match="reward_network must be a Flax module"):
        airl.AIRLConfig(reward_network="mlp")
