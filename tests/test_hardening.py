"""Bad input and numerics (issue 17, part 1): every bad input is refused by name before any
work, and no answer comes back silently wrong.

Each test here failed before its fix: a float32 policy whose rows did not sum to 1, a plan
that stopped at `max_iterations` without a word, an error from deep inside NumPy, JAX, Flax
or msgpack, or a silently accepted value (a massless cart, an object array, a string leaf).
"""

import dataclasses
import math
import types
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.algorithms import apprenticeship, maxent, mmp
from irlax.checkpoint import load_checkpoint, save_checkpoint
from irlax.data import Trajectories
from irlax.envs import make
from irlax.envs.tabular import grid_successors, gridworld, random_mdp
from irlax.forecast import ForecastConfig, fit, forecast, simulate
from irlax.forecast.evaluate import evaluate
from irlax.forecast.model import assign_goals, destinations_from_endpoints
from irlax.forecast.tracks import to_trajectories
from irlax.mdp import (
    NotConvergedWarning,
    TabularMDP,
    posterior_marginals,
    soft_occupancy,
    soft_value_iteration,
    value_iteration,
)
from irlax.nets import MLPReward
from irlax.nets.mlp import MLP
from irlax.nets.reward import ShapedReward, TransitionReward
from irlax.rl import ppo, sac, soft_pg, soft_q
from tests.forecast.test_tracks import small_scene

# --- planning: float32 policies, temperatures, convergence ---------------------------------


@pytest.mark.parametrize("backup", ["expected", "optimistic"])
@pytest.mark.parametrize("horizon", [12, None], ids=["finite", "infinite"])
def test_float32_policies_are_distributions_for_both_backups_and_horizons(backup, horizon):
    """Rows of exp(log_policy) sum to 1 in float32 where Q/τ is of order 1e6 (a reward of 1e6,
    or a temperature of 3e-4), for either backup, finite or infinite horizon: the policy is a
    log-softmax of the shifted Q, never `z − V/τ`."""
    with jax.enable_x64(False):
        mdp = gridworld(4, 4, slip=0.1, horizon=horizon, discount=0.9, goal=(3, 3))
        noise = jnp.asarray(np.random.default_rng(0).normal(size=16), jnp.float32)
        for scale, temperature in ((1e6, 1.0), (1.0, 3e-4)):
            plan = soft_value_iteration(mdp, -scale + noise, temperature=temperature, backup=backup)
            rows = np.asarray(jnp.exp(plan.log_policy).sum(-1), np.float64)
            np.testing.assert_allclose(rows, 1.0, atol=1e-5)
            assert bool(plan.converged)


@pytest.mark.parametrize(
    "temperature,match",
    [
        (np.array([1.0, 2.0]), "temperature must be a single number"),
        ("1", "temperature must be a real number"),
        (True, "temperature must be a real number"),
        (None, "temperature must be a real number"),
        (np.inf, "temperature must be finite and > 0"),
        (-1.0, "temperature must be finite and > 0"),
    ],
)
def test_bad_temperatures_are_refused_by_every_soft_planner(temperature, match):
    mdp = gridworld(2, 2, horizon=3)
    for plan in (soft_value_iteration, soft_occupancy, posterior_marginals):
        with pytest.raises(ValueError, match=match):
            plan(mdp, jnp.zeros(4), temperature=temperature)


def test_a_plan_stopped_at_max_iterations_says_so():
    mdp = gridworld(3, 3, horizon=None, discount=0.9, goal=(2, 2))
    for planner in (soft_value_iteration, value_iteration):
        with pytest.warns(NotConvergedWarning, match="did not converge"):
            plan = planner(mdp, -jnp.ones(9), solver="iteration", max_iterations=2)
        assert not bool(plan.converged) and float(plan.residual) > 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotConvergedWarning)
        finite = soft_value_iteration(gridworld(2, 2, horizon=3), jnp.zeros(4))
    assert bool(finite.converged) and float(finite.residual) == 0.0


