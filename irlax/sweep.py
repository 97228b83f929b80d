"""Sweeps: grids of `irlax` runs as Ray tasks, on this machine by default or on a cluster.

A sweep is a spec (a TOML or JSON file, or a dict) naming the `irlax` commands to run, the
options every run shares, a grid of options to cross and the seeds:

    commands = ["irl maxent", "irl mmp"]        # each run is one of these commands
    seeds = [0, 1, 2, 3, 4]                     # ... once per seed (its --seed)
    out = "results/sweeps/objectworld"          # each run writes OUT/NAME
    retries = 2                                 # a failed run is tried this many times more
    [options]                                   # shared by every run
    world = "objectworld"
    size = 16
    [grid]                                      # every combination of these
    demos = [1, 2, 4, 8, 16]

Each run is the command with its options (`--demos 4 --seed 0 ...`) and `--out OUT/NAME`,
run by a Ray task (`irlax.cli.main` in a Ray worker's process). It writes into
`OUT/.partial/NAME`, renamed to `OUT/NAME` only once the command succeeded, so a results
folder is always a finished run; a retried run resumes its partial folder (the long commands
resume their checkpoints). Running the same sweep again skips the finished runs. A run that
fails (an error, or a worker that dies) is retried `retries` times and then reported with its
error, never dropped. The sweep ends with `OUT/sweep.json` (every run, its status and metrics),
`OUT/summary.md` (mean ± 95% interval over seeds of every numeric metric in the runs'
`metrics.json`, or `summary.json` for `irlax expert`, per command and grid point) and
`OUT/summary.png`.

Without an address Ray starts inside this process on this machine (nothing to install or
launch); `address="ray://host:10001"` or `"auto"` uses a running cluster, whose workers must
have irlax installed. A worker keeps the programs it compiled from one run to the next, and the
workers share the persistent compilation cache of the `irlax` command
(`irlax.compilation_cache`), so a program is compiled about once per machine, not per run.
The seeds of one grid point of `irlax expert` or `irlax imitate` on a JAX env are one task:
the command with `--seeds`, which trains them vmapped in one program and writes each seed's
folder, split into the seeds' own results folders once it succeeded (a retry resumes the
shared checkpoint). Every other run (the tabular `irlax irl` fits, `gymnasium:` envs, a custom
`task`) is a task of its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import math
import os
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from irlax._files import atomic_write_json, atomic_write_text

_SPEC_KEYS = {"commands", "seeds", "out", "retries", "options", "grid"}
VMAPPED_COMMANDS = ("expert", "imitate")
"""Commands whose seeds (at one grid point, on a JAX env) are trained at once, vmapped in one
program (`--seeds`), in one task."""


@dataclasses.dataclass(frozen=True)
class Run:
    """One run of a sweep: an `irlax` command with its options and seed.

    Attributes:
        command: the subcommand words, e.g. ("irl", "maxent").
        options: option name (as in the config, `learning_rate`) to value; the grid's and
            the shared ones.
        seed: its `--seed`.
        point: the grid point it belongs to (the grid options' values), without the seed.
    """

    command: tuple[str, ...]
    options: dict
    seed: int
    point: dict

    @property
    def group(self) -> str:
        """The command and grid point: runs that differ only by seed share it."""
        parts = ["-".join(self.command)] + [f"{k}={_word(v)}" for k, v in self.point.items()]
        return "_".join(parts)

    @property
    def name(self) -> str:
        """Its folder name: the group and the seed."""
        return f"{self.group}_seed={self.seed}"

    def argv(self, out: Path) -> list[str]:
        """The command line of `irlax.cli.main`, writing to `out`."""
        argv = list(self.command)
        for key, value in {**self.options, "seed": self.seed}.items():
            flag = "--" + key.replace("_", "-")
            if isinstance(value, bool):
                argv.append(flag if value else "--no-" + key.replace("_", "-"))
            else:
                argv += [flag, _word(value)]
        return [*argv, "--out", str(out)]


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A sweep: the runs of a spec (see the module) and where they write.

    Attributes:
        runs: every run, in the spec's order.
        out: the sweep's folder.
        retries: how many more times a failed run is tried.
    """

    runs: tuple[Run, ...]
    out: Path
    retries: int


def load_spec(spec: str | os.PathLike | dict) -> Sweep:
    """A `Sweep` from a spec file (`.toml` or `.json`) or dict.

    Raises:
        ValueError: naming the file and the key, for an unreadable file, an unknown key, no
            commands, empty seeds, or options that are not scalars (lists of values belong in
            the grid). (`irlax sweep` also refuses a command it does not have; through this
            API such a run fails, reported with the command's error.)
    """
    where = "the sweep spec"
    if not isinstance(spec, dict):
        path = Path(spec)
        where = str(path)
        try:
            text = path.read_text()
            spec = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        except FileNotFoundError:
            raise ValueError(f"{path}: no such sweep spec") from None
        except (ValueError, tomllib.TOMLDecodeError) as e:
            raise ValueError(f"{path}: not a readable sweep spec ({e})") from e
    unknown = set(spec) - _SPEC_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(_SPEC_KEYS)}")
    commands = spec.get("commands")
    if isinstance(commands, str):
        commands = [commands]
    if not commands or not all(isinstance(c, str) and c.split() for c in commands):
        raise ValueError(f"{where}: commands must be a list of irlax commands, got {commands!r}")
    seeds = spec.get("seeds", [0])
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ValueError(f"{where}: seeds must be a non-empty list of integers, got {seeds!r}")
    retries = spec.get("retries", 2)
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise ValueError(f"{where}: retries must be an integer >= 0, got {retries!r}")
    if "out" not in spec or not isinstance(spec["out"], str):
        raise ValueError(f"{where}: out must name the sweep's folder")
    options, grid = spec.get("options", {}), spec.get("grid", {})
    for key, value in options.items():
        if isinstance(value, list | dict):
            raise ValueError(f"{where}: option {key} must be one value (lists go in [grid])")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"{where}: grid {key} must be a non-empty list of values")
    for key in ("seed", "seeds", "out"):
        if key in options or key in grid:
            raise ValueError(f"{where}: {key} is set by the sweep, not an option")
    runs = []
    for command in commands:
        for values in itertools.product(*grid.values()):
            point = dict(zip(grid, values, strict=True))
            for seed in seeds:
                runs.append(Run(tuple(command.split()), {**options, **point}, seed, point))
    names = [run.name for run in runs]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: two runs have the same name (a repeated value or seed)")
    return Sweep(tuple(runs), Path(spec["out"]), retries)


