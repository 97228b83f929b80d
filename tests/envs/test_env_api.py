"""`make`, `check_action` and `CheckedEnv`: the native envs jit and vmap, and bad names,
parameters and actions get clear errors."""

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.envs import NATIVE_ENVS, CheckedEnv, Env, TabularEnv, check_action, make, spaces
from irlax.envs.core import check_in_space


def _reset_and_step(env, params, key, cast=False):
    """Reset, then one step with a uniformly sampled action (cast to float64 if asked)."""
    k_reset, k_act, k_step = jax.random.split(key, 3)
    obs0, state = env.reset(k_reset, params)
    action = env.action_space(params).sample(k_act)
    if cast:
        action = action.astype(jnp.float64)
    obs, state, reward, terminated, truncated, info = env.step(k_step, state, action, params)
    return obs0, action, obs, reward, terminated, truncated, info["final_observation"]


# vmap == loop is checked on one Discrete and one Box env (each check costs compiles).
LOOP_CHECKED = ("CartPole-v1", "Pendulum-v1")


@pytest.mark.parametrize("name", NATIVE_ENVS)
def test_native_envs_reset_and_step_under_jit_and_vmap(name):
    env, params = make(name)
    assert isinstance(env, CheckedEnv) and isinstance(env, Env)
    raw, raw_params = gymnax.make(name)
    assert jax.tree.all(jax.tree.map(np.array_equal, params, raw_params))
    keys = jax.random.split(jax.random.key(0), 3)
    batched = jax.jit(jax.vmap(_reset_and_step, (None, None, 0)), static_argnums=0)
    out = batched(env, params, keys)
    obs_space = env.observation_space(params)
    assert out[0].shape == (3, *obs_space.shape) == out[2].shape
    assert out[3].shape == out[4].shape == out[5].shape == (3,)
    assert bool(jnp.all(jax.vmap(obs_space.contains)(out[0])))
    for i in range(3 if name in LOOP_CHECKED else 0):
        # vmap equals a loop of eager calls (which check the action)...
        single = _reset_and_step(env, params, keys[i])
        for got, want in zip(out, single, strict=True):
            np.testing.assert_allclose(got[i], want, rtol=1e-12, atol=1e-12)
        # ...and the checked env is the gymnax env, whose Box actions it casts to the default
        # float dtype (raw gymnax Pendulum fails on a float32 action with float64 states)
        box = isinstance(env.action_space(params), spaces.Box)
        plain = _reset_and_step(raw, raw_params, keys[i], cast=box)
        for got, want in zip(single[:1] + single[2:], plain[:1] + plain[2:], strict=True):
            np.testing.assert_array_equal(got, want)
    assert batched._cache_size() == 1
    batched(env, params, jax.random.split(jax.random.key(1), 3))
    assert batched._cache_size() == 1  # a new key does not recompile


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(ValueError, match=r"CartPole-v1.*Pendulum-v1.*gymnasium:"):
        make("CartPol-v1")
    with pytest.raises(ValueError, match="string"):
        make(3)


def test_param_overrides():
    env, params = make("CartPole-v1", max_steps_in_episode=4, gravity=5.0)
    assert params.gravity == 5.0 and params.max_steps_in_episode == 4
    _, state = env.reset(jax.random.key(0), params)
    truncs = []
    for t in range(5):
        _, state, _, term, trunc, _ = env.step(jax.random.key(t), state, t % 2, params)
        assert not bool(term)
        truncs.append(bool(trunc))
    assert truncs == [False, False, False, True, False]
    # CartPole's derived masses follow their sources unless given
    _, p = make("CartPole-v1", masspole=0.3, length=2.0)
    assert np.isclose(p.total_mass, 1.3) and np.isclose(p.polemass_length, 0.6)
    _, p = make("CartPole-v1", masspole=0.3, total_mass=7.0)
    assert p.total_mass == 7.0 and np.isclose(p.polemass_length, 0.15)


def test_bad_param_overrides_list_the_fields():
    with pytest.raises(ValueError, match=r"no parameter.*gravty.*gravity"):
        make("CartPole-v1", gravty=9.0)
    with pytest.raises(ValueError, match="max_steps_in_episode"):
        make("Pendulum-v1", max_steps_in_episode=0)
    with pytest.raises(ValueError, match="finite number"):
        make("Pendulum-v1", g=float("nan"))


@pytest.mark.parametrize(
    ("name", "action", "reason"),
    [
        ("CartPole-v1", 2, "in \\[0, 2\\)"),
        ("CartPole-v1", -1, "in \\[0, 2\\)"),
        ("Acrobot-v1", 3, "in \\[0, 3\\)"),
        ("CartPole-v1", 1.0, "integers"),
        ("CartPole-v1", np.array([1]), "shape"),
        ("Pendulum-v1", 1.0, "shape \\(1,\\)"),
        ("Pendulum-v1", np.array([1.0, 1.0]), "shape"),
        ("Pendulum-v1", np.array([np.nan]), "NaN"),
        ("Pendulum-v1", np.array([2.5]), "low, high"),
        ("MountainCarContinuous-v0", np.array([-1.01]), "low, high"),
    ],
)
def test_concrete_out_of_space_action_raises(name, action, reason):
    env, params = make(name)
    _, state = env.reset(jax.random.key(0), params)
    with pytest.raises(ValueError, match=f"action .* outside the action space .*{reason}"):
        env.step(jax.random.key(1), state, action, params)
    with pytest.raises(ValueError, match=reason):
        check_action(env, params, action)


def test_an_integer_box_refuses_float_values():
    space = spaces.Box(0, 4, (2,), jnp.int32)
    check_in_space(space, np.array([1, 3]), name="action")
    with pytest.raises(ValueError, match=r"expected integers .*int32.*float64"):
        check_in_space(space, np.array([1.0, 3.0]), name="action")


def test_in_space_actions_pass_and_traced_actions_are_not_checked():
    env, params = make("Pendulum-v1")
    _, state = env.reset(jax.random.key(0), params)
    for action in (np.array([2.0]), np.array([-2.0], np.float32), jnp.array([0.5])):
        env.step(jax.random.key(1), state, action, params)
    # Under jit the action is a tracer: nothing can be checked (documented).
    jax.jit(env.step)(jax.random.key(1), state, jnp.array([5.0]), params)
    # A batch is checked with batch_shape.
    check_action(env, params, np.zeros((4, 1)), batch_shape=(4,))
    with pytest.raises(ValueError, match="low, high"):
        check_action(env, params, np.array([[0.0], [9.0]]), batch_shape=(2,))


def test_env_is_the_gymnax_base_and_spaces_are_gymnax_spaces():
    assert Env is gymnax.environments.environment.Environment
    assert spaces is gymnax.environments.spaces
    assert issubclass(TabularEnv, Env)
    env, params = make("MountainCarContinuous-v0")
    assert isinstance(env.action_space(params), spaces.Box)
    assert env.name == "ContinuousMountainCar-v0" or "MountainCar" in env.name
    assert env.unwrapped is not env and not isinstance(env.unwrapped, CheckedEnv)
