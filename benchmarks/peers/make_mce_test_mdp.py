"""Write an MCE IRL test input (numpy only) for imitation_mceirl.py and econirl_mce.py.

    python benchmarks/peers/make_mce_test_mdp.py N OUT.npz [--features 8] [--horizon 50]
        [--discount 1.0] [--n-demos 64] [--seed 0]

The MDP is the N x N slip gridworld of make_test_mdp.py (A = 5, K = 5, uniform init).
Added for MCE IRL (all arrays float64 unless said):

    features      [S, F]    objectworld-like state features: F random "objects" in distinct
                            cells, feature f = exp(-distance to object f / N * 4)
    true_weights  [F]       N(0, 1), the demonstrator's reward is features @ true_weights
    demo_occupancy [H+1, S] exact state marginals of the demonstrator, row t = law of s_t
                            (t = 0..H; row H is the state after the last action)
    demo_states   int [M, H+1], demo_actions int [M, H]   M sampled demonstrations
    init_weights  [F]       zeros (the initial reward parameters for both peers)
    reward        [S]       features @ true_weights (replaces make_test_mdp's random reward)

The demonstrator is the finite-horizon soft-optimal (MCE) policy for that reward:
Q_t = r + discount * T V_{t+1}, V_t = logsumexp_a Q_t, V_H = 0, pi_t = exp(Q_t - V_t),
i.e. the same recursion as imitation's mce_partition_fh.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_test_mdp import grid


def dense(next_states: np.ndarray, probs: np.ndarray) -> np.ndarray:
    S, A, K = next_states.shape
    T = np.zeros((S, A, S))
    s_idx = np.broadcast_to(np.arange(S)[:, None, None], (S, A, K))
    a_idx = np.broadcast_to(np.arange(A)[None, :, None], (S, A, K))
    np.add.at(T, (s_idx.ravel(), a_idx.ravel(), next_states.ravel()), probs.ravel())
    return T


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("n", type=int)
    p.add_argument("out")
    p.add_argument("--features", type=int, default=8)
    p.add_argument("--horizon", type=int, default=50)
    p.add_argument("--discount", type=float, default=1.0)
    p.add_argument("--n-demos", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    grid(a.n, a.out, a.horizon, a.discount, a.seed)
    with np.load(a.out) as f:
        base = {k: f[k] for k in f.files}
    rng = np.random.default_rng(a.seed + 1)
    n, H, gamma = a.n, a.horizon, a.discount
    S = n * n
    rows, cols = np.divmod(np.arange(S), n)
    obj_r, obj_c = np.divmod(rng.choice(S, size=a.features, replace=False), n)
    dist = np.hypot(rows[:, None] - obj_r[None, :], cols[:, None] - obj_c[None, :])
    features = np.exp(-dist / n * 4.0)
    true_w = rng.standard_normal(a.features)
    r = features @ true_w

    base["reward"] = r  # replaces make_test_mdp's N(0, 1) reward
    T = dense(base["next_states"], base["probs"])  # fine for the small/medium grids used here
    A = T.shape[1]
    V = np.zeros(S)
    pi = np.empty((H, S, A))
    for t in range(H - 1, -1, -1):
        Q = r[:, None] + gamma * T @ V
        m = Q.max(axis=1, keepdims=True)
        V = (m + np.log(np.exp(Q - m).sum(axis=1, keepdims=True)))[:, 0]
        pi[t] = np.exp(Q - V[:, None])
    D = np.empty((H + 1, S))
    D[0] = base["init"]
    for t in range(H):
        D[t + 1] = np.einsum("s,sa,sap->p", D[t], pi[t], T)

    M = a.n_demos
    states = np.empty((M, H + 1), dtype=np.int64)
    actions = np.empty((M, H), dtype=np.int64)
    states[:, 0] = rng.choice(S, size=M, p=base["init"])
    for t in range(H):
        for i in range(M):
            s = states[i, t]
            actions[i, t] = rng.choice(A, p=pi[t, s])
            states[i, t + 1] = rng.choice(S, p=T[s, actions[i, t]])

    np.savez(
        a.out,
        **base,
        features=features,
        true_weights=true_w,
        demo_occupancy=D,
        demo_states=states,
        demo_actions=actions,
        init_weights=np.zeros(a.features),
    )


if __name__ == "__main__":
    main()
