"""What every benchmark report says about its run: which irlax ran, on which CPU."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from pathlib import Path

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
