"""Re-render every report in benchmarks/results/ from its JSON, without running anything.

    python benchmarks/render.py [results/rl.json ...]

Each JSON names the benchmark that wrote it (`"benchmark"`); that script's `render` turns it
into the markdown beside it.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import _report


def render_all(paths: list[Path]) -> list[Path]:
    """Render the markdown of each JSON; returns the reports written."""
    written = []
    for path in paths:
        name = json.loads(path.read_text()).get("benchmark")
        if name is None:
            print(f"skipped {path}: it does not name its benchmark")
            continue
        module = importlib.import_module(name)
        _report.render_file(module.render, path)
        written.append(path.with_suffix(".md"))
        print(f"wrote {path.with_suffix('.md')}")
    return written


if __name__ == "__main__":
    given = [Path(p) for p in sys.argv[1:]]
    render_all(given or sorted(_report.RESULTS.glob("*.json")))
