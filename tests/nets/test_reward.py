"""Reward networks: a zero-initialised output starts at r = 0 and still learns."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from irlax.nets import MLPReward, TransitionReward


def test_a_zero_output_starts_at_0_everywhere_and_has_a_gradient():
    key = jax.random.key(0)
    obs, action = jax.random.normal(key, (5, 3)), jax.random.normal(key, (5, 2))
    network = TransitionReward("state_action", (8, 4), zero_output=True)
    params = network.init(key, obs, action, obs)
    np.testing.assert_array_equal(network.apply(params, obs, action, obs), np.zeros(5))
    grads = jax.grad(lambda p: jnp.sum(network.apply(p, obs, action, obs)))(params)
    assert np.abs(grads["params"]["MLPReward_0"]["Dense_2"]["kernel"]).sum() > 0
    # The other layers start as without the option.
    plain = TransitionReward("state_action", (8, 4)).init(key, obs, action, obs)
    for name in ("Dense_0", "Dense_1"):
        for a, b in zip(
            jax.tree.leaves(params["params"]["MLPReward_0"][name]),
            jax.tree.leaves(plain["params"]["MLPReward_0"][name]),
            strict=True,
        ):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="zero_output must be a bool"):
        MLPReward((4,), zero_output=1)