def test_maxent_warns_when_the_plan_of_its_reward_did_not_converge():
    # γ = 0.9999 by plain sweeps: 10⁵ sweeps shrink the error only by e^-10, far from 64 ulps.
    mdp = random_mdp(jax.random.key(0), 3, 2, 2, discount=0.9999, n_features=2)
    demos = jnp.full((3, 2), 1 / 6) / (1 - 0.9999)
    with pytest.warns(NotConvergedWarning, match=r"maxent\.fit: the infinite-horizon plan"):
        result = maxent.fit(mdp, demos, key=jax.random.key(0), steps=1, solver="iteration")
    assert not bool(result.plan.converged)


# --- configs: every float option refuses what is not a finite number ------------------------

CONFIGS = [
    maxent.MaxEntConfig,
    mmp.MMPConfig,
    apprenticeship.ApprenticeshipConfig,
    ForecastConfig,
    ppo.PPOConfig,
    sac.SACConfig,
    soft_q.SoftQConfig,
    soft_pg.SoftPGConfig,
]


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_every_float_option_refuses_inf_nan_strings_and_bools(cls):
    names = [f.name for f in dataclasses.fields(cls) if isinstance(getattr(cls(), f.name), float)]
    assert names
    for name in names:
        for bad in (math.inf, -math.inf, math.nan, "0.1", True):
            with pytest.raises(ValueError, match=name):
                cls(**{name: bad})


def test_forecast_config_takes_numpy_numbers_and_refuses_bad_solver_tol():
    assert ForecastConfig(steps=np.int64(3), l2=np.float32(0.5)).steps == 3
    for bad in ("x", 0.0, 1.0, math.nan):
        with pytest.raises(ValueError, match="solver_tol"):
            ForecastConfig(solver_tol=bad)


# --- worlds: MDPs, grids, envs --------------------------------------------------------------

GOOD_T = np.eye(2)[None].repeat(2, 0).transpose(1, 0, 2)  # [S=2, A=2, S=2], a stays put


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"transitions": np.array([[["a"]]])}, "transitions must be a numeric array"),
        ({"transitions": np.zeros((0, 0, 0))}, "at least one state and one action"),
        ({"transitions": np.zeros((2, 0, 2))}, "at least one state and one action"),
        ({"init": np.array(["0.5", "0.5"])}, "init must be a numeric array"),
        ({"init": [[0.5], [0.5, 0.0]]}, "init must be a numeric array"),
        ({"features": np.array([["x"], ["y"]])}, "features must be a numeric array"),
        ({"terminal": np.array(["a", "b"])}, "terminal must be a numeric array"),
        ({"horizon": math.nan}, "horizon must be a positive integer"),
        ({"horizon": math.inf}, "horizon must be a positive integer"),
        ({"horizon": "3"}, "horizon must be a positive integer"),
        ({"horizon": None, "discount": "0.9"}, "discount must lie in"),
        ({"horizon": None, "discount": math.nan}, "discount must lie in"),
        ({"discount": True}, "discount must lie in"),
    ],
)
def test_from_dense_refuses_non_numeric_and_empty_input_by_name(kwargs, match):
    args = {"transitions": GOOD_T, "init": np.array([0.5, 0.5]), "horizon": 3} | kwargs
    transitions, init = args.pop("transitions"), args.pop("init")
    with pytest.raises(ValueError, match=match):
        TabularMDP.from_dense(transitions, init, **args)


def test_from_successors_refuses_string_probabilities():
    # np.asarray(["1.0"], float) would have read them as numbers.
    with pytest.raises(ValueError, match="probs must be a numeric array"):
        TabularMDP.from_successors(np.zeros((1, 1, 1), int), np.array([[["1.0"]]]), [1.0])


