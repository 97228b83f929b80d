"""The persistent compilation cache, end to end: a first and a second run of one command.

The issue's target: the second run of `irlax expert ppo --env CartPole-v1 --total-steps 30000`
takes at most half the wall time of the first. Each repetition starts from an empty cache
folder, runs the command (cold: it compiles and writes its programs), then runs it again into
another output folder (warm: it loads them), each in a fresh process timed from launch to
exit (Python and JAX start-up included, as a user feels it). Repetitions are interleaved
cold/warm; medians are reported.

    nice -n 10 .venv/bin/python benchmarks/compile_cache.py [--repeats 3]

writes benchmarks/results/compile_cache.json and .md (`--render-only` re-renders).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _report
from _report import source_state, sources_line

COMMAND = ["expert", "ppo", "--env", "CartPole-v1", "--total-steps", "30000", "--episodes", "5"]
TARGET = 0.5  # warm ÷ cold wall time, at most


def timed(argv: list[str], cache: Path) -> float:
    irlax = Path(sys.executable).with_name("irlax")
    start = time.perf_counter()
    subprocess.run(
        [str(irlax), "--jax-cache", str(cache), *argv],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main(argv=None) -> None:
    if _report.render_only_main("compile_cache", render, argv):
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    load_before, source_before = os.getloadavg()[0], source_state()
    start = time.perf_counter()
    runs = []
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            cache, out = Path(folder) / "cache", Path(folder)
            cold = timed([*COMMAND, "--out", str(out / "cold")], cache)
            warm = timed([*COMMAND, "--out", str(out / "warm")], cache)
            entries = sum(1 for p in cache.iterdir() if not p.name.startswith("."))
        runs.append({"cold_seconds": cold, "warm_seconds": warm, "cache_entries": entries})
        print(f"repeat {r}: cold {cold:.1f} s, warm {warm:.1f} s ({entries} programs)")
    record = {
        "benchmark": "compile_cache",
        "command": "irlax " + " ".join(COMMAND),
        "runs": runs,
        "machine": _report.machine(load_before, os.getloadavg()[0], time.perf_counter() - start),
        "sources": sources_line((source_before, source_state())),
    }
    out = _report.results_path("compile_cache")
    _report.save(record, render, out)
    print(f"wrote {out}, {out.with_suffix('.md')}")


def render(record: dict) -> str:
    m = record["machine"]
    cold = statistics.median(r["cold_seconds"] for r in record["runs"])
    warm = statistics.median(r["warm_seconds"] for r in record["runs"])
    ratio = warm / cold
    lines = [
        "# The persistent compilation cache: a second run of the same command",
        "",
        f"`{record['command']}`, run twice per repetition from an empty cache folder (cold, "
        "then warm), each in a fresh process timed from launch to exit; "
        f"{len(record['runs'])} repetitions, medians.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, load average {m['load_before']:.1f} before "
        f"and {m['load_after']:.1f} after ({m['minutes']:.1f} min). {record['sources']}",
        "",
    ]
    rows = [
        [str(i), _report.fixed(r["cold_seconds"], 1), _report.fixed(r["warm_seconds"], 1), n]
        for i, r in enumerate(record["runs"])
        for n in [str(r["cache_entries"])]
    ]
    lines += _report.table(["repeat", "cold s", "warm s", "programs cached"], rows)
    verdict = "met" if ratio <= TARGET else "missed"
    lines += [
        "",
        f"Median: cold {cold:.1f} s, warm {warm:.1f} s: the second run takes "
        f"{ratio:.2f} of the first's wall time (target ≤ {TARGET}: {verdict}).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
