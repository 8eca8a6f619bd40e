"""The package is built in layers; a module imports only from its own layer or those below.

    _version  <  movie  <  simulation  <  analysis  <  workflow  <  cli / fieldmovie

(see docs/architecture.md). Checked on the source with ``ast``, so a lazy import inside a
function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "fieldmovie"

#: layer of each top-level part of the package, lowest first
LAYERS = {
    "_version": 0,
    "movie": 1,
    "simulation": 2,
    "analysis": 3,
    "workflow": 4,
    "cli": 5,
    "__main__": 5,
    "__init__": 5,
    "_dataset_api": 5,
}


def _part(module: str) -> str:
    """Top-level part of a dotted module name inside the package (``movie``, ``cli``, ...)."""
    parts = module.split(".")
    assert parts[0] == "fieldmovie", module
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
        return ".".join(parts) + (".__init__" if len(parts) == 1 else "")
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import of a fieldmovie module in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    module = _module_name(path).removesuffix(".__init__")
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("fieldmovie")]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module and node.module.startswith("fieldmovie"):
                    found.append((node.lineno, node.module))
                continue
            base = module.split(".")
            base = base if is_package else base[:-1]
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            if node.module is None:  # "from . import x": x is a module of that package
                found += [(node.lineno, f"{target}.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, target))
    return found


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_part_has_a_layer():
    parts = {_part(_module_name(p).removesuffix(".__init__")) for p in _sources()}
    assert parts <= set(LAYERS), f"modules without a layer: {sorted(parts - set(LAYERS))}"


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    own = _part(_module_name(path).removesuffix(".__init__"))
    upward = [
        f"line {line}: imports {target} ({_part(target)}, layer {LAYERS[_part(target)]})"
        for line, target in _imports(path)
        if target != "fieldmovie" and LAYERS.get(_part(target), 99) > LAYERS[own]
    ]
    assert not upward, f"{path.name} is in layer {own} ({LAYERS[own]}) but " + "; ".join(upward)


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The checker itself: a movie module importing the workflow is caught."""
    fake = tmp_path / "fieldmovie"
    (fake / "movie").mkdir(parents=True)
    (fake / "movie" / "bad.py").write_text("from ..workflow import load_sweeps\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    assert _imports(fake / "movie" / "bad.py") == [(1, "fieldmovie.workflow")]
    with pytest.raises(AssertionError, match="layer movie"):
        test_imports_point_down(fake / "movie" / "bad.py")
