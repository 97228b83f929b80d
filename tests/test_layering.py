"""DESIGN.md's layering, read from the source: dependencies point one way, privates stay home.

`mdp, data ← nets, envs ← rl ← algorithms ← forecast ← sweep, cli`: a module may import irlax
modules of its own layer or below, never above; nothing in `mdp/` or `data/` imports Flax; and
no module imports a private name (`_x`) that another module defines.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "irlax"

# The layer of each top-level part of the package; a module may import from layers <= its own.
# The modules directly under irlax/ that every layer uses (config, files, pytrees, checks) are
# the foundation, layer 0.
LAYERS = {
    "_files": 0,
    "compilation_cache": 0,
    "_pytree": 0,
    "_checks": 0,
    "config": 0,
    "mdp": 1,
    "data": 1,
    "datasets": 1,
    "optim": 2,
    "nets": 2,
    "envs": 2,
    "metrics": 2,
    "checkpoint": 2,
    "plots": 2,
    "rl": 3,
    "algorithms": 4,
    "forecast": 5,
    "sweep": 6,
    "demo": 5,
    "_cli_options": 6,
    "commands": 6,
    "cli": 6,
    "__init__": 6,
}
NO_FLAX = {"mdp", "data", "_pytree", "_checks", "config", "_files"}


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        yield path, path.relative_to(ROOT).with_suffix("").parts


def _part(parts: tuple[str, ...]) -> str:
    return parts[0]


def _imports(path: Path):
    """(module, names) of every `import` / `from … import` in the file, absolute."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [alias.name for alias in node.names]


def test_every_part_of_the_package_has_a_layer():
    parts = {_part(parts) for _, parts in _modules()}
    assert parts <= set(LAYERS), f"give these a layer in this test: {sorted(parts - set(LAYERS))}"


@pytest.mark.parametrize("path,parts", list(_modules()), ids=lambda x: getattr(x, "name", ""))
def test_imports_point_down_and_take_no_private_names(path, parts):
    own = _part(parts)
    problems = []
    for module, names in _imports(path):
        top = module.split(".")
        if top[0] == "flax" and own in NO_FLAX:
            problems.append(f"imports {module}: {own}/ must not depend on Flax")
        if top[0] != "irlax" or len(top) == 1:
            continue
        target = top[1]
        if LAYERS.get(target, 0) > LAYERS[own]:
            problems.append(f"imports {module}: layer {LAYERS[target]} above its own {LAYERS[own]}")
        target_parts = tuple(top[1:])
        same_module = target_parts == parts or target_parts == (*parts[:-1], "__init__")
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        if private and not same_module:
            problems.append(f"imports private {private} from {module}")
    assert not problems, f"{path.relative_to(ROOT.parent)}: " + "; ".join(problems)