@pytest.mark.parametrize(
    "build,match",
    [
        (lambda: gridworld(math.nan, 3, horizon=3), "height must be a positive integer"),
        (lambda: gridworld(2, True, horizon=3), "width must be a positive integer"),
        (lambda: gridworld(2, 2, horizon=None, discount=math.nan), "discount must lie in"),
        (lambda: grid_successors(math.nan, 3), "height must be a positive integer"),
        (lambda: grid_successors(2, -1), "width must be a positive integer"),
        (lambda: random_mdp(0, 3, 2, 2), "key must be a JAX PRNG key"),
        (lambda: random_mdp(jax.random.key(0), 0, 2, 2), "n_states must be a positive"),
        (lambda: random_mdp(jax.random.key(0), 3, 2.0, 2), "n_actions must be a positive"),
        (lambda: random_mdp(jax.random.key(0), 3, 2, 0), "n_successors must be a positive"),
        (lambda: random_mdp(jax.random.key(0), 3, 2, 2, n_features=0), "n_features must be"),
    ],
)
def test_tabular_world_builders_refuse_bad_arguments_by_name(build, match):
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize(
    "name,overrides,match",
    [
        ("CartPole-v1", {"masscart": 0.0, "masspole": 0.0}, "masscart of CartPole-v1 must be > 0"),
        ("CartPole-v1", {"masspole": -0.1}, "masspole of CartPole-v1 must be > 0"),
        ("CartPole-v1", {"length": 0.0}, "length of CartPole-v1 must be > 0"),
        ("CartPole-v1", {"tau": 0.0}, "tau of CartPole-v1 must be > 0"),
        ("CartPole-v1", {"gravity": True}, "gravity must be a finite number"),
        ("CartPole-v1", {"gravity": [9.8, 9.8]}, "gravity must have the shape"),
        ("Acrobot-v1", {"link_mass_2": 0.0}, "link_mass_2 of Acrobot-v1 must be > 0"),
        ("Acrobot-v1", {"available_torque": [1.0]}, "available_torque must have the shape"),
        ("Pendulum-v1", {"l": 0.0}, "l of Pendulum-v1 must be > 0"),
        ("Pendulum-v1", {"max_speed": -1.0}, "max_speed of Pendulum-v1 must be > 0"),
        ("MountainCar-v0", {"min_position": 1.0}, "min_position < max_position"),
        ("MountainCarContinuous-v0", {"max_action": -2.0}, "min_action < max_action"),
    ],
)
def test_classic_control_overrides_must_keep_the_physics_meaningful(name, overrides, match):
    with pytest.raises(ValueError, match=match):
        make(name, **overrides)


def test_a_valid_physics_override_steps_to_finite_states():
    env, params = make("CartPole-v1", masscart=2.0, masspole=0.2, length=0.25)
    assert params.total_mass == pytest.approx(2.2)
    key = jax.random.key(0)
    obs, state = env.reset(key, params)
    for _ in range(3):
        obs, state, *_ = env.step(key, state, 1, params)
    assert np.isfinite(np.asarray(obs)).all()


# --- files: trajectories and checkpoints ----------------------------------------------------


def _demos():
    return Trajectories(jnp.zeros((1, 3), jnp.int32), jnp.zeros((1, 2), jnp.int32), jnp.array([2]))


def test_saving_an_object_array_is_refused_and_keeps_the_good_file(tmp_path):
    path = tmp_path / "demos.npz"
    good = _demos()
    good.save(path)
    bad = _demos()
    # Bypass construction (a subclass, a pytree rebuilt from placeholders): save checks again.
    object.__setattr__(bad, "rewards", np.array([[None, 1.0]], dtype=object))
    with pytest.raises(ValueError, match="rewards must be a numeric array"):
        bad.save(path)
    back = Trajectories.load(path)
    np.testing.assert_array_equal(back.observations, good.observations)
    for call in (lambda: good.save(None), lambda: Trajectories.load(3)):
        with pytest.raises(ValueError, match="path must be a str or os"):
            call()


