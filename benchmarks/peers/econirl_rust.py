"""Run econirl 0.1.1's NFXP estimator on Rust's (1987) bus data; print JSON to stdout.

Usage (inside the econirl peer venv, see README.md in this folder):

    .venv-econirl/bin/python benchmarks/peers/econirl_rust.py CSV [--repeats 2]
        [--cases g1-4:0.9999 g1-4:0 g4:0.9999 g4:0]

CSV has the columns of econirl's `datasets/rust_bus_original.csv`:
`bus_id, period, mileage, mileage_bin, replaced, group` (one row per bus and month).

Each case selects groups (`g1-4` = all four, `g4` = group 4) and a discount, then
fits `econirl.NFXP(n_states=90, discount=beta, utility=rust_bus_reward_spec(90))`
with `.fit(df, state="mileage_bin", action="replaced", id="bus_id")`: econirl's
documented quick-start path, its defaults otherwise (first-stage transitions
estimated from the panel, BHHH outer loop, SA->NK inner loop, robust SEs).
Reward: keep = -operating_cost * x, replace = -RC (x = mileage bin 0..89), so
theta11 (Rust's units, cost 0.001*theta11*x) = 1000 * operating_cost.

The fit is run `--repeats` times per case in one process; `seconds.first` is the
first, `seconds.warm` the median of the others (econirl recompiles its JAX loops
on every fit, so they differ little). Timed: the whole `fit()` call (DataFrame
-> panel, first stage, NFXP, econirl's own robust SEs). Not timed: the extra SE
flavours and the transition log-likelihood computed afterwards from the fit.

Output (one JSON object on stdout; econirl's own prints go to stderr):
    library, version, jax_version, csv, csv_sha256, same_csv_as_econirl_package,
    n_states, repeats,
    cases: [{
      name, groups, discount,
      estimates: {RC, theta11, operating_cost, theta3: [p0, p1, p2]},
      standard_errors: {robust | asymptotic | opg_choice | full_likelihood_bhhh:
                        {RC, theta11[, theta3_p0, theta3_p1]}},
      log_likelihood: {choice, transition, full},
      n_observations: {choice, transition, buses, replacements},
      transition_counts: [n0, n1, n2],
      converged, iterations,
      seconds: {first, warm, all, econirl_estimation_time},
    }]

Only numpy, pandas and econirl (with its dependencies) are imported: never irlax.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

N_STATES = 90
DEFAULT_CASES = ["g1-4:0.9999", "g1-4:0", "g4:0.9999", "g4:0"]


def parse_case(text: str) -> tuple[str, list[int], float]:
    groups_text, _, beta_text = text.partition(":")
    if not groups_text.startswith("g") or not beta_text:
        raise SystemExit(f"bad case {text!r}: expected e.g. g1-4:0.9999 or g4:0")
    lo, _, hi = groups_text[1:].partition("-")
    groups = list(range(int(lo), int(hi or lo) + 1))
    return text, groups, float(beta_text)


def fit_once(df, beta: float):
    from econirl import NFXP
    from econirl.datasets import rust_bus_reward_spec

    model = NFXP(n_states=N_STATES, discount=beta, utility=rust_bus_reward_spec(N_STATES))
    start = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):
        model.fit(df, state="mileage_bin", action="replaced", id="bus_id")
    return model, time.perf_counter() - start


def extra_standard_errors(model) -> dict:
    """Other SE flavours from the same fit, with econirl's own functions."""
    import jax.numpy as jnp
    from econirl.inference.full_likelihood import compute_rust_full_likelihood_bhhh_score
    from econirl.inference.standard_errors import compute_standard_errors

    names = list(model._result.parameter_names)  # operating_cost, replacement_cost
    params = jnp.asarray(model._result.parameters)
    out = {}
    asym = compute_standard_errors(params, hessian=model._result.hessian, method="asymptotic")
    out["asymptotic"] = dict(zip(names, np.asarray(asym.standard_errors, dtype=float), strict=True))

    scores, _meta = compute_rust_full_likelihood_bhhh_score(
        panel=model._panel,
        utility=model._utility_fn,
        problem=model._problem,
        transitions=model.transition_tensor_,
        value_function=model._result.value_function,
        policy=model._result.policy,
        transition_probabilities=model._transition_probabilities,
        transition_increments=model._transition_increments,
    )
    scores = np.asarray(scores, dtype=np.float64)
    k = len(names)
    # BHHH of the choice likelihood only: inv(S'S) of the structural score columns.
    opg = np.linalg.inv(scores[:, :k].T @ scores[:, :k])
    out["opg_choice"] = dict(zip(names, np.sqrt(np.diag(opg)), strict=True))
    full = compute_standard_errors(
        params, gradient_contributions=jnp.asarray(scores), method="full_likelihood_bhhh"
    )
    joint = np.asarray(full.details["joint_standard_errors"], dtype=float)
    out["full_likelihood_bhhh"] = dict(zip(names, joint[:k], strict=True))
    out["full_likelihood_bhhh"].update({"theta3_p0": joint[k], "theta3_p1": joint[k + 1]})
    return out


