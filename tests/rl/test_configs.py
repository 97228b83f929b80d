"""What every algorithm's frozen config shares: validation and hashability."""

import numpy as np
import pytest

from irlax.rl.ppo import PPOConfig
from irlax.rl.sac import SACConfig
from irlax.rl.soft_pg import SoftPGConfig
from irlax.rl.soft_q import SoftQConfig

CONFIGS = [PPOConfig, SACConfig, SoftPGConfig, SoftQConfig]


@pytest.mark.parametrize("cls", CONFIGS)
def test_hidden_widths_given_as_a_list_are_stored_as_a_tuple(cls):
    config = cls(hidden=[32, np.int64(16)])
    assert config.hidden == (32, 16)
    assert hash(config) == hash(cls(hidden=(32, 16)))  # a valid static argument of jax.jit


@pytest.mark.parametrize("cls", CONFIGS)
@pytest.mark.parametrize("value", ["64", 64, (64, 0), (64, True), (64.0,)])
def test_bad_hidden_widths_are_refused(cls, value):
    with pytest.raises(ValueError, match="hidden must be a sequence of integers >= 1"):
        cls(hidden=value)


@pytest.mark.parametrize("cls", CONFIGS)
def test_numpy_numbers_are_accepted_and_bools_refused(cls):
    assert cls(discount=np.float32(0.9), total_steps=np.int64(10_000)).discount == np.float32(0.9)
    with pytest.raises(ValueError, match="discount must be a finite number in"):
        cls(discount=True)
    with pytest.raises(ValueError, match="total_steps must be an integer"):
        cls(total_steps=True)
