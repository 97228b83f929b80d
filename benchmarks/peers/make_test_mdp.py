"""Write small/large test MDPs in the IN.npz format of imitation_mce.py (numpy only).

    python benchmarks/peers/make_test_mdp.py tiny OUT.npz
    python benchmarks/peers/make_test_mdp.py grid N OUT.npz [--horizon 50] [--discount 1.0]

grid N: N x N gridworld, S = N*N, A = 5 (up, down, left, right, stay), K = 5.
Every action a puts 0.9 on its own destination and spreads slip 0.1 evenly over
the 4 move destinations (0.025 each); a move into a wall leaves you in place
(so the successor list has duplicates, which must be added up). Uniform init,
reward ~ N(0, 1) per state.
"""

from __future__ import annotations

import argparse

import numpy as np


def tiny(out: str) -> None:
    # 3 states, 2 actions, K = 2 (with a duplicate entry), horizon 3.
    next_states = np.array(
        [
            [[0, 1], [2, 2]],  # s0: a0 -> 0 / 1, a1 -> 2 (duplicate, 0.5 + 0.5)
            [[1, 0], [2, 1]],
            [[2, 2], [0, 1]],
        ],
        dtype=np.int64,
    )
    probs = np.array(
        [
            [[0.7, 0.3], [0.5, 0.5]],
            [[0.9, 0.1], [0.6, 0.4]],
            [[0.5, 0.5], [0.2, 0.8]],
        ]
    )
    np.savez(
        out,
        next_states=next_states,
        probs=probs,
        init=np.array([1.0, 0.0, 0.0]),
        reward=np.array([0.0, 1.0, -0.5]),
        horizon=np.int64(3),
        discount=np.float64(0.9),
    )


def grid(n: int, out: str, horizon: int, discount: float, seed: int) -> None:
    S, A = n * n, 5
    r, c = np.divmod(np.arange(S), n)
    moves = [(-1, 0), (1, 0), (0, -1), (0, 1), (0, 0)]  # up, down, left, right, stay
    dest = np.empty((S, 5), dtype=np.int64)
    for k, (dr, dc) in enumerate(moves):
        rr, cc = r + dr, c + dc
        ok = (rr >= 0) & (rr < n) & (cc >= 0) & (cc < n)
        dest[:, k] = np.where(ok, rr * n + cc, np.arange(S))
    next_states = np.broadcast_to(dest[:, None, :], (S, A, 5)).copy()
    slip = np.array([0.025, 0.025, 0.025, 0.025, 0.0])
    probs = np.broadcast_to(slip, (S, A, 5)).copy()
    probs[:, np.arange(A), np.arange(A)] += 0.9
    rng = np.random.default_rng(seed)
    np.savez(
        out,
        next_states=next_states,
        probs=probs,
        init=np.full(S, 1.0 / S),
        reward=rng.standard_normal(S),
        horizon=np.int64(horizon),
        discount=np.float64(discount),
    )


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="kind", required=True)
    t = sub.add_parser("tiny")
    t.add_argument("out")
    g = sub.add_parser("grid")
    g.add_argument("n", type=int)
    g.add_argument("out")
    g.add_argument("--horizon", type=int, default=50)
    g.add_argument("--discount", type=float, default=1.0)
    g.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if a.kind == "tiny":
        tiny(a.out)
    else:
        grid(a.n, a.out, a.horizon, a.discount, a.seed)


if __name__ == "__main__":
    main()
