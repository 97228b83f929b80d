"""Run econirl 0.1.1's MCE IRL estimator (linear state-feature reward) on an MDP from a file.

Usage (inside the econirl peer venv, see README.md in this folder):

    .venv-econirl/bin/python benchmarks/peers/econirl_mce.py IN.npz
        [--mode finite|infinite] [--optimizer default|adam] [--steps N] [--lr LR]
        [--repeats 2] [--init npz|data] [--out OUT.json]

IN.npz: the format of imitation_mceirl.py (next_states, probs, init, horizon, discount,
features [S, F], init_weights [F] optional). econirl learns from demonstrations only
(no occupancy input), so demo_states int [M, H+1] and demo_actions int [M, H] are
required; demo_occupancy is ignored. make_mce_test_mdp.py writes such a file.

What runs: `econirl.estimation.mce_irl.MCEIRLEstimator(MCEIRLConfig(...)).estimate(
panel, LinearReward(features as float32, like the sklearn-style MCEIRL wrapper),
DDCProblem(S, A, discount, scale 1, num_periods=H or None), transitions [A, S, S],
initial_params=init_weights, initial_dist=init)` with compute_se=False.
    --mode finite    num_periods = H: time-indexed policy by backward induction,
                     discount may be 1 (the default when the file has a finite horizon)
    --mode infinite  num_periods = None: stationary policy, discount must be < 1
    --optimizer default  econirl's default (and the sklearn wrapper's) "L-BFGS-B":
                     finite -> scipy.optimize.root(hybr) on the feature-matching
                     equations; infinite -> L-BFGS-B maximising the demonstrations'
                     action log-likelihood. --steps caps outer_max_iter (default 200).
    --optimizer adam econirl's "gradient" path: Adam ascent on mu_demo - mu_policy
                     with learning_rate --lr, gradient clipping switched off
                     (gradient_clip=0), outer_tol=0 and occupancy_tol=1e-300 so that
                     it runs --steps steps unless its hard-coded patience (20 steps
                     without a smaller ||mu_demo - mu_policy||) stops it first; it
                     returns the BEST parameters seen, not the last.
    --init npz|data  initial-state distribution: the file's `init` (default) or
                     econirl's default, the empirical law of the demos' first states.
Each fit is repeated --repeats times in one process: seconds.first is the first
(JAX tracing/compilation included), seconds.warm the median of the others.

Output (JSON on stdout, and in --out if given):
    library, version, jax_version, S, A, F, horizon, discount, mode, optimizer,
    steps, lr, init, n_demos, n_observations,
    seconds: {first, warm, all, per_step}   per_step = warm (or first) / iterations
    iterations          econirl's num_iterations (function evaluations / Adam steps)
    converged, termination_reason, log_likelihood (demos' action log-likelihood)
    weights [F]         final parameters
    reward [S]          econirl's reward_fn.compute(weights)[:, 0] (state-only)
    occupancy [S]       finite: sum_{t<H} discount^t D_t, H rows (s_0..s_{H-1}),
                        forward pass of econirl's time-indexed policy from the init
                        used; infinite: econirl's state_visitation / (1 - discount)
    occupancy_normalized [S]  the same divided by its sum: the scale econirl matches
                        features on (its expected/empirical features are averages)
    occupancy_with_final [S]  finite only: plus discount^H D_H (imitation's H+1 rows)
    empirical_features, expected_features [F]   econirl's mu_demo, mu_policy (final)
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
    parser.add_argument("--mode", choices=["finite", "infinite"], default="finite")
    parser.add_argument("--optimizer", choices=["default", "adam"], default="default")
    parser.add_argument("--steps", type=int, default=None, help="outer iterations (cap)")
    parser.add_argument("--lr", type=float, default=0.02, help="Adam learning rate")
    parser.add_argument("--repeats", type=int, default=2, help="fits (first + warm)")
    parser.add_argument("--init", choices=["npz", "data"], default="npz")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        raise SystemExit("--repeats must be >= 1")

    with np.load(args.inp) as f:
        next_states = np.asarray(f["next_states"]).astype(np.int64, copy=False)
        probs = np.asarray(f["probs"], dtype=np.float64)
        init = np.asarray(f["init"], dtype=np.float64)
        features = np.asarray(f["features"], dtype=np.float64)
        horizon = int(f["horizon"])
        discount = float(f["discount"])
        if "demo_states" not in f or "demo_actions" not in f:
            raise SystemExit("econirl needs demo_states [M, H+1] and demo_actions [M, H]")
        demo_states = np.asarray(f["demo_states"]).astype(np.int64)
        demo_actions = np.asarray(f["demo_actions"]).astype(np.int64)
        init_w = np.asarray(f["init_weights"], np.float64) if "init_weights" in f else None
    S, A, _K = next_states.shape
    F = features.shape[1]
    M, L = demo_actions.shape
    if demo_states.shape != (M, L + 1):
        raise SystemExit(f"demo_states {demo_states.shape} must be [M, L+1], actions [M, L]")
    if args.mode == "infinite" and not discount < 1.0:
        raise SystemExit("--mode infinite needs discount < 1")
    if args.mode == "finite" and L > horizon:
        raise SystemExit(f"demonstrations of length {L} exceed the horizon {horizon}")
    if init_w is None:
        init_w = np.zeros(F)

    import econirl  # importing it turns on float64 in JAX
    import jax
    import jax.numpy as jnp
    from econirl.core.types import DDCProblem, Trajectory, TrajectoryPanel
    from econirl.estimation.mce_irl import MCEIRLConfig, MCEIRLEstimator
    from econirl.preferences.reward import LinearReward

    T = densify(next_states, probs)
    transitions = jnp.asarray(np.ascontiguousarray(T.transpose(1, 0, 2)))  # [A, S, S]
    del T
    panel = TrajectoryPanel(
        trajectories=[
            Trajectory(
                states=jnp.asarray(demo_states[i, :L], dtype=jnp.int32),
                actions=jnp.asarray(demo_actions[i], dtype=jnp.int32),
                next_states=jnp.asarray(demo_states[i, 1:], dtype=jnp.int32),
                individual_id=i,
            )
            for i in range(M)
        ]
    )
    reward_fn = LinearReward(
        state_features=jnp.asarray(features, dtype=jnp.float32),
        parameter_names=[f"f{k}" for k in range(F)],
        n_actions=A,
    )
    problem = DDCProblem(
        num_states=S,
        num_actions=A,
        discount_factor=discount,
        scale_parameter=1.0,
        num_periods=horizon if args.mode == "finite" else None,
    )
    config_kwargs: dict = {"compute_se": False}
    if args.steps is not None:
        config_kwargs["outer_max_iter"] = args.steps
    if args.optimizer == "adam":
        config_kwargs.update(
            optimizer="gradient",
            use_adam=True,
            learning_rate=args.lr,
            gradient_clip=0.0,
            outer_tol=0.0,
            occupancy_tol=1e-300,
        )
    fit_kwargs = {"initial_params": jnp.asarray(init_w)}
    if args.init == "npz":
        fit_kwargs["initial_dist"] = jnp.asarray(init)

    times, result = [], None
    for _ in range(args.repeats):
        result = None
        estimator = MCEIRLEstimator(config=MCEIRLConfig(**config_kwargs))
        start = time.perf_counter()
        result = estimator.estimate(panel, reward_fn, problem, transitions, **fit_kwargs)
        jax.block_until_ready(result.parameters)
        times.append(time.perf_counter() - start)

    meta = result.metadata
    weights = np.asarray(result.parameters, dtype=np.float64)
    reward = np.asarray(reward_fn.compute(result.parameters), dtype=np.float64)[:, 0]
    init_used = np.asarray(init) if args.init == "npz" else None
    out: dict = {}
    if args.mode == "finite":
        policy = np.asarray(meta["time_policy"], dtype=np.float64)  # [H, S, A]
        if init_used is None:
            init_used = np.bincount(demo_states[:, 0], minlength=S) / M
        Ta = np.asarray(transitions)
        D = init_used.copy()
        occ = np.zeros(S)
        for t in range(horizon):
            occ += discount**t * D
            D = np.einsum("sa,ast->t", D[:, None] * policy[t], Ta)
        out["occupancy"] = occ.tolist()
        out["occupancy_normalized"] = (occ / occ.sum()).tolist()
        out["occupancy_with_final"] = (occ + discount**horizon * D).tolist()
    else:
        visitation = np.asarray(meta["state_visitation"], dtype=np.float64)
        out["occupancy"] = (visitation / (1.0 - discount)).tolist()
        out["occupancy_normalized"] = visitation.tolist()

    iterations = int(result.num_iterations)
    timed = statistics.median(times[1:]) if len(times) > 1 else times[0]
    res = {
        "library": "econirl",
        "version": econirl.__version__,
        "jax_version": jax.__version__,
        "S": S,
        "A": A,
        "F": F,
        "horizon": horizon if args.mode == "finite" else None,
        "discount": discount,
        "mode": args.mode,
        "optimizer": "L-BFGS-B (root/hybr when finite)" if args.optimizer == "default" else "adam",
        "steps": args.steps,
        "lr": args.lr if args.optimizer == "adam" else None,
        "init": args.init,
        "n_demos": M,
        "n_observations": int(panel.num_observations),
        "seconds": {
            "first": times[0],
            "warm": statistics.median(times[1:]) if len(times) > 1 else None,
            "all": times,
            "per_step": timed / iterations if iterations else None,
        },
        "iterations": iterations,
        "converged": bool(result.converged),
        "termination_reason": meta.get("termination_reason"),
        "log_likelihood": float(result.log_likelihood),
        "weights": weights.tolist(),
        "reward": reward.tolist(),
        **out,
        "empirical_features": list(map(float, meta["empirical_features"])),
        "expected_features": list(map(float, meta["final_expected_features"])),
    }
    text = json.dumps(res)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    print(text)
    print(
        f"econirl MCE IRL S={S} F={F} {args.mode} {args.optimizer}: first {times[0]:.2f}s, "
        f"warm {res['seconds']['warm']}, {iterations} iterations",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