def test_bit_flipped_trajectory_file_headers_are_refused_naming_the_path(tmp_path):
    path = tmp_path / "demos.npz"
    _demos().save(path)
    data = bytearray(path.read_bytes())
    # The zip signature, the end record's signature, the central directory's size and offset.
    # (A flipped data byte or CRC goes unnoticed: checksums are part 2 of the issue.)
    for offset in (0, len(data) - 22, len(data) - 10, len(data) - 6):
        flipped = bytearray(data)
        flipped[offset] ^= 0x40
        bad = tmp_path / f"flip{offset}.npz"
        bad.write_bytes(bytes(flipped))
        with pytest.raises(ValueError, match=str(bad.name)):
            Trajectories.load(bad)


@pytest.mark.parametrize(
    "leaf,what",
    [("hello", "got str"), (object(), "got object"), (np.array([None]), "dtype object")],
    ids=["str", "object", "object-array"],
)
def test_checkpoints_refuse_non_array_leaves_by_path_before_writing(tmp_path, leaf, what):
    path = tmp_path / "ckpt.msgpack"
    with pytest.raises(ValueError, match=rf"pytree leaf \['b'\]\[0\] must be an array.*{what}"):
        save_checkpoint(path, {"a": jnp.ones(2), "b": [leaf]})
    assert not path.exists()
    save_checkpoint(path, {"a": jnp.ones(2)})
    with pytest.raises(ValueError, match=r"like leaf \['a'\] must be an array"):
        load_checkpoint(path, {"a": "template"})
    with pytest.raises(ValueError, match="path must be a str or os"):
        save_checkpoint(None, {"a": jnp.ones(2)})


# --- networks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build,match",
    [
        (lambda: MLPReward(hidden=(-4,)), "hidden must be a sequence of integers >= 1"),
        (lambda: MLPReward(hidden="64"), "hidden must be a sequence of integers >= 1"),
        (lambda: MLP(hidden=(8, 0)), "hidden must be a sequence of integers >= 1"),
        (lambda: MLP(out=0), "out must be an integer >= 1"),
        (lambda: MLP(out_scale=math.inf), "out_scale must be a finite number >= 0"),
        (lambda: MLPReward(activation="relu"), "activation must be a callable"),
        (lambda: TransitionReward(inputs="pixels"), "inputs must be one of"),
        (lambda: TransitionReward(hidden=(2.5,)), "hidden must be a sequence"),
        (lambda: ShapedReward("mlp"), "reward must be a Flax module"),
        (lambda: ShapedReward(TransitionReward(), discount=1.5), "discount must be a number"),
        (lambda: ShapedReward(TransitionReward(), potential_hidden=(-1,)), "potential_hidden"),
    ],
)
def test_networks_refuse_bad_fields_when_built(build, match):
    with pytest.raises(ValueError, match=match):
        build()


# --- keys and envs at the door of every fit and trainer -------------------------------------


def test_tabular_fits_refuse_an_integer_key():
    mdp = gridworld(2, 2, horizon=3, features="onehot")
    demos = Trajectories(jnp.zeros((1, 4), jnp.int32), jnp.zeros((1, 3), jnp.int32), jnp.array([3]))
    for method in (mmp, apprenticeship):
        with pytest.raises(ValueError, match="key must be a JAX PRNG key"):
            method.fit(mdp, demos, key=0)
    with pytest.raises(ValueError, match="key must be a JAX PRNG key"):
        apprenticeship.fit(mdp, demos, key=None)


def test_world_builders_and_rollouts_refuse_an_integer_key():
    from irlax.data import rollout
    from irlax.envs import binaryworld, make, noisy_expert_demos, objectworld

    for build in (objectworld, binaryworld):
        with pytest.raises(ValueError, match="key must be a JAX PRNG key"):
            build(0, 8)
    mdp = gridworld(2, 2, horizon=3, features="onehot")
    with pytest.raises(ValueError, match="key must be a JAX PRNG key"):
        noisy_expert_demos(mdp, jnp.zeros(mdp.n_states), 2, 0, length=3)
    env, params = make("CartPole-v1")
    with pytest.raises(ValueError, match="key must be a JAX PRNG key"):
        rollout(env, lambda obs, key: 0, 1, 3, params)