def run_command(run: Run, folder: Path) -> None:
    """Run one sweep run: the `irlax` command writing into `folder`, its output in `run.log`
    there, in the Ray worker's own process.

    A worker runs the tasks Ray gives it one after another and keeps what it compiled, so the
    runs that share a program's shapes (the seeds of a grid point, the points of most grids)
    compile it once per worker, not once per run, and JAX starts once per worker. A run that
    kills its worker is retried by Ray on a fresh one.

    Raises:
        RuntimeError: the command failed (its exit status and last output line).
    """
    from irlax.cli import main

    log = folder / "run.log"
    with open(log, "w") as output:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            code = main(run.argv(folder))
    if code != 0:
        lines = [line for line in log.read_text().splitlines() if line.strip()]
        raise RuntimeError(f"exit status {code}: {lines[-1] if lines else 'no output'}")


def run(
    spec: str | os.PathLike | dict | Sweep,
    *,
    address: str | None = None,
    task: Callable[[Run, Path], None] = run_command,
    progress: Callable[[str, str], None] | None = None,
) -> dict:
    """Run a sweep's unfinished runs as Ray tasks and summarise every run.

    Args:
        spec: a spec file or dict (see the module), or a `Sweep`.
        address: a Ray cluster's address; None starts Ray in this process (or uses the one
            already started).
        task: `task(run, folder)` does one run into `folder` (made for it; what a retry
            finds there is what the failed try left), raising on failure (default: the `irlax`
            command, the seeds of a deep command's grid point vmapped in one task; a task of
            your own is called once per run).
        progress: called as `progress(run_name, status)` as each run ends.

    Returns:
        What `OUT/sweep.json` holds: `runs` (name, command, options, seed, status "done",
        "skipped" (finished before) or "failed", error, metrics) and `summary` (per group and
        metric: mean, 95% half-interval, n).

    Raises:
        ValueError: a bad spec.
    """
    import ray

    sweep = spec if isinstance(spec, Sweep) else load_spec(spec)
    partial = sweep.out / ".partial"
    todo = [r for r in sweep.runs if not (sweep.out / r.name).is_dir()]
    status = {r.name: ("skipped", None) for r in sweep.runs if r not in todo}
    if todo:
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        remote = ray.remote(max_retries=sweep.retries, retry_exceptions=True)(_execute)
        pending = {}
        for runs in _tasks(todo, vmap=task is run_command):
            if len(runs) == 1:
                ref = remote.remote(task, runs[0], str(partial / runs[0].name))
            else:
                ref = remote.remote(run_seeds, runs, str(partial / _seeds_folder(runs)))
            pending[ref] = runs
        while pending:
            [ready], _ = ray.wait(list(pending), num_returns=1)
            runs = pending.pop(ready)
            try:
                ray.get(ready)
                if len(runs) == 1:
                    os.replace(partial / runs[0].name, sweep.out / runs[0].name)
                else:
                    _split_seeds(runs, partial / _seeds_folder(runs), sweep.out)
                outcome = ("done", None)
            except Exception as e:  # a task error or a dead worker, after its retries
                outcome = ("failed", _error_line(e))
            for r in runs:
                status[r.name] = outcome
                if progress is not None:
                    progress(r.name, outcome[0])
    with contextlib.suppress(OSError):
        partial.rmdir()  # gone once nothing failed
    return _summarise(sweep, status)


