"""Compile once: a deep method's program does not hold its demonstrations.

The demos are data of the compiled program (`train(key, expert)`), not constants baked into
it, so every demo set of one shape runs the same program, which does not grow with the
number of demonstrations (issue 18, "leaner programs"). Neural BC stands for every deep
method (they share `irlax.algorithms._deep.train_from_demos`); its input statistics, which
used to be constants computed from the demos, are parameters now.
"""

import functools
import re

import jax
import numpy as np
import pytest

from irlax.algorithms import bc
from irlax.algorithms._deep import expert_transitions
from irlax.data.rollout import rollout
from irlax.envs import make
from tests.algorithms.deep import assert_close, cartpole_expert

CONFIG = bc.NeuralBCConfig(epochs=2, hidden=(8,), batch_size=None, eval_episodes=0)
KEY = jax.random.key(0)
_HEX = re.compile(r'dense<"0x')  # how StableHLO prints an array constant of more than a few numbers


@functools.cache
def _episodes():
    """Four scripted CartPole-v1 episodes (500 steps each)."""
    with jax.enable_x64(False):
        env, params = make("CartPole-v1")
        return env, params, rollout(env, cartpole_expert, 4, jax.random.key(0), params)


def _demos(first, last):
    """Episodes `first` to `last - 1` of `_episodes`, and their transitions."""
    env, params, episodes = _episodes()
    demos = jax.tree.map(lambda x: x[first:last], episodes)
    return env, params, demos, expert_transitions(env, params, demos)


def test_new_demos_of_one_shape_reuse_the_program_which_does_not_grow_with_them():
    env, params, demos_a, expert_a = _demos(0, 1)
    _, _, demos_b, expert_b = _demos(1, 2)
    assert expert_a.obs.shape == expert_b.obs.shape
    assert not np.array_equal(expert_a.obs, expert_b.obs)
    lowered = []

    def listen(event, duration, **kwargs):
        if event == "/jax/core/compile/jaxpr_to_mlir_module_duration":
            lowered.append(event)

    with jax.enable_x64(False):
        train = jax.jit(bc.make_train(CONFIG, env, params, demos_a))
        jax.monitoring.register_event_duration_secs_listener(listen)
        try:
            from_a = train(KEY, expert_a)
            assert len(lowered) == 1  # the program, traced and lowered (then compiled)
            from_b = train(KEY, expert_b)  # the same program, new data: nothing is lowered
        finally:
            jax.monitoring.unregister_event_duration_listener(listen)
        assert len(lowered) == 1
        # ... and it learns from B what a trainer built for B, with B baked in, learns.
        baked = jax.jit(bc.make_train(CONFIG, env, params, demos_b))
        baked_b = baked(KEY)
        text, baked_text = train.lower(KEY, expert_a).as_text(), baked.lower(KEY).as_text()
        _, _, demos_c, expert_c = _demos(0, 4)  # 2000 transitions
        text_c = jax.jit(bc.make_train(CONFIG, env, params, demos_c)).lower(KEY, expert_c)
        text_c = text_c.as_text()
    assert_close(from_b.policy.params, baked_b.policy.params, rtol=1e-6, atol=1e-7)
    assert_close(from_b.metrics, baked_b.metrics, rtol=1e-6, atol=1e-7)
    assert not np.allclose(from_a.metrics["train_loss"], from_b.metrics["train_loss"])
    shift = from_b.policy.params["normalizer"]["shift"]
    np.testing.assert_allclose(shift, np.mean(expert_b.obs, axis=0), rtol=1e-5, atol=1e-6)
    # Baked in, the demos are most of the program (500 x 4 float32 observations alone are
    # 16k hex digits); as data, none of them is in it, and 4x the demos change only the
    # numbers that say how many transitions there are (M = 500 -> 2000).
    assert _HEX.search(baked_text) and len(baked_text) > len(text) + 500 * 4 * 4 * 2
    assert not _HEX.search(text) and not _HEX.search(text_c)
    as_500 = text_c.replace("2000", "500").replace("2.000000e+03", "5.000000e+02")
    assert as_500 == text


def test_demos_of_another_layout_are_refused_by_name():
    env, params, demos, _ = _demos(0, 2)
    _, _, _, other = _demos(0, 1)
    trainer = bc.make_trainer(CONFIG, env, params, demos)
    with pytest.raises(ValueError, match=r"expert\.obs must be laid out like"):
        trainer.init(KEY, other)
    with pytest.raises(ValueError, match="expert must be the ExpertTransitions"):
        trainer.update(None, demos)
