"""The one way benchmarks record and report: JSON measurements, markdown rendered from them.

Every benchmark writes its measurements to `results/<name>.json` and renders
`results/<name>.md` from that file alone (`save`), so a report can be regenerated without
rerunning (`python benchmarks/<name>.py --render-only`, or `python benchmarks/render.py` for
all). The formatting helpers print each kind of number one way, and the conclusions a report
states in words ("agrees to 1e-13", "faster", "met") are chosen here from the numbers.
Also: which irlax ran, on which CPU.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from irlax._files import atomic_write_json, atomic_write_text

ROOT = Path(__file__).resolve().parent.parent


def source_state() -> tuple[str, str]:
    """The git commit and a hash of irlax's sources as they are on disk (edits included)."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "irlax").rglob("*.py")):
        digest.update(path.read_bytes())
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = ""
    return commit or "?", digest.hexdigest()[:12]


def sources_line(sources) -> str:
    """Which irlax ran: the commit and source hash at the start, and whether they changed."""
    (commit, digest), (commit_end, digest_end) = sources
    text = f"irlax: commit {commit}, sources (working tree) sha256 {digest}"
    if digest != digest_end:
        text += (
            f"; at the end commit {commit_end}, sha256 {digest_end}: **irlax's sources "
            "changed during the run**, so its workers may have run different code"
        )
    elif commit != commit_end:
        text += f" (commit {commit_end} at the end, the sources unchanged)"
    return text + "."


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def machine(load_before: float, load_after: float, seconds: float) -> dict:
    """The record's machine: platform, CPU, cores, load average around the run, Python.

    Args:
        load_before: the 1-minute load average when the run started.
        load_after: the same when it ended.
        seconds: the run's wall time.
    """
    return {
        "platform": platform.machine(),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "load_before": load_before,
        "load_after": load_after,
        "minutes": seconds / 60,
        "python": platform.python_version(),
    }


def jax_machine(load_before: float, seconds: float) -> dict:
    """`machine` for a run that ends now (the load average now is its `load_after`), with JAX's
    version and backend.

    Args:
        load_before: the 1-minute load average when the run started.
        seconds: the run's wall time.
    """
    import jax

    return {
        **machine(load_before, os.getloadavg()[0], seconds),
        "jax": jax.__version__,
        "jax_backend": jax.default_backend(),
    }


# --------------------------------------------------------------------------- measurements


RESULTS = ROOT / "benchmarks" / "results"


def results_path(name: str, suffix: str = ".json") -> Path:
    """`benchmarks/results/<name><suffix>`."""
    return RESULTS / f"{name}{suffix}"


def load(name_or_path) -> dict:
    """A benchmark's saved measurements: a name under `results/` or a path to a JSON file."""
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = results_path(str(name_or_path))
    return json.loads(path.read_text())


def save(record: dict, render: Callable[[dict], str], json_path, md_path=None) -> str:
    """Write the measurements as JSON, then the report rendered from that JSON alone.

    The markdown is rendered from the file just written (read back), so what a report says
    can always be regenerated from the JSON beside it (`--render-only`, `render.py`).

    Args:
        record: the measurements, JSON-able.
        render: `record -> markdown`.
        json_path: where the JSON goes.
        md_path: where the markdown goes (default: the JSON's path with `.md`).

    Returns:
        The markdown written.
    """
    json_path = Path(json_path)
    atomic_write_json(json_path, record, default=_jsonable)
    return render_file(render, json_path, md_path)


def render_file(render: Callable[[dict], str], json_path, md_path=None) -> str:
    """Render the report of a saved JSON and write it beside it (or to `md_path`)."""
    json_path = Path(json_path)
    text = render(json.loads(json_path.read_text()))
    atomic_write_text(Path(md_path) if md_path else json_path.with_suffix(".md"), text)
    return text


def _jsonable(x):
    """numpy scalars and arrays as plain numbers and lists."""
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"not JSON-able: {type(x).__name__}")


def median(xs):
    """The median of the values that were measured (None where none was)."""
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def provenance(record: dict) -> list[str]:
    """The report's line saying where its numbers come from, when not from a run's own JSON."""
    return [f"Numbers {record['source']}.", ""] if "source" in record else []


# --------------------------------------------------------------------------- formatting
# One way to print each kind of number, so that every report reads alike.


def fixed(x, digits: int = 2) -> str:
    """A number with `digits` decimals; '—' where nothing was measured."""
    return "—" if x is None else f"{x:.{digits}f}"


def ratio(x) -> str:
    """A ratio such as a speed-up: whole above 10 (`13×`), 3 significant digits below."""
    if x is None:
        return "—"
    return f"{x:.0f}×" if x >= 10 else f"{x:.3g}×"


def error(x) -> str:
    """An absolute difference in scientific notation (`2.3e-15`)."""
    return "—" if x is None else f"{x:.1e}"


def percent(value: float, reference: float) -> str:
    """The signed relative deviation of `value` from `reference` (`+0.53%`)."""
    return f"{100 * (value - reference) / reference:+.2f}%"


def table(header: list[str], rows: list[list]) -> list[str]:
    """A markdown table: a header row, the rule, one line per row (cells already text)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


# --------------------------------------------------------------------------- conclusions
# Every sentence that judges a measurement is chosen here from the numbers, never typed.


def agreement(difference: float, tolerance: float) -> str:
    """'agrees to 2e-15' when `difference <= tolerance`, else a bold 'differs by 3e-03'."""
    if difference <= tolerance:
        return f"agrees to {_order(difference)}"
    return f"**differs by {difference:.0e} (more than {tolerance:.0e})**"


def _order(x: float) -> str:
    """The power of ten at or above `x` (`3e-15` → `1e-14`), '0' for exact agreement."""
    if x == 0:
        return "0"
    return f"1e{math.ceil(math.log10(x))}"


def speed(ours: float, theirs: float, name: str = "") -> str:
    """'13× faster' / '1.5× slower' / 'as fast': `ours` and `theirs` are times (lower wins)."""
    suffix = f" than {name}" if name else ""
    if math.isclose(ours, theirs, rel_tol=0.005):
        return "as fast" + (f" as {name}" if name else "")
    if ours < theirs:
        return f"{ratio(theirs / ours)} faster{suffix}"
    return f"{ratio(ours / theirs)} slower{suffix}"


def comparison(a: float, b: float, *, smaller: str, larger: str, equal: str = "equal to") -> str:
    """Which word describes `a` beside `b`: `smaller`, `larger` or `equal` (to 0.5%)."""
    if math.isclose(a, b, rel_tol=0.005):
        return equal
    return smaller if a < b else larger


def verdict(ok) -> str:
    """A target's verdict: 'met', '**missed**', or '—' where nothing was measured."""
    return "—" if ok is None else ("met" if ok else "**missed**")


# --------------------------------------------------------------------------- command line


def render_only_main(name: str, render: Callable[[dict], str], argv=None) -> bool:
    """Handle `--render-only [JSON]`: re-render a report from saved numbers, without running.

    Returns:
        True when the command line asked for a render (and it was done).
    """
    argv = sys.argv[1:] if argv is None else argv
    if "--render-only" not in argv:
        return False
    index = argv.index("--render-only")
    given = (
        argv[index + 1] if index + 1 < len(argv) and not argv[index + 1].startswith("-") else None
    )
    json_path = Path(given) if given else results_path(name)
    render_file(render, json_path)
    print(f"wrote {json_path.with_suffix('.md')}")
    return True