def _tasks(runs: list[Run], vmap: bool) -> list[list[Run]]:
    """The runs, one task each, except that the seeds of one grid point of a deep command
    (`irlax expert`, `irlax imitate` on a JAX env) are one task, vmapped (when `vmap`)."""
    groups: dict[str, list[Run]] = {}
    tasks = []
    for r in runs:
        env = str(r.options.get("env", ""))
        if vmap and r.command[0] in VMAPPED_COMMANDS and not env.startswith("gymnasium:"):
            groups.setdefault(r.group, []).append(r)
        else:
            tasks.append([r])
    return [*groups.values(), *tasks]


def _seeds_folder(runs: list[Run]) -> str:
    return f"{runs[0].group}_seeds={'-'.join(str(r.seed) for r in runs)}"


def run_seeds(runs: list[Run], folder: Path) -> None:
    """Run the seeds of one grid point at once: the command with `--seeds` (every seed
    vmapped in one program), writing into `folder`, each seed's files in `folder/seed=K`.

    Raises:
        RuntimeError: the command failed (its exit status and last output line).
    """
    seeds = ",".join(str(r.seed) for r in runs)
    run_command(dataclasses.replace(runs[0], options={**runs[0].options, "seeds": seeds}), folder)


def _split_seeds(runs: list[Run], folder: Path, out: Path) -> None:
    """Give each seed of a finished `run_seeds` folder its own results folder, as if it had
    run alone (with the command's log); then drop what the seeds shared (the checkpoint)."""
    for r in runs:
        shutil.copy2(folder / "run.log", folder / f"seed={r.seed}" / "run.log")
        os.replace(folder / f"seed={r.seed}", out / r.name)
    shutil.rmtree(folder)


def _execute(task: Callable, run: Run | list[Run], folder: str) -> None:
    Path(folder).mkdir(parents=True, exist_ok=True)
    task(run, Path(folder))


