"""Run imitation 1.0.1's MCEIRL (linear reward on state features) on an MDP from a file.

Usage (inside the imitation peer venv, see README.md in this folder):

    .venv-peers/bin/python benchmarks/peers/imitation_mceirl.py IN.npz --steps 100 --lr 0.01
        [--demo occupancy|trajectories] [--net basic|nobias] [--float32] [--out OUT.json]

IN.npz: the format of imitation_mce.py (next_states, probs, init, horizon, discount;
`reward` is ignored) plus
    features        float [S, F]    state features, the reward net's input
    demo_occupancy  float [H+1, S]  demonstrator's state marginals, row t = law of s_t
                    (t = 0..H), or [H, S] (then s_H is missing: see README), or [S]
                    (already imitation's `demo_state_om`, used as it is)
    demo_states int [M, H+1], demo_actions int [M, H]   (for --demo trajectories)
    init_weights    float [F]       optional initial weights (default zeros)
make_mce_test_mdp.py writes such a file.

What runs: `seals.base_envs.TabularModelPOMDP(observation_matrix=features, ...)`,
`reward_net = BasicRewardNet(obs_space, act_space, use_action=False, hid_sizes=[])`
(= one torch.nn.Linear(F, 1) WITH a bias; weights set to init_weights, bias to 0) or,
with --net nobias, a RewardNet subclass holding nn.Linear(F, 1, bias=False);
`MCEIRL(demos, env, reward_net, rng, optimizer_cls=torch.optim.Adam,
optimizer_kwargs={"lr": lr}, discount=discount, linf_eps=-1, grad_l2_eps=-1,
log_interval=None).train(max_iter=steps)`: exactly `steps` Adam steps (the two
early-stopping tests are switched off). float64 throughout unless --float32.

Output (JSON on stdout, and in --out if given):
    library, version, torch_version, S, A, F, horizon, discount, steps, lr, net, dtype,
    demo_source, demo_om_sum
    seconds: {total, per_step, per_step_median, setup, densify}
        total = MCEIRL.train() wall time (steps x (soft VI + occupancy + Adam) + one final
        mce_partition_fh); per_step = total / steps; per_step_median over the
        individual _train_step calls; setup = building the env, net and MCEIRL.
    weights [F], bias (float or null)      final parameters (after `steps` updates)
    reward [S]          final reward net output per state (after `steps` updates)
    occupancy [S]       imitation's Dcum for the final reward: sum_{t=0..H} discount^t D_t,
                        H+1 rows (s_0..s_H), policy from mce_partition_fh with discount 1,
                        exactly as in MCEIRL._train_step
    occupancy_first_h [S]  the same without the last row: sum_{t<H} discount^t D_t
    occupancy_from_train [S]  what train() returned: Dcum for the reward BEFORE the last update
    demo_state_om [S]   the demonstration occupancy imitation matched against
    linf_delta          max |demo_state_om - occupancy|
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np


def densify(next_states: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Dense float64 transition tensor T[s, a, s'] from sparse successor lists."""
    S, A, K = next_states.shape
    T = np.zeros((S, A, S), dtype=np.float64)
    s_idx = np.broadcast_to(np.arange(S)[:, None, None], (S, A, K))
    a_idx = np.broadcast_to(np.arange(A)[None, :, None], (S, A, K))
    np.add.at(T, (s_idx.ravel(), a_idx.ravel(), next_states.ravel()), probs.ravel())
    return T


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inp", help="input .npz (see module docstring)")
    parser.add_argument("--steps", type=int, required=True, help="Adam steps (exactly)")
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate")
    parser.add_argument("--demo", choices=["occupancy", "trajectories"], default="occupancy")
    parser.add_argument("--net", choices=["basic", "nobias"], default="basic")
    parser.add_argument("--float32", action="store_true", help="reward net in float32")
    parser.add_argument("--seed", type=int, default=0, help="rng for MCEIRL (unused by training)")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)

    with np.load(args.inp) as f:
        next_states = np.asarray(f["next_states"]).astype(np.int64, copy=False)
        probs = np.asarray(f["probs"], dtype=np.float64)
        init = np.asarray(f["init"], dtype=np.float64)
        features = np.asarray(f["features"], dtype=np.float64)
        horizon = int(f["horizon"])
        discount = float(f["discount"])
        demo_occ = np.asarray(f["demo_occupancy"], np.float64) if "demo_occupancy" in f else None
        demo_states = np.asarray(f["demo_states"]) if "demo_states" in f else None
        demo_actions = np.asarray(f["demo_actions"]) if "demo_actions" in f else None
        init_w = np.asarray(f["init_weights"], np.float64) if "init_weights" in f else None
    S, A, _K = next_states.shape
    F = features.shape[1]
    if features.shape != (S, F) or init.shape != (S,):
        raise SystemExit(f"bad shapes: features {features.shape}, init {init.shape}, S={S}")
    if init_w is None:
        init_w = np.zeros(F)

    import torch as th
    from imitation.algorithms import mce_irl
    from imitation.data import types
    from imitation.rewards import reward_nets
    from seals import base_envs

    dtype = th.float32 if args.float32 else th.float64

    # Demonstrations, in imitation's own convention (demo_state_om, see README).
    if args.demo == "occupancy":
        if demo_occ is None:
            raise SystemExit("--demo occupancy needs demo_occupancy in the input")
        if demo_occ.ndim == 1:
            demos = demo_occ
        else:
            if demo_occ.shape[0] == horizon:
                print(
                    "warning: demo_occupancy has H rows; imitation's occupancy has H+1 (s_0..s_H)",
                    file=sys.stderr,
                )
            elif demo_occ.shape[0] != horizon + 1:
                raise SystemExit(f"demo_occupancy has {demo_occ.shape[0]} rows, H={horizon}")
            demos = (discount ** np.arange(demo_occ.shape[0]))[:, None] * demo_occ
            demos = demos.sum(axis=0)
    else:
        if demo_states is None or demo_actions is None:
            raise SystemExit("--demo trajectories needs demo_states and demo_actions")
        demos = [
            types.Trajectory(
                obs=s.astype(np.int64), acts=a.astype(np.int64), infos=None, terminal=True
            )
            for s, a in zip(demo_states, demo_actions, strict=True)
        ]

    t0 = time.perf_counter()
    T = densify(next_states, probs)
    seconds_densify = time.perf_counter() - t0

    t0 = time.perf_counter()
    # A POMDP whose "observation" of state s is features[s]: MCEIRL feeds
    # env.observation_matrix ([S, F]) to the reward net. reward_matrix is only
    # stored by seals (shape check); MCEIRL never reads it.
    env = base_envs.TabularModelPOMDP(
        transition_matrix=T,
        observation_matrix=features,
        reward_matrix=np.zeros(S),
        horizon=horizon,
        initial_state_dist=init,
    )
    if args.net == "basic":
        net = reward_nets.BasicRewardNet(
            env.observation_space, env.action_space, use_action=False, hid_sizes=[]
        )
        linear = net.mlp.dense_final
    else:

        class LinearNoBias(reward_nets.RewardNet):
            def __init__(self, observation_space, action_space):
                super().__init__(observation_space, action_space)
                self.linear = th.nn.Linear(F, 1, bias=False)

            def forward(self, state, action, next_state, done):
                return self.linear(th.flatten(state, 1))[:, 0]

        net = LinearNoBias(env.observation_space, env.action_space)
        linear = net.linear
    net = net.to(dtype)
    with th.no_grad():
        linear.weight.copy_(th.as_tensor(init_w, dtype=dtype)[None, :])
        if linear.bias is not None:
            linear.bias.zero_()

    trainer = mce_irl.MCEIRL(
        demos,
        env,
        net,
        rng=np.random.default_rng(args.seed),
        optimizer_cls=th.optim.Adam,
        optimizer_kwargs={"lr": args.lr},
        discount=discount,
        linf_eps=-1.0,  # never stop early: exactly --steps steps
        grad_l2_eps=-1.0,
        log_interval=None,
    )
    step_times: list[float] = []
    inner_step = trainer._train_step

    def timed_step(obs_mat):
        start = time.perf_counter()
        out = inner_step(obs_mat)
        step_times.append(time.perf_counter() - start)
        return out

    trainer._train_step = timed_step  # instance attribute: times each step, changes nothing
    seconds_setup = time.perf_counter() - t0

    t0 = time.perf_counter()
    occ_from_train = trainer.train(max_iter=args.steps)
    seconds_total = time.perf_counter() - t0

    with th.no_grad():
        obs = th.as_tensor(env.observation_matrix, dtype=dtype)
        reward = mce_irl.squeeze_r(net(obs, None, None, None)).cpu().numpy().astype(np.float64)
    # Occupancy under the final reward, computed as MCEIRL._train_step does (pi=None).
    D, occupancy = mce_irl.mce_occupancy_measures(env, reward=reward, discount=discount)
    first_h = (discount ** np.arange(horizon))[:, None] * D[:horizon]
    demo_om = np.asarray(trainer.demo_state_om, dtype=np.float64)

    result = {
        "library": "imitation",
        "version": __import__("imitation").__version__,
        "torch_version": th.__version__,
        "S": S,
        "A": A,
        "F": F,
        "horizon": horizon,
        "discount": discount,
        "steps": args.steps,
        "lr": args.lr,
        "net": "BasicRewardNet(hid_sizes=[], use_action=False)"
        if args.net == "basic"
        else "RewardNet subclass: nn.Linear(F, 1, bias=False)",
        "dtype": str(dtype).replace("torch.", ""),
        "demo_source": args.demo,
        "demo_om_sum": float(demo_om.sum()),
        "seconds": {
            "total": seconds_total,
            "per_step": seconds_total / args.steps,
            "per_step_median": statistics.median(step_times) if step_times else None,
            "setup": seconds_setup,
            "densify": seconds_densify,
        },
        "weights": linear.weight.detach().cpu().numpy().astype(np.float64)[0].tolist(),
        "bias": None if linear.bias is None else float(linear.bias.detach().cpu().item()),
        "reward": reward.tolist(),
        "occupancy": np.asarray(occupancy, np.float64).tolist(),
        "occupancy_first_h": first_h.sum(axis=0).tolist(),
        "occupancy_from_train": np.asarray(occ_from_train, np.float64).tolist(),
        "demo_state_om": demo_om.tolist(),
        "linf_delta": float(np.max(np.abs(demo_om - occupancy))),
    }
    text = json.dumps(result)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    print(text)
    print(
        f"imitation MCEIRL S={S} F={F} H={horizon} steps={args.steps}: "
        f"{seconds_total:.3f}s total, {seconds_total / args.steps:.3f}s/step",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