TRAINERS = [
    (ppo, ppo.PPOConfig(total_steps=64, num_envs=2, rollout_length=8, num_minibatches=2)),
    (sac, sac.SACConfig(total_steps=64, num_envs=2, learning_starts=8, buffer_size=64)),
    (
        soft_q,
        soft_q.SoftQConfig(
            total_steps=64, num_envs=2, rollout_length=8, buffer_size=64, learning_starts=8
        ),
    ),
    (soft_pg, soft_pg.SoftPGConfig(total_steps=64, num_envs=2, rollout_length=8)),
]


@pytest.mark.parametrize("module,config", TRAINERS, ids=lambda x: getattr(x, "__name__", ""))
def test_rl_trainers_refuse_no_env_a_bad_reward_fn_and_an_integer_key(module, config):
    for env in (None, "CartPole-v1", object()):
        with pytest.raises(ValueError, match="env must be"):
            module.make_trainer(config, env)
    env, params = make("CartPole-v1")
    for name in ("reward_fn", "terminal_reward_fn"):
        with pytest.raises(ValueError, match=f"{name} must be a callable or None"):
            module.make_trainer(config, env, params, **{name: "gail"})
    with pytest.raises(ValueError, match="key must be a JAX PRNG key"):
        module.make_trainer(config, env, params).init(0)


@pytest.mark.parametrize("module,config", TRAINERS, ids=lambda x: getattr(x, "__name__", ""))
def test_rl_trainers_refuse_another_envs_params_by_name(module, config):
    # A name, or Pendulum's params for CartPole, failed with an AttributeError inside gymnax's
    # step (env_params_or_default, shared by every trainer and deep method, now checks).
    env, params = make("CartPole-v1")
    _, pendulum = make("Pendulum-v1")
    for wrong, given in (("CartPole-v1", "builtins.str"), (pendulum, "pendulum.EnvParams")):
        with pytest.raises(ValueError, match=f"env_params must be the env's parameters.*{given}"):
            module.make_trainer(config, env, wrong)
    module.make_trainer(config, env, params)
    module.make_trainer(config, env, None)


# --- forecasting ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scene_and_goals():
    scene, cost, goals = small_scene()
    return scene, cost, goals


@pytest.mark.parametrize(
    "paths,match",
    [
        ([], "paths holds no track"),
        ([np.array([0, 1, 2])], r"track 0 must be an \[n, 2\] array .* shape \(3,\)"),
        (np.array([[1, 0], [0, 0]]), "wrap a single track in a list"),
        ([np.array([[8, 3], [9, 3], [10, 3]])], r"track 0 leaves the 10x12 grid at step 2"),
        ([np.array([[0.5, 1.0]])], "whole-number"),
        ([np.array([["a", "b"]])], "track 0 must be an"),
        ("tracks.csv", "paths must be a sequence"),
    ],
    ids=["none", "1-D", "one-array", "ends-off-map", "fractional", "strings", "a-string"],
)
def test_forecast_fit_refuses_bad_tracks_before_any_work(scene_and_goals, paths, match):
    scene, _, goals = scene_and_goals
    with pytest.raises(ValueError, match=match):
        fit(scene, paths, goals, steps=1)
    with pytest.raises(ValueError, match=match):
        assign_goals(paths, goals)


