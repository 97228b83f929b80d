"""Run imitation 1.0.1's tabular MCE functions on an MDP read from a file.

Usage (inside the peer venv, see README.md in this folder):

    .venv-peers/bin/python benchmarks/peers/imitation_mce.py IN.npz OUT.npz

IN.npz:
    next_states  int     [S, A, K]  sparse successor lists
    probs        float64 [S, A, K]  P(next_states[s,a,k] | s,a); duplicates add up
    init         float64 [S]        initial state distribution
    reward       float64 [S]        state-only reward
    horizon      int     scalar
    discount     float   scalar

OUT.npz:
    v [H,S], q [H,S,A], policy [H,S,A]   from mce_partition_fh(env, reward, discount)
    D [H+1,S], Dcum [S]                  from mce_occupancy_measures(env, reward,
                                         pi=policy, discount=discount)
    seconds_partition, seconds_occupancy, seconds_total   (only the two calls)
    seconds_densify                      (building the dense [S,A,S] matrix; not
                                         part of seconds_total)
    peak_rss_mb                          ru_maxrss / 1024 of this process (whole
                                         run, including the dense matrix)
    S, A, K, horizon, discount           echo of the problem size

Only numpy, imitation and imitation's own dependencies are imported: never irlax.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np


def densify(next_states: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Dense float64 transition tensor T[s, a, s'] from sparse successor lists."""
    S, A, K = next_states.shape
    T = np.zeros((S, A, S), dtype=np.float64)
    s_idx = np.broadcast_to(np.arange(S)[:, None, None], (S, A, K))
    a_idx = np.broadcast_to(np.arange(A)[None, :, None], (S, A, K))
    # np.add.at sums duplicate (s, a, s') entries instead of overwriting them.
    np.add.at(T, (s_idx.ravel(), a_idx.ravel(), next_states.ravel()), probs.ravel())
    return T


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inp", help="input .npz (see module docstring)")
    parser.add_argument("out", help="output .npz")
    args = parser.parse_args(argv)

    with np.load(args.inp) as f:
        next_states = np.asarray(f["next_states"]).astype(np.int64, copy=False)
        probs = np.asarray(f["probs"], dtype=np.float64)
        init = np.asarray(f["init"], dtype=np.float64)
        reward = np.asarray(f["reward"], dtype=np.float64)
        horizon = int(f["horizon"])
        discount = float(f["discount"])

    if next_states.ndim != 3 or probs.shape != next_states.shape:
        raise SystemExit(f"bad shapes: next_states {next_states.shape}, probs {probs.shape}")
    S, A, K = next_states.shape
    if init.shape != (S,) or reward.shape != (S,):
        raise SystemExit(f"bad shapes: init {init.shape}, reward {reward.shape}, S={S}")
    if next_states.min() < 0 or next_states.max() >= S:
        raise SystemExit("next_states out of range")
    if horizon < 1:
        raise SystemExit("horizon must be >= 1")

    # Heavy imports after argument checks (imitation pulls in torch, sb3, ...).
    from imitation.algorithms import mce_irl
    from seals import base_envs

    t0 = time.perf_counter()
    T = densify(next_states, probs)
    seconds_densify = time.perf_counter() - t0
    row_err = float(np.abs(T.sum(axis=2) - 1.0).max())
    if row_err > 1e-8:
        print(f"warning: transition rows deviate from 1 by up to {row_err:.3g}", file=sys.stderr)

    # The object imitation's docstrings ask for (seals' tabular MDP). Its
    # constructor only validates shapes and stores references (no copy of T).
    # mce_partition_fh / mce_occupancy_measures read env.horizon, env.state_dim,
    # env.action_dim, env.transition_matrix, env.initial_state_dist
    # (and env.reward_matrix only when reward=None, which we never do).
    env = base_envs.TabularModelMDP(
        transition_matrix=T,
        reward_matrix=reward,
        horizon=horizon,
        initial_state_dist=init,
    )

    t0 = time.perf_counter()
    V, Q, pi = mce_irl.mce_partition_fh(env, reward=reward, discount=discount)
    t1 = time.perf_counter()
    D, Dcum = mce_irl.mce_occupancy_measures(env, reward=reward, pi=pi, discount=discount)
    t2 = time.perf_counter()

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    np.savez(
        args.out,
        v=np.asarray(V, dtype=np.float64),
        q=np.asarray(Q, dtype=np.float64),
        policy=np.asarray(pi, dtype=np.float64),
        D=np.asarray(D, dtype=np.float64),
        Dcum=np.asarray(Dcum, dtype=np.float64),
        seconds_partition=t1 - t0,
        seconds_occupancy=t2 - t1,
        seconds_total=t2 - t0,
        seconds_densify=seconds_densify,
        peak_rss_mb=peak_rss_mb,
        S=S,
        A=A,
        K=K,
        horizon=horizon,
        discount=discount,
    )
    print(
        f"imitation MCE S={S} A={A} K={K} H={horizon} discount={discount}: "
        f"partition {t1 - t0:.3f}s occupancy {t2 - t1:.3f}s total {t2 - t0:.3f}s "
        f"(densify {seconds_densify:.3f}s) peak_rss {peak_rss_mb:.0f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