def rust_units(se: dict) -> dict:
    res = {"RC": float(se["replacement_cost"]), "theta11": 1000.0 * float(se["operating_cost"])}
    res.update({key: float(val) for key, val in se.items() if key.startswith("theta3")})
    return res


def run_case(df_all, name: str, groups: list[int], beta: float, repeats: int) -> dict:
    df = df_all[df_all["group"].isin(groups)].copy()
    times, model = [], None
    for _ in range(repeats):
        model = None
        model, seconds = fit_once(df, beta)
        times.append(seconds)
    params = model.params_
    probs = [float(p) for p in model._transition_probabilities]
    inc = np.asarray(model._transition_increments)
    counts = [int((inc == k).sum()) for k in range(len(probs))]
    transition_ll = float(sum(c * np.log(p) for c, p in zip(counts, probs, strict=True) if c > 0))
    ses = {"robust": rust_units(model.se_)}
    ses.update({key: rust_units(val) for key, val in extra_standard_errors(model).items()})
    return {
        "name": name,
        "groups": groups,
        "discount": beta,
        "estimates": {
            "RC": float(params["replacement_cost"]),
            "theta11": 1000.0 * float(params["operating_cost"]),
            "operating_cost": float(params["operating_cost"]),
            "theta3": probs,
        },
        "standard_errors": ses,
        "log_likelihood": {
            "choice": float(model.log_likelihood_),
            "transition": transition_ll,
            "full": float(model.log_likelihood_) + transition_ll,
        },
        "n_observations": {
            "choice": int(model.n_observations_),
            "transition": int(sum(counts)),
            "buses": int(df["bus_id"].nunique()),
            "replacements": int(df["replaced"].sum()),
        },
        "transition_counts": counts,
        "converged": bool(model.converged_),
        "iterations": int(model.n_iter_),
        "seconds": {
            "first": times[0],
            "warm": statistics.median(times[1:]) if len(times) > 1 else None,
            "all": times,
            "econirl_estimation_time": float(model.fit_time_),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", help="Rust bus csv (columns as econirl's rust_bus_original.csv)")
    parser.add_argument("--repeats", type=int, default=2, help="fits per case (first + warm)")
    parser.add_argument("--cases", nargs="+", default=DEFAULT_CASES, help="e.g. g1-4:0.9999 g4:0")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        raise SystemExit("--repeats must be >= 1")
    cases = [parse_case(c) for c in args.cases]

    import pandas as pd

    raw = Path(args.csv).read_bytes()
    df_all = pd.read_csv(args.csv)

    import econirl
    import jax
    from econirl import datasets

    packaged = Path(datasets.__file__).parent / "rust_bus_original.csv"
    same = packaged.exists() and packaged.read_bytes() == raw
    warnings.simplefilter("default")
    result = {
        "library": "econirl",
        "version": econirl.__version__,
        "jax_version": jax.__version__,
        "csv": str(args.csv),
        "csv_sha256": hashlib.sha256(raw).hexdigest(),
        "same_csv_as_econirl_package": bool(same),
        "n_states": N_STATES,
        "repeats": args.repeats,
        "cases": [],
    }
    for name, groups, beta in cases:
        print(f"econirl NFXP {name} ...", file=sys.stderr, flush=True)
        result["cases"].append(run_case(df_all, name, groups, beta, args.repeats))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