def test_forecast_entry_points_refuse_integer_keys_and_bad_counts(scene_and_goals):
    scene, cost, goals = scene_and_goals
    # The checks come before any work: the model is not even looked at.
    model = types.SimpleNamespace(shape=scene.shape)
    track = np.array([[2, 0], [1, 0], [0, 0]])
    with pytest.raises(ValueError, match="key must be a JAX PRNG key"):
        forecast(model, track[:1], key=0)
    with pytest.raises(ValueError, match="n_samples must be an integer >= 1"):
        forecast(model, track[:1], key=jax.random.key(0), n_samples=1.5)
    with pytest.raises(ValueError, match="the prefix must be an"):
        forecast(model, np.array([2, 0, 1, 0]), key=jax.random.key(0))
    with pytest.raises(ValueError, match="key must be a JAX PRNG key"):
        simulate(cost, goals, scene.passable, 3, 7)
    with pytest.raises(ValueError, match="n_tracks must be an integer >= 1"):
        simulate(cost, goals, scene.passable, 0, jax.random.key(0))
    with pytest.raises(ValueError, match="key must be a JAX PRNG key"):
        evaluate({"m": model}, [track], goals, key=1)
    with pytest.raises(ValueError, match="radius must be a finite number"):
        destinations_from_endpoints([track], scene.passable, radius=math.nan)
    with pytest.raises(ValueError, match="track 0 leaves the 10x12 grid"):
        destinations_from_endpoints([np.array([[0, 0], [0, -1]])], scene.passable)
    with pytest.raises(ValueError, match="paths holds no track"):
        to_trajectories([], scene.shape)


@pytest.mark.parametrize(
    "build, field, value",
    [
        ("gail", "discriminator_inputs", "state"),
        ("gail", "discriminator_hidden", (8,)),
        ("airl", "reward_inputs", "state_action"),
        ("airl", "discriminator_hidden", [8]),
        ("gcl", "reward_hidden", (8,)),
        ("maxent_sampled", "reward_inputs", "state"),
    ],
)
def test_options_a_given_reward_network_would_ignore_are_refused(build, field, value):
    # With a reward_network, the options that build the default network did nothing, without
    # a word: a user asking for a state-only discriminator kept the module's inputs.
    from irlax.algorithms import airl, gail, gcl, maxent_sampled

    configs = {
        "gail": gail.GAILConfig,
        "airl": airl.AIRLConfig,
        "gcl": gcl.GCLConfig,
        "maxent_sampled": lambda **kw: maxent_sampled.MaxEntSampledConfig(
            generator=sac.SACConfig(learn_temperature=False), **kw
        ),
    }
    network = TransitionReward("state", (4,))
    with pytest.raises(ValueError, match=rf"^{field}=.* would be ignored.*reward_network"):
        configs[build](reward_network=network, **{field: value})
    configs[build](**{field: value})  # the default network uses it
    configs[build](reward_network=network)  # the module alone
    with pytest.raises(ValueError, match="reward_network must be a Flax module or None"):
        configs[build](reward_network="mlp")


def _iqlearn_result(demos, env, params):
    from irlax.algorithms import iqlearn

    config = iqlearn.IQLearnConfig(updates=4, hidden=(8,), eval_episodes=0)
    return jax.jit(iqlearn.make_train(config, env, params, demos))(jax.random.key(0))


def _maxent_sampled_result(demos, env, params):
    from irlax.algorithms import maxent_sampled

    config = maxent_sampled.MaxEntSampledConfig(
        generator=soft_q.SoftQConfig(total_steps=16, learning_starts=8, buffer_size=16),
        inner_updates=2,
        reward_hidden=(8,),
    )
    return jax.jit(maxent_sampled.make_train(config, env, params, demos))(jax.random.key(0))


@pytest.mark.parametrize("train", [_iqlearn_result, _maxent_sampled_result])
def test_every_learned_reward_of_one_transition_refuses_what_is_not_one(train):
    # IQ-Learn's implied reward and sampled MaxEnt's failed inside JAX on a batch, and took
    # an out-of-range action index silently, as GAIL's and AIRL's did (tested beside them).
    from tests.algorithms.deep import assert_reward_of_one_transition, cartpole_demos

    env, params, demos = cartpole_demos()
    with jax.enable_x64(False):
        result = train(demos, env, params)
    assert_reward_of_one_transition(result, demos)