def _error_line(error: Exception) -> str:
    """The cause of a Ray task's failure in one line."""
    cause = getattr(error, "cause", None) or error
    text = " ".join(str(cause).split())
    return f"{type(cause).__name__}: {text}"[:500]


def _summarise(sweep: Sweep, status: dict) -> dict:
    records, groups = [], {}
    for r in sweep.runs:
        state, error = status[r.name]
        metrics = {}
        # `irlax expert` writes summary.json; the other commands metrics.json.
        path = sweep.out / r.name / "metrics.json"
        if not path.exists():
            path = path.with_name("summary.json")
        if state != "failed" and path.exists():
            metrics = {
                k: v
                for k, v in json.loads(path.read_text()).items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            }
            groups.setdefault(r.group, []).append(metrics)
        records.append(
            {
                "name": r.name,
                "command": " ".join(r.command),
                "options": r.options,
                "seed": r.seed,
                "status": state,
                "error": error,
                "metrics": metrics,
            }
        )
    summary = {group: _intervals(runs) for group, runs in groups.items()}
    result = {"runs": records, "summary": summary}
    sweep.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(sweep.out / "sweep.json", result)
    atomic_write_text(sweep.out / "summary.md", summary_table(result))
    if summary:
        _plot(summary, sweep.out / "summary.png")
    return result


def _intervals(runs: list[dict]) -> dict:
    """Per metric: mean, the half-width of its 95% interval (Student t over seeds), n."""
    from scipy import stats

    out = {}
    for key in sorted(set().union(*runs)):
        values = np.asarray([m[key] for m in runs if key in m and math.isfinite(m[key])])
        if values.size == 0:
            continue
        half = 0.0
        if values.size > 1:
            half = stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size)
        out[key] = {"mean": float(values.mean()), "ci95": float(half), "n": int(values.size)}
    return out


def summary_table(result: dict) -> str:
    """The sweep as markdown: runs by status, failures with their errors, and one table of
    mean ± 95% interval per group (rows) and metric (columns)."""
    runs = result["runs"]
    counts = {s: sum(r["status"] == s for r in runs) for s in ("done", "skipped", "failed")}
    lines = ["# Sweep", "", ", ".join(f"{n} {s}" for s, n in counts.items()), ""]
    failed = [r for r in runs if r["status"] == "failed"]
    if failed:
        lines += ["## Failed runs", ""] + [f"- `{r['name']}`: {r['error']}" for r in failed]
        lines.append("")
    metrics = sorted(set().union(*[set(s) for s in result["summary"].values()] or [set()]))
    if metrics:
        lines += ["## Mean ± 95% interval over seeds", ""]
        lines.append("| run | " + " | ".join(metrics) + " |")
        lines.append("|---" * (len(metrics) + 1) + "|")
        for group, stats in result["summary"].items():
            cells = [
                f"{s['mean']:.4g} ± {s['ci95']:.2g} (n={s['n']})" if (s := stats.get(m)) else ""
                for m in metrics
            ]
            lines.append(f"| {group} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _plot(summary: dict, path: Path) -> None:
    from irlax import plots

    metrics = sorted(set().union(*[set(s) for s in summary.values()]))[:6]
    fig, axes = plots.plt.subplots(
        1, len(metrics), figsize=(3.2 * len(metrics), 3.2), squeeze=False
    )
    groups = list(summary)
    for ax, metric in zip(axes[0], metrics, strict=False):
        rows = [(i, summary[g][metric]) for i, g in enumerate(groups) if metric in summary[g]]
        ax.errorbar(
            [i for i, _ in rows],
            [s["mean"] for _, s in rows],
            yerr=[s["ci95"] for _, s in rows],
            fmt="o",
            capsize=3,
        )
        ax.set_xticks(range(len(groups)), groups, rotation=60, ha="right", fontsize=6)
        ax.set_title(metric, fontsize=8)
    fig.tight_layout()
    plots.save(fig, path)


def _word(value: Any) -> str:
    """A value as one command-line word (and folder-name part)."""
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)
